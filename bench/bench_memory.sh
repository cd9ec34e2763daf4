#!/usr/bin/env bash
# bench/bench_memory.sh — peak memory of `rerank rerank` against the number of candidate pairs
# (issue 5: "bounded by the token budget, not by the number of pairs").
#
# Builds, from the shipped SciFact (data/scifact), a queries file of 10,000 synthetic query
# ids (s00000 .. s09999, texts copied round robin from SciFact's 1,109 queries) and one
# candidate run per size in BENCH_PAIRS: the first PAIRS/100 queries x 100 distinct SciFact
# documents each, grouped by query as first stages write them. Every run uses the same
# corpus and the same queries file, so only the run's size changes. Each run is
# `rerank rerank` under /usr/bin/time -v; prints peak RSS (MB), wall time and pairs/s per
# size, and the ratio of the last size's peak RSS to the first's.
#
# Environment (all optional):
#   RR_BIN            the binary (default: build/rerank)
#   RR_MODELS_DIR     models (default: ~/.cache/rerank/models)
#   BENCH_MODEL       tiny (default: tests/tools/make_tiny_model.py's seeded hidden-32 model)
#                     or a cross-encoder directory (e.g. $RR_MODELS_DIR/test-cross-encoder)
#   BENCH_PAIRS       sizes, multiples of 100 up to 1,000,000 (default "100000 1000000")
#   BENCH_THREADS     --threads (default 1)
#   BENCH_MAX_LENGTH  --max-length (default 64 for tiny, the model's own otherwise)
#   BENCH_STOP_AFTER  seconds: SIGTERM each run after this long (for a real model, whose 1M
#                     pairs take hours on 2 cores; the candidates are read before the first
#                     pass, so a stopped run shows their memory; default: run to the end)
#   BENCH_MAX_RATIO   exit 1 when last/first peak RSS exceeds it (e.g. 1.10; for the test)
#   BENCH_MAX_GROWTH  exit 1 when the peak RSS grows by more than this many bytes per added
#                     pair between the first and the last size (for the test)
#   BENCH_WORK        scratch directory (default: a new one, removed at the end)
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RR_BIN:-$REPO/build/rerank}"
MODELS="${RR_MODELS_DIR:-$HOME/.cache/rerank/models}"
MODEL="${BENCH_MODEL:-tiny}"
PAIRS="${BENCH_PAIRS:-100000 1000000}"
THREADS="${BENCH_THREADS:-1}"
DATA="$REPO/data/scifact"
[ -x "$BIN" ] || { echo "bench_memory: no $BIN (build first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_memory: needs /usr/bin/time (GNU time)" >&2; exit 2; }
if [ -n "${BENCH_WORK:-}" ]; then W="$BENCH_WORK"; mkdir -p "$W"; CLEAN=0; else W="$(mktemp -d)"; CLEAN=1; fi
trap '[ "$CLEAN" = 1 ] && rm -rf "$W"' EXIT

if [ "$MODEL" = tiny ]; then
  [ -f "$MODELS/all-MiniLM-L6-v2/vocab.txt" ] || { echo "bench_memory: no $MODELS/all-MiniLM-L6-v2 (scripts/setup.sh)" >&2; exit 77; }
  python3 "$REPO/tests/tools/make_tiny_model.py" "$W/tiny" "$MODELS/all-MiniLM-L6-v2" >/dev/null || exit 1
  MODEL="$W/tiny"
  MAXLEN="${BENCH_MAX_LENGTH:-64}"
else
  MAXLEN="${BENCH_MAX_LENGTH:-0}"
fi

python3 - "$DATA" "$W" $PAIRS <<'PY' || exit 1
import gzip, json, sys
data, w, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
per, nq = 100, 10000
docs = [json.loads(l)["_id"] for l in gzip.open(f"{data}/corpus.jsonl.gz", "rt", encoding="utf-8")]
texts = [json.loads(l)["text"] for l in gzip.open(f"{data}/queries.jsonl.gz", "rt", encoding="utf-8")]
with open(f"{w}/queries.jsonl", "w", encoding="utf-8") as f:
    for i in range(nq):
        f.write(json.dumps({"_id": f"s{i:05d}", "text": texts[i % len(texts)]}) + "\n")
for size in sizes:
    assert size % per == 0 and size // per <= nq, size
    with open(f"{w}/run-{size}.trec", "w") as f:
        for i in range(size // per):
            start = (i * 7919) % len(docs)  # 100 consecutive documents from a query's own start
            for j in range(per):
                f.write(f"s{i:05d} Q0 {docs[(start + j) % len(docs)]} {j + 1} {per - j} synth\n")
PY

echo "bench_memory: $("$BIN" --version 2>/dev/null | head -1) model $MODEL, $THREADS thread(s), max length $MAXLEN, $(nproc) cores"
# the process's start-up alone (shared libraries: with CUDA built in, cuBLAS/cuBLASLt pages)
base=$(/usr/bin/time -f %M "$BIN" --version 2>&1 >/dev/null | tail -1)
echo "start-up (rerank --version): $(echo "$base / 1024" | bc -l | xargs printf '%.1f') MB peak RSS"
printf '%10s %9s %12s %14s %9s %9s %s\n' pairs queries "peak RSS MB" "above start-up" "wall s" "pairs/s" exit
first="" last="" first_pairs="" last_pairs=""
for size in $PAIRS; do
  rm -f "$W/out.run" "$W/out.run.journal"
  cmd=("$BIN" rerank --model "$MODEL" --run "$W/run-$size.trec" --corpus "$DATA/corpus.jsonl.gz"
       --queries "$W/queries.jsonl" --output "$W/out.run" --top-n 100 --max-length "$MAXLEN"
       --threads "$THREADS" --quiet)
  [ -n "${BENCH_STOP_AFTER:-}" ] && cmd=(timeout -s TERM "$BENCH_STOP_AFTER" "${cmd[@]}")
  /usr/bin/time -v "${cmd[@]}" >"$W/log-$size" 2>&1
  rc=$?
  kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$W/log-$size")
  wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/log-$size" |
         awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
  if [ -z "$kb" ]; then echo "bench_memory: no measurement for $size pairs:"; cat "$W/log-$size"; exit 1; fi
  if [ -n "${BENCH_STOP_AFTER:-}" ]; then rate="-"
  elif [ "$rc" != 0 ]; then echo "bench_memory: $size pairs failed (exit $rc):"; tail -5 "$W/log-$size"; exit 1
  else rate=$(awk -v p="$size" -v s="$wall" 'BEGIN { printf "%.0f", (s > 0 ? p / s : 0) }'); fi
  printf '%10s %9s %12.1f %14.1f %9s %9s %s\n' "$size" $((size / 100)) "$(echo "$kb / 1024" | bc -l)" \
    "$(echo "($kb - $base) / 1024" | bc -l)" "$wall" "$rate" "$rc"
  [ -z "$first" ] && first=$kb first_pairs=$size
  last=$kb last_pairs=$size
done
rm -f "$W/out.run" "$W/out.run.journal"
ratio=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b / a }')
echo "peak RSS ratio, largest / smallest run: $ratio (above start-up: $(awk -v a="$first" -v b="$last" -v s="$base" \
  'BEGIN { printf "%.3f", (b - s) / (a - s) }'))"
growth=$(awk -v a="$first" -v b="$last" -v p="$first_pairs" -v q="$last_pairs" \
  'BEGIN { printf "%.1f", (q > p ? (b - a) * 1024 / (q - p) : 0) }')
echo "peak RSS growth: $growth bytes per added pair"
status=0
if [ -n "${BENCH_MAX_GROWTH:-}" ] && awk -v g="$growth" -v m="$BENCH_MAX_GROWTH" 'BEGIN { exit !(g > m) }'; then
  echo "bench_memory: growth $growth bytes per pair exceeds $BENCH_MAX_GROWTH"; status=1
fi
if [ -n "${BENCH_MAX_RATIO:-}" ] && awk -v r="$ratio" -v m="$BENCH_MAX_RATIO" 'BEGIN { exit !(r > m) }'; then
  echo "bench_memory: ratio $ratio exceeds $BENCH_MAX_RATIO"; status=1
fi
exit $status
