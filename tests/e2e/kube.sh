#!/bin/bash
# End-to-end proof of `.kube` files in a real systemd 252 with the podman installed here
# (Debian 12: rootless podman 4.3.1): one sandbox (tests/e2e/sandbox.sh, as run.sh) with a
# lingering user `tester`, rootlet installed with `make install DESTDIR=<sandbox root>`.
#
# web.kube plays a pod of one container (an image imported by the user's own oneshot from
# a busybox rootfs tarball: no registry) on the network of kn.network, with a ConfigMap=
# and SetWorkingDirectory=yaml; started at linger boot, it answers on the pod's published
# port, its main process is the service container's conmon (podman's READY=1 with
# MAINPID=), and `systemctl --user stop` removes the pod. ports.kube asks for what
# podman 4.3.1 lacks (`kube play --publish`) and is refused, said in the journal.
# Pods need an infra image: podman 4.3 builds it from catatonit (Debian package).
#
#   tests/e2e/kube.sh          (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start kube "${E2E_PODMAN_PKGS[@]}"

# --- the image: busybox and the test server, a rootfs tarball the user imports
tar -C "$R" -cf "$W/kube-web.tar" .

# --- the sources
S=$W/src; mkdir -p "$S" "$W/user"
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
    command: ["/usr/local/bin/e2e-server", "8080"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: web-config
          key: greeting
    ports:
    - containerPort: 8080
      hostPort: 18081
      hostIP: 127.0.0.1
EOF
cat > "$S/cm.yml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello-from-configmap
EOF
printf '[Network]\nSubnet=10.89.44.0/24\n' > "$S/kn.network"
cat > "$S/web.kube" <<'EOF'
[Unit]
Description=the e2e pod
# The image comes from the user's own oneshot (no registry here).
Requires=e2e-import.service
After=e2e-import.service

[Kube]
Yaml=web.yml
ConfigMap=cm.yml
Network=kn.network
SetWorkingDirectory=yaml
# What podman 4.3.1 does without the flags: left out on it.
KubeDownForce=false
ExitCodePropagation=none

[Install]
WantedBy=default.target
EOF
# What podman 4.3.1 cannot do: refused, with the version needed.
printf '[Kube]\nYaml=web.yml\nPublishPort=127.0.0.1:18082:8080\n\n[Install]\nWantedBy=default.target\n' > "$S/ports.kube"
cat > "$W/user/e2e-import.service" <<'EOF'
[Unit]
Description=import the e2e image from a tarball
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'podman image exists localhost/e2e-web:v1 || exec podman import -q /usr/local/share/rootlet-tests/kube-web.tar localhost/e2e-web:v1'
EOF

# provision (tests/e2e/provision.sh: rootlet, a default route so that rootlet-wait-online
# does not wait, the sources and the user unit): and the image's tarball.
cat > "$W/provision.sh" <<'EOF'
install -Dm644 "$E2E_W/kube-web.tar" "$ROOT/usr/local/share/rootlet-tests/kube-web.tar"
EOF

echo "== booting $(e2e_name kube)"
e2e_boot kube route || { echo "$PASS passed, $FAIL failed"; exit 1; }

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
get() { sb exec curl -sS --http0.9 --max-time 10 --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
# (through rootlessport: the container sees the network's gateway as the peer)
answers() { get 18081 | grep 'PID=1 PEER=' >/dev/null; }
# shellcheck disable=SC2034 # read by the checks (eval)
Q=/home/tester/.config/containers/systemd
exec 3>&1   # the suite's own stdout, for notes from inside a check
# (no_restart UNIT, for podman 4.3's notify race: tests/e2e/sandbox-lib.sh)
# The ExecStart= / ExecStopPost= lines of the generated unit.
unit_line() { u systemctl --user cat web.service | grep "^$1="; }

echo "== linger boot"
check "web.service active after linger boot" within 240 is active web.service \
    || u journalctl --user --no-pager -u web.service -u e2e-import.service -u kn-network.service | tail -30
echo "MEASURED web.service from start to READY at linger boot (kube play of a pod with its infra and service containers): $(( ($(prop ActiveEnterTimestampMonotonic web.service) - $(prop InactiveExitTimestampMonotonic web.service)) / 1000 )) ms"
check "kn-network.service (its Network=kn.network) active, e2e-import.service too" \
    eval 'is active kn-network.service && is active e2e-import.service'
check "ExecStart: kube play --replace --service-container=true, the network's name, the ConfigMap's path" \
    eval 'l=$(unit_line ExecStart) && grep -q " kube play --replace --service-container=true " <<<"$l" && grep -q -- "--network systemd-kn " <<<"$l" && grep -q -- "--configmap $Q/cm.yml $Q/web.yml$" <<<"$l"'
check "on podman 4.3.1: no --service-exit-code-propagation (=none is its behaviour), kube down without --force" \
    eval '! unit_line ExecStart | grep -- --service-exit-code-propagation >/dev/null && [ "$(unit_line ExecStopPost)" = "ExecStopPost=/usr/bin/podman kube down $Q/web.yml" ]'
check "the pod answers on its published port (hostPort 18081)" within 30 answers
check "its container got the ConfigMap's value (ConfigMap=cm.yml, relative to the source)" \
    eval '[ "$(u podman exec web-srv /bin/sh -c "echo \$GREETING")" = hello-from-configmap ]'
check "the pod is on the network of kn.network (systemd-kn)" eval 'u podman pod inspect web | grep "\"systemd-kn\"" >/dev/null'
check "WorkingDirectory= is the YAML file's directory (SetWorkingDirectory=yaml)" \
    eval '[ "$(prop WorkingDirectory web.service)" = "$Q" ]'
check "the main process is the service container's conmon (podman's READY=1 with MAINPID=)" \
    eval 'p=$(prop MainPID web.service) && [ "$p" -gt 0 ] && [ "$(sb exec cat /proc/$p/comm)" = conmon ]'
check "no restart" no_restart web.service \
    || u journalctl --user -u web.service --no-pager -o short-monotonic | tail -25

echo "== stop, start, restart"
check "systemctl --user stop web.service" u systemctl --user stop web.service
check "the pod and all its containers are gone (kube down), the unit inactive, not failed" \
    eval '! u podman pod exists web && [ -z "$(u podman ps -aq)" ] && is inactive web.service'
check "systemctl --user start web.service: active again and answers" \
    eval 'u systemctl --user start web.service; within 60 is active web.service && within 30 answers'
check "systemctl --user restart web.service: active again and answers" \
    eval 'u systemctl --user restart web.service; within 60 is active web.service && within 30 answers'
check "one pod (web), its infra, its container and the service container: nothing left over" \
    eval '[ "$(u podman pod ps -q | wc -l)" = 1 ] && [ "$(u podman ps -aq | wc -l)" = 3 ]'

echo "== what podman 4.3.1 cannot do"
check "ports.kube (PublishPort=) yields no unit" eval '[ "$(prop LoadState ports.service)" = not-found ]'
check "the journal names file:line, the key and the podman needed" within 10 \
    eval 'sb exec journalctl --no-pager -b | grep "ports.kube:3: PublishPort: .kube play --publish. needs podman 4.4.0 or newer, podman is 4.3.1" >/dev/null'
check "no unit reported 'unknown flag'" eval '! u journalctl --user --no-pager | grep "unknown flag" >/dev/null'
check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]' \
    || u systemctl --user list-units --failed --plain --no-legend

e2e_end
