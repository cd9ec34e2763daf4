#!/usr/bin/env bash
# tests/test_lenient.sh — --strict (default) and --lenient for corpus and query lines:
# a corpus with three malformed lines (bad JSON, no "_id", invalid UTF-8) and a query set with
# one: strict stops at the first with its file:line, exit 1, no output; lenient reranks the
# rest, drops the candidates whose document or query was skipped, says how many of each with
# the first message, and its run equals a strict run over the clean files with the same
# candidates left out (tiny seeded model, CPU). The same switch in `rerank index` (corpus and
# --update --add), `rerank retrieve` (queries), `rerank fit-head` (corpus, queries; dropped
# candidates and relevant documents counted) and `rerank run` (dataset.bad_lines: lenient,
# whose rerank.run equals the lenient `rerank rerank` run); --lenient with --strict: exit 2.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them) and python3.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny_test_setup
python3 - "$DATA" "$T" <<'PY'
import gzip, json, sys
data, T = sys.argv[1], sys.argv[2]
docs = [json.loads(l) for _, l in zip(range(40), gzip.open(f"{data}/corpus.jsonl.gz", "rt"))]
qs = [json.loads(l) for _, l in zip(range(6), gzip.open(f"{data}/queries.jsonl.gz", "rt"))]
clean = [json.dumps(d) for d in docs]
bad = list(clean)
bad[3] = clean[3][:-5]                                   # bad JSON (line 4)
bad[10] = json.dumps({"title": "t", "text": "no id"})    # replaces doc 10 (line 11)
dirty = bad[:20] + ['{"_id": "x1", "text": "bad \\xff utf-8"}'.replace("\\\\xff", "\xff")] + bad[20:]  # line 21
with open(f"{T}/corpus.clean.jsonl", "w") as f:
    f.write("\n".join(c for i, c in enumerate(clean) if i not in (3, 10)) + "\n")
with open(f"{T}/corpus.bad.jsonl", "w", encoding="utf-8", errors="surrogateescape") as f:
    f.write("\n".join(dirty) + "\n")
qclean = [json.dumps({"_id": q["_id"], "text": q["text"]}) for q in qs]
qbad = list(qclean); qbad[2] = '{"_id": ' + json.dumps(qs[2]["_id"]) + ', "text": 7}'   # line 3
open(f"{T}/queries.clean.jsonl", "w").write("\n".join(c for i, c in enumerate(qclean) if i != 2) + "\n")
open(f"{T}/queries.bad.jsonl", "w").write("\n".join(qbad) + "\n")
with open(f"{T}/cand.trec", "w") as f, open(f"{T}/cand.kept.trec", "w") as g:
    for i, q in enumerate(qs):
        for j in range(10):
            d = docs[(i * 7 + j * 3) % len(docs)]["_id"]
            line = f'{q["_id"]} Q0 {d} {j + 1} {10 - j} bm25\n'
            f.write(line)
            if i != 2 and (i * 7 + j * 3) % len(docs) not in (3, 10):
                g.write(line)
PY
# the invalid UTF-8 byte: python wrote "\xff" as U+00FF; make it a raw 0xFF byte
sed -i 's/bad \xc3\xbf utf-8/bad \xff utf-8/' "$T/corpus.bad.jsonl"
R=("$BIN" rerank --model "$T/tiny" --run "$T/cand.trec" --max-length 64)
"${R[@]}" --corpus "$T/corpus.bad.jsonl" --queries "$T/queries.bad.jsonl" --output "$T/strict.run" 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q "corpus.bad.jsonl:4:" "$T/err" && [ ! -e "$T/strict.run" ]; then
  ok "strict (default): stops at corpus.bad.jsonl:4, no output"; else bad "strict: exit $rc: $(cat "$T/err")"; fi
"${R[@]}" --corpus "$T/corpus.bad.jsonl" --queries "$T/queries.bad.jsonl" --output "$T/lenient.run" --lenient 2>"$T/err"; rc=$?
if [ "$rc" = 0 ] && grep -q "lenient: 3 malformed lines skipped in .*corpus.bad.jsonl (first: .*corpus.bad.jsonl:4:" "$T/err" &&
   grep -q "lenient: 1 malformed line skipped in .*queries.bad.jsonl (first: .*queries.bad.jsonl:3: field \"text\"" "$T/err"; then
  ok "lenient: counts 3 corpus lines and 1 query line, names the first"; else bad "lenient: exit $rc: $(cat "$T/err")"; fi
kept=$(wc -l <"$T/cand.kept.trec")
grep -q "lenient: $((60 - kept)) candidates dropped" "$T/err" && ok "lenient: $((60 - kept)) candidates dropped" || bad "dropped count: $(cat "$T/err")"
"$BIN" rerank --model "$T/tiny" --run "$T/cand.kept.trec" --max-length 64 --corpus "$T/corpus.clean.jsonl" \
  --queries "$T/queries.clean.jsonl" --output "$T/clean.run" 2>/dev/null
[ -s "$T/clean.run" ] && cmp -s "$T/lenient.run" "$T/clean.run" && ok "lenient run = strict run over the clean files" || bad "lenient run differs from the clean run"
"$BIN" index --corpus "$T/corpus.bad.jsonl" --model "$MINILM" --out "$T/idx" --lenient 2>"$T/err"; rc=$?
if grep -q "built without FAISS" "$T/err"; then echo "note: no FAISS: index --lenient not exercised"
elif [ "$rc" = 0 ] && grep -q "3 malformed lines skipped" "$T/err" && [ "$(wc -l <"$T/idx/docids.txt")" = 38 ]; then
  ok "index --lenient: 38 documents, 3 lines skipped"; else bad "index --lenient: exit $rc: $(cat "$T/err")"; fi
"$BIN" index --corpus "$T/corpus.bad.jsonl" --model "$MINILM" --out "$T/idx2" --lenient --strict 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && grep -q "exclude each other" "$T/err" && [ ! -e "$T/idx2" ] && ok "--lenient --strict: exit 2" || bad "--lenient --strict: exit $rc: $(cat "$T/err")"
if [ -f "$T/idx/docids.txt" ]; then
  "$BIN" retrieve --index "$T/idx" --queries "$T/queries.bad.jsonl" --k 5 --output "$T/ret.run" 2>"$T/err"; rc=$?
  [ "$rc" = 1 ] && grep -q "queries.bad.jsonl:3:" "$T/err" && [ ! -e "$T/ret.run" ] && ok "retrieve strict: stops at queries.bad.jsonl:3" || bad "retrieve strict: exit $rc: $(cat "$T/err")"
  "$BIN" retrieve --index "$T/idx" --queries "$T/queries.bad.jsonl" --k 5 --output "$T/ret.run" --lenient 2>"$T/err"; rc=$?
  if [ "$rc" = 0 ] && grep -q "lenient: 1 malformed line skipped" "$T/err" && [ "$(cut -d' ' -f1 "$T/ret.run" | sort -u | wc -l)" = 5 ]; then
    ok "retrieve --lenient: 5 queries, 1 line skipped"; else bad "retrieve --lenient: exit $rc: $(cat "$T/err")"; fi
  printf '%s\n' '{"_id": "new1", "text": "an added document"}' '{"_id": "new2", "text": ' >"$T/add.jsonl"
  "$BIN" index --update "$T/idx" --add "$T/add.jsonl" --out "$T/idx3" 2>"$T/err"; rc=$?
  [ "$rc" = 1 ] && grep -q "add.jsonl:2:" "$T/err" && [ ! -e "$T/idx3" ] && ok "index --update --add strict: stops at add.jsonl:2" || bad "--add strict: exit $rc: $(cat "$T/err")"
  "$BIN" index --update "$T/idx" --add "$T/add.jsonl" --out "$T/idx3" --lenient 2>"$T/err"; rc=$?
  [ "$rc" = 0 ] && grep -q "1 malformed line skipped" "$T/err" && [ "$(wc -l <"$T/idx3/docids.txt")" = 39 ] && ok "index --update --add --lenient: 39 documents" || bad "--add --lenient: exit $rc: $(cat "$T/err")"
fi
# fit-head and run over a dataset directory holding the malformed files
mkdir -p "$T/ds/qrels"
cp "$T/corpus.bad.jsonl" "$T/ds/corpus.jsonl"; cp "$T/queries.bad.jsonl" "$T/ds/queries.jsonl"
awk '$5 >= 9 { printf "%s\t%s\t1\n", $1, $3 }' "$T/cand.trec" | sed '1i query-id\tcorpus-id\tscore' >"$T/ds/qrels/train.tsv"
cp "$T/ds/qrels/train.tsv" "$T/ds/qrels/test.tsv"
FIT=("$BIN" fit-head --model "$T/tiny" --dataset "$T/ds" --candidates "$T/cand.trec" --negatives 4 --max-length 64 --l2 0.01)
"${FIT[@]}" --output "$T/head" 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "corpus.jsonl:4:" "$T/err" && [ ! -e "$T/head" ] && ok "fit-head strict: stops at corpus.jsonl:4" || bad "fit-head strict: exit $rc: $(cat "$T/err")"
"${FIT[@]}" --output "$T/head" --lenient 2>"$T/err"; rc=$?
if [ "$rc" = 0 ] && grep -q "lenient: 3 malformed lines skipped" "$T/err" && grep -q "fit-head: lenient: [1-9][0-9]* candidates, relevant documents or queries dropped" "$T/err" && [ -f "$T/head/model.safetensors" ]; then
  ok "fit-head --lenient: fits, lines and dropped pairs counted"; else bad "fit-head --lenient: exit $rc: $(cat "$T/err")"; fi
cat >"$T/run.yaml" <<YAML
dataset:
  path: $T/ds
  bad_lines: lenient
first_stage:
  run: $T/cand.trec
rerank:
  model: $T/tiny
  max_length: 64
output_dir: $T/out
YAML
"$BIN" run "$T/run.yaml" 2>"$T/err"; rc=$?
[ "$rc" = 0 ] && cmp -s "$T/out/rerank.run" "$T/lenient.run" && ok "run with dataset.bad_lines: lenient = rerank --lenient" || bad "run lenient: exit $rc: $(tail -5 "$T/err")"
"$BIN" run "$T/run.yaml" --set dataset.bad_lines=strict --out "$T/out2" 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "corpus.jsonl:4:" "$T/err" && ok "run with bad_lines strict: stops at corpus.jsonl:4" || bad "run strict: exit $rc: $(tail -5 "$T/err")"
finish
