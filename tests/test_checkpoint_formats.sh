#!/usr/bin/env bash
# tests/test_checkpoint_formats.sh — the cross-encoder in the layouts Hugging Face tools write:
# one model.safetensors with "bert."-prefixed names (as save_pretrained writes a
# BertForSequenceClassification) in F32, F16 and BF16, against the sharded test checkpoint
# (unprefixed trunk + head shard). F32 must give bit-identical scores; F16 / BF16 weights
# (converted by tests/convert_checkpoint.py, round to nearest) stay within 2e-2 / 1e-1 of
# the F32 logits, whose spread is several units. The ELECTRA test cross-encoder the same way
# in F32 (one file, "electra."-prefixed, as save_pretrained writes it): bit-identical. The MPNet
# test cross-encoder's tokenizer in its other forms (below): bit-identical.
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
EL="${RR_MODELS_DIR}/test-electra-cross-encoder"
"$BIN" score --model "$EL" --pairs "$T/pairs.tsv" --output "$T/el-ref.txt"
python3 "$REPO/tests/convert_checkpoint.py" "$EL" "$T/el-F32" F32
if ! grep -q '"electra.encoder.layer.0.attention.self.query.weight"' "$T/el-F32/model.safetensors"; then
  echo "FAIL ELECTRA: the converted checkpoint has no electra.-prefixed names"; fail=$((fail + 1))
else
  "$BIN" score --model "$T/el-F32" --pairs "$T/pairs.tsv" --output "$T/el-F32.txt"
  if [ "$(wc -l < "$T/el-F32.txt")" -eq 60 ] && cmp -s "$T/el-ref.txt" "$T/el-F32.txt"; then
    echo "ok   F32 single-file electra.-prefixed ELECTRA: identical scores"; pass=$((pass + 1))
  else
    echo "FAIL F32 ELECTRA single file: scores differ from the sharded checkpoint's"; fail=$((fail + 1))
  fi
fi
# The MPNet test cross-encoder's tokenizer in the other forms its files take: tokenizer.json with
# MPNetConverter's TemplateProcessing (<s> A </s> </s> B </s>, the second text typed 1) instead of
# the RobertaProcessing transformers 5 writes (every type 0), and vocab.txt alone
# (tokenizer_class MPNetTokenizer). MPNet has no token-type embeddings, so the same ids give the
# same bytes; BERT's one-separator template on the same model must change the scores (the
# check can fail).
MP="${RR_MODELS_DIR}/test-mpnet-cross-encoder"
head -n 12 "$T/pairs.tsv" > "$T/mp-pairs.tsv" # 12 pairs: a question of token ids, and CI's time
"$BIN" score --model "$MP" --pairs "$T/mp-pairs.tsv" --output "$T/mp-ref.txt"
for form in template vocab bert-template; do
  cp -r "$MP" "$T/mp-$form"
  python3 - "$T/mp-$form" "$form" <<'PY'
import json, os, sys
d, form = sys.argv[1], sys.argv[2]
if form == "vocab":
    os.remove(os.path.join(d, "tokenizer.json"))
    sys.exit(0)
tj = json.load(open(os.path.join(d, "tokenizer.json")))
def sp(t, ty): return {"SpecialToken": {"id": t, "type_id": ty}}
def sq(t, ty): return {"Sequence": {"id": t, "type_id": ty}}
pair = [sp("<s>", 0), sq("A", 0), sp("</s>", 0)] + ([sp("</s>", 0)] if form == "template" else []) + [sq("B", 1), sp("</s>", 1)]
tj["post_processor"] = {"type": "TemplateProcessing", "single": [sp("<s>", 0), sq("A", 0), sp("</s>", 0)], "pair": pair,
                        "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                           "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}
json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w"))
PY
  "$BIN" score --model "$T/mp-$form" --pairs "$T/mp-pairs.tsv" --output "$T/mp-$form.txt"
  same=0; cmp -s "$T/mp-ref.txt" "$T/mp-$form.txt" && same=1
  if [ "$(wc -l < "$T/mp-$form.txt")" -eq 12 ] && [ "$same" -eq "$([ "$form" = bert-template ] && echo 0 || echo 1)" ]; then
    echo "ok   MPNet tokenizer as $form: scores $([ "$same" -eq 1 ] && echo identical || echo changed)"; pass=$((pass + 1))
  else
    echo "FAIL MPNet tokenizer as $form: same=$same"; fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
