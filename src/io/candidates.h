/* io/candidates.h — the candidates of a reranking job, read from a TREC run file
 * ("qid Q0 docid rank score tag" per line, any whitespace; .gz transparently).
 *
 * Per query, candidates are ordered as trec_eval orders a run (score descending, ties by
 * docid descending; the rank column is ignored) and cut to the top n. Queries keep the order
 * of their first line in the file. A docid listed twice for one query is an error naming both
 * lines; so are a wrong field count and a score that is not a finite number.
 *
 * Two ways to read them, with the same order, cut and errors:
 *  - rr_candidates_load: every candidate in memory (about 70 bytes a line);
 *  - rr_cand_stream: one query at a time, for a job whose memory must not grow with the
 *    number of pairs. Opening it reads the whole file once and validates every line (a bad
 *    line is an error before any work starts), keeping only the query ids; each later pass
 *    (rewind, then next until eof) reads the file again and hands out one query's
 *    candidates, held until the next call. This needs each query's lines to be contiguous, as
 *    first stages write them; a file where a query's lines come back after another query's
 *    is read with rr_candidates_load instead (info.grouped = 0, info.regroup_line says
 *    where) and served from memory. A later pass that finds other queries than the first
 *    one did (the file was changed meanwhile) is an error. */
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

typedef struct rr_cand_query {
    const char *qid;
    size_t num_docs;           /* after the top-n cut */
    const char *const *docids; /* [num_docs] trec_eval's order */
    const double *scores;      /* [num_docs] first-stage scores */
    const long long *line_no;  /* [num_docs] source lines */
} rr_cand_query;

typedef struct rr_cand_stream_info {
    size_t num_queries;
    size_t num_docs;          /* after the top-n cut */
    size_t max_query_docs;    /* the largest query, after the cut */
    size_t lines;             /* lines read */
    int grouped;              /* 1: streamed; 0: a query's lines come back, held in memory */
    long long regroup_line;   /* grouped = 0: the first line whose query came back */
} rr_cand_stream_info;

typedef struct rr_cand_stream rr_cand_stream;

/* top_n = 0: keep all. Reads and validates the whole file (pass 1), then rewinds. */
rr_status rr_cand_stream_open(const char *path, size_t top_n, rr_cand_stream **out);
rr_cand_stream_info rr_cand_stream_get_info(const rr_cand_stream *s);
/* Start a pass over the queries, in order of their first line. */
rr_status rr_cand_stream_rewind(rr_cand_stream *s);
/* The next query (valid until the next call), or *eof = 1 after the last. */
rr_status rr_cand_stream_next(rr_cand_stream *s, rr_cand_query *q, int *eof);
void rr_cand_stream_free(rr_cand_stream *s);

#endif
