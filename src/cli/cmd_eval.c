/* cli/cmd_eval.c — `rerank eval [trec_eval options] QRELS RUN`: trec_eval's evaluation and
 * output, byte for byte, or the same values as JSON (--json).
 *
 * Options follow trec_eval (getopt style: "-m P.10", "-mP.10", "-M100", "-qc", and its long
 * names), so a trec_eval command line works after replacing "trec_eval" by "rerank eval".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rerank/eval.h"
#include "util/error.h"
#include "util/file.h"

static const char *eval_usage =
    "usage: rerank eval [options] QRELS RUN\n"
    "\n"
    "Evaluate a TREC run (qid Q0 docid rank score tag) against relevance judgements (TREC\n"
    "qrels \"qid iter docid rel\", or BEIR qrels TSV with a \"query-id corpus-id score\"\n"
    "header) exactly as trec_eval does; .gz files are read transparently.\n"
    "\n"
    "options (as trec_eval's):\n"
    "  -q, --query_eval_wanted         also print each query's values\n"
    "  -m, --measure NAME[.PARAMS]     add a measure (repeatable): map, P.5,10, ndcg_cut.10,\n"
    "                                  recall.100, ... or a group: official (the default),\n"
    "                                  all_trec, set\n"
    "  -c, --complete_rel_info_wanted  average over every qrels query; queries the run\n"
    "                                  lacks count as empty rankings\n"
    "  -l, --level_for_rel N           judgements >= N are relevant (default 1)\n"
    "  -M, --Max_retrieved_per_topic N evaluate only the top N docs of each query\n"
    "  -N, --Number_docs_in_coll N     collection size (utility's 4th coefficient)\n"
    "  -J, --Judged_docs_only          drop unjudged docs before evaluating\n"
    "  -n, --nosummary                 no summary lines\n"
    "other options:\n"
    "  --json                          print the values as JSON instead\n"
    "  --output FILE                   write to FILE (atomically) instead of stdout\n"
    "  -h, --help                      this message\n"
    "\n"
    "measures: runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank\n"
    "  iprec_at_recall P relstring recall infAP gm_bpref Rprec_mult utility 11pt_avg binG G\n"
    "  ndcg ndcg_rel Rndcg ndcg_cut map_cut relative_P success set_P set_relative_P\n"
    "  set_recall set_map set_F num_nonrel_judged_ret rbp rbp_resid unj\n";

typedef struct eval_opts {
    rr_eval_params params;
    int per_query, no_summary, json, help;
    const char *output;
    const char *files[2];
    int num_files;
    const char **measures; /* [num_measures] borrowed from argv */
    int num_measures;
} eval_opts;

static int parse_long_arg(const char *opt, const char *val, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end) {
        fprintf(stderr, "rerank eval: option %s needs an integer, got '%s'\n", opt, val);
        return 0;
    }
    *out = v;
    return 1;
}

/* Apply option c (a short letter) with value val (NULL for flags). Returns 0 on error. */
static int apply_opt(eval_opts *o, char c, const char *val) {
    switch (c) {
    case 'q': o->per_query = 1; return 1;
    case 'c': o->params.average_complete = 1; return 1;
    case 'n': o->no_summary = 1; return 1;
    case 'J': o->params.judged_docs_only = 1; return 1;
    case 'h': o->help = 1; return 1;
    case 'm': o->measures[o->num_measures++] = val; return 1;
    case 'l': return parse_long_arg("-l", val, &o->params.relevance_level);
    case 'M':
        if (!parse_long_arg("-M", val, &o->params.max_docs_per_query))
            return 0;
        if (o->params.max_docs_per_query < 1) {
            fprintf(stderr, "rerank eval: -M needs a positive number, got '%s'\n", val);
            return 0;
        }
        return 1;
    case 'N': return parse_long_arg("-N", val, &o->params.num_docs_in_coll);
    }
    return 0;
}

static const struct {
    const char *name;
    char letter; /* 0: --json / --output */
    int takes_value;
} long_opts[] = {
    {"help", 'h', 0},
    {"query_eval_wanted", 'q', 0},
    {"measure", 'm', 1},
    {"complete_rel_info_wanted", 'c', 0},
    {"level_for_rel", 'l', 1},
    {"nosummary", 'n', 0},
    {"Judged_docs_only", 'J', 0},
    {"Number_docs_in_coll", 'N', 1},
    {"Max_retrieved_per_topic", 'M', 1},
    {"json", 0, 0},
    {"output", 0, 1},
};

/* Returns 0 on success, 2 on a usage error (message printed). */
static int parse_args(int argc, char **argv, eval_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (o->num_files == 2) {
                fprintf(stderr, "rerank eval: unexpected argument '%s' (QRELS and RUN already given)\n", arg);
                return 2;
            }
            o->files[o->num_files++] = arg;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            int k = -1;
            for (int j = 0; j < (int)(sizeof long_opts / sizeof long_opts[0]); j++)
                if (strlen(long_opts[j].name) == len && !strncmp(long_opts[j].name, name, len))
                    k = j;
            if (k < 0) {
                fprintf(stderr, "rerank eval: unknown option '%s'\n", arg);
                return 2;
            }
            const char *val = NULL;
            if (long_opts[k].takes_value) {
                val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val) {
                    fprintf(stderr, "rerank eval: option --%s needs a value\n", long_opts[k].name);
                    return 2;
                }
            } else if (eq) {
                fprintf(stderr, "rerank eval: option --%s takes no value\n", long_opts[k].name);
                return 2;
            }
            if (long_opts[k].letter == 0) {
                if (!strcmp(long_opts[k].name, "json"))
                    o->json = 1;
                else
                    o->output = val;
            } else if (!apply_opt(o, long_opts[k].letter, val)) {
                return 2;
            }
            continue;
        }
        /* short options, possibly clustered ("-qc") or with an attached value ("-M100") */
        for (const char *p = arg + 1; *p; p++) {
            char c = *p;
            if (strchr("qcnJh", c)) {
                apply_opt(o, c, NULL);
            } else if (strchr("mlMN", c)) {
                const char *val = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val) {
                    fprintf(stderr, "rerank eval: option -%c needs a value\n", c);
                    return 2;
                }
                if (!apply_opt(o, c, val))
                    return 2;
                break;
            } else {
                fprintf(stderr, "rerank eval: unknown option '-%c' in '%s'\n", c, arg);
                return 2;
            }
        }
    }
    return 0;
}

/* One row as a JSON object: counts as integers, reals at full precision. */
static json_t *row_json(const rr_eval *ev, size_t row) {
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t v = 0; v < rr_eval_num_values(ev); v++) {
        rr_eval_value x = rr_eval_value_at(ev, row, v);
        if (!x.present)
            continue;
        json_t *j = x.kind == RR_EVAL_TEXT    ? json_string(x.text)
                    : x.kind == RR_EVAL_COUNT ? json_integer((json_int_t)x.value)
                                              : json_real(x.value);
        if (!j || json_object_set_new(obj, x.name, j)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *eval_json(const rr_eval *ev, int per_query, int no_summary) {
    json_t *root = json_object(), *queries = per_query ? json_object() : NULL;
    int bad = !root || (per_query && !queries);
    size_t rows = rr_eval_num_rows(ev);
    for (size_t r = 0; !bad && per_query && r + 1 < rows; r++) {
        json_t *o = row_json(ev, r);
        bad = !o || json_object_set_new(queries, rr_eval_row_id(ev, r), o);
    }
    if (!bad && per_query) {
        bad = json_object_set_new(root, "queries", queries) != 0;
        queries = NULL;
    }
    if (!bad && !no_summary) {
        json_t *o = row_json(ev, rows - 1);
        bad = !o || json_object_set_new(root, "all", o);
    }
    json_decref(queries);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

rr_status write_json_text(const json_t *root, FILE *out) {
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    if (!text)
        return rr_error(RR_ERR_NOMEM, "cannot build the JSON output");
    fputs(text, out);
    fputc('\n', out);
    free(text);
    return ferror(out) ? rr_error(RR_ERR_IO, "write error on the output") : RR_OK;
}

static rr_status write_json(const rr_eval *ev, FILE *out, int per_query, int no_summary) {
    json_t *root = eval_json(ev, per_query, no_summary);
    rr_status st = write_json_text(root, out);
    json_decref(root);
    return st;
}

rr_status eval_files(const rr_eval_params *params, const char *const *measures, int num_measures,
                     const char *qrels_path, const char *run_path, rr_eval **out) {
    rr_qrels *qrels = NULL;
    rr_run *run = NULL;
    rr_eval *ev = NULL;
    rr_status st = rr_eval_create(params, &ev);
    for (int i = 0; !st && i < num_measures; i++)
        st = rr_eval_add_measure(ev, measures[i]);
    if (!st)
        st = rr_qrels_load(qrels_path, &qrels);
    if (!st)
        st = rr_run_load(run_path, &run);
    if (!st)
        st = rr_eval_compute(ev, qrels, run);
    rr_run_free(run);
    rr_qrels_free(qrels);
    if (st) {
        rr_eval_free(ev);
        ev = NULL;
    }
    *out = ev;
    return st;
}

int rr_cmd_eval(int argc, char **argv) {
    eval_opts o = {.params = rr_eval_default_params()};
    o.measures = calloc((size_t)argc + 1, sizeof *o.measures);
    if (!o.measures)
        return cli_fail("eval", rr_error(RR_ERR_NOMEM, "out of memory"));
    int rc = parse_args(argc, argv, &o);
    if (rc == 0 && o.help) {
        fputs(eval_usage, stdout);
        free(o.measures);
        return 0;
    }
    if (rc == 0 && o.num_files != 2) {
        fprintf(stderr, "rerank eval: expected QRELS and RUN, got %d file argument%s\n",
                o.num_files, o.num_files == 1 ? "" : "s");
        rc = 2;
    }
    if (rc) {
        fputs(eval_usage, stderr);
        free(o.measures);
        return rc;
    }

    rr_eval *ev = NULL;
    rr_status st = eval_files(&o.params, o.measures, o.num_measures, o.files[0], o.files[1], &ev);
    if (!st) {
        if (o.output) {
            rr_atomic_file af;
            st = rr_atomic_open(&af, o.output);
            if (!st) {
                st = o.json ? write_json(ev, af.fp, o.per_query, o.no_summary)
                            : rr_eval_write_text(ev, af.fp, o.per_query, o.no_summary);
                if (st)
                    rr_atomic_abort(&af);
                else
                    st = rr_atomic_commit(&af);
            }
        } else {
            st = o.json ? write_json(ev, stdout, o.per_query, o.no_summary)
                        : rr_eval_write_text(ev, stdout, o.per_query, o.no_summary);
            if (!st && fflush(stdout) != 0)
                st = rr_error(RR_ERR_IO, "write error on stdout");
        }
    }
    rr_eval_free(ev);
    free(o.measures);
    return st ? cli_fail("eval", st) : 0;
}
