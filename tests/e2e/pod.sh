#!/bin/bash
# End-to-end proof of `.pod` files in a real systemd 252 with the rootless podman installed
# here (Debian 12: 4.3.1): a pod with two member containers (`Pod=app.pod`), started at
# linger boot by the pod's unit alone (it wants the containers that start with it); each
# container serves its own port inside the pod, published by the pod's PublishPort=;
# `systemctl --user stop` of the pod's unit stops and removes both containers and the pod;
# `start` and `restart` bring both back.
#
# podman builds the pod's infra image from `catatonit` (Debian package `catatonit`), so the
# suite installs it: `rootlet doctor` warns when it is missing (src/doctor/).
#
#   tests/e2e/pod.sh            (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start pod "${E2E_PODMAN_PKGS[@]}"

mkdir -p "$W/src"
cat > "$W/src/app.pod" <<'EOF'
[Pod]
PublishPort=127.0.0.1:18081:8081
PublishPort=127.0.0.1:18082:8082

[Install]
WantedBy=default.target
EOF
for n in 1 2; do
    name=$([ $n = 1 ] && echo one || echo two)
    printf '[Container]\nRootfs=/srv/rootfs\nPod=app.pod\nExec=/usr/local/bin/e2e-server 808%s\n' "$n" > "$W/src/$name.container"
done
# A template pod and a template container: instance alpha (DefaultInstance=) at boot, one
# pod per instance (systemd-tenant-alpha), the container joining its own instance's pod.
printf '[Pod]\nPublishPort=127.0.0.1:18090:8090\n\n[Install]\nDefaultInstance=alpha\nWantedBy=default.target\n' > "$W/src/tenant@.pod"
printf '[Container]\nRootfs=/srv/rootfs\nPod=tenant@.pod\nExec=/usr/local/bin/e2e-server 8090\n' > "$W/src/site@.container"
# A member that does not start with the pod (StartWithPod=false): started by hand only.
printf '[Container]\nRootfs=/srv/rootfs\nPod=app.pod\nStartWithPod=false\nExec=/usr/local/bin/e2e-server 8083\n' > "$W/src/later.container"

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
get() { sb exec curl -sS --http0.9 --max-time 20 --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
answers() { get 18081 | grep PEER= >/dev/null && get 18082 | grep PEER= >/dev/null; }
both() { is "$1" one.service && is "$1" two.service; }
# The user's podman containers (infra included) and pods, by name.
containers() { u podman ps -a --format '{{.Names}}'; }
pods() { u podman pod ps --format '{{.Name}}'; }
none_left() { [ -z "$(containers)" ] && [ -z "$(pods)" ]; }

echo "== a .pod with two member containers at linger boot"
# (tests/e2e/provision.sh: rootlet, the busybox rootfs, the network online at once, the sources)
e2e_boot pod online || { echo "$PASS passed, $FAIL failed"; exit 1; }
echo "MEASURED $(u podman --version)"
check "generator wrote app-pod.service, one.service, two.service" \
    sb exec test -f /run/user/1500/systemd/generator/app-pod.service -a -f /run/user/1500/systemd/generator/one.service -a -f /run/user/1500/systemd/generator/two.service
# (the first pod builds podman's infra image from catatonit: a wide margin)
check "app-pod.service active after linger boot" within 180 is active app-pod.service \
    || u journalctl --user --no-pager -u app-pod.service | tail -25
check "one.service and two.service active (wanted by the pod's unit alone)" within 90 both active \
    || u journalctl --user --no-pager -u one.service -u two.service | tail -25
check "both containers answer on the pod's published ports" within 30 answers
check "the pod systemd-app holds both containers and its infra" within 20 eval \
    '[ "$(u podman ps --filter pod=systemd-app --format "{{.Names}}" | sort | tr "\n" " ")" = "systemd-app-infra systemd-one systemd-two " ]'
check "later.service (StartWithPod=false) was not started" is inactive later.service
check "later.service starts into the running pod by hand" eval 'u systemctl --user start later.service && within 30 eval "u podman ps --filter pod=systemd-app --format {{.Names}} | grep -x systemd-later"'
check "template: tenant-pod@alpha.service and site@alpha.service active" within 90 eval 'is active tenant-pod@alpha.service && is active site@alpha.service' \
    || u journalctl --user --no-pager -u tenant-pod@alpha.service -u site@alpha.service | tail -25
check "template: pod systemd-tenant-alpha holds systemd-site_alpha, which answers" within 30 eval \
    'u podman ps --filter pod=systemd-tenant-alpha --format "{{.Names}}" | grep -x systemd-site_alpha >/dev/null && get 18090 | grep PEER= >/dev/null'
check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'

check "systemctl --user stop app-pod.service" u systemctl --user stop app-pod.service
check "one, two and later stopped with it (BindsTo=)" within 60 eval 'both inactive && is inactive later.service' \
    || u systemctl --user list-units --all --no-legend 'one*' 'two*' 'later*' 'app*'
check "podman ps -a shows no container and no pod is left (tenant-pod@alpha stopped first)" eval 'u systemctl --user stop tenant-pod@alpha.service && within 60 none_left' \
    || { containers; pods; }

check "systemctl --user start app-pod.service" u systemctl --user start app-pod.service
check "both containers back and answering" within 90 eval 'both active && answers'

local_pid() { u podman inspect --format '{{.State.Pid}}' "$1"; }
before="$(local_pid systemd-one) $(local_pid systemd-two)"
check "systemctl --user restart app-pod.service" u systemctl --user restart app-pod.service
check "both containers active and answering after the restart" within 90 eval 'both active && is active app-pod.service && answers'
check "both are new containers (pids were $before)" eval '[ "$(local_pid systemd-one) $(local_pid systemd-two)" != "$before" ]'
check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
check "no unit reported 'unknown flag'" eval '! u journalctl --user --no-pager | grep "unknown flag" >/dev/null'
doctor() { u /usr/local/bin/rootlet doctor 2>&1; }
check "rootlet doctor: catatonit found for the pods" eval 'out=$(doctor); grep -E "^ok: pods \(app.pod and [0-9]+ more\): catatonit .*\[runtime.pod-infra\]" <<<"$out" >/dev/null'
check "rootlet doctor warns, with the fix, once catatonit is gone" eval 'sb exec sh -c "mv /usr/libexec/podman/catatonit /usr/libexec/podman/catatonit.away && mv /usr/bin/catatonit /usr/bin/catatonit.away" && { out=$(doctor); true; } && grep -E "^warning: pods \(app.pod and [0-9]+ more\), but catatonit is not installed" <<<"$out" >/dev/null && grep "^    sudo apt install catatonit" <<<"$out" >/dev/null'
sb exec sh -c 'mv /usr/libexec/podman/catatonit.away /usr/libexec/podman/catatonit; mv /usr/bin/catatonit.away /usr/bin/catatonit'

e2e_end
