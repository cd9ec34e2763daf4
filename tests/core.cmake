# Core library tests (no model needed).
rr_test(test_safetensors SOURCES test_safetensors.c LABELS cpu)
rr_test(test_cpu_ops SOURCES test_cpu_ops.c LABELS cpu)
rr_test(test_head_fit SOURCES test_head_fit.c LABELS cpu)
rr_test(test_candidates SOURCES test_candidates.c LABELS cpu)
