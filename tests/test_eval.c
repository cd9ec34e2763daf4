/* tests/test_eval.c — the eval library on small hand-made cases: trec_eval's conventions
 * (ties broken by docid descending, rank column ignored, relevance level, queries on one
 * side only, -c, -M, -J), the readers (TREC and BEIR qrels, gzip, comments) and their
 * errors with file:line, and measure selection. The golden comparison with trec_eval's own
 * outputs is tests/test_eval_golden.sh. */
#define _POSIX_C_SOURCE 200809L
#include "rerank/eval.h" /* before any other header: it compiles on its own */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

static char tmp_dir[64];

static const char *write_tmp(const char *name, const char *text) {
    static char paths[16][128];
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

static const char *write_tmp_gz(const char *name, const char *text) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    gzFile g = gzopen(p, "wb");
    if (!g)
        return NULL;
    gzputs(g, text);
    gzclose(g);
    return p;
}

/* Value of a measure (printed name) on the row of qid ("all" for the summary); NAN if
 * absent. */
static double value_of(const rr_eval *ev, const char *qid, const char *name) {
    for (size_t r = 0; r < rr_eval_num_rows(ev); r++) {
        if (strcmp(rr_eval_row_id(ev, r), qid))
            continue;
        for (size_t v = 0; v < rr_eval_num_values(ev); v++) {
            rr_eval_value x = rr_eval_value_at(ev, r, v);
            if (!strcmp(x.name, name))
                return x.present ? x.value : NAN;
        }
    }
    return NAN;
}

static const char *text_of(const rr_eval *ev, const char *qid, const char *name) {
    for (size_t r = 0; r < rr_eval_num_rows(ev); r++) {
        if (strcmp(rr_eval_row_id(ev, r), qid))
            continue;
        for (size_t v = 0; v < rr_eval_num_values(ev); v++) {
            rr_eval_value x = rr_eval_value_at(ev, r, v);
            if (!strcmp(x.name, name))
                return x.present ? x.text : NULL;
        }
    }
    return NULL;
}

/* Evaluate qrels/run text with params and measures (NULL-terminated); NULL on failure. */
static rr_eval *evaluate(const char *qrels_text, const char *run_text, rr_eval_params p,
                         const char *const *measures) {
    const char *qp = write_tmp("qrels", qrels_text), *rp = write_tmp("run", run_text);
    rr_qrels *q = NULL;
    rr_run *r = NULL;
    rr_eval *ev = NULL;
    rr_status st = rr_qrels_load(qp, &q);
    if (!st)
        st = rr_run_load(rp, &r);
    if (!st)
        st = rr_eval_create(&p, &ev);
    for (int i = 0; !st && measures && measures[i]; i++)
        st = rr_eval_add_measure(ev, measures[i]);
    if (!st)
        st = rr_eval_compute(ev, q, r);
    if (st) {
        fprintf(stderr, "evaluate: %s: %s\n", rr_status_str(st), rr_last_error());
        rr_eval_free(ev);
        ev = NULL;
    }
    rr_qrels_free(q);
    rr_run_free(r);
    return ev;
}

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static void test_ties_and_rank_column(void) {
    /* all scores equal: the order is docid descending (c, b, a) whatever the rank column */
    const char *qrels = "q1 0 a 1\nq1 0 b 0\nq1 0 c 1\nq1 0 z 1\n";
    const char *run = "q1 Q0 a 1 1.0 t\nq1 Q0 b 2 1.0 t\nq1 Q0 c 3 1.0 t\n";
    const char *m[] = {"P.1,2,3", "relstring", "recip_rank", "ndcg", "map", "num_rel", NULL};
    rr_eval *ev = evaluate(qrels, run, rr_eval_default_params(), m);
    CHECK(ev != NULL);
    if (!ev)
        return;
    CHECK(text_of(ev, "q1", "relstring") && !strcmp(text_of(ev, "q1", "relstring"), "101"));
    CHECK(NEAR(value_of(ev, "q1", "P_1"), 1.0));
    CHECK(NEAR(value_of(ev, "q1", "P_2"), 0.5));
    CHECK(NEAR(value_of(ev, "q1", "recip_rank"), 1.0));
    CHECK(NEAR(value_of(ev, "q1", "num_rel"), 3.0));
    /* map: (1/1 + 2/3) / 3 relevant */
    CHECK(NEAR(value_of(ev, "q1", "map"), (1.0 + 2.0 / 3.0) / 3.0));
    /* ndcg: dcg 1 + 1/log2(4); ideal 1 + 1/log2(3) + 1/log2(4) */
    CHECK(NEAR(value_of(ev, "q1", "ndcg"), 1.5 / (1.0 + 1.0 / log2(3.0) + 0.5)));
    rr_eval_free(ev);

    /* a higher score wins over the docid order; "B" < "a" in strcmp, so among equal
     * scores "a" ranks before "B" */
    const char *run2 = "q1 Q0 B 1 2 t\nq1 Q0 a 2 0.5 t\nq1 Q0 c 3 0.5 t\nq1 Q0 b 4 2 t\n";
    const char *qrels2 = "q1 0 B 1\nq1 0 a 2\nq1 0 b 0\nq1 0 c 3\n";
    const char *m2[] = {"relstring", NULL};
    ev = evaluate(qrels2, run2, rr_eval_default_params(), m2);
    CHECK(ev && text_of(ev, "q1", "relstring") && !strcmp(text_of(ev, "q1", "relstring"), "0132"));
    rr_eval_free(ev);
}

static void test_levels_and_query_sets(void) {
    const char *qrels = "q1 0 d1 2\nq1 0 d2 1\nq1 0 d3 0\nq2 0 d1 1\nq3 0 d9 1\n";
    const char *run = "q1 Q0 d2 1 3 t\nq1 Q0 d1 2 2 t\nq1 Q0 d5 3 1 t\n"
                      "q2 Q0 d1 1 1 t\nq4 Q0 d1 1 1 run9\n";
    const char *m[] = {"official", "relstring", NULL};
    rr_eval_params p = rr_eval_default_params();
    rr_eval *ev = evaluate(qrels, run, p, m);
    CHECK(ev != NULL);
    if (!ev)
        return;
    /* q4 is not judged (dropped), q3 not retrieved (skipped without -c) */
    CHECK(rr_eval_num_rows(ev) == 3);
    CHECK(NEAR(value_of(ev, "all", "num_q"), 2.0));
    CHECK(NEAR(value_of(ev, "all", "num_ret"), 4.0));
    CHECK(text_of(ev, "all", "runid") && !strcmp(text_of(ev, "all", "runid"), "run9"));
    CHECK(!strcmp(text_of(ev, "q1", "relstring"), "12-"));
    CHECK(NEAR(value_of(ev, "q1", "map"), 1.0));
    CHECK(NEAR(value_of(ev, "all", "map"), 1.0));
    CHECK(isnan(value_of(ev, "q1", "gm_map"))); /* summary only */
    rr_eval_free(ev);

    /* -l 2: only d1 is relevant for q1, none for q2 */
    p.relevance_level = 2;
    ev = evaluate(qrels, run, p, m);
    CHECK(ev && NEAR(value_of(ev, "q1", "map"), 0.5) && NEAR(value_of(ev, "q1", "num_rel"), 1.0));
    CHECK(ev && NEAR(value_of(ev, "q2", "num_rel"), 0.0) && NEAR(value_of(ev, "all", "map"), 0.25));
    rr_eval_free(ev);

    /* -c: q3 is evaluated as an empty ranking and averaged in */
    p = rr_eval_default_params();
    p.average_complete = 1;
    ev = evaluate(qrels, run, p, m);
    CHECK(ev && rr_eval_num_rows(ev) == 4);
    CHECK(ev && NEAR(value_of(ev, "all", "num_q"), 3.0));
    CHECK(ev && NEAR(value_of(ev, "q3", "num_ret"), 0.0) && NEAR(value_of(ev, "q3", "map"), 0.0));
    CHECK(ev && NEAR(value_of(ev, "all", "map"), 2.0 / 3.0));
    CHECK(ev && !strcmp(text_of(ev, "q3", "relstring"), ""));
    rr_eval_free(ev);

    /* -M 1: only the top doc of each query */
    p = rr_eval_default_params();
    p.max_docs_per_query = 1;
    ev = evaluate(qrels, run, p, m);
    CHECK(ev && NEAR(value_of(ev, "q1", "num_ret"), 1.0) && NEAR(value_of(ev, "q1", "map"), 0.5));
    rr_eval_free(ev);

    /* -J: the unpooled d5 leaves the ranking */
    p = rr_eval_default_params();
    p.judged_docs_only = 1;
    ev = evaluate(qrels, run, p, m);
    CHECK(ev && NEAR(value_of(ev, "q1", "num_ret"), 2.0));
    rr_eval_free(ev);

    /* no query in common */
    const char *qp = write_tmp("q", "x 0 d 1\n"), *rp = write_tmp("r", "y Q0 d 1 1 t\n");
    rr_qrels *q = NULL;
    rr_run *r = NULL;
    rr_eval *e2 = NULL;
    CHECK(rr_qrels_load(qp, &q) == RR_OK && rr_run_load(rp, &r) == RR_OK);
    rr_eval_params dp = rr_eval_default_params();
    CHECK(rr_eval_create(&dp, &e2) == RR_OK);
    CHECK(e2 && q && r && rr_eval_compute(e2, q, r) == RR_ERR_NOT_FOUND);
    rr_eval_free(e2);
    rr_qrels_free(q);
    rr_run_free(r);
}

static void test_readers(void) {
    /* BEIR TSV qrels (header detected), gzip run, comments and blank lines */
    const char *qp = write_tmp("beir.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n\nq2\td3\t2\n");
    const char *rp = write_tmp_gz("run.gz", "# a comment\nq1 Q0 d1 1 0.5 tagA\n\nq2 Q0 d3 1 0.25 tagB extra fields\n");
    rr_qrels *q = NULL;
    rr_run *r = NULL;
    CHECK(rr_qrels_load(qp, &q) == RR_OK);
    CHECK(q && rr_qrels_num_queries(q) == 2 && rr_qrels_num_judgements(q) == 3);
    CHECK(rr_run_load(rp, &r) == RR_OK);
    CHECK(r && rr_run_num_queries(r) == 2 && rr_run_num_lines(r) == 2);
    CHECK(r && !strcmp(rr_run_id(r), "tagB"));
    rr_qrels_free(q);
    rr_run_free(r);

    struct {
        const char *name, *text, *needle;
        int is_run;
    } bad[] = {
        {"q_fields", "q1 0 d1 1\nq1 0 d2\n", "q_fields:2: expected 4 fields", 0},
        {"q_rel", "q1 0 d1 1\nq1 0 d2 high\n", "q_rel:2: relevance 'high' is not an integer", 0},
        {"q_float", "q1 0 d1 1.5\n", "q_float:1: relevance '1.5'", 0},
        {"q_dup", "q1 0 d1 1\nq2 0 d1 1\nq1 0 d1 0\n", "q_dup:3: docid 'd1' judged twice for query 'q1' (also at line 1)", 0},
        {"q_beir", "query-id corpus-id score\nq1 d1 1\nq1 0 d2 1\n", "q_beir:3: expected 3 fields", 0},
        {"q_empty", "# nothing\n", "q_empty: no judgements", 0},
        {"r_fields", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4\n", "r_fields:2: expected 6 fields", 1},
        {"r_score", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 x0.4 t\n", "r_score:2: score 'x0.4' is not a number", 1},
        {"r_nan", "q1 Q0 d1 1 nan t\n", "r_nan:1: score 'nan'", 1},
        {"r_dup", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4 t\nq1 Q0 d1 3 0.3 t\n", "r_dup:3: docid 'd1' retrieved twice for query 'q1' (also at line 1)", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_tmp(bad[i].name, bad[i].text);
        rr_status st;
        if (bad[i].is_run) {
            rr_run *x = NULL;
            st = rr_run_load(p, &x);
            CHECK(x == NULL);
        } else {
            rr_qrels *x = NULL;
            st = rr_qrels_load(p, &x);
            CHECK(x == NULL);
        }
        CHECK_MSG(st == RR_ERR_FORMAT && strstr(rr_last_error(), bad[i].needle), "%s: %s (want '%s')",
                  bad[i].name, rr_last_error(), bad[i].needle);
    }
    rr_qrels *x = NULL;
    CHECK(rr_qrels_load("/nonexistent/qrels", &x) == RR_ERR_IO && strstr(rr_last_error(), "/nonexistent/qrels"));
}

static void test_measure_selection(void) {
    rr_eval_params p = rr_eval_default_params();
    rr_eval *ev = NULL;
    CHECK(rr_eval_create(&p, &ev) == RR_OK);
    CHECK(rr_eval_add_measure(ev, "nope") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "P.0") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "P.5,5") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "map.5") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "P.") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "utility.1,2") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "ndcg.1=3,2") == RR_ERR_INVALID_ARG);
    CHECK(rr_eval_add_measure(ev, "all_trec.5") == RR_ERR_INVALID_ARG);
    rr_eval_free(ev);

    /* parameters name the values; cutoffs are sorted; the first parameters given win */
    const char *m[] = {"ndcg_cut.100,10", "recall.100", "recall.5", "iprec_at_recall.0.5",
                       "ndcg.1=2", NULL};
    ev = evaluate("q 0 a 1\nq 0 b 0\n", "q Q0 a 1 1 t\nq Q0 b 2 2 t\n", p, m);
    CHECK(ev != NULL);
    if (!ev)
        return;
    const char *want[] = {"iprec_at_recall_0.50", "recall_100", "ndcg_1=2", "ndcg_cut_10",
                          "ndcg_cut_100"};
    CHECK(rr_eval_num_values(ev) == 5);
    for (size_t v = 0; v < 5 && v < rr_eval_num_values(ev); v++)
        CHECK_MSG(!strcmp(rr_eval_value_at(ev, 0, v).name, want[v]), "value %zu is %s, want %s",
                  v, rr_eval_value_at(ev, 0, v).name, want[v]);
    /* ranking b, a; gain of level 1 is 2: dcg 2/log2(3), ideal 2 */
    CHECK(NEAR(value_of(ev, "q", "ndcg_1=2"), (2.0 / log2(3.0)) / 2.0));
    CHECK(NEAR(value_of(ev, "q", "ndcg_cut_10"), 1.0 / log2(3.0)));
    rr_eval_free(ev);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/rr_test_eval_XXXXXX");
    REQUIRE(mkdtemp(tmp_dir) != NULL, "cannot create a temporary directory");
    test_ties_and_rank_column();
    test_levels_and_query_sets();
    test_readers();
    test_measure_selection();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmp_dir);
    TEST_DONE();
}
