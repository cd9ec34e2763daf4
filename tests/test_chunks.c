/* tests/test_chunks.c — the whole-job helpers across several chunks (model/encode.c: the next
 * chunk is tokenized on a worker thread while this one's passes run).
 *
 * RR_CHUNK_ITEMS (read at model load) shrinks the first chunk so that 200 pairs span several
 * chunks: 7 gives chunks [0,7) [7,21) [21,49) [49,105) [105,200); 1 gives eight chunks
 * (1, 2, 4, ... 64, then the last 73).
 * Against one chunk (the default schedule: the first chunk is >= 1024 items):
 *   - the same scores: on the CPU bit for bit, on CUDA within 1e-4 (fp32; passes differ);
 *     embeddings (all-MiniLM-L6-v2, single texts) likewise;
 *   - progress: done rises to 200, once per pass;
 *   - a text that fails to tokenize (invalid UTF-8) in a later chunk: the same status and
 *     message as in one chunk ("item 150: ...", the lowest failing item), reported after
 *     every earlier chunk's passes are done (progress reached the chunk's first item), not
 *     before; one in the first chunk: nothing run;
 *   - cancellation from the progress callback mid-job: RR_ERR_CANCELLED with its message (the
 *     worker is joined and everything freed: the ASan build checks that).
 * Usage: test_chunks [cpu|cuda] (ctest: test_chunks, test_chunks_cuda; the CUDA one skips,
 * exit 77, without a device). Needs RR_MODELS_DIR (scripts/setup.sh fills it). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RR_CUDA
#include "backend/cuda/device.h"
#endif
#include "rerank/model.h"
#include "test_util.h"

enum { NP = 200 };
static char g_qbuf[NP][96], g_dbuf[NP][512];
static const char *g_q[NP], *g_d[NP];
static size_t g_ql[NP], g_dl[NP];
static const char *g_device = "cpu";
static const char *g_models;

typedef struct progress_log {
    size_t last_done, calls, cancel_at; /* cancel_at 0: never */
    int went_back;                      /* done ever decreased */
} progress_log;

static int on_progress(void *ctx, size_t done, size_t total) {
    progress_log *p = ctx;
    if (done < p->last_done || total != NP)
        p->went_back = 1;
    p->last_done = done;
    p->calls++;
    return p->cancel_at && done >= p->cancel_at;
}

/* Load `model` with RR_CHUNK_ITEMS = chunk_items (NULL: unset), run the job (pairs, or the
 * queries alone when embed), return its status; its message in msg. */
static rr_status run(const char *model, const char *chunk_items, int embed, float *out,
                     progress_log *log, char *msg, size_t msg_cap) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", g_models, model);
    if (chunk_items)
        setenv("RR_CHUNK_ITEMS", chunk_items, 1);
    else
        unsetenv("RR_CHUNK_ITEMS");
    rr_model_params p = rr_model_default_params();
    p.device = g_device;
    p.max_length = 32;
    p.token_budget = 256; /* about ten pairs a pass, several passes a chunk */
    p.threads = 1; /* the forward pass on one thread: quick on a busy machine (tokenizing
                      still uses all of them, the worker too) */
    rr_model *m = NULL;
    rr_status st = rr_model_load(dir, &p, &m);
    if (!st) {
        rr_model_set_progress(m, on_progress, log);
        st = embed ? rr_model_embed(m, NP, g_q, g_ql, out)
                   : rr_model_score_pairs(m, NP, g_q, g_ql, g_d, g_dl, out);
        if (!st)
            CHECK(rr_model_get_stats(m).tokenize_seconds > 0);
    }
    snprintf(msg, msg_cap, "%s", st ? rr_last_error() : "");
    rr_model_free(m);
    return st;
}

/* Max |a - b| over n floats (NaN: infinity). */
static double max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

/* The chunked outputs against one chunk's: bit for bit on the CPU, within tol elsewhere. */
static void check_same(const char *what, const float *got, const float *ref, size_t n, double tol) {
    int cpu = !strcmp(g_device, "cpu");
    double d = max_abs_diff(got, ref, n);
    if (cpu)
        CHECK_MSG(!memcmp(got, ref, n * sizeof *got), "%s: not bit-identical to one chunk (max |diff| %.3g)",
                  what, d);
    else
        CHECK_MSG(d <= tol, "%s: max |diff| to one chunk %.3g > %.3g", what, d, tol);
    printf("%s: max |diff| to one chunk %.3g\n", what, d);
}

int main(int argc, char **argv) {
    g_models = getenv("RR_MODELS_DIR");
    REQUIRE(g_models, "RR_MODELS_DIR must be set (ctest sets it)");
    if (argc > 1)
        g_device = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/test-cross-encoder/config.json", g_models);
    FILE *probe = fopen(path, "r");
    if (!probe)
        TEST_SKIP("no %s (run scripts/setup.sh)", path);
    fclose(probe);
    if (strcmp(g_device, "cpu")) {
#ifdef RR_CUDA
        char why[256] = "";
        if (rr_cuda_device_count(why, sizeof why) == 0)
            TEST_SKIP("no CUDA device: %s", why);
#else
        TEST_SKIP("built without CUDA");
#endif
    }

    /* pairs of many lengths, so that sorting by length reorders items within each chunk */
    for (int i = 0; i < NP; i++) {
        snprintf(g_qbuf[i], sizeof g_qbuf[i], "query %d: does zinc shorten a cold?", i);
        int len = 0, words = 1 + (i * 7) % 9;
        for (int w = 0; w < words; w++)
            len += snprintf(g_dbuf[i] + len, sizeof g_dbuf[i] - (size_t)len, "%s ",
                            w % 3 ? "lozenges of zinc acetate" : "the common cold");
        g_q[i] = g_qbuf[i], g_d[i] = g_dbuf[i];
        g_ql[i] = strlen(g_qbuf[i]), g_dl[i] = (size_t)len;
    }

    static float ref[NP], got[NP], eref[NP * 384], egot[NP * 384];
    char msg[1024], ref_msg[1024];
    progress_log log = {0};

    /* ---- the same scores in one chunk and in several ---- */
    REQUIRE(run("test-cross-encoder", NULL, 0, ref, &log, msg, sizeof msg) == RR_OK, "one chunk: %s", msg);
    CHECK(log.last_done == NP && !log.went_back);
    const size_t one_chunk_calls = log.calls;
    const char *sizes[] = {"7", "1"};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        progress_log lg = {0};
        memset(got, 0xff, sizeof got); /* NaN: a row left unwritten fails */
        rr_status st = run("test-cross-encoder", sizes[k], 0, got, &lg, msg, sizeof msg);
        CHECK_MSG(st == RR_OK, "RR_CHUNK_ITEMS=%s: %s", sizes[k], msg);
        char what[64];
        snprintf(what, sizeof what, "scores, RR_CHUNK_ITEMS=%s", sizes[k]);
        check_same(what, got, ref, NP, 1e-4);
        CHECK_MSG(lg.last_done == NP && !lg.went_back, "RR_CHUNK_ITEMS=%s: progress ended at %zu",
                  sizes[k], lg.last_done);
        /* passes do not cross chunks: at least one more pass per extra chunk */
        CHECK_MSG(lg.calls > one_chunk_calls, "RR_CHUNK_ITEMS=%s: %zu passes, one chunk %zu", sizes[k],
                  lg.calls, one_chunk_calls);
    }

    /* ---- embeddings (single texts) ---- */
    progress_log elog = {0};
    REQUIRE(run("all-MiniLM-L6-v2", NULL, 1, eref, &elog, msg, sizeof msg) == RR_OK, "embed, one chunk: %s", msg);
    memset(egot, 0xff, sizeof egot);
    CHECK_MSG(run("all-MiniLM-L6-v2", "7", 1, egot, &elog, msg, sizeof msg) == RR_OK,
              "embed, RR_CHUNK_ITEMS=7: %s", msg);
    check_same("embeddings, RR_CHUNK_ITEMS=7", egot, eref, (size_t)NP * 384, 1e-5);

    /* ---- a tokenize error in a later chunk: items 150 and 170 (both in [105, 200)) ---- */
    static const char bad_utf8[] = "caf\xc3 au lait"; /* a lead byte without its continuation */
    const char *saved150 = g_d[150], *saved170 = g_q[170];
    size_t saved150_len = g_dl[150], saved170_len = g_ql[170];
    g_d[150] = g_q[170] = bad_utf8;
    g_dl[150] = g_ql[170] = sizeof bad_utf8 - 1;
    progress_log l1 = {0}, l7 = {0};
    rr_status st1 = run("test-cross-encoder", NULL, 0, got, &l1, ref_msg, sizeof ref_msg);
    rr_status st7 = run("test-cross-encoder", "7", 0, got, &l7, msg, sizeof msg);
    CHECK_MSG(st1 == RR_ERR_FORMAT && !strncmp(ref_msg, "item 150: ", 10), "one chunk: %s: %s",
              rr_status_str(st1), ref_msg);
    CHECK_MSG(st7 == st1 && !strcmp(msg, ref_msg), "RR_CHUNK_ITEMS=7: %s: \"%s\", one chunk \"%s\"",
              rr_status_str(st7), msg, ref_msg);
    CHECK_MSG(l1.last_done == 0, "one chunk: %zu items done before the error", l1.last_done);
    CHECK_MSG(l7.last_done == 105, "RR_CHUNK_ITEMS=7: %zu items done before the error in chunk [105,200), "
              "want 105 (every earlier chunk's passes, no more)", l7.last_done);
    printf("error in a later chunk: %s (after %zu items)\n", msg, l7.last_done);

    /* the lowest failing item of the first chunk that fails: item 30, in [21, 49) */
    const char *saved30 = g_d[30];
    size_t saved30_len = g_dl[30];
    g_d[30] = bad_utf8;
    g_dl[30] = sizeof bad_utf8 - 1;
    progress_log l30 = {0};
    rr_status st30 = run("test-cross-encoder", "7", 0, got, &l30, msg, sizeof msg);
    CHECK_MSG(st30 == RR_ERR_FORMAT && !strncmp(msg, "item 30: ", 9) && l30.last_done == 21,
              "error in chunk [21,49): %s: %s after %zu items", rr_status_str(st30), msg, l30.last_done);
    /* and in the first chunk: nothing runs */
    g_d[3] = bad_utf8;
    g_dl[3] = sizeof bad_utf8 - 1;
    progress_log l3 = {0};
    rr_status st3 = run("test-cross-encoder", "7", 0, got, &l3, msg, sizeof msg);
    CHECK_MSG(st3 == RR_ERR_FORMAT && !strncmp(msg, "item 3: ", 8) && l3.calls == 0,
              "error in the first chunk: %s: %s, %zu progress calls", rr_status_str(st3), msg, l3.calls);
    g_d[3] = g_d[4], g_dl[3] = g_dl[4]; /* not the original text; it is not compared again */
    g_d[30] = saved30, g_dl[30] = saved30_len;
    g_d[150] = saved150, g_dl[150] = saved150_len;
    g_q[170] = saved170, g_ql[170] = saved170_len;

    /* ---- cancelled mid-job, while the worker tokenizes a later chunk ---- */
    progress_log lc = {.cancel_at = 30};
    rr_status stc = run("test-cross-encoder", "7", 0, got, &lc, msg, sizeof msg);
    CHECK_MSG(stc == RR_ERR_CANCELLED && !strncmp(msg, "stopped after ", 14) && lc.last_done >= 30 &&
              lc.last_done < NP, "cancel: %s: %s (done %zu)", rr_status_str(stc), msg, lc.last_done);

    /* ---- the knob itself ---- */
    progress_log lx = {0};
    CHECK(run("test-cross-encoder", "0", 0, got, &lx, msg, sizeof msg) == RR_ERR_INVALID_ARG);
    CHECK(run("test-cross-encoder", "12x", 0, got, &lx, msg, sizeof msg) == RR_ERR_INVALID_ARG);
    unsetenv("RR_CHUNK_ITEMS");
    TEST_DONE();
}
