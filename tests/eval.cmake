# Evaluation (rerank eval): the library on hand-made cases, the CLI against trec_eval's own
# test outputs (tests/fixtures/trec_eval), and bad input through the CLI.
rr_test(test_eval SOURCES test_eval.c LABELS cpu)
rr_script_test(test_eval_golden test_eval_golden.sh LABELS cpu)
rr_script_test(test_eval_bad test_eval_bad.sh LABELS cpu)
