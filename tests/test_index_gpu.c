/* tests/test_index_gpu.c — FAISS search on a GPU copy of the index (rr_index_use_gpu) against
 * the CPU index it was copied from, on seeded clustered unit vectors:
 *   - Flat IP and Flat L2 (fp32 storage): the same neighbours, ties aside — a label only one
 *     side returns must score within kTieTol of that query's k-th score — and scores within
 *     kScoreTol;
 *   - Flat with fp16 storage: recall@K against the CPU result, printed and held to ≥ 0.95;
 *   - IVF256,Flat at nprobe 8, then nprobe 32 set after the copy was made (the copy is re-made
 *     with it): the same neighbours as the CPU index at that nprobe, ties aside, in ≥ 99% of
 *     the places (the coarse quantizer's near-ties may pick another list on the GPU);
 *   - k above FAISS's GPU limit (2048) searches the CPU index: identical to the CPU result;
 *   - HNSW32 has no GPU version: RR_ERR_UNSUPPORTED with a message, the index stays usable;
 *   - rr_index_add drops the copy.
 * N = documents, D = dimension, Q = queries, K = results per query. Label gpu: skips (77)
 * when FAISS was built without GPU support or sees no GPU. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rerank/index.h"
#include "test_util.h"
#include "test_vectors.h"
#include "util/error.h"

enum { N = 50000, D = 384, Q = 1000, K = 100, CLUSTERS = 200 };
static const double kScoreTol = 1e-4; /* fp32 GEMM on the GPU vs BLAS on the CPU, |x| ≤ 1 */
static const double kTieTol = 1e-4;

/* NULL (with the reason on stderr) when FAISS refuses */
static rr_index *build(const char *factory, rr_metric metric, const float *x, char **ids) {
    rr_index_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.factory, sizeof m.factory, "%s", factory);
    snprintf(m.model, sizeof m.model, "test");
    m.dim = D;
    m.metric = metric;
    rr_index *ix = NULL;
    if (rr_index_create(&m, &ix) || rr_index_train(ix, N, x) ||
        rr_index_add(ix, N, x, (const char *const *)ids)) {
        fprintf(stderr, "building %s: %s\n", factory, rr_last_error());
        rr_index_free(ix);
        return NULL;
    }
    return ix;
}

/* Compare one search's results with a reference's, query by query. Returns the fraction of
 * the Q·k places where the label differs and the difference is not a tie; *max_dscore is the
 * largest |Δscore| at places holding the same label. */
static double compare(int k, const int64_t *ref_l, const float *ref_s, const int64_t *l, const float *s,
                      double *max_dscore) {
    long bad = 0;
    *max_dscore = 0;
    for (int q = 0; q < Q; q++) {
        const int64_t *rl = ref_l + (size_t)q * k, *gl = l + (size_t)q * k;
        const float *rs = ref_s + (size_t)q * k, *gs = s + (size_t)q * k;
        const double kth = rs[k - 1];
        for (int j = 0; j < k; j++) {
            if (gl[j] == rl[j]) {
                double dd = fabs((double)gs[j] - rs[j]);
                if (dd > *max_dscore)
                    *max_dscore = dd;
                continue;
            }
            /* another order among equal scores, or another label at the boundary */
            int in_ref = 0;
            for (int t = 0; t < k && !in_ref; t++)
                in_ref = rl[t] == gl[j];
            if (in_ref ? fabs((double)gs[j] - rs[j]) <= kTieTol : fabs((double)gs[j] - kth) <= kTieTol)
                continue;
            bad++;
        }
    }
    return (double)bad / ((double)Q * k);
}

int main(void) {
    if (!rr_index_available() || !rr_index_gpu_built()) {
        TEST_SKIP("FAISS was built without GPU support (RR_FAISS_GPU=1 scripts/setup.sh)");
    }
    if (rr_index_gpu_count() <= 0) {
        TEST_SKIP("no GPU for FAISS (the CUDA runtime sees none)");
    }
    test_rng_seed(0x2545F4914F6CDD1Dull);
    float *centres = malloc((size_t)CLUSTERS * D * sizeof *centres);
    float *x = malloc((size_t)N * D * sizeof *x), *q = malloc((size_t)Q * D * sizeof *q);
    char **ids = malloc((size_t)N * sizeof *ids);
    const int KBIG = RR_INDEX_GPU_MAX_K + 952; /* above FAISS's GPU limit */
    float *cs = malloc((size_t)Q * KBIG * sizeof *cs), *gs = malloc((size_t)Q * KBIG * sizeof *gs);
    int64_t *cl = malloc((size_t)Q * KBIG * sizeof *cl), *gl = malloc((size_t)Q * KBIG * sizeof *gl);
    REQUIRE(centres && x && q && ids && cs && gs && cl && gl, "out of memory");
    for (size_t i = 0; i < (size_t)CLUSTERS * D; i++)
        centres[i] = (float)rng_normal();
    make_vectors(x, N, D, CLUSTERS, centres);
    make_vectors(q, Q, D, CLUSTERS, centres);
    for (int i = 0; i < N; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "d%d", i);
    }
    double dmax, frac;

    /* Flat, both metrics, fp32 storage */
    for (int mi = 0; mi < 2; mi++) {
        rr_metric metric = mi ? RR_METRIC_L2 : RR_METRIC_IP;
        rr_index *ix = build("Flat", metric, x, ids);
        REQUIRE(ix, "Flat");
        REQUIRE(rr_index_search(ix, Q, q, K, 0, cs, cl) == RR_OK, "cpu search: %s", rr_last_error());
        CHECK(!rr_index_on_gpu(ix));
        REQUIRE(rr_index_use_gpu(ix, 0, 0) == RR_OK, "use_gpu: %s", rr_last_error());
        CHECK(rr_index_on_gpu(ix));
        REQUIRE(rr_index_search(ix, Q, q, K, 256, gs, gl) == RR_OK, "gpu search: %s", rr_last_error());
        frac = compare(K, cl, cs, gl, gs, &dmax);
        printf("Flat %s fp32: %.5f%% of places differ beyond ties, max |dscore| %.2e\n",
               rr_metric_name(metric), 100 * frac, dmax);
        CHECK_MSG(frac == 0.0, "Flat %s: %.5f%% of places differ", rr_metric_name(metric), 100 * frac);
        CHECK_MSG(dmax <= kScoreTol, "Flat %s: max |dscore| %.2e", rr_metric_name(metric), dmax);

        /* k above the GPU limit: the CPU index answers, identically */
        if (!mi) {
            REQUIRE(rr_index_search(ix, Q, q, KBIG, 0, gs, gl) == RR_OK, "k=%d: %s", KBIG, rr_last_error());
            CHECK(rr_index_on_gpu(ix));
            float *cs2 = malloc((size_t)Q * KBIG * sizeof *cs2);
            int64_t *cl2 = malloc((size_t)Q * KBIG * sizeof *cl2);
            rr_index *cpu = build("Flat", metric, x, ids);
            REQUIRE(cpu && cs2 && cl2 && rr_index_search(cpu, Q, q, KBIG, 0, cs2, cl2) == RR_OK, "cpu k=%d", KBIG);
            CHECK(!memcmp(cl2, gl, (size_t)Q * KBIG * sizeof *gl));
            CHECK(!memcmp(cs2, gs, (size_t)Q * KBIG * sizeof *gs));
            rr_index_free(cpu);
            free(cs2);
            free(cl2);

            /* fp16 storage: approximate, recall against the CPU */
            REQUIRE(rr_index_use_gpu(ix, 0, 1) == RR_OK, "use_gpu fp16: %s", rr_last_error());
            REQUIRE(rr_index_search(ix, Q, q, K, 0, gs, gl) == RR_OK, "fp16 search: %s", rr_last_error());
            long hit = 0;
            for (int qi = 0; qi < Q; qi++)
                for (int j = 0; j < K; j++)
                    for (int t = 0; t < K; t++)
                        if (gl[(size_t)qi * K + j] == cl[(size_t)qi * K + t]) {
                            hit++;
                            break;
                        }
            double recall = (double)hit / ((double)Q * K);
            printf("Flat ip fp16 storage: recall@%d against the CPU %.4f\n", K, recall);
            CHECK_MSG(recall >= 0.95, "fp16 recall %.4f", recall);

            /* adding drops the copy */
            const char *extra_id[] = {"extra"};
            REQUIRE(rr_index_add(ix, 1, x, extra_id) == RR_OK, "add: %s", rr_last_error());
            CHECK(!rr_index_on_gpu(ix));
        }
        rr_index_free(ix);
    }

    /* IVF: nprobe set before the copy, then changed after it */
    {
        rr_index *ix = build("IVF256,Flat", RR_METRIC_IP, x, ids);
        REQUIRE(ix, "IVF");
        const char *params[] = {"nprobe=8", "nprobe=32"};
        REQUIRE(rr_index_set_search_params(ix, params[0]) == RR_OK, "%s", rr_last_error());
        REQUIRE(rr_index_use_gpu(ix, 0, 0) == RR_OK, "use_gpu IVF: %s", rr_last_error());
        for (int pi = 0; pi < 2; pi++) {
            if (pi) {
                REQUIRE(rr_index_set_search_params(ix, params[pi]) == RR_OK, "%s", rr_last_error());
                CHECK(rr_index_on_gpu(ix));
            }
            REQUIRE(rr_index_search(ix, Q, q, K, 0, gs, gl) == RR_OK, "gpu IVF: %s", rr_last_error());
            /* the CPU reference at the same nprobe, from an identical index */
            rr_index *cpu = build("IVF256,Flat", RR_METRIC_IP, x, ids);
            REQUIRE(cpu, "IVF (CPU)");
            REQUIRE(rr_index_set_search_params(cpu, params[pi]) == RR_OK, "%s", rr_last_error());
            REQUIRE(rr_index_search(cpu, Q, q, K, 0, cs, cl) == RR_OK, "cpu IVF: %s", rr_last_error());
            rr_index_free(cpu);
            frac = compare(K, cl, cs, gl, gs, &dmax);
            printf("IVF256,Flat %s: %.4f%% of places differ beyond ties, max |dscore| %.2e\n", params[pi],
                   100 * frac, dmax);
            CHECK_MSG(frac <= 0.01, "IVF %s: %.4f%% differ", params[pi], 100 * frac);
            CHECK_MSG(dmax <= kScoreTol, "IVF %s: max |dscore| %.2e", params[pi], dmax);
        }
        rr_index_free(ix);
    }

    /* HNSW: no GPU version; the CPU index keeps working */
    {
        rr_index_meta m;
        memset(&m, 0, sizeof m);
        snprintf(m.factory, sizeof m.factory, "HNSW32");
        m.dim = D;
        rr_index *ix = NULL;
        REQUIRE(rr_index_create(&m, &ix) == RR_OK, "%s", rr_last_error());
        REQUIRE(rr_index_add(ix, 2000, x, (const char *const *)ids) == RR_OK, "%s", rr_last_error());
        rr_status st = rr_index_use_gpu(ix, 0, 0);
        CHECK(st == RR_ERR_UNSUPPORTED);
        CHECK(strstr(rr_last_error(), "HNSW32") != NULL);
        CHECK(!rr_index_on_gpu(ix));
        CHECK(rr_index_search(ix, 10, q, 10, 0, gs, gl) == RR_OK);
        rr_index_free(ix);
    }

    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
    free(centres);
    free(x);
    free(q);
    free(cs);
    free(gs);
    free(cl);
    free(gl);
    TEST_DONE();
}
