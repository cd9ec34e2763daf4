#!/usr/bin/env bash
# tests/test_keep_rest.sh — `rerank rerank --keep-rest` (and `rerank.keep_rest: true` in a
# `rerank run` config): the first --top-n candidates of each query are reranked exactly as
# without the option (the same lines), and every other candidate follows them in the first
# stage's order (trec_eval's: score descending, docid descending), with ranks continuing and
# scores strictly below the lowest reranked one, so that trec_eval keeps that order; the run
# holds every candidate of the input. Tiny seeded model, CPU.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them) and python3.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny_test_setup
python3 - "$DATA" "$T" <<'PY'
import gzip, json, random, sys
data, T = sys.argv[1], sys.argv[2]
docs = [json.loads(l)["_id"] for _, l in zip(range(300), gzip.open(f"{data}/corpus.jsonl.gz", "rt"))]
qs = [json.loads(l)["_id"] for _, l in zip(range(6), gzip.open(f"{data}/queries.jsonl.gz", "rt"))]
rnd = random.Random(7)
with open(f"{T}/cand.trec", "w") as f:
    for q in qs:
        ds = rnd.sample(docs, 30)
        for j, d in enumerate(ds):  # shuffled lines, some tied scores: the order comes from the scores
            f.write(f"{q} Q0 {d} {j + 1} {rnd.choice([1.5, 2.25, 3.0]) + rnd.randint(0, 9)} bm25\n")
PY
R=("$BIN" rerank --model "$T/tiny" --run "$T/cand.trec" --corpus "$DATA/corpus.jsonl.gz" --queries "$DATA/queries.jsonl.gz"
   --max-length 64 --top-n 10 --quiet)
"${R[@]}" --output "$T/top.run" 2>"$T/err" || bad "top-n run: $(cat "$T/err")"
"${R[@]}" --output "$T/keep.run" --keep-rest 2>"$T/err" || bad "--keep-rest run: $(cat "$T/err")"
if python3 - "$T" <<'PY'
import sys
from collections import defaultdict
T = sys.argv[1]
def read(p):
    out = defaultdict(list)
    for l in open(p):
        q, _, d, r, s, _ = l.split()
        out[q].append((d, int(r), float(s)))
    return out
cand, top, keep = read(f"{T}/cand.trec"), read(f"{T}/top.run"), read(f"{T}/keep.run")
ok = True
for q in cand:
    first = [d for d, _, s in sorted(cand[q], key=lambda x: (x[2], x[0]), reverse=True)]
    k = keep[q]
    if [x[0] for x in k[:10]] != [x[0] for x in top[q]] or [x[2] for x in k[:10]] != [x[2] for x in top[q]]:
        print(f"{q}: the first 10 differ from the --top-n run"); ok = False
    if [x[0] for x in k[10:]] != first[10:]:
        print(f"{q}: the rest is not in the first stage's order"); ok = False
    if [x[1] for x in k] != list(range(1, 31)):
        print(f"{q}: ranks {[x[1] for x in k]}"); ok = False
    if any(b[2] >= a[2] for a, b in zip(k[9:], k[10:])):
        print(f"{q}: scores after the 10th do not strictly decrease"); ok = False
    if sorted(x[0] for x in k) != sorted(first):
        print(f"{q}: not every candidate is in the run"); ok = False
sys.exit(0 if ok else 1)
PY
then ok "--keep-rest: top 10 as without it, then the other 20 in the first stage's order, scores below"
else bad "--keep-rest output"; fi
mkdir -p "$T/ds/qrels"
awk '{ printf "%s\t%s\t1\n", $1, $3 }' "$T/cand.trec" | head -12 | sed '1i query-id\tcorpus-id\tscore' >"$T/ds/qrels/test.tsv"
cat >"$T/run.yaml" <<YAML
dataset:
  corpus: $DATA/corpus.jsonl.gz
  queries: $DATA/queries.jsonl.gz
  qrels: $T/ds/qrels/test.tsv
first_stage:
  run: $T/cand.trec
rerank:
  model: $T/tiny
  max_length: 64
  top_n: 10
  keep_rest: true
output_dir: $T/out
YAML
"$BIN" run "$T/run.yaml" 2>"$T/err"; rc=$?
[ "$rc" = 0 ] && cmp -s "$T/out/rerank.run" "$T/keep.run" && ok "rerank run with rerank.keep_rest: true = rerank --keep-rest" || bad "run keep_rest: exit $rc: $(tail -3 "$T/err")"
finish
