/* kernels/attention.cu — variable-length multi-head attention over packed sequences.
 *
 * qkv[T, 3H] holds Q | K | V per token (heads contiguous inside each H); sequence s owns
 * tokens cu_seqlens[s] .. cu_seqlens[s+1]-1 and attends only to itself (no padding, no mask).
 * One pass over K/V per query tile with an online softmax (running max m, running sum l,
 * rescaling the accumulator when the max grows), fp32 scores, softmax and accumulation
 * whatever the storage type; exp2 with log2(e) folded into the query scale.
 *
 * Versions tried:
 *   v1: SIMT. A block of 64 threads owns 64 query rows of one (sequence, head); each thread
 *      holds its query row and accumulator in registers (2·d floats) and walks K/V tiles
 *      staged in shared memory as fp32 (broadcast reads, no bank conflicts), scoring 16 keys
 *      at a time before one rescale. Blocks whose query tile lies past the end of their
 *      sequence exit at once. At d 128 the 256 floats per thread spilled (~900 bytes of
 *      spill stores per kernel, sm_80 and sm_90), at d 64 in bf16/fp16 on sm_90 20 bytes.
 *   v2 (this): the same walk with each query row split across d/32 adjacent lanes, 32
 *      dimensions each (64·d/32 threads per block): a lane holds 64 floats whatever d, and a
 *      score is the lanes' partial dot products summed by an xor butterfly (bitwise the same
 *      in every lane of the row, so all keep the same max and sum). At d 32 it is v1. No
 *      kernel spills; the build rejects any that does (-Xptxas --warn-on-spills with
 *      warnings as errors, CMakeLists.txt).
 *   The tensor-core kernels (attention_mma.cu, attention_tc.cu) serve bf16/fp16 at d 32 and
 *   64; this one is the fp32 path (parity checks) and the fallback at d 128. It and the
 *   mma.sync kernel add a relative position bias (MPNet: bias[h][j − i], fp32); with one, the
 *   WMMA kernel (RR_CUDA_ATTN=wmma) gives way to this one.
 *   DeBERTa's disentangled attention (REL, rrk_attention_rel) runs here only, in every
 *   precision: each score also gets q_i · posk[row] + k_j · posq[row] (row = rel_idx[i − j]),
 *   two more dot products over the lane's dimensions before the butterfly, with the table rows
 *   read from global memory (a layer's tables are 2 · span × H: they stay in L2). First
 *   version, written without a GPU at hand and checked on kemu only; the obvious faster one
 *   (C2P = Q · poskᵀ and P2C = K · posqᵀ per head as tensor-core products, gathered in the
 *   mma.sync kernel) waits for a measurement.
 *   ModernBERT's sliding layers (window > 0): a block walks only the keys its 64 rows' windows
 *   reach, [q0 − window, q0 + 64 + window), and a key outside a row's window scores −inf; a run
 *   of 16 keys none of which a row may attend leaves that row as it was (its running max may
 *   still be −inf, whose rescale would be NaN). Checked on kemu against the CPU, not yet timed.
 */
#include <math.h>

#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

constexpr int kBQ = 64; /* query rows per block */

/* DeBERTa's tables for REL: posk, posq [rows, H] (either NULL: no such term); ridx = rel_idx at
 * relative position 0 (ridx[i − j] is the row of query i, key j) */
template <typename T> struct RelTables {
    const T *posk, *posq;
    const int32_t *ridx;
};

template <typename T, int D, bool REL>
__global__ void __launch_bounds__(kBQ * (D / 32), 1)
    attention_kernel(const T *__restrict__ qkv, const int32_t *__restrict__ cu, int q_tiles, int H, float q_scale,
                     const float *__restrict__ bias, int bias_len, int window, RelTables<T> rel, T *__restrict__ out) {
    constexpr int SPLIT = D / 32;          /* lanes per query row */
    constexpr int DL = 32;                 /* dimensions per lane */
    constexpr int BK = D >= 128 ? 32 : 64; /* keys per shared-memory tile */
    constexpr int SUB = 16;                /* keys scored before one rescale */
    __shared__ __align__(16) float Ks[BK][D];
    __shared__ __align__(16) float Vs[BK][D];
    const int s = blockIdx.x / q_tiles, tile = blockIdx.x % q_tiles, h = blockIdx.y;
    const int start = cu[s], L = cu[s + 1] - start, q0 = tile * kBQ;
    if (q0 >= L)
        return;
    const size_t ld = (size_t)3 * H;
    const int row = (int)threadIdx.x / SPLIT, part = (int)threadIdx.x % SPLIT, c0 = part * DL;
    /* the lanes of one row: adjacent, all active or all not (the butterfly's mask) */
    const unsigned lane = threadIdx.x & 31u;
    const unsigned group = (SPLIT == 32 ? 0xffffffffu : ((1u << SPLIT) - 1u)) << (lane & ~(unsigned)(SPLIT - 1));
    const int qi = q0 + row;
    const bool active = qi < L;
    float q[DL], acc[DL];
    const T *qrow = qkv + (size_t)(start + (active ? qi : 0)) * ld + (size_t)h * D + c0;
#pragma unroll
    for (int d = 0; d < DL; d++) {
        q[d] = to_f(qrow[d]) * q_scale;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    /* this row's relative bias, indexed by key: brow[j] = bias[h][j - qi] (log2 units below) */
    const float *brow = bias && active ? bias + (size_t)h * (2 * bias_len - 1) + (bias_len - 1) - qi : nullptr;
    const T *kbase = qkv + (size_t)start * ld + H + (size_t)h * D;
    const T *vbase = kbase + H;
    /* the keys this block's rows attend: all, or those their windows reach */
    const int kbeg = window > 0 ? max(0, q0 - window) : 0, kend = window > 0 ? min(L, q0 + kBQ + window) : L;
    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        const int nk = min(BK, kend - k0);
        __syncthreads(); /* the previous tile is no longer read */
        for (int e = threadIdx.x; e < nk * D; e += kBQ * SPLIT) {
            const int r = e / D, c = e % D;
            const size_t off = (size_t)(k0 + r) * ld + c;
            Ks[r][c] = to_f(kbase[off]);
            Vs[r][c] = to_f(vbase[off]);
        }
        __syncthreads();
        if (!active)
            continue;
        for (int j0 = 0; j0 < nk; j0 += SUB) {
            float sc[SUB];
            float mx = m;
#pragma unroll
            for (int jj = 0; jj < SUB; jj++) {
                const int j = j0 + jj;
                float dot = -INFINITY;
                if (j < nk && (window <= 0 || abs(qi - (k0 + j)) <= window)) {
                    dot = 0.0f;
                    const float4 *kr = reinterpret_cast<const float4 *>(&Ks[j][c0]);
#pragma unroll
                    for (int d4 = 0; d4 < DL / 4; d4++) {
                        const float4 kv = kr[d4];
                        dot += q[4 * d4] * kv.x + q[4 * d4 + 1] * kv.y + q[4 * d4 + 2] * kv.z +
                               q[4 * d4 + 3] * kv.w;
                    }
                    if (REL && rel.ridx) { /* q is scaled already; k · posq gets the scale here */
                        const size_t prow = (size_t)rel.ridx[qi - (k0 + j)] * H + (size_t)h * D + c0;
                        if (rel.posk) {
                            const T *pk = rel.posk + prow;
#pragma unroll
                            for (int d = 0; d < DL; d++)
                                dot += q[d] * to_f(pk[d]);
                        }
                        if (rel.posq) {
                            const T *pq = rel.posq + prow;
                            float e = 0.0f;
#pragma unroll
                            for (int d = 0; d < DL; d++)
                                e += Ks[j][c0 + d] * to_f(pq[d]);
                            dot += e * q_scale;
                        }
                    }
#pragma unroll
                    for (int o = 1; o < SPLIT; o <<= 1)
                        dot += __shfl_xor_sync(group, dot, o);
                    if (brow)
                        dot += brow[k0 + j] * 1.4426950408889634f;
                }
                sc[jj] = dot;
                mx = fmaxf(mx, dot);
            }
            if (mx == -INFINITY) /* nothing this row attends yet (window): nothing changes */
                continue;
            const float corr = exp2f(m - mx); /* 0 on the first block (m = -inf) */
            l *= corr;
#pragma unroll
            for (int d = 0; d < DL; d++)
                acc[d] *= corr;
#pragma unroll
            for (int jj = 0; jj < SUB; jj++) {
                const int j = j0 + jj;
                if (j < nk) {
                    const float p = exp2f(sc[jj] - mx); /* 0 for a key outside the window */
                    l += p;
                    const float4 *vr = reinterpret_cast<const float4 *>(&Vs[j][c0]);
#pragma unroll
                    for (int d4 = 0; d4 < DL / 4; d4++) {
                        const float4 vv = vr[d4];
                        acc[4 * d4] += p * vv.x;
                        acc[4 * d4 + 1] += p * vv.y;
                        acc[4 * d4 + 2] += p * vv.z;
                        acc[4 * d4 + 3] += p * vv.w;
                    }
                }
            }
            m = mx;
        }
    }
    if (!active)
        return;
    const float inv = 1.0f / l;
    T *orow = out + (size_t)(start + qi) * H + (size_t)h * D + c0;
#pragma unroll
    for (int d = 0; d < DL; d++)
        orow[d] = from_f<T>(acc[d] * inv);
}

struct Attn : AttnArgs {
    const void *posk = nullptr, *posq = nullptr; /* REL only */
    const int32_t *ridx = nullptr;
    int factor = 1;
    bool rel = false;
    template <typename T, int D> cudaError_t launch() const {
        const int q_tiles = (max_seqlen + kBQ - 1) / kBQ;
        const float q_scale = 1.4426950408889634f / sqrtf((float)D * (float)factor);
        dim3 grid((unsigned)(S * q_tiles), (unsigned)heads);
        const RelTables<T> t = {(const T *)posk, (const T *)posq, ridx};
        if (rel)
            attention_kernel<T, D, true><<<grid, kBQ * (D / 32), 0, stream>>>((const T *)qkv, cu, q_tiles, H, q_scale,
                                                                             nullptr, 0, 0, t, (T *)out);
        else
            attention_kernel<T, D, false><<<grid, kBQ * (D / 32), 0, stream>>>((const T *)qkv, cu, q_tiles, H, q_scale,
                                                                              bias, bias_len, window, t, (T *)out);
        return cudaGetLastError();
    }
    template <typename T> cudaError_t run() const {
        switch (H / heads) {
        case 32: return launch<T, 32>();
        case 64: return launch<T, 64>();
        case 128: return launch<T, 128>();
        }
        return cudaErrorInvalidValue;
    }
};

} // namespace

int rrk_attention_supports(int head_dim) { return head_dim == 32 || head_dim == 64 || head_dim == 128; }

cudaError_t rrk_attention(int dtype, const void *qkv, const int32_t *cu_seqlens, int S, int max_seqlen,
                          int H, int heads, const float *bias, int bias_len, int window, void *out,
                          cudaStream_t stream) {
    if (S <= 0)
        return cudaSuccess;
    if (heads <= 0 || H % heads || !rrk_attention_supports(H / heads))
        return cudaErrorInvalidValue;
    if ((bias && bias_len < max_seqlen) || (bias && window > 0))
        return cudaErrorInvalidValue;
    return dispatch_dtype(dtype,
                          Attn{{qkv, cu_seqlens, S, max_seqlen, H, heads, bias, bias_len, window, out, stream}});
}

cudaError_t rrk_attention_rel(int dtype, const void *qkv, const int32_t *cu_seqlens, int S, int max_seqlen, int H,
                              int heads, const void *posk, const void *posq, const int32_t *rel_idx, int idx_len,
                              int factor, void *out, cudaStream_t stream) {
    if (S <= 0)
        return cudaSuccess;
    if (heads <= 0 || H % heads || !rrk_attention_supports(H / heads) || factor < 1)
        return cudaErrorInvalidValue;
    if (rel_idx && idx_len < max_seqlen)
        return cudaErrorInvalidValue;
    Attn a{{qkv, cu_seqlens, S, max_seqlen, H, heads, nullptr, 0, 0, out, stream}};
    a.posk = posk;
    a.posq = posq;
    a.ridx = rel_idx && (posk || posq) ? rel_idx + (idx_len - 1) : nullptr;
    a.factor = factor;
    a.rel = true;
    return dispatch_dtype(dtype, a);
}
