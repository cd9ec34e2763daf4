/* backend/backend.h — the seam between the model and the hardware.
 *
 * One table of ops over packed variable-length batches: a pass holds S sequences with
 * T = cu_seqlens[S] tokens in total, laid end to end without padding. Activations are
 * [T, width] row-major. src/model/bert.c is written once against this table; the CPU
 * backend (cpu.c) is the specification and every other backend must compute the same
 * function. Pointers given to ops are backend memory (from ->alloc).
 *
 * Letters: T total tokens, S sequences, H hidden, I intermediate, V vocab, N output width.
 */
#ifndef RR_BACKEND_H
#define RR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "io/hf_config.h"
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
typedef struct rr_backend_limits {
    int32_t token_budget; /* max T */
    int32_t max_seqs;     /* max S */
    int32_t max_seqlen;   /* max tokens in one sequence */
    int32_t hidden;       /* H */
    int32_t heads;
    int threads;          /* CPU threads; 0 = all */
} rr_backend_limits;

typedef struct rr_backend rr_backend;

typedef struct rr_backend_ops {
    const char *name;
    void (*destroy)(rr_backend *be);
    rr_status (*alloc)(rr_backend *be, size_t bytes, void **out);
    void (*free)(rr_backend *be, void *p);
    rr_status (*upload)(rr_backend *be, void *dst, const void *src, size_t bytes);
    rr_status (*download)(rr_backend *be, void *dst, const void *src, size_t bytes);
    /* Make pass the current pass (its ids and cu_seqlens are copied to the backend). */
    rr_status (*begin_pass)(rr_backend *be, const rr_pass *pass);
    /* x[T,H] = LayerNorm(word[ids] + pos[position in sequence] + type[type_ids]) */
    rr_status (*embed)(rr_backend *be, const float *word, const float *pos, const float *type,
                       const float *gamma, const float *beta, float eps, int32_t vocab,
                       int32_t type_vocab, float *x);
    /* y[M,N] = act(x[M,K] · W[N,K]ᵀ + b[N]) */
    rr_status (*linear)(rr_backend *be, const float *x, int32_t M, int32_t K, const float *W,
                        const float *b, int32_t N, rr_activation act, float *y);
    /* out[T,H] = per-sequence softmax(Q Kᵀ / sqrt(d)) V for each head, from qkv[T,3H]
     * (Q | K | V, each [T,H], heads contiguous inside H) */
    rr_status (*attention)(rr_backend *be, const float *qkv, float *out);
    /* x[T,H] = LayerNorm(x + r) */
    rr_status (*add_layernorm)(rr_backend *be, float *x, const float *r, const float *gamma,
                               const float *beta, float eps);
    /* out[S,H] = pooling of x[T,H] per sequence (CLS = first token), optionally L2-normalised */
    rr_status (*pool)(rr_backend *be, const float *x, rr_pooling mode, int normalize, float *out);
} rr_backend_ops;

struct rr_backend {
    const rr_backend_ops *ops;
    rr_backend_limits limits;
    const rr_pass *pass; /* current pass (host view) */
};

/* Create a backend by name: "cpu", "cuda" or "auto" (cuda when built in and a device is
 * present, else cpu). */
rr_status rr_backend_create(const char *device, const rr_backend_limits *limits, rr_backend **out);
void rr_backend_destroy(rr_backend *be);

rr_status rr_backend_cpu_create(const rr_backend_limits *limits, rr_backend **out);

/* Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), evaluated with a vectorisable erf approximation
 * (max abs error of erf below 1e-6 on all floats). Exposed for tests. */
float rr_gelu_ref(float x);
void rr_gelu_inplace(float *x, size_t n);

#endif
