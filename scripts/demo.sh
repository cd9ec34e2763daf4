#!/usr/bin/env bash
# scripts/demo.sh — the main job on the embedded default: `rerank run configs/demo.yaml` over
# the SciFact copy shipped in data/scifact (first stage all-MiniLM-L6-v2 + Flat index, rerank
# with the fitted demo head, eval of both stages). Output: runs/demo/ (summary.txt is printed
# at the end). Arguments go to `rerank run` (e.g. --set rerank.top_n=100, --resume).
#
# First run on a fresh machine: setup (packages, model, FAISS, build; ~10 min on 2 cores),
# then the demo head (scripts/build_demo_head.sh: index SciFact, fit the head on the train
# split; ~15 min on 2 cores, once: cached in ~/.cache/rerank), then the run itself (~5 min on
# 2 cores; seconds on a GPU). Later runs reuse everything that is cached.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
"$REPO/scripts/build_demo_head.sh"
exec "$REPO/build/rerank" run "$REPO/configs/demo.yaml" "$@"
