/* rerank/eval.h — evaluation of a TREC run against relevance judgements, with the
 * semantics of trec_eval (9.x/10.0): the same measures, parameters, tie-breaking,
 * averaging and printed layout, byte for byte.
 *
 * Conventions taken from trec_eval (and checked against its own test outputs):
 *  - a query's documents are ranked by score descending, ties by docid in descending
 *    strcmp order; the rank column of the run is ignored;
 *  - a document is relevant when its judgement is >= relevance_level (default 1);
 *    judgements < 0 mean "in the pool but unjudged", docs absent from the qrels "not pooled";
 *  - only queries present in the qrels are evaluated; queries of the qrels that the run
 *    lacks are skipped, unless average_complete is set (-c), in which case they are
 *    evaluated as an empty ranking and averaged in;
 *  - queries are evaluated and printed in strcmp order of their ids.
 *
 * Usage: load an rr_qrels and an rr_run, create an rr_eval, select measures with
 * rr_eval_add_measure ("official" when none is added), rr_eval_compute, then read values
 * (rr_eval_value) or write trec_eval's text (rr_eval_write_text).
 */
#ifndef RERANK_EVAL_H
#define RERANK_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "rerank/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Relevance judgements: TREC qrels ("qid iter docid rel", whitespace separated) or BEIR
 * qrels TSV (a header line "query-id corpus-id score", then "qid docid rel"). Gzip is read
 * transparently. Lines starting with '#' are comments. Wrong field counts, a relevance that
 * is not an integer and a (qid, docid) judged twice are errors naming file:line. */
typedef struct rr_qrels rr_qrels;
rr_status rr_qrels_load(const char *path, rr_qrels **out);
void rr_qrels_free(rr_qrels *qrels);
size_t rr_qrels_num_queries(const rr_qrels *qrels);
size_t rr_qrels_num_judgements(const rr_qrels *qrels);
/* The i-th query id of the qrels (strcmp order), i < rr_qrels_num_queries(). */
const char *rr_qrels_query_id(const rr_qrels *qrels, size_t i);

/* A TREC run: "qid Q0 docid rank score tag" (fields after the tag are ignored, as trec_eval
 * does; blank lines and '#' lines are skipped). The run id is the tag of the last line.
 * Fewer than 6 fields, a score that is not a number, and a docid retrieved twice for one
 * query are errors naming file:line. */
typedef struct rr_run rr_run;
rr_status rr_run_load(const char *path, rr_run **out);
void rr_run_free(rr_run *run);
size_t rr_run_num_queries(const rr_run *run);
size_t rr_run_num_lines(const rr_run *run);
const char *rr_run_id(const rr_run *run);

typedef struct rr_eval_params {
    long relevance_level;     /* -l: minimum judgement counted relevant (1) */
    long max_docs_per_query;  /* -M: evaluate only the top N of each query (LONG_MAX) */
    long num_docs_in_coll;    /* -N: collection size, for utility's 4th coefficient (0) */
    int average_complete;     /* -c: average over every qrels query, missing ones as 0 (0) */
    int judged_docs_only;     /* -J: drop unjudged docs before evaluating (0) */
} rr_eval_params;

rr_eval_params rr_eval_default_params(void);

typedef struct rr_eval rr_eval;
rr_status rr_eval_create(const rr_eval_params *params, rr_eval **out);
void rr_eval_free(rr_eval *ev);

/* Select a measure as trec_eval's -m does: "map", "P.5,10", "ndcg_cut.10,100",
 * "ndcg.1=3,2=9", or a nickname: "official", "all_trec", "set". When a measure is given
 * parameters more than once, the first wins (as in trec_eval). Unknown names and bad
 * parameters are RR_ERR_INVALID_ARG. */
rr_status rr_eval_add_measure(rr_eval *ev, const char *spec);

/* Evaluate. May be called once per rr_eval. RR_ERR_NOT_FOUND when no query has both
 * results and judgements. */
rr_status rr_eval_compute(rr_eval *ev, const rr_qrels *qrels, const rr_run *run);

/* --- results: rows are the evaluated queries (in order) and then the summary "all" --- */
typedef enum rr_eval_kind {
    RR_EVAL_REAL,   /* printed %6.4f */
    RR_EVAL_COUNT,  /* printed as an integer (num_ret, num_rel, ...) */
    RR_EVAL_TEXT    /* runid (summary), relstring (per query) */
} rr_eval_kind;

typedef struct rr_eval_value {
    const char *name;  /* full printed name: "P_10", "iprec_at_recall_0.10", "runid" */
    rr_eval_kind kind;
    double value;      /* REAL, COUNT */
    const char *text;  /* TEXT; NULL otherwise */
    int present;       /* 0 when the measure has no value on this row (gm_map per query,
                          relstring in the summary): trec_eval prints no line for it */
} rr_eval_value;

size_t rr_eval_num_rows(const rr_eval *ev);          /* queries + 1 (the summary) */
const char *rr_eval_row_id(const rr_eval *ev, size_t row); /* qid, or "all" */
size_t rr_eval_num_values(const rr_eval *ev);
rr_eval_value rr_eval_value_at(const rr_eval *ev, size_t row, size_t index);

/* trec_eval's text: per-query lines first when per_query (-q), then the summary unless
 * no_summary (-n). Returns RR_ERR_IO when the stream reports a write error. */
rr_status rr_eval_write_text(const rr_eval *ev, FILE *out, int per_query, int no_summary);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_EVAL_H */
