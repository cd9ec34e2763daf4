#!/usr/bin/env bash
# tests/test_eval_bad.sh — bad input to `rerank eval`: each case must exit with status 1
# (not a signal), print an error naming the file and line (or the option), and write nothing
# to stdout. Usage errors (bad options) exit with status 2.
# Needs RR_BIN and RR_REPO_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
FX="${RR_REPO_DIR:?}/tests/fixtures/trec_eval"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

# expect NAME STATUS NEEDLE -- ARGS...
expect() {
  local name="$1" want="$2" needle="$3"; shift 4
  "$BIN" eval "$@" > "$T/stdout" 2> "$T/stderr"
  local rc=$? msg
  msg="$(head -c 400 "$T/stderr")"
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit status $rc (want $want): $msg"; fail=$((fail + 1)); return
  fi
  if ! grep -qF -- "$needle" "$T/stderr"; then
    echo "FAIL $name: message lacks '$needle': $msg"; fail=$((fail + 1)); return
  fi
  if [ -s "$T/stdout" ]; then
    echo "FAIL $name: something was written to stdout"; fail=$((fail + 1)); return
  fi
  echo "ok   $name: $(head -n 1 "$T/stderr")"; pass=$((pass + 1))
}

gzip -dc "$FX/qrels.test.gz" > "$T/qrels"
gzip -dc "$FX/results.test.gz" > "$T/run"

# --- the run ---
{ head -n 10 "$T/run"; echo "301 Q0 FR940202-2-00999 11 1.5"; tail -n +11 "$T/run"; } > "$T/run5"
expect run-5-fields 1 "run5:11: expected 6 fields (qid Q0 docid rank score tag), found 5" -- "$T/qrels" "$T/run5"
{ head -n 4 "$T/run"; echo "301 Q0 FR940202-2-00998 5 high STANDARD"; } > "$T/runscore"
expect run-bad-score 1 "runscore:5: score 'high' is not a number" -- "$T/qrels" "$T/runscore"
{ head -n 3 "$T/run"; head -n 1 "$T/run"; } > "$T/rundup"
expect run-duplicate-doc 1 "rundup:4: docid 'FR940202-2-00150' retrieved twice for query '301' (also at line 1)" -- "$T/qrels" "$T/rundup"
expect run-missing 1 "$T/nonexistent.run: cannot open" -- "$T/qrels" "$T/nonexistent.run"
: > "$T/runempty"
expect run-empty 1 "runempty: no results" -- "$T/qrels" "$T/runempty"
head -c 3000 "$T/run" | gzip -c | head -c 700 > "$T/runtrunc.gz"
expect run-truncated-gzip 1 "runtrunc.gz" -- "$T/qrels" "$T/runtrunc.gz"

# --- the qrels ---
{ head -n 6 "$T/qrels"; echo "301 0 CR93E-99999"; } > "$T/qrels3"
expect qrels-3-fields 1 "qrels3:7: expected 4 fields (qid iter docid rel), found 3" -- "$T/qrels3" "$T/run"
{ head -n 2 "$T/qrels"; echo "301 0 CR93E-99998 1 extra"; } > "$T/qrels5"
expect qrels-5-fields 1 "qrels5:3: expected 4 fields" -- "$T/qrels5" "$T/run"
{ head -n 2 "$T/qrels"; echo "301 0 CR93E-99997 yes"; } > "$T/qrelsrel"
expect qrels-bad-relevance 1 "qrelsrel:3: relevance 'yes' is not an integer" -- "$T/qrelsrel" "$T/run"
{ head -n 5 "$T/qrels"; sed -n 2p "$T/qrels" | sed 's/ 0$/ 1/'; } > "$T/qrelsdup"
expect qrels-duplicate 1 "qrelsdup:6: docid 'CR93E-10505' judged twice for query '301' (also at line 2)" -- "$T/qrelsdup" "$T/run"
printf 'query-id\tcorpus-id\tscore\n301\tCR93E-1282\t1\n301\tCR93E-1283\n' > "$T/beir.tsv"
expect beir-2-fields 1 "beir.tsv:3: expected 3 fields (query-id corpus-id score)" -- "$T/beir.tsv" "$T/run"
expect qrels-missing 1 "$T/nonexistent.qrels: cannot open" -- "$T/nonexistent.qrels" "$T/run"
expect qrels-directory 1 "$T" -- "$T" "$T/run"

# --- nothing in common ---
sed 's/^30/90/' "$T/qrels" > "$T/qrels-other"
expect no-common-queries 1 "no queries with both results and relevance judgements" -- "$T/qrels-other" "$T/run"

# --- options (usage errors: status 2; bad measures: status 1) ---
expect unknown-measure 1 "illegal measure 'ndgc'" -- -m ndgc "$T/qrels" "$T/run"
expect zero-cutoff 1 "cutoffs must be positive" -- -m P.0,10 "$T/qrels" "$T/run"
expect duplicate-cutoff 1 "duplicate cutoff 10" -- -m P.10,10 "$T/qrels" "$T/run"
expect params-on-map 1 "measure 'map' takes no parameters" -- -m map.10 "$T/qrels" "$T/run"
expect bad-M 2 "-M needs a positive number" -- -M0 "$T/qrels" "$T/run"
expect bad-l 2 "option -l needs an integer, got 'two'" -- -l two "$T/qrels" "$T/run"
expect unknown-option 2 "unknown option '-x'" -- -x "$T/qrels" "$T/run"
expect one-file 2 "expected QRELS and RUN, got 1 file argument" -- "$T/qrels"
expect three-files 2 "unexpected argument" -- "$T/qrels" "$T/run" "$T/run"

# --output: nothing is left behind on failure
"$BIN" eval --output "$T/out.txt" "$T/qrels5" "$T/run" 2> /dev/null
rc=$?
if [ $rc -eq 1 ] && [ ! -e "$T/out.txt" ] && ! ls "$T"/out.txt.tmp.* > /dev/null 2>&1; then
  echo "ok   output-not-left: status 1, no file"; pass=$((pass + 1))
else
  echo "FAIL output-not-left: status $rc, files: $(ls "$T" | grep out.txt)"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
