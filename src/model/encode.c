/* model/encode.c — whole-job helpers: tokenize, sort by length, pack passes to the token
 * budget, run the forward pass on each, scatter results to input order.
 *
 * The pipeline of one call (run_job):
 *
 *   this thread:    tokenize 0 | passes of chunk 0 | passes of chunk 1 | passes of chunk 2 ...
 *   worker thread:               tokenize 1        | tokenize 2        | tokenize 3 ...
 *
 * Items are processed in chunks, so that memory is bounded by the chunk, not the job. The
 * first chunk is small (two passes of full-length items, at least 1024 items) so that the
 * first pass starts early; it is tokenized on this thread, since nothing could overlap it.
 * Then the chunks double, up to ~64 MB of token ids. While this thread packs, submits and
 * collects the passes of chunk c, a worker thread (a pthread, parallel inside with OpenMP,
 * one thread fewer than this one) tokenizes chunk c+1 into the other of two chunk buffers;
 * it is joined before that buffer is read, and joined on every way out (error,
 * cancellation) before the buffers are freed. Within a chunk, items are sorted by length,
 * longest first, and packed to the token budget in that order; two passes are in flight
 * (submit pass p, then collect and scatter pass p-1). Passes do not cross chunks: the last
 * pass of chunk c is collected before chunk c+1's first is packed. A pair's score does not
 * depend on the chunking (on the CPU not even its bits: backend/cpu.c, "linear: our own
 * GEMM").
 *
 * Measured on an H100 (bf16, 20,000 pairs of 256 tokens, budget 65,536): the tokenizing
 * (~55 ms) is hidden behind the passes; run time without the first pass's one-off warm-up
 * 0.435 s against 0.484 s when every chunk was tokenized before its passes.
 *
 * Errors come in the order of a serial run: an item that fails to tokenize fails the job with
 * "item N: message" for the lowest failing item of its chunk, reported only after the passes
 * of the chunks before it have completed. The last-error buffer is thread-local, so the
 * worker carries the status and message text in its task and this thread records them.
 *
 * All buffers (both chunk buffers, the second only for a job of several chunks, and the pass
 * arrays) are allocated once per call, before the first pass; none inside the pass loop.
 *
 * RR_CHUNK_ITEMS=N (a test knob, read at model load: rr_model.chunk_items) makes the first
 * chunk N items, so that small jobs span several chunks. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/error.h"

/* One chunk's tokenized items. There are two: one being run, one being tokenized. */
typedef struct chunk_buffers {
    int32_t *tok_ids;   /* [chunk_cap, max_length] */
    int32_t *tok_types; /* [chunk_cap, max_length] */
    int32_t *lens;      /* [chunk_cap] tokens of each item (chunk position) */
    int32_t *order;     /* [chunk_cap] chunk positions, longest first */
    uint64_t *keys;     /* [chunk_cap] sort keys */
} chunk_buffers;

typedef struct job_buffers {
    size_t first_chunk;     /* items in the first chunk */
    size_t max_chunk;       /* the schedule's cap: ~64 MB of token ids */
    size_t chunk_cap;       /* items in the largest chunk of this job (what the buffers hold) */
    chunk_buffers chunk[2]; /* [1]: NULLs when the job is one chunk */
    int32_t *pass_ids;      /* [token_budget] */
    int32_t *pass_types;    /* [token_budget] */
    int32_t *pass_cu;       /* [max_seqs + 1] */
} job_buffers;

/* Items in the chunk that starts at item `start`, after a chunk of `prev` items (0: none):
 * the first chunk, then doubling up to the cap; never past the end. */
static size_t chunk_items(const job_buffers *jb, size_t prev, size_t start, size_t n) {
    size_t items = prev == 0 ? jb->first_chunk : prev > jb->max_chunk / 2 ? jb->max_chunk : 2 * prev;
    return items < n - start ? items : n - start;
}

static void job_free(job_buffers *jb) {
    for (int k = 0; k < 2; k++) {
        free(jb->chunk[k].tok_ids);
        free(jb->chunk[k].tok_types);
        free(jb->chunk[k].lens);
        free(jb->chunk[k].order);
        free(jb->chunk[k].keys);
    }
    free(jb->pass_ids);
    free(jb->pass_types);
    free(jb->pass_cu);
}

static rr_status job_alloc(const rr_model *m, size_t n, job_buffers *jb) {
    memset(jb, 0, sizeof *jb);
    const size_t L = (size_t)m->max_length;
    size_t max_chunk = ((size_t)64 << 20) / (L * 2 * sizeof(int32_t)); /* ~64 MB of token ids */
    if (max_chunk < (size_t)m->max_seqs)
        max_chunk = (size_t)m->max_seqs;
    /* The first chunk: two passes of full-length items, at least 1024 items. Not
     * 2 · max_seqs: max_seqs is a cap (token_budget / 8 by default, 8,192 at a 65,536-token
     * budget), and a first chunk that large is most of a benchmark's 20,000 pairs, tokenized
     * with the device idle (measured on an H100: no gain at all). */
    size_t per_pass = (size_t)m->token_budget / L;
    if (per_pass > (size_t)m->max_seqs)
        per_pass = (size_t)m->max_seqs;
    size_t first = 2 * per_pass > 1024 ? 2 * per_pass : 1024;
    if (m->chunk_items)
        first = m->chunk_items;
    if (first > max_chunk)
        first = max_chunk;
    jb->first_chunk = first;
    jb->max_chunk = max_chunk;
    /* the largest chunk this job will have: walk the schedule (O(log n) steps, then the cap) */
    for (size_t start = 0, prev = 0; start < n && jb->chunk_cap < max_chunk; start += prev) {
        prev = chunk_items(jb, prev, start, n);
        if (prev > jb->chunk_cap)
            jb->chunk_cap = prev;
    }
    const size_t cap = jb->chunk_cap;
    /* a job of one chunk (every call of up to 1024 items) needs no second buffer */
    const int buffers = jb->first_chunk < n ? 2 : 1;
    int ok = 1;
    for (int k = 0; k < buffers; k++) {
        chunk_buffers *cb = &jb->chunk[k];
        cb->tok_ids = malloc(cap * L * sizeof(int32_t));
        cb->tok_types = malloc(cap * L * sizeof(int32_t));
        cb->lens = malloc(cap * sizeof(int32_t));
        cb->order = malloc(cap * sizeof(int32_t));
        cb->keys = malloc(cap * sizeof(uint64_t));
        ok = ok && cb->tok_ids && cb->tok_types && cb->lens && cb->order && cb->keys;
    }
    jb->pass_ids = malloc((size_t)m->token_budget * sizeof(int32_t));
    jb->pass_types = malloc((size_t)m->token_budget * sizeof(int32_t));
    jb->pass_cu = malloc(((size_t)m->max_seqs + 1) * sizeof(int32_t));
    if (!ok || !jb->pass_ids || !jb->pass_types || !jb->pass_cu) {
        job_free(jb);
        return rr_error(RR_ERR_NOMEM, "cannot allocate job buffers for %d chunk(s) of %zu items",
                        buffers, cap);
    }
    return RR_OK;
}

/* Longest first, then input order: one 64-bit key per item, (max - len) << 32 | index,
 * so qsort needs no shared state and the order is total and deterministic. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_by_length(uint64_t *keys, int32_t *order, const int32_t *lens, size_t n) {
    for (size_t i = 0; i < n; i++)
        keys[i] = ((uint64_t)(INT32_MAX - lens[i]) << 32) | (uint64_t)i;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < n; i++)
        order[i] = (int32_t)(keys[i] & 0xffffffffu);
}

/* The tokenization of one chunk: what to do, and (written by whichever thread runs it, read
 * by run_job only after joining that thread) what came of it. */
typedef struct tokenize_task {
    const rr_model *m;
    const char *const *a, *const *b; /* the job's texts (b NULL: single texts) */
    const size_t *a_len, *b_len;
    size_t first, count;   /* items [first, first + count) */
    int threads;           /* OpenMP threads to tokenize on */
    chunk_buffers *cb;     /* filled: tokens, lens, and order (sorted by length) */
    rr_status status;      /* result: RR_OK, or the lowest failing item's status */
    char message[1024];    /* "item N: message" when status != RR_OK */
    double seconds;        /* wall time tokenizing (rr_model_stats.tokenize_seconds) */
} tokenize_task;

/* Tokenize the task's chunk on task->threads threads, then sort it by length. Safe on any
 * thread: it records nothing in the thread's last error, only in the task. */
static void tokenize_run(tokenize_task *t) {
    const rr_model *m = t->m;
    const int32_t L = m->max_length;
    chunk_buffers *cb = t->cb;
    size_t failed_item = 0;
    char failed_msg[512] = "";
    t->status = RR_OK;
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(t->threads)
    {
        rr_encoding enc;
        rr_encoding_init(&enc);
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < t->count; i++) {
            size_t item = t->first + i;
            rr_status st;
            if (t->b)
                st = rr_tokenizer_encode_pair(m->tok, t->a[item], t->a_len[item], t->b[item],
                                              t->b_len[item], L, &enc);
            else
                st = rr_tokenizer_encode(m->tok, t->a[item], t->a_len[item], L, &enc);
            if (st) {
                /* rr_last_error is this OpenMP thread's: read it here */
#pragma omp critical(rr_encode_error)
                if (!t->status || item < failed_item) {
                    t->status = st;
                    failed_item = item;
                    snprintf(failed_msg, sizeof failed_msg, "%s", rr_last_error());
                }
                cb->lens[i] = 0;
                continue;
            }
            memcpy(cb->tok_ids + i * (size_t)L, enc.ids, (size_t)enc.len * sizeof(int32_t));
            memcpy(cb->tok_types + i * (size_t)L, enc.type_ids, (size_t)enc.len * sizeof(int32_t));
            cb->lens[i] = enc.len;
        }
        rr_encoding_free(&enc);
    }
    t->seconds = omp_get_wtime() - t0;
    if (t->status)
        snprintf(t->message, sizeof t->message, "item %zu: %s", failed_item, failed_msg);
    else
        sort_by_length(cb->keys, cb->order, cb->lens, t->count);
}

static void *tokenize_thread(void *arg) {
    tokenize_run(arg);
    return NULL;
}

/* The passes of one tokenized chunk (items [first, first + count)): pack them in length order
 * to the token budget, two in flight, scatter each pass's rows to input order, and report
 * progress after each (done counts the job's items so far, of n).
 *
 * Two passes in flight: pass p is submitted (the device starts on it) before pass p-1's
 * output is collected and scattered, so packing and scattering on the host overlap the
 * device's compute. The pass arrays are copied by submit; only the outputs are
 * double-buffered (the model's two host slots). Every pass submitted is collected before
 * this returns, whatever it returns. */
static rr_status run_chunk_passes(rr_model *m, job_buffers *jb, const chunk_buffers *cb,
                                  size_t first, size_t count, size_t n, size_t *done, float *out) {
    const int32_t L = m->max_length;
    const size_t D = (size_t)m->out_dim;
    rr_status st = RR_OK;
    size_t next = 0, pend_first = 0;
    int32_t pend_seqs = 0;
    int slot = 0;
    while ((next < count || pend_seqs) && !st) {
        int32_t seqs = 0, tokens = 0;
        const size_t pass_first = next;
        jb->pass_cu[0] = 0;
        while (next < count && seqs < m->max_seqs) {
            int32_t i = cb->order[next], len = cb->lens[i];
            if (tokens + len > m->token_budget)
                break;
            memcpy(jb->pass_ids + tokens, cb->tok_ids + (size_t)i * L, (size_t)len * sizeof(int32_t));
            memcpy(jb->pass_types + tokens, cb->tok_types + (size_t)i * L, (size_t)len * sizeof(int32_t));
            tokens += len;
            jb->pass_cu[++seqs] = tokens;
            next++;
        }
        if (seqs) {
            rr_batch batch = {seqs, jb->pass_ids, jb->pass_types, jb->pass_cu};
            if ((st = rr_model_submit(m, &batch, slot)))
                break;
        }
        if (pend_seqs) { /* the previous pass, in the other slot */
            const float *res;
            if ((st = rr_model_collect(m, slot ^ 1, &res)))
                break;
            for (int32_t s = 0; s < pend_seqs; s++) {
                size_t item = first + (size_t)cb->order[pend_first + (size_t)s];
                memcpy(out + item * D, res + (size_t)s * D, D * sizeof(float));
            }
            *done += (size_t)pend_seqs;
            if (m->progress && m->progress(m->progress_ctx, *done, n)) {
                if (seqs) { /* drain the pass just submitted: its slot must be collected */
                    const float *unused;
                    (void)rr_model_collect(m, slot, &unused);
                }
                st = rr_error(RR_ERR_CANCELLED, "stopped after %zu of %zu items", *done, n);
                break;
            }
        }
        pend_first = pass_first;
        pend_seqs = seqs;
        slot ^= 1;
    }
    return st;
}

static rr_status run_job(rr_model *m, size_t n, const char *const *a, const size_t *a_len,
                         const char *const *b, const size_t *b_len, float *out) {
    if (n == 0)
        return RR_OK;
    job_buffers jb;
    RR_TRY(job_alloc(m, n, &jb));
    /* The first chunk has all of this thread's OpenMP threads. The worker has one fewer, so
     * that this thread, which feeds the device, finds a core free when a pass completes. */
    const int threads = omp_get_max_threads();
    const int worker_threads = threads > 1 ? threads - 1 : 1;
    tokenize_task task[2]; /* task[k] fills jb.chunk[k] */
    const tokenize_task job = {.m = m, .a = a, .b = b, .a_len = a_len, .b_len = b_len};
    task[0] = job;
    task[0].first = 0;
    task[0].count = chunk_items(&jb, 0, 0, n);
    task[0].threads = threads;
    task[0].cb = &jb.chunk[0];
    tokenize_run(&task[0]);
    m->stats.tokenize_seconds += task[0].seconds;
    rr_status st = RR_OK;
    size_t done = 0;
    for (int cur = 0;; cur ^= 1) {
        tokenize_task *now = &task[cur], *ahead = &task[cur ^ 1];
        if (now->status) {
            st = rr_error(now->status, "%s", now->message);
            break;
        }
        /* chunk c+1 on the worker while chunk c's passes run here */
        const size_t next_first = now->first + now->count;
        int worker_running = 0;
        pthread_t worker;
        if (next_first < n) {
            *ahead = job;
            ahead->first = next_first;
            ahead->count = chunk_items(&jb, now->count, next_first, n);
            ahead->threads = worker_threads;
            ahead->cb = &jb.chunk[cur ^ 1];
            worker_running = pthread_create(&worker, NULL, tokenize_thread, ahead) == 0;
            if (!worker_running) /* no thread to be had: tokenize it here, without overlap */
                tokenize_run(ahead);
        }
        st = run_chunk_passes(m, &jb, &jb.chunk[cur], now->first, now->count, n, &done, out);
        if (worker_running)
            pthread_join(worker, NULL);
        if (next_first < n)
            m->stats.tokenize_seconds += ahead->seconds;
        if (st || next_first >= n)
            break;
    }
    job_free(&jb);
    return st;
}

void rr_model_set_progress(rr_model *m, rr_progress_fn fn, void *ctx) {
    m->progress = fn;
    m->progress_ctx = ctx;
}

rr_status rr_model_embed(rr_model *m, size_t n, const char *const *texts, const size_t *lens,
                         float *out) {
    if (m->head != RR_HEAD_EMBEDDING)
        return rr_error(RR_ERR_INVALID_ARG, "embed: the model was loaded with a pair head "
                        "(classifier or pooled)");
    return run_job(m, n, texts, lens, NULL, NULL, out);
}

rr_status rr_model_score_pairs(rr_model *m, size_t n, const char *const *queries,
                               const size_t *query_lens, const char *const *docs,
                               const size_t *doc_lens, float *out) {
    if (m->head != RR_HEAD_CLASSIFIER && m->head != RR_HEAD_POOLED)
        return rr_error(RR_ERR_INVALID_ARG, "score: the model was loaded without a classifier or "
                        "pooled head");
    return run_job(m, n, queries, query_lens, docs, doc_lens, out);
}
