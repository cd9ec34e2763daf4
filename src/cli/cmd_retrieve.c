/* cli/cmd_retrieve.c — `rerank retrieve`: queries → bi-encoder embeddings → top-k from an
 * index directory for all queries at once → a TREC run (qid Q0 docid rank score tag),
 * written atomically.
 *
 * The queries are embedded with the model recorded in the index's meta.json (or --model),
 * and that model's weights must have the checksum the index recorded. With --qrels only the
 * queries judged there are retrieved (BEIR's queries.jsonl holds every split). */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rerank/eval.h"
#include "rerank/index.h"
#include "rerank/model.h"
#include "util/error.h"
#include "util/file.h"

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keep only the queries whose id is judged in qrels (the order of the queries file stays). */
static rr_status restrict_to_qrels(text_list *q, const char *qrels_path, size_t *missing) {
    rr_qrels *qrels = NULL;
    RR_TRY(rr_qrels_load(qrels_path, &qrels));
    size_t nq = rr_qrels_num_queries(qrels); /* ids in strcmp order */
    const char **judged = malloc((nq ? nq : 1) * sizeof *judged);
    unsigned char *seen = calloc(nq ? nq : 1, 1);
    if (!judged || !seen) {
        free(judged);
        free(seen);
        rr_qrels_free(qrels);
        return rr_error(RR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nq; i++)
        judged[i] = rr_qrels_query_id(qrels, i);
    size_t kept = 0;
    for (size_t i = 0; i < q->n; i++) {
        const char *id = q->ids[i];
        const char **hit = nq ? bsearch(&id, judged, nq, sizeof *judged, cmp_str) : NULL;
        if (!hit) {
            free(q->texts[i]);
            free(q->ids[i]);
            continue;
        }
        seen[hit - judged] = 1;
        q->texts[kept] = q->texts[i];
        q->lens[kept] = q->lens[i];
        q->line_no[kept] = q->line_no[i];
        q->ids[kept] = q->ids[i];
        kept++;
    }
    q->n = kept;
    *missing = 0;
    for (size_t i = 0; i < nq; i++)
        *missing += !seen[i];
    free(judged);
    free(seen);
    rr_qrels_free(qrels);
    return RR_OK;
}

/* --search-device: auto copies the index to GPU 0 when that can be done and says why not
 * otherwise (FAISS without GPU support stays silent: nothing the user asked for is missing);
 * gpu makes every reason an error. k above FAISS's GPU limit searches the CPU index. */
static rr_status search_on_gpu(rr_index *index, const char *sdev, int fp16, int k) {
    if (!strcmp(sdev, "cpu"))
        return RR_OK;
    const int must = !strcmp(sdev, "gpu");
    if (!must && !rr_index_gpu_built())
        return RR_OK;
    if (k > RR_INDEX_GPU_MAX_K) {
        if (must)
            return rr_error(RR_ERR_INVALID_ARG, "--search-device gpu: k = %d is above FAISS's GPU limit "
                            "of %d", k, RR_INDEX_GPU_MAX_K);
        fprintf(stderr, "rerank retrieve: k = %d is above FAISS's GPU limit of %d: searching on the CPU\n", k,
                RR_INDEX_GPU_MAX_K);
        return RR_OK;
    }
    rr_status st = rr_index_use_gpu(index, 0, fp16);
    if (st && !must) {
        /* silent only when there is no GPU at all, the ordinary case of auto; said: an index
         * type without a GPU version, a failed copy (GPU memory, a parameter FAISS refuses) */
        if (st != RR_ERR_UNSUPPORTED || rr_index_gpu_count() > 0)
            fprintf(stderr, "rerank retrieve: searching on the CPU: %s\n", rr_last_error());
        return RR_OK;
    }
    return st;
}

retrieve_opts retrieve_opts_default(void) {
    retrieve_opts o = {.tag = "rerank", .device = "cpu", .precision = "fp32", .search_device = "auto",
                       .k = 100, .batch = 4096};
    return o;
}

int rr_cmd_retrieve(int argc, char **argv) {
    retrieve_opts o = retrieve_opts_default();
    const cli_opt opts[] = {
        {"index", OPT_STR, &o.index_dir, "index directory from `rerank index`"},
        {"queries", OPT_STR, &o.queries, "BEIR queries.jsonl(.gz): {\"_id\", \"text\"}"},
        {"qrels", OPT_STR, &o.qrels, "retrieve only the queries judged in this qrels file"},
        {"k", OPT_INT, &o.k, "documents per query (default 100)"},
        {"output", OPT_STR, &o.output, "TREC run file to write"},
        {"tag", OPT_STR, &o.tag, "run tag, the 6th column (default rerank)"},
        {"model", OPT_STR, &o.model_dir, "bi-encoder (default: the one meta.json names; checksum checked)"},
        {"corpus", OPT_STR, &o.corpus,
         "check first that the index holds exactly this corpus's documents (ids and texts)"},
        {"search-params", OPT_STR, &o.search_params, "FAISS search parameters: nprobe=16, efSearch=128"},
        {"batch", OPT_INT, &o.batch, "queries per FAISS search call (default 4096)"},
        {"search-device", OPT_STR, &o.search_device,
         "auto (default: a GPU copy of the index when FAISS has GPU support, a GPU is present and the "
         "index type has a GPU version; else the CPU) | cpu | gpu (an error when it cannot)"},
        {"search-fp16", OPT_FLAG, &o.search_fp16,
         "the GPU copy of a Flat index stores its vectors in fp16 (IVF,PQ: fp16 lookup tables)"},
        {"max-length", OPT_INT, &o.max_length, "tokens per query (default: the model's)"},
        {"token-budget", OPT_INT, &o.token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &o.threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &o.device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &o.precision, "fp32 (default) | bf16 | fp16 (CUDA)"},
        CLI_BAD_LINES_OPTS(&o.lenient, &o.strict),
    };
    int rc = cli_parse("retrieve", "--index DIR --queries FILE --output RUN [options]", argc, argv,
                       opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    return stage_retrieve(&o);
}

int stage_retrieve(const retrieve_opts *o) {
    const char *index_dir = o->index_dir, *queries = o->queries, *qrels = o->qrels, *output = o->output;
    const char *tag = o->tag, *model_dir = o->model_dir, *search_params = o->search_params;
    int k = o->k, batch = o->batch, rc = 0;
    if ((rc = cli_bad_lines_check("retrieve", o->lenient, o->strict)))
        return rc;
    if (!index_dir || !queries || !output) {
        fprintf(stderr, "rerank retrieve: --index, --queries and --output are required\n");
        return 2;
    }
    if (k <= 0 || batch <= 0) {
        fprintf(stderr, "rerank retrieve: --k and --batch must be positive\n");
        return 2;
    }
    const char *sdev = o->search_device ? o->search_device : "auto";
    if (strcmp(sdev, "auto") && strcmp(sdev, "cpu") && strcmp(sdev, "gpu")) {
        fprintf(stderr, "rerank retrieve: --search-device must be auto, cpu or gpu (got \"%s\")\n", sdev);
        return 2;
    }
    if (!*tag || strpbrk(tag, " \t\n\r")) {
        fprintf(stderr, "rerank retrieve: --tag must be one non-empty word\n");
        return 2;
    }
    if (!rr_index_available()) {
        fprintf(stderr, "rerank retrieve: this rerank was built without FAISS; run scripts/setup.sh "
                        "(it builds FAISS with its C API), then rebuild\n");
        return 1;
    }
    rr_model_params p;
    if (cli_model_params("retrieve", RR_HEAD_EMBEDDING, o->max_length, o->threads, o->device, o->precision,
                         o->token_budget, &p))
        return 2;

    double t0 = omp_get_wtime();
    text_list qs;
    memset(&qs, 0, sizeof qs);
    rr_index *index = NULL;
    rr_model *model = NULL;
    float *qvec = NULL, *scores = NULL;
    int64_t *labels = NULL;
    rr_atomic_file af = {0};
    rr_index_meta expect;
    memset(&expect, 0, sizeof expect);
    rr_status st;
    /* metadata first (cheap), to learn the model, then the model's checksum against it */
    if ((st = rr_index_read(index_dir, NULL, &index)))
        goto done;
    if (!model_dir)
        model_dir = rr_index_get_meta(index)->model;
    if ((st = cli_weights_sha256(model_dir, expect.model_sha256)))
        goto done;
    if (strcmp(expect.model_sha256, rr_index_get_meta(index)->model_sha256)) {
        st = rr_error(RR_ERR_INVALID_ARG,
                      "%s was built with the embedding model %s (weights sha256 %.12s…), but %s has "
                      "weights sha256 %.12s…: embed the queries with the index's model, or rebuild the "
                      "index with this one", index_dir, rr_index_get_meta(index)->model,
                      rr_index_get_meta(index)->model_sha256, model_dir, expect.model_sha256);
        goto done;
    }
    if (o->corpus && (st = index_check_corpus(index, index_dir, o->corpus, o->lenient)))
        goto done;
    if (search_params && (st = rr_index_set_search_params(index, search_params)))
        goto done;
    bad_lines bl = {o->lenient, 0, ""};
    if ((st = read_docs_ex(queries, &qs, &bl)) || (st = check_unique_ids(&qs, queries, "query _id")))
        goto done;
    cli_bad_lines_report("retrieve", &bl, queries);
    for (size_t i = 0; i < qs.n; i++)
        if (qs.lens[i] == 0 || strspn(qs.texts[i], " \t\r\n") == qs.lens[i]) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: empty query text", queries, qs.line_no[i]);
            goto done;
        }
    if (qrels) {
        size_t missing = 0;
        if ((st = restrict_to_qrels(&qs, qrels, &missing)))
            goto done;
        if (missing)
            fprintf(stderr, "rerank retrieve: warning: %zu queries of %s are not in %s\n", missing,
                    qrels, queries);
    }
    if (qs.n == 0) {
        st = rr_error(RR_ERR_FORMAT, "%s: no queries%s", queries, qrels ? " judged in the qrels" : "");
        goto done;
    }
    int64_t num_docs = rr_index_size(index);
    if (k > num_docs) {
        fprintf(stderr, "rerank retrieve: warning: k = %d exceeds the %lld documents of the index; "
                        "returning all of them\n", k, (long long)num_docs);
        k = (int)num_docs;
    }
    int reused = 0;
    if ((st = cli_model_load("retrieve", model_dir, &p, &model, &reused)))
        goto done;
    if (reused)
        fprintf(stderr, "rerank retrieve: the embedding model of the index stage, already loaded\n");
    rr_model_info info = rr_model_get_info(model);
    if (info.out_dim != rr_index_get_meta(index)->dim) {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: dimension %d, the model gives %d", index_dir,
                      (int)rr_index_get_meta(index)->dim, info.out_dim);
        goto done;
    }
    size_t n = qs.n, dim = (size_t)info.out_dim;
    qvec = malloc(n * dim * sizeof *qvec);
    scores = malloc(n * (size_t)k * sizeof *scores);
    labels = malloc(n * (size_t)k * sizeof *labels);
    if (!qvec || !scores || !labels) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu queries x %d", n, k);
        goto done;
    }
    double t_embed = omp_get_wtime();
    if ((st = rr_model_embed(model, n, (const char *const *)qs.texts, qs.lens, qvec)))
        goto done;
    t_embed = omp_get_wtime() - t_embed;
    double t_gpu = omp_get_wtime();
    if ((st = search_on_gpu(index, sdev, o->search_fp16, k)))
        goto done;
    t_gpu = omp_get_wtime() - t_gpu;
    double t_search = omp_get_wtime();
    if ((st = rr_index_search(index, (int64_t)n, qvec, k, batch, scores, labels)))
        goto done;
    t_search = omp_get_wtime() - t_search;
    if ((st = rr_atomic_open(&af, output)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        int rank = 0;
        for (int j = 0; j < k; j++) {
            int64_t label = labels[i * (size_t)k + (size_t)j];
            const char *docid = rr_index_doc_id(index, label);
            if (!docid) /* fewer than k results (an approximate index) */
                continue;
            fprintf(af.fp, "%s Q0 %s %d %.9g %s\n", qs.ids[i], docid, ++rank,
                    (double)scores[i * (size_t)k + (size_t)j], tag);
        }
    }
    if ((st = rr_atomic_commit(&af)))
        goto done;
    fprintf(stderr, "rerank retrieve: %zu queries x top %d from %lld docs -> %s in %.1fs "
                    "(embed %.2fs, %.1f queries/s; search on the %s %.3fs, %.0f queries/s",
            n, k, (long long)num_docs, output, omp_get_wtime() - t0, t_embed,
            t_embed > 0 ? (double)n / t_embed : 0.0, rr_index_on_gpu(index) ? "GPU" : "CPU", t_search,
            t_search > 0 ? (double)n / t_search : 0.0);
    if (rr_index_on_gpu(index))
        fprintf(stderr, ", copy to the GPU %.3fs", t_gpu);
    fprintf(stderr, ")\n");
done:
    if (st) {
        if (af.fp)
            rr_atomic_abort(&af);
        rc = cli_fail("retrieve", st);
    }
    free(qvec);
    free(scores);
    free(labels);
    rr_model_free(model);
    rr_index_free(index);
    text_list_free(&qs);
    return rc;
}
