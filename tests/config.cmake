# rerank run: the config loader (good configs, every bad-config message with file:line:column),
# and the pipeline end to end through the CLI on a 10-query SciFact slice (test cross-encoder,
# and a dense first stage over 80 documents).
rr_test(test_config SOURCES test_config.c LABELS cpu)
rr_script_test(test_run_cli test_run_cli.sh LABELS cpu model)
set_tests_properties(test_run_cli PROPERTIES TIMEOUT 600)
