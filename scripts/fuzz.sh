#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a fixed time each and prints, per target, the
# executions and whether it found a crash (saved under fuzz/artifacts/TARGET/).
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (default: 300 s, every target)
# Needs a nightly toolchain and cargo-fuzz. Built unoptimised with overflow checks and without a
# sanitizer (the code under test is safe Rust: what a fuzzer finds here is a panic), and without
# debug info, which keeps the build to minutes and under 1.5 GB. Each target's corpus grows in
# fuzz/corpus/TARGET, starting from fuzz/seeds/TARGET.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0
flags=(--dev -s none)
cargo +nightly fuzz build "${flags[@]}" || exit 1
status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  log=$(mktemp)
  cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1
  code=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(find "corpus/$target" -type f | wc -l)
  if [ "$code" -eq 0 ]; then
    echo "$target: ${runs:-?} executions in ${seconds} s, corpus $corpus, no crash"
  else
    status=1
    echo "$target: crash after ${runs:-?} executions (exit $code); input under fuzz/artifacts/$target/:"
    grep -E 'panicked|SUMMARY|Test unit written' "$log" | head -5
  fi
  rm -f "$log"
done
exit $status
