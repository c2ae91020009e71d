#!/bin/bash
# The whole test suite of rootlet: formatting, lints, unit/golden/integration tests and the
# end-to-end suite in a real systemd. On a fresh Debian 12 it installs what it needs (as
# root). Usage: scripts/test.sh   (E2E=0 skips the end-to-end suites, loudly; as root they run
# from a copy of the tree, see below)
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(systemd dbus dbus-user-session podman uidmap slirp4netns busybox-static curl iproute2 util-linux python3 python3-dbus python3-gi time gcc libc6-dev make strace git)
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
# As root every prerequisite of the Rust tests is installed above, so a test that would
# skip (util::skip: no dbus-daemon, strace, systemd-analyze, root, podman's own cases...)
# fails instead, as E2E_REQUIRE=1 does for the end-to-end suites below.
if [ "$(id -u)" = 0 ]; then
    export ROOTLET_REQUIRE_ALL=1
    # podman's own quadlet cases (tests/it/upstream.rs) are read from ../shared/reference/
    # when they are there, else fetched once into /var/cache/peers/ (never into the
    # repository): podman's test/e2e/quadlet* at each version the test measures.
    # When they can be had neither way (a bare clone with no network), VAR_ABSENT=1 lets
    # exactly those tests say NOT RUN and pass; never when ../shared has them.
    upstream_cases() {  # VAR DIR COMMIT
        local var=$1 dir=$2 commit=$3 c=/var/cache/peers/podman-quadlet-$2
        unset "${var}_ABSENT"
        if [ -n "${!var:-}" ] || [ -d "../shared/reference/quadlet/$dir" ]; then return 0; fi
        if [ ! -f "$c/test/e2e/quadlet_test.go" ]; then
            echo "== fetching podman's quadlet test cases ($dir) into $c"
            # (set -e does not hold in a function called with ||: each step is chained)
            rm -rf "$c.tmp" && mkdir -p "$c.tmp" &&
                git -C "$c.tmp" init -q &&
                git -C "$c.tmp" remote add origin https://github.com/containers/podman.git &&
                git -C "$c.tmp" sparse-checkout set --no-cone /test/e2e/quadlet/ /test/e2e/quadlet_test.go &&
                git -C "$c.tmp" fetch -q --depth 1 origin "$commit" &&
                git -C "$c.tmp" checkout -q FETCH_HEAD &&
                rm -rf "$c" && mv "$c.tmp" "$c" || { rm -rf "$c.tmp"; return 1; }
        fi
        export "$var=$c"
    }
    upstream_cases ROOTLET_UPSTREAM upstream-v5.8.2 v5.8.2 || {
        export ROOTLET_UPSTREAM_ABSENT=1
        echo "!! NOT RUN: podman v5.8.2's quadlet cases are not in ../shared and could not be fetched: tests/it/upstream.rs skips them" >&2
    }
    upstream_cases ROOTLET_UPSTREAM_MAIN upstream-main-2026-05-19 c6580b4a5219c9efb9ab79a540637d8a58b736f8 || {
        export ROOTLET_UPSTREAM_MAIN_ABSENT=1
        echo "!! NOT RUN: podman main's quadlet cases are not in ../shared and could not be fetched: tests/it/upstream.rs skips them" >&2
    }
fi
echo "== cargo test"
# tests/it/podman43.rs gives every command line rootlet writes to the real podman 4.3.1, one
# after the other: the longest test by far, and it came last in the order, with one core
# idle beside it. It runs in a process of its own (the test binaries are built first), beside
# the other tests; its output follows theirs.
cargo test --no-run --quiet
p43=$(mktemp -t rootlet-podman43.XXXXXX)
# (in a subshell: a plain `cmd &` of a non-interactive bash would run with SIGINT and SIGQUIT
# ignored, and the tests' children would inherit that)
(cargo test --quiet --test it -- podman43:: >"$p43" 2>&1) &
p43_pid=$!
rc=0; cargo test -- --skip podman43:: || rc=$?
rc43=0; wait "$p43_pid" || rc43=$?
echo "== cargo test --test it -- podman43::"; cat "$p43"; rm -f "$p43"
[ "$rc" = 0 ] && [ "$rc43" = 0 ] || { echo "!! cargo test failed" >&2; exit 1; }
echo "== cargo doc --no-deps (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
# The release build, once: what the differential check, the package builds and the
# end-to-end suites run.
echo "== cargo build --release --bins --example quoting-cases"
cargo build --release --quiet --bins --example quoting-cases
if [ "$(id -u)" = 0 ]; then
    echo "== packages: .deb (lintian) and RPM built from a copy, file lists against make install"
    # In this target directory the package builds find the crates and rootlet compiled by
    # the release build above (cargo's fingerprints: the copy has the same files, mtimes
    # kept), instead of a third release build of their own: the packaging (debian/rules,
    # the spec, make install) is what they prove, and it runs all the same.
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} scripts/test-packages.sh
fi
echo "== differential check against podman 5.8.x's quadlet"
rc=0; python3 scripts/compare-quadlet.py --rootlet "${CARGO_TARGET_DIR:-target}/release/rootlet" || rc=$?
case $rc in
    0) ;;
    2) echo "!! DIFFERENTIAL CHECK SKIPPED: podman 5.8.x's quadlet could not be fetched" >&2 ;;
    *) echo "!! undocumented differences from quadlet (see above)" >&2; exit 1 ;;
esac
# The end-to-end suites boot a real systemd in a sandbox (tests/e2e/sandbox.sh) and need
# root. They run from a COPY of the working tree at a path with a space in it, under a
# 0700 directory from mktemp -d: that proves on every run that no suite depends on where
# the checkout lives or on its permissions (the sandbox's unprivileged test user cannot
# even enter the copy; whatever it needs is installed into the sandbox's root). The copy
# takes target/release along, mtimes kept, so cargo finds it built: no second build.
if [ "${E2E:-1}" = 0 ]; then
    echo "!! END-TO-END SUITES NOT RUN (E2E=0)" >&2
elif [ "$(id -u)" != 0 ]; then
    echo "!! END-TO-END SUITES NOT RUN: they need root (run scripts/test.sh as root)" >&2
else
    parent=$(mktemp -d -t rootlet-test.XXXXXX)          # mode 0700
    trap 'rm -rf "$parent"' EXIT
    copy="$parent/rootlet checkout"
    mkdir "$copy"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # tracked and untracked files (uncommitted work included), not ignored ones
        git ls-files -z -c -o --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$copy" -xf -
    else
        tar --exclude=./target -cf - . | tar -C "$copy" -xf -
    fi
    if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d target/release ]; then
        mkdir "$copy/target"; cp -a target/release "$copy/target/release"
    fi
    [ "$(stat -c %a "$parent")" = 700 ] || { echo "!! $parent is not 0700" >&2; exit 1; }
    # cargo test from the copy (no test may depend on the checkout's path), in the
    # original's target directory: only rootlet itself is built again. It compiles while the
    # end-to-end suites below mostly wait on their sandboxes: it runs beside them, and its
    # output is printed after theirs.
    top=$PWD
    ( set +e
      (cd "$copy" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$top/target}" cargo test -q --test it -- golden:: generator_cli:: bad_inputs:: 2>&1 | grep -E '^test result|FAILED|panicked')
      echo $? >"$parent/copy-test.rc" ) >"$parent/copy-test.log" 2>&1 &
    echo "== end-to-end suites from a copy of the tree: $copy"
    # A suite that cannot run fails here instead of skipping: this is the test command.
    export E2E_REQUIRE=1
    failed=()
    # The suites, one a line: a file of tests/e2e/ and its arguments (the file's header says
    # what it proves). Lines are independent: add a suite with one line. They run E2E_JOBS at
    # a time (default 3; E2E_JOBS=1: one after the other), each in sandboxes of its own
    # names (tests/e2e/sandbox-lib.sh), started in this order: the longest first (as measured
    # one after the other: health 360 s, restart 260 s, docker 220 s, run 125 s, the others
    # 5-60 s), so that the lanes end together. A suite mostly waits on its sandbox (boots,
    # timers, podman), and every timed check keeps a margin wide enough for a loaded machine.
    e2e_suites='
health.sh
restart.sh
docker.sh
run.sh
reverse-proxy.sh
socket-pod.sh
socket.sh
examples.sh
build.sh
pod.sh
kube.sh
quoting.sh 1000
deb.sh
image.sh
readme.sh
reboot.sh
day2.sh
nginx.sh
install-user.sh
'
    # Whatever a suite would install (need_e2e), installed once before they start: apt-get
    # and dpkg take one lock, which concurrent suites would fight over.
    e2e_pkgs=(podman uidmap slirp4netns catatonit busybox-static curl iproute2 dbus-user-session gcc libc6-dev make dpkg-dev debhelper pkgconf git iptables)
    missing=()
    for p in "${e2e_pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # deb.sh installs the .deb that scripts/test-packages.sh built
    ROOTLET_DEB="$(ls "$PWD"/target/packages/test/rootlet_*.deb 2>/dev/null | head -1)"
    export ROOTLET_DEB
    e2e_out=$parent/e2e-out                              # a suite's output: e2e-out/N.log
    mkdir "$e2e_out"
    names=(); argss=()
    while read -r name args; do
        [ -n "$name" ] || continue
        names+=("$name"); argss+=("$args")
    done <<<"$e2e_suites"
    # Each suite's output is kept whole and printed in the list's order, as soon as it and
    # every suite above it have ended; its status is in N.rc.
    shown=0
    show_done() {
        while [ "$shown" -lt ${#names[@]} ] && [ -e "$e2e_out/$shown.rc" ]; do
            echo "== tests/e2e/${names[$shown]} ${argss[$shown]}"
            cat "$e2e_out/$shown.log"
            rc=$(cat "$e2e_out/$shown.rc")
            printf '   (tests/e2e/%s: %ss, status %s)\n' "${names[$shown]}" "$(cat "$e2e_out/$shown.secs")" "$rc"
            [ "$rc" = 0 ] || failed+=("${names[$shown]}")
            shown=$((shown+1))
        done
    }
    # running: the suites started and not ended (a suite's N.rc is written as it ends).
    # `wait -n` only wakes this loop: the copy's cargo test above is a child too.
    running() { local i c=0; for ((i = 0; i < n; i++)); do [ -e "$e2e_out/$i.rc" ] || c=$((c+1)); done; echo "$c"; }
    for ((n = 0; n < ${#names[@]}; n++)); do
        while [ "$(running)" -ge "${E2E_JOBS:-3}" ]; do
            w=0; wait -n || w=$?; [ "$w" != 127 ] || break; show_done
        done
        (
            t0=$EPOCHREALTIME rc=0
            # shellcheck disable=SC2086 # the arguments are words
            "$copy/tests/e2e/${names[$n]}" ${argss[$n]} </dev/null >"$e2e_out/$n.log" 2>&1 || rc=$?
            awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}' >"$e2e_out/$n.secs"
            echo "$rc" >"$e2e_out/$n.rc"
        ) &
    done
    wait
    show_done
    echo "== cargo test from the copy (no test may depend on the checkout's path): $copy"
    cat "$parent/copy-test.log"
    [ "$(cat "$parent/copy-test.rc" 2>/dev/null)" = 0 ] || failed+=("cargo test from the copy")
    if [ ${#failed[@]} -gt 0 ]; then
        printf '!! failed: %s\n' "${failed[@]}" >&2
        exit 1
    fi
fi
echo "== all tests passed"
