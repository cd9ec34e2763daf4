#!/usr/bin/env bash
# tests/test_rerank_cli.sh — `rerank rerank` end to end against PyTorch, through the CLI.
#
# Candidates: the first 50 queries × 12 documents of tests/fixtures/ce_pairs.tsv (with the
# PyTorch logits of the test cross-encoder), written as a TREC run whose first-stage scores
# are an arbitrary order (the runs for top-n and determinism use the first 10 queries, to
# keep the test near a minute on two cores; RR_RERANK_QUERIES and RR_RERANK_SMALL change the 50
# and the 10, and the sanitizer build sets 15 and 5, tests/model.cmake). Checks:
#   - every query's reranked order is the order of the PyTorch logits (ties by docid
#     descending), every score within 1e-4 of PyTorch's, ranks 1..n, the tag;
#   - --top-n 5 keeps the 5 best first-stage candidates (trec_eval's order) of each query;
#   - the output is byte-identical with 1 and 2 threads, and with another token budget (other
#     passes: the CPU backend's own GEMM computes a row the same way wherever it sits, so a
#     pair's score does not depend on its pass; with OpenBLAS's sgemm: 9.5e-7 apart);
#   - `rerank eval` reads the output;
#   - bad candidates (unknown document or query, a docid twice for one query, a wrong field
#     count, a score that is not a number) exit 1 naming file:line, and leave no output.
# Needs RR_BIN, RR_MODELS_DIR, RR_REPO_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
CE="${RR_MODELS_DIR:?}/test-cross-encoder"
DATA="${RR_REPO_DIR:?}/data/scifact"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
awk -F'\t' '!($1 in seen) { n++; seen[$1] = 1 } n <= '"${RR_RERANK_QUERIES:-50}" "${RR_REPO_DIR}/tests/fixtures/ce_pairs.tsv" > "$T/fix.tsv"
FIX="$T/fix.tsv"
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# first-stage run: score = 100 - (position of the pair in the fixture within its query)
awk -F'\t' '{ if ($1 != q) { q = $1; i = 0 } i++; printf "%s Q0 %s %d %d bm25\n", $1, $2, i, 100 - i }' \
  "$FIX" > "$T/cand.trec"
awk '!($1 in seen) { n++; seen[$1] = 1 } n <= '"${RR_RERANK_SMALL:-10}" "$T/cand.trec" > "$T/small.trec"
common=(--model "$CE" --corpus "$DATA/corpus.jsonl.gz" --queries "$DATA/queries.jsonl.gz" --top-n 0)
if "$BIN" rerank "${common[@]}" --run "$T/cand.trec" --output "$T/out.trec" --tag ce; then
  ok "rerank ran"
else
  bad "rerank failed"; echo "$pass passed, $fail failed"; exit 1
fi

# expected: per query, PyTorch logits descending, ties by docid descending
sort -t$'\t' -k1,1 -k3,3gr -k2,2r "$FIX" | awk -F'\t' '{ if ($1 != q) { q = $1; r = 0 } r++; print $1, $2, r, $3 }' \
  > "$T/want"
sort -k1,1 -s "$T/out.trec" | awk '{ print $1, $3, $4, $5, $6 }' > "$T/got"
sort -k1,1 -s "$T/want" > "$T/want.s"
if [ "$(wc -l < "$T/got")" -eq "$(wc -l < "$FIX")" ]; then ok "one line per candidate"; else bad "line count"; fi
worst=$(paste -d' ' "$T/got" "$T/want.s" | awk '
  { if ($1 != $6 || $2 != $7 || $3 != $8 || $5 != "ce") { print "order:" NR; exit }
    d = $4 - $9; if (d < 0) d = -d; if (d > w) w = d }
  END { if (w != "") printf "%.3g\n", w; else print 0 }')
case "$worst" in
  order:*) bad "reranked order differs from PyTorch's at line ${worst#order:}" ;;
  *) if awk -v w="$worst" 'BEGIN { exit !(w <= 1e-4) }'; then ok "order = PyTorch's, max |score - logit| $worst"
     else bad "max |score - logit| $worst > 1e-4"; fi ;;
esac

# top-n keeps the first-stage best
"$BIN" rerank "${common[@]}" --top-n 5 --run "$T/small.trec" --output "$T/top5.trec" 2>/dev/null
if [ -s "$T/top5.trec" ] && awk '$4 > 5 { exit 1 }' "$T/top5.trec" &&
   [ "$(awk '{print $1, $3}' "$T/top5.trec" | sort)" = "$(awk '$4 <= 5 {print $1, $3}' "$T/small.trec" | sort)" ]; then
  ok "--top-n 5 reranks the 5 best candidates of each query"
else
  bad "--top-n 5"
fi

# determinism
"$BIN" rerank "${common[@]}" --run "$T/small.trec" --output "$T/out2.trec" --threads 2 --tag ce 2>/dev/null
"$BIN" rerank "${common[@]}" --run "$T/small.trec" --output "$T/out1.trec" --threads 1 --tag ce 2>/dev/null
"$BIN" rerank "${common[@]}" --run "$T/small.trec" --output "$T/outb.trec" --threads 2 --tag ce --token-budget 2048 2>/dev/null
if [ -s "$T/out2.trec" ] && cmp -s "$T/out2.trec" "$T/out1.trec"; then ok "identical with 1 and 2 threads"; else bad "1 vs 2 threads differ"; fi
if [ -s "$T/outb.trec" ] && cmp -s "$T/out2.trec" "$T/outb.trec"; then ok "token budget 2048: byte-identical"
else bad "token budget 2048: output differs"; fi

# eval reads it
if "$BIN" eval -m ndcg_cut.10 "$DATA/qrels/test.tsv" "$T/out.trec" > "$T/eval" 2>&1 && grep -q ndcg_cut_10 "$T/eval"; then
  ok "rerank eval reads the output: $(tr -s ' \t' ' ' < "$T/eval")"
else
  bad "eval of the output: $(cat "$T/eval")"
fi

# bad candidates: exit 1, file:line in the message, no output file
expect_bad() { # NAME NEEDLE RUNFILE
  rm -f "$T/bad.out"
  "$BIN" rerank "${common[@]}" --run "$3" --output "$T/bad.out" > /dev/null 2> "$T/err"
  local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$2" "$T/err" && [ ! -e "$T/bad.out" ] && ! ls "$T"/bad.out.tmp.* > /dev/null 2>&1; then
    ok "$1: $(cat "$T/err")"
  else
    bad "$1: exit $rc, message: $(cat "$T/err")"
  fi
}
{ head -3 "$T/cand.trec"; echo "1 Q0 no-such-doc 4 96 bm25"; } > "$T/b1"
expect_bad "unknown document" "b1:4: document \"no-such-doc\" is not in" "$T/b1"
{ echo "no-such-query Q0 31715818 1 1 bm25"; } > "$T/b2"
expect_bad "unknown query" "b2:1: query \"no-such-query\"" "$T/b2"
{ head -3 "$T/cand.trec"; head -1 "$T/cand.trec"; } > "$T/b3"
expect_bad "docid twice" "b3:4: document \"31715818\" listed again for query \"1\" (first on line 1)" "$T/b3"
{ head -2 "$T/cand.trec"; echo "1 Q0 31715818 1 bm25"; } > "$T/b4"
expect_bad "five fields" "b4:3: 5 fields" "$T/b4"
{ head -2 "$T/cand.trec"; echo "1 Q0 4983 3 nan bm25"; } > "$T/b5"
expect_bad "nan score" "b5:3: score \"nan\" is not a finite number" "$T/b5"
: > "$T/b6"
expect_bad "empty run" "b6: no candidates" "$T/b6"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
