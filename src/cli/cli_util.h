/* cli/cli_util.h — shared pieces of the subcommands: option parsing, reading text inputs
 * into memory with their line numbers, UTF-8 validation, error reporting. */
#ifndef RR_CLI_UTIL_H
#define RR_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "io/lines.h"
#include "rerank/model.h"
#include "rerank/status.h"

/* --- options: "--name value" or "--name=value"; flags take no value --- */
typedef enum { OPT_STR, OPT_INT, OPT_FLAG } opt_kind;
typedef struct cli_opt {
    const char *name; /* without the dashes */
    opt_kind kind;
    void *dst;        /* const char ** | int * | int * */
    const char *help;
} cli_opt;

/* Parse argv[1..]; returns 0 on success, 2 on a usage error (message printed), 1 if --help
 * was printed. */
int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, const cli_opt *opts,
              int nopts);

/* Print "rerank <cmd>: <status>: <last error>" to stderr. Returns 1. */
int cli_fail(const char *cmd, rr_status st);

/* A list of texts held in one arena. */
typedef struct text_list {
    size_t n, cap;
    char **texts;        /* [n], NUL-terminated, into arena blocks */
    size_t *lens;        /* [n] */
    long long *line_no;  /* [n] source line of each text */
    char **ids;          /* [n] optional ids (NULL when the source has none) */
} text_list;

void text_list_free(text_list *tl);

/* One text per line; empty lines are kept (an empty text is a valid input). */
rr_status read_text_lines(const char *path, text_list *out);
/* BEIR JSONL ({"_id", "title"?, "text"}): text = title + " " + text. */
rr_status read_beir_jsonl(const char *path, text_list *out);
/* A corpus or query set by its name: *.tsv / *.tsv.gz are MS MARCO's "id<TAB>text" files
 * (collection.tsv, queries.dev.small.tsv), anything else BEIR JSONL. */
rr_status read_docs(const char *path, text_list *out);

/* --strict (default) / --lenient for corpus and query lines: lenient skips a malformed line
 * (bad JSON, a missing or mistyped field, invalid UTF-8, a wrong field count) and counts it;
 * strict stops at the first with its file:line. Unreadable files, over-long lines, duplicate
 * ids and out-of-memory stay errors either way. */
typedef struct bad_lines {
    int lenient;
    size_t skipped;
    char first[512]; /* the first skipped line's message */
} bad_lines;
rr_status read_docs_ex(const char *path, text_list *out, bad_lines *bl);

/* The same formats read one document at a time (the parser behind read_docs_ex), for a
 * corpus too large to hold: `rerank index` streams its corpus through one. */
typedef struct doc_reader {
    const char *path; /* borrowed */
    int tsv;          /* MS MARCO TSV by the name, else BEIR JSONL */
    bad_lines *bl;    /* lenient: malformed lines skipped and counted here (may be NULL) */
    rr_line_reader lines;
    void *json;       /* json_t of the current BEIR line */
    char *joined;     /* title + " " + text of the current BEIR line */
    size_t joined_cap;
    char idbuf[32];   /* an integer _id as text */
    /* the current document, valid until the next call */
    const char *id, *text;
    size_t len;
    long long line_no;
} doc_reader;
rr_status doc_reader_open(doc_reader *dr, const char *path, bad_lines *bl);
/* The next document into dr->id / text / len / line_no; *eof = 1 (and RR_OK) at the end.
 * Blank lines are skipped; malformed ones too when dr->bl is lenient. */
rr_status doc_reader_next(doc_reader *dr, int *eof);
void doc_reader_close(doc_reader *dr);
/* "N malformed lines skipped in PATH (first: MESSAGE)", or "" when none */
void bad_lines_summary(const bad_lines *bl, const char *path, char *buf, size_t cap);
/* The switch in a subcommand's option table, and its check: 2 with a usage message when
 * both are given, else 0. */
#define CLI_BAD_LINES_OPTS(lenient_p, strict_p)                                                            \
    {"lenient", OPT_FLAG, lenient_p, "skip malformed corpus/query lines, counted, with a summary at the end"}, \
    {"strict", OPT_FLAG, strict_p, "stop at the first malformed line, naming it (the default)"}
int cli_bad_lines_check(const char *cmd, int lenient, int strict);
/* "rerank CMD: lenient: SUMMARY" on stderr when lines of path were skipped */
void cli_bad_lines_report(const char *cmd, const bad_lines *bl, const char *path);
/* Every id present, unique and free of whitespace (TREC runs cannot carry it); errors name
 * the line ("corpus.jsonl:12: duplicate _id \"7\" (first at line 3)"). what: "_id". */
rr_status check_unique_ids(const text_list *tl, const char *path, const char *what);
/* The same checks, keeping the index: *order = the n indices sorted by id (free() it), for
 * text_list_find_id (binary search; -1 when absent). */
rr_status text_list_index_ids(const text_list *tl, const char *path, const char *what, size_t **order);
long text_list_find_id(const text_list *tl, const size_t *order, const char *id);
/* The same checks over any n ids with their source lines (*order as above). */
rr_status ids_check_unique(const char *const *ids, const long long *line_no, size_t n, const char *path,
                           const char *what, size_t **order);
/* The same over any array of n ids: *order = indices sorted by id (ties in index order). */
rr_status ids_sort(const char *const *ids, size_t n, size_t **order);
long ids_find(const char *const *ids, const size_t *order, size_t n, const char *id);
/* TSV with two columns query<TAB>passage: two parallel lists. */
rr_status read_pair_tsv(const char *path, text_list *queries, text_list *passages);

/* Check that s (len bytes) is valid UTF-8; where: "file:line". */
rr_status check_utf8(const char *s, size_t len, const char *path, long long line_no);



/* Write a float32 matrix [rows, cols] atomically: "npy" (NumPy .npy v1.0) or "bin"
 * ("RRF32\0\0\0", uint64 rows, uint64 cols, then little-endian float32 data). */
rr_status write_matrix(const char *path, const char *format, const float *data, size_t rows,
                       size_t cols);
/* The --timing line: load, tokenize and forward times, sequences/s and tokens/s. */
struct rr_model;
void print_timing(const char *cmd, const struct rr_model *model, double load_s, double run_s);

/* The model parameters that --max-length, --threads, --device, --precision and --token-budget
 * (0: the default) set for a subcommand; 2 with a usage message when --precision is unknown. */
int cli_model_params(const char *cmd, int head, int max_length, int threads, const char *device,
                     const char *precision, int token_budget, rr_model_params *p);

/* `rerank run` carries the embedding model from its index stage to its retrieve stage: with
 * the stage cache on, cli_weights_sha256 remembers the last directory's checksum, and
 * cli_model_done keeps the model, which cli_model_load hands out again for the same directory
 * and parameters (its stats reset). Off (the default, and every subcommand alone) they just
 * hash, load and free. cli_stage_cache(0) frees what is kept. *reused (may be NULL) says
 * whether the model came from the cache. Every subcommand loads its models through
 * cli_model_load, which says on stderr ("rerank CMD: note: ...") when --device auto found no
 * GPU and computes fp32 instead of the --precision asked. */
void cli_stage_cache(int on);
rr_status cli_weights_sha256(const char *dir, char hex[65]);
rr_status cli_model_load(const char *cmd, const char *dir, const rr_model_params *p, rr_model **out,
                         int *reused);
void cli_model_done(rr_model *m, const char *dir, const rr_model_params *p);

/* One updating progress line on stderr: "rerank rerank: 1200/30000 pairs  85.3 pairs/s
 * elapsed 14s  ETA 337s". mode: CLI_PROGRESS_AUTO shows it only when stderr is a terminal. */
enum { CLI_PROGRESS_OFF = 0, CLI_PROGRESS_ON = 1, CLI_PROGRESS_AUTO = -1 };
typedef struct cli_progress {
    const char *label; /* "rerank rerank" */
    const char *unit;  /* "pairs" */
    int enabled;
    double t0, last;   /* start; last print */
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, const char *unit, int mode);
/* rr_progress_fn: prints at most every 0.25 s, and the final line (with a newline) when
 * done == total; never stops the job. */
int cli_progress_cb(void *ctx, size_t done, size_t total);
/* --progress / --quiet as one mode (quiet wins). */
int cli_progress_mode(int progress_flag, int quiet_flag);

#endif
