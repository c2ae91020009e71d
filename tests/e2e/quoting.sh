#!/bin/bash
# Exact command lines, checked by a real systemd: COUNT source files with random Exec= and
# Environment= values (examples/quoting-cases.rs) go through rootlet's generator (with
# PODMAN pointing at an argv recorder), a real systemd 252 user manager in the e2e sandbox
# loads and runs every unit, and the argv each program received is compared with what the
# source file meant. Needs root. Usage: tests/e2e/quoting.sh [COUNT] [SEED]
# The recorder and the units are installed into the sandbox's root (see tests/e2e/sandbox-lib.sh).
# Every unit is a count: `N passed` is the units whose argv was exact.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
COUNT=${1:-2000}; SEED=${2:-$RANDOM}
. tests/e2e/sandbox-lib.sh
e2e_start quoting "${E2E_PODMAN_PKGS[@]}"
cargo build --release -q --example quoting-cases || exit 1
"${CARGO_TARGET_DIR:-target}"/release/examples/quoting-cases "$W/cases" "$COUNT" "$SEED" || exit 1
PODMAN=/usr/local/bin/argv-record XDG_CONFIG_HOME=$W/none \
    "${CARGO_TARGET_DIR:-target}"/release/rootlet generate --output "$W/units" "$W/cases/src" || exit 1
cat > "$W/argv-record.c" <<'EOF2'
#include <stdio.h>
#include <string.h>
/* Records the argv of `podman run --name NAME ...` as hex words, one a line. */
int main(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], "--name")) name = argv[i + 1];
    if (!name || strchr(name, '/')) return 0;
    char p[512]; snprintf(p, sizeof p, "/run/qc/%s", name);
    FILE *f = fopen(p, "w"); if (!f) return 1;
    for (int i = 1; i < argc; i++) {
        for (unsigned char *c = (unsigned char *)argv[i]; *c; c++) fprintf(f, "%02x", *c);
        fputc('\n', f);
    }
    return fclose(f) ? 1 : 0;
}
EOF2
gcc -O2 -o "$W/argv-record" "$W/argv-record.c" || exit 1
# The suite's own part of the provisioning: the recorder where the units' PODMAN= points,
# and the units as every user's (the generator's output, made on this side: rootlet is
# not installed in the sandbox, E2E_ROOTLET=none). No network: nothing here needs one.
cat > "$W/provision.sh" <<'EOF2'
install -m755 "$E2E_W/argv-record" "$ROOT/usr/local/bin/argv-record"
cp "$E2E_W"/units/*.service "$ROOT/etc/systemd/user/"
EOF2
E2E_ROOTLET=none e2e_boot quoting none || { echo "$PASS passed, $FAIL failed"; exit 1; }
sb exec install -d -m1777 /run/qc
units=$(cd "$W/units" && ls *.service)
# shellcheck disable=SC2086
timeout 600 "$SANDBOX" user systemctl --user start $units </dev/null 2>"$W/start.err" || true
mkdir -p "$W/out"
sb exec tar -C /run/qc -cf - . | tar -xf - -C "$W/out"
python3 - "$W" "$COUNT" "$SEED" > "$W/result" <<'PY'
import os, sys
w, count, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bad = []
for name in sorted(os.listdir(os.path.join(w, "cases/expected"))):
    exp = open(os.path.join(w, "cases/expected", name)).read().split("\n")
    cut = exp.index("--")
    want_argv, want_env = exp[:cut], exp[cut + 1]
    p = os.path.join(w, "out", "systemd-" + name)
    if not os.path.exists(p):
        bad.append((name, "did not run (refused by systemd?)"))
        continue
    got = open(p).read().split("\n")[:-1]
    img = got.index("696d67")  # "img"
    env_i = got.index("2d2d656e76")  # "--env"
    if got[img + 1:] != want_argv or got[env_i + 1] != want_env:
        bad.append((name, f"argv {got[img+1:]} env {got[env_i+1]} != {want_argv} {want_env}"))
print(f"exact command lines in systemd 252: {count} units (seed {seed}), {count - len(bad)} identical, {len(bad)} mismatches")
for n, why in bad[:20]:
    print(f"  {n}: {why}")
print(f"{count - len(bad)} {len(bad)}")
PY
# (its last line: the counts, added to this suite's)
sed '$d' "$W/result"
read -r good bad < <(tail -1 "$W/result")
PASS=$((PASS + ${good:-0})); FAIL=$((FAIL + ${bad:-0}))
[ -n "${good:-}" ] || { FAIL=$((FAIL+1)); echo "FAIL comparing the argv recorded: no result"; }
e2e_end
