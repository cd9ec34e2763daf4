#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, from a fresh machine:
#   setup (packages, model cache, Release build with CUDA compiled when nvcc exists),
#   ctest on the Release build (labels cpu, model; gpu tests skip without a device),
#   the bounded subset of the slow tests (label slow_ci: test_resume_100k, about a minute),
#   then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
#   then each fuzz target briefly (scripts/fuzz.sh).
# RR_TEST_SANITIZE=0 skips the sanitizer pass, RR_TEST_SLOW=0 the slow subset, RR_TEST_FUZZ=0
# the fuzzing (all slow tests: ctest --test-dir build -L slow); extra args go to
# ctest (e.g. -L cpu).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"

JOBS="$(nproc)"
echo "== ctest: Release build" >&2
ctest --test-dir "$REPO/build" --output-on-failure -j"$JOBS" -LE slow "$@"
if [ "${RR_TEST_SLOW:-1}" != 0 ]; then
  echo "== ctest: the slow tests CI runs (label slow_ci), Release build" >&2
  ctest --test-dir "$REPO/build" --output-on-failure -L slow_ci "$@"
fi

if [ "${RR_TEST_SANITIZE:-1}" != 0 ]; then
  echo "== ctest: ASan + UBSan build" >&2
  BUILD_DIR="$REPO/build-asan" BUILD_TYPE=RelWithDebInfo \
    CMAKE_ARGS="-DRR_SANITIZE=ON -DRR_CUDA=OFF" "$REPO/scripts/setup.sh"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$REPO/build-asan" --output-on-failure -j"$JOBS" -LE slow "$@"
fi

# Fuzzing, briefly (the long campaigns are recorded in tests/fuzz/README.md): every libFuzzer
# target for RR_FUZZ_SECONDS (15) under ASan + UBSan. RR_TEST_FUZZ=0 skips it.
if [ "${RR_TEST_FUZZ:-1}" != 0 ]; then
  echo "== fuzz: each target ${RR_FUZZ_SECONDS:-15}s (scripts/fuzz.sh)" >&2
  "$REPO/scripts/fuzz.sh" "${RR_FUZZ_SECONDS:-15}"
fi
