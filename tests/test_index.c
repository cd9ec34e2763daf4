/* tests/test_index.c — rr_index on seeded random vectors (seconds, no model):
 *   - Flat IP and Flat L2 against exact brute force in double precision;
 *   - write → read round trip gives bit-identical results; replacing an index directory;
 *   - loading with another model / corpus / dimension / factory is refused, with a message;
 *   - duplicate, empty and whitespace ids, a bad factory string, a foreign directory: refused;
 *   - per-document checksums (dochash.bin): their bytes, kept through adds and a round trip,
 *     a file of the wrong length refused, an index without one read as knowing none;
 *   - IVF and HNSW recall@10 against Flat, printed (and held to a loose floor); IVF…,Flat's
 *     stored vectors read back exactly, by label;
 *   - SHA-256 against FIPS 180-4 test vectors.
 * N = documents, D = dimension, Q = queries, K = results per query. Skips (77) when the
 * library was built without FAISS. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "rerank/index.h"
#include "test_util.h"
#include "test_vectors.h"
#include "util/sha256.h"

static char **make_ids(int n) {
    char **ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) {
        ids[i] = malloc(24);
        snprintf(ids[i], 24, "doc%d", i);
    }
    return ids;
}

static void free_ids(char **ids, int n) {
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static rr_index_meta base_meta(const char *factory, int d, rr_metric metric) {
    rr_index_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.model, sizeof m.model, "models/test-bi-encoder");
    memset(m.model_sha256, 'a', 64);
    snprintf(m.corpus, sizeof m.corpus, "corpus.jsonl");
    memset(m.corpus_sha256, 'c', 64);
    snprintf(m.factory, sizeof m.factory, "%s", factory);
    m.dim = d;
    m.metric = metric;
    return m;
}

static rr_index *build(const char *factory, rr_metric metric, const float *x, int n, int d,
                       char **ids) {
    rr_index_meta m = base_meta(factory, d, metric);
    rr_index *ix = NULL;
    if (rr_index_create(&m, &ix)) {
        fprintf(stderr, "create %s: %s\n", factory, rr_last_error());
        return NULL;
    }
    if (rr_index_needs_training(ix) && rr_index_train(ix, n, x)) {
        fprintf(stderr, "train %s: %s\n", factory, rr_last_error());
        rr_index_free(ix);
        return NULL;
    }
    /* add in uneven batches, as rerank index does */
    for (int first = 0; first < n;) {
        int nb = n - first < 777 ? n - first : 777;
        if (rr_index_add(ix, nb, x + (size_t)first * d, (const char *const *)ids + first)) {
            fprintf(stderr, "add %s: %s\n", factory, rr_last_error());
            rr_index_free(ix);
            return NULL;
        }
        first += nb;
    }
    return ix;
}

/* Brute force in double: exact similarity of query qi to doc j. */
static double exact_sim(const float *q, const float *x, int d, rr_metric metric) {
    double s = 0;
    for (int j = 0; j < d; j++)
        s += metric == RR_METRIC_IP ? (double)q[j] * x[j] : -((double)q[j] - x[j]) * ((double)q[j] - x[j]);
    return s;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void check_exact(const rr_index *ix, const float *x, int n, const float *q, int nq, int d,
                        int k, rr_metric metric) {
    float *s = malloc((size_t)nq * k * sizeof *s);
    int64_t *l = malloc((size_t)nq * k * sizeof *l);
    double *all = malloc((size_t)n * sizeof *all);
    CHECK(rr_index_search(ix, nq, q, k, 37, s, l) == RR_OK);
    int bad_score = 0, bad_label = 0;
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * d;
        for (int j = 0; j < n; j++)
            all[j] = exact_sim(qi, x + (size_t)j * d, d, metric);
        qsort(all, (size_t)n, sizeof *all, cmp_desc);
        for (int r = 0; r < k; r++) {
            int64_t lab = l[(size_t)i * k + r];
            double got = s[(size_t)i * k + r];
            /* the r-th best score, and the label really has the score reported */
            bad_score += fabs(got - all[r]) > 1e-5;
            bad_label += lab < 0 || lab >= n ||
                         fabs(exact_sim(qi, x + (size_t)lab * d, d, metric) - got) > 1e-5;
        }
    }
    CHECK_MSG(bad_score == 0, "%s: %d of %d scores differ from brute force", rr_metric_name(metric),
              bad_score, nq * k);
    CHECK_MSG(bad_label == 0, "%s: %d of %d labels do not carry their score", rr_metric_name(metric),
              bad_label, nq * k);
    free(s);
    free(l);
    free(all);
}

static double recall_vs(const rr_index *ix, const rr_index *flat, const float *q, int nq, int k) {
    float *s = malloc((size_t)nq * k * sizeof *s);
    int64_t *l = malloc((size_t)nq * k * sizeof *l), *lf = malloc((size_t)nq * k * sizeof *lf);
    rr_index_search(flat, nq, q, k, 0, s, lf);
    rr_index_search(ix, nq, q, k, 0, s, l);
    long hit = 0;
    for (int i = 0; i < nq; i++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                hit += l[(size_t)i * k + a] >= 0 && l[(size_t)i * k + a] == lf[(size_t)i * k + b];
    free(s);
    free(l);
    free(lf);
    return (double)hit / ((double)nq * k);
}

/* FIPS 180-4 vectors through whichever compression function rr_sha256_accel selected */
static void test_sha256_vectors(void) {
    rr_sha256 h;
    char hex[65];
    rr_sha256_init(&h);
    rr_sha256_final_hex(&h, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    rr_sha256_init(&h);
    rr_sha256_update(&h, "abc", 3);
    rr_sha256_final_hex(&h, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rr_sha256_init(&h);
    for (const char *p = m; *p; p++) /* byte by byte: the partial-block path */
        rr_sha256_update(&h, p, 1);
    rr_sha256_final_hex(&h, hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    rr_sha256_init(&h);
    rr_sha256_update(&h, million, 1000000);
    rr_sha256_final_hex(&h, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    free(million);
}

/* Both compression functions (SHA-NI where this CPU has it, and the portable one) on the FIPS
 * vectors, then against each other on seeded random buffers of every length up to 300 bytes
 * fed in random pieces; and the time each takes over 64 MiB. */
static void test_sha256(void) {
    const int ni = rr_sha256_accel(1);
    printf("sha256: SHA-NI %s\n", ni ? "available: both functions checked" : "not on this CPU: portable only");
    test_sha256_vectors();
    rr_sha256_accel(0);
    test_sha256_vectors();
    uint64_t rng = 0x243f6a8885a308d3ULL;
    unsigned char buf[300];
    for (size_t len = 0; len <= sizeof buf && ni; len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)((rng = rng * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
        char hex[2][65];
        for (int mode = 0; mode < 2; mode++) {
            rr_sha256_accel(mode);
            rr_sha256 h;
            rr_sha256_init(&h);
            for (size_t off = 0; off < len;) { /* pieces of 1..100 bytes: both update paths */
                size_t take = 1 + (size_t)((rng = rng * 6364136223846793005ULL + 1) >> 33) % 100;
                take = take < len - off ? take : len - off;
                rr_sha256_update(&h, buf + off, take);
                off += take;
            }
            rr_sha256_final_hex(&h, hex[mode]);
        }
        CHECK_MSG(!strcmp(hex[0], hex[1]), "sha256 of %zu bytes: portable %s, SHA-NI %s", len, hex[0], hex[1]);
    }
    const size_t big = (size_t)64 << 20;
    unsigned char *m = malloc(big);
    for (size_t i = 0; i < big; i++)
        m[i] = (unsigned char)(i * 131u >> 3);
    char hex[2][65];
    double secs[2] = {0, 0};
    for (int mode = 0; mode < 1 + ni; mode++) {
        rr_sha256_accel(mode);
        rr_sha256 h;
        const double t0 = omp_get_wtime();
        rr_sha256_init(&h);
        rr_sha256_update(&h, m, big);
        rr_sha256_final_hex(&h, hex[mode]);
        secs[mode] = omp_get_wtime() - t0;
    }
    if (ni)
        CHECK(!strcmp(hex[0], hex[1]));
    printf("sha256 of 64 MiB: portable %.3f s (%.0f MB/s)", secs[0], big / secs[0] / 1e6);
    if (ni)
        printf(", SHA-NI %.3f s (%.0f MB/s)", secs[1], big / secs[1] / 1e6);
    printf("\n");
    free(m);
    rr_sha256_accel(1);
}

int main(void) {
    test_sha256();
    /* one thread: FAISS's OpenMP loops on a machine shared with other tests spend their time
     * in barriers; the results do not depend on it */
    omp_set_num_threads(1);
    double t0 = omp_get_wtime();
    if (!rr_index_available())
        TEST_SKIP("built without FAISS (run scripts/setup.sh, then rebuild)");
    enum { N = 6000, D = 48, Q = 200, K = 10, C = 60 };
    float *centres = malloc((size_t)C * D * sizeof *centres);
    for (int i = 0; i < C * D; i++)
        centres[i] = (float)rng_normal();
    float *x = malloc((size_t)N * D * sizeof *x), *q = malloc((size_t)Q * D * sizeof *q);
    make_vectors(x, N, D, C, centres);
    make_vectors(q, Q, D, C, centres);
    char **ids = make_ids(N);

    /* exact search */
    rr_index *flat = build("Flat", RR_METRIC_IP, x, N, D, ids);
    REQUIRE(flat, "Flat IP index");
    CHECK(rr_index_size(flat) == N && !strcmp(rr_index_doc_id(flat, 123), "doc123"));
    CHECK(rr_index_doc_id(flat, N) == NULL && rr_index_doc_id(flat, -1) == NULL);
    check_exact(flat, x, N, q, Q, D, K, RR_METRIC_IP);
    rr_index *flat_l2 = build("Flat", RR_METRIC_L2, x, N, D, ids);
    REQUIRE(flat_l2, "Flat L2 index");
    check_exact(flat_l2, x, N, q, Q, D, K, RR_METRIC_L2);
    rr_index_free(flat_l2);

    /* round trip */
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/rr_test_index_%ld", (long)getpid());
    CHECK(rr_index_write(flat, dir) == RR_OK);
    CHECK(rr_index_write(flat, dir) == RR_OK); /* replacing an index directory works */
    rr_index *back = NULL;
    rr_index_meta expect = base_meta("Flat", D, RR_METRIC_IP);
    CHECK_MSG(rr_index_read(dir, &expect, &back) == RR_OK, "%s", rr_last_error());
    if (back) {
        float *s1 = malloc(sizeof(float) * Q * K), *s2 = malloc(sizeof(float) * Q * K);
        int64_t *l1 = malloc(sizeof(int64_t) * Q * K), *l2 = malloc(sizeof(int64_t) * Q * K);
        rr_index_search(flat, Q, q, K, 0, s1, l1);
        rr_index_search(back, Q, q, K, 0, s2, l2);
        CHECK(!memcmp(s1, s2, sizeof(float) * Q * K) && !memcmp(l1, l2, sizeof(int64_t) * Q * K));
        CHECK(rr_index_get_meta(back)->num_docs == N && !strcmp(rr_index_doc_id(back, N - 1), "doc5999"));
        CHECK(!strcmp(rr_index_get_meta(back)->model, "models/test-bi-encoder"));
        free(s1);
        free(s2);
        free(l1);
        free(l2);
        rr_index_free(back);
    }
    /* refusals on load */
    struct { const char *field; const char *needle; } cases[] = {
        {"model", "embedding model"}, {"corpus", "corpus"}, {"dim", "dimension"}, {"factory", "factory"}};
    for (int c = 0; c < 4; c++) {
        rr_index_meta e = base_meta("Flat", D, RR_METRIC_IP);
        if (c == 0) e.model_sha256[3] = 'b';
        if (c == 1) e.corpus_sha256[0] = 'd';
        if (c == 2) e.dim = D + 1;
        if (c == 3) snprintf(e.factory, sizeof e.factory, "HNSW32");
        rr_index *r = NULL;
        rr_status st = rr_index_read(dir, &e, &r);
        CHECK_MSG(st == RR_ERR_INVALID_ARG && !r && strstr(rr_last_error(), c == 1 ? "corpus" : cases[c].needle),
                  "%s mismatch: status %d, \"%s\"", cases[c].field, (int)st, rr_last_error());
    }
    /* a truncated doc-id map is a format error naming the file */
    snprintf(path, sizeof path, "%s/docids.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("doc0\ndoc1\n", f);
    fclose(f);
    rr_index *r = NULL;
    CHECK(rr_index_read(dir, NULL, &r) == RR_ERR_FORMAT && strstr(rr_last_error(), "docids.txt"));
    f = fopen(path, "w");
    fputs("doc0\ndoc0\n", f);
    fclose(f);
    CHECK(rr_index_read(dir, NULL, &r) == RR_ERR_FORMAT && strstr(rr_last_error(), "docids.txt:2: duplicate"));
    /* a directory with foreign files is not replaced */
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    f = fopen(path, "w");
    fclose(f);
    CHECK(rr_index_write(flat, dir) == RR_ERR_INVALID_ARG && strstr(rr_last_error(), "notes.txt"));
    unlink(path);
    CHECK(rr_index_read("/nonexistent/index", NULL, &r) == RR_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);

    /* bad ids and factory strings */
    rr_index_meta m = base_meta("Flat", D, RR_METRIC_IP);
    rr_index *ix = NULL;
    CHECK(rr_index_create(&m, &ix) == RR_OK);
    const char *dup[] = {"a", "b", "a"}, *ws[] = {"x y"}, *empty[] = {""}, *ok2[] = {"c", "d"};
    CHECK(rr_index_add(ix, 3, x, dup) == RR_ERR_INVALID_ARG && strstr(rr_last_error(), "duplicate"));
    CHECK(rr_index_add(ix, 1, x, ws) == RR_ERR_INVALID_ARG && strstr(rr_last_error(), "whitespace"));
    CHECK(rr_index_add(ix, 1, x, empty) == RR_ERR_INVALID_ARG);
    CHECK(rr_index_size(ix) == 0); /* nothing added by a failed call */
    CHECK(rr_index_add(ix, 2, x, ok2) == RR_OK && rr_index_size(ix) == 2);
    CHECK(rr_index_add(ix, 1, x, ok2 + 1) == RR_ERR_INVALID_ARG && rr_index_size(ix) == 2);
    rr_index_free(ix);

    /* per-document checksums: kept through add and a round trip, lost to one add without them */
    CHECK(rr_doc_hash("abc", 3) == 0xba7816bf8f01cfeaull); /* SHA-256("abc") begins ba7816bf 8f01cfea */
    CHECK(rr_doc_hash("", 0) == 0xe3b0c44298fc1c14ull);
    CHECK(rr_index_create(&m, &ix) == RR_OK);
    CHECK(rr_index_doc_hashes(ix) != NULL); /* empty: known */
    const char *hid[] = {"h0", "h1", "h2"};
    const uint64_t hv[] = {11, 22, 33};
    CHECK(rr_index_add_hashed(ix, 2, x, hid, hv) == RR_OK && rr_index_add_hashed(ix, 1, x, hid + 2, hv + 2) == RR_OK);
    CHECK(rr_index_add_hashed(ix, 1, x, hid, hv) == RR_ERR_INVALID_ARG); /* duplicate: nothing added */
    const uint64_t *hh = rr_index_doc_hashes(ix);
    CHECK(hh && hh[0] == 11 && hh[1] == 22 && hh[2] == 33 && rr_index_size(ix) == 3);
    CHECK(rr_index_find(ix, "h1") == 1 && rr_index_find(ix, "h3") == -1);
    CHECK(rr_index_write(ix, dir) == RR_OK);
    snprintf(path, sizeof path, "%s/dochash.bin", dir);
    unsigned char raw[32];
    f = fopen(path, "rb");
    CHECK(f && fread(raw, 1, sizeof raw, f) == 24 && raw[0] == 11 && raw[1] == 0 && raw[8] == 22 && raw[16] == 33);
    if (f)
        fclose(f);
    CHECK_MSG(rr_index_read(dir, NULL, &r) == RR_OK, "%s", rr_last_error());
    hh = r ? rr_index_doc_hashes(r) : NULL;
    CHECK(hh && hh[0] == 11 && hh[1] == 22 && hh[2] == 33 && rr_index_find(r, "h2") == 2);
    rr_index_free(r);
    r = NULL;
    if (truncate(path, 20) == 0) /* a checksum file that does not match docids.txt */
        CHECK(rr_index_read(dir, NULL, &r) == RR_ERR_FORMAT && strstr(rr_last_error(), "dochash.bin: 2 checksums"));
    unlink(path); /* an index written before the checksums: reads, knows none */
    CHECK(rr_index_read(dir, NULL, &r) == RR_OK && r && !rr_index_doc_hashes(r));
    rr_index_free(r);
    r = NULL;
    CHECK(rr_index_add(ix, 1, x, ok2) == RR_OK && !rr_index_doc_hashes(ix)); /* one add without: none */
    CHECK(rr_index_add_hashed(ix, 1, x, ok2 + 1, hv) == RR_OK && !rr_index_doc_hashes(ix));
    CHECK(rr_index_write(ix, dir) == RR_OK && access(path, F_OK) != 0);
    rr_index_free(ix);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
    snprintf(m.factory, sizeof m.factory, "NoSuchIndex42");
    CHECK(rr_index_create(&m, &ix) == RR_ERR_INVALID_ARG && strstr(rr_last_error(), "NoSuchIndex42"));
    CHECK(rr_metric_parse("ip") == RR_METRIC_IP && rr_metric_parse("l2") == RR_METRIC_L2 &&
          rr_metric_parse("cos") == -1);

    /* approximate indexes: recall@10 against Flat */
    const char *approx[][2] = {{"IVF64,Flat", "nprobe=1"}, {"IVF64,Flat", "nprobe=8"}, {"IVF64,Flat", "nprobe=32"},
                               {"HNSW32", "efSearch=16"}, {"HNSW32", "efSearch=128"},
                               {"IVF64,SQ8", "nprobe=8"}};
    double floor_[] = {0.2, 0.6, 0.9, 0.7, 0.95, 0.6}; /* seeded, one thread: measured 0.345, 0.706, 0.959, 0.817, 1.000, 0.704 */
    for (int a = 0; a < 6; a++) {
        rr_index *ax = build(approx[a][0], RR_METRIC_IP, x, N, D, ids);
        CHECK_MSG(ax != NULL, "%s", approx[a][0]);
        if (!ax)
            continue;
        CHECK_MSG(rr_index_set_search_params(ax, approx[a][1]) == RR_OK, "%s", rr_last_error());
        double rec = recall_vs(ax, flat, q, Q, K);
        printf("recall@%d vs Flat (N=%d, D=%d, %d clusters): %-12s %-14s %.3f\n", K, N, D, C,
               approx[a][0], approx[a][1], rec);
        CHECK_MSG(rec >= floor_[a], "%s %s recall %.3f below %.2f", approx[a][0], approx[a][1], rec, floor_[a]);
        if (!strcmp(approx[a][0], "IVF64,Flat") && a == 0) {
            /* IVF…,Flat gives vecs its vectors exactly, by label (through its direct map) */
            float *vecs = malloc(sizeof(float) * 40 * D);
            int good = vecs && rr_index_reconstruct(ax, 1000, 30, vecs) == RR_OK &&
                       rr_index_reconstruct(ax, N - 10, 10, vecs + 30 * D) == RR_OK &&
                       !memcmp(vecs, x + (size_t)1000 * D, sizeof(float) * 30 * D) &&
                       !memcmp(vecs + 30 * D, x + (size_t)(N - 10) * D, sizeof(float) * 10 * D);
            CHECK_MSG(good, "IVF64,Flat reconstruct: %s", rr_last_error());
            CHECK(rr_index_reconstruct(ax, N - 1, 2, vecs) == RR_ERR_INVALID_ARG);
            free(vecs);
        }
        rr_index_free(ax);
    }
    rr_index *hx = build("HNSW32", RR_METRIC_IP, x, 100, D, ids);
    CHECK(hx && rr_index_set_search_params(hx, "nprobe=4") == RR_ERR_INVALID_ARG);
    rr_index_free(hx);

    rr_index_free(flat);
    printf("test_index: %.1fs\n", omp_get_wtime() - t0);
    free_ids(ids, N);
    free(x);
    free(q);
    free(centres);
    TEST_DONE();
}
