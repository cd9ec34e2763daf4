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

/* The vectors of documents [pos, pos + take) of the index being built, into out, and their
 * ids into idp. Documents 0 .. nk-1 are stored vectors of src (labels kept[], copied by runs
 * of consecutive labels, not embedded again); the rest are add's documents, embedded. */
static rr_status fill_vectors(const rr_index *src, const int64_t *kept, size_t nk, rr_model *model,
                              const text_list *add, size_t pos, size_t take, size_t dim, float *out,
                              const char **idp) {
    size_t i = 0;
    while (i < take && pos + i < nk) {
        size_t j = i + 1;
        while (j < take && pos + j < nk && kept[pos + j] == kept[pos + j - 1] + 1)
            j++;
        RR_TRY(rr_index_reconstruct(src, kept[pos + i], (int64_t)(j - i), out + i * dim));
        for (size_t k = i; k < j; k++)
            idp[k] = rr_index_doc_id(src, kept[pos + k]);
        i = j;
    }
    if (i < take) {
        const size_t a0 = pos + i - nk;
        RR_TRY(rr_model_embed(model, take - i, (const char *const *)add->texts + a0, add->lens + a0,
                              out + i * dim));
        for (size_t k = i; k < take; k++)
            idp[k] = add->ids[a0 + k - i];
    }
    return RR_OK;
}

/* labels of src sorted by document id, for lookups by id */
static const rr_index *g_src;
static int cmp_label_id(const void *a, const void *b) {
    return strcmp(rr_index_doc_id(g_src, *(const int64_t *)a), rr_index_doc_id(g_src, *(const int64_t *)b));
}
static int64_t find_label(const rr_index *src, const int64_t *by_id, int64_t n, const char *id) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rr_index_doc_id(src, by_id[mid]), id);
        if (!c)
            return by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* --update: the labels of src to keep (in label order) after removing the ids listed in
 * remove_path and the ids that add replaces; the new corpus checksum. */
static rr_status plan_update(const rr_index *src, const char *update_dir, const char *remove_path,
                             const text_list *add, const char *add_path, int64_t **kept_out, size_t *nk_out,
                             size_t *removed_out, size_t *replaced_out, char sha_hex[65]) {
    const int64_t n = rr_index_size(src);
    int64_t *by_id = malloc((size_t)(n ? n : 1) * sizeof *by_id);
    unsigned char *drop = calloc((size_t)(n ? n : 1), 1);
    int64_t *kept = malloc((size_t)(n ? n : 1) * sizeof *kept);
    text_list rm;
    memset(&rm, 0, sizeof rm);
    rr_status st = RR_OK;
    if (!by_id || !drop || !kept) {
        st = rr_error(RR_ERR_NOMEM, "out of memory planning the update of %s", update_dir);
        goto out;
    }
    for (int64_t i = 0; i < n; i++)
        by_id[i] = i;
    g_src = src;
    qsort(by_id, (size_t)n, sizeof *by_id, cmp_label_id);
    rr_sha256 h;
    rr_sha256_init(&h);
    rr_sha256_update(&h, "update of ", 10);
    rr_sha256_update(&h, rr_index_get_meta(src)->corpus_sha256, 64);
    size_t removed = 0, replaced = 0;
    if (remove_path) {
        if ((st = read_text_lines(remove_path, &rm)))
            goto out;
        for (size_t i = 0; i < rm.n; i++) {
            if (!rm.lens[i])
                continue; /* blank lines */
            int64_t l = find_label(src, by_id, n, rm.texts[i]);
            if (l < 0) {
                st = rr_error(RR_ERR_NOT_FOUND, "%s:%lld: document \"%s\" is not in the index %s", remove_path,
                              rm.line_no[i], rm.texts[i], update_dir);
                goto out;
            }
            removed += !drop[l];
            drop[l] = 1;
            rr_sha256_update(&h, "\n-", 2);
            rr_sha256_update(&h, rm.texts[i], rm.lens[i]);
        }
    }
    for (size_t i = 0; add && i < add->n; i++) {
        int64_t l = find_label(src, by_id, n, add->ids[i]);
        if (l >= 0 && !drop[l]) {
            drop[l] = 1; /* the new text replaces the stored vector */
            replaced++;
        }
        rr_sha256_update(&h, "\n+", 2);
        rr_sha256_update(&h, add->ids[i], strlen(add->ids[i]));
        rr_sha256_update(&h, "\t", 1);
        rr_sha256_update(&h, add->texts[i], add->lens[i]);
    }
    (void)add_path;
    size_t nk = 0;
    for (int64_t i = 0; i < n; i++)
        if (!drop[i])
            kept[nk++] = i;
    rr_sha256_final_hex(&h, sha_hex);
    *kept_out = kept;
    kept = NULL;
    *nk_out = nk;
    *removed_out = removed;
    *replaced_out = replaced;
out:
    free(by_id);
    free(drop);
    free(kept);
    text_list_free(&rm);
    return st;
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
        {"update", OPT_STR, &o.update, "update this index: --remove IDS and/or --add CORPUS (--out: default in place)"},
        {"remove", OPT_STR, &o.remove, "with --update: document ids to remove, one per line"},
        {"add", OPT_STR, &o.add, "with --update: BEIR JSONL of documents to add (an id already there is replaced)"},
        {"train-docs", OPT_INT, &o.train_docs, "documents to train on when the index needs it (default 100000)"},
        {"max-length", OPT_INT, &o.max_length, "tokens per document (default: the model's)"},
        {"token-budget", OPT_INT, &o.token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &o.threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &o.device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &o.precision, "fp32 (default) | bf16 | fp16 (CUDA)"},
        {"quiet", OPT_FLAG, &o.quiet, "no progress line"},
        CLI_BAD_LINES_OPTS(&o.lenient, &o.strict),
        {"progress", OPT_FLAG, &o.progress, "a progress line on stderr even when it is not a terminal"},
    };
    int rc = cli_parse("index",
                       "(--corpus FILE --model DIR | --from-index DIR) --out DIR | --update DIR [--remove IDS] "
                       "[--add CORPUS] [options]", argc, argv, opts,
                       (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    for (int i = 1; i < argc; i++)
        o.metric_given |= !strncmp(argv[i], "--metric", 8);
    return stage_index(&o);
}

int stage_index(const index_opts *o) {
    const char *corpus = o->corpus, *model_dir = o->model_dir, *out_dir = o->out_dir, *factory = o->factory;
    const char *metric = o->metric, *from_index = o->from_index, *update = o->update;
    int train_docs = o->train_docs, metric_given = o->metric_given, rc = 0;
    if ((rc = cli_bad_lines_check("index", o->lenient, o->strict)))
        return rc;
    if (update) {
        if (corpus || model_dir || from_index || (!o->remove && !o->add)) {
            fprintf(stderr, "rerank index: --update DIR takes --remove IDS and/or --add CORPUS (the model is "
                            "the index's own), not --corpus, --model or --from-index\n");
            return 2;
        }
        if (!out_dir)
            out_dir = update; /* in place, atomically */
    } else if (o->remove || o->add) {
        fprintf(stderr, "rerank index: --remove and --add go with --update DIR\n");
        return 2;
    }
    if (!out_dir || (!update && (from_index ? corpus || model_dir : !corpus || !model_dir))) {
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
    rr_model_params p;
    if (cli_model_params("index", RR_HEAD_EMBEDDING, o->max_length, o->threads, o->device, o->precision,
                         o->token_budget, &p))
        return 2;

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
    size_t n, nk = 0, removed = 0, replaced = 0;
    int64_t *kept = NULL; /* labels of src whose stored vectors come first, in this order */
    const text_list *add = &docs;
    if (update) {
        /* stored vectors minus the removed and replaced ids, then the added documents embedded
         * with the index's own model (its weights must not have changed) */
        if ((st = rr_index_read(update, NULL, &src)))
            goto done;
        meta = *rr_index_get_meta(src);
        if (!metric_given)
            metric = rr_metric_name(meta.metric);
        if (!strcmp(factory, "Flat") && strcmp(meta.factory, "Flat"))
            factory = meta.factory; /* the default: keep the index's own factory */
        if (o->add) {
            bad_lines bl = {o->lenient, 0, ""};
            if ((st = read_docs_ex(o->add, &docs, &bl)) || (st = check_unique_ids(&docs, o->add, "_id")))
                goto done;
            cli_bad_lines_report("index", &bl, o->add);
        }
        if ((st = plan_update(src, update, o->remove, o->add ? &docs : NULL, o->add, &kept, &nk, &removed,
                              &replaced, meta.corpus_sha256)))
            goto done;
        n = nk + docs.n;
        if (n == 0) {
            st = rr_error(RR_ERR_INVALID_ARG, "%s: the update would leave the index empty", update);
            goto done;
        }
        if (docs.n) {
            char now[65];
            if ((st = rr_model_weights_sha256(meta.model, now)))
                goto done;
            if (strcmp(now, meta.model_sha256)) {
                st = rr_error(RR_ERR_INVALID_ARG, "%s: the index's model %s has changed since the index was built "
                              "(weights sha256 %.12s…, now %.12s…): its vectors and new ones would not match; "
                              "rebuild the index", update, meta.model, meta.model_sha256, now);
                goto done;
            }
            if ((st = rr_model_load(meta.model, &p, &model)))
                goto done;
        }
    } else if (from_index) {
        /* vectors and ids from an existing index; the model and corpus it records carry over */
        if ((st = rr_index_read(from_index, NULL, &src)))
            goto done;
        meta = *rr_index_get_meta(src);
        n = nk = (size_t)rr_index_size(src);
        if (!metric_given)
            metric = rr_metric_name(meta.metric);
        kept = malloc((nk ? nk : 1) * sizeof *kept);
        if (!kept) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < nk; i++)
            kept[i] = (int64_t)i;
    } else {
        bad_lines bl = {o->lenient, 0, ""};
        if ((st = read_docs_ex(corpus, &docs, &bl)))
            goto done;
        cli_bad_lines_report("index", &bl, corpus);
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
        if ((st = fill_vectors(src, kept, nk, model, add, done_n, take, dim, buf + held * dim, idp + held)))
            goto done;
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
            out_dir, factory, metric, meta.dim, omp_get_wtime() - t_start,
            update ? "copy/embed" : src ? "copy" : "embed", embed_s, (double)n / embed_s, train_n ? "" : "\n");
    if (train_n)
        fprintf(stderr, ", trained on %zu docs in %.1fs\n", train_n, t_train);
    if (update)
        fprintf(stderr, "rerank index: updated %s: %zu kept (not embedded again), %zu removed, %zu replaced, "
                        "%zu added\n", update, nk, removed, replaced, docs.n - replaced);
done:
    if (st)
        rc = cli_fail("index", st);
    free(buf);
    free(idp);
    free(kept);
    rr_index_free(index);
    rr_index_free(src);
    rr_model_free(model);
    text_list_free(&docs);
    return rc;
}
