/* model/head_fit.c — Newton's method for a linear head on frozen features (head_fit.h).
 *
 * Both objectives reduce to one weighted logistic problem over "terms" z_m with targets t_m
 * and weights c_m (Σ c = 1): logistic terms are [x_i, 1] with the pair's label and class
 * weights; pairwise terms are x_p - x_n with target 1 (no bias). With s = Z·w:
 *   f = Σ c (softplus(s) - t·s) + λ/2·|w_reg|²,  g = Zᵀ(c·(σ(s) - t)) + λ·w_reg,
 *   Hessian = Zᵀ diag(c·σ(1-σ)) Z + λ·I_reg,
 * solved by Cholesky each step, with an Armijo backtracking line search. D ≈ 385, so a
 * step costs one pass over Z for the Hessian (M·D²/2 multiply-adds) and is exact.
 * Letters: M terms, D parameters (H + 1 logistic, H pairwise), N rows, H features.
 */
#include "model/head_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

rr_head_fit_params rr_head_fit_default_params(void) {
    rr_head_fit_params p;
    memset(&p, 0, sizeof p);
    p.objective = RR_HEAD_LOGISTIC;
    p.l2 = 1e-3;
    p.max_iter = 100;
    p.tol = 1e-9;
    return p;
}

static double softplus(double s) { return s > 0 ? s + log1p(exp(-s)) : log1p(exp(s)); }
static double sigmoid(double s) {
    if (s >= 0)
        return 1.0 / (1.0 + exp(-s));
    double e = exp(s);
    return e / (1.0 + e);
}

typedef struct terms {
    size_t M;
    int32_t D, H;    /* D parameters; the first H are regularised */
    double *z;       /* [M, D] */
    double *t;       /* [M] targets */
    double *c;       /* [M] weights, Σ = 1 */
} terms;

static void terms_free(terms *T) {
    free(T->z);
    free(T->t);
    free(T->c);
}

static rr_status build_terms(const rr_head_data *d, const uint8_t *include, rr_head_objective obj, terms *T) {
    const int32_t H = d->dim;
    memset(T, 0, sizeof *T);
    T->H = H;
    T->D = obj == RR_HEAD_LOGISTIC ? H + 1 : H;
    size_t pos = 0, neg = 0, M = 0, ranked_q = 0;
    for (size_t q = 0; q < d->num_queries; q++) {
        if (include && !include[q])
            continue;
        size_t p = 0, n = 0;
        for (size_t i = d->first[q]; i < d->first[q + 1]; i++)
            d->label[i] ? p++ : n++;
        pos += p;
        neg += n;
        if (obj == RR_HEAD_LOGISTIC)
            M += p + n;
        else if (p && n) {
            M += p * n;
            ranked_q++;
        }
    }
    if (!pos || !neg)
        return rr_error(RR_ERR_INVALID_ARG, "fit-head: %zu positive and %zu negative pairs: need both", pos, neg);
    if (obj == RR_HEAD_PAIRWISE && !ranked_q)
        return rr_error(RR_ERR_INVALID_ARG, "fit-head: pairwise: no query has both a positive and a negative");
    T->M = M;
    T->z = malloc(M * (size_t)T->D * sizeof *T->z);
    T->t = malloc(M * sizeof *T->t);
    T->c = malloc(M * sizeof *T->c);
    if (!T->z || !T->t || !T->c) {
        terms_free(T);
        return rr_error(RR_ERR_NOMEM, "fit-head: out of memory for %zu terms of %d parameters", M, T->D);
    }
    size_t m = 0;
    for (size_t q = 0; q < d->num_queries; q++) {
        if (include && !include[q])
            continue;
        size_t a = d->first[q], e = d->first[q + 1];
        if (obj == RR_HEAD_LOGISTIC) {
            for (size_t i = a; i < e; i++, m++) {
                double *z = T->z + m * (size_t)T->D;
                for (int32_t k = 0; k < H; k++)
                    z[k] = d->x[i * (size_t)H + (size_t)k];
                z[H] = 1.0;
                T->t[m] = d->label[i] ? 1.0 : 0.0;
                /* balanced classes: positives and negatives weigh half each */
                T->c[m] = d->label[i] ? 0.5 / (double)pos : 0.5 / (double)neg;
            }
        } else {
            size_t p = 0, n = 0;
            for (size_t i = a; i < e; i++)
                d->label[i] ? p++ : n++;
            if (!p || !n)
                continue;
            double cq = 1.0 / ((double)ranked_q * (double)p * (double)n);
            for (size_t i = a; i < e; i++) {
                if (!d->label[i])
                    continue;
                for (size_t j = a; j < e; j++) {
                    if (d->label[j])
                        continue;
                    double *z = T->z + m * (size_t)T->D;
                    const float *xp = d->x + i * (size_t)H, *xn = d->x + j * (size_t)H;
                    for (int32_t k = 0; k < H; k++)
                        z[k] = (double)xp[k] - (double)xn[k];
                    T->t[m] = 1.0;
                    T->c[m] = cq;
                    m++;
                }
            }
        }
    }
    RR_CHECK_INVARIANT(m == M);
    return RR_OK;
}

/* f at scores s, and its data part */
static double objective(const terms *T, const double *s, const double *w, double l2, double *data_loss) {
    double f = 0;
    for (size_t m = 0; m < T->M; m++)
        f += T->c[m] * (softplus(s[m]) - T->t[m] * s[m]);
    double r = 0;
    for (int32_t k = 0; k < T->H; k++)
        r += w[k] * w[k];
    if (data_loss)
        *data_loss = f;
    return f + 0.5 * l2 * r;
}

/* y[M] = Z·v */
static void matvec(const terms *T, const double *v, double *y) {
    for (size_t m = 0; m < T->M; m++) {
        const double *z = T->z + m * (size_t)T->D;
        double acc = 0;
        for (int32_t k = 0; k < T->D; k++)
            acc += z[k] * v[k];
        y[m] = acc;
    }
}

/* Upper triangle of Zᵀ diag(a) Z into hess [D, D]. Row j belongs to one thread; every
 * element is summed over m in order, so the result does not depend on the thread count. */
static void hessian(const terms *T, const double *a, double *hess) {
    const int32_t D = T->D;
    memset(hess, 0, (size_t)D * (size_t)D * sizeof *hess);
    const size_t block = 256; /* rows of Z per sweep: they stay in cache for all D rows */
    for (size_t m0 = 0; m0 < T->M; m0 += block) {
        size_t m1 = m0 + block < T->M ? m0 + block : T->M;
#pragma omp parallel for schedule(dynamic, 8)
        for (int32_t j = 0; j < D; j++) {
            double *row = hess + (size_t)j * (size_t)D;
            for (size_t m = m0; m < m1; m++) {
                const double *z = T->z + m * (size_t)D;
                double v = a[m] * z[j];
                for (int32_t k = j; k < D; k++)
                    row[k] += v * z[k];
            }
        }
    }
}

/* Solve A x = b for symmetric positive definite A (upper triangle given; overwritten by the
 * factor). Returns 0 when A is not numerically positive definite. */
static int cholesky_solve(double *A, int32_t D, const double *b, double *x) {
    /* A = Rᵀ R with R upper triangular, stored in A's upper triangle */
    for (int32_t j = 0; j < D; j++) {
        for (int32_t i = 0; i <= j; i++) {
            double s = A[(size_t)i * D + j];
            for (int32_t k = 0; k < i; k++)
                s -= A[(size_t)k * D + i] * A[(size_t)k * D + j];
            if (i == j) {
                if (!(s > 0))
                    return 0;
                A[(size_t)j * D + j] = sqrt(s);
            } else {
                A[(size_t)i * D + j] = s / A[(size_t)i * D + i];
            }
        }
    }
    for (int32_t i = 0; i < D; i++) { /* Rᵀ y = b */
        double s = b[i];
        for (int32_t k = 0; k < i; k++)
            s -= A[(size_t)k * D + i] * x[k];
        x[i] = s / A[(size_t)i * D + i];
    }
    for (int32_t i = D - 1; i >= 0; i--) { /* R x = y */
        double s = x[i];
        for (int32_t k = i + 1; k < D; k++)
            s -= A[(size_t)i * D + k] * x[k];
        x[i] = s / A[(size_t)i * D + i];
    }
    return 1;
}

rr_status rr_head_fit(const rr_head_data *data, const uint8_t *include, const rr_head_fit_params *params,
                      float *w_out, float *b_out, rr_head_fit_result *result) {
    rr_head_fit_params p = params ? *params : rr_head_fit_default_params();
    if (!(p.l2 >= 0) || p.max_iter < 1)
        return rr_error(RR_ERR_INVALID_ARG, "fit-head: l2 must be >= 0 and max_iter >= 1");
    terms T;
    RR_TRY(build_terms(data, include, p.objective, &T));
    const int32_t D = T.D, H = T.H;
    const size_t M = T.M;
    double *w = calloc((size_t)D, sizeof *w), *g = malloc((size_t)D * sizeof *g),
           *step = malloc((size_t)D * sizeof *step), *wn = malloc((size_t)D * sizeof *wn),
           *hess = malloc((size_t)D * (size_t)D * sizeof *hess), *s = malloc(M * sizeof *s),
           *sd = malloc(M * sizeof *sd), *sn = malloc(M * sizeof *sn), *a = malloc(M * sizeof *a);
    rr_status st = RR_OK;
    if (!w || !g || !step || !wn || !hess || !s || !sd || !sn || !a) {
        st = rr_error(RR_ERR_NOMEM, "fit-head: out of memory");
        goto done;
    }
    memset(s, 0, M * sizeof *s);
    double data_loss = 0, f = objective(&T, s, w, p.l2, &data_loss), gmax = 0;
    int it = 0;
    for (;; it++) {
        /* gradient and Hessian weights */
        memset(g, 0, (size_t)D * sizeof *g);
        for (size_t m = 0; m < M; m++) {
            double sg = sigmoid(s[m]);
            double r = T.c[m] * (sg - T.t[m]);
            a[m] = T.c[m] * sg * (1.0 - sg);
            const double *z = T.z + m * (size_t)D;
            for (int32_t k = 0; k < D; k++)
                g[k] += r * z[k];
        }
        gmax = 0;
        for (int32_t k = 0; k < D; k++) {
            if (k < H)
                g[k] += p.l2 * w[k];
            if (fabs(g[k]) > gmax)
                gmax = fabs(g[k]);
        }
        if (gmax < p.tol || it >= p.max_iter)
            break;
        hessian(&T, a, hess);
        /* λ on the regularised diagonal; a tiny ridge everywhere keeps an unregularised
         * (or λ = 0) problem solvable when the classes separate */
        for (int32_t k = 0; k < D; k++)
            hess[(size_t)k * D + k] += (k < H ? p.l2 : 0.0) + 1e-12;
        for (int32_t k = 0; k < D; k++)
            g[k] = -g[k];
        if (!cholesky_solve(hess, D, g, step)) {
            st = rr_error(RR_ERR_INTERNAL, "fit-head: the Hessian is not positive definite at step %d "
                          "(try a larger --l2)", it);
            goto done;
        }
        double slope = 0; /* g now holds -gradient */
        for (int32_t k = 0; k < D; k++)
            slope -= g[k] * step[k];
        matvec(&T, step, sd);
        double t = 1.0, fn = f, dl = data_loss;
        int accepted = 0;
        for (int ls = 0; ls < 50; ls++, t *= 0.5) {
            for (int32_t k = 0; k < D; k++)
                wn[k] = w[k] + t * step[k];
            for (size_t m = 0; m < M; m++)
                sn[m] = s[m] + t * sd[m];
            fn = objective(&T, sn, wn, p.l2, &dl);
            if (fn <= f + 1e-4 * t * slope) {
                accepted = 1;
                break;
            }
        }
        if (!accepted)
            break; /* no decrease representable: converged to rounding */
        double gain = f - fn;
        memcpy(w, wn, (size_t)D * sizeof *w);
        memcpy(s, sn, M * sizeof *s);
        f = fn;
        data_loss = dl;
        if (gain <= 1e-15 * (f > 1 ? f : 1)) {
            it++;
            break;
        }
    }
    for (int32_t k = 0; k < H; k++)
        w_out[k] = (float)w[k];
    *b_out = D > H ? (float)w[H] : 0.0f;
    if (result) {
        result->loss = f;
        result->data_loss = data_loss;
        result->iterations = it;
        result->grad_max = gmax;
        result->num_terms = M;
    }
done:
    free(w);
    free(g);
    free(step);
    free(wn);
    free(hess);
    free(s);
    free(sd);
    free(sn);
    free(a);
    terms_free(&T);
    return st;
}

void rr_head_scores(const rr_head_data *d, const float *w, float b, double *scores) {
    for (size_t i = 0; i < d->num_rows; i++) {
        const float *x = d->x + i * (size_t)d->dim;
        double acc = b;
        for (int32_t k = 0; k < d->dim; k++)
            acc += (double)w[k] * (double)x[k];
        scores[i] = acc;
    }
}

typedef struct scored_label {
    double score;
    int label;
} scored_label;

static int cmp_scored_label(const void *x, const void *y) {
    const scored_label *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->label - b->label;
}

/* AUC by rank sums, tied scores sharing their mean rank; -1 when a class is empty. */
static double auc_of(scored_label *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_scored_label);
    double rank_sum = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].score == v[i].score)
            j++;
        double mean_rank = 0.5 * (double)(i + 1 + j); /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (v[k].label) {
                rank_sum += mean_rank;
                pos++;
            }
        i = j;
    }
    size_t neg = n - pos;
    if (!pos || !neg)
        return -1;
    return (rank_sum - 0.5 * (double)pos * (double)(pos + 1)) / ((double)pos * (double)neg);
}

rr_status rr_head_auc_compute(const rr_head_data *d, const uint8_t *include, const double *scores,
                              rr_head_auc *out) {
    out->pooled = out->per_query = -1;
    out->num_ranked_queries = 0;
    scored_label *v = malloc((d->num_rows ? d->num_rows : 1) * sizeof *v);
    if (!v)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    size_t n = 0;
    double sum = 0;
    for (size_t q = 0; q < d->num_queries; q++) {
        if (include && !include[q])
            continue;
        size_t a = d->first[q], e = d->first[q + 1];
        for (size_t i = a; i < e; i++) {
            v[i - a].score = scores[i];
            v[i - a].label = d->label[i] != 0;
        }
        double auc = auc_of(v, e - a);
        if (auc >= 0) {
            sum += auc;
            out->num_ranked_queries++;
        }
    }
    if (out->num_ranked_queries)
        out->per_query = sum / (double)out->num_ranked_queries;
    for (size_t q = 0; q < d->num_queries; q++) {
        if (include && !include[q])
            continue;
        for (size_t i = d->first[q]; i < d->first[q + 1]; i++, n++) {
            v[n].score = scores[i];
            v[n].label = d->label[i] != 0;
        }
    }
    out->pooled = auc_of(v, n);
    free(v);
    return RR_OK;
}
