/* io/safetensors.h — read-only access to .safetensors files (memory-mapped) and to sharded
 * Hugging Face checkpoints (model.safetensors.index.json).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the data. Every entry is validated: known dtype, shape product * dtype size equals
 * end - begin without overflow, end within the file, no two tensors overlapping. */
#ifndef RR_IO_SAFETENSORS_H
#define RR_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"
#include "util/file.h"

typedef enum rr_dtype {
    RR_DTYPE_F32, RR_DTYPE_F16, RR_DTYPE_BF16, RR_DTYPE_F64,
    RR_DTYPE_I64, RR_DTYPE_I32, RR_DTYPE_I16, RR_DTYPE_I8, RR_DTYPE_U8, RR_DTYPE_BOOL
} rr_dtype;

#define RR_ST_MAX_DIMS 8

typedef struct rr_st_tensor {
    char *name;
    rr_dtype dtype;
    int ndim;
    int64_t shape[RR_ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *data; /* into the map */
    size_t nbytes;
    const char *file;          /* path of the file that holds it (for messages) */
} rr_st_tensor;

typedef struct rr_st_file {
    char *path;
    rr_mmap map;
    rr_st_tensor *tensors; /* [num_tensors], sorted by name */
    int num_tensors;
} rr_st_file;

/* A checkpoint: one file (model.safetensors) or the shards of an index. */
typedef struct rr_checkpoint {
    rr_st_file *files;
    int num_files;
} rr_checkpoint;

const char *rr_dtype_name(rr_dtype dt);
size_t rr_dtype_size(rr_dtype dt);

rr_status rr_st_file_open(const char *path, rr_st_file *out);
void rr_st_file_close(rr_st_file *f);

/* Open the weights of a model directory: model.safetensors, else the shards listed by
 * model.safetensors.index.json. A directory holding only pytorch_model.bin is refused with
 * a message saying how to convert it. */
rr_status rr_checkpoint_open(const char *model_dir, rr_checkpoint *out);
void rr_checkpoint_close(rr_checkpoint *ck);
/* NULL when absent. */
const rr_st_tensor *rr_checkpoint_find(const rr_checkpoint *ck, const char *name);

/* Convert numel elements of a floating tensor (F32, F16, BF16, F64) to float32. */
rr_status rr_tensor_to_f32(const rr_st_tensor *t, float *dst);

#endif
