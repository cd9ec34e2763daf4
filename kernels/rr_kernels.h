/* kernels/rr_kernels.h — host-side launchers of the CUDA kernels (one op per .cu file).
 *
 * dtype: 0 fp32, 1 bf16, 2 fp16 (rr_precision) — the storage type of activations. Tables,
 * LayerNorm parameters and biases are fp32 (pointers into the fp32 weight block); pooled
 * outputs are fp32. Every launcher enqueues on `stream` and returns cudaGetLastError().
 * Pass metadata lives on the device: ids, type_ids, pos_ids [T], cu_seqlens [S+1].
 */
#ifndef RR_KERNELS_H
#define RR_KERNELS_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

/* x[T,H] = LayerNorm(word[ids] + pos[pos_ids] + type[type_ids]) */
cudaError_t rrk_embed_layernorm(int dtype, const int32_t *ids, const int32_t *type_ids,
                                const int32_t *pos_ids, int T, int H, const float *word,
                                const float *pos, const float *type, const float *gamma,
                                const float *beta, float eps, void *x, cudaStream_t stream);

/* x[T,H] += r (r NULL: nothing added; the sum rounded to the storage type), then y[T,H] =
 * LayerNorm(x): ModernBERT's pre-LN step. y = x is BERT's post-LN x = LayerNorm(x + r), where the
 * sum is not stored and the norm reads it unrounded. */
cudaError_t rrk_add_norm(int dtype, void *x, const void *r, void *y, int T, int H, const float *gamma,
                         const float *beta, float eps, cudaStream_t stream);

/* Rotary positions (rotate-half form) on the Q and K thirds of qkv[T, 3H], in place: per head of
 * dimension d = H / heads and i < d/2, with p = pos[t] (0 <= p < rows of the tables),
 * (a, b) = (v[i], v[i + d/2]) -> (a cos[p][i] - b sin[p][i], b cos[p][i] + a sin[p][i]); cos, sin
 * fp32 [rows, d/2]. */
cudaError_t rrk_rope(int dtype, void *qkv, const int32_t *pos, int T, int H, int heads, const float *cos,
                     const float *sin, cudaStream_t stream);

/* Gated activation (GeGLU): y[t][i] = GELU(x[t][i]) · x[t][inter + i] from x[T, 2·inter], the erf
 * GELU in fp32, y[T, inter] not overlapping x. */
cudaError_t rrk_glu(int dtype, const void *x, int T, int inter, void *y, cudaStream_t stream);

/* y[M,N] = act(y + b) in place; b may be NULL; act: 0 none, 1 GELU (erf), 2 tanh, 3 ReLU, 4 SiLU. */
cudaError_t rrk_bias_act(int dtype, void *y, const float *b, int M, int N, int act,
                         cudaStream_t stream);

/* out[T,H] = varlen multi-head attention over qkv[T,3H]; head dim d = H / heads must be
 * 32, 64 or 128; max_seqlen the longest sequence of the pass. bias: NULL, or MPNet's relative
 * position bias [heads, 2·bias_len − 1] (fp32; score of query i, key j += bias[h][bias_len − 1
 * + j − i]; bias_len >= max_seqlen). window > 0 (ModernBERT's sliding layers; not with a bias):
 * query i attends key j only when |i − j| <= window. */
cudaError_t rrk_attention(int dtype, const void *qkv, const int32_t *cu_seqlens, int S,
                          int max_seqlen, int H, int heads, const float *bias, int bias_len, int window,
                          void *out, cudaStream_t stream);
int rrk_attention_supports(int head_dim);
/* The same with DeBERTa's disentangled attention (the SIMT kernel): query i's score for key j
 * is (q_i · k_j + q_i · posk[row] + k_j · posq[row]) / sqrt(d · factor), row = rel_idx[idx_len
 * − 1 + i − j]; posk, posq [rows, H] in dtype (either NULL: no such term), rel_idx [2 · idx_len
 * − 1] with idx_len >= max_seqlen (NULL with factor alone: a plain scale). */
cudaError_t rrk_attention_rel(int dtype, const void *qkv, const int32_t *cu_seqlens, int S, int max_seqlen, int H,
                              int heads, const void *posk, const void *posq, const int32_t *rel_idx, int idx_len,
                              int factor, void *out, cudaStream_t stream);
/* The same on the tensor cores (attention_tc.cu): bf16/fp16, head dims 32 and 64. */
cudaError_t rrk_attention_tc(int dtype, const void *qkv, const int32_t *cu_seqlens, int S,
                             int max_seqlen, int H, int heads, void *out, cudaStream_t stream);
int rrk_attention_tc_supports(int dtype, int head_dim);
/* The same with register-resident tiles (attention_mma.cu, mma.sync): bf16/fp16, head dims 32
 * and 64, H % 8 == 0; the default tensor-core kernel. rows_x2: two 16-row query blocks per
 * warp (v4, the default) at head dim 32 (64 keeps one). bias, bias_len, window: as
 * rrk_attention's. */
cudaError_t rrk_attention_mma(int dtype, int rows_x2, const void *qkv, const int32_t *cu_seqlens, int S,
                              int max_seqlen, int H, int heads, const float *bias, int bias_len, int window,
                              void *out, cudaStream_t stream);
int rrk_attention_mma_supports(int dtype, int head_dim);
/* y[M,N] = GELU(x[M,K] · W[N,K]ᵀ + b[N]) in one kernel (linear_gelu.cu): bf16/fp16 x, W and y,
 * fp32 bias (may be NULL), the exact GELU; K % 32 == 0, N % 8 == 0, 16-byte aligned x, W, y. */
cudaError_t rrk_linear_gelu(int dtype, const void *x, const void *W, const float *b, int M, int N, int K, void *y,
                            cudaStream_t stream);
int rrk_linear_gelu_supports(int dtype, int N, int K);

/* out[S,H] (fp32) = pooling of x[T,H] per sequence; mode: rr_pooling (1 CLS, 2 mean, 3 max,
 * 4 mean/sqrt(len)); normalize: L2. */
cudaError_t rrk_pool(int dtype, const void *x, const int32_t *cu_seqlens, int S, int H, int mode,
                     int normalize, float *out, cudaStream_t stream);

/* partial[b] (b < blocks, 256 threads each) = block b's share of a 64-bit checksum of the
 * bits of x[n] (dtype); the checksum is the sum of the partials (mod 2^64). */
cudaError_t rrk_checksum(int dtype, const void *x, size_t n, unsigned long long *partial, int blocks,
                         cudaStream_t stream);

/* dst[n] (dtype) = src[n] (fp32), and back. */
cudaError_t rrk_convert_from_f32(int dtype, void *dst, const float *src, size_t n,
                                 cudaStream_t stream);
cudaError_t rrk_convert_to_f32(int dtype, float *dst, const void *src, size_t n,
                               cudaStream_t stream);

#endif
