#!/bin/bash
# The README's Quick start is a test: its ```sh blocks are taken from README.md and run in
# order, as written, in a real systemd 252 (one sandbox, tests/e2e/sandbox-lib.sh) as a new
# user would: the checkout in the user's ~/rootlet, no linger at boot (the Quick start
# turns it on), rootless podman 4.3.1. The line before each block says who runs it:
#   <!-- readme-test: root -->   as root in ~/rootlet (`sudo` is plain root there, $USER
#                                is the user)
#   <!-- readme-test: user -->   as the user in ~/rootlet
#   <!-- readme-test: skip ... -->   not run; it names what proves it instead
# A block fails at its first failing command (bash -e -o pipefail). Then the result is
# checked (the container and the socket-activated pair active and answering, doctor
# without error) and again after a reboot with linger, nobody logged in.
#
# No registry is reachable here: the one image the Quick start names,
# docker.io/library/nginx:stable, is a local stand-in imported under that name before the
# first user block (tests/e2e/journey-lib.sh).
#
#   tests/e2e/readme.sh          (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
. tests/e2e/journey-lib.sh
command -v cargo >/dev/null || skip "no cargo (the Quick start builds with make)"
e2e_start readme "${E2E_PODMAN_PKGS[@]}"

# --- the blocks, from README.md: $W/srv/readme/NN-WHO.sh (/srv/readme in the sandbox)
B=$W/srv/readme
mkdir -p "$B"
python3 - "$REPO/README.md" "$B" <<'PY' || { echo "FAIL the Quick start's blocks could not be read"; echo "0 passed, 1 failed"; exit 1; }
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("\n## Quick start\n")
end = text.index("<!-- readme-test: end -->", start)
lines = text[start:end].split("\n")
n, marker, i = 0, None, 0
while i < len(lines):
    line = lines[i]
    m = re.match(r"<!-- readme-test: (root|user|skip)\b", line)
    if m:
        marker = m.group(1)
    elif line.startswith("```sh"):
        j = lines.index("```", i + 1)
        if marker is None:
            sys.exit(f"README.md: a ```sh block of the Quick start has no readme-test marker: {lines[i+1]}")
        n += 1
        open(f"{sys.argv[2]}/{n:02d}-{marker}.sh", "w").write("\n".join(lines[i + 1:j]) + "\n")
        marker, i = None, j
    elif line.strip():
        marker = None if not line.startswith("<!--") else marker
    i += 1
if n < 5:
    sys.exit(f"only {n} blocks found in the Quick start")
PY
ls "$B" | sed 's/^/   block /'

# --- the stand-in image
nginx_rootfs "$W/nginx" || skip "no nginx stand-in"
mkdir -p "$W/srv/img" && tar -C "$W/nginx" -cf "$W/srv/img/nginx.tar" . || exit 1

# The suite's own part of the provisioning (tests/e2e/provision.sh, E2E_ROOTLET=none: the
# Quick start installs rootlet itself): the checkout, as the user cloned it into
# ~/rootlet (its files, and the release build with its mtimes, so that the Quick start's
# `make` finds it built).
cat > "$W/provision.sh" <<'EOF'
mkdir -p "$H/rootlet/target"
tar -C "$E2E_REPO" --exclude=./target --exclude=./.git -cf - . | tar -C "$H/rootlet" -xf -
(cd "$E2E_REPO" && cp -a "$E2E_TARGETDIR" "$H/rootlet/target/release")
EOF

echo "== booting $(e2e_name readme) (no linger: the Quick start turns it on)"
# (the machine's network at every boot, the reboot too, pulling network-online.target in
# as a real machine's network manager does: NET=boot)
E2E_ROOTLET=none E2E_LINGER=0 E2E_DISK=1 e2e_boot readme boot || { echo "$PASS passed, $FAIL failed"; exit 1; }

# run_block FILE: one block, as its marker says, stopping at its first failing command.
run_block() {
    local f=$1 who
    who=${f%.sh}; who=${who##*-}
    case $who in
    root) sb exec env USER=tester bash -c 'set -eo pipefail; sudo() { "$@"; }; cd /home/tester/rootlet; . "$1"' sh "/srv/readme/${f##*/}" ;;
    user)
        # (a file, not a variable: `check` runs this in a subshell)
        if [ ! -e "$W/user-ready" ]; then
            # The user's manager runs once the Quick start has turned linger on; the
            # stand-in image goes into the user's storage before the first user block.
            sb wait-user >/dev/null 2>&1 || { echo "the user's manager is not running (linger?)"; return 1; }
            u podman import -q --change "CMD $NGINX_CMD" /srv/img/nginx.tar docker.io/library/nginx:stable >/dev/null || return 1
            touch "$W/user-ready"
        fi
        u bash -c 'set -eo pipefail; cd ~/rootlet; . "$1"' sh "/srv/readme/${f##*/}" ;;
    skip) echo "(not run: its marker names what proves it)" ;;
    esac
}

echo "== the Quick start, block by block"
for f in "$B"/*.sh; do
    b=${f##*/}
    check "block ${b%.sh}: $(head -c 70 "$f" | head -1)" run_block "$f" || {
        echo "   the block:"; sed 's/^/   | /' "$f"; }
done

echo "== the result"
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
get() { sb exec curl -sS --max-time 30 "http://127.0.0.1:$1/"; }
results() {
    check "web.service active, answers on 8080$1" within 60 eval 'is active web.service && get 8080 | grep -q "Welcome to nginx"'
    check "nginx.socket listening, the proxy answers on 8084$1" within 60 eval 'is active nginx.socket && get 8084 | grep -q "Welcome to nginx"'
    check "web.service: no restart$1" no_restart web.service
    check "no failed user unit$1" no_failed_user_units
    check "rootlet doctor: no error$1" u rootlet doctor
}
results ""
echo "== reboot (linger: nobody logs in)"
check "reboot" eval 'sb reboot >"$W/reboot.log" 2>&1 || { tail -3 "$W/reboot.log"; false; }'
check "the user's manager starts by itself (linger)" eval 'sb wait-user >/dev/null 2>&1'
check "nginx.service not started before a connection" eval '! is active nginx.service'
results " (after the reboot)"

e2e_end
