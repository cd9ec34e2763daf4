/* kernels/rope.cu — rotary position embedding (ModernBERT), in place on the Q and K thirds of
 * qkv[T, 3H], in the rotate-half form of transformers' apply_rotary_pos_emb: for each head and
 * i < d/2, (a, b) = (v[i], v[i + d/2]) -> (a·cos − b·sin, b·cos + a·sin) with the token's position
 * p in its sequence (the pass's position ids). The cos/sin tables are the model's fp32
 * [max_length, d/2] (made at load as transformers makes them, model/bert.c); arithmetic in fp32,
 * one rounding to the storage type, where PyTorch's bf16 multiplies in bf16 (tables cast to it).
 * Versions tried: v1 (this) one thread per rotated pair, grid-stride over T · H pairs (2 parts ×
 * heads × d/2 per token): adjacent threads take adjacent i, so a warp reads and writes runs of
 * d/2 values of two rows. Memory-bound (Q and K read and written once). Written without a GPU;
 * checked on kemu against the CPU (test_cuda_ops), not yet timed.
 */
#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

template <typename T>
__global__ void rope_kernel(T *__restrict__ qkv, const int32_t *__restrict__ pos, size_t total, int H, int d,
                            const float *__restrict__ cos, const float *__restrict__ sin) {
    const int half = d / 2, pairs_per_part = H / 2;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const size_t t = e / (size_t)H;
        const int k = (int)(e % (size_t)H), part = k / pairs_per_part, r = k % pairs_per_part;
        const int h = r / half, i = r % half;
        T *v = qkv + t * 3 * (size_t)H + (size_t)part * H + (size_t)h * d + i;
        const float *cr = cos + (size_t)pos[t] * half, *sr = sin + (size_t)pos[t] * half;
        const float a = to_f(v[0]), b = to_f(v[half]);
        v[0] = from_f<T>(a * cr[i] - b * sr[i]);
        v[half] = from_f<T>(b * cr[i] + a * sr[i]);
    }
}

struct Rope {
    void *qkv;
    const int32_t *pos;
    int T, H, heads;
    const float *cos, *sin;
    cudaStream_t stream;
    template <typename E> cudaError_t run() const {
        const size_t total = (size_t)T * H; /* one thread per pair: 2 parts × H / 2 pairs per token */
        rope_kernel<E><<<grid_for(total), 256, 0, stream>>>((E *)qkv, pos, total, H, H / heads, cos, sin);
        return cudaGetLastError();
    }
};

} // namespace

cudaError_t rrk_rope(int dtype, void *qkv, const int32_t *pos, int T, int H, int heads, const float *cos,
                     const float *sin, cudaStream_t stream) {
    if (T <= 0)
        return cudaSuccess;
    if (heads <= 0 || H % heads || (H / heads) % 2)
        return cudaErrorInvalidValue;
    return dispatch_dtype(dtype, Rope{qkv, pos, T, H, heads, cos, sin, stream});
}
