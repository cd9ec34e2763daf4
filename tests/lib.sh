# tests/lib.sh — sourced by the shell-driven tests: the ok/FAIL tally and the tiny model.
#   ok MSG / bad MSG   one line each, counted
#   finish             prints the tally; its status is the test's (0 when nothing failed)
#   tiny_model DIR     a tiny seeded BERT cross-encoder (tests/tools/make_tiny_model.py) with
#                      all-MiniLM-L6-v2's tokenizer files ($RR_MODELS_DIR)
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
tiny_model() { python3 "${RR_REPO_DIR:?}/tests/tools/make_tiny_model.py" "$1" "${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"; }
