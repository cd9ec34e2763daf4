/* io/hf_config.h — a BERT-family model directory's configuration: config.json, and for
 * sentence-transformers bi-encoders modules.json, <pooling>/config.json and
 * sentence_bert_config.json. BERT-family: model_type "bert"; "electra" (BERT's encoder; the
 * classification head is dense + GELU + out_proj instead of BERT's pooler dense + tanh +
 * classifier; its optional embeddings projection is refused); "distilbert" (BERT's layer
 * under other names and config keys, no token-type embeddings, LayerNorm eps 1e-12, the head
 * pre_classifier + ReLU + classifier); "mpnet" (BERT's post-LN layer under other names, no
 * token-type embeddings, positions counted from pad_token_id + 1, and a learned bias per head
 * and relative-position bucket added to the attention scores of every layer; the head is
 * dense + tanh + out_proj); "xlm-roberta" (BERT's layer under "roberta.", positions counted from
 * pad_token_id + 1, MPNet's head; its tokenizer is SentencePiece Unigram); "deberta-v2" (DeBERTa-v2
 * and -v3: BERT's post-LN layer under "deberta." with query_proj/key_proj/value_proj, usually no
 * absolute positions and no token types, and disentangled attention: each layer's scores gain
 * content-to-position and position-to-content terms from a table of relative-position
 * embeddings (log buckets); the head pooler.dense + pooler_hidden_act + classifier); "modernbert"
 * (ModernBERT: see prenorm below); "camembert" (CamemBERT: XLM-R's layer, names, positions and head
 * under its own model_type; its tokenizer is transformers' CamembertTokenizer, tokenizer_load.c). */
#ifndef RR_IO_HF_CONFIG_H
#define RR_IO_HF_CONFIG_H

#include "rerank/status.h"

typedef enum rr_pooling {
    RR_POOL_NONE = 0, /* no sentence-transformers pooling module */
    RR_POOL_CLS,
    RR_POOL_MEAN,
    RR_POOL_MAX,
    RR_POOL_MEAN_SQRT_LEN
} rr_pooling;

typedef enum rr_family { RR_FAMILY_BERT = 0, RR_FAMILY_ELECTRA, RR_FAMILY_DISTILBERT, RR_FAMILY_MPNET,
                       RR_FAMILY_XLMR, RR_FAMILY_DEBERTA2, RR_FAMILY_ROBERTA /* XLM-R's layer */,
                       RR_FAMILY_MODERNBERT, RR_FAMILY_CAMEMBERT /* XLM-R's layer */ } rr_family;

/* Buckets of MPNet's relative positions: transformers' MPNetEncoder.compute_position_bias
 * uses 32 whatever relative_attention_num_buckets (the table's rows) says. */
#define RR_MPNET_BUCKETS 32

/* RR_ACT_SILU: ModernBERT's classifier_activation "silu" only, on the CPU backend */
typedef enum rr_activation { RR_ACT_NONE = 0, RR_ACT_GELU, RR_ACT_TANH, RR_ACT_RELU, RR_ACT_SILU } rr_activation;

/* ModernBERT's layers as a bit set (bit l: layer l attends within a sliding window) */
#define RR_MAX_LAYERS 1024

typedef struct rr_bert_config {
    char model_type[32];    /* "bert", "electra", "distilbert", "mpnet", "xlm-roberta", "deberta-v2",
                             * "roberta", "modernbert" or "camembert" */
    rr_family family;       /* which of them: weight names and head */
    char architecture[64];  /* architectures[0], e.g. "BertForSequenceClassification"; may be "" */
    int hidden_size;        /* H */
    int num_layers;         /* L */
    int num_heads;
    int intermediate_size;  /* I */
    int max_position_embeddings;
    int type_vocab_size;    /* DistilBERT, MPNet (and DeBERTa with 0): 2, a table of zeros made at load */
    int type_table;         /* the checkpoint has token-type embeddings (else the zeros above) */
    int abs_positions;      /* position embeddings are added (all but DeBERTa's position_biased_input false) */
    int position_offset;    /* row of position 0 in the position table: MPNet, XLM-R pad_token_id + 1 */
    int rel_buckets;        /* MPNet relative_attention_num_buckets; 0: no relative bias */
    int vocab_size;         /* V */
    /* DeBERTa-v2's disentangled attention (transformers' DisentangledSelfAttention): span
     * (att_span) = position_buckets when > 0, else max_relative_positions; the relative
     * embeddings have 2 · span rows; 0 = none (relative_attention false) */
    int rel_span;
    int rel_buckets_log;    /* position_buckets when > 0 (make_log_bucket_position), else 0 */
    int rel_max_positions;  /* max_relative_positions (max_position_embeddings when < 1) */
    int rel_c2p, rel_p2c;   /* pos_att_type has "c2p" / "p2c" */
    int rel_norm;           /* norm_rel_ebd has "layer_norm": the encoder's LayerNorm over the table */
    int rel_share_key;      /* share_att_key: the layer's query/key projections also project the table */
    int score_factor;       /* scores are divided by sqrt(head_dim · score_factor): 1, DeBERTa 1 + terms */
    /* ModernBERT (transformers' ModernBertModel): pre-LayerNorm layers (layer 0 without its
     * attention norm, a final norm after the last), no absolute positions but rotary ones
     * (RoPE, theta per layer type), a GeGLU feed-forward (Wi [2I, H]: act(first I) · second I),
     * biases only where attention_bias / mlp_bias / norm_bias / classifier_bias say, and every
     * global_attn_every_n_layers-th layer global, the others attending within a window;
     * the head dense (+ bias) → classifier_activation → LayerNorm → classifier over the
     * CLS token or the mean of the tokens (classifier_pooling) */
    int prenorm;            /* the ModernBERT layout */
    int sliding_window;     /* a sliding layer's query i attends key j iff |i − j| <= this */
    unsigned char sliding[RR_MAX_LAYERS / 8]; /* bit l: layer l is a sliding layer */
    float rope_theta_global, rope_theta_local;
    int attn_bias, mlp_bias, norm_bias, head_bias; /* the checkpoint has those biases */
    rr_pooling head_pool;   /* RR_POOL_CLS, or RR_POOL_MEAN (ModernBERT's classifier_pooling) */
    float layer_norm_eps;
    rr_activation hidden_act; /* only exact (erf) GELU */
    int num_labels;         /* classification heads; 0 when the architecture has none */
    int is_classifier;      /* architecture ends in ForSequenceClassification */
    rr_activation head_act; /* the classifier's first layer: tanh (BERT's pooler, MPNet's and XLM-R's dense),
                             * GELU (ELECTRA), ReLU (DistilBERT), DeBERTa's pooler_hidden_act */
    /* sentence-transformers */
    rr_pooling pooling;
    int normalize;          /* a Normalize module follows pooling */
    int st_max_seq_length;  /* sentence_bert_config.json max_seq_length; 0 if absent */
} rr_bert_config;

/* The family's architecture name: its base model ("BertModel") or, with classifier set, its
 * cross-encoder ("BertForSequenceClassification"). */
const char *rr_family_architecture(rr_family f, int classifier);

/* Parse and validate; unsupported architectures and options are refused by name. */
rr_status rr_bert_config_load(const char *model_dir, rr_bert_config *out);

#endif
