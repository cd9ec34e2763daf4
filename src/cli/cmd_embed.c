/* cli/cmd_embed.c — `rerank embed`: texts → float32 embeddings with a bi-encoder. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include <omp.h>
#include "rerank/model.h"

int rr_cmd_embed(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *output = NULL, *format = NULL, *device = "cpu";
    const char *precision = "fp32";
    int timing = 0, threads = 0, max_length = 0, token_budget = 0, jsonl = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model_dir, "bi-encoder directory (Hugging Face / sentence-transformers)"},
        {"input", OPT_STR, &input, "texts: one per line (.gz read transparently)"},
        {"jsonl", OPT_FLAG, &jsonl, "input is BEIR JSONL: text = title + \" \" + text"},
        {"output", OPT_STR, &output, "output file (.npy, or raw with --format bin)"},
        {"format", OPT_STR, &format, "npy | bin (default: npy)"},
        {"max-length", OPT_INT, &max_length, "tokens per text, specials included (default: the model's)"},
        {"token-budget", OPT_INT, &token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &threads, "CPU threads (default: all)"},
        {"timing", OPT_FLAG, &timing, "print load / tokenize / forward times and rates to stderr"},
        {"device", OPT_STR, &device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &precision, "fp32 (default) | bf16 | fp16 (CUDA storage precision)"},
    };
    int rc = cli_parse("embed", "--model DIR --input FILE --output FILE [options]", argc, argv, opts,
                       (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!model_dir || !input || !output) {
        fprintf(stderr, "rerank embed: --model, --input and --output are required\n");
        return 2;
    }
    if (!format) {
        size_t ol = strlen(output);
        format = ol >= 4 && !strcmp(output + ol - 4, ".npy") ? "npy" : "bin";
    }
    if (strcmp(format, "npy") && strcmp(format, "bin")) {
        fprintf(stderr, "rerank embed: --format must be npy or bin\n");
        return 2;
    }
    rr_model_params p;
    if (cli_model_params("embed", RR_HEAD_EMBEDDING, max_length, threads, device, precision, token_budget, &p))
        return 2;
    text_list texts;
    rr_status st = jsonl ? read_beir_jsonl(input, &texts) : read_text_lines(input, &texts);
    if (st)
        return cli_fail("embed", st);
    rr_model *model = NULL;
    float *out = NULL;
    double t_load = omp_get_wtime();
    if ((st = cli_model_load("embed", model_dir, &p, &model, NULL)))
        goto done;
    t_load = omp_get_wtime() - t_load;
    double t_run = omp_get_wtime();
    rr_model_info info = rr_model_get_info(model);
    out = malloc((texts.n ? texts.n : 1) * (size_t)info.out_dim * sizeof *out);
    if (!out) {
        fprintf(stderr, "rerank embed: out of memory for %zu embeddings\n", texts.n);
        rc = 1;
        goto done;
    }
    if ((st = rr_model_embed(model, texts.n, (const char *const *)texts.texts, texts.lens, out)))
        goto done;
    if (timing)
        print_timing("embed", model, t_load, omp_get_wtime() - t_run);
    st = write_matrix(output, format, out, texts.n, (size_t)info.out_dim);
    if (!st)
        fprintf(stderr, "rerank embed: %zu texts -> %s [%zu, %d]\n", texts.n, output, texts.n, info.out_dim);
done:
    if (st)
        rc = cli_fail("embed", st);
    free(out);
    rr_model_free(model);
    text_list_free(&texts);
    return rc;
}
