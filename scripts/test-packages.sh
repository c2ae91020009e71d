#!/bin/bash
# scripts/test-packages.sh: proves rootlet's packages.
#   - builds the .deb with dpkg-buildpackage (binary-only, unsigned) and the RPM (and the
#     source RPM) with rpmbuild from contrib/packaging/rootlet.spec, each from a copy of the
#     tree (contrib/packaging/build.sh; products only under target/packages/);
#   - lintian on the .deb and its .changes: no error and no warning that is not overridden
#     (contrib/packaging/debian/rootlet.lintian-overrides says why for each);
#   - the file list (paths and modes) of each package against `make install DESTDIR=
#     PREFIX=/usr`'s: the same, except for the differences documented in ALLOWED below;
#   - the unit templates filled (@bindir@) by make install for PREFIX=/usr, /usr/local and
#     a BINDIR= of its own, and in both packages;
#   - the NixOS module and package.nix parse (nix-instantiate --parse, Debian's nix-bin); not
#     evaluated: that needs nixpkgs, which no package here has.
# Run as root on Debian 12: installs what it needs with apt-get (dpkg-dev debhelper lintian
# rpm nix-bin ...); skips LOUDLY, saying why, only what cannot be had. The Rust build uses the
# machine's cargo and its registry cache, offline (see contrib/packaging/build.sh).
# Prints PASS/FAIL per check and `N passed, N failed[, N skipped]` at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
T0=$EPOCHREALTIME
PASS=0; FAIL=0; SKIP=0
check() { local name=$1; shift; local t0=$EPOCHREALTIME out
    if out=$("$@" 2>&1); then PASS=$((PASS+1)); printf 'PASS %s (%.1fs)\n' "$name" "$(awk "BEGIN{print $EPOCHREALTIME-$t0}")"
    else FAIL=$((FAIL+1)); printf 'FAIL %s:\n%s\n' "$name" "$out"; return 1; fi; }
skip() { SKIP=$((SKIP+1)); echo "!! SKIPPED LOUDLY: $*"; }
finish() {
    printf 'test-packages: %.1fs\n' "$(awk "BEGIN{print $EPOCHREALTIME-$T0}")"
    if [ "$SKIP" -gt 0 ]; then echo "$PASS passed, $FAIL failed, $SKIP skipped"; else echo "$PASS passed, $FAIL failed"; fi
    [ "$FAIL" = 0 ]; exit
}

# --- tools (package -> command)
declare -A tool=([dpkg-dev]=dpkg-buildpackage [debhelper]=dh [lintian]=lintian [rpm]=rpmbuild
                 [rpm2cpio]=rpm2cpio [cpio]=cpio [make]=make [pkgconf]=pkg-config [git]=git
                 [nix-bin]=nix-instantiate)
missing=()
for p in "${!tool[@]}"; do command -v "${tool[$p]}" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq >/dev/null 2>&1
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
            for p in "${missing[@]}"; do       # one at a time: one missing package costs only itself
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
                    || echo "!! apt-get install $p failed: what needs it is skipped below"
            done
        fi
    else
        echo "!! missing ${missing[*]} and not root (or no apt-get): what needs them is skipped below"
    fi
fi
have() { local p; for p; do command -v "${tool[$p]}" >/dev/null || return 1; done; }

W=$REPO/target/packages/test
tree_state() { git status --porcelain --ignored --untracked-files=all 2>/dev/null | grep -Ev '^.. "?target/' || true; }
before=$(tree_state)
rm -rf "$W"; mkdir -p "$W"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target/packages/cargo}
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)

# --- file lists: "perms path" of every non-directory
list_dir() { (cd "$1" && find . ! -type d -printf '%M /%P\n' | LC_ALL=C sort -k2); }
list_deb() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {p=$6; sub(/^\./, "", p); print $1, p}' | LC_ALL=C sort -k2; }
list_rpm() { rpm -qp --nodigest --nosignature --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$1" | awk '$1 !~ /^d/' | LC_ALL=C sort -k2; }
# ALLOWED: where a package's file list may differ from make install's, and why.
#  - man pages compressed (.gz): dh_compress does it for Debian (policy 12.1), brp-compress
#    on Fedora; make install leaves that to the packager.
#  - /usr/share/doc/rootlet*/ and /usr/share/licenses/rootlet*/: README, examples, licenses,
#    Debian's changelog and copyright: documentation a package carries, not make install.
#  - /usr/share/lintian/overrides/rootlet (.deb): the lintian overrides, reasons inside.
#  - /usr/lib/.build-id/ (.rpm): the links rpmbuild adds for every ELF binary it packages.
#  - /usr/share/zsh/vendor-completions/_rootlet (.deb) for make install's
#    /usr/share/zsh/site-functions/_rootlet: Debian's zsh looks for packaged completions in
#    vendor-completions (site-functions under /usr is not in its fpath); debian/rules says
#    ZSHCOMPDIR= for that.
normalize() {
    sed -E -e 's#^(\S+ /usr/share/man/.*)\.gz$#\1#' \
           -e '\# /usr/share/(doc|licenses)/rootlet[^/]*/#d' \
           -e '\# /usr/share/lintian/overrides/rootlet$#d' \
           -e '\# /usr/lib/\.build-id/#d' \
           -e 's# /usr/share/zsh/vendor-completions/_rootlet$# /usr/share/zsh/site-functions/_rootlet#' | LC_ALL=C sort -k2
}
same_files() { # same_files WHAT LIST: LIST (normalized) equals make install's
    local d; d=$(diff -u "$W/make-usr.list" <(normalize <"$2") --label "make install PREFIX=/usr" --label "$1") && return 0
    echo "$d"; return 1
}
# units_filled DIR BINDIR: the units in DIR have no @...@ left and run BINDIR's programs
units_filled() {
    local d=$1 b=$2 f
    [ -f "$d/rootlet-wait-online.service" ] || { echo "no $d/rootlet-wait-online.service"; return 1; }
    for f in "$d"/*; do
        if grep -n '@[a-z_]*@' "$f"; then echo "^ $f: a template variable is left"; return 1; fi
    done
    grep -qx "ExecStart=$b/rootlet-wait-online --timeout=90s" "$d/rootlet-wait-online.service" \
        || { grep -H ExecStart "$d/rootlet-wait-online.service"; return 1; }
    grep -qx "ExecStart=$b/rootlet regenerate" "$d/rootlet-regenerate.service" \
        || { grep -H ExecStart "$d/rootlet-regenerate.service"; return 1; }
}

# --- the .deb
echo "== .deb: dpkg-buildpackage -b -us -uc from a copy of the tree"
deb=
if ! have dpkg-dev debhelper make pkgconf git; then
    skip ".deb not built: dpkg-dev, debhelper, make, pkgconf or git missing and not installable"
elif check "dpkg-buildpackage -b -us -uc builds the .deb (log: $W/deb.log)" \
        sh -c "contrib/packaging/build.sh deb '$W' >'$W/deb.log' 2>&1 || { tail -40 '$W/deb.log'; exit 1; }"; then
    deb=$(ls "$W"/rootlet_"$version"-*.deb)
    echo "   $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB; $(grep -m1 "using rustc" "$W/deb.log" | sed 's/^\[build.sh deb\] //')"
fi

# --- make install, from the same copy and the same cargo output
echo "== make install DESTDIR= (PREFIX=/usr, /usr/local, BINDIR=/opt/rootlet/bin)"
src=$W/rootlet-$version
if [ -d "$src" ] && have make && [ -x "$CARGO_TARGET_DIR/release/rootlet" ]; then
    check "make install PREFIX=/usr DESTDIR= (binaries from CARGO_TARGET_DIR)" \
        make -s -C "$src" install DESTDIR="$W/make-usr" PREFIX=/usr
    list_dir "$W/make-usr" > "$W/make-usr.list"
    check "make install PREFIX=/usr/local DESTDIR=" make -s -C "$src" install DESTDIR="$W/make-local" PREFIX=/usr/local
    check "make install BINDIR=/opt/rootlet/bin DESTDIR=" make -s -C "$src" install DESTDIR="$W/make-opt" BINDIR=/opt/rootlet/bin
    check "make install PREFIX=/usr: units filled, ExecStart=/usr/bin/..." units_filled "$W/make-usr/usr/lib/systemd/user" /usr/bin
    check "make install PREFIX=/usr/local: units filled, ExecStart=/usr/local/bin/..." units_filled "$W/make-local/usr/local/lib/systemd/user" /usr/local/bin
    check "make install BINDIR=/opt/rootlet/bin: units filled with that BINDIR" units_filled "$W/make-opt/usr/local/lib/systemd/user" /opt/rootlet/bin
    check "make uninstall PREFIX=/usr leaves no file" sh -c "make -s -C '$src' uninstall DESTDIR='$W/make-usr2' PREFIX=/usr >/dev/null; \
        make -s -C '$src' install DESTDIR='$W/make-usr2' PREFIX=/usr >/dev/null && make -s -C '$src' uninstall DESTDIR='$W/make-usr2' PREFIX=/usr && \
        ! find '$W/make-usr2' ! -type d | grep ."
else
    skip "make install not checked: no tree copy or no build (see the .deb build above)"
fi

if [ -n "$deb" ] && [ -s "$W/make-usr.list" ]; then
    list_deb "$deb" > "$W/deb.list"
    check ".deb file list (paths, modes) = make install's, documented differences aside" same_files ".deb" "$W/deb.list"
    check ".deb: owner root/root everywhere" sh -c "! dpkg-deb -c '$deb' | awk '\$2 != \"root/root\"' | grep ."
    mkdir -p "$W/deb-x"; dpkg-deb -x "$deb" "$W/deb-x"
    check ".deb: units filled, ExecStart=/usr/bin/..." units_filled "$W/deb-x/usr/lib/systemd/user" /usr/bin
    check ".deb: Depends on systemd and libc; no maintainer script enables a unit" sh -c "
        dpkg-deb -f '$deb' Depends | grep -q 'systemd' && dpkg-deb -f '$deb' Depends | grep -q 'libc6' &&
        ! dpkg-deb -I '$deb' | grep -Eq ' (postinst|prerm|postrm|preinst) '"
fi
if [ -n "$deb" ]; then
    if have lintian; then
        changes=${deb%.deb}.changes
        # Shown with the info tags and the overrides (their reasons); judged without them
        # (lintian 2.116 counts a shown override as a failure for --fail-on).
        lintian --fail-on none -I --show-overrides "$changes" > "$W/lintian.log" 2>&1
        lintian --fail-on error,warning "$changes" > "$W/lintian-verdict.log" 2>&1; rc=$?
        [ "$rc" = 0 ] || sed 's/^/   verdict: /' "$W/lintian-verdict.log"
        grep -v 'running with root privileges' "$W/lintian.log" | sed 's/^/   /'
        summary=$(awk '$1 ~ /^[EWIPXO]:$/ {print $1}' "$W/lintian.log" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}')
        check "lintian $(basename "$changes"): no error, no warning not overridden (${summary:-nothing})" test "$rc" = 0
        check "lintian: every override has a reason (a comment above it)" \
            awk '/^#/ {c=1; next} /^[^#[:space:]]/ {if (!c) {print "no reason for: " $0; bad=1}; c=0} END {exit bad}' \
            contrib/packaging/debian/rootlet.lintian-overrides
    else
        skip "lintian missing and not installable: the .deb is not checked by lintian"
    fi
fi

# --- the RPM
echo "== RPM: rpmbuild -ba contrib/packaging/rootlet.spec"
rpm=
if ! have rpm rpm2cpio cpio make pkgconf git; then
    skip "RPM not built: rpm (rpmbuild), rpm2cpio, cpio, make, pkgconf or git missing and not installable"
elif check "rpmbuild -ba builds the RPM and the source RPM (log: $W/rpm.log)" \
        sh -c "contrib/packaging/build.sh rpm '$W' >'$W/rpm.log' 2>&1 || { tail -40 '$W/rpm.log'; exit 1; }"; then
    rpm=$(ls "$W"/rpmbuild/RPMS/*/rootlet-"$version"-*.rpm)
    check "the source RPM carries the spec and the tarball" sh -c \
        "rpm -qlp --nodigest --nosignature '$W'/rpmbuild/SRPMS/rootlet-$version-*.src.rpm | LC_ALL=C sort | tr '\n' ' ' | grep -qx 'rootlet-$version.tar.gz rootlet.spec '"
fi
if [ -n "$rpm" ] && [ -s "$W/make-usr.list" ]; then
    list_rpm "$rpm" > "$W/rpm.list"
    check "RPM file list (paths, modes) = make install's, documented differences aside" same_files "RPM" "$W/rpm.list"
    check "RPM: owner root:root everywhere" sh -c "! rpm -qp --nodigest --nosignature --qf '[%{FILEUSERNAME}:%{FILEGROUPNAME}\n]' '$rpm' | grep -vx root:root"
    mkdir -p "$W/rpm-x"
    (cd "$W/rpm-x" && rpm2cpio "$rpm" | cpio -idm --quiet)
    check "RPM: units filled, ExecStart=/usr/bin/..." units_filled "$W/rpm-x/usr/lib/systemd/user" /usr/bin
    check "RPM: no scriptlet (no unit is enabled globally), Requires podman" sh -c "
        [ -z \"\$(rpm -qp --nodigest --nosignature --scripts '$rpm')\" ] &&
        rpm -qp --nodigest --nosignature --requires '$rpm' | grep -qx podman"
    check "the packaged programs run (rootlet --version from the RPM and the .deb)" sh -c "
        '$W/rpm-x/usr/bin/rootlet' --version && { [ -z '$deb' ] || '$W/deb-x/usr/bin/rootlet' --version; }"
fi
# --- the NixOS module: parsed only (evaluating it needs nixpkgs, which no package here has)
echo "== NixOS module"
if have nix-bin; then
    check "contrib/packaging/nixos/*.nix parse (nix-instantiate --parse; not evaluated: no nixpkgs here)" sh -c '
        for f in contrib/packaging/nixos/*.nix; do NIX_CONFIG="build-users-group =" nix-instantiate --parse "$f" >/dev/null || exit 1; done'
else
    skip "nix-instantiate (nix-bin) missing and not installable: the NixOS module is not even parsed"
fi
unchanged() { local now; now=$(tree_state); [ "$now" = "$before" ] && return 0
              echo "git status before:"; echo "$before"; echo "after:"; echo "$now"; return 1; }
check "nothing written into the checkout outside target/ (git status --ignored)" unchanged
finish
