#!/usr/bin/env bash
# tests/test_checkpoint_formats.sh — the cross-encoder in the layouts Hugging Face tools write:
# one model.safetensors with "bert."-prefixed names (as save_pretrained writes a
# BertForSequenceClassification) in F32, F16 and BF16, against the sharded test checkpoint
# (unprefixed trunk + head shard). F32 must give bit-identical scores; F16 / BF16 weights
# (converted by tests/convert_checkpoint.py, round to nearest) stay within 2e-2 / 1e-1 of
# the F32 logits, whose spread is several units.
set -euo pipefail
BIN="${RR_BIN:?}"; CE="${RR_MODELS_DIR:?}/test-cross-encoder"; REPO="${RR_REPO_DIR:?}"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
# 60 real pairs: the first 60 fixture pairs' texts
python3 - "$REPO" "$T/pairs.tsv" <<'PY'
import gzip, json, sys
repo, out = sys.argv[1], sys.argv[2]
docs = {d["_id"]: d["title"] + " " + d["text"] for d in map(json.loads, gzip.open(f"{repo}/data/scifact/corpus.jsonl.gz", "rt"))}
qs = {q["_id"]: q["text"] for q in map(json.loads, gzip.open(f"{repo}/data/scifact/queries.jsonl.gz", "rt"))}
with open(out, "w") as f:
    for line in open(f"{repo}/tests/fixtures/ce_pairs.tsv").read().splitlines()[:60]:
        q, d, _ = line.split("\t")
        f.write(qs[q] + "\t" + docs[d] + "\n")
PY
"$BIN" score --model "$CE" --pairs "$T/pairs.tsv" --output "$T/ref.txt"
pass=0 fail=0
for dt in F32 F16 BF16; do
  python3 "$REPO/tests/convert_checkpoint.py" "$CE" "$T/$dt" "$dt"
  "$BIN" score --model "$T/$dt" --pairs "$T/pairs.tsv" --output "$T/$dt.txt"
  tol=0; [ "$dt" = F16 ] && tol=0.02; [ "$dt" = BF16 ] && tol=0.1
  worst=$(paste "$T/ref.txt" "$T/$dt.txt" | awk '{d=$1-$2; if(d<0)d=-d; if(d>m)m=d} END{printf "%.3g", m+0}')
  n=$(wc -l < "$T/$dt.txt")
  if [ "$n" -eq 60 ] && awk -v w="$worst" -v t="$tol" 'BEGIN{exit !(w <= t)}'; then
    echo "ok   $dt single-file bert.-prefixed: max |diff| $worst (tolerance $tol)"; pass=$((pass + 1))
  else
    echo "FAIL $dt: $n scores, max |diff| $worst (tolerance $tol)"; fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
