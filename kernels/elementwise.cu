/* kernels/elementwise.cu — bias + activation in place (after a matrix product whose library
 * epilogue did not apply them), storage-type conversions, and a checksum of a tensor's bits
 * (RR_CUDA_LT_TUNE: whether two cuBLASLt algorithms give the same bytes).
 * GELU is the exact erf form (PyTorch's default "gelu"); cuBLASLt's GELU epilogue is the tanh
 * approximation, so it is not used for it. Memory-bound: one read and one write of y.
 * Versions tried: v1 one thread per element, grid-stride, a 64-bit `i % N` per element and the
 *   activation chosen at run time: the GELU pass after the FFN-up product took ~0.28 ms of a
 *   65k × 1536 bf16 tensor on an H200 (~1.4 TB/s).
 *   v2 (default) one 16-byte vector per thread (8 bf16/fp16 or 4 fp32 values), the column of
 *   the vector's first value computed once in 32 bits, the activation a template parameter;
 *   v1 stays for rows whose width is not a multiple of the vector, misaligned pointers, and
 *   RR_CUDA_BIAS_ACT=scalar (benchmark comparisons). The vector's values are taken apart
 *   with pack2/unpack2 (common.cuh), not through a pointer to another type (undefined in
 *   C++, see layernorm.cu); the same instructions' worth of work, not yet timed on a GPU.
 * SiLU (act 4): ModernBERT's classifier_activation "silu", x / (1 + e^-x) as the CPU computes it.
 * GeGLU (rrk_glu, ModernBERT's feed-forward): y[t][i] = GELU(x[t][i]) · x[t][I + i], the erf GELU
 *   (ModernBERT's hidden_activation "gelu") in fp32 and one rounding to the storage type, where
 *   PyTorch's bf16 rounds GELU's output before the product. v1 (this): one 16-byte vector of each
 *   half per thread where I and the pointers allow, else one value per thread. Written without a
 *   GPU; checked on kemu against the CPU (test_cuda_ops), not yet timed.
 */
#include <stdlib.h>
#include <string.h>

#include "common.cuh"
#include "rr_kernels.h"

using namespace rrk;

namespace {

template <typename T>
__global__ void bias_act_kernel(T *__restrict__ y, const float *__restrict__ b, int M, int N, int act) {
    const size_t total = (size_t)M * N;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = to_f(y[i]);
        if (b)
            v += b[i % N];
        if (act == 1)
            v = gelu_erf(v);
        else if (act == 2)
            v = tanhf(v);
        else if (act == 3)
            v = v < 0.0f ? 0.0f : v;
        else if (act == 4)
            v = v / (1.0f + expf(-v));
        y[i] = from_f<T>(v);
    }
}

template <int ACT> __device__ __forceinline__ float activate(float v) {
    return ACT == 1   ? gelu_erf(v)
           : ACT == 2 ? tanhf(v)
           : ACT == 3 ? (v < 0.0f ? 0.0f : v)
           : ACT == 4 ? v / (1.0f + expf(-v))
                      : v;
}

/* v2: one 16-byte vector of VEC = 16 / sizeof(T) values per thread; N % VEC == 0. */
template <typename T, int ACT, bool BIAS>
__global__ void bias_act_vec_kernel(T *__restrict__ y, const float *__restrict__ b, unsigned nvec, unsigned N) {
    constexpr int VEC = 16 / sizeof(T);
    for (unsigned v = blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += gridDim.x * blockDim.x) {
        const uint4 raw = reinterpret_cast<const uint4 *>(y)[v];
        uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
        const unsigned c0 = (v * (unsigned)VEC) % N;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            if constexpr (sizeof(T) == 4) {
                float x = __uint_as_float(w[k]);
                if (BIAS)
                    x += __ldg(b + c0 + k);
                w[k] = __float_as_uint(activate<ACT>(x));
            } else {
                float2 x = unpack2<T>(w[k]);
                if (BIAS)
                    x.x += __ldg(b + c0 + 2 * k), x.y += __ldg(b + c0 + 2 * k + 1);
                w[k] = pack2<T>(activate<ACT>(x.x), activate<ACT>(x.y));
            }
        }
        reinterpret_cast<uint4 *>(y)[v] = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

template <typename T, int ACT, bool BIAS>
cudaError_t launch_bias_act_vec(T *y, const float *b, size_t total, int N, cudaStream_t stream) {
    const size_t nvec = total / (16 / sizeof(T));
    bias_act_vec_kernel<T, ACT, BIAS><<<grid_for(nvec), 256, 0, stream>>>(y, b, (unsigned)nvec, (unsigned)N);
    return cudaGetLastError();
}

/* GeGLU, one value per thread */
template <typename T>
__global__ void glu_kernel(const T *__restrict__ x, T *__restrict__ y, size_t total, int I) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const size_t t = i / (size_t)I, c = i % (size_t)I;
        const T *row = x + t * 2 * (size_t)I;
        y[i] = from_f<T>(gelu_erf(to_f(row[c])) * to_f(row[I + c]));
    }
}

/* GeGLU, one 16-byte vector (VEC = 16 / sizeof(T) values) of the input half, of the gate and of
 * y per thread; I % VEC == 0, 16-byte aligned x and y */
template <typename T>
__global__ void glu_vec_kernel(const T *__restrict__ x, T *__restrict__ y, unsigned nvec, unsigned ivec) {
    for (unsigned v = blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += gridDim.x * blockDim.x) {
        const unsigned t = v / ivec, c = v % ivec; /* row, and vector within the row's I values */
        const uint4 *row = reinterpret_cast<const uint4 *>(x) + (size_t)t * 2 * ivec;
        const uint4 ra = row[c], rg = row[ivec + c];
        const uint32_t a[4] = {ra.x, ra.y, ra.z, ra.w}, g[4] = {rg.x, rg.y, rg.z, rg.w};
        uint32_t w[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            if constexpr (sizeof(T) == 4) {
                w[k] = __float_as_uint(gelu_erf(__uint_as_float(a[k])) * __uint_as_float(g[k]));
            } else {
                const float2 av = unpack2<T>(a[k]), gv = unpack2<T>(g[k]);
                w[k] = pack2<T>(gelu_erf(av.x) * gv.x, gelu_erf(av.y) * gv.y);
            }
        }
        reinterpret_cast<uint4 *>(y)[v] = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

struct Glu {
    const void *x;
    int T, I;
    void *y;
    cudaStream_t stream;
    template <typename E> cudaError_t run() const {
        constexpr int VEC = 16 / sizeof(E);
        const size_t total = (size_t)T * I;
        if (I % VEC == 0 && (((uintptr_t)x | (uintptr_t)y) & 15) == 0 && total / VEC < (1u << 31)) {
            const size_t nvec = total / VEC;
            glu_vec_kernel<E><<<grid_for(nvec), 256, 0, stream>>>((const E *)x, (E *)y, (unsigned)nvec,
                                                                   (unsigned)(I / VEC));
        } else {
            glu_kernel<E><<<grid_for(total), 256, 0, stream>>>((const E *)x, (E *)y, total, I);
        }
        return cudaGetLastError();
    }
};

template <typename D, typename S>
__global__ void convert_kernel(D *__restrict__ dst, const S *__restrict__ src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = from_f<D>(to_f(src[i]));
}

struct BiasAct {
    void *y;
    const float *b;
    int M, N, act;
    cudaStream_t stream;
    template <typename T> cudaError_t run() const {
        constexpr int VEC = 16 / sizeof(T);
        const size_t total = (size_t)M * N;
        const char *env = getenv("RR_CUDA_BIAS_ACT"); /* per call: tests switch it between passes */
        const int scalar_only = env && !strcmp(env, "scalar");
        if (!scalar_only && N % VEC == 0 && ((uintptr_t)y & 15) == 0 && total / VEC < (1u << 31)) {
            T *yt = (T *)y;
            if (b)
                return act == 1 ? launch_bias_act_vec<T, 1, true>(yt, b, total, N, stream)
                     : act == 2 ? launch_bias_act_vec<T, 2, true>(yt, b, total, N, stream)
                     : act == 3 ? launch_bias_act_vec<T, 3, true>(yt, b, total, N, stream)
                     : act == 4 ? launch_bias_act_vec<T, 4, true>(yt, b, total, N, stream)
                                : launch_bias_act_vec<T, 0, true>(yt, b, total, N, stream);
            return act == 1 ? launch_bias_act_vec<T, 1, false>(yt, b, total, N, stream)
                 : act == 2 ? launch_bias_act_vec<T, 2, false>(yt, b, total, N, stream)
                 : act == 3 ? launch_bias_act_vec<T, 3, false>(yt, b, total, N, stream)
                            : launch_bias_act_vec<T, 4, false>(yt, b, total, N, stream);
        }
        bias_act_kernel<T><<<grid_for(total), 256, 0, stream>>>((T *)y, b, M, N, act);
        return cudaGetLastError();
    }
};

struct FromF32 {
    void *dst;
    const float *src;
    size_t n;
    cudaStream_t stream;
    template <typename T> cudaError_t run() const {
        convert_kernel<T, float><<<grid_for(n), 256, 0, stream>>>((T *)dst, src, n);
        return cudaGetLastError();
    }
};

struct ToF32 {
    float *dst;
    const void *src;
    size_t n;
    cudaStream_t stream;
    template <typename T> cudaError_t run() const {
        convert_kernel<float, T><<<grid_for(n), 256, 0, stream>>>(dst, (const T *)src, n);
        return cudaGetLastError();
    }
};

/* Per block, the sum over its elements of a 64-bit mix of (bits, index): one partial sum per
 * block, added up by the host. Any change of a value's bits changes the sum except with
 * probability ~2^-64. */
__global__ void checksum_kernel(const unsigned char *__restrict__ p, size_t n, int esize,
                                unsigned long long *__restrict__ partial) {
    __shared__ unsigned long long acc[256];
    unsigned long long a = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long x = esize == 2 ? (unsigned long long)((const unsigned short *)p)[i]
                                          : (unsigned long long)((const unsigned int *)p)[i];
        x ^= (unsigned long long)i * 0x9E3779B97F4A7C15ull;
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 29;
        a += x;
    }
    acc[threadIdx.x] = a;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            acc[threadIdx.x] += acc[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partial[blockIdx.x] = acc[0];
}

} // namespace

cudaError_t rrk_checksum(int dtype, const void *x, size_t n, unsigned long long *partial, int blocks,
                         cudaStream_t stream) {
    checksum_kernel<<<blocks, 256, 0, stream>>>((const unsigned char *)x, n, dtype ? 2 : 4, partial);
    return cudaGetLastError();
}

cudaError_t rrk_bias_act(int dtype, void *y, const float *b, int M, int N, int act, cudaStream_t stream) {
    if ((size_t)M * N == 0 || (!b && act == 0))
        return cudaSuccess;
    return dispatch_dtype(dtype, BiasAct{y, b, M, N, act, stream});
}

cudaError_t rrk_glu(int dtype, const void *x, int T, int inter, void *y, cudaStream_t stream) {
    if ((size_t)T * inter == 0)
        return cudaSuccess;
    return dispatch_dtype(dtype, Glu{x, T, inter, y, stream});
}

cudaError_t rrk_convert_from_f32(int dtype, void *dst, const float *src, size_t n, cudaStream_t stream) {
    if (!n)
        return cudaSuccess;
    return dispatch_dtype(dtype, FromF32{dst, src, n, stream});
}

cudaError_t rrk_convert_to_f32(int dtype, float *dst, const void *src, size_t n, cudaStream_t stream) {
    if (!n)
        return cudaSuccess;
    return dispatch_dtype(dtype, ToF32{dst, src, n, stream});
}
