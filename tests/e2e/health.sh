#!/bin/bash
# End-to-end proof of `Notify=healthy` on podman older than 5.0 (Debian 12: 4.3.1, which
# has no `--sdnotify=healthy`) in a real systemd 252 (one sandbox, see
# tests/e2e/sandbox-lib.sh): rootlet keeps `--sdnotify=conmon` and waits for the container's
# health in `ExecStartPost=` (src/quadlet/health.rs). At linger boot:
#
#   db     turns healthy only ~10 s after it starts (HealthStartPeriod/Interval/Retries set);
#          db.service must become active only then
#   app    Requires=/After=db.container: must start only once db is healthy
#   sick   its check never passes (TimeoutStartSec=20, StartLimitBurst=2): must end
#          `failed` after the restart defaults retried it, with the check's output in the
#          journal and nothing of it left (container, health-check timer, wait process)
#
# then `systemctl --user restart db.service` 10 times in a row, each one healthy again.
#
#   tests/e2e/health.sh       (needs root; skips loudly where it cannot run; ~5 min)
#
# Prints PASS/FAIL per check with its time, measurements as `MEASURED` lines, and
# `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start health "${E2E_PODMAN_PKGS[@]}"

mkdir -p "$W/src"
# Healthy once /tmp/ready exists, 10 s after the start; failures in the first 4 s do not
# count (HealthStartPeriod=), and 30 in a row would be needed for `unhealthy`.
cat > "$W/src/db.container" <<'EOF'
[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sh -c "sleep 10; echo ok > /tmp/ready; exec sleep 100000"
HealthCmd=/bin/cat /tmp/ready
HealthInterval=2s
HealthStartPeriod=4s
HealthRetries=30
Notify=healthy

[Install]
WantedBy=default.target
EOF
cat > "$W/src/app.container" <<'EOF'
[Unit]
Requires=db.container
After=db.container

[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sleep 100000

[Install]
WantedBy=default.target
EOF
cat > "$W/src/sick.container" <<'EOF'
[Unit]
StartLimitBurst=2

[Container]
Rootfs=/srv/rootfs
Network=none
Exec=/bin/sleep 100000
HealthCmd=/bin/sh -c "echo sick-check-says-no; exit 1"
HealthInterval=2s
HealthRetries=2
Notify=healthy

[Service]
TimeoutStartSec=20

[Install]
WantedBy=default.target
EOF

is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
journal() { u journalctl --user -u "$1" --no-pager -o short-monotonic; }
health() { u podman container inspect --format '{{.State.Health.Status}}' "$1"; }
mono_s() { awk -v m="$1" 'BEGIN{printf "%.1f", m / 1e6}'; }

echo "== Notify=healthy at linger boot"
# (tests/e2e/provision.sh: rootlet, the busybox rootfs, a default route so that the wait
# unit sees a network at once, the sources)
e2e_boot health route || { echo "$PASS passed, $FAIL failed"; exit 1; }
echo "MEASURED $(u podman --version)"
check "the generator wrote the wait into db.service (ExecStartPost=, --sdnotify=conmon)" eval \
    'u systemctl --user cat db.service | grep "^ExecStartPost=/bin/sh -c .* rootlet-health-wait systemd-%N " >/dev/null && u systemctl --user cat db.service | grep -- "--sdnotify=conmon" >/dev/null'
check "db.service active after linger boot" within 120 is active db.service \
    || journal db.service | tail -25
check "app.service active" within 60 is active app.service || journal app.service | tail -25
check "db's container is healthy" eval '[ "$(health systemd-db)" = healthy ]'
id=$(u podman container inspect --format '{{.Id}}' systemd-db)
check "podman 4.3's health-check timer runs in the user manager ($id.timer)" eval \
    'u systemctl --user list-timers --all --no-legend | grep "$id.timer" >/dev/null'
tstart=$(prop ExecMainStartTimestampMonotonic db.service)
tactive=$(prop ActiveEnterTimestampMonotonic db.service)
tapp=$(prop ExecMainStartTimestampMonotonic app.service)
echo "MEASURED db started at $(mono_s "$tstart") s, active (healthy) at $(mono_s "$tactive") s, app started at $(mono_s "$tapp") s (monotonic)"
check "db.service became active only once healthy, >= 9 s after its start" test $(( tactive - tstart )) -ge 9000000
check "app started only after db was active" test "$tapp" -ge "$tactive"
# (No `grep -q` after a pipe: it stops reading early, and under pipefail the writer's
# SIGPIPE fails the check.)
# The same order in the journal: "Started db.service" before "Starting app.service".
jdb=$(u journalctl --user --no-pager -o short-monotonic | awk -F'[][]' '!f && /Started db.service/{print $2; f=1}' | tr -d ' ')
japp=$(u journalctl --user --no-pager -o short-monotonic | awk -F'[][]' '!f && /Starting app.service/{print $2; f=1}' | tr -d ' ')
echo "MEASURED journal: 'Started db.service' at $jdb s, 'Starting app.service' at $japp s"
check "the journal agrees: db started (healthy) before app was started" awk -v a="$jdb" -v b="$japp" 'BEGIN{exit !(a != "" && b != "" && a <= b)}'
check "the journal shows the wait and the failing checks before healthy" eval \
    'journal db.service | grep "waiting for systemd-db to turn healthy: running starting, .*last check exited 1: .*tmp/ready" >/dev/null'
check "no rootlet-health-wait process is left" eval '! sb exec pgrep -f rootlet-health-wait >/dev/null'

echo "== a check that never passes"
check "sick.service ends failed" within 300 is failed sick.service || journal sick.service | tail -25
echo "MEASURED sick: Result=$(prop Result sick.service), NRestarts=$(prop NRestarts sick.service), $(journal sick.service | grep -c 'Starting sick.service') starts"
check "the restart defaults applied: it was started again after the timeout" eval \
    '[ "$(journal sick.service | grep -c "Starting sick.service")" -ge 2 ] && journal sick.service | grep "Failed with result .timeout." >/dev/null'
check "the journal has the check's output" eval 'journal sick.service | grep "sick-check-says-no" >/dev/null'
check "no container, health-check timer or wait process of it is left" eval \
    '! u podman ps -a --format "{{.Names}}" | grep systemd-sick >/dev/null && [ "$(u systemctl --user list-timers --all --no-legend | grep -c "[0-9a-f]\{64\}\.timer")" = 1 ] && ! sb exec pgrep -f "rootlet-health-wait systemd-sick" >/dev/null && [ -z "$(sb exec sh -c "cat /sys/fs/cgroup/user.slice/user-1500.slice/user@1500.service/app.slice/sick.service/cgroup.procs 2>/dev/null")" ]' \
    || { u podman ps -a; u systemctl --user list-timers --all; }

echo "== systemctl --user restart db.service, 10 times in a row"
: > "$W/restarts"
for _ in $(seq 10); do
    t=$EPOCHREALTIME
    msg=$(timeout 120 "$SANDBOX" user systemctl --user restart db.service </dev/null 2>&1); rc=$?
    printf '%s %.1f %s %s\n' "$rc" "$(awk "BEGIN{print $EPOCHREALTIME-$t}")" "$(health systemd-db 2>&1)" "$(echo "$msg" | head -1)" >> "$W/restarts"
done
echo "MEASURED restarts (rc seconds health): $(awk '{print $1"/"$2"s/"$3}' "$W/restarts" | tr '\n' ' ')"
check "all 10 restarts succeeded, each taking >= 9 s (it waited for healthy), healthy after each" \
    eval '[ "$(awk '"'"'$1 == 0 && $2 >= 9 && $3 == "healthy"'"'"' "$W/restarts" | wc -l)" = 10 ]' || cat "$W/restarts"
check "db.service and app.service active" eval 'is active db.service && within 60 is active app.service'
check "never refused by the start limit" eval '! u journalctl --user --no-pager | grep "repeated too quickly.*db.service\|db.service.*repeated too quickly" >/dev/null'
check "one health-check timer (db's), no wait process left" eval \
    '[ "$(u systemctl --user list-timers --all --no-legend | grep -c "[0-9a-f]\{64\}\.timer")" = 1 ] && ! sb exec pgrep -f rootlet-health-wait >/dev/null'

e2e_end
