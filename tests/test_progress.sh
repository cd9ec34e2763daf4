#!/usr/bin/env bash
# tests/test_progress.sh — the progress line of the long commands (rerank score here; rerank
# rerank, index and run share cli_progress): with --progress it ends on "N/N pairs" with a
# rate and an ETA; by default it stays off when stderr is not a terminal (as here); --quiet
# wins over --progress; the scores are the same with and without it.
# Needs RR_BIN and RR_MODELS_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
CE="${RR_MODELS_DIR:?}/test-cross-encoder"
[ -f "$CE/config.json" ] || { echo "SKIPPED: no $CE (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for i in $(seq 1 40); do printf 'query %d about zinc\tpassage number %d on the common cold and zinc lozenges\n' "$i" "$i"; done > "$T/pairs.tsv"
run() { "$BIN" score --model "$CE" --pairs "$T/pairs.tsv" --max-length 64 --token-budget 256 "$@"; }

run --output "$T/a.txt" --progress 2> "$T/a.err" || bad "score --progress exit $?"
tr '\r' '\n' < "$T/a.err" > "$T/a.lines"
if grep -qE '^rerank score: 40/40 pairs +[0-9.]+ pairs/s +elapsed [0-9]+s +ETA 0s' "$T/a.lines"; then
  ok "--progress ends on 40/40 pairs with rate and ETA"
else
  bad "--progress: no final line in: $(head -c 300 "$T/a.lines")"
fi
[ "$(tail -c 1 "$T/a.err" | od -An -c | tr -d ' ')" = '\n' ] && ok "the progress line ends with a newline" || bad "no final newline"
run --output "$T/b.txt" 2> "$T/b.err" || bad "score exit $?"
grep -q 'pairs/s' "$T/b.err" && bad "progress printed to a non-terminal without --progress" || ok "off when stderr is not a terminal"
run --output "$T/c.txt" --progress --quiet 2> "$T/c.err" || bad "score --progress --quiet exit $?"
grep -q 'pairs/s' "$T/c.err" && bad "--quiet did not win" || ok "--quiet wins over --progress"
cmp -s "$T/a.txt" "$T/b.txt" && ok "same scores with and without the progress line" || bad "scores differ"
[ "$(wc -l < "$T/a.txt")" = 40 ] && ok "40 scores" || bad "$(wc -l < "$T/a.txt") scores"
finish
