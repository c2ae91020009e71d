#!/bin/bash
# Benchmark of rootlet-wait-online beside quadlet's reference shell loop, both run as user
# units of a real systemd 252 (booted in the e2e sandbox), in the same boot:
#   1. reaction: time from network-online.target turning active to each wait finishing
#      (the target is held back by a system unit for HOLD seconds);
#   2. cost: CPU used by each waiting unit, scaled to a minute of waiting, and peak memory
#      (GNU time's maximum RSS: of the helper, and of the largest process of the loop);
#   3. never pulled in: a boot where nothing pulls network-online.target in but a default
#      route exists: how long each wait takes (the reference's own limit is 90 s;
#      BENCH_FULL=1 waits for it, otherwise it is reported as still waiting after LIMIT s).
# Needs root. Usage: scripts/bench-wait.sh [RUNS]   (HOLD=10 LIMIT=15 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${1:-3}; HOLD=${HOLD:-10}; LIMIT=${LIMIT:-15}
. tests/e2e/sandbox-lib.sh
need_sandbox
cargo build --release -q --bin rootlet-wait-online
E2E_NAME=$(e2e_name bench-wait); export E2E_NAME
PROV=$(mktemp -d -t rootlet-bench-prov.XXXXXX)
trap 'sb shutdown >/dev/null 2>&1 && sb clean >/dev/null 2>&1; rm -rf "$PROV"' EXIT
# The binary's path reaches the provisioning through its environment (it may hold spaces);
# $HOLD is a number, pasted in.
export E2E_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release
case $HOLD in ''|*[!0-9.]*) echo "HOLD must be a number of seconds" >&2; exit 2 ;; esac

cat > "$PROV/provision.sh" <<PROVISION
set -e
R=\$ROOT
install -m755 "\$E2E_BIN/rootlet-wait-online" \$R/usr/local/bin/
if [ "\${BENCH_MODE}" = hold ]; then
    cat > \$R/etc/systemd/system/hold-online.service <<'EOT'
[Unit]
Description=Hold network-online.target back (benchmark)
DefaultDependencies=no
Before=network-online.target
[Service]
Type=oneshot
ExecStart=/bin/sleep $HOLD
[Install]
WantedBy=network-online.target
EOT
    mkdir -p \$R/etc/systemd/system/network-online.target.wants \$R/etc/systemd/system/multi-user.target.wants
    ln -sf ../hold-online.service \$R/etc/systemd/system/network-online.target.wants/
    ln -sf /lib/systemd/system/network-online.target \$R/etc/systemd/system/multi-user.target.wants/
else
    # Nothing pulls network-online.target in; a default route exists (veth in the
    # sandbox's own network namespace).
    rm -f \$R/etc/systemd/system/*.wants/network-online.target
    for u in \$(grep -l 'network-online.target' \$R/etc/systemd/system/*.wants/* 2>/dev/null); do rm -f "\$u"; done
    ip link add veth0 type veth peer name veth1
    ip addr add 192.0.2.2/24 dev veth0
    ip link set veth1 up; ip link set veth0 up
    ip route add default via 192.0.2.1 dev veth0
fi
install -d \$R/etc/systemd/user/default.target.wants
cat > \$R/etc/systemd/user/bench-rootlet.service <<'EOT'
[Service]
Type=oneshot
RemainAfterExit=yes
CPUAccounting=yes
ExecStart=/usr/bin/time -f 'peak-rss-kib %%M' /usr/local/bin/rootlet-wait-online
EOT
cat > \$R/etc/systemd/user/bench-reference.service <<'EOT'
[Service]
Type=oneshot
RemainAfterExit=yes
CPUAccounting=yes
TimeoutStartSec=90s
ExecStart=/usr/bin/time -f 'peak-rss-kib %%M' /bin/sh -c 'until systemctl is-active network-online.target; do sleep 0.5; done'
EOT
ln -sf ../bench-rootlet.service ../bench-reference.service \$R/etc/systemd/user/default.target.wants/ 2>/dev/null || {
    ln -sf ../bench-rootlet.service \$R/etc/systemd/user/default.target.wants/bench-rootlet.service
    ln -sf ../bench-reference.service \$R/etc/systemd/user/default.target.wants/bench-reference.service; }
PROVISION

prop() { sb user systemctl --user show -P "$1" "$2"; }
ms() { awk "BEGIN{printf \"%.1f\", ($1)/1000}"; }

echo "rootlet-wait-online beside the reference loop, systemd $(systemctl --version | awk 'NR==1{print $2}'), HOLD=${HOLD}s, $RUNS boots"
declare -a R_REACT=() Q_REACT=() R_CPU=() Q_CPU=() R_RSS=() Q_RSS=()
# Peak RSS from the unit's journal (the line may take a moment to get there).
rss() { local v=0; for _ in $(seq 25); do
        v=$(sb user journalctl --user -u "$1" -o cat --no-pager 2>/dev/null | awk '/^peak-rss-kib/{v=$2} END{print v+0}')
        [ "$v" != 0 ] && break; sleep 0.2; done; echo "$v"; }
for i in $(seq "$RUNS"); do
    BENCH_MODE=hold E2E_PROVISION=$PROV/provision.sh sb boot 2>/dev/null
    sb wait-user >/dev/null 2>&1 || true
    for _ in $(seq 200); do
        [ "$(prop ActiveState bench-reference.service)" = active ] && [ "$(prop ActiveState bench-rootlet.service)" = active ] && break
        sleep 0.1
    done
    tn=$(sb exec systemctl show -P ActiveEnterTimestampMonotonic network-online.target)
    tr=$(prop ExecMainExitTimestampMonotonic bench-rootlet.service)
    tq=$(prop ExecMainExitTimestampMonotonic bench-reference.service)
    sr=$(prop ExecMainStartTimestampMonotonic bench-rootlet.service)
    sq=$(prop ExecMainStartTimestampMonotonic bench-reference.service)
    cr=$(prop CPUUsageNSec bench-rootlet.service); cq=$(prop CPUUsageNSec bench-reference.service)
    R_REACT+=($((tr - tn))); Q_REACT+=($((tq - tn)))
    # CPU per minute of waiting, in ms
    R_CPU+=("$(awk "BEGIN{printf \"%.1f\", $cr/1e6 * 60e6/($tr-$sr)}")")
    Q_CPU+=("$(awk "BEGIN{printf \"%.1f\", $cq/1e6 * 60e6/($tq-$sq)}")")
    R_RSS+=("$(rss bench-rootlet.service)"); Q_RSS+=("$(rss bench-reference.service)")
    printf 'boot %d: reaction rootlet %s ms, reference %s ms; CPU/min rootlet %s ms, reference %s ms; peak RSS rootlet %s KiB, reference %s KiB\n' \
        "$i" "$(ms $((tr - tn)))" "$(ms $((tq - tn)))" "${R_CPU[-1]}" "${Q_CPU[-1]}" "${R_RSS[-1]}" "${Q_RSS[-1]}"
    sb shutdown >/dev/null 2>&1
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
mr=$(median "${R_REACT[@]}"); mq=$(median "${Q_REACT[@]}")
echo "reaction after network-online.target turns active (median): rootlet $(ms "$mr") ms, reference $(ms "$mq") ms ($(awk "BEGIN{printf \"%.0f\", $mq/($mr>0?$mr:1)}")x)"
echo "CPU per minute of waiting (median): rootlet $(median "${R_CPU[@]}") ms, reference $(median "${Q_CPU[@]}") ms"
echo "peak RSS (median): rootlet $(median "${R_RSS[@]}") KiB, reference $(median "${Q_RSS[@]}") KiB (largest process of the loop)"

BENCH_MODE=never E2E_PROVISION=$PROV/provision.sh sb boot 2>/dev/null
sb wait-user >/dev/null 2>&1 || true
limit=$LIMIT; [ "${BENCH_FULL:-0}" = 1 ] && limit=100
for _ in $(seq $((limit * 10))); do
    [ "$(prop ActiveState bench-rootlet.service)" != activating ] && [ "$(prop ActiveState bench-reference.service)" != activating ] && break
    sleep 0.1
done
dur() { local s e st; s=$(prop ExecMainStartTimestampMonotonic "$1"); e=$(prop ExecMainExitTimestampMonotonic "$1"); st=$(prop ActiveState "$1")
        if [ "$st" = activating ]; then echo "still waiting after ${limit} s"; else echo "$(ms $((e - s))) ms ($st)"; fi; }
echo "network-online.target never pulled in, default route up: rootlet $(dur bench-rootlet.service), reference $(dur bench-reference.service)"
echo "why (rootlet's journal line): $(sb user journalctl --user -u bench-rootlet.service -o cat --no-pager 2>/dev/null | grep -m1 -E 'never|route' || true)"
sb shutdown >/dev/null 2>&1
