/* io/hf_config.c — config.json and sentence-transformers module configs, via jansson. */
#define _POSIX_C_SOURCE 200809L
#include "io/hf_config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/file.h"
#include "util/json_where.h"

enum { CONFIG_MAX_BYTES = 16 << 20 }; /* a config.json is a few KB; refuse anything absurd */

/* An integer field in [lo, hi]; missing -> def (or an error when def < 0). */
static rr_status get_int(const rr_json_doc *d, const char *key, int def, int lo, int hi, int *out) {
    json_t *v = json_object_get(d->root, key);
    char at[4200];
    if (!v || json_is_null(v)) {
        if (def < 0)
            return rr_error(RR_ERR_FORMAT, "%s: required field \"%s\" is missing", d->path, key);
        *out = def;
        return RR_OK;
    }
    if (!json_is_integer(v))
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" must be an integer", rr_json_where(d, key, at, sizeof at),
                        key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" = %lld is outside [%d, %d]",
                        rr_json_where(d, key, at, sizeof at), key, (long long)x, lo, hi);
    *out = (int)x;
    return RR_OK;
}

/* A boolean field; missing or null -> def. */
static rr_status get_bool(const rr_json_doc *d, const char *key, int def, int *out) {
    json_t *v = json_object_get(d->root, key);
    char at[4200];
    if (!v || json_is_null(v)) {
        *out = def;
        return RR_OK;
    }
    if (!json_is_boolean(v))
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" must be true or false", rr_json_where(d, key, at, sizeof at),
                        key);
    *out = json_is_true(v);
    return RR_OK;
}

/* An optional string field: *out stays NULL when it is absent or null. */
static rr_status get_string(const rr_json_doc *d, const char *key, const char **out) {
    json_t *v = json_object_get(d->root, key);
    char at[4200];
    if (v && !json_is_null(v) && !json_is_string(v))
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" must be a string", rr_json_where(d, key, at, sizeof at), key);
    *out = json_string_value(v);
    return RR_OK;
}

/* An activation name of the heads: transformers' ACT2FN "gelu" (erf), "tanh", "relu". */
static int parse_head_act(const char *name, rr_activation *out) {
    static const struct {
        const char *name;
        rr_activation act;
    } acts[] = {{"gelu", RR_ACT_GELU}, {"tanh", RR_ACT_TANH}, {"relu", RR_ACT_RELU}};
    for (size_t i = 0; name && i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(name, acts[i].name)) {
            *out = acts[i].act;
            return 1;
        }
    return 0;
}

/* The next of "|"-separated names in s (strtok_r's protocol), trimmed of spaces and lower-cased
 * as DebertaV2Config and DebertaV2Encoder read pos_att_type and norm_rel_ebd. */
static char *next_name(char *s, char **save) {
    char *tok = strtok_r(s, "|", save);
    if (!tok)
        return NULL;
    while (*tok == ' ')
        tok++;
    size_t len = strlen(tok);
    while (len && tok[len - 1] == ' ')
        tok[--len] = 0;
    for (char *q = tok; *q; q++)
        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
    return tok;
}

/* The "|"-separated or listed names of pos_att_type ("c2p", "p2c"), lower-cased and trimmed as
 * DebertaV2Config reads them; any other name is refused (transformers would ignore it). */
static rr_status deberta_att_types(const rr_json_doc *d, rr_bert_config *c) {
    json_t *v = json_object_get(d->root, "pos_att_type");
    char at[4200], buf[256];
    if (!v || json_is_null(v))
        return RR_OK;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v))
        return rr_error(RR_ERR_FORMAT, "%s: pos_att_type must be a list of strings or a \"|\"-separated string",
                        rr_json_where(d, "pos_att_type", at, sizeof at));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
        if (!s)
            return rr_error(RR_ERR_FORMAT, "%s: pos_att_type must be a list of strings",
                            rr_json_where(d, "pos_att_type", at, sizeof at));
        snprintf(buf, sizeof buf, "%s", s);
        char *save = NULL;
        for (char *tok = next_name(buf, &save); tok; tok = next_name(NULL, &save)) {
            if (!strcmp(tok, "c2p"))
                c->rel_c2p = 1;
            else if (!strcmp(tok, "p2c"))
                c->rel_p2c = 1;
            else
                return rr_error(RR_ERR_UNSUPPORTED, "%s: pos_att_type \"%s\" is not supported (only \"c2p\" "
                                "and \"p2c\", DeBERTa-v2's)", rr_json_where(d, "pos_att_type", at, sizeof at), tok);
        }
    }
    return RR_OK;
}

/* DeBERTa-v2's options (DebertaV2Config and the getattr defaults of modeling_deberta_v2.py);
 * what rerank does not implement is refused by name. */
static rr_status deberta_config(const rr_json_doc *d, rr_bert_config *c) {
    char at[4200];
    int rel = 0, buckets = 0, max_rel = 0, emb = 0, conv = 0, pooler = 0, pbi = 1, head_size = 0;
    RR_TRY(get_bool(d, "relative_attention", 0, &rel));
    RR_TRY(get_bool(d, "position_biased_input", 1, &pbi));
    RR_TRY(get_bool(d, "share_att_key", 0, &c->rel_share_key));
    /* both default to -1 in DebertaV2Config ("none" / "max_position_embeddings"); absent reads as 0,
     * which means the same here (get_int's negative default would make them required) */
    RR_TRY(get_int(d, "position_buckets", 0, -(1 << 20), 1 << 14, &buckets));
    RR_TRY(get_int(d, "max_relative_positions", 0, -(1 << 20), 1 << 16, &max_rel));
    RR_TRY(get_int(d, "embedding_size", c->hidden_size, 1, 1 << 16, &emb));
    RR_TRY(get_int(d, "conv_kernel_size", 0, 0, 1 << 10, &conv));
    RR_TRY(get_int(d, "pooler_hidden_size", c->hidden_size, 1, 1 << 16, &pooler));
    RR_TRY(get_int(d, "attention_head_size", c->hidden_size / c->num_heads, 1, 1 << 16, &head_size));
    RR_TRY(deberta_att_types(d, c));
    if (emb != c->hidden_size)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: embedding_size %d differs from hidden_size %d: DeBERTa's "
                        "embeddings projection is not supported", rr_json_where(d, "embedding_size", at, sizeof at),
                        emb, c->hidden_size);
    if (conv > 0)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: conv_kernel_size %d: DeBERTa-v2's convolution layer (the "
                        "xlarge/xxlarge checkpoints) is not supported", rr_json_where(d, "conv_kernel_size", at, sizeof at),
                        conv);
    if (pooler != c->hidden_size)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: pooler_hidden_size %d differs from hidden_size %d (transformers' "
                        "ContextPooler needs them equal)", rr_json_where(d, "pooler_hidden_size", at, sizeof at),
                        pooler, c->hidden_size);
    if (head_size != c->hidden_size / c->num_heads)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: attention_head_size %d is not hidden_size / num_attention_heads "
                        "(%d)", rr_json_where(d, "attention_head_size", at, sizeof at), head_size,
                        c->hidden_size / c->num_heads);
    const char *pact = NULL, *norm = NULL;
    RR_TRY(get_string(d, "pooler_hidden_act", &pact));
    RR_TRY(get_string(d, "norm_rel_ebd", &norm));
    if (!parse_head_act(pact ? pact : "gelu", &c->head_act))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: pooler_hidden_act \"%s\" is not supported (\"gelu\", \"tanh\" "
                        "or \"relu\")", rr_json_where(d, "pooler_hidden_act", at, sizeof at), pact);
    if (norm) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", norm);
        char *save = NULL;
        for (char *tok = next_name(buf, &save); tok; tok = next_name(NULL, &save)) {
            if (!strcmp(tok, "layer_norm"))
                c->rel_norm = 1;
            else if (strcmp(tok, "none"))
                return rr_error(RR_ERR_UNSUPPORTED, "%s: norm_rel_ebd \"%s\" is not supported (\"layer_norm\" or "
                                "\"none\")", rr_json_where(d, "norm_rel_ebd", at, sizeof at), tok);
        }
    }
    c->abs_positions = pbi;
    c->score_factor = 1 + c->rel_c2p + c->rel_p2c; /* whether or not relative_attention is on */
    if (!rel) {
        c->rel_c2p = c->rel_p2c = 0;
        return RR_OK;
    }
    c->rel_max_positions = max_rel < 1 ? c->max_position_embeddings : max_rel;
    c->rel_buckets_log = buckets > 0 ? buckets : 0;
    c->rel_span = buckets > 0 ? buckets : c->rel_max_positions;
    if (c->rel_buckets_log && c->rel_buckets_log < 4)
        return rr_error(RR_ERR_FORMAT, "%s: position_buckets %d is too small (at least 4)",
                        rr_json_where(d, "position_buckets", at, sizeof at), buckets);
    return RR_OK;
}

/* One layer type's rope_theta: rope_parameters[type] ({"rope_type": "default", "rope_theta": x},
 * as transformers 5 writes it), else the older key (global_rope_theta / local_rope_theta), else
 * ModernBertConfig's default. Scaled RoPE types are refused. */
static rr_status modernbert_theta(const rr_json_doc *d, const char *type, const char *old_key, double def,
                                  float *out) {
    char at[4200];
    const json_t *rp = json_object_get(d->root, "rope_parameters"), *sc = json_object_get(d->root, "rope_scaling");
    if (sc && !json_is_null(sc))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: rope_scaling is set: only ModernBERT's plain RoPE is supported",
                        rr_json_where(d, "rope_scaling", at, sizeof at));
    const json_t *t = json_is_object(rp) ? json_object_get(rp, type) : NULL;
    if (rp && !json_is_null(rp) && (!json_is_object(rp) || (json_object_get(rp, "rope_theta") && !t)))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: rope_parameters must hold one object per layer type "
                        "(\"full_attention\", \"sliding_attention\")", rr_json_where(d, "rope_parameters", at, sizeof at));
    const json_t *v = NULL;
    if (t && !json_is_null(t)) {
        const char *rt = json_string_value(json_object_get(t, "rope_type"));
        if (!json_is_object(t) || (rt && strcmp(rt, "default")))
            return rr_error(RR_ERR_UNSUPPORTED, "%s: rope_parameters.%s: rope_type \"%s\" is not supported (only "
                            "\"default\")", rr_json_where(d, "rope_parameters", at, sizeof at), type, rt ? rt : "?");
        v = json_object_get(t, "rope_theta");
    }
    if (!v)
        v = json_object_get(d->root, old_key);
    if (v && !json_is_null(v) && (!json_is_number(v) || json_number_value(v) <= 1.0))
        return rr_error(RR_ERR_FORMAT, "%s: the %s rope_theta must be a number above 1",
                        rr_json_where(d, json_object_get(d->root, old_key) ? old_key : "rope_parameters", at, sizeof at),
                        type);
    *out = (float)(v && !json_is_null(v) ? json_number_value(v) : def);
    return RR_OK;
}

/* ModernBERT's options (ModernBertConfig's defaults); what rerank does not implement is refused
 * by name. */
static rr_status modernbert_config(const rr_json_doc *d, rr_bert_config *c) {
    char at[4200];
    int every = 3, local = 128;
    RR_TRY(get_int(d, "global_attn_every_n_layers", 3, 1, 1 << 16, &every));
    RR_TRY(get_int(d, "local_attention", 128, 0, 1 << 20, &local));
    if ((c->hidden_size / c->num_heads) % 2)
        return rr_error(RR_ERR_FORMAT, "%s: the head dimension %d is odd: rotary positions need an even one",
                        rr_json_where(d, "num_attention_heads", at, sizeof at), c->hidden_size / c->num_heads);
    c->prenorm = 1;
    c->sliding_window = local / 2; /* ModernBertConfig.sliding_window */
    const json_t *types = json_object_get(d->root, "layer_types");
    if (types && !json_is_null(types) && (!json_is_array(types) || (int)json_array_size(types) != c->num_layers))
        return rr_error(RR_ERR_FORMAT, "%s: layer_types must list one type per layer (%d)",
                        rr_json_where(d, "layer_types", at, sizeof at), c->num_layers);
    for (int l = 0; l < c->num_layers; l++) {
        int sliding = l % every != 0;
        if (types && !json_is_null(types)) {
            const char *t = json_string_value(json_array_get(types, (size_t)l));
            if (!t || (strcmp(t, "full_attention") && strcmp(t, "sliding_attention")))
                return rr_error(RR_ERR_UNSUPPORTED, "%s: layer_types[%d] \"%s\" is not supported "
                                "(\"full_attention\" or \"sliding_attention\")",
                                rr_json_where(d, "layer_types", at, sizeof at), l, t ? t : "?");
            sliding = !strcmp(t, "sliding_attention");
        }
        if (sliding)
            c->sliding[l / 8] |= (unsigned char)(1u << (l % 8));
    }
    RR_TRY(modernbert_theta(d, "full_attention", "global_rope_theta", 160000.0, &c->rope_theta_global));
    RR_TRY(modernbert_theta(d, "sliding_attention", "local_rope_theta", 10000.0, &c->rope_theta_local));
    RR_TRY(get_bool(d, "attention_bias", 0, &c->attn_bias));
    RR_TRY(get_bool(d, "mlp_bias", 0, &c->mlp_bias));
    RR_TRY(get_bool(d, "norm_bias", 0, &c->norm_bias));
    RR_TRY(get_bool(d, "classifier_bias", 0, &c->head_bias));
    const char *act = NULL, *hact = NULL, *pool = NULL;
    RR_TRY(get_string(d, "hidden_activation", &act));
    RR_TRY(get_string(d, "classifier_activation", &hact));
    RR_TRY(get_string(d, "classifier_pooling", &pool));
    if (act && strcmp(act, "gelu"))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: hidden_activation \"%s\" is not supported (only \"gelu\", the "
                        "exact erf form)", rr_json_where(d, "hidden_activation", at, sizeof at), act);
    if (hact && !strcmp(hact, "silu"))
        c->head_act = RR_ACT_SILU;
    else if (!parse_head_act(hact ? hact : "gelu", &c->head_act))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: classifier_activation \"%s\" is not supported (\"gelu\", "
                        "\"tanh\", \"relu\" or \"silu\")", rr_json_where(d, "classifier_activation", at, sizeof at), hact);
    if (pool && strcmp(pool, "cls") && strcmp(pool, "mean"))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: classifier_pooling \"%s\" is not supported (\"cls\" or "
                        "\"mean\")", rr_json_where(d, "classifier_pooling", at, sizeof at), pool);
    c->head_pool = pool && !strcmp(pool, "mean") ? RR_POOL_MEAN : RR_POOL_CLS;
    c->abs_positions = 0;
    c->type_table = 0;
    c->type_vocab_size = 2;
    c->hidden_act = RR_ACT_GELU;
    c->layer_norm_eps = 1e-5f;
    const json_t *eps = json_object_get(d->root, "norm_eps");
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0)
            return rr_error(RR_ERR_FORMAT, "%s: norm_eps must be a positive number",
                            rr_json_where(d, "norm_eps", at, sizeof at));
        c->layer_norm_eps = (float)json_number_value(eps);
    }
    return RR_OK;
}

static const struct {
    const char *model_type, *base, *cls;
} families[] = {[RR_FAMILY_BERT] = {"bert", "BertModel", "BertForSequenceClassification"},
                [RR_FAMILY_ELECTRA] = {"electra", "ElectraModel", "ElectraForSequenceClassification"},
                [RR_FAMILY_DISTILBERT] = {"distilbert", "DistilBertModel", "DistilBertForSequenceClassification"},
                [RR_FAMILY_MPNET] = {"mpnet", "MPNetModel", "MPNetForSequenceClassification"},
                [RR_FAMILY_XLMR] = {"xlm-roberta", "XLMRobertaModel", "XLMRobertaForSequenceClassification"},
                [RR_FAMILY_DEBERTA2] = {"deberta-v2", "DebertaV2Model", "DebertaV2ForSequenceClassification"},
                [RR_FAMILY_ROBERTA] = {"roberta", "RobertaModel", "RobertaForSequenceClassification"},
                [RR_FAMILY_MODERNBERT] = {"modernbert", "ModernBertModel", "ModernBertForSequenceClassification"},
                [RR_FAMILY_CAMEMBERT] = {"camembert", "CamembertModel", "CamembertForSequenceClassification"}};

const char *rr_family_architecture(rr_family f, int classifier) {
    return classifier ? families[f].cls : families[f].base;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static rr_status load_sentence_transformers(const char *dir, rr_bert_config *c) {
    char path[4096];
    RR_TRY(rr_path_join(path, sizeof path, dir, "modules.json"));
    if (!rr_file_exists(path))
        return RR_OK;
    json_t *mods = NULL;
    json_error_t jerr;
    mods = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!mods)
        return rr_error(RR_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
                        jerr.text);
    rr_status st = RR_OK;
    if (!json_is_array(mods)) {
        st = rr_error(RR_ERR_FORMAT, "%s: expected a JSON array of modules", path);
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m) {
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *mpath = json_string_value(json_object_get(m, "path"));
        if (!type) {
            st = rr_error(RR_ERR_FORMAT, "%s: module %zu has no \"type\"", path, i);
            break;
        }
        if (ends_with(type, ".Transformer"))
            continue;
        if (ends_with(type, ".Normalize")) {
            c->normalize = 1;
            continue;
        }
        if (ends_with(type, ".Pooling")) {
            char ppath[4096], sub[4096];
            snprintf(sub, sizeof sub, "%s/config.json", mpath ? mpath : "");
            if ((st = rr_path_join(ppath, sizeof ppath, dir, sub)))
                break;
            rr_json_doc pd;
            if ((st = rr_json_load_object(ppath, CONFIG_MAX_BYTES, &pd)))
                break;
            json_t *pc = pd.root;
            int cls = json_is_true(json_object_get(pc, "pooling_mode_cls_token"));
            int mean = json_is_true(json_object_get(pc, "pooling_mode_mean_tokens"));
            int mx = json_is_true(json_object_get(pc, "pooling_mode_max_tokens"));
            int msq = json_is_true(json_object_get(pc, "pooling_mode_mean_sqrt_len_tokens"));
            rr_json_doc_free(&pd);
            if (cls + mean + mx + msq != 1) {
                st = rr_error(RR_ERR_UNSUPPORTED,
                              "%s: exactly one pooling mode must be set (cls, mean, max or "
                              "mean_sqrt_len); concatenated modes are not supported", ppath);
                break;
            }
            c->pooling = cls ? RR_POOL_CLS : mean ? RR_POOL_MEAN : mx ? RR_POOL_MAX : RR_POOL_MEAN_SQRT_LEN;
            continue;
        }
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: sentence-transformers module \"%s\" is not supported "
                      "(supported: Transformer, Pooling, Normalize)", path, type);
        break;
    }
    if (!st) {
        RR_TRY(rr_path_join(path, sizeof path, dir, "sentence_bert_config.json"));
        if (rr_file_exists(path)) {
            rr_json_doc sb;
            if (!(st = rr_json_load_object(path, CONFIG_MAX_BYTES, &sb))) {
                st = get_int(&sb, "max_seq_length", 0, 1, 1 << 20, &c->st_max_seq_length);
                rr_json_doc_free(&sb);
            }
        }
    }
done:
    json_decref(mods);
    return st;
}

rr_status rr_bert_config_load(const char *dir, rr_bert_config *c) {
    memset(c, 0, sizeof *c);
    char path[4096];
    RR_TRY(rr_path_join(path, sizeof path, dir, "config.json"));
    rr_json_doc doc;
    RR_TRY(rr_json_load_object(path, CONFIG_MAX_BYTES, &doc));
    json_t *o = doc.root;
    rr_status st = RR_OK;
    char at[4200];
    const char *mt = json_string_value(json_object_get(o, "model_type"));
    json_t *archs = json_object_get(o, "architectures");
    const char *arch = json_is_array(archs) ? json_string_value(json_array_get(archs, 0)) : NULL;
    snprintf(c->model_type, sizeof c->model_type, "%s", mt ? mt : "");
    snprintf(c->architecture, sizeof c->architecture, "%s", arch ? arch : "");
    int fam = -1;
    for (int i = 0; mt && i < (int)(sizeof families / sizeof families[0]); i++)
        if (!strcmp(mt, families[i].model_type))
            fam = i;
    if (fam < 0) {
        st = rr_error(RR_ERR_UNSUPPORTED,
                      "%s: model_type \"%s\" (architecture \"%s\") is not supported: rerank runs "
                      "BERT-family checkpoints (model_type \"bert\", \"electra\", \"distilbert\", \"mpnet\", "
                      "\"xlm-roberta\", \"deberta-v2\", \"roberta\", \"modernbert\" or \"camembert\")",
                      rr_json_where(&doc, "model_type", at, sizeof at), mt ? mt : "(missing)", arch ? arch : "?");
        goto done;
    }
    c->family = (rr_family)fam;
    const char *base = families[fam].base, *cls = families[fam].cls;
    if (arch && strcmp(arch, base) && strcmp(arch, cls)) {
        st = rr_error(RR_ERR_UNSUPPORTED,
                      "%s: architecture \"%s\" is not supported (%s for bi-encoders, %s for cross-encoders)",
                      rr_json_where(&doc, "architectures", at, sizeof at), arch, base, cls);
        goto done;
    }
    c->is_classifier = arch && ends_with(arch, "ForSequenceClassification");
    const int db = c->family == RR_FAMILY_DISTILBERT; /* DistilBertConfig's own key names */
    const char *k_hidden = db ? "dim" : "hidden_size", *k_heads = db ? "n_heads" : "num_attention_heads";
    if ((st = get_int(&doc, k_hidden, -1, 1, 1 << 16, &c->hidden_size)) ||
        (st = get_int(&doc, db ? "n_layers" : "num_hidden_layers", -1, 1, 1024, &c->num_layers)) ||
        (st = get_int(&doc, k_heads, -1, 1, 1024, &c->num_heads)) ||
        (st = get_int(&doc, db ? "hidden_dim" : "intermediate_size", -1, 1, 1 << 18, &c->intermediate_size)) ||
        (st = get_int(&doc, "max_position_embeddings", c->family == RR_FAMILY_MODERNBERT ? 8192 : 512, 1, 1 << 16,
                      &c->max_position_embeddings)) ||
        (!db && (st = get_int(&doc, "type_vocab_size", c->family == RR_FAMILY_DEBERTA2 ? 0 : 2,
                              c->family == RR_FAMILY_DEBERTA2 ? 0 : 1, 1 << 16, &c->type_vocab_size))) ||
        (st = get_int(&doc, "vocab_size", -1, 1, 1 << 24, &c->vocab_size)))
        goto done;
    c->type_table = !db && c->family != RR_FAMILY_MPNET && c->type_vocab_size > 0;
    if (!c->type_table) /* a table of zeros is made at load: type ids 0 and 1 add nothing */
        c->type_vocab_size = 2;
    c->abs_positions = 1;
    c->score_factor = 1;
    if (c->family == RR_FAMILY_MPNET || c->family == RR_FAMILY_XLMR || c->family == RR_FAMILY_ROBERTA ||
        c->family == RR_FAMILY_CAMEMBERT) {
        /* MPNet, XLM-R, RoBERTa, CamemBERT: positions count from padding_idx + 1 (create_position_ids_from_input_ids).
         * MPNet has no token types (a zero table is made at load), and its
         * relative_attention_bias is [relative_attention_num_buckets, heads], of which MPNet's
         * code looks up the first RR_MPNET_BUCKETS (compute_position_bias's default;
         * max_distance 128) */
        int pad = 0;
        if (c->family == RR_FAMILY_MPNET) {
            if ((st = get_int(&doc, "relative_attention_num_buckets", 32, RR_MPNET_BUCKETS, 1 << 16, &c->rel_buckets)))
                goto done;
        }
        if ((st = get_int(&doc, "pad_token_id", 1, 0, 1 << 24, &pad)))
            goto done;
        c->position_offset = pad + 1;
        if (c->position_offset >= c->max_position_embeddings) {
            st = rr_error(RR_ERR_FORMAT, "%s: pad_token_id %d leaves no position in max_position_embeddings %d",
                          rr_json_where(&doc, "pad_token_id", at, sizeof at), pad, c->max_position_embeddings);
            goto done;
        }
    }
    if (c->family == RR_FAMILY_ELECTRA) {
        /* ELECTRA-small style checkpoints embed in a smaller width and project up
         * (embeddings_project): not implemented, so refused rather than misread */
        int emb = 0;
        if ((st = get_int(&doc, "embedding_size", c->hidden_size, 1, 1 << 16, &emb)))
            goto done;
        if (emb != c->hidden_size) {
            st = rr_error(RR_ERR_UNSUPPORTED, "%s: embedding_size %d differs from hidden_size %d: ELECTRA's "
                          "embeddings projection is not supported (only embedding_size = hidden_size)",
                          rr_json_where(&doc, "embedding_size", at, sizeof at), emb, c->hidden_size);
            goto done;
        }
    }
    c->head_act = c->family == RR_FAMILY_ELECTRA ? RR_ACT_GELU : db ? RR_ACT_RELU : RR_ACT_TANH;
    if (c->hidden_size % c->num_heads) {
        st = rr_error(RR_ERR_FORMAT, "%s: %s %d is not a multiple of %s %d",
                      rr_json_where(&doc, k_heads, at, sizeof at), k_hidden, c->hidden_size, k_heads, c->num_heads);
        goto done;
    }
    if (c->family == RR_FAMILY_DEBERTA2 && (st = deberta_config(&doc, c)))
        goto done;
    if (c->family == RR_FAMILY_MODERNBERT) {
        if ((st = modernbert_config(&doc, c)))
            goto done;
        goto head; /* its own keys for the activation and the LayerNorm eps, and no absolute positions */
    }
    json_t *eps = db ? NULL : json_object_get(o, "layer_norm_eps"); /* DistilBERT: 1e-12 in its code */
    c->layer_norm_eps = c->family == RR_FAMILY_DEBERTA2 ? 1e-7f : 1e-12f; /* the config classes' defaults */
    if (eps) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0) {
            st = rr_error(RR_ERR_FORMAT, "%s: layer_norm_eps must be a positive number",
                          rr_json_where(&doc, "layer_norm_eps", at, sizeof at));
            goto done;
        }
        c->layer_norm_eps = (float)json_number_value(eps);
    }
    const char *k_act = db ? "activation" : "hidden_act";
    const char *act = json_string_value(json_object_get(o, k_act));
    if (!act && db)
        act = "gelu"; /* DistilBertConfig's default */
    if (!act || strcmp(act, "gelu") != 0) {
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (only \"gelu\", the exact erf form)",
                      rr_json_where(&doc, k_act, at, sizeof at), k_act, act ? act : "(missing)");
        goto done;
    }
    c->hidden_act = RR_ACT_GELU;
    const char *pet = NULL;
    if ((st = get_string(&doc, "position_embedding_type", &pet)))
        goto done;
    if (pet && strcmp(pet, "absolute") != 0) {
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported "
                      "(only \"absolute\")", rr_json_where(&doc, "position_embedding_type", at, sizeof at), pet);
        goto done;
    }
head:
    if (c->is_classifier) {
        /* transformers derives num_labels from id2label when present */
        json_t *id2label = json_object_get(o, "id2label");
        int from_map = json_is_object(id2label) ? (int)json_object_size(id2label) : 0;
        if ((st = get_int(&doc, "num_labels", from_map ? from_map : 2, 1, 1 << 16, &c->num_labels)))
            goto done;
        if (from_map && !json_object_get(o, "num_labels"))
            c->num_labels = from_map;
        const char *pt = json_string_value(json_object_get(o, "problem_type"));
        (void)pt; /* scores are raw logits; the caller picks an activation */
    }
    st = load_sentence_transformers(dir, c);
done:
    rr_json_doc_free(&doc);
    return st;
}
