/* kernels/pool.cu — CLS / mean / max / mean-sqrt-len pooling per sequence, optional L2
 * normalisation, fp32 out (as the CPU backend: sum in fp32 over tokens in order, divide).
 * Versions tried: v1 (this) one block per sequence, threads across H (coalesced rows).
 */
#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

template <typename T>
__global__ void pool_kernel(const T *__restrict__ x, const int32_t *__restrict__ cu, int H, int mode,
                            int normalize, float *__restrict__ out) {
    __shared__ float red[32];
    const int s = blockIdx.x, start = cu[s], L = cu[s + 1] - start;
    const T *first = x + (size_t)start * H;
    float *o = out + (size_t)s * H;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
        float v = to_f(first[i]);
        if (mode == 2 || mode == 4) {
            for (int t = 1; t < L; t++)
                v += to_f(first[(size_t)t * H + i]);
            v /= mode == 2 ? (float)L : sqrtf((float)L);
        } else if (mode == 3) {
            for (int t = 1; t < L; t++)
                v = fmaxf(v, to_f(first[(size_t)t * H + i]));
        }
        o[i] = v;
        ss += v * v;
    }
    if (!normalize)
        return;
    const float n = sqrtf(block_sum(ss, red));
    const float inv = 1.0f / (n > 1e-12f ? n : 1e-12f);
    for (int i = threadIdx.x; i < H; i += blockDim.x)
        o[i] *= inv;
}

struct Pool {
    const void *x;
    const int32_t *cu;
    int S, H, mode, normalize;
    float *out;
    cudaStream_t stream;
    template <typename T> cudaError_t run() const {
        pool_kernel<T><<<S, 128, 0, stream>>>((const T *)x, cu, H, mode, normalize, out);
        return cudaGetLastError();
    }
};

} // namespace

cudaError_t rrk_pool(int dtype, const void *x, const int32_t *cu_seqlens, int S, int H, int mode,
                     int normalize, float *out, cudaStream_t stream) {
    if (S <= 0)
        return cudaSuccess;
    return dispatch_dtype(dtype, Pool{x, cu_seqlens, S, H, mode, normalize, out, stream});
}
