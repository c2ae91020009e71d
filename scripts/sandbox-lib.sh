# Sourced by the scripts that boot a real systemd: finds the sandbox (the verified recipe in
# ../shared/reference/e2e-sandbox/, else tests/e2e/sandbox.sh; SANDBOX= overrides) and
# gives them `sb`, `check` and `within`. Sets PASS and FAIL.
SANDBOX=${SANDBOX:-}
for s in ../shared/reference/e2e-sandbox/sandbox.sh tests/e2e/sandbox.sh; do
    [ -z "$SANDBOX" ] && [ -x "$s" ] && SANDBOX=$PWD/$s
done
skip() { echo "!! SKIPPED LOUDLY: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
need_sandbox() {
    [ -n "$SANDBOX" ] || skip "no sandbox.sh (../shared/reference/e2e-sandbox/ or tests/e2e/)"
    [ "$(id -u)" = 0 ] || skip "needs root"
}
# Every sandbox command with stdin from /dev/null (a waiting nsenter once kept PID 1 alive).
sb() { "$SANDBOX" "$@" </dev/null; }
PASS=0; FAIL=0
# check NAME CMD...: one PASS/FAIL line with the time it took.
check() { local name=$1; shift; local t0=$EPOCHREALTIME out
    if out=$("$@" 2>&1); then PASS=$((PASS+1)); printf 'PASS %s (%.1fs)\n' "$name" "$(awk "BEGIN{print $EPOCHREALTIME-$t0}")"
    else FAIL=$((FAIL+1)); echo "FAIL $name: $out"; return 1; fi; }
# within SECONDS CMD...: retry until it succeeds.
within() { local s=$1; shift; local i; for i in $(seq $((s * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; "$@"; }
