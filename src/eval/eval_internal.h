/* eval/eval_internal.h — what the readers (trec_files.c), the measures (measures.c) and the
 * driver (eval.c) share: the loaded qrels and run, and one query's ranked judgements.
 * Dimension letters: D = judged (qrels) or retrieved (run) documents of all queries,
 * Q = queries, R = documents ranked for the query being evaluated. */
#ifndef RR_EVAL_INTERNAL_H
#define RR_EVAL_INTERNAL_H

#include <stddef.h>

#include "rerank/eval.h"

/* Judgement codes of ranked documents that are not plain judgements (trec_eval's). */
#define RR_REL_NONPOOL (-1)   /* docid absent from the qrels of the query */
#define RR_REL_UNJUDGED (-2)  /* in the qrels with a negative judgement */

/* One query's slice of the document arrays. */
typedef struct rr_eval_query {
    const char *qid;
    size_t first, count; /* docs [first, first + count) */
} rr_eval_query;

struct rr_qrels {
    char *strings;          /* every qid and docid, NUL-terminated */
    const char **docid;     /* [D] sorted by (qid, docid) */
    long *rel;              /* [D] */
    size_t num_docs;
    rr_eval_query *queries; /* [Q] sorted by qid (strcmp) */
    size_t num_queries;
};

struct rr_run {
    char *strings;
    const char **docid;     /* [D] grouped by query, queries sorted by qid (strcmp) */
    double *score;          /* [D] */
    size_t num_docs;
    rr_eval_query *queries; /* [Q] */
    size_t num_queries;
    const char *run_id;     /* tag of the last line, into strings */
};

/* One query's judgements in ranked order and its qrels statistics (trec_eval's RES_RELS). */
typedef struct rr_res_rels {
    long num_ret;              /* ranked docs (after -M and -J) */
    long num_rel;              /* judged docs with rel >= relevance_level */
    long num_rel_ret;
    long num_nonpool;          /* ranked docs absent from the qrels */
    long num_unjudged_in_pool; /* ranked docs with a negative judgement */
    const long *rel_list;      /* [R] judgement of each ranked doc, or RR_REL_* */
    const long *rel_levels;    /* [rel_levels_len] judged docs per level >= 0 */
    long rel_levels_len;       /* max judgement + 1 (0 when none is >= 0) */
    long num_rel_levels;       /* highest level with a nonzero count + 1 */
} rr_res_rels;

/* Lookup of a query by id in a sorted query array; NULL when absent. */
const rr_eval_query *rr_eval_find_query(const rr_eval_query *queries, size_t n, const char *qid);

#endif
