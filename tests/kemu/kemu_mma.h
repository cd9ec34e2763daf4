/* tests/kemu/kemu_mma.h — what kernels/mma.cuh does with inline PTX, done by kemu on the CPU:
 * mma.sync m16n8k16 (fp32 accumulation) and ldmatrix .x4 .trans as warp-synchronous operations
 * over the fragment layouts of the PTX ISA (the table at the top of mma.cuh), and cp.async as
 * a plain copy with the same zero fill (kemu has no asynchronous copies: data is there at
 * once). */
#ifndef RR_KEMU_MMA_H
#define RR_KEMU_MMA_H

#include "kemu.h"

namespace kemu {

struct MmaLane {
    uint32_t a[4], b0, b1;
    float c[4];
};
inline float to_float(__half h) { return __half2float(h); }
inline float to_float(__nv_bfloat16 b) { return __bfloat162float(b); }
template <typename T> inline float half_to_f(uint32_t bits16) {
    T v;
    const unsigned short u = (unsigned short)bits16;
    memcpy(&v, &u, 2);
    return to_float(v);
}
template <typename T> void mma16816_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *) {
    if (mask != 0xffffffffu)
        trap("mma.sync with a partial warp");
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; l++) {
        const MmaLane *in = (const MmaLane *)ins[l];
        const int g = l >> 2, c = (l & 3) * 2;
        for (int h = 0; h < 2; h++) {
            const int sh = 16 * h;
            A[g][c + h] = half_to_f<T>(in->a[0] >> sh);
            A[g + 8][c + h] = half_to_f<T>(in->a[1] >> sh);
            A[g][c + 8 + h] = half_to_f<T>(in->a[2] >> sh);
            A[g + 8][c + 8 + h] = half_to_f<T>(in->a[3] >> sh);
            B[c + h][g] = half_to_f<T>(in->b0 >> sh);
            B[c + 8 + h][g] = half_to_f<T>(in->b1 >> sh);
        }
        C[g][c] = in->c[0], C[g][c + 1] = in->c[1], C[g + 8][c] = in->c[2], C[g + 8][c + 1] = in->c[3];
    }
    for (int l = 0; l < 32; l++) {
        const int g = l >> 2, c = (l & 3) * 2;
        float *out = (float *)outs[l];
        const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {c, c + 1, c, c + 1};
        for (int i = 0; i < 4; i++) {
            float s = 0.0f;
            for (int k = 0; k < 16; k++)
                s += A[rows[i]][k] * B[k][cols[i]];
            out[i] = C[rows[i]][cols[i]] + s;
        }
    }
}

} // namespace kemu

namespace rrk {

template <typename T>
inline void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    kemu::MmaLane in;
    memcpy(in.a, a, sizeof in.a);
    in.b0 = b0, in.b1 = b1;
    memcpy(in.c, c, sizeof in.c);
    kemu::warp_op(0xffffffffu, kemu::mma16816_run<T>, &in, c, NULL, 0, "mma.sync.m16n8k16");
}

struct LdmOut {
    uint32_t *v[4];
};
inline void ldmatrix_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *) {
    if (mask != 0xffffffffu)
        kemu::trap("ldmatrix with a partial warp");
    for (int l = 0; l < 32; l++)
        if ((uintptr_t)ins[l] & 15u)
            kemu::trap("ldmatrix: a row address that is not 16-byte aligned");
    for (int t = 0; t < 32; t++) {
        const LdmOut *o = (const LdmOut *)outs[t];
        for (int j = 0; j < 4; j++) {
            /* tile j, rows from lanes 8j.., element [2(t%4) + h][t/4] */
            const unsigned short *r0 = (const unsigned short *)ins[8 * j + 2 * (t & 3)];
            const unsigned short *r1 = (const unsigned short *)ins[8 * j + 2 * (t & 3) + 1];
            *o->v[j] = (uint32_t)r0[t >> 2] | ((uint32_t)r1[t >> 2] << 16);
        }
    }
}
inline void ldmatrix_x4_trans(uint32_t &v0, uint32_t &v1, uint32_t &v2, uint32_t &v3, const void *row) {
    LdmOut o{{&v0, &v1, &v2, &v3}};
    kemu::tsan_read(row, 16); /* this lane's row of 8 16-bit elements */
    kemu::warp_op(0xffffffffu, ldmatrix_run, row, &o, NULL, 0, "ldmatrix.x4.trans");
}

inline void cp_async16(void *dst, const void *src, int bytes) {
    if (bytes > 0)
        memcpy(dst, src, (size_t)bytes);
    if (bytes < 16)
        memset((char *)dst + (bytes > 0 ? bytes : 0), 0, (size_t)(16 - (bytes > 0 ? bytes : 0)));
}
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}

} // namespace rrk

#endif
