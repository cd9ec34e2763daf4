/* io/candidates.c — TREC run → per-query candidate lists (see candidates.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/candidates.h"
#include "io/lines.h"
#include "util/error.h"

typedef struct line_rec {
    size_t qid_off, doc_off; /* into the arena */
    uint32_t query;          /* index in order of first appearance */
    double score;
    long long line_no;
} line_rec;

typedef struct reader {
    char *arena;
    size_t arena_len, arena_cap;
    line_rec *recs;
    size_t n, cap;
    size_t *qid_offs; /* [num_queries] */
    size_t nq, qcap;
    uint32_t *slots;  /* open-addressing table of query indices + 1 */
    size_t nslots;
} reader;

static rr_status arena_put(reader *r, const char *s, size_t n, size_t *off) {
    if (r->arena_len + n + 1 > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap * 2 : 1 << 16;
        while (cap < r->arena_len + n + 1)
            cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a)
            return rr_error(RR_ERR_NOMEM, "out of memory reading candidates");
        r->arena = a;
        r->arena_cap = cap;
    }
    memcpy(r->arena + r->arena_len, s, n);
    r->arena[r->arena_len + n] = '\0';
    *off = r->arena_len;
    r->arena_len += n + 1;
    return RR_OK;
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static rr_status grow_slots(reader *r) {
    size_t ns = r->nslots ? r->nslots * 2 : 1024;
    uint32_t *t = calloc(ns, sizeof *t);
    if (!t)
        return rr_error(RR_ERR_NOMEM, "out of memory reading candidates");
    for (size_t q = 0; q < r->nq; q++) {
        const char *s = r->arena + r->qid_offs[q];
        size_t h = (size_t)(fnv1a(s, strlen(s)) & (ns - 1));
        while (t[h])
            h = (h + 1) & (ns - 1);
        t[h] = (uint32_t)q + 1;
    }
    free(r->slots);
    r->slots = t;
    r->nslots = ns;
    return RR_OK;
}

static rr_status intern_query(reader *r, const char *s, size_t n, uint32_t *q, size_t *off) {
    if ((r->nq + 1) * 2 > r->nslots)
        RR_TRY(grow_slots(r));
    size_t h = (size_t)(fnv1a(s, n) & (r->nslots - 1));
    while (r->slots[h]) {
        size_t o = r->qid_offs[r->slots[h] - 1];
        if (!strncmp(r->arena + o, s, n) && r->arena[o + n] == '\0') {
            *q = r->slots[h] - 1;
            *off = o;
            return RR_OK;
        }
        h = (h + 1) & (r->nslots - 1);
    }
    if (r->nq == r->qcap) {
        size_t cap = r->qcap ? r->qcap * 2 : 256;
        size_t *p = realloc(r->qid_offs, cap * sizeof *p);
        if (!p)
            return rr_error(RR_ERR_NOMEM, "out of memory reading candidates");
        r->qid_offs = p;
        r->qcap = cap;
    }
    RR_TRY(arena_put(r, s, n, off));
    r->qid_offs[r->nq] = *off;
    r->slots[h] = (uint32_t)r->nq + 1;
    *q = (uint32_t)r->nq++;
    return RR_OK;
}

static const char *g_arena; /* qsort has no context argument in C11 */

/* query (first appearance), then score descending, then docid descending (trec_eval) */
static int cmp_rec(const void *a, const void *b) {
    const line_rec *x = a, *y = b;
    if (x->query != y->query)
        return x->query < y->query ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    int c = strcmp(g_arena + y->doc_off, g_arena + x->doc_off);
    if (c)
        return c;
    return x->line_no < y->line_no ? -1 : 1;
}

/* (line_rec *) by docid */
static int cmp_rec_doc(const void *a, const void *b) {
    const line_rec *x = *(const line_rec *const *)a, *y = *(const line_rec *const *)b;
    return strcmp(g_arena + x->doc_off, g_arena + y->doc_off);
}

static void reader_free(reader *r) {
    free(r->arena);
    free(r->recs);
    free(r->qid_offs);
    free(r->slots);
}

rr_status rr_candidates_load(const char *path, size_t top_n, rr_candidates *out) {
    memset(out, 0, sizeof *out);
    reader r;
    memset(&r, 0, sizeof r);
    rr_line_reader lr;
    RR_TRY(rr_lines_open(&lr, path, 1 << 20));
    rr_status st = RR_OK;
    for (;;) {
        int eof = 0;
        if ((st = rr_lines_next(&lr, &eof)) || eof)
            break;
        char *f[7];
        size_t fl[7], nf = 0;
        char *p = lr.buf, *end = lr.buf + lr.len;
        while (p < end && nf < 7) {
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p == end)
                break;
            f[nf] = p;
            while (p < end && *p != ' ' && *p != '\t')
                p++;
            fl[nf] = (size_t)(p - f[nf]);
            nf++;
        }
        if (nf == 0)
            continue; /* blank line */
        if (nf != 6) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: %s%zu fields, a TREC run line has 6 (qid Q0 docid rank "
                          "score tag)", path, lr.line_no, nf > 6 ? "more than " : "", nf > 6 ? (size_t)6 : nf);
            break;
        }
        char tmp[64];
        if (fl[4] >= sizeof tmp) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: score field too long", path, lr.line_no);
            break;
        }
        memcpy(tmp, f[4], fl[4]);
        tmp[fl[4]] = '\0';
        char *e;
        double score = strtod(tmp, &e);
        if (*e || e == tmp || !isfinite(score)) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: score \"%s\" is not a finite number", path, lr.line_no, tmp);
            break;
        }
        if (r.n == r.cap) {
            size_t cap = r.cap ? r.cap * 2 : 4096;
            line_rec *nr = realloc(r.recs, cap * sizeof *nr);
            if (!nr) {
                st = rr_error(RR_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            r.recs = nr;
            r.cap = cap;
        }
        line_rec *rec = &r.recs[r.n];
        if ((st = intern_query(&r, f[0], fl[0], &rec->query, &rec->qid_off)) ||
            (st = arena_put(&r, f[2], fl[2], &rec->doc_off)))
            break;
        rec->score = score;
        rec->line_no = lr.line_no;
        r.n++;
    }
    out->lines = (size_t)lr.line_no;
    rr_lines_close(&lr);
    if (!st && r.n == 0)
        st = rr_error(RR_ERR_FORMAT, "%s: no candidates", path);
    if (st) {
        reader_free(&r);
        return st;
    }
    g_arena = r.arena;
    qsort(r.recs, r.n, sizeof *r.recs, cmp_rec);
    /* duplicates: same query, same docid (adjacent only when scores tie) — check per query */
    out->qids = malloc(r.nq * sizeof *out->qids);
    out->first = malloc((r.nq + 1) * sizeof *out->first);
    out->docids = malloc(r.n * sizeof *out->docids);
    out->scores = malloc(r.n * sizeof *out->scores);
    out->line_no = malloc(r.n * sizeof *out->line_no);
    const line_rec **seen = malloc(r.n * sizeof *seen); /* the records of one query */
    if (!out->qids || !out->first || !out->docids || !out->scores || !out->line_no || !seen) {
        free(seen);
        reader_free(&r);
        rr_candidates_free(out);
        return rr_error(RR_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t k = 0, i = 0;
    for (uint32_t q = 0; q < r.nq; q++) {
        out->qids[q] = r.arena + r.qid_offs[q];
        out->first[q] = k;
        size_t start = i, kept = 0;
        while (i < r.n && r.recs[i].query == q)
            i++;
        /* duplicate docids within the query: sort by docid, compare neighbours */
        size_t m = i - start;
        for (size_t j = 0; j < m; j++)
            seen[j] = &r.recs[start + j];
        qsort(seen, m, sizeof *seen, cmp_rec_doc);
        for (size_t j = 1; j < m; j++) {
            const line_rec *a = seen[j - 1], *b = seen[j];
            if (!strcmp(r.arena + a->doc_off, r.arena + b->doc_off)) {
                long long l1 = a->line_no < b->line_no ? a->line_no : b->line_no;
                long long l2 = a->line_no < b->line_no ? b->line_no : a->line_no;
                st = rr_error(RR_ERR_FORMAT, "%s:%lld: document \"%s\" listed again for query \"%s\" "
                              "(first on line %lld)", path, l2, r.arena + a->doc_off, r.arena + r.qid_offs[q], l1);
                break;
            }
        }
        if (st)
            break;
        for (size_t j = start; j < i; j++) {
            if (top_n && kept == top_n)
                break;
            out->docids[k] = r.arena + r.recs[j].doc_off;
            out->scores[k] = r.recs[j].score;
            out->line_no[k] = r.recs[j].line_no;
            k++;
            kept++;
        }
    }
    if (st) {
        free(seen);
        reader_free(&r);
        rr_candidates_free(out);
        return st;
    }
    out->first[r.nq] = k;
    out->num_queries = r.nq;
    out->num_docs = k;
    free(seen);
    out->arena = r.arena;
    r.arena = NULL;
    reader_free(&r);
    return RR_OK;
}

void rr_candidates_free(rr_candidates *c) {
    free(c->qids);
    free(c->first);
    free(c->docids);
    free(c->scores);
    free(c->line_no);
    free(c->arena);
    memset(c, 0, sizeof *c);
}
