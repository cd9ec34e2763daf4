/* tests/test_config.c — the `rerank run` config loader (include/rerank/config.h): a good
 * config resolves (defaults, ~ and ${VAR:-default}, paths relative to the file, --set typed
 * as the file, --out, the default index under the output dir) and round-trips through
 * rr_config_write_yaml; each bad config fails with the exact "file:line:column: message". */
#define _POSIX_C_SOURCE 200809L
#include "rerank/config.h" /* before any other header: it compiles on its own */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "util/json_where.h"

static char T[256]; /* the scratch directory: data/, cand.trec, ce/, configs/ */

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* s with "@T" replaced by the scratch directory */
static void subst(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) {
        if (s[0] == '@' && s[1] == 'T') {
            n += (size_t)snprintf(out + n, cap - n, "%s", T);
            s++;
        } else {
            out[n++] = *s;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* Load configs/NAME.yaml holding yaml, apply sets (NULL-terminated), finish with out (may be
 * NULL); returns the status and leaves the config in *cfg (NULL on failure). */
static rr_status load(const char *name, const char *yaml, const char *const *sets, const char *out, rr_config **cfg) {
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/configs/%s.yaml", T, name);
    subst(yaml, text, sizeof text);
    write_text(path, text);
    *cfg = NULL;
    rr_status st = rr_config_load(path, cfg);
    for (int i = 0; !st && sets && sets[i]; i++)
        st = rr_config_set(*cfg, sets[i]);
    if (!st)
        st = rr_config_finish(*cfg, out);
    if (st) {
        rr_config_free(*cfg);
        *cfg = NULL;
    }
    return st;
}

typedef struct bad_case {
    const char *name;
    const char *yaml;
    const char *sets[3];
    const char *want; /* "@T" = scratch dir; the file is @T/configs/<name>.yaml */
} bad_case;

#define BASE "dataset:\n  path: ../data\nfirst_stage:\n  run: ../cand.trec\n"
static const bad_case BAD[] = {
    {"quoted_int", BASE "rerank:\n  model: ../ce\n  top_n: \"50\"\noutput_dir: out\n", {NULL},
     "@T/configs/quoted_int.yaml:7:10: rerank.top_n: expected an integer, got the string \"50\""},
    {"word_int", BASE "rerank:\n  model: ../ce\n  top_n: lots\noutput_dir: out\n", {NULL},
     "@T/configs/word_int.yaml:7:10: rerank.top_n: expected an integer, got \"lots\""},
    {"negative", BASE "rerank:\n  model: ../ce\n  top_n: -1\noutput_dir: out\n", {NULL},
     "@T/configs/negative.yaml:7:10: rerank.top_n: must be >= 0, got -1"},
    {"unknown_key", BASE "rerank:\n  model: ../ce\n  topn: 5\noutput_dir: out\n", {NULL},
     "@T/configs/unknown_key.yaml:7:3: unknown key \"rerank.topn\" (rerank takes: model, top_n, max_length, "
     "precision, device, token_budget, threads, score, label, tag, keep_rest)"},
    {"unknown_section", BASE "output_dir: out\nrerankk:\n  model: ../ce\n", {NULL},
     "@T/configs/unknown_section.yaml:6:1: unknown key \"rerankk\" (expected dataset, first_stage, rerank, eval, "
     "output_dir)"},
    {"bad_enum", BASE "rerank:\n  model: ../ce\n  precision: fp64\noutput_dir: out\n", {NULL},
     "@T/configs/bad_enum.yaml:7:14: rerank.precision: \"fp64\" is not one of fp32/bf16/fp16"},
    {"bad_score", BASE "rerank:\n  model: ../ce\n  score: logits\noutput_dir: out\n", {NULL},
     "@T/configs/bad_score.yaml:7:10: rerank.score: \"logits\" is not one of raw/sigmoid"},
    {"missing_dir", "dataset:\n  path: ../nodata\nfirst_stage:\n  run: ../cand.trec\noutput_dir: out\n", {NULL},
     "@T/configs/missing_dir.yaml:2:9: dataset.path: @T/nodata: no such directory"},
    {"missing_file", "dataset:\n  path: ../data\nfirst_stage:\n  run: nope.trec\noutput_dir: out\n", {NULL},
     "@T/configs/missing_file.yaml:4:8: first_stage.run: @T/configs/nope.trec: no such file"},
    {"missing_model", BASE "rerank:\n  model: ~/no-model\noutput_dir: out\n", {NULL},
     "@T/configs/missing_model.yaml:6:10: rerank.model: @T/no-model: no such directory"},
    {"dense_key_with_run", BASE "  k: 10\noutput_dir: out\n", {NULL},
     "@T/configs/dense_key_with_run.yaml:5:6: first_stage.k is a setting of a dense first stage, but "
     "first_stage.run is given (line 4): use one or the other"},
    {"unset_var", "dataset:\n  path: ${RR_TEST_UNSET_VAR}/data\nfirst_stage:\n  run: ../cand.trec\noutput_dir: out\n",
     {NULL},
     "@T/configs/unset_var.yaml:2:9: dataset.path: ${RR_TEST_UNSET_VAR} is not set (write "
     "${RR_TEST_UNSET_VAR:-default} to give a default)"},
    {"syntax", "dataset:\n  path: ../data\n first_stage: x\n", {NULL},
     "@T/configs/syntax.yaml:3:2: YAML syntax error: did not find expected key while parsing a block mapping"},
    {"duplicate_key", BASE "rerank:\n  model: ../ce\n  top_n: 5\n  top_n: 6\noutput_dir: out\n", {NULL},
     "@T/configs/duplicate_key.yaml:8:3: duplicate key \"rerank.top_n\" (first on line 7)"},
    {"bad_measure", BASE "eval:\n  measures: [ndcg_cut.10, ndgc]\noutput_dir: out\n", {NULL},
     "@T/configs/bad_measure.yaml:6:27: eval.measures: illegal measure 'ndgc' (unknown name 'ndgc')"},
    {"measures_not_list", BASE "eval:\n  measures: map\noutput_dir: out\n", {NULL},
     "@T/configs/measures_not_list.yaml:6:13: eval.measures: expected a list (e.g. [ndcg_cut.10, map]), got a "
     "scalar"},
    {"bad_lines_value", "dataset:\n  path: ../data\n  bad_lines: skip\nfirst_stage:\n  run: ../cand.trec\noutput_dir: out\n",
     {NULL}, "@T/configs/bad_lines_value.yaml:3:14: dataset.bad_lines: \"skip\" is not one of strict/lenient"},
    {"section_scalar", BASE "rerank: 5\noutput_dir: out\n", {NULL},
     "@T/configs/section_scalar.yaml:5:9: rerank: expected a mapping of settings, got a scalar"},
    {"no_split", "dataset:\n  path: ../data\n  split: dev\nfirst_stage:\n  run: ../cand.trec\noutput_dir: out\n",
     {NULL}, "@T/configs/no_split.yaml:3:10: no qrels/dev.tsv or qrels/dev.tsv.gz in @T/data"},
    {"no_output_dir", BASE, {NULL}, "@T/configs/no_output_dir.yaml:1:1: output_dir is required (or give --out DIR)"},
    {"rerank_no_model", BASE "rerank:\n  top_n: 5\noutput_dir: out\n", {NULL},
     "@T/configs/rerank_no_model.yaml:5:1: rerank.model is required (a cross-encoder directory)"},
    {"no_first_stage", "dataset:\n  path: ../data\noutput_dir: out\n", {NULL},
     "@T/configs/no_first_stage.yaml:1:1: first_stage is required: run: FILE (a TREC run), or model: / index: "
     "(dense)"},
    {"index_without_model", "dataset:\n  path: ../data\nfirst_stage:\n  index: ../idx\noutput_dir: out\n", {NULL},
     "@T/configs/index_without_model.yaml:4:10: first_stage.index: @T/idx holds no index (no index.faiss), and "
     "there is no first_stage.model to build one"},
    {"empty", "", {NULL}, "@T/configs/empty.yaml:1:1: the file is empty (expected dataset, first_stage, ... sections)"},
    {"set_unknown", BASE "output_dir: out\n", {"rerank.topn=5", NULL},
     "--set rerank.topn=5: unknown key \"rerank.topn\""},
    {"set_bad_int", BASE "output_dir: out\n", {"rerank.top_n=abc", NULL},
     "--set rerank.top_n=abc: rerank.top_n: expected an integer, got \"abc\""},
    {"set_quoted_int", BASE "output_dir: out\n", {"rerank.top_n='7'", NULL},
     "--set rerank.top_n='7': rerank.top_n: expected an integer, got the string \"7\""},
    {"set_no_equals", BASE "output_dir: out\n", {"rerank.top_n", NULL},
     "--set rerank.top_n: expected section.key=value"},
    {"set_missing_file", BASE "output_dir: out\n", {"first_stage.run=no-such.trec", NULL}, NULL /* cwd-relative */},
};

static int test_bad(void) {
    char want[2048];
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        rr_config *cfg;
        rr_status st = load(BAD[i].name, BAD[i].yaml, BAD[i].sets, NULL, &cfg);
        if (BAD[i].want)
            subst(BAD[i].want, want, sizeof want);
        else { /* --set paths resolve against the working directory (the scratch dir here) */
            snprintf(want, sizeof want, "--set first_stage.run=no-such.trec: first_stage.run: %s/no-such.trec: no such file", T);
        }
        CHECK_MSG(st != RR_OK && cfg == NULL, "%s: accepted", BAD[i].name);
        CHECK_MSG(!strcmp(rr_last_error(), want), "%s:\n   got: %s\n  want: %s", BAD[i].name, rr_last_error(), want);
    }
    return 0;
}

static int test_good(void) {
    setenv("RR_TEST_CACHE", T, 1);
    unsetenv("RR_TEST_UNSET_VAR");
    const char *yaml = "# a config with every kind of value\n"
                       "dataset:\n  path: ../data\n"
                       "first_stage:\n  run: ${RR_TEST_UNSET_VAR:-~/cand.trec}\n"
                       "rerank:\n  model: ${RR_TEST_CACHE}/ce\n  top_n: 20\n  score: sigmoid\n"
                       "eval:\n  measures: [ndcg_cut.10, recall.100]\n"
                       "output_dir: ./runs/../runs/x\n";
    rr_config *cfg;
    char want[512];
    rr_status st = load("good", yaml, NULL, NULL, &cfg);
    REQUIRE(st == RR_OK, "good config: %s", rr_last_error());
    snprintf(want, sizeof want, "%s/data", T);
    CHECK_MSG(!strcmp(cfg->dataset.path, want), "dataset.path %s", cfg->dataset.path);
    snprintf(want, sizeof want, "%s/data/qrels/test.tsv", T);
    CHECK_MSG(!strcmp(cfg->dataset.qrels, want), "qrels %s", cfg->dataset.qrels);
    snprintf(want, sizeof want, "%s/data/corpus.jsonl.gz", T); /* the .gz one: no plain file */
    CHECK_MSG(!strcmp(cfg->dataset.corpus, want), "corpus %s", cfg->dataset.corpus);
    snprintf(want, sizeof want, "%s/cand.trec", T); /* ${UNSET:-~/...}: HOME is T */
    CHECK_MSG(!strcmp(cfg->first_stage.run, want), "run %s", cfg->first_stage.run);
    CHECK(!cfg->first_stage.dense);
    snprintf(want, sizeof want, "%s/ce", T);
    CHECK_MSG(!strcmp(cfg->rerank.model, want), "rerank.model %s", cfg->rerank.model);
    snprintf(want, sizeof want, "%s/configs/runs/x", T);
    CHECK_MSG(!strcmp(cfg->output_dir, want), "output_dir %s", cfg->output_dir);
    CHECK(cfg->rerank.enabled && cfg->rerank.top_n == 20 && !strcmp(cfg->rerank.score, "sigmoid"));
    CHECK(!strcmp(cfg->rerank.precision, "fp32") && !strcmp(cfg->rerank.device, "cpu") && cfg->rerank.label == 0);
    CHECK(cfg->eval.num_measures == 2 && !strcmp(cfg->eval.measures[1], "recall.100"));
    CHECK(!strcmp(cfg->eval.split, "test"));

    /* round trip: the resolved YAML loads to the same settings */
    char path[512];
    snprintf(path, sizeof path, "%s/configs/resolved.yaml", T);
    FILE *fp = fopen(path, "w");
    REQUIRE(fp, "cannot write %s", path);
    CHECK(rr_config_write_yaml(cfg, fp) == RR_OK);
    fclose(fp);
    rr_config *again = NULL;
    st = rr_config_load(path, &again);
    if (!st)
        st = rr_config_finish(again, NULL);
    CHECK_MSG(st == RR_OK, "resolved config: %s", rr_last_error());
    if (!st) {
        CHECK(!strcmp(again->first_stage.run, cfg->first_stage.run));
        CHECK(!strcmp(again->output_dir, cfg->output_dir) && !strcmp(again->dataset.qrels, cfg->dataset.qrels));
        CHECK(again->rerank.top_n == 20 && !strcmp(again->rerank.score, "sigmoid") && again->eval.num_measures == 2);
    }
    rr_config_free(again);
    rr_config_free(cfg);

    /* overrides: typed like the file; paths relative to the working directory; --out wins */
    const char *sets[] = {"rerank.top_n=50", "eval.measures=[map, P.10, recip_rank]", "rerank.device=auto",
                          "output_dir=elsewhere", NULL};
    st = load("good", yaml, sets, NULL, &cfg);
    REQUIRE(st == RR_OK, "--set: %s", rr_last_error());
    CHECK(cfg->rerank.top_n == 50 && cfg->eval.num_measures == 3 && !strcmp(cfg->eval.measures[2], "recip_rank"));
    CHECK(!strcmp(cfg->rerank.device, "auto"));
    snprintf(want, sizeof want, "%s/elsewhere", T);
    CHECK_MSG(!strcmp(cfg->output_dir, want), "--set output_dir %s", cfg->output_dir);
    rr_config_free(cfg);
    st = load("good", yaml, sets, "/tmp/../tmp/rr-out", &cfg);
    REQUIRE(st == RR_OK, "--out: %s", rr_last_error());
    CHECK_MSG(!strcmp(cfg->output_dir, "/tmp/rr-out"), "--out %s", cfg->output_dir);
    rr_config_free(cfg);

    /* dense: no index given -> <output_dir>/index, to be built */
    const char *dense = "dataset:\n  path: ../data\nfirst_stage:\n  model: ../ce\n  factory: HNSW32\n"
                        "  metric: l2\n  k: 7\neval:\n  split: test\noutput_dir: /tmp/rr-dense\n";
    st = load("dense", dense, NULL, NULL, &cfg);
    REQUIRE(st == RR_OK, "dense: %s", rr_last_error());
    CHECK(cfg->first_stage.dense && cfg->first_stage.build_index && !cfg->rerank.enabled);
    CHECK_MSG(!strcmp(cfg->first_stage.index, "/tmp/rr-dense/index"), "index %s", cfg->first_stage.index);
    CHECK(cfg->first_stage.k == 7 && !strcmp(cfg->first_stage.metric, "l2") && !strcmp(cfg->first_stage.factory, "HNSW32"));
    CHECK(cfg->eval.num_measures == 3); /* the default measures */
    rr_config_free(cfg);
    return 0;
}

/* util/json_where: the position of a top-level member's value, not of a nested or quoted one */
static void test_json_where(void) {
    const char *t = "{\n  \"a\": {\"hidden_size\": 1},\n  \"s\": \"\\\"hidden_size\\\": 2\",\n"
                    "  \"l\": [\"hidden_size\", {\"hidden_size\": 3}],\n  \"hidden_size\" :\t\"32\"\n}\n";
    int line = 0, col = 0;
    CHECK(rr_json_key_position(t, strlen(t), "hidden_size", &line, &col));
    CHECK_MSG(line == 5 && col == 19, "hidden_size at %d:%d, want 5:19", line, col);
    CHECK(rr_json_key_position(t, strlen(t), "a", &line, &col) && line == 2 && col == 8);
    CHECK(!rr_json_key_position(t, strlen(t), "missing", &line, &col));
    CHECK(!rr_json_key_position("{\"x\": \"unterminated", 17, "y", &line, &col));
    CHECK(!rr_json_key_position("[{\"x\": 1}]", 10, "x", &line, &col)); /* not an object's member */
}

int main(void) {
    test_json_where();
    snprintf(T, sizeof T, "/tmp/rr_test_config.XXXXXX");
    REQUIRE(mkdtemp(T), "mkdtemp");
    char p[512];
    const char *dirs[] = {"data", "data/qrels", "ce", "configs"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", T, dirs[i]);
        mkdir(p, 0755);
    }
    const char *files[] = {"data/corpus.jsonl.gz", "data/queries.jsonl", "data/qrels/test.tsv", "cand.trec"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", T, files[i]);
        write_text(p, "");
    }
    setenv("HOME", T, 1);
    REQUIRE(chdir(T) == 0, "chdir");
    test_bad();
    int rc = test_good();
    snprintf(p, sizeof p, "rm -rf '%s'", T);
    if (system(p) != 0)
        fprintf(stderr, "could not remove %s\n", T);
    if (rc)
        return rc;
    TEST_DONE();
}
