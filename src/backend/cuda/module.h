/* backend/cuda/module.h — the CUDA backend is a loadable module, librerank_cuda.so, that the
 * library opens (dlopen) the first time a CUDA device is asked for. A CPU run therefore never
 * maps the CUDA runtime or cuBLAS(Lt) (about 150 MB of resident memory, and cuBLASLt's own
 * initialiser crashes under a tight `ulimit -v`), and a binary built with CUDA runs on a
 * machine without the CUDA libraries. The module exports one symbol, rr_cuda_module_entry,
 * and needs nothing from the process: it has its own copy of the pass checks, and its
 * rr_error formats the message and hands it to the library's (rr_cuda_host.set_error), so
 * rr_last_error() sees it. */
#ifndef RR_BACKEND_CUDA_MODULE_H
#define RR_BACKEND_CUDA_MODULE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/backend.h"

#define RR_CUDA_MODULE_FILE "librerank_cuda.so"
/* A module from another build of the library is refused rather than trusted. */
#define RR_CUDA_MODULE_ABI                                                                        \
    (20261126 ^ (int)sizeof(rr_backend_ops) ^ ((int)sizeof(rr_backend_limits) << 12) ^          \
     ((int)sizeof(rr_pass) << 20))

/* What the library gives the module. */
typedef struct rr_cuda_host {
    int abi;
    void (*set_error)(rr_status code, const char *message);
} rr_cuda_host;

typedef struct rr_cuda_module {
    int abi; /* RR_CUDA_MODULE_ABI of the module's build */
    int (*device_count)(char *why, size_t why_cap);
    int (*device_name)(int device, char *name, size_t cap);
    rr_status (*backend_create)(const rr_backend_limits *limits, rr_backend **out);
} rr_cuda_module;

/* NULL when host->abi differs from the module's */
const rr_cuda_module *rr_cuda_module_entry(const rr_cuda_host *host);

/* inside the module */
int rr_cudamod_device_count(char *why, size_t why_cap);
int rr_cudamod_device_name(int device, char *name, size_t cap);
rr_status rr_cudamod_backend_create(const rr_backend_limits *limits, rr_backend **out);

#ifdef __cplusplus
}
#endif
#endif
