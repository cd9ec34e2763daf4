/* backend/cuda/device.h — CUDA device discovery (C linkage; only when RR_CUDA): the library's
 * entry points, forwarded to the CUDA backend module (backend/cuda_loader.c). */
#ifndef RR_BACKEND_CUDA_DEVICE_H
#define RR_BACKEND_CUDA_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the CUDA backend module is loaded (the first call loads it), else 0 with the reason. */
int rr_cuda_module_loaded(char *why, size_t why_cap);
/* Number of usable CUDA devices; 0 with the reason in why when there are none. */
int rr_cuda_device_count(char *why, size_t why_cap);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; 0 on success. */
int rr_cuda_device_name(int device, char *name, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
