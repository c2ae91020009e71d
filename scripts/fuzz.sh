#!/bin/bash
# Bounded fuzzing of every target: scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The stable toolchain is used with
# RUSTC_BOOTSTRAP=1 for the sanitizer flags. Reports executions per target; a crash is
# copied to fuzz/regressions/TARGET/, which `cargo test --test it fuzz_corpus::` replays.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(unit_parse exec_split translate)
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
fail=0
for t in "${targets[@]}"; do
    log=$(mktemp)
    if cargo fuzz run -O "$t" -- -max_total_time="$secs" -max_len=4096 >"$log" 2>&1; then
        echo "$t: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | sed 's/ second/ s/'), no crash"
    else
        fail=1
        echo "$t: CRASH"; grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
        mkdir -p "regressions/$t"; cp -v artifacts/"$t"/crash-* "regressions/$t/" 2>/dev/null || true
    fi
    rm -f "$log"
done
exit $fail
