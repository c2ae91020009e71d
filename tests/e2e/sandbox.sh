#!/bin/bash
# sandbox.sh -- rootlet's end-to-end sandbox: boots a REAL systemd (the machine's own) as
# PID 1 in private mount/pid/net/uts/ipc/cgroup namespaces, on a throw-away overlay of the
# host's / whose writable layer is a tmpfs. Inside: journald, the system D-Bus, logind, a
# lingering test user (tester, uid 1500) whose user manager starts at boot, rootless podman.
# Adapted from the verified recipe the project was given (see README.md, "end-to-end suite").
#
#   sandbox.sh boot                 # boot (E2E_PROVISION=script customises the root first)
#   sandbox.sh exec CMD...          # run CMD as root inside (all namespaces)
#   sandbox.sh user CMD...          # run CMD as $TEST_USER inside (runuser, user-bus env set)
#   sandbox.sh user-run CMD...      # run CMD as a transient unit of the user's systemd
#   sandbox.sh put SRC DEST [MODE]  # copy a host file into the running sandbox (as root)
#   sandbox.sh wait-user            # wait until the user's systemd finished starting
#   sandbox.sh shutdown             # clean poweroff (SIGRTMIN+4), SIGKILL fallback, leak check
#   sandbox.sh reboot               # (E2E_DISK=1 sandboxes) `systemctl poweroff` inside, wait
#                                   # for PID 1 to exit cleanly, boot again on the same disk
#   sandbox.sh clean                # remove the host-side state (logs, disk) of a stopped sandbox
#   sandbox.sh selftest             # boot, a few checks (E2E_DISK=1: and a reboot), shutdown
#
# Env: E2E_NAME (default `sandbox`): a sandbox's identity. Its host-side state is
#        $E2E/state/$E2E_NAME and its cgroup e2e-$E2E_NAME, so sandboxes with distinct
#        names run at the same time (the suites pick names from their pid).
#      E2E (default /var/tmp/rootlet-e2e): host-side work dir for logs and pid files.
#      E2E_PROVISION=script: run with bash before boot, with ROOT=<sandbox root>, TEST_USER,
#        TEST_UID and the caller's environment; it must write only under $ROOT.
#      E2E_LINGER=0: no linger file at boot. TEST_USER/TEST_UID: tester/1500.
#      E2E_DISK=1 (at `boot`): the writable layer and /home live on disk, in
#        $E2E/state/$E2E_NAME/disk (a fresh one: an old one is removed), so that they
#        survive `reboot`; `clean` removes them. Without it (the default) they are tmpfs.
#
# The sandbox sees the host's / as it was (read-only lower layer) but has its own /tmp,
# /run, /home and /dev. A file the test user needs goes in through E2E_PROVISION or `put`,
# never through the caller's checkout: that may live anywhere, under a 0700 directory,
# under the host's /tmp (which the sandbox does not see), in a path with spaces.
#
# Requires root, util-linux (unshare/nsenter/setpriv), systemd, dbus, overlayfs.
set -euo pipefail

E2E=${E2E:-/var/tmp/rootlet-e2e}
NAME=${E2E_NAME:-sandbox}
case $NAME in *[!A-Za-z0-9_.-]*|'') echo "sandbox.sh: E2E_NAME must be [A-Za-z0-9_.-]+" >&2; exit 2 ;; esac
STATE=$E2E/state/$NAME          # host side: pid files, console + journal logs
# An empty directory; a tmpfs is mounted on it ONLY inside the sandbox's private mount
# namespace. One per sandbox, so nothing is shared between concurrent sandboxes.
MNT=$STATE/mnt
CGV2=/sys/fs/cgroup/unified     # host cgroup2 mount on a hybrid host...
[ -e "$CGV2/cgroup.procs" ] || CGV2=/sys/fs/cgroup   # ...or on a pure-v2 host
CG=$CGV2/e2e-$NAME              # the sandbox's cgroup subtree = root of its cgroup namespace
TEST_USER=${TEST_USER:-tester}
TEST_UID=${TEST_UID:-1500}
SELF=$(readlink -f "$0")
REBOOTING=0                     # set by reboot() only

log() { printf '[e2e %s %(%T)T] %s\n' "$NAME" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
since() { awk -v t0="$1" -v t1="$EPOCHREALTIME" 'BEGIN{printf "%.2f", t1 - t0}'; }

pid1() { cat "$STATE/pid1" 2>/dev/null; }
# Alive = the recorded pid exists and lives in another pid namespace (not a recycled pid
# of a host process).
alive() { local p; p=$(pid1) && [ -n "$p" ] && [ -d "/proc/$p" ] &&
          [ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; }

# On disk (E2E_DISK=1): the overlay's upper and work directories and /home, kept across
# `reboot`. Whether stage 2 uses it is boot()'s choice (__E2E_DISK, set there whatever the
# caller's environment holds). The directory is seen inside through the lower layer (the
# host's /), as the rest of $STATE is; nothing there writes to it.
DISK=$STATE/disk

# ------------------------------------------------------------------------------ stage 2
# Runs as PID 1 of the new pid namespace, in new mount/uts/ipc/net/cgroup namespaces.
stage2() {
    mount --make-rprivate /
    mount -t tmpfs -o "mode=755,size=${E2E_TMPFS_SIZE:-8g}" e2e-rw "$MNT"
    mkdir -p "$MNT/upper" "$MNT/work" "$MNT/root"
    # Host / (its own file system only: sub-mounts are not seen through overlayfs) is the
    # read-only lower layer; every write lands in the tmpfs upper layer...
    local UP=$MNT again=0
    # ...or, with E2E_DISK=1, in the upper layer on disk; a second boot on it is a reboot.
    if [ -n "${__E2E_DISK:-}" ]; then
        UP=$DISK; [ -e "$DISK/booted" ] && again=1
        mkdir -p "$DISK/upper" "$DISK/work" "$DISK/home"; chmod 755 "$DISK/home"
    fi
    mount -t overlay e2e-root -o "lowerdir=/,upperdir=$UP/upper,workdir=$UP/work" "$MNT/root"
    local R=$MNT/root

    # --- API file systems, roughly as systemd-nspawn sets them up
    mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
    local p
    for p in sys sysrq-trigger; do        # no global sysctl/sysrq writes to the host kernel
        [ -e "$R/proc/$p" ] || continue
        mount --bind "$R/proc/$p" "$R/proc/$p"; mount -o remount,bind,ro "$R/proc/$p"
    done
    # net.* sysctls are per network namespace and ours is private: keep them writable
    # (crun/slirp4netns write some), as nspawn --private-network does.
    mount --bind "$R/proc/sys/net" "$R/proc/sys/net"; mount -o remount,bind,rw "$R/proc/sys/net"
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"     # ro => udevd & co. are skipped
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"   # pure v2, rooted at $CG
    mount -t tmpfs -o mode=755,nosuid,size=64k dev "$R/dev"
    local d n ma mi
    for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0 net/tun:10:200 fuse:10:229; do
        IFS=: read -r n ma mi <<<"$d"; mkdir -p "$(dirname "$R/dev/$n")"; mknod -m 666 "$R/dev/$n" c "$ma" "$mi"
    done
    mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
    ln -s pts/ptmx "$R/dev/ptmx"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
    ln -s /proc/self/fd "$R/dev/fd"
    ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
    # Fresh /run, /tmp, /home: nothing of the host's is seen there (the host's /tmp and
    # /home contents are none of the tests' business).
    mount -t tmpfs -o mode=755,nosuid,nodev run "$R/run"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"
    # /home on its own tmpfs also because rootless podman's overlay driver cannot use an
    # overlayfs as its upper dir. (On disk: a directory of the host's file system.)
    if [ -n "${__E2E_DISK:-}" ]; then
        mount --bind "$DISK/home" "$R/home"; mount -o remount,bind,nosuid,nodev "$R/home"
    else
        mount -t tmpfs -o mode=755,nosuid,nodev home "$R/home"
    fi
    # A second, pristine procfs, reachable by root only. An unprivileged user namespace
    # (rootless podman/crun) may mount a fresh proc only if some proc mount in the mount ns
    # is "fully visible" (no over-mounts); ours has the ro /proc/sys over-mount, and without
    # this crun fails with "mount `proc` to `proc`: Operation not permitted".
    install -d -m 0700 "$R/run/.e2e"; mkdir "$R/run/.e2e/proc"
    mount -t proc -o nosuid,nodev,noexec proc "$R/run/.e2e/proc"

    # --- identity and configuration of the sandboxed OS (all in the upper layer)
    echo e2e > "$R/etc/hostname"; hostname e2e
    # (A reboot keeps the machine's identity, as a real one does.)
    [ "$again" = 1 ] || tr -d - </proc/sys/kernel/random/uuid > "$R/etc/machine-id"
    : > "$R/etc/fstab"
    # The sandbox boots the host's enabled units. Mask the useless or noisy ones, and
    # rootful container engines (docker, containerd) in particular: they would start a
    # second daemon beside the host's, fight over iptables in our namespace and slow boot.
    # Masking a unit the host does not have is harmless.
    local u
    for u in postgresql.service e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
             apt-daily-upgrade.timer man-db.timer fstrim.timer dpkg-db-backup.timer \
             docker.service docker.socket containerd.service \
             podman.service podman.socket podman-restart.service podman-auto-update.service podman-auto-update.timer \
             console-getty.service getty.target systemd-timesyncd.service; do
        ln -sf /dev/null "$R/etc/systemd/system/$u"
    done
    mkdir -p "$R/etc/systemd/system.conf.d" "$R/etc/systemd/user.conf.d"
    printf '[Manager]\nDefaultTimeoutStopSec=15s\n' | tee "$R/etc/systemd/system.conf.d/e2e.conf" \
        > "$R/etc/systemd/user.conf.d/e2e.conf"
    # The cgroup2 hierarchy here may lack the pids controller (bound to a v1 hierarchy on
    # the host); podman's default pids_limit=2048 then fails with
    # "crun: the requested cgroup controller `pids` is not available".
    if [ -d "$R/etc/containers" ] && [ ! -e "$R/etc/containers/containers.conf" ]; then
        printf '[containers]\npids_limit = 0\n' > "$R/etc/containers/containers.conf"
    fi

    # --- test user (fixed uid so that tests can rely on /run/user/$TEST_UID)
    if ! chroot "$R" getent passwd "$TEST_USER" >/dev/null; then
        chroot "$R" groupadd -g "$TEST_UID" "$TEST_USER"
        chroot "$R" useradd -u "$TEST_UID" -g "$TEST_UID" -s /bin/bash "$TEST_USER"
    fi
    mkdir -p "$R/home/$TEST_USER"; chroot "$R" chown "$TEST_USER:" "/home/$TEST_USER"
    grep -q "^$TEST_USER:" "$R/etc/subuid" 2>/dev/null || echo "$TEST_USER:100000:65536" >> "$R/etc/subuid"
    grep -q "^$TEST_USER:" "$R/etc/subgid" 2>/dev/null || echo "$TEST_USER:100000:65536" >> "$R/etc/subgid"
    # Linger "at boot": logind starts user@UID.service for each file here when it starts
    # (exactly what `loginctl enable-linger` creates).
    if [ "${E2E_LINGER:-1}" = 1 ]; then
        mkdir -p "$R/var/lib/systemd/linger"; touch "$R/var/lib/systemd/linger/$TEST_USER"
    fi

    # --- caller-supplied provisioning (before the pivot, with ROOT=<sandbox root>); a
    # reboot does not provision again: the disk has it all.
    if [ -n "${E2E_PROVISION:-}" ] && [ "$again" = 0 ]; then
        ROOT=$R TEST_USER=$TEST_USER TEST_UID=$TEST_UID bash -e "$E2E_PROVISION"
    fi
    if [ -n "${__E2E_DISK:-}" ]; then date +%s.%N >> "$DISK/booted"; fi

    cd "$R"
    pivot_root . .
    umount -l .
    cd /
    # systemd does this itself only when not in a container; rootless podman wants it.
    # (It cannot propagate to the host: everything was made private above.)
    mount --make-rshared /
    # container=...: systemd takes its container code paths (no umount/remount-ro of file
    # systems at shutdown, no core_pattern write, ConditionVirtualization=!container units
    # skipped). Capabilities that could reach the host kernel are dropped, as nspawn does.
    exec env -i container=e2e-overlay TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        setpriv --bounding-set -sys_module,-sys_rawio,-sys_time,-sys_pacct,-mac_admin,-mac_override,-syslog,-wake_alarm,-block_suspend \
        /lib/systemd/systemd --system --unit="${E2E_TARGET:-multi-user.target}" \
        --log-target=journal-or-kmsg --show-status=no
}

# ------------------------------------------------------------------------------ host side
boot() {
    [ "$(id -u)" = 0 ] || die "must be root"
    alive && die "sandbox $NAME already running (pid1 $(pid1))"
    mkdir -p "$STATE" "$MNT"
    # E2E_DISK=1: a fresh disk; reboot() boots again on the one there (__E2E_DISK=again).
    __E2E_DISK=''
    if [ "$REBOOTING" = 1 ]; then
        [ -e "$DISK/booted" ] || die "no disk to reboot on at $DISK"
        __E2E_DISK=again
    elif [ "${E2E_DISK:-0}" = 1 ]; then
        rm -rf --one-file-system -- "$DISK"
        __E2E_DISK=fresh
    fi
    export __E2E_DISK
    # Never boot on the host's own /: refuse if anything looks off.
    mountpoint -q "$MNT" && die "$MNT is a mount point on the host -- refusing"
    rm -f "$STATE/pid1" "$STATE/unshare.pid" "$STATE/journal.log" "$STATE/exit-status"
    cleanup_cgroup
    # A cgroup that is still there has live processes: a sandbox of the same name that
    # another run started. Never share it.
    [ -d "$CG" ] && die "cgroup $CG is in use (another sandbox named $NAME?)"
    mkdir "$CG"
    # Workaround for podman 4.3 (containers/common 0.50): with cgroup v1 hierarchies active
    # in the kernel, /proc/self/cgroup has "N:ctrl:/" lines and podman checks that the user
    # owns /sys/fs/cgroup/ for each of them; otherwise it moves itself into a
    # podman-PID.scope, which breaks --cgroups=split + --sdnotify=conmon (Type=notify).
    chown "$TEST_UID:$TEST_UID" "$CG"
    local t0=$EPOCHREALTIME origcg p='' upid='' st
    origcg=$(sed -n 's/^0:://p' /proc/self/cgroup)
    # The subshell enters $CG so that unshare makes $CG the root of the new cgroup ns, steps
    # back out, and records unshare's exit status (130 = the sandbox's PID 1 called
    # reboot(POWER_OFF), i.e. a clean poweroff; 1 = it was SIGKILLed).
    ( echo "$BASHPID" > "$CG/cgroup.procs"
      unshare --mount --uts --ipc --net --pid --cgroup --fork --propagation private \
           -- "$SELF" __stage2 </dev/null >"$STATE/console.log" 2>&1 &
      u=$!; echo "$u" > "$STATE/unshare.pid"
      echo "$BASHPID" > "$CGV2$origcg/cgroup.procs"
      rc=0; wait "$u" || rc=$?; echo "$rc" > "$STATE/exit-status" ) </dev/null >/dev/null 2>&1 &
    for _ in $(seq 250); do upid=$(cat "$STATE/unshare.pid" 2>/dev/null) && [ -n "$upid" ] && break; sleep 0.02; done
    for _ in $(seq 400); do
        p=$(awk '{print $1}' "/proc/$upid/task/$upid/children" 2>/dev/null) && [ -n "$p" ] && break
        sleep 0.05
    done
    [ -n "$p" ] || { cat "$STATE/console.log" >&2; die "no sandbox pid1"; }
    echo "$p" > "$STATE/pid1"
    # unshare itself need not stay in $CG (on a v2 host with controllers it would keep
    # systemd from enabling them: the "no internal processes" rule).
    echo "$upid" > "$CGV2$origcg/cgroup.procs"
    # Wait for systemd (not the stage-2 shell) to be PID 1, then for its boot to finish.
    # Wide margins: other work may be compiling on the same cores.
    for _ in $(seq 1200); do
        [ -d "/proc/$p" ] || { cat "$STATE/console.log" >&2; cleanup_cgroup; die "sandbox died during boot"; }
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && [ -S "/proc/$p/root/run/systemd/private" ] && break
        sleep 0.05
    done
    st=$(timeout 180 nsenter -t "$p" -a systemctl is-system-running --wait 2>/dev/null) || true
    BOOT_SECS=$(since "$t0")
    log "boot: pid1=$p (host pid) state=$st after ${BOOT_SECS}s"
    case $st in
        running) ;;
        degraded) inside systemctl --failed --no-pager >&2 || true ;;
        *) die "boot failed: '$st'" ;;
    esac
}

# Join a leaf cgroup inside the sandbox subtree first, so that the command has a valid
# cgroup path as seen from inside (logind/podman may want to move it), then enter all
# namespaces.
inside() {
    local p; p=$(pid1) || true; alive || die "sandbox $NAME not running"
    ( mkdir -p "$CG/e2e-exec"; echo "$BASHPID" > "$CG/e2e-exec/cgroup.procs"
      exec nsenter -t "$p" -a -- "$@" )
}
user_env=(env -i "HOME=/home/$TEST_USER" "USER=$TEST_USER" "LOGNAME=$TEST_USER" SHELL=/bin/bash
          PATH=/usr/local/bin:/usr/bin:/bin "XDG_RUNTIME_DIR=/run/user/$TEST_UID"
          "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TEST_UID/bus")
# As the test user, in its home directory (never the caller's current directory: that
# may be a checkout the test user cannot enter, and is not what a login would give).
as_user() { inside runuser -u "$TEST_USER" -- "${user_env[@]}" sh -c 'cd "$HOME" && exec "$@"' sh "$@"; }
# Same, but as a transient service of the user's systemd: proper cgroup, like real units.
# The timeout keeps a command that never ends from holding the caller forever.
user_run() { as_user timeout "${E2E_RUN_TIMEOUT:-300}" systemd-run --user --wait --pipe --quiet --collect -- "$@"; }
# put SRC DEST [MODE]: stream a host file (read here, as root) into the sandbox.
put() { local mode=${3:-0644}; inside install -D -m "$mode" /dev/stdin "$2" < "$1"; }
# Wait until the user's manager has finished its startup transaction (linger at boot or
# after a runtime `loginctl enable-linger`): user@.service turns "active" earlier than that.
wait_user() {
    local st='' end=$(( ${EPOCHREALTIME//[!0-9]/} + 120000000 ))
    # (a deadline, 120 s, however long each look inside takes on a loaded machine)
    until inside test -S "/run/user/$TEST_UID/systemd/private"; do
        (( ${EPOCHREALTIME//[!0-9]/} < end )) || break; sleep 0.1
    done
    st=$(as_user timeout 180 systemctl --user is-system-running --wait 2>&1) || true
    log "user manager of $TEST_USER: $st"
    [ "$st" = running ]
}

cleanup_cgroup() {
    [ -d "$CG" ] || return 0
    find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null || true   # leaves first
    [ -d "$CG" ] && log "WARNING: $CG not removed; procs: $(tr '\n' ' ' < "$CG/cgroup.procs")"
    return 0
}

shutdown() {
    local p upid t0=$EPOCHREALTIME
    p=$(pid1) || true; upid=$(cat "$STATE/unshare.pid" 2>/dev/null) || true
    if alive; then
        inside journalctl -b --no-pager -o short-monotonic > "$STATE/journal.log" 2>&1 || true
        kill -s SIGRTMIN+4 "$p"              # what `systemctl poweroff` does for PID 1
        for _ in $(seq "${E2E_STOP_TICKS:-1200}"); do [ -d "/proc/$p" ] || break; sleep 0.05; done
        # SIGKILL of the sandbox's PID 1 (ours, by pid) ends everything inside it.
        if [ -d "/proc/$p" ]; then log "poweroff timed out: SIGKILL sandbox pid1 $p"; kill -9 "$p"; fi
    fi
    if [ -n "$upid" ]; then for _ in $(seq 200); do [ -s "$STATE/exit-status" ] && break; sleep 0.05; done; fi
    local rc; rc=$(cat "$STATE/exit-status" 2>/dev/null) || rc=unknown
    case $rc in 130) log "sandbox PID 1 powered off cleanly (reboot(2) in pid ns => SIGINT)";;
                *) log "sandbox exit status: $rc (130 = clean poweroff; 1 = unshare after SIGKILL of PID 1)";; esac
    for _ in $(seq 100); do [ -d "$CG" ] || break; cleanup_cgroup 2>/dev/null; [ -d "$CG" ] || break; sleep 0.05; done
    cleanup_cgroup
    rm -f "$STATE/pid1" "$STATE/unshare.pid"
    SHUTDOWN_SECS=$(since "$t0")
    local leak=0
    mountpoint -q "$MNT" && { log "LEAK: $MNT mounted on host"; leak=1; }
    [ -d "$CG" ] && { log "LEAK: cgroup $CG remains"; leak=1; }
    [ -n "$p" ] && [ -d "/proc/$p" ] && { log "LEAK: pid $p alive"; leak=1; }
    log "shutdown: ${SHUTDOWN_SECS}s, leaks=$leak"
    return $leak
}

# reboot: what `systemctl reboot` would do to a machine, for a sandbox booted with
# E2E_DISK=1: a clean poweroff of its systemd (`systemctl poweroff` inside; PID 1 must
# exit by reboot(2), never be killed), then a new PID 1 booted on the same disk.
reboot_() {
    alive || die "sandbox $NAME not running"
    [ -e "$DISK/booted" ] || die "reboot: sandbox $NAME was not booted with E2E_DISK=1 (its tmpfs would be lost)"
    local p t0=$EPOCHREALTIME n rc
    p=$(pid1); n=$(grep -c . "$DISK/booted")
    inside journalctl -b --no-pager -o short-monotonic > "$STATE/journal-boot$n.log" 2>&1 || true
    inside systemctl poweroff || die "reboot: systemctl poweroff failed"
    for _ in $(seq "${E2E_STOP_TICKS:-1200}"); do [ -d "/proc/$p" ] || break; sleep 0.05; done
    if [ -d "/proc/$p" ]; then
        kill -9 "$p"; die "reboot: PID 1 ($p) did not power off: SIGKILLed, not rebooted"
    fi
    for _ in $(seq 200); do [ -s "$STATE/exit-status" ] && break; sleep 0.05; done
    rc=$(cat "$STATE/exit-status" 2>/dev/null) || rc=unknown
    [ "$rc" = 130 ] || die "reboot: PID 1 ended with status $rc, not a clean poweroff (130)"
    for _ in $(seq 100); do [ -d "$CG" ] || break; cleanup_cgroup 2>/dev/null; [ -d "$CG" ] || break; sleep 0.05; done
    rm -f "$STATE/pid1" "$STATE/unshare.pid"
    log "reboot: PID 1 $p powered off cleanly after $(since "$t0")s; booting again on $DISK"
    REBOOTING=1 boot
}

# The host-side state (console and journal logs, the disk of E2E_DISK=1) stays after
# shutdown for a look after a failure; a suite that passed removes it, since every run
# uses new names.
clean() {
    alive && die "sandbox $NAME is running"
    [ -d "$CG" ] && die "cgroup $CG remains"
    rm -rf --one-file-system -- "$STATE"
}

# ------------------------------------------------------------------------------ selftest
reboot_check() {
    local p; p=$(pid1)
    inside sh -c 'echo 1 > /var/lib/e2e-selftest; echo 1 > /run/e2e-selftest'
    reboot_ && [ "$(pid1)" != "$p" ] && [ ! -d "/proc/$p" ] && inside test -e /var/lib/e2e-selftest &&
        ! inside test -e /run/e2e-selftest && wait_user
}
# The basics every suite relies on; the suites (tests/e2e/*.sh) test
# rootlet itself.
selftest() {
    local fails=0 t0=$EPOCHREALTIME out
    t() { local name=$1; shift
          if out=$("$@" 2>&1); then log "PASS $name"; else log "FAIL $name: $out"; fails=$((fails+1)); fi; }
    boot
    trap 'shutdown || true' EXIT
    t "user@$TEST_UID.service active (linger at boot)" inside systemctl is-active "user@$TEST_UID.service"
    t "systemctl --user works (startup finished)" wait_user
    t "the test user starts in its home" sh -c "[ \"\$('$SELF' user pwd </dev/null)\" = /home/$TEST_USER ]"
    t "a file put in is readable by the test user" sh -c "echo hi > '$STATE/put.txt' && '$SELF' put '$STATE/put.txt' /usr/local/share/e2e-put.txt </dev/null && [ \"\$('$SELF' user cat /usr/local/share/e2e-put.txt </dev/null)\" = hi ]"
    t "rootful docker/containerd masked" sh -c "for u in docker.service docker.socket containerd.service; do [ \"\$('$SELF' exec systemctl is-enabled \$u </dev/null)\" = masked ] || exit 1; done"
    if command -v podman >/dev/null; then
        t "rootless podman answers" as_user podman info --format '{{.Host.CgroupsVersion}}'
    fi
    if [ "${E2E_DISK:-0}" = 1 ]; then
        t "reboot: a new PID 1 on the same disk, a fresh /run, the user manager back" reboot_check
    fi
    trap - EXIT
    shutdown || fails=$((fails+1))
    log "selftest: boot ${BOOT_SECS}s, all $(since "$t0")s, $fails failure(s)"
    [ "$fails" = 0 ] && clean
    [ "$fails" = 0 ]
}

case "${1:-}" in
    __stage2) stage2 ;;
    boot) boot ;;
    shutdown) shutdown ;;
    reboot) reboot_ ;;
    clean) clean ;;
    exec) shift; inside "$@" ;;
    user) shift; as_user "$@" ;;
    user-run) shift; user_run "$@" ;;
    put) shift; [ $# -ge 2 ] || die "usage: put SRC DEST [MODE]"; put "$@" ;;
    wait-user) wait_user ;;
    selftest) selftest ;;
    *) sed -n '2,36p' "$SELF" >&2; exit 2 ;;
esac
