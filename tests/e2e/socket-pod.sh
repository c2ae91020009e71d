#!/bin/bash
# `[Socket]` in a `.pod` and a `.kube`, in a real systemd 252 (tests/e2e/sandbox.sh) with
# rootless podman 4.3 as the lingering user `tester`:
#  1. why a `.kube` takes no `[Socket]`: a socket activating its unit (`web.socket` beside
#     `web.kube`) reaches `podman kube play`, which hands it to the first container it
#     starts (its service container) and closes it: the YAML's container gets LISTEN_FDS
#     but not the socket, and the connection is never answered; rootlet check says why;
#  2. a `.pod` with `[Socket]` and `ProxyTo=` (proxy mode): after the linger boot the
#     socket listens and nothing runs; the first connection starts the pod, its member and
#     the proxy (which waits for the member to listen in the pod's network) and is
#     answered; idle, the proxy stops the pod and its member; the next connection starts
#     them again; 20 connections in a cold start all answered; `systemctl --user stop
#     app-pod.socket` leaves nothing running;
#  3. why a `.pod` takes no native `[Socket]`: a socket activating the pod's unit reaches
#     its infra container only (`podman pod start`), never a member.
#
#   tests/e2e/socket-pod.sh          (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start socket-pod "${E2E_PODMAN_PKGS[@]}"

# The busybox rootfs with the test server: the members' Rootfs=, and the kube's image (a
# tarball the user imports: no registry).
mkdir -p "$R/www" "$W/srv/img" && echo "hello from busybox httpd" > "$R/www/index.html"
tar -C "$R" -cf "$W/srv/img/web.tar" .
S=$W/src; mkdir -p "$S" "$W/user"

# 1. the kube: its container serves the socket (e2e-server without a port takes fd 3).
cat > "$S/web.yml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: srv
    image: localhost/e2e-web:v1
    imagePullPolicy: Never
    command: ["/usr/local/bin/e2e-server"]
EOF
printf '[Unit]\nRequires=e2e-import.service\nAfter=e2e-import.service\n\n[Kube]\nYaml=web.yml\n' > "$S/web.kube"
printf '[Socket]\nListenStream=127.0.0.1:18160\nFileDescriptorName=web\n' > "$S/web.socket"
# What rootlet refuses, for `rootlet check` to say why.
printf '[Kube]\nYaml=web.yml\n\n[Socket]\nListenStream=127.0.0.1:18161\n' > "$S/own.kube"
cat > "$W/user/e2e-import.service" <<'EOF'
[Unit]
Description=import the e2e image from a tarball
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'podman image exists localhost/e2e-web:v1 || exec podman import -q /srv/img/web.tar localhost/e2e-web:v1'
EOF

# 2. the pod in proxy mode; its member's httpd listens 3 s after the container starts (a
# connection that reached it before would be refused).
printf '[Pod]\n\n[Socket]\nListenStream=127.0.0.1:18162\nProxyTo=8080\nIdleStopSec=5s\n' > "$S/app.pod"
printf '[Container]\nRootfs=/srv/rootfs\nPod=app.pod\nExec=/bin/sh -c "trap \x27exit 0\x27 TERM; sleep 3; /bin/busybox httpd -f -p 8080 -h /www & wait"\n' > "$S/httpd.container"

# 3. a pod activated by a socket of its own unit's name (a .socket file: rootlet refuses
# the [Socket] section in a .pod without ProxyTo=); its member would take the socket.
printf '[Pod]\n' > "$S/raw.pod"
printf '[Socket]\nListenStream=127.0.0.1:18164\n' > "$S/raw-pod.socket"
printf '[Container]\nRootfs=/srv/rootfs\nPod=raw.pod\nExec=/usr/local/bin/e2e-server 8080\n' > "$S/member.container"

# (tests/e2e/provision.sh: rootlet, the rootfs, the image's tarball, a default route so
# that rootlet-wait-online does not wait, the sources and the import unit)
echo "== booting $(e2e_name socket-pod)"
e2e_boot socket-pod route || { echo "$PASS passed, $FAIL failed"; exit 1; }

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
# get PORT [SECONDS]: one connection from the client address 127.0.0.7, its reply.
get() { sb exec curl -sS --http0.9 --max-time "${2:-120}" --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
# Nothing of the test user's runs: no container, no pod, no podman or conmon.
nothing_runs() {
    local c p
    c=$(u podman ps -a -q) && [ -z "$c" ] || { echo "containers: $c"; return 1; }
    c=$(u podman pod ps -q) && [ -z "$c" ] || { echo "pods: $c"; return 1; }
    p=$(sb exec pgrep -u tester -af 'conmon|e2e-server|httpd|podman (run|start|kube|pod)') && { echo "processes: $p"; return 1; }
    return 0
}
no_failed() { [ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]; }
env_of() { u podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" | grep '^LISTEN_' | tr '\n' ' '; }
# The journal of a unit, whole (so that grep -q does not cut the pipe under pipefail).
journal() { u journalctl --user --no-pager -o cat -u "$1"; }
# The YAML's container got LISTEN_FDS=1 (e2e-server says so), and fd 3 was no socket.
kube_fd_mixup() { local j; j=$(journal web.service) || return 1
    grep -q "^e2e-server: LISTEN_FDS=1 LISTEN_FDNAMES=web " <<<"$j" && grep -q "accept: Invalid argument" <<<"$j"; }

echo "== after the linger boot"
check "app-pod.socket (from app.pod) listens; no pod or container runs" \
    eval 'within 60 is active app-pod.socket && is inactive app-pod.service && is inactive app-pod-proxy.service && is inactive httpd.service && nothing_runs'
check "app-pod.socket activates the proxy, app-pod-proxy.service" \
    eval '[ "$(prop Triggers app-pod.socket)" = app-pod-proxy.service ]'
u systemctl --user start web.socket

echo "== 1. a socket that activates a .kube's unit: kube play hands it to its service container"
get 18160 30 >/dev/null 2>&1
check "the connection started web.service (kube play) and the YAML's container web-srv" \
    within 120 eval 'is active web.service && u podman container exists web-srv'
check "podman closed the socket after the first container it started (it says so when it closes it again)" \
    eval 'j=$(journal web.service) && grep -q "Unable to close file fd-3" <<<"$j"'
check "the YAML's container got LISTEN_FDS=1, but fd 3 is not the socket: it fails to accept" \
    within 30 kube_fd_mixup
check "so a connection is never answered" eval '! get 18160 10'
check "rootlet check refuses a [Socket] in a .kube, saying why" \
    eval 'out=$(u /usr/local/bin/rootlet check /home/tester/.config/containers/systemd/own.kube 2>&1); grep -q "own.kube:4: \[Socket\] in a .kube: .podman kube play. hands the socket to the first container it starts, podman.s service container" <<<"$out"'
# (kube play's service container, which took the socket, can stay behind exited: this
# wiring is the one rootlet refuses; it is removed by hand before the pod's part)
check "stopping web.socket and web.service leaves no process running" \
    eval 'u systemctl --user stop web.socket web.service && within 90 eval "! sb exec pgrep -u tester -af \"conmon|e2e-server|podman (run|start|kube|pod)\" >/dev/null"'
u podman pod rm -af >/dev/null 2>&1; u podman rm -af >/dev/null 2>&1

echo "== 2. [Socket] with ProxyTo= in a .pod"
reply=$(get 18162)
check "the first connection after the cold start is answered (pod, member and proxy started): $reply" \
    eval '[ "$reply" = "hello from busybox httpd" ]' \
    || u journalctl --user --no-pager -o cat -u app-pod.service -u httpd.service -u app-pod-proxy.service | tail -30
check "app-pod.service, httpd.service and app-pod-proxy.service active, the member in the pod" \
    eval 'is active app-pod.service && is active httpd.service && is active app-pod-proxy.service && [ "$(u podman ps --filter pod=systemd-app --format "{{.Names}}" | sort | tr "\n" " ")" = "systemd-app-infra systemd-httpd " ]'
check "the pod is published on a loopback address only" \
    eval 'p=$(u podman port systemd-app-infra) && grep -Eq "^8080/tcp -> 127\.[0-9.]+:2[0-9]{4}$" <<<"$p" && [ "$(wc -l <<<"$p")" = 1 ]'
check "after IdleStopSec=5s without a connection the proxy exits and the pod and its member stop; the socket stays" \
    eval 'within 120 eval "is inactive app-pod-proxy.service && is inactive app-pod.service && is inactive httpd.service" && is active app-pod.socket && within 60 nothing_runs' \
    || u systemctl --user list-units --all --no-legend 'app*' 'httpd*'
reply=$(get 18162)
check "the next connection starts them again and is answered: $reply" eval '[ "$reply" = "hello from busybox httpd" ]'
check "stopped again when idle" eval 'within 120 eval "is inactive app-pod.service && is inactive httpd.service" && within 60 nothing_runs'
n=$(sb exec sh -c 'for i in $(seq 20); do curl -sS --max-time 120 http://127.0.0.1:18162/ & done; wait' 2>&1 | grep -c "^hello from busybox httpd$")
check "20 connections at once during a cold start: all 20 answered ($n)" eval '[ "$n" = 20 ]'
check "no start of the pod's units failed" \
    eval '! u journalctl --user --no-pager -o cat -u app-pod.service -u httpd.service -u app-pod-proxy.service | grep "Failed with result"'
check "systemctl --user stop app-pod.socket stops the proxy, the pod and its member, and leaves nothing running" \
    eval 'u systemctl --user stop app-pod.socket && within 90 eval "is inactive app-pod-proxy.service && is inactive app-pod.service && is inactive httpd.service" && within 60 nothing_runs'

echo "== 3. a socket that activates a pod's unit reaches its infra container, not its members"
u systemctl --user start raw-pod.socket
get 18164 5 >/dev/null 2>&1
check "the connection started raw-pod.service and its member" within 120 eval 'is active raw-pod.service && is active member.service && u podman container exists systemd-member'
infra=$(env_of systemd-raw-infra) member=$(env_of systemd-member)
check "podman pod start ran the infra container with the socket's LISTEN_* ($infra), the member got none ($member)" \
    eval '[[ $infra == *LISTEN_FDS=1* ]] && [ -z "$member" ]'
check "stopping raw-pod.socket and raw-pod.service leaves nothing running" \
    eval 'u systemctl --user stop raw-pod.socket raw-pod.service && within 90 nothing_runs'
check "no failed user unit" no_failed || u systemctl --user list-units --failed --plain --no-legend

e2e_end
