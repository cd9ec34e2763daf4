/* io/hf_export.c — a cross-encoder directory from a trunk + a linear head (hf_export.h).
 * Assumes a little-endian host, as the safetensors format does. */
#define _POSIX_C_SOURCE 200809L
#include "io/hf_export.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/file.h"

static const char *const tokenizer_files[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                              "special_tokens_map.json"};
static const char *const written_files[] = {"model.safetensors", "config.json", "README.md", "vocab.txt",
                                            "tokenizer.json", "tokenizer_config.json",
                                            "special_tokens_map.json"};

rr_status rr_hf_export_check_target(const char *out_dir) {
    struct stat sb;
    if (lstat(out_dir, &sb) == 0)
        return rr_error(RR_ERR_INVALID_ARG, "%s: already exists (remove it, or name another --output)", out_dir);
    return RR_OK;
}

/* ---- model.safetensors ---- */

typedef struct out_tensor {
    char name[160];
    const rr_st_tensor *src; /* NULL: the classifier tensors */
    const char *dtype;
    int ndim;
    int64_t shape[RR_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} out_tensor;

static int cmp_out_tensor(const void *a, const void *b) {
    return strcmp(((const out_tensor *)a)->name, ((const out_tensor *)b)->name);
}

static int is_trunk(const char *name) {
    return !strncmp(name, "embeddings.", 11) || !strncmp(name, "encoder.", 8) || !strncmp(name, "pooler.", 7);
}

static rr_status write_safetensors(const rr_hf_export *e, const rr_checkpoint *ck, const char *path) {
    int total = 2;
    for (int f = 0; f < ck->num_files; f++)
        total += ck->files[f].num_tensors;
    out_tensor *ts = calloc((size_t)total, sizeof *ts);
    json_t *hdr = json_object();
    char *text = NULL;
    rr_atomic_file af = {0};
    rr_status st = RR_OK;
    if (!ts || !hdr) {
        st = rr_error(RR_ERR_NOMEM, "out of memory");
        goto done;
    }
    int n = 0, have_pooler_w = 0;
    for (int f = 0; f < ck->num_files; f++)
        for (int i = 0; i < ck->files[f].num_tensors; i++) {
            const rr_st_tensor *t = &ck->files[f].tensors[i];
            const char *bare = !strncmp(t->name, "bert.", 5) ? t->name + 5 : t->name;
            if (!is_trunk(bare))
                continue; /* the source's own head (classifier.*, cls.*) is replaced */
            out_tensor *o = &ts[n++];
            if ((size_t)snprintf(o->name, sizeof o->name, "bert.%s", bare) >= sizeof o->name) {
                st = rr_error(RR_ERR_UNSUPPORTED, "%s: tensor name too long: %s", t->file, t->name);
                goto done;
            }
            o->src = t;
            o->dtype = rr_dtype_name(t->dtype);
            o->ndim = t->ndim;
            memcpy(o->shape, t->shape, sizeof o->shape);
            o->data = t->data;
            o->nbytes = t->nbytes;
            if (!strcmp(bare, "pooler.dense.weight"))
                have_pooler_w = t->ndim == 2 && t->shape[0] == e->hidden && t->shape[1] == e->hidden;
        }
    if (!have_pooler_w) {
        st = rr_error(RR_ERR_FORMAT, "%s: no pooler.dense.weight of shape [%d, %d]: the head's features "
                      "need the pooler", e->source_dir, e->hidden, e->hidden);
        goto done;
    }
    out_tensor *cw = &ts[n++], *cb = &ts[n++];
    snprintf(cw->name, sizeof cw->name, "classifier.weight");
    cw->dtype = "F32";
    cw->ndim = 2;
    cw->shape[0] = 1;
    cw->shape[1] = e->hidden;
    cw->data = e->weight;
    cw->nbytes = (size_t)e->hidden * sizeof(float);
    snprintf(cb->name, sizeof cb->name, "classifier.bias");
    cb->dtype = "F32";
    cb->ndim = 1;
    cb->shape[0] = 1;
    cb->data = &e->bias;
    cb->nbytes = sizeof(float);
    qsort(ts, (size_t)n, sizeof *ts, cmp_out_tensor);
    for (int i = 1; i < n; i++)
        if (!strcmp(ts[i - 1].name, ts[i].name)) {
            st = rr_error(RR_ERR_FORMAT, "%s: tensor \"%s\" is stored both with and without the \"bert.\" "
                          "prefix", e->source_dir, ts[i].name + 5);
            goto done;
        }
    uint64_t offset = 0;
    int jfail = json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"));
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < ts[i].ndim; d++)
            jfail |= json_array_append_new(shape, json_integer((json_int_t)ts[i].shape[d]));
        json_t *entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", ts[i].dtype, "shape", shape,
                                  "data_offsets", (json_int_t)offset, (json_int_t)(offset + ts[i].nbytes));
        jfail |= !entry || json_object_set_new(hdr, ts[i].name, entry);
        offset += ts[i].nbytes;
    }
    text = jfail ? NULL : json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        st = rr_error(RR_ERR_NOMEM, "out of memory building the safetensors header");
        goto done;
    }
    size_t len = strlen(text), padded = (len + 7) / 8 * 8; /* data starts 8-byte aligned */
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if ((st = rr_atomic_open(&af, path)))
        goto done;
    fwrite(lenbuf, 1, 8, af.fp);
    fwrite(text, 1, len, af.fp);
    for (size_t i = len; i < padded; i++)
        fputc(' ', af.fp);
    for (int i = 0; i < n; i++)
        fwrite(ts[i].data, 1, ts[i].nbytes, af.fp);
    st = rr_atomic_commit(&af);
done:
    if (af.fp)
        rr_atomic_abort(&af);
    free(text);
    json_decref(hdr);
    free(ts);
    return st;
}

/* ---- config.json ---- */

static rr_status write_config(const rr_hf_export *e, const char *path) {
    char src[4096];
    RR_TRY(rr_path_join(src, sizeof src, e->source_dir, "config.json"));
    json_error_t jerr;
    json_t *c = json_load_file(src, JSON_REJECT_DUPLICATES, &jerr);
    if (!c || !json_is_object(c)) {
        json_decref(c);
        return rr_error(RR_ERR_FORMAT, "%s:%d:%d: %s", src, jerr.line, jerr.column,
                        c ? "expected a JSON object" : jerr.text);
    }
    int fail = 0;
    fail |= json_object_set_new(c, "architectures", json_pack("[s]", "BertForSequenceClassification"));
    fail |= json_object_set_new(c, "id2label", json_pack("{s:s}", "0", "LABEL_0"));
    fail |= json_object_set_new(c, "label2id", json_pack("{s:i}", "LABEL_0", 0));
    json_object_del(c, "num_labels"); /* transformers derives it from id2label */
    json_object_del(c, "_name_or_path");
    if (e->config_extra_key && e->config_extra_json) {
        json_t *x = json_loads(e->config_extra_json, 0, &jerr);
        fail |= !x || json_object_set_new(c, e->config_extra_key, x);
    }
    char *text = fail ? NULL : json_dumps(c, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(c);
    if (!text)
        return rr_error(RR_ERR_NOMEM, "out of memory building config.json");
    rr_status st = rr_atomic_write_line(path, text);
    free(text);
    return st;
}

static rr_status write_bytes(const char *path, const char *data, size_t len) {
    return rr_atomic_write(path, data, len);
}

static rr_status fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    return rc ? rr_error(RR_ERR_IO, "%s: fsync failed: %s", dir, strerror(saved)) : RR_OK;
}

rr_status rr_hf_export_cross_encoder(const rr_hf_export *e) {
    RR_TRY(rr_hf_export_check_target(e->out_dir));
    char tmp[4096], path[4200], src[4200], parent[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", e->out_dir) >= sizeof tmp)
        return rr_error(RR_ERR_INVALID_ARG, "output path too long: %s", e->out_dir);
    if (!mkdtemp(tmp))
        return rr_error(RR_ERR_IO, "%s: cannot create a directory beside it: %s", e->out_dir, strerror(errno));
    chmod(tmp, 0755);
    rr_checkpoint ck = {0};
    rr_status st = rr_checkpoint_open(e->source_dir, &ck);
    if (!st)
        st = rr_path_join(path, sizeof path, tmp, "model.safetensors");
    if (!st)
        st = write_safetensors(e, &ck, path);
    if (!st)
        st = rr_path_join(path, sizeof path, tmp, "config.json");
    if (!st)
        st = write_config(e, path);
    for (size_t i = 0; !st && i < sizeof tokenizer_files / sizeof *tokenizer_files; i++) {
        if ((st = rr_path_join(src, sizeof src, e->source_dir, tokenizer_files[i])))
            break;
        if (!rr_file_exists(src))
            continue;
        char *data = NULL;
        size_t len = 0;
        if (!(st = rr_file_read_all(src, (size_t)256 << 20, &data, &len)) &&
            !(st = rr_path_join(path, sizeof path, tmp, tokenizer_files[i])))
            st = write_bytes(path, data, len);
        free(data);
    }
    if (!st && e->readme && !(st = rr_path_join(path, sizeof path, tmp, "README.md")))
        st = write_bytes(path, e->readme, strlen(e->readme));
    if (!st)
        st = fsync_dir(tmp);
    if (!st && rename(tmp, e->out_dir) != 0)
        st = rr_error(RR_ERR_IO, "%s: rename from %s failed: %s", e->out_dir, tmp, strerror(errno));
    rr_checkpoint_close(&ck);
    if (st) {
        for (size_t i = 0; i < sizeof written_files / sizeof *written_files; i++)
            if (!rr_path_join(path, sizeof path, tmp, written_files[i]))
                unlink(path);
        rmdir(tmp);
        return st;
    }
    /* make the rename durable: fsync the parent directory */
    snprintf(parent, sizeof parent, "%s", e->out_dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    return fsync_dir(parent);
}
