/* backend/backend.c — the one place that decides which backends exist. */
#include <string.h>

#include "backend/backend.h"
#include "util/error.h"

rr_status rr_backend_create(const char *device, const rr_backend_limits *limits, rr_backend **out) {
    *out = NULL;
    if (!device || !strcmp(device, "cpu") || !strcmp(device, "auto"))
        return rr_backend_cpu_create(limits, out);
    if (!strcmp(device, "cuda"))
        return rr_error(RR_ERR_UNSUPPORTED,
                        "device \"cuda\": the CUDA backend is not implemented yet (issue 3); use "
                        "--device cpu");
    return rr_error(RR_ERR_INVALID_ARG, "unknown device \"%s\" (cpu, cuda or auto)", device);
}

void rr_backend_destroy(rr_backend *be) {
    if (be)
        be->ops->destroy(be);
}
