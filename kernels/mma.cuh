/* kernels/mma.cuh — tensor-core building blocks shared by the mma.sync kernels
 * (attention_mma.cu, linear_gelu.cu): m16n8k16 mma with fp32 accumulation, ldmatrix, and
 * cp.async copies into shared memory (pack2/unpack2 of common.cuh fill and read the
 * registers). Every piece of inline PTX of the kernels lives here, so that the CPU emulator
 * (tests/kemu, RR_KEMU) can stand in for each.
 * Fragment layouts (PTX ISA, mma.m16n8k16, g = lane / 4, c = lane % 4):
 *   A (16×16, row): a[0] row g, cols 2c..2c+1; a[1] row g+8, same cols; a[2], a[3]: cols + 8
 *   B (16×8, col):  b0 = B[k 2c..2c+1][n g], b1 = B[k 2c+8..2c+9][n g] — i.e. a row-major
 *                   [n][k] tile read at row g (rows of K in attention, of W in a linear)
 *   C (16×8):       c[0..1] row g, cols 2c..2c+1; c[2..3] row g+8
 */
#ifndef RR_KERNELS_MMA_CUH
#define RR_KERNELS_MMA_CUH

#include <stdint.h>

#include "common.cuh" /* pack2, unpack2 */

namespace rrk {

#ifdef RR_KEMU
} // namespace rrk
/* the CPU emulator (tests/kemu): the same operations without PTX */
#include "kemu_mma.h"
namespace rrk {
#else
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

/* Four 8×8 tiles of 16-bit values in shared memory, transposed on the way (ldmatrix .trans):
 * lanes 8j..8j+7 give the addresses of tile j's 8 rows (16 bytes each, 16-byte aligned);
 * lane t receives in vj tile j's elements [2(t%4)][t/4] (low half) and [2(t%4)+1][t/4]. */
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t &v0, uint32_t &v1, uint32_t &v2, uint32_t &v3,
                                                  const void *row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(v0), "=r"(v1), "=r"(v2), "=r"(v3)
                 : "r"(smem_addr(row)));
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

#endif

} // namespace rrk

#endif
