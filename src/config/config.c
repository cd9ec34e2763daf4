/* config/config.c — `rerank run`'s YAML configuration: libyaml's document tree → typed
 * fields through one table of keys, overrides, path expansion and resolution, checks.
 *
 * Every field has an entry in FIELDS (section, key, type, offset into rr_config, default);
 * the file, --set and the resolved-YAML writer all go through that table, so a key is
 * declared once. Where each value came from (file line:column, or the --set text) is kept
 * beside it, so that errors found late (a missing file, a bad measure) still name the place.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "rerank/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "rerank/eval.h"
#include "util/error.h"

typedef enum field_type {
    T_WORD,   /* a non-empty string without whitespace */
    T_ENUM,   /* one of `choices` */
    T_INT,    /* a plain integer >= min */
    T_LIST,   /* a sequence of words */
    T_DIR,    /* a path to an existing directory */
    T_FILE,   /* a path to an existing file */
    T_OUTDIR, /* a path to a directory that may not exist yet */
} field_type;

enum { F_DENSE = 1 }; /* first_stage keys that belong to a dense first stage */

typedef struct field_def {
    const char *section; /* NULL: top level */
    const char *key;
    field_type type;
    size_t offset;       /* char * / int / char ** in rr_config */
    const char *choices; /* T_ENUM: "a|b|c" */
    int min;             /* T_INT */
    const char *def;     /* default; NULL = unset */
    int flags;
} field_def;

#define OFF(member) offsetof(rr_config, member)
static const field_def FIELDS[] = {
    {"dataset", "path", T_DIR, OFF(dataset.path), NULL, 0, NULL, 0},
    {"dataset", "split", T_WORD, OFF(dataset.split), NULL, 0, "test", 0},
    {"dataset", "corpus", T_FILE, OFF(dataset.corpus), NULL, 0, NULL, 0},
    {"dataset", "queries", T_FILE, OFF(dataset.queries), NULL, 0, NULL, 0},
    {"dataset", "qrels", T_FILE, OFF(dataset.qrels), NULL, 0, NULL, 0},
    {"dataset", "bad_lines", T_ENUM, OFF(dataset.bad_lines), "strict|lenient", 0, "strict", 0},
    {"first_stage", "run", T_FILE, OFF(first_stage.run), NULL, 0, NULL, 0},
    {"first_stage", "model", T_DIR, OFF(first_stage.model), NULL, 0, NULL, F_DENSE},
    {"first_stage", "index", T_OUTDIR, OFF(first_stage.index), NULL, 0, NULL, F_DENSE},
    {"first_stage", "factory", T_WORD, OFF(first_stage.factory), NULL, 0, "Flat", F_DENSE},
    {"first_stage", "metric", T_ENUM, OFF(first_stage.metric), "ip|l2", 0, "ip", F_DENSE},
    {"first_stage", "k", T_INT, OFF(first_stage.k), NULL, 1, "100", F_DENSE},
    {"first_stage", "search_params", T_WORD, OFF(first_stage.search_params), NULL, 0, NULL, F_DENSE},
    {"first_stage", "search_device", T_ENUM, OFF(first_stage.search_device), "auto|cpu|gpu", 0, "auto", F_DENSE},
    {"first_stage", "search_fp16", T_ENUM, OFF(first_stage.search_fp16), "false|true", 0, "false", F_DENSE},
    {"first_stage", "stale_index", T_ENUM, OFF(first_stage.stale_index), "error|update|ignore", 0, "error", F_DENSE},
    {"first_stage", "tag", T_WORD, OFF(first_stage.tag), NULL, 0, "first_stage", 0},
    {"first_stage", "device", T_ENUM, OFF(first_stage.device), "cpu|cuda|auto", 0, "cpu", F_DENSE},
    {"first_stage", "precision", T_ENUM, OFF(first_stage.precision), "fp32|bf16|fp16", 0, "fp32", F_DENSE},
    {"first_stage", "max_length", T_INT, OFF(first_stage.max_length), NULL, 0, "0", F_DENSE},
    {"first_stage", "token_budget", T_INT, OFF(first_stage.token_budget), NULL, 0, "0", F_DENSE},
    {"first_stage", "threads", T_INT, OFF(first_stage.threads), NULL, 0, "0", F_DENSE},
    {"first_stage", "batch", T_INT, OFF(first_stage.batch), NULL, 1, "4096", F_DENSE},
    {"first_stage", "train_docs", T_INT, OFF(first_stage.train_docs), NULL, 1, "100000", F_DENSE},
    {"rerank", "model", T_DIR, OFF(rerank.model), NULL, 0, NULL, 0},
    {"rerank", "top_n", T_INT, OFF(rerank.top_n), NULL, 0, "100", 0},
    {"rerank", "max_length", T_INT, OFF(rerank.max_length), NULL, 0, "0", 0},
    {"rerank", "precision", T_ENUM, OFF(rerank.precision), "fp32|bf16|fp16", 0, "fp32", 0},
    {"rerank", "device", T_ENUM, OFF(rerank.device), "cpu|cuda|auto", 0, "cpu", 0},
    {"rerank", "token_budget", T_INT, OFF(rerank.token_budget), NULL, 0, "0", 0},
    {"rerank", "threads", T_INT, OFF(rerank.threads), NULL, 0, "0", 0},
    {"rerank", "score", T_ENUM, OFF(rerank.score), "raw|sigmoid", 0, "raw", 0},
    {"rerank", "label", T_INT, OFF(rerank.label), NULL, 0, "0", 0},
    {"rerank", "tag", T_WORD, OFF(rerank.tag), NULL, 0, "rerank", 0},
    {"rerank", "keep_rest", T_ENUM, OFF(rerank.keep_rest), "false|true", 0, "false", 0},
    {"eval", "measures", T_LIST, OFF(eval.measures), NULL, 0, "ndcg_cut.10 recall.100 map", 0},
    {"eval", "split", T_WORD, OFF(eval.split), NULL, 0, NULL, 0},
    {NULL, "output_dir", T_OUTDIR, OFF(output_dir), NULL, 0, NULL, 0},
};
enum { NUM_FIELDS = sizeof FIELDS / sizeof FIELDS[0] };
static const char *const SECTIONS[] = {"dataset", "first_stage", "rerank", "eval"};
enum { NUM_SECTIONS = 4, SEC_DATASET = 0, SEC_FIRST_STAGE = 1, SEC_RERANK = 2, SEC_EVAL = 3 };

/* Where a value came from: a place in the file (line, col 1-based) or a command-line text. */
typedef struct origin {
    long line, col;
    char *via; /* "--set rerank.top_n=50" / "--out": owned; NULL = the file */
} origin;

typedef struct field_state {
    int set;          /* given in the file or on the command line */
    origin at;
    origin *items;    /* T_LIST: one per item */
} field_state;

struct rr_config_state {
    field_state f[NUM_FIELDS];
    int section_set[NUM_SECTIONS];
    origin section_at[NUM_SECTIONS];
    origin root_at;
    char *config_dir; /* absolute */
    int finished;
};

#define FIELD_STR(cfg, i) ((char **)((char *)(cfg) + FIELDS[i].offset))
#define FIELD_INT(cfg, i) ((int *)((char *)(cfg) + FIELDS[i].offset))
#define COUNT_OF_LIST(cfg) (&(cfg)->eval.num_measures) /* the one T_LIST */

/* ---- messages ---- */

static void origin_free(origin *o) {
    free(o->via);
    o->via = NULL;
}

/* "file:L:C: " or "--set x=y: " + message */
static rr_status error_at(const rr_config *cfg, rr_status code, const origin *at, const char *fmt, ...)
    RR_PRINTF(4, 5);
static rr_status error_at(const rr_config *cfg, rr_status code, const origin *at, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at->via)
        return rr_error(code == RR_ERR_FORMAT ? RR_ERR_INVALID_ARG : code, "%s: %s", at->via, msg);
    return rr_error(code, "%s:%ld:%ld: %s", cfg->source, at->line, at->col, msg);
}

static void field_name(int i, char *buf, size_t cap) {
    if (FIELDS[i].section)
        snprintf(buf, cap, "%s.%s", FIELDS[i].section, FIELDS[i].key);
    else
        snprintf(buf, cap, "%s", FIELDS[i].key);
}

static int find_field(const char *section, const char *key, size_t key_len) {
    for (int i = 0; i < NUM_FIELDS; i++) {
        int same_section = section ? FIELDS[i].section && !strcmp(FIELDS[i].section, section) : !FIELDS[i].section;
        if (same_section && strlen(FIELDS[i].key) == key_len && !strncmp(FIELDS[i].key, key, key_len))
            return i;
    }
    return -1;
}

static int find_section(const char *name, size_t len) {
    for (int s = 0; s < NUM_SECTIONS; s++)
        if (strlen(SECTIONS[s]) == len && !strncmp(SECTIONS[s], name, len))
            return s;
    return -1;
}

/* "run, model, index, ..." — the keys a section takes, for the unknown-key message. */
static void section_keys(const char *section, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < NUM_FIELDS && n < cap; i++)
        if (FIELDS[i].section && !strcmp(FIELDS[i].section, section))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", FIELDS[i].key);
}

/* ---- typed values from YAML nodes ---- */

static int scalar_is_null(const yaml_node_t *n) {
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

static const char *node_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return scalar_is_null(n) ? "nothing" : "a scalar";
    }
}

static origin mark_origin(yaml_mark_t m) {
    origin o = {(long)m.line + 1, (long)m.column + 1, NULL};
    return o;
}

static char *dup_origin_via(const origin *at) { return at->via ? strdup(at->via) : NULL; }

/* Check and store one value for field i from node n (of doc); at: where n is (the --set text
 * for overrides, shared by every item). */
static rr_status apply_node(rr_config *cfg, int i, yaml_document_t *doc, yaml_node_t *n, const origin *at) {
    const field_def *fd = &FIELDS[i];
    field_state *fs = &cfg->state->f[i];
    char name[64];
    field_name(i, name, sizeof name);
    if (fd->type == T_LIST) {
        if (n->type != YAML_SEQUENCE_NODE)
            return error_at(cfg, RR_ERR_FORMAT, at, "%s: expected a list (e.g. [ndcg_cut.10, map]), got %s", name,
                            node_kind(n));
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count == 0)
            return error_at(cfg, RR_ERR_FORMAT, at, "%s: the list is empty", name);
        char **items = calloc(count, sizeof *items);
        origin *item_at = calloc(count, sizeof *item_at);
        if (!items || !item_at) {
            free(items);
            free(item_at);
            return rr_error(RR_ERR_NOMEM, "out of memory");
        }
        rr_status st = RR_OK;
        for (size_t k = 0; k < count && !st; k++) {
            yaml_node_t *it = yaml_document_get_node(doc, n->data.sequence.items.start[k]);
            item_at[k] = at->via ? *at : mark_origin(it->start_mark);
            item_at[k].via = dup_origin_via(at);
            const char *v = it->type == YAML_SCALAR_NODE ? (const char *)it->data.scalar.value : NULL;
            if (!v || scalar_is_null(it) || strpbrk(v, " \t\r\n"))
                st = error_at(cfg, RR_ERR_FORMAT, &item_at[k], "%s: item %zu: expected a measure name, got %s", name,
                              k + 1, v && !scalar_is_null(it) ? "text with spaces" : node_kind(it));
            else if (!(items[k] = strdup(v)))
                st = rr_error(RR_ERR_NOMEM, "out of memory");
        }
        if (st) {
            for (size_t k = 0; k < count; k++) {
                free(items[k]);
                origin_free(&item_at[k]);
            }
            free(items);
            free(item_at);
            return st;
        }
        char ***dst = (char ***)((char *)cfg + fd->offset);
        for (size_t k = 0; k < *COUNT_OF_LIST(cfg); k++) {
            free((*dst)[k]);
            if (fs->items)
                origin_free(&fs->items[k]);
        }
        free(*dst);
        free(fs->items);
        *dst = items;
        fs->items = item_at;
        *COUNT_OF_LIST(cfg) = count;
    } else {
        if (n->type != YAML_SCALAR_NODE || scalar_is_null(n))
            return error_at(cfg, RR_ERR_FORMAT, at, "%s: expected %s, got %s", name,
                            fd->type == T_INT ? "an integer" : fd->type == T_ENUM ? "a value" : "a string",
                            node_kind(n));
        const char *v = (const char *)n->data.scalar.value;
        int quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (fd->type == T_INT) {
            char *end;
            errno = 0;
            long x = strtol(v, &end, 10);
            if (quoted)
                return error_at(cfg, RR_ERR_FORMAT, at, "%s: expected an integer, got the string \"%s\"", name, v);
            if (errno || end == v || *end || x > INT_MAX || x < INT_MIN)
                return error_at(cfg, RR_ERR_FORMAT, at, "%s: expected an integer, got \"%s\"", name, v);
            if (x < fd->min)
                return error_at(cfg, RR_ERR_FORMAT, at, "%s: must be >= %d, got %ld", name, fd->min, x);
            *FIELD_INT(cfg, i) = (int)x;
        } else {
            if (fd->type == T_ENUM) {
                size_t len = strlen(v);
                const char *c = fd->choices;
                int ok = 0;
                while (*c && !ok) {
                    size_t cl = strcspn(c, "|");
                    ok = cl == len && !strncmp(c, v, len);
                    c += cl + (c[cl] == '|');
                }
                if (!ok) {
                    char choices[64];
                    snprintf(choices, sizeof choices, "%s", fd->choices);
                    for (char *p = choices; *p; p++)
                        if (*p == '|')
                            *p = '/';
                    return error_at(cfg, RR_ERR_FORMAT, at, "%s: \"%s\" is not one of %s", name, v, choices);
                }
            } else if (fd->type == T_WORD && strpbrk(v, " \t\r\n")) {
                return error_at(cfg, RR_ERR_FORMAT, at, "%s: \"%s\" must be one word (no spaces)", name, v);
            }
            char *copy = strdup(v);
            if (!copy)
                return rr_error(RR_ERR_NOMEM, "out of memory");
            free(*FIELD_STR(cfg, i));
            *FIELD_STR(cfg, i) = copy;
        }
    }
    origin_free(&fs->at);
    fs->at = *at;
    fs->at.via = dup_origin_via(at);
    fs->set = 1;
    return RR_OK;
}

/* ---- defaults, create, free ---- */

static rr_status set_default(rr_config *cfg, int i) {
    const field_def *fd = &FIELDS[i];
    if (!fd->def)
        return RR_OK;
    if (fd->type == T_INT) {
        *FIELD_INT(cfg, i) = atoi(fd->def);
    } else if (fd->type == T_LIST) {
        size_t count = 1;
        for (const char *p = fd->def; *p; p++)
            count += *p == ' ';
        char **items = calloc(count, sizeof *items);
        if (!items)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        *(char ***)((char *)cfg + fd->offset) = items;
        const char *p = fd->def;
        for (size_t k = 0; k < count; k++) {
            size_t len = strcspn(p, " ");
            if (!(items[k] = strndup(p, len)))
                return rr_error(RR_ERR_NOMEM, "out of memory");
            *COUNT_OF_LIST(cfg) = k + 1;
            p += len + (p[len] == ' ');
        }
    } else if (!(*FIELD_STR(cfg, i) = strdup(fd->def))) {
        return rr_error(RR_ERR_NOMEM, "out of memory");
    }
    return RR_OK;
}

void rr_config_free(rr_config *cfg) {
    if (!cfg)
        return;
    for (int i = 0; i < NUM_FIELDS; i++) {
        field_state *fs = cfg->state ? &cfg->state->f[i] : NULL;
        if (FIELDS[i].type == T_LIST) {
            char **items = *(char ***)((char *)cfg + FIELDS[i].offset);
            for (size_t k = 0; k < *COUNT_OF_LIST(cfg); k++) {
                if (items)
                    free(items[k]);
                if (fs && fs->items)
                    origin_free(&fs->items[k]);
            }
            free(items);
            if (fs)
                free(fs->items);
        } else if (FIELDS[i].type != T_INT) {
            free(*FIELD_STR(cfg, i));
        }
        if (fs)
            origin_free(&fs->at);
    }
    if (cfg->state) {
        for (int s = 0; s < NUM_SECTIONS; s++)
            origin_free(&cfg->state->section_at[s]);
        free(cfg->state->config_dir);
        free(cfg->state);
    }
    free((char *)cfg->source);
    free(cfg);
}

/* ---- loading the file ---- */

static rr_status load_section(rr_config *cfg, int s, yaml_document_t *doc, yaml_node_t *map) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        origin kat = mark_origin(k->start_mark), vat = mark_origin(v->start_mark);
        if (k->type != YAML_SCALAR_NODE)
            return error_at(cfg, RR_ERR_FORMAT, &kat, "%s: expected a key name, got %s", SECTIONS[s], node_kind(k));
        const char *key = (const char *)k->data.scalar.value;
        int i = find_field(SECTIONS[s], key, strlen(key));
        if (i < 0) {
            char keys[512];
            section_keys(SECTIONS[s], keys, sizeof keys);
            return error_at(cfg, RR_ERR_FORMAT, &kat, "unknown key \"%s.%s\" (%s takes: %s)", SECTIONS[s], key,
                            SECTIONS[s], keys);
        }
        if (cfg->state->f[i].set)
            return error_at(cfg, RR_ERR_FORMAT, &kat, "duplicate key \"%s.%s\" (first on line %ld)", SECTIONS[s], key,
                            cfg->state->f[i].at.line);
        RR_TRY(apply_node(cfg, i, doc, v, &vat));
    }
    return RR_OK;
}

static rr_status load_root(rr_config *cfg, yaml_document_t *doc, yaml_node_t *root) {
    cfg->state->root_at = mark_origin(root->start_mark);
    if (root->type != YAML_MAPPING_NODE)
        return error_at(cfg, RR_ERR_FORMAT, &cfg->state->root_at,
                        "expected a mapping of sections (dataset, first_stage, rerank, eval, output_dir), got %s",
                        node_kind(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        origin kat = mark_origin(k->start_mark), vat = mark_origin(v->start_mark);
        if (k->type != YAML_SCALAR_NODE)
            return error_at(cfg, RR_ERR_FORMAT, &kat, "expected a section name, got %s", node_kind(k));
        const char *key = (const char *)k->data.scalar.value;
        int s = find_section(key, strlen(key));
        if (s >= 0) {
            if (cfg->state->section_set[s])
                return error_at(cfg, RR_ERR_FORMAT, &kat, "duplicate section \"%s\" (first on line %ld)", key,
                                cfg->state->section_at[s].line);
            cfg->state->section_set[s] = 1;
            cfg->state->section_at[s] = kat;
            if (v->type != YAML_MAPPING_NODE)
                return error_at(cfg, RR_ERR_FORMAT, &vat, "%s: expected a mapping of settings, got %s", key,
                                node_kind(v));
            RR_TRY(load_section(cfg, s, doc, v));
            continue;
        }
        int i = find_field(NULL, key, strlen(key));
        if (i < 0)
            return error_at(cfg, RR_ERR_FORMAT, &kat,
                            "unknown key \"%s\" (expected dataset, first_stage, rerank, eval, output_dir)", key);
        if (cfg->state->f[i].set)
            return error_at(cfg, RR_ERR_FORMAT, &kat, "duplicate key \"%s\" (first on line %ld)", key,
                            cfg->state->f[i].at.line);
        RR_TRY(apply_node(cfg, i, doc, v, &vat));
    }
    cfg->rerank.enabled = cfg->state->section_set[SEC_RERANK];
    return RR_OK;
}

static rr_status config_new(const char *source, rr_config **out) {
    *out = NULL;
    rr_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->state = calloc(1, sizeof *cfg->state)) || !(cfg->source = strdup(source))) {
        rr_config_free(cfg);
        return rr_error(RR_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < NUM_FIELDS; i++) {
        rr_status st = set_default(cfg, i);
        if (st) {
            rr_config_free(cfg);
            return st;
        }
    }
    *out = cfg;
    return RR_OK;
}

/* A config nests three levels at most (section, key, list). libyaml's document loader and
 * scanner cost grows with the square of the nesting depth ([[[[... 100k deep: minutes), so
 * the events are walked first and anything deeper than this is refused at its mark. A syntax
 * error is left to the loader, which reports the same one. */
#define RR_CONFIG_MAX_DEPTH 32
#define RR_CONFIG_MAX_BYTES ((size_t)16 << 20)

static rr_status check_depth(const unsigned char *text, size_t len, const rr_config *cfg, const char *via) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return rr_error(RR_ERR_NOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, text, len);
    rr_status st = RR_OK;
    int depth = 0, done = 0;
    while (!done && !st) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break;
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > RR_CONFIG_MAX_DEPTH) {
                origin at = mark_origin(ev.start_mark);
                at.via = (char *)via;
                st = error_at(cfg, RR_ERR_FORMAT, &at, "nested more than %d levels deep (a config has sections "
                              "of settings, and lists)", RR_CONFIG_MAX_DEPTH);
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return st;
}

/* Parse `len` bytes of YAML (from a file or a --set value) into doc. */
static rr_status parse_yaml(yaml_parser_t *parser, yaml_document_t *doc, const rr_config *cfg, const char *via) {
    if (yaml_parser_load(parser, doc))
        return RR_OK;
    origin at = mark_origin(parser->problem_mark);
    at.via = (char *)via;
    if (parser->error == YAML_MEMORY_ERROR)
        return rr_error(RR_ERR_NOMEM, "out of memory parsing YAML");
    return error_at(cfg, RR_ERR_FORMAT, &at, "YAML syntax error: %s%s%s", parser->problem ? parser->problem : "?",
                    parser->context ? " " : "", parser->context ? parser->context : "");
}

rr_status rr_config_load(const char *path, rr_config **out) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    rr_config *cfg;
    rr_status st = config_new(path, &cfg);
    if (st) {
        fclose(fp);
        return st;
    }
    char *abs = realpath(path, NULL);
    if (abs) {
        char *slash = strrchr(abs, '/');
        if (slash == abs)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    cfg->state->config_dir = abs;
    if (!abs) {
        fclose(fp);
        rr_config_free(cfg);
        return rr_error(RR_ERR_IO, "%s: cannot resolve its directory: %s", path, strerror(errno));
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0;
    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        rr_config_free(cfg);
        return rr_error(RR_ERR_NOMEM, "cannot initialise the YAML parser");
    }
    /* the whole file in memory: walked once for its depth, then loaded */
    unsigned char *text = malloc(RR_CONFIG_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, RR_CONFIG_MAX_BYTES + 1, fp) : 0;
    if (!text)
        st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
    else if (ferror(fp))
        st = rr_error(RR_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (len > RR_CONFIG_MAX_BYTES)
        st = rr_error(RR_ERR_FORMAT, "%s: larger than %zu MiB: not a config", path, RR_CONFIG_MAX_BYTES >> 20);
    if (!st)
        st = check_depth(text, len, cfg, NULL);
    if (st) {
        free(text);
        yaml_parser_delete(&parser);
        fclose(fp);
        rr_config_free(cfg);
        return st;
    }
    yaml_parser_set_input_string(&parser, text, len);
    st = parse_yaml(&parser, &doc, cfg, NULL);
    have_doc = !st;
    yaml_node_t *root = have_doc ? yaml_document_get_root_node(&doc) : NULL;
    if (!st && !root) {
        origin at = {1, 1, NULL};
        st = error_at(cfg, RR_ERR_FORMAT, &at, "the file is empty (expected dataset, first_stage, ... sections)");
    }
    if (!st)
        st = load_root(cfg, &doc, root);
    if (!st) { /* a second document is a mistake, not something to ignore */
        yaml_document_t next;
        st = parse_yaml(&parser, &next, cfg, NULL);
        if (!st) {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2) {
                origin at = mark_origin(r2->start_mark);
                st = error_at(cfg, RR_ERR_FORMAT, &at, "a second YAML document: a config is one document");
            }
            yaml_document_delete(&next);
        }
    }
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    fclose(fp);
    if (st) {
        rr_config_free(cfg);
        return st;
    }
    *out = cfg;
    return RR_OK;
}

rr_status rr_config_set(rr_config *cfg, const char *assignment) {
    char via[512];
    snprintf(via, sizeof via, "--set %s", assignment);
    origin at = {0, 0, via};
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return error_at(cfg, RR_ERR_INVALID_ARG, &at, "expected section.key=value");
    const char *dot = memchr(assignment, '.', (size_t)(eq - assignment));
    int i;
    if (dot) {
        char section[64];
        size_t sl = (size_t)(dot - assignment);
        snprintf(section, sizeof section, "%.*s", (int)(sl < 63 ? sl : 63), assignment);
        i = find_section(section, strlen(section)) < 0 ? -1 : find_field(section, dot + 1, (size_t)(eq - dot - 1));
    } else {
        i = find_field(NULL, assignment, (size_t)(eq - assignment));
    }
    if (i < 0)
        return error_at(cfg, RR_ERR_INVALID_ARG, &at, "unknown key \"%.*s\"", (int)(eq - assignment), assignment);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return rr_error(RR_ERR_NOMEM, "cannot initialise the YAML parser");
    const char *value = eq + 1;
    rr_status st = check_depth((const unsigned char *)value, strlen(value), cfg, via);
    if (st) {
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)value, strlen(value));
    st = parse_yaml(&parser, &doc, cfg, via);
    if (!st) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_node_t none = {.type = YAML_SCALAR_NODE};
        none.data.scalar.value = (yaml_char_t *)"";
        none.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
        st = apply_node(cfg, i, &doc, root ? root : &none, &at);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (!st && FIELDS[i].section && !strcmp(FIELDS[i].section, "rerank"))
        cfg->rerank.enabled = 1;
    return st;
}

/* ---- paths ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* ~ (at the start), ${VAR}, ${VAR:-default} (the default expanded in turn). On error, a
 * message in err. */
static int expand(const char *s, size_t len, sbuf *out, char *err, size_t cap) {
    size_t i = 0;
    if (len && s[0] == '~' && (len == 1 || s[1] == '/')) {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            snprintf(err, cap, "\"~\" needs HOME, which is not set");
            return -1;
        }
        if (sb_add(out, home, strlen(home)))
            goto nomem;
        i = 1;
    }
    while (i < len) {
        if (s[i] != '$' || i + 1 >= len || s[i + 1] != '{') {
            if (sb_add(out, s + i, 1))
                goto nomem;
            i++;
            continue;
        }
        size_t j = i + 2, depth = 1;
        for (; j < len; j++) {
            if (s[j] == '{')
                depth++;
            else if (s[j] == '}' && --depth == 0)
                break;
        }
        if (j >= len) {
            snprintf(err, cap, "unterminated \"${\" in \"%.*s\"", (int)len, s);
            return -1;
        }
        const char *body = s + i + 2;
        size_t blen = j - (i + 2), nl = 0;
        while (nl < blen && (isalnum((unsigned char)body[nl]) || body[nl] == '_'))
            nl++;
        int has_default = nl < blen && blen - nl >= 2 && body[nl] == ':' && body[nl + 1] == '-';
        if (nl == 0 || nl > 200 || isdigit((unsigned char)body[0]) || (nl < blen && !has_default)) {
            snprintf(err, cap, "bad variable reference \"${%.*s}\" (write ${NAME} or ${NAME:-default})", (int)blen, body);
            return -1;
        }
        char name[256];
        memcpy(name, body, nl);
        name[nl] = '\0';
        const char *v = getenv(name);
        if (v && *v) {
            if (sb_add(out, v, strlen(v)))
                goto nomem;
        } else if (has_default) {
            if (expand(body + nl + 2, blen - nl - 2, out, err, cap))
                return -1;
        } else if (!v) {
            snprintf(err, cap, "${%.100s} is not set (write ${%.100s:-default} to give a default)", name, name);
            return -1;
        }
        i = j + 1;
    }
    if (!out->p && sb_add(out, "", 0))
        goto nomem;
    return 0;
nomem:
    snprintf(err, cap, "out of memory");
    return -1;
}

/* base (absolute) + p → an absolute path with "." and ".." folded away (lexically). */
static char *absolute_path(const char *base, const char *p) {
    sbuf joined = {0};
    if (p[0] != '/' && (sb_add(&joined, base, strlen(base)) || sb_add(&joined, "/", 1)))
        goto fail;
    if (sb_add(&joined, p, strlen(p)))
        goto fail;
    char *out = malloc(joined.n + 2);
    if (!out)
        goto fail;
    size_t n = 0;
    for (char *seg = joined.p; *seg;) {
        size_t len = strcspn(seg, "/");
        if (len == 0 || (len == 1 && seg[0] == '.')) {
            /* skip */
        } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the slash */
        } else {
            out[n++] = '/';
            memcpy(out + n, seg, len);
            n += len;
        }
        seg += len + (seg[len] == '/');
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(joined.p);
    return out;
fail:
    free(joined.p);
    return NULL;
}

/* Expand and make absolute the path field i (file values: relative to the config's directory;
 * command-line values: to the working directory). */
static rr_status resolve_field(rr_config *cfg, int i, const char *cwd) {
    char **dst = FIELD_STR(cfg, i);
    if (!*dst)
        return RR_OK;
    const field_state *fs = &cfg->state->f[i];
    char name[64], err[512];
    field_name(i, name, sizeof name);
    sbuf b = {0};
    if (expand(*dst, strlen(*dst), &b, err, sizeof err)) {
        free(b.p);
        return error_at(cfg, RR_ERR_FORMAT, &fs->at, "%s: %s", name, err);
    }
    if (!*b.p) {
        free(b.p);
        return error_at(cfg, RR_ERR_FORMAT, &fs->at, "%s: the path is empty after expansion", name);
    }
    char *abs = absolute_path(fs->at.via ? cwd : cfg->state->config_dir, b.p);
    free(b.p);
    if (!abs)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = abs;
    return RR_OK;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static rr_status check_field_path(rr_config *cfg, int i) {
    if (FIELDS[i].type != T_DIR && FIELDS[i].type != T_FILE && FIELDS[i].type != T_OUTDIR)
        return RR_OK;
    const char *p = *FIELD_STR(cfg, i);
    if (!p)
        return RR_OK;
    char name[64];
    field_name(i, name, sizeof name);
    const origin *at = &cfg->state->f[i].at;
    struct stat st;
    int exists = stat(p, &st) == 0;
    switch (FIELDS[i].type) {
    case T_DIR:
        if (!exists || !S_ISDIR(st.st_mode))
            return error_at(cfg, RR_ERR_NOT_FOUND, at, "%s: %s: %s", name, p,
                            exists ? "not a directory" : "no such directory");
        break;
    case T_FILE:
        if (!exists || !S_ISREG(st.st_mode))
            return error_at(cfg, RR_ERR_NOT_FOUND, at, "%s: %s: %s", name, p, exists ? "not a file" : "no such file");
        break;
    case T_OUTDIR:
        if (exists && !S_ISDIR(st.st_mode))
            return error_at(cfg, RR_ERR_INVALID_ARG, at, "%s: %s exists and is not a directory", name, p);
        break;
    default: break;
    }
    return RR_OK;
}

/* dir/name or dir/name.gz, whichever exists, into *out; 0 when neither does. */
static int find_data_file(const char *dir, const char *name, char **out) {
    sbuf b = {0};
    if (sb_add(&b, dir, strlen(dir)) || sb_add(&b, "/", 1) || sb_add(&b, name, strlen(name)))
        goto none;
    if (is_file(b.p)) {
        *out = b.p;
        return 1;
    }
    if (sb_add(&b, ".gz", 3))
        goto none;
    if (is_file(b.p)) {
        *out = b.p;
        return 1;
    }
none:
    free(b.p);
    return 0;
}

static rr_status derive_dataset_file(rr_config *cfg, int i, const char *name, int at_field) {
    if (*FIELD_STR(cfg, i))
        return RR_OK;
    int path_i = find_field("dataset", "path", 4);
    if (!cfg->dataset.path) {
        char what[64];
        field_name(i, what, sizeof what);
        return error_at(cfg, RR_ERR_INVALID_ARG,
                        cfg->state->section_set[SEC_DATASET] ? &cfg->state->section_at[SEC_DATASET]
                                                             : &cfg->state->root_at,
                        "dataset.path is required (a BEIR directory) unless %s is given", what);
    }
    if (!find_data_file(cfg->dataset.path, name, FIELD_STR(cfg, i)))
        return error_at(cfg, RR_ERR_NOT_FOUND, &cfg->state->f[at_field >= 0 ? at_field : path_i].at,
                        "no %s or %s.gz in %s", name, name, cfg->dataset.path);
    return RR_OK;
}

static int field_index(const char *section, const char *key) { return find_field(section, key, strlen(key)); }

rr_status rr_config_finish(rr_config *cfg, const char *output_dir) {
    rr_config_state *s = cfg->state;
    if (s->finished)
        return rr_error(RR_ERR_INVALID_ARG, "rr_config_finish called twice");
    s->finished = 1;
    const origin *root = &s->root_at;
    if (output_dir) {
        int i = field_index(NULL, "output_dir");
        char *copy = strdup(output_dir), *via = strdup("--out");
        if (!copy || !via) {
            free(copy);
            free(via);
            return rr_error(RR_ERR_NOMEM, "out of memory");
        }
        free(cfg->output_dir);
        cfg->output_dir = copy;
        origin_free(&s->f[i].at);
        s->f[i].at.via = via;
        s->f[i].set = 1;
    }
    if (!cfg->output_dir)
        return error_at(cfg, RR_ERR_INVALID_ARG, root, "output_dir is required (or give --out DIR)");
    if (!s->section_set[SEC_FIRST_STAGE] && !cfg->first_stage.run && !cfg->first_stage.model &&
        !cfg->first_stage.index)
        return error_at(cfg, RR_ERR_INVALID_ARG, root,
                        "first_stage is required: run: FILE (a TREC run), or model: / index: (dense)");
    /* first stage: a run file, or dense; the keys of one do not mix with the other */
    int run_i = field_index("first_stage", "run");
    cfg->first_stage.dense = cfg->first_stage.run == NULL;
    if (!cfg->first_stage.dense) {
        for (int i = 0; i < NUM_FIELDS; i++)
            if ((FIELDS[i].flags & F_DENSE) && s->f[i].set) {
                char name[64];
                field_name(i, name, sizeof name);
                return error_at(cfg, RR_ERR_INVALID_ARG, &s->f[i].at,
                                "%s is a setting of a dense first stage, but first_stage.run is given (%s%ld): "
                                "use one or the other", name, s->f[run_i].at.via ? "" : "line ",
                                s->f[run_i].at.via ? 0L : s->f[run_i].at.line);
            }
    } else if (!cfg->first_stage.model && !cfg->first_stage.index) {
        return error_at(cfg, RR_ERR_INVALID_ARG, s->section_set[SEC_FIRST_STAGE] ? &s->section_at[SEC_FIRST_STAGE] : root,
                        "first_stage needs run: FILE, or model: (a bi-encoder) and/or index: (a directory)");
    }
    if (cfg->rerank.enabled && !cfg->rerank.model)
        return error_at(cfg, RR_ERR_INVALID_ARG, s->section_set[SEC_RERANK] ? &s->section_at[SEC_RERANK] : root,
                        "rerank.model is required (a cross-encoder directory)");
    if (!cfg->eval.split && !(cfg->eval.split = strdup(cfg->dataset.split)))
        return rr_error(RR_ERR_NOMEM, "out of memory");

    /* paths: expand, resolve, check */
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return rr_error(RR_ERR_IO, "cannot read the working directory: %s", strerror(errno));
    rr_status st = RR_OK;
    for (int i = 0; i < NUM_FIELDS && !st; i++)
        if (FIELDS[i].type == T_DIR || FIELDS[i].type == T_FILE || FIELDS[i].type == T_OUTDIR)
            st = resolve_field(cfg, i, cwd);
    free(cwd);
    for (int i = 0; i < NUM_FIELDS && !st; i++)
        st = check_field_path(cfg, i);
    if (st)
        return st;

    /* dataset files */
    int split_i = s->f[field_index("eval", "split")].set ? field_index("eval", "split")
                  : s->f[field_index("dataset", "split")].set ? field_index("dataset", "split") : -1;
    char qrels_name[300];
    snprintf(qrels_name, sizeof qrels_name, "qrels/%s.tsv", cfg->eval.split);
    RR_TRY(derive_dataset_file(cfg, field_index("dataset", "corpus"), "corpus.jsonl", -1));
    RR_TRY(derive_dataset_file(cfg, field_index("dataset", "queries"), "queries.jsonl", -1));
    RR_TRY(derive_dataset_file(cfg, field_index("dataset", "qrels"), qrels_name, split_i));

    /* dense: the index is reused when it exists, else built (which needs the model) */
    if (cfg->first_stage.dense) {
        int index_i = field_index("first_stage", "index");
        if (!cfg->first_stage.index && !(cfg->first_stage.index = absolute_path(cfg->output_dir, "index")))
            return rr_error(RR_ERR_NOMEM, "out of memory");
        char *faiss = absolute_path(cfg->first_stage.index, "index.faiss");
        if (!faiss)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        cfg->first_stage.build_index = !is_file(faiss);
        free(faiss);
        if (cfg->first_stage.build_index && !cfg->first_stage.model) {
            const origin *at = s->f[index_i].set ? &s->f[index_i].at
                               : s->section_set[SEC_FIRST_STAGE] ? &s->section_at[SEC_FIRST_STAGE] : root;
            return error_at(cfg, RR_ERR_NOT_FOUND, at,
                            "first_stage.index: %s holds no index (no index.faiss), and there is no "
                            "first_stage.model to build one", cfg->first_stage.index);
        }
    }

    /* measures: parsed as `rerank eval -m` would */
    rr_eval *ev = NULL;
    rr_eval_params ep = rr_eval_default_params();
    RR_TRY(rr_eval_create(&ep, &ev));
    int mi = field_index("eval", "measures");
    for (size_t k = 0; k < cfg->eval.num_measures && !st; k++) {
        if (rr_eval_add_measure(ev, cfg->eval.measures[k]) == RR_OK)
            continue;
        char detail[512];
        snprintf(detail, sizeof detail, "%s", rr_last_error());
        const origin *at = s->f[mi].items ? &s->f[mi].items[k] : root;
        st = error_at(cfg, RR_ERR_FORMAT, at, "eval.measures: %s", detail);
    }
    rr_eval_free(ev);
    return st;
}

/* ---- the resolved configuration as YAML ---- */

static void put_quoted(FILE *out, const char *v) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

rr_status rr_config_write_yaml(const rr_config *cfg, FILE *out) {
    const char *section = "";
    fprintf(out, "# resolved by rerank run from %s (defaults filled in, overrides applied, paths absolute)\n",
            cfg->source);
    for (int i = 0; i < NUM_FIELDS; i++) {
        const field_def *fd = &FIELDS[i];
        if (fd->section && !strcmp(fd->section, "rerank") && !cfg->rerank.enabled)
            continue;
        if (fd->section && !strcmp(fd->section, "first_stage") && !cfg->first_stage.dense &&
            (fd->flags & F_DENSE))
            continue;
        if (fd->section && !strcmp(fd->section, "first_stage") && cfg->first_stage.dense &&
            !strcmp(fd->key, "run"))
            continue;
        if (fd->type != T_INT && fd->type != T_LIST && !*FIELD_STR(cfg, i))
            continue;
        const char *sec = fd->section ? fd->section : "";
        if (strcmp(sec, section)) {
            if (*sec)
                fprintf(out, "%s:\n", sec);
            section = sec;
        }
        fprintf(out, "%s%s: ", *sec ? "  " : "", fd->key);
        if (fd->type == T_INT) {
            fprintf(out, "%d\n", *(const int *)((const char *)cfg + fd->offset));
        } else if (fd->type == T_LIST) {
            fputc('[', out);
            for (size_t k = 0; k < cfg->eval.num_measures; k++) {
                if (k)
                    fputs(", ", out);
                put_quoted(out, cfg->eval.measures[k]);
            }
            fputs("]\n", out);
        } else {
            put_quoted(out, *(char *const *)((const char *)cfg + fd->offset));
            fputc('\n', out);
        }
    }
    return ferror(out) ? rr_error(RR_ERR_IO, "write error") : RR_OK;
}
