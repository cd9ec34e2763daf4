# tests/lib.sh — sourced by the shell-driven tests: the ok/FAIL tally and the tiny model.
#   ok MSG / bad MSG   one line each, counted
#   finish             prints the tally; its status is the test's (0 when nothing failed)
#   tiny_model DIR     a tiny seeded BERT cross-encoder (tests/tools/make_tiny_model.py) with
#                      all-MiniLM-L6-v2's tokenizer files ($RR_MODELS_DIR)
#   word_pairs N       N deterministic "query<TAB>passage" lines of 3-8 and 10-40 words (the
#                      kemu tests' small workloads)
#   emu_test_setup     the common start of a test on kemu's CUDA module: BIN, MODEL (the test
#                      cross-encoder); skips (exit 77) without RR_CUDA_MODULE or the model; T,
#                      a scratch directory removed at exit
#   tiny_test_setup    the common start of a tiny-model test: BIN, DATA (the shipped SciFact),
#                      MINILM; skips (exit 77) without the models; T, a scratch directory
#                      removed at exit; the tiny model in $T/tiny
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
tiny_model() { python3 "${RR_REPO_DIR:?}/tests/tools/make_tiny_model.py" "$1" "${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"; }
word_pairs() {
  local words=(protein cell gene tumour immune receptor signal pathway mutation therapy trial blood brain liver insulin)
  local i j q d
  for ((i = 0; i < $1; i++)); do
    q="" d=""
    for ((j = 0; j < 3 + i % 6; j++)); do q+="${words[(i * 7 + j * 3) % 15]} "; done
    for ((j = 0; j < 10 + (i * 13) % 31; j++)); do d+="${words[(i * 5 + j * 11) % 15]} "; done
    printf '%s\t%s\n' "$q" "$d"
  done
}
emu_test_setup() {
  BIN="${RR_BIN:?}"
  MODEL="${RR_MODELS_DIR:?}/test-cross-encoder"
  [ -n "${RR_CUDA_MODULE:-}" ] || { echo "SKIPPED: RR_CUDA_MODULE is not set (kemu's module; ctest sets it)"; exit 77; }
  [ -f "$MODEL/config.json" ] || { echo "SKIPPED: no $MODEL (run scripts/setup.sh)"; exit 77; }
  T="$(mktemp -d)"
  trap 'rm -rf "$T"' EXIT
}
tiny_test_setup() {
  BIN="${RR_BIN:?}"
  DATA="${RR_REPO_DIR:?}/data/scifact"
  MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
  [ -f "$MINILM/vocab.txt" ] || { echo "SKIPPED: no $MINILM (run scripts/setup.sh)"; exit 77; }
  T="$(mktemp -d)"
  trap 'rm -rf "$T"' EXIT
  tiny_model "$T/tiny" || exit 1
}
