# End-to-end parity against PyTorch through the CLI (needs the models from scripts/setup.sh).
rr_test(test_model_parity SOURCES test_model_parity.c ${PROJECT_SOURCE_DIR}/src/cli/cli_util.c
        LABELS cpu model)
if(RR_SANITIZE) # an eighth of the fixture under ASan + UBSan (a quarter: 338 s in CI), for CI's time
  set_property(TEST test_model_parity APPEND PROPERTY ENVIRONMENT RR_PARITY_STRIDE=8)
endif()
rr_script_test(test_bad_input test_bad_input.sh LABELS cpu model)
rr_script_test(test_checkpoint_formats test_checkpoint_formats.sh LABELS cpu model)
# rerank rerank: candidates from a TREC run, reranked order against PyTorch's logits.
rr_script_test(test_rerank_cli test_rerank_cli.sh LABELS cpu model)
if(RR_SANITIZE) # 15 queries, 5 for the repeated runs (295 s under ASan with 50 and 10)
  set_property(TEST test_rerank_cli APPEND PROPERTY ENVIRONMENT RR_RERANK_QUERIES=15 RR_RERANK_SMALL=5)
endif()
rr_script_test(test_progress test_progress.sh LABELS cpu model)
# nothing lost: kill -9 at random moments + --resume = the uninterrupted bytes (20k pairs of
# a tiny model here; the 100k-pair run of issue 6 is the slow variant)
rr_script_test(test_resume test_resume.sh LABELS cpu model)
rr_script_test(test_resume_100k test_resume.sh LABELS slow slow_ci)
set_property(TEST test_resume_100k APPEND PROPERTY ENVIRONMENT RR_RESUME_PAIRS=100000)
rr_script_test(test_msmarco_tsv test_msmarco_tsv.sh LABELS cpu model)
rr_script_test(test_memory_limit test_memory_limit.sh LABELS cpu model)
# issue 5: peak RSS of a 1M-pair run within 10% of a 100k-pair run (bench/bench_memory.sh)
rr_script_test(test_memory_bound test_memory_bound.sh LABELS model slow)
set_tests_properties(test_memory_bound PROPERTIES TIMEOUT 1800)
# rerank fit-head: a head fitted on 30 SciFact train queries; loads in rerank and transformers,
# scores = w·features + b, deterministic across threads, bad inputs leave no directory.
rr_script_test(test_fit_head test_fit_head.sh LABELS cpu model)
rr_script_test(test_disk_full test_disk_full.sh LABELS cpu model)
rr_script_test(test_lenient test_lenient.sh LABELS cpu model)
# --keep-rest: the top n reranked, the other candidates after them in the first stage's order
rr_script_test(test_keep_rest test_keep_rest.sh LABELS cpu model)
# The whole-job helpers across several chunks (RR_CHUNK_ITEMS): the same scores as one chunk
# (CPU: bit for bit), tokenize errors of a later chunk in order, cancellation.
rr_test(test_chunks SOURCES test_chunks.c LABELS cpu model)
if(RR_CUDA_LOADER)
  add_test(NAME test_chunks_cuda COMMAND test_chunks cuda)
  set_tests_properties(test_chunks_cuda PROPERTIES LABELS "gpu;model" SKIP_RETURN_CODE 77
    ENVIRONMENT "RR_MODELS_DIR=${RR_MODELS_DIR}")
endif()
# --device auto / cuda / cpu against --precision without a GPU: fp32 on the CPU and a note, or
# a refusal; with kemu's emulated GPU, auto computes the precision asked
rr_script_test(test_device_auto test_device_auto.sh LABELS cpu model)
if(RR_KEMU_ON)
  set_property(TEST test_device_auto APPEND PROPERTY ENVIRONMENT "RR_EMU_MODULE=$<TARGET_FILE:rerank_cuda_emu>")
endif()
