#!/usr/bin/env bash
# bench/bench_update_ivf.sh — `rerank index --update --corpus` of an IVF index: the time to copy
# the stored vectors of the kept documents, which grows with the index.
#
# A synthetic corpus of BENCH_DOCS documents (SciFact's texts, cut to 120 characters, under new
# ids) is embedded with the tiny seeded model (tests/tools/make_tiny_model.py: 32-dimensional
# vectors, so the embedding is cheap and the copy shows) into a Flat index, rebuilt as
# IVF1024,Flat (--from-index, trained on 50,000). Then the corpus changes (1% of the documents
# edited, 0.5% dropped, 0.5% new) and each binary updates the same IVF index to it, timed as a
# whole process (/usr/bin/time). With BENCH_OLD_BIN, the two updated indexes (docids.txt,
# dochash.bin, index.faiss, meta.json) must be byte-identical.
#
# Environment: RR_BIN (default build/rerank), BENCH_OLD_BIN (a second binary), BENCH_DOCS
# (default 1000000), RR_MODELS_DIR (default ~/.cache/rerank/models: all-MiniLM-L6-v2's
# vocabulary for the tiny model), BENCH_WORK (scratch; default a new directory, removed).
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RR_BIN:-$REPO/build/rerank}"
OLD="${BENCH_OLD_BIN:-}"
N="${BENCH_DOCS:-1000000}"
MODELS="${RR_MODELS_DIR:-$HOME/.cache/rerank/models}"
[ -x "$BIN" ] || { echo "bench_update_ivf: no $BIN (build first)" >&2; exit 2; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "bench_update_ivf: no $OLD" >&2; exit 2; }
[ -f "$MODELS/all-MiniLM-L6-v2/vocab.txt" ] || { echo "bench_update_ivf: no $MODELS/all-MiniLM-L6-v2 (scripts/setup.sh)" >&2; exit 77; }
if [ -n "${BENCH_WORK:-}" ]; then W="$BENCH_WORK"; mkdir -p "$W"; CLEAN=0; else W="$(mktemp -d)"; CLEAN=1; fi
trap '[ "$CLEAN" = 1 ] && rm -rf "$W"' EXIT
python3 "$REPO/tests/tools/make_tiny_model.py" "$W/tiny" "$MODELS/all-MiniLM-L6-v2" >/dev/null || exit 1
python3 - "$REPO/data/scifact/corpus.jsonl.gz" "$W" "$N" <<'PY' || exit 1
import gzip, json, sys
src, w, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs = [json.loads(l) for l in gzip.open(src, "rt", encoding="utf-8")]
with open(f"{w}/corpus.jsonl", "w") as f, open(f"{w}/changed.jsonl", "w") as g:
    for i in range(n):
        d = docs[i % len(docs)]
        doc = {"_id": f"{d['_id']}~r{i // len(docs)}", "text": d["text"][:120]}
        f.write(json.dumps(doc) + "\n")
        if i % 200 == 101:
            continue                                      # dropped
        if i % 100 == 7:
            doc["text"] += " (revised)"                   # edited
        g.write(json.dumps(doc) + "\n")
    for i in range(0, n, 200):                            # new
        g.write(json.dumps({"_id": f"new-{i}", "text": docs[i % len(docs)]["text"][:120]}) + "\n")
PY
echo "bench_update_ivf: $N documents, tiny model (dim 32), IVF1024,Flat; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" index --corpus "$W/corpus.jsonl" --model "$W/tiny" --out "$W/flat" --max-length 24 --quiet 2>"$W/log" &&
  "$BIN" index --from-index "$W/flat" --factory IVF1024,Flat --train-docs 50000 --out "$W/ivf" --quiet 2>>"$W/log" ||
  { cat "$W/log"; exit 1; }
BINS=("$BIN"); NAMES=(new)
[ -n "$OLD" ] && BINS=("$OLD" "$BIN") && NAMES=(old new)
for i in "${!BINS[@]}"; do
  n="${NAMES[$i]}"
  /usr/bin/time -f "%e %M" -o "$W/time-$n" "${BINS[$i]}" index --update "$W/ivf" --corpus "$W/changed.jsonl" \
    --out "$W/ivf-$n" --max-length 24 --train-docs 50000 --quiet 2>"$W/update-$n.log" || { cat "$W/update-$n.log"; exit 1; }
  read -r wall kb <"$W/time-$n"
  printf '%-4s %s: %7.2f s, peak RSS %.0f MB; %s\n' "$n" "${BINS[$i]}" "$wall" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" \
    "$(sed -n 's/.*in [0-9.]*s: \(copy\/embed+add [0-9.]*s\).*/\1/p' "$W/update-$n.log")"
done
sed -n 's/.*updated [^:]*: //p' "$W/update-new.log"
if [ -n "$OLD" ]; then
  for f in docids.txt dochash.bin index.faiss meta.json; do
    cmp -s "$W/ivf-old/$f" "$W/ivf-new/$f" || { echo "DIFFER: $f"; exit 1; }
  done
  echo "old and new: docids.txt, dochash.bin, index.faiss and meta.json byte-identical"
fi
