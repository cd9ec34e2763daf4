#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, from a fresh machine:
#   setup (packages, model cache, Release build with CUDA compiled when nvcc exists),
#   ctest on the Release build (labels cpu, model; gpu tests skip without a device),
#   the bounded subset of the slow tests (label slow_ci: test_resume_100k, about a minute),
#   then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer (both runs take the
#   GPU tests on kemu, the CUDA module built for the CPU: label emu, tests/kemu/),
#   then ThreadSanitizer: test_chunks (the tokenizer worker thread beside the passes) and
#   racecheck of the kernels on kemu (test_cuda_ops_emu, a bounded set),
#   then each fuzz target briefly (scripts/fuzz.sh).
# RR_TEST_SANITIZE=0 skips the sanitizer passes (ASan+UBSan and TSan), RR_TEST_SLOW=0 the slow
# subset, RR_TEST_FUZZ=0 the fuzzing (all slow tests: ctest --test-dir build -L slow); extra
# args go to ctest (e.g. -L cpu).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"

JOBS="$(nproc)"
# ctest runs $JOBS tests at once and each starts $JOBS OpenMP threads (ours, OpenBLAS's): threads
# that spin while they wait take the cores from the other tests (measured, two tests side by side
# on 2 cores: 250 -> 238 s and 80 -> 62 s). What sleeping waits cost a test run alone (slow_ci) was
# not measured.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
# OpenBLAS picks its kernels when it loads, and takes a CPU it does not know for a Prescott (SSE3)
# core: Debian's 0.3.21 does so on this project's machines (Xeon model 207). Its products are
# FAISS's and, in the kemu tests, cuBLAS's (OpenBLAS computes them on the host): there its Prescott
# kernels were 38% of test_chunks_cuda_emu. When OpenBLAS falls back so on a CPU with AVX-512 or
# AVX2, name the core it would use (test_chunks cuda: 65 -> 42 s). The results stay within every
# test's tolerance; a core the user named is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
  core="$( (OPENBLAS_VERBOSE=2 "$REPO/build/rerank" --version 2>&1 >/dev/null || true) | sed -n 's/^Core: //p')"
  flags=" $(grep -m1 '^flags' /proc/cpuinfo || true) " # (x86 only: other CPUs have no flags line)
  has() { for f in "$@"; do case "$flags" in *" $f "*) ;; *) return 1 ;; esac; done; }
  if [ "$core" = Prescott ]; then
    if has avx512f avx512bw avx512dq avx512vl avx512cd; then export OPENBLAS_CORETYPE=SkylakeX
    elif has avx2 fma; then export OPENBLAS_CORETYPE=Haswell
    fi
    if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
      echo "test: OpenBLAS took this CPU for a Prescott core; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" >&2
    fi
  fi
fi
echo "== ctest: Release build" >&2
ctest --test-dir "$REPO/build" --output-on-failure -j"$JOBS" -LE slow "$@"
if [ "${RR_TEST_SLOW:-1}" != 0 ]; then
  echo "== ctest: the slow tests CI runs (label slow_ci), Release build" >&2
  ctest --test-dir "$REPO/build" --output-on-failure -L slow_ci "$@"
fi

if [ "${RR_TEST_SANITIZE:-1}" != 0 ]; then
  echo "== ctest: ASan + UBSan build" >&2
  BUILD_DIR="$REPO/build-asan" BUILD_TYPE=RelWithDebInfo \
    CMAKE_ARGS="-DRR_SANITIZE=ON -DRR_CUDA=OFF -DRR_KEMU=ON" "$REPO/scripts/setup.sh"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$REPO/build-asan" --output-on-failure -j"$JOBS" -LE slow "$@"

  # ThreadSanitizer, two ways. The one place the library runs its own threads: model/encode.c's
  # tokenizer worker beside the passes of the main thread (test_chunks: several chunk
  # schedules, a failing item in a later chunk, cancellation). And racecheck for the kernels:
  # kemu's module built with TSan, each GPU thread a TSan fiber ordered only by __syncthreads
  # and __syncwarp (tests/kemu/kemu.cpp, "ThreadSanitizer"), on a bounded set of test_cuda_ops
  # (tests/emu.cmake; about 3 minutes). One OpenMP thread: libgomp is not instrumented, so
  # TSan would take its barriers for races.
  echo "== ThreadSanitizer: test_chunks; kernels on kemu (test_cuda_ops_emu)" >&2
  cmake -S "$REPO" -B "$REPO/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRR_CUDA=OFF -DRR_KEMU=ON \
    -DRR_TSAN=ON -DRR_CACHE_DIR="${RR_CACHE:-$HOME/.cache/rerank}" >/dev/null
  cmake --build "$REPO/build-tsan" -j"$JOBS" --target test_chunks test_cuda_ops rerank_cuda_emu
  OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
    ctest --test-dir "$REPO/build-tsan" --output-on-failure -j"$JOBS" -R '^(test_chunks|test_cuda_ops_emu)$'
fi

# Fuzzing, briefly (the long campaigns are recorded in tests/fuzz/README.md): every libFuzzer
# target for RR_FUZZ_SECONDS (15) under ASan + UBSan. RR_TEST_FUZZ=0 skips it.
if [ "${RR_TEST_FUZZ:-1}" != 0 ]; then
  echo "== fuzz: each target ${RR_FUZZ_SECONDS:-15}s (scripts/fuzz.sh)" >&2
  "$REPO/scripts/fuzz.sh" "${RR_FUZZ_SECONDS:-15}"
fi
