# kemu (tests/kemu/): the CUDA module — kernels/*.cu and src/backend/cuda/*.cu, the same sources
# as librerank_cuda.so — built by the host compiler into librerank_cuda_emu.so, whose kernels,
# streams and cuBLAS(Lt) calls run on the CPU (tests/kemu/kemu.cpp says what it models). The
# GPU tests run against it through RR_CUDA_MODULE, label `emu`, on every machine: CI checks
# the CUDA code's logic on each commit, not only that it compiles. Needs no CUDA toolkit of
# its own (tests/kemu/include stands in for NVIDIA's headers): RR_KEMU=AUTO builds it with
# the CUDA backend, RR_KEMU=ON also without (scripts/test.sh's AddressSanitizer build, where
# ASan checks every global load and store of the kernels, as compute-sanitizer's memcheck).
if(RR_KEMU_ON)
  enable_language(CXX)
  set(RR_KEMU_DIR ${PROJECT_SOURCE_DIR}/tests/kemu)
  file(GLOB RR_KEMU_CU CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cu
       ${PROJECT_SOURCE_DIR}/src/backend/cuda/*.cu)
  set(RR_KEMU_GEN)
  foreach(cu ${RR_KEMU_CU})
    get_filename_component(n ${cu} NAME_WE)
    set(out ${CMAKE_BINARY_DIR}/kemu/${n}.kemu.cpp)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DIN=${cu} -DOUT=${out} -P ${RR_KEMU_DIR}/transform.cmake
      DEPENDS ${cu} ${RR_KEMU_DIR}/transform.cmake VERBATIM)
    list(APPEND RR_KEMU_GEN ${out})
  endforeach()
  add_library(rerank_cuda_emu MODULE ${RR_KEMU_GEN} ${RR_KEMU_DIR}/kemu.cpp
              ${PROJECT_SOURCE_DIR}/src/backend/pass_check.c)
  set_target_properties(rerank_cuda_emu PROPERTIES PREFIX "lib" LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  target_include_directories(rerank_cuda_emu BEFORE PRIVATE ${RR_KEMU_DIR}/include ${RR_KEMU_DIR})
  target_include_directories(rerank_cuda_emu PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
    ${PROJECT_SOURCE_DIR}/kernels ${RR_CBLAS_INCLUDE})
  target_compile_definitions(rerank_cuda_emu PRIVATE RR_KEMU=1)
  if(RR_TSAN)
    # the kernels instrumented, kemu's scheduler not: it tells TSan which of its switches and
    # barriers order what (kemu.cpp, "ThreadSanitizer")
    target_compile_definitions(rerank_cuda_emu PRIVATE KEMU_TSAN=1)
    set_source_files_properties(${RR_KEMU_DIR}/kemu.cpp PROPERTIES COMPILE_OPTIONS -fno-sanitize=thread)
  endif()
  # CUDA's `#pragma unroll` means nothing to the host compiler. -O3 (and this machine's vector
  # instructions, with RR_NATIVE) for the kernels' per-thread loops: emulation is slow enough.
  set(RR_KEMU_OPT -O3)
  if(RR_NATIVE)
    list(APPEND RR_KEMU_OPT -march=native)
  endif()
  target_compile_options(rerank_cuda_emu PRIVATE $<$<COMPILE_LANGUAGE:C>:${RR_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-unknown-pragmas ${RR_KEMU_OPT} -include kemu.h>)
  target_link_options(rerank_cuda_emu PRIVATE -Wl,--no-undefined)
  target_link_libraries(rerank_cuda_emu PRIVATE ${RR_OPENBLAS} Threads::Threads m)
  add_dependencies(rerank_core rerank_cuda_emu)

  # the GPU tests, run on kemu
  function(rr_emu_test name)
    cmake_parse_arguments(T "" "" "COMMAND;LABELS;ENV" ${ARGN})
    add_test(NAME ${name} COMMAND ${T_COMMAND})
    set_tests_properties(${name} PROPERTIES LABELS "emu;${T_LABELS}" ENVIRONMENT
      "RR_CUDA_MODULE=$<TARGET_FILE:rerank_cuda_emu>;RR_REPO_DIR=${RR_REPO_DIR};RR_MODELS_DIR=${RR_MODELS_DIR};RR_BIN=$<TARGET_FILE:rerank>;${T_ENV}")
  endfunction()
  # the module loads, forwards its errors, and names its one device
  rr_emu_test(test_cuda_device_emu COMMAND test_cuda_device)
  # every op on every shape (about six minutes on 2 cores in CI, ModernBERT's ops included: each
  # pass after the first runs only the ops whose device side it changes, tests/test_cuda_ops.c);
  # under ASan, the quick set of
  # shapes and passes 0, 2, 3 and 4 (12 minutes in CI; pass 4, the GELU path alone, 21 s of it);
  # under TSan (racecheck: 26 minutes for the quick set) the passes with the barrier-bearing
  # kernels that run by default or are tried for speed — 0 (SIMT in fp32, mma.sync v4, both
  # LayerNorms, block reductions) and 3 (mma.sync v3, linear_gelu.cu) — on the odd-length shape,
  # without the ops whose device side is a cuBLAS product (RR_TEST_NO_CUBLAS): kemu computes
  # those with OpenBLAS on the host, outside the fibers, so under TSan they checked nothing of
  # ours and took a third of the test's time (165 -> 105 s here; 261 s in CI with ModernBERT's ops)
  set(RR_EMU_OPS_ENV "")
  if(RR_SANITIZE)
    set(RR_EMU_OPS_ENV RR_TEST_QUICK=1 RR_TEST_PASSES=0234)
  elseif(RR_TSAN)
    set(RR_EMU_OPS_ENV RR_TEST_QUICK=1 RR_TEST_PASSES=03 RR_TEST_SHAPES=0 RR_TEST_NO_CUBLAS=1)
  endif()
  rr_emu_test(test_cuda_ops_emu COMMAND test_cuda_ops ENV ${RR_EMU_OPS_ENV})
  # the real models through the library, several chunk schedules (two orders of the streams)
  rr_emu_test(test_chunks_cuda_emu COMMAND test_chunks cuda LABELS model)
  if(NOT RR_SANITIZE) # a minute more under ASan, for CI's time
    rr_emu_test(test_chunks_cuda_emu_seed2 COMMAND test_chunks cuda LABELS model ENV KEMU_SEED=2)
  endif()
  # ModernBERT end to end, the one family whose CUDA path has run on kemu only: the variant test
  # checkpoint (head dim 32: rotary positions, sliding windows, GeGLU, pre-LN layers, a mean-pooled
  # SiLU + LayerNorm head) on 24 pairs in fp32, bf16 and fp16 against the CPU (about 40 s; its
  # kernels run under ASan in test_cuda_ops_emu)
  if(NOT RR_SANITIZE)
    rr_emu_test(test_cuda_model_modernbert_emu COMMAND test_cuda_model LABELS model
                ENV RR_TEST_QUICK=1 RR_TEST_FAMILY=ModernBERT)
  endif()
  # no allocation and no whole-device synchronisation inside the pass loop (KEMU_STATS counts;
  # a count, so not repeated under the sanitizers)
  if(NOT RR_SANITIZE)
    rr_emu_test(test_emu_alloc COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_emu_alloc.sh LABELS model)
  endif()
  # RR_CUDA_LT_TUNE: the tuned choice of cuBLASLt algorithm never changes the scores' bits
  # (KEMU_LT_ALGOS offers three algorithms, one of which rounds differently)
  if(NOT RR_SANITIZE)
    rr_emu_test(test_lt_tune COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_lt_tune.sh LABELS model)
  endif()
  # end to end against the CPU on 144 pairs: about 25 minutes on 2 cores, so label slow (by hand:
  # ctest --test-dir build -R test_cuda_model_emu)
  rr_emu_test(test_cuda_model_emu COMMAND test_cuda_model LABELS "model;slow" ENV RR_TEST_QUICK=1)
endif()
