/* backend/cuda/device.h — CUDA device discovery (C linkage; defined only when RR_CUDA). */
#ifndef RR_BACKEND_CUDA_DEVICE_H
#define RR_BACKEND_CUDA_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 with the reason in why when there are none. */
int rr_cuda_device_count(char *why, size_t why_cap);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; 0 on success. */
int rr_cuda_device_name(int device, char *name, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
