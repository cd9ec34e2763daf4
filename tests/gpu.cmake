# GPU tests: built when the CUDA backend is; skipped (exit 77) when no device is present.
if(RR_HAVE_CUDA)
  rr_test(test_cuda_device SOURCES test_cuda_device.c LABELS gpu)
endif()
