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
cargo test
echo "== cargo doc --no-deps (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
if [ "$(id -u)" = 0 ]; then
    echo "== packages: .deb (lintian) and RPM built from a copy, file lists against make install"
    scripts/test-packages.sh
fi
echo "== differential check against podman 5.8.x's quadlet"
cargo build --release --quiet --bin rootlet
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
    cargo build --release --quiet --bins --example quoting-cases
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
    echo "== cargo test from the copy (no test may depend on the checkout's path): $copy"
    # (the original's target directory: only rootlet itself is built again)
    top=$PWD
    (cd "$copy" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$top/target}" cargo test -q --test it -- golden:: generator_cli:: bad_inputs:: 2>&1 | grep -E '^test result|FAILED|panicked')
    echo "== end-to-end suites from a copy of the tree: $copy"
    # A suite that cannot run fails here instead of skipping: this is the test command.
    export E2E_REQUIRE=1
    failed=()
    # The suites, one a line: a file of tests/e2e/ and its arguments (the file's header says
    # what it proves). Lines are independent: add a suite with one line.
    e2e_suites='
run.sh
nginx.sh
socket.sh
reverse-proxy.sh
socket-pod.sh
install-user.sh
quoting.sh 1000
restart.sh
day2.sh
deb.sh
image.sh
docker.sh
build.sh
pod.sh
kube.sh
health.sh
reboot.sh
examples.sh
readme.sh
'
    # deb.sh installs the .deb that scripts/test-packages.sh built
    ROOTLET_DEB="$(ls "$PWD"/target/packages/test/rootlet_*.deb 2>/dev/null | head -1)"
    export ROOTLET_DEB
    while read -r name args; do
        [ -n "$name" ] || continue
        echo "== tests/e2e/$name $args"
        # shellcheck disable=SC2086 # the arguments are words
        "$copy/tests/e2e/$name" $args </dev/null || failed+=("$name")
    done <<<"$e2e_suites"
    if [ ${#failed[@]} -gt 0 ]; then
        printf '!! end-to-end suite failed: %s\n' "${failed[@]}" >&2
        exit 1
    fi
fi
echo "== all tests passed"
