/* cli/cmd_index.c — `rerank index`: a BEIR corpus → bi-encoder embeddings → a FAISS index
 * directory (index.faiss, docids.txt, meta.json; see include/rerank/index.h).
 *
 * The corpus is embedded in chunks of CHUNK_DOCS documents (each chunk sorted by length and
 * packed to the token budget by rr_model_embed), and every chunk is added to the index as it
 * is done, so the embeddings in memory are one chunk, plus the training sample for an index
 * that needs training (IVF, PQ: the first --train-docs documents). The corpus text itself is
 * read whole (the memory-mapped document store is still to come).
 * With --from-index the vectors and ids come from an existing index instead (exact for a
 * Flat source), so IVF / HNSW / PQ variants are built without embedding the corpus again. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rerank/index.h"
#include "rerank/model.h"
#include "util/error.h"
#include "util/sha256.h"

enum { CHUNK_DOCS = 1024 };

/* The corpus checksum: sha256 over "id\ttext\n" of every document in order, i.e. exactly
 * what was embedded, whatever the file's compression or JSON formatting. */
static void corpus_sha256(const text_list *docs, char hex[65]) {
    rr_sha256 h;
    rr_sha256_init(&h);
    for (size_t i = 0; i < docs->n; i++) {
        rr_sha256_update(&h, docs->ids[i], strlen(docs->ids[i]));
        rr_sha256_update(&h, "\t", 1);
        rr_sha256_update(&h, docs->texts[i], docs->lens[i]);
        rr_sha256_update(&h, "\n", 1);
    }
    rr_sha256_final_hex(&h, hex);
}

static int copy_str(char *dst, size_t cap, const char *src, const char *what) {
    if (strlen(src) >= cap) {
        fprintf(stderr, "rerank index: %s too long (max %zu bytes)\n", what, cap - 1);
        return 1;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

index_opts index_opts_default(void) {
    index_opts o = {.factory = "Flat", .metric = "ip", .device = "cpu", .precision = "fp32", .train_docs = 100000};
    return o;
}

int rr_cmd_index(int argc, char **argv) {
    index_opts o = index_opts_default();
    const cli_opt opts[] = {
        {"corpus", OPT_STR, &o.corpus, "BEIR corpus.jsonl(.gz): {\"_id\", \"title\"?, \"text\"}"},
        {"model", OPT_STR, &o.model_dir, "bi-encoder directory (sentence-transformers)"},
        {"out", OPT_STR, &o.out_dir, "index directory to write (replaced atomically)"},
        {"factory", OPT_STR, &o.factory, "FAISS index_factory string (default Flat)"},
        {"metric", OPT_STR, &o.metric, "ip | l2 (default ip; with --from-index: the source's)"},
        {"from-index", OPT_STR, &o.from_index, "rebuild from this index's stored vectors (no --corpus/--model)"},
        {"train-docs", OPT_INT, &o.train_docs, "documents to train on when the index needs it (default 100000)"},
        {"max-length", OPT_INT, &o.max_length, "tokens per document (default: the model's)"},
        {"token-budget", OPT_INT, &o.token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &o.threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &o.device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &o.precision, "fp32 (default) | bf16 | fp16 (CUDA)"},
        {"quiet", OPT_FLAG, &o.quiet, "no progress line"},
        {"progress", OPT_FLAG, &o.progress, "a progress line on stderr even when it is not a terminal"},
    };
    int rc = cli_parse("index", "(--corpus FILE --model DIR | --from-index DIR) --out DIR [options]", argc, argv, opts,
                       (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    for (int i = 1; i < argc; i++)
        o.metric_given |= !strncmp(argv[i], "--metric", 8);
    return stage_index(&o);
}

int stage_index(const index_opts *o) {
    const char *corpus = o->corpus, *model_dir = o->model_dir, *out_dir = o->out_dir, *factory = o->factory;
    const char *metric = o->metric, *from_index = o->from_index;
    int train_docs = o->train_docs, metric_given = o->metric_given, rc = 0;
    if (!out_dir || (from_index ? corpus || model_dir : !corpus || !model_dir)) {
        fprintf(stderr, "rerank index: --out and either --corpus with --model, or --from-index, are required\n");
        return 2;
    }
    if (rr_metric_parse(metric) < 0) {
        fprintf(stderr, "rerank index: --metric must be ip or l2\n");
        return 2;
    }
    if (train_docs <= 0) {
        fprintf(stderr, "rerank index: --train-docs must be positive\n");
        return 2;
    }
    if (!rr_index_available()) {
        fprintf(stderr, "rerank index: this rerank was built without FAISS; run scripts/setup.sh "
                        "(it builds FAISS with its C API), then rebuild\n");
        return 1;
    }
    rr_model_params p = rr_model_default_params();
    p.head = RR_HEAD_EMBEDDING;
    p.max_length = o->max_length;
    p.threads = o->threads;
    p.device = o->device;
    p.precision = rr_precision_parse(o->precision);
    if (p.precision < 0) {
        fprintf(stderr, "rerank index: --precision must be fp32, bf16 or fp16\n");
        return 2;
    }
    if (o->token_budget)
        p.token_budget = o->token_budget;

    double t_start = omp_get_wtime();
    text_list docs;
    memset(&docs, 0, sizeof docs);
    rr_model *model = NULL;
    rr_index *index = NULL, *src = NULL;
    float *buf = NULL;
    const char **idp = NULL;
    rr_index_meta meta;
    memset(&meta, 0, sizeof meta);
    rr_status st = RR_OK;
    size_t n;
    if (from_index) {
        /* vectors and ids from an existing index; the model and corpus it records carry over */
        if ((st = rr_index_read(from_index, NULL, &src)))
            goto done;
        meta = *rr_index_get_meta(src);
        n = (size_t)rr_index_size(src);
        if (!metric_given)
            metric = rr_metric_name(meta.metric);
    } else {
        if ((st = read_beir_jsonl(corpus, &docs)))
            goto done;
        n = docs.n;
        if (n == 0) {
            st = rr_error(RR_ERR_FORMAT, "%s: empty corpus", corpus);
            goto done;
        }
        if ((st = check_unique_ids(&docs, corpus, "_id")))
            goto done;
        /* absolute, so that `retrieve` finds the model from any working directory */
        char *abs_model = realpath(model_dir, NULL);
        int bad = copy_str(meta.model, sizeof meta.model, abs_model ? abs_model : model_dir, "--model path");
        free(abs_model);
        if (bad ||
            copy_str(meta.corpus, sizeof meta.corpus, corpus, "--corpus path")) {
            rc = 2;
            goto done;
        }
        corpus_sha256(&docs, meta.corpus_sha256);
        if ((st = rr_model_weights_sha256(model_dir, meta.model_sha256)) ||
            (st = rr_model_load(model_dir, &p, &model)))
            goto done;
        meta.dim = rr_model_get_info(model).out_dim;
    }
    if (copy_str(meta.factory, sizeof meta.factory, factory, "--factory")) {
        rc = 2;
        goto done;
    }
    meta.metric = (rr_metric)rr_metric_parse(metric);
    /* The factory string is checked before any embedding is spent on it. */
    if ((st = rr_index_create(&meta, &index)))
        goto done;
    int training = rr_index_needs_training(index);
    size_t dim = (size_t)meta.dim;
    size_t train_n = training ? ((size_t)train_docs < n ? (size_t)train_docs : n) : 0;
    size_t cap = train_n > CHUNK_DOCS ? train_n : CHUNK_DOCS;
    buf = malloc(cap * dim * sizeof *buf);
    idp = malloc(cap * sizeof *idp);
    if (!buf || !idp) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu embeddings", cap);
        goto done;
    }
    cli_progress pr;
    cli_progress_init(&pr, "rerank index", "docs", cli_progress_mode(o->progress, o->quiet));
    double t_embed = omp_get_wtime(), t_train = 0.0;
    size_t first = 0; /* first document held in buf */
    for (size_t done_n = 0; done_n < n;) {
        size_t want = training ? train_n : CHUNK_DOCS, held = done_n - first;
        size_t take = want - held < CHUNK_DOCS ? want - held : CHUNK_DOCS;
        if (take > n - done_n)
            take = n - done_n;
        if (src)
            st = rr_index_reconstruct(src, (int64_t)done_n, (int64_t)take, buf + held * dim);
        else
            st = rr_model_embed(model, take, (const char *const *)docs.texts + done_n,
                                docs.lens + done_n, buf + held * dim);
        if (st)
            goto done;
        for (size_t i = 0; i < take; i++)
            idp[held + i] = src ? rr_index_doc_id(src, (int64_t)(done_n + i)) : docs.ids[done_n + i];
        done_n += take;
        held += take;
        cli_progress_cb(&pr, done_n, n);
        if (held < want && done_n < n)
            continue;
        if (training) {
            double t0 = omp_get_wtime();
            if ((st = rr_index_train(index, (int64_t)held, buf)))
                goto done;
            t_train = omp_get_wtime() - t0;
            training = 0;
        }
        if ((st = rr_index_add(index, (int64_t)held, buf, idp)))
            goto done;
        first = done_n;
    }
    double embed_s = omp_get_wtime() - t_embed;
    if ((st = rr_index_write(index, out_dir)))
        goto done;
    fprintf(stderr,
            "rerank index: %zu docs -> %s (%s, %s, dim %d) in %.1fs: %s+add %.1fs (%.1f docs/s)%s", n,
            out_dir, factory, metric, meta.dim, omp_get_wtime() - t_start, src ? "copy" : "embed",
            embed_s, (double)n / embed_s, train_n ? "" : "\n");
    if (train_n)
        fprintf(stderr, ", trained on %zu docs in %.1fs\n", train_n, t_train);
done:
    if (st)
        rc = cli_fail("index", st);
    free(buf);
    free(idp);
    rr_index_free(index);
    rr_index_free(src);
    rr_model_free(model);
    text_list_free(&docs);
    return rc;
}
