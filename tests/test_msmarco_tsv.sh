#!/usr/bin/env bash
# tests/test_msmarco_tsv.sh — MS MARCO's TSV files (collection.tsv: pid<TAB>passage,
# queries.*.tsv: qid<TAB>query; .gz too) serve as corpus and queries wherever BEIR JSONL does:
# the same documents given both ways rerank to byte-identical runs (a tiny seeded model, CPU);
# a line with 1 or 3 fields is an error naming file:line, exit 1, no output. Files as Windows
# tools write them (a UTF-8 byte-order mark, CRLF line ends) read as the plain ones: corpus,
# queries and run give the same bytes, qrels the same metrics.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them) and python3.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny_test_setup
python3 - "$DATA" "$T" <<'PY'
import gzip, json, sys
data, T = sys.argv[1], sys.argv[2]
docs = [json.loads(l) for _, l in zip(range(60), gzip.open(f"{data}/corpus.jsonl.gz", "rt", encoding="utf-8"))]
qs = [json.loads(l) for _, l in zip(range(8), gzip.open(f"{data}/queries.jsonl.gz", "rt", encoding="utf-8"))]
clean = lambda s: s.replace("\t", " ").replace("\n", " ")
with open(f"{T}/corpus.jsonl", "w") as f, open(f"{T}/collection.tsv", "w") as g:
    for d in docs:
        d = {"_id": d["_id"], "title": clean(d["title"]), "text": clean(d["text"])}
        f.write(json.dumps(d) + "\n")
        g.write(f'{d["_id"]}\t{d["title"]} {d["text"]}\n')   # BEIR's passage text: title + " " + text
with open(f"{T}/queries.jsonl", "w") as f, open(f"{T}/queries.dev.tsv", "w") as g:
    for q in qs:
        f.write(json.dumps({"_id": q["_id"], "text": clean(q["text"])}) + "\n")
        g.write(f'{q["_id"]}\t{clean(q["text"])}\n')
with open(f"{T}/cand.trec", "w") as f:
    for i, q in enumerate(qs):
        for j in range(12):
            f.write(f'{q["_id"]} Q0 {docs[(i * 7 + j * 5) % len(docs)]["_id"]} {j + 1} {12 - j} bm25\n')
PY
gzip -k "$T/collection.tsv"
R=("$BIN" rerank --model "$T/tiny" --run "$T/cand.trec" --max-length 96)
"${R[@]}" --corpus "$T/corpus.jsonl" --queries "$T/queries.jsonl" --output "$T/jsonl.run" 2>"$T/err" || bad "jsonl: $(cat "$T/err")"
"${R[@]}" --corpus "$T/collection.tsv" --queries "$T/queries.dev.tsv" --output "$T/tsv.run" 2>"$T/err" || bad "tsv: $(cat "$T/err")"
"${R[@]}" --corpus "$T/collection.tsv.gz" --queries "$T/queries.dev.tsv" --output "$T/tsvgz.run" 2>"$T/err" || bad "tsv.gz: $(cat "$T/err")"
[ -s "$T/jsonl.run" ] && cmp -s "$T/jsonl.run" "$T/tsv.run" && ok "MS MARCO TSV = BEIR JSONL (96 pairs, byte-identical runs)" || bad "tsv and jsonl runs differ"
cmp -s "$T/tsv.run" "$T/tsvgz.run" && ok "collection.tsv.gz read transparently" || bad "tsv.gz differs"
win() { printf '\xef\xbb\xbf' >"$2"; sed 's/$/\r/' "$1" >>"$2"; } # BOM + CRLF
for f in corpus.jsonl queries.jsonl cand.trec collection.tsv queries.dev.tsv; do win "$T/$f" "$T/win-$f"; done
"$BIN" rerank --model "$T/tiny" --run "$T/win-cand.trec" --max-length 96 --corpus "$T/win-corpus.jsonl" \
  --queries "$T/win-queries.jsonl" --output "$T/win-jsonl.run" 2>"$T/err" || bad "BOM + CRLF jsonl: $(cat "$T/err")"
"$BIN" rerank --model "$T/tiny" --run "$T/win-cand.trec" --max-length 96 --corpus "$T/win-collection.tsv" \
  --queries "$T/win-queries.dev.tsv" --output "$T/win-tsv.run" 2>"$T/err" || bad "BOM + CRLF tsv: $(cat "$T/err")"
cmp -s "$T/jsonl.run" "$T/win-jsonl.run" && cmp -s "$T/jsonl.run" "$T/win-tsv.run" &&
  ok "byte-order mark + CRLF (corpus, queries, run; JSONL and TSV): the same run" || bad "BOM + CRLF inputs give another run"
awk '$4 <= 2 { print $1, 0, $3, ($4 == 1) }' "$T/cand.trec" >"$T/qrels.txt"
win "$T/qrels.txt" "$T/win-qrels.txt"
"$BIN" eval -q "$T/qrels.txt" "$T/jsonl.run" >"$T/m1" 2>"$T/err" && "$BIN" eval -q "$T/win-qrels.txt" "$T/jsonl.run" >"$T/m2" 2>>"$T/err" &&
  [ "$(grep -c '^map ' "$T/m1")" -gt 2 ] && cmp -s "$T/m1" "$T/m2" && ok "qrels with BOM + CRLF: the same metrics" ||
  bad "qrels with BOM + CRLF: $(cat "$T/err")"
expect() { # NAME NEEDLE -- command
  local name=$1 needle=$2; shift 3
  rm -f "$T/x"
  "$@" 2>"$T/err" >/dev/null; local rc=$?
  if [ "$rc" = 1 ] && grep -qF -- "$needle" "$T/err" && [ ! -e "$T/x" ]; then ok "$name: $(cat "$T/err")"
  else bad "$name: exit $rc: $(cat "$T/err")"; fi
}
{ head -3 "$T/collection.tsv"; printf 'only-an-id\n'; } >"$T/c1.tsv"
expect "1 field" "c1.tsv:4: expected 2 tab-separated fields (id, text), found 1" -- \
  "${R[@]}" --corpus "$T/c1.tsv" --queries "$T/queries.dev.tsv" --output "$T/x"
{ head -2 "$T/collection.tsv"; printf 'a\tb\tc\n'; } >"$T/c3.tsv"
expect "3 fields" "c3.tsv:3: expected 2 tab-separated fields (id, text), found more" -- \
  "${R[@]}" --corpus "$T/c3.tsv" --queries "$T/queries.dev.tsv" --output "$T/x"
{ head -2 "$T/collection.tsv"; head -1 "$T/collection.tsv"; } >"$T/cdup.tsv"
expect "duplicate id" "cdup.tsv:3: duplicate _id" -- \
  "${R[@]}" --corpus "$T/cdup.tsv" --queries "$T/queries.dev.tsv" --output "$T/x"
finish
