#!/bin/bash
# `.image` in a real systemd 252 with Debian 12's rootless podman 4.3.1: a `.image` pulled
# from a registry at linger boot, the network late, and a `.container` with
# `Image=X.image` that runs the pulled image and answers.
#
#   tests/e2e/image.sh      (needs root; skips loudly where it cannot run)
#
# The registry is Debian 12's docker-registry (fetched with apt-get download and unpacked
# into the sandbox's root only: nothing is installed on the host, where an installed
# package's enabled unit would boot in every suite's sandbox). In the sandbox it runs as a
# system service on 127.0.0.1:5000 of the sandbox's own network namespace. Before
# network-online.target, a system oneshot imports a busybox rootfs with the e2e test
# server (podman import, as root, in a storage of its own) and pushes it to the registry
# (--tls-verify=false); the test user's storage never holds it before the `.image` pulls
# it. network-online.target is held back 10 s more (as run.sh's NET=late does).
#
# Asserted: the generated pull unit starts after network-online.target and after the wait
# unit, with no failed attempt and no restart; the registry served the pull; the image is
# in the user's storage; the container started after the pull and answers; `rootlet
# check` finds the files clean; a restart of the pull unit pulls again. Then a `.artifact`
# and a container with an artifact mount are refused on this podman, naming the version.
set -uo pipefail
# (With pipefail, `cmd | grep -q` fails when grep stops reading early and cmd gets SIGPIPE:
# the checks below let grep read everything instead.)
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
need_sandbox
DEBS=/var/cache/rootlet-debs/bookworm
if ! ls "$DEBS"/docker-registry_*.deb >/dev/null 2>&1; then
    mkdir -p "$DEBS"
    (cd "$DEBS" && { apt-get download docker-registry >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get download docker-registry >/dev/null 2>&1; }; }) \
        || skip "cannot fetch Debian's docker-registry"
fi
e2e_start image "${E2E_PODMAN_PKGS[@]}"

# The image's content: busybox and the e2e test server, as a tar for `podman import`.
mkdir -p "$W/srv/img" && tar -C "$R" -cf "$W/srv/img/server.tar" . || exit 1
mkdir -p "$W/registry"; dpkg-deb -x "$DEBS"/docker-registry_*.deb "$W/registry" || exit 1

IMAGE=127.0.0.1:5000/e2e/server:1
# The user's sources.
mkdir -p "$W/src"
cat > "$W/src/server.image" <<EOF
[Image]
Image=$IMAGE
# The sandbox's registry speaks plain HTTP.
TLSVerify=false
EOF
cat > "$W/src/server.container" <<'EOF'
[Container]
Image=server.image
Exec=/usr/local/bin/e2e-server 8080
PublishPort=127.0.0.1:18090:8080

[Install]
WantedBy=default.target
EOF

# The suite's own part of the provisioning (after tests/e2e/provision.sh's: rootlet, the
# image's tarball, the sources, the network late by 10 s): the registry, and the push of
# the image to it before network-online.target.
cat > "$W/provision.sh" <<'EOF'
# docker-registry as its package installs it (/lib is a link to /usr here: keep it), with
# the user its postinst makes, and a configuration for this test: loopback, no auth.
tar -C "$E2E_W/registry" -cf - . | tar -C "$ROOT" -xf - --keep-directory-symlink
chroot "$ROOT" getent passwd docker-registry >/dev/null ||
    chroot "$ROOT" useradd --system --home-dir /var/lib/docker-registry --shell /usr/sbin/nologin docker-registry
chroot "$ROOT" chown docker-registry: /var/lib/docker-registry
cat > "$ROOT/etc/docker/registry/config.yml" <<'YML'
version: 0.1
log:
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: 127.0.0.1:5000
YML
ln -sf /lib/systemd/system/docker-registry.service "$S/multi-user.target.wants/"
# Before network-online.target: the image is pushed, as root, from a storage of its own.
cat > "$ROOT/usr/local/bin/e2e-push" <<'SH'
#!/bin/sh
set -e
# (a deadline, however slow each curl is)
timeout 120 sh -c 'until curl -s http://127.0.0.1:5000/v2/ >/dev/null; do sleep 0.1; done' ||
    { echo "the registry never answered"; exit 1; }
p() { podman --root /var/tmp/e2e-push --runroot /run/e2e-push --storage-driver vfs "$@"; }
p import /srv/img/server.tar "$1"
p push --tls-verify=false "$1"
SH
chmod 755 "$ROOT/usr/local/bin/e2e-push"
printf '[Unit]\nRequires=docker-registry.service\nAfter=docker-registry.service\nBefore=network-online.target\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/local/bin/e2e-push %s\n[Install]\nWantedBy=network-online.target\n' "$IMAGE" > "$S/e2e-push.service"
ln -sf ../e2e-push.service "$S/network-online.target.wants/"
EOF
export IMAGE

sysprop() { sb exec systemctl show -P "$1" "$2"; }
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
# (no_restart UNIT, for podman 4.3's notify race: tests/e2e/sandbox-lib.sh)
pull_log() { u journalctl --user -u server-image.service --no-pager -o short-monotonic; }
registry_log() { sb exec journalctl -u docker-registry.service --no-pager -o cat; }
# The registry's access log: one line per request. The push (HEAD, PUT) gets no manifest:
# the first GET of it is the pull's, and it came after network-online.target.
GET_MANIFEST='"GET /v2/e2e/server/manifests/1 HTTP/1.1" 200 '
first_get_us() { # monotonic time (us) of the registry's first GET of the manifest
    sb exec journalctl -u docker-registry.service --no-pager -o short-monotonic | grep -F "$GET_MANIFEST" |
        awk -F'[][]' 'NR==1{split($2,t,"."); printf "%d%06d\n", t[1], t[2]}'
}
pulled_from_registry() {
    local t; t=$(first_get_us)
    if [ -n "$t" ] && [ "$t" -ge "$tn" ]; then return 0; fi
    echo "first GET at ${t:-never}, network-online.target at $tn"; return 1
}

echo "== .image pulled from a registry at linger boot, the network 10 s late; Image=X.image runs it"
if e2e_boot image late:10; then
    check "the registry listens on 127.0.0.1:5000 in the sandbox" within 60 eval 'sb exec curl -sS --max-time 5 http://127.0.0.1:5000/v2/ >/dev/null'
    check "the image was pushed to it before network-online.target" within 90 eval '[ "$(sysprop ActiveState e2e-push.service)" = active ]' \
        || sb exec journalctl -u e2e-push.service --no-pager | tail -15
    check "server.service active after linger boot" within 120 is active server.service \
        || { u journalctl --user --no-pager -u server-image.service -u server.service | tail -25; }
    check "server-image.service active (oneshot, RemainAfterExit)" is active server-image.service
    check "its unit pulls with --tls-verify=false and waits for the wait unit" eval 'u systemctl --user cat server-image.service | grep -E "^ExecStart=/usr/bin/podman image pull --tls-verify=false $IMAGE\$" >/dev/null && [ "$(prop After server-image.service | grep -o rootlet-wait-online.service)" = rootlet-wait-online.service ]'
    tn=$(sysprop ActiveEnterTimestampMonotonic network-online.target)
    th=$(sysprop ExecMainStartTimestampMonotonic e2e-online.service)
    tw=$(prop ActiveEnterTimestampMonotonic rootlet-wait-online.service)
    tp=$(prop ExecMainStartTimestampMonotonic server-image.service)
    te=$(prop ExecMainExitTimestampMonotonic server-image.service)
    tc=$(prop ExecMainStartTimestampMonotonic server.service)
    check "network-online.target really was late (held $(( (tn - th) / 1000 )) ms, >= 10 s)" test "$(( tn - th ))" -ge 10000000
    check "the pull started after network-online.target ($(( (tp - tn) / 1000 )) ms after)" test "$tp" -ge "$tn"
    check "and after the wait unit was done ($(( (tp - tw) / 1000 )) ms after)" test "$tp" -ge "$tw"
    echo "MEASURED the pull took $(( (te - tp) / 1000 )) ms"
    check "no failed pull attempt, no restart of the pull unit" eval '[ "$(prop NRestarts server-image.service)" = 0 ] && ! pull_log | grep -E "Failed with result|Error|error" >/dev/null' \
        || pull_log | tail -15
    check "the registry served the pull (its first GET of the manifest, after network-online.target)" pulled_from_registry
    check "the image is in the test user's storage" u podman image exists "$IMAGE"
    check "the container started after the pull finished" test "$tc" -ge "$te"
    check "server.service requires server-image.service" eval '[ "$(prop Requires server.service | grep -o server-image.service)" = server-image.service ]'
    check "the container runs the pulled image" eval '[ "$(u podman container inspect --format "{{.ImageName}}" systemd-server)" = "$IMAGE" ]'
    check "the container answers" within 30 eval 'sb exec curl -sS --http0.9 --max-time 5 http://127.0.0.1:18090/ | grep PEER= >/dev/null'
    check "no restart of server.service" no_restart server.service
    check "no failed user unit" eval '[ -z "$(u systemctl --user list-units --failed --plain --no-legend)" ]'
    check "rootlet check finds the files clean" eval 'out=$(u rootlet check 2>&1) && [ "$out" = "rootlet: 2 unit(s) OK" ] || { echo "$out"; false; }'
    check "rootlet check of the two files by name: clean" eval 'u rootlet check /home/tester/.config/containers/systemd/server.image /home/tester/.config/containers/systemd/server.container >/dev/null'
    # shellcheck disable=SC2034 # read by the check below (eval)
    n0=$(registry_log | grep -cF "$GET_MANIFEST")
    check "systemctl --user restart server-image.service pulls again" eval 'u systemctl --user restart server-image.service && is active server-image.service && [ "$(registry_log | grep -cF "$GET_MANIFEST")" -gt "$n0" ]'
    check "server.service, which requires it, was restarted with it and is active again" within 90 eval 'is active server.service && [ "$(prop ExecMainStartTimestampMonotonic server.service)" -gt "$tc" ]'
    # podman 4.3.1 has no `podman artifact` (5.4.0) nor `--mount type=artifact` (5.5.0):
    # the generator asks the real podman and refuses both, naming the version.
    u sh -c 'printf "[Artifact]\nArtifact=127.0.0.1:5000/e2e/model:1\n" > ~/.config/containers/systemd/model.artifact'
    u sh -c 'printf "[Container]\nImage=server.image\nMount=type=artifact,source=model.artifact,destination=/model\nExec=/bin/sleep 1000\n" > ~/.config/containers/systemd/withmodel.container'
    u systemctl --user daemon-reload
    check ".artifact and an artifact mount on podman 4.3.1: no units" eval '[ "$(prop LoadState model-artifact.service)" = not-found ] && [ "$(prop LoadState withmodel.service)" = not-found ]'
    check "the journal names file:line, the key and the podman needed (5.4.0)" within 10 eval 'sb exec journalctl --no-pager -b | grep "model.artifact:1: .Artifact.: a .artifact file needs podman 5.4.0 or newer (.podman artifact pull.), podman is 4.3.1" >/dev/null'
    check "and for the mount (5.5.0)" within 10 eval 'sb exec journalctl --no-pager -b | grep "withmodel.container:3: Mount: .type=artifact. needs podman 5.5.0 or newer, podman is 4.3.1" >/dev/null'
    check "rootlet check says the same, exit 1" eval 'out=$(u rootlet check 2>&1); [ $? = 1 ] && grep "model.artifact:1: .Artifact.: a .artifact file needs podman 5.4.0" <<<"$out" >/dev/null && grep "withmodel.container:3: Mount: .type=artifact. needs podman 5.5.0" <<<"$out" >/dev/null && grep "podman 4.3.1 is older than rootlet needs for .artifact files (5.4.0 or newer)" <<<"$out" >/dev/null'
    check "server.service and server-image.service unaffected" eval 'is active server.service && is active server-image.service'
fi
e2e_end
