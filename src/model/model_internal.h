/* model/model_internal.h — the rr_model struct, shared by bert.c (load, forward) and
 * encode.c (whole-job tokenize → pack → forward → scatter, tokenizing the next chunk on a
 * worker thread while this one's passes run). */
#ifndef RR_MODEL_INTERNAL_H
#define RR_MODEL_INTERNAL_H

#include "backend/backend.h"
#include "io/hf_config.h"
#include "rerank/model.h"

/* Pointers into the one weight block (backend memory). */
typedef struct rr_bert_layer {
    float *qkv_w;      /* (3H, H) query | key | value */
    float *qkv_b;      /* (3H) */
    float *attn_out_w; /* (H, H) */
    float *attn_out_b; /* (H) */
    float *ln1_g, *ln1_b; /* (H) */
    float *ff1_w;      /* (I, H) */
    float *ff1_b;      /* (I) */
    float *ff2_w;      /* (H, I) */
    float *ff2_b;      /* (H) */
    float *ln2_g, *ln2_b; /* (H) */
    /* DeBERTa without share_att_key: the relative embeddings' own projections (H, H), (H) */
    float *pos_k_w, *pos_k_b, *pos_q_w, *pos_q_b;
    /* DeBERTa: this layer's projections of the relative embeddings, (rel_rows, H) each in the
     * activation type, computed at load (backend rel_posk / rel_posq); NULL when unused */
    float *rel_posk, *rel_posq;
} rr_bert_layer;

typedef struct rr_bert_weights {
    float *word_emb;  /* (V, H) */
    float *pos_emb;   /* (P, H) */
    float *type_emb;  /* (type_vocab, H) */
    float *emb_ln_g, *emb_ln_b; /* (H) */
    rr_bert_layer *layers;      /* [L] */
    float *pooler_w;  /* (H, H) classifier head only */
    float *pooler_b;  /* (H) */
    float *cls_w;     /* (num_labels, H); pooled head: identity (H, H), made at load */
    float *cls_b;     /* (num_labels); pooled head: zeros (H) */
    float *rel_w;     /* MPNet: (buckets, heads) relative_attention_bias */
    float *rel_table; /* MPNet: (heads, 2 · max_length − 1), made at load (backend attn_bias) */
    float *rel_emb;   /* DeBERTa: (2 · span, H) encoder.rel_embeddings */
    float *rel_ln_g, *rel_ln_b; /* DeBERTa with norm_rel_ebd layer_norm: encoder.LayerNorm (H) */
    /* ModernBERT: final_norm and the head's norm (H); zeros (H) for every bias the checkpoint
     * lacks (LayerNorms without norm_bias), made at load; RoPE's cos and sin tables
     * [max_length, head_dim / 2] of the global and the sliding layers, made at load */
    float *final_ln_g, *final_ln_b, *head_ln_g, *head_ln_b, *zeros_h;
    float *rope_cos[2], *rope_sin[2]; /* [0] global, [1] sliding */
} rr_bert_weights;

/* Activation workspace (backend memory), sized for token_budget / max_seqs. */
typedef struct rr_model_ws {
    float *x;       /* (T, H) hidden state */
    float *qkv;     /* (T, 3H) */
    float *ctx;     /* (T, H) attention output */
    float *tmp;     /* (T, H) projection output before add+LN */
    float *ff;      /* (T, I); ModernBERT (T, 3I): Wi's output (T, 2I), then the gated (T, I) */
    float *pooled;  /* (S, H) */
    float *pooled2; /* (S, H) */
    float *out[2];  /* (S, out_dim), one per slot: a pass's output can still be on its way to
                     * the host (the CUDA backend's copy stream) while the next pass writes */
} rr_model_ws;

struct rr_model {
    rr_bert_config config;
    rr_head_kind head;
    int pooling;   /* rr_pooling for the embedding head */
    int normalize;
    int32_t out_dim, max_length, token_budget, max_seqs;
    size_t max_pass_bytes; /* rr_model_params.max_pass_bytes */
    size_t chunk_items; /* RR_CHUNK_ITEMS at load (a test knob): items in a job's first chunk;
                           0 = encode.c's own schedule */
    int32_t num_labels; /* rows of the classify op's classifier: config's, or H for the pooled head */
    char architecture[64];
    rr_tokenizer *tok;
    rr_backend *be;
    float *weights;   /* one block */
    float *workspace; /* one block */
    float *rel_tables; /* DeBERTa: every layer's rel_posk / rel_posq (backend memory, one block) */
    int32_t *rel_idx;  /* DeBERTa: backend rel_idx (backend memory) */
    rr_bert_layer *layers;
    rr_bert_weights w;
    rr_model_ws ws;
    rr_model_stats stats;
    void *seq_scratch; /* encode.c's host buffers for one whole-job call */
    float *host_out[2]; /* backend host memory (pinned on CUDA): the outputs of two passes */
    double submit_time[2];
    double warmup_seconds; /* rr_model_info.warmup_seconds */
    rr_progress_fn progress; /* rr_model_set_progress */
    void *progress_ctx;
};

/* MPNet's bucket of the relative position rel = key − query (bert.c; exposed for tests). */
int32_t rr_rel_bucket(int32_t rel, int32_t num_buckets);
/* DeBERTa-v2's make_log_bucket_position of rel = query − key (bert.c; exposed for tests). */
int32_t rr_log_bucket(int32_t rel, int32_t bucket_size, int32_t max_position);

/* Two passes in flight: submit enqueues a pass whose output lands in host_out[slot];
 * collect waits for it and returns that buffer ([S, out_dim]). rr_model_forward is
 * submit + collect on slot 0. A slot must be collected before it is submitted again. */
rr_status rr_model_submit(rr_model *m, const rr_batch *b, int slot);
rr_status rr_model_collect(rr_model *m, int slot, const float **out);

#endif
