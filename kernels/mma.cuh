/* kernels/mma.cuh — tensor-core building blocks shared by the mma.sync kernels
 * (attention_mma.cu, linear_gelu.cu): m16n8k16 mma with fp32 accumulation, packing two fp32
 * values into one register of two 16-bit values, and cp.async copies into shared memory.
 * Fragment layouts (PTX ISA, mma.m16n8k16, g = lane / 4, c = lane % 4):
 *   A (16×16, row): a[0] row g, cols 2c..2c+1; a[1] row g+8, same cols; a[2], a[3]: cols + 8
 *   B (16×8, col):  b0 = B[k 2c..2c+1][n g], b1 = B[k 2c+8..2c+9][n g] — i.e. a row-major
 *                   [n][k] tile read at row g (rows of K in attention, of W in a linear)
 *   C (16×8):       c[0..1] row g, cols 2c..2c+1; c[2..3] row g+8
 */
#ifndef RR_KERNELS_MMA_CUH
#define RR_KERNELS_MMA_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace rrk {

/* Two fp32 values → one register of two 16-bit values (lo in the low half), and back. */
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

/* c += a · b, m16n8k16, fp32 accumulate */
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                        uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                 uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global → shared, asynchronously; bytes < 16 zero-fills the rest (0: all zeros,
 * nothing read). */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

} // namespace rrk

#endif
