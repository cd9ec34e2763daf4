#!/usr/bin/env bash
# tests/test_retrieve_cli.sh — `rerank index` and `rerank retrieve` end to end on a small slice
# of SciFact (80 documents, seconds): the run's layout, reruns identical, k beyond the corpus,
# --qrels restriction; then bad input: each case exits 1 with a message naming the problem
# and leaves no index directory or run file behind.
# Needs RR_BIN, RR_REPO_DIR and RR_MODELS_DIR (ctest sets them). Skips (77) without FAISS.
set -u
BIN="${RR_BIN:?}"
DATA="${RR_REPO_DIR:?}/data/scifact"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
CE="${RR_MODELS_DIR}/test-cross-encoder"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

[ -f "$MINILM/model.safetensors" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }

zcat "$DATA/corpus.jsonl.gz" | head -80 >"$T/corpus.jsonl"
# queries: the first 40 of queries.jsonl; qrels: five of them, judged against the first doc
zcat "$DATA/queries.jsonl.gz" | head -40 >"$T/queries.jsonl"
printf 'query-id\tcorpus-id\tscore\n' >"$T/qrels.tsv"
awk -F'"' '{ print $4 }' "$T/queries.jsonl" | head -5 | while read -r q; do
  printf '%s\t%s\t1\n' "$q" "$(awk -F'"' 'NR == 1 { print $4 }' "$T/corpus.jsonl")" >>"$T/qrels.tsv"
done

"$BIN" index --corpus "$T/corpus.jsonl" --model "$MINILM" --out "$T/idx" 2>"$T/err"
if [ $? -eq 1 ] && grep -q "built without FAISS" "$T/err"; then
  echo "SKIPPED: rerank was built without FAISS"; exit 77
fi
if [ -f "$T/idx/index.faiss" ] && [ "$(wc -l <"$T/idx/docids.txt")" -eq 80 ] &&
   grep -q '"num_docs": 80' "$T/idx/meta.json"; then ok "index: 80 docs"; else bad "index: $(cat "$T/err")"; fi

"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 10 --output "$T/run1" --tag t1 2>"$T/err"
lines=$(wc -l <"$T/run1" 2>/dev/null || echo 0)
if [ "$lines" -eq 400 ] && awk 'NF != 6 || $2 != "Q0" || $6 != "t1" || $4 < 1 || $4 > 10 { exit 1 }' "$T/run1"
then ok "retrieve: 40 queries x 10, TREC layout"; else bad "retrieve: $lines lines: $(cat "$T/err")"; fi
# scores descend within each query
if awk 'NR > 1 && $1 == q && $5 > s + 1e-7 { exit 1 } { q = $1; s = $5 }' "$T/run1"; then ok "scores descend"
else bad "scores do not descend"; fi

"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 10 --output "$T/run2" --tag t1 2>/dev/null
if cmp -s "$T/run1" "$T/run2"; then ok "rerun identical"; else bad "rerun differs"; fi

"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 500 --output "$T/run3" 2>"$T/err"
if [ "$(wc -l <"$T/run3")" -eq 3200 ] && grep -q "exceeds the 80 documents" "$T/err"; then
  ok "k > corpus: warned, 80 per query"; else bad "k > corpus: $(cat "$T/err")"; fi

"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --qrels "$T/qrels.tsv" --k 5 \
  --output "$T/run4" 2>"$T/err"
if [ "$(cut -d' ' -f1 "$T/run4" | sort -u | wc -l)" -eq 5 ]; then ok "--qrels: 5 judged queries"
else bad "--qrels: $(cat "$T/err")"; fi

# --from-index: a Flat copy of a Flat index gives the same run; HNSW finds nearly the same
"$BIN" index --from-index "$T/idx" --out "$T/idx_copy" 2>/dev/null &&
  "$BIN" retrieve --index "$T/idx_copy" --queries "$T/queries.jsonl" --k 10 --output "$T/run5" \
    --tag t1 2>/dev/null
if cmp -s "$T/run1" "$T/run5"; then ok "--from-index Flat: identical run"; else bad "--from-index Flat differs"; fi
"$BIN" index --from-index "$T/idx" --out "$T/idx_hnsw" --factory HNSW16 2>/dev/null &&
  "$BIN" retrieve --index "$T/idx_hnsw" --queries "$T/queries.jsonl" --k 10 --output "$T/run6" \
    --search-params efSearch=64 2>"$T/err"
common=$(cut -d' ' -f1,3 "$T/run6" | sort | comm -12 - <(cut -d' ' -f1,3 "$T/run1" | sort) | wc -l)
if [ "$common" -ge 380 ]; then ok "--from-index HNSW16: $common of 400 results as Flat"
else bad "--from-index HNSW16: $common of 400 as Flat: $(cat "$T/err")"; fi
if grep -q '"factory": "HNSW16"' "$T/idx_hnsw/meta.json" && grep -q "$(sed -n 's/.*"corpus_sha256": "\(.*\)".*/\1/p' "$T/idx/meta.json")" "$T/idx_hnsw/meta.json"
then ok "--from-index keeps the model and corpus checksums"; else bad "--from-index metadata"; fi
cmp -s "$T/idx/dochash.bin" "$T/idx_hnsw/dochash.bin" && ok "--from-index keeps each document's checksum (dochash.bin)" ||
  bad "--from-index dochash.bin"
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --output "$T/x" --search-params nprobe=4 2>"$T/err"
if [ $? -eq 1 ] && [ ! -e "$T/x" ]; then ok "search parameter foreign to Flat refused"; else bad "nprobe on Flat: $(cat "$T/err")"; fi

# --- where FAISS searches: --search-device cpu | gpu | auto (the default) ---
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 10 --output "$T/run_cpu" --tag t1 \
  --search-device cpu 2>"$T/err"
if cmp -s "$T/run1" "$T/run_cpu" && grep -q "search on the CPU" "$T/err"; then ok "--search-device cpu: identical run"
else bad "--search-device cpu: $(cat "$T/err")"; fi
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 10 --output "$T/run_gpu" --tag t1 \
  --search-device gpu 2>"$T/err"; rc=$?
if [ "$rc" = 0 ]; then # FAISS with GPU support on a machine with a GPU: the same documents per query
  if grep -q "search on the GPU" "$T/err" &&
     cmp -s <(cut -d' ' -f1,3 "$T/run1" | sort) <(cut -d' ' -f1,3 "$T/run_gpu" | sort); then
    ok "--search-device gpu: searched on the GPU, the same 400 (query, document) pairs"
  else bad "--search-device gpu: $(cat "$T/err")"; fi
elif [ "$rc" = 1 ] && grep -qE "FAISS has no GPU support|no GPU for FAISS" "$T/err" && [ ! -e "$T/run_gpu" ]; then
  ok "--search-device gpu without a GPU: $(head -c 160 "$T/err")"
else bad "--search-device gpu: exit $rc: $(cat "$T/err")"; fi
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --output "$T/x" --search-device tpu 2>"$T/err"
if [ $? -eq 2 ] && grep -q "auto, cpu or gpu" "$T/err" && [ ! -e "$T/x" ]; then ok "--search-device tpu refused"
else bad "--search-device tpu: $(cat "$T/err")"; fi

# --- nightly update by id: --remove 5 ids, --add 20 new documents, 1 replaced; the same search
#     results as an index rebuilt on the changed corpus (kept vectors are copied, not embedded) ---
zcat "$DATA/corpus.jsonl.gz" | sed -n '81,100p' >"$T/add.jsonl"
sed -n '3p;10p;11p;40p;79p' "$T/corpus.jsonl" | sed 's/^{"_id": "\([^"]*\)".*/\1/' >"$T/rm.txt"
python3 - "$T" <<'PY'
import json, sys
T = sys.argv[1]
rm = set(open(f"{T}/rm.txt").read().split())
old = [json.loads(l) for l in open(f"{T}/corpus.jsonl")]
add = [json.loads(l) for l in open(f"{T}/add.jsonl")]
# one added document replaces a kept one (same _id, new text)
rep = dict(old[20]); rep["text"] = "A replaced text about zinc and the common cold."
add.append(rep)
with open(f"{T}/add.jsonl", "w") as f:
    f.writelines(json.dumps(d) + "\n" for d in add)
with open(f"{T}/changed.jsonl", "w") as f:   # what a rebuild would see, in the order the update keeps
    f.writelines(json.dumps(d) + "\n" for d in old if d["_id"] not in rm and d["_id"] != rep["_id"])
    f.writelines(json.dumps(d) + "\n" for d in add)
PY
[ "$(wc -l <"$T/rm.txt")" = 5 ] || bad "test setup: $(wc -l <"$T/rm.txt") ids to remove"
"$BIN" index --update "$T/idx" --remove "$T/rm.txt" --add "$T/add.jsonl" --out "$T/idx_upd" 2>"$T/err"
if grep -q "74 kept (not embedded again), 5 removed, 1 replaced, 20 added" "$T/err" &&
   [ "$(wc -l <"$T/idx_upd/docids.txt")" = 95 ]; then ok "update: 74 kept, 5 removed, 1 replaced, 20 added"
else bad "update: $(cat "$T/err")"; fi
"$BIN" index --corpus "$T/changed.jsonl" --model "$MINILM" --out "$T/idx_rebuilt" 2>/dev/null
for x in idx_upd idx_rebuilt; do
  "$BIN" retrieve --index "$T/$x" --queries "$T/queries.jsonl" --k 20 --output "$T/$x.run" 2>/dev/null
done
if cmp -s <(cut -d' ' -f1,3,4 "$T/idx_upd.run") <(cut -d' ' -f1,3,4 "$T/idx_rebuilt.run") &&
   paste -d' ' "$T/idx_upd.run" "$T/idx_rebuilt.run" |
     awk '{d = $5 - $11; if (d < 0) d = -d; if (d > 1e-5) bad = 1} END {exit bad}'; then
  ok "update = rebuild on the changed corpus (same documents in the same order, scores within 1e-5)"
else bad "update and rebuild retrieve differently"; fi
cmp -s "$T/idx_upd/docids.txt" "$T/idx_rebuilt/docids.txt" && ok "update: doc-id map = rebuild's" || bad "doc-id maps differ"
cp -r "$T/idx" "$T/idx_inplace"
"$BIN" index --update "$T/idx_inplace" --remove "$T/rm.txt" 2>/dev/null &&
  [ "$(wc -l <"$T/idx_inplace/docids.txt")" = 75 ] && ok "update in place (no --out): 75 docs" || bad "in-place update"
printf 'no-such-doc\n' >"$T/rm_bad.txt"
sum_before=$(cat "$T/idx/docids.txt" "$T/idx/meta.json" | sha256sum)
"$BIN" index --update "$T/idx" --remove "$T/rm_bad.txt" 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q 'rm_bad.txt:1: document "no-such-doc" is not in the index' "$T/err" &&
   [ "$(cat "$T/idx/docids.txt" "$T/idx/meta.json" | sha256sum)" = "$sum_before" ]; then
  ok "update removing an unknown id: refused, index untouched"; else bad "unknown id: exit $rc: $(cat "$T/err")"; fi

# --- the index knows each document's text by its checksum (dochash.bin): --update --corpus makes
#     it hold exactly a corpus (only new and changed documents embedded), retrieve --corpus checks ---
if python3 - "$T" <<'PY'
import hashlib, json, struct, sys
T = sys.argv[1]
def h(d):  # what was embedded: BEIR's title + " " + text; the first 8 bytes of its SHA-256
    t = (d["title"] + " " if isinstance(d.get("title"), str) else "") + d["text"]
    return struct.pack("<Q", struct.unpack(">Q", hashlib.sha256(t.encode()).digest()[:8])[0])
for idx, corpus in (("idx", "corpus.jsonl"), ("idx_upd", "changed.jsonl"), ("idx_rebuilt", "changed.jsonl")):
    docs = {(d := json.loads(l))["_id"]: d for l in open(f"{T}/{corpus}")}
    want = b"".join(h(docs[i]) for i in open(f"{T}/{idx}/docids.txt").read().split())
    if open(f"{T}/{idx}/dochash.bin", "rb").read() != want:
        sys.exit(f"{idx}/dochash.bin differs from hashlib's")
PY
then ok "dochash.bin = hashlib's SHA-256 of each text (built, updated with --add, rebuilt)"
else bad "dochash.bin"; fi
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --k 10 --output "$T/run_chk" --tag t1 \
  --corpus "$T/corpus.jsonl" 2>"$T/err"
if cmp -s "$T/run1" "$T/run_chk"; then ok "retrieve --corpus, the index's own corpus: same run"
else bad "retrieve --corpus: $(cat "$T/err")"; fi
rep_id=$(sed -n '21p' "$T/corpus.jsonl" | sed 's/^{"_id": "\([^"]*\)".*/\1/')
add_id=$(sed -n '1p' "$T/add.jsonl" | sed 's/^{"_id": "\([^"]*\)".*/\1/')
rm_id=$(head -1 "$T/rm.txt")
rep_line=$(grep -n "\"_id\": \"$rep_id\"" "$T/changed.jsonl" | cut -d: -f1)
"$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --output "$T/x" --corpus "$T/changed.jsonl" 2>"$T/err"
if [ $? = 1 ] && [ ! -e "$T/x" ] && grep -qF "does not hold the documents of $T/changed.jsonl: 1 changed (the first: \"$rep_id\", $T/changed.jsonl:$rep_line), 20 new (the first: \"$add_id\", $T/changed.jsonl:75), 5 gone from the corpus (the first: \"$rm_id\")" "$T/err"
then ok "retrieve --corpus, a changed corpus: refused, 1 changed, 20 new, 5 gone, each first named"
else bad "retrieve --corpus changed: $(cat "$T/err")"; fi
"$BIN" index --update "$T/idx" --corpus "$T/changed.jsonl" --out "$T/idx_sync" 2>"$T/err"
if grep -q "74 kept (not embedded again), 5 removed, 1 replaced, 20 added" "$T/err" &&
   cmp -s "$T/idx_sync/docids.txt" "$T/idx_rebuilt/docids.txt" && cmp -s "$T/idx_sync/dochash.bin" "$T/idx_rebuilt/dochash.bin"
then ok "update --corpus: 74 kept, 5 removed, 1 replaced, 20 added; ids and checksums = the rebuild's"
else bad "update --corpus: $(cat "$T/err")"; fi
"$BIN" retrieve --index "$T/idx_sync" --queries "$T/queries.jsonl" --k 20 --output "$T/idx_sync.run" \
  --corpus "$T/changed.jsonl" 2>"$T/err"
if cmp -s <(cut -d' ' -f1,3,4 "$T/idx_sync.run") <(cut -d' ' -f1,3,4 "$T/idx_rebuilt.run") &&
   paste -d' ' "$T/idx_sync.run" "$T/idx_rebuilt.run" |
     awk '{d = $5 - $11; if (d < 0) d = -d; if (d > 1e-5) bad = 1} END {exit bad}'; then
  ok "update --corpus = rebuild (same documents in the same order, scores within 1e-5); passes retrieve --corpus"
else bad "update --corpus and rebuild retrieve differently: $(cat "$T/err")"; fi
# an IVF index updated the same way (its stored vectors read back exactly, by label), searched
# over all its lists: the rebuild's documents and ranks
"$BIN" index --from-index "$T/idx" --factory IVF4,Flat --train-docs 80 --out "$T/idx_ivf" 2>/dev/null &&
  "$BIN" index --update "$T/idx_ivf" --corpus "$T/changed.jsonl" --train-docs 95 2>"$T/err" &&
  "$BIN" retrieve --index "$T/idx_ivf" --queries "$T/queries.jsonl" --k 20 --output "$T/idx_ivf.run" \
    --search-params nprobe=4 --corpus "$T/changed.jsonl" 2>>"$T/err"
if grep -q "74 kept (not embedded again), 5 removed, 1 replaced, 20 added" "$T/err" &&
   cmp -s "$T/idx_ivf/dochash.bin" "$T/idx_rebuilt/dochash.bin" &&
   cmp -s <(cut -d' ' -f1,3,4 "$T/idx_ivf.run") <(cut -d' ' -f1,3,4 "$T/idx_rebuilt.run"); then
  ok "update --corpus of an IVF4,Flat index: the rebuild's documents and ranks at nprobe=4"
else bad "IVF update --corpus: $(cat "$T/err")"; fi
sum_before=$(cat "$T/idx_sync"/* | sha256sum)
"$BIN" index --update "$T/idx_sync" --corpus "$T/changed.jsonl" 2>"$T/err"
if [ $? = 0 ] && grep -q "already holds the 95 documents" "$T/err" && [ "$(cat "$T/idx_sync"/* | sha256sum)" = "$sum_before" ]
then ok "update --corpus with nothing changed: nothing written"; else bad "no-op update --corpus: $(cat "$T/err")"; fi
# an index from before the checksums (no dochash.bin): its whole-corpus checksum decides
cp -r "$T/idx" "$T/idx_old" && rm "$T/idx_old/dochash.bin"
"$BIN" retrieve --index "$T/idx_old" --queries "$T/queries.jsonl" --k 10 --output "$T/run_old" --tag t1 \
  --corpus "$T/corpus.jsonl" 2>"$T/err" && cmp -s "$T/run1" "$T/run_old" && ok "no dochash.bin, same corpus: accepted" ||
  bad "no dochash.bin, same corpus: $(cat "$T/err")"
"$BIN" retrieve --index "$T/idx_old" --queries "$T/queries.jsonl" --output "$T/x" --corpus "$T/changed.jsonl" 2>"$T/err"
[ $? = 1 ] && [ ! -e "$T/x" ] && grep -q "the corpus checksum differs (meta.json), and the index records no per-document" "$T/err" &&
  ok "no dochash.bin, changed corpus: refused" || bad "no dochash.bin, changed corpus: $(cat "$T/err")"
"$BIN" index --update "$T/idx_old" --corpus "$T/changed.jsonl" 2>"$T/err"
[ $? = 1 ] && grep -q "records no per-document checksums" "$T/err" && [ ! -e "$T/idx_old/dochash.bin" ] &&
  ok "no dochash.bin: update --corpus refused" || bad "no dochash.bin, update --corpus: $(cat "$T/err")"
"$BIN" index --update "$T/idx_old" --remove "$T/rm.txt" 2>"$T/err" && [ ! -e "$T/idx_old/dochash.bin" ] &&
  [ "$(wc -l <"$T/idx_old/docids.txt")" = 75 ] && ok "no dochash.bin: update --remove works, still none" ||
  bad "no dochash.bin, update --remove: $(cat "$T/err")"
"$BIN" index --update "$T/idx" --corpus "$T/changed.jsonl" --add "$T/add.jsonl" 2>"$T/err"
[ $? = 2 ] && grep -q "or --corpus CORPUS alone" "$T/err" && ok "update: --corpus with --add refused" ||
  bad "update --corpus --add: $(cat "$T/err")"

# --- bad input: exit 1, message, nothing written ---
expect() { # expect NAME NEEDLE OUTPUT -- command...
  local name="$1" needle="$2" out="$3"; shift 4
  "$@" >/dev/null 2>"$T/err"
  local rc=$?
  if [ "$rc" -ne 1 ]; then bad "$name: exit $rc (want 1): $(cat "$T/err")"; return; fi
  if ! grep -qF -- "$needle" "$T/err"; then bad "$name: message lacks '$needle': $(cat "$T/err")"; return; fi
  if [ -e "$out" ] || ls "$out".tmp.* >/dev/null 2>&1; then bad "$name: output left behind"; return; fi
  ok "$name: $(head -c 200 "$T/err")"
}
{ head -3 "$T/corpus.jsonl"; head -1 "$T/corpus.jsonl"; } >"$T/dup.jsonl"
expect "duplicate _id" "dup.jsonl:4: duplicate _id" "$T/x" -- \
  "$BIN" index --corpus "$T/dup.jsonl" --model "$MINILM" --out "$T/x"
printf '{"_id": "a b", "text": "x"}\n' >"$T/ws.jsonl"
expect "id with a space" "ws.jsonl:1: _id \"a b\" contains whitespace" "$T/x" -- \
  "$BIN" index --corpus "$T/ws.jsonl" --model "$MINILM" --out "$T/x"
printf '{"title": "t", "text": "x"}\n' >"$T/noid.jsonl"
expect "missing _id" "noid.jsonl:1: field \"_id\" missing" "$T/x" -- \
  "$BIN" index --corpus "$T/noid.jsonl" --model "$MINILM" --out "$T/x"
: >"$T/empty.jsonl"
expect "empty corpus" "empty corpus" "$T/x" -- \
  "$BIN" index --corpus "$T/empty.jsonl" --model "$MINILM" --out "$T/x"
expect "bad factory" "NoSuchIndex" "$T/x" -- \
  "$BIN" index --corpus "$T/corpus.jsonl" --model "$MINILM" --out "$T/x" --factory NoSuchIndex
mkdir -p "$T/notidx" && touch "$T/notidx/keep.txt"
expect "foreign directory" "not an index directory" "$T/notidx/index.faiss" -- \
  "$BIN" index --corpus "$T/corpus.jsonl" --model "$MINILM" --out "$T/notidx"
[ -f "$T/notidx/keep.txt" ] && ok "foreign directory untouched" || bad "foreign directory changed"
if [ -d "$CE" ]; then
  expect "other model" "built with the embedding model" "$T/x" -- \
    "$BIN" retrieve --index "$T/idx" --model "$CE" --queries "$T/queries.jsonl" --output "$T/x"
fi
expect "not an index" "not an index directory" "$T/x" -- \
  "$BIN" retrieve --index "$T/notidx" --queries "$T/queries.jsonl" --output "$T/x"
printf '{"_id": "q1", "text": "   "}\n' >"$T/q_empty.jsonl"
expect "empty query" "q_empty.jsonl:1: empty query" "$T/x" -- \
  "$BIN" retrieve --index "$T/idx" --queries "$T/q_empty.jsonl" --output "$T/x"
{ head -2 "$T/queries.jsonl"; head -1 "$T/queries.jsonl"; } >"$T/q_dup.jsonl"
expect "duplicate query id" "q_dup.jsonl:3: duplicate query _id" "$T/x" -- \
  "$BIN" retrieve --index "$T/idx" --queries "$T/q_dup.jsonl" --output "$T/x"
printf 'q1\t0\tdoc\n' >"$T/bad_qrels.tsv"
expect "bad qrels" "bad_qrels.tsv:1" "$T/x" -- \
  "$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --qrels "$T/bad_qrels.tsv" --output "$T/x"
sed -i '2d' "$T/idx/docids.txt"
expect "truncated doc-id map" "docids.txt" "$T/x" -- \
  "$BIN" retrieve --index "$T/idx" --queries "$T/queries.jsonl" --output "$T/x"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
