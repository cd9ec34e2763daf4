/* eval/trec_files.c — readers for TREC qrels (and BEIR qrels TSV) and TREC runs.
 *
 * Both files become one array of documents sorted by (qid, docid) in strcmp order, cut
 * into per-query slices; that order is how trec_eval stores them, and it makes duplicates
 * adjacent, so a docid judged or retrieved twice for a query is found in one pass and
 * reported with both line numbers. Query ids are interned while reading (a hash table), so
 * the sort compares small integers for the qid and strcmp only for docids.
 */
#include "eval/eval_internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/lines.h"
#include "util/error.h"

/* Relevance values above this are refused: trec_eval keeps a counter per level. */
#define RR_MAX_REL_LEVEL (1L << 20)

/* --- a growing string arena addressed by offsets (stable across realloc) --- */
typedef struct str_arena {
    char *data;
    size_t len, cap;
} str_arena;

static rr_status arena_add(str_arena *a, const char *s, size_t n, size_t *off) {
    if (a->cap - a->len < n + 1) {
        size_t ncap = a->cap ? a->cap : 1 << 16;
        while (ncap - a->len < n + 1)
            ncap *= 2;
        char *nd = realloc(a->data, ncap);
        if (!nd)
            return rr_error(RR_ERR_NOMEM, "out of memory (%zu bytes of ids)", ncap);
        a->data = nd;
        a->cap = ncap;
    }
    memcpy(a->data + a->len, s, n);
    a->data[a->len + n] = '\0';
    *off = a->len;
    a->len += n + 1;
    return RR_OK;
}

/* --- query id interning: open addressing over the arena offsets --- */
typedef struct qid_table {
    uint32_t *slots;  /* [cap] distinct index + 1; 0 = empty */
    size_t cap;
    size_t *offs;     /* [n] arena offset of each distinct qid */
    size_t n, offs_cap;
} qid_table;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static rr_status qid_intern(qid_table *t, str_arena *a, const char *s, size_t n, uint32_t *idx) {
    if (2 * (t->n + 1) > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return rr_error(RR_ERR_NOMEM, "out of memory (query table)");
        for (size_t i = 0; i < t->n; i++) {
            const char *q = a->data + t->offs[i];
            size_t h = (size_t)hash_bytes(q, strlen(q)) & (ncap - 1);
            while (ns[h])
                h = (h + 1) & (ncap - 1);
            ns[h] = (uint32_t)(i + 1);
        }
        free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    size_t h = (size_t)hash_bytes(s, n) & (t->cap - 1);
    while (t->slots[h]) {
        const char *q = a->data + t->offs[t->slots[h] - 1];
        if (strlen(q) == n && !memcmp(q, s, n)) {
            *idx = t->slots[h] - 1;
            return RR_OK;
        }
        h = (h + 1) & (t->cap - 1);
    }
    if (t->n == UINT32_MAX - 1)
        return rr_error(RR_ERR_UNSUPPORTED, "more than 4 billion distinct query ids");
    if (t->n == t->offs_cap) {
        size_t ncap = t->offs_cap ? t->offs_cap * 2 : 256;
        size_t *no = realloc(t->offs, ncap * sizeof *no);
        if (!no)
            return rr_error(RR_ERR_NOMEM, "out of memory (query table)");
        t->offs = no;
        t->offs_cap = ncap;
    }
    RR_TRY(arena_add(a, s, n, &t->offs[t->n]));
    t->slots[h] = (uint32_t)(t->n + 1);
    *idx = (uint32_t)t->n++;
    return RR_OK;
}

static void qid_table_free(qid_table *t) {
    free(t->slots);
    free(t->offs);
    memset(t, 0, sizeof *t);
}

/* --- one parsed line --- */
typedef struct doc_rec {
    union {
        size_t off;       /* while reading: arena offset of the docid */
        const char *ptr;  /* after reading */
    } doc;
    uint32_t q;           /* distinct qid index while reading, then its rank in strcmp order */
    long long line_no;
    double value;         /* score (run) or judgement (qrels) */
} doc_rec;

typedef struct rec_list {
    doc_rec *recs;
    size_t n, cap;
} rec_list;

static rr_status rec_push(rec_list *l, doc_rec r) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4096;
        doc_rec *nr = realloc(l->recs, ncap * sizeof *nr);
        if (!nr)
            return rr_error(RR_ERR_NOMEM, "out of memory (%zu lines)", l->n);
        l->recs = nr;
        l->cap = ncap;
    }
    l->recs[l->n++] = r;
    return RR_OK;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Split line in place on whitespace. Up to max field starts go to fields (NUL-terminated);
 * returns the total number of fields. */
static size_t split_fields(char *line, size_t len, char **fields, size_t *lens, size_t max) {
    size_t count = 0, i = 0;
    while (i < len) {
        while (i < len && is_space(line[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && !is_space(line[i]))
            i++;
        if (count < max) {
            fields[count] = line + start;
            lens[count] = i - start;
        }
        if (i < len)
            line[i++] = '\0';
        count++;
    }
    return count;
}

static int cmp_qid_ptr(const void *a, const void *b) {
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

static int cmp_rec(const void *a, const void *b) {
    const doc_rec *x = a, *y = b;
    if (x->q != y->q)
        return x->q < y->q ? -1 : 1;
    int c = strcmp(x->doc.ptr, y->doc.ptr);
    if (c)
        return c;
    return x->line_no < y->line_no ? -1 : x->line_no > y->line_no;
}

/* Sort the records by (qid, docid), refuse duplicates, and cut them into query slices.
 * what: "judged" or "retrieved" for the duplicate message. */
static rr_status finish_records(const char *path, const char *what, str_arena *arena,
                                qid_table *qt, rec_list *rl, rr_eval_query **queries_out) {
    /* rank the distinct qids in strcmp order */
    const char **qptr = malloc((qt->n ? qt->n : 1) * sizeof *qptr);
    const char ***qsorted = malloc((qt->n ? qt->n : 1) * sizeof *qsorted);
    uint32_t *rank = malloc((qt->n ? qt->n : 1) * sizeof *rank);
    rr_eval_query *queries = calloc(qt->n ? qt->n : 1, sizeof *queries);
    if (!qptr || !qsorted || !rank || !queries) {
        free(qptr);
        free(qsorted);
        free(rank);
        free(queries);
        return rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < qt->n; i++) {
        qptr[i] = arena->data + qt->offs[i];
        qsorted[i] = &qptr[i];
    }
    qsort(qsorted, qt->n, sizeof *qsorted, cmp_qid_ptr);
    for (size_t r = 0; r < qt->n; r++)
        rank[qsorted[r] - qptr] = (uint32_t)r;
    for (size_t i = 0; i < rl->n; i++) {
        doc_rec *d = &rl->recs[i];
        d->doc.ptr = arena->data + d->doc.off;
        d->q = rank[d->q];
    }
    qsort(rl->recs, rl->n, sizeof *rl->recs, cmp_rec);

    /* duplicates are adjacent; report the one whose second occurrence comes first */
    const doc_rec *dup = NULL, *dup_first = NULL;
    for (size_t i = 1; i < rl->n; i++) {
        const doc_rec *a = &rl->recs[i - 1], *b = &rl->recs[i];
        if (a->q == b->q && !strcmp(a->doc.ptr, b->doc.ptr) &&
            (!dup || b->line_no < dup->line_no)) {
            dup = b;
            dup_first = a;
            /* the earliest occurrence of this docid is the first of its run */
            for (size_t k = i - 1; k > 0 && rl->recs[k - 1].q == b->q &&
                                   !strcmp(rl->recs[k - 1].doc.ptr, b->doc.ptr); k--)
                dup_first = &rl->recs[k - 1];
        }
    }
    rr_status st = RR_OK;
    if (dup) {
        st = rr_error(RR_ERR_FORMAT, "%s:%lld: docid '%s' %s twice for query '%s' (also at line %lld)",
                      path, dup->line_no, dup->doc.ptr, what, *qsorted[dup->q],
                      dup_first->line_no);
    } else {
        for (size_t r = 0; r < qt->n; r++)
            queries[r].qid = *qsorted[r];
        for (size_t i = 0; i < rl->n; i++) {
            rr_eval_query *q = &queries[rl->recs[i].q];
            if (q->count == 0)
                q->first = i;
            q->count++;
        }
    }
    free(qptr);
    free(qsorted);
    free(rank);
    if (st) {
        free(queries);
        return st;
    }
    *queries_out = queries;
    return RR_OK;
}

/* Parse a whole token as an integer (judgement). */
static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return 0;
    *out = v;
    return 1;
}

static int parse_score(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || isnan(v))
        return 0;
    /* ERANGE on underflow still yields a usable (tiny or zero) score; overflow gives inf,
     * which orders correctly. */
    *out = v;
    return 1;
}

rr_status rr_qrels_load(const char *path, rr_qrels **out) {
    *out = NULL;
    rr_line_reader r;
    RR_TRY(rr_lines_open(&r, path, 0));
    str_arena arena = {0};
    qid_table qt = {0};
    rec_list rl = {0};
    rr_status st;
    int eof = 0, beir = -1; /* -1: format not known yet */
    while (!(st = rr_lines_next(&r, &eof)) && !eof) {
        if (r.len && r.buf[0] == '#')
            continue;
        char *f[5];
        size_t fl[5];
        size_t nf = split_fields(r.buf, r.len, f, fl, 5);
        if (nf == 0)
            continue;
        if (beir < 0) {
            beir = nf == 3 && !strcmp(f[0], "query-id") && !strcmp(f[1], "corpus-id") &&
                   !strcmp(f[2], "score");
            if (beir)
                continue;
        }
        size_t want = beir ? 3 : 4;
        if (nf != want) {
            st = beir ? rr_error(RR_ERR_FORMAT, "%s:%lld: expected 3 fields (query-id corpus-id score) "
                                 "in a BEIR qrels file, found %zu", path, r.line_no, nf)
                      : rr_error(RR_ERR_FORMAT, "%s:%lld: expected 4 fields (qid iter docid rel), "
                                 "found %zu", path, r.line_no, nf);
            break;
        }
        const char *rel_s = f[want - 1];
        long rel;
        if (!parse_long(rel_s, &rel)) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: relevance '%s' is not an integer", path,
                          r.line_no, rel_s);
            break;
        }
        if (rel > RR_MAX_REL_LEVEL || rel < -RR_MAX_REL_LEVEL) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: relevance %ld out of range (|rel| <= %ld)", path,
                          r.line_no, rel, RR_MAX_REL_LEVEL);
            break;
        }
        size_t di = beir ? 1 : 2;
        doc_rec d = {.line_no = r.line_no, .value = (double)rel};
        if ((st = qid_intern(&qt, &arena, f[0], fl[0], &d.q)) ||
            (st = arena_add(&arena, f[di], fl[di], &d.doc.off)) || (st = rec_push(&rl, d)))
            break;
    }
    rr_lines_close(&r);
    if (!st && rl.n == 0)
        st = rr_error(RR_ERR_FORMAT, "%s: no judgements", path);
    rr_qrels *q = NULL;
    if (!st) {
        q = calloc(1, sizeof *q);
        if (!q)
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!st)
        st = finish_records(path, "judged", &arena, &qt, &rl, &q->queries);
    if (!st) {
        q->num_docs = rl.n;
        q->num_queries = qt.n;
        q->docid = malloc(rl.n * sizeof *q->docid);
        q->rel = malloc(rl.n * sizeof *q->rel);
        if (!q->docid || !q->rel) {
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
        } else {
            for (size_t i = 0; i < rl.n; i++) {
                q->docid[i] = rl.recs[i].doc.ptr;
                q->rel[i] = (long)rl.recs[i].value;
            }
            q->strings = arena.data;
            arena.data = NULL;
        }
    }
    free(arena.data);
    qid_table_free(&qt);
    free(rl.recs);
    if (st) {
        rr_qrels_free(q);
        return st;
    }
    *out = q;
    return RR_OK;
}

void rr_qrels_free(rr_qrels *q) {
    if (!q)
        return;
    free(q->strings);
    free(q->docid);
    free(q->rel);
    free(q->queries);
    free(q);
}

size_t rr_qrels_num_queries(const rr_qrels *q) { return q->num_queries; }
size_t rr_qrels_num_judgements(const rr_qrels *q) { return q->num_docs; }
const char *rr_qrels_query_id(const rr_qrels *q, size_t i) {
    return i < q->num_queries ? q->queries[i].qid : NULL;
}

rr_status rr_run_load(const char *path, rr_run **out) {
    *out = NULL;
    rr_line_reader r;
    RR_TRY(rr_lines_open(&r, path, 0));
    str_arena arena = {0};
    qid_table qt = {0};
    rec_list rl = {0};
    rr_status st;
    int eof = 0;
    size_t run_id_off = 0;
    char *last_tag = NULL;
    size_t last_tag_len = 0, last_tag_cap = 0;
    while (!(st = rr_lines_next(&r, &eof)) && !eof) {
        char *f[6];
        size_t fl[6];
        size_t nf = split_fields(r.buf, r.len, f, fl, 6);
        if (nf == 0 || f[0][0] == '#')
            continue;
        if (nf < 6) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: expected 6 fields (qid Q0 docid rank score tag), "
                          "found %zu", path, r.line_no, nf);
            break;
        }
        doc_rec d = {.line_no = r.line_no};
        if (!parse_score(f[4], &d.value)) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: score '%s' is not a number", path, r.line_no, f[4]);
            break;
        }
        if ((st = qid_intern(&qt, &arena, f[0], fl[0], &d.q)) ||
            (st = arena_add(&arena, f[2], fl[2], &d.doc.off)) || (st = rec_push(&rl, d)))
            break;
        if (fl[5] + 1 > last_tag_cap) {
            char *nt = realloc(last_tag, fl[5] + 1);
            if (!nt) {
                st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            last_tag = nt;
            last_tag_cap = fl[5] + 1;
        }
        memcpy(last_tag, f[5], fl[5]);
        last_tag[fl[5]] = '\0';
        last_tag_len = fl[5];
    }
    rr_lines_close(&r);
    if (!st && rl.n == 0)
        st = rr_error(RR_ERR_FORMAT, "%s: no results", path);
    if (!st)
        st = arena_add(&arena, last_tag, last_tag_len, &run_id_off);
    free(last_tag);
    rr_run *run = NULL;
    if (!st) {
        run = calloc(1, sizeof *run);
        if (!run)
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!st)
        st = finish_records(path, "retrieved", &arena, &qt, &rl, &run->queries);
    if (!st) {
        run->num_docs = rl.n;
        run->num_queries = qt.n;
        run->docid = malloc(rl.n * sizeof *run->docid);
        run->score = malloc(rl.n * sizeof *run->score);
        if (!run->docid || !run->score) {
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
        } else {
            for (size_t i = 0; i < rl.n; i++) {
                run->docid[i] = rl.recs[i].doc.ptr;
                run->score[i] = rl.recs[i].value;
            }
            run->strings = arena.data;
            run->run_id = arena.data + run_id_off;
            arena.data = NULL;
        }
    }
    free(arena.data);
    qid_table_free(&qt);
    free(rl.recs);
    if (st) {
        rr_run_free(run);
        return st;
    }
    *out = run;
    return RR_OK;
}

void rr_run_free(rr_run *run) {
    if (!run)
        return;
    free(run->strings);
    free(run->docid);
    free(run->score);
    free(run->queries);
    free(run);
}

size_t rr_run_num_queries(const rr_run *run) { return run->num_queries; }
size_t rr_run_num_lines(const rr_run *run) { return run->num_docs; }
const char *rr_run_id(const rr_run *run) { return run->run_id; }

const rr_eval_query *rr_eval_find_query(const rr_eval_query *queries, size_t n, const char *qid) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(queries[mid].qid, qid);
        if (c == 0)
            return &queries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
