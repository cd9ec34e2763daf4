#!/usr/bin/env bash
# tests/test_run_cli.sh — `rerank run CONFIG.yaml` end to end on a small slice:
#   - first stage = a TREC run of the first 10 SciFact queries of tests/fixtures/ce_pairs.tsv
#     (12 candidates each), rerank with the test cross-encoder, top_n 20, max_length 128;
#   - the output directory holds config.resolved.yaml, first_stage.run, rerank.run,
#     metrics.json, summary.txt and nothing half-written; summary.txt is what stdout ends with;
#   - rerank.run is byte for byte what `rerank rerank` writes with the same settings, and
#     metrics.json is, per stage, what `rerank eval --json` prints for that run;
#   - --set overrides take effect (top_n 5, sigmoid scores; again equal to `rerank rerank`),
#     and bad overrides / bad configs exit 1 naming the place, creating nothing;
#   - a failing stage leaves no rerank.run, metrics.json or summary.txt;
#   - a second `rerank run` on a locked output directory is refused;
#   - a dense first stage (80 documents, all-MiniLM-L6-v2, no rerank section) builds its index
#     under the output directory, then reuses it; its run equals `rerank retrieve`'s.
# Needs RR_BIN, RR_MODELS_DIR, RR_REPO_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
CE="${RR_MODELS_DIR:?}/test-cross-encoder"
MINILM="${RR_MODELS_DIR}/all-MiniLM-L6-v2"
DATA="${RR_REPO_DIR:?}/data/scifact"
[ -f "$CE/config.json" ] || { echo "SKIPPED: no $CE (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
LOCKER=""
trap '[ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
export RR_REPO_DIR RR_MODELS_DIR

mkdir -p "$T/cfg"
awk -F'\t' '!($1 in seen) { n++; seen[$1] = 1 } n <= 10' "$RR_REPO_DIR/tests/fixtures/ce_pairs.tsv" |
  awk -F'\t' '{ if ($1 != q) { q = $1; i = 0 } i++; printf "%s Q0 %s %d %d bm25\n", $1, $2, i, 100 - i }' \
  >"$T/cand.trec"
# paths: ${VAR} for the data and the model, relative to the config's directory for the rest
cat >"$T/cfg/run.yaml" <<'EOF'
dataset:
  path: ${RR_REPO_DIR}/data/scifact
  split: test
first_stage:
  run: ../cand.trec
rerank:
  model: ${RR_MODELS_DIR}/test-cross-encoder
  top_n: 20
  max_length: 128
eval:
  measures: [ndcg_cut.10, recall.100, map]
output_dir: out
EOF
OUT="$T/cfg/out"
MEASURES=(-m ndcg_cut.10 -m recall.100 -m map)
RERANK=(--model "$CE" --corpus "$DATA/corpus.jsonl.gz" --queries "$DATA/queries.jsonl.gz" --max-length 128)

# --- the run ---
if (cd "$T" && "$BIN" run cfg/run.yaml >"$T/stdout" 2>"$T/stderr"); then ok "rerank run exits 0"
else bad "rerank run failed: $(cat "$T/stderr")"; echo "$pass passed, $fail failed"; exit 1; fi
missing=""
for f in config.resolved.yaml first_stage.run rerank.run metrics.json summary.txt; do
  [ -s "$OUT/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "output dir has every file"; else bad "missing:$missing"; fi
if ls "$OUT" | grep -q '\.tmp\.'; then bad "temporary files left: $(ls "$OUT")"; else ok "no temporary files"; fi
if cmp -s "$OUT/first_stage.run" "$T/cand.trec"; then ok "first_stage.run = the given run"; else bad "first_stage.run differs"; fi

"$BIN" rerank "${RERANK[@]}" --run "$T/cand.trec" --top-n 20 --output "$T/direct.trec" 2>/dev/null
if [ -s "$T/direct.trec" ] && cmp -s "$OUT/rerank.run" "$T/direct.trec"; then ok "rerank.run = rerank rerank, byte for byte"
else bad "rerank.run differs from rerank rerank"; fi

# metrics.json: per stage, exactly what rerank eval --json prints
"$BIN" eval --json "${MEASURES[@]}" "$DATA/qrels/test.tsv" "$T/cand.trec" >"$T/eval_fs.json"
"$BIN" eval --json "${MEASURES[@]}" "$DATA/qrels/test.tsv" "$T/direct.trec" >"$T/eval_rr.json"
if python3 - "$OUT/metrics.json" "$T/eval_fs.json" "$T/eval_rr.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
fs, rr = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
assert set(m) == {"first_stage", "rerank"}, m.keys()
assert m["first_stage"] == fs, (m["first_stage"], fs)
assert m["rerank"] == rr, (m["rerank"], rr)
assert set(fs["all"]) == {"ndcg_cut_10", "recall_100", "map"}, fs
EOF
then ok "metrics.json = rerank eval --json of each stage's run"; else bad "metrics.json differs from rerank eval"; fi

# summary: printed at the end of stdout, per-stage time, pairs/s, both stages' measures
if [ "$(tail -n "$(wc -l <"$OUT/summary.txt")" "$T/stdout")" = "$(cat "$OUT/summary.txt")" ]; then
  ok "stdout ends with summary.txt"; else bad "stdout and summary.txt differ"; fi
if grep -Eq '^rerank +[0-9.]+ +120 +[0-9.]+ ' "$OUT/summary.txt" && grep -Eq '^first_stage +[0-9.]+' "$OUT/summary.txt" &&
   awk -v v="$(python3 -c "import json; print('%.4f' % json.load(open('$T/eval_rr.json'))['all']['ndcg_cut_10'])")" \
     '$1 == "ndcg_cut_10" && NF == 4 && $3 == v { f = 1 } END { exit !f }' "$OUT/summary.txt"; then
  ok "summary: stage times, 120 pairs with pairs/s, ndcg_cut_10 side by side"
else bad "summary: $(cat "$OUT/summary.txt")"; fi
if grep -q 'top_n: 20' "$OUT/config.resolved.yaml" && grep -q "path: \"$DATA\"" "$OUT/config.resolved.yaml"; then
  ok "config.resolved.yaml: values and expanded absolute paths"; else bad "config.resolved.yaml: $(cat "$OUT/config.resolved.yaml")"; fi

# --- overrides ---
"$BIN" run "$T/cfg/run.yaml" --set rerank.top_n=5 --set rerank.score=sigmoid --out "$T/o2" >/dev/null 2>"$T/err"
"$BIN" rerank "${RERANK[@]}" --run "$T/cand.trec" --top-n 5 --activation sigmoid --output "$T/direct5.trec" 2>/dev/null
if [ "$(wc -l <"$T/o2/rerank.run" 2>/dev/null)" = 50 ] && awk '$4 > 5 || $5 <= 0 || $5 >= 1 { exit 1 }' "$T/o2/rerank.run" &&
   cmp -s "$T/o2/rerank.run" "$T/direct5.trec" && grep -q 'top_n: 5' "$T/o2/config.resolved.yaml" &&
   grep -q 'score: "sigmoid"' "$T/o2/config.resolved.yaml"; then
  ok "--set rerank.top_n=5 --set rerank.score=sigmoid --out: 5 per query, sigmoid, = rerank rerank"
else bad "--set overrides: $(cat "$T/err")"; fi

expect_fail() { # NAME NEEDLE -- command...
  local name="$1" needle="$2"; shift 3
  rm -rf "$T/nope"
  "$@" >/dev/null 2>"$T/err"
  local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$needle" "$T/err" && [ ! -e "$T/nope" ]; then ok "$name: $(cat "$T/err")"
  else bad "$name: exit $rc: $(cat "$T/err")"; fi
}
expect_fail "--set unknown key" "rerank run: --set rerank.topn=5: unknown key \"rerank.topn\"" -- \
  "$BIN" run "$T/cfg/run.yaml" --set rerank.topn=5 --out "$T/nope"
expect_fail "--set string for an int" "--set rerank.top_n=many: rerank.top_n: expected an integer, got \"many\"" -- \
  "$BIN" run "$T/cfg/run.yaml" --set rerank.top_n=many --out "$T/nope"
sed 's/top_n: 20/top_n: "20"/' "$T/cfg/run.yaml" >"$T/cfg/quoted.yaml"
expect_fail "config: quoted int" "$T/cfg/quoted.yaml:8:10: rerank.top_n: expected an integer, got the string \"20\"" -- \
  "$BIN" run "$T/cfg/quoted.yaml" --out "$T/nope"
sed 's/test-cross-encoder/no-such-model/' "$T/cfg/run.yaml" >"$T/cfg/nomodel.yaml"
expect_fail "config: missing model dir" "$T/cfg/nomodel.yaml:7:10: rerank.model: $RR_MODELS_DIR/no-such-model: no such directory" -- \
  "$BIN" run "$T/cfg/nomodel.yaml" --out "$T/nope"

# a stage that fails: no rerank.run, no metrics.json, no summary.txt
{ head -3 "$T/cand.trec"; echo "1 Q0 no-such-doc 4 96 bm25"; } >"$T/badcand.trec"
"$BIN" run "$T/cfg/run.yaml" --set first_stage.run="$T/badcand.trec" --out "$T/o3" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'badcand.trec:4: document "no-such-doc"' "$T/err" && [ -f "$T/o3/config.resolved.yaml" ] &&
   [ ! -e "$T/o3/rerank.run" ] && [ ! -e "$T/o3/metrics.json" ] && [ ! -e "$T/o3/summary.txt" ] &&
   ! ls "$T/o3" | grep -q '\.tmp\.'; then
  ok "failing rerank stage: exit 1, no rerank.run / metrics.json / summary.txt"
else bad "failing stage: exit $rc, $(ls "$T/o3"): $(cat "$T/err")"; fi

# the output directory's lock (fcntl, as rerank run takes it)
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
open(sys.argv[2], "w").close(); time.sleep(60)' "$OUT/.rerank-run.lock" "$T/locked" &
LOCKER=$!
for _ in $(seq 100); do [ -e "$T/locked" ] && break; sleep 0.1; done
"$BIN" run "$T/cfg/run.yaml" >/dev/null 2>"$T/err"
rc=$?
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null; LOCKER=""
if [ $rc -eq 1 ] && grep -q "is in use by another \`rerank run\` (pid" "$T/err" && [ -s "$OUT/summary.txt" ]; then
  ok "locked output dir refused, its files untouched: $(cat "$T/err")"
else bad "lock: exit $rc: $(cat "$T/err")"; fi

# the shipped configs parse and resolve (their data pointed at the repository's SciFact)
C="$RR_REPO_DIR/configs"
if "$BIN" run "$C/scifact.yaml" --check --set dataset.path="$DATA" --set rerank.model="$CE" >"$T/chk" 2>"$T/err" &&
   grep -q "top_n: 100" "$T/chk" &&
   mkdir -p "$T/msm" && printf '1\tp\n' >"$T/msm/collection.tsv" && printf '1\tq\n' >"$T/msm/queries.dev.small.tsv" &&
   printf '1 0 1 1\n' >"$T/msm/qrels.dev.small.tsv" &&
   MSMARCO="$T/msm" "$BIN" run "$C/msmarco-dev.yaml" --check \
     --set first_stage.run="$T/cand.trec" --set rerank.model="$CE" >/dev/null 2>>"$T/err"; then
  ok "configs/scifact.yaml and configs/msmarco-dev.yaml check"
else bad "shipped configs: $(cat "$T/err")"; fi

# --- dense first stage: index built under the output dir, then reused ---
if [ -f "$MINILM/model.safetensors" ]; then
  zcat "$DATA/corpus.jsonl.gz" | head -80 >"$T/corpus80.jsonl"
  cat >"$T/cfg/dense.yaml" <<'EOF'
dataset:
  path: ${RR_REPO_DIR}/data/scifact
  corpus: ../corpus80.jsonl
first_stage:
  model: ${RR_MODELS_DIR}/all-MiniLM-L6-v2
  factory: Flat
  metric: ip
  k: 10
eval:
  measures: [ndcg_cut.10, recall.100]
output_dir: dense
EOF
  "$BIN" run "$T/cfg/dense.yaml" >/dev/null 2>"$T/err"
  rc=$?
  if [ $rc -eq 1 ] && grep -q "built without FAISS" "$T/err"; then
    echo "skip dense first stage: built without FAISS"
  else
    D="$T/cfg/dense"
    if [ $rc -eq 0 ] && [ -f "$D/index/index.faiss" ] && grep -q "building $D/index" "$T/err" &&
       [ "$(wc -l <"$D/first_stage.run")" -eq 3000 ] && [ ! -e "$D/rerank.run" ] &&
       python3 -c "import json,sys; m = json.load(open('$D/metrics.json')); sys.exit(set(m) != {'first_stage'})"; then
      ok "dense: index built under the output dir, 300 test queries x 10, first stage only"
    else bad "dense: exit $rc: $(cat "$T/err")"; fi
    # the retrieve stage took the index stage's model (same run as a fresh load: below)
    if grep -q 'the embedding model of the index stage, already loaded' "$T/err"; then
      ok "dense: the retrieve stage reuses the index stage's model"
    else bad "dense: the retrieve stage loaded the model again: $(cat "$T/err")"; fi
    cp "$D/first_stage.run" "$T/dense1.run"
    "$BIN" run "$T/cfg/dense.yaml" >/dev/null 2>"$T/err"
    if ! grep -q building "$T/err" && cmp -s "$D/first_stage.run" "$T/dense1.run"; then
      ok "dense rerun: index reused, same run"; else bad "dense rerun: $(cat "$T/err")"; fi
    "$BIN" retrieve --index "$D/index" --queries "$DATA/queries.jsonl.gz" --qrels "$DATA/qrels/test.tsv" --k 10 \
      --tag first_stage --output "$T/retrieve.run" 2>/dev/null
    if cmp -s "$D/first_stage.run" "$T/retrieve.run"; then ok "dense first_stage.run = rerank retrieve"
    else bad "dense first_stage.run differs from rerank retrieve"; fi
    # reranking our own first stage's output = reranking the same candidates given as a file
    "$BIN" run "$T/cfg/dense.yaml" --set first_stage.index="$D/index" --set rerank.model="$CE" \
      --set rerank.top_n=1 --set rerank.max_length=64 --out "$T/dense_rr" >/dev/null 2>"$T/err"
    "$BIN" rerank --model "$CE" --run "$T/dense_rr/first_stage.run" --corpus "$T/corpus80.jsonl" \
      --queries "$DATA/queries.jsonl.gz" --top-n 1 --max-length 64 --output "$T/dense_rr.run" 2>>"$T/err"
    if [ -s "$T/dense_rr/rerank.run" ] && cmp -s "$T/dense_rr/rerank.run" "$T/dense_rr.run"; then
      ok "rerank of the dense first stage = rerank rerank of the same candidates as a file"
    else bad "dense + rerank: $(cat "$T/err")"; fi
    # the corpus changes under a reused index (first_stage.stale_index): one document edited,
    # one dropped, two new
    python3 - "$T" "$DATA" <<'PY'
import gzip, json, sys
T, DATA = sys.argv[1:]
docs = [json.loads(l) for l in open(f"{T}/corpus80.jsonl")]
docs[7]["text"] += " (edited)"
del docs[30]
more = [json.loads(l) for l in gzip.open(f"{DATA}/corpus.jsonl.gz", "rt")][80:82]
with open(f"{T}/corpus81.jsonl", "w") as f:
    f.writelines(json.dumps(d) + "\n" for d in docs + more)
PY
    cp -r "$D/index" "$T/index_before"
    "$BIN" run "$T/cfg/dense.yaml" --set dataset.corpus="$T/corpus81.jsonl" >/dev/null 2>"$T/err"; rc=$?
    if [ $rc = 1 ] && grep -q "does not hold the documents of $T/corpus81.jsonl: 1 changed .*, 2 new .*, 1 gone" "$T/err" &&
       [ ! -e "$D/metrics.json" ] && diff -r "$D/index" "$T/index_before" >/dev/null; then
      ok "stale_index: error (default): a changed corpus stops the run, the index untouched"
    else bad "stale_index error: exit $rc: $(cat "$T/err")"; fi
    "$BIN" run "$T/cfg/dense.yaml" --set dataset.corpus="$T/corpus81.jsonl" --set first_stage.stale_index=ignore \
      >/dev/null 2>"$T/err" && cmp -s "$D/first_stage.run" "$T/dense1.run" &&
      ok "stale_index: ignore: the index used as it is (the same run)" || bad "stale_index ignore: $(cat "$T/err")"
    "$BIN" run "$T/cfg/dense.yaml" --set dataset.corpus="$T/corpus81.jsonl" --set first_stage.stale_index=update \
      >/dev/null 2>"$T/err"; rc=$?
    "$BIN" index --corpus "$T/corpus81.jsonl" --model "$MINILM" --out "$T/index81" 2>/dev/null
    "$BIN" retrieve --index "$T/index81" --queries "$DATA/queries.jsonl.gz" --qrels "$DATA/qrels/test.tsv" --k 10 \
      --tag first_stage --output "$T/rebuilt81.run" 2>/dev/null
    if [ $rc = 0 ] && grep -q "78 kept (not embedded again), 1 removed, 1 replaced, 2 added" "$T/err" &&
       grep -q "index .* made to hold the documents of $T/corpus81.jsonl" "$D/summary.txt" &&
       cmp -s <(cut -d' ' -f1,3,4 "$D/first_stage.run") <(cut -d' ' -f1,3,4 "$T/rebuilt81.run"); then
      ok "stale_index: update: 3 documents embedded, the run = a rebuilt index's (same documents and ranks)"
    else bad "stale_index update: exit $rc: $(cat "$T/err")"; fi
    "$BIN" run "$T/cfg/dense.yaml" --set dataset.corpus="$T/corpus81.jsonl" >/dev/null 2>"$T/err" &&
      ok "after the update the default check passes" || bad "check after update: $(cat "$T/err")"
  fi
else
  echo "skip dense first stage: no $MINILM"
fi

# --- --resume: the rerank stage's journal (the kill-and-resume test is tests/test_resume.sh) ---
printf 'rerank-journal 1 0000000000000000000000000000000000000000000000000000000000000000\n' > "$T/o5.journal"
mkdir -p "$T/o5" && cp "$T/o5.journal" "$T/o5/rerank.run.journal"
"$BIN" run "$T/cfg/run.yaml" --out "$T/o5" >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q -- "--resume" "$T/err" && [ ! -e "$T/o5/rerank.run" ]; then
  ok "a leftover journal without --resume: refused"; else bad "leftover journal: exit $rc: $(cat "$T/err")"; fi
"$BIN" run "$T/cfg/run.yaml" --out "$T/o5" --resume >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q "different job" "$T/err"; then ok "--resume on another job's journal: refused"
else bad "foreign journal: exit $rc: $(cat "$T/err")"; fi
rm -f "$T/o5/rerank.run.journal"
if "$BIN" run "$T/cfg/run.yaml" --out "$T/o5" --resume >/dev/null 2>"$T/err" && cmp -s "$T/o5/rerank.run" "$OUT/rerank.run" &&
   [ ! -e "$T/o5/rerank.run.journal" ]; then ok "--resume with no journal: a normal run, same rerank.run"
else bad "--resume fresh: $(cat "$T/err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
