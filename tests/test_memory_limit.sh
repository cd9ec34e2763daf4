#!/usr/bin/env bash
# tests/test_memory_limit.sh — a memory limit shrinks the passes instead of failing, and the
# output does not change: `rerank rerank --max-memory MB` with the test cross-encoder (its
# 16,384-token workspace needs ~250 MB) at 20 MB runs in many more, smaller passes and writes
# the same bytes as the unlimited run (the CPU backend's row blocks make a pair's score
# independent of its pass); a limit below one sequence's pass is an error that says so,
# exit 1, no output.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
DATA="${RR_REPO_DIR:?}/data/scifact"
CE="${RR_MODELS_DIR:?}/test-cross-encoder"
[ -f "$CE/config.json" ] || { echo "SKIPPED: no $CE (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
zcat "$DATA/corpus.jsonl.gz" | head -200 >"$T/corpus.jsonl"
python3 - "$T" "$DATA" <<'PY'
import gzip, json, sys
T, data = sys.argv[1], sys.argv[2]
docs = [json.loads(l)["_id"] for l in open(f"{T}/corpus.jsonl")]
qs = [json.loads(l)["_id"] for _, l in zip(range(8), gzip.open(f"{data}/queries.jsonl.gz", "rt"))]
with open(f"{T}/cand.trec", "w") as f:
    for i, q in enumerate(qs):
        for j in range(12):
            f.write(f"{q} Q0 {docs[(i * 13 + j * 7) % len(docs)]} {j + 1} {12 - j} x\n")
PY
C=("$BIN" rerank --model "$CE" --run "$T/cand.trec" --corpus "$T/corpus.jsonl" --queries "$DATA/queries.jsonl.gz"
   --max-length 160 --timing)
"${C[@]}" --output "$T/free.run" 2>"$T/free.err" || bad "unlimited run: $(cat "$T/free.err")"
"${C[@]}" --output "$T/lim.run" --max-memory 12 2>"$T/lim.err" || bad "--max-memory 12: $(cat "$T/lim.err")"
p0=$(sed -n 's/.* passes=\([0-9]*\) .*/\1/p' "$T/free.err"); p1=$(sed -n 's/.* passes=\([0-9]*\) .*/\1/p' "$T/lim.err")
if [ -n "$p0" ] && [ -n "$p1" ] && [ "$p1" -gt "$((p0 * 4))" ]; then ok "--max-memory 12: $p1 passes instead of $p0"
else bad "passes: unlimited '$p0', limited '$p1'"; fi
[ -s "$T/free.run" ] && cmp -s "$T/free.run" "$T/lim.run" && ok "same bytes under the memory limit" || bad "output differs under --max-memory"
"${C[@]}" --output "$T/x.run" --max-memory 1 2>"$T/x.err"; rc=$?
if [ "$rc" = 1 ] && grep -q "too small: a pass of 160 tokens" "$T/x.err" && ! ls "$T"/x.run* >/dev/null 2>&1; then
  ok "a limit below one sequence: refused, no output"; else bad "tiny limit: exit $rc: $(cat "$T/x.err")"; fi
finish
