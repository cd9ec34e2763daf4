/* kernels/elementwise.cu — bias + activation in place (after a matrix product whose library
 * epilogue did not apply them), and storage-type conversions.
 * GELU is the exact erf form (PyTorch's default "gelu"); cuBLASLt's GELU epilogue is the tanh
 * approximation, so it is not used for it. Versions tried: v1 (this) one thread per element
 * pair along a row, grid-stride. Memory-bound: one read and one write of y.
 */
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
        y[i] = from_f<T>(v);
    }
}

template <typename D, typename S>
__global__ void convert_kernel(D *__restrict__ dst, const S *__restrict__ src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = from_f<D>(to_f(src[i]));
}

int grid_for(size_t n) {
    size_t blocks = (n + 255) / 256;
    return (int)(blocks < 65536 ? (blocks ? blocks : 1) : 65536);
}

struct BiasAct {
    void *y;
    const float *b;
    int M, N, act;
    cudaStream_t stream;
    template <typename T> cudaError_t run() const {
        bias_act_kernel<T><<<grid_for((size_t)M * N), 256, 0, stream>>>((T *)y, b, M, N, act);
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

} // namespace

cudaError_t rrk_bias_act(int dtype, void *y, const float *b, int M, int N, int act, cudaStream_t stream) {
    if ((size_t)M * N == 0 || (!b && act == 0))
        return cudaSuccess;
    return dispatch_dtype(dtype, BiasAct{y, b, M, N, act, stream});
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
