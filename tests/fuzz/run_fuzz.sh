#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh BIN NAME — run one libFuzzer target for RR_FUZZ_SECONDS (default 20)
# over a scratch corpus seeded from tests/fuzz/corpus/NAME and tests/fuzz/regressions/NAME
# (both read-only here; new inputs go to ./fuzz-work/NAME/corpus). A crash, leak, sanitizer
# report or timeout fails the run and leaves the input in ./fuzz-work/NAME/ — copy it into
# tests/fuzz/regressions/NAME/ once fixed, so every build replays it (fuzz_regress_NAME).
# Prints the executions count and rate from libFuzzer's final statistics.
set -euo pipefail
BIN=$1 NAME=$2
SECS=${RR_FUZZ_SECONDS:-20}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${RR_FUZZ_WORK:-$PWD/fuzz-work}/$NAME"
mkdir -p "$WORK/corpus" "$HERE/regressions/$NAME"
LOG="$WORK/log.txt"
set +e
"$BIN" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$WORK/" \
  "$WORK/corpus" "$HERE/corpus/$NAME" "$HERE/regressions/$NAME" > "$LOG" 2>&1
rc=$?
set -e
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG" | grep -oE '[0-9]+$' || echo '?')
rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$LOG" | grep -oE '[0-9]+$' || echo '?')
echo "fuzz_$NAME: ${SECS}s, $execs executions ($rate/s), exit $rc; corpus $(ls "$WORK/corpus" | wc -l) inputs"
if [ "$rc" != 0 ]; then
  tail -60 "$LOG"
  ls -la "$WORK" | grep -E 'crash-|leak-|timeout-|oom-' || true
fi
exit "$rc"
