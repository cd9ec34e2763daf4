/* eval/measures.h — the table of trec_eval measures: names, parameter kinds, defaults,
 * how each is averaged and printed, and the per-query computation. The table order is the
 * order trec_eval computes and prints them in. */
#ifndef RR_EVAL_MEASURES_H
#define RR_EVAL_MEASURES_H

#include "eval/eval_internal.h"

typedef enum rr_param_kind {
    RR_PARAMS_NONE,
    RR_PARAMS_CUT_LONG,   /* "5,10,100": sorted, positive, distinct; one value each ("P_10") */
    RR_PARAMS_CUT_DOUBLE, /* ".1,.5": sorted, distinct; one value each ("iprec_at_recall_0.10") */
    RR_PARAMS_DOUBLES,    /* "2,-1,0,0": ordered list, one value ("utility_2,-1,0,0") */
    RR_PARAMS_PAIRS       /* "1=3,2=9": level=gain pairs, one value ("ndcg_1=3,2=9") */
} rr_param_kind;

typedef enum rr_avg_kind {
    RR_AVG_MEAN,   /* summary = sum / number of queries */
    RR_AVG_SUM,    /* summary = sum (counts) */
    RR_AVG_GEO,    /* per-query values are logs; summary = exp(mean) */
    RR_AVG_NUM_Q,  /* number of queries */
    RR_AVG_NONE    /* runid, relstring */
} rr_avg_kind;

typedef struct rr_gain_pair {
    char *name;
    double value;
} rr_gain_pair;

struct rr_measure_def;

/* A selected measure with its parameters. */
typedef struct rr_measure {
    const struct rr_measure_def *def;
    long num_values;
    long *cutoffs;         /* [num_values] CUT_LONG */
    double *dvalues;       /* [num_dvalues] CUT_DOUBLE (== num_values) and DOUBLES */
    long num_dvalues;
    rr_gain_pair *pairs;   /* [num_pairs] PAIRS */
    long num_pairs;
    char *printable;       /* the parameter text given by the user; NULL for defaults */
    char **names;          /* [num_values] printed names */
    size_t offset;         /* index of the first value in a row */
} rr_measure;

typedef struct rr_measure_ctx {
    long relevance_level;
    long num_docs_in_coll;
} rr_measure_ctx;

/* Compute one query: out[num_values] is zeroed by the caller. Text measures (relstring)
 * set *text to a malloc'd string. */
typedef rr_status (*rr_measure_calc_fn)(const rr_res_rels *rr, const rr_measure_ctx *ctx,
                                        const rr_measure *m, double *out, char **text);

typedef struct rr_measure_def {
    const char *name;
    rr_eval_kind kind;
    rr_avg_kind avg;
    int per_query;          /* printed for each query (-q) */
    int summary;            /* printed in the summary */
    rr_param_kind params;
    const long *default_cutoffs;
    const double *default_dvalues;
    long num_defaults;
    rr_measure_calc_fn calc; /* NULL for runid and num_q (the driver fills them) */
} rr_measure_def;

extern const rr_measure_def rr_measure_defs[];
extern const int rr_num_measure_defs;

/* Nicknames: NULL-terminated lists of measure names. NULL when name is not a nickname. */
const char *const *rr_measure_nickname(const char *name);

/* Index of a measure in rr_measure_defs, or -1. */
int rr_measure_find(const char *name);

/* Parse a parameter string for def into m (m->def set, names not built). */
rr_status rr_measure_parse_params(const rr_measure_def *def, const char *params, rr_measure *m);
/* Defaults for def into m. */
rr_status rr_measure_default_params(const rr_measure_def *def, rr_measure *m);
/* Build m->names from the parameters. */
rr_status rr_measure_build_names(rr_measure *m);
void rr_measure_clear(rr_measure *m);

#endif
