/* bench/lt_algos.c — does choosing cuBLASLt's algorithm by timing pay? For each matrix
 * product of a MiniLM-L6 layer (H 384, I 1536) on a pass of M tokens, in bf16 and fp16 with
 * fp32 accumulation and the epilogue the CUDA backend uses (bias; bias + GELU for the FFN-up
 * product with RR_CUDA_GELU_GEMM=lt-tanh), the same layout as lt_matmul in
 * src/backend/cuda/cuda_backend.cu, it asks cuBLASLt's heuristic for up to 16 algorithms,
 * times each (20 launches after 3 untimed ones) and prints them, heuristic order first. The
 * backend runs the heuristic's first choice; the last line per product says what the fastest
 * would save. Weights and activations are random (the time does not depend on the values).
 * Why the backend does not simply time the algorithms and keep the fastest: another
 * algorithm (tile shape, split-K) can round the same product differently, so a choice made by
 * timing, which may flip between two close algorithms from one run to the next, would make a
 * rerun's scores differ in their last bits (test_cuda_model checks that reruns are
 * bit-identical). RR_CUDA_LT_TUNE=1 (cuda_backend.cu, lt_tuned_pick) times them only among
 * the candidates whose output has the same bits as the first choice's (not yet timed on a
 * GPU; its logic is tested on kemu, tests/test_lt_tune.sh).
 *
 *     build/rr_lt_algos [M]   (default 65536; needs a GPU)
 */
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ALGOS 16
#define REPS 20
#define WORKSPACE ((size_t)32 << 20) /* as the backend's kLtWorkspace */

#define CHECK_CUDA(call)                                                                   \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                           \
            fprintf(stderr, "rr_lt_algos: %s: %s\n", #call, cudaGetErrorString(e_));       \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)
#define CHECK_LT(call)                                                                     \
    do {                                                                                   \
        cublasStatus_t s_ = (call);                                                        \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                 \
            fprintf(stderr, "rr_lt_algos: %s: cuBLAS status %d\n", #call, (int)s_);        \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

typedef struct product {
    const char *name;
    int N, K;
    cublasLtEpilogue_t epi;
} product;

static unsigned algo_attr(const cublasLtMatmulAlgo_t *a, cublasLtMatmulAlgoConfigAttributes_t attr) {
    uint32_t v = 0;
    size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(a, attr, &v, sizeof v, &written) != CUBLAS_STATUS_SUCCESS)
        return 0;
    return v;
}

/* Time one product with every algorithm the heuristic offers; prints one line per algorithm. */
static int sweep(cublasLtHandle_t lt, cudaStream_t st, const product *p, cudaDataType_t dt, const char *dname,
                 int M, const void *W, const void *x, const void *bias, void *y, void *ws) {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    CHECK_LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &p->epi, sizeof p->epi));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    CHECK_LT(cublasLtMatrixLayoutCreate(&la, dt, (uint64_t)p->K, (uint64_t)p->N, p->K));
    CHECK_LT(cublasLtMatrixLayoutCreate(&lb, dt, (uint64_t)p->K, (uint64_t)M, p->K));
    CHECK_LT(cublasLtMatrixLayoutCreate(&lc, dt, (uint64_t)p->N, (uint64_t)M, p->N));
    cublasLtMatmulPreference_t pref;
    CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
    size_t wsb = WORKSPACE;
    CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
    cublasLtMatmulHeuristicResult_t res[MAX_ALGOS];
    int found = 0;
    const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, MAX_ALGOS, res, &found);
    if (hs != CUBLAS_STATUS_SUCCESS) /* e.g. an epilogue this card does not offer: say so, go on */
        found = 0, printf("%-5s %-16s M %6d  heuristic: cuBLAS status %d\n", dname, p->name, M, (int)hs);
    const double flops = 2.0 * M * p->N * p->K;
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0, e1;
    CHECK_CUDA(cudaEventCreate(&e0));
    CHECK_CUDA(cudaEventCreate(&e1));
    double first = 0, best = 0;
    int best_i = -1;
    for (int i = 0; i < found; i++) {
        const cublasLtMatmulAlgo_t *a = &res[i].algo;
        int ok = 1;
        for (int r = -3; r < REPS && ok; r++) {
            if (r == 0)
                CHECK_CUDA(cudaEventRecord(e0, st));
            ok = cublasLtMatmul(lt, desc, &one, W, la, x, lb, &zero, y, lc, y, lc, a, ws, WORKSPACE, st) ==
                 CUBLAS_STATUS_SUCCESS;
        }
        CHECK_CUDA(cudaEventRecord(e1, st));
        CHECK_CUDA(cudaEventSynchronize(e1));
        float ms = 0;
        CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
        const double per = ok ? ms / REPS : 0;
        printf("%-5s %-16s M %6d  #%-2d algo %3u tile %3u stages %3u splitK %2u waves %5.2f  ", dname, p->name, M, i,
               algo_attr(a, CUBLASLT_ALGO_CONFIG_ID), algo_attr(a, CUBLASLT_ALGO_CONFIG_TILE_ID),
               algo_attr(a, CUBLASLT_ALGO_CONFIG_STAGES_ID), algo_attr(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM),
               (double)res[i].wavesCount);
        if (!ok) {
            printf("failed\n");
            continue;
        }
        printf("%8.4f ms %6.1f TFLOP/s\n", per, flops / (per * 1e-3) / 1e12);
        if (i == 0)
            first = per;
        if (best_i < 0 || per < best)
            best = per, best_i = i;
    }
    if (best_i >= 0 && first > 0)
        printf("%-5s %-16s M %6d  heuristic #0 %.4f ms, fastest #%d %.4f ms: %.1f%% less (%d algorithms)\n", dname,
               p->name, M, first, best_i, best, 100.0 * (first - best) / first, found);
    else
        printf("%-5s %-16s M %6d  no algorithm ran (%d offered)\n", dname, p->name, M, found);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
    return 0;
}

/* Fill n 2-byte elements with random values of either type, built from their bits: a random
 * sign and mantissa, magnitudes between 1/8 and 1/2 (fp16) or 1/128 and 1/64 (bf16). */
static void fill16(uint16_t *h, size_t n, int fp16, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        const uint16_t sign = (uint16_t)((*rng >> 20) & 1u) << 15;
        h[i] = fp16 ? (uint16_t)(sign | 0x3000u | ((*rng >> 30) & 0x7ffu)) : (uint16_t)(sign | 0x3c00u | ((*rng >> 30) & 0x7fu));
    }
}

int main(int argc, char **argv) {
    const int M = argc > 1 ? atoi(argv[1]) : 65536;
    if (M < 1 || M > (1 << 20)) {
        fprintf(stderr, "usage: rr_lt_algos [M tokens, 1..1048576]\n");
        return 2;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        fprintf(stderr, "rr_lt_algos: no CUDA device\n");
        return 77;
    }
    const int H = 384, I = 1536;
    const product prods[] = {
        {"qkv", 3 * H, H, CUBLASLT_EPILOGUE_BIAS},
        {"attn out", H, H, CUBLASLT_EPILOGUE_BIAS},
        {"ffn up", I, H, CUBLASLT_EPILOGUE_BIAS},
        {"ffn up+gelu-tanh", I, H, CUBLASLT_EPILOGUE_GELU_BIAS},
        {"ffn down", H, I, CUBLASLT_EPILOGUE_BIAS},
    };
    const size_t wmax = (size_t)I * H, xmax = (size_t)M * I, ymax = (size_t)M * I;
    void *W, *x, *y, *bias, *ws;
    CHECK_CUDA(cudaMalloc(&W, wmax * 2));
    CHECK_CUDA(cudaMalloc(&x, xmax * 2));
    CHECK_CUDA(cudaMalloc(&y, ymax * 2));
    CHECK_CUDA(cudaMalloc(&bias, (size_t)I * 2));
    CHECK_CUDA(cudaMalloc(&ws, WORKSPACE));
    uint16_t *h = malloc(xmax * 2);
    if (!h)
        return 1;
    cudaStream_t st;
    CHECK_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cublasLtHandle_t lt;
    CHECK_LT(cublasLtCreate(&lt));
    struct cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    printf("rr_lt_algos: %s, cuBLASLt %zu, M %d, %d timed launches per algorithm\n", prop.name, cublasLtGetVersion(), M,
           REPS);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int fp16 = 0; fp16 < 2; fp16++) {
        fill16(h, xmax, fp16, &rng);
        CHECK_CUDA(cudaMemcpy(x, h, xmax * 2, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemcpy(W, h, wmax * 2, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemcpy(bias, h, (size_t)I * 2, cudaMemcpyHostToDevice));
        for (size_t i = 0; i < sizeof prods / sizeof prods[0]; i++)
            if (sweep(lt, st, &prods[i], fp16 ? CUDA_R_16F : CUDA_R_16BF, fp16 ? "fp16" : "bf16", M, W, x, bias, y,
                      ws))
                return 1;
    }
    cublasLtDestroy(lt);
    cudaStreamDestroy(st);
    cudaFree(W);
    cudaFree(x);
    cudaFree(y);
    cudaFree(bias);
    cudaFree(ws);
    free(h);
    return 0;
}
