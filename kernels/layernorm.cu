/* kernels/layernorm.cu — embeddings + LayerNorm, and residual add + LayerNorm.
 *
 * One warp per token row (H <= 1024 held in registers, VPL values per lane), fp32 statistics
 * in two passes as the CPU backend, storage in the activation type.
 * Versions tried: v1 (this) warp per row, 8 rows per 256-thread block. Memory-bound: one
 * read of x and r and one write of x per row; the embedding gather reads three fp32 rows.
 */
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
    const float *w = word + (size_t)ids[row] * H, *p = pos + (size_t)pos_ids[row] * H,
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

template <typename T, int VPL>
__global__ void add_ln_kernel(T *__restrict__ x, const T *__restrict__ r, int T_, int H,
                              const float *__restrict__ gamma, const float *__restrict__ beta, float eps) {
    const int row = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= T_)
        return;
    T *y = x + (size_t)row * H;
    const T *z = r + (size_t)row * H;
    float v[VPL];
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        v[k] = i < H ? to_f(y[i]) + to_f(z[i]) : 0.0f;
    }
    warp_layernorm<VPL>(v, H, gamma, beta, eps);
#pragma unroll
    for (int k = 0; k < VPL; k++) {
        const int i = k * 32 + lane;
        if (i < H)
            y[i] = from_f<T>(v[k]);
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
    int T, H;
    const float *gamma, *beta;
    float eps;
    cudaStream_t stream;
    template <typename T> struct WithType {
        const AddArgs &a;
        template <int VPL> cudaError_t run() const {
            const int blocks = (a.T + kRowsPerBlock - 1) / kRowsPerBlock;
            add_ln_kernel<T, VPL><<<blocks, 32 * kRowsPerBlock, 0, a.stream>>>(
                (T *)a.x, (const T *)a.r, a.T, a.H, a.gamma, a.beta, a.eps);
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

cudaError_t rrk_add_layernorm(int dtype, void *x, const void *r, int T, int H, const float *gamma,
                              const float *beta, float eps, cudaStream_t stream) {
    if (T <= 0)
        return cudaSuccess;
    AddArgs a{x, r, T, H, gamma, beta, eps, stream};
    return dispatch_dtype(dtype, a);
}
