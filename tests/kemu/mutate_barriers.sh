#!/usr/bin/env bash
# tests/kemu/mutate_barriers.sh — can racecheck on kemu see a missing barrier?
#
# Removes each __syncthreads() and __syncwarp() of kernels/ in turn, from a scratch copy of the
# sources; builds kemu's module with ThreadSanitizer (RR_TSAN=ON: each CUDA thread a TSan fiber
# that only the barriers order, tests/kemu/kemu.cpp); runs the pass of test_cuda_ops that
# launches that kernel, on the odd-length shape; and prints, per barrier, whether TSan reported
# a race and between which two lines. By hand, about 10 minutes on 2 cores:
#   bash tests/kemu/mutate_barriers.sh
# Exit status 1 when a removal went unreported, except the barriers listed in QUIET below.
# Uses (and builds if needed) the TSan build of scripts/test.sh, build-tsan/ (RR_TSAN_BUILD).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${RR_TSAN_BUILD:-$REPO/build-tsan}"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
JOBS="$(nproc)"

# Barriers whose removal is no race in today's kernels, by a phrase of their line's comment:
# block_sum's first barrier guards red[] against the reads of an earlier call in the same
# kernel, and no kernel calls it twice.
QUIET=("red may still be read by a previous call")

# the pass of test_cuda_ops (its header) that runs each file's kernels, and in which precision
pass_of() {
  case "$1" in
  kernels/attention_tc.cu) echo 2 ;;  # WMMA, bf16/fp16
  kernels/linear_gelu.cu) echo 3 ;;   # RR_CUDA_GELU_GEMM=fused, bf16/fp16
  *) echo 0 ;;                        # SIMT attention in fp32, mma.sync v4, LN, pooling
  esac
}

cfg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRR_CUDA=OFF -DRR_KEMU=ON -DRR_TSAN=ON "-DRR_CACHE_DIR=$CACHE")
cmake -S "$REPO" -B "$BUILD" "${cfg[@]}" >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target test_cuda_ops >/dev/null

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir "$SCRATCH/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
  tar -C "$SCRATCH/src" -xf -
cmake -S "$SCRATCH/src" -B "$SCRATCH/build" "${cfg[@]}" >/dev/null

missed=0
for f in $(cd "$REPO" && ls kernels/*.cu kernels/*.cuh); do
  pass="$(pass_of "$f")"
  for line in $(grep -n '__sync\(threads\|warp\)();' "$REPO/$f" | cut -d: -f1); do
    text="$(sed -n "${line}p" "$REPO/$f")"
    cp "$REPO/$f" "$SCRATCH/src/$f"
    sed -i "${line}s/__sync\(threads\|warp\)();/\/* removed *\//" "$SCRATCH/src/$f"
    cmake --build "$SCRATCH/build" -j"$JOBS" --target rerank_cuda_emu >"$SCRATCH/build.log" 2>&1 ||
      { cat "$SCRATCH/build.log"; exit 2; }
    log="$SCRATCH/run.log"
    rc=0
    OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" RR_TEST_QUICK=1 RR_TEST_SHAPES=0 \
      RR_TEST_PASSES="$pass" RR_CUDA_MODULE="$SCRATCH/build/librerank_cuda_emu.so" \
      "$BUILD/tests/test_cuda_ops" >"$log" 2>&1 || rc=$?
    cp "$REPO/$f" "$SCRATCH/src/$f"
    expected_quiet=0
    for q in "${QUIET[@]}"; do
      case "$text" in *"$q"*) expected_quiet=1 ;; esac
    done
    case "$rc" in
    66) where="$(grep -o 'kernels/[a-z_]*\.cu[h]*:[0-9]*' "$log" | head -2 | tr '\n' ' ')"
        echo "$f:$line (pass $pass): race reported between ${where}" ;;
    0) if [ "$expected_quiet" = 1 ]; then
         echo "$f:$line (pass $pass): no report, as expected (no race without this barrier today)"
       else
         echo "$f:$line (pass $pass): NOT REPORTED"
         missed=1
       fi ;;
    1) echo "$f:$line (pass $pass): no race reported, but the results are wrong (test_cuda_ops failed)"
       missed=1 ;;
    *) echo "$f:$line (pass $pass): test_cuda_ops exited $rc:"; tail -20 "$log"; exit 2 ;;
    esac
  done
done
exit "$missed"
