/* cli/cli_util.c — option parsing and input readers shared by the subcommands. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli/cli_util.h"

#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "io/lines.h"
#include "rerank/index.h"
#include "rerank/model.h"
#include "util/file.h"
#include "util/error.h"

static void print_help(FILE *out, const char *cmd, const char *synopsis, const cli_opt *opts, int nopts) {
    fprintf(out, "usage: rerank %s %s\n\noptions:\n", cmd, synopsis);
    for (int i = 0; i < nopts; i++)
        fprintf(out, "  --%-16s %s\n", opts[i].name, opts[i].help);
}

int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, const cli_opt *opts,
              int nopts) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_help(stdout, cmd, synopsis, opts, nopts);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "rerank %s: unexpected argument '%s'\n", cmd, arg);
            print_help(stderr, cmd, synopsis, opts, nopts);
            return 2;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == name_len && !strncmp(opts[k].name, name, name_len))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "rerank %s: unknown option '%s'\n", cmd, arg);
            print_help(stderr, cmd, synopsis, opts, nopts);
            return 2;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "rerank %s: option --%s takes no value\n", cmd, o->name);
                return 2;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "rerank %s: option --%s needs a value\n", cmd, o->name);
            return 2;
        }
        if (o->kind == OPT_STR) {
            *(const char **)o->dst = val;
        } else {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || end == val || v < -2147483647L || v > 2147483647L) {
                fprintf(stderr, "rerank %s: option --%s needs an integer, got '%s'\n", cmd, o->name, val);
                return 2;
            }
            *(int *)o->dst = (int)v;
        }
    }
    return 0;
}

int cli_fail(const char *cmd, rr_status st) {
    fprintf(stderr, "rerank %s: %s: %s\n", cmd, rr_status_str(st), rr_last_error());
    return 1;
}

void text_list_free(text_list *tl) {
    for (size_t i = 0; i < tl->n; i++) {
        free(tl->texts[i]);
        if (tl->ids)
            free(tl->ids[i]);
    }
    free(tl->texts);
    free(tl->lens);
    free(tl->line_no);
    free(tl->ids);
    memset(tl, 0, sizeof *tl);
}

static rr_status text_list_push(text_list *tl, const char *s, size_t len, long long line_no,
                                const char *id) {
    if (tl->n == tl->cap) {
        size_t ncap = tl->cap ? tl->cap * 2 : 1024;
        char **t = realloc(tl->texts, ncap * sizeof *t);
        if (t)
            tl->texts = t;
        size_t *l = realloc(tl->lens, ncap * sizeof *l);
        if (l)
            tl->lens = l;
        long long *ln = realloc(tl->line_no, ncap * sizeof *ln);
        if (ln)
            tl->line_no = ln;
        char **ids = realloc(tl->ids, ncap * sizeof *ids);
        if (ids)
            tl->ids = ids;
        if (!t || !l || !ln || !ids)
            return rr_error(RR_ERR_NOMEM, "out of memory reading inputs");
        tl->cap = ncap;
    }
    char *copy = malloc(len + 1);
    char *idc = id ? strdup(id) : NULL;
    if (!copy || (id && !idc)) {
        free(copy);
        free(idc);
        return rr_error(RR_ERR_NOMEM, "out of memory reading inputs");
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    tl->texts[tl->n] = copy;
    tl->lens[tl->n] = len;
    tl->line_no[tl->n] = line_no;
    tl->ids[tl->n] = idc;
    tl->n++;
    return RR_OK;
}

rr_status check_utf8(const char *s, size_t len, const char *path, long long line_no) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n < 0)
            return rr_error(RR_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu of the line", path,
                            line_no, i + 1);
        i += (size_t)n;
    }
    return RR_OK;
}

rr_status read_text_lines(const char *path, text_list *out) {
    memset(out, 0, sizeof *out);
    rr_line_reader r;
    RR_TRY(rr_lines_open(&r, path, 0));
    rr_status st;
    int eof = 0;
    while (!(st = rr_lines_next(&r, &eof)) && !eof) {
        if ((st = check_utf8(r.buf, r.len, path, r.line_no)) ||
            (st = text_list_push(out, r.buf, r.len, r.line_no, NULL)))
            break;
    }
    rr_lines_close(&r);
    if (st)
        text_list_free(out);
    return st;
}

/* A format error on one line: skipped and counted when lenient (1), else it stands (0). */
static int skip_line(bad_lines *bl, rr_status st) {
    if (!bl || !bl->lenient || st != RR_ERR_FORMAT)
        return 0;
    if (!bl->skipped++)
        snprintf(bl->first, sizeof bl->first, "%s", rr_last_error());
    rr_error_clear();
    return 1;
}

void bad_lines_summary(const bad_lines *bl, const char *path, char *buf, size_t cap) {
    if (!bl->skipped)
        snprintf(buf, cap, "%s", "");
    else
        snprintf(buf, cap, "%zu malformed line%s skipped in %s (first: %s)", bl->skipped,
                 bl->skipped == 1 ? "" : "s", path, bl->first);
}

int cli_bad_lines_check(const char *cmd, int lenient, int strict) {
    if (lenient && strict) {
        fprintf(stderr, "rerank %s: --lenient and --strict exclude each other\n", cmd);
        return 2;
    }
    return 0;
}

void cli_bad_lines_report(const char *cmd, const bad_lines *bl, const char *path) {
    char line[1200];
    bad_lines_summary(bl, path, line, sizeof line);
    if (*line)
        fprintf(stderr, "rerank %s: lenient: %s\n", cmd, line);
}

/* One BEIR JSONL line ({"_id", "title"?, "text"}) into dr's current document. */
static rr_status parse_beir_line(doc_reader *dr) {
    rr_line_reader *r = &dr->lines;
    json_decref((json_t *)dr->json);
    json_error_t jerr;
    json_t *o = json_loadb(r->buf, r->len, JSON_REJECT_DUPLICATES, &jerr);
    dr->json = o;
    if (!o || !json_is_object(o))
        return rr_error(RR_ERR_FORMAT, "%s:%lld:%d: %s", dr->path, r->line_no, o ? 1 : jerr.column,
                        o ? "expected a JSON object" : jerr.text);
    json_t *jid = json_object_get(o, "_id"), *jt = json_object_get(o, "title"), *jx = json_object_get(o, "text");
    const char *id = json_is_string(jid) ? json_string_value(jid) : NULL;
    if (json_is_integer(jid)) {
        snprintf(dr->idbuf, sizeof dr->idbuf, "%lld", (long long)json_integer_value(jid));
        id = dr->idbuf;
    }
    if (jid && !id)
        return rr_error(RR_ERR_FORMAT, "%s:%lld: field \"_id\" is not a string (nor an integer)", dr->path,
                        r->line_no);
    if (!id || !*id)
        return rr_error(RR_ERR_FORMAT, "%s:%lld: field \"_id\" missing or empty", dr->path, r->line_no);
    if (!json_is_string(jx))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: field \"text\" missing or not a string", dr->path, r->line_no);
    if (jt && !json_is_string(jt) && !json_is_null(jt))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: field \"title\" is not a string", dr->path, r->line_no);
    const char *title = json_is_string(jt) ? json_string_value(jt) : NULL;
    size_t tl = title ? json_string_length(jt) : 0, xl = json_string_length(jx);
    size_t need = tl + 1 + xl + 1;
    if (need > dr->joined_cap) {
        char *nj = realloc(dr->joined, need);
        if (!nj)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        dr->joined = nj;
        dr->joined_cap = need;
    }
    size_t len = 0;
    if (title) { /* BEIR: title + " " + text */
        memcpy(dr->joined, title, tl);
        dr->joined[tl] = ' ';
        len = tl + 1;
    }
    memcpy(dr->joined + len, json_string_value(jx), xl);
    len += xl;
    if (memchr(dr->joined, '\0', len))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: NUL character in a text", dr->path, r->line_no);
    dr->joined[len] = '\0';
    dr->id = id;
    dr->text = dr->joined;
    dr->len = len;
    return RR_OK;
}

/* One MS MARCO TSV line ("id<TAB>text": collection.tsv, queries.*.tsv) into dr's current
 * document; the id and text stay in the line buffer. */
static rr_status parse_tsv_line(doc_reader *dr) {
    rr_line_reader *r = &dr->lines;
    char *tab = memchr(r->buf, '\t', r->len);
    if (!tab || memchr(tab + 1, '\t', r->len - (size_t)(tab + 1 - r->buf)))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: expected 2 tab-separated fields (id, text), found %s", dr->path,
                        r->line_no, tab ? "more" : "1");
    if (tab == r->buf)
        return rr_error(RR_ERR_FORMAT, "%s:%lld: empty id", dr->path, r->line_no);
    *tab = '\0';
    const char *text = tab + 1;
    const size_t len = r->len - (size_t)(text - r->buf);
    RR_TRY(check_utf8(r->buf, (size_t)(tab - r->buf), dr->path, r->line_no));
    RR_TRY(check_utf8(text, len, dr->path, r->line_no));
    dr->id = r->buf;
    dr->text = text;
    dr->len = len;
    return RR_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

rr_status doc_reader_open(doc_reader *dr, const char *path, bad_lines *bl) {
    memset(dr, 0, sizeof *dr);
    dr->path = path;
    dr->tsv = ends_with(path, ".tsv") || ends_with(path, ".tsv.gz");
    dr->bl = bl;
    return rr_lines_open(&dr->lines, path, 0);
}

rr_status doc_reader_next(doc_reader *dr, int *eof) {
    rr_status st;
    for (;;) {
        if ((st = rr_lines_next(&dr->lines, eof)) || *eof)
            return st;
        if (dr->lines.len == 0)
            continue; /* blank lines separate nothing in either format */
        st = dr->tsv ? parse_tsv_line(dr) : parse_beir_line(dr);
        if (!st) {
            dr->line_no = dr->lines.line_no;
            return RR_OK;
        }
        if (!skip_line(dr->bl, st))
            return st;
    }
}

void doc_reader_close(doc_reader *dr) {
    json_decref((json_t *)dr->json);
    free(dr->joined);
    rr_lines_close(&dr->lines);
    memset(dr, 0, sizeof *dr);
}

rr_status read_docs_ex(const char *path, text_list *out, bad_lines *bl) {
    memset(out, 0, sizeof *out);
    doc_reader dr;
    RR_TRY(doc_reader_open(&dr, path, bl));
    rr_status st;
    int eof = 0;
    while (!(st = doc_reader_next(&dr, &eof)) && !eof)
        if ((st = text_list_push(out, dr.text, dr.len, dr.line_no, dr.id)))
            break;
    doc_reader_close(&dr);
    if (st)
        text_list_free(out);
    return st;
}

rr_status read_beir_jsonl(const char *path, text_list *out) {
    memset(out, 0, sizeof *out);
    doc_reader dr;
    RR_TRY(doc_reader_open(&dr, path, NULL));
    dr.tsv = 0; /* JSONL whatever the name */
    rr_status st;
    int eof = 0;
    while (!(st = doc_reader_next(&dr, &eof)) && !eof)
        if ((st = text_list_push(out, dr.text, dr.len, dr.line_no, dr.id)))
            break;
    doc_reader_close(&dr);
    if (st)
        text_list_free(out);
    return st;
}

rr_status read_docs(const char *path, text_list *out) { return read_docs_ex(path, out, NULL); }

/* Ids sorted through an index array; ties keep index (file) order, so the first line is named. */
static const char *const *sort_ids;
static int cmp_id(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(sort_ids[i], sort_ids[j]);
    return c ? c : (i < j ? -1 : i > j);
}

rr_status ids_sort(const char *const *ids, size_t n, size_t **order_out) {
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    *order_out = order;
    if (!order)
        return rr_error(RR_ERR_NOMEM, "out of memory sorting %zu ids", n);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_ids = ids;
    qsort(order, n, sizeof *order, cmp_id);
    return RR_OK;
}

long ids_find(const char *const *ids, const size_t *order, size_t n, const char *id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ids[order[mid]], id);
        if (!c)
            return (long)order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

rr_status ids_check_unique(const char *const *ids, const long long *line_no, size_t n, const char *path,
                           const char *what, size_t **order_out) {
    *order_out = NULL;
    size_t *order;
    RR_TRY(ids_sort(ids, n, &order));
    rr_status st = RR_OK;
    for (size_t i = 1; i < n && !st; i++)
        if (!strcmp(ids[order[i - 1]], ids[order[i]]))
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: duplicate %s \"%s\" (first at line %lld)", path,
                          line_no[order[i]], what, ids[order[i]], line_no[order[i - 1]]);
    for (size_t i = 0; i < n && !st; i++)
        if (strpbrk(ids[i], " \t\r\n\v\f"))
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: %s \"%s\" contains whitespace (a TREC run cannot "
                          "carry it)", path, line_no[i], what, ids[i]);
    if (st)
        free(order);
    else
        *order_out = order;
    return st;
}

rr_status text_list_index_ids(const text_list *docs, const char *path, const char *what, size_t **order_out) {
    *order_out = NULL;
    if (docs->n && !docs->ids)
        return rr_error(RR_ERR_FORMAT, "%s: no %s fields", path, what);
    return ids_check_unique((const char *const *)docs->ids, docs->line_no, docs->n, path, what, order_out);
}

long text_list_find_id(const text_list *docs, const size_t *order, const char *id) {
    return docs->ids ? ids_find((const char *const *)docs->ids, order, docs->n, id) : -1;
}

rr_status check_unique_ids(const text_list *docs, const char *path, const char *what) {
    size_t *order;
    rr_status st = text_list_index_ids(docs, path, what, &order);
    free(order);
    return st;
}

rr_status read_pair_tsv(const char *path, text_list *queries, text_list *passages) {
    memset(queries, 0, sizeof *queries);
    memset(passages, 0, sizeof *passages);
    rr_line_reader r;
    RR_TRY(rr_lines_open(&r, path, 0));
    rr_status st;
    int eof = 0;
    while (!(st = rr_lines_next(&r, &eof)) && !eof) {
        char *tab = memchr(r.buf, '\t', r.len);
        if (!tab || memchr(tab + 1, '\t', r.len - (size_t)(tab + 1 - r.buf))) {
            size_t fields = 1;
            for (size_t i = 0; i < r.len; i++)
                fields += r.buf[i] == '\t';
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: expected 2 tab-separated fields (query, passage), "
                          "found %zu", path, r.line_no, fields);
            break;
        }
        size_t qlen = (size_t)(tab - r.buf), plen = r.len - qlen - 1;
        if (qlen == 0) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: empty query", path, r.line_no);
            break;
        }
        if ((st = check_utf8(r.buf, r.len, path, r.line_no)) ||
            (st = text_list_push(queries, r.buf, qlen, r.line_no, NULL)) ||
            (st = text_list_push(passages, tab + 1, plen, r.line_no, NULL)))
            break;
    }
    rr_lines_close(&r);
    if (!st && queries->n == 0)
        st = rr_error(RR_ERR_FORMAT, "%s: no pairs", path);
    if (st) {
        text_list_free(queries);
        text_list_free(passages);
    }
    return st;
}

rr_status write_matrix(const char *path, const char *format, const float *data, size_t rows,
                       size_t cols) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    if (!strcmp(format, "npy")) {
        char dict[128];
        int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                         rows, cols);
        size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
        size_t hlen = padded - 10;
        pre[8] = (unsigned char)(hlen & 0xff);
        pre[9] = (unsigned char)(hlen >> 8);
        fwrite(pre, 1, 10, af.fp);
        fwrite(dict, 1, (size_t)n, af.fp);
        for (size_t i = total; i < padded; i++)
            fputc(' ', af.fp);
        fputc('\n', af.fp);
    } else if (!strcmp(format, "bin")) {
        unsigned char hdr[24] = {'R', 'R', 'F', '3', '2', 0, 0, 0};
        for (int i = 0; i < 8; i++) {
            hdr[8 + i] = (unsigned char)((uint64_t)rows >> (8 * i));
            hdr[16 + i] = (unsigned char)((uint64_t)cols >> (8 * i));
        }
        fwrite(hdr, 1, sizeof hdr, af.fp);
    } else {
        rr_atomic_abort(&af);
        return rr_error(RR_ERR_INVALID_ARG, "unknown output format \"%s\" (npy or bin)", format);
    }
    fwrite(data, sizeof(float), rows * cols, af.fp);
    return rr_atomic_commit(&af);
}

void print_timing(const char *cmd, const struct rr_model *model, double load_s, double run_s) {
    rr_model_stats s = rr_model_get_stats(model);
    rr_model_info i = rr_model_get_info(model);
    fprintf(stderr,
            "timing: %s device=%s precision=%s threads=%d load=%.3fs run=%.3fs tokenize=%.3fs forward=%.3fs "
            "sequences=%lld tokens=%lld passes=%lld seq_per_s=%.1f tokens_per_s=%.0f submit=%.3fs",
            cmd, i.device, i.precision, omp_get_max_threads(), load_s, run_s, s.tokenize_seconds,
            s.forward_seconds, (long long)s.sequences, (long long)s.tokens, (long long)s.passes,
            run_s > 0 ? (double)s.sequences / run_s : 0.0, run_s > 0 ? (double)s.tokens / run_s : 0.0,
            s.submit_seconds);
    if (i.warmup_seconds > 0) /* GPU: the warm-up pass, part of load= */
        fprintf(stderr, " warmup=%.3fs", i.warmup_seconds);
    /* GPU: the device's own time in passes and between them (see rr_model_stats) */
    if (s.device_busy_seconds > 0)
        fprintf(stderr, " device_busy=%.3fs device_idle=%.3fs device_max_pass=%.1fms device_max_idle=%.2fms",
                s.device_busy_seconds, s.device_idle_seconds, 1e3 * s.device_max_pass_seconds,
                1e3 * s.device_max_idle_seconds);
    for (int k = 0; k < RR_MODEL_OP_KINDS; k++) /* RR_CUDA_PROFILE=1 */
        if (s.op_seconds[k] > 0)
            fprintf(stderr, " op_%s=%.4fs", rr_model_op_name(k), s.op_seconds[k]);
    fputc('\n', stderr);
}

void cli_progress_init(cli_progress *p, const char *label, const char *unit, int mode) {
    p->label = label;
    p->unit = unit;
    p->enabled = mode == CLI_PROGRESS_AUTO ? isatty(fileno(stderr)) : mode == CLI_PROGRESS_ON;
    p->t0 = omp_get_wtime();
    p->last = 0.0;
}

int cli_progress_cb(void *ctx, size_t done, size_t total) {
    cli_progress *p = (cli_progress *)ctx;
    if (!p->enabled)
        return 0;
    const double now = omp_get_wtime();
    const int final = done >= total;
    if (!final && now - p->last < 0.25)
        return 0;
    p->last = now;
    const double el = now - p->t0, rate = el > 0 ? (double)done / el : 0.0;
    const double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
    fprintf(stderr, "\r%s: %zu/%zu %s  %.1f %s/s  elapsed %.0fs  ETA %.0fs   %s", p->label, done, total,
            p->unit, rate, p->unit, el, eta, final ? "\n" : "");
    fflush(stderr);
    return 0;
}

int cli_progress_mode(int progress_flag, int quiet_flag) {
    return quiet_flag ? CLI_PROGRESS_OFF : progress_flag ? CLI_PROGRESS_ON : CLI_PROGRESS_AUTO;
}

static struct {
    int on;
    char sha_dir[4096], sha_hex[65];  /* realpath of the last directory hashed, and its sha256 */
    char model_dir[4096];             /* realpath of the kept model's directory */
    rr_model_params params;           /* and its parameters */
    char device[16];                  /* params.device, copied */
    rr_model *model;
} g_stage;

void cli_stage_cache(int on) {
    rr_model_free(g_stage.model);
    memset(&g_stage, 0, sizeof g_stage);
    g_stage.on = on;
}

/* realpath of dir into out; 0 when it cannot be resolved or does not fit */
static int stage_key(const char *dir, char *out, size_t cap) {
    char *abs = realpath(dir, NULL);
    int ok = abs && strlen(abs) < cap;
    if (ok)
        strcpy(out, abs);
    free(abs);
    return ok;
}

rr_status cli_weights_sha256(const char *dir, char hex[65]) {
    char key[sizeof g_stage.sha_dir];
    const int keyed = g_stage.on && stage_key(dir, key, sizeof key);
    if (keyed && g_stage.sha_hex[0] && !strcmp(key, g_stage.sha_dir)) {
        memcpy(hex, g_stage.sha_hex, 65);
        return RR_OK;
    }
    RR_TRY(rr_model_weights_sha256(dir, hex));
    if (keyed) {
        strcpy(g_stage.sha_dir, key);
        memcpy(g_stage.sha_hex, hex, 65);
    }
    return RR_OK;
}

static int same_params(const rr_model_params *a, const rr_model_params *b) {
    return a->head == b->head && a->max_length == b->max_length && a->token_budget == b->token_budget &&
           a->max_seqs == b->max_seqs && a->threads == b->threads && a->precision == b->precision &&
           a->max_pass_bytes == b->max_pass_bytes &&
           !strcmp(a->device ? a->device : "cpu", b->device ? b->device : "cpu");
}

rr_status cli_model_load(const char *cmd, const char *dir, const rr_model_params *p, rr_model **out,
                         int *reused) {
    char key[sizeof g_stage.model_dir];
    if (reused)
        *reused = 0;
    if (g_stage.model && stage_key(dir, key, sizeof key) && !strcmp(key, g_stage.model_dir) &&
        same_params(p, &g_stage.params)) {
        *out = g_stage.model;
        g_stage.model = NULL;
        rr_model_reset_stats(*out);
        if (reused)
            *reused = 1;
        return RR_OK;
    }
    RR_TRY(rr_model_load(dir, p, out));
    /* --device auto without a usable GPU computes in fp32 on the CPU whatever precision was
     * asked (backend.c): a job that asked for bf16 / fp16 hears it here, not only from a summary */
    static const char *const asked[] = {"fp32", "bf16", "fp16"}; /* rr_model_params.precision */
    const rr_model_info info = rr_model_get_info(*out);
    const char *got = info.precision;
    if (info.device_fallback[0]) /* a GPU, but a model its kernels do not take */
        fprintf(stderr, "rerank %s: note: --device auto: computing in %s on the CPU (%s)\n", cmd, got,
                info.device_fallback);
    else if (rr_precision_parse(got) != p->precision)
        fprintf(stderr, "rerank %s: note: no usable GPU for --device auto: computing in %s on the CPU "
                        "(--precision %s not applied)\n", cmd, got, asked[p->precision]);
    return RR_OK;
}

void cli_model_done(rr_model *m, const char *dir, const rr_model_params *p) {
    char key[sizeof g_stage.model_dir];
    const char *dev = p->device ? p->device : "cpu";
    if (!m)
        return;
    if (!g_stage.on || !stage_key(dir, key, sizeof key) || strlen(dev) >= sizeof g_stage.device) {
        rr_model_free(m);
        return;
    }
    rr_model_free(g_stage.model);
    g_stage.model = m;
    strcpy(g_stage.model_dir, key);
    g_stage.params = *p;
    strcpy(g_stage.device, dev);
    g_stage.params.device = g_stage.device;
}

int cli_model_params(const char *cmd, int head, int max_length, int threads, const char *device,
                     const char *precision, int token_budget, rr_model_params *p) {
    *p = rr_model_default_params();
    p->head = (rr_head_kind)head;
    p->max_length = max_length;
    p->threads = threads;
    p->device = device;
    p->precision = rr_precision_parse(precision);
    if (p->precision < 0) {
        fprintf(stderr, "rerank %s: --precision must be fp32, bf16 or fp16\n", cmd);
        return 2;
    }
    if (token_budget)
        p->token_budget = token_budget;
    const char *w = getenv("RR_WARMUP"); /* RR_WARMUP=0: no GPU warm-up pass at load (benchmarks) */
    p->no_warmup = w && !strcmp(w, "0");
    return 0;
}
