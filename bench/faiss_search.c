/* bench/faiss_search.c — FAISS search alone through rr_index (our C wrapper over FAISS's C API),
 * on synthetic vectors, for comparison with FAISS's own Python wrapper on the same data
 * (bench/bench_faiss.py runs both in one go; bench/bench_faiss.sh sets it up).
 *
 * Data (N = base vectors, Q = queries, D = dimension, K = results per query): x [N, D] and
 * q [Q, D], element i of each = splitmix64(seed + i + 1) >> 40, scaled to [0, 1): a counter-
 * based generator that numpy reproduces exactly (bench_faiss.py), so both sides search the
 * same floats without a file between them. Base seed 1, queries seed 2.
 *
 * For each factory: create, train (on the first min(N, train) vectors; a no-op for Flat), add
 * (in blocks of 65,536, as `rerank index` adds in chunks), then one untimed warm-up search of
 * 100 queries and the timed search of all Q at once (one rr_index_search call, batch = Q).
 * Output, one line per factory:
 *   faiss_search factory=Flat params= n=1000000 q=10000 d=384 k=100 threads=2 train_s=0.00
 *     add_s=0.41 search_s=63.2 qps=158.2 labels_fnv=0123456789abcdef
 * labels_fnv is an FNV-1a hash of the labels of the first 100 queries (int64 little-endian),
 * which bench_faiss.py prints too: equal hashes = the same results.
 * --labels-out PREFIX writes each factory's labels [Q, K] (int64, native order) to
 * PREFIX<factory index>.i64, for comparing whole result lists with the peer's.
 * --gpu 1 then copies each index to GPU 0 (rr_index_use_gpu) and times the same search there,
 * after a warm-up: a second line with device=gpu, copy_s (the copy to the GPU), search_s, qps
 * and same_labels (the fraction of the Q·K places whose label equals the CPU search's; ties
 * can swap neighbours of equal distance). --gpu 2 adds, for Flat, a third line: the copy with
 * fp16 storage (device=gpu fp16), against the same CPU labels.
 * Usage: rr_faiss_search [--n N] [--queries Q] [--dim D] [--k K] [--threads T] [--train N]
 *                        [--labels-out PREFIX] [--gpu 0|1|2] [--factory STR [--params STR]]...
 *        (default factories: Flat; IVF1024,Flat with nprobe=16)
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rerank/index.h"
#include "rerank/status.h"

static uint64_t splitmix64(uint64_t x) {
    uint64_t z = x * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* out[i] for i in [0, count): the generator of the header comment */
static void fill(float *out, size_t count, uint64_t seed) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++)
        out[i] = (float)(splitmix64(seed + i + 1) >> 40) * (1.0f / 16777216.0f);
}

static uint64_t fnv_labels(const int64_t *labels, size_t count) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < count; i++)
        for (int b = 0; b < 8; b++)
            h = (h ^ (((uint64_t)labels[i] >> (8 * b)) & 0xff)) * 1099511628211ull;
    return h;
}

static int fail(const char *what, rr_status st) {
    fprintf(stderr, "rr_faiss_search: %s: %s: %s\n", what, rr_status_str(st), rr_last_error());
    return 1;
}

/* An untimed warm-up search of the first 100 queries, then the timed search of all Q in one
 * call; its wall time in *seconds. */
static rr_status timed_search(const rr_index *ix, size_t Q, const float *q, size_t K, float *scores,
                              int64_t *labels, double *seconds) {
    rr_status st = rr_index_search(ix, Q < 100 ? (int64_t)Q : 100, q, (int64_t)K, 0, scores, labels);
    if (st)
        return st;
    double t0 = omp_get_wtime();
    st = rr_index_search(ix, (int64_t)Q, q, (int64_t)K, 0, scores, labels);
    *seconds = omp_get_wtime() - t0;
    return st;
}

int main(int argc, char **argv) {
    long n = 1000000, nq = 10000, dim = 384, k = 100, threads = 0, train = 262144, gpu = 0;
    const char *factories[16], *params[16], *labels_out = NULL;
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "rr_faiss_search: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--n"))
            n = atol(v);
        else if (!strcmp(a, "--queries"))
            nq = atol(v);
        else if (!strcmp(a, "--dim"))
            dim = atol(v);
        else if (!strcmp(a, "--k"))
            k = atol(v);
        else if (!strcmp(a, "--threads"))
            threads = atol(v);
        else if (!strcmp(a, "--train"))
            train = atol(v);
        else if (!strcmp(a, "--gpu"))
            gpu = atol(v);
        else if (!strcmp(a, "--labels-out"))
            labels_out = v;
        else if (!strcmp(a, "--factory") && nf < 16) {
            factories[nf] = v;
            params[nf++] = "";
        } else if (!strcmp(a, "--params") && nf > 0)
            params[nf - 1] = v;
        else {
            fprintf(stderr, "rr_faiss_search: unknown option %s\n", a);
            return 2;
        }
    }
    if (n <= 0 || nq <= 0 || dim <= 0 || k <= 0 || train <= 0) {
        fprintf(stderr, "rr_faiss_search: sizes must be positive\n");
        return 2;
    }
    if (!nf) {
        factories[0] = "Flat", params[0] = "";
        factories[1] = "IVF1024,Flat", params[1] = "nprobe=16";
        nf = 2;
    }
    if (threads > 0)
        omp_set_num_threads((int)threads);
    if (!rr_index_available()) {
        fprintf(stderr, "rr_faiss_search: built without FAISS\n");
        return 77;
    }
    const size_t N = (size_t)n, Q = (size_t)nq, D = (size_t)dim, K = (size_t)k;
    float *x = malloc(N * D * sizeof *x);         /* [N, D] */
    float *q = malloc(Q * D * sizeof *q);         /* [Q, D] */
    float *scores = malloc(Q * K * sizeof *scores); /* [Q, K] */
    int64_t *labels = malloc(Q * K * sizeof *labels); /* [Q, K] */
    int64_t *glabels = gpu ? malloc(Q * K * sizeof *glabels) : NULL; /* [Q, K], the GPU's */
    char **idbuf = malloc(65536 * sizeof *idbuf);
    char *idchars = malloc(65536 * 24);
    if (!x || !q || !scores || !labels || !idbuf || !idchars || (gpu && !glabels)) {
        fprintf(stderr, "rr_faiss_search: out of memory\n");
        return 1;
    }
    fill(x, N * D, 1);
    fill(q, Q * D, 2);
    for (int f = 0; f < nf; f++) {
        rr_index_meta meta;
        memset(&meta, 0, sizeof meta);
        snprintf(meta.factory, sizeof meta.factory, "%s", factories[f]);
        meta.dim = (int32_t)dim;
        meta.metric = RR_METRIC_L2;
        rr_index *ix;
        rr_status st;
        if ((st = rr_index_create(&meta, &ix)))
            return fail("create", st);
        double t0 = omp_get_wtime();
        if ((st = rr_index_train(ix, (int64_t)(N < (size_t)train ? N : (size_t)train), x)))
            return fail("train", st);
        double t1 = omp_get_wtime();
        for (size_t first = 0; first < N; first += 65536) {
            size_t m = N - first < 65536 ? N - first : 65536;
            for (size_t i = 0; i < m; i++) { /* ids are the labels as text */
                idbuf[i] = idchars + 24 * i;
                snprintf(idbuf[i], 24, "%zu", first + i);
            }
            if ((st = rr_index_add(ix, (int64_t)m, x + first * D, (const char *const *)idbuf)))
                return fail("add", st);
        }
        double t2 = omp_get_wtime();
        if (*params[f] && (st = rr_index_set_search_params(ix, params[f])))
            return fail("search params", st);
        double search_s = 0;
        if ((st = timed_search(ix, Q, q, K, scores, labels, &search_s)))
            return fail("search", st);
        printf("faiss_search factory=%s params=%s n=%zu q=%zu d=%zu k=%zu threads=%d train_s=%.2f add_s=%.2f "
               "search_s=%.3f qps=%.1f labels_fnv=%016llx\n",
               factories[f], params[f], N, Q, D, K, omp_get_max_threads(), t1 - t0, t2 - t1, search_s,
               (double)Q / search_s, (unsigned long long)fnv_labels(labels, (Q < 100 ? Q : 100) * K));
        fflush(stdout);
        if (labels_out) {
            char path[4096];
            snprintf(path, sizeof path, "%s%d.i64", labels_out, f);
            FILE *fp = fopen(path, "wb");
            if (!fp || fwrite(labels, sizeof *labels, Q * K, fp) != Q * K || fclose(fp)) {
                fprintf(stderr, "rr_faiss_search: cannot write %s\n", path);
                return 1;
            }
        }
        /* fp16 storage: Flat only (FAISS 1.7.3's GPU IVF…,Flat keeps its lists in fp32) */
        const int fp16_too = gpu == 2 && !strcmp(factories[f], "Flat");
        for (int fp16 = 0; gpu && fp16 <= fp16_too; fp16++) {
            double g0 = omp_get_wtime();
            if ((st = rr_index_use_gpu(ix, 0, fp16))) {
                printf("faiss_search device=gpu factory=%s: %s\n", factories[f], rr_last_error());
                break;
            }
            double g1 = omp_get_wtime(), gpu_s = 0;
            if ((st = timed_search(ix, Q, q, K, scores, glabels, &gpu_s)))
                return fail("GPU search", st);
            size_t same = 0;
            for (size_t i = 0; i < Q * K; i++)
                same += glabels[i] == labels[i];
            printf("faiss_search device=gpu%s factory=%s params=%s n=%zu q=%zu d=%zu k=%zu copy_s=%.2f "
                   "search_s=%.4f qps=%.1f same_labels=%.5f labels_fnv=%016llx\n",
                   fp16 ? " fp16" : "", factories[f], params[f], N, Q, D, K, g1 - g0, gpu_s,
                   (double)Q / gpu_s, (double)same / (double)(Q * K),
                   (unsigned long long)fnv_labels(glabels, (Q < 100 ? Q : 100) * K));
            fflush(stdout);
        }
        rr_index_free(ix);
    }
    free(glabels);
    free(x);
    free(q);
    free(scores);
    free(labels);
    free(idbuf);
    free(idchars);
    return 0;
}
