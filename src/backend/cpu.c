/* backend/cpu.c — the CPU backend, and so the specification every other backend meets.
 *
 * `linear` and attention's two products run on our own GEMM kernel (below: the same sum in
 * the same order for every output, whatever the pass); everything else is OpenMP loops
 * written so that GCC vectorises them (no libm calls in the inner loops: exp and erf are
 * evaluated with polynomials accurate to ~1e-7); no BLAS library computes anything here.
 * Scratch (the packed weights of
 * one product; per thread, one L×L score matrix and the packed K and V of one head) is
 * allocated at creation, never per pass.
 *
 * Letters: T total tokens, S sequences, H hidden, d head dim, L a sequence's length.
 */
#define _POSIX_C_SOURCE 200809L
#if defined(__FMA__)
#include <immintrin.h>
#endif
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/error.h"

/* OpenBLAS's own entry: the backend computes nothing with it, but FAISS's exact search in
 * the same process does (its inner-product / L2 blocks are sgemm calls), and --threads
 * should bound that too. */
void openblas_set_num_threads(int num_threads);

typedef struct cpu_backend {
    rr_backend base;
    int threads;
    /* per thread, attention's scratch: S [min(L, RR_ATT_ROWS), L] (one block of query rows at
     * a time), 1/rowsum [L], Kᵀ in panels [r16(L), d] and V in panels [r16(d), L]
     * (L = max_seqlen, r16 = rounded up to 16), each part 64-byte aligned */
    size_t scores_stride; /* floats per thread in scores */
    size_t off_rsum, off_kpack, off_vpack;
    /* DeBERTa (limits.rel_rows): C2P [min(L, RR_ATT_ROWS), rel_cols] (a block of query rows),
     * P2C [L, rel_cols] and the packed table rows [r16(rel_cols), d],
     * rel_cols = min(rel_rows, 2L − 1) */
    size_t off_c2p, off_p2c, off_ppack, rel_cols;
    size_t max_seqlen;
    float *scores;        /* [threads, scores_stride] */
    float *wpack;  /* W of a `linear` packed in panels (cpu_gemm_nt): max_width × hidden, each rounded up to 16 */
    size_t wpack_cap; /* its floats */
} cpu_backend;

static cpu_backend *cpu(rr_backend *be) { return (cpu_backend *)be; }

/* ---- vectorisable elementary functions ----------------------------------------------- */

/* exp(x) for x <= 0 region and beyond: range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 * polynomial; relative error ~2e-7. Inputs below -87 flush to 0. */
static inline float fast_expf(float x) {
    /* two plain selects and a union (not a nested ?: and memcpy): GCC 12 vectorises the
     * softmax loop only in this form ("control flow in loop" otherwise, which left it scalar:
     * a third of the CPU forward's time at 350-token pairs) */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693145751953125f;  /* ln2 high part */
    r = r - n * 1.428606765330187e-06f;    /* ln2 low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

/* erf(x) as a rational function of x on [-4, 4] (XLA's float erf); max abs error 4.2e-7. */
static inline float fast_erff(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return x * p / q;
}

float rr_gelu_ref(float x) { return 0.5f * x * (1.0f + fast_erff(x * 0.70710678118654752f)); }

void rr_gelu_inplace(float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + fast_erff(x[i] * 0.70710678118654752f));
}

/* y = LayerNorm(y) with fp32 statistics (two-pass variance, as PyTorch). */
static inline void layernorm_row(float *y, const float *gamma, const float *beta, int H, float eps) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < H; i++)
        sum += y[i];
    float mean = sum / (float)H, var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (int i = 0; i < H; i++)
        var += (y[i] - mean) * (y[i] - mean);
    float rstd = 1.0f / sqrtf(var / (float)H + eps);
#pragma omp simd
    for (int i = 0; i < H; i++)
        y[i] = (y[i] - mean) * rstd * gamma[i] + beta[i];
}

/* ---- memory -------------------------------------------------------------------------- */

static rr_status cpu_alloc(rr_backend *be, size_t bytes, void **out) {
    (void)be;
    size_t rounded = (bytes + 63) / 64 * 64;
    *out = aligned_alloc(64, rounded ? rounded : 64);
    if (!*out)
        return rr_error(RR_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
    return RR_OK;
}

static void cpu_free(rr_backend *be, void *p) {
    (void)be;
    free(p);
}

static rr_status cpu_copy(rr_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes)
        memcpy(dst, src, bytes);
    return RR_OK;
}

static void cpu_destroy(rr_backend *be) {
    if (!be)
        return;
    free(cpu(be)->scores);
    free(cpu(be)->wpack);
    free(be);
}

static rr_status cpu_download_async(rr_backend *be, void *dst, const void *src, size_t bytes, int slot) {
    (void)slot;
    return cpu_copy(be, dst, src, bytes);
}

static rr_status cpu_wait(rr_backend *be, int slot) {
    (void)be;
    (void)slot;
    return RR_OK;
}

static rr_status cpu_copy_act(rr_backend *be, void *dst, const float *src, size_t n) {
    return cpu_copy(be, dst, src, n * sizeof(float));
}

static rr_status cpu_download_act(rr_backend *be, float *dst, const void *src, size_t n) {
    return cpu_copy(be, dst, src, n * sizeof(float));
}

static rr_status cpu_begin_pass(rr_backend *be, const rr_pass *pass) {
    RR_TRY(rr_pass_check(&be->limits, pass, "cpu"));
    be->pass = pass;
    return RR_OK;
}

/* ---- ops ----------------------------------------------------------------------------- */

static rr_status cpu_embed(rr_backend *be, const float *word, const float *pos, const float *type,
                           const float *gamma, const float *beta, float eps, int32_t vocab,
                           int32_t type_vocab, float *x) {
    const rr_pass *p = be->pass;
    const int H = be->limits.hidden;
    RR_TRY(rr_pass_check_ids(p, vocab, type_vocab));
#pragma omp parallel for schedule(dynamic, 4) num_threads(cpu(be)->threads)
    for (int32_t s = 0; s < p->num_seqs; s++) {
        int32_t count = 0;
        for (int32_t t = p->cu_seqlens[s]; t < p->cu_seqlens[s + 1]; t++) {
            const float *w = word + (size_t)p->ids[t] * H;
            const float *ps = pos + (ptrdiff_t)rr_next_position(be, p->ids[t], &count) * H;
            const float *ty = type + (size_t)p->type_ids[t] * H;
            float *y = x + (size_t)t * H;
#pragma omp simd
            for (int i = 0; i < H; i++)
                y[i] = w[i] + ps[i] + ty[i];
            layernorm_row(y, gamma, beta, H, eps);
        }
    }
    return RR_OK;
}

/* ---- linear: our own GEMM -------------------------------------------------------------
 *
 * y = x · Wᵀ + b is computed here, not by OpenBLAS, so that every output is the same sum in
 * the same order whatever else is in the product: y[m][n] = ((x[m][0]·W[n][0] + 0) +
 * x[m][1]·W[n][1]) + … (one fused multiply-add per k, in k order, with FMA), then + b[n].
 * Nothing depends on M, on where row m sits, or on the thread count, so a sequence's scores do
 * not depend on which other sequences share its pass (bit-identical across token budgets,
 * memory limits, chunkings and resumed runs). OpenBLAS's kernels do not give that: on CPUs
 * without AVX-512 (its Haswell and Zen kernels, 0.3.21) a row's result changes with its row
 * position in the call and with M; padding row blocks to 32 (what this code did before) was
 * enough only for its AVX-512 kernels.
 *
 * Shape: W is packed once per call in panels of RR_GEMM_NR = two vector registers of columns
 * (16 with AVX2, 32 with AVX-512), k-major (panel[k][j] = W[n0 + j][k], zero past N); then
 * each thread takes blocks of rows small enough to stay in L2 (about 128 KiB of x) and, panel
 * by panel, runs the 6 × NR register kernel over them: per k, two vector loads of the panel,
 * six broadcasts of x, twelve multiply-adds. A lane is one output whatever the width, so an
 * AVX-512 build gives the same bits as an AVX2 one (checked: scores and embeddings).
 * Versions: 1, OpenBLAS sgemm with row blocks of 32 and a padded last block (not
 * position-invariant without AVX-512, see above); 2, this with each panel packed again for
 * every block of 96 rows (slower than OpenBLAS on MiniLM's shapes); 3, W packed once per call:
 * 1.07× OpenBLAS's rate on those shapes, 2 Zen cores (bench/linear_rate.c); 4, zmm registers
 * where the build has AVX-512 (before, 8-wide everywhere): on 2 Xeon cores with AVX-512,
 * 158 -> 277 GFLOP/s on the network's shapes (OpenBLAS 0.3.21 there: 63). Without FMA
 * (RR_NATIVE=OFF on x86-64) each step is a multiply and an add: other bits than an FMA build,
 * the same invariance. */
#if defined(__AVX512F__)
#define RR_GEMM_VW 16 /* floats per vector register: one zmm */
typedef float rr_vec __attribute__((vector_size(64)));
#else
#define RR_GEMM_VW 8  /* one ymm (AVX2), or what the compiler makes of 32 bytes */
typedef float rr_vec __attribute__((vector_size(32)));
#endif
#define RR_GEMM_NR (2 * RR_GEMM_VW)
#define RR_GEMM_MR 6

/* without AVX (RR_NATIVE=OFF) GCC and clang warn that 32-byte vector arguments change the
 * ABI: these helpers are static and inlined, so no ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"
/* The kernel and its helpers are not instrumented by the sanitizers (all alike, so that they
 * still inline): instrumented, they ran at 6.5 GFLOP/s against OpenBLAS's 36 in the ASan +
 * UBSan build, which made its model tests several times slower. OpenBLAS's kernels, which
 * did this work before, were never instrumented either; the packing and the stores of
 * cpu_gemm_nt still are. ThreadSanitizer likewise (its cost there not measured apart). */
#define RR_GEMM_KERNEL __attribute__((no_sanitize("address", "undefined", "thread")))

RR_GEMM_KERNEL static inline rr_vec vec_fma(rr_vec a, rr_vec b, rr_vec c) {
#if defined(__AVX512F__)
    return (rr_vec)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__)
    return (rr_vec)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c; /* C11 does not contract this: a multiply and an add, as written */
#endif
}

RR_GEMM_KERNEL static inline rr_vec vec_load(const float *p) {
    rr_vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

RR_GEMM_KERNEL static inline rr_vec vec_splat(float v) {
#if RR_GEMM_VW == 16
    return (rr_vec){v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v};
#else
    return (rr_vec){v, v, v, v, v, v, v, v};
#endif
}

/* c[r][0..NR) = Σ_k x[r][k] · panel[k][0..NR) for rows r < 6 of x (row stride ldx); rows past
 * `rows` read row 0 again and are not stored */
RR_GEMM_KERNEL static void gemm_kernel(int32_t rows, int32_t K, const float *x, int32_t ldx, const float *panel,
                                       float c[RR_GEMM_MR][RR_GEMM_NR]) {
    const float *r0 = x, *r1 = rows > 1 ? x + (size_t)ldx : x, *r2 = rows > 2 ? x + 2 * (size_t)ldx : x,
                *r3 = rows > 3 ? x + 3 * (size_t)ldx : x, *r4 = rows > 4 ? x + 4 * (size_t)ldx : x,
                *r5 = rows > 5 ? x + 5 * (size_t)ldx : x;
    rr_vec c00 = vec_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int32_t k = 0; k < K; k++) {
        const rr_vec b0 = vec_load(panel + (size_t)k * RR_GEMM_NR),
                     b1 = vec_load(panel + (size_t)k * RR_GEMM_NR + RR_GEMM_VW);
        /* row r of x times the panel's two halves into its accumulators lo, hi */
#define RR_GEMM_ROW(r, lo, hi)                                                                  \
    do {                                                                                       \
        const rr_vec a = vec_splat((r)[k]);                                                    \
        lo = vec_fma(a, b0, lo);                                                               \
        hi = vec_fma(a, b1, hi);                                                               \
    } while (0)
        RR_GEMM_ROW(r0, c00, c01);
        RR_GEMM_ROW(r1, c10, c11);
        RR_GEMM_ROW(r2, c20, c21);
        RR_GEMM_ROW(r3, c30, c31);
        RR_GEMM_ROW(r4, c40, c41);
        RR_GEMM_ROW(r5, c50, c51);
#undef RR_GEMM_ROW
    }
    const rr_vec out[RR_GEMM_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    memcpy(c, out, sizeof out);
}

/* y[M,N] = x[M,K] · W[N,K]ᵀ + b (b may be NULL); needs ceil(N / 16) · 16 · K floats of wpack */
static void cpu_gemm_nt(const cpu_backend *c, const float *x, int32_t M, int32_t K, const float *W,
                        const float *b, int32_t N, float *y) {
    const int32_t npanels = (N + RR_GEMM_NR - 1) / RR_GEMM_NR;
    int32_t mc = (int32_t)((128 * 1024 / sizeof(float)) / (size_t)K) / RR_GEMM_MR * RR_GEMM_MR;
    mc = mc < RR_GEMM_MR ? RR_GEMM_MR : mc > 192 ? 192 : mc;
    const int32_t blocks = (M + mc - 1) / mc;
    float *const pack = c->wpack;
#pragma omp parallel num_threads(c->threads)
    {
#pragma omp for schedule(static)
        for (int32_t p = 0; p < npanels; p++) {
            float *panel = pack + (size_t)p * RR_GEMM_NR * K;
            for (int32_t j = 0; j < RR_GEMM_NR; j++) {
                const int32_t n = p * RR_GEMM_NR + j;
                if (n < N) {
                    const float *wr = W + (size_t)n * K;
                    for (int32_t k = 0; k < K; k++)
                        panel[(size_t)k * RR_GEMM_NR + j] = wr[k];
                } else {
                    for (int32_t k = 0; k < K; k++)
                        panel[(size_t)k * RR_GEMM_NR + j] = 0.0f;
                }
            }
        }
#pragma omp for schedule(static)
        for (int32_t blk = 0; blk < blocks; blk++) {
            const int32_t m0 = blk * mc, m1 = m0 + mc < M ? m0 + mc : M;
            for (int32_t p = 0; p < npanels; p++) {
                const int32_t n0 = p * RR_GEMM_NR, nn = N - n0 < RR_GEMM_NR ? N - n0 : RR_GEMM_NR;
                const float *panel = pack + (size_t)p * RR_GEMM_NR * K;
                for (int32_t m = m0; m < m1; m += RR_GEMM_MR) {
                    const int32_t rows = m1 - m < RR_GEMM_MR ? m1 - m : RR_GEMM_MR;
                    float acc[RR_GEMM_MR][RR_GEMM_NR];
                    gemm_kernel(rows, K, x + (size_t)m * K, K, panel, acc);
                    for (int32_t r = 0; r < rows; r++) {
                        float *yr = y + (size_t)(m + r) * N + n0;
                        for (int32_t j = 0; j < nn; j++)
                            yr[j] = acc[r][j] + (b ? b[n0 + j] : 0.0f);
                    }
                }
            }
        }
    }
}

static rr_status cpu_linear(rr_backend *be, const float *x, int32_t M, int32_t K, const float *W,
                            const float *b, int32_t N, rr_activation act, float *y) {
    if (M <= 0)
        return RR_OK;
    cpu_backend *c = cpu(be);
    if ((size_t)((N + RR_GEMM_NR - 1) / RR_GEMM_NR) * RR_GEMM_NR * (size_t)K <= c->wpack_cap) {
        cpu_gemm_nt(c, x, M, K, W, b, N, y);
    } else {
        /* a product larger than the packing scratch (limits without max_width, or neither
         * side the hidden size): one dot product per output, each the same for any M */
#pragma omp parallel for schedule(static) num_threads(c->threads)
        for (int32_t m = 0; m < M; m++) {
            const float *xr = x + (size_t)m * K;
            for (int32_t n = 0; n < N; n++) {
                const float *wr = W + (size_t)n * K;
                float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                for (int32_t k = 0; k < K; k++)
                    acc += xr[k] * wr[k];
                y[(size_t)m * N + n] = acc + (b ? b[n] : 0.0f);
            }
        }
    }
    if (act == RR_ACT_NONE)
        return RR_OK;
#pragma omp parallel for schedule(static) num_threads(cpu(be)->threads)
    for (int32_t m = 0; m < M; m++) {
        float *row = y + (size_t)m * N;
        if (act == RR_ACT_GELU) {
            rr_gelu_inplace(row, (size_t)N);
        } else if (act == RR_ACT_TANH) {
            for (int32_t n = 0; n < N; n++)
                row[n] = tanhf(row[n]);
        } else if (act == RR_ACT_RELU) {
            for (int32_t n = 0; n < N; n++)
                row[n] = row[n] < 0.0f ? 0.0f : row[n];
        } else if (act == RR_ACT_SILU) {
            for (int32_t n = 0; n < N; n++)
                row[n] = row[n] / (1.0f + expf(-row[n]));
        }
    }
    return RR_OK;
}

/* ---- attention ------------------------------------------------------------------------
 *
 * One task per (sequence, head): S = scale · Q Kᵀ, P = exp(S − rowmax), O = (P V) / rowsum.
 * Both products run on gemm_kernel (above), so every score and output is one FMA per k in k
 * order, whatever else is in the pass: Kᵀ is packed into NR-key panels (panel[k][j] =
 * K[NR·p + j][k]) and V into NR-column panels (panel[k][j] = V[k][NR·q + j]), zero-padded.
 * Versions: 1, OpenBLAS sgemm per task (one call per sequence and head, so invariant as
 * well; measured at the same speed as this one, 2026-11-27, and removed since); 2, this. */
/* dst = the n columns of src in panels of NR, k-major: panel p holds columns NR·p..NR·p+NR−1,
 * dst[p][k][j] = src[(NR·p + j) · col_stride + k · k_stride] for k < K, zero past column n */
RR_GEMM_KERNEL static void pack_panels(float *dst, const float *src, int K, int n, size_t col_stride,
                                      size_t k_stride) {
    const int np = (n + RR_GEMM_NR - 1) / RR_GEMM_NR;
    for (int p = 0; p < np; p++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < RR_GEMM_NR; j++) {
                const int col = p * RR_GEMM_NR + j;
                dst[((size_t)p * K + k) * RR_GEMM_NR + j] = col < n ? src[col * col_stride + k * k_stride] : 0.0f;
            }
}

/* y[i][j] = (Σ_k x[i][k] · B[k][j]) · scale[i · scale_step] for i < M, j < n, where B [K, n]
 * is in panels as pack_panels leaves it, pstride floats apart (NR · K, or more when B is rows
 * k0.. of panels packed over more rows: the banded attention below). Like the kernel, these
 * two are not instrumented by the sanitizers: instrumented (every store of the L×L scores and every read of the stack
 * tile checked) the ASan build's model tests took 20% longer than with OpenBLAS doing this
 * work, which was never instrumented either. They write only this thread's scratch and the
 * head's rows of the output, whose sizes follow from limits checked at begin_pass; every
 * value they write is checked against a double-precision softmax in test_cpu_ops. */
RR_GEMM_KERNEL static void panel_gemm_s(const float *x, int ldx, int M, int K, const float *panels, size_t pstride,
                                        int n, const float *scale, int scale_step, float *y, int ldy) {
    const int np = (n + RR_GEMM_NR - 1) / RR_GEMM_NR;
    for (int i = 0; i < M; i += RR_GEMM_MR) {
        const int rows = M - i < RR_GEMM_MR ? M - i : RR_GEMM_MR;
        for (int p = 0; p < np; p++) {
            const int j0 = p * RR_GEMM_NR, nj = n - j0 < RR_GEMM_NR ? n - j0 : RR_GEMM_NR;
            float acc[RR_GEMM_MR][RR_GEMM_NR];
            gemm_kernel(rows, K, x + (size_t)i * ldx, ldx, panels + (size_t)p * pstride, acc);
            for (int r = 0; r < rows; r++) {
                float *yr = y + (size_t)(i + r) * ldy + j0;
                const float f = scale[(i + r) * scale_step];
                for (int j = 0; j < nj; j++)
                    yr[j] = acc[r][j] * f;
            }
        }
    }
}

RR_GEMM_KERNEL static void panel_gemm(const float *x, int ldx, int M, int K, const float *panels, int n, const float *scale,
                                      int scale_step, float *y, int ldy) {
    panel_gemm_s(x, ldx, M, K, panels, (size_t)RR_GEMM_NR * (size_t)K, n, scale, scale_step, y, ldy);
}

/* The softmax of one row of scores over its keys j0..j1, unnormalised (P = exp(S − rowmax)):
 * the keys in [lo, j0) and (j1, hi) weigh exactly 0; returns 1 / the row's sum. */
static inline float softmax_row(float *row, int j0, int j1, int lo, int hi) {
    float mx = row[j0], sum = 0.0f;
#pragma omp simd reduction(max : mx)
    for (int j = j0 + 1; j <= j1; j++)
        mx = row[j] > mx ? row[j] : mx;
#pragma omp simd reduction(+ : sum)
    for (int j = j0; j <= j1; j++) {
        row[j] = fast_expf(row[j] - mx);
        sum += row[j];
    }
    for (int j = lo; j < j0; j++)
        row[j] = 0.0f;
    for (int j = j1 + 1; j < hi; j++)
        row[j] = 0.0f;
    return 1.0f / sum;
}

/* Query rows per block of the banded attention (a multiple of RR_GEMM_MR) */
#define RR_BAND_ROWS (4 * RR_GEMM_MR)
/* Query rows whose scores are held at once (a multiple of RR_BAND_ROWS): the scratch S is
 * RR_ATT_ROWS × L per thread, not L × L (at L = 32,768 that is 12 MB, not 4 GiB) */
#define RR_ATT_ROWS (4 * RR_BAND_ROWS)

/* DeBERTa's disentangled terms of one (sequence, head): C2P[i][r] = scale · q_i · posk[lo + r]
 * (for one block of query rows i at a time) and P2C[j][r] = scale · k_j · posq[lo + r] for the
 * rows lo..lo + n − 1 that the sequence's relative positions reach (row = idx[i − j], idx
 * non-decreasing), by the same GEMM kernel */
typedef struct rel_terms {
    const float *posk, *posq; /* this head's columns of the layer's tables (row stride H); NULL: no term */
    int ldp;                  /* H */
    const int32_t *idx;       /* rel_idx at relative position 0 */
    float *c2p, *p2c, *pack;  /* this thread's scratch */
} rel_terms;

/* bias: NULL, or this head's relative position bias at offset 0 (bias[j − i] for key j,
 * query i; MPNet), added to the scaled scores as transformers adds it; rel: NULL, or DeBERTa's
 * tables, whose terms are added to the scaled scores as c2p + p2c (transformers' rel_att);
 * window > 0: query i's softmax runs over the keys |i − j| <= window only, the others weigh
 * exactly 0 (ModernBERT's sliding layers) */
static void attention_task(const cpu_backend *c, const float *Q, const float *K, const float *V, int ld,
                           int L, int d, float scale, const float *bias, const rel_terms *rel, int window,
                           float *S, float *rsum, float *kp, float *vp, float *O, int ldo) {
    pack_panels(kp, K, d, L, (size_t)ld, 1); /* Kᵀ: column j of B is key j */
    if (window > 0 && 2 * window + 1 < L && !bias && !rel) {
        /* A sliding layer (ModernBERT): each block of query rows computes the scores of the keys
         * its rows' windows reach (from a whole K panel on) and the product with V over those
         * keys only. Every score and output is the same FMA chain as below: the keys outside a
         * row's window weigh 0 there, and adding 0 · v leaves a sum as it is. */
        pack_panels(vp, V, L, d, 1, (size_t)ld);
        for (int i0 = 0; i0 < L; i0 += RR_BAND_ROWS) {
            const int i1 = i0 + RR_BAND_ROWS < L ? i0 + RR_BAND_ROWS : L;
            const int k0 = (i0 - window > 0 ? i0 - window : 0) / RR_GEMM_NR * RR_GEMM_NR,
                      k1 = i1 + window < L ? i1 + window : L; /* keys [k0, k1) */
            float *Sb = S + k0; /* row i at S + (i − i0) · L */
            panel_gemm(Q + (size_t)i0 * ld, ld, i1 - i0, d, kp + (size_t)k0 * d, k1 - k0, &scale, 0, Sb, L);
            for (int i = i0; i < i1; i++)
                rsum[i] = softmax_row(S + (size_t)(i - i0) * L, i - window > 0 ? i - window : 0,
                                      i + window < L - 1 ? i + window : L - 1, k0, k1);
            panel_gemm_s(Sb, L, i1 - i0, k1 - k0, vp + (size_t)k0 * RR_GEMM_NR, (size_t)RR_GEMM_NR * (size_t)L, d,
                         rsum + i0, 1, O + (size_t)i0 * ldo, ldo);
        }
        return;
    }
    int lo = 0, nr = 0;
    if (rel) { /* P2C for every key now; C2P block by block below, from posk's panels */
        lo = rel->idx[1 - L];
        nr = rel->idx[L - 1] - lo + 1;
        if (rel->posq) {
            pack_panels(rel->pack, rel->posq + (size_t)lo * rel->ldp, d, nr, (size_t)rel->ldp, 1);
            panel_gemm(K, ld, L, d, rel->pack, nr, &scale, 0, rel->p2c, nr);
        }
        if (rel->posk)
            pack_panels(rel->pack, rel->posk + (size_t)lo * rel->ldp, d, nr, (size_t)rel->ldp, 1);
    }
    pack_panels(vp, V, L, d, 1, (size_t)ld);
    /* RR_ATT_ROWS query rows at a time: their scores, then their output. The GEMM kernel's rows
     * do not depend on the rows beside them, so this is bit for bit the whole L × L at once. */
    for (int i0 = 0; i0 < L; i0 += RR_ATT_ROWS) {
        const int i1 = i0 + RR_ATT_ROWS < L ? i0 + RR_ATT_ROWS : L;
        panel_gemm(Q + (size_t)i0 * ld, ld, i1 - i0, d, kp, L, &scale, 0, S, L);
        if (rel && rel->posk)
            panel_gemm(Q + (size_t)i0 * ld, ld, i1 - i0, d, rel->pack, nr, &scale, 0, rel->c2p, nr);
        /* P = exp(S - rowmax), unnormalised: the 1/rowsum goes on O's values after the
         * product instead of on P's */
        for (int i = i0; i < i1; i++) {
            float *row = S + (size_t)(i - i0) * L;
            if (bias) {
                const float *b = bias - i;
#pragma omp simd
                for (int j = 0; j < L; j++)
                    row[j] += b[j];
            }
            if (rel) {
                const int32_t *ix = rel->idx + i; /* ix[-j] = row of (i, j) */
                const float *cr = rel->c2p + (size_t)(i - i0) * nr - lo;
                for (int j = 0; j < L; j++) {
                    const int32_t r = ix[-j];
                    row[j] += (rel->posk ? cr[r] : 0.0f) + (rel->posq ? rel->p2c[(size_t)j * nr + r - lo] : 0.0f);
                }
            }
            const int j0 = window > 0 && i - window > 0 ? i - window : 0,
                      j1 = window > 0 && i + window < L - 1 ? i + window : L - 1;
            rsum[i] = softmax_row(row, j0, j1, 0, L);
        }
        panel_gemm(S, L, i1 - i0, L, vp, d, rsum + i0, 1, O + (size_t)i0 * ldo, ldo);
    }
}

static rr_status cpu_attention(rr_backend *be, const float *qkv, float *out) {
    cpu_backend *c = cpu(be);
    const rr_pass *p = be->pass;
    const int H = be->limits.hidden, heads = be->limits.heads, d = H / heads;
    const float scale = 1.0f / sqrtf((float)d * (float)(be->score_factor > 1 ? be->score_factor : 1));
    const int tasks = p->num_seqs * heads;
    if (be->rel_idx && (!c->rel_cols || (!be->rel_posk && !be->rel_posq)))
        return rr_error(RR_ERR_INVALID_ARG, "cpu backend: relative attention without its tables");
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->threads)
    for (int task = 0; task < tasks; task++) {
        const int s = task / heads, h = task % heads;
        const int start = p->cu_seqlens[s], L = p->cu_seqlens[s + 1] - start;
        float *base = c->scores + (size_t)omp_get_thread_num() * c->scores_stride;
        const float *Q = qkv + (size_t)start * 3 * H + (size_t)h * d; /* [L, d], stride 3H */
        const float *bias = be->attn_bias ? be->attn_bias + (size_t)h * (2 * (size_t)be->attn_bias_len - 1) +
                                                (size_t)be->attn_bias_len - 1
                                          : NULL;
        rel_terms rel = {be->rel_posk ? be->rel_posk + (size_t)h * d : NULL,
                         be->rel_posq ? be->rel_posq + (size_t)h * d : NULL, H,
                         be->rel_idx ? be->rel_idx + be->limits.max_seqlen - 1 : NULL, base + c->off_c2p,
                         base + c->off_p2c, base + c->off_ppack};
        attention_task(c, Q, Q + H, Q + 2 * H, 3 * H, L, d, scale, bias, be->rel_idx ? &rel : NULL,
                       be->attn_window, base,
                       base + c->off_rsum, base + c->off_kpack, base + c->off_vpack,
                       out + (size_t)start * H + (size_t)h * d, H);
    }
    return RR_OK;
}

/* x += r (r NULL: nothing added), then y = LayerNorm(x); y may be x */
static rr_status cpu_add_norm(rr_backend *be, float *x, const float *r, const float *gamma, const float *beta,
                              float eps, float *y) {
    const int H = be->limits.hidden;
    const int32_t T = be->pass->total_tokens;
#pragma omp parallel for schedule(static) num_threads(cpu(be)->threads)
    for (int32_t t = 0; t < T; t++) {
        float *xr = x + (size_t)t * H, *yr = y + (size_t)t * H;
        if (r) {
            const float *z = r + (size_t)t * H;
#pragma omp simd
            for (int i = 0; i < H; i++)
                xr[i] += z[i];
        }
        if (yr != xr)
            memcpy(yr, xr, (size_t)H * sizeof *yr);
        layernorm_row(yr, gamma, beta, H, eps);
    }
    return RR_OK;
}

/* BERT's post-LN x = LayerNorm(x + r): add_norm into x itself */
static rr_status cpu_add_layernorm(rr_backend *be, float *x, const float *r, const float *gamma,
                                   const float *beta, float eps) {
    return cpu_add_norm(be, x, r, gamma, beta, eps, x);
}

/* In fp32 as transformers' apply_rotary_pos_emb (q · cos + rotate_half(q) · sin); the tables
 * are the model's (made at load as transformers makes them, see model/bert.c). */
static rr_status cpu_rope(rr_backend *be, float *qkv, const float *cos, const float *sin) {
    const rr_pass *p = be->pass;
    const int H = be->limits.hidden, heads = be->limits.heads, d = H / heads, half = d / 2;
#pragma omp parallel for schedule(static) num_threads(cpu(be)->threads)
    for (int32_t s = 0; s < p->num_seqs; s++)
        for (int32_t t = p->cu_seqlens[s]; t < p->cu_seqlens[s + 1]; t++) {
            const int32_t pos = t - p->cu_seqlens[s];
            const float *cr = cos + (size_t)pos * half, *sr = sin + (size_t)pos * half;
            for (int part = 0; part < 2; part++) /* Q, then K */
                for (int h = 0; h < heads; h++) {
                    float *v = qkv + (size_t)t * 3 * H + (size_t)part * H + (size_t)h * d;
#pragma omp simd
                    for (int i = 0; i < half; i++) {
                        const float a = v[i], b = v[i + half];
                        v[i] = a * cr[i] - b * sr[i];
                        v[i + half] = b * cr[i] + a * sr[i];
                    }
                }
        }
    return RR_OK;
}

static rr_status cpu_glu(rr_backend *be, const float *x, int32_t T, int32_t I, rr_activation act, float *y) {
    if (act != RR_ACT_GELU)
        return rr_error(RR_ERR_INVALID_ARG, "cpu backend: glu with activation %d (GELU only)", (int)act);
#pragma omp parallel for schedule(static) num_threads(cpu(be)->threads)
    for (int32_t t = 0; t < T; t++) {
        const float *a = x + (size_t)t * 2 * I, *g = a + I;
        float *yr = y + (size_t)t * I;
        memcpy(yr, a, (size_t)I * sizeof *yr);
        rr_gelu_inplace(yr, (size_t)I);
#pragma omp simd
        for (int32_t i = 0; i < I; i++)
            yr[i] *= g[i];
    }
    return RR_OK;
}

static rr_status cpu_pool(rr_backend *be, const float *x, rr_pooling mode, int normalize, float *out) {
    const rr_pass *p = be->pass;
    const int H = be->limits.hidden;
#pragma omp parallel for schedule(static) num_threads(cpu(be)->threads)
    for (int32_t s = 0; s < p->num_seqs; s++) {
        const int start = p->cu_seqlens[s], L = p->cu_seqlens[s + 1] - start;
        float *o = out + (size_t)s * H;
        const float *first = x + (size_t)start * H;
        memcpy(o, first, (size_t)H * sizeof *o);
        if (mode == RR_POOL_MEAN || mode == RR_POOL_MEAN_SQRT_LEN) {
            for (int t = 1; t < L; t++) {
                const float *row = first + (size_t)t * H;
#pragma omp simd
                for (int i = 0; i < H; i++)
                    o[i] += row[i];
            }
            float div = mode == RR_POOL_MEAN ? (float)L : sqrtf((float)L);
            for (int i = 0; i < H; i++)
                o[i] /= div;
        } else if (mode == RR_POOL_MAX) {
            for (int t = 1; t < L; t++) {
                const float *row = first + (size_t)t * H;
                for (int i = 0; i < H; i++)
                    o[i] = row[i] > o[i] ? row[i] : o[i];
            }
        }
        if (normalize) {
            float ss = 0.0f;
            for (int i = 0; i < H; i++)
                ss += o[i] * o[i];
            float n = sqrtf(ss);
            float inv = 1.0f / (n > 1e-12f ? n : 1e-12f);
            for (int i = 0; i < H; i++)
                o[i] *= inv;
        }
    }
    return RR_OK;
}

static rr_status cpu_classify(rr_backend *be, const float *x, const rr_classifier_head *h,
                              float *pooled, float *pooled2, float *out) {
    const int32_t S = be->pass->num_seqs, H = be->limits.hidden;
    RR_TRY(cpu_pool(be, x, h->pool == RR_POOL_MEAN ? RR_POOL_MEAN : RR_POOL_CLS, 0, pooled));
    RR_TRY(cpu_linear(be, pooled, S, H, h->pooler_w, h->pooler_b, H, h->pooler_act, pooled2));
    if (h->norm_g)
        for (int32_t s = 0; s < S; s++)
            layernorm_row(pooled2 + (size_t)s * H, h->norm_g, h->norm_b, H, h->norm_eps);
    return cpu_linear(be, pooled2, S, H, h->cls_w, h->cls_b, h->num_labels, RR_ACT_NONE, out);
}

static const rr_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .alloc_host = cpu_alloc,
    .free_host = cpu_free,
    .download_async = cpu_download_async,
    .wait = cpu_wait,
    .upload_act = cpu_copy_act,
    .download_act = cpu_download_act,
    .prepare_weights = NULL,
    .begin_pass = cpu_begin_pass,
    .embed = cpu_embed,
    .linear = cpu_linear,
    .attention = cpu_attention,
    .add_layernorm = cpu_add_layernorm,
    .add_norm = cpu_add_norm,
    .rope = cpu_rope,
    .glu = cpu_glu,
    .pool = cpu_pool,
    .classify = cpu_classify,
};

rr_status rr_backend_cpu_create(const rr_backend_limits *limits, rr_backend **out) {
    *out = NULL;
    if (limits->max_seqlen < 1 || limits->token_budget < limits->max_seqlen ||
        limits->max_seqs < 1 || limits->hidden < 1 || limits->heads < 1 ||
        limits->hidden % limits->heads)
        return rr_error(RR_ERR_INVALID_ARG, "cpu backend: inconsistent limits");
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c)
        return rr_error(RR_ERR_NOMEM, "cpu backend: out of memory");
    c->base.ops = &cpu_ops;
    c->base.limits = *limits;
    c->threads = limits->threads > 0 ? limits->threads : omp_get_max_threads();
    openblas_set_num_threads(c->threads);
    c->max_seqlen = (size_t)limits->max_seqlen;
    {
        const size_t L = c->max_seqlen, d = (size_t)(limits->hidden / limits->heads);
#define RR_RNR(n) (((n) + RR_GEMM_NR - 1) / RR_GEMM_NR * RR_GEMM_NR) /* whole panels */
        c->off_rsum = RR_RNR((L < RR_ATT_ROWS ? L : RR_ATT_ROWS) * L);
        c->off_kpack = c->off_rsum + RR_RNR(L);
        c->off_vpack = c->off_kpack + RR_RNR(L) * d;
        c->rel_cols = limits->rel_rows > 0 ? ((size_t)limits->rel_rows < 2 * L - 1 ? (size_t)limits->rel_rows : 2 * L - 1) : 0;
        c->off_c2p = c->off_vpack + RR_RNR(d) * L;
        c->off_p2c = c->off_c2p + RR_RNR((L < RR_ATT_ROWS ? L : RR_ATT_ROWS) * c->rel_cols);
        c->off_ppack = c->off_p2c + RR_RNR(L * c->rel_cols);
        c->scores_stride = c->off_ppack + RR_RNR(c->rel_cols) * d;
#undef RR_RNR
    }
    c->scores = aligned_alloc(64, (size_t)c->threads * c->scores_stride * sizeof(float));
    if (!c->scores) {
        free(c);
        return rr_error(RR_ERR_NOMEM, "cpu backend: cannot allocate attention scratch");
    }
    if (limits->max_width > 0) {
        /* every product of the encoder has the hidden size on one side (QKV, attention out,
         * FFN up and down, pooler, classifier) and at most max_width on the other */
        const size_t r16 = RR_GEMM_NR;
        c->wpack_cap = ((size_t)limits->max_width + r16 - 1) / r16 * r16 * (((size_t)limits->hidden + r16 - 1) / r16 * r16);
        c->wpack = aligned_alloc(64, (c->wpack_cap * sizeof(float) + 63) / 64 * 64);
        if (!c->wpack) {
            cpu_destroy(&c->base);
            return rr_error(RR_ERR_NOMEM, "cpu backend: cannot allocate the GEMM scratch");
        }
    }
    *out = &c->base;
    return RR_OK;
}
