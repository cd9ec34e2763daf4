/* kernels/layernorm.cu — embeddings + LayerNorm, and residual add + LayerNorm.
 *
 * One warp per token row (H <= 1024 held in registers, VPL values per lane), fp32 statistics
 * in two passes as the CPU backend, storage in the activation type.
 * Versions tried: v1 (RR_CUDA_LN=v1) warp per row, 8 rows per 256-thread block, each lane loading one
 * element at a time (column k*32 + lane: a warp's load is 64 bytes in bf16/fp16). Memory-bound:
 * one read of x and r and one write of x per row; the embedding gather reads three fp32 rows.
 * On an H100 (bf16, 65,536 × 384) add+LN took 0.063 ms: 2.4 TB/s.
 *   v2 add+LN (the default where it applies: H % 128 == 0 and 16-byte aligned x and r; v1 else):
 *   each lane loads runs of 4 adjacent columns (8 bytes in bf16/fp16, 16 in fp32), so a warp's
 *   load is 256 or 512 bytes and there are 4× fewer load instructions. Same arithmetic; the
 *   statistics are summed in another order. Its first version read and wrote the 16-bit
 *   values through a uint2 by type punning, which C++ leaves undefined: the CPU emulator's
 *   build (tests/kemu, g++ -O2) returned garbage for bf16/fp16; now pack2/unpack2. On an
 *   H100 (bf16, 65,472 × 384): 0.056 ms against v1's 0.063 (2.7 against 2.4 TB/s); fp32 the
 *   same 0.105 ms. test_cuda_ops checks both kernels, on kemu in CI too.
 * Pre-LN layers (ModernBERT, rrk_add_norm): the same two kernels write x + r back into x (the
 *   residual stream, rounded to the storage type) and LayerNorm of that rounded sum into another
 *   buffer y, as PyTorch's bf16 residual add does; r NULL adds nothing (the first layer's
 *   norm, the head's LayerNorm). BERT's post-LN add+LN is the case y = x: the sum is not stored,
 *   and the LayerNorm reads it unrounded, as before (the same bits). x and y may be one buffer,
 *   so neither is __restrict__: a warp reads its whole row before it writes. Not timed on a GPU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

constexpr int kRowsPerBlock = 8;

template <typename T, int VPL>
__global__ void embed_ln_kernel(const int32_t *__restrict__ ids, const int32_t *__restrict__ type_ids,
                                const int32_t *__restrict__ pos_ids, int T_, int H,
                                const float *__restrict__ word, const float *__restrict__ pos,
                                const float *__restrict__ type, const float *__restrict__ gamma,
                                const float *__restrict__ beta, float eps, T *__restrict__ x) {
    const int row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= T_)
        return;
    const float *w = word + (size_t)ids[row] * H, *p = pos + (ptrdiff_t)pos_ids[row] * H, /* −1: the pad row */
                *ty = type + (size_t)type_ids[row] * H;
    float v[VPL];
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        v[k] = i < H ? w[i] + p[i] + ty[i] : 0.0f;
    }
    warp_layernorm<VPL>(v, H, gamma, beta, eps);
    T *y = x + (size_t)row * H;
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        if (i < H)
            y[i] = from_f<T>(v[k]);
    }
}

/* x + r (r NULL: x) into v; when y is another buffer and r is given, that sum rounded to T is
 * written back to x and is what the LayerNorm reads */
template <typename T, int VPL>
__global__ void add_ln_kernel(T *x, const T *__restrict__ r, T *y, int T_, int H, const float *__restrict__ gamma,
                              const float *__restrict__ beta, float eps) {
    const int row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= T_)
        return;
    T *xr = x + (size_t)row * H, *yr = y + (size_t)row * H;
    const T *z = r ? r + (size_t)row * H : nullptr;
    const bool keep = z && y != x;
    float v[VPL];
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        v[k] = i < H ? to_f(xr[i]) + (z ? to_f(z[i]) : 0.0f) : 0.0f;
        if (keep && i < H) {
            const T t = from_f<T>(v[k]);
            xr[i] = t;
            v[k] = to_f(t); /* the stored, rounded sum */
        }
    }
    warp_layernorm<VPL>(v, H, gamma, beta, eps);
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        if (i < H)
            yr[i] = from_f<T>(v[k]);
    }
}

/* 4 adjacent elements ↔ fp32, in one 8-byte (2-byte types) or 16-byte (fp32) access */
template <typename T> __device__ __forceinline__ void load4(const T *p, float (&o)[4]) {
    if constexpr (sizeof(T) == 4) {
        const float4 u = *reinterpret_cast<const float4 *>(p);
        o[0] = u.x, o[1] = u.y, o[2] = u.z, o[3] = u.w;
    } else {
        const uint2 u = *reinterpret_cast<const uint2 *>(p);
        const float2 a = unpack2<T>(u.x), b = unpack2<T>(u.y);
        o[0] = a.x, o[1] = a.y, o[2] = b.x, o[3] = b.y;
    }
}
template <typename T> __device__ __forceinline__ void store4(T *p, const float *v) {
    if constexpr (sizeof(T) == 4)
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    else
        *reinterpret_cast<uint2 *>(p) = make_uint2(pack2<T>(v[0], v[1]), pack2<T>(v[2], v[3]));
}

/* v2: lane owns runs of 4 columns, (g*32 + lane)*4 .. +3 (ln_col<4>); H % 128 == 0; x, r, y
 * as add_ln_kernel's */
template <typename T, int VPL>
__global__ void add_ln_vec_kernel(T *x, const T *__restrict__ r, T *y, int T_, int H,
                                  const float *__restrict__ gamma, const float *__restrict__ beta, float eps) {
    static_assert(VPL % 4 == 0, "runs of 4 columns");
    const int row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= T_)
        return;
    T *xr = x + (size_t)row * H, *yr = y + (size_t)row * H;
    const T *z = r ? r + (size_t)row * H : nullptr;
    const bool keep = z && y != x;
    float v[VPL];
#pragma unroll
    for (int g = 0; g < VPL / 4; g++) {
        const int c = (g * 32 + lane) * 4;
        float a[4] = {0.0f, 0.0f, 0.0f, 0.0f}, b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (c < H) {
            load4(xr + c, a);
            if (z)
                load4(z + c, b);
        }
#pragma unroll
        for (int e = 0; e < 4; e++)
            v[4 * g + e] = keep ? round_to<T>(a[e] + b[e]) : a[e] + b[e]; /* kept: the rounded sum */
        if (keep && c < H)
            store4(xr + c, &v[4 * g]);
    }
    warp_layernorm<VPL, 4>(v, H, gamma, beta, eps);
#pragma unroll
    for (int g = 0; g < VPL / 4; g++) {
        const int c = (g * 32 + lane) * 4;
        if (c < H)
            store4(yr + c, &v[4 * g]);
    }
}

struct EmbedArgs {
    const int32_t *ids, *type_ids, *pos_ids;
    int T, H;
    const float *word, *pos, *type, *gamma, *beta;
    float eps;
    void *x;
    cudaStream_t stream;
    template <typename T> struct WithType {
        const EmbedArgs &a;
        template <int VPL> cudaError_t run() const {
            const int blocks = (a.T + kRowsPerBlock - 1) / kRowsPerBlock;
            embed_ln_kernel<T, VPL><<<blocks, 32 * kRowsPerBlock, 0, a.stream>>>(
                a.ids, a.type_ids, a.pos_ids, a.T, a.H, a.word, a.pos, a.type, a.gamma, a.beta,
                a.eps, (T *)a.x);
            return cudaGetLastError();
        }
    };
    template <typename T> cudaError_t run() const { return dispatch_vpl(H, WithType<T>{*this}); }
};

struct AddArgs {
    void *x;
    const void *r;
    void *y;
    int T, H;
    const float *gamma, *beta;
    float eps;
    cudaStream_t stream;
    int vec; /* v2 */
    template <typename T> struct WithType {
        const AddArgs &a;
        template <int VPL> cudaError_t run() const {
            const int blocks = (a.T + kRowsPerBlock - 1) / kRowsPerBlock;
            if (a.vec)
                add_ln_vec_kernel<T, VPL><<<blocks, 32 * kRowsPerBlock, 0, a.stream>>>(
                    (T *)a.x, (const T *)a.r, (T *)a.y, a.T, a.H, a.gamma, a.beta, a.eps);
            else
                add_ln_kernel<T, VPL><<<blocks, 32 * kRowsPerBlock, 0, a.stream>>>(
                    (T *)a.x, (const T *)a.r, (T *)a.y, a.T, a.H, a.gamma, a.beta, a.eps);
            return cudaGetLastError();
        }
    };
    template <typename T> cudaError_t run() const { return dispatch_vpl(H, WithType<T>{*this}); }
};

} // namespace

cudaError_t rrk_embed_layernorm(int dtype, const int32_t *ids, const int32_t *type_ids,
                                const int32_t *pos_ids, int T, int H, const float *word,
                                const float *pos, const float *type, const float *gamma,
                                const float *beta, float eps, void *x, cudaStream_t stream) {
    if (T <= 0)
        return cudaSuccess;
    EmbedArgs a{ids, type_ids, pos_ids, T, H, word, pos, type, gamma, beta, eps, x, stream};
    return dispatch_dtype(dtype, a);
}

cudaError_t rrk_add_norm(int dtype, void *x, const void *r, void *y, int T, int H, const float *gamma,
                         const float *beta, float eps, cudaStream_t stream) {
    if (T <= 0)
        return cudaSuccess;
    const char *env = getenv("RR_CUDA_LN"); /* per call: tests compare both kernels (v1: the old one) */
    const int vec = !(env && !strcmp(env, "v1")) && H % 128 == 0 &&
                    (((uintptr_t)x | (uintptr_t)r | (uintptr_t)y) & 15) == 0;
    AddArgs a{x, r, y, T, H, gamma, beta, eps, stream, vec};
    return dispatch_dtype(dtype, a);
}
