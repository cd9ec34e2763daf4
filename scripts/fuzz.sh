#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [ctest args] — build the libFuzzer targets (clang, ASan + UBSan,
# build-fuzz/) and run each for SECONDS (default $RR_FUZZ_SECONDS, else 20). scripts/test.sh
# runs it with a short budget; for a long campaign: scripts/fuzz.sh 600 -R fuzz_trec
# The targets and what they cover: tests/fuzz/ (fuzz_util.h); crashes land in
# build-fuzz/tests/fuzz-work/NAME/ (see tests/fuzz/run_fuzz.sh).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS="${1:-${RR_FUZZ_SECONDS:-20}}"
[ $# -gt 0 ] && shift
BUILD="${RR_FUZZ_BUILD:-$REPO/build-fuzz}"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
command -v clang >/dev/null || { echo "fuzz: clang not found (scripts/setup.sh installs it)" >&2; exit 1; }
CC=clang cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRR_FUZZ=ON -DRR_SANITIZE=ON \
  -DRR_CUDA=OFF -DRR_NATIVE=OFF -DRR_CACHE_DIR="$CACHE" >/dev/null
targets=$(sed -n 's/^set(RR_FUZZ_TARGETS \(.*\))$/\1/p' "$REPO/tests/fuzz.cmake")
cmake --build "$BUILD" -j"$(nproc)" --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done)
rc=0
RR_FUZZ_SECONDS="$SECS" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$BUILD" -L fuzz --output-on-failure -V "$@" > "$BUILD/fuzz-ctest.log" 2>&1 || rc=$?
grep -E '^[0-9]+: fuzz_[a-z_]+: [0-9]+s|tests passed|tests failed|\*\*\*Failed' "$BUILD/fuzz-ctest.log" || true
if [ "$rc" != 0 ]; then
  grep -E -A40 '^[0-9]+: (==[0-9]+==ERROR|.*runtime error|.*ALARM|.*deadly signal)' "$BUILD/fuzz-ctest.log" | head -80 >&2 || true
  echo "fuzz: failures; full log $BUILD/fuzz-ctest.log, inputs in $BUILD/tests/fuzz-work/" >&2
fi
exit "$rc"
