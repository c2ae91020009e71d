#!/bin/bash
# End-to-end proof of `.build` in a real systemd 252 with rootless podman (Debian 12:
# 4.3.1), as the lingering user `tester` (tests/e2e/sandbox.sh): a `.build` whose
# Containerfile starts `FROM` a busybox image imported from a local tarball (no registry:
# a user oneshot imports it at boot, and the build requires it) and adds the test server;
# a `.container` with `Image=X.build` runs it and answers. The build runs once, before the
# container, at linger boot, and again (quadlet's unit does not stay active) before the
# container when it is restarted. A `.build` with GroupAdd= is refused on podman < 4.4.
#
#   tests/e2e/build.sh      (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start build "${E2E_PODMAN_PKGS[@]}"

# --- the base image's content: a busybox rootfs, as a tarball for `podman import`
tar -C "$R" -cf "$W/busybox.tar" . || exit 1

# --- the sources: ~/.config/containers/systemd/{hello.container,hello/hello.build,...}
mkdir -p "$W/src/hello" "$W/user"
# The build context is the directory of the .build file (SetWorkingDirectory=unit).
cp "$W/e2e-server" "$W/src/hello/e2e-server"
echo "built by hello.build" > "$W/src/hello/stamp"
cat > "$W/src/hello/Containerfile" <<'EOF'
FROM localhost/busybox
COPY e2e-server /usr/local/bin/e2e-server
COPY stamp /stamp
RUN ["/bin/sh", "-c", "echo ran > /ran"]
EOF
cat > "$W/src/hello/hello.build" <<'EOF'
[Unit]
Description=e2e: the hello image, built from ./Containerfile
Requires=busybox-import.service
After=busybox-import.service

[Build]
ImageTag=localhost/hello:latest
ImageTag=localhost/hello:e2e
SetWorkingDirectory=unit
Network=none
Label=org.example.e2e=build

[Service]
ExecStartPost=/bin/sh -c 'echo build >> %h/order.log'
EOF
cat > "$W/src/hello.container" <<'EOF'
[Container]
Image=hello.build
Exec=/usr/local/bin/e2e-server 8080
PublishPort=127.0.0.1:18090:8080

[Service]
ExecStartPre=/bin/sh -c 'echo start >> %h/order.log'

[Install]
WantedBy=default.target
EOF
# refused on podman 4.3 (podman build --group-add comes with 4.4)
printf '[Build]\nImageTag=localhost/groups\nSetWorkingDirectory=unit\nGroupAdd=keep-groups\n' > "$W/src/groups.build"
# The base image: a plain user unit (not a source), imported once from the tarball.
cat > "$W/user/busybox-import.service" <<'EOF'
[Unit]
Description=e2e: the busybox base image, imported from a local tarball (no registry)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'podman image exists localhost/busybox || podman import /srv/busybox.tar localhost/busybox'
EOF

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
order() { u cat /home/tester/order.log 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
# pairs N: the order log is N times "build start", nothing else (every start of the
# container came right after a build of its own).
pairs() { local want="" _; for _ in $(seq "$1"); do want="$want${want:+ }build start"; done; [ "$(order)" = "$want" ] || { echo "order.log: $(order)"; return 1; }; }
# starts: the container's starts since boot that the log must show, each after a build of
# its own: the first, and its automatic restarts (podman 4.3's notify race, result
# 'protocol', may cost one: a restart starts the build again too). NRestarts counts since
# the last start by hand, so EARLIER adds the starts before it.
starts() { echo $(( ${EARLIER:-0} + $(prop NRestarts hello.service) + 1 )); }
answers() { sb exec curl -sS --http0.9 --max-time 5 http://127.0.0.1:18090/ | grep PEER= >/dev/null; }

scenario() { echo "== $1"; }
scenario ".build at linger boot, Image=X.build in a container, restart (podman $(podman --version | awk '{print $3}'))"
# (tests/e2e/provision.sh: rootlet, the tarball as /srv/busybox.tar, the network online at
# once, the sources and the user unit)
e2e_boot build online || { echo "$PASS passed, $FAIL failed"; exit 1; }
G=/run/user/1500/systemd/generator
check "the generator made hello-build.service (X-build.service) at boot" sb exec test -f "$G/hello-build.service"
check "hello.service active after linger boot (import, build, run)" within 240 is active hello.service \
    || u journalctl --user --no-pager -u busybox-import.service -u hello-build.service -u hello.service | tail -30
check "the container answers" within 30 answers
check "hello-build.service ran and finished: inactive, Result=success (no RemainAfterExit, as quadlet)" \
    eval 'is inactive hello-build.service && [ "$(prop Result hello-build.service)" = success ]'
check "the build ran once, before the container's start: order.log is 'build start' (x$(starts))" within 10 eval 'pairs "$(starts)"'
tb=$(prop ExecMainExitTimestampMonotonic hello-build.service)
tc=$(prop ExecMainStartTimestampMonotonic hello.service)
echo "MEASURED the build at boot took $(( (tb - $(prop ExecMainStartTimestampMonotonic hello-build.service)) / 1000 )) ms"
check "the build's podman exited before the container's started ($(( (tc - tb) / 1000 )) ms before)" test "$tb" -gt 0 -a "$tb" -le "$tc"
check "both tags exist, with the build's label" eval 'u podman image exists localhost/hello:latest && u podman image exists localhost/hello:e2e && [ "$(u podman image inspect --format "{{index .Labels \"org.example.e2e\"}}" localhost/hello:latest)" = build ]'
check "the container runs the first ImageTag (localhost/hello:latest)" \
    eval '[ "$(u podman container inspect --format "{{.ImageName}}" systemd-hello)" = localhost/hello:latest ]'
check "it holds what the build added (COPY stamp, RUN)" \
    eval '[ "$(u podman exec systemd-hello cat /stamp)" = "built by hello.build" ] && [ "$(u podman exec systemd-hello cat /ran)" = ran ]'
check "the build ran in the unit's directory (WorkingDirectory=, the context)" \
    eval '[ "$(prop WorkingDirectory hello-build.service)" = /home/tester/.config/containers/systemd/hello ]'
check "the build waits for the network (its pull policy may pull the base image)" \
    eval 'prop Wants hello-build.service | grep -w rootlet-wait-online.service >/dev/null'
EARLIER=$(starts)
check "systemctl --user restart hello.service" u systemctl --user restart hello.service
check "hello.service active again" within 120 is active hello.service
check "the container answers again" within 30 answers
check "the restart built again first: order.log is 'build start' x$(starts)" within 10 eval 'pairs "$(starts)"'
tb2=$(prop ExecMainExitTimestampMonotonic hello-build.service)
tc2=$(prop ExecMainStartTimestampMonotonic hello.service)
echo "MEASURED the build again, from the cache, took $(( (tb2 - $(prop ExecMainStartTimestampMonotonic hello-build.service)) / 1000 )) ms"
check "the second build finished after the first, before the new container started" test "$tb2" -gt "$tb" -a "$tb2" -le "$tc2"
check "the second build used podman's layer cache" \
    eval 'u journalctl --user --no-pager -u hello-build.service -o cat | grep "Using cache" >/dev/null'
check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
check "no unit reported 'unknown flag'" eval '! u journalctl --user --no-pager | grep "unknown flag" >/dev/null'
check "groups.build yields no unit on podman 4.3" eval '[ "$(prop LoadState groups-build.service)" = not-found ]'
check "the journal names file:line, the key and the podman needed" within 10 \
    eval 'sb exec journalctl --no-pager -b | grep "groups.build:4: GroupAdd: a group for the build (.podman build --group-add.) needs podman 4.4.0 or newer, podman is 4.3.1" >/dev/null'
if [ "$FAIL" != 0 ]; then
    u journalctl --user --no-pager -o short-monotonic -u busybox-import.service -u hello-build.service -u hello.service | tail -40
fi
e2e_end
