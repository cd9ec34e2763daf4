# The catalogue of bad inputs (tests/bad_inputs/, issue 6): every case exits with its status
# and message, no signal, no sanitizer report, no output left behind.
rr_script_test(test_bad_inputs test_bad_inputs.sh LABELS cpu model)
