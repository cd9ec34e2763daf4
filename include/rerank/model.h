/* rerank/model.h — a BERT-family model loaded from a Hugging Face directory, as a
 * cross-encoder (BertForSequenceClassification: pooler + classifier → logits) or a
 * bi-encoder (BertModel + sentence-transformers pooling → embeddings).
 *
 * Weights are converted to fp32 and placed in one backend allocation at load; the
 * activation workspace is sized for the largest pass at load; nothing is allocated per pass.
 * A model is used by one thread at a time (it parallelises internally).
 */
#ifndef RERANK_MODEL_H
#define RERANK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"
#include "rerank/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_model rr_model;

typedef enum rr_head_kind {
    RR_HEAD_AUTO = 0,   /* classifier when config.json says ForSequenceClassification, else embedding */
    RR_HEAD_CLASSIFIER, /* logits [num_labels] per sequence */
    RR_HEAD_EMBEDDING,  /* pooled (and, as the model says, normalised) hidden state [H] */
    RR_HEAD_POOLED      /* the classifier's input: tanh(pooler(h_CLS)) [H], from the model's
                           pooler.dense weights (a cross-encoder's or a bare BERT trunk's); what
                           `rerank fit-head` fits a classifier on. Pairs, like the classifier. */
} rr_head_kind;

/* The longest sequence of a model without a position table (DeBERTa with relative positions
 * only, ModernBERT). The CPU's attention holds one block of query rows × L scores per thread
 * (and DeBERTa's P2C, L × its relative rows), so memory is not what sets it; token offsets
 * within a pass are int32. */
#define RR_MAX_LENGTH 32768

typedef struct rr_model_params {
    rr_head_kind head;
    int32_t max_length;   /* tokens per sequence, specials included; 0 = the model's own
                             (sentence-transformers max_seq_length, else max_position_embeddings).
                             At most max_position_embeddings where the model has a position
                             table, else RR_MAX_LENGTH */
    int32_t token_budget; /* max tokens in one forward pass (default 16384) */
    int32_t max_seqs;     /* max sequences in one pass; 0 = token_budget / 8 */
    int threads;          /* CPU threads; 0 = all available */
    const char *device;   /* "cpu" (default), "cuda", "auto" */
    int precision;        /* 0 fp32 (default), 1 bf16, 2 fp16 (CUDA; "auto" falling back to
                             the CPU computes fp32) */
    size_t max_pass_bytes; /* 0 = none; else the activation workspace of a pass must fit: the
                             token budget is halved until it does (as on the device's own
                             out-of-memory). On the CPU the scores do not change (RR_LINEAR_ROWS). */
    int no_warmup;        /* 1: no GPU warm-up pass at load (see rr_model_load; RR_WARMUP=0) */
} rr_model_params;

/* "fp32" | "bf16" | "fp16" → 0 | 1 | 2; -1 when unknown. */
int rr_precision_parse(const char *name);

rr_model_params rr_model_default_params(void);

rr_status rr_model_load(const char *model_dir, const rr_model_params *params, rr_model **out);
void rr_model_free(rr_model *model);

typedef struct rr_model_info {
    int32_t hidden, layers, heads, intermediate, vocab, max_position, type_vocab;
    int32_t num_labels;   /* classifier only */
    int32_t out_dim;      /* floats per sequence that rr_model_forward writes */
    int32_t max_length;   /* resolved */
    int32_t token_budget; /* resolved */
    int32_t max_seqs;     /* resolved */
    rr_head_kind head;    /* resolved */
    int pooling;          /* rr_pooling of the embedding head */
    int normalize;
    const char *architecture;
    const char *device;   /* backend name */
    const char *precision; /* "fp32" | "bf16" | "fp16" */
    double warmup_seconds; /* the GPU warm-up pass at load (0 on the CPU or without it) */
    const char *device_fallback; /* device "auto" with a GPU present whose CUDA backend does
                                  * not take this model: why it runs on the CPU; else "" */
} rr_model_info;

rr_model_info rr_model_get_info(const rr_model *model);

/* Kinds of op timed by a profiling backend: embed, qkv, attention, attn_out, add_ln, ffn_up
 * (with its GELU), ffn_down, head. */
#define RR_MODEL_OP_KINDS 8

/* Counters since load (or the last reset): what the benchmark and progress lines report. */
typedef struct rr_model_stats {
    int64_t sequences;      /* sequences through the forward pass */
    int64_t tokens;         /* tokens through the forward pass */
    int64_t passes;         /* forward passes */
    double forward_seconds; /* wall time inside rr_model_forward */
    double submit_seconds;  /* of it, host time enqueuing passes (the rest: waiting for them) */
    double tokenize_seconds; /* wall time tokenizing in the whole-job helpers; a worker thread
                                tokenizes the next chunk while the passes run, so this time
                                overlaps forward_seconds (it is not a part of the run's
                                wall time to be added to it) */
    double device_busy_seconds; /* GPU: device time from each pass's start to its output copied */
    double device_idle_seconds; /* GPU: device time between passes (the host was behind) */
    double device_max_pass_seconds; /* GPU: the longest single pass */
    double device_max_idle_seconds; /* GPU: the longest gap between two passes */
    /* GPU with RR_CUDA_PROFILE=1: device time per kind of op (rr_model_op_name), summed over
     * layers and passes; zero otherwise. */
    double op_seconds[RR_MODEL_OP_KINDS];
} rr_model_stats;

/* Name of op kind k of rr_model_stats.op_seconds ("embed", "qkv", ...). */
const char *rr_model_op_name(int k);

rr_model_stats rr_model_get_stats(const rr_model *model);
void rr_model_reset_stats(rr_model *model);

/* The tokenizer loaded from the same directory (owned by the model). */
const rr_tokenizer *rr_model_tokenizer(const rr_model *model);

/* A packed batch: S sequences laid end to end, no padding. */
typedef struct rr_batch {
    int32_t num_seqs;          /* S */
    const int32_t *ids;        /* [T], T = cu_seqlens[S] */
    const int32_t *type_ids;   /* [T] */
    const int32_t *cu_seqlens; /* [S+1] */
} rr_batch;

/* One forward pass; out is [S, out_dim] on the host. Limits: S <= max_seqs,
 * T <= token_budget, every sequence 1..max_length tokens. */
rr_status rr_model_forward(rr_model *model, const rr_batch *batch, float *out);

/* Whole-job helpers: tokenize on all threads, sort by length, pack passes to the token
 * budget, run them, and scatter results back into input order. Items go in chunks, the next
 * one tokenized on a worker thread while this one's passes run (model/encode.c).
 * rr_model_embed: out is [n, out_dim] (embedding head).
 * rr_model_score_pairs: out is [n, out_dim] (classifier head: num_labels logits; pooled head:
 * H features), one row per (q, d). */
rr_status rr_model_embed(rr_model *model, size_t n, const char *const *texts, const size_t *lens,
                         float *out);
rr_status rr_model_score_pairs(rr_model *model, size_t n, const char *const *queries,
                               const size_t *query_lens, const char *const *docs,
                               const size_t *doc_lens, float *out);

/* Progress of the whole-job helpers: fn(ctx, done, total) on the calling thread after every
 * pass whose outputs are in place (done counts items of the current call). A non-zero return
 * stops the job: the helper returns RR_ERR_CANCELLED after the pass in flight. fn NULL: none. */
typedef int (*rr_progress_fn)(void *ctx, size_t done, size_t total);
void rr_model_set_progress(rr_model *model, rr_progress_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_MODEL_H */
