/* backend/backend.c — the one place that decides which backends exist, and the checks
 * every backend shares. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "util/error.h"
#ifdef RR_CUDA
#include "backend/cuda/device.h"
#endif

const char *rr_precision_name(rr_precision p) {
    switch (p) {
    case RR_PRECISION_FP32: return "fp32";
    case RR_PRECISION_BF16: return "bf16";
    case RR_PRECISION_FP16: return "fp16";
    }
    return "?";
}

rr_status rr_backend_create(const char *device, const rr_backend_limits *limits, rr_backend **out) {
    *out = NULL;
    if (!device)
        device = "cpu";
    int want_cuda = !strcmp(device, "cuda"), want_auto = !strcmp(device, "auto");
    if (!want_cuda && !want_auto && strcmp(device, "cpu"))
        return rr_error(RR_ERR_INVALID_ARG, "unknown device \"%s\" (cpu, cuda or auto)", device);
    char fallback[256] = "";
#ifdef RR_CUDA
    if (want_cuda || want_auto) {
        char why[160] = "";
        if (rr_cuda_device_count(why, sizeof why) > 0) {
            rr_status st = rr_backend_cuda_create(limits, out);
            /* auto: a model the CUDA backend does not take runs on the CPU rather than not at
             * all (a nightly job with device: auto must not fail where cpu would not) */
            if (st != RR_ERR_UNSUPPORTED || !want_auto)
                return st;
            snprintf(fallback, sizeof fallback, "%s", rr_last_error());
            rr_error_clear();
        } else if (want_cuda) {
            return rr_error(RR_ERR_UNSUPPORTED, "device \"cuda\": no usable CUDA device (%s)", why);
        }
    }
#else
    if (want_cuda)
        return rr_error(RR_ERR_UNSUPPORTED, "device \"cuda\": this build has no CUDA backend "
                        "(configure with -DRR_CUDA=ON where the CUDA toolkit is installed)");
#endif
    /* cpu, or auto without a GPU: the CPU computes in fp32 whatever precision was asked. */
    if (limits->precision != RR_PRECISION_FP32 && !want_auto)
        return rr_error(RR_ERR_UNSUPPORTED, "precision %s: the CPU backend computes in fp32 only "
                        "(use --device cuda, or --precision fp32)",
                        rr_precision_name(limits->precision));
    rr_backend_limits cpu_limits = *limits;
    cpu_limits.precision = RR_PRECISION_FP32;
    RR_TRY(rr_backend_cpu_create(&cpu_limits, out));
    snprintf((*out)->fallback, sizeof (*out)->fallback, "%s", fallback);
    return RR_OK;
}

size_t rr_backend_act_bytes(const rr_backend *be) {
    return be->limits.precision == RR_PRECISION_FP32 ? sizeof(float) : 2;
}

int32_t rr_backend_ffn_scratch_rows(const rr_backend *be, int32_t T) {
    return be->ffn_rows > 0 && be->ffn_rows < T ? be->ffn_rows : T;
}

rr_status rr_backend_ffn(rr_backend *be, const float *x, int32_t T, int32_t H, const float *w1,
                         const float *b1, int32_t inter, const float *w2, const float *b2, float *ff,
                         float *y) {
    const int32_t rows = rr_backend_ffn_scratch_rows(be, T);
    const size_t e = rr_backend_act_bytes(be);
    for (int32_t r0 = 0; r0 < T; r0 += rows) {
        const int32_t m = T - r0 < rows ? T - r0 : rows;
        /* activations are float * by convention; in bf16/fp16 they hold 2-byte elements */
        const float *xr = (const float *)((const char *)x + (size_t)r0 * (size_t)H * e);
        float *yr = (float *)((char *)y + (size_t)r0 * (size_t)H * e);
        RR_MARK(be, RR_OPK_FFN_UP);
        RR_TRY(be->ops->linear(be, xr, m, H, w1, b1, inter, RR_ACT_GELU, ff));
        RR_MARK(be, RR_OPK_FFN_DOWN);
        RR_TRY(be->ops->linear(be, ff, m, inter, w2, b2, H, RR_ACT_NONE, yr));
    }
    return RR_OK;
}

void rr_backend_destroy(rr_backend *be) {
    if (be)
        be->ops->destroy(be);
}
