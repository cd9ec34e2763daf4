/* model/bert.c — BERT encoder + heads, written once against the backend op table.
 *
 * Load: config.json → expected tensor shapes → one backend allocation for all weights
 * (fp32; F16/BF16/F64 checkpoints are converted), Q/K/V fused into one [3H, H] matrix →
 * one workspace sized for the largest pass. Forward: embed+LN, L × (QKV, attention, output
 * projection, add+LN, FFN with GELU, add+LN), then the head:
 *   classifier: CLS → pooler dense + tanh → classifier → logits [S, num_labels]
 *               (ELECTRA: classifier.dense + GELU → classifier.out_proj; DistilBERT:
 *               pre_classifier + ReLU → classifier; MPNet: classifier.dense + tanh →
 *               classifier.out_proj; the same op. Each family's tensor names: k_names;
 *               DistilBERT's and MPNet's missing token-type table: zeros made at load)
 * MPNet also counts positions from pad_token_id + 1 (the position table is used from that
 * row on) and adds a learned bias per head and relative-position bucket to every layer's
 * attention scores: the [buckets, heads] table is expanded at load into a [heads, 2L − 1]
 * table over key − query offsets (rr_rel_bucket), which the attention op adds.
 * DeBERTa-v2 (-v3) has disentangled attention: at load, each layer's key and query
 * projections of the (LayerNorm'd) relative-position embeddings become two [2 · span, H]
 * tables (prepare_rel, by the backend's linear op), and a row index per relative position
 * (rr_log_bucket); the attention op adds q_i · posk[row(i − j)] + k_j · posq[row(i − j)] to
 * each score and divides by sqrt(d · score_factor). Its absent position and token-type tables
 * are zeros made at load; its head is pooler.dense + pooler_hidden_act → classifier.
 *   embedding:  pooling (CLS / mean / max / mean-sqrt-len) → optional L2 norm → [S, H]
 *   pooled:     CLS → pooler dense + tanh → [S, H], the classifier's input (fit-head's
 *               features). It runs the backends' classify op with an identity [H, H]
 *               classifier and a zero bias made at load, so every backend computes it with
 *               the code that scores (x·1 + 0 is exact in fp32): no op was added.
 * Letters: T total tokens, S sequences, H hidden, I intermediate, V vocab, P positions.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/model_internal.h"
#include "rerank/model.h"
#include "util/error.h"

rr_model_params rr_model_default_params(void) {
    rr_model_params p;
    memset(&p, 0, sizeof p);
    p.head = RR_HEAD_AUTO;
    p.token_budget = 16384;
    p.device = "cpu";
    return p;
}

int rr_precision_parse(const char *name) {
    static const char *names[] = {"fp32", "bf16", "fp16"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* ---- weight binding -------------------------------------------------------------------- */

typedef struct weight_slot {
    char name[128];    /* name without the family's prefix, "bert." etc. (the head's have none) */
    int64_t rows, cols; /* expected shape; cols = 0 for a vector */
    size_t offset;     /* in floats, inside the weight block */
    int optional_prefix; /* 1: try the model type's prefix + name first */
} weight_slot;

typedef struct slot_list {
    weight_slot *slots;
    int n, cap;
    size_t total; /* floats */
} slot_list;

static rr_status slot_add_padded(slot_list *l, float **field, const char *name, int64_t rows,
                                 int64_t cols, int prefixed, int pad) {
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 64;
        weight_slot *ns = realloc(l->slots, (size_t)ncap * sizeof *ns);
        if (!ns)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        l->slots = ns;
        l->cap = ncap;
    }
    weight_slot *s = &l->slots[l->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rows = rows;
    s->cols = cols;
    s->offset = l->total;
    s->optional_prefix = prefixed;
    /* remember the offset (+1, so that 0 means absent); a pointer once the block exists */
    if (field)
        *field = (float *)(uintptr_t)(l->total + 1);
    l->total += (size_t)rows * (size_t)(cols ? cols : 1);
    if (pad)
        l->total = (l->total + 15) / 16 * 16; /* 64-byte aligned tensors */
    return RR_OK;
}

static rr_status slot_add(slot_list *l, float **field, const char *name, int64_t rows, int64_t cols,
                          int prefixed) {
    return slot_add_padded(l, field, name, rows, cols, prefixed, 1);
}

/* Where each family keeps a layer's tensors (formats of the layer number, without
 * ".weight" / ".bias"; under the optional "bert." / "electra." / "distilbert." prefix) and
 * its classification head's two linears (at top level, except BERT's pooler). */
typedef struct family_names {
    const char *prefix;
    const char *qkv[3], *attn_out, *ln1, *ff1, *ff2, *ln2;
    const char *head_dense, *head_out; /* head_dense: prefixed for BERT (its pooler) only */
} family_names;

/* RoBERTa's names, which XLM-RoBERTa and CamemBERT share */
#define ROBERTA_NAMES                                                                                   \
    {"roberta",                                                                                         \
     {"encoder.layer.%d.attention.self.query", "encoder.layer.%d.attention.self.key",                   \
      "encoder.layer.%d.attention.self.value"},                                                         \
     "encoder.layer.%d.attention.output.dense", "encoder.layer.%d.attention.output.LayerNorm",          \
     "encoder.layer.%d.intermediate.dense", "encoder.layer.%d.output.dense",                            \
     "encoder.layer.%d.output.LayerNorm", "classifier.dense", "classifier.out_proj"}

static const family_names k_names[] = {
    [RR_FAMILY_BERT] = {"bert",
                        {"encoder.layer.%d.attention.self.query", "encoder.layer.%d.attention.self.key",
                         "encoder.layer.%d.attention.self.value"},
                        "encoder.layer.%d.attention.output.dense", "encoder.layer.%d.attention.output.LayerNorm",
                        "encoder.layer.%d.intermediate.dense", "encoder.layer.%d.output.dense",
                        "encoder.layer.%d.output.LayerNorm", "pooler.dense", "classifier"},
    [RR_FAMILY_ELECTRA] = {"electra",
                           {"encoder.layer.%d.attention.self.query", "encoder.layer.%d.attention.self.key",
                            "encoder.layer.%d.attention.self.value"},
                           "encoder.layer.%d.attention.output.dense", "encoder.layer.%d.attention.output.LayerNorm",
                           "encoder.layer.%d.intermediate.dense", "encoder.layer.%d.output.dense",
                           "encoder.layer.%d.output.LayerNorm", "classifier.dense", "classifier.out_proj"},
    [RR_FAMILY_DISTILBERT] = {"distilbert",
                              {"transformer.layer.%d.attention.q_lin", "transformer.layer.%d.attention.k_lin",
                               "transformer.layer.%d.attention.v_lin"},
                              "transformer.layer.%d.attention.out_lin", "transformer.layer.%d.sa_layer_norm",
                              "transformer.layer.%d.ffn.lin1", "transformer.layer.%d.ffn.lin2",
                              "transformer.layer.%d.output_layer_norm", "pre_classifier", "classifier"},
    [RR_FAMILY_MPNET] = {"mpnet",
                         {"encoder.layer.%d.attention.attn.q", "encoder.layer.%d.attention.attn.k",
                          "encoder.layer.%d.attention.attn.v"},
                         "encoder.layer.%d.attention.attn.o", "encoder.layer.%d.attention.LayerNorm",
                         "encoder.layer.%d.intermediate.dense", "encoder.layer.%d.output.dense",
                         "encoder.layer.%d.output.LayerNorm", "classifier.dense", "classifier.out_proj"},
    [RR_FAMILY_XLMR] = ROBERTA_NAMES,
    [RR_FAMILY_DEBERTA2] = {"deberta",
                            {"encoder.layer.%d.attention.self.query_proj", "encoder.layer.%d.attention.self.key_proj",
                             "encoder.layer.%d.attention.self.value_proj"},
                            "encoder.layer.%d.attention.output.dense", "encoder.layer.%d.attention.output.LayerNorm",
                            "encoder.layer.%d.intermediate.dense", "encoder.layer.%d.output.dense",
                            "encoder.layer.%d.output.LayerNorm", "pooler.dense", "classifier"},
    [RR_FAMILY_ROBERTA] = ROBERTA_NAMES,
    [RR_FAMILY_MODERNBERT] = {"model", {NULL, NULL, NULL}, NULL, NULL, NULL, NULL, NULL, NULL, NULL}, /* build_slots_modernbert */
    [RR_FAMILY_CAMEMBERT] = ROBERTA_NAMES,
};

/* DistilBERT, MPNet and most DeBERTa have no token-type embeddings (a table of zeros is made at load) */
static int has_type_table(const rr_bert_config *c) { return c->type_table; }

/* MPNet's relative_position_bucket (T5's bidirectional buckets, max_distance 128) of the
 * offset rel = key − query, computed in float32 as transformers computes it on a tensor. */
int32_t rr_rel_bucket(int32_t rel, int32_t num_buckets) {
    const int32_t half = num_buckets / 2, max_exact = half / 2;
    int32_t ret = rel > 0 ? half : 0, n = rel < 0 ? -rel : rel;
    if (n < max_exact)
        return ret + n;
    const float lg = logf((float)n / (float)max_exact) / (float)log(128.0 / max_exact) * (float)(half - max_exact);
    const int32_t large = max_exact + (int32_t)lg;
    return ret + (large < half - 1 ? large : half - 1);
}

/* DeBERTa-v2's make_log_bucket_position of rel = query − key: itself within ±bucket_size/2,
 * else a bucket that grows with the log of the distance, computed in float32 as transformers
 * computes it on tensors (tests/fixtures/deberta_buckets.tsv holds torch's values). */
int32_t rr_log_bucket(int32_t rel, int32_t bucket_size, int32_t max_position) {
    const int32_t mid = bucket_size / 2, a = rel < 0 ? -rel : rel;
    if (a <= mid)
        return rel;
    const float den = logf((float)((double)(max_position - 1) / mid));
    const int32_t lp = (int32_t)(ceilf(logf((float)a / (float)mid) / den * (float)(mid - 1)) + (float)mid);
    return rel < 0 ? -lp : lp;
}

/* DeBERTa: the row of the relative tables for rel = query − key: its bucket offset by the span,
 * clamped into the 2 · span rows (transformers' c2p_pos and p2c_pos). */
static int32_t rel_row(const rr_bert_config *c, int32_t rel) {
    const int32_t b = c->rel_buckets_log ? rr_log_bucket(rel, c->rel_buckets_log, c->rel_max_positions) : rel;
    const int32_t r = b + c->rel_span;
    return r < 0 ? 0 : r > 2 * c->rel_span - 1 ? 2 * c->rel_span - 1 : r;
}

/* A linear's (or LayerNorm's) weight [rows, cols] (cols 0: a vector) and bias [rows]; fmt is
 * formatted with the layer number. */
static rr_status slot_add_pair(slot_list *l, float **w, float **b, const char *fmt, int layer, int64_t rows,
                               int64_t cols, int prefixed) {
    char base[112], name[128];
    snprintf(base, sizeof base, fmt, layer);
    snprintf(name, sizeof name, "%s.weight", base);
    RR_TRY(slot_add(l, w, name, rows, cols, prefixed));
    snprintf(name, sizeof name, "%s.bias", base);
    return slot_add(l, b, name, rows, 0, prefixed);
}

/* Q, K and V of one layer land back to back: one [3H, H] matrix and one [3H] bias, so that
 * the projection is a single matrix product. */
static rr_status slot_add_qkv(slot_list *l, const family_names *nm, float **w, float **b, int layer, int64_t H) {
    static const char *kinds[2] = {"weight", "bias"};
    char base[112], name[128];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) {
            snprintf(base, sizeof base, nm->qkv[i], layer);
            snprintf(name, sizeof name, "%s.%s", base, kinds[k]);
            RR_TRY(slot_add_padded(l, i == 0 ? (k == 0 ? w : b) : NULL, name, H, k == 0 ? H : 0, 1,
                                   i == 2));
        }
    return RR_OK;
}

/* A linear's (or LayerNorm's) weight, and its bias when has_bias (else *b stays NULL: no bias
 * for a linear, the zeros made at load for a LayerNorm). */
static rr_status slot_add_opt_pair(slot_list *l, float **w, float **b, const char *fmt, int layer, int64_t rows,
                                   int64_t cols, int prefixed, int has_bias) {
    if (has_bias)
        return slot_add_pair(l, w, b, fmt, layer, rows, cols, prefixed);
    char base[112], name[128];
    snprintf(base, sizeof base, fmt, layer);
    snprintf(name, sizeof name, "%s.weight", base);
    return slot_add(l, w, name, rows, cols, prefixed);
}

/* ModernBERT's tensors, under the optional "model." prefix (the head's at top level): Wqkv is
 * already the fused [3H, H] (query | key | value, heads contiguous), Wi [2I, H] the GeGLU's
 * input half then its gate half; layer 0 has no attn_norm. */
static rr_status build_slots_modernbert(rr_model *m, slot_list *l) {
    const rr_bert_config *c = &m->config;
    const int64_t H = c->hidden_size, I = c->intermediate_size;
    rr_bert_weights *w = &m->w;
    RR_TRY(slot_add(l, &w->word_emb, "embeddings.tok_embeddings.weight", c->vocab_size, H, 1));
    RR_TRY(slot_add_opt_pair(l, &w->emb_ln_g, &w->emb_ln_b, "embeddings.norm", 0, H, 0, 1, c->norm_bias));
    for (int i = 0; i < c->num_layers; i++) {
        rr_bert_layer *ly = &w->layers[i];
        RR_TRY(slot_add_opt_pair(l, &ly->qkv_w, &ly->qkv_b, "layers.%d.attn.Wqkv", i, 3 * H, H, 1, c->attn_bias));
        RR_TRY(slot_add_opt_pair(l, &ly->attn_out_w, &ly->attn_out_b, "layers.%d.attn.Wo", i, H, H, 1, c->attn_bias));
        if (i > 0)
            RR_TRY(slot_add_opt_pair(l, &ly->ln1_g, &ly->ln1_b, "layers.%d.attn_norm", i, H, 0, 1, c->norm_bias));
        RR_TRY(slot_add_opt_pair(l, &ly->ln2_g, &ly->ln2_b, "layers.%d.mlp_norm", i, H, 0, 1, c->norm_bias));
        RR_TRY(slot_add_opt_pair(l, &ly->ff1_w, &ly->ff1_b, "layers.%d.mlp.Wi", i, 2 * I, H, 1, c->mlp_bias));
        RR_TRY(slot_add_opt_pair(l, &ly->ff2_w, &ly->ff2_b, "layers.%d.mlp.Wo", i, H, I, 1, c->mlp_bias));
    }
    RR_TRY(slot_add_opt_pair(l, &w->final_ln_g, &w->final_ln_b, "final_norm", 0, H, 0, 1, c->norm_bias));
    if (m->head == RR_HEAD_CLASSIFIER) {
        RR_TRY(slot_add_opt_pair(l, &w->pooler_w, &w->pooler_b, "head.dense", 0, H, H, 0, c->head_bias));
        RR_TRY(slot_add_opt_pair(l, &w->head_ln_g, &w->head_ln_b, "head.norm", 0, H, 0, 0, c->norm_bias));
        RR_TRY(slot_add_pair(l, &w->cls_w, &w->cls_b, "classifier", 0, c->num_labels, H, 0));
    }
    return RR_OK;
}

static float *resolve(float *field, float *block) {
    return field ? block + ((uintptr_t)field - 1) : NULL;
}

static rr_status build_slots(rr_model *m, slot_list *l) {
    const rr_bert_config *c = &m->config;
    if (c->prenorm)
        return build_slots_modernbert(m, l);
    const family_names *nm = &k_names[c->family];
    const int64_t H = c->hidden_size, I = c->intermediate_size;
    rr_bert_weights *w = &m->w;
    RR_TRY(slot_add(l, &w->word_emb, "embeddings.word_embeddings.weight", c->vocab_size, H, 1));
    if (c->abs_positions) /* else zeros, made at load (slot_add_zeros) */
        RR_TRY(slot_add(l, &w->pos_emb, "embeddings.position_embeddings.weight", c->max_position_embeddings, H, 1));
    if (has_type_table(c)) /* else zeros, made at load (slot_add_zeros) */
        RR_TRY(slot_add(l, &w->type_emb, "embeddings.token_type_embeddings.weight", c->type_vocab_size, H, 1));
    if (c->rel_buckets)
        RR_TRY(slot_add(l, &w->rel_w, "encoder.relative_attention_bias.weight", c->rel_buckets, c->num_heads, 1));
    RR_TRY(slot_add_pair(l, &w->emb_ln_g, &w->emb_ln_b, "embeddings.LayerNorm", 0, H, 0, 1));
    if (c->rel_span) {
        RR_TRY(slot_add(l, &w->rel_emb, "encoder.rel_embeddings.weight", 2 * (int64_t)c->rel_span, H, 1));
        if (c->rel_norm)
            RR_TRY(slot_add_pair(l, &w->rel_ln_g, &w->rel_ln_b, "encoder.LayerNorm", 0, H, 0, 1));
    }
    for (int i = 0; i < c->num_layers; i++) {
        rr_bert_layer *ly = &w->layers[i];
        RR_TRY(slot_add_qkv(l, nm, &ly->qkv_w, &ly->qkv_b, i, H));
        RR_TRY(slot_add_pair(l, &ly->attn_out_w, &ly->attn_out_b, nm->attn_out, i, H, H, 1));
        RR_TRY(slot_add_pair(l, &ly->ln1_g, &ly->ln1_b, nm->ln1, i, H, 0, 1));
        RR_TRY(slot_add_pair(l, &ly->ff1_w, &ly->ff1_b, nm->ff1, i, I, H, 1));
        RR_TRY(slot_add_pair(l, &ly->ff2_w, &ly->ff2_b, nm->ff2, i, H, I, 1));
        RR_TRY(slot_add_pair(l, &ly->ln2_g, &ly->ln2_b, nm->ln2, i, H, 0, 1));
        if (c->rel_span && !c->rel_share_key && c->rel_c2p)
            RR_TRY(slot_add_pair(l, &ly->pos_k_w, &ly->pos_k_b, "encoder.layer.%d.attention.self.pos_key_proj", i, H,
                                 H, 1));
        if (c->rel_span && !c->rel_share_key && c->rel_p2c)
            RR_TRY(slot_add_pair(l, &ly->pos_q_w, &ly->pos_q_b, "encoder.layer.%d.attention.self.pos_query_proj", i,
                                 H, H, 1));
    }
    /* the head: BERT's pooler dense + tanh, ELECTRA's classifier.dense + GELU, DistilBERT's
     * pre_classifier + ReLU (c->head_act), then the classifier (the pooled head: only the first) */
    if (m->head == RR_HEAD_CLASSIFIER || m->head == RR_HEAD_POOLED)
        RR_TRY(slot_add_pair(l, &w->pooler_w, &w->pooler_b, nm->head_dense, 0, H, H, c->family == RR_FAMILY_BERT));
    if (m->head == RR_HEAD_CLASSIFIER)
        RR_TRY(slot_add_pair(l, &w->cls_w, &w->cls_b, nm->head_out, 0, c->num_labels, H, 0));
    return RR_OK;
}

/* A table the checkpoint lacks, n floats of zeros after its tensors: the token types of
 * DistilBERT, MPNet and most DeBERTa ([type_vocab_size, H]) and DeBERTa's absolute positions
 * when position_biased_input is false ([max_length, H]), so that the embedding op (word + type
 * + position) is exactly the sum the model has, whatever type ids the tokenizer gives a pair. */
static void slot_add_zeros(slot_list *l, float **field, size_t n) {
    *field = (float *)(uintptr_t)(l->total + 1);
    l->total += (n + 15) / 16 * 16;
}

/* MPNet: the relative bias expanded to [heads, 2 · max_length − 1] over key − query offsets,
 * after the checkpoint's tensors; filled from the checkpoint's [buckets, heads] table. */
static void slot_add_rel_table(rr_model *m, slot_list *l) {
    m->w.rel_table = (float *)(uintptr_t)(l->total + 1);
    l->total += ((size_t)m->config.num_heads * (2 * (size_t)m->max_length - 1) + 15) / 16 * 16;
}

static rr_status upload_zeros(rr_model *m, float *dst, size_t n) {
    float *zeros = calloc(n, sizeof *zeros);
    if (!zeros)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    rr_status st = m->be->ops->upload(m->be, dst, zeros, n * sizeof *zeros);
    free(zeros);
    return st;
}

/* The pooled head's classifier: identity [H, H] and zero [H], placed after the checkpoint's
 * tensors in the weight block (not read from the checkpoint). */
static void slot_add_identity_head(rr_model *m, slot_list *l) {
    const size_t H = (size_t)m->config.hidden_size;
    m->w.cls_w = (float *)(uintptr_t)(l->total + 1);
    l->total += (H * H + 15) / 16 * 16;
    m->w.cls_b = (float *)(uintptr_t)(l->total + 1);
    l->total += (H + 15) / 16 * 16;
}

static rr_status upload_identity_head(rr_model *m) {
    const size_t H = (size_t)m->config.hidden_size;
    float *host = calloc(H * H + H, sizeof *host); /* [H, H] identity, then [H] zeros */
    if (!host)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < H; i++)
        host[i * H + i] = 1.0f;
    rr_status st = m->be->ops->upload(m->be, m->w.cls_w, host, H * H * sizeof *host);
    if (!st)
        st = m->be->ops->upload(m->be, m->w.cls_b, host + H * H, H * sizeof *host);
    free(host);
    return st;
}

/* ModernBERT: zeros [H] for the LayerNorms without a bias, and RoPE's tables, placed after the
 * checkpoint's tensors (slot_add_zeros reserves the room; upload_modernbert fills it). */
static void slot_add_modernbert(rr_model *m, slot_list *l) {
    const rr_bert_config *c = &m->config;
    const size_t half = (size_t)(c->hidden_size / c->num_heads / 2), n = (size_t)m->max_length * half;
    slot_add_zeros(l, &m->w.zeros_h, (size_t)c->hidden_size);
    for (int k = 0; k < 2; k++) {
        slot_add_zeros(l, &m->w.rope_cos[k], n);
        slot_add_zeros(l, &m->w.rope_sin[k], n);
    }
}

/* RoPE's tables as transformers' ModernBertRotaryEmbedding computes them, in float32:
 * inv_freq[i] = 1 / theta^(2i / d), angle = position · inv_freq[i], then cos and sin of it
 * (here in double, rounded once). [0]: the global layers' theta, [1]: the sliding layers'. */
static rr_status upload_modernbert(rr_model *m) {
    const rr_bert_config *c = &m->config;
    rr_bert_weights *w = &m->w;
    const int d = c->hidden_size / c->num_heads, half = d / 2;
    const size_t n = (size_t)m->max_length * (size_t)half;
    RR_TRY(upload_zeros(m, w->zeros_h, (size_t)c->hidden_size));
    float *tab = malloc(2 * n * sizeof *tab);
    if (!tab)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    rr_status st = RR_OK;
    for (int k = 0; k < 2 && !st; k++) {
        const float theta = k ? c->rope_theta_local : c->rope_theta_global;
        for (int i = 0; i < half; i++) {
            const float inv = 1.0f / powf(theta, (float)(2 * i) / (float)d);
            for (int32_t p = 0; p < m->max_length; p++) {
                const float a = (float)p * inv;
                tab[(size_t)p * half + i] = (float)cos((double)a);
                tab[n + (size_t)p * half + i] = (float)sin((double)a);
            }
        }
        st = m->be->ops->upload(m->be, w->rope_cos[k], tab, n * sizeof *tab);
        if (!st)
            st = m->be->ops->upload(m->be, w->rope_sin[k], tab + n, n * sizeof *tab);
    }
    free(tab);
    /* the LayerNorms the checkpoint gives no bias (norm_bias false) take the zeros */
    float **betas[] = {&w->emb_ln_b, &w->final_ln_b, m->head == RR_HEAD_CLASSIFIER ? &w->head_ln_b : NULL};
    for (size_t k = 0; k < sizeof betas / sizeof betas[0]; k++)
        if (betas[k] && !*betas[k])
            *betas[k] = w->zeros_h;
    for (int l = 0; l < c->num_layers; l++) {
        if (l > 0 && !w->layers[l].ln1_b)
            w->layers[l].ln1_b = w->zeros_h;
        if (!w->layers[l].ln2_b)
            w->layers[l].ln2_b = w->zeros_h;
    }
    return st;
}

static void resolve_all(rr_model *m, float *block) {
    rr_bert_weights *w = &m->w;
    w->word_emb = resolve(w->word_emb, block);
    w->pos_emb = resolve(w->pos_emb, block);
    w->type_emb = resolve(w->type_emb, block);
    w->rel_w = resolve(w->rel_w, block);
    w->rel_table = resolve(w->rel_table, block);
    w->rel_emb = resolve(w->rel_emb, block);
    w->rel_ln_g = resolve(w->rel_ln_g, block);
    w->rel_ln_b = resolve(w->rel_ln_b, block);
    w->emb_ln_g = resolve(w->emb_ln_g, block);
    w->emb_ln_b = resolve(w->emb_ln_b, block);
    for (int i = 0; i < m->config.num_layers; i++) {
        rr_bert_layer *ly = &w->layers[i];
        float **f[] = {&ly->qkv_w, &ly->qkv_b, &ly->attn_out_w, &ly->attn_out_b, &ly->ln1_g,
                       &ly->ln1_b, &ly->ff1_w, &ly->ff1_b, &ly->ff2_w, &ly->ff2_b, &ly->ln2_g,
                       &ly->ln2_b, &ly->pos_k_w, &ly->pos_k_b, &ly->pos_q_w, &ly->pos_q_b};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
            *f[k] = resolve(*f[k], block);
    }
    float **mb[] = {&w->final_ln_g, &w->final_ln_b, &w->head_ln_g, &w->head_ln_b, &w->zeros_h,
                    &w->rope_cos[0], &w->rope_cos[1], &w->rope_sin[0], &w->rope_sin[1]};
    for (size_t k = 0; k < sizeof mb / sizeof mb[0]; k++)
        *mb[k] = resolve(*mb[k], block);
    w->pooler_w = resolve(w->pooler_w, block);
    w->pooler_b = resolve(w->pooler_b, block);
    w->cls_w = resolve(w->cls_w, block);
    w->cls_b = resolve(w->cls_b, block);
}

static const char *weight_prefix(const rr_bert_config *c) { return k_names[c->family].prefix; }

static const rr_st_tensor *find_weight(const rr_checkpoint *ck, const rr_bert_config *c, const weight_slot *s) {
    if (s->optional_prefix) {
        char full[160];
        snprintf(full, sizeof full, "%s.%s", weight_prefix(c), s->name);
        const rr_st_tensor *t = rr_checkpoint_find(ck, full);
        if (t)
            return t;
    }
    return rr_checkpoint_find(ck, s->name);
}

/* Every tensor the slots need is present with the shape config.json implies; *max_floats is
 * the largest. Run before anything is sized from config.json, so that a config that lies
 * (hidden_size 65536 over a small checkpoint) is refused by shape, not by a huge allocation. */
static rr_status check_shapes(const char *dir, const rr_checkpoint *ck, const rr_bert_config *c,
                              const slot_list *l, size_t *max_floats_out) {
    size_t max_floats = 0;
    for (int i = 0; i < l->n; i++) {
        const weight_slot *s = &l->slots[i];
        const rr_st_tensor *t = find_weight(ck, c, s);
        if (!t)
            return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\"%s%s%s is missing from the checkpoint", dir,
                            s->name, s->optional_prefix ? " (with or without \"" : "",
                            s->optional_prefix ? weight_prefix(c) : "", s->optional_prefix ? ".\")" : "");
        int64_t want_ndim = s->cols ? 2 : 1;
        int ok = t->ndim == want_ndim && t->shape[0] == s->rows && (!s->cols || t->shape[1] == s->cols);
        if (!ok) {
            char got[96] = "", *p = got;
            for (int d = 0; d < t->ndim && p < got + sizeof got - 24; d++)
                p += snprintf(p, (size_t)(got + sizeof got - p), "%s%lld", d ? ", " : "",
                              (long long)t->shape[d]);
            return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\" has shape [%s], config.json implies "
                            "[%lld%s%.0lld]", t->file, t->name, got, (long long)s->rows,
                            s->cols ? ", " : "", (long long)s->cols);
        }
        if ((size_t)t->numel > max_floats)
            max_floats = (size_t)t->numel;
    }
    *max_floats_out = max_floats;
    return RR_OK;
}

static rr_status upload_weights(rr_model *m, const rr_checkpoint *ck, const slot_list *l,
                                size_t max_floats) {
    float *staging = malloc(max_floats * sizeof *staging);
    if (!staging)
        return rr_error(RR_ERR_NOMEM, "cannot allocate %zu bytes of staging", max_floats * 4);
    rr_status st = RR_OK;
    for (int i = 0; i < l->n && !st; i++) {
        const weight_slot *s = &l->slots[i];
        const rr_st_tensor *t = find_weight(ck, &m->config, s);
        st = rr_tensor_to_f32(t, staging);
        if (!st)
            for (int64_t k = 0; k < t->numel; k++)
                if (staging[k] != staging[k] || staging[k] - staging[k] != 0.0f) {
                    st = rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\" holds NaN or Inf at element %lld",
                                  t->file, t->name, (long long)k);
                    break;
                }
        if (!st)
            st = m->be->ops->upload(m->be, m->weights + s->offset, staging,
                                    (size_t)t->numel * sizeof(float));
    }
    free(staging);
    return st;
}

/* The [heads, 2 · max_length − 1] table from the checkpoint's [buckets, heads] one, read back
 * from the uploaded weight block. */
static rr_status upload_rel_table(rr_model *m) {
    const rr_bert_config *c = &m->config;
    const int32_t heads = c->num_heads, span = 2 * m->max_length - 1;
    const size_t nw = (size_t)c->rel_buckets * (size_t)heads;
    float *wt = malloc(nw * sizeof *wt), *tab = malloc((size_t)heads * (size_t)span * sizeof *tab);
    rr_status st = !wt || !tab ? rr_error(RR_ERR_NOMEM, "out of memory") : RR_OK;
    if (!st)
        st = m->be->ops->download(m->be, wt, m->w.rel_w, nw * sizeof *wt);
    for (int32_t o = 0; !st && o < span; o++) {
        const int32_t b = rr_rel_bucket(o - (m->max_length - 1), RR_MPNET_BUCKETS);
        for (int32_t h = 0; h < heads; h++)
            tab[(size_t)h * span + o] = wt[(size_t)b * heads + h];
    }
    if (!st)
        st = m->be->ops->upload(m->be, m->w.rel_table, tab, (size_t)heads * span * sizeof *tab);
    free(wt);
    free(tab);
    return st;
}

/* DeBERTa: each layer's key and query projections of the relative embeddings (after the
 * encoder's LayerNorm with norm_rel_ebd), computed once here by the backend's own linear op, so
 * in its activation precision, as transformers computes them in every forward; and the row of
 * those tables for each relative position of a sequence (backend rel_idx). */
static rr_status prepare_rel(rr_model *m) {
    const rr_bert_config *c = &m->config;
    rr_backend *be = m->be;
    const int32_t rows = 2 * c->rel_span, H = c->hidden_size, Lm = m->max_length;
    const size_t n = (size_t)rows * (size_t)H, act = rr_backend_act_bytes(be);
    float *host = malloc((n + 2 * (size_t)H) * sizeof *host), *g = host ? host + n : NULL, *bt = g ? g + H : NULL;
    int32_t *idx = malloc((size_t)(2 * Lm - 1) * sizeof *idx);
    void *x = NULL;
    rr_status st = !host || !idx ? rr_error(RR_ERR_NOMEM, "out of memory") : RR_OK;
    if (!st)
        st = be->ops->download(be, host, m->w.rel_emb, n * sizeof *host);
    if (!st && c->rel_norm && !(st = be->ops->download(be, g, m->w.rel_ln_g, (size_t)H * sizeof *g)) &&
        !(st = be->ops->download(be, bt, m->w.rel_ln_b, (size_t)H * sizeof *bt))) {
        for (int32_t r = 0; r < rows; r++) { /* LayerNorm as the CPU backend's: fp32, two-pass variance */
            float *y = host + (size_t)r * H, sum = 0.0f, var = 0.0f;
            for (int32_t i = 0; i < H; i++)
                sum += y[i];
            const float mean = sum / (float)H;
            for (int32_t i = 0; i < H; i++)
                var += (y[i] - mean) * (y[i] - mean);
            const float rstd = 1.0f / sqrtf(var / (float)H + c->layer_norm_eps);
            for (int32_t i = 0; i < H; i++)
                y[i] = (y[i] - mean) * rstd * g[i] + bt[i];
        }
    }
    if (!st)
        st = be->ops->alloc(be, n * act, &x);
    if (!st)
        st = be->ops->upload_act(be, x, host, n);
    if (!st)
        st = be->ops->alloc(be, (size_t)c->num_layers * (size_t)(c->rel_c2p + c->rel_p2c) * n * act,
                            (void **)&m->rel_tables);
    char *t = (char *)m->rel_tables;
    for (int l = 0; !st && l < c->num_layers; l++) {
        rr_bert_layer *ly = &m->layers[l];
        if (c->rel_c2p) { /* key_proj (the qkv block's middle third) or pos_key_proj */
            ly->rel_posk = (float *)t;
            t += n * act;
            st = be->ops->linear(be, x, rows, H, c->rel_share_key ? ly->qkv_w + (size_t)H * H : ly->pos_k_w,
                                 c->rel_share_key ? ly->qkv_b + H : ly->pos_k_b, H, RR_ACT_NONE, ly->rel_posk);
        }
        if (!st && c->rel_p2c) { /* query_proj or pos_query_proj */
            ly->rel_posq = (float *)t;
            t += n * act;
            st = be->ops->linear(be, x, rows, H, c->rel_share_key ? ly->qkv_w : ly->pos_q_w,
                                 c->rel_share_key ? ly->qkv_b : ly->pos_q_b, H, RR_ACT_NONE, ly->rel_posq);
        }
    }
    for (int32_t r = 1 - Lm; !st && r < Lm; r++)
        idx[r + Lm - 1] = rel_row(c, r);
    if (!st)
        st = be->ops->alloc(be, (size_t)(2 * Lm - 1) * sizeof *idx, (void **)&m->rel_idx);
    if (!st)
        st = be->ops->upload(be, m->rel_idx, idx, (size_t)(2 * Lm - 1) * sizeof *idx);
    if (!st)
        be->rel_idx = m->rel_idx;
    if (x)
        be->ops->free(be, x);
    free(host);
    free(idx);
    return st;
}

/* ---- workspace -------------------------------------------------------------------------- */

static rr_status alloc_workspace(rr_model *m) {
    const size_t T = (size_t)m->token_budget, S = (size_t)m->max_seqs;
    const size_t H = (size_t)m->config.hidden_size, I = (size_t)m->config.intermediate_size;
    size_t out_dim = (size_t)m->out_dim;
    const size_t F = (size_t)rr_backend_ffn_scratch_rows(m->be, m->token_budget); /* rows of ff */
    /* ModernBERT: Wi's [T, 2I] and the gated [T, I], whole passes (forward_prenorm) */
    const size_t ff = m->config.prenorm ? T * 3 * I : F * I;
    size_t sizes[] = {T * H, T * 3 * H, T * H, T * H, ff, S * H, S * H, S * out_dim, S * out_dim};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += (sizes[i] + 15) / 16 * 16;
    if (m->max_pass_bytes && total * sizeof(float) > m->max_pass_bytes) {
        if (m->token_budget <= m->max_length)
            return rr_error(RR_ERR_NOMEM, "a memory limit of %zu MB for a pass is too small: a pass of %d "
                            "tokens (one sequence of max_length) needs %zu MB", m->max_pass_bytes >> 20,
                            m->token_budget, (total * sizeof(float) + (1u << 20) - 1) >> 20);
        m->token_budget = m->token_budget / 2 > m->max_length ? m->token_budget / 2 : m->max_length;
        m->max_seqs = m->max_seqs / 2 > 0 ? m->max_seqs / 2 : 1;
        return alloc_workspace(m);
    }
    rr_status st = m->be->ops->alloc(m->be, total * sizeof(float), (void **)&m->workspace);
    if (st == RR_ERR_NOMEM && m->token_budget / 2 >= m->max_length) {
        /* Too big for the device: halve the passes and retry (the order of the output does
         * not depend on how pairs are packed into passes; on the CPU not even its bits). */
        m->token_budget /= 2;
        m->max_seqs = m->max_seqs / 2 > 0 ? m->max_seqs / 2 : 1;
        rr_error_clear();
        return alloc_workspace(m);
    }
    RR_TRY(st);
    float *p = m->workspace;
    float **fields[] = {&m->ws.x, &m->ws.qkv, &m->ws.ctx, &m->ws.tmp, &m->ws.ff,
                        &m->ws.pooled, &m->ws.pooled2, &m->ws.out[0], &m->ws.out[1]};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *fields[i] = p;
        p += (sizes[i] + 15) / 16 * 16;
    }
    return RR_OK;
}

/* ---- load / free ------------------------------------------------------------------------ */

/* On a GPU, one pass of the full token budget (sequences of max_length tokens of one id) at
 * load: the first launch of every kernel loads its module (CUDA's lazy loading) and cuBLASLt
 * picks and loads its algorithms. That one-off cost fell into the job's first pass: on an H100
 * (2026-11-26, 20,000 pairs of 256 tokens, bf16) the first pass took 153-167 ms of device
 * time in six runs, the other 78 passes 5.3 ms each, so 27% of run=. The peers of
 * bench_gpu.py are timed after a warm-up too. Its time is rr_model_info.warmup_seconds (part
 * of the load); the stats are reset after it. RR_WARMUP=0 (rr_model_params.no_warmup) skips
 * it. (An earlier version was dropped after one noisy comparison of run=; the first-pass
 * figures above are what brought it back.) */
static rr_status warmup(rr_model *m) {
    const int32_t L = m->max_length, S0 = m->token_budget / L,
                  S = S0 < 1 ? 1 : S0 > m->max_seqs ? m->max_seqs : S0;
    const int32_t T = S * L;
    int32_t *ids = calloc((size_t)T, sizeof *ids), *types = calloc((size_t)T, sizeof *types);
    int32_t *cu = malloc((size_t)(S + 1) * sizeof *cu);
    rr_status st = RR_OK;
    double t0 = omp_get_wtime();
    if (!ids || !types || !cu) {
        st = rr_error(RR_ERR_NOMEM, "out of memory");
    } else {
        for (int32_t s = 0; s <= S; s++)
            cu[s] = s * L;
        rr_batch b = {S, ids, types, cu};
        const float *unused;
        if (!(st = rr_model_submit(m, &b, 0)))
            st = rr_model_collect(m, 0, &unused);
    }
    free(ids);
    free(types);
    free(cu);
    m->warmup_seconds = omp_get_wtime() - t0;
    rr_model_reset_stats(m);
    return st;
}

rr_status rr_model_load(const char *dir, const rr_model_params *params, rr_model **out) {
    *out = NULL;
    rr_model_params p = params ? *params : rr_model_default_params();
    rr_model *m = calloc(1, sizeof *m);
    if (!m)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    rr_checkpoint ck = {0};
    slot_list slots = {0};
    rr_status st = rr_bert_config_load(dir, &m->config);
    if (st)
        goto fail;
    const rr_bert_config *c = &m->config;
    m->head = p.head != RR_HEAD_AUTO ? p.head : c->is_classifier ? RR_HEAD_CLASSIFIER : RR_HEAD_EMBEDDING;
    if (m->head == RR_HEAD_CLASSIFIER && !c->is_classifier) {
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: a classifier head was asked for but config.json's "
                      "architecture is \"%s\", not %s", dir, c->architecture,
                      rr_family_architecture(c->family, 1));
        goto fail;
    }
    if (m->head == RR_HEAD_POOLED && c->family != RR_FAMILY_BERT) {
        /* fit-head's features are BERT's pooler output; ELECTRA and DistilBERT trunks have none */
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: fitting a head needs a BERT checkpoint's pooler "
                      "(model_type \"bert\"); %s checkpoints have none", dir, c->model_type);
        goto fail;
    }
    m->pooling = c->pooling != RR_POOL_NONE ? c->pooling : RR_POOL_MEAN;
    m->normalize = c->normalize;
    m->out_dim = m->head == RR_HEAD_CLASSIFIER ? c->num_labels : c->hidden_size;
    m->num_labels = m->head == RR_HEAD_POOLED ? c->hidden_size : c->num_labels;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    m->w.layers = m->layers;
    if (!m->layers) {
        st = rr_error(RR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = rr_tokenizer_load(dir, &m->tok)))
        goto fail;
    rr_tokenizer_info ti = rr_tokenizer_get_info(m->tok);
    if (ti.vocab_size > c->vocab_size) {
        st = rr_error(RR_ERR_FORMAT, "%s: the tokenizer has %d tokens but config.json's vocab_size "
                      "is %d", dir, ti.vocab_size, c->vocab_size);
        goto fail;
    }
    /* lengths */
    const int32_t positions = c->max_position_embeddings - c->position_offset; /* MPNet: from row pad + 1 */
    int32_t model_len = positions;
    /* sentence-transformers' max_seq_length is the bi-encoder's; pairs (classifier, pooled)
     * default to the position table, as transformers' tokenizers do */
    if (m->head == RR_HEAD_EMBEDDING && c->st_max_seq_length > 0 && c->st_max_seq_length < model_len)
        model_len = c->st_max_seq_length;
    m->max_length = p.max_length > 0 ? p.max_length : model_len;
    /* A position table bounds the length. Without one (DeBERTa with position_biased_input false:
     * relative positions only, the far ones clamped to the last bucket; ModernBERT: rotary)
     * transformers runs any length, and so do we up to RR_MAX_LENGTH, though the checkpoint may
     * not have been trained past max_position_embeddings (still the default). */
    const int32_t longest = c->abs_positions ? positions : RR_MAX_LENGTH;
    if (m->max_length > longest || m->max_length < 2 + ti.pair_seps) {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: max length %d: must be in [%d, %d] (%s)", dir, m->max_length,
                      2 + ti.pair_seps, longest,
                      !c->abs_positions      ? "no position table: the engine's limit"
                      : c->position_offset ? "the model's max_position_embeddings after its padding rows"
                                           : "the model's max_position_embeddings");
        goto fail;
    }
    m->token_budget = p.token_budget > 0 ? p.token_budget : 16384;
    m->max_pass_bytes = p.max_pass_bytes;
    if (m->token_budget < m->max_length)
        m->token_budget = m->max_length;
    m->max_seqs = p.max_seqs > 0 ? p.max_seqs : m->token_budget / 8;
    if (m->max_seqs < 1)
        m->max_seqs = 1;
    /* A test knob (tests/test_chunks.c): the whole-job helpers' first chunk, so that small
     * jobs span several chunks (model/encode.c). */
    const char *chunk_env = getenv("RR_CHUNK_ITEMS");
    if (chunk_env && *chunk_env) {
        char *end = NULL;
        long v = strtol(chunk_env, &end, 10);
        if (*end || v < 1 || v > (1L << 30)) {
            st = rr_error(RR_ERR_INVALID_ARG, "RR_CHUNK_ITEMS=\"%s\": a number of items (>= 1)", chunk_env);
            goto fail;
        }
        m->chunk_items = (size_t)v;
    }
    /* the checkpoint's shapes are checked against config.json before any size derived from
     * config.json is allocated (backend scratch, weights, workspace) */
    size_t max_floats = 0;
    if ((st = rr_checkpoint_open(dir, &ck)))
        goto fail;
    if ((st = build_slots(m, &slots)) || (st = check_shapes(dir, &ck, c, &slots, &max_floats)))
        goto fail;
    const int32_t ffw = c->prenorm ? 2 * c->intermediate_size : c->intermediate_size; /* ModernBERT's Wi: [2I, H] */
    const int32_t widest = 3 * c->hidden_size > ffw ? 3 * c->hidden_size : ffw;
    rr_backend_limits lim = {m->token_budget, m->max_seqs, m->max_length, c->hidden_size,
                             c->num_heads, p.threads, (rr_precision)p.precision, widest,
                             c->rel_buckets > 0, 2 * c->rel_span, c->prenorm};
    if ((st = rr_backend_create(p.device, &lim, &m->be)))
        goto fail;
    if (c->prenorm && (!m->be->ops->add_norm || !m->be->ops->rope || !m->be->ops->glu)) {
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: the %s backend does not run ModernBERT (use --device cpu)", dir,
                      m->be->ops->name);
        goto fail;
    }
    if (m->head == RR_HEAD_POOLED)
        slot_add_identity_head(m, &slots);
    if (!has_type_table(c))
        slot_add_zeros(&slots, &m->w.type_emb, (size_t)c->type_vocab_size * (size_t)c->hidden_size);
    if (!c->abs_positions)
        slot_add_zeros(&slots, &m->w.pos_emb, (size_t)m->max_length * (size_t)c->hidden_size);
    if (c->rel_buckets)
        slot_add_rel_table(m, &slots);
    if (c->prenorm)
        slot_add_modernbert(m, &slots);
    if ((st = m->be->ops->alloc(m->be, slots.total * sizeof(float), (void **)&m->weights)))
        goto fail;
    resolve_all(m, m->weights);
    m->w.pos_emb += (size_t)c->position_offset * (size_t)c->hidden_size; /* position 0's row */
    if ((st = upload_weights(m, &ck, &slots, max_floats)))
        goto fail;
    if (c->rel_buckets) {
        if ((st = upload_rel_table(m)))
            goto fail;
        m->be->attn_bias = m->w.rel_table;
        m->be->attn_bias_len = m->max_length;
    }
    if (c->position_offset) { /* MPNet, XLM-R: pad tokens take the pad row and are not counted */
        m->be->skip_pad = 1;
        m->be->pad_id = c->position_offset - 1;
    }
    if (m->head == RR_HEAD_POOLED && (st = upload_identity_head(m)))
        goto fail;
    if (!has_type_table(c) &&
        (st = upload_zeros(m, m->w.type_emb, (size_t)c->type_vocab_size * (size_t)c->hidden_size)))
        goto fail;
    if (!c->abs_positions && (st = upload_zeros(m, m->w.pos_emb, (size_t)m->max_length * (size_t)c->hidden_size)))
        goto fail;
    if (c->prenorm && (st = upload_modernbert(m)))
        goto fail;
    if (m->be->ops->prepare_weights &&
        (st = m->be->ops->prepare_weights(m->be, m->weights, slots.total)))
        goto fail;
    m->be->score_factor = c->score_factor;
    if (c->rel_span && (st = prepare_rel(m)))
        goto fail;
    if ((st = alloc_workspace(m)))
        goto fail;
    for (int i = 0; i < 2; i++)
        if ((st = m->be->ops->alloc_host(m->be, (size_t)m->max_seqs * (size_t)m->out_dim * sizeof(float),
                                         (void **)&m->host_out[i])))
            goto fail;
    snprintf(m->architecture, sizeof m->architecture, "%s", c->architecture);
    if (!p.no_warmup && strcmp(m->be->ops->name, "cpu") && (st = warmup(m)))
        goto fail;
    free(slots.slots);
    rr_checkpoint_close(&ck);
    *out = m;
    return RR_OK;
fail:
    free(slots.slots);
    rr_checkpoint_close(&ck);
    rr_model_free(m);
    return st;
}

void rr_model_free(rr_model *m) {
    if (!m)
        return;
    if (m->be) {
        if (m->weights)
            m->be->ops->free(m->be, m->weights);
        if (m->workspace)
            m->be->ops->free(m->be, m->workspace);
        if (m->rel_tables)
            m->be->ops->free(m->be, m->rel_tables);
        if (m->rel_idx)
            m->be->ops->free(m->be, m->rel_idx);
        for (int i = 0; i < 2; i++)
            if (m->host_out[i])
                m->be->ops->free_host(m->be, m->host_out[i]);
        rr_backend_destroy(m->be);
    }
    rr_tokenizer_free(m->tok);
    free(m->layers);
    free(m->seq_scratch);
    free(m);
}

rr_model_info rr_model_get_info(const rr_model *m) {
    rr_model_info i;
    memset(&i, 0, sizeof i);
    const rr_bert_config *c = &m->config;
    i.hidden = c->hidden_size;
    i.layers = c->num_layers;
    i.heads = c->num_heads;
    i.intermediate = c->intermediate_size;
    i.vocab = c->vocab_size;
    i.max_position = c->max_position_embeddings;
    i.type_vocab = c->type_vocab_size;
    i.num_labels = c->num_labels;
    i.out_dim = m->out_dim;
    i.max_length = m->max_length;
    i.token_budget = m->token_budget;
    i.max_seqs = m->max_seqs;
    i.head = m->head;
    i.pooling = m->pooling;
    i.normalize = m->normalize;
    i.architecture = m->architecture;
    i.device = m->be->ops->name;
    i.precision = rr_precision_name(m->be->limits.precision);
    i.warmup_seconds = m->warmup_seconds;
    i.device_fallback = m->be->fallback;
    return i;
}

const rr_tokenizer *rr_model_tokenizer(const rr_model *m) { return m->tok; }

rr_model_stats rr_model_get_stats(const rr_model *m) { return m->stats; }

const char *rr_model_op_name(int k) {
    static const char *const names[RR_MODEL_OP_KINDS] = {"embed",  "qkv",    "attention", "attn_out",
                                                         "add_ln", "ffn_up", "ffn_down",  "head"};
    return k >= 0 && k < RR_MODEL_OP_KINDS ? names[k] : "?";
}

void rr_model_reset_stats(rr_model *m) { memset(&m->stats, 0, sizeof m->stats); }

/* ---- forward ------------------------------------------------------------------------------ */

/* BERT's post-LN layers after the embedding, in ws->x: x = LN(x + Wo · attention(Wqkv · x)),
 * x = LN(x + FFN(x)) (rr_backend_ffn). */
static rr_status forward_postnorm(rr_model *m, int32_t T) {
    const rr_bert_config *c = &m->config;
    rr_backend *be = m->be;
    const rr_backend_ops *ops = be->ops;
    const rr_model_ws *ws = &m->ws;
    const int32_t H = c->hidden_size, I = c->intermediate_size;
    const float eps = c->layer_norm_eps;
    for (int l = 0; l < c->num_layers; l++) {
        const rr_bert_layer *ly = &m->w.layers[l];
        RR_MARK(be, RR_OPK_QKV);
        RR_TRY(ops->linear(be, ws->x, T, H, ly->qkv_w, ly->qkv_b, 3 * H, RR_ACT_NONE, ws->qkv));
        RR_MARK(be, RR_OPK_ATTN);
        be->rel_posk = ly->rel_posk; /* DeBERTa's tables of this layer (NULL otherwise) */
        be->rel_posq = ly->rel_posq;
        RR_TRY(ops->attention(be, ws->qkv, ws->ctx));
        RR_MARK(be, RR_OPK_ATTN_OUT);
        RR_TRY(ops->linear(be, ws->ctx, T, H, ly->attn_out_w, ly->attn_out_b, H, RR_ACT_NONE, ws->tmp));
        RR_MARK(be, RR_OPK_ADD_LN);
        RR_TRY(ops->add_layernorm(be, ws->x, ws->tmp, ly->ln1_g, ly->ln1_b, eps));
        RR_TRY(rr_backend_ffn(be, ws->x, T, H, ly->ff1_w, ly->ff1_b, I, ly->ff2_w, ly->ff2_b, ws->ff, ws->tmp));
        RR_MARK(be, RR_OPK_ADD_LN);
        RR_TRY(ops->add_layernorm(be, ws->x, ws->tmp, ly->ln2_g, ly->ln2_b, eps));
    }
    return RR_OK;
}

/* ModernBERT's layers after the embedding (ws->x = LayerNorm(tok_embeddings[ids])): the residual
 * stream stays in x and each layer's normalised input in ctx (free once the Q/K/V product has
 * read it, and written again only after the attention's output projection has read ctx):
 *   h = l ? attn_norm(x) : x;  x += Wo · attention(rope(Wqkv · h));
 *   h = mlp_norm(x);           x += Wo' · (GELU(Wi · h)[:I] · (Wi · h)[I:]);
 * and after the last layer ctx = final_norm(x), the encoder's output. */
static rr_status forward_prenorm(rr_model *m, int32_t T) {
    const rr_bert_config *c = &m->config;
    rr_backend *be = m->be;
    const rr_backend_ops *ops = be->ops;
    const rr_bert_weights *w = &m->w;
    const rr_model_ws *ws = &m->ws;
    const int32_t H = c->hidden_size, I = c->intermediate_size;
    const float eps = c->layer_norm_eps;
    float *gated = ws->ff + (size_t)T * 2 * (size_t)I;
    for (int l = 0; l < c->num_layers; l++) {
        const rr_bert_layer *ly = &w->layers[l];
        const int sliding = (c->sliding[l / 8] >> (l % 8)) & 1;
        RR_MARK(be, RR_OPK_QKV);
        RR_TRY(ops->linear(be, l ? ws->ctx : ws->x, T, H, ly->qkv_w, ly->qkv_b, 3 * H, RR_ACT_NONE, ws->qkv));
        RR_MARK(be, RR_OPK_ATTN);
        RR_TRY(ops->rope(be, ws->qkv, w->rope_cos[sliding], w->rope_sin[sliding]));
        be->attn_window = sliding ? c->sliding_window : 0;
        RR_TRY(ops->attention(be, ws->qkv, ws->ctx));
        be->attn_window = 0;
        RR_MARK(be, RR_OPK_ATTN_OUT);
        RR_TRY(ops->linear(be, ws->ctx, T, H, ly->attn_out_w, ly->attn_out_b, H, RR_ACT_NONE, ws->tmp));
        RR_MARK(be, RR_OPK_ADD_LN);
        RR_TRY(ops->add_norm(be, ws->x, ws->tmp, ly->ln2_g, ly->ln2_b, eps, ws->ctx));
        RR_MARK(be, RR_OPK_FFN_UP);
        RR_TRY(ops->linear(be, ws->ctx, T, H, ly->ff1_w, ly->ff1_b, 2 * I, RR_ACT_NONE, ws->ff));
        RR_TRY(ops->glu(be, ws->ff, T, I, c->hidden_act, gated));
        RR_MARK(be, RR_OPK_FFN_DOWN);
        RR_TRY(ops->linear(be, gated, T, I, ly->ff2_w, ly->ff2_b, H, RR_ACT_NONE, ws->tmp));
        RR_MARK(be, RR_OPK_ADD_LN);
        const int last = l + 1 == c->num_layers;
        RR_TRY(ops->add_norm(be, ws->x, ws->tmp, last ? w->final_ln_g : w->layers[l + 1].ln1_g,
                             last ? w->final_ln_b : w->layers[l + 1].ln1_b, eps, ws->ctx));
    }
    return RR_OK;
}

rr_status rr_model_submit(rr_model *m, const rr_batch *b, int slot) {
    const rr_bert_config *c = &m->config;
    const rr_backend_ops *ops = m->be->ops;
    rr_backend *be = m->be;
    if (!b || b->num_seqs < 1 || b->num_seqs > m->max_seqs)
        return rr_error(RR_ERR_INVALID_ARG, "forward: %d sequences (1..%d allowed)",
                        b ? b->num_seqs : 0, m->max_seqs);
    if (b->cu_seqlens[0] != 0)
        return rr_error(RR_ERR_INVALID_ARG, "forward: cu_seqlens[0] must be 0");
    int32_t max_len = 0;
    for (int32_t s = 0; s < b->num_seqs; s++) {
        int32_t len = b->cu_seqlens[s + 1] - b->cu_seqlens[s];
        if (len < 1 || len > m->max_length)
            return rr_error(RR_ERR_INVALID_ARG, "forward: sequence %d has %d tokens (1..%d allowed)",
                            s, len, m->max_length);
        if (len > max_len)
            max_len = len;
    }
    rr_pass pass = {b->num_seqs, b->cu_seqlens[b->num_seqs], max_len, b->ids, b->type_ids, b->cu_seqlens};
    if (pass.total_tokens > m->token_budget)
        return rr_error(RR_ERR_INVALID_ARG, "forward: %d tokens exceed the token budget %d",
                        pass.total_tokens, m->token_budget);
    const int32_t T = pass.total_tokens, S = pass.num_seqs;
    const float eps = c->layer_norm_eps;
    const rr_bert_weights *w = &m->w;
    rr_model_ws *ws = &m->ws;
    if (slot < 0 || slot > 1)
        return rr_error(RR_ERR_INVALID_ARG, "forward: slot %d (0 or 1)", slot);
    double t0 = omp_get_wtime();
    RR_TRY(ops->begin_pass(be, &pass));
    RR_MARK(be, RR_OPK_EMBED);
    RR_TRY(ops->embed(be, w->word_emb, w->pos_emb, w->type_emb, w->emb_ln_g, w->emb_ln_b, eps,
                      c->vocab_size, c->type_vocab_size, ws->x));
    /* the encoder's output: x after BERT's post-LN layers, ctx after ModernBERT's final norm */
    RR_TRY(c->prenorm ? forward_prenorm(m, T) : forward_postnorm(m, T));
    const float *top = c->prenorm ? ws->ctx : ws->x;
    RR_MARK(be, RR_OPK_HEAD);
    if (m->head == RR_HEAD_CLASSIFIER || m->head == RR_HEAD_POOLED) {
        rr_classifier_head head = {w->pooler_w, w->pooler_b, c->head_act, w->cls_w, w->cls_b, m->num_labels,
                                   c->head_pool, w->head_ln_g, w->head_ln_b, eps};
        RR_TRY(ops->classify(be, top, &head, ws->pooled, ws->pooled2, ws->out[slot]));
    } else {
        RR_TRY(ops->pool(be, top, (rr_pooling)m->pooling, m->normalize, ws->out[slot]));
    }
    RR_TRY(ops->download_async(be, m->host_out[slot], ws->out[slot], (size_t)S * (size_t)m->out_dim * sizeof(float),
                               slot));
    m->stats.sequences += S;
    m->stats.tokens += T;
    m->stats.passes++;
    const double dt = omp_get_wtime() - t0;
    m->stats.forward_seconds += dt;
    m->stats.submit_seconds += dt;
    return RR_OK;
}

rr_status rr_model_collect(rr_model *m, int slot, const float **out) {
    if (slot < 0 || slot > 1)
        return rr_error(RR_ERR_INVALID_ARG, "forward: slot %d (0 or 1)", slot);
    double t0 = omp_get_wtime();
    rr_status st = m->be->ops->wait(m->be, slot);
    m->stats.forward_seconds += omp_get_wtime() - t0;
    if (!st) { /* the device's own times of that pass (zeros on the CPU) */
        m->stats.device_busy_seconds += m->be->last_busy_s;
        if (m->be->last_busy_s > m->stats.device_max_pass_seconds)
            m->stats.device_max_pass_seconds = m->be->last_busy_s;
        m->stats.device_idle_seconds += m->be->last_idle_s;
        if (m->be->last_idle_s > m->stats.device_max_idle_seconds)
            m->stats.device_max_idle_seconds = m->be->last_idle_s;
        for (int k = 0; k < RR_MODEL_OP_KINDS; k++)
            m->stats.op_seconds[k] += m->be->last_op_s[k];
    }
    *out = m->host_out[slot];
    return st;
}

rr_status rr_model_forward(rr_model *m, const rr_batch *b, float *out) {
    const float *res;
    RR_TRY(rr_model_submit(m, b, 0));
    RR_TRY(rr_model_collect(m, 0, &res));
    memcpy(out, res, (size_t)b->num_seqs * (size_t)m->out_dim * sizeof(float));
    return RR_OK;
}
