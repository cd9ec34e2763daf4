/* kernels/linear_gelu.cu — y[M,N] = GELU(x[M,K] · W[N,K]ᵀ + b[N]) in one kernel (bf16 / fp16
 * storage, fp32 accumulation, the exact erf GELU): the FFN's up product with its activation
 * fused, so the [M, N] intermediate is written once instead of written by cuBLASLt, then read
 * and written again by the bias/GELU pass (elementwise.cu). cuBLASLt's own GELU epilogue is
 * the tanh approximation, a different function.
 *
 * Layout: a block computes a 128×128 tile of y with 4 warps (2 × 2), each warp 64×64 as 4×8
 * mma.sync m16n8k16 tiles (128 fp32 accumulators per thread). x and W stream through shared
 * memory in 32-wide K slices, double-buffered with cp.async (rows padded by 16 bytes: the
 * 32-bit fragment loads of 8 rows × 4 lanes hit distinct banks). The epilogue adds the fp32
 * bias, applies GELU, rounds to the storage type and stages the tile in shared memory, so
 * that y is written in 16-byte rows (coalesced) rather than 4-byte fragments.
 * Needs K % 32 == 0 and N % 8 == 0 (the caller falls back to cuBLASLt otherwise); any M.
 *
 * Versions tried: v1 (this one), RR_CUDA_GELU_GEMM=fused: on an H100 (bench/RESULTS.md) 0.456 ms
 * for 65,472 × 1536 × 384 in bf16, 169 TFLOP/s, against 0.279 ms for cuBLASLt's product plus
 * the GELU pass: slower, so not the default (end to end 24,917 against 28,763 pairs/s). It
 * keeps 2 blocks per SM (206 registers) and feeds mma.sync from plain 32-bit shared loads;
 * a faster one would need Hopper's wgmma with TMA loads (sm_90a), as cuBLASLt does.
 */
#include <stdint.h>

#include "common.cuh"
#include "mma.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

constexpr int BM = 128, BN = 128, BK = 32, RS = BK + 8; /* tile rows, padded row stride */
constexpr int kThreads = 128, WM = 64, WN = 64, MT = WM / 16, NT = WN / 8;
constexpr int CS = BN + 8; /* row stride of the staged output tile */

/* rows r0.. (BM of them, zero past `rows`) × K slice k0..k0+31 of a row-major [*, ld] matrix */
template <typename T>
__device__ __forceinline__ void load_slice(T *dst, const T *src, size_t ld, int rows, int k0) {
    /* 128 rows × 4 chunks of 8 values: 4 chunks per thread */
#pragma unroll
    for (int e = threadIdx.x; e < BM * (BK / 8); e += kThreads) {
        const int r = e >> 2, c = (e & 3) * 8;
        const bool ok = r < rows;
        cp_async16(dst + r * RS + c, ok ? src + (size_t)r * ld + k0 + c : src, ok ? 16 : 0);
    }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) linear_gelu_kernel(const T *__restrict__ x, const T *__restrict__ W,
                                                               const float *__restrict__ b, int M, int N, int K,
                                                               T *__restrict__ y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* bf16 mma needs sm_80; the backend never launches this below it */
#else
    /* two stages of x and W slices; the output tile reuses the same memory at the end */
    constexpr int kStage = 2 * BM * RS;
    constexpr int kSmem = (2 * kStage > BM * CS ? 2 * kStage : BM * CS);
    __shared__ __align__(128) T smem[kSmem];

    const int n0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c2 = (lane & 3) * 2;
    const int wm = (warp >> 1) * WM, wn = (warp & 1) * WN;
    const T *xs = x + (size_t)m0 * K, *ws = W + (size_t)n0 * K;
    const int mrows = M - m0 < BM ? M - m0 : BM, nrows = N - n0 < BN ? N - n0 : BN;
    const int ktiles = K / BK;

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
            acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

    load_slice(smem, xs, (size_t)K, mrows, 0);
    load_slice(smem + BM * RS, ws, (size_t)K, nrows, 0);
    cp_async_commit();
    for (int t = 0; t < ktiles; t++) {
        T *st = smem + (t & 1) * kStage;
        if (t + 1 < ktiles) {
            T *nx = smem + ((t + 1) & 1) * kStage;
            load_slice(nx, xs, (size_t)K, mrows, (t + 1) * BK);
            load_slice(nx + BM * RS, ws, (size_t)K, nrows, (t + 1) * BK);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const T *As = st + wm * RS, *Bs = st + BM * RS + wn * RS;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[MT][4], bf[NT][2];
#pragma unroll
            for (int i = 0; i < MT; i++) {
                const T *a = As + (16 * i + g) * RS + kk + c2;
                af[i][0] = *reinterpret_cast<const uint32_t *>(a);
                af[i][1] = *reinterpret_cast<const uint32_t *>(a + 8 * RS);
                af[i][2] = *reinterpret_cast<const uint32_t *>(a + 8);
                af[i][3] = *reinterpret_cast<const uint32_t *>(a + 8 * RS + 8);
            }
#pragma unroll
            for (int j = 0; j < NT; j++) {
                const T *bp = Bs + (8 * j + g) * RS + kk + c2;
                bf[j][0] = *reinterpret_cast<const uint32_t *>(bp);
                bf[j][1] = *reinterpret_cast<const uint32_t *>(bp + 8);
            }
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int j = 0; j < NT; j++)
                    mma16816<T>(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
        __syncthreads(); /* this stage is refilled two slices on (or becomes the output tile) */
    }

    /* epilogue: bias + GELU in fp32, rounded once, staged as a [BM][CS] tile */
    T *cs = smem;
#pragma unroll
    for (int j = 0; j < NT; j++) {
        const int col = wn + 8 * j + c2;
        const float b0 = b && n0 + col < N ? __ldg(b + n0 + col) : 0.0f;
        const float b1 = b && n0 + col + 1 < N ? __ldg(b + n0 + col + 1) : 0.0f;
#pragma unroll
        for (int i = 0; i < MT; i++) {
            const int row = wm + 16 * i + g;
            *reinterpret_cast<uint32_t *>(cs + row * CS + col) =
                pack2<T>(gelu_erf(acc[i][j][0] + b0), gelu_erf(acc[i][j][1] + b1));
            *reinterpret_cast<uint32_t *>(cs + (row + 8) * CS + col) =
                pack2<T>(gelu_erf(acc[i][j][2] + b0), gelu_erf(acc[i][j][3] + b1));
        }
    }
    __syncthreads();
    /* rows of 16-byte chunks: the tile's 128 × 16 chunks, those inside M × N */
    for (int e = threadIdx.x; e < BM * (BN / 8); e += kThreads) {
        const int r = e / (BN / 8), c = (e % (BN / 8)) * 8;
        if (r < mrows && c < nrows)
            *reinterpret_cast<uint4 *>(y + (size_t)(m0 + r) * N + n0 + c) =
                *reinterpret_cast<const uint4 *>(cs + r * CS + c);
    }
#endif
}

template <typename T>
cudaError_t launch(const void *x, const void *W, const float *b, int M, int N, int K, void *y, cudaStream_t s) {
    dim3 grid((unsigned)((N + BN - 1) / BN), (unsigned)((M + BM - 1) / BM));
    linear_gelu_kernel<T><<<grid, kThreads, 0, s>>>((const T *)x, (const T *)W, b, M, N, K, (T *)y);
    return cudaGetLastError();
}

} // namespace

int rrk_linear_gelu_supports(int dtype, int N, int K) {
    return (dtype == 1 || dtype == 2) && N > 0 && K > 0 && N % 8 == 0 && K % BK == 0;
}

cudaError_t rrk_linear_gelu(int dtype, const void *x, const void *W, const float *b, int M, int N, int K, void *y,
                            cudaStream_t stream) {
    if (M <= 0)
        return cudaSuccess;
    if (!rrk_linear_gelu_supports(dtype, N, K) || (uintptr_t)x % 16 || (uintptr_t)W % 16 || (uintptr_t)y % 16)
        return cudaErrorInvalidValue;
    return dtype == 1 ? launch<__nv_bfloat16>(x, W, b, M, N, K, y, stream)
                      : launch<__half>(x, W, b, M, N, K, y, stream);
}
