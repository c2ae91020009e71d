#!/bin/bash
# The whole test suite of rootlet: formatting, lints, unit/golden/integration tests and the
# end-to-end suite in a real systemd. On a fresh Debian 12 it installs what it needs (as
# root). Usage: scripts/test.sh   (E2E=0 skips the end-to-end suite, loudly)
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(systemd dbus dbus-user-session podman uidmap slirp4netns busybox-static curl iproute2 util-linux python3 python3-dbus python3-gi time)
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "!! missing packages (${missing[*]}): some tests will skip loudly; run as root to install them" >&2
    fi
fi
command -v cargo >/dev/null || { echo "!! cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }

echo "== cargo build --locked (Cargo.lock is up to date)"
cargo build --locked
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings
echo "== cargo test"
cargo test
echo "== cargo doc --no-deps (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
echo "== differential check against podman 5.4.2's quadlet"
cargo build --release --quiet --bin rootlet
rc=0; python3 scripts/compare-quadlet.py || rc=$?
case $rc in
    0) ;;
    2) echo "!! DIFFERENTIAL CHECK SKIPPED: podman 5.4.2's quadlet could not be fetched" >&2 ;;
    *) echo "!! undocumented differences from quadlet (see above)" >&2; exit 1 ;;
esac
if [ -x tests/e2e/run.sh ] && [ "${E2E:-1}" != 0 ]; then
    echo "== end-to-end suite (real systemd)"
    tests/e2e/run.sh
else
    echo "!! END-TO-END SUITE NOT RUN (E2E=0 or tests/e2e/run.sh missing)" >&2
fi
if [ "$(id -u)" = 0 ] && [ "${E2E:-1}" != 0 ]; then
    echo "== nginx socket-activated into rootless podman in a real systemd"
    scripts/e2e-nginx.sh
    echo "== rootlet install --user in a real systemd"
    scripts/e2e-install-user.sh
    echo "== exact command lines through a real systemd (random Exec=/Environment= values)"
    scripts/check-quoting-systemd.sh 1000
fi
