/* kernels/attention_mma.cu — variable-length attention with register-resident tiles
 * (bf16 / fp16, head dims 32 and 64): the default tensor-core attention.
 *
 * Same function as kernels/attention.cu (the SIMT kernel: the fp32 path and the reference) and
 * kernels/attention_tc.cu (WMMA, kept as RR_CUDA_ATTN=wmma). Per (sequence, head, 64-query
 * tile): one pass over K/V in tiles of 64 keys with an online softmax, fp32 scores, running
 * max/sum and output; P is rounded to the storage type before PV and the normaliser sums the
 * rounded P (what PV multiplies), as attention_tc.cu does.
 *
 * Layout (FlashAttention-2 style): 4 warps, warp w owns query rows 16w..16w+15. Products are
 * mma.sync m16n8k16 (fp32 accumulate). Q's A-fragments are loaded once into registers; S = QKᵀ
 * stays in the accumulator registers (lane: rows g = lane/4 and g+8, two adjacent columns per
 * 8-key block); the softmax works on those registers (row max/sum across the 4 lanes of a row
 * by two shuffles); the accumulator layout of S for 16 keys is exactly the A-fragment of P for
 * PV, so P never leaves registers. V's B-fragments come from ldmatrix.trans. K/V tiles are
 * double-buffered in shared memory with cp.async (zero-filled past the sequence end).
 * Shared memory: Q + 2 × (K, V) tiles of [64][D + 8] (rows padded by 16 bytes: the 32-bit
 * K-fragment loads and ldmatrix rows hit distinct banks), 25.6 KB at D = 32, 46 KB at D = 64.
 *
 * Versions tried: attention.cu (SIMT); attention_tc.cu v2a–v2c (WMMA through shared memory:
 * S, P and O make round trips through shared memory every tile; 40 TFLOP/s on an H200);
 * v3 (RR_CUDA_ATTN=mma; the default at d = 64) keeps S, P and O in registers: 118 TFLOP/s
 * on an H200 at d = 32, 119 on an H100.
 * v4 (the default at d = 32): two 16-row query blocks per warp (128 queries per block), so
 * every K fragment and every ldmatrix of V feeds two mma and two independent softmax chains
 * interleave; at d = 32 v3 reads as many shared-memory bytes as it does mma work. 156
 * registers (v3: 80). H100: 126 TFLOP/s bf16, 132 fp16 (v3 119, 123); the same bits.
 * BIAS (MPNet's relative position bias, fp32 [heads, 2·bias_len − 1]): each valid score gets
 * bias[h][j − i] · √d added in the raw QKᵀ units the softmax scales by scale_log2, so that the
 * scaled score is q·k/√d + bias as transformers computes it; a template flag, so that the
 * kernels without it are the code they were.
 * WIN (ModernBERT's sliding layers, |i − j| <= window; not with BIAS): a block walks only the key
 * tiles its rows' windows reach, and a score outside a row's window is −inf. A row can then meet
 * a tile with no key it attends while its running max is still −inf: the softmax subtracts 0
 * instead of that max (FlashAttention's check for −inf), so the row's weights are 0, not NaN.
 * Also a template flag. Checked on kemu against the CPU (test_cuda_ops), not yet timed.
 */
#include <math.h>
#include <stdint.h>

#include "common.cuh"
#include "mma.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

constexpr int kKeys = 64, kWarps = 4, kThreads = 32 * kWarps;

/* ROWS rows of one of Q/K/V (× D, zero past `valid` rows) into a padded tile. */
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_tile(T *dst, const T *src, size_t ld, int valid) {
    constexpr int V8 = D / 8, RS = D + 8;
#pragma unroll
    for (int e = threadIdx.x; e < ROWS * V8; e += kThreads) {
        const int r = e / V8, c = (e % V8) * 8;
        const bool ok = r < valid;
        cp_async16(dst + r * RS + c, ok ? src + (size_t)r * ld + c : src, ok ? 16 : 0);
    }
}

/* MT: 16-row query blocks per warp (1: v3; 2: v4, each K/V fragment read from shared memory
 * feeds two mma). A block covers kWarps · 16 · MT query rows. */
template <typename T, int D, int MT, bool BIAS, bool WIN>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(const T *__restrict__ qkv,
                                                                 const int32_t *__restrict__ cu, int q_tiles,
                                                                 int H, float scale_log2, const float *__restrict__ bias,
                                                                 int bias_len, int window, T *__restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* bf16 mma needs sm_80; the backend never launches this below it */
#else
    constexpr int kRows = kWarps * 16 * MT;
    constexpr int RS = D + 8, TILE = kKeys * RS, KD = D / 16, ND = D / 8;
    __shared__ __align__(128) T Qs[kRows * RS];
    __shared__ __align__(128) T Ks[2][TILE];
    __shared__ __align__(128) T Vs[2][TILE];

    const int s = blockIdx.x / q_tiles, q0 = (blockIdx.x % q_tiles) * kRows, h = blockIdx.y;
    const int start = cu[s], L = cu[s + 1] - start;
    if (q0 >= L)
        return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c2 = (lane & 3) * 2;
    const size_t ld = (size_t)3 * H;
    const T *base = qkv + (size_t)start * ld + (size_t)h * D;
    /* key tiles [t0, t1): all, or those the windows of rows q0 .. q0 + kRows − 1 reach */
    const int t0 = WIN ? max(0, q0 - window) / kKeys : 0;
    const int t1 = WIN ? (min(L, q0 + kRows + window) + kKeys - 1) / kKeys : (L + kKeys - 1) / kKeys;

    load_tile<T, D, kRows>(Qs, base + (size_t)q0 * ld, ld, L - q0);
    load_tile<T, D, kKeys>(Ks[0], base + (size_t)t0 * kKeys * ld + H, ld, L - t0 * kKeys);
    load_tile<T, D, kKeys>(Vs[0], base + (size_t)t0 * kKeys * ld + 2 * H, ld, L - t0 * kKeys);
    cp_async_commit();

    uint32_t qf[MT][KD][4];
    float o[MT][ND][4];
    float m0[MT], m1[MT], l0[MT], l1[MT]; /* rows g, g+8 of each 16-row block; l per lane */
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int n = 0; n < ND; n++)
            o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
        m0[mt] = m1[mt] = -INFINITY;
        l0[mt] = l1[mt] = 0.0f;
    }

    for (int t = t0; t < t1; t++) {
        const int k0 = t * kKeys, buf = (t - t0) & 1;
        if (t + 1 < t1) {
            const int k1 = k0 + kKeys;
            load_tile<T, D, kKeys>(Ks[buf ^ 1], base + (size_t)k1 * ld + H, ld, L - k1);
            load_tile<T, D, kKeys>(Vs[buf ^ 1], base + (size_t)k1 * ld + 2 * H, ld, L - k1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (t == t0) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const T *qw = Qs + (warp * MT + mt) * 16 * RS;
#pragma unroll
                for (int kk = 0; kk < KD; kk++) {
                    qf[mt][kk][0] = *reinterpret_cast<const uint32_t *>(qw + g * RS + kk * 16 + c2);
                    qf[mt][kk][1] = *reinterpret_cast<const uint32_t *>(qw + (g + 8) * RS + kk * 16 + c2);
                    qf[mt][kk][2] = *reinterpret_cast<const uint32_t *>(qw + g * RS + kk * 16 + 8 + c2);
                    qf[mt][kk][3] = *reinterpret_cast<const uint32_t *>(qw + (g + 8) * RS + kk * 16 + 8 + c2);
                }
            }
        }
        const T *Kt = Ks[buf], *Vt = Vs[buf];

        /* S = Q Kᵀ: 8 blocks of 8 keys; lane holds S[g][8j + c2 + {0,1}] and S[g+8][...] of
         * each of its 16-row blocks; a K fragment is read once for all of them */
        float sc[MT][8][4];
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                sc[mt][j][0] = sc[mt][j][1] = sc[mt][j][2] = sc[mt][j][3] = 0.0f;
            const T *krow = Kt + (8 * j + g) * RS + c2;
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
                const uint32_t b0 = *reinterpret_cast<const uint32_t *>(krow + kk * 16);
                const uint32_t b1 = *reinterpret_cast<const uint32_t *>(krow + kk * 16 + 8);
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    mma16816<T>(sc[mt][j], qf[mt][kk], b0, b1);
            }
        }
        if (BIAS) { /* relative position bias of the valid (row, key) scores, raw units */
            const float *bh = bias + (size_t)h * (2 * bias_len - 1) + (bias_len - 1);
            const float unscale = sqrtf((float)D);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int r0 = q0 + (warp * MT + mt) * 16 + g, r1 = r0 + 8;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    const int c = k0 + 8 * j + c2;
                    if (r0 < L && c < L)
                        sc[mt][j][0] += bh[c - r0] * unscale;
                    if (r0 < L && c + 1 < L)
                        sc[mt][j][1] += bh[c + 1 - r0] * unscale;
                    if (r1 < L && c < L)
                        sc[mt][j][2] += bh[c - r1] * unscale;
                    if (r1 < L && c + 1 < L)
                        sc[mt][j][3] += bh[c + 1 - r1] * unscale;
                }
            }
        }
        if (WIN) { /* keys outside each row's window (rows past the end as well: not written);
                    * key c is in row r's window iff 0 <= c − r + window <= 2 · window */
            const unsigned span = 2u * (unsigned)window;
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int e = k0 + c2 - (q0 + (warp * MT + mt) * 16 + g) + window; /* key k0 + c2, row g */
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    if ((unsigned)(e + 8 * j) > span)
                        sc[mt][j][0] = -INFINITY;
                    if ((unsigned)(e + 8 * j + 1) > span)
                        sc[mt][j][1] = -INFINITY;
                    if ((unsigned)(e + 8 * j - 8) > span) /* row g + 8 */
                        sc[mt][j][2] = -INFINITY;
                    if ((unsigned)(e + 8 * j - 7) > span)
                        sc[mt][j][3] = -INFINITY;
                }
            }
        }
        /* mask keys past the end (last tile only) */
        const int nk = L - k0;
        if (nk < kKeys) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    const int c = 8 * j + c2;
                    if (c >= nk)
                        sc[mt][j][0] = sc[mt][j][2] = -INFINITY;
                    if (c + 1 >= nk)
                        sc[mt][j][1] = sc[mt][j][3] = -INFINITY;
                }
        }
        /* online softmax on the registers: rows g (sc[.][.][0..1]) and g+8 (sc[.][.][2..3]) */
        uint32_t pf[MT][4][4]; /* P as A-fragments: 4 blocks of 16 keys */
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                mx0 = fmaxf(mx0, fmaxf(sc[mt][j][0], sc[mt][j][1]));
                mx1 = fmaxf(mx1, fmaxf(sc[mt][j][2], sc[mt][j][3]));
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            /* every tile has at least one real key, so without WIN the maxima are finite; with it
             * a row may have met none yet (n = −inf): subtract 0 then, so its weights are 0 */
            const float n0 = fmaxf(m0[mt], mx0 * scale_log2), n1 = fmaxf(m1[mt], mx1 * scale_log2);
            const float b0 = WIN && n0 == -INFINITY ? 0.0f : n0, b1 = WIN && n1 == -INFINITY ? 0.0f : n1;
            const float corr0 = exp2f(m0[mt] - b0), corr1 = exp2f(m1[mt] - b1); /* 0 on the first tile */
            m0[mt] = n0;
            m1[mt] = n1;
            float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const uint32_t p01 = pack2<T>(exp2f(fmaf(sc[mt][j][0], scale_log2, -b0)),
                                              exp2f(fmaf(sc[mt][j][1], scale_log2, -b0)));
                const uint32_t p23 = pack2<T>(exp2f(fmaf(sc[mt][j][2], scale_log2, -b1)),
                                              exp2f(fmaf(sc[mt][j][3], scale_log2, -b1)));
                const float2 r01 = unpack2<T>(p01), r23 = unpack2<T>(p23);
                s0 += r01.x + r01.y; /* the normaliser sums what PV multiplies */
                s1 += r23.x + r23.y;
                pf[mt][j >> 1][(j & 1) * 2 + 0] = p01;
                pf[mt][j >> 1][(j & 1) * 2 + 1] = p23;
            }
            l0[mt] = l0[mt] * corr0 + s0;
            l1[mt] = l1[mt] * corr1 + s1;
#pragma unroll
            for (int n = 0; n < ND; n++) {
                o[mt][n][0] *= corr0;
                o[mt][n][1] *= corr0;
                o[mt][n][2] *= corr1;
                o[mt][n][3] *= corr1;
            }
        }
        /* O += P V: per 16 keys, ldmatrix.trans gives the B-fragments of two 8-dim blocks,
         * used by every 16-row block of the warp */
        const int vr = (lane & 7) + ((lane >> 3) & 1) * 8, vc = (lane >> 4) * 8;
#pragma unroll
        for (int kt = 0; kt < 4; kt++) {
#pragma unroll
            for (int n2 = 0; n2 < D / 16; n2++) {
                uint32_t v0, v1, v2, v3;
                ldmatrix_x4_trans(v0, v1, v2, v3, Vt + (kt * 16 + vr) * RS + n2 * 16 + vc);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816<T>(o[mt][2 * n2], pf[mt][kt], v0, v1);
                    mma16816<T>(o[mt][2 * n2 + 1], pf[mt][kt], v2, v3);
                }
            }
        }
        __syncthreads(); /* this buffer is refilled two tiles on */
    }
    /* normalise (row sums across the row's 4 lanes) and write the rows that exist */
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        float a0 = l0[mt], a1 = l1[mt];
        a0 += __shfl_xor_sync(0xffffffffu, a0, 1);
        a0 += __shfl_xor_sync(0xffffffffu, a0, 2);
        a1 += __shfl_xor_sync(0xffffffffu, a1, 1);
        a1 += __shfl_xor_sync(0xffffffffu, a1, 2);
        const float i0 = 1.0f / a0, i1 = 1.0f / a1;
        const int r0 = q0 + (warp * MT + mt) * 16 + g, r1 = r0 + 8;
        T *orow0 = out + (size_t)(start + r0) * H + (size_t)h * D + c2;
        T *orow1 = out + (size_t)(start + r1) * H + (size_t)h * D + c2;
#pragma unroll
        for (int n = 0; n < ND; n++) {
            if (r0 < L)
                *reinterpret_cast<uint32_t *>(orow0 + 8 * n) = pack2<T>(o[mt][n][0] * i0, o[mt][n][1] * i0);
            if (r1 < L)
                *reinterpret_cast<uint32_t *>(orow1 + 8 * n) = pack2<T>(o[mt][n][2] * i1, o[mt][n][3] * i1);
        }
    }
#endif
}

template <typename T, int D, int MT, bool BIAS, bool WIN>
cudaError_t launch_mma(const AttnArgs &a) {
    constexpr int kRows = kWarps * 16 * MT;
    const int q_tiles = (a.max_seqlen + kRows - 1) / kRows;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    dim3 grid((unsigned)(a.S * q_tiles), (unsigned)a.heads);
    attention_mma_kernel<T, D, MT, BIAS, WIN><<<grid, kThreads, 0, a.stream>>>(
        (const T *)a.qkv, a.cu, q_tiles, a.H, scale_log2, a.bias, a.bias_len, a.window, (T *)a.out);
    return cudaGetLastError();
}

/* With a bias or a window, d 32 always takes v4 (two query blocks per warp): v3 with the bias
 * spilled 12-24 bytes on sm_80/sm_90 (nvcc 13.0), with the window 8 bytes in fp16 on sm_90, which
 * the build refuses. */
template <typename T>
cudaError_t launch_mma_d(int d, int rows_x2, const AttnArgs &a) {
    if (a.bias)
        return d == 64 ? launch_mma<T, 64, 1, true, false>(a) : launch_mma<T, 32, 2, true, false>(a);
    if (a.window > 0)
        return d == 64 ? launch_mma<T, 64, 1, false, true>(a) : launch_mma<T, 32, 2, false, true>(a);
    if (d == 64)
        return launch_mma<T, 64, 1, false, false>(a);
    return rows_x2 ? launch_mma<T, 32, 2, false, false>(a) : launch_mma<T, 32, 1, false, false>(a);
}

} // namespace

int rrk_attention_mma_supports(int dtype, int head_dim) {
    return (dtype == 1 || dtype == 2) && (head_dim == 32 || head_dim == 64);
}

cudaError_t rrk_attention_mma(int dtype, int rows_x2, const void *qkv, const int32_t *cu_seqlens, int S,
                              int max_seqlen, int H, int heads, const float *bias, int bias_len, int window,
                              void *out, cudaStream_t stream) {
    if (S <= 0)
        return cudaSuccess;
    const int d = heads > 0 ? H / heads : 0;
    if (!rrk_attention_mma_supports(dtype, d) || H % heads || H % 8 || (bias && bias_len < max_seqlen) ||
        (bias && window > 0))
        return cudaErrorInvalidValue;
    const AttnArgs a = {qkv, cu_seqlens, S, max_seqlen, H, heads, bias, bias_len, window, out, stream};
    if (dtype == 1)
        return launch_mma_d<__nv_bfloat16>(d, rows_x2, a);
    return launch_mma_d<__half>(d, rows_x2, a);
}
