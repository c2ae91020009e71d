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
cd "$(dirname "$0")/../.."
REPO=$PWD
. tests/e2e/sandbox-lib.sh
need_sandbox
need_e2e podman uidmap slirp4netns busybox-static curl iproute2 dbus-user-session make
T0=$EPOCHREALTIME
cargo build --release -q --bins || exit 1

# Other engineers boot sandboxes at the same time: a name of our own.
export E2E_NAME=${E2E_NAME:-day2-$$}
export E2E=${E2E:-/var/tmp/rootlet-e2e-sb}
W=$(mktemp -d /var/tmp/rootlet-e2e-day2.XXXXXX)
chmod 755 "$W"
cleanup() { [ -n "${E2E_DEBUG:-}" ] && return; sb shutdown >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

# --- a busybox rootfs for the containers, and the sources the test user adds. Everything
# the test user reads is copied into the sandbox root (the checkout may be unreadable to it).
R=$W/rootfs; mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev,run}
cp /bin/busybox "$R/bin/"; for a in sh sleep true false cat echo; do ln -s busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
touch "$R/etc/hosts" "$R/etc/resolv.conf" "$R/etc/hostname"; chmod 1777 "$R/tmp"

D=$W/day2; mkdir -p "$D/shop"
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
# A bad file: add must write nothing.
printf '[Container]\nRootfs=/srv/rootfs\nPublishPorts=1:1\n' > "$D/bad.container"

cat > "$W/provision.sh" <<EOF
set -e
make -s -C "$REPO" install DESTDIR=\$ROOT PREFIX=/usr/local >/dev/null
mkdir -p \$ROOT/srv && cp -a $W/rootfs \$ROOT/srv/rootfs && chroot \$ROOT chown -R \$TEST_USER: /srv/rootfs
cp -a $D \$ROOT/srv/day2 && chmod -R a+rX \$ROOT/srv/day2
# A default route, so that rootlet-wait-online does not wait.
ip link add veth0 type veth peer name veth1; ip addr add 192.0.2.2/24 dev veth0
ip link set veth1 up; ip link set veth0 up; ip route add default via 192.0.2.1 dev veth0
mkdir -p \$ROOT/home/\$TEST_USER/.config/containers/systemd
chroot \$ROOT chown -R \$TEST_USER: /home/\$TEST_USER
EOF

u() { sb user "$@"; }
prop() { u systemctl --user show -P "$1" "$2"; }
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
Q=/home/tester/.config/containers/systemd

echo "== booting $E2E_NAME"
if ! E2E_PROVISION=$W/provision.sh sb boot >"$W/boot.log" 2>&1; then
    echo "FAIL boot: $(tail -3 "$W/boot.log")"; echo "0 passed, 1 failed"; exit 1
fi
sb wait-user >/dev/null 2>&1

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
check "list: web.container active/running in application shop" grep -Eq '^web\.container +web\.service +active/running +shop ' "$W/list"
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

if [ -z "${E2E_DEBUG:-}" ]; then
    sb shutdown >"$W/down.log" 2>&1 || { FAIL=$((FAIL+1)); echo "FAIL shutdown left something behind: $(tail -2 "$W/down.log")"; }
else
    echo "E2E_DEBUG: sandbox $E2E_NAME left running (E2E=$E2E E2E_NAME=$E2E_NAME \"$SANDBOX\" shutdown), work dir $W"
fi
printf 'whole suite: %.1fs\n' "$(awk "BEGIN{print $EPOCHREALTIME-$T0}")"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
