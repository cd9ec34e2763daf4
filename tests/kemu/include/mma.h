/* tests/kemu/include/mma.h — nvcuda::wmma for kemu (not NVIDIA's header). A fragment holds
 * the whole tile in every lane (the hardware spreads it over the lanes in an unspecified
 * layout, so code may only move fragments through load/store/mma/fill, as ours does); each
 * load, store and mma is a warp-synchronous operation of the full warp, carried out for all
 * lanes at once. */
#ifndef RR_KEMU_WMMA_H
#define RR_KEMU_WMMA_H

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "kemu.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

inline float tof(float v) { return v; }
inline float tof(__half v) { return __half2float(v); }
inline float tof(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename Use, int M, int N, int K> struct tile_shape;
template <int M, int N, int K> struct tile_shape<matrix_a, M, N, K> { enum { R = M, C = K }; };
template <int M, int N, int K> struct tile_shape<matrix_b, M, N, K> { enum { R = K, C = N }; };
template <int M, int N, int K> struct tile_shape<accumulator, M, N, K> { enum { R = M, C = N }; };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    enum { R = tile_shape<Use, M, N, K>::R, C = tile_shape<Use, M, N, K>::C, num_elements = R * C };
    T x[R * C]; /* row-major [R][C] */
};

template <typename F, typename T> inline void fill_fragment(F &f, T v) {
    for (int i = 0; i < F::num_elements; i++)
        f.x[i] = v;
}

/* for ThreadSanitizer (kemu.h's tsan_read/tsan_write): a load reads the whole tile in every
 * lane (lane < 0); lane l of a store writes the tile's elements l, l + 32, … (the hardware
 * spreads a tile over the lanes too) */
template <typename F, typename T> inline void tsan_tile(const T *p, unsigned ld, int col_major, int lane) {
    if (lane < 0) { /* one range per stored row (or column) */
        const int n = col_major ? F::C : F::R, len = col_major ? F::R : F::C;
        for (int i = 0; i < n; i++)
            kemu::tsan_read(p + (size_t)i * ld, (size_t)len * sizeof(T));
        return;
    }
    for (int e = lane; e < F::R * F::C; e += 32) {
        const int r = e / F::C, c = e % F::C;
        kemu::tsan_write((void *)(col_major ? p + (size_t)c * ld + r : p + (size_t)r * ld + c), sizeof(T));
    }
}

struct LoadArgs {
    const void *p;
    unsigned ld;
    int col_major;
};
template <typename F, typename T> void load_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *) {
    if (mask != 0xffffffffu)
        kemu::trap("wmma::load_matrix_sync with a partial warp");
    for (int l = 0; l < 32; l++) {
        const LoadArgs *a = (const LoadArgs *)ins[l];
        F *f = (F *)outs[l];
        const T *p = (const T *)a->p;
        for (int r = 0; r < F::R; r++)
            for (int c = 0; c < F::C; c++)
                f->x[r * F::C + c] = a->col_major ? p[(size_t)c * a->ld + r] : p[(size_t)r * a->ld + c];
    }
}
template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout> &f, const T *p, unsigned ld) {
    typedef fragment<Use, M, N, K, T, Layout> F;
    const LoadArgs a{p, ld, std::is_same<Layout, col_major>::value};
    tsan_tile<F, T>(p, ld, a.col_major, -1);
    kemu::warp_op(0xffffffffu, load_run<F, T>, &a, &f, NULL, 0, "wmma::load_matrix_sync");
}
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T> &f, const T *p, unsigned ld, layout_t layout) {
    typedef fragment<accumulator, M, N, K, T> F;
    const LoadArgs a{p, ld, layout == mem_col_major};
    tsan_tile<F, T>(p, ld, a.col_major, -1);
    kemu::warp_op(0xffffffffu, load_run<F, T>, &a, &f, NULL, 0, "wmma::load_matrix_sync");
}

struct StoreArgs {
    void *p;
    unsigned ld;
    int col_major;
};
template <typename F, typename T> void store_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *) {
    (void)outs;
    if (mask != 0xffffffffu)
        kemu::trap("wmma::store_matrix_sync with a partial warp");
    for (int l = 0; l < 32; l++) {
        const StoreArgs *a = (const StoreArgs *)ins[l];
        const F *f = (const F *)a[1].p; /* the fragment follows the arguments */
        T *p = (T *)a->p;
        for (int r = 0; r < F::R; r++)
            for (int c = 0; c < F::C; c++)
                (a->col_major ? p[(size_t)c * a->ld + r] : p[(size_t)r * a->ld + c]) = f->x[r * F::C + c];
    }
}
template <int M, int N, int K, typename T>
inline void store_matrix_sync(T *p, const fragment<accumulator, M, N, K, T> &f, unsigned ld, layout_t layout) {
    typedef fragment<accumulator, M, N, K, T> F;
    const StoreArgs a[2] = {{p, ld, layout == mem_col_major}, {(void *)&f, 0, 0}};
    kemu::warp_op(0xffffffffu, store_run<F, T>, a, NULL, NULL, 0, "wmma::store_matrix_sync");
    tsan_tile<F, T>(p, ld, a[0].col_major, (int)kemu::lane_id());
}

template <typename FD, typename FA, typename FB> struct MmaArgs {
    const FA *a;
    const FB *b;
    const FD *c;
};
template <typename FD, typename FA, typename FB>
void mma_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *) {
    if (mask != 0xffffffffu)
        kemu::trap("wmma::mma_sync with a partial warp");
    /* every lane holds the whole tiles: compute once, from lane 0's, after checking that the
     * other lanes hold the same (they would not if code changed fragment elements per lane) */
    const MmaArgs<FD, FA, FB> *m0 = (const MmaArgs<FD, FA, FB> *)ins[0];
    for (int l = 1; l < 32; l++) {
        const MmaArgs<FD, FA, FB> *m = (const MmaArgs<FD, FA, FB> *)ins[l];
        if (memcmp(m->a, m0->a, sizeof *m0->a) || memcmp(m->b, m0->b, sizeof *m0->b) ||
            memcmp(m->c, m0->c, sizeof *m0->c))
            kemu::trap("wmma::mma_sync: lanes hold different fragments (kemu replicates whole tiles)");
    }
    float a[FA::R * FA::C], b[FA::C * FB::C];
    for (int i = 0; i < FA::R * FA::C; i++)
        a[i] = tof(m0->a->x[i]);
    for (int i = 0; i < FA::C * FB::C; i++)
        b[i] = tof(m0->b->x[i]);
    FD d;
    for (int r = 0; r < FA::R; r++)
        for (int c = 0; c < FB::C; c++) {
            float s = 0.0f;
            for (int k = 0; k < FA::C; k++)
                s += a[r * FA::C + k] * b[k * FB::C + c];
            d.x[r * FB::C + c] = m0->c->x[r * FB::C + c] + s;
        }
    for (int l = 0; l < 32; l++)
        *(FD *)outs[l] = d;
}
template <int M, int N, int K, typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, T, LA> &a,
                     const fragment<matrix_b, M, N, K, T, LB> &b, const fragment<accumulator, M, N, K, float> &c) {
    typedef fragment<accumulator, M, N, K, float> FD;
    typedef fragment<matrix_a, M, N, K, T, LA> FA;
    typedef fragment<matrix_b, M, N, K, T, LB> FB;
    const MmaArgs<FD, FA, FB> m{&a, &b, &c};
    kemu::warp_op(0xffffffffu, mma_run<FD, FA, FB>, &m, &d, NULL, 0, "wmma::mma_sync");
}

} // namespace wmma
} // namespace nvcuda

#endif
