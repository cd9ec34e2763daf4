/* tests/test_head_fit.c — the head solver of `rerank fit-head` (model/head_fit.h) on
 * synthetic data: the gradient, recomputed here independently, vanishes at the solution
 * (logistic and pairwise); the fit ranks a planted signal; the result is bit-identical at 1
 * and 3 threads; AUC with ties against a hand count; one-class data is an error. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "model/head_fit.h"
#include "test_util.h"

enum { Q = 20, PER_Q = 20, N = Q * PER_Q, H = 16 };

static uint64_t lcg_state = 12345;
static double uniform(void) { /* [-1, 1) */
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static float x[N * H];
static uint8_t label[N];
static size_t first[Q + 1];

static double sig(double s) { return 1.0 / (1.0 + exp(-s)); }

/* max |gradient| of the logistic objective at (w, b), from its definition */
static double logistic_grad_max(const rr_head_data *d, const float *w, float b, double l2) {
    double g[H + 1] = {0};
    size_t pos = 0, neg = 0;
    for (size_t i = 0; i < d->num_rows; i++)
        d->label[i] ? pos++ : neg++;
    for (size_t i = 0; i < d->num_rows; i++) {
        double s = b;
        for (int k = 0; k < H; k++)
            s += (double)w[k] * d->x[i * H + k];
        double c = d->label[i] ? 0.5 / (double)pos : 0.5 / (double)neg;
        double r = c * (sig(s) - d->label[i]);
        for (int k = 0; k < H; k++)
            g[k] += r * d->x[i * H + k];
        g[H] += r;
    }
    double m = 0;
    for (int k = 0; k <= H; k++) {
        double v = fabs(g[k] + (k < H ? l2 * w[k] : 0));
        m = v > m ? v : m;
    }
    return m;
}

static double pairwise_grad_max(const rr_head_data *d, const float *w, double l2) {
    double g[H] = {0};
    size_t ranked = 0;
    for (size_t q = 0; q < d->num_queries; q++) {
        size_t p = 0, n = 0;
        for (size_t i = d->first[q]; i < d->first[q + 1]; i++)
            d->label[i] ? p++ : n++;
        ranked += p && n;
    }
    for (size_t q = 0; q < d->num_queries; q++) {
        size_t p = 0, n = 0;
        for (size_t i = d->first[q]; i < d->first[q + 1]; i++)
            d->label[i] ? p++ : n++;
        if (!p || !n)
            continue;
        for (size_t i = d->first[q]; i < d->first[q + 1]; i++)
            for (size_t j = d->first[q]; j < d->first[q + 1]; j++) {
                if (!d->label[i] || d->label[j])
                    continue;
                double s = 0;
                for (int k = 0; k < H; k++)
                    s += (double)w[k] * ((double)d->x[i * H + k] - d->x[j * H + k]);
                double r = (sig(s) - 1.0) / ((double)ranked * (double)p * (double)n);
                for (int k = 0; k < H; k++)
                    g[k] += r * ((double)d->x[i * H + k] - d->x[j * H + k]);
            }
    }
    double m = 0;
    for (int k = 0; k < H; k++) {
        double v = fabs(g[k] + l2 * w[k]);
        m = v > m ? v : m;
    }
    return m;
}

int main(void) {
    double planted[H];
    for (int k = 0; k < H; k++)
        planted[k] = uniform() * 2.0;
    for (size_t q = 0; q <= Q; q++)
        first[q] = q * PER_Q;
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < H; k++) {
            x[i * H + k] = (float)uniform();
            s += planted[k] * x[i * H + k];
        }
        label[i] = s + 0.5 * uniform() > 1.0; /* noisy, imbalanced */
    }
    rr_head_data d = {N, H, x, label, Q, first};
    float w[H], w3[H], b, b3;
    double scores[N];
    rr_head_fit_result res;

    /* logistic: the gradient vanishes at the solution, the planted signal is found */
    rr_head_fit_params p = rr_head_fit_default_params();
    p.l2 = 1e-2;
    omp_set_num_threads(1);
    CHECK(rr_head_fit(&d, NULL, &p, w, &b, &res) == RR_OK);
    double gm = logistic_grad_max(&d, w, b, p.l2);
    CHECK_MSG(gm < 1e-6, "logistic gradient %.3g at the solution", gm);
    CHECK(res.iterations > 1 && res.iterations < 50 && res.num_terms == N);
    rr_head_auc auc;
    rr_head_scores(&d, w, b, scores);
    CHECK(rr_head_auc_compute(&d, NULL, scores, &auc) == RR_OK);
    CHECK_MSG(auc.pooled > 0.9 && auc.per_query > 0.9, "AUC pooled %.3f per query %.3f", auc.pooled, auc.per_query);
    /* bit-identical at 3 threads */
    omp_set_num_threads(3);
    CHECK(rr_head_fit(&d, NULL, &p, w3, &b3, &res) == RR_OK);
    CHECK(!memcmp(w, w3, sizeof w) && !memcmp(&b, &b3, sizeof b));

    /* a subset of queries: only those count */
    uint8_t include[Q];
    for (int q = 0; q < Q; q++)
        include[q] = q % 2;
    CHECK(rr_head_fit(&d, include, &p, w3, &b3, &res) == RR_OK && res.num_terms == N / 2);

    /* pairwise: no bias, gradient vanishes, ranks within queries */
    p.objective = RR_HEAD_PAIRWISE;
    p.l2 = 1e-3;
    CHECK(rr_head_fit(&d, NULL, &p, w, &b, &res) == RR_OK);
    CHECK(b == 0.0f);
    gm = pairwise_grad_max(&d, w, p.l2);
    CHECK_MSG(gm < 1e-6, "pairwise gradient %.3g at the solution", gm);
    rr_head_scores(&d, w, b, scores);
    CHECK(rr_head_auc_compute(&d, NULL, scores, &auc) == RR_OK);
    CHECK_MSG(auc.per_query > 0.9, "pairwise AUC per query %.3f", auc.per_query);
    omp_set_num_threads(1);
    CHECK(rr_head_fit(&d, NULL, &p, w3, &b3, &res) == RR_OK);
    CHECK(!memcmp(w, w3, sizeof w));

    /* AUC by hand: negatives 0.1, 0.4; positives 0.4 (tie: half), 0.8 -> (1 + 0.5 + 2) / 4
     * pooled; each query (0.1 vs 0.4, 0.4 vs 0.8) ranks perfectly: 1 per query */
    float tx[4 * H] = {0};
    uint8_t tl[4] = {0, 1, 0, 1};
    size_t tf[3] = {0, 2, 4};
    double ts[4] = {0.1, 0.4, 0.4, 0.8};
    rr_head_data td = {4, H, tx, tl, 2, tf};
    CHECK(rr_head_auc_compute(&td, NULL, ts, &auc) == RR_OK);
    CHECK_MSG(fabs(auc.pooled - 0.875) < 1e-12, "pooled %.6f", auc.pooled);
    CHECK_MSG(fabs(auc.per_query - 1.0) < 1e-12 && auc.num_ranked_queries == 2, "per query %.6f", auc.per_query);

    /* one class only: an error, not a fit */
    memset(label, 1, sizeof label);
    p.objective = RR_HEAD_LOGISTIC;
    CHECK(rr_head_fit(&d, NULL, &p, w, &b, &res) == RR_ERR_INVALID_ARG);
    p.objective = RR_HEAD_PAIRWISE;
    CHECK(rr_head_fit(&d, NULL, &p, w, &b, &res) == RR_ERR_INVALID_ARG);
    TEST_DONE();
}
