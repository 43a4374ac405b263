#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, starting from the committed seeds.
#   fuzz/run.sh [SECONDS] [TARGET...]        default: 20 seconds, every target
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`rustup toolchain
# install nightly`). New inputs go to fuzz/corpus/TARGET (not committed); a crash is saved in
# fuzz/artifacts/TARGET and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${secs} s"
    log="$(mktemp)"
    set +e
    cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E "^(Done|==[0-9]+==|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|thread .* panicked|Test unit written)" "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
    fi
    rm -f "$log"
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $t FAILED (status $status); the input is in fuzz/artifacts/$t" >&2
        exit "$status"
    fi
done
