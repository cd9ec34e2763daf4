#!/usr/bin/env bash
# tests/test_scifact_dense.sh — dense retrieval on BEIR SciFact (test split), the published
# check: all 5,183 documents embedded with all-MiniLM-L6-v2 (title + " " + text) into an exact
# Flat inner-product index, the 300 test queries retrieved top-100, scored by `rerank eval`.
# nDCG@10 must be within 0.005 of the published 0.645 (MTEB; data/scifact/README.md);
# Recall@100 is printed. Embedding the corpus takes minutes on 2 cores: label slow.
# RR_SCIFACT_OUT=DIR keeps the index and the run there. Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR.
set -u
BIN="${RR_BIN:?}"
DATA="${RR_REPO_DIR:?}/data/scifact"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
PUBLISHED=0.645
[ -f "$MINILM/model.safetensors" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }
if [ -n "${RR_SCIFACT_OUT:-}" ]; then
  T="$RR_SCIFACT_OUT"; mkdir -p "$T"
else
  T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fi

t0=$(date +%s)
"$BIN" index --corpus "$DATA/corpus.jsonl.gz" --model "$MINILM" --out "$T/index" --factory Flat \
  --metric ip 2>"$T/index.log"
rc=$?
cat "$T/index.log"
if [ $rc -eq 1 ] && grep -q "built without FAISS" "$T/index.log"; then
  echo "SKIPPED: rerank was built without FAISS"; exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: rerank index exited $rc"; echo "0 passed, 1 failed"; exit 1; }
t1=$(date +%s)
"$BIN" retrieve --index "$T/index" --queries "$DATA/queries.jsonl.gz" --qrels "$DATA/qrels/test.tsv" \
  --k 100 --output "$T/run.trec" --tag minilm-flat || { echo "FAIL: rerank retrieve"; exit 1; }
t2=$(date +%s)
"$BIN" eval -m ndcg_cut.10 -m recall.100 "$DATA/qrels/test.tsv" "$T/run.trec" | tee "$T/eval.txt"
ndcg=$(awk '$1 == "ndcg_cut_10" && $2 == "all" { print $3 }' "$T/eval.txt")
recall=$(awk '$1 == "recall_100" && $2 == "all" { print $3 }' "$T/eval.txt")
nq=$(cut -d' ' -f1 "$T/run.trec" | sort -u | wc -l)
echo "SciFact test: $nq queries, nDCG@10 $ndcg (published $PUBLISHED), Recall@100 $recall;" \
     "index $((t1 - t0)) s, retrieve $((t2 - t1)) s"
pass=0 fail=0
if [ "$nq" -eq 300 ]; then pass=$((pass + 1)); else echo "FAIL: $nq queries in the run, want 300"; fail=$((fail + 1)); fi
if awk -v x="$ndcg" -v p="$PUBLISHED" 'BEGIN { d = x - p; exit !(x != "" && d <= 0.005 && d >= -0.005) }'
then pass=$((pass + 1)); else echo "FAIL: nDCG@10 $ndcg not within 0.005 of $PUBLISHED"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
