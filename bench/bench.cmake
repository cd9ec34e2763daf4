# bench/bench.cmake — bench programs (included by bench/CMakeLists.txt).
#
# rr_sgemm_rate: the machine's OpenBLAS sgemm GFLOP/s (square and the network's shapes), the
# denominator of bench/bench_cpu.py's "fraction of sgemm" column. It links the same OpenBLAS
# (OpenMP build) and OpenMP runtime that rerank_core links, directly rather than through
# rerank_core, so it builds (and the harness can calibrate) even while the library does not.
add_executable(rr_sgemm_rate sgemm_rate.c)
target_include_directories(rr_sgemm_rate PRIVATE ${RR_CBLAS_INCLUDE})
target_compile_options(rr_sgemm_rate PRIVATE ${RR_WARNINGS})
target_link_libraries(rr_sgemm_rate PRIVATE ${RR_OPENBLAS} OpenMP::OpenMP_C m)
set_target_properties(rr_sgemm_rate PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# rr_cuda_ops: per-op device time of one encoder layer on a full pass (needs a GPU to run).
if(RR_HAVE_CUDA)
  add_executable(rr_cuda_ops cuda_ops.c)
  target_include_directories(rr_cuda_ops PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(rr_cuda_ops PRIVATE ${RR_WARNINGS})
  target_link_libraries(rr_cuda_ops PRIVATE rerank_core CUDA::cudart)
  set_target_properties(rr_cuda_ops PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  # rr_lt_algos: each layer product under every algorithm cuBLASLt's heuristic offers, timed
  # (does choosing by time beat the heuristic's first choice?). cuBLASLt only, no rerank code.
  add_executable(rr_lt_algos lt_algos.c)
  target_compile_options(rr_lt_algos PRIVATE ${RR_WARNINGS})
  target_link_libraries(rr_lt_algos PRIVATE CUDA::cudart CUDA::cublasLt)
  set_target_properties(rr_lt_algos PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()

# rr_faiss_search: FAISS search alone through rr_index on synthetic vectors (bench/bench_faiss.sh
# runs it beside FAISS's own Python wrapper on the same data and threads).
add_executable(rr_faiss_search faiss_search.c)
target_compile_options(rr_faiss_search PRIVATE ${RR_WARNINGS})
target_link_libraries(rr_faiss_search PRIVATE rerank_core OpenMP::OpenMP_C)
set_target_properties(rr_faiss_search PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# rr_linear_rate: the CPU backend's own GEMM (`linear`) against OpenBLAS sgemm on the network's
# shapes, same process and inputs.
add_executable(rr_linear_rate linear_rate.c)
target_include_directories(rr_linear_rate PRIVATE ${PROJECT_SOURCE_DIR}/src ${RR_CBLAS_INCLUDE})
target_compile_options(rr_linear_rate PRIVATE ${RR_WARNINGS})
target_link_libraries(rr_linear_rate PRIVATE rerank_core ${RR_OPENBLAS} m)
set_target_properties(rr_linear_rate PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# rr_tokenize_rate: the tokenizer alone, one thread, over a file of texts (bench/bench_tokenizer.py
# runs it beside Hugging Face's `tokenizers` on the same texts).
add_executable(rr_tokenize_rate tokenize_rate.c)
target_include_directories(rr_tokenize_rate PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(rr_tokenize_rate PRIVATE ${RR_WARNINGS})
target_link_libraries(rr_tokenize_rate PRIVATE rerank_core)
set_target_properties(rr_tokenize_rate PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
