# GPU tests: built when the CUDA backend is; each skips (exit 77) when no device is present.
if(RR_HAVE_CUDA)
  rr_test(test_cuda_device SOURCES test_cuda_device.c LABELS gpu)
  # every CUDA op against the CPU op (fp32 / bf16 / fp16, both GEMM paths)
  rr_test(test_cuda_ops SOURCES test_cuda_ops.c LABELS gpu)
endif()
if(RR_HAVE_CUDA)
  # end to end on real weights against the CPU backend (needs scripts/setup.sh's models)
  rr_test(test_cuda_model SOURCES test_cuda_model.c ${PROJECT_SOURCE_DIR}/src/cli/cli_util.c
          LABELS gpu model)
endif()
