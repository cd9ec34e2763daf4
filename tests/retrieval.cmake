# First stage (rr_index over FAISS's C API, rerank index / retrieve). test_index skips when
# the build has no FAISS; test_scifact_dense needs the bi-encoder from scripts/setup.sh.
rr_test(test_index SOURCES test_index.c LABELS cpu)
rr_script_test(test_retrieve_cli test_retrieve_cli.sh LABELS cpu model)
rr_script_test(test_scifact_dense test_scifact_dense.sh LABELS cpu model slow)
set_tests_properties(test_scifact_dense PROPERTIES TIMEOUT 1800)
# issue 4: indexing peak RSS grows by the index, not the corpus text (tiny model, ~25 s)
rr_script_test(test_index_memory test_index_memory.sh LABELS cpu model)
set_tests_properties(test_index_memory PROPERTIES TIMEOUT 900)
# issue 3/4: search on a GPU copy of the index against the CPU index (skips without FAISS GPU
# support or without a GPU)
rr_test(test_index_gpu SOURCES test_index_gpu.c LABELS gpu)
