/* rerank/config.h — the pipeline configuration of `rerank run`: a YAML file (read with
 * libyaml) turned into typed settings, command-line overrides, path resolution and checks.
 *
 * The file is a mapping of sections:
 *   dataset:     path (BEIR directory), split, corpus, queries, qrels, bad_lines
 *   first_stage: run (a TREC run file) | model, index, factory, metric, k, search_params, ...
 *   rerank:      model, top_n, max_length, precision, device, token_budget, threads, score,
 *                label, tag, keep_rest (the section is optional: without it only the first
 *                stage runs)
 *   eval:        measures (a list), split
 *   output_dir:  where every output goes
 * (the README's "rerank run" section has the table of keys, types and defaults).
 *
 * Every error names its place: "CONFIG.yaml:LINE:COLUMN: rerank.top_n: expected an integer,
 * got \"abc\"" for the file (libyaml's marks, 1-based), "--set rerank.top_n=abc: ..." for an
 * override. Unknown keys, wrong types (a quoted string where an integer is needed), values
 * outside their set or range, and missing files or directories are errors.
 *
 * Paths: "~" and "${VAR}" / "${VAR:-default}" expand (an unset VAR without a default is an
 * error); a relative path in the file is relative to the file's directory, one given with
 * --set or --out relative to the working directory; resolved paths are absolute.
 *
 * Usage: rr_config_load, then rr_config_set for each override, then rr_config_finish (which
 * expands, resolves and checks), then read the fields; rr_config_write_yaml gives the
 * resolved configuration back as YAML that rr_config_load reads again.
 */
#ifndef RERANK_CONFIG_H
#define RERANK_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "rerank/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_config_state rr_config_state; /* where each value came from (private) */

typedef struct rr_config {
    struct {
        char *path;    /* BEIR dataset directory */
        char *split;   /* "test": which qrels/<split>.tsv selects the queries */
        char *corpus;  /* after finish: path/corpus.jsonl[.gz] unless given */
        char *queries; /* after finish: path/queries.jsonl[.gz] unless given */
        char *qrels;   /* after finish: path/qrels/<eval.split>.tsv[.gz] unless given */
        char *bad_lines; /* "strict" (stop at the first malformed corpus/query line) | "lenient" */
    } dataset;
    struct {
        int dense;           /* after finish: 1 = model/index, 0 = run file */
        int build_index;     /* after finish: 1 when index does not exist yet */
        char *run;           /* a TREC run of candidates */
        char *model;         /* bi-encoder directory (needed to build; optional to reuse) */
        char *index;         /* index directory; default <output_dir>/index */
        char *factory;       /* "Flat" */
        char *metric;        /* "ip" | "l2" */
        char *search_params; /* "nprobe=16" or NULL */
        char *search_device; /* "auto" | "cpu" | "gpu": where FAISS searches */
        char *search_fp16;   /* "false" | "true": fp16 in the GPU copy (rr_index_use_gpu) */
        char *stale_index;   /* a reused index that does not hold the corpus's documents:
                                "error" | "update" (only new and changed ones embedded) | "ignore" */
        char *tag;           /* "first_stage" */
        char *device, *precision;
        int k;               /* 100 */
        int max_length, token_budget, threads, batch, train_docs;
    } first_stage;
    struct {
        int enabled;         /* the section is present */
        char *model;         /* cross-encoder directory */
        char *device, *precision;
        char *score;         /* "raw" | "sigmoid" */
        char *tag;           /* "rerank" */
        char *keep_rest;     /* "false" | "true": candidates after top_n kept below the reranked */
        int top_n;           /* 100; 0 = every candidate */
        int max_length, token_budget, threads, label;
    } rerank;
    struct {
        char **measures;     /* [num_measures], trec_eval -m syntax */
        size_t num_measures;
        char *split;         /* default: dataset.split */
    } eval;
    char *output_dir;
    const char *source;      /* the config file as given (for messages) */
    rr_config_state *state;
} rr_config;

/* Parse a config file. Errors: RR_ERR_IO (cannot read), RR_ERR_FORMAT (YAML syntax, unknown
 * key, wrong type or value), each with file:line:column in rr_last_error(). */
rr_status rr_config_load(const char *path, rr_config **out);

/* Apply one override "section.key=value" (value in YAML syntax: 50, sigmoid, [map, P.10]),
 * typed as in the file. RR_ERR_INVALID_ARG for an unknown key or a bad value. */
rr_status rr_config_set(rr_config *cfg, const char *assignment);

/* Expand and resolve paths, fill defaults and derived paths, check that what must exist
 * exists and that the measures parse. output_dir (may be NULL) replaces output_dir, as --out. */
rr_status rr_config_finish(rr_config *cfg, const char *output_dir);

/* The resolved configuration as YAML (after rr_config_finish). */
rr_status rr_config_write_yaml(const rr_config *cfg, FILE *out);

void rr_config_free(rr_config *cfg);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_CONFIG_H */
