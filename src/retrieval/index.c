/* retrieval/index.c — rr_index: a FAISS index through FAISS's C API (index_factory, train,
 * add, search, read/write), the label → document-id map, and the metadata (model and corpus
 * checksums, dimension, metric, factory) that an index directory carries and that loading
 * checks. See include/rerank/index.h for the directory layout.
 *
 * N = vectors in a call, D = dimension, K = results per query.
 * Without RR_HAVE_FAISS the metadata and id-map code still builds; every FAISS call reports
 * RR_ERR_UNSUPPORTED. */
#define _POSIX_C_SOURCE 200809L
#include "rerank/index.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/lines.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json_where.h"
#include "util/sha256.h"

#ifdef RR_HAVE_FAISS
#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>
#ifdef RR_HAVE_FAISS_GPU
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/IndexIVFFlat_c.h>
#include <faiss/c_api/IndexScalarQuantizer_c.h>
#include <faiss/c_api/gpu/DeviceUtils_c.h>
#include <faiss/c_api/gpu/GpuAutoTune_c.h>
#include <faiss/c_api/gpu/GpuClonerOptions_c.h>
#include <faiss/c_api/gpu/StandardGpuResources_c.h>
#include <cuda_runtime_api.h>
#endif
#else
typedef struct FaissIndex_H FaissIndex;
#endif

/* helpers only the FAISS build calls */
#if defined(__GNUC__) && !defined(RR_HAVE_FAISS)
#define RR_FAISS_ONLY __attribute__((unused))
#else
#define RR_FAISS_ONLY
#endif

#define RR_INDEX_FORMAT "rerank-index/1"
#define RR_FAISS_VERSION "1.7.3"
#define NO_FAISS_MSG "built without FAISS; run scripts/setup.sh, then rebuild"

static const char *const FILE_FAISS = "index.faiss";
static const char *const FILE_DOCIDS = "docids.txt";
static const char *const FILE_META = "meta.json";
static const char *const FILE_HASHES = "dochash.bin";

/* Document ids: one arena of NUL-terminated strings, offsets by label, and an open-addressing
 * hash table (label + 1, 0 = empty) that finds duplicates as ids arrive. */
typedef struct id_map {
    char *chars;
    size_t chars_len, chars_cap;
    size_t *offset; /* [num] */
    int64_t num, cap;
    int64_t *slots; /* [num_slots] */
    size_t num_slots;
} id_map;

struct rr_index {
    FaissIndex *faiss; /* the index itself: what is trained, added to, written */
    rr_index_meta meta;
    id_map ids;
    /* rr_doc_hash of each label's document [ids.cap]; no_hashes: the index does not know them */
    uint64_t *hashes;
    int no_hashes;
    int ivf_direct_map; /* rr_index_reconstruct made the IVF index's direct map */
    /* rr_index_use_gpu: a copy on a GPU that searches run on (NULL: search the CPU index);
     * dropped when the CPU index changes, re-made when the search parameters change */
    FaissIndex *gpu;
    void *gpu_res; /* FaissStandardGpuResources */
    int gpu_device, gpu_fp16;
};


int rr_metric_parse(const char *name) {
    if (!strcmp(name, "ip"))
        return RR_METRIC_IP;
    if (!strcmp(name, "l2"))
        return RR_METRIC_L2;
    return -1;
}

const char *rr_metric_name(rr_metric metric) { return metric == RR_METRIC_L2 ? "l2" : "ip"; }

int rr_index_available(void) {
#ifdef RR_HAVE_FAISS
    return 1;
#else
    return 0;
#endif
}

/* ---- id map ---------------------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void id_map_free(id_map *m) {
    free(m->chars);
    free(m->offset);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static const char *id_map_get(const id_map *m, int64_t label) {
    return label >= 0 && label < m->num ? m->chars + m->offset[label] : NULL;
}

/* Slot where id is, or the empty slot where it would go. */
static size_t id_map_find(const id_map *m, const char *id) {
    size_t mask = m->num_slots - 1, i = (size_t)hash_str(id) & mask;
    while (m->slots[i] && strcmp(m->chars + m->offset[m->slots[i] - 1], id))
        i = (i + 1) & mask;
    return i;
}

static rr_status id_map_grow_slots(id_map *m, size_t want) {
    size_t ns = m->num_slots ? m->num_slots : 1024;
    while (ns < want * 2)
        ns *= 2;
    if (ns == m->num_slots)
        return RR_OK;
    int64_t *old = m->slots;
    size_t old_n = m->num_slots;
    m->slots = calloc(ns, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return rr_error(RR_ERR_NOMEM, "out of memory for %zu document ids", want);
    }
    m->num_slots = ns;
    for (size_t i = 0; i < old_n; i++)
        if (old[i])
            m->slots[id_map_find(m, m->chars + m->offset[old[i] - 1])] = old[i];
    free(old);
    return RR_OK;
}

/* Append ids [n]; what = where they come from, for messages ("docids.txt", "corpus").
 * line0 > 0 numbers the ids as lines of a file. On error nothing is appended. */
static rr_status id_map_add(id_map *m, int64_t n, const char *const *ids, const char *what,
                            long long line0) {
    size_t bytes = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *id = ids[i];
        if (!id || !*id)
            return line0 > 0 ? rr_error(RR_ERR_FORMAT, "%s:%lld: empty document id", what, line0 + i)
                             : rr_error(RR_ERR_INVALID_ARG, "%s: empty document id", what);
        if (strpbrk(id, " \t\n\r\v\f"))
            return line0 > 0
                       ? rr_error(RR_ERR_FORMAT, "%s:%lld: document id \"%s\" contains whitespace",
                                  what, line0 + i, id)
                       : rr_error(RR_ERR_INVALID_ARG,
                                  "%s: document id \"%s\" contains whitespace (a TREC run cannot "
                                  "carry it)", what, id);
        bytes += strlen(id) + 1;
    }
    if (m->num + n > m->cap) {
        int64_t nc = m->cap ? m->cap : 1024;
        while (nc < m->num + n)
            nc *= 2;
        size_t *no = realloc(m->offset, (size_t)nc * sizeof *no);
        if (!no)
            return rr_error(RR_ERR_NOMEM, "out of memory for %lld document ids", (long long)nc);
        m->offset = no;
        m->cap = nc;
    }
    if (m->chars_len + bytes > m->chars_cap) {
        size_t nc = m->chars_cap ? m->chars_cap : 65536;
        while (nc < m->chars_len + bytes)
            nc *= 2;
        char *nch = realloc(m->chars, nc);
        if (!nch)
            return rr_error(RR_ERR_NOMEM, "out of memory for document ids");
        m->chars = nch;
        m->chars_cap = nc;
    }
    RR_TRY(id_map_grow_slots(m, (size_t)(m->num + n)));
    size_t chars_len0 = m->chars_len;
    int64_t num0 = m->num;
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]) + 1;
        memcpy(m->chars + m->chars_len, ids[i], len);
        m->offset[m->num] = m->chars_len;
        size_t slot = id_map_find(m, ids[i]);
        if (m->slots[slot]) {
            int64_t prev = m->slots[slot] - 1;
            /* undo this call's entries */
            for (int64_t j = num0; j < m->num; j++)
                m->slots[id_map_find(m, m->chars + m->offset[j])] = 0;
            m->num = num0;
            m->chars_len = chars_len0;
            /* removing entries from linear probing can break chains: rebuild */
            memset(m->slots, 0, m->num_slots * sizeof *m->slots);
            for (int64_t j = 0; j < m->num; j++)
                m->slots[id_map_find(m, m->chars + m->offset[j])] = j + 1;
            if (line0 > 0)
                return rr_error(RR_ERR_FORMAT, "%s:%lld: duplicate document id \"%s\" (first at line %lld)",
                                what, line0 + i, ids[i], (long long)prev + 1);
            return rr_error(RR_ERR_INVALID_ARG, "%s: duplicate document id \"%s\" (document %lld and %lld)",
                            what, ids[i], (long long)prev + 1, (long long)(num0 + i) + 1);
        }
        m->slots[slot] = m->num + 1;
        m->chars_len += len;
        m->num++;
    }
    return RR_OK;
}

/* ---- FAISS ------------------------------------------------------------------------------ */

#ifdef RR_HAVE_FAISS
/* FAISS's message belongs to the thread and is overwritten by its next failure: copy now. */
static rr_status faiss_fail(int code, const char *what) {
    const char *msg = faiss_get_last_error();
    return rr_error(RR_ERR_BACKEND, "FAISS %s failed (code %d): %s", what, code,
                    msg && *msg ? msg : "no message");
}
#define FAISS_TRY(call, what)                                                              \
    do {                                                                                   \
        int faiss_rc_ = (call);                                                            \
        if (faiss_rc_)                                                                     \
            return faiss_fail(faiss_rc_, what);                                            \
    } while (0)
#endif

static rr_status check_meta_strings(const rr_index_meta *m) {
    if (m->dim <= 0 || m->dim > 65536)
        return rr_error(RR_ERR_INVALID_ARG, "index dimension %d out of range", (int)m->dim);
    if (m->metric != RR_METRIC_IP && m->metric != RR_METRIC_L2)
        return rr_error(RR_ERR_INVALID_ARG, "unknown metric %d", (int)m->metric);
    if (!memchr(m->factory, '\0', sizeof m->factory) || !m->factory[0])
        return rr_error(RR_ERR_INVALID_ARG, "empty or overlong index factory string");
    if (!memchr(m->model, '\0', sizeof m->model) || !memchr(m->corpus, '\0', sizeof m->corpus) ||
        !memchr(m->model_sha256, '\0', sizeof m->model_sha256) ||
        !memchr(m->corpus_sha256, '\0', sizeof m->corpus_sha256))
        return rr_error(RR_ERR_INVALID_ARG, "index metadata strings not terminated");
    return RR_OK;
}

rr_status rr_index_create(const rr_index_meta *meta, rr_index **out) {
    *out = NULL;
    RR_TRY(check_meta_strings(meta));
#ifndef RR_HAVE_FAISS
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    rr_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    ix->meta = *meta;
    ix->meta.num_docs = 0;
    int rc = faiss_index_factory(&ix->faiss, meta->dim, meta->factory,
                                 meta->metric == RR_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT);
    if (rc) {
        const char *msg = faiss_get_last_error();
        rr_status st = rr_error(RR_ERR_INVALID_ARG, "index factory string \"%s\" (dimension %d): %s",
                                meta->factory, (int)meta->dim, msg && *msg ? msg : "rejected by FAISS");
        free(ix);
        return st;
    }
    *out = ix;
    return RR_OK;
#endif
}

/* ---- the GPU copy ------------------------------------------------------------------------ */

int rr_index_gpu_built(void) {
#ifdef RR_HAVE_FAISS_GPU
    return 1;
#else
    return 0;
#endif
}

int rr_index_gpu_count(void) {
#ifdef RR_HAVE_FAISS_GPU
    /* asked of the CUDA runtime, not of FAISS: FAISS 1.7.3's getNumDevices aborts the process
     * (FAISS_ASSERT) where there is no driver or no device */
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it */
        return 0;
    }
    return n;
#else
    return 0;
#endif
}

static void drop_gpu(rr_index *ix) {
#ifdef RR_HAVE_FAISS_GPU
    if (ix->gpu)
        faiss_Index_free(ix->gpu);
#endif
    ix->gpu = NULL;
}

#ifdef RR_HAVE_FAISS_GPU
/* FAISS's GPU cloner turns what it does not know into a CPU copy, silently: only the types it
 * does map are sent. IVF…,PQ… is recognised by its factory string (the C API has no IVFPQ
 * downcast); fast-scan PQ ("…fs") has no GPU version. */
static int gpu_has_version(const rr_index *ix) {
    FaissIndex *f = ix->faiss;
    if (faiss_IndexFlat_cast(f) || faiss_IndexIVFFlat_cast(f) || faiss_IndexIVFScalarQuantizer_cast(f))
        return 1;
    const char *pq = strstr(ix->meta.factory, ",PQ");
    return faiss_IndexIVF_cast(f) && pq && !strstr(pq, "fs") && !strchr(pq + 1, ',');
}
#endif

rr_status rr_index_use_gpu(rr_index *ix, int device, int fp16) {
#ifndef RR_HAVE_FAISS_GPU
    (void)ix, (void)device, (void)fp16;
    return rr_error(RR_ERR_UNSUPPORTED, "this rerank's FAISS has no GPU support (RR_FAISS_GPU=1 "
                    "scripts/setup.sh builds one, then rebuild)");
#else
    int n = rr_index_gpu_count();
    if (n <= 0)
        return rr_error(RR_ERR_UNSUPPORTED, "no GPU for FAISS: the CUDA runtime sees none");
    if (device < 0 || device >= n)
        return rr_error(RR_ERR_INVALID_ARG, "GPU %d: FAISS sees %d GPU%s", device, n, n == 1 ? "" : "s");
    if (!gpu_has_version(ix))
        return rr_error(RR_ERR_UNSUPPORTED, "index \"%s\" has no GPU version in FAISS %s (Flat, "
                        "IVF…,Flat, IVF…,SQ… and IVF…,PQ… have)", ix->meta.factory, RR_FAISS_VERSION);
    if (!ix->gpu_res) {
        FaissStandardGpuResources *res = NULL;
        FAISS_TRY(faiss_StandardGpuResources_new(&res), "StandardGpuResources");
        ix->gpu_res = res;
    }
    FaissGpuClonerOptions *opt = NULL;
    FAISS_TRY(faiss_GpuClonerOptions_new(&opt), "GpuClonerOptions");
    faiss_GpuClonerOptions_set_useFloat16(opt, fp16 != 0);
    FaissGpuIndex *g = NULL;
    int rc = faiss_index_cpu_to_gpu_with_options((FaissGpuResourcesProvider *)ix->gpu_res, device,
                                                 ix->faiss, opt, &g);
    faiss_GpuClonerOptions_free(opt);
    if (rc)
        return faiss_fail(rc, "index_cpu_to_gpu");
    drop_gpu(ix);
    ix->gpu = (FaissIndex *)g;
    ix->gpu_device = device;
    ix->gpu_fp16 = fp16 != 0;
    return RR_OK;
#endif
}

int rr_index_on_gpu(const rr_index *ix) { return ix && ix->gpu; }

void rr_index_free(rr_index *ix) {
    if (!ix)
        return;
    drop_gpu(ix);
#ifdef RR_HAVE_FAISS_GPU
    if (ix->gpu_res)
        faiss_StandardGpuResources_free(ix->gpu_res);
#endif
#ifdef RR_HAVE_FAISS
    if (ix->faiss)
        faiss_Index_free(ix->faiss);
#endif
    id_map_free(&ix->ids);
    free(ix->hashes);
    free(ix);
}

int rr_index_needs_training(const rr_index *ix) {
#ifdef RR_HAVE_FAISS
    return ix && ix->faiss && !faiss_Index_is_trained(ix->faiss);
#else
    (void)ix;
    return 0;
#endif
}

rr_status rr_index_train(rr_index *ix, int64_t n, const float *x) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)n, (void)x;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    if (faiss_Index_is_trained(ix->faiss))
        return RR_OK;
    if (n <= 0)
        return rr_error(RR_ERR_INVALID_ARG, "index \"%s\" needs training vectors", ix->meta.factory);
    FAISS_TRY(faiss_Index_train(ix->faiss, n, x), "train");
    return RR_OK;
#endif
}

uint64_t rr_doc_hash(const char *text, size_t len) {
    rr_sha256 h;
    rr_sha256_init(&h);
    rr_sha256_update(&h, text, len);
    return rr_sha256_final64(&h);
}

rr_status rr_index_add(rr_index *ix, int64_t n, const float *x, const char *const *ids) {
    return rr_index_add_hashed(ix, n, x, ids, NULL);
}

rr_status rr_index_add_hashed(rr_index *ix, int64_t n, const float *x, const char *const *ids,
                              const uint64_t *hashes) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)n, (void)x, (void)ids, (void)hashes;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    if (n < 0)
        return rr_error(RR_ERR_INVALID_ARG, "negative vector count");
    if (n == 0)
        return RR_OK;
    if (!faiss_Index_is_trained(ix->faiss))
        return rr_error(RR_ERR_INVALID_ARG, "index \"%s\" must be trained before vectors are added",
                        ix->meta.factory);
    int64_t num0 = ix->ids.num;
    size_t chars0 = ix->ids.chars_len;
    RR_TRY(id_map_add(&ix->ids, n, ids, "add", 0));
    rr_status st = RR_OK;
    if (hashes && !ix->no_hashes) { /* room for them before FAISS changes (ids.cap grew to fit) */
        uint64_t *nh = realloc(ix->hashes, (size_t)ix->ids.cap * sizeof *nh);
        if (!nh) {
            st = rr_error(RR_ERR_NOMEM, "out of memory for %lld document checksums", (long long)ix->ids.cap);
            goto undo;
        }
        ix->hashes = nh;
    }
    int rc = faiss_Index_add(ix->faiss, n, x);
    if (rc) {
        st = faiss_fail(rc, "add");
        goto undo;
    }
    if (!hashes) { /* from now on the index cannot say which documents it holds the text of */
        ix->no_hashes = 1;
        free(ix->hashes);
        ix->hashes = NULL;
    } else if (!ix->no_hashes) {
        memcpy(ix->hashes + num0, hashes, (size_t)n * sizeof *hashes);
    }
    RR_CHECK_INVARIANT(faiss_Index_ntotal(ix->faiss) == ix->ids.num);
    ix->meta.num_docs = ix->ids.num;
    drop_gpu(ix); /* stale now: rr_index_use_gpu makes a new copy */
    return RR_OK;
undo: /* drop the ids again so labels and ids stay in step */
    ix->ids.num = num0;
    ix->ids.chars_len = chars0;
    memset(ix->ids.slots, 0, ix->ids.num_slots * sizeof *ix->ids.slots);
    for (int64_t j = 0; j < ix->ids.num; j++)
        ix->ids.slots[id_map_find(&ix->ids, id_map_get(&ix->ids, j))] = j + 1;
    return st;
#endif
}

const uint64_t *rr_index_doc_hashes(const rr_index *ix) {
    static const uint64_t none[1];
    return ix->no_hashes ? NULL : ix->hashes ? ix->hashes : none;
}

int64_t rr_index_find(const rr_index *ix, const char *id) {
    if (!ix->ids.num_slots)
        return -1;
    int64_t s = ix->ids.slots[id_map_find(&ix->ids, id)];
    return s - 1;
}

rr_status rr_index_set_search_params(rr_index *ix, const char *params) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)params;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    if (!params || !*params)
        return RR_OK;
    FaissParameterSpace *ps = NULL;
    FAISS_TRY(faiss_ParameterSpace_new(&ps), "ParameterSpace");
    int rc = faiss_ParameterSpace_set_index_parameters(ps, ix->faiss, params);
    faiss_ParameterSpace_free(ps);
    if (rc) {
        const char *msg = faiss_get_last_error();
        return rr_error(RR_ERR_INVALID_ARG, "search parameters \"%s\" for index \"%s\": %s", params,
                        ix->meta.factory, msg && *msg ? msg : "rejected by FAISS");
    }
    /* the GPU copy took its parameters (nprobe) when it was made, and FAISS's C API has no
     * GPU parameter space: make it again */
    if (ix->gpu) {
        rr_status st = rr_index_use_gpu(ix, ix->gpu_device, ix->gpu_fp16);
        if (st) /* no stale copy searching with the old parameters: the CPU index answers */
            drop_gpu(ix);
        return st;
    }
    return RR_OK;
#endif
}

rr_status rr_index_search(const rr_index *ix, int64_t n, const float *q, int64_t k, int64_t batch,
                          float *scores, int64_t *labels) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)n, (void)q, (void)k, (void)batch, (void)scores, (void)labels;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    if (k <= 0)
        return rr_error(RR_ERR_INVALID_ARG, "k must be positive (got %lld)", (long long)k);
    if (n < 0)
        return rr_error(RR_ERR_INVALID_ARG, "negative query count");
    if (batch <= 0 || batch > n)
        batch = n;
    const int64_t d = ix->meta.dim;
    FaissIndex *f = ix->gpu && k <= RR_INDEX_GPU_MAX_K ? ix->gpu : ix->faiss; /* larger k: the CPU index */
    for (int64_t first = 0; first < n; first += batch) {
        int64_t nb = n - first < batch ? n - first : batch;
        FAISS_TRY(faiss_Index_search(f, nb, q + first * d, k, scores + first * k,
                                     labels + first * k), "search");
    }
    if (ix->meta.metric == RR_METRIC_L2) /* squared distance → similarity, larger is better */
        for (int64_t i = 0; i < n * k; i++)
            scores[i] = -scores[i];
    return RR_OK;
#endif
}

rr_status rr_index_reconstruct(rr_index *ix, int64_t first, int64_t n, float *out) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)first, (void)n, (void)out;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    if (first < 0 || n < 0 || first + n > ix->ids.num)
        return rr_error(RR_ERR_INVALID_ARG, "vectors [%lld, %lld) out of range (%lld in the index)",
                        (long long)first, (long long)(first + n), (long long)ix->ids.num);
    FaissIndexIVF *ivf = faiss_IndexIVF_cast(ix->faiss);
    if (!ivf || n == 0) {
        if (n > 0)
            FAISS_TRY(faiss_Index_reconstruct_n(ix->faiss, first, n, out), "reconstruct");
        return RR_OK;
    }
    /* An IVF index's reconstruct_n walks every inverted list (all the vectors) for each call:
     * its direct map (label -> list, offset; 8 bytes a vector, made once, in memory only)
     * finds each vector at once instead. */
    if (!ix->ivf_direct_map) {
        FAISS_TRY(faiss_IndexIVF_make_direct_map(ivf, 1), "make_direct_map");
        ix->ivf_direct_map = 1;
    }
    for (int64_t i = 0; i < n; i++)
        FAISS_TRY(faiss_Index_reconstruct(ix->faiss, first + i, out + (size_t)i * (size_t)ix->meta.dim),
                  "reconstruct");
    return RR_OK;
#endif
}

const char *rr_index_doc_id(const rr_index *ix, int64_t label) { return id_map_get(&ix->ids, label); }
int64_t rr_index_size(const rr_index *ix) { return ix->ids.num; }
const rr_index_meta *rr_index_get_meta(const rr_index *ix) { return &ix->meta; }

/* ---- metadata file ----------------------------------------------------------------------- */

RR_FAISS_ONLY static rr_status write_meta(const rr_index_meta *m, const char *path) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:s}",
                          "format", RR_INDEX_FORMAT, "model", m->model, "model_sha256", m->model_sha256,
                          "corpus", m->corpus, "corpus_sha256", m->corpus_sha256, "dim", (int)m->dim,
                          "metric", rr_metric_name(m->metric), "factory", m->factory,
                          "num_docs", (json_int_t)m->num_docs, "faiss_version", RR_FAISS_VERSION);
    if (!o)
        return rr_error(RR_ERR_NOMEM, "out of memory (index metadata)");
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return rr_error(RR_ERR_NOMEM, "out of memory (index metadata)");
    rr_status st = rr_atomic_write_line(path, text);
    free(text);
    return st;
}

static rr_status meta_string(const rr_json_doc *d, const char *key, char *dst, size_t cap) {
    json_t *v = json_object_get(d->root, key);
    char at[4200];
    if (!v)
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" is missing", d->path, key);
    if (!json_is_string(v))
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" is not a string", rr_json_where(d, key, at, sizeof at), key);
    if (json_string_length(v) >= cap)
        return rr_error(RR_ERR_FORMAT, "%s: field \"%s\" too long", rr_json_where(d, key, at, sizeof at), key);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return RR_OK;
}

static rr_status read_meta(const char *path, rr_index_meta *m) {
    memset(m, 0, sizeof *m);
    rr_json_doc doc;
    RR_TRY(rr_json_load_object(path, 1 << 20, &doc));
    rr_status st = RR_OK;
    char format[64], metric[16], at[4200];
    json_t *dim = json_object_get(doc.root, "dim"), *num = json_object_get(doc.root, "num_docs");
    if ((st = meta_string(&doc, "format", format, sizeof format)))
        ;
    else if (strcmp(format, RR_INDEX_FORMAT))
        st = rr_error(RR_ERR_UNSUPPORTED, "%s: index format \"%s\", this build reads \"%s\"",
                      rr_json_where(&doc, "format", at, sizeof at), format, RR_INDEX_FORMAT);
    else if ((st = meta_string(&doc, "model", m->model, sizeof m->model)) ||
             (st = meta_string(&doc, "model_sha256", m->model_sha256, sizeof m->model_sha256)) ||
             (st = meta_string(&doc, "corpus", m->corpus, sizeof m->corpus)) ||
             (st = meta_string(&doc, "corpus_sha256", m->corpus_sha256, sizeof m->corpus_sha256)) ||
             (st = meta_string(&doc, "factory", m->factory, sizeof m->factory)) ||
             (st = meta_string(&doc, "metric", metric, sizeof metric)))
        ;
    else if (rr_metric_parse(metric) < 0)
        st = rr_error(RR_ERR_FORMAT, "%s: metric \"%s\" is neither \"ip\" nor \"l2\"",
                      rr_json_where(&doc, "metric", at, sizeof at), metric);
    else if (!json_is_integer(dim) || json_integer_value(dim) <= 0 || json_integer_value(dim) > 65536)
        st = rr_error(RR_ERR_FORMAT, "%s: field \"dim\" missing or out of range (1..65536)",
                      rr_json_where(&doc, "dim", at, sizeof at));
    else if (!json_is_integer(num) || json_integer_value(num) < 0)
        st = rr_error(RR_ERR_FORMAT, "%s: field \"num_docs\" missing or negative",
                      rr_json_where(&doc, "num_docs", at, sizeof at));
    if (!st) {
        m->metric = (rr_metric)rr_metric_parse(metric);
        m->dim = (int32_t)json_integer_value(dim);
        m->num_docs = (int64_t)json_integer_value(num);
    }
    rr_json_doc_free(&doc);
    return st;
}

/* ---- directory write / read --------------------------------------------------------------- */

/* dir may be replaced only if it does not exist, or holds nothing but an index's files. */
RR_FAISS_ONLY static rr_status check_replaceable(const char *dir, int *exists) {
    *exists = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return errno == ENOENT ? RR_OK : rr_error(RR_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return rr_error(RR_ERR_INVALID_ARG, "%s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return rr_error(RR_ERR_IO, "%s: %s", dir, strerror(errno));
    rr_status st = RR_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, FILE_FAISS) ||
            !strcmp(nm, FILE_DOCIDS) || !strcmp(nm, FILE_META) || !strcmp(nm, FILE_HASHES))
            continue;
        st = rr_error(RR_ERR_INVALID_ARG,
                      "%s exists and holds \"%s\": not an index directory, refusing to replace it",
                      dir, nm);
        break;
    }
    closedir(d);
    *exists = 1;
    return st;
}

RR_FAISS_ONLY static void remove_index_dir(const char *dir) {
    char p[4200];
    const char *names[] = {FILE_FAISS, FILE_DOCIDS, FILE_META, FILE_HASHES};
    for (int i = 0; i < 4; i++)
        if (!rr_path_join(p, sizeof p, dir, names[i]))
            unlink(p);
    rmdir(dir);
}

/* dochash.bin: 8 bytes little-endian per label */
RR_FAISS_ONLY static rr_status write_hashes(const rr_index *ix, const char *path) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    for (int64_t i = 0; i < ix->ids.num; i++) {
        unsigned char b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (unsigned char)(ix->hashes[i] >> (8 * k));
        fwrite(b, 1, 8, af.fp);
    }
    return rr_atomic_commit(&af);
}

/* dochash.bin if the directory has one (else the index records no checksums): exactly one
 * checksum per document id. */
RR_FAISS_ONLY static rr_status read_hashes(rr_index *ix, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            return rr_error(RR_ERR_IO, "%s: %s", path, strerror(errno));
        ix->no_hashes = 1;
        return RR_OK;
    }
    rr_status st = RR_OK;
    int64_t n = ix->ids.num;
    ix->hashes = malloc((size_t)(n ? n : 1) * sizeof *ix->hashes);
    if (!ix->hashes)
        st = rr_error(RR_ERR_NOMEM, "out of memory for %lld document checksums", (long long)n);
    for (int64_t i = 0; !st && i < n; i++) {
        unsigned char b[8];
        if (fread(b, 1, 8, f) != 8) {
            st = rr_error(RR_ERR_FORMAT, "%s: %lld checksums, docids.txt has %lld document ids", path,
                          (long long)i, (long long)n);
            break;
        }
        uint64_t h = 0;
        for (int k = 0; k < 8; k++)
            h |= (uint64_t)b[k] << (8 * k);
        ix->hashes[i] = h;
    }
    if (!st && fgetc(f) != EOF)
        st = rr_error(RR_ERR_FORMAT, "%s: more than %lld checksums (docids.txt has %lld document ids)", path,
                      (long long)n, (long long)n);
    fclose(f);
    return st;
}

rr_status rr_index_write(const rr_index *ix, const char *dir) {
#ifndef RR_HAVE_FAISS
    (void)ix, (void)dir;
    return rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
#else
    int exists;
    RR_TRY(check_replaceable(dir, &exists));
    char tmp[4096], old[4096], path[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()) >= (int)sizeof tmp ||
        snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid()) >= (int)sizeof old)
        return rr_error(RR_ERR_INVALID_ARG, "index path too long: %s", dir);
    remove_index_dir(tmp);
    if (mkdir(tmp, 0755) != 0)
        return rr_error(RR_ERR_IO, "%s: %s", tmp, strerror(errno));
    rr_status st = RR_OK;
    int rc;
    if ((st = rr_path_join(path, sizeof path, tmp, FILE_FAISS)))
        goto fail;
    if ((rc = faiss_write_index_fname(ix->faiss, path))) {
        st = faiss_fail(rc, "write_index");
        goto fail;
    }
    rr_atomic_file af;
    if ((st = rr_path_join(path, sizeof path, tmp, FILE_DOCIDS)) || (st = rr_atomic_open(&af, path)))
        goto fail;
    for (int64_t i = 0; i < ix->ids.num; i++) {
        fputs(id_map_get(&ix->ids, i), af.fp);
        fputc('\n', af.fp);
    }
    if ((st = rr_atomic_commit(&af)))
        goto fail;
    if (!ix->no_hashes &&
        ((st = rr_path_join(path, sizeof path, tmp, FILE_HASHES)) || (st = write_hashes(ix, path))))
        goto fail;
    rr_index_meta m = ix->meta;
    m.num_docs = ix->ids.num;
    if ((st = rr_path_join(path, sizeof path, tmp, FILE_META)) || (st = write_meta(&m, path)))
        goto fail;
    if (exists && rename(dir, old) != 0) {
        st = rr_error(RR_ERR_IO, "%s: cannot move the old index aside: %s", dir, strerror(errno));
        goto fail;
    }
    if (rename(tmp, dir) != 0) {
        st = rr_error(RR_ERR_IO, "%s: rename failed: %s", dir, strerror(errno));
        if (exists)
            rename(old, dir);
        goto fail;
    }
    if (exists)
        remove_index_dir(old);
    return RR_OK;
fail:
    remove_index_dir(tmp);
    return st;
#endif
}

RR_FAISS_ONLY static rr_status read_docids(const char *path, id_map *m) {
    rr_line_reader r;
    RR_TRY(rr_lines_open(&r, path, 0));
    rr_status st;
    int eof = 0;
    while (!(st = rr_lines_next(&r, &eof)) && !eof) {
        const char *id = r.buf;
        if ((st = id_map_add(m, 1, &id, path, r.line_no)))
            break;
    }
    rr_lines_close(&r);
    return st;
}

static rr_status mismatch(const char *dir, const char *what, const char *have, const char *want,
                          const char *hint) {
    return rr_error(RR_ERR_INVALID_ARG, "%s was built with %s %s, not %s: %s", dir, what, have, want, hint);
}

rr_status rr_index_read(const char *dir, const rr_index_meta *expect, rr_index **out) {
    *out = NULL;
    char path[4200];
    rr_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return rr_error(RR_ERR_NOMEM, "out of memory");
    rr_status st;
    if ((st = rr_path_join(path, sizeof path, dir, FILE_META)))
        goto fail;
    if ((st = read_meta(path, &ix->meta))) {
        if (st == RR_ERR_NOT_FOUND)
            st = rr_error(RR_ERR_NOT_FOUND, "%s is not an index directory (no %s)", dir, FILE_META);
        goto fail;
    }
    const rr_index_meta *m = &ix->meta;
    if (expect) {
        char a[32], b[32];
        if (expect->model_sha256[0] && strcmp(expect->model_sha256, m->model_sha256)) {
            st = mismatch(dir, "the embedding model", m->model, "this one",
                          "its weights differ (sha256 in meta.json vs the model given); embed "
                          "queries with the model the index was built with, or rebuild the index");
            goto fail;
        }
        if (expect->corpus_sha256[0] && strcmp(expect->corpus_sha256, m->corpus_sha256)) {
            st = mismatch(dir, "corpus", m->corpus, "the corpus given",
                          "its content differs (corpus_sha256); rebuild the index for this corpus");
            goto fail;
        }
        if (expect->dim > 0 && expect->dim != m->dim) {
            snprintf(a, sizeof a, "%d", (int)m->dim);
            snprintf(b, sizeof b, "%d", (int)expect->dim);
            st = mismatch(dir, "dimension", a, b, "the model's embeddings do not fit this index");
            goto fail;
        }
        if (expect->factory[0] && strcmp(expect->factory, m->factory)) {
            st = mismatch(dir, "index factory", m->factory, expect->factory, "rebuild the index");
            goto fail;
        }
    }
#ifndef RR_HAVE_FAISS
    st = rr_error(RR_ERR_UNSUPPORTED, NO_FAISS_MSG);
    goto fail;
#else
    if ((st = rr_path_join(path, sizeof path, dir, FILE_DOCIDS)) || (st = read_docids(path, &ix->ids)))
        goto fail;
    if (ix->ids.num != m->num_docs) {
        st = rr_error(RR_ERR_FORMAT, "%s: %lld document ids, meta.json says %lld", path,
                      (long long)ix->ids.num, (long long)m->num_docs);
        goto fail;
    }
    if ((st = rr_path_join(path, sizeof path, dir, FILE_HASHES)) || (st = read_hashes(ix, path)))
        goto fail;
    if ((st = rr_path_join(path, sizeof path, dir, FILE_FAISS)))
        goto fail;
    if (!rr_file_exists(path)) {
        st = rr_error(RR_ERR_NOT_FOUND, "%s: missing", path);
        goto fail;
    }
    int rc = faiss_read_index_fname(path, 0, &ix->faiss);
    if (rc) {
        st = faiss_fail(rc, "read_index");
        rr_error_prefix(st, "%s: ", path);
        goto fail;
    }
    if (faiss_Index_d(ix->faiss) != m->dim || faiss_Index_ntotal(ix->faiss) != m->num_docs ||
        (int)faiss_Index_metric_type(ix->faiss) != (m->metric == RR_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT)) {
        st = rr_error(RR_ERR_FORMAT, "%s: FAISS index (d=%d, %lld vectors, metric %d) does not match "
                      "meta.json (d=%d, %lld documents, %s)", path, faiss_Index_d(ix->faiss),
                      (long long)faiss_Index_ntotal(ix->faiss), (int)faiss_Index_metric_type(ix->faiss),
                      (int)m->dim, (long long)m->num_docs, rr_metric_name(m->metric));
        goto fail;
    }
    *out = ix;
    return RR_OK;
#endif
fail:
    rr_index_free(ix);
    return st;
}

/* ---- model checksum ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

rr_status rr_model_weights_sha256(const char *model_dir, char hex[65]) {
    char path[4200];
    rr_sha256 h;
    rr_sha256_init(&h);
    RR_TRY(rr_path_join(path, sizeof path, model_dir, "model.safetensors"));
    if (rr_file_exists(path)) {
        RR_TRY(rr_sha256_file(&h, path));
        rr_sha256_final_hex(&h, hex);
        return RR_OK;
    }
    DIR *d = opendir(model_dir);
    if (!d)
        return rr_error(RR_ERR_IO, "%s: %s", model_dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    rr_status st = RR_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 12 || strcmp(e->d_name + l - 12, ".safetensors"))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = rr_error(RR_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name)))
            st = rr_error(RR_ERR_NOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (!st && n == 0)
        st = rr_error(RR_ERR_NOT_FOUND, "%s: no .safetensors weights to checksum", model_dir);
    if (!st)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !st; i++)
        if (!(st = rr_path_join(path, sizeof path, model_dir, names[i])))
            st = rr_sha256_file(&h, path);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!st)
        rr_sha256_final_hex(&h, hex);
    return st;
}
