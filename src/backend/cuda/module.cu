/* backend/cuda/module.cu — the entry point of librerank_cuda.so (see module.h), and the
 * module's rr_error: the message goes to the library's error slot. */
#include <stdarg.h>
#include <stdio.h>

#include "backend/cuda/module.h"
extern "C" {
#include "util/error.h"
}

static const rr_cuda_host *g_host;

extern "C" rr_status rr_error(rr_status code, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_host)
        g_host->set_error(code, msg);
    return code;
}

extern "C" __attribute__((visibility("default"))) const rr_cuda_module *
rr_cuda_module_entry(const rr_cuda_host *host) {
    static const rr_cuda_module m = {RR_CUDA_MODULE_ABI, rr_cudamod_device_count, rr_cudamod_device_name,
                                     rr_cudamod_backend_create};
    if (!host || host->abi != RR_CUDA_MODULE_ABI)
        return NULL;
    g_host = host;
    return &m;
}
