/* tests/test_candidates.c — the candidate stream (io/candidates.h) against the loader it
 * replaces in `rerank rerank`: for every input, the same status, the same error message and,
 * on success, the same queries with the same candidates (order, top-n cut, scores, lines),
 * on two passes. Inputs: handcrafted cases (blank lines, ties, a duplicate followed by a
 * format error further down, interleaved queries, an empty file, gzip) and 200 seeded random
 * runs, grouped or shuffled, some with an injected duplicate or bad line, at top-n 0..4. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "io/candidates.h"
#include "test_util.h"

static char g_dir[] = "/tmp/rr-test-candidates.XXXXXX";
static char g_path[512];

static const char *write_file(const char *text, int gz) {
    snprintf(g_path, sizeof g_path, "%s/run%s", g_dir, gz ? ".gz" : "");
    if (gz) {
        gzFile f = gzopen(g_path, "wb");
        if (!f)
            abort();
        gzwrite(f, text, (unsigned)strlen(text));
        gzclose(f);
    } else {
        FILE *f = fopen(g_path, "w");
        if (!f)
            abort();
        fputs(text, f);
        fclose(f);
    }
    return g_path;
}

/* 1 when the stream says exactly what the loader says; *grouped: the stream's mode */
static int same_as_loader(const char *path, size_t top_n, const char *name, int *grouped) {
    rr_candidates c;
    rr_status st_load = rr_candidates_load(path, top_n, &c);
    char msg_load[1024];
    snprintf(msg_load, sizeof msg_load, "%s", rr_last_error());
    rr_cand_stream *s = NULL;
    rr_status st = rr_cand_stream_open(path, top_n, &s);
    int same = st == st_load;
    CHECK_MSG(st == st_load, "%s: stream status %d, loader %d (%s / %s)", name, (int)st, (int)st_load,
              rr_last_error(), msg_load);
    if (st_load) {
        CHECK_MSG(!strcmp(rr_last_error(), msg_load), "%s: stream says \"%s\", loader \"%s\"", name,
                  rr_last_error(), msg_load);
        same = same && !strcmp(rr_last_error(), msg_load);
        rr_cand_stream_free(s);
        if (!st_load)
            rr_candidates_free(&c);
        return same;
    }
    if (st) {
        rr_candidates_free(&c);
        return 0;
    }
    rr_cand_stream_info info = rr_cand_stream_get_info(s);
    *grouped = info.grouped;
    same = info.num_queries == c.num_queries && info.num_docs == c.num_docs && info.lines == c.lines;
    CHECK_MSG(same, "%s: info %zu queries %zu docs %zu lines, loader %zu %zu %zu", name, info.num_queries,
              info.num_docs, info.lines, c.num_queries, c.num_docs, c.lines);
    for (int pass = 0; pass < 2 && same; pass++) {
        CHECK(rr_cand_stream_rewind(s) == RR_OK);
        size_t max_docs = 0;
        for (size_t q = 0;; q++) {
            rr_cand_query cq;
            int eof = 0;
            rr_status nst = rr_cand_stream_next(s, &cq, &eof);
            if (nst || eof) {
                same = !nst && q == c.num_queries;
                CHECK_MSG(same, "%s: pass %d ends after %zu queries (%s)", name, pass, q, rr_last_error());
                break;
            }
            const size_t a = c.first[q], n = c.first[q + 1] - a;
            int ok = q < c.num_queries && !strcmp(cq.qid, c.qids[q]) && cq.num_docs == n;
            for (size_t j = 0; ok && j < n; j++)
                ok = !strcmp(cq.docids[j], c.docids[a + j]) && cq.scores[j] == c.scores[a + j] &&
                     cq.line_no[j] == c.line_no[a + j];
            CHECK_MSG(ok, "%s: pass %d query %zu differs", name, pass, q);
            same = same && ok;
            if (!ok)
                break;
            if (n > max_docs)
                max_docs = n;
        }
        CHECK_MSG(!same || max_docs == info.max_query_docs, "%s: max_query_docs %zu, largest %zu", name,
                  info.max_query_docs, max_docs);
    }
    rr_cand_stream_free(s);
    rr_candidates_free(&c);
    return same;
}

static void check_case(const char *name, const char *text, size_t top_n, int want_grouped) {
    int grouped = -1;
    const char *path = write_file(text, 0);
    if (same_as_loader(path, top_n, name, &grouped) && want_grouped >= 0)
        CHECK_MSG(grouped == want_grouped, "%s: grouped %d, expected %d", name, grouped, want_grouped);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng % n);
}

int main(void) {
    REQUIRE(mkdtemp(g_dir), "mkdtemp");
    check_case("simple", "q1 Q0 d1 1 3 x\nq1 Q0 d2 2 5 x\nq2 Q0 d1 1 1 x\n", 0, 1);
    check_case("top-n and ties (docid descending)", "q1 Q0 a 1 1 x\nq1 Q0 c 2 1 x\nq1 Q0 b 3 2 x\n"
               "q2\tQ0\tz 1 0 x\n\n   \nq2 Q0 y 2 0 x\n", 2, 1);
    check_case("blank lines and CRLF", "\n q1 Q0 d1 1 1 x\r\n\r\nq1 Q0 d2 1 2 x\r\n", 1, 1);
    check_case("interleaved", "q1 Q0 d1 1 1 x\nq2 Q0 d1 1 1 x\nq1 Q0 d2 1 2 x\n", 0, 0);
    check_case("duplicate", "q1 Q0 d1 1 1 x\nq1 Q0 d2 1 1 x\nq1 Q0 d1 1 3 x\n", 0, -1);
    check_case("duplicate in a later query", "q1 Q0 d1 1 1 x\nq2 Q0 d2 1 1 x\nq2 Q0 d2 1 3 x\nq3 Q0 d1 1 1 x\n", 0, -1);
    check_case("duplicate, then a bad line", "q1 Q0 d1 1 1 x\nq1 Q0 d1 1 1 x\nq2 Q0 d1 1 x\n", 0, -1);
    check_case("duplicate, then interleaved", "q1 Q0 d1 1 1 x\nq1 Q0 d1 1 2 x\nq2 Q0 d1 1 1 x\nq1 Q0 d3 1 1 x\n",
               0, -1);
    check_case("bad score", "q1 Q0 d1 1 1 x\nq1 Q0 d2 1 nan x\n", 0, -1);
    check_case("five fields", "q1 Q0 d1 1 1\n", 0, -1);
    check_case("empty", "", 0, -1);
    check_case("only blank lines", "\n  \n\t\n", 0, -1);
    int grouped = -1;
    CHECK(same_as_loader(write_file("q1 Q0 d1 1 1 x\nq1 Q0 d2 1 2 x\nq2 Q0 d9 1 0 x\n", 1), 1, "gzip", &grouped));
    CHECK(grouped == 1);
    CHECK(rr_cand_stream_open("/nonexistent/run.trec", 0, &(rr_cand_stream *){NULL}) == RR_ERR_IO);

    /* the file changes between passes: an error, not other candidates */
    {
        rr_cand_stream *s = NULL;
        CHECK(rr_cand_stream_open(write_file("q1 Q0 d1 1 1 x\nq2 Q0 d1 1 1 x\n", 0), 0, &s) == RR_OK);
        write_file("q1 Q0 d1 1 1 x\nq3 Q0 d1 1 1 x\n", 0);
        CHECK(s && rr_cand_stream_rewind(s) == RR_OK);
        rr_cand_query cq;
        int eof = 0;
        CHECK(s && rr_cand_stream_next(s, &cq, &eof) == RR_OK && !eof);
        CHECK(s && rr_cand_stream_next(s, &cq, &eof) == RR_ERR_IO && strstr(rr_last_error(), "changed"));
        rr_cand_stream_free(s);
    }

    /* seeded random runs */
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    REQUIRE(text, "malloc");
    int n_grouped = 0, n_interleaved = 0, n_errors = 0;
    for (int r = 0; r < 200; r++) {
        const int nq = 1 + (int)rnd(12), shuffle = r % 3 == 0, inject = (int)rnd(6);
        char lines[400][64];
        int n = 0;
        for (int q = 0; q < nq && n < 400; q++) {
            const int nd = 1 + (int)rnd(20);
            for (int d = 0; d < nd && n < 400; d++)
                snprintf(lines[n++], sizeof lines[0], "q%d Q0 doc%d %d %d.%d run\n", q, d * 7 % 23 + (int)rnd(2) * 23,
                         d + 1, (int)rnd(4), (int)rnd(3));
        }
        if (inject == 1 && n > 1) /* a copy of another line: often a duplicate docid */
            memcpy(lines[rnd((uint32_t)n)], lines[rnd((uint32_t)n)], sizeof lines[0]);
        if (inject == 2)
            snprintf(lines[rnd((uint32_t)n)], sizeof lines[0], "q1 Q0 bad 1 x1 run\n");
        if (shuffle)
            for (int i = n - 1; i > 0; i--) {
                int j = (int)rnd((uint32_t)i + 1);
                char t[64];
                memcpy(t, lines[i], sizeof t);
                memcpy(lines[i], lines[j], sizeof t);
                memcpy(lines[j], t, sizeof t);
            }
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(text + len, cap - len, "%s", lines[i]);
        char name[64];
        snprintf(name, sizeof name, "random run %d", r);
        grouped = -1;
        const int gz = r % 5 == 0;
        rr_candidates probe;
        if (rr_candidates_load(write_file(text, gz), 0, &probe) == RR_OK)
            rr_candidates_free(&probe);
        else
            n_errors++;
        if (same_as_loader(write_file(text, gz), (size_t)rnd(5), name, &grouped))
            n_grouped += grouped == 1, n_interleaved += grouped == 0;
    }
    /* the random runs reach every mode */
    CHECK_MSG(n_grouped > 20 && n_interleaved > 20 && n_errors > 20, "grouped %d, interleaved %d, errors %d",
              n_grouped, n_interleaved, n_errors);
    free(text);
    unlink(g_path);
    snprintf(g_path, sizeof g_path, "%s/run.gz", g_dir);
    unlink(g_path);
    rmdir(g_dir);
    TEST_DONE();
}
