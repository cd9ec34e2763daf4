/* text/tokenizer_load.c — building an rr_tokenizer from a Hugging Face model directory.
 *
 * Two sources, as transformers' AutoTokenizer would read them:
 *  - tokenizer.json (the `tokenizers` library's own file): normalizer, pre-tokenizer, model,
 *    post-processor and added tokens. WordPiece must come with BertNormalizer +
 *    BertPreTokenizer; a Unigram model with SentencePiece's normalizers and Metaspace
 *    (sentencepiece.c); a BPE model with no normalizer or NFC, and ByteLevel (bpe.c). Under
 *    tokenizer_class RobertaTokenizer (or model_type roberta) the BPE file is read as transformers
 *    5's class reads it: the vocabulary and merges alone. Under tokenizer_class XLMRobertaTokenizer or DebertaV2Tokenizer (or,
 *    without a tokenizer_class, config.json's model_type xlm-roberta / deberta-v2) the file
 *    is read as transformers 5's class reads it: XLM-R keeps the charsmap and sets its own
 *    pre-tokenizer; DeBERTa-v2 keeps only the vocabulary and builds its own normalizer,
 *    pre-tokenizer and template from tokenizer_config.json (do_lower_case, split_by_punct,
 *    add_prefix_space, unk/cls/sep tokens, added_tokens_decoder).
 *    Under tokenizer_class CamembertTokenizer (or model_type camembert) the Unigram file is read as
 *    XLM-R's class reads it, with CamemBERT's unknown id (unk_token's index), template (bos_token,
 *    eos_token) and additional special tokens (add_camembert_tokens).
 *    Anything else, and a template other than BERT's or MPNet's/XLM-R's, is refused, naming
 *    what was found.
 *  - otherwise vocab.txt (one token per line, id = line index) + tokenizer_config.json
 *    (do_lower_case, strip_accents, tokenize_chinese_chars, special tokens), which is what
 *    transformers converts a slow BertTokenizer into.
 * tokenizer_config.json also gives model_max_length in both cases.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rerank/tokenizer.h"
#include "text/hf_unicode.h"
#include "text/tokenizer_impl.h"
#include "util/error.h"
#include "util/file.h"

#define RR_TOKENIZER_FILE_MAX ((size_t)1 << 30)

/* Load state: paths (for messages) and what the files said. */
typedef struct load_ctx {
    rr_tokenizer *tok;
    char json_path[4096];
    char vocab_path[4096];
    char config_path[4096];
    char special_map_path[4096];
    char vocab_json_path[4096];
    char merges_path[4096];
    json_t *cfg;         /* tokenizer_config.json or NULL */
    json_t *special_map; /* special_tokens_map.json or NULL */
    const char *model_dir;
    const char *model_class; /* without a tokenizer_class: the one config.json's model_type maps to
                              * (read by model_type_class, for Unigram tokenizers only) */
    rr_added_token *added; /* growing list, moved into tok at the end */
    int num_added, cap_added;
} load_ctx;

/* ---- small JSON helpers ---------------------------------------------------------------- */

static rr_status load_json(const char *path, json_t **out) {
    char *text;
    size_t len;
    *out = NULL;
    RR_TRY(rr_file_read_all(path, RR_TOKENIZER_FILE_MAX, &text, &len));
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    free(text);
    if (!j)
        return rr_error(RR_ERR_FORMAT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return rr_error(RR_ERR_FORMAT, "%s: the top level is not a JSON object", path);
    }
    *out = j;
    return RR_OK;
}

static rr_status load_optional_json(const char *path, json_t **out) {
    *out = NULL;
    if (!rr_file_exists(path))
        return RR_OK;
    return load_json(path, out);
}

/* A boolean member: absent or null gives def; another type is an error. */
static rr_status json_bool(const json_t *obj, const char *key, int def, int *out,
                           const char *path) {
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return RR_OK;
    }
    if (!json_is_boolean(v))
        return rr_error(RR_ERR_FORMAT, "%s: \"%s\" must be true, false or null", path, key);
    *out = json_is_true(v);
    return RR_OK;
}

/* A token name: a string or an AddedToken object {"content": ...}; NULL when absent. */
static const char *json_token_name(const json_t *v) {
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v)) {
        const json_t *c = json_object_get(v, "content");
        if (json_is_string(c))
            return json_string_value(c);
    }
    return NULL;
}

/* A special token's name from tokenizer_config.json, special_tokens_map.json or the
 * BertTokenizer default. */
static const char *special_name(const load_ctx *lc, const char *key, const char *def) {
    const char *s = json_token_name(json_object_get(lc->cfg, key));
    if (!s)
        s = json_token_name(json_object_get(lc->special_map, key));
    return s ? s : def;
}

/* Is the tokenizer class AutoTokenizer picks `name` (or name + "Fast")? That class is
 * tokenizer_config.json's tokenizer_class or, without one, the class config.json's model_type
 * maps to (lc->model_class). */
static int tclass_is(const load_ctx *lc, const char *name) {
    const char *c = json_string_value(json_object_get(lc->cfg, "tokenizer_class"));
    if (!c)
        c = lc->model_class;
    const size_t n = strlen(name);
    return c && !strncmp(c, name, n) && (c[n] == '\0' || !strcmp(c + n, "Fast"));
}

static const char *type_name(const json_t *obj) {
    const json_t *t = json_is_object(obj) ? json_object_get(obj, "type") : NULL;
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* ---- added tokens ---------------------------------------------------------------------- */

static rr_status add_token(load_ctx *lc, const char *content, int32_t id, int normalized,
                           int single_word, int lstrip, int rstrip) {
    size_t len = strlen(content);
    if (len == 0 || id < 0)
        return RR_OK;
    for (int i = 0; i < lc->num_added; i++) { /* a later entry for the same text wins */
        rr_added_token *t = &lc->added[i];
        if (t->len == len && memcmp(t->content, content, len) == 0) {
            t->id = id;
            t->normalized = normalized;
            t->single_word = single_word;
            t->lstrip = lstrip;
            t->rstrip = rstrip;
            return RR_OK;
        }
    }
    if (lc->num_added == lc->cap_added) {
        int cap = lc->cap_added ? 2 * lc->cap_added : 16;
        rr_added_token *p = realloc(lc->added, (size_t)cap * sizeof *p);
        if (!p)
            return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate added tokens");
        lc->added = p;
        lc->cap_added = cap;
    }
    rr_added_token *t = &lc->added[lc->num_added];
    memset(t, 0, sizeof *t);
    t->content = strdup(content);
    if (!t->content)
        return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate added tokens");
    t->len = len;
    t->id = id;
    t->lstrip = lstrip;
    t->rstrip = rstrip;
    t->normalized = normalized;
    t->single_word = single_word;
    lc->num_added++;
    return RR_OK;
}

/* By id, then by content (qsort is not stable; two entries never share their content). */
static int cmp_added_id(const void *pa, const void *pb) {
    const rr_added_token *a = pa, *b = pb;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return strcmp(a->content, b->content);
}

/* {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}: lstrip and
 * rstrip take the whitespace before / after a match into it (BertPreTokenizer would drop it
 * anyway; Metaspace would not). */
static rr_status add_token_json(load_ctx *lc, const json_t *t, json_int_t id, const char *path) {
    const char *content = json_token_name(t);
    if (!content || id < 0 || id > INT32_MAX)
        return rr_error(RR_ERR_FORMAT, "%s: an added token without content or a valid id", path);
    int special = 0, normalized = 0, single_word = 0, lstrip = 0, rstrip = 0;
    RR_TRY(json_bool(t, "special", 0, &special, path));
    RR_TRY(json_bool(t, "normalized", !special, &normalized, path));
    RR_TRY(json_bool(t, "single_word", 0, &single_word, path));
    RR_TRY(json_bool(t, "lstrip", 0, &lstrip, path));
    RR_TRY(json_bool(t, "rstrip", 0, &rstrip, path));
    return add_token(lc, content, (int32_t)id, normalized, single_word, lstrip, rstrip);
}

/* ---- vocabularies ---------------------------------------------------------------------- */

/* The "##" pieces again, keyed without the prefix: continuation lookups need no copy. */
static rr_status put_token(rr_tokenizer *tok, const char *s, size_t len, int32_t id,
                           const char *prefix, size_t prefix_len) {
    RR_TRY(rr_vocab_put(&tok->vocab, s, len, id));
    if (len >= prefix_len && memcmp(s, prefix, prefix_len) == 0)
        RR_TRY(rr_vocab_put(&tok->cont, s + prefix_len, len - prefix_len, id));
    return RR_OK;
}

static rr_status init_tables(rr_tokenizer *tok, size_t n) {
    RR_TRY(rr_vocab_init(&tok->vocab, n));
    RR_TRY(rr_vocab_init(&tok->cont, n));
    return RR_OK;
}

/* The id of a token of the vocabulary or of the added tokens read so far, or -1. */
static int32_t find_token(const load_ctx *lc, const char *name) {
    int32_t id = name ? rr_tokenizer_token_id(lc->tok, name) : -1;
    for (int i = 0; id < 0 && name && i < lc->num_added; i++)
        if (strcmp(lc->added[i].content, name) == 0)
            id = lc->added[i].id;
    return id;
}

static rr_status lookup_required(load_ctx *lc, const char *what, const char *name,
                                 const char *path, int32_t *id) {
    *id = find_token(lc, name);
    if (*id < 0)
        return rr_error(RR_ERR_FORMAT, "%s: %s token \"%s\" is not in the vocabulary", path, what,
                        name ? name : "(none)");
    return RR_OK;
}

/* ---- tokenizer.json -------------------------------------------------------------------- */

/* TemplateProcessing must be BERT's or MPNet's: single [X] A [Y]; pair [X] A [Y] B [Y] (BERT)
 * or [X] A [Y] [Y] B [Y] (MPNet), type ids 0 up to B, then B and its [Y] of one type t (1 as
 * BERT and MPNet write it; 0 accepted). Fills the [CLS] ([X]) and [SEP] ([Y]) names and ids,
 * the separators between the texts and t. */
static rr_status parse_template(const json_t *pp, const char *path, const char **cls,
                                int32_t *cls_id, const char **sep, int32_t *sep_id,
                                int32_t *pair_seps, int32_t *second_type) {
    static const char *const shapes[3][6] = {{"S", "A", "S"}, {"S", "A", "S", "B", "S"},
                                             {"S", "A", "S", "S", "B", "S"}};
    static const size_t lens[3] = {3, 5, 6};
    const char *names[3][6] = {{0}};
    const json_t *tpl[2] = {json_object_get(pp, "single"), json_object_get(pp, "pair")};
    const size_t npair = json_array_size(tpl[1]);
    const int forms[2] = {0, npair == 6 ? 2 : 1};
    int t = -1;
    for (int which = 0; which < 2; which++) {
        const int f = forms[which];
        if (!json_is_array(tpl[which]) || json_array_size(tpl[which]) != lens[f])
            goto unsupported;
        int seen_b = 0;
        for (size_t i = 0; i < lens[f]; i++) {
            const char *shape = shapes[f][i];
            const json_t *piece = json_array_get(tpl[which], i);
            const json_t *sp = json_object_get(piece, "SpecialToken");
            const json_t *sq = json_object_get(piece, "Sequence");
            const json_t *body = sp ? sp : sq;
            const json_t *tid = json_object_get(body, "type_id");
            const json_t *id = json_object_get(body, "id");
            if (!body || !json_is_integer(tid) || !json_is_string(id))
                goto unsupported;
            seen_b |= shape[0] == 'B';
            const json_int_t ty = json_integer_value(tid);
            if (!seen_b && ty != 0)
                goto unsupported;
            if (seen_b) { /* B and its [Y]: one type, 0 or 1 */
                if ((ty != 0 && ty != 1) || (t >= 0 && ty != t))
                    goto unsupported;
                t = (int)ty;
            }
            if (shape[0] == 'S') {
                if (!sp)
                    goto unsupported;
                names[f][i] = json_string_value(id);
            } else if (!sq || strcmp(json_string_value(id), shape[0] == 'B' ? "B" : "A") != 0) {
                goto unsupported;
            }
        }
    }
    const int f = forms[1];
    for (size_t i = 2; i < lens[f]; i++) /* every [Y] of the pair is the single's [Y] */
        if (names[f][i] && strcmp(names[0][2], names[f][i]))
            goto unsupported;
    if (strcmp(names[0][0], names[f][0]))
        goto unsupported;
    const json_t *specials = json_object_get(pp, "special_tokens");
    for (int k = 0; k < 2; k++) {
        const char *name = names[0][k ? 2 : 0];
        const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
        if (!json_is_array(ids) || json_array_size(ids) != 1 ||
            !json_is_integer(json_array_get(ids, 0)))
            return rr_error(RR_ERR_FORMAT,
                            "%s: post_processor: special token \"%s\" needs exactly one id", path,
                            name);
        json_int_t v = json_integer_value(json_array_get(ids, 0));
        if (v < 0 || v > INT32_MAX)
            return rr_error(RR_ERR_FORMAT, "%s: post_processor: bad id for \"%s\"", path, name);
        if (k) {
            *sep = name;
            *sep_id = (int32_t)v;
        } else {
            *cls = name;
            *cls_id = (int32_t)v;
        }
    }
    *pair_seps = f == 2 ? 2 : 1;
    *second_type = t;
    return RR_OK;
unsupported:
    return rr_error(RR_ERR_UNSUPPORTED,
                    "%s: post_processor TemplateProcessing is neither BERT's nor MPNet's "
                    "([CLS] A [SEP] / [CLS] A [SEP] B [SEP] or [CLS] A [SEP] [SEP] B [SEP], type ids 0 "
                    "up to B)",
                    path);
}

/* BertProcessing: {"sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}; RobertaProcessing has the
 * same two fields ("</s>", "<s>") and writes <s> A </s> </s> B </s>, every type id 0. */
static rr_status parse_bert_processing(const json_t *pp, const char *path, const char **cls,
                                       int32_t *cls_id, const char **sep, int32_t *sep_id) {
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(pp, k ? "sep" : "cls");
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            !json_is_string(json_array_get(v, 0)) || !json_is_integer(json_array_get(v, 1)))
            return rr_error(RR_ERR_FORMAT, "%s: post_processor %s: bad \"%s\"", path,
                            json_string_value(json_object_get(pp, "type")), k ? "sep" : "cls");
        json_int_t id = json_integer_value(json_array_get(v, 1));
        if (id < 0 || id > INT32_MAX)
            return rr_error(RR_ERR_FORMAT, "%s: post_processor: bad id", path);
        if (k) {
            *sep = json_string_value(json_array_get(v, 0));
            *sep_id = (int32_t)id;
        } else {
            *cls = json_string_value(json_array_get(v, 0));
            *cls_id = (int32_t)id;
        }
    }
    return RR_OK;
}

/* WordPiece with BertNormalizer and BertPreTokenizer (BERT, ELECTRA, DistilBERT, MPNet). */
static rr_status load_wordpiece(load_ctx *lc, const json_t *root, const json_t *model, const char **unk_out) {
    rr_tokenizer *tok = lc->tok;
    const char *path = lc->json_path;
    rr_status st = RR_OK;
#define FAIL(...) return rr_error(__VA_ARGS__)
#define TRY(expr) RR_TRY(expr)
    /* model: WordPiece */
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab) || json_object_size(vocab) == 0)
        FAIL(RR_ERR_FORMAT, "%s: model.vocab is missing or empty", path);
    const json_t *prefix_j = json_object_get(model, "continuing_subword_prefix");
    const char *prefix = json_is_string(prefix_j) ? json_string_value(prefix_j) : "##";
    size_t prefix_len = strlen(prefix);
    const json_t *unk_j = json_object_get(model, "unk_token");
    *unk_out = json_is_string(unk_j) ? json_string_value(unk_j) : "[UNK]";
    const json_t *mic = json_object_get(model, "max_input_chars_per_word");
    json_int_t max_chars = json_is_integer(mic) ? json_integer_value(mic) : 100;
    if (max_chars < 0 || max_chars > INT32_MAX)
        FAIL(RR_ERR_FORMAT, "%s: model.max_input_chars_per_word out of range", path);
    tok->info.max_input_chars_per_word = (int32_t)max_chars;

    TRY(init_tables(tok, json_object_size(vocab)));
    const char *key;
    const json_t *val;
    int32_t max_id = -1;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) > INT32_MAX)
            FAIL(RR_ERR_FORMAT, "%s: model.vocab: token \"%s\" has no valid id", path, key);
        int32_t id = (int32_t)json_integer_value(val);
        TRY(put_token(tok, key, strlen(key), id, prefix, prefix_len));
        if (id > max_id)
            max_id = id;
    }
    tok->info.vocab_size = max_id + 1;

    /* normalizer: BertNormalizer */
    const json_t *norm = json_object_get(root, "normalizer");
    const char *ntype = type_name(norm);
    if (!ntype || strcmp(ntype, "BertNormalizer") != 0)
        FAIL(RR_ERR_UNSUPPORTED, "%s: normalizer \"%s\" is not supported (only BertNormalizer)",
             path, ntype ? ntype : (json_is_null(norm) || !norm ? "null" : "(untyped)"));
    int lowercase = 1, strip = 1;
    TRY(json_bool(norm, "clean_text", 1, &tok->norm.clean_text, path));
    TRY(json_bool(norm, "handle_chinese_chars", 1, &tok->norm.handle_chinese_chars, path));
    TRY(json_bool(norm, "lowercase", 1, &lowercase, path));
    TRY(json_bool(norm, "strip_accents", lowercase, &strip, path)); /* null follows lowercase */
    tok->norm.lowercase = lowercase;
    tok->norm.strip_accents = strip;

    /* pre_tokenizer: BertPreTokenizer */
    const json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *ptype = type_name(pre);
    if (!ptype || strcmp(ptype, "BertPreTokenizer") != 0)
        FAIL(RR_ERR_UNSUPPORTED,
             "%s: pre_tokenizer \"%s\" is not supported (only BertPreTokenizer)", path,
             ptype ? ptype : (json_is_null(pre) || !pre ? "null" : "(untyped)"));

    return st;
#undef FAIL
#undef TRY
}

/* transformers 5's CamembertTokenizer: Unigram(vocab, unk_id = the index of the first piece named
 * unk_token, else 0), whatever tokenizer.json's model.unk_id says. */
static int32_t camembert_unk_id(const json_t *model, const char *unk) {
    const json_t *vocab = json_object_get(model, "vocab"), *p;
    size_t i;
    json_array_foreach(vocab, i, p) {
        const char *s = json_string_value(json_array_get(p, 0));
        if (s && !strcmp(s, unk))
            return (int32_t)i;
    }
    return 0;
}

static const char *cpath_or(const load_ctx *lc) { return lc->cfg ? lc->config_path : lc->json_path; }

/* CamembertTokenizer's added tokens beyond the file's: its additional special tokens
 * (tokenizer_config.json's extra_special_tokens, else additional_special_tokens, else its default
 * "<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED") and the named special tokens, all special (not
 * normalized). One in the vocabulary takes its id there; one in neither the vocabulary nor the
 * file's added tokens takes the next id after both, as transformers appends it. */
static rr_status add_camembert_tokens(load_ctx *lc, const char *path) {
    static const char *const defaults[] = {"<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"};
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                       "cls_token", "mask_token"};
    static const char *const defs[] = {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"};
    const json_t *extra = json_object_get(lc->cfg, "extra_special_tokens");
    if (!extra || json_is_null(extra))
        extra = json_object_get(lc->cfg, "additional_special_tokens");
    if (extra && !json_is_null(extra) && !json_is_array(extra))
        return rr_error(RR_ERR_FORMAT, "%s: \"extra_special_tokens\" / \"additional_special_tokens\" is not a list",
                        path);
    const size_t n_extra = extra && json_is_array(extra) ? json_array_size(extra) : 3;
    int32_t next = lc->tok->spm->num_pieces;
    for (int i = 0; i < lc->num_added; i++)
        if (lc->added[i].id >= next)
            next = lc->added[i].id + 1;
    for (size_t k = 0; k < 7 + n_extra; k++) {
        const char *name = k < 7 ? special_name(lc, keys[k], defs[k])
                         : extra && json_is_array(extra) ? json_token_name(json_array_get(extra, k - 7))
                                                         : defaults[k - 7];
        if (!name)
            return rr_error(RR_ERR_FORMAT, "%s: an additional special token that is not a string", path);
        int known = 0;
        for (int i = 0; i < lc->num_added; i++)
            known |= !strcmp(lc->added[i].content, name);
        if (known)
            continue;
        const int32_t id = rr_vocab_get(&lc->tok->vocab, name, strlen(name));
        RR_TRY(add_token(lc, name, id >= 0 ? id : next++, 0, 0, 0, 0));
    }
    return RR_OK;
}

/* Without a tokenizer_class in tokenizer_config.json, AutoTokenizer takes the class that
 * config.json's model_type is registered with; of the Unigram ones read differently here,
 * XLM-RoBERTa's, CamemBERT's and DeBERTa-v2's. */
static rr_status model_type_class(load_ctx *lc) {
    if (json_is_string(json_object_get(lc->cfg, "tokenizer_class")))
        return RR_OK;
    char path[4096];
    json_t *cfg = NULL;
    RR_TRY(rr_path_join(path, sizeof path, lc->model_dir, "config.json"));
    RR_TRY(load_optional_json(path, &cfg));
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    if (mt && !strcmp(mt, "deberta-v2"))
        lc->model_class = "DebertaV2Tokenizer";
    else if (mt && !strcmp(mt, "xlm-roberta"))
        lc->model_class = "XLMRobertaTokenizer";
    else if (mt && !strcmp(mt, "roberta"))
        lc->model_class = "RobertaTokenizer";
    else if (mt && !strcmp(mt, "camembert"))
        lc->model_class = "CamembertTokenizer";
    json_decref(cfg);
    return RR_OK;
}

/* A tokenizer.json document (root, taken over) read from path. */
static rr_status load_tokenizer_root(load_ctx *lc, json_t *root, const char *path) {
    rr_tokenizer *tok = lc->tok;
    rr_status st = RR_OK;
#define FAIL(...)                                                                          \
    do {                                                                                   \
        st = rr_error(__VA_ARGS__);                                                        \
        goto done;                                                                         \
    } while (0)
#define TRY(expr)                                                                          \
    do {                                                                                   \
        if ((st = (expr)) != RR_OK)                                                        \
            goto done;                                                                     \
    } while (0)

    /* model: WordPiece or Unigram */
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        FAIL(RR_ERR_FORMAT, "%s: no \"model\" object", path);
    const char *mtype = type_name(model);
    if (!mtype && json_object_get(model, "max_input_chars_per_word"))
        mtype = "WordPiece"; /* files from before the "type" tag */
    const char *unk = NULL;
    int deberta = 0; /* read as transformers' DebertaV2Tokenizer */
    int roberta = 0; /* read as transformers' RobertaTokenizer */
    int camembert = 0; /* read as transformers' CamembertTokenizer */
    if (mtype && !strcmp(mtype, "WordPiece"))
        TRY(load_wordpiece(lc, root, model, &unk));
    else if (mtype && !strcmp(mtype, "Unigram")) {
        if (!(tok->spm = calloc(1, sizeof *tok->spm)))
            FAIL(RR_ERR_NOMEM, "%s: cannot allocate a tokenizer", path);
        /* As transformers 5 loads the file (what sentence-transformers scores with): its
         * XLMRobertaTokenizer class keeps the file's vocabulary, charsmap and added tokens only;
         * its DebertaV2Tokenizer keeps the vocabulary alone (added tokens from
         * tokenizer_config.json when it lists them) and builds the rest itself, so nothing else
         * of the file is read. Any other class (PreTrainedTokenizerFast...) is read as the file
         * says. */
        const char *cpath = lc->config_path;
        TRY(model_type_class(lc));
        if (tclass_is(lc, "DebertaV2Tokenizer")) {
            deberta = 1;
            const char *unk_name = json_token_name(json_object_get(lc->cfg, "unk_token"));
            const json_t *cfg_unk = json_object_get(lc->cfg, "unk_id");
            unk = unk_name ? unk_name : "[UNK]";
            TRY(rr_spm_load_deberta(tok->spm, &tok->vocab, model, unk,
                                    json_is_integer(cfg_unk) ? (long long)json_integer_value(cfg_unk) : -1, path));
            int lower = 0, punct = 0, aps = 1;
            TRY(json_bool(lc->cfg, "do_lower_case", 0, &lower, cpath));
            TRY(json_bool(lc->cfg, "split_by_punct", 0, &punct, cpath));
            TRY(json_bool(lc->cfg, "add_prefix_space", 1, &aps, cpath));
            TRY(rr_spm_as_deberta_tokenizer(tok->spm, lower, punct, aps, path));
        } else {
            TRY(rr_spm_load(tok->spm, &tok->vocab, model, json_object_get(root, "normalizer"),
                            json_object_get(root, "pre_tokenizer"), path, &unk));
            camembert = tclass_is(lc, "CamembertTokenizer");
            if (camembert || tclass_is(lc, "XLMRobertaTokenizer")) {
                int aps = 1;
                TRY(json_bool(lc->cfg, "add_prefix_space", 1, &aps, cpath));
                rr_spm_as_xlmr_tokenizer(tok->spm, aps);
            }
            if (camembert) /* its unknown id: the first piece named unk_token, else 0 (not model.unk_id) */
                tok->spm->unk_id = camembert_unk_id(model, special_name(lc, "unk_token", "<unk>"));
        }
        tok->info.vocab_size = tok->spm->num_pieces;
        tok->info.max_input_chars_per_word = INT32_MAX;
    } else if (mtype && !strcmp(mtype, "BPE")) {
        if (!(tok->bpe = calloc(1, sizeof *tok->bpe)))
            FAIL(RR_ERR_NOMEM, "%s: cannot allocate a tokenizer", path);
        /* transformers 5's RobertaTokenizer keeps the vocabulary and merges alone and builds
         * the rest itself (ByteLevel with tokenizer_config.json's add_prefix_space, no unknown
         * token, RobertaProcessing, added tokens as DebertaV2Tokenizer takes them); any other
         * class is read as the file says. */
        TRY(model_type_class(lc));
        roberta = tclass_is(lc, "RobertaTokenizer");
        int aps = 0;
        if (roberta)
            TRY(json_bool(lc->cfg, "add_prefix_space", 0, &aps, lc->config_path));
        TRY(rr_bpe_load(tok->bpe, &tok->vocab, model, json_object_get(root, "normalizer"),
                        json_object_get(root, "pre_tokenizer"), roberta, aps, path, &unk));
        if (!unk)
            unk = special_name(lc, "unk_token", "<unk>");
        tok->info.vocab_size = tok->bpe->vocab_size;
        tok->info.max_input_chars_per_word = INT32_MAX;
    } else
        FAIL(RR_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (WordPiece, as BERT's "
             "tokenizers; Unigram, as XLM-RoBERTa's and DeBERTa-v2's; BPE, as RoBERTa's)", path,
             mtype ? mtype : "(none)");
    const int own_added = deberta || roberta; /* the class's added tokens, not the file's */

    /* added tokens, before the special ids are looked up (they may live only there);
     * DebertaV2Tokenizer takes tokenizer_config.json's added_tokens_decoder instead when there
     * is one, then the named special tokens it lacks */
    const json_t *decoder = own_added ? json_object_get(lc->cfg, "added_tokens_decoder") : NULL;
    if (decoder && !json_is_null(decoder)) {
        if (!json_is_object(decoder))
            FAIL(RR_ERR_FORMAT, "%s: \"added_tokens_decoder\" is not an object", lc->config_path);
        const char *key;
        const json_t *t;
        json_object_foreach((json_t *)decoder, key, t) {
            char *endp;
            long long v = strtoll(key, &endp, 10);
            if (*key == '\0' || *endp != '\0' || v < 0 || v > INT32_MAX)
                FAIL(RR_ERR_FORMAT, "%s: added_tokens_decoder: bad id \"%s\"", lc->config_path, key);
            TRY(add_token_json(lc, t, (json_int_t)v, lc->config_path));
        }
    } else {
        const json_t *added = json_object_get(root, "added_tokens");
        if (added && !json_is_null(added)) {
            if (!json_is_array(added))
                FAIL(RR_ERR_FORMAT, "%s: \"added_tokens\" is not an array", path);
            size_t i;
            const json_t *t;
            json_array_foreach(added, i, t) {
                const json_t *id = json_object_get(t, "id");
                TRY(add_token_json(lc, t, json_is_integer(id) ? json_integer_value(id) : -1, path));
            }
        }
    }
    if (own_added) {
        /* transformers adds them to its new model in the order of their ids: one that is in
         * the vocabulary takes its id there, any other the next id after the vocabulary's (the
         * ids the files write are not used) */
        if (lc->num_added > 1)
            qsort(lc->added, (size_t)lc->num_added, sizeof *lc->added, cmp_added_id);
        int32_t next = deberta ? tok->spm->num_pieces : tok->bpe->vocab_size;
        for (int i = 0; i < lc->num_added; i++) {
            rr_added_token *t = &lc->added[i];
            const int32_t pid = rr_vocab_get(&tok->vocab, t->content, t->len);
            t->id = pid >= 0 ? pid : next++;
        }
        static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
                                           "bos_token", "eos_token"};
        static const char *const defs[2][7] = {{"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]", "[CLS]", "[SEP]"},
                                               {"<unk>", "</s>", "<pad>", "<s>", "<mask>", "<s>", "</s>"}};
        for (int k = 0; k < 7; k++) {
            const char *name = special_name(lc, keys[k], defs[roberta][k]);
            int known = 0;
            for (int i = 0; i < lc->num_added; i++)
                known |= !strcmp(lc->added[i].content, name);
            int32_t sid = rr_vocab_get(&tok->vocab, name, strlen(name));
            if (!known && sid >= 0)
                TRY(add_token(lc, name, sid, 0, 0, 0, 0));
        }
    }

    if (camembert)
        TRY(add_camembert_tokens(lc, cpath_or(lc)));

    /* post_processor: BERT's template */
    const json_t *pp = json_object_get(root, "post_processor");
    const char *pptype = type_name(pp);
    const char *cls = NULL, *sep = NULL;
    int32_t cls_id = -1, sep_id = -1;
    tok->info.pair_seps = 1;
    tok->info.pair_second_type = 1;
    if (camembert) { /* whatever the file says: bos A eos eos B eos, all of type 0 */
        cls = special_name(lc, "bos_token", "<s>");
        sep = special_name(lc, "eos_token", "</s>");
        TRY(lookup_required(lc, "[CLS]", cls, lc->config_path, &cls_id));
        TRY(lookup_required(lc, "[SEP]", sep, lc->config_path, &sep_id));
        tok->info.pair_seps = 2;
        tok->info.pair_second_type = 0;
    } else if (own_added) { /* whatever the file says: DeBERTa [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1;
                      * RoBERTa RobertaProcessing, <s> A </s> </s> B </s> all of type 0 */
        cls = special_name(lc, "cls_token", roberta ? "<s>" : "[CLS]");
        sep = special_name(lc, "sep_token", roberta ? "</s>" : "[SEP]");
        TRY(lookup_required(lc, "[CLS]", cls, lc->config_path, &cls_id));
        TRY(lookup_required(lc, "[SEP]", sep, lc->config_path, &sep_id));
        if (roberta) {
            tok->info.pair_seps = 2;
            tok->info.pair_second_type = 0;
        }
    } else if (pptype && strcmp(pptype, "TemplateProcessing") == 0)
        TRY(parse_template(pp, path, &cls, &cls_id, &sep, &sep_id, &tok->info.pair_seps,
                           &tok->info.pair_second_type));
    else if (pptype && (!strcmp(pptype, "BertProcessing") || !strcmp(pptype, "RobertaProcessing"))) {
        TRY(parse_bert_processing(pp, path, &cls, &cls_id, &sep, &sep_id));
        if (pptype[0] == 'R') {
            tok->info.pair_seps = 2;
            tok->info.pair_second_type = 0;
        }
    } else
        FAIL(RR_ERR_UNSUPPORTED,
             "%s: post_processor \"%s\" is not supported (TemplateProcessing, BertProcessing or "
             "RobertaProcessing)", path, pptype ? pptype : "null");
    int32_t check;
    TRY(lookup_required(lc, "[CLS]", cls, path, &check));
    TRY(lookup_required(lc, "[SEP]", sep, path, &check));
    tok->info.cls_id = cls_id; /* the ids the template writes, as Hugging Face does */
    tok->info.sep_id = sep_id;
    if (tok->bpe) /* BPE may have no unknown token: a byte it cannot spell is dropped */
        tok->info.unk_id = tok->bpe->unk_id >= 0 ? tok->bpe->unk_id : find_token(lc, unk);
    else
        TRY(lookup_required(lc, "unknown", unk, path, &tok->info.unk_id));
    if (tok->spm)
        tok->info.unk_id = tok->spm->unk_id; /* Unigram names it by id */

    const json_t *padding = json_object_get(root, "padding");
    const char *pad = json_token_name(json_object_get(padding, "pad_token"));
    if (!pad)
        pad = json_token_name(json_object_get(lc->cfg, "pad_token"));
    if (!pad) /* unnamed: XLM-R's <pad> in a Unigram vocabulary that has one, else BERT's and DeBERTa's */
        pad = (tok->spm || tok->bpe) && !deberta && find_token(lc, "<pad>") >= 0 ? "<pad>" : "[PAD]";
    TRY(lookup_required(lc, "padding", pad, path, &tok->info.pad_id));
done:
    json_decref(root);
    return st;
#undef FAIL
#undef TRY
}

static rr_status load_tokenizer_json(load_ctx *lc) {
    json_t *root;
    RR_TRY(load_json(lc->json_path, &root));
    return load_tokenizer_root(lc, root, lc->json_path);
}

/* ---- vocab.json + merges.txt (RoBERTa's files without a tokenizer.json) ----------------- */

/* merges.txt: an optional "#version" line, then one merge per line, "a b" (one space); as the
 * tokenizers library reads it. Appended to merges as strings. */
static rr_status read_merges_txt(const char *path, json_t *merges) {
    char *text;
    size_t len;
    RR_TRY(rr_file_read_all(path, RR_TOKENIZER_FILE_MAX, &text, &len));
    rr_status st = RR_OK;
    size_t start = 0;
    for (long long line = 1; start < len && st == RR_OK; line++) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len, next = nl ? end + 1 : len;
        if (end > start && text[end - 1] == '\r')
            end--;
        const char *l = text + start;
        const size_t n = end - start;
        start = next;
        if (n >= 8 && memcmp(l, "#version", 8) == 0)
            continue;
        const char *sp = memchr(l, ' ', n);
        if (!sp || sp == l || sp == l + n - 1 || memchr(sp + 1, ' ', (size_t)(l + n - sp - 1))) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: expected two tokens separated by one space", path, line);
            break;
        }
        json_t *m = json_stringn(l, n);
        if (!m) {
            st = rr_error(RR_ERR_FORMAT, "%s:%lld: invalid UTF-8", path, line);
            break;
        }
        if (json_array_append_new(merges, m) != 0)
            st = rr_error(RR_ERR_NOMEM, "%s: cannot allocate the merges", path);
    }
    free(text);
    return st;
}

/* transformers 5's RobertaTokenizer reads these two when a directory has no tokenizer.json
 * (older hub checkpoints): the same tokenizer as from a tokenizer.json's BPE model. */
static rr_status load_vocab_merges(load_ctx *lc) {
    RR_TRY(model_type_class(lc));
    if (!tclass_is(lc, "RobertaTokenizer"))
        return rr_error(RR_ERR_UNSUPPORTED,
                        "%s: vocab.json + merges.txt without a tokenizer.json are read only for RoBERTa "
                        "(tokenizer_class RobertaTokenizer, or config.json's model_type roberta)",
                        lc->model_dir);
    json_t *vocab;
    RR_TRY(load_json(lc->vocab_json_path, &vocab));
    json_t *merges = json_array(), *model = json_object(), *root = json_object();
    if (!merges || !model || !root) {
        json_decref(vocab);
        json_decref(merges);
        json_decref(model);
        json_decref(root);
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a tokenizer", lc->model_dir);
    }
    /* each _new call takes its value, on failure too */
    int bad = json_object_set_new(model, "vocab", vocab);
    bad |= json_object_set_new(model, "type", json_string("BPE"));
    bad |= json_object_set(model, "merges", merges);
    bad |= json_object_set_new(root, "model", model);
    rr_status st = bad ? rr_error(RR_ERR_NOMEM, "%s: cannot allocate a tokenizer", lc->model_dir)
                       : read_merges_txt(lc->merges_path, merges);
    json_decref(merges);
    if (st != RR_OK) {
        json_decref(root);
        return st;
    }
    return load_tokenizer_root(lc, root, lc->merges_path);
}

/* ---- vocab.txt + tokenizer_config.json ------------------------------------------------- */

/* Length of s[0..len) (valid UTF-8) without its trailing whitespace (Rust's str::trim_end). */
static size_t utf8_trim_end(const char *s, size_t len) {
    while (len > 0) {
        size_t start = len - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80)
            start--;
        int32_t cp = 0;
        unsigned char b = (unsigned char)s[start];
        size_t n = len - start;
        cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
        for (size_t k = 1; k < n; k++)
            cp = (cp << 6) | ((unsigned char)s[start + k] & 0x3F);
        if (!rr_hf_is_whitespace(cp))
            break;
        len = start;
    }
    return len;
}

static rr_status load_vocab_txt(load_ctx *lc) {
    rr_tokenizer *tok = lc->tok;
    const char *path = lc->vocab_path;
    char *text;
    size_t len;
    RR_TRY(rr_file_read_all(path, RR_TOKENIZER_FILE_MAX, &text, &len));
    /* As the `tokenizers` library reads it (WordPiece::read_file, which transformers uses):
     * lines end at \n, a token is its line with trailing whitespace trimmed (\r included),
     * its id is the line's index. */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        lines++;
    rr_status st = RR_OK;
    if (lines == 0)
        st = rr_error(RR_ERR_FORMAT, "%s: empty vocabulary", path);
    if (lines > INT32_MAX)
        st = rr_error(RR_ERR_FORMAT, "%s: too many lines", path);
    if (st == RR_OK)
        st = init_tables(tok, lines);
    int32_t id = 0;
    for (size_t start = 0; st == RR_OK && start < len; id++) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t tlen = end - start;
        if (rr_utf8_invalid_at((const unsigned char *)text + start, tlen) < tlen) {
            st = rr_error(RR_ERR_FORMAT, "%s:%d: invalid UTF-8", path, (int)id + 1);
            break;
        }
        tlen = utf8_trim_end(text + start, tlen);
        st = put_token(tok, text + start, tlen, id, "##", 2);
        start = end + 1;
    }
    free(text);
    RR_TRY(st);
    tok->info.vocab_size = id;
    tok->info.max_input_chars_per_word = 100;

    /* BertTokenizer's options; transformers converts them into a BertNormalizer with
     * clean_text on. */
    const char *cpath = lc->config_path;
    int lowercase = 1, strip = 1, chinese = 1;
    RR_TRY(json_bool(lc->cfg, "do_lower_case", 1, &lowercase, cpath));
    RR_TRY(json_bool(lc->cfg, "strip_accents", lowercase, &strip, cpath));
    RR_TRY(json_bool(lc->cfg, "tokenize_chinese_chars", 1, &chinese, cpath));
    tok->norm.clean_text = 1;
    tok->norm.handle_chinese_chars = chinese;
    tok->norm.lowercase = lowercase;
    tok->norm.strip_accents = strip;

    /* The special tokens are added tokens (never normalized), so "[SEP]" written in a
     * text is the token [SEP]; so are tokens listed in added_tokens_decoder. */
    static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token",
                                       "mask_token"};
    static const char *const defs[2][5] = {{"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"},
                                           {"[UNK]", "</s>", "<pad>", "<s>", "<mask>"}};
    /* MPNetTokenizer: its own defaults, and RobertaProcessing (<s> a </s> </s> b </s>, type
     * ids 0) as transformers builds it */
    const char *tclass = json_string_value(json_object_get(lc->cfg, "tokenizer_class"));
    const int mpnet = tclass && !strncmp(tclass, "MPNetTokenizer", 14);
    tok->info.pair_seps = mpnet ? 2 : 1;
    tok->info.pair_second_type = mpnet ? 0 : 1;
    const char *names[5];
    for (int k = 0; k < 5; k++) {
        names[k] = special_name(lc, keys[k], defs[mpnet][k]);
        int32_t sid = rr_tokenizer_token_id(tok, names[k]);
        if (sid >= 0)
            RR_TRY(add_token(lc, names[k], sid, 0, 0, 0, 0));
    }
    const json_t *extra = json_object_get(lc->cfg, "additional_special_tokens");
    if (!extra)
        extra = json_object_get(lc->special_map, "additional_special_tokens");
    if (json_is_array(extra)) {
        size_t i;
        const json_t *t;
        json_array_foreach(extra, i, t) {
            const char *name = json_token_name(t);
            int32_t sid = name ? rr_tokenizer_token_id(tok, name) : -1;
            if (sid >= 0)
                RR_TRY(add_token(lc, name, sid, 0, 0, 0, 0));
        }
    }
    const json_t *decoder = json_object_get(lc->cfg, "added_tokens_decoder");
    if (json_is_object(decoder)) {
        const char *key;
        const json_t *t;
        json_object_foreach((json_t *)decoder, key, t) {
            char *endp;
            long long v = strtoll(key, &endp, 10);
            if (*key == '\0' || *endp != '\0')
                return rr_error(RR_ERR_FORMAT, "%s: added_tokens_decoder: bad id \"%s\"", cpath,
                                key);
            RR_TRY(add_token_json(lc, t, (json_int_t)v, cpath));
        }
    }
    RR_TRY(lookup_required(lc, "unknown", names[0], path, &tok->info.unk_id));
    RR_TRY(lookup_required(lc, "[SEP]", names[1], path, &tok->info.sep_id));
    RR_TRY(lookup_required(lc, "padding", names[2], path, &tok->info.pad_id));
    RR_TRY(lookup_required(lc, "[CLS]", names[3], path, &tok->info.cls_id));
    return RR_OK;
}

/* ---- finishing ------------------------------------------------------------------------- */

/* By first byte (the empty ones first), then longest first: added_match tries the tokens of one
 * first byte (tok->added_from / added_to), and the first that matches is the longest. */
static int cmp_added(const void *pa, const void *pb) {
    const rr_added_token *a = pa, *b = pb;
    const int fa = a->match_len ? 1 + (uint8_t)a->match[0] : 0, fb = b->match_len ? 1 + (uint8_t)b->match[0] : 0;
    if (fa != fb)
        return fa < fb ? -1 : 1;
    if (a->match_len != b->match_len)
        return a->match_len > b->match_len ? -1 : 1;
    return memcmp(a->match, b->match, a->match_len);
}

static rr_status finish(load_ctx *lc) {
    rr_tokenizer *tok = lc->tok;
    rr_tokenizer_info *info = &tok->info;
    info->lowercase = tok->norm.lowercase;
    info->strip_accents = tok->norm.strip_accents;
    info->handle_chinese_chars = tok->norm.handle_chinese_chars;
    info->clean_text = tok->norm.clean_text;
    rr_text_opts_prepare(&tok->norm);
    memset(&tok->ident, 0, sizeof tok->ident);
    rr_text_opts_prepare(&tok->ident);

    info->model_max_length = 512;
    const json_t *mml = json_object_get(lc->cfg, "model_max_length");
    if (json_is_integer(mml) && json_integer_value(mml) > 0 &&
        json_integer_value(mml) <= INT32_MAX)
        info->model_max_length = (int32_t)json_integer_value(mml);
    /* (transformers writes 1e30 for "no limit": treated as absent) */

    for (int b = 0; b < 128; b++) {
        char s[1] = {(char)b};
        int32_t id = rr_vocab_get(&tok->vocab, s, 1);
        tok->ascii_single_id[b] = (id >= 0 && info->max_input_chars_per_word >= 1) ? id
                                                                                  : info->unk_id;
    }

    /* Added tokens move into the tokenizer; "normalized" ones are searched for in their
     * normalized form, as AddedVocabulary does. */
    tok->added = lc->added;
    tok->num_added = lc->num_added;
    lc->added = NULL;
    lc->num_added = lc->cap_added = 0;
    for (int i = 0; i < tok->num_added; i++) {
        rr_added_token *t = &tok->added[i];
        if (t->normalized && tok->bpe && tok->bpe->norm)
            RR_TRY(rr_spm_normalize_alloc(tok->bpe->norm, t->content, t->len, &t->match, &t->match_len));
        else if (t->normalized && tok->bpe) { /* no normalizer */
            t->match = t->content;
            t->match_len = t->len;
        } else if (t->normalized && tok->spm)
            RR_TRY(rr_spm_normalize_alloc(tok->spm, t->content, t->len, &t->match, &t->match_len));
        else if (t->normalized)
            RR_TRY(rr_text_normalize_alloc(&tok->norm, t->content, t->len, &t->match,
                                           &t->match_len));
        else {
            t->match = t->content;
            t->match_len = t->len;
        }
        if (t->id >= info->vocab_size)
            info->vocab_size = t->id + 1;
    }
    if (tok->num_added > 1)
        qsort(tok->added, (size_t)tok->num_added, sizeof *tok->added, cmp_added);
    for (int i = 0; i < tok->num_added; i++) {
        rr_added_token *t = &tok->added[i];
        if (t->match_len == 0)
            continue;
        uint8_t first = (uint8_t)t->match[0];
        if (tok->added_to[first] == 0)
            tok->added_from[first] = i;
        tok->added_to[first] = i + 1;
        if (t->normalized) {
            tok->norm_first[first] = 1;
            tok->has_normalized_added = 1;
        } else {
            tok->raw_first[first] = 1;
            tok->has_raw_added = 1;
        }
    }
    return RR_OK;
}


rr_status rr_tokenizer_load(const char *model_dir, rr_tokenizer **out) {
    if (!out)
        return rr_error(RR_ERR_INVALID_ARG, "rr_tokenizer_load: NULL output");
    *out = NULL;
    if (!model_dir)
        return rr_error(RR_ERR_INVALID_ARG, "rr_tokenizer_load: NULL model directory");
    struct stat st_dir;
    if (stat(model_dir, &st_dir) != 0 || !S_ISDIR(st_dir.st_mode))
        return rr_error(RR_ERR_NOT_FOUND, "%s: no such model directory", model_dir);

    load_ctx lc;
    memset(&lc, 0, sizeof lc);
    lc.model_dir = model_dir;
    lc.tok = calloc(1, sizeof(rr_tokenizer));
    if (!lc.tok)
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a tokenizer", model_dir);
    rr_status st;
    if ((st = rr_path_join(lc.json_path, sizeof lc.json_path, model_dir, "tokenizer.json")) ||
        (st = rr_path_join(lc.vocab_path, sizeof lc.vocab_path, model_dir, "vocab.txt")) ||
        (st = rr_path_join(lc.config_path, sizeof lc.config_path, model_dir,
                           "tokenizer_config.json")) ||
        (st = rr_path_join(lc.special_map_path, sizeof lc.special_map_path, model_dir,
                           "special_tokens_map.json")) ||
        (st = rr_path_join(lc.vocab_json_path, sizeof lc.vocab_json_path, model_dir, "vocab.json")) ||
        (st = rr_path_join(lc.merges_path, sizeof lc.merges_path, model_dir, "merges.txt")))
        goto fail;
    if ((st = load_optional_json(lc.config_path, &lc.cfg)) ||
        (st = load_optional_json(lc.special_map_path, &lc.special_map)))
        goto fail;
    if (rr_file_exists(lc.json_path))
        st = load_tokenizer_json(&lc);
    else if (rr_file_exists(lc.vocab_path))
        st = load_vocab_txt(&lc);
    else if (rr_file_exists(lc.vocab_json_path) && rr_file_exists(lc.merges_path))
        st = load_vocab_merges(&lc);
    else
        st = rr_error(RR_ERR_NOT_FOUND, "%s: no tokenizer.json, vocab.txt, or vocab.json + merges.txt in the "
                      "model directory", model_dir);
    if (st == RR_OK)
        st = finish(&lc);
    if (st != RR_OK)
        goto fail;
    json_decref(lc.cfg);
    json_decref(lc.special_map);
    *out = lc.tok;
    return RR_OK;
fail:
    for (int i = 0; i < lc.num_added; i++)
        free(lc.added[i].content);
    free(lc.added);
    json_decref(lc.cfg);
    json_decref(lc.special_map);
    rr_tokenizer_free(lc.tok);
    return st;
}

void rr_tokenizer_free(rr_tokenizer *tok) {
    if (!tok)
        return;
    rr_vocab_free(&tok->vocab);
    rr_vocab_free(&tok->cont);
    rr_spm_free(tok->spm);
    free(tok->spm);
    rr_bpe_free(tok->bpe);
    free(tok->bpe);
    for (int i = 0; i < tok->num_added; i++) {
        if (tok->added[i].match != tok->added[i].content)
            free(tok->added[i].match);
        free(tok->added[i].content);
    }
    free(tok->added);
    free(tok);
}

rr_tokenizer_info rr_tokenizer_get_info(const rr_tokenizer *tok) {
    rr_tokenizer_info none;
    memset(&none, 0, sizeof none);
    return tok ? tok->info : none;
}

int32_t rr_tokenizer_token_id(const rr_tokenizer *tok, const char *token) {
    if (!tok || !token)
        return -1;
    size_t len = strlen(token);
    int32_t id = rr_vocab_get(&tok->vocab, token, len);
    if (id >= 0)
        return id;
    for (int i = 0; i < tok->num_added; i++)
        if (tok->added[i].len == len && memcmp(tok->added[i].content, token, len) == 0)
            return tok->added[i].id;
    return -1;
}
