/* backend/cuda/cuda_backend.cu — the CUDA backend: the op table of backend.h on one GPU.
 *
 * Storage precision (limits.precision): fp32, bf16 or fp16 activations; arithmetic, LayerNorm
 * statistics and softmax in fp32 always. Matrix products: fp32 → cuBLAS sgemm (no TF32, so
 * the fp32 mode checks parity with the CPU); bf16/fp16 → cuBLASLt on the tensor cores with
 * fp32 accumulation and the bias fused as its epilogue (GELU/tanh applied by our own kernel:
 * cuBLASLt's GELU is the tanh approximation), falling back to cublasGemmEx + our bias kernel
 * if cuBLASLt offers no algorithm (RR_CUDA_GEMM=gemmex forces that path, for tests).
 *
 * Memory: the fp32 weight block is uploaded once by the model; in bf16/fp16 a mirror of the
 * whole block in the storage type is made once (prepare_weights), so a weight pointer p maps
 * to mirror + (p - block). Nothing is allocated per pass; the only synchronisation per pass
 * is the wait for its output, and the model waits for pass i only after it has enqueued pass
 * i+1 (download_async / wait), so the host packs the next pass while the device computes.
 *
 * Two streams. The compute stream runs every op. The copy stream carries a pass's metadata
 * in (ids, type ids, positions, cu_seqlens: one copy from one of two pinned buffers into one
 * of two device buffers, alternating by pass) and its output out (into the model's host
 * slot; the model keeps two device outputs, one per slot). So the metadata of pass i+1 goes
 * in, and the output of pass i-1 comes out, while pass i computes. Events order them:
 *   meta_copied[b]  copy stream, after pass p's metadata landed in buffer b = p & 1; the
 *                   compute stream waits for it before pass p's first op, and the host before
 *                   it rewrites pinned buffer b for pass p+2;
 *   meta_free[b]    compute stream, at the start of pass p+1: pass p's ops (which read
 *                   buffer b) are done; the copy for pass p+2 waits for it;
 *   computed[s]     compute stream, after the ops of the pass downloading into slot s; the
 *                   copy stream waits for it before that download; out_ready[s] follows the
 *                   download on the copy stream, and is what the host waits for.
 * The copies are small next to a pass's compute (12 bytes per token in, 4 per score out), so
 * this buys little time: it keeps the copies off the compute stream's critical path. Timed
 * events at each pass's start and end on the compute stream measure it (--timing's
 * device_busy / device_idle / device_max_idle).
 */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "backend/backend.h"
#include "util/error.h"
}
#include "backend/cuda/module.h"
#include "rr_kernels.h"

namespace {

constexpr size_t kLtWorkspace = 32u << 20; /* cuBLASLt workspace (one stream) */
constexpr int kAlgoCache = 64;
constexpr int kLtCandidates = 8; /* RR_CUDA_LT_TUNE: heuristic results timed per product */
constexpr int kLtTuned = 16;     /* products (N, K, epilogue) a backend remembers a choice for */
constexpr int kSumBlocks = 256;  /* rrk_checksum's partial sums */
constexpr int kMaxMarks = 96; /* profiling marks per pass: 2 + 7 per layer covers 12 layers */
enum { ATTN_SIMT, ATTN_WMMA, ATTN_MMA, ATTN_MMA2 };

struct algo_entry {
    int M, N, K, bias, valid; /* bias: 0 none, 1 bias, 2 bias + GELU (tanh) */
    long long used;           /* the pass (npass) that last used it; 0: never */
    cublasLtMatmulAlgo_t algo;
};

struct cuda_backend {
    rr_backend base;
    int dtype;       /* 0 fp32, 1 bf16, 2 fp16 */
    size_t act_size; /* bytes per activation element */
    cudaStream_t stream; /* compute */
    cudaStream_t copy;   /* metadata in, outputs out */
    cudaEvent_t meta_copied[2], meta_free[2]; /* by metadata buffer (pass number & 1) */
    cudaEvent_t computed[2], out_ready[2];    /* by download_async slot */
    /* Timed events of the last 4 passes (by pass number & 3): start (begin_pass) and end (its
     * output copied). Pass p's are re-recorded only at pass p + 4, which begins after pass p
     * has been waited for (at most two passes are in flight). */
    cudaEvent_t pass_start[4], pass_end[4];
    long long npass;        /* passes begun */
    long long slot_pass[2]; /* which pass each download slot holds */
    /* RR_CUDA_PROFILE=1: a timed event at every mark of the last 4 passes (cu_mark) */
    int profile;
    struct {
        cudaEvent_t ev[kMaxMarks];
        int kind[kMaxMarks];
        int n;
    } marks[4];
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *lt_ws;
    int use_lt;
    int fused_gelu;           /* RR_CUDA_GELU_GEMM=fused: linear_gelu.cu for x·Wᵀ + b → GELU */
    int lt_gelu_tanh;         /* bf16/fp16 default: cuBLASLt's GELU_BIAS epilogue (tanh form) */
    int attn_kernel;          /* ATTN_SIMT, _WMMA, _MMA or _MMA2 (see rr_cudamod_backend_create) */
    /* two buffers each, by pass number & 1: ids | type ids | positions [T each] | cu_seqlens
     * [S+1], packed at the pass's T */
    int32_t *h_meta[2], *d_meta[2];
    int32_t *d_ids, *d_types, *d_pos, *d_cu; /* this pass's, in d_meta[npass & 1] */
    void *h_stage;            /* pinned download staging */
    size_t stage_bytes;
    const float *wblock;      /* the model's fp32 weight block */
    size_t wfloats;
    void *wmirror;            /* the same block in the storage type (bf16/fp16 only) */
    algo_entry algos[kAlgoCache];
    /* RR_CUDA_LT_TUNE=1 (bf16/fp16): the first call of each product (N, K, epilogue) times
     * the heuristic's candidates and keeps the fastest whose output has the same bits as its
     * first choice (lt_tune); later calls of any M take that algorithm when the heuristic
     * offers it for that M, else its first choice. */
    int lt_tune;
    unsigned long long *d_sum, *h_sum; /* kSumBlocks checksum partials, device and pinned host */
    cudaEvent_t tune_ev[2];
    struct {
        int N, K, bias;
        cublasLtMatmulAlgo_t algo;
    } tuned[kLtTuned];
    int ntuned;
};

cuda_backend *cb(rr_backend *be) { return (cuda_backend *)be; }

rr_status cuda_fail(cudaError_t e, const char *what) {
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* clear the sticky-free allocation error */
        return rr_error(RR_ERR_NOMEM, "cuda: %s: out of device memory", what);
    }
    return rr_error(RR_ERR_BACKEND, "cuda: %s: %s", what, cudaGetErrorString(e));
}

#define CU_TRY(call, what)                                                                 \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess)                                                             \
            return cuda_fail(e_, what);                                                    \
    } while (0)

#define BLAS_TRY(call, what)                                                               \
    do {                                                                                   \
        cublasStatus_t s_ = (call);                                                        \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                   \
            return rr_error(RR_ERR_BACKEND, "cuda: %s: cuBLAS status %d", what, (int)s_);   \
    } while (0)

cudaDataType_t cuda_type(int dtype) {
    return dtype == 1 ? CUDA_R_16BF : dtype == 2 ? CUDA_R_16F : CUDA_R_32F;
}

/* Weight pointer in the storage type. */
const void *wptr(cuda_backend *c, const float *p) {
    if (!c->dtype || !p)
        return p;
    return (const char *)c->wmirror + (size_t)(p - c->wblock) * c->act_size;
}

/* ---- memory ------------------------------------------------------------------------ */

rr_status cu_alloc(rr_backend *be, size_t bytes, void **out) {
    (void)be;
    *out = NULL;
    CU_TRY(cudaMalloc(out, bytes ? bytes : 256), "allocating device memory");
    return RR_OK;
}

void cu_free(rr_backend *be, void *p) {
    (void)be;
    if (p)
        cudaFree(p);
}

rr_status cu_upload(rr_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_backend *c = cb(be);
    if (!bytes)
        return RR_OK;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream), "upload");
    CU_TRY(cudaStreamSynchronize(c->stream), "upload");
    return RR_OK;
}

rr_status cu_download(rr_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_backend *c = cb(be);
    if (!bytes)
        return RR_OK;
    if (bytes <= c->stage_bytes) {
        CU_TRY(cudaMemcpyAsync(c->h_stage, src, bytes, cudaMemcpyDeviceToHost, c->stream), "download");
        CU_TRY(cudaStreamSynchronize(c->stream), "download (the pass's kernels)");
        memcpy(dst, c->h_stage, bytes);
        return RR_OK;
    }
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream), "download");
    CU_TRY(cudaStreamSynchronize(c->stream), "download (the pass's kernels)");
    return RR_OK;
}

rr_status cu_alloc_host(rr_backend *be, size_t bytes, void **out) {
    (void)be;
    *out = NULL;
    CU_TRY(cudaMallocHost(out, bytes ? bytes : 64), "allocating pinned host memory");
    return RR_OK;
}

void cu_free_host(rr_backend *be, void *p) {
    (void)be;
    if (p)
        cudaFreeHost(p);
}

rr_status cu_download_async(rr_backend *be, void *dst, const void *src, size_t bytes, int slot) {
    cuda_backend *c = cb(be);
    if (slot < 0 || slot > 1)
        return rr_error(RR_ERR_INVALID_ARG, "cuda: download slot %d (0 or 1)", slot);
    CU_TRY(cudaEventRecord(c->pass_end[(c->npass - 1) & 3], c->stream), "download");
    CU_TRY(cudaEventRecord(c->computed[slot], c->stream), "download");
    CU_TRY(cudaStreamWaitEvent(c->copy, c->computed[slot], 0), "download");
    if (bytes)
        CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->copy), "download");
    CU_TRY(cudaEventRecord(c->out_ready[slot], c->copy), "download");
    c->slot_pass[slot] = c->npass - 1;
    return RR_OK;
}

rr_status cu_wait(rr_backend *be, int slot) {
    cuda_backend *c = cb(be);
    if (slot < 0 || slot > 1)
        return rr_error(RR_ERR_INVALID_ARG, "cuda: wait slot %d (0 or 1)", slot);
    CU_TRY(cudaEventSynchronize(c->out_ready[slot]), "waiting for a pass");
    /* device time of this pass, and the device's idle time between the previous pass's end
     * and this one's start (all three events have completed) */
    const long long p = c->slot_pass[slot];
    float busy = 0.0f, idle = 0.0f;
    be->last_busy_s = cudaEventElapsedTime(&busy, c->pass_start[p & 3], c->pass_end[p & 3]) == cudaSuccess
                          ? busy * 1e-3 : 0.0;
    be->last_idle_s = p > 0 && cudaEventElapsedTime(&idle, c->pass_end[(p - 1) & 3], c->pass_start[p & 3]) ==
                                   cudaSuccess && idle > 0 ? idle * 1e-3 : 0.0;
    /* profiling: each mark's op lasts until the next mark, the last one until the pass's end */
    memset(be->last_op_s, 0, sizeof be->last_op_s);
    if (c->profile) {
        const int r = (int)(p & 3), n = c->marks[r].n;
        for (int i = 0; i < n; i++) {
            float ms = 0.0f;
            cudaEvent_t next = i + 1 < n ? c->marks[r].ev[i + 1] : c->pass_end[r];
            if (cudaEventElapsedTime(&ms, c->marks[r].ev[i], next) == cudaSuccess)
                be->last_op_s[c->marks[r].kind[i]] += ms * 1e-3;
        }
    }
    cudaGetLastError(); /* a time that could not be taken is no error of the pass */
    return RR_OK;
}

/* Conversions through a temporary fp32 device buffer: tests and tools, never the pass loop. */
rr_status cu_upload_act(rr_backend *be, void *dst, const float *src, size_t n) {
    cuda_backend *c = cb(be);
    if (!c->dtype)
        return cu_upload(be, dst, src, n * sizeof(float));
    float *tmp = NULL;
    CU_TRY(cudaMalloc(&tmp, n * sizeof(float) + 16), "upload_act");
    rr_status st = cu_upload(be, tmp, src, n * sizeof(float));
    cudaError_t e = st ? cudaSuccess : rrk_convert_from_f32(c->dtype, dst, tmp, n, c->stream);
    if (!st && e == cudaSuccess)
        e = cudaStreamSynchronize(c->stream);
    cudaFree(tmp);
    if (!st && e != cudaSuccess)
        st = cuda_fail(e, "upload_act");
    return st;
}

rr_status cu_download_act(rr_backend *be, float *dst, const void *src, size_t n) {
    cuda_backend *c = cb(be);
    if (!c->dtype)
        return cu_download(be, dst, src, n * sizeof(float));
    float *tmp = NULL;
    CU_TRY(cudaMalloc(&tmp, n * sizeof(float) + 16), "download_act");
    cudaError_t e = rrk_convert_to_f32(c->dtype, tmp, src, n, c->stream);
    rr_status st = e == cudaSuccess ? cu_download(be, dst, tmp, n * sizeof(float)) : cuda_fail(e, "download_act");
    cudaFree(tmp);
    return st;
}

rr_status cu_prepare_weights(rr_backend *be, const float *block, size_t n) {
    cuda_backend *c = cb(be);
    c->wblock = block;
    c->wfloats = n;
    if (!c->dtype)
        return RR_OK;
    if (c->wmirror)
        cudaFree(c->wmirror);
    c->wmirror = NULL;
    CU_TRY(cudaMalloc(&c->wmirror, n * c->act_size + 256), "allocating the weight mirror");
    CU_TRY(rrk_convert_from_f32(c->dtype, c->wmirror, block, n, c->stream), "converting weights");
    CU_TRY(cudaStreamSynchronize(c->stream), "converting weights");
    return RR_OK;
}

void cu_destroy(rr_backend *be) {
    if (!be)
        return;
    cuda_backend *c = cb(be);
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->copy)
        cudaStreamSynchronize(c->copy);
    cudaFree(c->wmirror);
    cudaFree(c->lt_ws);
    cudaFree(c->d_sum);
    cudaFreeHost(c->h_sum);
    for (int i = 0; i < 2; i++)
        if (c->tune_ev[i])
            cudaEventDestroy(c->tune_ev[i]);
    for (int i = 0; i < 2; i++) {
        cudaFree(c->d_meta[i]);
        cudaFreeHost(c->h_meta[i]);
    }
    cudaFreeHost(c->h_stage);
    if (c->lt)
        cublasLtDestroy(c->lt);
    if (c->blas)
        cublasDestroy(c->blas);
    cudaEvent_t *evs[] = {c->meta_copied, c->meta_free, c->computed, c->out_ready};
    for (size_t e = 0; e < sizeof evs / sizeof evs[0]; e++)
        for (int i = 0; i < 2; i++)
            if (evs[e][i])
                cudaEventDestroy(evs[e][i]);
    for (int i = 0; i < 4; i++) {
        if (c->pass_start[i])
            cudaEventDestroy(c->pass_start[i]);
        if (c->pass_end[i])
            cudaEventDestroy(c->pass_end[i]);
        for (int k = 0; k < kMaxMarks; k++)
            if (c->marks[i].ev[k])
                cudaEventDestroy(c->marks[i].ev[k]);
    }
    if (c->stream)
        cudaStreamDestroy(c->stream);
    if (c->copy)
        cudaStreamDestroy(c->copy);
    free(c);
}

/* ---- pass ---------------------------------------------------------------------------- */

rr_status cu_begin_pass(rr_backend *be, const rr_pass *p) {
    cuda_backend *c = cb(be);
    RR_TRY(rr_pass_check(&be->limits, p, "cuda"));
    const int32_t T = p->total_tokens, S = p->num_seqs;
    const int b = (int)(c->npass & 1);
    /* pinned buffer b was last copied from for pass npass-2: that copy must be done */
    CU_TRY(cudaEventSynchronize(c->meta_copied[b]), "begin_pass");
    int32_t *ids = c->h_meta[b], *types = ids + T, *pos = types + T, *cu = pos + T;
    memcpy(ids, p->ids, (size_t)T * sizeof *ids);
    memcpy(types, p->type_ids, (size_t)T * sizeof *types);
    for (int32_t s = 0; s < S; s++) {
        int32_t count = 0;
        for (int32_t t = p->cu_seqlens[s]; t < p->cu_seqlens[s + 1]; t++)
            pos[t] = rr_next_position(be, p->ids[t], &count);
    }
    memcpy(cu, p->cu_seqlens, (size_t)(S + 1) * sizeof *cu);
    /* the previous pass's ops end here on the compute stream: its metadata buffer is free */
    if (c->npass > 0)
        CU_TRY(cudaEventRecord(c->meta_free[b ^ 1], c->stream), "begin_pass");
    /* one copy on the copy stream, once pass npass-2's ops no longer read device buffer b */
    const size_t bytes = ((size_t)3 * T + (size_t)S + 1) * sizeof(int32_t);
    CU_TRY(cudaStreamWaitEvent(c->copy, c->meta_free[b], 0), "begin_pass");
    CU_TRY(cudaMemcpyAsync(c->d_meta[b], ids, bytes, cudaMemcpyHostToDevice, c->copy), "begin_pass");
    CU_TRY(cudaEventRecord(c->meta_copied[b], c->copy), "begin_pass");
    CU_TRY(cudaStreamWaitEvent(c->stream, c->meta_copied[b], 0), "begin_pass");
    c->d_ids = c->d_meta[b];
    c->d_types = c->d_ids + T;
    c->d_pos = c->d_types + T;
    c->d_cu = c->d_pos + T;
    CU_TRY(cudaEventRecord(c->pass_start[c->npass & 3], c->stream), "begin_pass");
    c->marks[c->npass & 3].n = 0;
    c->npass++;
    be->pass = p;
    return RR_OK;
}

/* ---- ops ------------------------------------------------------------------------------ */

rr_status cu_embed(rr_backend *be, const float *word, const float *pos, const float *type,
                   const float *gamma, const float *beta, float eps, int32_t vocab, int32_t type_vocab,
                   float *x) {
    cuda_backend *c = cb(be);
    const rr_pass *p = be->pass;
    RR_TRY(rr_pass_check_ids(p, vocab, type_vocab));
    CU_TRY(rrk_embed_layernorm(c->dtype, c->d_ids, c->d_types, c->d_pos, p->total_tokens,
                               be->limits.hidden, word, pos, type, gamma, beta, eps, x, c->stream),
           "embed");
    return RR_OK;
}

/* The checksum of y[n] (the storage type): rrk_checksum's partials, added on the host. */
rr_status lt_checksum(cuda_backend *c, const void *y, size_t n, unsigned long long *out) {
    CU_TRY(rrk_checksum(c->dtype, y, n, c->d_sum, kSumBlocks, c->stream), "checksum");
    CU_TRY(cudaMemcpyAsync(c->h_sum, c->d_sum, kSumBlocks * sizeof *c->h_sum, cudaMemcpyDeviceToHost, c->stream),
           "checksum");
    CU_TRY(cudaStreamSynchronize(c->stream), "checksum");
    unsigned long long sum = 0;
    for (int i = 0; i < kSumBlocks; i++)
        sum += c->h_sum[i];
    *out = sum;
    return RR_OK;
}

/* RR_CUDA_LT_TUNE: which of the heuristic's results (res[0..found)) to run for this product.
 * The first time a product (N, K, epilogue) is seen (on a GPU, the warm-up pass at the full
 * token budget), every candidate runs on this call's operands: once untimed (its output's
 * checksum must equal the first choice's: another tile shape or split-K can round the same
 * product differently, and a choice made by timing must not change the scores' bits from one
 * run to the next), then kTuneReps times between two events; the fastest is kept. This
 * synchronises the stream, once per product, at load. Later calls, for any M, take the kept
 * algorithm when this M's heuristic list holds it (the same bytes), else the first choice.
 * y is left as the last candidate wrote it: the caller's product overwrites it. */
rr_status lt_tuned_pick(cuda_backend *c, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la,
                        cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t lc, const void *x, int M, int K,
                        const void *W, int N, void *y, int b, const cublasLtMatmulHeuristicResult_t *res,
                        int found, int *pick) {
    enum { kTuneReps = 5 };
    *pick = 0;
    for (int t = 0; t < c->ntuned; t++)
        if (c->tuned[t].N == N && c->tuned[t].K == K && c->tuned[t].bias == b) {
            for (int i = 0; i < found; i++)
                if (!memcmp(&res[i].algo, &c->tuned[t].algo, sizeof res[i].algo)) {
                    *pick = i;
                    break;
                }
            return RR_OK;
        }
    if (c->ntuned == kLtTuned || found < 2)
        return RR_OK;
    const float one = 1.0f, zero = 0.0f;
    unsigned long long want = 0;
    float best_ms = 0.0f;
    for (int i = 0; i < found; i++) {
        const cublasLtMatmulAlgo_t *algo = &res[i].algo;
        if (cublasLtMatmul(c->lt, desc, &one, W, la, x, lb, &zero, y, lc, y, lc, algo, c->lt_ws, kLtWorkspace,
                           c->stream) != CUBLAS_STATUS_SUCCESS)
            continue;
        unsigned long long sum = 0;
        RR_TRY(lt_checksum(c, y, (size_t)M * (size_t)N, &sum));
        if (i == 0)
            want = sum;
        else if (sum != want)
            continue; /* rounds differently from the first choice */
        CU_TRY(cudaEventRecord(c->tune_ev[0], c->stream), "tuning");
        for (int r = 0; r < kTuneReps; r++)
            cublasLtMatmul(c->lt, desc, &one, W, la, x, lb, &zero, y, lc, y, lc, algo, c->lt_ws, kLtWorkspace,
                           c->stream);
        CU_TRY(cudaEventRecord(c->tune_ev[1], c->stream), "tuning");
        CU_TRY(cudaEventSynchronize(c->tune_ev[1]), "tuning");
        float ms = 0.0f;
        CU_TRY(cudaEventElapsedTime(&ms, c->tune_ev[0], c->tune_ev[1]), "tuning");
        if (i == 0 || ms < best_ms)
            best_ms = ms, *pick = i;
    }
    c->tuned[c->ntuned].N = N, c->tuned[c->ntuned].K = K, c->tuned[c->ntuned].bias = b;
    c->tuned[c->ntuned++].algo = res[*pick].algo;
    return RR_OK;
}

/* cuBLASLt: y[M,N] = x[M,K] · W[N,K]ᵀ (+ bias fused). Row-major y is column-major yᵀ [N,M]:
 * yᵀ = op(A) · B with A = W seen as column-major [K,N] (transposed), B = x seen as [K,M]. */
rr_status lt_matmul(cuda_backend *c, const void *x, int M, int K, const void *W, const void *bias,
                    int gelu_tanh, int N, void *y, int *fallback) {
    cudaDataType_t dt = cuda_type(c->dtype);
    cublasLtMatmulDescOpaque_t desc_o;
    cublasLtMatrixLayoutOpaque_t la_o, lb_o, lc_o;
    cublasLtMatmulDesc_t desc = (cublasLtMatmulDesc_t)&desc_o;
    cublasLtMatrixLayout_t la = (cublasLtMatrixLayout_t)&la_o, lb = (cublasLtMatrixLayout_t)&lb_o,
                           lc = (cublasLtMatrixLayout_t)&lc_o;
    BLAS_TRY(cublasLtMatmulDescInit(desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescInit");
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    BLAS_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA");
    BLAS_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB");
    if (bias) {
        cublasLtEpilogue_t epi = gelu_tanh ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        BLAS_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "EPILOGUE");
        BLAS_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
                 "BIAS_POINTER");
    }
    BLAS_TRY(cublasLtMatrixLayoutInit(la, dt, (uint64_t)K, (uint64_t)N, K), "layout A");
    BLAS_TRY(cublasLtMatrixLayoutInit(lb, dt, (uint64_t)K, (uint64_t)M, K), "layout B");
    BLAS_TRY(cublasLtMatrixLayoutInit(lc, dt, (uint64_t)N, (uint64_t)M, N), "layout C");
    /* algorithm: a small cache keyed by shape (passes of the same size reuse it), 4-way: a key
     * lives in one of the 4 slots from its hash on, and a miss replaces the one used longest
     * ago, so a pass's 4 products never evict each other. (The earlier direct-mapped cache
     * hashed N and K by odd constants, xored: a layer's N and K are all multiples of 64, so
     * the three products with a bias epilogue shared one slot, each evicted the other two,
     * and about 19 of a pass's 24 products asked cuBLASLt's heuristic again: 302 questions
     * for 15 passes and the warm-up in kemu's count, 52 now; tests/test_lt_tune.sh.) */
    const int b = bias ? 1 + (gelu_tanh != 0) : 0;
    uint64_t h = (uint64_t)M * 0x9E3779B97F4A7C15ull ^ (uint64_t)N * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)K * 0x165667B19E3779F9ull ^ (uint64_t)b;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    algo_entry *e = NULL, *victim = NULL;
    for (int w = 0; w < 4 && !e; w++) {
        algo_entry *x = &c->algos[(h + (uint64_t)w) % kAlgoCache];
        if (x->valid && x->M == M && x->N == N && x->K == K && x->bias == b)
            e = x;
        else if (!victim || x->used < victim->used)
            victim = x;
    }
    if (!e) {
        e = victim;
        e->valid = 0;
        cublasLtMatmulPreferenceOpaque_t pref_o;
        cublasLtMatmulPreference_t pref = (cublasLtMatmulPreference_t)&pref_o;
        BLAS_TRY(cublasLtMatmulPreferenceInit(pref), "preference");
        size_t ws = kLtWorkspace;
        BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                      sizeof ws), "preference");
        cublasLtMatmulHeuristicResult_t res[kLtCandidates];
        int found = 0;
        cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(c->lt, desc, la, lb, lc, lc, pref,
                                                          c->lt_tune ? kLtCandidates : 1, res, &found);
        if (s != CUBLAS_STATUS_SUCCESS || found < 1) {
            *fallback = 1;
            return RR_OK;
        }
        int pick = 0;
        if (c->lt_tune)
            RR_TRY(lt_tuned_pick(c, desc, la, lb, lc, x, M, K, W, N, y, b, res, found, &pick));
        e->M = M, e->N = N, e->K = K, e->bias = b, e->valid = 1, e->algo = res[pick].algo;
    }
    e->used = c->npass;
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = cublasLtMatmul(c->lt, desc, &one, W, la, x, lb, &zero, y, lc, y, lc, &e->algo,
                                      c->lt_ws, kLtWorkspace, c->stream);
    if (s != CUBLAS_STATUS_SUCCESS) {
        e->valid = 0;
        *fallback = 1;
    }
    return RR_OK;
}

rr_status cu_linear(rr_backend *be, const float *x, int32_t M, int32_t K, const float *W, const float *b,
                    int32_t N, rr_activation act, float *y) {
    cuda_backend *c = cb(be);
    if (M <= 0)
        return RR_OK;
    const float one = 1.0f, zero = 0.0f;
    if (!c->dtype) {
        BLAS_TRY(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, W, K, x, K, &zero, y, N),
                 "sgemm");
        CU_TRY(rrk_bias_act(0, y, b, M, N, (int)act, c->stream), "bias/activation");
        return RR_OK;
    }
    if (act == RR_ACT_GELU && c->fused_gelu && rrk_linear_gelu_supports(c->dtype, N, K)) {
        CU_TRY(rrk_linear_gelu(c->dtype, x, wptr(c, W), b, M, N, K, y, c->stream), "linear+GELU (fused)");
        return RR_OK;
    }
    int fallback = !c->use_lt;
    if (!fallback) {
        /* bf16/fp16 default: GELU in cuBLASLt's epilogue, saving our GELU pass's read and
         * write of the [M, N] intermediate. cuBLASLt's GELU is the tanh approximation (|Δ| ≤
         * ~5e-4 against BERT's erf GELU, under bf16's rounding of values near 2), so it is a
         * different function, never used in fp32 (the mode that must equal the CPU's). On an
         * H100: up product + GELU 0.278 -> 0.173 ms per layer; Kendall tau against fp32
         * unchanged (bench/RESULTS.md). RR_CUDA_GELU_GEMM=exact turns it off. */
        const int tanh_epi = act == RR_ACT_GELU && c->lt_gelu_tanh && b;
        RR_TRY(lt_matmul(c, x, M, K, wptr(c, W), wptr(c, b), tanh_epi, N, y, &fallback));
        if (!fallback && tanh_epi)
            return RR_OK;
        if (!fallback) {
            CU_TRY(rrk_bias_act(c->dtype, y, NULL, M, N, (int)act, c->stream), "activation");
            return RR_OK;
        }
        c->use_lt = 0; /* cuBLASLt declined this shape: plain cuBLAS from now on */
    }
    cudaDataType_t dt = cuda_type(c->dtype);
    BLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, wptr(c, W), dt, K, x, dt, K,
                          &zero, y, dt, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "gemm");
    CU_TRY(rrk_bias_act(c->dtype, y, b, M, N, (int)act, c->stream), "bias/activation");
    return RR_OK;
}

rr_status cu_attention(rr_backend *be, const float *qkv, float *out) {
    cuda_backend *c = cb(be);
    const rr_pass *p = be->pass;
    const int win = be->attn_window;
    /* MPNet's relative bias (be->attn_bias) and ModernBERT's sliding window (be->attn_window): the
     * mma.sync and SIMT kernels take them; the WMMA kernel does not, so with either the SIMT one
     * runs. DeBERTa's disentangled attention (and its scale): the SIMT kernel only. */
    if (be->rel_idx || be->score_factor > 1)
        CU_TRY(rrk_attention_rel(c->dtype, qkv, c->d_cu, p->num_seqs, p->max_seqlen, be->limits.hidden,
                                 be->limits.heads, be->rel_posk, be->rel_posq, be->rel_idx, be->limits.max_seqlen,
                                 be->score_factor > 1 ? be->score_factor : 1, out, c->stream),
               "attention (disentangled)");
    else if (c->attn_kernel == ATTN_MMA || c->attn_kernel == ATTN_MMA2)
        CU_TRY(rrk_attention_mma(c->dtype, c->attn_kernel == ATTN_MMA2, qkv, c->d_cu, p->num_seqs, p->max_seqlen,
                                 be->limits.hidden, be->limits.heads, be->attn_bias, be->attn_bias_len, win, out,
                                 c->stream),
               "attention (mma)");
    else if (c->attn_kernel == ATTN_WMMA && !be->attn_bias && win <= 0)
        CU_TRY(rrk_attention_tc(c->dtype, qkv, c->d_cu, p->num_seqs, p->max_seqlen, be->limits.hidden,
                                be->limits.heads, out, c->stream),
               "attention (wmma)");
    else
        CU_TRY(rrk_attention(c->dtype, qkv, c->d_cu, p->num_seqs, p->max_seqlen, be->limits.hidden,
                             be->limits.heads, be->attn_bias, be->attn_bias_len, win, out, c->stream),
               "attention");
    return RR_OK;
}

rr_status cu_add_norm(rr_backend *be, float *x, const float *r, const float *gamma, const float *beta, float eps,
                      float *y) {
    cuda_backend *c = cb(be);
    CU_TRY(rrk_add_norm(c->dtype, x, r, y, be->pass->total_tokens, be->limits.hidden, gamma, beta, eps, c->stream),
           "add_norm");
    return RR_OK;
}

/* BERT's post-LN x = LayerNorm(x + r): add_norm into x itself */
rr_status cu_add_layernorm(rr_backend *be, float *x, const float *r, const float *gamma, const float *beta,
                           float eps) {
    return cu_add_norm(be, x, r, gamma, beta, eps, x);
}

/* The tables are fp32 (the model's block, not the mirror); a token's position is the pass's
 * position id, its index in its sequence when no pad rule applies (ModernBERT sets none). */
rr_status cu_rope(rr_backend *be, float *qkv, const float *cos, const float *sin) {
    cuda_backend *c = cb(be);
    if (be->skip_pad)
        return rr_error(RR_ERR_INVALID_ARG, "cuda: rope with pad positions");
    CU_TRY(rrk_rope(c->dtype, qkv, c->d_pos, be->pass->total_tokens, be->limits.hidden, be->limits.heads, cos, sin,
                    c->stream),
           "rope");
    return RR_OK;
}

rr_status cu_glu(rr_backend *be, const float *x, int32_t T, int32_t inter, rr_activation act, float *y) {
    cuda_backend *c = cb(be);
    if (act != RR_ACT_GELU)
        return rr_error(RR_ERR_INVALID_ARG, "cuda: glu with activation %d (GELU only)", (int)act);
    CU_TRY(rrk_glu(c->dtype, x, T, inter, y, c->stream), "glu");
    return RR_OK;
}

rr_status cu_pool(rr_backend *be, const float *x, rr_pooling mode, int normalize, float *out) {
    cuda_backend *c = cb(be);
    CU_TRY(rrk_pool(c->dtype, x, c->d_cu, be->pass->num_seqs, be->limits.hidden, (int)mode, normalize, out,
                    c->stream),
           "pool");
    return RR_OK;
}

/* The head is tiny (S×H×H): fp32 throughout, from the fp32 weights, like the CPU. ModernBERT's
 * pools the mean of the tokens or CLS, and puts a LayerNorm after the activation (in place on
 * the fp32 pooled2). */
rr_status cu_classify(rr_backend *be, const float *x, const rr_classifier_head *h, float *pooled,
                      float *pooled2, float *out) {
    cuda_backend *c = cb(be);
    const int S = be->pass->num_seqs, H = be->limits.hidden, N = h->num_labels;
    const float one = 1.0f, zero = 0.0f;
    CU_TRY(rrk_pool(c->dtype, x, c->d_cu, S, H, h->pool == RR_POOL_MEAN ? RR_POOL_MEAN : RR_POOL_CLS, 0, pooled,
                    c->stream),
           "classify: pool");
    BLAS_TRY(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, H, S, H, &one, h->pooler_w, H, pooled, H, &zero,
                         pooled2, H),
             "classify: pooler");
    CU_TRY(rrk_bias_act(0, pooled2, h->pooler_b, S, H, (int)h->pooler_act, c->stream), "classify: pooler");
    if (h->norm_g)
        CU_TRY(rrk_add_norm(0, pooled2, NULL, pooled2, S, H, h->norm_g, h->norm_b, h->norm_eps, c->stream),
               "classify: norm");
    BLAS_TRY(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, S, H, &one, h->cls_w, H, pooled2, H, &zero, out,
                         N),
             "classify: classifier");
    CU_TRY(rrk_bias_act(0, out, h->cls_b, S, N, RR_ACT_NONE, c->stream), "classify: bias");
    return RR_OK;
}

void cu_mark(rr_backend *be, int kind) {
    cuda_backend *c = cb(be);
    if (!c->profile || c->npass < 1 || kind < 0 || kind >= RR_MODEL_OP_KINDS)
        return;
    auto &m = c->marks[(c->npass - 1) & 3];
    if (m.n < kMaxMarks && cudaEventRecord(m.ev[m.n], c->stream) == cudaSuccess)
        m.kind[m.n++] = kind;
}

const rr_backend_ops cuda_ops = {
    "cuda",           cu_destroy,       cu_alloc,       cu_free,         cu_upload,
    cu_download,      cu_alloc_host,    cu_free_host,   cu_download_async, cu_wait,
    cu_upload_act,    cu_download_act,  cu_prepare_weights, cu_begin_pass, cu_embed,
    cu_linear,        cu_attention,     cu_add_layernorm, cu_pool,       cu_classify,
    cu_mark,          cu_add_norm,      cu_rope,        cu_glu,
};

rr_status create(cuda_backend *c, const rr_backend_limits *lim) {
    CU_TRY(cudaSetDevice(0), "selecting device 0");
    CU_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "creating a stream");
    CU_TRY(cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking), "creating a stream");
    for (int i = 0; i < 2; i++) {
        cudaEvent_t *evs[] = {&c->meta_copied[i], &c->meta_free[i], &c->computed[i], &c->out_ready[i]};
        for (size_t e = 0; e < sizeof evs / sizeof evs[0]; e++) {
            CU_TRY(cudaEventCreateWithFlags(evs[e], cudaEventDisableTiming), "creating an event");
            /* recorded once, so that the first waits on them find them complete */
            CU_TRY(cudaEventRecord(*evs[e], c->stream), "recording an event");
        }
    }
    for (int i = 0; i < 4; i++) {
        CU_TRY(cudaEventCreate(&c->pass_start[i]), "creating an event");
        CU_TRY(cudaEventCreate(&c->pass_end[i]), "creating an event");
        for (int k = 0; c->profile && k < kMaxMarks; k++)
            CU_TRY(cudaEventCreate(&c->marks[i].ev[k]), "creating an event");
    }
    BLAS_TRY(cublasCreate(&c->blas), "cublasCreate");
    BLAS_TRY(cublasSetStream(c->blas, c->stream), "cublasSetStream");
    BLAS_TRY(cublasLtCreate(&c->lt), "cublasLtCreate");
    CU_TRY(cudaMalloc(&c->lt_ws, kLtWorkspace), "allocating the cuBLASLt workspace");
    /* cuBLAS's own workspace for the same stream */
    BLAS_TRY(cublasSetWorkspace(c->blas, c->lt_ws, kLtWorkspace), "cublasSetWorkspace");
    const size_t meta = ((size_t)3 * lim->token_budget + (size_t)lim->max_seqs + 1) * sizeof(int32_t);
    for (int i = 0; i < 2; i++) {
        CU_TRY(cudaMallocHost((void **)&c->h_meta[i], meta), "allocating pinned memory");
        CU_TRY(cudaMalloc((void **)&c->d_meta[i], meta), "allocating pass metadata");
    }
    c->d_ids = c->d_meta[0];
    c->d_types = c->d_ids + lim->token_budget;
    c->d_pos = c->d_types + lim->token_budget;
    c->d_cu = c->d_pos + lim->token_budget;
    c->stage_bytes = (size_t)lim->max_seqs * (size_t)lim->hidden * sizeof(float);
    if (c->stage_bytes > ((size_t)16 << 20)) /* larger downloads go straight to pageable memory */
        c->stage_bytes = (size_t)16 << 20;
    CU_TRY(cudaMallocHost(&c->h_stage, c->stage_bytes), "allocating pinned staging");
    if (c->lt_tune) {
        CU_TRY(cudaMalloc((void **)&c->d_sum, kSumBlocks * sizeof *c->d_sum), "allocating checksum sums");
        CU_TRY(cudaMallocHost((void **)&c->h_sum, kSumBlocks * sizeof *c->h_sum), "allocating checksum sums");
        for (int i = 0; i < 2; i++)
            CU_TRY(cudaEventCreate(&c->tune_ev[i]), "creating an event");
    }
    CU_TRY(cudaStreamSynchronize(c->stream), "creating the backend");
    return RR_OK;
}

} // namespace

extern "C" rr_status rr_cudamod_backend_create(const rr_backend_limits *lim, rr_backend **out) {
    *out = NULL;
    const int d = lim->heads > 0 ? lim->hidden / lim->heads : 0;
    if (lim->max_seqlen < 1 || lim->token_budget < lim->max_seqlen || lim->max_seqs < 1 ||
        lim->hidden < 1 || lim->heads < 1 || lim->hidden % lim->heads)
        return rr_error(RR_ERR_INVALID_ARG, "cuda backend: inconsistent limits");
    if (!rrk_attention_supports(d) || lim->hidden > 1024)
        return rr_error(RR_ERR_UNSUPPORTED, "cuda backend: head dimension %d / hidden size %d: the "
                        "kernels support head dimensions 32, 64, 128 and hidden sizes up to 1024 "
                        "(use --device cpu)", d, lim->hidden);
    cuda_backend *c = (cuda_backend *)calloc(1, sizeof *c);
    if (!c)
        return rr_error(RR_ERR_NOMEM, "cuda backend: out of memory");
    c->base.ops = &cuda_ops;
    c->base.limits = *lim;
    c->dtype = (int)lim->precision;
    c->act_size = c->dtype ? 2 : 4;
    const char *prof = getenv("RR_CUDA_PROFILE");
    c->profile = prof && *prof && strcmp(prof, "0");
    const char *gemm = getenv("RR_CUDA_GEMM");
    c->use_lt = !(gemm && !strcmp(gemm, "gemmex"));
    const char *fg = getenv("RR_CUDA_GELU_GEMM");
    c->fused_gelu = fg && !strcmp(fg, "fused");
    /* bf16/fp16: GELU in cuBLASLt's epilogue (the tanh form) by default, measured on an H100
     * (bench/RESULTS.md, ninth session): the FFN block 0.401 -> 0.300 ms, 46k -> 52k pairs/s at
     * 256 tokens. RR_CUDA_GELU_GEMM=exact keeps the model's erf GELU (our bias+GELU pass after
     * the product), =fused linear_gelu.cu; fp32 always computes the erf GELU. */
    c->lt_gelu_tanh = c->dtype && !c->fused_gelu && !(fg && !strcmp(fg, "exact"));
    const char *tune = getenv("RR_CUDA_LT_TUNE");
    c->lt_tune = c->dtype && tune && !strcmp(tune, "1");
    /* Attention kernel: attention_mma.cu where it applies (v4, two query blocks per warp, at
     * head dim 32; v3 at 64), else SIMT; RR_CUDA_ATTN=mma | wmma | simt picks the earlier
     * kernels (v3 everywhere, WMMA, SIMT: tests and benchmarks compare all of them). */
    const char *attn = getenv("RR_CUDA_ATTN");
    const int tc_ok = lim->hidden % 8 == 0;
    c->attn_kernel = ATTN_SIMT;
    if (attn && !strcmp(attn, "wmma")) {
        if (tc_ok && rrk_attention_tc_supports(c->dtype, d))
            c->attn_kernel = ATTN_WMMA;
    } else if (!(attn && !strcmp(attn, "simt")) && tc_ok && rrk_attention_mma_supports(c->dtype, d)) {
        c->attn_kernel = attn && !strcmp(attn, "mma") ? ATTN_MMA : ATTN_MMA2;
    }
    /* The FFN in one piece (ffn_rows 0). RR_CUDA_FFN_ROWS=N runs it in pieces of N rows (a
     * multiple of 64; rr_backend_ffn) so that one piece's intermediate [N, I] (8,192 × 1536 ×
     * 2 bytes = 24 MiB for MiniLM in bf16) could stay in the 50 MB L2 between the up product,
     * its GELU and the down product. Measured on an H100 (bench/RESULTS.md): slower, 0.448 vs
     * 0.402 ms per layer at 8,192 rows (cuBLASLt loses more on the smaller products than the
     * GELU gains), so it is not the default. */
    c->base.ffn_rows = 0;
    const char *fr = getenv("RR_CUDA_FFN_ROWS");
    if (fr && *fr) {
        char *end = NULL;
        long v = strtol(fr, &end, 10);
        if (*end || v < 0 || v > (1L << 30)) {
            free(c);
            return rr_error(RR_ERR_INVALID_ARG, "RR_CUDA_FFN_ROWS=\"%s\": a number of rows (0 = the whole pass)", fr);
        }
        c->base.ffn_rows = v == 0 ? 0 : v < 64 ? 64 : (int32_t)(v / 64 * 64);
    }
    rr_status st = create(c, lim);
    int major = 0;
    if (!st && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess && major < 8)
        c->attn_kernel = ATTN_SIMT, c->fused_gelu = 0; /* bf16 tensor cores: sm_80 and later */
    if (st) {
        cu_destroy(&c->base);
        return st;
    }
    *out = &c->base;
    return RR_OK;
}
