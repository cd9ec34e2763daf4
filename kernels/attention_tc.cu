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
 * fp32, P [16][64] storage type, O [16][D] fp32, and m, l per row (rows padded, Smem).
 *
 * Versions tried: v1 = attention.cu (SIMT, fp32 math on 64 rows per block).
 *   v2a: softmax with two lanes per row, 32 columns each: every shared-memory access of a
 *        warp fell in one bank (rows 64 floats apart): 32-way conflicts; on an H200 a bf16
 *        pass was no faster than fp32 (4,129 vs 4,073 pairs/s end to end).
 *   v2b: one row at a time across the whole warp, shuffles for max and sum: 8,754 bf16
 *        pairs/s end to end on an H200 (3.3x PyTorch); attention alone 15 TFLOP/s, 2.5 of the
 *        3.3 ms of a layer on a 65k-token pass (bench/cuda_ops.c).
 *   v2c (this): padded rows in shared memory (fewer bank conflicts in the WMMA loads and the
 *        softmax), two lanes per row with interleaved columns (32 independent exp2 per lane,
 *        two shuffles per tile instead of ten per row), 16-byte tile loads. Needs H % 8 == 0.
 */
#include <math.h>
#include <mma.h>

#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;
using namespace nvcuda;

namespace {

constexpr int kTQ = 64, kTK = 64, kWarps = 4;

/* Row strides (elements), padded so that rows fall in different shared-memory banks; WMMA
 * needs 16-bit strides in multiples of 8 and fp32 ones in multiples of 4. */
template <int D> struct Smem {
    static constexpr int QS = D + 8, SS = kTK + 4, PS = kTK + 8, OS = D + 4;
    static constexpr size_t q = (size_t)kTQ * QS * 2, k = (size_t)kTK * QS * 2, v = k;
    static constexpr size_t s = (size_t)kWarps * 16 * SS * 4, p = (size_t)kWarps * 16 * PS * 2;
    static constexpr size_t o = (size_t)kWarps * 16 * OS * 4, ml = (size_t)kWarps * 16 * 4 * 3;
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

    constexpr int QS = Smem<D>::QS, SS = Smem<D>::SS, PS = Smem<D>::PS, OS = Smem<D>::OS, V8 = D / 8;
    /* Q tile, 16-byte loads (rows past the end are zero) */
    for (int e = threadIdx.x; e < kTQ * V8; e += nthreads) {
        const int r = e / V8, c = (e % V8) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (q0 + r < L)
            v = *reinterpret_cast<const uint4 *>(base + (size_t)(q0 + r) * ld + c);
        *reinterpret_cast<uint4 *>(Qs + r * QS + c) = v;
    }
    float *Sw = Sall + warp * 16 * SS, *Ow = Oall + warp * 16 * OS;
    T *Pw = Pall + warp * 16 * PS;
    float *Mw = Mall + warp * 16, *Lw = Lall + warp * 16, *Cw = Call + warp * 16;
    for (int e = lane; e < 16 * D; e += 32)
        Ow[(e / D) * OS + e % D] = 0.0f;
    if (lane < 16) {
        Mw[lane] = -INFINITY;
        Lw[lane] = 0.0f;
    }

    for (int k0 = 0; k0 < L; k0 += kTK) {
        const int nk = min(kTK, L - k0);
        __syncthreads(); /* previous K/V tile no longer read; Q written */
        for (int e = threadIdx.x; e < kTK * V8; e += nthreads) {
            const int r = e / V8, c = (e % V8) * 8;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (r < nk) {
                const T *src = base + (size_t)(k0 + r) * ld + c;
                kv = *reinterpret_cast<const uint4 *>(src + H);
                vv = *reinterpret_cast<const uint4 *>(src + 2 * H);
            }
            *reinterpret_cast<uint4 *>(Ks + r * QS + c) = kv;
            *reinterpret_cast<uint4 *>(Vs + r * QS + c) = vv;
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
                wmma::load_matrix_sync(a, Qs + (warp * 16) * QS + kk * 16, QS);
                wmma::load_matrix_sync(b, Ks + (n * 16) * QS + kk * 16, QS);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Sw + n * 16, acc, SS, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax: lanes r and r + 16 share row r, columns interleaved (2j + half) */
        {
            const int r = lane & 15, hf = lane >> 4;
            const float *row = Sw + r * SS;
            float v[kTK / 2];
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < kTK / 2; j++) {
                const int c = 2 * j + hf;
                v[j] = c < nk ? row[c] * scale_log2 : -INFINITY;
                mx = fmaxf(mx, v[j]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
            const float m_old = Mw[r], m_new = fmaxf(m_old, mx);
            float sum = 0.0f;
            T *prow = Pw + r * PS;
#pragma unroll
            for (int j = 0; j < kTK / 2; j++) {
                const T p = from_f<T>(exp2f(v[j] - m_new));
                prow[2 * j + hf] = p;
                sum += to_f(p); /* the normaliser sums what PV multiplies */
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 16);
            __syncwarp(); /* every lane has read Mw[r] */
            if (!hf) {
                const float corr = exp2f(m_old - m_new); /* 0 on the first tile (m_old = -inf) */
                Cw[r] = corr;
                Lw[r] = Lw[r] * corr + sum;
                Mw[r] = m_new;
            }
        }
        __syncwarp();
        for (int e = lane; e < 16 * D; e += 32)
            Ow[(e / D) * OS + e % D] *= Cw[e / D];
        __syncwarp();
        /* O_w += P · V : 16 × D */
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + n * 16, OS, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < kTK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, Pw + kk * 16, PS);
                wmma::load_matrix_sync(b, Vs + (kk * 16) * QS + n * 16, QS);
                wmma::mma_sync(acc, a, b, acc);
            }
            __syncwarp(); /* all lanes loaded this block of O before any lane stores it */
            wmma::store_matrix_sync(Ow + n * 16, acc, OS, wmma::mem_row_major);
        }
        __syncwarp();
    }
    /* write the warp's rows that exist */
    for (int e = lane; e < 16 * D; e += 32) {
        const int r = e / D, c = e % D, qi = q0 + warp * 16 + r;
        if (qi < L)
            out[(size_t)(start + qi) * H + (size_t)h * D + c] = from_f<T>(Ow[r * OS + c] / Lw[r]);
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
