#!/usr/bin/env bash
# tests/test_disk_full.sh — a full disk is reported as such and the previous output is left
# intact: `rerank rerank` (tiny seeded model, 2,000 pairs, ~100 KB of output) writing into a
# 32 KB tmpfs (when this test may mount one: root), else into a file-size limit of 32 KB
# (ulimit -f, SIGXFSZ ignored: the write fails with EFBIG). Expect exit 1, a message naming
# the file and the reason, the old output byte-identical, no temporary file; with room again
# (--resume), the job finishes.
# Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them) and python3.
set -u
BIN="${RR_BIN:?}"
DATA="${RR_REPO_DIR:?}/data/scifact"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
[ -f "$MINILM/vocab.txt" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
MNT="$T/full"
mkdir -p "$MNT"
mounted=0
trap '[ "$mounted" = 1 ] && umount "$MNT" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny_model "$T/tiny" || exit 1
python3 - "$DATA" "$T/cand.trec" <<'PY'
import gzip, json, sys
data, out = sys.argv[1], sys.argv[2]
docs = [json.loads(l)["_id"] for l in gzip.open(f"{data}/corpus.jsonl.gz", "rt")]
qids = [json.loads(l)["_id"] for l in gzip.open(f"{data}/queries.jsonl.gz", "rt")][:40]
with open(out, "w") as f:
    for i, q in enumerate(qids):
        for j in range(50):
            f.write(f"{q} Q0 {docs[(i * 31 + j * 17) % len(docs)]} {j + 1} {50 - j} x\n")
PY
if [ -z "${RR_TEST_NO_MOUNT:-}" ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=32k tmpfs "$MNT" 2>/dev/null; then
  mounted=1; mode="tmpfs of 32 KB"; want="No space left on device"; limit=""
else
  mode="ulimit -f 32"; want="File too large"; limit="ulimit -f 32; trap '' XFSZ;"
fi
echo "mode: $mode"
printf 'old output: must survive\n' >"$MNT/out.run"
cp "$MNT/out.run" "$T/old.copy"
R="$(printf '%q ' "$BIN" rerank --model "$T/tiny" --run "$T/cand.trec" --corpus "$DATA/corpus.jsonl.gz" \
      --queries "$DATA/queries.jsonl.gz" --top-n 0 --max-length 48)"
bash -c "$limit exec $R --output $(printf '%q' "$MNT/out.run")" >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" = 1 ] && grep -q "$want" "$T/err" && grep -q "out.run" "$T/err"; then ok "$mode: exit 1, '$(head -c 160 "$T/err")'"
else bad "$mode: exit $rc: $(cat "$T/err")"; fi
cmp -s "$MNT/out.run" "$T/old.copy" && ok "the previous output is intact" || bad "the previous output changed"
ls "$MNT" | grep -q '\.tmp\.' && bad "temporary file left: $(ls "$MNT")" || ok "no temporary file left"
# room again: the same command with --resume finishes (the journal, if any, is used)
limit=""
if [ "$mounted" = 1 ] && ! mount -o remount,size=4m "$MNT" 2>/dev/null; then umount "$MNT"; mounted=0; fi
bash -c "$limit exec $R --resume --output $(printf '%q' "$MNT/out.run")" >/dev/null 2>"$T/err2"; rc=$?
if [ "$rc" = 0 ] && [ "$(wc -l <"$MNT/out.run")" = 2000 ] && [ ! -e "$MNT/out.run.journal" ]; then
  ok "with room again, --resume finishes: 2000 lines"; else bad "resume after full disk: exit $rc: $(cat "$T/err2")"; fi
finish
