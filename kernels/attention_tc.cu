/* kernels/attention_tc.cu — variable-length attention on the tensor cores (bf16 / fp16).
 *
 * Same function as kernels/attention.cu (whose SIMT kernel stays the fp32 path and the
 * reference for this one): per (sequence, head, 64-query tile), one pass over K/V in tiles
 * of 64 keys with an online softmax. QKᵀ and PV are 16×16×16 WMMA products with fp32
 * accumulation; scores, running max/sum and the output accumulator are fp32 (in shared
 * memory); P is rounded to the storage type before PV, as in FlashAttention.
 *
 * Block: 4 warps; warp w owns query rows 16w..16w+15 of the tile. Shared memory (dynamic):
 * Q, K, V tiles [64][D] (storage type, zero-padded past the sequence end), per warp S [16][64]
 * fp32, P [16][64] storage type, O [16][D] fp32, and m, l per row.
 *
 * Versions tried: v1 = attention.cu (SIMT, fp32 math on 64 rows per block).
 *   v2a: softmax with two lanes per row, 32 columns each: every shared-memory access of a
 *        warp fell in one bank (rows 64 floats apart): 32-way conflicts; on an H200 a bf16
 *        pass was no faster than fp32 (4,129 vs 4,073 pairs/s end to end).
 *   v2b (this): one row at a time across the whole warp, shuffles for max and sum.
 */
#include <math.h>
#include <mma.h>

#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;
using namespace nvcuda;

namespace {

constexpr int kTQ = 64, kTK = 64, kWarps = 4;

template <int D> struct Smem {
    static constexpr size_t q = (size_t)kTQ * D * 2, k = (size_t)kTK * D * 2, v = k;
    static constexpr size_t s = (size_t)kWarps * 16 * kTK * 4, p = (size_t)kWarps * 16 * kTK * 2;
    static constexpr size_t o = (size_t)kWarps * 16 * D * 4, ml = (size_t)kWarps * 16 * 4 * 3;
    static constexpr size_t total = q + k + v + s + p + o + ml;
};

template <typename T, int D>
__global__ void __launch_bounds__(32 * kWarps) attention_tc_kernel(const T *__restrict__ qkv,
                                                                   const int32_t *__restrict__ cu, int q_tiles,
                                                                   int H, float scale_log2, T *__restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* bf16 tensor cores need sm_80; the backend never launches this below it */
#else
    extern __shared__ __align__(128) unsigned char smem[];
    T *Qs = (T *)smem;
    T *Ks = (T *)(smem + Smem<D>::q);
    T *Vs = (T *)(smem + Smem<D>::q + Smem<D>::k);
    float *Sall = (float *)(smem + Smem<D>::q + Smem<D>::k + Smem<D>::v);
    T *Pall = (T *)((unsigned char *)Sall + Smem<D>::s);
    float *Oall = (float *)((unsigned char *)Pall + Smem<D>::p);
    float *Mall = (float *)((unsigned char *)Oall + Smem<D>::o);
    float *Lall = Mall + kWarps * 16, *Call = Lall + kWarps * 16;

    const int s = blockIdx.x / q_tiles, tile = blockIdx.x % q_tiles, h = blockIdx.y;
    const int start = cu[s], L = cu[s + 1] - start, q0 = tile * kTQ;
    if (q0 >= L)
        return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nthreads = 32 * kWarps;
    const size_t ld = (size_t)3 * H;
    const T *base = qkv + (size_t)start * ld + (size_t)h * D;
    const T zero = from_f<T>(0.0f);

    /* Q tile (rows past the end are zero) */
    for (int e = threadIdx.x; e < kTQ * D; e += nthreads) {
        const int r = e / D, c = e % D;
        Qs[e] = q0 + r < L ? base[(size_t)(q0 + r) * ld + c] : zero;
    }
    float *Sw = Sall + warp * 16 * kTK, *Ow = Oall + warp * 16 * D;
    T *Pw = Pall + warp * 16 * kTK;
    float *Mw = Mall + warp * 16, *Lw = Lall + warp * 16, *Cw = Call + warp * 16;
    for (int e = lane; e < 16 * D; e += 32)
        Ow[e] = 0.0f;
    if (lane < 16) {
        Mw[lane] = -INFINITY;
        Lw[lane] = 0.0f;
    }

    for (int k0 = 0; k0 < L; k0 += kTK) {
        const int nk = min(kTK, L - k0);
        __syncthreads(); /* previous K/V tile no longer read; Q written */
        for (int e = threadIdx.x; e < kTK * D; e += nthreads) {
            const int r = e / D, c = e % D;
            const bool in = r < nk;
            const size_t off = (size_t)(k0 + r) * ld + c;
            Ks[e] = in ? base[off + H] : zero;
            Vs[e] = in ? base[off + 2 * H] : zero;
        }
        __syncthreads();
        /* S = Q_w · Kᵀ : 16 × 64 */
#pragma unroll
        for (int n = 0; n < kTK / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(a, Qs + (warp * 16) * D + kk * 16, D);
                wmma::load_matrix_sync(b, Ks + (n * 16) * D + kk * 16, D);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Sw + n * 16, acc, kTK, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax, one row at a time across the warp (lane owns columns lane and
         * lane + 32: consecutive addresses, no bank conflicts) */
        for (int r = 0; r < 16; r++) {
            const float *row = Sw + r * kTK;
            const int c0 = lane, c1 = lane + 32;
            const float v0 = c0 < nk ? row[c0] * scale_log2 : -INFINITY;
            const float v1 = c1 < nk ? row[c1] * scale_log2 : -INFINITY;
            const float m_old = Mw[r], m_new = fmaxf(m_old, warp_max(fmaxf(v0, v1)));
            const T p0 = from_f<T>(exp2f(v0 - m_new)), p1 = from_f<T>(exp2f(v1 - m_new));
            Pw[r * kTK + c0] = p0;
            Pw[r * kTK + c1] = p1;
            const float sum = warp_sum(to_f(p0) + to_f(p1)); /* the normaliser sums what PV multiplies */
            if (lane == 0) {
                const float corr = exp2f(m_old - m_new); /* 0 on the first tile (m_old = -inf) */
                Cw[r] = corr;
                Lw[r] = Lw[r] * corr + sum;
                Mw[r] = m_new;
            }
        }
        __syncwarp();
        for (int e = lane; e < 16 * D; e += 32)
            Ow[e] *= Cw[e / D];
        __syncwarp();
        /* O_w += P · V : 16 × D */
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + n * 16, D, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < kTK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, Pw + kk * 16, kTK);
                wmma::load_matrix_sync(b, Vs + (kk * 16) * D + n * 16, D);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Ow + n * 16, acc, D, wmma::mem_row_major);
        }
        __syncwarp();
    }
    /* write the warp's rows that exist */
    for (int e = lane; e < 16 * D; e += 32) {
        const int r = e / D, c = e % D, qi = q0 + warp * 16 + r;
        if (qi < L)
            out[(size_t)(start + qi) * H + (size_t)h * D + c] = from_f<T>(Ow[e] / Lw[r]);
    }
#endif
}

template <typename T, int D>
cudaError_t launch_tc(const void *qkv, const int32_t *cu, int S, int max_seqlen, int H, int heads, void *out,
                      cudaStream_t stream) {
    const size_t smem = Smem<D>::total;
    static bool configured = false; /* one attribute call per instantiation */
    if (!configured) {
        cudaError_t e = cudaFuncSetAttribute(attention_tc_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)smem);
        if (e != cudaSuccess)
            return e;
        configured = true;
    }
    const int q_tiles = (max_seqlen + kTQ - 1) / kTQ;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    dim3 grid((unsigned)(S * q_tiles), (unsigned)heads);
    attention_tc_kernel<T, D><<<grid, 32 * kWarps, smem, stream>>>((const T *)qkv, cu, q_tiles, H, scale_log2,
                                                                   (T *)out);
    return cudaGetLastError();
}

} // namespace

int rrk_attention_tc_supports(int dtype, int head_dim) {
    return (dtype == 1 || dtype == 2) && (head_dim == 32 || head_dim == 64);
}

cudaError_t rrk_attention_tc(int dtype, const void *qkv, const int32_t *cu_seqlens, int S, int max_seqlen, int H,
                             int heads, void *out, cudaStream_t stream) {
    if (S <= 0)
        return cudaSuccess;
    const int d = heads > 0 ? H / heads : 0;
    if (!rrk_attention_tc_supports(dtype, d) || H % heads)
        return cudaErrorInvalidValue;
    if (dtype == 1)
        return d == 32 ? launch_tc<__nv_bfloat16, 32>(qkv, cu_seqlens, S, max_seqlen, H, heads, out, stream)
                       : launch_tc<__nv_bfloat16, 64>(qkv, cu_seqlens, S, max_seqlen, H, heads, out, stream);
    return d == 32 ? launch_tc<__half, 32>(qkv, cu_seqlens, S, max_seqlen, H, heads, out, stream)
                   : launch_tc<__half, 64>(qkv, cu_seqlens, S, max_seqlen, H, heads, out, stream);
}
