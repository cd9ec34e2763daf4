/* bench/cuda_ops.c — where a CUDA pass spends its time: each backend op of one encoder
 * layer timed alone with CUDA events on a full pass (default 65,536 tokens of sequences of
 * 200..512 tokens, the MiniLM-L6 shape H 384, 12 heads, I 1536), for fp32, bf16 and fp16,
 * with its achieved TFLOP/s (matrix products and attention) or GB/s (the rest), then the
 * whole FFN block (up + GELU + down, rr_backend_ffn) with the intermediate in pieces of
 * several row counts (0 = the whole pass; the backend's default is marked). add+LN is timed
 * with both kernels (v2, the default, and v1, RR_CUDA_LN=v1); the layer total counts the
 * default. The GELU of "linear ffn1+gelu" is the backend's default (bf16/fp16: cuBLASLt's
 * epilogue, the tanh form; RR_CUDA_GELU_GEMM=exact times our exact-GELU pass instead).
 * ModernBERT's ops at the same shape follow (not in the layer total): rope, attention in a
 * sliding layer (window ±64, ModernBERT's), add_norm into another buffer, GeGLU of an [T, I]
 * product (I/2 out).
 *
 *     build/rr_cuda_ops [tokens] [length]   (needs a GPU; prints one table; length: every
 *                                           sequence that long instead of 200..512)
 */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

static uint64_t g_rng = 88172645463325252ULL;
static float frand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

#define REPS 20
/* FFN block variants timed (ffn_rows; 0 = the whole pass): the backend's default is marked */
static const int32_t ffn_rows[] = {0, 16384, 8192, 4096, 2048};
#define NFFN ((int)(sizeof ffn_rows / sizeof ffn_rows[0]))

typedef struct timer {
    cudaEvent_t a, b;
} timer;

int main(int argc, char **argv) {
    const int Tmax = argc > 1 ? atoi(argv[1]) : 65536, H = 384, heads = 12, I = 1536, V = 30522;
    const int fixed = argc > 2 ? atoi(argv[2]) : 0; /* every sequence this long (1..512) */
    if (Tmax < 512 || fixed < 0 || fixed > 512) {
        fprintf(stderr, "usage: rr_cuda_ops [tokens >= 512] [sequence length 1..512]\n");
        return 2;
    }
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        fprintf(stderr, "rr_cuda_ops: no CUDA device\n");
        return 77;
    }
    int32_t *cu = malloc(sizeof(int32_t) * (size_t)(Tmax / (fixed ? fixed : 200) + 2)), S = 0, T = 0, maxlen = 0;
    cu[0] = 0;
    for (;;) {
        int len = fixed ? fixed : 200 + (int)((frand() + 1.0f) * 0.5f * 312);
        if (T + len > Tmax)
            break;
        T += len;
        cu[++S] = T;
        maxlen = len > maxlen ? len : maxlen;
    }
    double sum_l2 = 0;
    for (int s = 0; s < S; s++)
        sum_l2 += (double)(cu[s + 1] - cu[s]) * (cu[s + 1] - cu[s]);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)T), *types = malloc(sizeof(int32_t) * (size_t)T);
    for (int t = 0; t < T; t++) {
        ids[t] = (int32_t)((frand() + 1.0f) * 0.5f * (V - 1));
        types[t] = 0;
    }
    printf("pass: %d sequences, %d tokens (longest %d), H %d, heads %d, I %d\n", S, T, maxlen, H, heads, I);
    printf("%-6s %-22s %10s %10s\n", "prec", "op", "ms", "rate");
    const char *names[] = {"fp32", "bf16", "fp16"};
    char ln_env[32] = ""; /* RR_CUDA_LN as the caller set it (op 8 sets and restores it) */
    if (getenv("RR_CUDA_LN"))
        snprintf(ln_env, sizeof ln_env, "%s", getenv("RR_CUDA_LN"));
    for (int prec = 0; prec < 3; prec++) {
        rr_backend_limits lim = {T, S, 512, H, heads, 0, (rr_precision)prec, I, 0, 0, 0};
        rr_backend *be;
        if (rr_backend_cuda_create(&lim, &be)) {
            fprintf(stderr, "cuda backend: %s\n", rr_last_error());
            return 1;
        }
        const size_t nw = (size_t)V * H + 512 * H + 2 * H + 4 * H + 3 * H * H + 3 * H + H * H + H + 2 * (size_t)I * H + I + H + 64;
        float *hw = malloc(nw * sizeof(float)), *w, *x, *qkv, *ctx, *tmp, *ff, *pooled, *pooled2, *out, *gl, *rope;
        for (size_t i = 0; i < nw; i++)
            hw[i] = frand() * 0.05f;
        be->ops->alloc(be, nw * 4, (void **)&w);
        be->ops->upload(be, w, hw, nw * 4);
        be->ops->prepare_weights(be, w, nw);
        float *word = w, *pos = word + (size_t)V * H, *type = pos + 512 * H, *g = type + 2 * H, *b = g + H;
        float *wqkv = b + H + 2 * H, *bqkv = wqkv + 3 * H * H, *wo = bqkv + 3 * H, *bo = wo + H * H;
        float *w1 = bo + H, *b1 = w1 + (size_t)I * H, *w2 = b1 + I, *b2 = w2 + (size_t)I * H;
        be->ops->alloc(be, (size_t)T * H * 4, (void **)&x);
        be->ops->alloc(be, (size_t)T * 3 * H * 4, (void **)&qkv);
        be->ops->alloc(be, (size_t)T * H * 4, (void **)&ctx);
        be->ops->alloc(be, (size_t)T * H * 4, (void **)&tmp);
        be->ops->alloc(be, (size_t)T * I * 4, (void **)&ff);
        be->ops->alloc(be, (size_t)S * H * 4, (void **)&pooled);
        be->ops->alloc(be, (size_t)S * H * 4, (void **)&pooled2);
        be->ops->alloc(be, (size_t)S * 4 * 4, (void **)&out);
        be->ops->alloc(be, (size_t)T * (I / 2) * 4, (void **)&gl);
        /* ModernBERT's rotary tables, cos | sin [512, d/2] (base 10,000) */
        const int half = H / heads / 2;
        float *hr = malloc((size_t)2 * 512 * half * sizeof(float));
        for (int p = 0; p < 512; p++)
            for (int i = 0; i < half; i++) {
                const double ang = p * pow(10000.0, -(double)i / half);
                hr[(size_t)p * half + i] = (float)cos(ang);
                hr[(size_t)(512 + p) * half + i] = (float)sin(ang);
            }
        be->ops->alloc(be, (size_t)2 * 512 * half * 4, (void **)&rope);
        be->ops->upload(be, rope, hr, (size_t)2 * 512 * half * 4);
        free(hr);
        rr_pass pass = {S, T, maxlen, ids, types, cu};
        be->ops->begin_pass(be, &pass);
        /* realistic activations: embed once, then everything reads those */
        be->ops->embed(be, word, pos, type, g, b, 1e-12f, V, 2, x);
        be->ops->linear(be, x, T, H, wqkv, bqkv, 3 * H, RR_ACT_NONE, qkv);
        be->ops->linear(be, x, T, H, w1, b1, I, RR_ACT_GELU, ff);
        rr_classifier_head head = {wo, bo, RR_ACT_TANH, b1, b2, 1, RR_POOL_CLS, NULL, NULL, 0.0f};
        float dummy;
        be->ops->download(be, &dummy, out, 4); /* drain */
        const double es = prec ? 2.0 : 4.0;
        const double lin_f = 2.0 * T * H, attn_f = 4.0 * sum_l2 * H;
        enum { NOPS = 13 }; /* ops before the FFN block variants */
        double total = 0, per_op[NOPS + NFFN] = {0};
        const int32_t def_rows = be->ffn_rows;
        char ffn_name[NOPS + NFFN][40];
        for (int op = 0; op < NOPS + NFFN; op++) {
            cudaEvent_t e0, e1;
            cudaEventCreate(&e0);
            cudaEventCreate(&e1);
            const char *opname = "";
            double flops = 0, bytes = 0;
            for (int rep = -2; rep < REPS; rep++) {
                if (rep == 0) {
                    be->ops->download(be, &dummy, out, 4); /* drain the warm-up first */
                    cudaEventRecord(e0, 0);
                }
                switch (op) {
                case 0: opname = "embed+LN"; bytes = (double)T * H * (12 + es);
                    be->ops->embed(be, word, pos, type, g, b, 1e-12f, V, 2, tmp); break;
                case 1: opname = "linear qkv"; flops = lin_f * 3 * H;
                    be->ops->linear(be, x, T, H, wqkv, bqkv, 3 * H, RR_ACT_NONE, qkv); break;
                case 2: opname = "attention"; flops = attn_f;
                    be->ops->attention(be, qkv, ctx); break;
                case 3: opname = "linear out"; flops = lin_f * H;
                    be->ops->linear(be, ctx, T, H, wo, bo, H, RR_ACT_NONE, tmp); break;
                case 4: opname = "add+LN"; bytes = (double)T * H * 3 * es;
                    be->ops->add_layernorm(be, tmp, x, g, b, 1e-12f); break;
                case 5: opname = "linear ffn1+gelu"; flops = lin_f * I;
                    be->ops->linear(be, x, T, H, w1, b1, I, RR_ACT_GELU, ff); break;
                case 6: opname = "linear ffn2"; flops = lin_f * I;
                    be->ops->linear(be, ff, T, I, w2, b2, H, RR_ACT_NONE, tmp); break;
                case 7: opname = "classify (head)"; bytes = (double)S * H * es;
                    be->ops->classify(be, x, &head, pooled, pooled2, out); break;
                case 8: opname = "add+LN v1 (LN=v1)"; bytes = (double)T * H * 3 * es;
                    setenv("RR_CUDA_LN", "v1", 1); /* read per call */
                    be->ops->add_layernorm(be, tmp, x, g, b, 1e-12f);
                    if (ln_env[0])
                        setenv("RR_CUDA_LN", ln_env, 1);
                    else
                        unsetenv("RR_CUDA_LN");
                    break;
                case 9: opname = "rope (ModernBERT)"; bytes = (double)T * 2 * H * 2 * es;
                    be->ops->rope(be, qkv, rope, rope + (size_t)512 * half); break;
                case 10: opname = "attention, window 64"; flops = 4.0 * T * 129 * H; /* at most 129 keys a query */
                    be->attn_window = 64;
                    be->ops->attention(be, qkv, ctx);
                    be->attn_window = 0;
                    break;
                case 11: opname = "add_norm (pre-LN)"; bytes = (double)T * H * 4 * es;
                    be->ops->add_norm(be, tmp, x, g, b, 1e-5f, ctx); break;
                case 12: opname = "glu (GeGLU, I/2 out)"; bytes = (double)T * (I + I / 2) * es;
                    be->ops->glu(be, ff, T, I / 2, RR_ACT_GELU, gl); break;
                default: /* the whole FFN block (up + GELU + down) in pieces of ffn_rows[] rows */
                    be->ffn_rows = ffn_rows[op - NOPS];
                    snprintf(ffn_name[op], sizeof ffn_name[op], "ffn block, rows %d%s",
                             be->ffn_rows ? be->ffn_rows : T, be->ffn_rows == def_rows ? " (dflt)" : "");
                    opname = ffn_name[op]; flops = 2 * lin_f * I;
                    rr_backend_ffn(be, x, T, H, w1, b1, I, w2, b2, ff, tmp);
                    be->ffn_rows = def_rows;
                    break;
                }
            }
            /* the backend's stream is its own: a download drains it, then the event */
            be->ops->download(be, &dummy, out, 4);
            cudaEventRecord(e1, 0);
            cudaEventSynchronize(e1);
            float ms = 0;
            cudaEventElapsedTime(&ms, e0, e1);
            double per = ms / REPS;
            per_op[op] = per;
            if (op != 0 && op < 7) /* embed and the head run once per pass, not per layer */
                total += per * (op == 4 ? 2 : 1);
            if (flops > 0)
                printf("%-6s %-22s %10.3f %7.1f TFLOP/s\n", names[prec], opname, per, flops / (per * 1e-3) / 1e12);
            else
                printf("%-6s %-22s %10.3f %7.1f GB/s\n", names[prec], opname, per, bytes / (per * 1e-3) / 1e9);
            cudaEventDestroy(e0);
            cudaEventDestroy(e1);
        }
        printf("%-6s %-22s %10.3f  (one layer, FFN whole; x6 for MiniLM-L6 = %.1f ms per pass of %d tokens)\n",
               names[prec], "layer total", total, 6 * total, T);
        for (int i = 0; i < NFFN; i++)
            if (ffn_rows[i] == def_rows) {
                const double t2 = total - per_op[5] - per_op[6] + per_op[NOPS + i];
                printf("%-6s %-22s %10.3f  (one layer, FFN in pieces of %d rows; x6 = %.1f ms per pass)\n",
                       names[prec], "layer total (default)", t2, def_rows ? def_rows : T, 6 * t2);
            }
        float *bufs[] = {w, x, qkv, ctx, tmp, ff, pooled, pooled2, out, gl, rope};
        for (int i = 0; i < 11; i++)
            be->ops->free(be, bufs[i]);
        rr_backend_destroy(be);
        free(hw);
    }
    free(cu);
    free(ids);
    free(types);
    return 0;
}
