/* model/encode.c — whole-job helpers: tokenize on all threads, sort by length, pack passes
 * to the token budget, run the forward pass on each, scatter results to input order.
 *
 * Items are processed in chunks so that memory is bounded by the chunk, not the job. All
 * buffers are allocated once per call, before the first pass; none inside the pass loop. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/error.h"

typedef struct job_buffers {
    size_t chunk;        /* items per chunk */
    int32_t *tok_ids;    /* [chunk, max_length] */
    int32_t *tok_types;  /* [chunk, max_length] */
    int32_t *lens;       /* [chunk] */
    int32_t *order;      /* [chunk] */
    uint64_t *keys;      /* [chunk] sort keys */
    int32_t *pass_ids;   /* [token_budget] */
    int32_t *pass_types; /* [token_budget] */
    int32_t *pass_cu;    /* [max_seqs + 1] */
} job_buffers;

static void job_free(job_buffers *jb) {
    free(jb->tok_ids);
    free(jb->tok_types);
    free(jb->lens);
    free(jb->order);
    free(jb->keys);
    free(jb->pass_ids);
    free(jb->pass_types);
    free(jb->pass_cu);
}

static rr_status job_alloc(const rr_model *m, size_t n, job_buffers *jb) {
    memset(jb, 0, sizeof *jb);
    size_t per_item = (size_t)m->max_length * 2 * sizeof(int32_t);
    size_t chunk = ((size_t)64 << 20) / per_item; /* ~64 MB of token ids per chunk */
    if (chunk < (size_t)m->max_seqs)
        chunk = (size_t)m->max_seqs;
    if (chunk > n)
        chunk = n;
    jb->chunk = chunk;
    jb->tok_ids = malloc(chunk * (size_t)m->max_length * sizeof(int32_t));
    jb->tok_types = malloc(chunk * (size_t)m->max_length * sizeof(int32_t));
    jb->lens = malloc(chunk * sizeof(int32_t));
    jb->order = malloc(chunk * sizeof(int32_t));
    jb->keys = malloc(chunk * sizeof(uint64_t));
    jb->pass_ids = malloc((size_t)m->token_budget * sizeof(int32_t));
    jb->pass_types = malloc((size_t)m->token_budget * sizeof(int32_t));
    jb->pass_cu = malloc(((size_t)m->max_seqs + 1) * sizeof(int32_t));
    if (!jb->tok_ids || !jb->tok_types || !jb->lens || !jb->order || !jb->keys || !jb->pass_ids ||
        !jb->pass_types || !jb->pass_cu) {
        job_free(jb);
        return rr_error(RR_ERR_NOMEM, "cannot allocate job buffers for %zu items", chunk);
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

static rr_status tokenize_chunk(const rr_model *m, size_t first, size_t count,
                                const char *const *a, const size_t *a_len, const char *const *b,
                                const size_t *b_len, job_buffers *jb) {
    const int32_t L = m->max_length;
    rr_status failed = RR_OK;
    size_t failed_item = 0;
    char failed_msg[512] = "";
#pragma omp parallel
    {
        rr_encoding enc;
        rr_encoding_init(&enc);
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < count; i++) {
            size_t item = first + i;
            rr_status st;
            if (b)
                st = rr_tokenizer_encode_pair(m->tok, a[item], a_len[item], b[item], b_len[item], L, &enc);
            else
                st = rr_tokenizer_encode(m->tok, a[item], a_len[item], L, &enc);
            if (st) {
#pragma omp critical(rr_encode_error)
                if (!failed || item < failed_item) {
                    failed = st;
                    failed_item = item;
                    snprintf(failed_msg, sizeof failed_msg, "%s", rr_last_error());
                }
                jb->lens[i] = 0;
                continue;
            }
            memcpy(jb->tok_ids + i * (size_t)L, enc.ids, (size_t)enc.len * sizeof(int32_t));
            memcpy(jb->tok_types + i * (size_t)L, enc.type_ids, (size_t)enc.len * sizeof(int32_t));
            jb->lens[i] = enc.len;
        }
        rr_encoding_free(&enc);
    }
    if (failed)
        return rr_error(failed, "item %zu: %s", failed_item, failed_msg);
    return RR_OK;
}

static rr_status run_job(rr_model *m, size_t n, const char *const *a, const size_t *a_len,
                         const char *const *b, const size_t *b_len, float *out) {
    if (n == 0)
        return RR_OK;
    job_buffers jb;
    RR_TRY(job_alloc(m, n, &jb));
    const int32_t L = m->max_length;
    const size_t D = (size_t)m->out_dim;
    rr_status st = RR_OK;
    size_t done = 0;
    for (size_t first = 0; first < n && !st; first += jb.chunk) {
        size_t count = n - first < jb.chunk ? n - first : jb.chunk;
        double t0 = omp_get_wtime();
        st = tokenize_chunk(m, first, count, a, a_len, b, b_len, &jb);
        m->stats.tokenize_seconds += omp_get_wtime() - t0;
        if (st)
            break;
        sort_by_length(jb.keys, jb.order, jb.lens, count);
        /* Two passes in flight: pass p is submitted (the device starts on it) before pass
         * p-1's output is collected and scattered, so packing and scattering on the host
         * overlap the device's compute. The pass arrays are copied by submit; only the
         * outputs are double-buffered (the model's two host slots). */
        size_t next = 0, pend_first = 0;
        int32_t pend_seqs = 0;
        int slot = 0;
        while ((next < count || pend_seqs) && !st) {
            int32_t seqs = 0, tokens = 0;
            const size_t pass_first = next;
            jb.pass_cu[0] = 0;
            while (next < count && seqs < m->max_seqs) {
                int32_t i = jb.order[next], len = jb.lens[i];
                if (tokens + len > m->token_budget)
                    break;
                memcpy(jb.pass_ids + tokens, jb.tok_ids + (size_t)i * L, (size_t)len * sizeof(int32_t));
                memcpy(jb.pass_types + tokens, jb.tok_types + (size_t)i * L, (size_t)len * sizeof(int32_t));
                tokens += len;
                jb.pass_cu[++seqs] = tokens;
                next++;
            }
            if (seqs) {
                rr_batch batch = {seqs, jb.pass_ids, jb.pass_types, jb.pass_cu};
                if ((st = rr_model_submit(m, &batch, slot)))
                    break;
            }
            if (pend_seqs) { /* the previous pass, in the other slot */
                const float *res;
                if ((st = rr_model_collect(m, slot ^ 1, &res)))
                    break;
                for (int32_t s = 0; s < pend_seqs; s++) {
                    size_t item = first + (size_t)jb.order[pend_first + (size_t)s];
                    memcpy(out + item * D, res + (size_t)s * D, D * sizeof(float));
                }
                done += (size_t)pend_seqs;
                if (m->progress && m->progress(m->progress_ctx, done, n)) {
                    if (seqs) { /* drain the pass just submitted: its slot must be collected */
                        const float *unused;
                        (void)rr_model_collect(m, slot, &unused);
                    }
                    st = rr_error(RR_ERR_CANCELLED, "stopped after %zu of %zu items", done, n);
                    break;
                }
            }
            pend_first = pass_first;
            pend_seqs = seqs;
            slot ^= 1;
        }
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
