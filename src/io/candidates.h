/* io/candidates.h — the candidates of a reranking job, read from a TREC run file
 * ("qid Q0 docid rank score tag" per line, any whitespace; .gz transparently).
 *
 * Per query, candidates are ordered as trec_eval orders a run (score descending, ties by
 * docid descending; the rank column is ignored) and cut to the top n. Queries keep the order
 * of their first line in the file. A docid listed twice for one query is an error naming both
 * lines; so are a wrong field count and a score that is not a finite number. */
#ifndef RR_IO_CANDIDATES_H
#define RR_IO_CANDIDATES_H

#include <stddef.h>

#include "rerank/status.h"

typedef struct rr_candidates {
    size_t num_queries;
    size_t num_docs;       /* after the top-n cut */
    size_t lines;          /* lines read */
    char **qids;           /* [num_queries] */
    size_t *first;         /* [num_queries + 1]: query q owns docs first[q] .. first[q+1]-1 */
    char **docids;         /* [num_docs] */
    double *scores;        /* [num_docs] first-stage scores */
    long long *line_no;    /* [num_docs] source line of each candidate */
    char *arena;           /* the strings */
} rr_candidates;

/* top_n = 0: keep all. */
rr_status rr_candidates_load(const char *path, size_t top_n, rr_candidates *out);
void rr_candidates_free(rr_candidates *c);

#endif
