/* backend/cuda/device.cu — CUDA device discovery, the first brick of the CUDA backend
 * (issue 3). Built whenever the toolkit is found (RR_CUDA=AUTO|ON), so CI compiles CUDA
 * code on every run even without a GPU. */
#include <cuda_runtime.h>
#include <stdio.h>

#include "backend/cuda/module.h"

extern "C" int rr_cudamod_device_count(char *why, size_t why_cap) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        if (why && why_cap)
            snprintf(why, why_cap, "%s", cudaGetErrorString(err));
        return 0;
    }
    if (count == 0 && why && why_cap)
        snprintf(why, why_cap, "no CUDA device");
    return count;
}

extern "C" int rr_cudamod_device_name(int device, char *name, size_t cap) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess)
        return -1;
    snprintf(name, cap, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return 0;
}
