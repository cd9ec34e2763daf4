#!/usr/bin/env bash
# scripts/demo.sh — the main job on the embedded default: set up, then run the engine on the
# SciFact data shipped in data/scifact. Until the pipeline (`rerank run configs/demo.yaml`,
# issue 5) lands, the demo shows the two engine commands that exist:
#   1. `rerank embed`: the first 1,000 SciFact documents -> all-MiniLM-L6-v2 embeddings (.npy);
#   2. `rerank score`: SciFact test queries x candidate documents -> cross-encoder logits,
#      printed as a ranking per query with the qrels' relevant documents marked.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
BIN="$REPO/build/rerank"
OUT="${RR_DEMO_OUT:-$REPO/demo-out}"
mkdir -p "$OUT"

python3 - "$REPO/data/scifact" "$OUT" <<'PY'
import gzip, json, random, sys
data, out = sys.argv[1], sys.argv[2]
docs = {}
with gzip.open(f"{data}/corpus.jsonl.gz", "rt", encoding="utf-8") as f:
    for line in f:
        d = json.loads(line); docs[d["_id"]] = d["title"] + " " + d["text"]
queries = {}
with gzip.open(f"{data}/queries.jsonl.gz", "rt", encoding="utf-8") as f:
    for line in f:
        q = json.loads(line); queries[q["_id"]] = q["text"]
rel = {}
for line in open(f"{data}/qrels/test.tsv", encoding="utf-8").read().splitlines()[1:]:
    q, d, s = line.split("\t"); rel.setdefault(q, set()).add(d)
ids = list(docs)
with open(f"{out}/docs.txt", "w", encoding="utf-8") as f:
    for i in ids[:1000]: f.write(docs[i].replace("\n", " ") + "\n")
rng = random.Random(1)
with open(f"{out}/pairs.tsv", "w", encoding="utf-8") as f, open(f"{out}/pairs.ids", "w") as g:
    for q in list(rel)[:5]:
        cands = sorted(rel[q]) + rng.sample(ids, 9)
        for d in cands:
            f.write(queries[q] + "\t" + docs[d].replace("\t", " ") + "\n")
            g.write(f"{q}\t{d}\t{int(d in rel[q])}\n")
PY

echo "== rerank embed: 1,000 SciFact documents with all-MiniLM-L6-v2" >&2
"$BIN" embed --model "$CACHE/models/all-MiniLM-L6-v2" --input "$OUT/docs.txt" \
  --output "$OUT/docs.npy" --timing
echo "== rerank score: 5 SciFact test queries x 10 candidates with the test cross-encoder" >&2
"$BIN" score --model "$CACHE/models/test-cross-encoder" --pairs "$OUT/pairs.tsv" \
  --output "$OUT/scores.txt" --timing
paste "$OUT/pairs.ids" "$OUT/scores.txt" | sort -k1,1n -k4,4gr |
  awk -F'\t' 'BEGIN{print "query\tdoc\trelevant\tscore"} {print $1"\t"$2"\t"($3=="1"?"yes":"")"\t"$4}'
echo "outputs in $OUT (docs.npy: [1000, 384] float32; scores.txt: one logit per pair)" >&2
