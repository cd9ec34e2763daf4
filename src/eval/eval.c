/* eval/eval.c — the evaluation driver: measure selection (trec_eval's -m), the per-query
 * ranking of a run against the qrels (trec_eval's form_res_rels), accumulation and
 * averaging, and trec_eval's text output.
 *
 * Rows are the evaluated queries in strcmp order of their ids, then the summary ("all").
 * Dimension letters: V = values of all selected measures (a row), R = ranked docs of a
 * query.
 */
#include "rerank/eval.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "eval/measures.h"
#include "util/error.h"

/* trec_eval evaluates a qrels query that the run lacks (with -c) as this one-document
 * ranking, then resets the values that document would distort (see reset_missing). */
#define MISSING_QUERY_DOCID "ceci_nest_pas_un_docno"

struct rr_eval {
    rr_eval_params params;
    int marked[64];              /* [measure def] selected */
    rr_measure given[64];        /* [measure def] parameters from -m (def == NULL: none) */
    rr_measure *measures;        /* [num_measures] selected, in table order */
    int num_measures;
    size_t num_values;           /* V */
    int computed;
    size_t num_rows;             /* evaluated queries + 1 */
    char **row_ids;              /* [num_rows] */
    double *values;              /* [num_rows, V] */
    char **texts;                /* [num_rows] relstring of each query row */
    char *run_id;
};

rr_eval_params rr_eval_default_params(void) {
    rr_eval_params p = {
        .relevance_level = 1,
        .max_docs_per_query = LONG_MAX,
        .num_docs_in_coll = 0,
        .average_complete = 0,
        .judged_docs_only = 0,
    };
    return p;
}

rr_status rr_eval_create(const rr_eval_params *params, rr_eval **out) {
    *out = NULL;
    if ((int)(sizeof((rr_eval *)0)->marked / sizeof(int)) < rr_num_measure_defs)
        return rr_error(RR_ERR_INTERNAL, "eval: measure table larger than the selection array");
    if (params->max_docs_per_query < 1)
        return rr_error(RR_ERR_INVALID_ARG, "max docs per query must be at least 1 (got %ld)",
                        params->max_docs_per_query);
    rr_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    ev->params = *params;
    *out = ev;
    return RR_OK;
}

void rr_eval_free(rr_eval *ev) {
    if (!ev)
        return;
    for (int i = 0; i < rr_num_measure_defs; i++)
        rr_measure_clear(&ev->given[i]);
    for (int i = 0; i < ev->num_measures; i++)
        rr_measure_clear(&ev->measures[i]);
    free(ev->measures);
    for (size_t r = 0; r < ev->num_rows; r++) {
        free(ev->row_ids[r]);
        free(ev->texts[r]);
    }
    free(ev->row_ids);
    free(ev->texts);
    free(ev->values);
    free(ev->run_id);
    free(ev);
}

rr_status rr_eval_add_measure(rr_eval *ev, const char *spec) {
    if (ev->computed)
        return rr_error(RR_ERR_INVALID_ARG, "measures must be added before rr_eval_compute");
    const char *dot = strchr(spec, '.');
    size_t name_len = dot ? (size_t)(dot - spec) : strlen(spec);
    char name[128];
    if (name_len == 0 || name_len >= sizeof name)
        return rr_error(RR_ERR_INVALID_ARG, "illegal measure '%s'", spec);
    memcpy(name, spec, name_len);
    name[name_len] = '\0';
    const char *const *nick = rr_measure_nickname(name);
    if (nick) {
        if (dot)
            return rr_error(RR_ERR_INVALID_ARG, "measure group '%s' takes no parameters", name);
        for (; *nick; nick++) {
            int k = rr_measure_find(*nick);
            RR_CHECK_INVARIANT(k >= 0);
            ev->marked[k] = 1;
        }
        return RR_OK;
    }
    int k = rr_measure_find(name);
    if (k < 0)
        return rr_error(RR_ERR_INVALID_ARG, "illegal measure '%s' (unknown name '%s')", spec, name);
    if (dot && !ev->given[k].def) /* the first parameters given win, as in trec_eval */
        RR_TRY(rr_measure_parse_params(&rr_measure_defs[k], dot + 1, &ev->given[k]));
    ev->marked[k] = 1;
    return RR_OK;
}

/* Selected measures in table order, with their parameters and value offsets. */
static rr_status build_measures(rr_eval *ev) {
    int any = 0;
    for (int k = 0; k < rr_num_measure_defs; k++)
        any |= ev->marked[k];
    if (!any)
        RR_TRY(rr_eval_add_measure(ev, "official"));
    ev->measures = calloc((size_t)rr_num_measure_defs, sizeof *ev->measures);
    if (!ev->measures)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    size_t offset = 0;
    for (int k = 0; k < rr_num_measure_defs; k++) {
        if (!ev->marked[k])
            continue;
        rr_measure *m = &ev->measures[ev->num_measures++];
        if (ev->given[k].def) {
            *m = ev->given[k];
            memset(&ev->given[k], 0, sizeof ev->given[k]);
        } else {
            RR_TRY(rr_measure_default_params(&rr_measure_defs[k], m));
        }
        RR_TRY(rr_measure_build_names(m));
        m->offset = offset;
        offset += (size_t)m->num_values;
    }
    ev->num_values = offset;
    return RR_OK;
}

/* --- one query's ranking (trec_eval's form_res_rels) --- */

typedef struct ranked_doc {
    double score;
    const char *docid;
} ranked_doc;

/* Score descending, then docid descending in strcmp order: trec_eval's tie-break. */
static int cmp_ranked(const void *a, const void *b) {
    const ranked_doc *x = a, *y = b;
    if (x->score > y->score)
        return -1;
    if (x->score < y->score)
        return 1;
    return strcmp(y->docid, x->docid);
}

typedef struct rank_work {
    ranked_doc *docs;   /* [R] */
    long *rel_list;     /* [R] */
    size_t docs_cap;
    long *rel_levels;   /* [max judgement + 1] */
    size_t levels_cap;
} rank_work;

static long lookup_rel(const rr_qrels *qrels, const rr_eval_query *q, const char *docid) {
    size_t lo = q->first, hi = q->first + q->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(qrels->docid[mid], docid);
        if (c == 0)
            return qrels->rel[mid] < 0 ? RR_REL_UNJUDGED : qrels->rel[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return RR_REL_NONPOOL;
}

static rr_status form_res_rels(const rr_eval_params *p, const rr_qrels *qrels,
                               const rr_eval_query *qq, const ranked_doc *docs_in, size_t n,
                               rank_work *w, rr_res_rels *rr) {
    if (n > w->docs_cap) {
        ranked_doc *nd = realloc(w->docs, n * sizeof *nd);
        if (nd)
            w->docs = nd;
        long *nr = realloc(w->rel_list, n * sizeof *nr);
        if (nr)
            w->rel_list = nr;
        if (!nd || !nr)
            return rr_error(RR_ERR_NOMEM, "out of memory (%zu ranked docs)", n);
        w->docs_cap = n;
    }
    memcpy(w->docs, docs_in, n * sizeof *w->docs);
    qsort(w->docs, n, sizeof *w->docs, cmp_ranked);
    if ((unsigned long)n > (unsigned long)p->max_docs_per_query)
        n = (size_t)p->max_docs_per_query;

    /* judgement counts per level over the whole qrels of the query */
    long max_rel = qrels->rel[qq->first];
    for (size_t i = qq->first; i < qq->first + qq->count; i++)
        if (qrels->rel[i] > max_rel)
            max_rel = qrels->rel[i];
    size_t nlevels = max_rel >= 0 ? (size_t)max_rel + 1 : 0;
    if (nlevels > w->levels_cap) {
        long *nl = realloc(w->rel_levels, nlevels * sizeof *nl);
        if (!nl)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        w->rel_levels = nl;
        w->levels_cap = nlevels;
    }
    if (nlevels)
        memset(w->rel_levels, 0, nlevels * sizeof *w->rel_levels);
    for (size_t i = qq->first; i < qq->first + qq->count; i++)
        if (qrels->rel[i] >= 0)
            w->rel_levels[qrels->rel[i]]++;

    memset(rr, 0, sizeof *rr);
    long num_ret = 0;
    for (size_t i = 0; i < n; i++) {
        long rel = lookup_rel(qrels, qq, w->docs[i].docid);
        if (p->judged_docs_only) {
            /* unjudged docs leave the ranking; the rest keep their order */
            if (rel < 0)
                continue;
        } else if (rel == RR_REL_NONPOOL) {
            rr->num_nonpool++;
        } else if (rel == RR_REL_UNJUDGED) {
            rr->num_unjudged_in_pool++;
        }
        if (rel >= 0 && rel >= p->relevance_level)
            rr->num_rel_ret++;
        w->rel_list[num_ret++] = rel;
    }
    rr->num_ret = num_ret;
    rr->rel_list = w->rel_list;
    rr->rel_levels = w->rel_levels;
    rr->rel_levels_len = (long)nlevels;
    for (long i = 0; i < (long)nlevels; i++) {
        if (w->rel_levels[i]) {
            rr->num_rel_levels = i + 1;
            if (i >= p->relevance_level)
                rr->num_rel += w->rel_levels[i];
        }
    }
    return RR_OK;
}

/* Values trec_eval resets for a query the run lacks (matched by full printed name, as
 * trec_eval does: "utility" and "relstring" only without parameters). */
static void reset_missing(const rr_eval *ev, double *row, char **text) {
    for (int i = 0; i < ev->num_measures; i++) {
        const rr_measure *m = &ev->measures[i];
        for (long v = 0; v < m->num_values; v++) {
            const char *name = m->names[v];
            if (!strcmp(name, "num_ret") || !strcmp(name, "utility") ||
                !strncmp(name, "unj", 3) || !strcmp(name, "rbp_resid"))
                row[m->offset + (size_t)v] = 0.0;
            if (!strcmp(name, "relstring") && *text)
                (*text)[0] = '\0';
        }
    }
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

rr_status rr_eval_compute(rr_eval *ev, const rr_qrels *qrels, const rr_run *run) {
    if (ev->computed)
        return rr_error(RR_ERR_INVALID_ARG, "rr_eval_compute called twice");
    RR_TRY(build_measures(ev));
    ev->computed = 1;
    size_t V = ev->num_values, max_rows = qrels->num_queries + 1;
    ev->row_ids = calloc(max_rows, sizeof *ev->row_ids);
    ev->texts = calloc(max_rows, sizeof *ev->texts);
    ev->values = calloc(max_rows * (V ? V : 1), sizeof *ev->values);
    ev->run_id = dup_str(run->run_id);
    if (!ev->row_ids || !ev->texts || !ev->values || !ev->run_id)
        return rr_error(RR_ERR_NOMEM, "out of memory (%zu queries)", max_rows);

    rr_measure_ctx ctx = {ev->params.relevance_level, ev->params.num_docs_in_coll};
    rank_work work = {0};
    ranked_doc *input = NULL;
    size_t input_cap = 0;
    rr_status st = RR_OK;
    size_t rows = 0;
    for (size_t qi = 0; qi < qrels->num_queries && !st; qi++) {
        const rr_eval_query *qq = &qrels->queries[qi];
        const rr_eval_query *rq = rr_eval_find_query(run->queries, run->num_queries, qq->qid);
        if (!rq && !ev->params.average_complete)
            continue;
        size_t n = rq ? rq->count : 1;
        if (n > input_cap) {
            ranked_doc *ni = realloc(input, n * sizeof *ni);
            if (!ni) {
                st = rr_error(RR_ERR_NOMEM, "out of memory");
                break;
            }
            input = ni;
            input_cap = n;
        }
        if (rq) {
            for (size_t i = 0; i < n; i++) {
                input[i].score = run->score[rq->first + i];
                input[i].docid = run->docid[rq->first + i];
            }
        } else {
            input[0].score = 1.0;
            input[0].docid = MISSING_QUERY_DOCID;
        }
        rr_res_rels rr;
        if ((st = form_res_rels(&ev->params, qrels, qq, input, n, &work, &rr)))
            break;
        double *row = ev->values + rows * V;
        ev->row_ids[rows] = dup_str(qq->qid);
        if (!ev->row_ids[rows]) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            break;
        }
        for (int i = 0; i < ev->num_measures && !st; i++) {
            const rr_measure *m = &ev->measures[i];
            if (!strcmp(m->def->name, "num_q"))
                row[m->offset] = 1.0;
            else if (m->def->calc)
                st = m->def->calc(&rr, &ctx, m, row + m->offset, &ev->texts[rows]);
        }
        if (!st && !rq)
            reset_missing(ev, row, &ev->texts[rows]);
        rows++;
    }
    free(work.docs);
    free(work.rel_list);
    free(work.rel_levels);
    free(input);
    ev->num_rows = rows;
    if (st)
        return st;
    if (rows == 0)
        return rr_error(RR_ERR_NOT_FOUND, "no queries with both results and relevance judgements "
                        "(%zu queries in the qrels, %zu in the run)", qrels->num_queries,
                        run->num_queries);

    /* summary: per-query values summed in order, then averaged as trec_eval does */
    double *sum = ev->values + rows * V;
    for (size_t r = 0; r < rows; r++)
        for (size_t v = 0; v < V; v++)
            sum[v] += ev->values[r * V + v];
    long num_q = (long)rows;
    long denom = ev->params.average_complete ? (long)qrels->num_queries : num_q;
    for (int i = 0; i < ev->num_measures; i++) {
        const rr_measure *m = &ev->measures[i];
        double *s = sum + m->offset;
        for (long v = 0; v < m->num_values; v++) {
            switch (m->def->avg) {
            case RR_AVG_MEAN:
                s[v] /= denom;
                break;
            case RR_AVG_GEO: {
                /* queries missing from the evaluation count at the floor (none with -c,
                 * since missing queries are evaluated) */
                double total = s[v] + (double)(denom - num_q) * log(0.00001);
                s[v] = exp(total / denom);
                break;
            }
            case RR_AVG_NUM_Q:
                s[v] = (double)num_q;
                break;
            case RR_AVG_SUM:
            case RR_AVG_NONE:
                break;
            }
        }
    }
    ev->row_ids[rows] = dup_str("all");
    ev->num_rows = rows + 1;
    if (!ev->row_ids[rows])
        return rr_error(RR_ERR_NOMEM, "out of memory");
    return RR_OK;
}

size_t rr_eval_num_rows(const rr_eval *ev) { return ev->num_rows; }

const char *rr_eval_row_id(const rr_eval *ev, size_t row) {
    return row < ev->num_rows ? ev->row_ids[row] : NULL;
}

size_t rr_eval_num_values(const rr_eval *ev) { return ev->num_values; }

rr_eval_value rr_eval_value_at(const rr_eval *ev, size_t row, size_t index) {
    rr_eval_value out = {0};
    if (row >= ev->num_rows || index >= ev->num_values)
        return out;
    int summary = row + 1 == ev->num_rows;
    for (int i = 0; i < ev->num_measures; i++) {
        const rr_measure *m = &ev->measures[i];
        if (index < m->offset || index >= m->offset + (size_t)m->num_values)
            continue;
        out.name = m->names[index - m->offset];
        out.kind = m->def->kind;
        out.present = summary ? m->def->summary : m->def->per_query;
        if (m->def->kind == RR_EVAL_TEXT) {
            if (!strcmp(m->def->name, "runid"))
                out.text = ev->run_id;
            else
                out.text = summary ? NULL : (ev->texts[row] ? ev->texts[row] : "");
        } else {
            out.value = ev->values[row * ev->num_values + index];
        }
        break;
    }
    return out;
}

/* One row in trec_eval's layout: "%-22s\t%s\t%6.4f" (counts "%ld", relstring quoted). */
static void write_row(const rr_eval *ev, FILE *out, size_t row) {
    const char *id = ev->row_ids[row];
    for (size_t v = 0; v < ev->num_values; v++) {
        rr_eval_value x = rr_eval_value_at(ev, row, v);
        if (!x.present)
            continue;
        if (x.kind == RR_EVAL_TEXT && !strcmp(x.name, "runid"))
            fprintf(out, "%-22s\t%s\t%s\n", x.name, id, x.text);
        else if (x.kind == RR_EVAL_TEXT)
            fprintf(out, "%-22s\t%s\t'%s'\n", x.name, id, x.text);
        else if (x.kind == RR_EVAL_COUNT)
            fprintf(out, "%-22s\t%s\t%ld\n", x.name, id, (long)x.value);
        else
            fprintf(out, "%-22s\t%s\t%6.4f\n", x.name, id, x.value);
    }
}

rr_status rr_eval_write_text(const rr_eval *ev, FILE *out, int per_query, int no_summary) {
    if (ev->num_rows == 0)
        return rr_error(RR_ERR_INVALID_ARG, "rr_eval_write_text before a successful compute");
    if (per_query)
        for (size_t r = 0; r + 1 < ev->num_rows; r++)
            write_row(ev, out, r);
    if (!no_summary)
        write_row(ev, out, ev->num_rows - 1);
    if (ferror(out))
        return rr_error(RR_ERR_IO, "write error on the output");
    return RR_OK;
}
