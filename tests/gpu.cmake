# GPU tests: built when the library has the CUDA module loader (the CUDA backend is built, or
# kemu: tests/emu.cmake runs them on the emulated module too); each skips (exit 77) when no
# device is present.
if(RR_CUDA_LOADER)
  # the real module must load wherever it is built (kemu's build has only the loader: its
  # module is checked by test_cuda_device_emu, tests/emu.cmake)
  rr_test(test_cuda_device SOURCES test_cuda_device.c LABELS gpu)
  if(NOT RR_HAVE_CUDA)
    set_tests_properties(test_cuda_device PROPERTIES DISABLED TRUE)
  endif()
  # every CUDA op against the CPU op (fp32 / bf16 / fp16, both GEMM paths)
  rr_test(test_cuda_ops SOURCES test_cuda_ops.c LABELS gpu)
endif()
if(RR_CUDA_LOADER)
  # end to end on real weights against the CPU backend (needs scripts/setup.sh's models)
  rr_test(test_cuda_model SOURCES test_cuda_model.c ${PROJECT_SOURCE_DIR}/src/cli/cli_util.c
          LABELS gpu model)
endif()
