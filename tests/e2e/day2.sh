#!/bin/bash
# End-to-end proof of the day-2 commands (`rootlet add/list/print/rm`) in a real systemd
# 252: one sandbox (tests/e2e/sandbox-lib.sh, as tests/e2e/run.sh) with a lingering user
# `tester`, rootlet installed with `make install DESTDIR=<sandbox root>`, rootless podman,
# containers on a busybox rootfs. The test user drives rootlet as a user would.
#
#   tests/e2e/day2.sh          (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start day2 "${E2E_PODMAN_PKGS[@]}"

# --- the busybox rootfs for the containers, and the sources the test user adds
# (/srv/day2: tests/e2e/provision.sh copies $W/srv/ into the sandbox's root, readable by
# the test user, who may not read the checkout).
mkdir -p "$R/www" && echo "hello from day2 httpd" > "$R/www/index.html"
D=$W/srv/day2; mkdir -p "$D/shop"
# An application of two long-running containers (that stop on SIGTERM: sleep as PID 1 would not).
for n in web worker; do
    cat > "$D/shop/$n.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sh -c 'trap "exit 0" TERM; sleep 100000 & wait'

[Install]
WantedBy=default.target
EOF
done
printf 'a file of the application that is no source\n' > "$D/shop/notes.txt"
# A container that fails at once, saying why, and is not restarted.
cat > "$D/broken.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sh -c 'echo "day2: config file missing"; exit 3'

[Service]
Restart=no
EOF
# A socket pair (not an application: two files added on their own), for `rm` of the pair.
printf '[Socket]\nListenStream=127.0.0.1:18091\n' > "$D/echo.socket"
printf '[Container]\nRootfs=/srv/rootfs\nNetwork=none\nExec=/bin/sh -c '"'"'trap "exit 0" TERM; sleep 100000 & wait'"'"'\n' > "$D/echo.container"
# For `add --now` under the no-root install: a unit without [Install] and one with it.
cp "$D/echo.container" "$D/solo.container"
cp "$D/shop/web.container" "$D/api.container"
# A container that keeps failing, restarted after a long pause: `list` says why (P15).
cat > "$D/looping.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sh -c 'echo "day2: cannot open /data: Permission denied"; echo "day2: giving up"; exit 1'

[Service]
Restart=always
RestartSec=300
EOF
# Socket activation in one file (issue 26), in the user's directory before the linger boot:
# a container with its own [Socket] (native: it only sleeps, the connection starts it), and
# busybox httpd in proxy mode (it cannot take a socket). `add --now` of the first is tried
# again later.
mkdir -p "$D/boot"
cat > "$D/boot/lazy.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sh -c 'trap "exit 0" TERM; sleep 100000 & wait'

[Socket]
ListenStream=127.0.0.1:18093
EOF
cat > "$D/boot/httpd.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Exec=/bin/sh -c 'trap "exit 0" TERM; /bin/busybox httpd -f -p 8080 -h /www & wait'

[Socket]
ListenStream=127.0.0.1:18094
ProxyTo=8080
EOF
# A bad file: add must write nothing.
printf '[Container]\nRootfs=/srv/rootfs\nPublishPorts=1:1\n' > "$D/bad.container"

# The socket-activated pair is in the user's directory at the linger boot.
mkdir -p "$W/src" && cp "$D"/boot/*.container "$W/src/"

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
Q=/home/tester/.config/containers/systemd

echo "== booting $(e2e_name day2)"
# (a default route, so that rootlet-wait-online does not wait)
e2e_boot day2 route || { echo "$PASS passed, $FAIL failed"; exit 1; }

echo "== list of socket-activated containers after the linger boot (issue 26)"
RL=/usr/local/bin/rootlet
# listening PORT: something listens on 127.0.0.1:PORT in the sandbox.
listening() { sb exec ss -ltnH "sport = :$1" | grep -q "127.0.0.1:$1 "; }
check "both sockets listen, no container runs" \
    eval 'within 60 is active lazy.socket && within 60 is active httpd.socket && is inactive lazy.service && is inactive httpd.service && is inactive httpd-proxy.service && [ -z "$(u podman ps -a -q)" ]'
u $RL list >"$W/list" 2>&1
sed 's/^/   | /' "$W/list"
check "list: lazy.container idle, its socket listening" grep -Eq '^lazy\.container +lazy\.service +idle +lazy\.socket listening +- ' "$W/list"
check "list: httpd.container idle, its socket listening, its proxy idle" \
    grep -Eq '^httpd\.container +httpd\.service +idle +httpd\.socket listening, httpd-proxy\.service idle +- ' "$W/list"
check "list colours idle green on a terminal (not as broken)" sh -c \
    "\"$SANDBOX\" user script -qec '$RL list' /dev/null </dev/null | grep -q \"\$(printf '\\033')\\[32midle\""
u $RL list --format json --filter name=httpd-proxy.service >"$W/json" 2>&1
sed 's/^/   | /' "$W/json"
check "list --format json: status idle, the socket and the proxy with their states" eval \
    'grep -q "\"name\": \"httpd.container\"" $W/json && [ "$(grep -c "\"name\"" $W/json)" = 1 ] \
     && grep -q "\"status\": \"idle\", \"last_log\": null, \"error\": null, \"sockets\": \[{\"unit\": \"httpd.socket\", \"load\": \"loaded\", \"active\": \"active\", \"sub\": \"listening\"" $W/json \
     && grep -q "\"proxy\": {\"unit\": \"httpd-proxy.service\", \"load\": \"loaded\", \"active\": \"inactive\", \"sub\": \"dead\", \"result\": \"success\", \"status\": \"idle\"" $W/json'
check "print --unit httpd shows its three units" eval \
    '[ "$(u $RL print --unit httpd | grep -c "^# httpd.* (from ")" = 3 ]'
check "a connection to httpd is answered" eval '[ "$(sb exec curl -sS --max-time 60 http://127.0.0.1:18094/)" = "hello from day2 httpd" ]'
check "a connection to lazy starts it" eval 'sb exec timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/18093" && within 60 is active lazy.service'
u $RL list >"$W/list" 2>&1
sed 's/^/   | /' "$W/list"
check "list: both running now, the sockets still listening" eval \
    'grep -Eq "^lazy\.container +lazy\.service +active/running +lazy\.socket listening " $W/list \
     && grep -Eq "^httpd\.container +httpd\.service +active/running +httpd\.socket listening, httpd-proxy\.service active/running " $W/list'
check "rm without --force refuses, naming the socket and the proxy" eval \
    '! u $RL rm httpd >$W/out 2>&1 && grep -q "httpd.socket (active/" $W/out && grep -q "httpd-proxy.service (active/running)" $W/out' \
    || cat "$W/out"
# The line number of the first line of $W/out matching a pattern.
at() { grep -n "$1" "$W/out" | head -1 | cut -d: -f1; }
check "rm --force stops the sockets first, then the services" eval \
    'u $RL rm --force httpd lazy >$W/out 2>&1 && grep -q "stopped httpd.socket" $W/out && grep -q "stopped lazy.socket" $W/out \
     && grep -q "stopped httpd-proxy.service" $W/out && grep -q "stopped lazy.service" $W/out \
     && [ "$(at "stopped lazy.socket")" -lt "$(at "stopped .*\.service")" ] && [ "$(at "stopped httpd.socket")" -lt "$(at "stopped .*\.service")" ]' \
    || cat "$W/out"
check "rm --force leaves nothing listening or running, and no unit of theirs" eval \
    '! listening 18093 && ! listening 18094 && [ -z "$(u podman ps -a -q)" ] && [ -z "$(u ls -A $Q)" ] \
     && [ "$(for x in lazy.socket lazy.service httpd.socket httpd.service httpd-proxy.service; do prop LoadState $x; done | sort -u)" = not-found ]'
check "add --now of a container with its own [Socket] starts the socket, not the container" eval \
    'u $RL add --now /srv/day2/boot/lazy.container >$W/out 2>&1 && grep -q "started lazy.socket" $W/out && ! grep -q "lazy.service" $W/out' \
    || cat "$W/out"
check "and list says it is idle" eval \
    'is active lazy.socket && is inactive lazy.service && u $RL list | grep -Eq "^lazy\.container +lazy\.service +idle +lazy\.socket listening "'
check "rm --force of the idle container stops its socket: nothing listens" eval \
    'u $RL rm --force lazy >$W/out 2>&1 && grep -q "stopped lazy.socket" $W/out && ! listening 18093 && [ -z "$(u ls -A $Q)" ]' \
    || cat "$W/out"

echo "== add"
check "add of a bad file beside a good one fails and writes nothing" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet add --now /srv/day2/broken.container /srv/day2/bad.container </dev/null >$W/out 2>&1 \
     && grep -q 'bad.container:3: unknown key' $W/out && [ -z \"\$(\"$SANDBOX\" user ls -A $Q </dev/null)\" ]"
check "add --now DIR: the application's files are written and its units started" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet add --now /srv/day2/shop </dev/null >$W/out 2>&1 && grep -q 'started web.service' $W/out && grep -q 'started worker.service' $W/out" \
    || cat "$W/out"
check "web.service and worker.service are active" sh -c \
    "[ \"\$(\"$SANDBOX\" user systemctl --user is-active web.service worker.service </dev/null | sort -u)\" = active ]"
check "their containers run" within 30 u podman container exists systemd-web
check "add --now of a failing unit says why and exits 1" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet add --now /srv/day2/broken.container </dev/null >$W/out 2>&1 && grep -q 'broken.service did not start' $W/out" \
    || cat "$W/out"
check "add over an existing file without --replace is refused" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet add /srv/day2/shop/web.container </dev/null >$W/out 2>&1 && grep -q 'already exists, a file of application shop (use --replace)' $W/out"

echo "== list"
u /usr/local/bin/rootlet list >"$W/list" 2>&1
sed 's/^/   | /' "$W/list"
check "list: web.container active/running in application shop, no socket" grep -Eq '^web\.container +web\.service +active/running +- +shop ' "$W/list"
check "list: broken.container failed, with the result" grep -Eq '^broken\.container +broken\.service +failed \(exit-code\) ' "$W/list"
check "list: and the failure's last journal line" grep -q '└ broken.service: day2: config file missing' "$W/list"
check "list colours states on a terminal only" sh -c \
    "\"$SANDBOX\" user script -qec '/usr/local/bin/rootlet list' /dev/null </dev/null | grep -q \"\$(printf '\\033')\\[32mactive/running\" && ! grep -q \"\$(printf '\\033')\" $W/list"
check "list --format json: states from the manager" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet list --format json --filter name=web* </dev/null | grep -q '\"active\": \"active\", \"sub\": \"running\"'"
check "print --unit shows the generated unit" sh -c "\"$SANDBOX\" user /usr/local/bin/rootlet print --unit web </dev/null | grep -q '^ExecStart=.*podman run'"

echo "== rm"
check "rm of a running unit without --force is refused" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet rm web </dev/null >$W/out 2>&1 && grep -q 'running: stop' $W/out"
check "and leaves it running, its files in place" sh -c \
    "[ \"\$(\"$SANDBOX\" user systemctl --user is-active web.service </dev/null)\" = active ] && \"$SANDBOX\" user test -f $Q/web.container </dev/null && \"$SANDBOX\" user test -f $Q/notes.txt </dev/null"
check "rm --force of one member stops and removes the whole application" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet rm --force web </dev/null >$W/out 2>&1 && grep -q 'stopped web.service' $W/out && grep -q 'stopped worker.service' $W/out"
check "its files are gone, broken.container stays" sh -c \
    "[ \"\$(\"$SANDBOX\" user ls $Q </dev/null)\" = broken.container ]"
check "its units are gone after the reload, the containers too" sh -c \
    "[ \"\$(\"$SANDBOX\" user systemctl --user show -P LoadState web.service </dev/null)\" = not-found ] && ! \"$SANDBOX\" user podman container exists systemd-web </dev/null"
check "rm of a failed (not running) unit needs no --force" u /usr/local/bin/rootlet rm broken
check "rm of an unknown name fails; with --ignore it does not" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet rm nope </dev/null >/dev/null 2>&1 && \"$SANDBOX\" user /usr/local/bin/rootlet rm --ignore nope </dev/null >/dev/null 2>&1"
echo "== list of a unit waiting to be restarted (P15)"
u /usr/local/bin/rootlet add /srv/day2/looping.container >/dev/null 2>&1
u systemctl --user start --no-block looping.service
check "looping.service waits to be restarted" within 60 eval '[ "$(prop SubState looping.service)" = auto-restart ]'
u /usr/local/bin/rootlet list --filter 'name=looping*' >"$W/list" 2>&1
sed 's/^/   | /' "$W/list"
check "list: its first error, not its last line" grep -q '└ looping.service: day2: cannot open /data: Permission denied' "$W/list"
check "rm says it is activating (auto-restart) and needs --force" sh -c \
    "! \"$SANDBOX\" user /usr/local/bin/rootlet rm looping </dev/null >$W/out 2>&1 && grep -q 'looping.service (activating/auto-restart) is running' $W/out" \
    || cat "$W/out"
check "rm --force removes it" u /usr/local/bin/rootlet rm --force looping

echo "== rm of a socket pair (P4)"
check "add the pair; the socket listens" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet add /srv/day2/echo.container /srv/day2/echo.socket </dev/null >$W/out 2>&1 \
     && \"$SANDBOX\" user systemctl --user start echo.socket </dev/null && \"$SANDBOX\" exec ss -ltn </dev/null | grep -q '127.0.0.1:18091 '" \
    || cat "$W/out"
check "rm --force of the service stops the socket first and removes both, saying so" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet rm --force echo </dev/null >$W/out 2>&1 && grep -q 'stopped echo.socket' $W/out \
     && grep -q 'echo.socket activates echo.service: removed with it' $W/out" \
    || cat "$W/out"
check "nothing listens any more, both units are gone" sh -c \
    "! \"$SANDBOX\" exec ss -ltn </dev/null | grep -q '127.0.0.1:18091 ' \
     && [ \"\$(\"$SANDBOX\" user systemctl --user show -P LoadState echo.socket </dev/null)\" = not-found ] \
     && [ \"\$(\"$SANDBOX\" user systemctl --user show -P LoadState echo.service </dev/null)\" = not-found ]"

echo "== add --now under the no-root install (P3)"
# The system-wide generator out of the way: the units come from `install --user` only.
sb exec sh -c 'rm -f /usr/lib/systemd/user-generators/rootlet-user-generator /usr/local/lib/systemd/user-generators/rootlet-user-generator'
u systemctl --user daemon-reload
check "install --user" u /usr/local/bin/rootlet install --user
check "add --now of a unit without [Install] and one with it: both generated and started" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet add --now /srv/day2/solo.container /srv/day2/api.container </dev/null >$W/out 2>&1 \
     && grep -q 'started solo.service' $W/out && grep -q 'started api.service' $W/out" \
    || cat "$W/out"
check "they run from ~/.local/share/systemd/user" sh -c \
    "[ \"\$(\"$SANDBOX\" user systemctl --user is-active solo.service api.service </dev/null | sort -u)\" = active ] \
     && [ \"\$(\"$SANDBOX\" user systemctl --user show -P FragmentPath solo.service </dev/null)\" = /home/tester/.local/share/systemd/user/solo.service ]"
check "rm --force removes them and their units at once" sh -c \
    "\"$SANDBOX\" user /usr/local/bin/rootlet rm --force solo api </dev/null >$W/out 2>&1 \
     && [ \"\$(\"$SANDBOX\" user systemctl --user show -P LoadState solo.service </dev/null)\" = not-found ]" \
    || cat "$W/out"
# uninstall stops a regeneration under way with SIGTERM, which leaves the service failed
# (install's matter, not the day-2 commands'): let the path unit's run after rm end first.
check "the path unit's regeneration after rm has ended" within 60 eval '[ "$(prop ActiveState rootlet-regenerate.service)" = inactive ]'
check "uninstall --user" u /usr/local/bin/rootlet uninstall --user
check "no failed user unit left" sh -c "[ -z \"\$(\"$SANDBOX\" user systemctl --user list-units --failed --plain --no-legend </dev/null)\" ]" \
    || u systemctl --user list-units --failed --plain --no-legend

e2e_end
