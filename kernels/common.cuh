/* kernels/common.cuh — what every kernel shares: the storage types (fp32, bf16, fp16) with
 * their conversions to and from fp32, warp reductions, and the launch-error check.
 * Arithmetic is always fp32; only storage narrows. */
#ifndef RR_KERNELS_COMMON_CUH
#define RR_KERNELS_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

namespace rrk {

/* Blocks of 256 threads for a grid-stride loop over n items: one per 256, at least 1, at most
 * 65,536 (the loop covers the rest). */
static inline int grid_for(size_t n) {
    const size_t blocks = (n + 255) / 256;
    return (int)(blocks < 65536 ? (blocks ? blocks : 1) : 65536);
}

/* The launch arguments of the attention kernels (attention.cu, attention_mma.cu): a pass's
 * packed qkv [T, 3H] and cu_seqlens [S + 1], the relative position bias (NULL, or
 * [heads, 2·bias_len − 1] fp32), the sliding window (0: none), the output [T, H]. */
struct AttnArgs {
    const void *qkv;
    const int32_t *cu;
    int S, max_seqlen, H, heads;
    const float *bias;
    int bias_len;
    int window; /* > 0: query i attends key j only when |i − j| <= window (ModernBERT's sliding layers) */
    void *out;
    cudaStream_t stream;
};

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/* Two fp32 values → one 32-bit word of two 16-bit values (lo in the low half), and back: how
 * every kernel moves 16-bit values through wider loads and stores. Never by reading a word
 * through a pointer to another type (C++ leaves that undefined; the host compiler of
 * tests/kemu miscompiled add+LN v2's first version, which did). */
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return (uint32_t)__bfloat16_as_ushort(v.x) | ((uint32_t)__bfloat16_as_ushort(v.y) << 16);
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return (uint32_t)__half_as_ushort(v.x) | ((uint32_t)__half_as_ushort(v.y) << 16);
}
template <typename T> __device__ __forceinline__ float2 unpack2(uint32_t r);
template <> __device__ __forceinline__ float2 unpack2<__nv_bfloat16>(uint32_t r) {
    return make_float2(__uint_as_float(r << 16), __uint_as_float(r & 0xffff0000u)); /* exact */
}
template <> __device__ __forceinline__ float2 unpack2<__half>(uint32_t r) {
    return make_float2(__half2float(__ushort_as_half((unsigned short)(r & 0xffffu))),
                       __half2float(__ushort_as_half((unsigned short)(r >> 16))));
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets
 * the result. red is __shared__ float[32]. */
__device__ __forceinline__ float block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* red may still be read by a previous call */
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0f;
    return warp_sum(v);
}

/* Exact GELU, as the CPU backend and PyTorch's default: 0.5 x (1 + erf(x / sqrt 2)). */
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* v rounded to the storage type T, back in fp32 */
template <typename T> __device__ __forceinline__ float round_to(float v) { return to_f(from_f<T>(v)); }

} // namespace rrk

#endif

#ifndef RR_KERNELS_LN_DEFINED
#define RR_KERNELS_LN_DEFINED
namespace rrk {
/* The column of a row that lane `lane` holds as v[k] when each lane takes runs of VEC adjacent
 * columns: run k / VEC of the lane is columns ((k / VEC) * 32 + lane) * VEC onwards. VEC 1:
 * column k*32 + lane. */
template <int VEC> __device__ __forceinline__ int ln_col(int k, int lane) {
    return ((k / VEC) * 32 + lane) * VEC + k % VEC;
}

/* LayerNorm of one row held by one warp: lane owns v[k] = row[ln_col<VEC>(k, lane)] (k < VPL;
 * columns >= H are 0 and ignored). Two-pass fp32 statistics, as the CPU backend and PyTorch. */
template <int VPL, int VEC = 1>
__device__ __forceinline__ void warp_layernorm(float (&v)[VPL], int H, const float *gamma,
                                               const float *beta, float eps) {
    const int lane = threadIdx.x & 31;
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < VPL; k++)
        s += v[k];
    const float mean = warp_sum(s) / (float)H;
    float q = 0.0f;
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = ln_col<VEC>(k, lane);
        const float dlt = i < H ? v[k] - mean : 0.0f;
        q += dlt * dlt;
    }
    const float rstd = 1.0f / sqrtf(warp_sum(q) / (float)H + eps);
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = ln_col<VEC>(k, lane);
        if (i < H)
            v[k] = (v[k] - mean) * rstd * gamma[i] + beta[i];
    }
}

/* Calls f.template operator()<VPL>() with the smallest VPL in {4, 8, 12, 16, 24, 32} that
 * covers H (H <= 1024). */
template <typename F> inline cudaError_t dispatch_vpl(int H, F f) {
    if (H <= 128) return f.template run<4>();
    if (H <= 256) return f.template run<8>();
    if (H <= 384) return f.template run<12>();
    if (H <= 512) return f.template run<16>();
    if (H <= 768) return f.template run<24>();
    if (H <= 1024) return f.template run<32>();
    return cudaErrorInvalidValue;
}

template <typename F> inline cudaError_t dispatch_dtype(int dtype, F f) {
    switch (dtype) {
    case 0: return f.template run<float>();
    case 1: return f.template run<__nv_bfloat16>();
    case 2: return f.template run<__half>();
    }
    return cudaErrorInvalidValue;
}
} // namespace rrk
#endif
