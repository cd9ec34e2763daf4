/* rerank/index.h — a dense first-stage index: a FAISS index (through FAISS's C API) plus the
 * map from FAISS labels to document ids, plus metadata that ties it to the embedding model
 * and the corpus it was built from.
 *
 * On disk an index is a directory:
 *   index.faiss   the FAISS index (faiss_write_index)
 *   docids.txt    one document id per line; line i is FAISS label i
 *   meta.json     {"format", "model", "model_sha256", "dim", "metric", "factory",
 *                  "corpus", "corpus_sha256", "num_docs", "faiss_version"}
 *   dochash.bin   each document's content checksum (rr_doc_hash), 8 bytes little-endian per
 *                 label; absent when the index does not know them (see rr_index_doc_hashes)
 * The directory is written under a temporary name and renamed into place when complete.
 *
 * Dimension letters: N = vectors in a call, D = dimension, K = results per query.
 * Scores are similarities, larger is better: the inner product (RR_METRIC_IP) or the negated
 * squared L2 distance (RR_METRIC_L2), so one sort order serves both.
 * When the library was built without FAISS every call that needs it returns
 * RR_ERR_UNSUPPORTED ("built without FAISS; run scripts/setup.sh").
 */
#ifndef RERANK_INDEX_H
#define RERANK_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_index rr_index;

typedef enum rr_metric { RR_METRIC_IP = 0, RR_METRIC_L2 = 1 } rr_metric;

/* "ip" | "l2" → the metric; -1 when unknown. */
int rr_metric_parse(const char *name);
const char *rr_metric_name(rr_metric metric);

/* 1 when the library was built with FAISS. */
int rr_index_available(void);

/* What an index is: written to meta.json, compared on load. Strings are NUL-terminated. */
typedef struct rr_index_meta {
    char model[1024];       /* embedding model directory as given at index time */
    char model_sha256[65];  /* sha256 of its weights (rr_model_weights_sha256) */
    char corpus[1024];      /* corpus path as given at index time (informational) */
    char corpus_sha256[65]; /* sha256 over the (id, text) pairs embedded, in order */
    char factory[256];      /* index_factory string ("Flat", "IVF1024,Flat", "HNSW32", ...) */
    int32_t dim;            /* D */
    rr_metric metric;
    int64_t num_docs;       /* vectors in the index == lines of docids.txt */
} rr_index_meta;

/* A new empty index. meta supplies factory, dim, metric and the model/corpus fields; its
 * num_docs is ignored (counted by rr_index_add). */
rr_status rr_index_create(const rr_index_meta *meta, rr_index **out);
void rr_index_free(rr_index *index);

/* 1 if the index must be trained before vectors are added (IVF, PQ, ...). */
int rr_index_needs_training(const rr_index *index);
/* Train on x [N, D] (a no-op for an index that needs none). */
rr_status rr_index_train(rr_index *index, int64_t n, const float *x);
/* Append x [N, D] with their document ids (ids[i] is copied; no whitespace, unique). */
rr_status rr_index_add(rr_index *index, int64_t n, const float *x, const char *const *ids);

/* A document's content checksum, as an index records it per document: the first 64 bits of
 * the SHA-256 of the text that was embedded. It tells which documents of a corpus changed
 * since the index was built (`rerank index --update DIR --corpus`, `retrieve --corpus`). */
uint64_t rr_doc_hash(const char *text, size_t len);

/* rr_index_add with each document's rr_doc_hash (hashes [N]). rr_index_add is this with
 * hashes NULL: from then on the index records no checksums (rr_index_doc_hashes: NULL). */
rr_status rr_index_add_hashed(rr_index *index, int64_t n, const float *x, const char *const *ids,
                              const uint64_t *hashes);

/* The documents' checksums by label [rr_index_size]; NULL when the index does not record them
 * (vectors added without them, or an index directory without dochash.bin). */
const uint64_t *rr_index_doc_hashes(const rr_index *index);

/* The label of a document id; -1 when the index does not hold it. */
int64_t rr_index_find(const rr_index *index, const char *id);

/* Search-time parameters in FAISS's ParameterSpace syntax: "nprobe=16", "efSearch=128",
 * "nprobe=32,efSearch=64". An unknown name for this index is an error. */
rr_status rr_index_set_search_params(rr_index *index, const char *params);

/* Top-k for every query of q [N, D]: scores [N, K] (larger is better) and labels [N, K]
 * (FAISS labels: rr_index_doc_id maps them; -1 when fewer than K documents are found).
 * Queries go to FAISS in blocks of `batch` (0: all at once); FAISS parallelises each block
 * over the OpenMP threads. */
rr_status rr_index_search(const rr_index *index, int64_t n, const float *q, int64_t k,
                          int64_t batch, float *scores, int64_t *labels);

/* Searching on a GPU (FAISS's index_cpu_to_gpu). rr_index_gpu_built: 1 when the library's
 * FAISS was built with GPU support; rr_index_gpu_count: the GPUs FAISS sees (0 without GPU
 * support or without a device).
 * rr_index_use_gpu copies the index to GPU `device` (fp16 != 0: Flat stores its vectors in
 * half precision, IVF…,PQ… uses fp16 lookup tables; FAISS 1.7.3's GPU IVF…,Flat keeps fp32
 * lists); rr_index_search then runs there, except for k above
 * FAISS's GPU limit (2048), which searches the CPU index. RR_ERR_UNSUPPORTED when there is no
 * GPU support or no GPU, or the index type has no GPU version (HNSW, fast-scan PQ); the index
 * stays usable on the CPU. rr_index_set_search_params re-makes the copy with the new
 * parameters (if that fails, e.g. nprobe above 2048, the copy is dropped and its error
 * returned: searches then run on the CPU index, with the new parameters); rr_index_add drops
 * it (call rr_index_use_gpu again). The CPU index stays the one that is written. */
/* FAISS 1.7.3's GPU k-selection handles k (and nprobe) up to this (GPU_MAX_SELECTION_K in
 * faiss/gpu/utils/DeviceDefs.cuh) */
#define RR_INDEX_GPU_MAX_K 2048
int rr_index_gpu_built(void);
int rr_index_gpu_count(void);
rr_status rr_index_use_gpu(rr_index *index, int device, int fp16);
/* 1 while searches run on a GPU copy. */
int rr_index_on_gpu(const rr_index *index);

/* Copy stored vectors [first, first + n) out of the index into out [N, D]: exact for Flat
 * and IVF…,Flat, the quantized approximation for PQ/SQ; FAISS refuses for indexes that cannot
 * (HNSW over a non-flat storage). The first call on an IVF index makes its direct map (label →
 * list and offset, 8 bytes a vector, in memory only), so that each vector is found at once.
 * Lets an index be rebuilt with another factory, or updated, without embedding the corpus
 * again (`rerank index --from-index`, `--update`). */
rr_status rr_index_reconstruct(rr_index *index, int64_t first, int64_t n, float *out);

/* Document id of a FAISS label; NULL when out of range. */
const char *rr_index_doc_id(const rr_index *index, int64_t label);
int64_t rr_index_size(const rr_index *index);
const rr_index_meta *rr_index_get_meta(const rr_index *index);

/* Write the index directory atomically: a complete new directory replaces dir, or nothing
 * changes. An existing dir that is not an index directory is refused. */
rr_status rr_index_write(const rr_index *index, const char *dir);

/* Read an index directory. expect (may be NULL) names what the caller will use it with:
 * a non-empty model_sha256 / corpus_sha256, a dim > 0, a non-empty factory must match the
 * metadata, else RR_ERR_INVALID_ARG with a message naming both values. */
rr_status rr_index_read(const char *dir, const rr_index_meta *expect, rr_index **out);

/* sha256 of a model directory's weights: model.safetensors alone (equal to `sha256sum
 * model.safetensors`), else every *.safetensors file in name order fed as one stream. */
rr_status rr_model_weights_sha256(const char *model_dir, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_INDEX_H */
