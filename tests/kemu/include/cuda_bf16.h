/* tests/kemu/include/cuda_bf16.h — bfloat16 storage for kemu (not NVIDIA's header):
 * round to nearest even, NaN kept a NaN. */
#ifndef RR_KEMU_CUDA_BF16_H
#define RR_KEMU_CUDA_BF16_H

#include "cuda_fp16.h"

struct __nv_bfloat16 {
    unsigned short x;
};
struct __nv_bfloat162 {
    __nv_bfloat16 x, y;
};

static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    const unsigned u = kemu_f2u(f);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        b.x = (unsigned short)((u >> 16) | 0x40u);
    else
        b.x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return b;
}
static inline float __bfloat162float(__nv_bfloat16 b) { return kemu_u2f((unsigned)b.x << 16); }
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
static inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
    __nv_bfloat162 v;
    v.x = __float2bfloat16_rn(lo);
    v.y = __float2bfloat16_rn(hi);
    return v;
}

#endif
