/* io/candidates.c — TREC run → per-query candidate lists, all in memory or streamed one query at a
 * time (see candidates.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* One line of a run: its qid and docid (pointers into the line), its score. *blank = 1 for
 * a line of whitespace only. The errors name path:line. */
typedef struct run_line {
    const char *qid, *docid;
    size_t qid_len, docid_len;
    double score;
} run_line;

static rr_status parse_line(const char *path, const rr_line_reader *lr, run_line *out, int *blank) {
    const char *f[7];
    size_t fl[7], nf = 0;
    const char *p = lr->buf, *end = lr->buf + lr->len;
    *blank = 0;
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
    if (nf == 0) {
        *blank = 1;
        return RR_OK;
    }
    if (nf != 6)
        return rr_error(RR_ERR_FORMAT, "%s:%lld: %s%zu fields, a TREC run line has 6 (qid Q0 docid rank "
                        "score tag)", path, lr->line_no, nf > 6 ? "more than " : "", nf > 6 ? (size_t)6 : nf);
    char tmp[64];
    if (fl[4] >= sizeof tmp)
        return rr_error(RR_ERR_FORMAT, "%s:%lld: score field too long", path, lr->line_no);
    memcpy(tmp, f[4], fl[4]);
    tmp[fl[4]] = '\0';
    char *e;
    double score = strtod(tmp, &e);
    if (*e || e == tmp || !isfinite(score))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: score \"%s\" is not a finite number", path, lr->line_no, tmp);
    out->qid = f[0];
    out->qid_len = fl[0];
    out->docid = f[2];
    out->docid_len = fl[2];
    out->score = score;
    return RR_OK;
}

/* room for one more record */
static rr_status reserve_rec(reader *r, const char *path) {
    if (r->n < r->cap)
        return RR_OK;
    size_t cap = r->cap ? r->cap * 2 : 4096;
    line_rec *nr = realloc(r->recs, cap * sizeof *nr);
    if (!nr)
        return rr_error(RR_ERR_NOMEM, "out of memory reading %s", path);
    r->recs = nr;
    r->cap = cap;
    return RR_OK;
}

/* The first docid listed twice among one query's m records (seen: scratch for m pointers):
 * 1 and the message's fields, else 0. The same rule for the loader and the stream, so that
 * both name the same two lines. */
static int find_duplicate(const line_rec *recs, size_t m, const line_rec **seen, const line_rec **first,
                          const line_rec **again) {
    for (size_t j = 0; j < m; j++)
        seen[j] = &recs[j];
    qsort(seen, m, sizeof *seen, cmp_rec_doc);
    for (size_t j = 1; j < m; j++) {
        const line_rec *a = seen[j - 1], *b = seen[j];
        if (!strcmp(g_arena + a->doc_off, g_arena + b->doc_off)) {
            *first = a->line_no < b->line_no ? a : b;
            *again = a->line_no < b->line_no ? b : a;
            return 1;
        }
    }
    return 0;
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
        run_line ln;
        int blank;
        if ((st = parse_line(path, &lr, &ln, &blank)))
            break;
        if (blank)
            continue;
        if ((st = reserve_rec(&r, path)))
            break;
        line_rec *rec = &r.recs[r.n];
        if ((st = intern_query(&r, ln.qid, ln.qid_len, &rec->query, &rec->qid_off)) ||
            (st = arena_put(&r, ln.docid, ln.docid_len, &rec->doc_off)))
            break;
        rec->score = ln.score;
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
        const line_rec *d1, *d2;
        if (find_duplicate(r.recs + start, i - start, seen, &d1, &d2))
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: document \"%s\" listed again for query \"%s\" "
                          "(first on line %lld)", path, d2->line_no, r.arena + d1->doc_off, r.arena + r.qid_offs[q],
                          d1->line_no);
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

/* ---- the stream: one query at a time ----
 *
 * A run written by a first stage lists each query's lines together. Pass 1 (open) reads
 * every line, validates it as the loader does, and keeps only the qids (to see that no query
 * comes back after another began) and the largest query's size; later passes (rewind, next)
 * read the file again, one query's lines at a time. When a query does come back, the file is
 * read again by rr_candidates_load and served from memory. */

struct rr_cand_stream {
    char *path;
    size_t top_n;
    rr_cand_stream_info info;
    rr_candidates mem;      /* !info.grouped: the whole run */
    size_t next_query;      /* queries handed out since open / rewind */
    rr_line_reader lr;
    int lr_open;
    int pending;            /* lr.buf holds the first line of the next query, already read */
    int pass1;              /* open's scan: record the qids, keep a duplicate for the end */
    reader qids;            /* pass 1: every qid, in order of appearance (arena, qid_offs, table) */
    reader cur;             /* the current query's lines: docids in cur.arena, cur.recs */
    size_t out_cap;         /* capacity of seen, docids, scores, line_no */
    const line_rec **seen;  /* [out_cap] */
    const char **docids;    /* [out_cap] the current query's candidates, trec_eval's order, cut */
    double *scores;         /* [out_cap] */
    long long *line_no;     /* [out_cap] */
    rr_status dup_st;       /* pass 1: the first duplicate, reported when no other error follows */
    char dup_msg[1024];
};

static rr_status stream_reopen(rr_cand_stream *s) {
    if (s->lr_open)
        rr_lines_close(&s->lr);
    s->lr_open = 0;
    s->pending = 0;
    s->next_query = 0;
    RR_TRY(rr_lines_open(&s->lr, s->path, 1 << 20));
    s->lr_open = 1;
    return RR_OK;
}

/* the next query's lines into s->cur; *eof = 1 when there is none */
static rr_status stream_read_query(rr_cand_stream *s, int *eof) {
    reader *c = &s->cur;
    c->arena_len = 0;
    c->n = 0;
    size_t qid_len = 0;
    *eof = 0;
    for (;;) {
        if (!s->pending) {
            int end = 0;
            RR_TRY(rr_lines_next(&s->lr, &end));
            if (end)
                break;
        }
        s->pending = 0;
        run_line ln;
        int blank;
        RR_TRY(parse_line(s->path, &s->lr, &ln, &blank));
        if (blank)
            continue;
        if (c->n == 0) {
            size_t off;
            RR_TRY(arena_put(c, ln.qid, ln.qid_len, &off)); /* the qid: offset 0 */
            qid_len = ln.qid_len;
        } else if (ln.qid_len != qid_len || memcmp(ln.qid, c->arena, qid_len)) {
            s->pending = 1; /* the next query's first line */
            break;
        }
        RR_TRY(reserve_rec(c, s->path));
        line_rec *rec = &c->recs[c->n];
        RR_TRY(arena_put(c, ln.docid, ln.docid_len, &rec->doc_off));
        rec->qid_off = 0;
        rec->query = 0;
        rec->score = ln.score;
        rec->line_no = s->lr.line_no;
        c->n++;
    }
    *eof = c->n == 0;
    return RR_OK;
}

/* s->cur's lines → trec_eval's order, duplicates checked, cut to top n */
static rr_status stream_finish_query(rr_cand_stream *s, rr_cand_query *q) {
    reader *c = &s->cur;
    if (c->n > s->out_cap) { /* only in pass 1: later passes read the same file */
        size_t cap = c->cap;
        const line_rec **seen = realloc(s->seen, cap * sizeof *seen);
        if (seen)
            s->seen = seen;
        const char **docids = realloc(s->docids, cap * sizeof *docids);
        if (docids)
            s->docids = docids;
        double *scores = realloc(s->scores, cap * sizeof *scores);
        if (scores)
            s->scores = scores;
        long long *line_no = realloc(s->line_no, cap * sizeof *line_no);
        if (line_no)
            s->line_no = line_no;
        if (!seen || !docids || !scores || !line_no)
            return rr_error(RR_ERR_NOMEM, "out of memory reading %s", s->path);
        s->out_cap = cap;
    }
    g_arena = c->arena;
    qsort(c->recs, c->n, sizeof *c->recs, cmp_rec);
    const line_rec *d1, *d2;
    if (find_duplicate(c->recs, c->n, s->seen, &d1, &d2)) {
        rr_status st = rr_error(RR_ERR_FORMAT, "%s:%lld: document \"%s\" listed again for query \"%s\" "
                                "(first on line %lld)", s->path, d2->line_no, c->arena + d1->doc_off, c->arena,
                                d1->line_no);
        if (!s->pass1)
            return st;
        if (!s->dup_st) {
            s->dup_st = st;
            snprintf(s->dup_msg, sizeof s->dup_msg, "%s", rr_last_error());
        }
    }
    size_t kept = s->top_n && c->n > s->top_n ? s->top_n : c->n;
    for (size_t j = 0; j < kept; j++) {
        s->docids[j] = c->arena + c->recs[j].doc_off;
        s->scores[j] = c->recs[j].score;
        s->line_no[j] = c->recs[j].line_no;
    }
    q->qid = c->arena;
    q->num_docs = kept;
    q->docids = s->docids;
    q->scores = s->scores;
    q->line_no = s->line_no;
    return RR_OK;
}

/* Pass 1. *regrouped = 1 when a query's lines come back after another query began. */
static rr_status stream_scan(rr_cand_stream *s, int *regrouped) {
    *regrouped = 0;
    RR_TRY(stream_reopen(s));
    s->pass1 = 1;
    for (;;) {
        int eof;
        RR_TRY(stream_read_query(s, &eof));
        if (eof)
            break;
        const size_t nq = s->qids.nq;
        uint32_t qi;
        size_t off;
        RR_TRY(intern_query(&s->qids, s->cur.arena, strlen(s->cur.arena), &qi, &off));
        if (s->qids.nq == nq) { /* seen before */
            *regrouped = 1;
            s->info.regroup_line = s->cur.recs[0].line_no;
            return RR_OK;
        }
        rr_cand_query q;
        RR_TRY(stream_finish_query(s, &q));
        s->info.num_docs += q.num_docs;
        if (q.num_docs > s->info.max_query_docs)
            s->info.max_query_docs = q.num_docs;
    }
    s->pass1 = 0;
    s->info.lines = (size_t)s->lr.line_no;
    s->info.num_queries = s->qids.nq;
    if (s->info.num_queries == 0)
        return rr_error(RR_ERR_FORMAT, "%s: no candidates", s->path);
    if (s->dup_st)
        return rr_error(s->dup_st, "%s", s->dup_msg);
    return RR_OK;
}

rr_status rr_cand_stream_open(const char *path, size_t top_n, rr_cand_stream **out) {
    *out = NULL;
    rr_cand_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return rr_error(RR_ERR_NOMEM, "out of memory reading %s", path);
    }
    s->top_n = top_n;
    s->info.grouped = 1;
    int regrouped = 0;
    rr_status st = stream_scan(s, &regrouped);
    if (!st && regrouped) {
        /* interleaved queries: the loader's way, every line in memory */
        s->info.grouped = 0;
        rr_lines_close(&s->lr);
        s->lr_open = 0;
        reader_free(&s->qids);
        memset(&s->qids, 0, sizeof s->qids);
        if (!(st = rr_candidates_load(path, top_n, &s->mem))) {
            s->info.num_queries = s->mem.num_queries;
            s->info.num_docs = s->mem.num_docs;
            s->info.lines = s->mem.lines;
            s->info.max_query_docs = 0;
            for (size_t q = 0; q < s->mem.num_queries; q++)
                if (s->mem.first[q + 1] - s->mem.first[q] > s->info.max_query_docs)
                    s->info.max_query_docs = s->mem.first[q + 1] - s->mem.first[q];
        }
    }
    if (!st)
        st = rr_cand_stream_rewind(s);
    if (st) {
        rr_cand_stream_free(s);
        return st;
    }
    *out = s;
    return RR_OK;
}

rr_cand_stream_info rr_cand_stream_get_info(const rr_cand_stream *s) { return s->info; }

rr_status rr_cand_stream_rewind(rr_cand_stream *s) {
    s->next_query = 0;
    return s->info.grouped ? stream_reopen(s) : RR_OK;
}

rr_status rr_cand_stream_next(rr_cand_stream *s, rr_cand_query *q, int *eof) {
    memset(q, 0, sizeof *q);
    *eof = 0;
    if (!s->info.grouped) {
        const rr_candidates *m = &s->mem;
        if (s->next_query == m->num_queries) {
            *eof = 1;
            return RR_OK;
        }
        const size_t i = s->next_query++, a = m->first[i];
        q->qid = m->qids[i];
        q->num_docs = m->first[i + 1] - a;
        q->docids = (const char *const *)m->docids + a;
        q->scores = m->scores + a;
        q->line_no = m->line_no + a;
        return RR_OK;
    }
    if (!s->lr_open)
        return rr_error(RR_ERR_INVALID_ARG, "%s: candidate stream read past an error", s->path);
    RR_TRY(stream_read_query(s, eof));
    /* the file must be the one pass 1 read: the same queries in the same order */
    const size_t i = s->next_query;
    const char *want = i < s->qids.nq ? s->qids.arena + s->qids.qid_offs[i] : NULL;
    if (*eof ? i != s->qids.nq : !want || strcmp(want, s->cur.arena))
        return rr_error(RR_ERR_IO, "%s:%lld: the file changed while it was being read (its query %zu is not the "
                        "one the first reading found)", s->path, s->lr.line_no, i + 1);
    if (*eof)
        return RR_OK;
    RR_TRY(stream_finish_query(s, q));
    q->qid = want; /* stable until the stream is freed */
    s->next_query++;
    return RR_OK;
}

void rr_cand_stream_free(rr_cand_stream *s) {
    if (!s)
        return;
    if (s->lr_open)
        rr_lines_close(&s->lr);
    rr_candidates_free(&s->mem);
    reader_free(&s->qids);
    reader_free(&s->cur);
    free(s->seen);
    free(s->docids);
    free(s->scores);
    free(s->line_no);
    free(s->path);
    free(s);
}
