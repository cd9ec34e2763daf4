/* cli/cmd_rerank.c — `rerank rerank`: candidates (any TREC run) + a BEIR dataset + a
 * cross-encoder → a reranked TREC run.
 *
 * The top n candidates of every query (in trec_eval's order of the input run) become
 * (query, passage) pairs; all pairs of all queries go through the model's one scheduler
 * (tokenized on all threads, sorted by length, packed into passes by the token budget), and
 * each query's documents are then sorted by the new score, ties broken by docid descending —
 * the order trec_eval reads the run in. Scores are printed with 9 significant digits, enough
 * to give back the exact float. Output is identical across runs, thread counts and budgets
 * up to the arithmetic of the backend (bit-identical on the same backend and settings).
 *
 * Nothing lost: queries are scored in chunks of whole queries (--chunk-pairs, 4096 by
 * default); each chunk's finished lines are committed to OUTPUT.journal (io/journal.h) and
 * fsynced. After a kill, the same command with --resume scores only the chunks that are not
 * there and writes the same bytes as an uninterrupted run. SIGINT / SIGTERM stop after the
 * pass in flight (within about a second in any case). The output itself appears only when
 * complete (written atomically from the journal), and the journal is then removed.
 *
 * Memory does not grow with the number of pairs: the run is read three times through
 * io/candidates.h's stream (1: validate every line, keep the query ids; 2: look every pair
 * up, fingerprint the job, plan the chunks; 3: chunk by chunk, score). Held: the corpus and
 * queries, per query its id and per chunk its bounds, one chunk's pairs, the model's
 * workspace. A run whose queries' lines are not contiguous is held in memory instead (the
 * stream does it; a note on stderr says so); the output is the same. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/candidates.h"
#include "io/journal.h"
#include "util/sha256.h"
#include "rerank/model.h"
#include "util/error.h"
#include "util/file.h"

/* ---- per-query sort of the new scores ---- */

typedef struct scored {
    float score;
    const char *docid;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(y->docid, x->docid); /* ties: docid descending, as trec_eval */
}

/* ---- a growing text buffer (one chunk's output) ---- */

typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

static rr_status strbuf_printf(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return rr_error(RR_ERR_INTERNAL, "formatting the output failed");
        if (b->data && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return RR_OK;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return rr_error(RR_ERR_NOMEM, "out of memory for the output");
        b->data = d;
        b->cap = cap;
    }
}

/* ---- progress over all chunks; SIGINT / SIGTERM stop the job at the next pass ---- */

static volatile sig_atomic_t g_stop;

typedef struct chunk_progress {
    cli_progress *p;
    size_t base, total; /* pairs before the current chunk; pairs of the whole job */
} chunk_progress;

static int chunk_progress_cb(void *ctx, size_t done, size_t total) {
    chunk_progress *cp = (chunk_progress *)ctx;
    (void)total;
    cli_progress_cb(cp->p, cp->base + done, cp->total);
    return g_stop != 0;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "\nrerank rerank: interrupted; the journal keeps every finished chunk: rerun "
                              "with --resume\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + (g_stop ? (int)g_stop : SIGINT));
}

/* First SIGINT / SIGTERM: stop after the pass in flight (the progress callback says so), and
 * in any case within about a second (SIGALRM: _exit; the journal is consistent at any
 * moment). A second signal exits at once. */
static void on_stop(int sig) {
    if (g_stop)
        on_alarm(sig);
    g_stop = sig;
    alarm(1);
}

void rerank_install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

/* The job's identity for the journal: every setting that changes the output bytes, the
 * model directory (path, config.json, size and mtime of its weight files) and every pair's
 * ids and texts, query by query (fingerprint_query). */
static void fingerprint_begin(const rerank_opts *o, size_t chunk_pairs, rr_sha256 *h) {
    rr_sha256_init(h);
    char line[1024];
    int n = snprintf(line, sizeof line, "rerank-job v1|%s|top_n=%d|max_length=%d|budget=%d|device=%s|precision=%s|"
                     "activation=%s|label=%d|tag=%s|chunk=%zu|", o->model_dir, o->top_n, o->max_length,
                     o->token_budget, o->device, o->precision, o->activation, o->label, o->tag, chunk_pairs);
    rr_sha256_update(h, line, n > 0 ? (size_t)n : 0);
    if (o->keep_rest && o->top_n > 0)
        rr_sha256_update(h, "keep_rest|", 10);
    static const char *const files[] = {"config.json", "model.safetensors", "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", o->model_dir, files[i]);
        if (stat(path, &sb) == 0) {
            n = snprintf(line, sizeof line, "%s:%lld:%lld|", files[i], (long long)sb.st_size,
                         (long long)sb.st_mtime);
            rr_sha256_update(h, line, (size_t)n);
        }
    }
}

/* ---- one query's pairs: the query's text and its documents' ---- */

typedef struct dataset {
    const char *run_path, *corpus_path, *queries_path;
    const text_list *corpus, *queries;
    const size_t *corder, *qorder; /* ids sorted (text_list_index_ids) */
    int lenient;
} dataset;

/* *qi: the query's index in the queries, or -1 (then nothing is kept); di[0 .. *kept-1]: the
 * indices in the corpus of the documents kept, in the candidates' order; *nscored: how many of
 * them come from the first `top` candidates (0: all), the ones to rerank. Strict: an unknown
 * query or document is an error naming its run line; lenient: dropped, counted in *dropped. */
static rr_status resolve_query(const dataset *d, const rr_cand_query *cq, size_t top, long *qi, long *di,
                               size_t *kept, size_t *nscored, size_t *dropped) {
    *kept = *nscored = 0;
    *qi = text_list_find_id(d->queries, d->qorder, cq->qid);
    if (*qi < 0) {
        if (d->lenient) {
            *dropped += cq->num_docs;
            return RR_OK;
        }
        return rr_error(RR_ERR_NOT_FOUND, "%s:%lld: query \"%s\" is not in %s", d->run_path, cq->line_no[0],
                        cq->qid, d->queries_path);
    }
    for (size_t j = 0; j < cq->num_docs; j++) {
        long k = text_list_find_id(d->corpus, d->corder, cq->docids[j]);
        if (k < 0) {
            if (d->lenient) {
                (*dropped)++;
                continue;
            }
            return rr_error(RR_ERR_NOT_FOUND, "%s:%lld: document \"%s\" is not in %s", d->run_path, cq->line_no[j],
                            cq->docids[j], d->corpus_path);
        }
        di[(*kept)++] = k;
        if (!top || j < top)
            *nscored = *kept;
    }
    return RR_OK;
}

static void fingerprint_query(rr_sha256 *h, const dataset *d, const char *qid, long qi, const long *di,
                              size_t kept) {
    rr_sha256_update(h, qid, strlen(qid) + 1);
    for (size_t j = 0; j < kept; j++) {
        const char *docid = d->corpus->ids[di[j]];
        rr_sha256_update(h, docid, strlen(docid) + 1);
        rr_sha256_update(h, d->queries->texts[qi], d->queries->lens[qi]);
        rr_sha256_update(h, "\0", 1);
        rr_sha256_update(h, d->corpus->texts[di[j]], d->corpus->lens[di[j]]);
        rr_sha256_update(h, "\0", 1);
    }
}

/* FNV-1a over a chunk's ids: the scoring pass checks that it reads the pairs the planning
 * pass fingerprinted (the run file is read again for each) */
static uint64_t ids_hash(uint64_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL;
}
#define IDS_HASH_INIT 1469598103934665603ULL

rerank_opts rerank_opts_default(void) {
    rerank_opts o = {.activation = "none", .device = "cpu", .precision = "fp32", .tag = "rerank", .top_n = 100,
                     .progress = CLI_PROGRESS_AUTO};
    return o;
}

int rr_cmd_rerank(int argc, char **argv) {
    rerank_opts o = rerank_opts_default();
    int show = 0, quiet = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &o.model_dir, "cross-encoder directory (a Hugging Face BERT, ELECTRA, DistilBERT, MPNet, XLM-RoBERTa, DeBERTa-v2/v3, RoBERTa or ModernBERT ...ForSequenceClassification)"},
        {"run", OPT_STR, &o.run, "candidates: a TREC run (qid Q0 docid rank score tag), .gz ok"},
        {"corpus", OPT_STR, &o.corpus, "BEIR corpus.jsonl(.gz): passage = title + \" \" + text"},
        {"queries", OPT_STR, &o.queries, "BEIR queries.jsonl(.gz)"},
        {"output", OPT_STR, &o.output, "the reranked TREC run"},
        {"top-n", OPT_INT, &o.top_n, "candidates per query to rerank (default 100; 0 = all)"},
        {"keep-rest", OPT_FLAG, &o.keep_rest, "keep the candidates after the top n, in the first stage's order, "
                                              "below the reranked ones (default: the run holds the top n only)"},
        {"tag", OPT_STR, &o.tag, "run tag, the sixth column (default rerank)"},
        {"activation", OPT_STR, &o.activation, "none (raw logits, default) | sigmoid"},
        {"label", OPT_INT, &o.label, "which logit of a multi-label head (default 0)"},
        {"max-length", OPT_INT, &o.max_length, "tokens per pair, specials included (default: the model's)"},
        {"token-budget", OPT_INT, &o.token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &o.threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &o.device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &o.precision, "fp32 (default) | bf16 | fp16 (CUDA storage precision)"},
        {"timing", OPT_FLAG, &o.timing, "print load / tokenize / forward times and rates to stderr"},
        {"progress", OPT_FLAG, &show, "a progress line on stderr even when it is not a terminal"},
        {"quiet", OPT_FLAG, &quiet, "no progress line"},
        {"resume", OPT_FLAG, &o.resume, "finish an interrupted run from OUTPUT.journal (or start one)"},
        {"chunk-pairs", OPT_INT, &o.chunk_pairs, "pairs per journal chunk, whole queries (default 4096)"},
        {"lenient", OPT_FLAG, &o.lenient, "skip malformed corpus/query lines and the candidates they leave "
                                           "unknown, with a count (default: --strict, stop at the first)"},
        {"max-memory", OPT_INT, &o.max_memory_mb, "MB for a pass's activations: passes shrink to fit (scores unchanged)"},
    };
    int rc = cli_parse("rerank", "--model DIR --run RUN --corpus CORPUS --queries QUERIES --output OUT [options]",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    o.progress = cli_progress_mode(show, quiet);
    rerank_install_stop_handlers();
    return stage_rerank(&o, NULL);
}

int stage_rerank(const rerank_opts *o, rerank_stats *stats) {
    const char *model_dir = o->model_dir, *run_path = o->run, *corpus_path = o->corpus, *queries_path = o->queries;
    const char *output = o->output, *activation = o->activation, *tag = o->tag;
    int top_n = o->top_n, label = o->label, threads = o->threads, timing = o->timing;
    if (!model_dir || !run_path || !corpus_path || !queries_path || !output) {
        fprintf(stderr, "rerank rerank: needs --model, --run, --corpus, --queries and --output\n");
        return 2;
    }
    int sigmoid = !strcmp(activation, "sigmoid");
    if ((!sigmoid && strcmp(activation, "none")) || top_n < 0 || label < 0 || !*tag || strpbrk(tag, " \t\n")) {
        fprintf(stderr, "rerank rerank: --activation none|sigmoid, --top-n >= 0, --label >= 0, --tag one word\n");
        return 2;
    }
    rr_model_params p;
    if (cli_model_params("rerank", RR_HEAD_CLASSIFIER, o->max_length, threads, o->device, o->precision,
                         o->token_budget, &p))
        return 2;
    if (o->max_memory_mb < 0) {
        fprintf(stderr, "rerank rerank: --max-memory must be a positive number of MB\n");
        return 2;
    }
    p.max_pass_bytes = (size_t)o->max_memory_mb << 20;
    if (threads > 0)
        omp_set_num_threads(threads);

    rr_cand_stream *cs = NULL;
    text_list corpus = {0}, queries = {0};
    size_t *corder = NULL, *qorder = NULL; /* corpus / queries sorted by id */
    rr_model *model = NULL;
    const char **qs = NULL, **ds = NULL, **docids = NULL;
    size_t *ql = NULL, *dl = NULL;
    long *di = NULL;                 /* one query's documents, indices in the corpus */
    const char **chunk_qids = NULL;  /* [max queries of a chunk] */
    size_t *chunk_qdocs = NULL;      /* [max queries of a chunk] pairs of each */
    size_t *chunk_qrest = NULL;      /* [max queries of a chunk] --keep-rest: candidates after them */
    float *scores = NULL;
    scored *buf = NULL;
    rr_atomic_file af = {0};
    int af_open = 0, jr_open = 0;
    rr_journal jr;
    size_t *chunk_end = NULL;   /* chunk c covers queries chunk_end[c-1] .. chunk_end[c]-1 */
    size_t *chunk_pair = NULL;  /* [nchunks + 1] pairs before chunk c */
    uint64_t *chunk_ids = NULL; /* [nchunks] ids_hash of each chunk's pairs */
    strbuf text = {0};          /* one chunk's output lines */
    const size_t chunk_pairs = o->chunk_pairs > 0 ? (size_t)o->chunk_pairs : 4096;
    /* --keep-rest: every candidate is read; the first top_n of each query are reranked, the
     * rest follow them in the first stage's order */
    const size_t top = o->keep_rest ? (size_t)top_n : 0;
    /* pass 1: every line of the run validated; in memory only its query ids (see candidates.h) */
    rr_status st = rr_cand_stream_open(run_path, top ? 0 : (size_t)top_n, &cs);
    if (st)
        return cli_fail("rerank", st);
    const rr_cand_stream_info ci = rr_cand_stream_get_info(cs);
    if (!ci.grouped)
        fprintf(stderr, "rerank rerank: note: %s is not grouped by query (line %lld: a query whose lines "
                "began earlier); its candidates are held in memory\n", run_path, ci.regroup_line);
    bad_lines cbad = {o->lenient, 0, ""}, qbad = {o->lenient, 0, ""};
    size_t dropped = 0; /* candidates whose document or query is unknown (lenient) */
    if ((st = read_docs_ex(corpus_path, &corpus, &cbad)) || (st = read_docs_ex(queries_path, &queries, &qbad)))
        goto done;
    if (corpus.n == 0 || queries.n == 0) {
        st = rr_error(RR_ERR_FORMAT, "%s: no %s (the file is empty or holds only blank lines)",
                      corpus.n == 0 ? corpus_path : queries_path, corpus.n == 0 ? "documents" : "queries");
        goto done;
    }
    if ((st = text_list_index_ids(&corpus, corpus_path, "_id", &corder)) ||
        (st = text_list_index_ids(&queries, queries_path, "_id", &qorder)))
        goto done;
    const dataset ds_info = {run_path, corpus_path, queries_path, &corpus, &queries, corder, qorder, o->lenient};
    /* Pass 2: every query's pairs looked up (unknown ids: errors, or dropped with --lenient),
     * the job's fingerprint, and the chunks: whole queries, at least chunk_pairs pairs each
     * (the last may be smaller), the unit of the journal. They depend only on the candidates
     * and --chunk-pairs, so an interrupted and resumed run scores exactly the same passes as
     * an uninterrupted one. Memory: per query and per chunk, never per pair. */
    di = malloc((ci.max_query_docs ? ci.max_query_docs : 1) * sizeof *di);
    chunk_end = malloc((ci.num_queries + 1) * sizeof *chunk_end);
    chunk_pair = malloc((ci.num_queries + 1) * sizeof *chunk_pair);
    chunk_ids = malloc((ci.num_queries + 1) * sizeof *chunk_ids);
    if (!di || !chunk_end || !chunk_pair || !chunk_ids) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu queries", ci.num_queries);
        goto done;
    }
    rr_sha256 fp;
    fingerprint_begin(o, chunk_pairs, &fp);
    size_t n = 0, n_all = 0, nq = 0, nchunks = 0, max_chunk = 0, max_chunk_all = 0, max_chunk_queries = 0,
           max_q = 0, chunk_all0 = 0;
    uint64_t hash = IDS_HASH_INIT;
    chunk_pair[0] = 0;
    for (size_t first_q = 0;;) {
        rr_cand_query cq;
        int eof = 0;
        if ((st = rr_cand_stream_next(cs, &cq, &eof)))
            goto done;
        if (!eof) {
            long qi;
            size_t kept, nscored;
            if ((st = resolve_query(&ds_info, &cq, top, &qi, di, &kept, &nscored, &dropped)))
                goto done;
            fingerprint_query(&fp, &ds_info, cq.qid, qi, di, kept);
            hash = ids_hash(hash, cq.qid);
            for (size_t j = 0; j < kept; j++)
                hash = ids_hash(hash, corpus.ids[di[j]]);
            n += nscored;
            n_all += kept;
            nq++;
            if (nscored > max_q)
                max_q = nscored;
        }
        const size_t in_chunk = n - chunk_pair[nchunks];
        if (nq > first_q && (in_chunk >= chunk_pairs || eof)) {
            chunk_end[nchunks] = nq;
            chunk_ids[nchunks] = hash;
            chunk_pair[++nchunks] = n;
            if (in_chunk > max_chunk)
                max_chunk = in_chunk;
            if (n_all - chunk_all0 > max_chunk_all)
                max_chunk_all = n_all - chunk_all0;
            chunk_all0 = n_all;
            if (nq - first_q > max_chunk_queries)
                max_chunk_queries = nq - first_q;
            first_q = nq;
            hash = IDS_HASH_INIT;
        }
        if (eof)
            break;
    }
    if (nq != ci.num_queries) {
        st = rr_error(RR_ERR_INTERNAL, "%s: %zu queries read, %zu expected", run_path, nq, ci.num_queries);
        goto done;
    }
    double t0 = omp_get_wtime();
    if ((st = cli_model_load("rerank", model_dir, &p, &model, NULL)))
        goto done;
    rr_model_info info = rr_model_get_info(model);
    if (label >= info.num_labels) {
        st = rr_error(RR_ERR_INVALID_ARG, "--label %d: the model has %d label(s)", label, info.num_labels);
        goto done;
    }
    double t_load = omp_get_wtime() - t0, t_run = omp_get_wtime();
    /* sizes first: one chunk's pairs, one query's sort; nothing is allocated per chunk */
    const size_t chunk_cap = max_chunk ? max_chunk : 1;
    qs = malloc(chunk_cap * sizeof *qs);
    ds = malloc(chunk_cap * sizeof *ds);
    ql = malloc(chunk_cap * sizeof *ql);
    dl = malloc(chunk_cap * sizeof *dl);
    docids = malloc((max_chunk_all ? max_chunk_all : 1) * sizeof *docids); /* reranked + kept rest */
    chunk_qids = malloc((max_chunk_queries ? max_chunk_queries : 1) * sizeof *chunk_qids);
    chunk_qdocs = malloc((max_chunk_queries ? max_chunk_queries : 1) * sizeof *chunk_qdocs);
    chunk_qrest = malloc((max_chunk_queries ? max_chunk_queries : 1) * sizeof *chunk_qrest);
    scores = malloc(chunk_cap * (size_t)info.out_dim * sizeof *scores);
    buf = malloc((max_q ? max_q : 1) * sizeof *buf);
    if (!qs || !ds || !ql || !dl || !docids || !chunk_qids || !chunk_qdocs || !chunk_qrest || !scores || !buf) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for a chunk of %zu pairs", max_chunk);
        goto done;
    }
    char fingerprint[65], journal_path[4200];
    rr_sha256_final_hex(&fp, fingerprint);
    snprintf(journal_path, sizeof journal_path, "%s.journal", output);
    if ((st = rr_journal_open(&jr, journal_path, fingerprint, o->resume)))
        goto done;
    jr_open = 1;
    size_t q0 = jr.chunks ? chunk_end[jr.chunks - 1] : 0;
    if (jr.chunks)
        fprintf(stderr, "rerank rerank: resuming: %zu of %zu chunks (%zu of %zu queries) done in %s\n", jr.chunks,
                nchunks, q0, nq, journal_path);
    cli_progress pr;
    cli_progress_init(&pr, "rerank rerank", "pairs", o->progress);
    chunk_progress cp = {&pr, chunk_pair[jr.chunks], n};
    rr_model_set_progress(model, chunk_progress_cb, &cp);
    /* pass 3: the run read again, chunk by chunk (the chunks in the journal are skipped) */
    if ((st = rr_cand_stream_rewind(cs)))
        goto done;
    size_t ignored = 0;
    for (size_t c = 0; c < nchunks && !st; c++) {
        const size_t qa = c ? chunk_end[c - 1] : 0, qb = chunk_end[c];
        const int done_before = c < jr.chunks; /* in the journal: read past, checked, not scored */
        size_t m = 0, a = 0; /* pairs to score; candidates kept (docids) */
        hash = IDS_HASH_INIT;
        for (size_t q = qa; q < qb; q++) {
            rr_cand_query cq;
            int eof = 0;
            long qi;
            size_t kept, nscored;
            if ((st = rr_cand_stream_next(cs, &cq, &eof)) ||
                (!eof && (st = resolve_query(&ds_info, &cq, top, &qi, di, &kept, &nscored, &ignored))))
                goto done;
            if (eof || m + nscored > chunk_pair[c + 1] - chunk_pair[c] || a + kept > max_chunk_all) {
                st = rr_error(RR_ERR_IO, "%s: the file changed while it was being read", run_path);
                goto done;
            }
            hash = ids_hash(hash, cq.qid);
            chunk_qids[q - qa] = cq.qid; /* stable while the stream is open */
            chunk_qdocs[q - qa] = nscored;
            chunk_qrest[q - qa] = kept - nscored;
            for (size_t j = 0; j < kept; j++, a++) {
                hash = ids_hash(hash, corpus.ids[di[j]]);
                docids[a] = corpus.ids[di[j]];
                if (j < nscored) {
                    qs[m] = queries.texts[qi];
                    ql[m] = queries.lens[qi];
                    ds[m] = corpus.texts[di[j]];
                    dl[m] = corpus.lens[di[j]];
                    m++;
                }
            }
        }
        if (hash != chunk_ids[c] || m != chunk_pair[c + 1] - chunk_pair[c]) {
            st = rr_error(RR_ERR_IO, "%s: the file changed while it was being read (chunk %zu holds other pairs "
                          "than its first reading)", run_path, c + 1);
            goto done;
        }
        if (done_before)
            continue;
        cp.base = chunk_pair[c];
        if ((st = rr_model_score_pairs(model, m, qs, ql, ds, dl, scores)))
            break;
        text.len = 0;
        for (size_t q = qa, k = 0, ai = 0; q < qb && !st; q++) {
            const size_t mq = chunk_qdocs[q - qa], rest = chunk_qrest[q - qa];
            for (size_t j = 0; j < mq; j++, k++, ai++) {
                float sc = scores[k * (size_t)info.out_dim + (size_t)label];
                if (sigmoid)
                    sc = (float)(1.0 / (1.0 + exp(-(double)sc)));
                buf[j].score = sc;
                buf[j].docid = docids[ai];
            }
            qsort(buf, mq, sizeof *buf, cmp_scored);
            for (size_t j = 0; j < mq && !st; j++)
                st = strbuf_printf(&text, "%s Q0 %s %zu %.9g %s\n", chunk_qids[q - qa], buf[j].docid, j + 1,
                                   (double)buf[j].score, tag);
            /* --keep-rest: below the lowest reranked score, one apart, in the first stage's order */
            const double floor_score = mq ? (double)buf[mq - 1].score : 0.0;
            for (size_t j = 0; j < rest && !st; j++, ai++)
                st = strbuf_printf(&text, "%s Q0 %s %zu %.9g %s\n", chunk_qids[q - qa], docids[ai], mq + j + 1,
                                   floor_score - (double)(j + 1), tag);
        }
        if (!st)
            st = rr_journal_commit(&jr, text.data, text.len);
    }
    if (st == RR_ERR_CANCELLED)
        st = rr_error(RR_ERR_CANCELLED, "interrupted: %zu of %zu chunks are in %s; the same command with "
                      "--resume finishes the job", jr.chunks, nchunks, journal_path);
    if (st)
        goto done;
    /* every chunk is in: the output is the journal's data, written atomically */
    if ((st = rr_atomic_open(&af, output)))
        goto done;
    af_open = 1;
    if ((st = rr_journal_copy(&jr, af.fp)))
        goto done;
    st = rr_atomic_commit(&af);
    af_open = 0;
    if (!st) {
        rr_journal_close(&jr, 1);
        jr_open = 0;
    }
    if (!st && timing)
        print_timing("rerank", model, t_load, omp_get_wtime() - t_run);
    if (!st)
        fprintf(stderr, "rerank rerank: %zu queries, %zu pairs -> %s\n", nq, n, output);
    if (!st && o->lenient) {
        char line[1200];
        bad_lines_summary(&cbad, corpus_path, line, sizeof line);
        if (*line)
            fprintf(stderr, "rerank rerank: lenient: %s\n", line);
        bad_lines_summary(&qbad, queries_path, line, sizeof line);
        if (*line)
            fprintf(stderr, "rerank rerank: lenient: %s\n", line);
        fprintf(stderr, "rerank rerank: lenient: %zu candidate%s dropped (document or query not in the dataset)\n",
                dropped, dropped == 1 ? "" : "s");
    }
    if (!st && stats) {
        stats->num_queries = nq;
        stats->num_pairs = n;
        stats->load_seconds = t_load;
        stats->score_seconds = omp_get_wtime() - t_run;
    }
done:
    if (af_open)
        rr_atomic_abort(&af);
    if (jr_open)
        rr_journal_close(&jr, 0); /* kept: --resume continues from it */
    free(chunk_end);
    free(chunk_pair);
    free(chunk_ids);
    free(text.data);
    rr_model_free(model);
    free(qs);
    free(ds);
    free(ql);
    free(dl);
    free(docids);
    free(di);
    free(chunk_qids);
    free(chunk_qdocs);
    free(chunk_qrest);
    free(scores);
    free(buf);
    free(corder);
    free(qorder);
    text_list_free(&corpus);
    text_list_free(&queries);
    rr_cand_stream_free(cs);
    if (st == RR_ERR_CANCELLED) { /* a signal: the shell's convention, 128 + its number */
        cli_fail("rerank", st);
        return 128 + (g_stop ? (int)g_stop : SIGINT);
    }
    return st ? cli_fail("rerank", st) : 0;
}
