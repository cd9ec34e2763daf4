/* cli/cmd_score.c — `rerank score`: (query, passage) pairs → cross-encoder scores.
 * Pairs come from a TSV (query<TAB>passage per line) or from --query plus a file of
 * passages (one per line). Output: one score per line, in input order. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include <omp.h>
#include "rerank/model.h"
#include "util/error.h"
#include "util/file.h"

int rr_cmd_score(int argc, char **argv) {
    const char *model_dir = NULL, *pairs = NULL, *query = NULL, *passages = NULL, *output = NULL;
    const char *activation = "none", *device = "cpu", *precision = "fp32";
    int timing = 0, threads = 0, max_length = 0, token_budget = 0, label = 0, show = 0, quiet = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model_dir, "cross-encoder directory (a Hugging Face BERT, ELECTRA, DistilBERT, MPNet, XLM-RoBERTa, DeBERTa-v2/v3, RoBERTa or ModernBERT ...ForSequenceClassification)"},
        {"pairs", OPT_STR, &pairs, "TSV file: query<TAB>passage per line"},
        {"query", OPT_STR, &query, "one query, scored against every line of --passages"},
        {"passages", OPT_STR, &passages, "passages, one per line (with --query)"},
        {"output", OPT_STR, &output, "scores, one per line (default: stdout)"},
        {"activation", OPT_STR, &activation, "none (raw logits, default) | sigmoid"},
        {"label", OPT_INT, &label, "which logit of a multi-label head (default 0)"},
        {"max-length", OPT_INT, &max_length, "tokens per pair, specials included (default: the model's)"},
        {"token-budget", OPT_INT, &token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &threads, "CPU threads (default: all)"},
        {"timing", OPT_FLAG, &timing, "print load / tokenize / forward times and rates to stderr"},
        {"device", OPT_STR, &device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &precision, "fp32 (default) | bf16 | fp16 (CUDA storage precision)"},
        {"progress", OPT_FLAG, &show, "a progress line on stderr even when it is not a terminal"},
        {"quiet", OPT_FLAG, &quiet, "no progress line"},
    };
    int rc = cli_parse("score", "--model DIR (--pairs FILE | --query TEXT --passages FILE) [options]",
                       argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!model_dir || (!pairs == !query) || (query && !passages)) {
        fprintf(stderr, "rerank score: needs --model and either --pairs or --query with --passages\n");
        return 2;
    }
    int sigmoid = !strcmp(activation, "sigmoid");
    if (!sigmoid && strcmp(activation, "none")) {
        fprintf(stderr, "rerank score: --activation must be none or sigmoid\n");
        return 2;
    }
    rr_model_params p;
    if (cli_model_params("score", RR_HEAD_CLASSIFIER, max_length, threads, device, precision, token_budget, &p))
        return 2;
    text_list qs = {0}, ds = {0};
    rr_status st;
    if (pairs) {
        st = read_pair_tsv(pairs, &qs, &ds);
    } else if (!*query) {
        st = rr_error(RR_ERR_INVALID_ARG, "--query is empty");
    } else if (!(st = check_utf8(query, strlen(query), "--query", 1)) &&
               !(st = read_text_lines(passages, &ds)) && ds.n == 0) {
        st = rr_error(RR_ERR_FORMAT, "%s: no passages", passages);
    }
    if (st) {
        text_list_free(&qs);
        text_list_free(&ds);
        return cli_fail("score", st);
    }
    size_t n = ds.n;
    const char **qptr = NULL;
    size_t *qlen = NULL;
    if (query) {
        qptr = malloc(n * sizeof *qptr);
        qlen = malloc(n * sizeof *qlen);
        if (!qptr || !qlen) {
            free(qptr);
            free(qlen);
            text_list_free(&ds);
            fprintf(stderr, "rerank score: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            qptr[i] = query;
            qlen[i] = strlen(query);
        }
    }
    rr_model *model = NULL;
    float *logits = NULL;
    double t_load = omp_get_wtime();
    if ((st = cli_model_load("score", model_dir, &p, &model, NULL)))
        goto done;
    t_load = omp_get_wtime() - t_load;
    double t_run = omp_get_wtime();
    rr_model_info info = rr_model_get_info(model);
    if (label < 0 || label >= info.num_labels) {
        st = rr_error(RR_ERR_INVALID_ARG, "--label %d: the model has %d label(s)", label, info.num_labels);
        goto done;
    }
    logits = malloc(n * (size_t)info.num_labels * sizeof *logits);
    if (!logits) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu scores", n);
        goto done;
    }
    cli_progress pr;
    cli_progress_init(&pr, "rerank score", "pairs", cli_progress_mode(show, quiet));
    rr_model_set_progress(model, cli_progress_cb, &pr);
    st = rr_model_score_pairs(model, n, query ? qptr : (const char *const *)qs.texts,
                              query ? qlen : qs.lens, (const char *const *)ds.texts, ds.lens, logits);
    if (st)
        goto done;
    if (timing)
        print_timing("score", model, t_load, omp_get_wtime() - t_run);
    rr_atomic_file af = {0};
    FILE *fp = stdout;
    if (output) {
        if ((st = rr_atomic_open(&af, output)))
            goto done;
        fp = af.fp;
    }
    for (size_t i = 0; i < n; i++) {
        float x = logits[i * (size_t)info.num_labels + (size_t)label];
        if (sigmoid)
            x = 1.0f / (1.0f + expf(-x));
        fprintf(fp, "%.9g\n", x);
    }
    if (output)
        st = rr_atomic_commit(&af);
    else if (fflush(stdout) != 0)
        st = rr_error(RR_ERR_IO, "stdout: write failed");
done:
    if (st)
        rc = cli_fail("score", st);
    free(logits);
    free(qptr);
    free(qlen);
    rr_model_free(model);
    text_list_free(&qs);
    text_list_free(&ds);
    return rc;
}
