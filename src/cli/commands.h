/* cli/commands.h — one entry point per subcommand; each returns the process exit code.
 *
 * The stages that `rerank run` chains are also functions of an options struct (filled from
 * argv by their subcommand, or from a config by `rerank run`), so both paths run the same
 * code. They print their own messages and return the exit code: 0, 1 (failure, message
 * printed), 2 (bad option values). */
#ifndef RR_CLI_COMMANDS_H
#define RR_CLI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "rerank/eval.h"
#include "rerank/index.h"

int rr_cmd_embed(int argc, char **argv);
int rr_cmd_score(int argc, char **argv);
int rr_cmd_eval(int argc, char **argv);
int rr_cmd_index(int argc, char **argv);
int rr_cmd_retrieve(int argc, char **argv);
int rr_cmd_rerank(int argc, char **argv);
int rr_cmd_run(int argc, char **argv);

/* rerank index */
typedef struct index_opts {
    const char *corpus, *model_dir, *out_dir, *factory, *metric, *from_index, *device, *precision;
    const char *update, *remove, *add; /* --update DIR [--remove IDS] [--add CORPUS] */
    int threads, token_budget, max_length, train_docs, quiet, progress;
    int lenient; /* skip malformed corpus lines (counted) instead of stopping at the first */
    int strict;  /* --strict given (the default; exclusive with lenient) */
    int metric_given; /* with from_index: 0 keeps the source index's metric */
} index_opts;
index_opts index_opts_default(void);
int stage_index(const index_opts *o);
/* RR_OK when the index holds exactly the documents of corpus, by id and text (its per-document
 * checksums; an index without them: its corpus checksum), else an error that counts the
 * changed, new and gone documents and names the first of each. */
rr_status index_check_corpus(const rr_index *ix, const char *index_dir, const char *corpus, int lenient);

/* rerank retrieve */
typedef struct retrieve_opts {
    const char *index_dir, *queries, *qrels, *output, *tag, *model_dir, *search_params, *device, *precision;
    const char *search_device; /* auto (default): a GPU copy of the index when one can be made | cpu | gpu */
    const char *corpus;        /* when set: the index must hold exactly its documents (index_check_corpus) */
    int search_fp16;           /* the GPU copy stores vectors in fp16 */
    int k, threads, token_budget, max_length, batch;
    int lenient, strict; /* malformed query lines: skipped and counted / stop at the first (default) */
} retrieve_opts;
retrieve_opts retrieve_opts_default(void);
int stage_retrieve(const retrieve_opts *o);

/* rerank rerank */
typedef struct rerank_opts {
    const char *model_dir, *run, *corpus, *queries, *output, *activation, *device, *precision, *tag;
    int timing, threads, max_length, token_budget, label, top_n;
    int progress; /* CLI_PROGRESS_AUTO (default: when stderr is a terminal), _ON, _OFF */
    int resume;      /* continue from OUTPUT.journal (see cmd_rerank.c) */
    int chunk_pairs; /* journal chunk: whole queries, at least this many pairs (0: 4096) */
    int max_memory_mb; /* 0 = none: else passes shrink until their workspace fits */
    int lenient;       /* skip malformed corpus/query lines and the candidates they leave unknown */
    int keep_rest;     /* append the candidates after top_n, first-stage order, scored below the rest */
} rerank_opts;
typedef struct rerank_stats {
    size_t num_queries, num_pairs;
    double load_seconds;  /* model load */
    double score_seconds; /* tokenize + forward + sort + write */
} rerank_stats;
rerank_opts rerank_opts_default(void);
int stage_rerank(const rerank_opts *o, rerank_stats *stats /* may be NULL */);
/* SIGINT / SIGTERM: stop the rerank stage after the pass in flight, exit within ~1 s anyway
 * (its journal is consistent at every moment); a second signal exits at once. */
void rerank_install_stop_handlers(void);

/* rerank eval: load qrels and run, compute the measures (trec_eval's -m syntax) */
struct json_t;
rr_status eval_files(const rr_eval_params *params, const char *const *measures, int num_measures,
                     const char *qrels_path, const char *run_path, rr_eval **out);
/* What `rerank eval --json` prints: {"queries": {...} (per_query), "all": {...}}; NULL when
 * out of memory. */
struct json_t *eval_json(const rr_eval *ev, int per_query, int no_summary);
rr_status write_json_text(const struct json_t *root, FILE *out);
int rr_cmd_fit_head(int argc, char **argv);

#endif
