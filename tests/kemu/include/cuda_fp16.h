/* tests/kemu/include/cuda_fp16.h — IEEE binary16 storage for kemu (not NVIDIA's header):
 * conversions round to nearest even, as __float2half_rn does, subnormals and infinities
 * included. */
#ifndef RR_KEMU_CUDA_FP16_H
#define RR_KEMU_CUDA_FP16_H

#include <stdint.h>
#include <string.h>

struct __half {
    unsigned short x;
};
struct __half2 {
    __half x, y;
};

static inline unsigned kemu_f2u(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float kemu_u2f(unsigned u) { float f; memcpy(&f, &u, 4); return f; }

static inline __half __float2half_rn(float f) {
    const unsigned u = kemu_f2u(f), sign = (u >> 16) & 0x8000u;
    const unsigned a = u & 0x7fffffffu;
    __half h;
    if (a >= 0x7f800000u) { /* inf, nan */
        h.x = (unsigned short)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u));
        return h;
    }
    if (a >= 0x477ff000u) { /* rounds to >= 65520: inf */
        h.x = (unsigned short)(sign | 0x7c00u);
        return h;
    }
    if (a < 0x38800000u) { /* below 2^-14: subnormal half (or zero); exact via float arithmetic */
        const float v = kemu_u2f(a) * 16777216.0f; /* scale by 2^24: units of 2^-24 */
        /* round half to even: float has enough bits, rintf uses the current (nearest) mode */
        const float r = __builtin_rintf(v);
        h.x = (unsigned short)(sign | (unsigned)r);
        return h;
    }
    const unsigned mant = a & 0x7fffffu;
    const int exp = (int)(a >> 23) - 127 + 15;
    unsigned m = mant >> 13, rest = mant & 0x1fffu;
    unsigned v = ((unsigned)exp << 10) | m;
    if (rest > 0x1000u || (rest == 0x1000u && (m & 1u)))
        v++; /* carries into the exponent correctly */
    h.x = (unsigned short)(sign | v);
    return h;
}
static inline float __half2float(__half h) {
    const unsigned sign = (unsigned)(h.x & 0x8000u) << 16, e = (h.x >> 10) & 0x1fu, m = h.x & 0x3ffu;
    if (e == 0) {
        const float v = (float)m * 5.9604644775390625e-08f; /* 2^-24 */
        return sign ? -v : v;
    }
    if (e == 31)
        return kemu_u2f(sign | 0x7f800000u | (m << 13));
    return kemu_u2f(sign | ((e - 15 + 127) << 23) | (m << 13));
}
static inline unsigned short __half_as_ushort(__half h) { return h.x; }
static inline __half __ushort_as_half(unsigned short u) { __half h; h.x = u; return h; }
static inline __half2 __floats2half2_rn(float lo, float hi) {
    __half2 v;
    v.x = __float2half_rn(lo);
    v.y = __float2half_rn(hi);
    return v;
}

#endif
