#!/usr/bin/env bash
# scripts/build_demo_head.sh — build the demo's reranker into the cache, without torch:
# ${RR_CACHE:-~/.cache/rerank}/models/scifact-head = the all-MiniLM-L6-v2 trunk (frozen) + a
# classification head fitted by `rerank fit-head` on BEIR SciFact's *train* split (never the
# test split), with hard negatives from the dense first stage:
#   1. rerank index: the SciFact corpus with all-MiniLM-L6-v2, Flat inner product (kept in
#      $CACHE/work/scifact-head/index and reused);
#   2. rerank retrieve: the 809 train queries, top 100 -> train-dense.trec;
#   3. rerank fit-head: positives from qrels/train.tsv, the top $NEGATIVES non-relevant dense
#      candidates per query as negatives, logistic objective, L2 chosen on held-out train queries.
# Idempotent: the result carries a stamp of its inputs (weights, data, settings); a matching
# stamp means there is nothing to do. The model directory appears atomically (built beside
# it, then renamed). Needs build/rerank (with FAISS) and the MiniLM model from scripts/setup.sh.
# Environment: RR_CACHE, RR_BIN (default build/rerank), RR_DEVICE (cpu), RR_THREADS (all).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
BIN="${RR_BIN:-$REPO/build/rerank}"
MINILM="$CACHE/models/all-MiniLM-L6-v2"
OUT="$CACHE/models/scifact-head"
WORK="$CACHE/work/scifact-head"
DATA="$REPO/data/scifact"
NEGATIVES=10   # hard negatives per train query
MAX_LENGTH=256 # all-MiniLM-L6-v2's max_seq_length; rerank with the same
DEVICE="${RR_DEVICE:-cpu}"
THREADS=()
[ -n "${RR_THREADS:-}" ] && THREADS=(--threads "$RR_THREADS")
log() { echo "build_demo_head: $*" >&2; }

[ -x "$BIN" ] || { log "no $BIN: run scripts/setup.sh first"; exit 1; }
[ -f "$MINILM/model.safetensors" ] || { log "no $MINILM: run scripts/setup.sh first"; exit 1; }

stamp="scifact-head v1
trunk $(sha256sum "$MINILM/model.safetensors" | cut -d' ' -f1)
corpus $(sha256sum "$DATA/corpus.jsonl.gz" | cut -d' ' -f1)
queries $(sha256sum "$DATA/queries.jsonl.gz" | cut -d' ' -f1)
qrels $(sha256sum "$DATA/qrels/train.tsv" | cut -d' ' -f1)
fit split=train negatives=$NEGATIVES max_length=$MAX_LENGTH objective=logistic l2=auto"
if [ -f "$OUT/rerank-build.stamp" ] && [ "$(cat "$OUT/rerank-build.stamp")" = "$stamp" ]; then
  log "$OUT is up to date"
  exit 0
fi

t0=$(date +%s)
mkdir -p "$WORK"
if [ ! -f "$WORK/index/meta.json" ]; then
  log "1/3 indexing SciFact with all-MiniLM-L6-v2 (Flat, ip) -> $WORK/index"
  rm -rf "$WORK/index"
  "$BIN" index --corpus "$DATA/corpus.jsonl.gz" --model "$MINILM" --out "$WORK/index" --factory Flat \
    --metric ip --device "$DEVICE" "${THREADS[@]}"
else
  log "1/3 reusing $WORK/index"
fi
log "2/3 retrieving the train queries (top 100)"
"$BIN" retrieve --index "$WORK/index" --queries "$DATA/queries.jsonl.gz" --qrels "$DATA/qrels/train.tsv" \
  --k 100 --output "$WORK/train-dense.trec" --tag minilm-flat --device "$DEVICE" "${THREADS[@]}"
log "3/3 fitting the head on the train split"
rm -rf "$WORK/scifact-head.new"
"$BIN" fit-head --model "$MINILM" --dataset "$DATA" --split train --candidates "$WORK/train-dense.trec" \
  --negatives "$NEGATIVES" --max-length "$MAX_LENGTH" --objective logistic --output "$WORK/scifact-head.new" \
  --device "$DEVICE" "${THREADS[@]}"
printf '%s\n' "$stamp" >"$WORK/scifact-head.new/rerank-build.stamp"
rm -rf "$OUT.old"
[ -e "$OUT" ] && mv "$OUT" "$OUT.old"
mkdir -p "$(dirname "$OUT")"
mv "$WORK/scifact-head.new" "$OUT"
rm -rf "$OUT.old"
log "ready: $OUT ($(($(date +%s) - t0)) s)"
