/* io/safetensors.c — validated, memory-mapped safetensors reader and sharded checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "io/safetensors.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/json_where.h"

/* A header over 100 MB is not a real checkpoint (safetensors itself caps it there). */
#define RR_ST_MAX_HEADER ((uint64_t)100 << 20)

static const struct {
    const char *name;
    rr_dtype dtype;
    size_t size;
} rr_dtypes[] = {
    {"F32", RR_DTYPE_F32, 4}, {"F16", RR_DTYPE_F16, 2}, {"BF16", RR_DTYPE_BF16, 2},
    {"F64", RR_DTYPE_F64, 8}, {"I64", RR_DTYPE_I64, 8}, {"I32", RR_DTYPE_I32, 4},
    {"I16", RR_DTYPE_I16, 2}, {"I8", RR_DTYPE_I8, 1},   {"U8", RR_DTYPE_U8, 1},
    {"BOOL", RR_DTYPE_BOOL, 1},
};
#define RR_NUM_DTYPES (sizeof rr_dtypes / sizeof rr_dtypes[0])

const char *rr_dtype_name(rr_dtype dt) {
    for (size_t i = 0; i < RR_NUM_DTYPES; i++)
        if (rr_dtypes[i].dtype == dt)
            return rr_dtypes[i].name;
    return "?";
}

size_t rr_dtype_size(rr_dtype dt) {
    for (size_t i = 0; i < RR_NUM_DTYPES; i++)
        if (rr_dtypes[i].dtype == dt)
            return rr_dtypes[i].size;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const rr_st_tensor *)a)->name, ((const rr_st_tensor *)b)->name);
}

typedef struct span { uint64_t begin, end; const char *name; } span;
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static rr_status parse_entry(const char *path, const char *name, json_t *v, uint64_t data_size,
                             const unsigned char *data, rr_st_tensor *t) {
    if (!json_is_object(v))
        return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", path, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
        return rr_error(RR_ERR_FORMAT,
                        "%s: tensor \"%s\": needs \"dtype\" (string), \"shape\" (array) and "
                        "\"data_offsets\" ([begin, end])", path, name);
    const char *ds = json_string_value(jd);
    size_t esize = 0;
    for (size_t i = 0; i < RR_NUM_DTYPES; i++)
        if (!strcmp(ds, rr_dtypes[i].name)) {
            t->dtype = rr_dtypes[i].dtype;
            esize = rr_dtypes[i].size;
        }
    if (!esize)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype \"%s\" is not supported", path,
                        name, ds);
    size_t nd = json_array_size(js);
    if (nd > RR_ST_MAX_DIMS)
        return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": %zu dimensions (at most %d)", path, name,
                        nd, RR_ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": shape[%zu] is not a non-negative integer",
                            path, name, i);
        uint64_t dim = (uint64_t)json_integer_value(d);
        if (dim && numel > UINT64_MAX / dim)
            return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": shape overflows", path, name);
        numel *= dim;
        t->shape[i] = (int64_t)dim;
    }
    if (numel > UINT64_MAX / esize || numel > (uint64_t)INT64_MAX)
        return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": shape overflows", path, name);
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < json_integer_value(jb))
        return rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\": bad data_offsets", path, name);
    uint64_t begin = (uint64_t)json_integer_value(jb), end = (uint64_t)json_integer_value(je);
    if (end > data_size)
        return rr_error(RR_ERR_FORMAT,
                        "%s: tensor \"%s\": data ends at byte %llu but the file holds only %llu "
                        "bytes of data (truncated file?)", path, name, (unsigned long long)end,
                        (unsigned long long)data_size);
    if (end - begin != numel * esize)
        return rr_error(RR_ERR_FORMAT,
                        "%s: tensor \"%s\": %llu bytes of data but shape and dtype %s need %llu",
                        path, name, (unsigned long long)(end - begin), ds,
                        (unsigned long long)(numel * esize));
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)(end - begin);
    t->data = data + begin;
    return RR_OK;
}

rr_status rr_st_file_open(const char *path, rr_st_file *out) {
    memset(out, 0, sizeof *out);
    rr_status st = rr_mmap_open(path, &out->map);
    if (st)
        return st;
    json_t *root = NULL;
    span *spans = NULL;
    out->path = strdup(path);
    if (!out->path) {
        st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const unsigned char *p = out->map.data;
    size_t size = out->map.size;
    if (size < 8) {
        st = rr_error(RR_ERR_FORMAT, "%s: %zu bytes: too short for a safetensors header", path, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen > RR_ST_MAX_HEADER || hlen > size - 8) {
        st = rr_error(RR_ERR_FORMAT,
                      "%s: header length %llu does not fit the file (%zu bytes): not a "
                      "safetensors file, or truncated", path, (unsigned long long)hlen, size);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        st = root ? rr_error(RR_ERR_FORMAT, "%s: header is not a JSON object", path)
                  : rr_error(RR_ERR_FORMAT, "%s: header is not a JSON object: %d:%d (header byte %d): %s", path,
                             jerr.line, jerr.column, jerr.position, jerr.text);
        goto fail;
    }
    size_t n = json_object_size(root);
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    spans = calloc(n ? n : 1, sizeof *spans);
    if (!out->tensors || !spans) {
        st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__"))
            continue;
        rr_st_tensor *t = &out->tensors[out->num_tensors];
        t->file = out->path;
        t->name = strdup(key);
        if (!t->name) {
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        out->num_tensors++;
        if ((st = parse_entry(path, key, val, data_size, data, t))) {
            /* again, to name the entry's place in the header (only on this error path) */
            char at[4200];
            int line, col;
            if (rr_json_key_position((const char *)p + 8, (size_t)hlen, key, &line, &col)) {
                snprintf(at, sizeof at, "%s: header %d:%d", path, line, col);
                rr_error_clear();
                st = parse_entry(at, key, val, data_size, data, t);
            }
            goto fail;
        }
        spans[out->num_tensors - 1] = (span){(uint64_t)(t->data - data),
                                             (uint64_t)(t->data - data) + t->nbytes, t->name};
    }
    qsort(spans, (size_t)out->num_tensors, sizeof *spans, cmp_span);
    for (int i = 1; i < out->num_tensors; i++)
        if (spans[i].begin < spans[i - 1].end) {
            st = rr_error(RR_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", path,
                          spans[i - 1].name, spans[i].name);
            goto fail;
        }
    qsort(out->tensors, (size_t)out->num_tensors, sizeof *out->tensors, cmp_tensor_name);
    free(spans);
    json_decref(root);
    return RR_OK;
fail:
    free(spans);
    if (root)
        json_decref(root);
    rr_st_file_close(out);
    return st;
}

void rr_st_file_close(rr_st_file *f) {
    for (int i = 0; i < f->num_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    rr_mmap_close(&f->map);
    memset(f, 0, sizeof *f);
}

static const rr_st_tensor *file_find(const rr_st_file *f, const char *name) {
    int lo = 0, hi = f->num_tensors - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (!c)
            return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const rr_st_tensor *rr_checkpoint_find(const rr_checkpoint *ck, const char *name) {
    for (int i = 0; i < ck->num_files; i++) {
        const rr_st_tensor *t = file_find(&ck->files[i], name);
        if (t)
            return t;
    }
    return NULL;
}

void rr_checkpoint_close(rr_checkpoint *ck) {
    for (int i = 0; i < ck->num_files; i++)
        rr_st_file_close(&ck->files[i]);
    free(ck->files);
    ck->files = NULL;
    ck->num_files = 0;
}

static rr_status open_sharded(const char *model_dir, const char *index_path, rr_checkpoint *ck) {
    json_error_t jerr;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rr_error(RR_ERR_FORMAT, "%s:%d:%d: %s", index_path, jerr.line, jerr.column, jerr.text);
    rr_status st = RR_OK;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        st = rr_error(RR_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
        goto done;
    }
    /* unique shard names, in first-seen order */
    size_t cap = json_object_size(map);
    const char **shards = calloc(cap ? cap : 1, sizeof *shards);
    if (!shards) {
        st = rr_error(RR_ERR_NOMEM, "%s: out of memory", index_path);
        goto done;
    }
    int nshards = 0;
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        if (!json_is_string(val)) {
            st = rr_error(RR_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a file name", index_path, key);
            break;
        }
        const char *s = json_string_value(val);
        if (strchr(s, '/') || !strcmp(s, "..")) {
            st = rr_error(RR_ERR_FORMAT, "%s: shard name \"%s\" is not a plain file name", index_path, s);
            break;
        }
        int seen = 0;
        for (int i = 0; i < nshards && !seen; i++)
            seen = !strcmp(shards[i], s);
        if (!seen)
            shards[nshards++] = s;
    }
    if (!st) {
        ck->files = calloc((size_t)(nshards ? nshards : 1), sizeof *ck->files);
        if (!ck->files)
            st = rr_error(RR_ERR_NOMEM, "%s: out of memory", index_path);
    }
    for (int i = 0; !st && i < nshards; i++) {
        char path[4096];
        st = rr_path_join(path, sizeof path, model_dir, shards[i]);
        if (!st)
            st = rr_st_file_open(path, &ck->files[i]);
        if (!st)
            ck->num_files++;
    }
    /* every tensor the index names must be in the shard it names */
    if (!st)
        json_object_foreach(map, key, val) {
            const rr_st_tensor *t = rr_checkpoint_find(ck, key);
            if (!t) {
                st = rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\" is listed but no shard holds it",
                              index_path, key);
                break;
            }
        }
    free(shards);
    if (st)
        rr_checkpoint_close(ck);
done:
    json_decref(root);
    return st;
}

rr_status rr_checkpoint_open(const char *model_dir, rr_checkpoint *ck) {
    memset(ck, 0, sizeof *ck);
    char path[4096];
    RR_TRY(rr_path_join(path, sizeof path, model_dir, "model.safetensors"));
    if (rr_file_exists(path)) {
        ck->files = calloc(1, sizeof *ck->files);
        if (!ck->files)
            return rr_error(RR_ERR_NOMEM, "out of memory");
        rr_status st = rr_st_file_open(path, &ck->files[0]);
        if (st) {
            free(ck->files);
            ck->files = NULL;
            return st;
        }
        ck->num_files = 1;
        return RR_OK;
    }
    RR_TRY(rr_path_join(path, sizeof path, model_dir, "model.safetensors.index.json"));
    if (rr_file_exists(path))
        return open_sharded(model_dir, path, ck);
    RR_TRY(rr_path_join(path, sizeof path, model_dir, "pytorch_model.bin"));
    if (rr_file_exists(path))
        return rr_error(RR_ERR_UNSUPPORTED,
                        "%s: only pytorch_model.bin (a pickle) is present; rerank reads "
                        "safetensors — convert once with: python3 -c \"from transformers import "
                        "AutoModel as M; M.from_pretrained('%s').save_pretrained('%s', "
                        "safe_serialization=True)\"", model_dir, model_dir, model_dir);
    return rr_error(RR_ERR_NOT_FOUND,
                    "%s: no model.safetensors or model.safetensors.index.json", model_dir);
}

static float half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

rr_status rr_tensor_to_f32(const rr_st_tensor *t, float *dst) {
    const unsigned char *s = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case RR_DTYPE_F32:
        memcpy(dst, s, (size_t)n * 4);
        return RR_OK;
    case RR_DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = half_to_f32((uint16_t)(s[2 * i] | (s[2 * i + 1] << 8)));
        return RR_OK;
    case RR_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(s[2 * i] | (s[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        return RR_OK;
    case RR_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return RR_OK;
    default:
        return rr_error(RR_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s, not a float type",
                        t->file, t->name, rr_dtype_name(t->dtype));
    }
}
