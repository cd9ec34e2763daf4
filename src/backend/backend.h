/* backend/backend.h — the seam between the model and the hardware.
 *
 * One table of ops over packed variable-length batches: a pass holds S sequences with
 * T = cu_seqlens[S] tokens in total, laid end to end without padding. Activations are
 * [T, width] row-major. src/model/bert.c is written once against this table; the CPU
 * backend (cpu.c) is the specification and every other backend must compute the same
 * function. Pointers given to ops are backend memory (from ->alloc).
 *
 * Activations (x, qkv, ctx, the FFN buffer) are held in the backend's activation type: fp32
 * on the CPU; fp32, bf16 or fp16 on CUDA (limits.precision). The ops take them as float *
 * for one table's sake; a backend reinterprets them. Weights are always given as pointers
 * into the fp32 weight block; a backend that computes in lower precision keeps its own
 * mirror of that block (prepare_weights). pool and classify write fp32.
 *
 * Letters: T total tokens, S sequences, H hidden, I intermediate, V vocab, N output width.
 */
#ifndef RR_BACKEND_H
#define RR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "io/hf_config.h"
#include "rerank/model.h"
#include "rerank/status.h"

/* Host description of one pass. */
typedef struct rr_pass {
    int32_t num_seqs;          /* S */
    int32_t total_tokens;      /* T */
    int32_t max_seqlen;        /* longest sequence of the pass */
    const int32_t *ids;        /* [T] */
    const int32_t *type_ids;   /* [T] */
    const int32_t *cu_seqlens; /* [S+1], cu_seqlens[0] = 0 */
} rr_pass;

/* Sizes the backend must be able to serve; fixed at creation so that nothing is
 * allocated per pass. */
typedef enum rr_precision {
    RR_PRECISION_FP32 = 0, /* fp32 everywhere (the CPU backend's only mode) */
    RR_PRECISION_BF16,     /* bf16 storage, fp32 accumulation, statistics and softmax */
    RR_PRECISION_FP16      /* fp16 storage, likewise */
} rr_precision;

/* The sequence-classification head: CLS → tanh(pooler) → classifier. ModernBERT's adds a
 * LayerNorm after the activation and may pool the mean of the tokens instead of CLS. */
typedef struct rr_classifier_head {
    const float *pooler_w; /* [H, H] */
    const float *pooler_b; /* [H] or NULL */
    rr_activation pooler_act; /* RR_ACT_TANH (BERT's pooler), _GELU (ELECTRA's), _RELU (DistilBERT's) */
    const float *cls_w;    /* [N, H] */
    const float *cls_b;    /* [N] */
    int32_t num_labels;    /* N */
    rr_pooling pool;       /* RR_POOL_MEAN: the mean of the sequence's tokens; else its first token */
    const float *norm_g, *norm_b; /* [H]: LayerNorm (eps norm_eps) after the activation; NULL: none */
    float norm_eps;
} rr_classifier_head;

typedef struct rr_backend_limits {
    int32_t token_budget; /* max T */
    int32_t max_seqs;     /* max S */
    int32_t max_seqlen;   /* max tokens in one sequence */
    int32_t hidden;       /* H */
    int32_t heads;
    int threads;          /* CPU threads; 0 = all */
    rr_precision precision; /* activation and matrix-product precision */
    int32_t max_width;    /* largest K or N of a `linear` (max(3H, I)); 0 = unknown */
    int rel_attention_bias; /* 1: attention adds be->attn_bias (MPNet; CUDA: the SIMT kernel) */
    int32_t rel_rows;   /* DeBERTa: rows of the relative-position tables (be->rel_posk); 0 = none */
    int prenorm;        /* ModernBERT: the model calls add_norm, rope and glu, and sets attn_window */
} rr_backend_limits;

typedef struct rr_backend rr_backend;

typedef struct rr_backend_ops {
    const char *name;
    void (*destroy)(rr_backend *be);
    rr_status (*alloc)(rr_backend *be, size_t bytes, void **out);
    void (*free)(rr_backend *be, void *p);
    rr_status (*upload)(rr_backend *be, void *dst, const void *src, size_t bytes);
    rr_status (*download)(rr_backend *be, void *dst, const void *src, size_t bytes);
    /* Host memory the backend can copy into asynchronously (pinned on CUDA). */
    rr_status (*alloc_host)(rr_backend *be, size_t bytes, void **out);
    void (*free_host)(rr_backend *be, void *p);
    /* Start copying bytes of src (backend memory) into dst (from alloc_host) after the work
     * enqueued so far; wait(slot) returns once that copy (slot 0 or 1) is complete. The CPU
     * copies at once. This is what lets the host pack pass i+1 while the device runs pass i. */
    rr_status (*download_async)(rr_backend *be, void *dst, const void *src, size_t bytes, int slot);
    rr_status (*wait)(rr_backend *be, int slot);
    /* Activation buffers ↔ host fp32 (convert to / from the activation type); n elements. */
    rr_status (*upload_act)(rr_backend *be, void *dst, const float *src, size_t n);
    rr_status (*download_act)(rr_backend *be, float *dst, const void *src, size_t n);
    /* Called once after the weight block (n floats) is uploaded; NULL when not needed. */
    rr_status (*prepare_weights)(rr_backend *be, const float *block, size_t n);
    /* Make pass the current pass (its ids and cu_seqlens are copied to the backend). */
    rr_status (*begin_pass)(rr_backend *be, const rr_pass *pass);
    /* x[T,H] = LayerNorm(word[ids] + pos[position] + type[type_ids]), position as
     * rr_next_position gives it (−1 reads the row before pos) */
    rr_status (*embed)(rr_backend *be, const float *word, const float *pos, const float *type,
                       const float *gamma, const float *beta, float eps, int32_t vocab,
                       int32_t type_vocab, float *x);
    /* y[M,N] = act(x[M,K] · W[N,K]ᵀ + b[N]) */
    rr_status (*linear)(rr_backend *be, const float *x, int32_t M, int32_t K, const float *W,
                        const float *b, int32_t N, rr_activation act, float *y);
    /* out[T,H] = per-sequence softmax(Q Kᵀ / sqrt(d) + B) V for each head, from qkv[T,3H]
     * (Q | K | V, each [T,H], heads contiguous inside H); B = 0, or with be->attn_bias set
     * (MPNet), B[h][i][j] = attn_bias[h · (2 · attn_bias_len − 1) + attn_bias_len − 1 + j − i];
     * with be->rel_idx set (DeBERTa), the scores are (Q Kᵀ + C2P + P2C) / sqrt(d · score_factor)
     * as described at rel_idx */
    rr_status (*attention)(rr_backend *be, const float *qkv, float *out);
    /* x[T,H] = LayerNorm(x + r) */
    rr_status (*add_layernorm)(rr_backend *be, float *x, const float *r, const float *gamma,
                               const float *beta, float eps);
    /* out[S,H] = pooling of x[T,H] per sequence (CLS = first token), optionally L2-normalised */
    rr_status (*pool)(rr_backend *be, const float *x, rr_pooling mode, int normalize, float *out);
    /* out[S,N] = classifier(tanh(pooler(x[CLS of each sequence]))), fp32; pooled and pooled2
     * are [S,H] fp32 scratch */
    rr_status (*classify)(rr_backend *be, const float *x, const rr_classifier_head *head,
                          float *pooled, float *pooled2, float *out);
    /* Profiling: the work enqueued from now until the next mark (or the pass's end) is of
     * kind `kind` (rr_op_kind). NULL where the backend does not profile. */
    void (*mark)(rr_backend *be, int kind);
    /* ModernBERT's ops (NULL where a backend does not run it; the model then refuses it) */
    /* Pre-LayerNorm layers (ModernBERT): x[T,H] += r (r NULL: nothing added), then
     * y[T,H] = LayerNorm(x) (y is another buffer; the CPU's also takes y = x) */
    rr_status (*add_norm)(rr_backend *be, float *x, const float *r, const float *gamma,
                          const float *beta, float eps, float *y);
    /* Rotary positions (RoPE, rotate-half form) on the Q and K thirds of qkv[T,3H], in place:
     * for each head and i < d/2, with p the token's index in its sequence,
     *   (a, b) = (v[i], v[i + d/2]) → (a · cos[p][i] − b · sin[p][i], b · cos[p][i] + a · sin[p][i]);
     * cos, sin: [limits.max_seqlen, d/2] fp32 tables (backend memory) */
    rr_status (*rope)(rr_backend *be, float *qkv, const float *cos, const float *sin);
    /* Gated feed-forward (GeGLU): y[t][i] = act(x[t][i]) · x[t][inter + i] for t < T, i < inter,
     * from x[T, 2 · inter]; y does not overlap x */
    rr_status (*glu)(rr_backend *be, const float *x, int32_t T, int32_t inter, rr_activation act, float *y);
} rr_backend_ops;

/* The kinds of rr_backend_ops.mark (the order of rr_model_stats.op_seconds). */
typedef enum rr_op_kind {
    RR_OPK_EMBED, RR_OPK_QKV, RR_OPK_ATTN, RR_OPK_ATTN_OUT, RR_OPK_ADD_LN, RR_OPK_FFN_UP,
    RR_OPK_FFN_DOWN, RR_OPK_HEAD
} rr_op_kind;
#define RR_MARK(be, kind)                                                                  \
    do {                                                                                   \
        if ((be)->ops->mark)                                                               \
            (be)->ops->mark((be), (kind));                                                 \
    } while (0)

struct rr_backend {
    const rr_backend_ops *ops;
    rr_backend_limits limits;
    const rr_pass *pass; /* current pass (host view) */
    /* Rows per piece of the feed-forward block (rr_backend_ffn); 0 = the whole pass at once
     * (the default everywhere; CUDA: RR_CUDA_FFN_ROWS, an experiment measured slower). */
    int32_t ffn_rows;
    /* MPNet's relative position bias, expanded per head over key − query offsets in
     * [1 − attn_bias_len, attn_bias_len − 1] (backend memory, [heads, 2 · attn_bias_len − 1];
     * set by the model after upload when limits.rel_attention_bias; NULL otherwise) */
    const float *attn_bias;
    int32_t attn_bias_len;
    /* RoBERTa's and MPNet's position ids (create_position_ids_from_input_ids): with skip_pad
     * set, a token whose id is pad_id takes position −1 (the padding row, just before position
     * 0's: the model's position table starts at pad_id + 1) and is not counted; else a token's
     * position is its index in the sequence. Set by the model before its passes (the CUDA
     * backend computes positions in begin_pass); rr_next_position applies it. */
    int skip_pad;
    int32_t pad_id;
    /* DeBERTa-v2's disentangled attention; rel_idx NULL otherwise. Query i's score for key j
     * (both positions in the sequence) is
     *   (q_i · k_j + q_i · posk[row(i − j)] + k_j · posq[row(i − j)]) / sqrt(d · score_factor)
     * per head (q, k, posk, posq: that head's d columns), row(r) = rel_idx[limits.max_seqlen − 1
     * + r] (the relative position's bucket, offset by the span and clamped: a row of the tables).
     * rel_posk, rel_posq: this layer's [limits.rel_rows, H] key and query projections of the
     * relative embeddings, in the activation type; NULL drops that term (pos_att_type without
     * c2p / p2c). rel_idx (backend memory, [2 · max_seqlen − 1], non-decreasing) and
     * score_factor are set by the model at load, rel_posk / rel_posq before each layer. */
    const int32_t *rel_idx;
    int32_t score_factor;
    const float *rel_posk, *rel_posq;
    /* ModernBERT's sliding layers: with attn_window > 0 query i attends key j of its sequence
     * only when |i − j| <= attn_window; 0: every key. Set by the model before each attention. */
    int32_t attn_window;
    /* Device time of the pass the last `wait` completed, and of the device's idle time since
     * the pass before it ended (seconds; the CUDA backend measures both with events, the CPU
     * leaves 0). The model sums them into rr_model_stats. */
    double last_busy_s, last_idle_s;
    /* With profiling on (CUDA: RR_CUDA_PROFILE=1), the device time per op kind (rr_op_kind)
     * of that pass; zeros otherwise. */
    double last_op_s[RR_MODEL_OP_KINDS];
    /* "auto" on a machine with a GPU whose CUDA backend does not take this model (e.g. a head
     * dimension its kernels lack): why the CPU computes instead; "" otherwise */
    char fallback[256];
};

/* Create a backend by name: "cpu", "cuda" or "auto" (cuda when built in, a device is present
 * and the CUDA backend takes the model's shapes; else cpu, in fp32, with be->fallback saying
 * why when a device was present). */
rr_status rr_backend_create(const char *device, const rr_backend_limits *limits, rr_backend **out);
void rr_backend_destroy(rr_backend *be);

rr_status rr_backend_cpu_create(const rr_backend_limits *limits, rr_backend **out);
#ifdef RR_CUDA
rr_status rr_backend_cuda_create(const rr_backend_limits *limits, rr_backend **out);
#endif

/* The feed-forward block y[T,H] = GELU(x[T,H] · W1ᵀ + b1) · W2ᵀ + b2 (W1 [inter,H],
 * W2 [H,inter]) in pieces of be->ffn_rows rows (all T when 0) that reuse the start of ff (a
 * scratch of min(T, ffn_rows) × inter activations). Rows are independent, so the pieces
 * change nothing on the CPU (bit for bit: backend/cpu.c, "linear: our own GEMM"); on CUDA a piece is a product
 * of another M, which cuBLASLt may round differently, as it may for passes of another size. */
rr_status rr_backend_ffn(rr_backend *be, const float *x, int32_t T, int32_t H, const float *w1,
                         const float *b1, int32_t inter, const float *w2, const float *b2, float *ff,
                         float *y);
/* Rows of ff that rr_backend_ffn needs for passes of up to T tokens. */
int32_t rr_backend_ffn_scratch_rows(const rr_backend *be, int32_t T);
/* Bytes of one activation element in the backend's storage precision (4 or 2). */
size_t rr_backend_act_bytes(const rr_backend *be);

/* The position of the next token (id) of a sequence; *count: tokens counted so far in it
 * (start at 0). */
static inline int32_t rr_next_position(const rr_backend *be, int32_t id, int32_t *count) {
    return be->skip_pad && id == be->pad_id ? -1 : (*count)++;
}

/* Shared checks: limits of a pass, and ids inside the vocabularies (host arrays). */
rr_status rr_pass_check(const rr_backend_limits *lim, const rr_pass *pass, const char *who);
rr_status rr_pass_check_ids(const rr_pass *pass, int32_t vocab, int32_t type_vocab);
const char *rr_precision_name(rr_precision p);

/* Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), evaluated with a vectorisable erf approximation
 * (max abs error of erf below 1e-6 on all floats). Exposed for tests. */
float rr_gelu_ref(float x);
void rr_gelu_inplace(float *x, size_t n);

#endif
