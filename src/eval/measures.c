/* eval/measures.c — trec_eval's measures, one function each, computing exactly what
 * trec_eval computes (same formulas, same order of floating-point operations, same corner
 * cases), so that the printed 4-decimal values agree to the last digit. Definitions follow
 * the trec_eval source (m_<name>.c); notes mark where its behaviour is surprising.
 *
 * Every function reads one query's rr_res_rels: the judgements of the ranked documents
 * (rel_list, R = num_ret entries) and the qrels statistics (num_rel, rel_levels).
 */
#include "eval/measures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* trec_eval's constants */
#define MIN_GEO_MEAN 0.00001   /* floor of a value before its log (gm_map, gm_bpref) */
#define INFAP_EPSILON 0.00001

#define RR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RR_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---------------------------------------------------------------- gains (ndcg family) */

/* A relevance level, its gain and how many judged docs have it. */
typedef struct rel_gain {
    long rel_level;
    long num_at_level;
    double gain;
} rel_gain;

typedef struct gains {
    rel_gain *rel_gains; /* sorted by increasing gain */
    long num_gains;
} gains;

static int valid_int(const char *s) {
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Gains: each level present in the qrels gains its level number, unless a "level=gain"
 * parameter says otherwise; parameter levels absent from the qrels are kept with a count
 * of 0. Levels between 0 and the highest that no judgement uses are left out (trec_eval lists
 * them with a count of 0, which adds nothing to any sum and is never looked up: a retrieved
 * document's level always has a judgement), so one judgement at level 10^6 costs one entry,
 * not a million (and not a quadratic search; found by fuzz_trec). Sorted by increasing gain with trec_eval's comparator, which truncates the gain
 * difference to an int (so gains less than 1 apart compare equal); a stable sort keeps
 * such ties in insertion order. */
static rr_status setup_gains(const rr_measure *m, const rr_res_rels *rr, gains *g) {
    g->rel_gains = malloc((size_t)(rr->num_rel_levels + m->num_pairs + 1) * sizeof *g->rel_gains);
    if (!g->rel_gains)
        return rr_error(RR_ERR_NOMEM, "out of memory (gains)");
    long n = 0;
    for (long i = 0; i < m->num_pairs; i++) {
        if (!valid_int(m->pairs[i].name))
            continue;
        g->rel_gains[n].rel_level = atol(m->pairs[i].name);
        g->rel_gains[n].gain = m->pairs[i].value;
        g->rel_gains[n].num_at_level = 0;
        n++;
    }
    for (long i = 0; i < rr->num_rel_levels; i++) {
        if (!rr->rel_levels[i])
            continue;
        long j = 0;
        while (j < n && g->rel_gains[j].rel_level != i)
            j++;
        if (j < n) {
            g->rel_gains[j].num_at_level = rr->rel_levels[i];
        } else {
            g->rel_gains[n].rel_level = i;
            g->rel_gains[n].gain = (double)i;
            g->rel_gains[n].num_at_level = rr->rel_levels[i];
            n++;
        }
    }
    for (long i = 1; i < n; i++) { /* insertion sort: stable */
        rel_gain x = g->rel_gains[i];
        long j = i;
        while (j > 0 && (int)(g->rel_gains[j - 1].gain - x.gain) > 0) {
            g->rel_gains[j] = g->rel_gains[j - 1];
            j--;
        }
        g->rel_gains[j] = x;
    }
    g->num_gains = n;
    return RR_OK;
}

static double get_gain(long rel_level, const gains *g) {
    for (long i = 0; i < g->num_gains; i++)
        if (rel_level == g->rel_gains[i].rel_level)
            return g->rel_gains[i].gain;
    return 0.0;
}

/* Walk of the ideal ranking: the next ideal gain, descending through the levels. */
typedef struct ideal_walk {
    long cur_level, num_at_level;
    double gain;
} ideal_walk;

static void ideal_start(ideal_walk *w, const gains *g) {
    w->cur_level = g->num_gains - 1;
    w->gain = w->cur_level >= 0 ? g->rel_gains[w->cur_level].gain : 0.0;
    w->num_at_level = 0;
}

static void ideal_step(ideal_walk *w, const gains *g) {
    w->num_at_level++;
    while (w->cur_level >= 0 && w->num_at_level > g->rel_gains[w->cur_level].num_at_level) {
        w->num_at_level = 1;
        w->cur_level--;
        w->gain = w->cur_level >= 0 ? g->rel_gains[w->cur_level].gain : 0.0;
    }
}

/* ---------------------------------------------------------------- counts */

static rr_status calc_num_ret(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    out[0] = (double)rr->num_ret;
    return RR_OK;
}

static rr_status calc_num_rel(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    out[0] = (double)rr->num_rel;
    return RR_OK;
}

static rr_status calc_num_rel_ret(const rr_res_rels *rr, const rr_measure_ctx *c,
                                  const rr_measure *m, double *out, char **text) {
    out[0] = (double)rr->num_rel_ret;
    return RR_OK;
}

static rr_status calc_num_nonrel_judged_ret(const rr_res_rels *rr, const rr_measure_ctx *c,
                                            const rr_measure *m, double *out, char **text) {
    out[0] = (double)(rr->num_ret - rr->num_nonpool - rr->num_unjudged_in_pool - rr->num_rel_ret);
    return RR_OK;
}

/* ---------------------------------------------------------------- ranked measures */

/* Sum of precisions at each relevant retrieved doc; rel_so_far gets their number. */
static double ap_sum(const rr_res_rels *rr, long level, long *rel_so_far) {
    double sum = 0.0;
    long rel = 0;
    for (long i = 0; i < rr->num_ret; i++) {
        if (rr->rel_list[i] >= level) {
            rel++;
            sum += (double)rel / (double)(i + 1);
        }
    }
    *rel_so_far = rel;
    return sum;
}

static rr_status calc_map(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                          double *out, char **text) {
    long rel_so_far;
    double sum = ap_sum(rr, c->relevance_level, &rel_so_far);
    if (rel_so_far)
        out[0] = sum / (double)rr->num_rel;
    return RR_OK;
}

static rr_status calc_gm_map(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                             double *out, char **text) {
    long rel_so_far;
    double sum = ap_sum(rr, c->relevance_level, &rel_so_far);
    if (rel_so_far)
        sum = sum / (double)rr->num_rel;
    out[0] = log(RR_MAX(sum, MIN_GEO_MEAN));
    return RR_OK;
}

static rr_status calc_Rprec(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    long n = RR_MIN(rr->num_ret, rr->num_rel), rel_so_far = 0;
    if (n == 0)
        return RR_OK;
    for (long i = 0; i < n; i++)
        if (rr->rel_list[i] >= c->relevance_level)
            rel_so_far++;
    out[0] = (double)rel_so_far / (double)rr->num_rel;
    return RR_OK;
}

/* bpref and gm_bpref: judged nonrelevant docs ranked above each relevant one, relative to
 * min(R, judged nonrelevant). Unjudged and unpooled docs are skipped. */
static double bpref_value(const rr_res_rels *rr, long level) {
    long num_nonrel = 0;
    /* trec_eval reads rel_levels[0 .. level-1] without a bound; levels beyond the highest
     * judgement hold no docs */
    for (long j = 0; j < level && j < rr->rel_levels_len; j++)
        num_nonrel += rr->rel_levels[j];
    long nonrel_so_far = 0;
    double bpref = 0.0;
    for (long j = 0; j < rr->num_ret; j++) {
        long rel = rr->rel_list[j];
        if (rel == RR_REL_NONPOOL || rel == RR_REL_UNJUDGED)
            continue;
        if (rel >= 0 && rel < level) {
            nonrel_so_far++;
        } else if (nonrel_so_far > 0) {
            bpref += 1.0 - (((double)RR_MIN(nonrel_so_far, rr->num_rel)) /
                            (double)RR_MIN(num_nonrel, rr->num_rel));
        } else {
            bpref += 1.0;
        }
    }
    if (rr->num_rel)
        bpref /= rr->num_rel;
    return bpref;
}

static rr_status calc_bpref(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    out[0] = bpref_value(rr, c->relevance_level);
    return RR_OK;
}

static rr_status calc_gm_bpref(const rr_res_rels *rr, const rr_measure_ctx *c,
                               const rr_measure *m, double *out, char **text) {
    out[0] = log(RR_MAX(bpref_value(rr, c->relevance_level), MIN_GEO_MEAN));
    return RR_OK;
}

static rr_status calc_recip_rank(const rr_res_rels *rr, const rr_measure_ctx *c,
                                 const rr_measure *m, double *out, char **text) {
    long i = 0;
    while (i < rr->num_ret && rr->rel_list[i] < c->relevance_level)
        i++;
    if (i < rr->num_ret)
        out[0] = 1.0 / (double)(i + 1);
    return RR_OK;
}

/* Interpolated precision at the recall points in percents[n]; cutoffs in relevant docs are
 * rounded to nearest (trec_eval 9.0.8+; older versions added 0.9 and truncated). Shared by
 * iprec_at_recall (one value per point) and 11pt_avg (their mean). */
static rr_status interpolated_precisions(const rr_res_rels *rr, long level, const double *percents,
                                         long n, double *out) {
    long *cutoffs = malloc((size_t)(n ? n : 1) * sizeof *cutoffs);
    if (!cutoffs)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    for (long i = 0; i < n; i++)
        cutoffs[i] = lround(percents[i] * (double)rr->num_rel);
    long current_cut = n - 1;
    while (current_cut >= 0 && cutoffs[current_cut] > rr->num_rel_ret)
        current_cut--;
    /* trec_eval divides by num_ret even when it is 0 (an empty ranking under -J) and prints
     * nan; such a ranking has precision 0 here */
    double precis = rr->num_ret ? (double)rr->num_rel_ret / (double)rr->num_ret : 0.0;
    double int_precis = precis;
    long rel_so_far = rr->num_rel_ret;
    for (long i = rr->num_ret; i > 0 && rel_so_far > 0; i--) {
        precis = (double)rel_so_far / (double)i;
        if (int_precis < precis)
            int_precis = precis;
        if (rr->rel_list[i - 1] >= level) {
            while (current_cut >= 0 && rel_so_far == cutoffs[current_cut]) {
                out[current_cut] = int_precis;
                current_cut--;
            }
            rel_so_far--;
        }
    }
    while (current_cut >= 0) {
        out[current_cut] = int_precis;
        current_cut--;
    }
    free(cutoffs);
    return RR_OK;
}

static rr_status calc_iprec_at_recall(const rr_res_rels *rr, const rr_measure_ctx *c,
                                      const rr_measure *m, double *out, char **text) {
    return interpolated_precisions(rr, c->relevance_level, m->dvalues, m->num_dvalues, out);
}

static rr_status calc_11pt_avg(const rr_res_rels *rr, const rr_measure_ctx *c,
                               const rr_measure *m, double *out, char **text) {
    long n = m->num_dvalues;
    double *points = calloc((size_t)n, sizeof *points);
    if (!points)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    rr_status st = interpolated_precisions(rr, c->relevance_level, m->dvalues, n, points);
    if (!st) {
        /* trec_eval adds the points from the highest recall down */
        double sum = 0.0;
        for (long i = n - 1; i >= 0; i--)
            sum += points[i];
        out[0] = sum / (double)n;
    }
    free(points);
    return st;
}

/* P, recall, map_cut, relative_P, success, unj: walk the ranking, recording a value when
 * the number of docs seen reaches each cutoff; cutoffs beyond the ranking get the final
 * counts (the missing docs count as nonrelevant). */
typedef enum cut_kind { CUT_P, CUT_RECALL, CUT_MAP, CUT_REL_P, CUT_SUCCESS, CUT_UNJ } cut_kind;

static double cut_value(cut_kind k, const rr_res_rels *rr, long rel_so_far, double ap_sum_so_far,
                        long unj_so_far, long docs) {
    switch (k) {
    case CUT_P: return (double)rel_so_far / (double)docs;
    case CUT_RECALL: return (double)rel_so_far / (double)rr->num_rel;
    case CUT_MAP: return ap_sum_so_far / (double)rr->num_rel;
    case CUT_REL_P: return (double)rel_so_far / (double)(docs > rr->num_rel ? rr->num_rel : docs);
    case CUT_SUCCESS: return rel_so_far ? 1.0 : 0.0;
    case CUT_UNJ: return (double)unj_so_far / (double)docs;
    }
    return 0.0;
}

static void cutoff_walk(cut_kind k, const rr_res_rels *rr, long level, const rr_measure *m,
                        double *out) {
    const long *cutoffs = m->cutoffs;
    long ci = 0, rel_so_far = 0, unj_so_far = 0;
    double sum = 0.0;
    for (long i = 0; i < rr->num_ret; i++) {
        if (i == cutoffs[ci]) {
            out[ci] = cut_value(k, rr, rel_so_far, sum, unj_so_far, i);
            if (++ci == m->num_values)
                return;
        }
        long rel = rr->rel_list[i];
        if (rel >= level) {
            rel_so_far++;
            sum += (double)rel_so_far / (double)(i + 1);
        }
        if (rel == RR_REL_NONPOOL || rel == RR_REL_UNJUDGED)
            unj_so_far++;
    }
    for (; ci < m->num_values; ci++)
        out[ci] = cut_value(k, rr, rel_so_far, sum, unj_so_far, cutoffs[ci]);
}

static rr_status calc_P(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                        double *out, char **text) {
    cutoff_walk(CUT_P, rr, c->relevance_level, m, out);
    return RR_OK;
}

static rr_status calc_recall(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                             double *out, char **text) {
    if (rr->num_rel)
        cutoff_walk(CUT_RECALL, rr, c->relevance_level, m, out);
    return RR_OK;
}

static rr_status calc_map_cut(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    if (rr->num_rel)
        cutoff_walk(CUT_MAP, rr, c->relevance_level, m, out);
    return RR_OK;
}

static rr_status calc_relative_P(const rr_res_rels *rr, const rr_measure_ctx *c,
                                 const rr_measure *m, double *out, char **text) {
    if (rr->num_rel)
        cutoff_walk(CUT_REL_P, rr, c->relevance_level, m, out);
    return RR_OK;
}

static rr_status calc_success(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    cutoff_walk(CUT_SUCCESS, rr, c->relevance_level, m, out);
    return RR_OK;
}

static rr_status calc_unj(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                          double *out, char **text) {
    cutoff_walk(CUT_UNJ, rr, c->relevance_level, m, out);
    return RR_OK;
}

/* The first N judgements as characters: 0-9, '>' above 9, '-' not pooled, '.' unjudged. */
static rr_status calc_relstring(const rr_res_rels *rr, const rr_measure_ctx *c,
                                const rr_measure *m, double *out, char **text) {
    long len = RR_MIN((long)m->dvalues[0], rr->num_ret);
    if (len < 0)
        len = 0;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    for (long i = 0; i < len; i++) {
        long rel = rr->rel_list[i];
        s[i] = rel > 9 ? '>' : rel >= 0 ? (char)('0' + rel) : rel == RR_REL_NONPOOL ? '-'
             : rel == RR_REL_UNJUDGED ? '.' : '<';
    }
    s[len] = '\0';
    *text = s;
    return RR_OK;
}

static rr_status calc_infAP(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    long nonrel_so_far = 0, rel_so_far = 0, pool_unjudged_so_far = 0;
    double inf_ap = 0.0;
    for (long j = 0; j < rr->num_ret; j++) {
        long rel = rr->rel_list[j];
        if (rel == RR_REL_NONPOOL)
            continue;
        if (rel == RR_REL_UNJUDGED) {
            pool_unjudged_so_far++;
            continue;
        }
        if (rel >= 0 && rel < c->relevance_level) {
            nonrel_so_far++;
        } else {
            rel_so_far++;
            if (j == 0) {
                inf_ap += 1.0;
            } else {
                double fj = (double)j;
                inf_ap += 1.0 / (fj + 1.0) +
                          (fj / (fj + 1.0)) *
                              ((rel_so_far - 1 + nonrel_so_far + pool_unjudged_so_far) / fj) *
                              ((rel_so_far - 1 + INFAP_EPSILON) /
                               (rel_so_far - 1 + nonrel_so_far + 2 * INFAP_EPSILON));
            }
        }
    }
    if (rr->num_rel)
        inf_ap /= rr->num_rel;
    out[0] = inf_ap;
    return RR_OK;
}

/* Precision at multiples of R. Cutoffs are (long)(mult * R + 0.9), as trec_eval still
 * computes them here (unlike iprec_at_recall, which now rounds). */
static rr_status calc_Rprec_mult(const rr_res_rels *rr, const rr_measure_ctx *c,
                                 const rr_measure *m, double *out, char **text) {
    long n = m->num_dvalues;
    long *cutoffs = malloc((size_t)(n ? n : 1) * sizeof *cutoffs);
    if (!cutoffs)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    for (long i = 0; i < n; i++)
        cutoffs[i] = (long)(m->dvalues[i] * rr->num_rel + 0.9);
    long current_cut = n - 1;
    while (current_cut >= 0 && cutoffs[current_cut] > rr->num_ret) {
        out[current_cut] = (double)rr->num_rel_ret / (double)cutoffs[current_cut];
        current_cut--;
    }
    long rel_so_far = rr->num_rel_ret;
    for (long i = rr->num_ret; i > 0 && rel_so_far > 0; i--) {
        double precis = (double)rel_so_far / (double)i;
        while (current_cut >= 0 && i == cutoffs[current_cut]) {
            out[current_cut] = precis;
            current_cut--;
        }
        if (rr->rel_list[i - 1] >= c->relevance_level)
            rel_so_far--;
    }
    free(cutoffs);
    return RR_OK;
}

static rr_status calc_utility(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    const double *p = m->dvalues;
    out[0] = p[0] * rr->num_rel_ret + p[1] * (rr->num_ret - rr->num_rel_ret) +
             p[2] * (rr->num_rel - rr->num_rel_ret) +
             p[3] * (c->num_docs_in_coll + rr->num_rel_ret - rr->num_ret - rr->num_rel);
    return RR_OK;
}

static rr_status calc_binG(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                           double *out, char **text) {
    long rel_so_far = 0;
    double sum = 0.0;
    for (long i = 0; i < rr->num_ret; i++) {
        if (rr->rel_list[i] >= c->relevance_level) {
            rel_so_far++;
            sum += 1.0 / log2((double)(3 + i - rel_so_far));
        }
    }
    if (rel_so_far)
        out[0] = sum / (double)rr->num_rel;
    return RR_OK;
}

static rr_status calc_G(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                        double *out, char **text) {
    gains g;
    RR_TRY(setup_gains(m, rr, &g));
    ideal_walk w;
    ideal_start(&w, &g);
    double results_g = 0.0, sum_results = 0.0, sum_ideal = 0.0, sum_cost = 0.0;
    const double min_cost = 1.0;
    long i;
    for (i = 0; i < rr->num_ret && w.gain > 0.0; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        sum_results += results_gain;
        ideal_step(&w, &g);
        if (w.gain > 0.0)
            sum_ideal += w.gain;
        if (w.gain >= min_cost)
            sum_cost += w.gain;
        else
            sum_cost += min_cost;
        if (results_gain != 0)
            results_g += results_gain / log2((double)(2 + sum_cost - sum_results));
    }
    for (; i < rr->num_ret; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        sum_results += results_gain;
        sum_cost += min_cost;
        if (results_gain != 0)
            results_g += results_gain / log2((double)(2 + sum_cost - sum_results));
    }
    while (w.gain > 0.0) {
        ideal_step(&w, &g);
        if (w.gain > 0.0)
            sum_ideal += w.gain;
    }
    if (sum_ideal > 0.0)
        out[0] = results_g / sum_ideal;
    free(g.rel_gains);
    return RR_OK;
}

static rr_status calc_ndcg(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                           double *out, char **text) {
    gains g;
    RR_TRY(setup_gains(m, rr, &g));
    ideal_walk w;
    ideal_start(&w, &g);
    double results_dcg = 0.0, ideal_dcg = 0.0;
    long i;
    for (i = 0; i < rr->num_ret && w.gain > 0.0; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        if (results_gain != 0)
            results_dcg += results_gain / log2((double)(i + 2));
        ideal_step(&w, &g);
        if (w.gain > 0.0)
            ideal_dcg += w.gain / log2((double)(i + 2));
    }
    for (; i < rr->num_ret; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        if (results_gain != 0)
            results_dcg += results_gain / log2((double)(i + 2));
    }
    for (; w.gain > 0.0; i++) {
        ideal_step(&w, &g);
        if (w.gain > 0.0)
            ideal_dcg += w.gain / log2((double)(i + 2));
    }
    if (ideal_dcg > 0.0)
        out[0] = results_dcg / ideal_dcg;
    free(g.rel_gains);
    return RR_OK;
}

/* ndcg averaged over the relevant docs (gain > 0); unretrieved ones count the final dcg. */
static rr_status calc_ndcg_rel(const rr_res_rels *rr, const rr_measure_ctx *c,
                               const rr_measure *m, double *out, char **text) {
    gains g;
    RR_TRY(setup_gains(m, rr, &g));
    ideal_walk w;
    ideal_start(&w, &g);
    double results_dcg = 0.0, ideal_dcg = 0.0, sum = 0.0;
    long num_rel_ret = 0, num_rel = 0, i;
    for (i = 0; i < rr->num_ret && w.gain > 0.0; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        if (results_gain != 0)
            results_dcg += results_gain / log2((double)(i + 2));
        ideal_step(&w, &g);
        if (w.gain > 0.0) {
            num_rel++;
            ideal_dcg += w.gain / log2((double)(i + 2));
        }
        if (results_gain > 0) {
            sum += results_dcg / ideal_dcg;
            num_rel_ret++;
        }
    }
    for (; i < rr->num_ret; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        if (results_gain != 0)
            results_dcg += results_gain / log2((double)(i + 2));
        if (results_gain > 0) {
            sum += results_dcg / ideal_dcg;
            num_rel_ret++;
        }
    }
    for (; w.gain > 0.0; i++) {
        ideal_step(&w, &g);
        if (w.gain > 0.0) {
            num_rel++;
            ideal_dcg += w.gain / log2((double)(i + 2));
        }
    }
    sum += ((double)(num_rel - num_rel_ret)) * results_dcg / ideal_dcg;
    if (sum > 0.0)
        out[0] = sum / num_rel;
    free(g.rel_gains);
    return RR_OK;
}

/* ndcg averaged at the points where the ideal gain changes (the R levels). */
static rr_status calc_Rndcg(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    gains g;
    RR_TRY(setup_gains(m, rr, &g));
    if (rr->num_rel == 0) {
        free(g.rel_gains);
        return RR_OK;
    }
    ideal_walk w;
    ideal_start(&w, &g);
    double results_dcg = 0.0, ideal_dcg = 0.0, sum = 0.0, old_ideal_gain = w.gain;
    long num_changed = 0, i;
    for (i = 0; i < rr->num_ret && w.gain > 0.0; i++) {
        double results_gain = get_gain(rr->rel_list[i], &g);
        ideal_step(&w, &g);
        if (old_ideal_gain != w.gain) {
            if (ideal_dcg > 0.0) {
                sum += results_dcg / ideal_dcg;
                num_changed++;
            }
            old_ideal_gain = w.gain;
        }
        if (results_gain != 0)
            results_dcg += results_gain / log2((double)(i + 2));
        if (w.gain > 0.0)
            ideal_dcg += w.gain / log2((double)(i + 2));
    }
    if (i < rr->num_ret) {
        for (; i < rr->num_ret; i++) {
            double results_gain = get_gain(rr->rel_list[i], &g);
            if (results_gain != 0)
                results_dcg += results_gain / log2((double)(i + 2));
        }
        if (ideal_dcg > 0.0) {
            sum += results_dcg / ideal_dcg;
            num_changed++;
        }
    }
    for (; w.gain > 0.0; i++) {
        ideal_step(&w, &g);
        if (old_ideal_gain != w.gain) {
            if (ideal_dcg > 0.0) {
                sum += results_dcg / ideal_dcg;
                num_changed++;
            }
            old_ideal_gain = w.gain;
        }
        if (w.gain > 0.0)
            ideal_dcg += w.gain / log2((double)(i + 2));
    }
    /* 0/0 in trec_eval when no gain is positive (e.g. "Rndcg.1=0"); 0 here */
    if (num_changed)
        out[0] = sum / num_changed;
    free(g.rel_gains);
    return RR_OK;
}

/* ndcg at cutoffs. Note (trec_eval): the gains here are the raw judgements, not the gain
 * parameters of ndcg, and the ideal ranking stops at level 0. */
static rr_status calc_ndcg_cut(const rr_res_rels *rr, const rr_measure_ctx *c,
                               const rr_measure *m, double *out, char **text) {
    const long *cutoffs = m->cutoffs;
    long ci = 0, i;
    double sum = 0.0;
    for (i = 0; i < rr->num_ret; i++) {
        if (i == cutoffs[ci]) {
            out[ci] = sum;
            if (++ci == m->num_values)
                break;
        }
        double gain = (double)rr->rel_list[i];
        if (gain > 0)
            sum += gain / log2((double)(i + 2));
    }
    for (; ci < m->num_values; ci++)
        out[ci] = sum;

    ci = 0;
    long cur_lvl = rr->num_rel_levels - 1, lvl_count = 0;
    double ideal_dcg = 0.0;
    for (i = 0;; i++) {
        lvl_count++;
        while (cur_lvl > 0 && lvl_count > rr->rel_levels[cur_lvl]) {
            cur_lvl--;
            lvl_count = 1;
        }
        if (cur_lvl == 0)
            break;
        if (i == cutoffs[ci]) {
            if (ideal_dcg > 0.0)
                out[ci] /= ideal_dcg;
            if (++ci == m->num_values)
                break;
        }
        double gain = (double)cur_lvl;
        ideal_dcg += gain / log2((double)(i + 2));
    }
    for (; ci < m->num_values; ci++)
        if (ideal_dcg > 0.0)
            out[ci] /= ideal_dcg;
    return RR_OK;
}

/* --- set measures (the retrieved docs as an unranked set) --- */

static rr_status calc_set_P(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    if (rr->num_ret)
        out[0] = (double)rr->num_rel_ret / (double)rr->num_ret;
    return RR_OK;
}

static rr_status calc_set_relative_P(const rr_res_rels *rr, const rr_measure_ctx *c,
                                     const rr_measure *m, double *out, char **text) {
    if (rr->num_ret && rr->num_rel)
        out[0] = (double)rr->num_rel_ret / (double)RR_MIN(rr->num_ret, rr->num_rel);
    return RR_OK;
}

static rr_status calc_set_recall(const rr_res_rels *rr, const rr_measure_ctx *c,
                                 const rr_measure *m, double *out, char **text) {
    if (rr->num_rel)
        out[0] = (double)rr->num_rel_ret / (double)rr->num_rel;
    return RR_OK;
}

static rr_status calc_set_map(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                              double *out, char **text) {
    if (rr->num_ret && rr->num_rel)
        out[0] = ((double)rr->num_rel_ret * (double)rr->num_rel_ret) /
                 ((double)rr->num_ret * (double)rr->num_rel);
    return RR_OK;
}

static rr_status calc_set_F(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                            double *out, char **text) {
    if (rr->num_rel_ret) {
        double P = (double)rr->num_rel_ret / (double)rr->num_ret;
        double R = (double)rr->num_rel_ret / (double)rr->num_rel;
        double x = m->dvalues[0];
        out[0] = (x + 1.0) * P * R / (x * P + R);
    }
    return RR_OK;
}

/* --- rank-biased precision --- */

static double rbp_persistence(const rr_measure *m) {
    double p = 0.9;
    for (long i = 0; i < m->num_pairs; i++)
        if (!strcmp(m->pairs[i].name, "p"))
            p = m->pairs[i].value;
    return p;
}

static rr_status calc_rbp(const rr_res_rels *rr, const rr_measure_ctx *c, const rr_measure *m,
                          double *out, char **text) {
    double p = rbp_persistence(m);
    gains g;
    RR_TRY(setup_gains(m, rr, &g));
    /* Gains are normalised to [0, 1] when some lie outside. trec_eval leaves the running
     * min and max uninitialised; starting them at 0 (the gain of every unjudged doc) gives
     * its results whenever level 0 is judged, which is the usual case. */
    double min = 0.0, max = 0.0;
    for (long i = 0; i < g.num_gains; i++) {
        if (g.rel_gains[i].gain < min)
            min = g.rel_gains[i].gain;
        if (g.rel_gains[i].gain > max)
            max = g.rel_gains[i].gain;
    }
    if (min < 0 || max > 1)
        for (long i = 0; i < g.num_gains; i++)
            g.rel_gains[i].gain = (g.rel_gains[i].gain - min) / (max - min);
    double sum = 0.0, cur_p = 1.0;
    for (long i = 0; i < rr->num_ret; i++) {
        double gain = get_gain(rr->rel_list[i], &g);
        if (gain != 0)
            sum += gain * cur_p;
        cur_p = cur_p * p;
    }
    out[0] = (1.0 - p) * sum;
    free(g.rel_gains);
    return RR_OK;
}

static rr_status calc_rbp_resid(const rr_res_rels *rr, const rr_measure_ctx *c,
                                const rr_measure *m, double *out, char **text) {
    double p = rbp_persistence(m), sum = 0.0, cur_p = 1.0;
    long unj_so_far = 0;
    for (long i = 0; i < rr->num_ret; i++) {
        if (rr->rel_list[i] < 0) {
            unj_so_far++;
            sum += cur_p;
        }
        cur_p = cur_p * p;
    }
    if (unj_so_far)
        out[0] = cur_p + (1 - p) * sum;
    return RR_OK;
}

/* ---------------------------------------------------------------- the table */

static const long cut_standard[] = {5, 10, 15, 20, 30, 100, 200, 500, 1000};
static const long cut_success[] = {1, 5, 10};
static const long cut_unj[] = {5, 10, 20};
static const double recall_points[] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
static const double rprec_mults[] = {0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0};
static const double relstring_len[] = {10.0};
static const double utility_coeffs[] = {1.0, -1.0, 0.0, 0.0};
static const double set_F_beta[] = {1.0};

#define N_OF(a) ((long)(sizeof(a) / sizeof((a)[0])))
#define NO_PARAMS RR_PARAMS_NONE, NULL, NULL, 0
#define CUTS(a) RR_PARAMS_CUT_LONG, (a), NULL, N_OF(a)
#define DCUTS(a) RR_PARAMS_CUT_DOUBLE, NULL, (a), N_OF(a)
#define DOUBLES(a) RR_PARAMS_DOUBLES, NULL, (a), N_OF(a)
#define PAIRS RR_PARAMS_PAIRS, NULL, NULL, 0

/* In trec_eval's order: name, value kind, averaging, printed per query, printed in the
 * summary, parameters and their defaults, computation. */
#define REAL RR_EVAL_REAL
#define COUNT RR_EVAL_COUNT
#define TEXT RR_EVAL_TEXT
const rr_measure_def rr_measure_defs[] = {
    {"runid", TEXT, RR_AVG_NONE, 0, 1, NO_PARAMS, NULL},
    {"num_q", COUNT, RR_AVG_NUM_Q, 0, 1, NO_PARAMS, NULL},
    {"num_ret", COUNT, RR_AVG_SUM, 1, 1, NO_PARAMS, calc_num_ret},
    {"num_rel", COUNT, RR_AVG_SUM, 1, 1, NO_PARAMS, calc_num_rel},
    {"num_rel_ret", COUNT, RR_AVG_SUM, 1, 1, NO_PARAMS, calc_num_rel_ret},
    {"map", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_map},
    {"gm_map", REAL, RR_AVG_GEO, 0, 1, NO_PARAMS, calc_gm_map},
    {"Rprec", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_Rprec},
    {"bpref", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_bpref},
    {"recip_rank", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_recip_rank},
    {"iprec_at_recall", REAL, RR_AVG_MEAN, 1, 1, DCUTS(recall_points), calc_iprec_at_recall},
    {"P", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_standard), calc_P},
    {"relstring", TEXT, RR_AVG_NONE, 1, 0, DOUBLES(relstring_len), calc_relstring},
    {"recall", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_standard), calc_recall},
    {"infAP", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_infAP},
    {"gm_bpref", REAL, RR_AVG_GEO, 0, 1, NO_PARAMS, calc_gm_bpref},
    {"Rprec_mult", REAL, RR_AVG_MEAN, 1, 1, DCUTS(rprec_mults), calc_Rprec_mult},
    {"utility", REAL, RR_AVG_MEAN, 1, 1, DOUBLES(utility_coeffs), calc_utility},
    {"11pt_avg", REAL, RR_AVG_MEAN, 1, 1, DOUBLES(recall_points), calc_11pt_avg},
    {"binG", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_binG},
    {"G", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_G},
    {"ndcg", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_ndcg},
    {"ndcg_rel", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_ndcg_rel},
    {"Rndcg", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_Rndcg},
    {"ndcg_cut", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_standard), calc_ndcg_cut},
    {"map_cut", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_standard), calc_map_cut},
    {"relative_P", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_standard), calc_relative_P},
    {"success", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_success), calc_success},
    {"set_P", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_set_P},
    {"set_relative_P", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_set_relative_P},
    {"set_recall", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_set_recall},
    {"set_map", REAL, RR_AVG_MEAN, 1, 1, NO_PARAMS, calc_set_map},
    {"set_F", REAL, RR_AVG_MEAN, 1, 1, DOUBLES(set_F_beta), calc_set_F},
    {"num_nonrel_judged_ret", COUNT, RR_AVG_SUM, 1, 1, NO_PARAMS, calc_num_nonrel_judged_ret},
    {"rbp", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_rbp},
    {"rbp_resid", REAL, RR_AVG_MEAN, 1, 1, PAIRS, calc_rbp_resid},
    {"unj", REAL, RR_AVG_MEAN, 1, 1, CUTS(cut_unj), calc_unj},
};
const int rr_num_measure_defs = (int)N_OF(rr_measure_defs);

static const char *const nick_official[] = {
    "runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
    "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P", NULL};
static const char *const nick_all_trec[] = {
    "runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
    "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P", "relstring",
    "recall", "infAP", "gm_bpref", "utility", "11pt_avg", "ndcg", "relative_P",
    "Rprec_mult", "success", "map_cut", "ndcg_cut", "ndcg_rel", "Rndcg", "binG", "G",
    "set_P", "set_recall", "set_relative_P", "set_map", "set_F",
    "num_nonrel_judged_ret", "rbp", "rbp_resid", "unj", NULL};
static const char *const nick_set[] = {
    "runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "utility", "set_P",
    "set_recall", "set_relative_P", "set_map", "set_F", NULL};

const char *const *rr_measure_nickname(const char *name) {
    if (!strcmp(name, "official"))
        return nick_official;
    if (!strcmp(name, "all_trec"))
        return nick_all_trec;
    if (!strcmp(name, "set"))
        return nick_set;
    return NULL;
}

int rr_measure_find(const char *name) {
    for (int i = 0; i < rr_num_measure_defs; i++)
        if (!strcmp(rr_measure_defs[i].name, name))
            return i;
    return -1;
}

/* ---------------------------------------------------------------- parameters */

void rr_measure_clear(rr_measure *m) {
    if (m->names)
        for (long i = 0; i < m->num_values; i++)
            free(m->names[i]);
    free(m->names);
    free(m->cutoffs);
    free(m->dvalues);
    if (m->pairs)
        for (long i = 0; i < m->num_pairs; i++)
            free(m->pairs[i].name);
    free(m->pairs);
    free(m->printable);
    memset(m, 0, sizeof *m);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Split a comma-separated list in place; returns the number of items. */
static long split_commas(char *s, char **items, long max) {
    long n = 0;
    items[n++] = s;
    for (char *p = s; *p; p++)
        if (*p == ',') {
            *p = '\0';
            if (n < max)
                items[n] = p + 1;
            n++;
        }
    return n;
}

rr_status rr_measure_parse_params(const rr_measure_def *def, const char *params, rr_measure *m) {
    memset(m, 0, sizeof *m);
    m->def = def;
    if (def->params == RR_PARAMS_NONE)
        return rr_error(RR_ERR_INVALID_ARG, "measure '%s' takes no parameters (got '%s')",
                        def->name, params);
    if (!*params)
        return rr_error(RR_ERR_INVALID_ARG, "measure '%s.': empty parameter list", def->name);
    size_t len = strlen(params);
    char *copy = malloc(len + 1);
    char **items = malloc((len + 1) * sizeof *items);
    m->printable = malloc(len + 1);
    if (!copy || !items || !m->printable) {
        free(copy);
        free(items);
        return rr_error(RR_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, params, len + 1);
    memcpy(m->printable, params, len + 1);
    long n = split_commas(copy, items, (long)len + 1);
    rr_status st = RR_OK;
    switch (def->params) {
    case RR_PARAMS_CUT_LONG:
        /* atol, as trec_eval: "23.4" is 23 */
        m->cutoffs = malloc((size_t)n * sizeof *m->cutoffs);
        if (!m->cutoffs) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            break;
        }
        for (long i = 0; i < n; i++)
            m->cutoffs[i] = strtol(items[i], NULL, 10);
        m->num_values = n;
        qsort(m->cutoffs, (size_t)n, sizeof *m->cutoffs, cmp_long);
        if (m->cutoffs[0] <= 0)
            st = rr_error(RR_ERR_INVALID_ARG, "measure '%s.%s': cutoffs must be positive integers",
                          def->name, params);
        for (long i = 1; !st && i < n; i++)
            if (m->cutoffs[i - 1] == m->cutoffs[i])
                st = rr_error(RR_ERR_INVALID_ARG, "measure '%s.%s': duplicate cutoff %ld",
                              def->name, params, m->cutoffs[i]);
        break;
    case RR_PARAMS_CUT_DOUBLE:
    case RR_PARAMS_DOUBLES:
        m->dvalues = malloc((size_t)n * sizeof *m->dvalues);
        if (!m->dvalues) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            break;
        }
        for (long i = 0; i < n; i++)
            m->dvalues[i] = strtod(items[i], NULL);
        m->num_dvalues = n;
        m->num_values = 1;
        if (def->params == RR_PARAMS_CUT_DOUBLE) {
            m->num_values = n;
            qsort(m->dvalues, (size_t)n, sizeof *m->dvalues, cmp_double);
            for (long i = 1; !st && i < n; i++)
                if (m->dvalues[i - 1] == m->dvalues[i])
                    st = rr_error(RR_ERR_INVALID_ARG, "measure '%s.%s': duplicate cutoff",
                                  def->name, params);
        }
        break;
    case RR_PARAMS_PAIRS:
        m->num_values = 1;
        m->pairs = calloc((size_t)n, sizeof *m->pairs);
        if (!m->pairs) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            break;
        }
        m->num_pairs = n;
        for (long i = 0; !st && i < n; i++) {
            char *eq = strchr(items[i], '=');
            if (!eq || strchr(eq + 1, '=')) {
                st = rr_error(RR_ERR_INVALID_ARG, "measure '%s.%s': parameters must be "
                              "level=gain pairs", def->name, params);
                break;
            }
            *eq = '\0';
            m->pairs[i].name = malloc(strlen(items[i]) + 1);
            if (!m->pairs[i].name) {
                st = rr_error(RR_ERR_NOMEM, "out of memory");
                break;
            }
            strcpy(m->pairs[i].name, items[i]);
            m->pairs[i].value = strtod(eq + 1, NULL);
        }
        break;
    case RR_PARAMS_NONE:
        break;
    }
    if (!st && def->params == RR_PARAMS_DOUBLES && !strcmp(def->name, "utility") && n != 4)
        st = rr_error(RR_ERR_INVALID_ARG, "measure 'utility.%s': needs 4 coefficients", params);
    free(copy);
    free(items);
    if (st)
        rr_measure_clear(m);
    return st;
}

rr_status rr_measure_default_params(const rr_measure_def *def, rr_measure *m) {
    memset(m, 0, sizeof *m);
    m->def = def;
    m->num_values = 1;
    long n = def->num_defaults;
    if (def->default_cutoffs) {
        m->cutoffs = malloc((size_t)n * sizeof *m->cutoffs);
        if (!m->cutoffs)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        memcpy(m->cutoffs, def->default_cutoffs, (size_t)n * sizeof *m->cutoffs);
        m->num_values = n;
    }
    if (def->default_dvalues) {
        m->dvalues = malloc((size_t)n * sizeof *m->dvalues);
        if (!m->dvalues)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        memcpy(m->dvalues, def->default_dvalues, (size_t)n * sizeof *m->dvalues);
        m->num_dvalues = n;
        if (def->params == RR_PARAMS_CUT_DOUBLE)
            m->num_values = n;
    }
    return RR_OK;
}

rr_status rr_measure_build_names(rr_measure *m) {
    m->names = calloc((size_t)m->num_values, sizeof *m->names);
    if (!m->names)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    const char *base = m->def->name;
    for (long i = 0; i < m->num_values; i++) {
        char buf[96];
        const char *name = buf;
        char *dyn = NULL;
        if (m->def->params == RR_PARAMS_CUT_LONG) {
            snprintf(buf, sizeof buf, "%s_%ld", base, m->cutoffs[i]);
        } else if (m->def->params == RR_PARAMS_CUT_DOUBLE) {
            snprintf(buf, sizeof buf, "%s_%3.2f", base, m->dvalues[i]);
        } else if (m->printable) {
            size_t need = strlen(base) + strlen(m->printable) + 2;
            dyn = malloc(need);
            if (!dyn)
                return rr_error(RR_ERR_NOMEM, "out of memory");
            snprintf(dyn, need, "%s_%s", base, m->printable);
            name = dyn;
        } else {
            name = base;
        }
        m->names[i] = dyn ? dyn : malloc(strlen(name) + 1);
        if (!m->names[i])
            return rr_error(RR_ERR_NOMEM, "out of memory");
        if (!dyn)
            strcpy(m->names[i], name);
    }
    return RR_OK;
}
