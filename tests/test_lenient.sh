#!/usr/bin/env bash
# tests/test_lenient.sh — --strict (default) and --lenient for corpus and query lines:
# a corpus with three malformed lines (bad JSON, no "_id", invalid UTF-8) and a query set with
# one: strict stops at the first with its file:line, exit 1, no output; lenient reranks the
# rest, drops the candidates whose document or query was skipped, says how many of each with
# the first message, and its run equals a strict run over the clean files with the same
# candidates left out (tiny seeded model, CPU).
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them) and python3.
set -u
BIN="${RR_BIN:?}"
DATA="${RR_REPO_DIR:?}/data/scifact"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
[ -f "$MINILM/vocab.txt" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny_model "$T/tiny" || exit 1
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
finish
