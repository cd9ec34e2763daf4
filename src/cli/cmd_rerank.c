/* cli/cmd_rerank.c — `rerank rerank`: candidates (any TREC run) + a BEIR dataset + a
 * cross-encoder → a reranked TREC run.
 *
 * The top n candidates of every query (in trec_eval's order of the input run) become
 * (query, passage) pairs; all pairs of all queries go through the model's one scheduler
 * (tokenized on all threads, sorted by length, packed into passes by the token budget), and
 * each query's documents are then sorted by the new score, ties broken by docid descending —
 * the order trec_eval reads the run in. Scores are printed with 9 significant digits, enough
 * to give back the exact float. Output is identical across runs, thread counts and budgets
 * up to the arithmetic of the backend (bit-identical on the same backend and settings). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/candidates.h"
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

rerank_opts rerank_opts_default(void) {
    rerank_opts o = {.activation = "none", .device = "cpu", .precision = "fp32", .tag = "rerank", .top_n = 100,
                     .progress = CLI_PROGRESS_AUTO};
    return o;
}

int rr_cmd_rerank(int argc, char **argv) {
    rerank_opts o = rerank_opts_default();
    int show = 0, quiet = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &o.model_dir, "cross-encoder directory (BertForSequenceClassification)"},
        {"run", OPT_STR, &o.run, "candidates: a TREC run (qid Q0 docid rank score tag), .gz ok"},
        {"corpus", OPT_STR, &o.corpus, "BEIR corpus.jsonl(.gz): passage = title + \" \" + text"},
        {"queries", OPT_STR, &o.queries, "BEIR queries.jsonl(.gz)"},
        {"output", OPT_STR, &o.output, "the reranked TREC run"},
        {"top-n", OPT_INT, &o.top_n, "candidates per query to rerank (default 100; 0 = all)"},
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
    };
    int rc = cli_parse("rerank", "--model DIR --run RUN --corpus CORPUS --queries QUERIES --output OUT [options]",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    o.progress = cli_progress_mode(show, quiet);
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
    rr_model_params p = rr_model_default_params();
    p.head = RR_HEAD_CLASSIFIER;
    p.max_length = o->max_length;
    p.token_budget = o->token_budget;
    p.threads = threads;
    p.device = o->device;
    p.precision = rr_precision_parse(o->precision);
    if (p.precision < 0) {
        fprintf(stderr, "rerank rerank: --precision must be fp32, bf16 or fp16\n");
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);

    rr_candidates cand;
    text_list corpus = {0}, queries = {0};
    size_t *corder = NULL, *qorder = NULL; /* corpus / queries sorted by id */
    rr_model *model = NULL;
    const char **qs = NULL, **ds = NULL;
    size_t *ql = NULL, *dl = NULL;
    float *scores = NULL;
    scored *buf = NULL;
    rr_atomic_file af = {0};
    int af_open = 0;
    rr_status st = rr_candidates_load(run_path, (size_t)top_n, &cand);
    if (st)
        return cli_fail("rerank", st);
    if ((st = read_beir_jsonl(corpus_path, &corpus)) || (st = read_beir_jsonl(queries_path, &queries)))
        goto done;
    if ((st = text_list_index_ids(&corpus, corpus_path, "_id", &corder)) ||
        (st = text_list_index_ids(&queries, queries_path, "_id", &qorder)))
        goto done;
    const size_t n = cand.num_docs;
    qs = malloc(n * sizeof *qs);
    ds = malloc(n * sizeof *ds);
    ql = malloc(n * sizeof *ql);
    dl = malloc(n * sizeof *dl);
    if (!qs || !ds || !ql || !dl) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu pairs", n);
        goto done;
    }
    for (size_t q = 0; q < cand.num_queries && !st; q++) {
        long qi = text_list_find_id(&queries, qorder, cand.qids[q]);
        if (qi < 0) {
            st = rr_error(RR_ERR_NOT_FOUND, "%s:%lld: query \"%s\" is not in %s", run_path,
                          cand.line_no[cand.first[q]], cand.qids[q], queries_path);
            break;
        }
        for (size_t k = cand.first[q]; k < cand.first[q + 1]; k++) {
            long di = text_list_find_id(&corpus, corder, cand.docids[k]);
            if (di < 0) {
                st = rr_error(RR_ERR_NOT_FOUND, "%s:%lld: document \"%s\" is not in %s", run_path, cand.line_no[k],
                              cand.docids[k], corpus_path);
                break;
            }
            qs[k] = queries.texts[qi];
            ql[k] = queries.lens[qi];
            ds[k] = corpus.texts[di];
            dl[k] = corpus.lens[di];
        }
    }
    if (st)
        goto done;
    double t0 = omp_get_wtime();
    if ((st = rr_model_load(model_dir, &p, &model)))
        goto done;
    rr_model_info info = rr_model_get_info(model);
    if (label >= info.num_labels) {
        st = rr_error(RR_ERR_INVALID_ARG, "--label %d: the model has %d label(s)", label, info.num_labels);
        goto done;
    }
    double t_load = omp_get_wtime() - t0, t_run = omp_get_wtime();
    scores = malloc(n * (size_t)info.out_dim * sizeof *scores);
    size_t max_q = 0;
    for (size_t q = 0; q < cand.num_queries; q++)
        if (cand.first[q + 1] - cand.first[q] > max_q)
            max_q = cand.first[q + 1] - cand.first[q];
    buf = malloc((max_q ? max_q : 1) * sizeof *buf);
    if (!scores || !buf) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu scores", n);
        goto done;
    }
    cli_progress pr;
    cli_progress_init(&pr, "rerank rerank", "pairs", o->progress);
    rr_model_set_progress(model, cli_progress_cb, &pr);
    if ((st = rr_model_score_pairs(model, n, qs, ql, ds, dl, scores)))
        goto done;
    if ((st = rr_atomic_open(&af, output)))
        goto done;
    af_open = 1;
    for (size_t q = 0; q < cand.num_queries; q++) {
        size_t m = cand.first[q + 1] - cand.first[q];
        for (size_t j = 0; j < m; j++) {
            size_t k = cand.first[q] + j;
            float s = scores[k * (size_t)info.out_dim + (size_t)label];
            if (sigmoid)
                s = (float)(1.0 / (1.0 + exp(-(double)s)));
            buf[j].score = s;
            buf[j].docid = cand.docids[k];
        }
        qsort(buf, m, sizeof *buf, cmp_scored);
        for (size_t j = 0; j < m; j++)
            fprintf(af.fp, "%s Q0 %s %zu %.9g %s\n", cand.qids[q], buf[j].docid, j + 1, (double)buf[j].score, tag);
    }
    st = rr_atomic_commit(&af);
    af_open = 0;
    if (!st && timing)
        print_timing("rerank", model, t_load, omp_get_wtime() - t_run);
    if (!st)
        fprintf(stderr, "rerank rerank: %zu queries, %zu pairs -> %s\n", cand.num_queries, n, output);
    if (!st && stats) {
        stats->num_queries = cand.num_queries;
        stats->num_pairs = n;
        stats->load_seconds = t_load;
        stats->score_seconds = omp_get_wtime() - t_run;
    }
done:
    if (af_open)
        rr_atomic_abort(&af);
    rr_model_free(model);
    free(qs);
    free(ds);
    free(ql);
    free(dl);
    free(scores);
    free(buf);
    free(corder);
    free(qorder);
    text_list_free(&corpus);
    text_list_free(&queries);
    rr_candidates_free(&cand);
    return st ? cli_fail("rerank", st) : 0;
}
