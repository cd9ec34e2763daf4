/* tests/test_cpu_ops.c — every CPU backend op against a naive double-precision reference
 * on seeded random inputs (odd lengths, a single-token sequence, many tiny sequences, one
 * long one). Tolerance: 1e-5 relative to the output's scale (fp32). NaN never passes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "model/model_internal.h"
#include "test_util.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++)
        x[i] = frand() * scale;
}

/* max |a - b| / max(1, max |b|); NaN anywhere gives +inf */
static double rel_err(const float *a, const double *b, size_t n) {
    double worst = 0, scale = 1;
    for (size_t i = 0; i < n; i++)
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i])
            return INFINITY;
        double d = fabs((double)a[i] - b[i]);
        worst = d > worst ? d : worst;
    }
    return worst / scale;
}

static void ref_layernorm(double *y, const float *g, const float *b, int H, double eps) {
    double mean = 0, var = 0;
    for (int i = 0; i < H; i++)
        mean += y[i];
    mean /= H;
    for (int i = 0; i < H; i++)
        var += (y[i] - mean) * (y[i] - mean);
    var /= H;
    for (int i = 0; i < H; i++)
        y[i] = (y[i] - mean) / sqrt(var + eps) * g[i] + b[i];
}

/* linear at the MiniLM-L6 shapes (H 384, I 1536), where products are large enough for a BLAS's
 * blocked kernels: rows computed in a call of their own, at any offset and with any M, with 1
 * or 2 threads, are bit-identical to the same rows computed with all the others. (OpenBLAS
 * 0.3.21's sgemm fails this on CPUs without AVX-512: a row's result moved with its position in
 * the call and with M, ~1e-7 relative; scores moved 8e-6 between chunkings.) */
static int check_linear_invariance(void) {
    const int H = 384, I = 1536, T = 301;
    static const int shapes[][2] = {{H, 3 * H}, {H, H}, {H, I}, {I, H}, {H, 2}}; /* K, N */
    rr_backend_limits lim = {T, 1, T, H, 12, 2, RR_PRECISION_FP32, I, 0, 0, 0};
    rr_backend *be2 = NULL, *be1 = NULL;
    REQUIRE(rr_backend_cpu_create(&lim, &be2) == RR_OK, "cpu backend: %s", rr_last_error());
    lim.threads = 1;
    REQUIRE(rr_backend_cpu_create(&lim, &be1) == RR_OK, "cpu backend: %s", rr_last_error());
    float *x = malloc((size_t)T * I * 4), *W = malloc((size_t)I * I * 4), *b = malloc((size_t)I * 4);
    float *y = malloc((size_t)T * I * 4), *y2 = malloc((size_t)T * I * 4);
    fill(x, (size_t)T * I, 1.0f);
    fill(W, (size_t)I * I, 0.05f);
    fill(b, (size_t)I, 0.5f);
    static const int ranges[][2] = {{0, 1}, {1, 2}, {5, 6}, {3, 35}, {7, 103}, {24, 120}, {100, 301}, {0, 300}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int K = shapes[si][0], N = shapes[si][1];
        CHECK(be2->ops->linear(be2, x, T, K, W, b, N, RR_ACT_NONE, y) == RR_OK);
        CHECK(be1->ops->linear(be1, x, T, K, W, b, N, RR_ACT_NONE, y2) == RR_OK);
        CHECK_MSG(!memcmp(y, y2, (size_t)T * N * 4), "linear K %d N %d: 1 thread differs from 2", K, N);
        double worst = 0; /* and it is the product: rows 0..3 against a double-precision sum */
        for (int t = 0; t < 4; t++)
            for (int n = 0; n < N; n++) {
                double acc = b[n], mag = fabs(b[n]);
                for (int k = 0; k < K; k++) {
                    acc += (double)x[(size_t)t * K + k] * W[(size_t)n * K + k];
                    mag += fabs((double)x[(size_t)t * K + k] * W[(size_t)n * K + k]);
                }
                const double err = fabs(y[(size_t)t * N + n] - acc) / mag;
                worst = err > worst ? err : worst;
            }
        CHECK_MSG(worst < 1e-6, "linear K %d N %d: error %g of the sum of magnitudes", K, N, worst);
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            const int a0 = ranges[r][0], a1 = ranges[r][1];
            CHECK(be2->ops->linear(be2, x + (size_t)a0 * K, a1 - a0, K, W, b, N, RR_ACT_NONE, y2) == RR_OK);
            CHECK_MSG(!memcmp(y2, y + (size_t)a0 * N, (size_t)(a1 - a0) * N * 4),
                      "linear K %d N %d: rows %d..%d alone differ from the same rows among %d", K, N, a0, a1, T);
        }
    }
    free(x);
    free(W);
    free(b);
    free(y);
    free(y2);
    rr_backend_destroy(be1);
    rr_backend_destroy(be2);
    return 0;
}

/* DeBERTa's disentangled terms for the reference: tables [rows, H] (NULL: no such term), the
 * row of each relative position (idx[i − j]) and the score factor */
typedef struct rel_ref {
    const float *posk, *posq;
    const int32_t *idx;
    int factor;
} rel_ref;

/* softmax(q·Kᵀ/√d + b)·V in double for row i of head h of the sequence at token `start`,
 * length L, of a fused QKV [T, 3H]: out[c] for c < d; sc holds L doubles; b[j] = bias[j − i]
 * (bias: the head's relative bias at offset 0, or NULL for none); with rel, the score is
 * (q·k + q·posk[row] + k·posq[row]) / √(d · factor); with window > 0 only the keys with
 * |i − j| <= window take part */
static void attention_ref_row_w(const float *qkv, int H, int d, int start, int L, int h, int i, const float *bias,
                                const rel_ref *rel, int window, double *sc, double *out) {
    const float *q = qkv + (size_t)(start + i) * 3 * H + h * d;
    double mx = -1e300, sum = 0;
    for (int j = 0; j < L; j++) {
        if (window > 0 && abs(i - j) > window) { /* ModernBERT's sliding layers: weight 0 */
            sc[j] = -INFINITY;
            continue;
        }
        const float *k = qkv + (size_t)(start + j) * 3 * H + H + h * d;
        double dot = 0;
        for (int c = 0; c < d; c++)
            dot += (double)q[c] * k[c];
        if (rel) {
            const size_t row = (size_t)rel->idx[i - j] * H + h * d;
            for (int c = 0; c < d; c++)
                dot += (rel->posk ? (double)q[c] * rel->posk[row + c] : 0.0) +
                       (rel->posq ? (double)k[c] * rel->posq[row + c] : 0.0);
        }
        sc[j] = dot / sqrt((double)d * (rel ? rel->factor : 1)) + (bias ? bias[j - i] : 0.0);
        mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int j = 0; j < L; j++)
        sum += (sc[j] = exp(sc[j] - mx));
    for (int c = 0; c < d; c++) {
        double acc = 0;
        for (int j = 0; j < L; j++)
            acc += sc[j] / sum * qkv[(size_t)(start + j) * 3 * H + 2 * H + h * d + c];
        out[c] = acc;
    }
}

static void attention_ref_row(const float *qkv, int H, int d, int start, int L, int h, int i, const float *bias,
                              const rel_ref *rel, double *sc, double *out) {
    attention_ref_row_w(qkv, H, d, start, L, h, i, bias, rel, 0, sc, out);
}

/* attention at BERT's head dims (32: MiniLM, 64: BERT-base) with lengths from 1 to 512,
 * without and with a relative position bias (MPNet's, a random [heads, 1023] table), and with
 * DeBERTa's disentangled terms (random [512, H] tables, DeBERTa-v3's log buckets: c2p and p2c,
 * c2p alone, p2c alone): against a double-precision softmax(QKᵀ/√d + B)V, and each sequence
 * computed in a pass of its own is bit-identical to the same sequence among the others, with 1
 * or 2 threads. */
static int check_attention_shapes(void) {
    static const int32_t lens[] = {1, 5, 16, 17, 100, 300, 512};
    const int S = (int)(sizeof lens / sizeof lens[0]);
    int32_t cu[8] = {0};
    for (int s = 0; s < S; s++)
        cu[s + 1] = cu[s] + lens[s];
    const int T = cu[S];
    static const int dims[][2] = {{384, 12}, {384, 6}}; /* H, heads: d 32 and 64 */
    int32_t idx[1023]; /* DeBERTa-v3's rows (position_buckets 256, max_relative_positions 512) */
    for (int r = -511; r <= 511; r++) {
        const int32_t row = rr_log_bucket(r, 256, 512) + 256;
        idx[r + 511] = row < 0 ? 0 : row > 511 ? 511 : row;
    }
    static const char *const names[] = {"", " (bias)", " (c2p + p2c)", " (c2p)", " (p2c)"};
    for (int variant = 0; variant < 7; variant++) {
        const int di = variant % 2, biased = variant == 2 || variant == 3, rel = variant >= 4 ? variant - 3 : 0;
        const int H = dims[di][0], heads = dims[di][1], d = H / heads;
        const char *vname = names[rel ? 1 + rel : biased];
        rr_backend_limits lim = {T, S, 512, H, heads, 2, RR_PRECISION_FP32, 4 * H, biased, rel ? 512 : 0, 0};
        rr_backend *be2 = NULL, *be1 = NULL;
        REQUIRE(rr_backend_cpu_create(&lim, &be2) == RR_OK, "cpu backend: %s", rr_last_error());
        lim.threads = 1;
        REQUIRE(rr_backend_cpu_create(&lim, &be1) == RR_OK, "cpu backend: %s", rr_last_error());
        float *qkv = malloc((size_t)T * 3 * H * 4), *o = malloc((size_t)T * H * 4), *o1 = malloc((size_t)T * H * 4);
        double *sc = malloc(512 * sizeof *sc);
        float *table = malloc((size_t)heads * 1023 * sizeof *table);
        float *posk = malloc((size_t)512 * H * sizeof *posk), *posq = malloc((size_t)512 * H * sizeof *posq);
        fill(qkv, (size_t)T * 3 * H, 2.0f);
        fill(table, (size_t)heads * 1023, 3.0f);
        fill(posk, (size_t)512 * H, 2.0f);
        fill(posq, (size_t)512 * H, 2.0f);
        if (biased) {
            be1->attn_bias = be2->attn_bias = table;
            be1->attn_bias_len = be2->attn_bias_len = 512;
        }
        const rel_ref rr = {rel != 3 ? posk : NULL, rel != 2 ? posq : NULL, idx + 511, rel == 1 ? 3 : 2};
        if (rel) {
            be1->rel_idx = be2->rel_idx = idx;
            be1->rel_posk = be2->rel_posk = rr.posk;
            be1->rel_posq = be2->rel_posq = rr.posq;
            be1->score_factor = be2->score_factor = rr.factor;
        }
        rr_pass pass = {S, T, 512, NULL, NULL, cu};
        CHECK(be2->ops->begin_pass(be2, &pass) == RR_OK);
        CHECK(be2->ops->attention(be2, qkv, o) == RR_OK);
        CHECK(be1->ops->begin_pass(be1, &pass) == RR_OK);
        CHECK(be1->ops->attention(be1, qkv, o1) == RR_OK);
        CHECK_MSG(!memcmp(o, o1, (size_t)T * H * 4), "attention d %d%s: 1 thread differs from 2", d, vname);
        double worst = 0;
        for (int s = 0; s < S; s++) {
            const int L = lens[s];
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < L; i += (L > 64 ? 7 : 1)) { /* every 7th row of the long ones */
                    double want[64];
                    attention_ref_row(qkv, H, d, cu[s], L, h, i, biased ? table + h * 1023 + 511 : NULL,
                                      rel ? &rr : NULL, sc, want);
                    for (int c = 0; c < d; c++) {
                        const double err = fabs(o[(size_t)(cu[s] + i) * H + h * d + c] - want[c]); /* V in [-2, 2] */
                        worst = err > worst ? err : worst;
                    }
                }
            /* the sequence in a pass of its own */
            int32_t cu1[2] = {0, L};
            rr_pass one = {1, L, L, NULL, NULL, cu1};
            CHECK(be2->ops->begin_pass(be2, &one) == RR_OK);
            CHECK(be2->ops->attention(be2, qkv + (size_t)cu[s] * 3 * H, o1) == RR_OK);
            CHECK_MSG(!memcmp(o1, o + (size_t)cu[s] * H, (size_t)L * H * 4),
                      "attention d %d%s: the %d-token sequence alone differs from it among %d", d, vname, L, S);
        }
        CHECK_MSG(worst < 1e-5, "attention d %d%s: worst absolute error %g", d, vname, worst);
        printf("attention d %d%s: worst absolute error %.2e\n", d, vname, worst);
        free(posk);
        free(posq);
        free(table);
        free(qkv);
        free(o);
        free(o1);
        free(sc);
        rr_backend_destroy(be1);
        rr_backend_destroy(be2);
    }
    return 0;
}

/* ModernBERT's ops on the pass of main (cu, lens): the sliding window (3: sequences of 1 to 64
 * tokens, so some rows see the whole sequence and some a part), rotary positions against the
 * rotate-half formula in double (random tables: the op's contract is the formula, the model
 * makes the tables), GeGLU, pre-LayerNorm add_norm (with r and with r NULL), and the classifier
 * head with a LayerNorm after the activation and mean or CLS pooling. x [T, H], r [T, H],
 * W [I, H] (also read as [2, H] and [H, H]), bias [I], qkv [T, 3H]; ref holds T · 3H doubles. */
static int check_modernbert_ops(rr_backend *be, const rr_pass *pass, float *x, const float *r, const float *g,
                                const float *b, const float *W, const float *bias, const float *qkv, double *ref,
                                int I) {
    const int H = be->limits.hidden, heads = be->limits.heads, d = H / heads, half = d / 2;
    const int T = pass->total_tokens, S = pass->num_seqs;
    const int32_t *cu = pass->cu_seqlens;
    double e;
    float *att = malloc((size_t)T * H * 4 + 64), *q2 = malloc((size_t)T * 3 * H * 4);
    float *cs = malloc((size_t)64 * half * 4), *sn = malloc((size_t)64 * half * 4);
    float *y = malloc((size_t)T * 2 * I * 4), *gl = malloc((size_t)T * I * 4 + 64);
    float *x0 = malloc((size_t)T * H * 4), *yn = malloc((size_t)T * H * 4 + 64);
    const float canary = -12345.0f;
    /* sliding window */
    be->attn_window = 3;
    att[(size_t)T * H] = canary;
    CHECK(be->ops->attention(be, qkv, att) == RR_OK);
    be->attn_window = 0;
    CHECK(att[(size_t)T * H] == canary);
    for (int s = 0; s < S; s++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < cu[s + 1] - cu[s]; i++) {
                double sc[64], want[64];
                attention_ref_row_w(qkv, H, d, cu[s], cu[s + 1] - cu[s], h, i, NULL, NULL, 3, sc, want);
                for (int c = 0; c < d; c++)
                    ref[(size_t)(cu[s] + i) * H + h * d + c] = want[c];
            }
    e = rel_err(att, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "attention with a sliding window of 3: error %g", e);
    /* rope */
    fill(cs, (size_t)64 * half, 1.0f);
    fill(sn, (size_t)64 * half, 1.0f);
    memcpy(q2, qkv, (size_t)T * 3 * H * 4);
    CHECK(be->ops->rope(be, q2, cs, sn) == RR_OK);
    for (int s = 0; s < S; s++)
        for (int t = cu[s]; t < cu[s + 1]; t++)
            for (int c = 0; c < 3 * H; c++) {
                const int part = c / H, h = c % H / d, k = c % d;
                const float *v = qkv + (size_t)t * 3 * H + (size_t)part * H + (size_t)h * d;
                const int p = t - cu[s], i = k % half;
                const double co = cs[p * half + i], si = sn[p * half + i];
                ref[(size_t)t * 3 * H + c] = part == 2 ? v[k]
                                             : k < half ? (double)v[i] * co - (double)v[i + half] * si
                                                        : (double)v[i + half] * co + (double)v[i] * si;
            }
    e = rel_err(q2, ref, (size_t)T * 3 * H);
    CHECK_MSG(e < 1e-6, "rope error %g", e);
    /* glu */
    fill(y, (size_t)T * 2 * I, 3.0f);
    gl[(size_t)T * I] = canary;
    CHECK(be->ops->glu(be, y, T, I, RR_ACT_GELU, gl) == RR_OK);
    CHECK(gl[(size_t)T * I] == canary);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < I; i++) {
            const double a = y[(size_t)t * 2 * I + i];
            ref[(size_t)t * I + i] = 0.5 * a * (1 + erf(a / sqrt(2.0))) * y[(size_t)t * 2 * I + I + i];
        }
    e = rel_err(gl, ref, (size_t)T * I);
    CHECK_MSG(e < 1e-5, "glu error %g", e);
    /* add_norm: x += r, yn = LayerNorm(x); then with r NULL */
    memcpy(x0, x, (size_t)T * H * 4);
    yn[(size_t)T * H] = canary;
    CHECK(be->ops->add_norm(be, x, r, g, b, 1e-5f, yn) == RR_OK);
    CHECK(yn[(size_t)T * H] == canary);
    for (size_t i = 0; i < (size_t)T * H; i++)
        ref[i] = (double)x0[i] + r[i];
    e = rel_err(x, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-6, "add_norm: the residual sum's error %g", e);
    for (int t = 0; t < T; t++)
        ref_layernorm(ref + (size_t)t * H, g, b, H, 1e-5);
    e = rel_err(yn, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "add_norm error %g", e);
    memcpy(x0, x, (size_t)T * H * 4);
    CHECK(be->ops->add_norm(be, x, NULL, g, b, 1e-5f, yn) == RR_OK);
    CHECK_MSG(!memcmp(x0, x, (size_t)T * H * 4), "add_norm with r NULL changed x");
    for (size_t i = 0; i < (size_t)T * H; i++)
        ref[i] = x[i];
    for (int t = 0; t < T; t++)
        ref_layernorm(ref + (size_t)t * H, g, b, H, 1e-5);
    e = rel_err(yn, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "add_norm without r: error %g", e);
    /* the head: pool (mean or CLS) → dense (no bias) + GELU → LayerNorm → classifier [2, H] */
    for (int mode = 0; mode < 2; mode++) {
        const rr_pooling pm = mode ? RR_POOL_MEAN : RR_POOL_CLS;
        float *pooled = malloc((size_t)S * H * 4), *pooled2 = malloc((size_t)S * H * 4), *out = malloc((size_t)S * 2 * 4 + 64);
        rr_classifier_head head = {W, NULL, RR_ACT_GELU, W + (size_t)H * H, bias, 2, pm, g, b, 1e-5f};
        out[S * 2] = canary;
        CHECK(be->ops->classify(be, x, &head, pooled, pooled2, out) == RR_OK);
        CHECK(out[S * 2] == canary);
        for (int s = 0; s < S; s++) {
            double pv[64], hv[64];
            for (int i = 0; i < H; i++) {
                pv[i] = 0;
                for (int t = cu[s]; t < (mode ? cu[s + 1] : cu[s] + 1); t++)
                    pv[i] += x[(size_t)t * H + i];
                pv[i] /= mode ? cu[s + 1] - cu[s] : 1;
            }
            for (int n = 0; n < H; n++) {
                double acc = 0;
                for (int k = 0; k < H; k++)
                    acc += (double)W[(size_t)n * H + k] * pv[k];
                hv[n] = 0.5 * acc * (1 + erf(acc / sqrt(2.0)));
            }
            ref_layernorm(hv, g, b, H, 1e-5);
            for (int n = 0; n < 2; n++) {
                double acc = bias[n];
                for (int k = 0; k < H; k++)
                    acc += (double)W[(size_t)H * H + (size_t)n * H + k] * hv[k];
                ref[(size_t)s * 2 + n] = acc;
            }
        }
        e = rel_err(out, ref, (size_t)S * 2);
        CHECK_MSG(e < 1e-5, "classify with a LayerNorm, %s pooling: error %g", mode ? "mean" : "CLS", e);
        free(pooled);
        free(pooled2);
        free(out);
    }
    free(att); free(q2); free(cs); free(sn); free(y); free(gl); free(x0); free(yn);
    return 0;
}

int main(void) {
    /* elementwise: GELU against erf in double on a dense grid */
    double worst = 0;
    for (int i = -200000; i <= 200000; i++) {
        float x = (float)i * 5e-5f * 10.0f; /* [-100, 100] */
        double ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double d = fabs((double)rr_gelu_ref(x) - ref) / (fabs(x) > 1 ? fabs(x) : 1);
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst < 5e-7, "gelu worst relative error %g", worst);

    const int H = 48, heads = 4, d = H / heads, V = 50, P = 65, TV = 2, I = 96; /* P: 64 + the pad row */
    /* sequences: odd lengths, a single token, many tiny ones, the longest allowed */
    int32_t lens[] = {7, 1, 33, 2, 2, 3, 64, 1, 5, 17};
    const int S = (int)(sizeof lens / sizeof lens[0]);
    int32_t cu[16];
    cu[0] = 0;
    for (int s = 0; s < S; s++)
        cu[s + 1] = cu[s] + lens[s];
    const int T = cu[S];
    int32_t *ids = malloc((size_t)T * sizeof *ids), *types = malloc((size_t)T * sizeof *types);
    for (int t = 0; t < T; t++) {
        ids[t] = (int32_t)((frand() + 1.0f) * 0.5f * (V - 1));
        types[t] = t % 3 == 0;
    }
    rr_backend_limits lim = {T, S, 64, H, heads, 2, RR_PRECISION_FP32, I, 0, 0, 0};
    rr_backend *be;
    REQUIRE(rr_backend_cpu_create(&lim, &be) == RR_OK, "backend");
    rr_pass pass = {S, T, 64, ids, types, cu};
    REQUIRE(be->ops->begin_pass(be, &pass) == RR_OK, "begin_pass");

    /* embed + LN */
    float *word = malloc((size_t)V * H * 4), *pos = malloc((size_t)P * H * 4), *type = malloc((size_t)TV * H * 4);
    float *g = malloc((size_t)H * 4), *b = malloc((size_t)H * 4);
    fill(word, (size_t)V * H, 1);
    fill(pos, (size_t)P * H, 0.5f);
    fill(type, (size_t)TV * H, 0.2f);
    fill(g, (size_t)H, 1);
    fill(b, (size_t)H, 0.1f);
    float *x = malloc((size_t)T * H * 4 + 64);
    float canary = -12345.0f;
    x[(size_t)T * H] = canary;
    CHECK(be->ops->embed(be, word, pos, type, g, b, 1e-12f, V, TV, x) == RR_OK);
    CHECK(x[(size_t)T * H] == canary);
    double *ref = malloc((size_t)T * 3 * H * sizeof *ref + (size_t)T * I * sizeof *ref);
    for (int s = 0; s < S; s++)
        for (int t = cu[s]; t < cu[s + 1]; t++) {
            for (int i = 0; i < H; i++)
                ref[(size_t)t * H + i] = (double)word[(size_t)ids[t] * H + i] +
                                         pos[(size_t)(t - cu[s]) * H + i] + type[(size_t)types[t] * H + i];
            ref_layernorm(ref + (size_t)t * H, g, b, H, 1e-12);
        }
    double e = rel_err(x, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "embed error %g", e);
    /* with skip_pad (MPNet, XLM-R): tokens of id pad_id take the row before position 0 and
     * are not counted; the table then starts a row later */
    be->skip_pad = 1;
    be->pad_id = ids[T / 2];
    CHECK(be->ops->embed(be, word, pos + H, type, g, b, 1e-12f, V, TV, x) == RR_OK);
    int skipped = 0;
    for (int s = 0; s < S; s++)
        for (int t = cu[s], k = 0; t < cu[s + 1]; t++) {
            const int row = ids[t] == be->pad_id ? 0 : 1 + k++;
            skipped += ids[t] == be->pad_id;
            for (int i = 0; i < H; i++)
                ref[(size_t)t * H + i] = (double)word[(size_t)ids[t] * H + i] + pos[(size_t)row * H + i] +
                                         type[(size_t)types[t] * H + i];
            ref_layernorm(ref + (size_t)t * H, g, b, H, 1e-12);
        }
    e = rel_err(x, ref, (size_t)T * H);
    CHECK_MSG(skipped > 0 && e < 1e-5, "embed with pad positions: error %g (%d pad tokens)", e, skipped);
    be->skip_pad = 0;

    /* an id outside the vocabulary is refused, not read out of bounds */
    ids[3] = V;
    CHECK(be->ops->embed(be, word, pos, type, g, b, 1e-12f, V, TV, x) == RR_ERR_INVALID_ARG);
    ids[3] = 1;

    /* linear with bias and each activation */
    float *W = malloc((size_t)I * H * 4), *bias = malloc((size_t)I * 4), *y = malloc((size_t)T * I * 4 + 64);
    fill(W, (size_t)I * H, 0.3f);
    fill(bias, (size_t)I, 0.5f);
    rr_activation acts[] = {RR_ACT_NONE, RR_ACT_GELU, RR_ACT_TANH, RR_ACT_RELU, RR_ACT_SILU};
    for (int a = 0; a < 5; a++) {
        y[(size_t)T * I] = canary;
        CHECK(be->ops->linear(be, x, T, H, W, bias, I, acts[a], y) == RR_OK);
        CHECK(y[(size_t)T * I] == canary);
        for (int t = 0; t < T; t++)
            for (int n = 0; n < I; n++) {
                double acc = bias[n];
                for (int k = 0; k < H; k++)
                    acc += (double)x[(size_t)t * H + k] * W[(size_t)n * H + k];
                if (acts[a] == RR_ACT_GELU)
                    acc = 0.5 * acc * (1 + erf(acc / sqrt(2.0)));
                else if (acts[a] == RR_ACT_TANH)
                    acc = tanh(acc);
                else if (acts[a] == RR_ACT_RELU)
                    acc = acc < 0 ? 0 : acc;
                else if (acts[a] == RR_ACT_SILU)
                    acc = acc / (1 + exp(-acc));
                ref[(size_t)t * I + n] = acc;
            }
        e = rel_err(y, ref, (size_t)T * I);
        CHECK_MSG(e < 1e-5, "linear act %d error %g", a, e);
    }

    /* Row blocks (RR_LINEAR_ROWS): rows computed in a call of their own, at another offset and
     * with another M, are bit-identical to the same rows computed with all the others — what
     * makes scores independent of how sequences are packed into passes. */
    CHECK(be->ops->linear(be, x, T, H, W, bias, I, RR_ACT_GELU, y) == RR_OK);
    {
        const int ranges[][2] = {{0, 7}, {5, 45}, {33, T}, {T - 1, T}, {1, T}};
        float *y2 = malloc((size_t)T * I * 4);
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            const int a0 = ranges[r][0], a1 = ranges[r][1] < T ? ranges[r][1] : T;
            if (a0 >= a1)
                continue;
            CHECK(be->ops->linear(be, x + (size_t)a0 * H, a1 - a0, H, W, bias, I, RR_ACT_GELU, y2) == RR_OK);
            CHECK_MSG(!memcmp(y2, y + (size_t)a0 * I, (size_t)(a1 - a0) * I * 4),
                      "linear rows %d..%d alone differ from the same rows in the whole batch", a0, a1);
        }
        free(y2);
    }
    /* The FFN block (rr_backend_ffn) in pieces of 7 and of 32 rows: bit-identical to one piece
     * (W serves as the down weight [H, I] too). */
    {
        float *ffs = malloc((size_t)T * I * 4), *y1 = malloc((size_t)T * H * 4), *y2 = malloc((size_t)T * H * 4);
        be->ffn_rows = 0;
        CHECK(rr_backend_ffn(be, x, T, H, W, bias, I, W, bias, ffs, y1) == RR_OK);
        const int32_t pieces[] = {7, 32};
        for (int i = 0; i < 2; i++) {
            be->ffn_rows = pieces[i];
            CHECK(rr_backend_ffn(be, x, T, H, W, bias, I, W, bias, ffs, y2) == RR_OK);
            CHECK_MSG(!memcmp(y1, y2, (size_t)T * H * 4), "ffn block in pieces of %d rows differs", pieces[i]);
        }
        be->ffn_rows = 0;
        free(ffs);
        free(y1);
        free(y2);
    }

    /* attention from a fused QKV */
    float *qkv = malloc((size_t)T * 3 * H * 4), *att = malloc((size_t)T * H * 4 + 64);
    fill(qkv, (size_t)T * 3 * H, 2.0f);
    att[(size_t)T * H] = canary;
    CHECK(be->ops->attention(be, qkv, att) == RR_OK);
    CHECK(att[(size_t)T * H] == canary);
    for (int s = 0; s < S; s++) {
        int L = lens[s];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < L; i++) {
                double sc[64], want[64];
                attention_ref_row(qkv, H, d, cu[s], L, h, i, NULL, NULL, sc, want);
                for (int c = 0; c < d; c++)
                    ref[(size_t)(cu[s] + i) * H + h * d + c] = want[c];
            }
    }
    e = rel_err(att, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "attention error %g", e);

    /* add + LayerNorm */
    float *r = malloc((size_t)T * H * 4);
    fill(r, (size_t)T * H, 1.0f);
    for (size_t i = 0; i < (size_t)T * H; i++)
        ref[i] = (double)x[i] + r[i];
    for (int t = 0; t < T; t++)
        ref_layernorm(ref + (size_t)t * H, g, b, H, 1e-12);
    CHECK(be->ops->add_layernorm(be, x, r, g, b, 1e-12f) == RR_OK);
    e = rel_err(x, ref, (size_t)T * H);
    CHECK_MSG(e < 1e-5, "add_layernorm error %g", e);

    /* ModernBERT's ops (add_norm, rope, glu, the sliding window, its head) */
    if (check_modernbert_ops(be, &pass, x, r, g, b, W, bias, qkv, ref, I))
        return 1;

    /* pooling: each mode, with and without L2 normalisation */
    float *pooled = malloc((size_t)S * H * 4 + 64);
    rr_pooling modes[] = {RR_POOL_CLS, RR_POOL_MEAN, RR_POOL_MAX, RR_POOL_MEAN_SQRT_LEN};
    for (int m = 0; m < 4; m++)
        for (int norm = 0; norm < 2; norm++) {
            pooled[(size_t)S * H] = canary;
            CHECK(be->ops->pool(be, x, modes[m], norm, pooled) == RR_OK);
            CHECK(pooled[(size_t)S * H] == canary);
            for (int s = 0; s < S; s++) {
                double ss = 0;
                for (int i = 0; i < H; i++) {
                    double acc = modes[m] == RR_POOL_MAX ? -1e300 : 0;
                    for (int t = cu[s]; t < cu[s + 1]; t++) {
                        double v = x[(size_t)t * H + i];
                        if (modes[m] == RR_POOL_CLS) {
                            acc = x[(size_t)cu[s] * H + i];
                            break;
                        }
                        acc = modes[m] == RR_POOL_MAX ? (v > acc ? v : acc) : acc + v;
                    }
                    if (modes[m] == RR_POOL_MEAN)
                        acc /= lens[s];
                    if (modes[m] == RR_POOL_MEAN_SQRT_LEN)
                        acc /= sqrt((double)lens[s]);
                    ref[(size_t)s * H + i] = acc;
                    ss += acc * acc;
                }
                if (norm)
                    for (int i = 0; i < H; i++)
                        ref[(size_t)s * H + i] /= sqrt(ss);
            }
            e = rel_err(pooled, ref, (size_t)S * H);
            CHECK_MSG(e < 1e-5, "pool mode %d norm %d error %g", m, norm, e);
        }

    /* a pass beyond the limits is refused */
    rr_pass big = pass;
    big.max_seqlen = 65;
    CHECK(be->ops->begin_pass(be, &big) == RR_ERR_INVALID_ARG);

    rr_backend_destroy(be);
    if (check_linear_invariance() || check_attention_shapes())
        return 1;
    free(ids); free(types); free(word); free(pos); free(type); free(g); free(b); free(x);
    free(ref); free(W); free(bias); free(y); free(qkv); free(att); free(r); free(pooled);
    TEST_DONE();
}
