#!/bin/bash
# End-to-end proof in a real systemd 252: each scenario boots its own sandbox (PID 1 in
# private namespaces on a throw-away overlay of /: tests/e2e/sandbox.sh), with a
# lingering user `tester` whose user manager runs rootlet's generator at boot, rootlet
# installed with `make install DESTDIR=<sandbox root>`, rootless podman, and asserts.
# Everything the sandbox needs is installed into its root: the checkout may live anywhere
# (see tests/e2e/sandbox-lib.sh). Sandbox names are unique to the run (E2E_RUN, default from
# the pid), so several runs can go on at once.
#
#   tests/e2e/run.sh [SCENARIO...]      (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start run "${E2E_PODMAN_PKGS[@]}"

# boot NAME NET: a fresh sandbox (tests/e2e/provision.sh: rootlet, the test server and the
# busybox rootfs, the sources in $W/src/). NET says how the system's network comes up:
# online (network-online.target pulled in, at once), late (held back 5 s), never-route
# (never pulled in; a default route exists), late-route (never pulled in; the default route
# appears after 3 s).
boot() { local net=$2; [ "$net" = never-route ] && net=route; e2e_boot "$1" "$net"; }
down() { e2e_down; }
sysprop() { sb exec systemctl show -P "$1" "$2"; }
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
get() { sb exec curl -sS --http0.9 --max-time 20 --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
src() { rm -rf "$W/src"; mkdir -p "$W/src"; }
scenario() { echo "== $1"; }
# no_restart UNIT (tests/e2e/sandbox-lib.sh): the unit started the first time, or restarted
# only after podman 4.3's notify race (--sdnotify=conmon sends READY=1 and exits at once; the
# reference sandbox shows the race too, about half the boots while other builds run).
# web.container: the test server on a published port, started at boot.
web_source() {
    src; cat > "$W/src/web.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Exec=/usr/local/bin/e2e-server 8080
PublishPort=127.0.0.1:18080:8080

[Install]
WantedBy=default.target
EOF
}

# 1. Linger boot autostart: web.container WantedBy=default.target runs after boot.
s1() {
    scenario "1 linger boot autostart"
    web_source
    boot s1 online || return
    check "generator installed by make install ran at boot" sb exec test -f /run/user/1500/systemd/generator/web.service
    check "web.service active after linger boot" within 60 is active web.service
    check "the container answers" within 20 eval 'sb exec curl -sS --http0.9 --max-time 5 http://127.0.0.1:18080/ | grep -q PEER='
    check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
    check "no restart" no_restart web.service \
        || u journalctl --user -u web.service --no-pager -o short-monotonic | tail -25
    down
}

# 2. Late network: network-online.target held back 5 s; the container starts after it.
s2() {
    scenario "2 late network"
    web_source
    boot s2 late || return
    check "web.service active" within 60 is active web.service
    local tn tw
    tn=$(sysprop ActiveEnterTimestampMonotonic network-online.target)
    tw=$(prop ExecMainStartTimestampMonotonic web.service)
    check "the container started after network-online.target ($(( (tw - tn) / 1000 )) ms after)" test "$tw" -ge "$tn"
    check "network-online.target really was late (held >= 5 s)" test "$(( tn - $(sysprop ActiveEnterTimestampMonotonic e2e-online.service) + 5000000 ))" -ge 5000000
    check "no start limit hit, no restart" eval '! u journalctl --user --no-pager | grep "repeated too quickly" >/dev/null && no_restart web.service'
    down
}

# 3. network-online.target never pulled in, a default route present: no 90 s wait.
s3() {
    scenario "3 never-pulled network-online.target"
    web_source
    boot s3 never-route || return
    check "web.service active" within 60 is active web.service
    local ts te
    ts=$(prop ExecMainStartTimestampMonotonic rootlet-wait-online.service)
    te=$(prop ExecMainExitTimestampMonotonic rootlet-wait-online.service)
    check "the wait took $(( (te - ts) / 1000 )) ms, not 90 s" test $(( te - ts )) -lt 30000000
    # (by the wait's identifier: an entry journald reads after the process exited has no
    # unit to match with -u)
    check "the journal says why" within 15 eval 'u journalctl --user -t rootlet-wait-online --no-pager | grep "nothing pulls it in, it will never become active" >/dev/null'
    down
}

# 4. The seed's failure and its safety net.
s4() {
    scenario "4 restart after a late network; start limit for a hopeless service"
    src
    # Started before the network (no wait unit), fails while there is no default route.
    cat > "$W/src/seed.container" <<'EOF'
[Quadlet]
DefaultDependencies=false

[Container]
Rootfs=/srv/rootfs
Network=host
Exec=/bin/sh -c 'ip route | grep -q default || { echo "no network yet"; exit 1; }; exec /usr/local/bin/e2e-server 18084'

[Install]
WantedBy=default.target
EOF
    cat > "$W/src/hopeless.container" <<'EOF'
[Quadlet]
DefaultDependencies=false

[Unit]
# The user's own start limit wins over rootlet's (30 in 10 min): the file says 3.
StartLimitBurst=3

[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/false

[Service]
RestartSec=1

[Install]
WantedBy=default.target
EOF
    boot s4 late-route || return
    check "seed.service succeeds after a restart" within 40 is active seed.service
    check "it failed first and was restarted" eval '[ "$(prop NRestarts seed.service)" -ge 1 ]'
    check "after RestartSec=8" eval 'u journalctl --user -u seed.service -o short-monotonic --no-pager | grep "Scheduled restart job" >/dev/null'
    check "hopeless.service stops after its own StartLimitBurst=3" within 60 eval 'u journalctl --user -u hopeless.service --no-pager | grep "Start request repeated too quickly" >/dev/null'
    check "and stays failed" is failed hopeless.service
    down
}

# 5. Socket activation into a container; 8. stop removes the container.
s5() {
    scenario "5 socket activation into a container; 8 stop removes it"
    src
    printf '[Socket]\nListenStream=127.0.0.1:18085\nFileDescriptorName=echo\n\n[Install]\nWantedBy=sockets.target\n' > "$W/src/echo.socket"
    printf '[Container]\nRootfs=/srv/rootfs\nNetwork=none\nExec=/usr/local/bin/e2e-server\n' > "$W/src/echo.container"
    boot s5 never-route || return
    check "echo.socket listens, the container is not running yet" eval 'is active echo.socket && ! u podman container exists systemd-echo'
    local reply
    reply=$(get 18085)
    check "the program in the container got LISTEN_FDS=1, its name, pid 1: $reply" eval 'grep -q "^LISTEN_FDS=1 LISTEN_FDNAMES=echo LISTEN_PID=1 PID=1 " <<<"$reply"'
    check "and the client's own address (127.0.0.7)" eval 'grep -q "PEER=127.0.0.7:" <<<"$reply"'
    check "echo.service active, its container running" eval 'is active echo.service && u podman container exists systemd-echo'
    check "8: systemctl --user stop removes the container" eval 'u systemctl --user stop echo.service echo.socket && ! u podman container exists systemd-echo'
    down
}

# 6. Socket activation through the helper's exec mode (a plain process).
s6() {
    scenario "6 socket activation through rootlet-wait-online -- server"
    src
    boot s6 online || return
    u mkdir -p /home/tester/.config/systemd/user
    # FileDescriptorName= names every socket of a unit: two names, two socket units.
    u sh -c 'printf "[Socket]\nListenStream=127.0.0.1:18086\nFileDescriptorName=front\n" > ~/.config/systemd/user/plain.socket'
    u sh -c 'printf "[Socket]\nListenStream=127.0.0.1:18087\nFileDescriptorName=admin\nService=plain.service\n" > ~/.config/systemd/user/plain-admin.socket'
    u sh -c 'printf "[Unit]\nRequires=plain.socket plain-admin.socket\nAfter=plain.socket plain-admin.socket\n[Service]\nExecStart=/usr/local/bin/rootlet-wait-online -- /usr/local/bin/e2e-server\n" > ~/.config/systemd/user/plain.service'
    u systemctl --user daemon-reload; u systemctl --user start plain.socket plain-admin.socket
    local reply pid
    reply=$(get 18086)
    pid=$(prop MainPID plain.service)
    check "the server got both sockets with their names: $reply" eval 'grep -Eq "^LISTEN_FDS=2 LISTEN_FDNAMES=(front:admin|admin:front) " <<<"$reply"'
    check "LISTEN_PID is its own pid, the service's main pid ($pid)" eval 'grep -q "LISTEN_PID=$pid PID=$pid " <<<"$reply"'
    down
}

# 7. daemon-reload regenerates; a broken file costs only itself.
s7() {
    scenario "7 daemon-reload regenerates; a broken file beside good ones"
    src
    printf '[Container]\nRootfs=/srv/rootfs\nNetwork=none\nExec=/bin/sleep 1000\n\n[Install]\nWantedBy=default.target\n' > "$W/src/good.container"
    boot s7 online || return
    check "good.service active" within 60 is active good.service
    u sh -c 'printf "[Container]\nRootfs=/srv/rootfs\nNetwork=none\nExec=/bin/sleep 1000\nEnvironment=EDITED=yes\n\n[Install]\nWantedBy=default.target\n" > ~/.config/containers/systemd/good.container'
    u sh -c 'printf "[Container]\nRootfs=/srv/rootfs\nPublishPorts=80:80\n" > ~/.config/containers/systemd/broken.container'
    u systemctl --user daemon-reload
    check "the edited unit is regenerated" eval 'u systemctl --user cat good.service | grep -q -- "--env EDITED=yes"'
    check "the good unit keeps running" is active good.service
    check "the broken file yields no unit" eval '[ "$(prop LoadState broken.service)" = not-found ]'
    check "the journal names file:line and the key" within 10 eval 'sb exec journalctl --no-pager -b | grep "broken.container:3: unknown key .PublishPorts. in \[Container\]; did you mean .PublishPort." >/dev/null'
    down
}

# 8. The podman installed here (Debian 12: 4.3.1, no `create --ignore`, no
# `--sdnotify=healthy`): a .network and a .volume used by a .container, all active at
# linger boot and after a restart of each; Notify=healthy waited for by rootlet
# (ExecStartPost=, tests/e2e/health.sh).
s8() {
    scenario "8 podman $(podman --version | awk '{print $3}'): .network and .volume of a .container; Notify=healthy"
    src
    printf '[Network]\nSubnet=10.89.43.0/24\n' > "$W/src/net43.network"
    printf '[Volume]\n' > "$W/src/data43.volume"
    printf '[Container]\nRootfs=/srv/rootfs\nNetwork=net43.network\nVolume=data43.volume:/data\nExec=/usr/local/bin/e2e-server 8080\n\n[Install]\nWantedBy=default.target\n' > "$W/src/app43.container"
    # A label that would be shell code if the shell of the unit parsed it.
    printf '[Volume]\nLabel="note=a b; echo pwned > /tmp/p43 | x"\n\n[Install]\nWantedBy=default.target\n' > "$W/src/odd43.volume"
    printf '[Container]\nRootfs=/srv/rootfs\nNetwork=none\nHealthCmd=/bin/true\nNotify=healthy\nExec=/bin/sleep 1000\n\n[Install]\nWantedBy=default.target\n' > "$W/src/healthy43.container"
    boot s8 online || return
    echo "MEASURED podman --version as the user, 5 runs (s): $(u bash -c 'TIMEFORMAT=%R; for i in 1 2 3 4 5; do time podman --version >/dev/null; done' 2>&1 | tr '\n' ' ')"
    uses() { u podman container inspect systemd-app43 | grep -q '"systemd-net43"' && u podman container inspect systemd-app43 | grep -q '"systemd-data43"'; }
    check "app43.service active after linger boot" within 90 is active app43.service \
        || u journalctl --user --no-pager -u app43.service -u net43-network.service -u data43-volume.service | tail -20
    check "net43-network.service and data43-volume.service active" eval 'is active net43-network.service && is active data43-volume.service'
    check "their units create only what is missing (no --ignore on podman < 4.4)" eval 'u systemctl --user cat net43-network.service data43-volume.service | grep -cE "^ExecStart=/bin/sh -c .*(network|volume) exists " | grep -qx 2 && ! u systemctl --user cat net43-network.service data43-volume.service | grep -q -- --ignore'
    check "the network and the volume exist, the container uses both" uses
    for unit in net43-network.service data43-volume.service app43.service; do
        check "systemctl --user restart $unit" u systemctl --user restart "$unit"
        check "after it: $unit, net43-network, data43-volume, app43 active" within 60 eval 'is active "$unit" && is active net43-network.service && is active data43-volume.service && is active app43.service'
        check "the container still uses both" within 20 uses
    done
    # The other branch: the network is gone (removed by hand), a restart creates it again.
    u systemctl --user stop app43.service
    check "network removed by hand" u podman network rm systemd-net43
    check "restart of net43-network.service creates it again" eval 'u systemctl --user restart net43-network.service && is active net43-network.service && u podman network exists systemd-net43'
    check "app43.service starts on it again" eval 'u systemctl --user start app43.service && within 30 uses'
    label_of() { u podman volume inspect --format '{{index .Labels "note"}}' systemd-odd43; }
    check "odd43-volume.service active, its label reached podman as written, not as shell code" eval 'is active odd43-volume.service && [ "$(label_of)" = "a b; echo pwned > /tmp/p43 | x" ] && ! u test -e /tmp/p43'
    check "no unit reported 'unknown flag'" eval '! u journalctl --user --no-pager | grep "unknown flag" >/dev/null'
    check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
    check "healthy43.service (Notify=healthy, podman < 5.0) active: rootlet waited for healthy" eval 'is active healthy43.service && u systemctl --user cat healthy43.service | grep -q "^ExecStartPost=/bin/sh -c .* rootlet-health-wait "'
    down
}

ALL=(s1 s2 s3 s4 s5 s6 s7 s8)
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
    t=$EPOCHREALTIME
    "$s"
    printf '   (%s: %.1fs)\n' "$s" "$(awk "BEGIN{print $EPOCHREALTIME-$t}")"
done
# (each shutdown already checked its own: see down; e2e_end checks the run's)
e2e_end
