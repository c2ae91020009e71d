#!/bin/bash
# contrib/packaging/build.sh deb|rpm OUTDIR: builds rootlet's Debian or RPM package from a
# COPY of this tree (the files git tracks or would track: never target/, never .git), so
# that nothing is written into the checkout; everything lands under OUTDIR:
#   deb: OUTDIR/rootlet_<version>_<arch>.deb (+ .changes, .buildinfo), by
#        `dpkg-buildpackage -b -us -uc` in OUTDIR/rootlet-<version>/ with contrib/packaging/debian
#        copied to debian/;
#   rpm: OUTDIR/rpmbuild/RPMS/<arch>/rootlet-<version>-1.<arch>.rpm and the .src.rpm, by
#        `rpmbuild -ba` of contrib/packaging/rootlet.spec with OUTDIR/rootlet-<version>.tar.gz.
# The test suite (DEB_BUILD_OPTIONS=nocheck, rpmbuild --nocheck) is not run here: it is run
# on its own by scripts/test.sh.
#
# Rust: the machine's own cargo and rustc (rustup's, in ~/.cargo/bin, when they are not in
# PATH), deliberately passed through: PATH, CARGO_HOME and RUSTUP_HOME are exported to the
# package builds. The crates come from cargo's registry cache: `cargo fetch --locked` first
# (offline when the cache has them all, else from the registry), then the package builds run
# with CARGO_NET_OFFLINE=true, so they never reach the network themselves. Nothing is vendored.
# Their cargo output goes to CARGO_TARGET_DIR (default: the checkout's
# target/packages/cargo), which the Makefile's install step follows, so that a second build
# of either package reuses the compiled crates.
#
# Build dependencies: dpkg-checkbuilddeps is run, and the only unmet ones allowed are
# Debian's cargo and rustc, when the toolchain in PATH is at least Cargo.toml's rust-version
# (Debian 12's own rustc, 1.63, is too old); then dpkg-buildpackage runs with -d. rpmbuild
# runs with --nodeps (on Debian its package database is empty: BuildRequires cannot be
# satisfied by name); the same tools are checked by hand instead.
set -euo pipefail
what=${1:-}; out=${2:-}
case $what in deb|rpm) ;; *) echo "usage: $0 deb|rpm OUTDIR" >&2; exit 2 ;; esac
[ -n "$out" ] || { echo "usage: $0 deb|rpm OUTDIR" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"; out=$(cd "$out" && pwd)
say() { echo "[build.sh $what] $*" >&2; }

# --- the Rust toolchain, passed through on purpose
if ! command -v cargo >/dev/null && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
    PATH=${HOME:-/root}/.cargo/bin:$PATH
fi
command -v cargo >/dev/null || { say "no cargo in PATH nor in ~/.cargo/bin: install a Rust toolchain"; exit 1; }
cargo_dir=$(dirname "$(command -v cargo)")
export PATH="$cargo_dir:$PATH"
export CARGO_HOME=${CARGO_HOME:-${HOME:-/root}/.cargo}
[ -z "${RUSTUP_HOME:-}" ] && [ -d "${HOME:-/root}/.rustup" ] && export RUSTUP_HOME=${HOME:-/root}/.rustup
want_rust=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)
have_rust=$(rustc --version | awk '{print $2}')
if [ -n "$want_rust" ] && ! dpkg --compare-versions "$have_rust" ge "$want_rust"; then
    say "rustc $have_rust in PATH is older than Cargo.toml's rust-version $want_rust"; exit 1
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target/packages/cargo}
if ! cargo fetch --locked --offline --manifest-path "$REPO/Cargo.toml" >/dev/null 2>&1; then
    say "crates missing from cargo's cache: cargo fetch --locked (from the registry)"
    cargo fetch --locked --manifest-path "$REPO/Cargo.toml" >&2
fi
export CARGO_NET_OFFLINE=true

# --- the copy of the tree
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)
src=$out/rootlet-$version
rm -rf "$src"; mkdir -p "$src"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$REPO" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [ -e "$REPO/$f" ] && printf '%s\0' "$f"; done \
        | tar -C "$REPO" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$REPO" --exclude=./target --exclude=./.git --exclude=./fuzz/target -cf - . | tar -C "$src" -xf -
fi

case $what in
deb)
    cp -a "$src/contrib/packaging/debian" "$src/debian"
    deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
    [ "${deb_version%-*}" = "$version" ] || { say "debian/changelog says $deb_version, Cargo.toml $version"; exit 1; }
    unmet=$(cd "$src" && dpkg-checkbuilddeps 2>&1) || true
    if [ -n "$unmet" ]; then
        deps=$(sed -n 's/.*Unmet build dependencies: //p' <<<"$unmet")
        [ -n "$deps" ] || { say "dpkg-checkbuilddeps: $unmet"; exit 1; }
        rest=$(tr ' ' '\n' <<<"$deps" | grep -Ev '^(cargo|rustc)$|^\(|^[0-9.]+\)$|^$' || true)
        if [ -n "$rest" ]; then say "unmet build dependencies: $deps"; exit 1; fi
        say "Debian's cargo/rustc not installed ($deps): using $(rustc --version) from $cargo_dir (-d)"
    fi
    rm -f "$out"/rootlet_"$version"-*
    (cd "$src" && DEB_BUILD_OPTIONS="nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
        dpkg-buildpackage -b -us -uc -d) >&2
    ls "$out"/rootlet_"$version"-*.deb
    ;;
rpm)
    for t in make pkg-config; do command -v $t >/dev/null || { say "no $t"; exit 1; }; done
    pkg-config --exists systemd || { say "no systemd.pc (pkgconfig(systemd))"; exit 1; }
    tar -C "$out" --owner=0 --group=0 -czf "$out/rootlet-$version.tar.gz" "rootlet-$version"
    top=$out/rpmbuild
    rm -rf "$top"; mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
    cp "$out/rootlet-$version.tar.gz" "$top/SOURCES/"
    cp "$src/contrib/packaging/rootlet.spec" "$top/SPECS/"
    rpmbuild --define "_topdir $top" --nodeps --nocheck -ba "$top/SPECS/rootlet.spec" >&2
    find "$top/RPMS" "$top/SRPMS" -name '*.rpm' | sort
    ;;
esac
