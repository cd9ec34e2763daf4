#!/usr/bin/env bash
# tests/test_bad_inputs.sh — runs the catalogue of bad inputs, tests/bad_inputs/ (issue 6).
#
# Each case directory holds the bad file(s), `cmd` (rerank's arguments, one line) and
# `expect` (line 1: exit status, line 2: a fixed substring of stderr); tests/tools/
# make_bad_inputs.py wrote them and says how. Placeholders in cmd:
#   @CASE the case directory   @DATA data/scifact   @TINY a tiny cross-encoder (built here)
#   @MINILM the bi-encoder     @MODEL a copy of @TINY with the case's model/ laid over it
#   @INDEX a copy of a 3-document FAISS index with the case's index/ laid over it
#   @OUT a path in an empty scratch directory      @SCRATCH that directory
# (a file DELETE in model/ or index/ lists files to remove from the copy). YAML configs see
# ${RR_BAD_DATA}, ${RR_BAD_TINY}, ${RR_BAD_SCRATCH}.
# A case passes when: the exit status is the expected one (never a signal, never the
# timeout), stderr holds the text, stderr has no sanitizer report, the scratch directory is
# empty afterwards (no output, no .tmp.*, no journal), and the case directory is unchanged.
# Then cases generated here because they cannot be committed small: a 100 MB line (plain and
# gzip) in a corpus and in a pairs file, refused with bounded memory.
# Fails when fewer than 40 committed cases exist. Cases with an index/ directory or a
# needs-faiss file are reported SKIP (not passed) when the build has no FAISS. Needs RR_BIN, RR_REPO_DIR, RR_MODELS_DIR (ctest sets them).
set -u
BIN="$(cd "$(dirname "${RR_BIN:?}")" && pwd)/$(basename "$RR_BIN")"
REPO="${RR_REPO_DIR:?}"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
CASES="$REPO/tests/bad_inputs"
DATA="$REPO/data/scifact"
[ -f "$MINILM/model.safetensors" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
TIMEOUT="${RR_BAD_TIMEOUT:-30}"

python3 "$REPO/tests/tools/make_tiny_model.py" "$T/tiny" "$MINILM" || { echo "FAIL: cannot build the tiny model"; exit 1; }
TINY="$T/tiny"

# a small index for the index/ cases (3 documents, the real bi-encoder)
have_faiss=1
printf '%s\n' '{"_id": "d1", "title": "Alpha", "text": "alpha beta"}' \
  '{"_id": "d2", "title": "Gamma", "text": "gamma delta"}' '{"_id": "d3", "text": "epsilon"}' >"$T/corpus.jsonl"
if ! "$BIN" index --corpus "$T/corpus.jsonl" --model "$MINILM" --out "$T/index" >/dev/null 2>"$T/index.err"; then
  if grep -q "built without FAISS" "$T/index.err"; then
    have_faiss=0
  else
    echo "FAIL: cannot build the base index: $(cat "$T/index.err")"; exit 1
  fi
fi

export RR_BAD_DATA="$DATA" RR_BAD_TINY="$TINY"
# FAISS leaks what it had read of a malformed index.faiss (see tests/lsan.supp)
export LSAN_OPTIONS="suppressions=$REPO/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
sanitizer_re='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'

# overlay SRC_DIR CASE_SUBDIR DST: copy SRC_DIR to DST, lay CASE_SUBDIR's files over it and
# remove the files its DELETE lists
overlay() {
  cp -r "$1" "$3"
  local f
  for f in "$2"/* "$2"/.[!.]*; do
    [ -e "$f" ] || continue
    [ "$(basename "$f")" = DELETE ] && continue
    rm -rf "$3/$(basename "$f")"
    cp -r "$f" "$3/"
  done
  if [ -f "$2/DELETE" ]; then
    while IFS= read -r f; do [ -n "$f" ] && rm -rf "${3:?}/$f"; done <"$2/DELETE"
  fi
}

# check NAME WANT_STATUS NEEDLE RC STDERR_FILE SCRATCH: the common verdict; echoes ok/FAIL
check() {
  local name="$1" want="$2" needle="$3" rc="$4" err="$5" scratch="$6" why=""
  local msg; msg="$(head -c 300 "$err" | tr '\n' ' ')"
  if [ "$rc" -eq 124 ]; then why="timed out after ${TIMEOUT}s (a hang?)"
  elif [ "$rc" -ge 128 ]; then why="killed by signal $((rc - 128))"
  elif [ "$rc" -ne "$want" ]; then why="exit status $rc, want $want"
  elif grep -qE "$sanitizer_re" "$err"; then why="sanitizer report"
  elif ! grep -qF -- "$needle" "$err"; then why="stderr lacks '$needle'"
  elif [ -n "$(ls -A "$scratch")" ]; then why="left in the scratch directory: $(ls -A "$scratch" | tr '\n' ' ')"
  fi
  if [ -n "$why" ]; then
    echo "FAIL $name: $why: $msg"; fail=$((fail + 1))
  else
    echo "ok   $name: $msg"; pass=$((pass + 1))
  fi
}

q() { printf '%q' "$1"; }
n=0
for dir in "$CASES"/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  [ -f "$dir/cmd" ] && [ -f "$dir/expect" ] || { echo "FAIL $name: no cmd or expect file"; fail=$((fail + 1)); continue; }
  n=$((n + 1))
  want="$(sed -n 1p "$dir/expect")"
  needle="$(sed -n 2p "$dir/expect")"
  S="$T/scratch/$name"
  mkdir -p "$S"
  line="$(head -n 1 "$dir/cmd")"
  if [ -d "$dir/model" ]; then
    mkdir -p "$T/models"
    overlay "$TINY" "$dir/model" "$T/models/$name"
    line="${line//@MODEL/$(q "$T/models/$name")}"
  fi
  if [ $have_faiss = 0 ] && { [ -d "$dir/index" ] || [ -f "$dir/needs-faiss" ]; }; then
    echo "SKIP $name: this build has no FAISS (not counted as passed)"; skip=$((skip + 1)); continue
  fi
  if [ -d "$dir/index" ]; then
    mkdir -p "$T/indexes"
    overlay "$T/index" "$dir/index" "$T/indexes/$name"
    line="${line//@INDEX/$(q "$T/indexes/$name")}"
  fi
  line="${line//@CASE/$(q "$dir")}"
  line="${line//@DATA/$(q "$DATA")}"
  line="${line//@TINY/$(q "$TINY")}"
  line="${line//@MINILM/$(q "$MINILM")}"
  line="${line//@OUT/$(q "$S/out")}"
  line="${line//@SCRATCH/$(q "$S")}"
  eval "args=($line)"
  before="$(cd "$dir" && find . -print | LC_ALL=C sort)"
  (cd "$S" && RR_BAD_SCRATCH="$S" exec timeout -k 5 "$TIMEOUT" "$BIN" "${args[@]}") >"$T/stdout" 2>"$T/stderr"
  rc=$?
  check "$name" "$want" "$needle" "$rc" "$T/stderr" "$S"
  after="$(cd "$dir" && find . -print | LC_ALL=C sort)"
  if [ "$before" != "$after" ]; then
    echo "FAIL $name: the case directory changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"
    fail=$((fail + 1))
  fi
done

# --- generated: 100 MB lines (bounded memory: the reader caps a line at 64 MB) ---
# Address space is capped at 1 GiB outside the sanitizer build (ASan reserves terabytes of
# shadow memory, so there the cap is left off and only the outcome is checked).
# A binary that links the CUDA libraries maps about 0.5 GiB more at start: 2 GiB then.
limit=""
if ! grep -qa "__asan_init" "$BIN"; then
  kib=1048576
  ldd "$BIN" 2>/dev/null | grep -q libcudart && kib=2097152
  limit="ulimit -v $kib;"
fi
G="$T/gen"
mkdir -p "$G"
head -c 100000000 /dev/zero | tr '\0' a >"$G/long"
{ printf '{"_id": "d1", "text": "'; cat "$G/long"; printf '"}\n'; } >"$G/corpus.jsonl"
gzip -1 -c "$G/corpus.jsonl" >"$G/corpus.jsonl.gz"
{ printf 'q\t'; cat "$G/long"; printf '\n'; } >"$G/pairs.tsv"
rm -f "$G/long"
printf '{"_id": "q1", "text": "q"}\n' >"$G/queries.jsonl"
printf 'q1 Q0 d1 1 1 x\n' >"$G/run.trec"
gen() { # gen NAME NEEDLE ARGS...
  local name="$1" needle="$2"; shift 2
  local S="$T/scratch/$name"
  mkdir -p "$S"
  local args; args="$(for a in "$@"; do printf '%q ' "${a//@OUT/$S/out}"; done)"
  (cd "$S" && bash -c "$limit exec timeout -k 5 $TIMEOUT $(q "$BIN") $args") >"$T/stdout" 2>"$T/stderr"
  check "$name" 1 "$needle" $? "$T/stderr" "$S"
}
for c in corpus.jsonl corpus.jsonl.gz; do
  gen "generated-100mb-line-$c" "$c:1: line longer than" rerank --model "$TINY" --run "$G/run.trec" \
    --corpus "$G/$c" --queries "$G/queries.jsonl" --output @OUT
done
gen generated-100mb-line-pairs "pairs.tsv:1: line longer than" score --model "$TINY" --pairs "$G/pairs.tsv" --output @OUT

echo "$pass passed, $fail failed, $skip skipped ($n committed cases)"
if [ "$n" -lt 40 ]; then echo "FAIL: only $n committed cases (at least 40 wanted)"; exit 1; fi
[ "$fail" -eq 0 ]
