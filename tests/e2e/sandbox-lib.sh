# shellcheck shell=bash
# Sourced (from the repository's top directory) by the scripts that boot a real systemd:
# finds the sandbox, the repository's own tests/e2e/sandbox.sh (SANDBOX= overrides), and
# gives them `sb`, `u`, `prop`, `check`, `within` and `e2e_name`. Sets REPO, PASS and FAIL.
#
# Rules every suite follows, so that it passes from any checkout, run by anyone:
#  - the checkout may live anywhere (a path with spaces, under a 0700 directory, under the
#    host's /tmp, which the sandbox does not see): whatever the sandbox's unprivileged user
#    needs is installed into the sandbox's root while provisioning (E2E_PROVISION, as root)
#    or with `sb put`, never read through the checkout's path. Paths go to provisioning
#    scripts through the environment, never pasted into their text.
#  - several sandboxes may run at once on one machine (other people's too): every sandbox
#    gets a name unique to this run (e2e_name), which keeps its cgroup and state apart.
#  - ports are those of the sandbox's own network namespace: no host port is ever used.
REPO=${REPO:-$PWD}
SANDBOX=${SANDBOX:-$REPO/tests/e2e/sandbox.sh}
export SANDBOX
# This run's prefix for sandbox names: the suite's pid keeps two runs (two people, or two
# checkouts) apart. E2E_RUN= overrides it.
E2E_RUN=${E2E_RUN:-rootlet-$$}
# e2e_name SUFFIX: a sandbox name unique to this run.
e2e_name() { printf '%s-%s' "$E2E_RUN" "$1"; }
# skip WHY: a suite that cannot run says so loudly; under the test command
# (E2E_REQUIRE=1, scripts/test.sh as root) that is a failure, not a pass.
skip() {
    if [ "${E2E_REQUIRE:-0}" = 1 ]; then echo "!! CANNOT RUN (E2E_REQUIRE=1): $*"; echo "0 passed, 1 failed"; exit 1; fi
    echo "!! SKIPPED LOUDLY: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 0
}
need_sandbox() {
    [ -x "$SANDBOX" ] || skip "no sandbox at $SANDBOX"
    [ "$(id -u)" = 0 ] || skip "needs root"
}
# need_e2e PACKAGE...: what every suite needs before it boots a sandbox: user namespaces,
# overlayfs, and these Debian packages (installed when missing; a suite that cannot get
# them skips, or fails under the test command).
need_e2e() {
    [ -e /proc/self/ns/user ] || skip "no user namespaces"
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || grep -qw overlay /proc/filesystems || skip "no overlayfs"
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null \
            || skip "cannot install:$missing"
    fi
}
# Every sandbox command with stdin from /dev/null (a waiting nsenter once kept PID 1 alive),
# and without fd 3 (e2e_start's copy of the suite's stdout: a sandbox booted with it would
# hold the suite's output open as long as it runs, E2E_DEBUG's sandbox after the suite).
sb() { "$SANDBOX" "$@" </dev/null 3>&-; }
u() { sb user "$@"; }
# prop PROPERTY UNIT: a property of a unit of the test user's manager.
prop() { u systemctl --user show -P "$1" "$2"; }
PASS=0; FAIL=0
# check NAME CMD...: one PASS/FAIL line with the time it took. CMD may be a shell function
# or `eval 'shell code'` (which sees this script's functions and variables).
check() { local _c_name=$1; shift; local _c_t0=$EPOCHREALTIME _c_out
    # (underscored locals: `eval` code sees the caller's variables, and must not see these)
    if _c_out=$("$@" 2>&1); then PASS=$((PASS+1)); printf 'PASS %s (%.1fs)\n' "$_c_name" "$(awk -v a="$_c_t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"
    else FAIL=$((FAIL+1)); echo "FAIL $_c_name: $_c_out"; return 1; fi; }
# within SECONDS CMD...: retry CMD (its output hidden) until it succeeds, for SECONDS at
# most (a deadline, not a count of tries: a slow CMD, a `u systemctl` taking a second on a
# loaded machine, does not stretch it), then one last try whose output is shown. Margins
# stay wide (the machine may be compiling on the same cores): a call that passes should
# need at most a third of its SECONDS. E2E_WITHIN_LOG=FILE appends every call's time to
# FILE (seconds taken, status, the suite's line, SECONDS, CMD): the audit of those margins.
within() {
    local _w_s=$1 _w_t0=${EPOCHREALTIME//[!0-9]/} _w_rc; shift
    # (microseconds: EPOCHREALTIME without its decimal separator, whatever the locale's)
    local _w_end=$(( _w_t0 + _w_s * 1000000 ))
    while (( ${EPOCHREALTIME//[!0-9]/} < _w_end )); do
        "$@" >/dev/null 2>&1 && { _within_log 0 "$_w_t0" "$_w_s" "$@"; return 0; }
        sleep 0.1
    done
    "$@"; _w_rc=$?
    _within_log "$_w_rc" "$_w_t0" "$_w_s" "$@"; return "$_w_rc"
}
_within_log() {
    [ -n "${E2E_WITHIN_LOG:-}" ] || return 0
    local d=$(( ${EPOCHREALTIME//[!0-9]/} - $2 )) rc=$1 s=$3 c i=1; shift 3
    c=$*; c=${c//$'\n'/ }
    # (the call's place: the first frame outside this file, check's and within's own)
    while [ "$i" -lt $(( ${#BASH_SOURCE[@]} - 1 )) ] && [ "${BASH_SOURCE[i]}" = "${BASH_SOURCE[0]}" ]; do i=$((i + 1)); done
    printf '%d.%d s, status %s, %s:%s, within %s %.100s\n' $((d / 1000000)) $((d % 1000000 / 100000)) "$rc" \
        "${BASH_SOURCE[i]##*/}" "${BASH_LINENO[i-1]}" "$s" "$c" >> "$E2E_WITHIN_LOG"
}

# e2e_rootfs W: the test server ($W/e2e-server, static) and a busybox rootfs with it for
# the containers ($W/rootfs, owned by root here; suites copy or tar it). Run from the
# checkout's top.
e2e_rootfs() {
    local w=$1 r=$1/rootfs a
    gcc -O2 -static -o "$w/e2e-server" tests/e2e/e2e-server.c || return 1
    mkdir -p "$r"/{bin,usr/local/bin,etc,tmp,proc,sys,dev,run}
    cp /bin/busybox "$r/bin/"; for a in sh ip sleep true false cat echo; do ln -s busybox "$r/bin/$a"; done
    cp "$w/e2e-server" "$r/usr/local/bin/"
    echo 'root:x:0:0:root:/:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
    touch "$r/etc/hosts" "$r/etc/resolv.conf" "$r/etc/hostname"; chmod 1777 "$r/tmp"
}

# no_restart UNIT: the user unit never restarted. systemd 252 may read podman 4.3's
# READY=1 only after podman is gone ("Cannot find unit for notify message of PID N"); the
# start then fails with result 'protocol' and Restart= retries it. That race is podman's
# and systemd's: said loudly on fd 3 (the suite's stdout: `exec 3>&1` before checks), not
# failed; a restart for any other reason fails.
no_restart() {
    local n log failed protocol races
    n=$(prop NRestarts "$1"); [ "$n" = 0 ] && return 0
    log=$(u journalctl --user --no-pager -o cat)
    failed=$(grep -c "^$1: Failed with result " <<<"$log")
    protocol=$(grep -c "^$1: Failed with result 'protocol'" <<<"$log")
    races=$(grep -c '^Cannot find unit for notify message of PID ' <<<"$log")
    if [ "$failed" = "$protocol" ] && [ "$races" -ge "$failed" ] && [ "$n" -le "$failed" ]; then
        echo "!! NOTE: $1 restarted $n time(s), each after podman 4.3's notify race (result 'protocol', 'Cannot find unit for notify message'): not rootlet's" >&3
        return 0
    fi
    echo "NRestarts=$n, failures: $failed, of which 'protocol' with the notify race: $protocol/$races"
    return 1
}

# left_behind: nothing of this run (E2E_RUN) is left: no cgroup, no live sandbox PID 1, no
# mount of its state seen by the host (other runs' sandboxes may be up).
left_behind() {
    local d f e=${E2E:-/var/tmp/rootlet-e2e}
    for d in /sys/fs/cgroup/unified/e2e-"$E2E_RUN"-* /sys/fs/cgroup/e2e-"$E2E_RUN"-*; do
        [ -e "$d" ] && { echo "cgroup $d"; return 1; }
    done
    for f in "$e"/state/"$E2E_RUN"-*/pid1; do
        [ -s "$f" ] && { echo "pid file $f"; return 1; }
    done
    f=$(awk -v p="$e/state/$E2E_RUN-" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo)
    [ -z "$f" ] || { echo "mounted: $f"; return 1; }
}

# What a suite that runs rootless podman in the sandbox needs from Debian (busybox for the
# containers' rootfs, gcc and make for the test server): `e2e_start TAG
# "${E2E_PODMAN_PKGS[@]}" [MORE...]`.
# shellcheck disable=SC2034 # the suites'
E2E_PODMAN_PKGS=(podman uidmap slirp4netns catatonit busybox-static curl iproute2 dbus-user-session gcc libc6-dev make)

# --- the preamble every suite shares
# e2e_start TAG PACKAGE...: from the checkout's top, after sourcing this file: root and the
# sandbox checked, the PACKAGEs there (need_e2e), T0 the suite's start, rootlet's release
# binaries built, W a fresh host-side work directory (read by root only: the provisioning)
# removed at exit with the sandbox shut down (E2E_DEBUG keeps both), the paths the
# provisioning reads exported (E2E_REPO, E2E_W, E2E_TARGETDIR: through its environment,
# never pasted into its text, since they may hold spaces), the test server and the busybox
# rootfs made in $W (e2e_rootfs; R=$W/rootfs), fd 3 the suite's own stdout (for notes from
# inside a check, which captures 1 and 2).
e2e_start() {
    local tag=$1; shift
    need_sandbox
    need_e2e "$@"
    T0=$EPOCHREALTIME
    cargo build --release -q --bins || exit 1
    W=$(mktemp -d -t "rootlet-e2e-$tag.XXXXXX")
    export E2E_REPO=$REPO E2E_W=$W E2E_TARGETDIR=${CARGO_TARGET_DIR:-target}/release
    trap e2e_cleanup EXIT
    e2e_rootfs "$W" || exit 1
    # shellcheck disable=SC2034 # the suites' (see above)
    R=$W/rootfs
    exec 3>&1
}
e2e_cleanup() { [ -n "${E2E_DEBUG:-}" ] && return; [ -n "${E2E_NAME:-}" ] && sb shutdown >/dev/null 2>&1; rm -rf "$W"; }
# e2e_boot NAME NET: a fresh sandbox named for this run (E2E_NAME, exported), provisioned
# by tests/e2e/provision.sh (rootlet installed as E2E_ROOTLET says, the network as NET
# says, the suite's files from $W; see there), its lingering test user's manager started.
# sandbox.sh's own options pass through the environment: `E2E_DISK=1 e2e_boot ...` (a disk
# that survives `sb reboot`); with E2E_LINGER=0 (no linger) it does not wait for the user's
# manager. A boot that fails counts a FAIL (its log's end shown) and returns 1: the suite
# decides whether it goes on.
e2e_boot() {
    E2E_NAME=$(e2e_name "$1"); export E2E_NAME E2E_NET=$2
    if ! E2E_PROVISION=$REPO/tests/e2e/provision.sh sb boot >"$W/boot.log" 2>&1; then
        FAIL=$((FAIL+1)); echo "FAIL $1: boot: $(tail -3 "$W/boot.log")"; return 1
    fi
    [ "${E2E_LINGER:-1}" = 0 ] || sb wait-user >/dev/null 2>&1
    return 0
}
# e2e_end: the end of a suite: its sandbox down (e2e_down), nothing of this run left
# behind (a check), the suite's time and counts; its status is the suite's. (E2E_DEBUG:
# the sandbox and the work directory are left, and said where.)
e2e_end() {
    if [ -n "${E2E_DEBUG:-}" ]; then
        echo "E2E_DEBUG: sandbox ${E2E_NAME:-(none)} left running (E2E_NAME=${E2E_NAME:-} \"$SANDBOX\" shutdown), work dir $W"
    else
        e2e_down
        check "nothing left behind (cgroups, mounts, live sandbox PID 1)" left_behind
    fi
    printf 'whole suite: %.1fs\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]
}
# e2e_down: shut the sandbox of e2e_boot down (left running with E2E_DEBUG); its logs stay
# (under $E2E/state/) only if a check of this run failed. None up (E2E_NAME unset: already
# down, or no boot): nothing to do (sandbox.sh would take the default name, someone else's).
e2e_down() {
    [ -n "${E2E_DEBUG:-}" ] || [ -z "${E2E_NAME:-}" ] && return
    sb shutdown >"$W/down.log" 2>&1 || { FAIL=$((FAIL+1)); echo "FAIL $E2E_NAME: shutdown left something behind: $(tail -2 "$W/down.log")"; }
    [ "$FAIL" = 0 ] && sb clean >/dev/null 2>&1; unset E2E_NAME
}
