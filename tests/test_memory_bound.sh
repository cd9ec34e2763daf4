#!/usr/bin/env bash
# tests/test_memory_bound.sh — issue 5: the peak memory of `rerank rerank` is bounded by the
# token budget, not by the number of pairs. bench/bench_memory.sh scores a 100,000-pair and a
# 1,000,000-pair synthetic SciFact run (1,000 and 10,000 queries x 100 documents, one
# 10,000-query file for both) with the tiny seeded model (tests/tools/make_tiny_model.py,
# max length 64, 1 thread) under /usr/bin/time -v, and this test requires
#   - the 1M-pair run's peak RSS within 10% of the 100k-pair run's (the words), and
#   - growth below 8 bytes per added pair (the whole-run candidates took ~55: with CUDA built
#     in, the start-up alone is ~200 MB of library pages, which makes 10% a loose bound).
# Both fail with the candidates held in memory (measured before the streaming reader:
# 249.9 vs 298.1 MB, ratio 1.193, 55 bytes per pair). About 2.5 minutes on 2 cores.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them), python3, /usr/bin/time.
set -u
[ -x /usr/bin/time ] || { echo "SKIPPED: no /usr/bin/time (GNU time)"; exit 77; }
BENCH_MAX_RATIO=1.10 BENCH_MAX_GROWTH=8 BENCH_PAIRS="100000 1000000" BENCH_THREADS=1 BENCH_MODEL=tiny \
  bash "${RR_REPO_DIR:?}/bench/bench_memory.sh"
rc=$?
case $rc in 0) echo "ok   peak RSS bounded" ;; 77) echo "SKIPPED" ;; *) echo "FAIL peak RSS grows with the number of pairs (exit $rc)" ;; esac
exit $rc
