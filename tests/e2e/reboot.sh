#!/bin/bash
# Issue 14, item 5: `systemctl --user enable` works on the units of `rootlet install --user`
# (real files in ~/.local/share/systemd/user, not generator output: podman #17567), and the
# enable survives a REBOOT of a real systemd 252. One sandbox booted with E2E_DISK=1 (its
# writable layer and /home on disk), rebooted with `sandbox.sh reboot` (`systemctl poweroff`
# inside, PID 1 exits cleanly, a new PID 1 boots on the same disk).
#
#   tests/e2e/reboot.sh     (needs root; skips loudly where it cannot run)
#
# As the lingering user `tester`, no generator installed (the no-root case): two sources
# rootlet itself links to nothing, so that only `systemctl --user enable` can make them
# start at boot:
#  - web.container, no [Install]; systemd enables only a unit with an [Install] section
#    (it says so for any unit), so the user gives it one in a systemd drop-in,
#    ~/.config/systemd/user/web.service.d/install.conf;
#  - echo@.container, a template with `[Install] WantedBy=default.target` and no
#    DefaultInstance: rootlet links no instance; `enable echo@18081.service` does.
# And two sources with `[Install] WantedBy=default.target`, which rootlet links itself (as
# quadlet does): auto.container starts at boot although `systemctl` calls it disabled and
# `disable` cannot unlink it; masked.container is kept down by `systemctl --user mask`.
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start reboot "${E2E_PODMAN_PKGS[@]}"

# The test program in the busybox rootfs (as tests/e2e/run.sh), and the sources.
mkdir -p "$W/src"
printf '[Container]\nRootfs=/srv/rootfs\nExec=/usr/local/bin/e2e-server 8080\nPublishPort=127.0.0.1:18080:8080\n' \
    > "$W/src/web.container"
printf '[Container]\nRootfs=/srv/rootfs\nExec=/usr/local/bin/e2e-server 8080\nPublishPort=127.0.0.1:%%i:8080\n\n[Install]\nWantedBy=default.target\n' \
    > "$W/src/echo@.container"
for n in auto masked; do
    printf '[Container]\nRootfs=/srv/rootfs\nExec=/usr/local/bin/e2e-server 8080\nNetwork=none\n\n[Install]\nWantedBy=default.target\n' \
        > "$W/src/$n.container"
done

# (tests/e2e/provision.sh) rootlet's programs only, where `make install` puts them
# (E2E_ROOTLET=user: no generator, the user has no root). The network comes up at every
# boot from a system service, as on a machine (NET=boot: the provisioning runs once,
# before the first boot only). On a disk, which survives `sb reboot`; it stays (under
# $E2E/state/) only when a check failed.
E2E_ROOTLET=user E2E_DISK=1 e2e_boot reboot boot || { echo "$PASS passed, $FAIL failed"; exit 1; }
STATE=${E2E:-/var/tmp/rootlet-e2e}/state/$E2E_NAME

H=/home/tester
OUT=$H/.local/share/systemd/user
UNITS=$H/.config/systemd/user
WANTS=$UNITS/default.target.wants
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
enabled() { [ "$(u systemctl --user is-enabled "$1")" = enabled ]; }
link_is() { [ "$(sb exec readlink "$1")" = "$2" ]; }
links_kept() { link_is "$WANTS/web.service" "$OUT/web.service" && link_is "$WANTS/echo@18081.service" "$OUT/echo@.service"; }
get() { sb exec curl -sS --http0.9 --max-time 10 "http://127.0.0.1:$1/"; }
answers() { get "$1" | grep PEER= >/dev/null; }

echo "== before the reboot"
check "install --user succeeds without root" u rootlet install --user
check "the units are real files in ~/.local/share/systemd/user, no generator output" eval '
    [ "$(prop FragmentPath web.service)" = "$OUT/web.service" ] &&
    [ "$(prop FragmentPath echo@18081.service)" = "$OUT/echo@.service" ] &&
    sb exec test -f "$OUT/web.service" && ! sb exec test -L "$OUT/web.service" &&
    ! sb exec test -e /run/user/1500/systemd/generator/web.service'
check "rootlet linked neither (no [Install]; a template without DefaultInstance)" eval '
    [ -z "$(sb exec find "$OUT" -mindepth 2 \( -name "web*" -o -name "echo*" \))" ] &&
    [ "$(u systemctl --user is-enabled web.service)" = static ] &&
    [ "$(u systemctl --user is-enabled echo@18081.service)" = disabled ]'
# (Once in about ten runs on a loaded machine this answer did not come at the first try,
# cause unknown: retried, and what came instead is printed.)
enable_without_install() {
    local out; out=$(u systemctl --user enable web.service 2>&1)
    grep "no installation config" <<<"$out" >/dev/null && ! sb exec test -L "$WANTS/web.service" && return 0
    echo "!! NOTE: systemctl --user enable web.service said: $out; link: $(sb exec ls -l "$WANTS/web.service" 2>&1) (retrying)" >&3
    return 1
}
check "enable without an [Install] section: systemd says so (as for any unit), links nothing" \
    within 20 enable_without_install
u mkdir -p "$UNITS/web.service.d"
u sh -c "printf '[Install]\nWantedBy=default.target\n' > $UNITS/web.service.d/install.conf"
u systemctl --user daemon-reload
check "systemctl --user enable web.service (its [Install] from a drop-in) links it in ~/.config" eval '
    u systemctl --user enable web.service && link_is "$WANTS/web.service" "$OUT/web.service"'
check "systemctl --user enable echo@18081.service links the instance to the template's file" eval '
    u systemctl --user enable echo@18081.service && link_is "$WANTS/echo@18081.service" "$OUT/echo@.service"'
check "both are enabled" eval 'enabled web.service && enabled echo@18081.service'
check "enable did not start them (nothing does until the reboot)" eval 'is inactive web.service && is inactive echo@18081.service'
check "disable removes the link, enable puts it back" eval '
    u systemctl --user disable web.service && ! sb exec test -L "$WANTS/web.service" &&
    [ "$(u systemctl --user is-enabled web.service)" = disabled ] &&
    u systemctl --user enable web.service && link_is "$WANTS/web.service" "$OUT/web.service" && enabled web.service'
check "rootlet regenerate leaves the user's links alone" eval 'u rootlet regenerate && links_kept'
check "a second rootlet install --user leaves them alone" eval 'u rootlet install --user && links_kept'
u sh -c "printf 'Environment=EDITED=1\n' >> $H/.config/containers/systemd/web.container"
check "an edited source is regenerated by the path unit, the link stays" within 60 eval '
    u systemctl --user cat web.service | grep -e "--env EDITED=1" >/dev/null && links_kept && enabled web.service'
check "still not started" eval 'is inactive web.service && is inactive echo@18081.service'
check "[Install] in the source: rootlet links it; systemctl says disabled, disable leaves the link" eval '
    link_is "$OUT/default.target.wants/auto.service" ../auto.service &&
    [ "$(u systemctl --user is-enabled auto.service)" = disabled ] &&
    u systemctl --user disable auto.service && link_is "$OUT/default.target.wants/auto.service" ../auto.service'
check "systemctl --user mask keeps such a unit down" eval '
    u systemctl --user stop masked.service && u systemctl --user mask masked.service &&
    [ "$(u systemctl --user is-enabled masked.service)" = masked ] &&
    link_is "$OUT/default.target.wants/masked.service" ../masked.service'
# What must change across a reboot (a new PID 1) and what must not (the disk). (The
# checks read these variables through eval.)
# shellcheck disable=SC2034
old_pid1=$(cat "$STATE/pid1")
# shellcheck disable=SC2034
old_start=$(sb exec systemctl show -P UserspaceTimestampMonotonic)
# shellcheck disable=SC2034
old_user=$(sb exec systemctl show -P InvocationID user@1500.service)
old_boot=$(sb exec cat /proc/sys/kernel/random/boot_id)
sb exec sh -c 'echo before > /run/e2e-mark; echo before > /var/lib/e2e-mark'

echo "== reboot"
check "reboot: systemctl poweroff inside, PID 1 exits cleanly (reboot(2)), boots again on the disk" \
    sb reboot
sb wait-user >/dev/null 2>&1
# (The kernel's boot id is the host's, the same in both boots, and so is the journal's
# list of boots: a new PID 1 is told by its host pid and systemd's own start time.)
printf '   PID 1: host pid %s -> %s; systemd started at monotonic %s -> %s us; boot id %s -> %s; journal boots listed: %s\n' \
    "$old_pid1" "$(cat "$STATE/pid1")" "$old_start" "$(sb exec systemctl show -P UserspaceTimestampMonotonic)" \
    "$old_boot" "$(sb exec cat /proc/sys/kernel/random/boot_id)" "$(sb exec journalctl --list-boots --no-pager -q | grep -c .)"
check "a new PID 1: other host pid, the old one gone, a later systemd start, fresh /run" eval '
    new=$(cat "$STATE/pid1") && [ "$new" != "$old_pid1" ] && [ ! -d "/proc/$old_pid1" ] &&
    [ "$(sb exec systemctl show -P UserspaceTimestampMonotonic)" -gt "$old_start" ] &&
    ! sb exec test -e /run/e2e-mark && [ "$(grep -c . "$STATE/disk/booted")" = 2 ]'
check "the disk survived it, and the user manager is a new one" eval '
    [ "$(sb exec cat /var/lib/e2e-mark)" = before ] &&
    [ "$(sb exec systemctl show -P InvocationID user@1500.service)" != "$old_user" ]'

echo "== after the reboot"
check "web.service active after the reboot, started by nobody but the boot" within 120 is active web.service ||
    u journalctl --user -b -u web.service --no-pager | tail -20
check "echo@18081.service active too" within 120 is active echo@18081.service ||
    u journalctl --user -b -u echo@18081.service --no-pager | tail -20
check "an instance not enabled (echo@18082) was not started: the enable did it" is inactive echo@18082.service
check "auto.service (rootlet's link) started at boot, 'disabled' notwithstanding; masked.service did not" eval '
    within 120 is active auto.service && is inactive masked.service && [ "$(prop LoadState masked.service)" = masked ]'
check "both answer" within 60 eval 'answers 18080 && answers 18081'
check "both still enabled, by the links in ~/.config" eval 'enabled web.service && enabled echo@18081.service && links_kept'
check "the edited unit is the one running" eval 'u systemctl --user show -P ExecStart web.service | grep -e "--env EDITED=1" >/dev/null'
# shellcheck disable=SC2034
pid=$(prop MainPID web.service)
check "regenerate and install --user after the reboot keep the links; the unit keeps running" eval '
    u rootlet regenerate && u rootlet install --user && links_kept && enabled web.service &&
    [ "$(prop MainPID web.service)" = "$pid" ] && answers 18080'

echo "== uninstall"
u systemctl --user stop web.service echo@18081.service auto.service >/dev/null 2>&1
u systemctl --user unmask masked.service >/dev/null 2>&1
check "uninstall --user leaves the user's enable links (dangling) and says how to remove them" eval '
    out=$(u rootlet uninstall --user 2>&1) && links_kept && ! sb exec test -e "$OUT/web.service" &&
    grep "systemctl --user disable -- web.service. removes it" <<<"$out" >/dev/null &&
    grep "systemctl --user disable -- echo@18081.service. removes it" <<<"$out" >/dev/null'
check "rootlet doctor reports them, with the command that removes them" eval '
    out=$(u rootlet doctor 2>&1); grep "^warning: 2 link(s) .*\[rootlet.enable-links\]" <<<"$out" >/dev/null &&
    grep "^    systemctl --user disable -- echo@18081.service web.service$" <<<"$out" >/dev/null'
check "systemctl --user disable removes a dangling link; doctor is content" eval '
    u systemctl --user disable web.service echo@18081.service &&
    ! sb exec test -L "$WANTS/web.service" && ! sb exec test -L "$WANTS/echo@18081.service" &&
    ! grep rootlet.enable-links <<<"$(u rootlet doctor 2>&1)" >/dev/null'

e2e_end
