/* cli/cmd_run.c — `rerank run CONFIG.yaml [--set section.key=value]... [--out DIR]`: the
 * pipeline from a config (include/rerank/config.h): first stage (build or reuse a FAISS
 * index and retrieve, or take a TREC run file), rerank (optional), eval of every stage.
 *
 * Each stage is the same function its own subcommand calls (cli/commands.h). Into the output
 * directory go: config.resolved.yaml, first_stage.run, rerank.run, metrics.json (per stage,
 * what `rerank eval --json -m ...` prints for that run), summary.txt (per-stage wall time,
 * pairs/s, the measures side by side; also printed to stdout). Every file is written
 * atomically; metrics.json and summary.txt are removed first and written last, so their
 * presence means the run completed. A second `rerank run` on the same directory is refused
 * while the first holds its lock (fcntl record lock on .rerank-run.lock, released by the
 * kernel if the process dies). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rerank/config.h"
#include "util/error.h"
#include "util/file.h"

enum { PATH_CAP = 4096 };

static const char *run_usage =
    "usage: rerank run CONFIG.yaml [--set section.key=value]... [--out DIR] [--check] [--resume]\n"
    "\n"
    "Run the pipeline a config describes: first stage (dense: build or reuse a FAISS index and\n"
    "retrieve; or an existing TREC run), rerank with a cross-encoder (optional), evaluate each\n"
    "stage. Writes config.resolved.yaml, first_stage.run, rerank.run, metrics.json and\n"
    "summary.txt into the output directory (see README, \"rerank run\").\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a setting, typed as in the file (repeatable):\n"
    "                            --set rerank.top_n=50, --set 'eval.measures=[map, P.10]'\n"
    "  --out DIR                 output directory (replaces output_dir)\n"
    "  --check                   check the config and print it resolved; run nothing\n"
    "  --resume                  finish an interrupted run: the rerank stage continues from\n"
    "                            rerank.run.journal (stages before it run again, identically)\n"
    "  -h, --help                this message\n";

/* mkdir -p */
static rr_status make_dirs(const char *path) {
    char buf[PATH_CAP];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return rr_error(RR_ERR_INVALID_ARG, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return rr_error(RR_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return rr_error(RR_ERR_IO, "%s: not a directory", path);
    return RR_OK;
}

/* Hold dir/.rerank-run.lock (write lock) until the process ends; refused when another process
 * holds it. */
static rr_status lock_output_dir(const char *dir, int *fd_out) {
    char path[PATH_CAP];
    RR_TRY(rr_path_join(path, sizeof path, dir, ".rerank-run.lock"));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int err = errno;
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        long pid = fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : -1;
        close(fd);
        if (err == EACCES || err == EAGAIN)
            return rr_error(RR_ERR_INVALID_ARG,
                            "%s is in use by another `rerank run` (pid %ld holds %s); wait for it or choose "
                            "another output directory", dir, pid, path);
        return rr_error(RR_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) {
        close(fd);
        return rr_error(RR_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return RR_OK;
}

static rr_status copy_file_atomic(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    rr_atomic_file af;
    rr_status st = rr_atomic_open(&af, to);
    if (st) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, af.fp) != got)
            break;
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        rr_atomic_abort(&af);
        return rr_error(RR_ERR_IO, "%s: read error", from);
    }
    return rr_atomic_commit(&af);
}

static rr_status write_config(const rr_config *cfg, const char *path) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    rr_status st = rr_config_write_yaml(cfg, af.fp);
    if (st) {
        rr_atomic_abort(&af);
        return st;
    }
    return rr_atomic_commit(&af);
}

/* The index stage's settings from the config that building and updating share: the corpus
 * and how its documents are embedded. */
static index_opts first_stage_index_opts(const rr_config *cfg, int lenient) {
    index_opts io = index_opts_default();
    io.corpus = cfg->dataset.corpus;
    io.max_length = cfg->first_stage.max_length;
    io.token_budget = cfg->first_stage.token_budget;
    io.threads = cfg->first_stage.threads;
    io.device = cfg->first_stage.device;
    io.precision = cfg->first_stage.precision;
    io.lenient = lenient;
    return io;
}

typedef struct stage_times {
    double index, first_stage, rerank, eval;
    int built_index, updated_index; /* the index stage built the index / brought it up to date */
    rerank_stats rr;
} stage_times;

/* "first_stage": ..., "rerank": ... — each what `rerank eval --json -m ...` prints. */
static rr_status evaluate(const rr_config *cfg, const char *const *runs, const char *const *names, int num_runs,
                          json_t **out) {
    rr_eval_params params = rr_eval_default_params();
    json_t *root = json_object();
    if (!root)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < num_runs; i++) {
        rr_eval *ev = NULL;
        rr_status st = eval_files(&params, (const char *const *)cfg->eval.measures, (int)cfg->eval.num_measures,
                                  cfg->dataset.qrels, runs[i], &ev);
        json_t *j = st ? NULL : eval_json(ev, 0, 0);
        rr_eval_free(ev);
        if (!st && (!j || json_object_set_new(root, names[i], j)))
            st = rr_error(RR_ERR_NOMEM, "out of memory");
        if (st) {
            json_decref(root);
            return rr_error_prefix(st, "evaluating %s: ", runs[i]);
        }
    }
    *out = root;
    return RR_OK;
}

static void print_value(FILE *out, const json_t *v) {
    if (json_is_integer(v))
        fprintf(out, " %12lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, " %12.4f", json_real_value(v));
    else
        fprintf(out, " %12s", "-");
}

static void write_summary(FILE *out, const rr_config *cfg, const char *config_path, const stage_times *t,
                          const json_t *metrics) {
    fprintf(out, "rerank run %s -> %s\n\n", config_path, cfg->output_dir);
    fprintf(out, "%-12s %10s %10s %12s  %s\n", "stage", "wall_s", "pairs", "pairs/s", "what");
    if (cfg->first_stage.dense && t->built_index)
        fprintf(out, "%-12s %10.2f %10s %12s  built %s (%s, %s)\n", "index", t->index, "-", "-", cfg->first_stage.index,
                cfg->first_stage.factory, cfg->first_stage.metric);
    if (cfg->first_stage.dense && t->updated_index)
        fprintf(out, "%-12s %10.2f %10s %12s  %s made to hold the documents of %s\n", "index", t->index, "-", "-",
                cfg->first_stage.index, cfg->dataset.corpus);
    if (cfg->first_stage.dense)
        fprintf(out, "%-12s %10.2f %10s %12s  dense top %d from %s\n", "first_stage", t->first_stage, "-", "-",
                cfg->first_stage.k, cfg->first_stage.index);
    else
        fprintf(out, "%-12s %10.2f %10s %12s  run file %s\n", "first_stage", t->first_stage, "-", "-",
                cfg->first_stage.run);
    if (cfg->rerank.enabled) {
        double rate = t->rr.score_seconds > 0 ? (double)t->rr.num_pairs / t->rr.score_seconds : 0.0;
        fprintf(out, "%-12s %10.2f %10zu %12.1f  %zu queries, top %d, %s %s (model load %.2fs)\n", "rerank", t->rerank,
                t->rr.num_pairs, rate, t->rr.num_queries, cfg->rerank.top_n, cfg->rerank.device,
                cfg->rerank.precision, t->rr.load_seconds);
    }
    fprintf(out, "%-12s %10.2f %10s %12s  qrels %s\n\n", "eval", t->eval, "-", "-", cfg->dataset.qrels);
    const json_t *fs = json_object_get(json_object_get(metrics, "first_stage"), "all");
    const json_t *rr = json_object_get(json_object_get(metrics, "rerank"), "all");
    fprintf(out, "%-24s %12s", "measure", "first_stage");
    if (rr)
        fprintf(out, " %12s %12s", "rerank", "delta");
    fputc('\n', out);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)fs, key, v) {
        fprintf(out, "%-24s", key);
        print_value(out, v);
        if (rr) {
            const json_t *w = json_object_get(rr, key);
            print_value(out, w);
            if (json_is_real(v) && json_is_real(w))
                fprintf(out, " %+12.4f", json_real_value(w) - json_real_value(v));
        }
        fputc('\n', out);
    }
}

static int parse_run_args(int argc, char **argv, const char **config, const char ***sets, int *num_sets,
                          const char **out_dir, int *check, int *resume) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(run_usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--check")) {
            *check = 1;
            continue;
        }
        if (!strcmp(a, "--resume")) {
            *resume = 1;
            continue;
        }
        const char *val = NULL;
        int is_set = !strcmp(a, "--set") || !strncmp(a, "--set=", 6);
        int is_out = !strcmp(a, "--out") || !strncmp(a, "--out=", 6);
        if (is_set || is_out) {
            const char *eq = strchr(a, '=');
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                fprintf(stderr, "rerank run: %s needs a value\n%s", is_set ? "--set" : "--out", run_usage);
                return 2;
            }
            if (is_set)
                (*sets)[(*num_sets)++] = val;
            else
                *out_dir = val;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rerank run: unknown option '%s'\n%s", a, run_usage);
            return 2;
        } else if (*config) {
            fprintf(stderr, "rerank run: one config file only ('%s' and '%s')\n", *config, a);
            return 2;
        } else {
            *config = a;
        }
    }
    if (!*config) {
        fprintf(stderr, "rerank run: no config file given\n%s", run_usage);
        return 2;
    }
    return 0;
}

/* The stages, in order; returns the exit code. */
static int run_pipeline(const rr_config *cfg, const char *config_path, int resume) {
    char fs_run[PATH_CAP], rr_run_path[PATH_CAP], path[PATH_CAP];
    stage_times t = {0};
    json_t *metrics = NULL;
    char *summary = NULL;
    size_t summary_len = 0;
    rr_status st;
    if ((st = rr_path_join(fs_run, sizeof fs_run, cfg->output_dir, "first_stage.run")) ||
        (st = rr_path_join(rr_run_path, sizeof rr_run_path, cfg->output_dir, "rerank.run")) ||
        (st = rr_path_join(path, sizeof path, cfg->output_dir, "config.resolved.yaml")) ||
        (st = write_config(cfg, path)))
        return cli_fail("run", st);
    /* the markers of a completed run go first, come back last */
    const char *stale[] = {"metrics.json", "summary.txt", cfg->rerank.enabled ? NULL : "rerank.run"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        if (stale[i] && !rr_path_join(path, sizeof path, cfg->output_dir, stale[i]) && unlink(path) != 0 &&
            errno != ENOENT)
            return cli_fail("run", rr_error(RR_ERR_IO, "%s: cannot remove: %s", path, strerror(errno)));

    int rc = 0;
    const int lenient = !strcmp(cfg->dataset.bad_lines, "lenient");
    double t0 = omp_get_wtime();
    if (cfg->first_stage.dense) {
        cli_stage_cache(1); /* the index stage's model and checksum serve the retrieve stage */
        const char *policy = cfg->first_stage.stale_index;
        if (!cfg->first_stage.build_index && !strcmp(policy, "update")) {
            /* the reused index becomes the corpus: nothing written when it already is */
            index_opts io = first_stage_index_opts(cfg, lenient);
            io.update = cfg->first_stage.index;
            rc = stage_index(&io);
            t.index = omp_get_wtime() - t0;
            t.updated_index = 1;
            t0 = omp_get_wtime();
        }
        if (cfg->first_stage.build_index) {
            index_opts io = first_stage_index_opts(cfg, lenient);
            io.model_dir = cfg->first_stage.model;
            io.out_dir = cfg->first_stage.index;
            io.factory = cfg->first_stage.factory;
            io.metric = cfg->first_stage.metric;
            io.metric_given = 1;
            io.train_docs = cfg->first_stage.train_docs;
            fprintf(stderr, "rerank run: index: building %s\n", io.out_dir);
            rc = stage_index(&io);
            t.index = omp_get_wtime() - t0;
            t.built_index = 1;
            t0 = omp_get_wtime();
        }
        if (!rc) {
            retrieve_opts ro = retrieve_opts_default();
            ro.index_dir = cfg->first_stage.index;
            ro.queries = cfg->dataset.queries;
            ro.qrels = cfg->dataset.qrels;
            ro.output = fs_run;
            ro.tag = cfg->first_stage.tag;
            ro.model_dir = cfg->first_stage.model;
            ro.search_params = cfg->first_stage.search_params;
            ro.search_device = cfg->first_stage.search_device;
            ro.search_fp16 = !strcmp(cfg->first_stage.search_fp16, "true");
            ro.k = cfg->first_stage.k;
            ro.batch = cfg->first_stage.batch;
            ro.max_length = cfg->first_stage.max_length;
            ro.token_budget = cfg->first_stage.token_budget;
            ro.threads = cfg->first_stage.threads;
            ro.device = cfg->first_stage.device;
            ro.precision = cfg->first_stage.precision;
            ro.lenient = lenient;
            if (!cfg->first_stage.build_index && !strcmp(policy, "error"))
                ro.corpus = cfg->dataset.corpus; /* the index must hold exactly its documents */
            rc = stage_retrieve(&ro);
        }
        cli_stage_cache(0);
    } else if ((st = copy_file_atomic(cfg->first_stage.run, fs_run))) {
        rc = cli_fail("run", st);
    }
    t.first_stage = omp_get_wtime() - t0;
    if (rc) {
        fprintf(stderr, "rerank run: the first stage failed\n");
        return rc;
    }
    if (cfg->rerank.enabled) {
        rerank_opts ro = rerank_opts_default();
        ro.model_dir = cfg->rerank.model;
        ro.run = cfg->first_stage.dense ? fs_run : cfg->first_stage.run;
        ro.corpus = cfg->dataset.corpus;
        ro.queries = cfg->dataset.queries;
        ro.output = rr_run_path;
        ro.activation = !strcmp(cfg->rerank.score, "sigmoid") ? "sigmoid" : "none";
        ro.device = cfg->rerank.device;
        ro.precision = cfg->rerank.precision;
        ro.tag = cfg->rerank.tag;
        ro.threads = cfg->rerank.threads;
        ro.max_length = cfg->rerank.max_length;
        ro.token_budget = cfg->rerank.token_budget;
        ro.label = cfg->rerank.label;
        ro.top_n = cfg->rerank.top_n;
        ro.keep_rest = !strcmp(cfg->rerank.keep_rest, "true");
        ro.resume = resume;
        ro.lenient = lenient;
        ro.progress = CLI_PROGRESS_AUTO;
        t0 = omp_get_wtime();
        rc = stage_rerank(&ro, &t.rr);
        t.rerank = omp_get_wtime() - t0;
        if (rc) {
            fprintf(stderr, "rerank run: the rerank stage failed\n");
            return rc;
        }
    }
    t0 = omp_get_wtime();
    const char *runs[2] = {fs_run, rr_run_path}, *names[2] = {"first_stage", "rerank"};
    if ((st = evaluate(cfg, runs, names, cfg->rerank.enabled ? 2 : 1, &metrics)))
        return cli_fail("run", st);
    t.eval = omp_get_wtime() - t0;
    rr_atomic_file af;
    if (!(st = rr_path_join(path, sizeof path, cfg->output_dir, "metrics.json")) && !(st = rr_atomic_open(&af, path))) {
        st = write_json_text(metrics, af.fp);
        if (st)
            rr_atomic_abort(&af);
        else
            st = rr_atomic_commit(&af);
    }
    FILE *mem = st ? NULL : open_memstream(&summary, &summary_len);
    if (!st && !mem)
        st = rr_error(RR_ERR_NOMEM, "out of memory");
    if (!st) {
        write_summary(mem, cfg, config_path, &t, metrics);
        if (fclose(mem) != 0)
            st = rr_error(RR_ERR_NOMEM, "out of memory");
    }
    if (!st && !(st = rr_path_join(path, sizeof path, cfg->output_dir, "summary.txt")) &&
        !(st = rr_atomic_open(&af, path))) {
        fwrite(summary, 1, summary_len, af.fp);
        st = rr_atomic_commit(&af);
    }
    json_decref(metrics);
    if (st) {
        free(summary);
        return cli_fail("run", st);
    }
    fputs("\n", stdout);
    fwrite(summary, 1, summary_len, stdout);
    free(summary);
    return fflush(stdout) == 0 ? 0 : 1;
}

int rr_cmd_run(int argc, char **argv) {
    const char *config_path = NULL, *out_dir = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    int num_sets = 0, check = 0, resume = 0;
    if (!sets)
        return cli_fail("run", rr_error(RR_ERR_NOMEM, "out of memory"));
    int rc = parse_run_args(argc, argv, &config_path, &sets, &num_sets, &out_dir, &check, &resume);
    if (rc) {
        free(sets);
        return rc == 1 ? 0 : rc;
    }
    rr_config *cfg = NULL;
    rr_status st = rr_config_load(config_path, &cfg);
    for (int i = 0; !st && i < num_sets; i++)
        st = rr_config_set(cfg, sets[i]);
    free(sets);
    if (!st)
        st = rr_config_finish(cfg, out_dir);
    if (st) {
        /* the message already says where: "CONFIG.yaml:LINE:COLUMN: what" */
        fprintf(stderr, "rerank run: %s\n", rr_last_error());
        rr_config_free(cfg);
        return 1;
    }
    if (check) {
        st = rr_config_write_yaml(cfg, stdout);
        rr_config_free(cfg);
        return st ? cli_fail("run", st) : 0;
    }
    int lock_fd = -1;
    if ((st = make_dirs(cfg->output_dir)) || (st = lock_output_dir(cfg->output_dir, &lock_fd))) {
        rr_config_free(cfg);
        return cli_fail("run", st);
    }
    rerank_install_stop_handlers();
    rc = run_pipeline(cfg, config_path, resume);
    close(lock_fd); /* releases the lock; the file stays (removing it would race a waiting run) */
    rr_config_free(cfg);
    return rc;
}
