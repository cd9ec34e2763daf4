/* model/head_fit.h — fitting a linear classification head on frozen features (what
 * `rerank fit-head` solves), and the ranking measures it reports.
 *
 * The head is score(x) = w·x + b on a pair's pooled features x [H]. Two objectives, both
 * L2-regularised (the bias is not) and solved by Newton's method with a backtracking line
 * search, in double precision:
 *   logistic: class-weighted log loss over labelled pairs (positives and negatives weigh
 *             half each), f = Σ c_i·logloss(y_i, w·x_i + b) / Σ c_i + λ/2·|w|²
 *   pairwise: RankNet, every (positive, negative) pair of the same query, each query
 *             weighing the same: f = Σ_q mean_{p,n ∈ q} log(1 + e^{-w·(x_p - x_n)}) / Q + λ/2·|w|²
 *             (the bias does not enter: b = 0).
 * Deterministic: every sum runs in one fixed order; the Hessian's rows are split over
 * threads but each element is summed by one thread in row order, so the result is
 * bit-identical for any thread count.
 * Letters: N pairs (rows of X), H features, D = H + 1 parameters, Q queries.
 */
#ifndef RR_MODEL_HEAD_FIT_H
#define RR_MODEL_HEAD_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"

typedef enum rr_head_objective { RR_HEAD_LOGISTIC = 0, RR_HEAD_PAIRWISE } rr_head_objective;

/* The labelled pairs: rows of X grouped by query (query q owns rows first[q]..first[q+1]-1). */
typedef struct rr_head_data {
    size_t num_rows;      /* N */
    int32_t dim;          /* H */
    const float *x;       /* [N, H] */
    const uint8_t *label; /* [N] 1 relevant, 0 not */
    size_t num_queries;   /* Q */
    const size_t *first;  /* [Q + 1] */
} rr_head_data;

typedef struct rr_head_fit_params {
    rr_head_objective objective;
    double l2;          /* λ */
    int max_iter;       /* Newton steps (default 100) */
    double tol;         /* stop when max |gradient| < tol (default 1e-9) */
} rr_head_fit_params;

rr_head_fit_params rr_head_fit_default_params(void);

typedef struct rr_head_fit_result {
    double loss;        /* the objective at the solution (regulariser included) */
    double data_loss;   /* without the regulariser */
    int iterations;
    double grad_max;    /* max |gradient| at the solution */
    size_t num_terms;   /* examples (logistic) or (positive, negative) pairs (pairwise) */
} rr_head_fit_result;

/* Fit on the queries whose include[q] is nonzero (include NULL: all). w is [H], *b the bias.
 * Errors: no positive or no negative among the included rows, or (pairwise) no query with
 * both. */
rr_status rr_head_fit(const rr_head_data *data, const uint8_t *include, const rr_head_fit_params *params,
                      float *w, float *b, rr_head_fit_result *result);

/* scores[i] = w·x_i + b for every row, in double. */
void rr_head_scores(const rr_head_data *data, const float *w, float b, double *scores);

/* AUC of scores over the included queries' rows pooled together (ties count half), and the
 * mean over included queries having both labels of their own AUC (*num_ranked_queries of
 * them). -1 where undefined. */
typedef struct rr_head_auc {
    double pooled;
    double per_query;
    size_t num_ranked_queries;
} rr_head_auc;

rr_status rr_head_auc_compute(const rr_head_data *data, const uint8_t *include, const double *scores,
                              rr_head_auc *out);

#endif
