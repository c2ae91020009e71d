#!/bin/bash
# Socket activation in one file, proven in a real systemd 252 (tests/e2e/sandbox.sh): a
# `.container` with a `[Socket]` section and nothing else to wire, rootless podman 4.3 as
# the lingering user `tester`. The socket listens after the linger boot with no container
# running; the first connection starts the container and is answered; the program in the
# container got the socket (LISTEN_FDS) and saw the client's own address; stopping the
# socket stops the service and leaves nothing running.
#
#   tests/e2e/socket.sh [SCENARIO...]      (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start socket "${E2E_PODMAN_PKGS[@]}"

# provision (tests/e2e/provision.sh, before each boot): rootlet, the test server, the busybox
# rootfs with a page for httpd, a default route and no network-online.target (nothing here
# reaches the network: Rootfs=, Network=none), the sources in $W/src/.
cat > "$W/provision.sh" <<'EOF'
mkdir -p "$ROOT/srv/rootfs/www" && echo "hello from busybox httpd" > "$ROOT/srv/rootfs/www/index.html"
chroot "$ROOT" chown -R "$TEST_USER:" /srv/rootfs
EOF

boot() { e2e_boot "$1" route; } # boot NAME: a fresh sandbox with the sources in $W/src
down() { e2e_down; }
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
# get PORT: one connection from the client address 127.0.0.7, its reply.
get() { sb exec curl -sS --http0.9 --max-time 30 --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
src() { rm -rf "$W/src"; mkdir -p "$W/src"; }
scenario() { echo "== $1"; }
# Nothing of the test user's runs: no container (running or not), no podman or conmon.
nothing_runs() {
    local c p
    c=$(u podman ps -a -q) && [ -z "$c" ] || { echo "containers: $c"; return 1; }
    p=$(sb exec pgrep -u tester -af 'conmon|e2e-server|podman run|podman start') && { echo "processes: $p"; return 1; }
    return 0
}

# 1. `[Socket]` inside the .container: no .socket file, no [Install].
s1() {
    scenario "1 a .container with [Socket] only: socket-activated after the linger boot"
    src
    printf '[Container]\nRootfs=/srv/rootfs\nNetwork=none\nExec=/usr/local/bin/e2e-server\n\n[Socket]\nListenStream=127.0.0.1:18140\nFileDescriptorName=web\n' > "$W/src/web.container"
    boot s1 || return
    check "web.socket was made from web.container (SourcePath=) and wired to web.service" \
        eval 'u systemctl --user cat web.socket | grep -qx "SourcePath=/home/tester/.config/containers/systemd/web.container" && [ "$(prop Triggers web.socket)" = web.service ]'
    check "after the linger boot web.socket listens (WantedBy=sockets.target), the container is not running" \
        eval 'within 60 is active web.socket && is inactive web.service && nothing_runs'
    local reply
    reply=$(get 18140)
    check "the first connection is answered: the program in the container got LISTEN_FDS=1, its name, pid 1: $reply" \
        eval 'grep -q "^LISTEN_FDS=1 LISTEN_FDNAMES=web LISTEN_PID=1 PID=1 " <<<"$reply"'
    check "the program saw the client's own address (127.0.0.7)" eval 'grep -q "PEER=127.0.0.7:" <<<"$reply"'
    check "web.service active, its container running, started once" \
        eval 'is active web.service && u podman container exists systemd-web && no_restart web.service'
    reply=$(get 18140)
    check "a second connection goes to the same container: $reply" eval 'grep -q "^LISTEN_FDS=1 .*PEER=127.0.0.7:" <<<"$reply"'
    check "systemctl --user stop web.socket stops web.service too, and nothing is left running" \
        eval 'u systemctl --user stop web.socket && within 60 is inactive web.service && is inactive web.socket && within 60 nothing_runs'
    check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
    down
}

# 2. Proxy mode (ProxyTo=) for a program that cannot take a socket, 3. stopped when idle.
s2() {
    scenario "2 proxy mode: busybox httpd behind systemd-socket-proxyd; 3 stopped when idle"
    src
    # httpd starts listening 3 s after the container starts: a connection that reached it
    # before would be refused. (sh, PID 1 of the container, ends on SIGTERM: a PID 1
    # without a handler ignores it, and podman would kill it after 10 s, failing the unit.)
    printf '[Container]\nRootfs=/srv/rootfs\nExec=/bin/sh -c "trap \x27exit 0\x27 TERM; sleep 3; /bin/busybox httpd -f -p 80 -h /www & wait"\n\n[Socket]\nListenStream=127.0.0.1:18142\nProxyTo=80\nIdleStopSec=5s\n' > "$W/src/httpd.container"
    # A container that exits before it listens: its unit fails, saying why.
    printf '[Container]\nRootfs=/srv/rootfs\nExec=/bin/true\n\n[Socket]\nListenStream=127.0.0.1:18143\nProxyTo=8080\n' > "$W/src/deaf.container"
    boot s2 || return
    check "after the linger boot httpd.socket listens, no container runs" \
        eval 'within 60 is active httpd.socket && is inactive httpd.service && is inactive httpd-proxy.service && nothing_runs'
    local reply
    reply=$(get 18142)
    check "the first connection after the cold start is answered: $reply" eval '[ "$reply" = "hello from busybox httpd" ]'
    check "httpd.service and httpd-proxy.service active, the container running" \
        eval 'is active httpd.service && is active httpd-proxy.service && u podman container exists systemd-httpd'
    # httpd listens on 80 inside (ProxyTo=80): the host side is a port from 20000 on, which
    # rootless podman can bind whatever ip_unprivileged_port_start says.
    check "the container is published on loopback only, port 80 inside on a host port from 20000 on" \
        eval 'u podman port systemd-httpd | grep -Eq "^80/tcp -> 127\.[0-9.]+:2[0-9]{4}$" && [ "$(u podman port systemd-httpd | wc -l)" = 1 ]'
    check "after IdleStopSec=5s without a connection the proxy exits and the container stops; the socket stays" \
        eval 'within 90 is inactive httpd.service && is inactive httpd-proxy.service && is active httpd.socket && within 30 nothing_runs'
    reply=$(get 18142)
    check "the next connection starts it again and is answered: $reply" eval '[ "$reply" = "hello from busybox httpd" ]'
    check "stopped again when idle" eval 'within 90 is inactive httpd.service && within 30 nothing_runs'
    local n
    n=$(sb exec sh -c 'for i in $(seq 20); do curl -sS --max-time 60 http://127.0.0.1:18142/ & done; wait' 2>&1 | grep -c "^hello from busybox httpd$")
    check "20 connections at once during a cold start: all 20 answered ($n)" eval '[ "$n" = 20 ]'
    check "httpd.service started once each time (no failure, no restart)" \
        eval '! u journalctl --user --no-pager -o cat -u httpd.service | grep -q "Failed with result"'
    sb exec curl -sS --max-time 30 http://127.0.0.1:18143/ >/dev/null 2>&1
    check "a container that exits before it listens: deaf.service fails with its cause in the journal" \
        eval 'within 60 eval "u journalctl --user --no-pager -o cat -u deaf.service | grep -q \"the container exited before anything listened on port 8080 in it\"" && ! is active deaf-proxy.service'
    check "systemctl --user stop httpd.socket leaves nothing running" \
        eval 'u systemctl --user stop httpd.socket deaf.socket && within 60 is inactive httpd.service && within 30 nothing_runs'
    down
}

ALL=(s1 s2)
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
    t=$EPOCHREALTIME
    "$s"
    printf '   (%s: %.1fs)\n' "$s" "$(awk "BEGIN{print $EPOCHREALTIME-$t}")"
done
e2e_end
