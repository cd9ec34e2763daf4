/* tests/test_model_parity.c — the engine against PyTorch, through the command line.
 *
 * Fixtures (tests/reference/make_fixtures.py, versions in tests/fixtures/VERSIONS.txt):
 *   embed_ids.tsv + embed_ref.npy: 600 SciFact texts embedded by sentence-transformers
 *     (all-MiniLM-L6-v2, fp32). `rerank embed` must reach cosine >= 0.99999 and max abs
 *     difference <= 1e-5 on every row.
 *   ce_pairs.tsv: 1,200 SciFact (query, document) pairs with PyTorch logits of the test
 *     cross-encoder. `rerank score` must match within 1e-4 absolute, and the order of
 *     documents for every query must be identical.
 *   ce_electra_pairs.tsv, ce_distilbert_pairs.tsv: 240 of those pairs (every 5th query) with
 *     PyTorch logits of the ELECTRA and DistilBERT test cross-encoders (same trunk, their
 *     names and heads): the same checks.
 *   ce_mpnet_pairs.tsv: the same 240 pairs scored by the MPNet test cross-encoder (the trunk
 *     with MPNet's names, positions and vocabulary, a seeded relative position bias and head).
 *   distilbert_embed.tsv, mpnet_embed.tsv: 60 texts, the DistilBERT and MPNet trunks
 *     mean-pooled by transformers: `rerank embed` within 1e-4, cosine >= 0.99999.
 *   ce_xlmr_pairs.tsv, xlmr_embed.tsv: the same for the XLM-R test cross-encoder (a SentencePiece
 *     vocabulary, positions from pad + 1).
 *   ce_pad_pairs.tsv: 8 pairs per model whose texts hold the literal "<pad>" (the pad token),
 *     scored by the MPNet and XLM-R test cross-encoders: their positions skip pad tokens.
 *   mpnet_buckets.tsv: transformers' MPNet relative position bucket of every offset in
 *     [-1023, 1023]: rr_rel_bucket must give each.
 *   ce_deberta_pairs.tsv, deberta_embed.tsv: the same 240 pairs and 60 texts for the DeBERTa-v3
 *     test cross-encoder (disentangled attention over seeded relative embeddings, log buckets,
 *     no absolute positions or token types); ce_deberta_variant_pairs.tsv for its variant
 *     (separate pos_key_proj / pos_query_proj, small buckets, absolute positions and token
 *     types, no LayerNorm on the table, a tanh pooler).
 *   ce_roberta_pairs.tsv: the same 240 pairs for the RoBERTa test cross-encoder (a byte-level BPE
 *     vocabulary, XLM-R's layer; tests/reference/fixtures_roberta.py).
 *   ce_camembert_pairs.tsv: the same 240 pairs for the CamemBERT test cross-encoder (model_type
 *     camembert: XLM-R's layer, CamembertTokenizer's vocabulary; tests/reference/fixtures_camembert.py).
 *   modernbert_embed.tsv, modernbert_variant_embed.tsv: their trunks (ModernBertModel) mean-pooled over
 *     60 texts: `rerank embed` within 1e-4, cosine >= 0.99999.
 *   ce_modernbert_pairs.tsv, ce_modernbert_variant_pairs.tsv: the same 240 pairs for two seeded
 *     ModernBERT test cross-encoders (no real ModernBERT weights are reachable): rotary positions,
 *     sliding-window layers (windows of ±16 and ±8 tokens, so the window bites in every pair),
 *     GeGLU, pre-LayerNorm; the variant with every bias, mean pooling and a SiLU head
 *     (tests/reference/fixtures_modernbert.py, tests/tools/make_modernbert.py).
 *   deberta_buckets.tsv: transformers' make_log_bucket_position for four (position_buckets,
 *     max_relative_positions) over [-1023, 1023]: rr_log_bucket must give each.
 * Needs RR_BIN (the rerank binary), RR_MODELS_DIR (scripts/setup.sh fills it), RR_REPO_DIR.
 * RR_PARITY_STRIDE=k (the sanitizer build sets 4, tests/model.cmake) keeps every k-th text and
 * every k-th query's pairs: the same checks on a quarter of the fixture, for CI's time; the
 * Release build runs it whole. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "model/model_internal.h"
#include "test_util.h"

static const char *find_text(const text_list *tl, const char *id) {
    for (size_t i = 0; i < tl->n; i++)
        if (!strcmp(tl->ids[i], id))
            return tl->texts[i];
    return NULL;
}

/* Load a float32 C-order .npy of shape (rows, cols). */
static float *load_npy(const char *path, size_t *rows, size_t *cols) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    unsigned char pre[10];
    float *data = NULL;
    if (fread(pre, 1, 10, fp) == 10 && !memcmp(pre + 1, "NUMPY", 5)) {
        size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        char hdr[1024] = {0};
        if (hlen < sizeof hdr && fread(hdr, 1, hlen, fp) == hlen && strstr(hdr, "'<f4'") &&
            strstr(hdr, "'fortran_order': False")) {
            const char *sh = strstr(hdr, "'shape': (");
            if (sh && sscanf(sh, "'shape': (%zu, %zu)", rows, cols) == 2) {
                data = malloc(*rows * *cols * sizeof *data + 1);
                if (data && fread(data, sizeof *data, *rows * *cols, fp) != *rows * *cols) {
                    free(data);
                    data = NULL;
                }
            }
        }
    }
    fclose(fp);
    return data;
}

/* The lowest cosine and the largest absolute difference between row i of ours [rows, cols]
 * and row i * ref_step of ref; NaN propagates into both. */
static void compare_rows(const float *ours, const float *ref, size_t rows, size_t cols, size_t ref_step,
                         double *min_cos, double *max_abs) {
    *min_cos = 1, *max_abs = 0;
    for (size_t i = 0; i < rows; i++) {
        double dot = 0, na = 0, nb = 0;
        for (size_t j = 0; j < cols; j++) {
            double a = ours[i * cols + j], b = ref[i * ref_step * cols + j], d = fabs(a - b);
            dot += a * b, na += a * a, nb += b * b;
            if (!(d <= *max_abs))
                *max_abs = d;
        }
        double cos = dot / sqrt(na * nb);
        if (!(cos >= *min_cos))
            *min_cos = cos;
    }
}

static int run(const char *cmd) {
    fprintf(stderr, "+ %s\n", cmd);
    return system(cmd);
}

/* `rerank score --model MODELS/model OPTS` on TMP/NAME.tsv ("query\tdocument" lines), its scores
 * into got[0..max) (OPTS: more options, "" for none). The number of scores read, or -1 when the
 * command failed or wrote no file. */
static int score_file(const char *bin, const char *models, const char *model, const char *tmp, const char *name,
                      const char *opts, double *got, int max) {
    char cmd[16384], path[4096];
    snprintf(cmd, sizeof cmd, "%s score --model %s/%s --pairs %s/%s.tsv --output %s/%s.scores %s", bin, models, model,
             tmp, name, tmp, name, opts);
    if (run(cmd) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.scores", tmp, name);
    FILE *sf = fopen(path, "r");
    if (!sf)
        return -1;
    int n = 0;
    while (n < max && fscanf(sf, "%lf", &got[n]) == 1)
        n++;
    fclose(sf);
    return n;
}

/* A cross-encoder against PyTorch: the fixture's "qid\tdocid\tlogit" lines (a query's pairs
 * consecutive) scored by `rerank score --model MODELS/model`: every logit within 1e-4, every
 * query's order identical. Every stride-th query is kept. Non-zero when a REQUIRE failed. */
static int check_cross_encoder(const char *repo, const char *models, const char *bin, const char *tmp,
                                int stride, const text_list *corpus, const text_list *queries,
                                const char *fixture, const char *model, int min_pairs, int min_queries) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", repo, fixture);
    FILE *pf = fopen(path, "r");
    REQUIRE(pf, "cannot open %s", path);
    snprintf(path, sizeof path, "%s/pairs.tsv", tmp);
    FILE *pairs = fopen(path, "w");
    enum { MAXP = 4096 };
    static char qids[MAXP][64];
    static double want[MAXP];
    int np = 0, n_groups = 0;
    char qid[64], did[64], last_qid[64] = "";
    double logit;
    while (np < MAXP && fscanf(pf, "%63s\t%63s\t%lf", qid, did, &logit) == 3) {
        if (strcmp(qid, last_qid)) { /* a query's pairs are consecutive */
            n_groups++;
            snprintf(last_qid, sizeof last_qid, "%s", qid);
        }
        if ((n_groups - 1) % stride)
            continue;
        const char *q = find_text(queries, qid), *d = find_text(corpus, did);
        REQUIRE(q && d, "pair %s/%s not in the data", qid, did);
        REQUIRE(!strchr(q, '\t') && !strchr(d, '\t'), "tab inside a text");
        fprintf(pairs, "%s\t%s\n", q, d);
        snprintf(qids[np], sizeof qids[np], "%s", qid);
        want[np++] = logit;
    }
    fclose(pf);
    fclose(pairs);
    CHECK(np >= min_pairs / stride);
    static double got[MAXP];
    const int ng = score_file(bin, models, model, tmp, "pairs", "--timing", got, MAXP);
    REQUIRE(ng == np, "%s: %d scores for %d pairs (-1: scoring failed)", model, ng, np);
    double worst = 0;
    int worst_i = 0;
    for (int i = 0; i < np; i++) {
        double dd = fabs(got[i] - want[i]);
        if (!(dd <= worst)) {
            worst = dd;
            worst_i = i;
        }
    }
    printf("%s score: %d pairs, max abs diff %.3g (pair %d: %.9g vs %.9g)\n", model, np, worst, worst_i,
           got[worst_i], want[worst_i]);
    CHECK_MSG(worst <= 1e-4, "max abs diff %g", worst);
    /* per-query order: pairs of one query are consecutive in the fixture */
    int queries_checked = 0, order_breaks = 0;
    for (int s = 0; s < np;) {
        int e = s;
        while (e < np && !strcmp(qids[e], qids[s]))
            e++;
        for (int i = s; i < e; i++)
            for (int j = s; j < e; j++)
                if (i != j && (want[i] > want[j]) != (got[i] > got[j]) && want[i] != want[j])
                    order_breaks++;
        queries_checked++;
        s = e;
    }
    printf("%s order: %d queries, %d inverted pairs\n", model, queries_checked, order_breaks);
    CHECK(queries_checked >= min_queries / stride);
    CHECK_MSG(order_breaks == 0, "%d document pairs ordered differently from PyTorch", order_breaks);

    return 0;
}

/* A trunk's mean-pooled embeddings (`rerank embed --max-length 256` on the cross-encoder
 * directory) against the fixture's: "kind\tid\t384 floats" per line, 60 lines; within 1e-4,
 * cosine >= 0.99999. */
static int check_trunk_embed(const char *repo, const char *models, const char *bin, const char *tmp,
                             const text_list *corpus, const text_list *queries, const char *fixture,
                             const char *model, int DH) {
    enum { DMAX = 64, DH_MAX = 384 };
    static float dref[DMAX * DH_MAX];
    REQUIRE(DH > 0 && DH <= DH_MAX, "%s: width %d", fixture, DH);
    char path[4096], cmd[16384], kind[16], id[128];
    size_t r1, c1;
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", repo, fixture);
    FILE *df = fopen(path, "r");
    REQUIRE(df, "cannot open %s", path);
    snprintf(path, sizeof path, "%s/dtexts.txt", tmp);
    FILE *dt = fopen(path, "w");
    int nd = 0;
    while (nd < DMAX && fscanf(df, "%15s\t%127s", kind, id) == 2) {
        for (int j = 0; j < DH; j++)
            REQUIRE(fscanf(df, "%f", &dref[nd * DH + j]) == 1, "%s: row %d short", fixture, nd + 1);
        const char *t = find_text(!strcmp(kind, "query") ? queries : corpus, id);
        REQUIRE(t && !strchr(t, '\n'), "%s %s not in the data", kind, id);
        fprintf(dt, "%s\n", t);
        nd++;
    }
    fclose(df);
    fclose(dt);
    CHECK(nd == 60);
    snprintf(cmd, sizeof cmd, "%s embed --model %s/%s --max-length 256 --input %s/dtexts.txt --output %s/demb.npy",
             bin, models, model, tmp, tmp);
    CHECK(run(cmd) == 0);
    snprintf(path, sizeof path, "%s/demb.npy", tmp);
    float *dours = load_npy(path, &r1, &c1);
    REQUIRE(dours && r1 == (size_t)nd && c1 == (size_t)DH, "%s embeddings: shape (%zu, %zu)", model, r1, c1);
    double dcos, dabs;
    compare_rows(dours, dref, (size_t)nd, (size_t)DH, 1, &dcos, &dabs);
    printf("%s embed: %d texts, min cosine %.9f, max abs diff %.3g\n", model, nd, dcos, dabs);
    CHECK_MSG(dcos >= 0.99999, "%s: min cosine %.9f", model, dcos);
    CHECK_MSG(dabs <= 1e-4, "%s: max abs diff %g", model, dabs);
    free(dours);
    return 0;
}

/* A fixture of "model\tquery\tdocument\tlogit" lines (a model's lines consecutive), each model's
 * pairs scored by `rerank score --model MODELS/model OPTS` (OPTS "": its defaults): every logit
 * within 1e-4 of PyTorch's, want_models models. ce_pad_pairs.tsv: texts that hold the literal
 * "<pad>" (the pad token, whose position MPNet and XLM-R skip); ce_long_pairs.tsv: pairs of 964 to
 * 5,224 tokens; ce_long_deberta_pairs.tsv: DeBERTa at max length 2,048. Non-zero when a REQUIRE
 * failed. */
static int check_inline_pairs(const char *repo, const char *models, const char *bin, const char *tmp,
                              const char *fixture, const char *opts, const char *what, int want_models) {
    char path[4096], model[128] = "";
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", repo, fixture);
    FILE *f = fopen(path, "r");
    REQUIRE(f, "cannot open %s", path);
    static char line[1 << 18]; /* ce_long_pairs.tsv: lines of up to 25 kB */
    enum { MAXP = 64 };
    double want[MAXP];
    int np = 0, models_checked = 0;
    FILE *pairs = NULL;
    for (int more = 1; more;) {
        char *m = NULL, *rest = NULL;
        more = fgets(line, sizeof line, f) != NULL;
        if (more) {
            line[strcspn(line, "\n")] = 0;
            m = line;
            rest = strchr(line, '\t');
            REQUIRE(rest, "%s: no tab", path);
            *rest++ = 0;
        }
        if (np && (!more || strcmp(m, model))) { /* score the previous model's pairs */
            fclose(pairs);
            double got[MAXP], worst = 0;
            const int ng = score_file(bin, models, model, tmp, "inline_pairs", opts, got, np);
            for (int i = 0; i < ng; i++) {
                const double d = fabs(got[i] - want[i]);
                worst = d > worst || d != d ? d : worst;
            }
            printf("%s, %s: %d pairs, max abs diff %.3g\n", model, what, np, worst);
            CHECK_MSG(ng == np && worst <= 1e-4, "%s: %d of %d scores, max abs diff %g", model, ng, np, worst);
            models_checked++;
            np = 0;
        }
        if (!more)
            break;
        if (np == 0) {
            REQUIRE(strlen(m) < sizeof model, "model name too long");
            memcpy(model, m, strlen(m) + 1);
            snprintf(path, sizeof path, "%s/inline_pairs.tsv", tmp);
            pairs = fopen(path, "w");
            REQUIRE(pairs, "cannot write %s", path);
        }
        char *logit = strrchr(rest, '\t');
        REQUIRE(logit && np < MAXP, "malformed line in %s", fixture);
        *logit++ = 0;
        want[np++] = strtod(logit, NULL);
        fprintf(pairs, "%s\n", rest); /* query \t document */
    }
    fclose(f);
    CHECK_MSG(models_checked == want_models, "%s: %d models", fixture, models_checked);
    return 0;
}

int main(void) {
    const char *repo = getenv("RR_REPO_DIR"), *models = getenv("RR_MODELS_DIR"), *bin = getenv("RR_BIN");
    REQUIRE(repo && models && bin, "RR_REPO_DIR, RR_MODELS_DIR and RR_BIN must be set (ctest sets them)");
    char path[4096], cmd[16384], tmp[256];
    const char *stride_env = getenv("RR_PARITY_STRIDE");
    const int stride = stride_env ? atoi(stride_env) : 1;
    REQUIRE(stride >= 1 && stride <= 8, "RR_PARITY_STRIDE must be 1..8, not %s", stride_env);
    snprintf(tmp, sizeof tmp, "/tmp/rr_parity_%ld", (long)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmp);
    REQUIRE(system(cmd) == 0, "mkdir %s", tmp);

    text_list corpus, queries;
    snprintf(path, sizeof path, "%s/data/scifact/corpus.jsonl.gz", repo);
    REQUIRE(read_beir_jsonl(path, &corpus) == RR_OK, "%s", rr_last_error());
    snprintf(path, sizeof path, "%s/data/scifact/queries.jsonl.gz", repo);
    REQUIRE(read_beir_jsonl(path, &queries) == RR_OK, "%s", rr_last_error());
    CHECK(corpus.n == 5183 && queries.n == 1109);

    /* ---- bi-encoder ---- */
    snprintf(path, sizeof path, "%s/tests/fixtures/embed_ids.tsv", repo);
    FILE *ids = fopen(path, "r");
    REQUIRE(ids, "cannot open %s", path);
    snprintf(path, sizeof path, "%s/texts.txt", tmp);
    FILE *texts = fopen(path, "w");
    char kind[16], id[128];
    int n_texts = 0, n_lines = 0;
    while (fscanf(ids, "%15s\t%127s", kind, id) == 2) {
        if (n_lines++ % stride)
            continue;
        const char *t = find_text(!strcmp(kind, "query") ? &queries : &corpus, id);
        REQUIRE(t, "%s %s not in the data", kind, id);
        REQUIRE(!strchr(t, '\n'), "newline in text %s", id);
        fprintf(texts, "%s\n", t);
        n_texts++;
    }
    fclose(ids);
    fclose(texts);
    CHECK(n_texts >= 500 / stride);
    snprintf(cmd, sizeof cmd, "%s embed --model %s/all-MiniLM-L6-v2 --input %s/texts.txt --output %s/emb.npy --timing",
             bin, models, tmp, tmp);
    CHECK(run(cmd) == 0);
    size_t r1, c1, r2, c2;
    snprintf(path, sizeof path, "%s/emb.npy", tmp);
    float *ours = load_npy(path, &r1, &c1);
    snprintf(path, sizeof path, "%s/tests/fixtures/embed_ref.npy", repo);
    float *ref = load_npy(path, &r2, &c2);
    REQUIRE(ours && ref, "could not read the embeddings");
    REQUIRE(r1 == (size_t)n_texts && r2 == (size_t)n_lines && c1 == c2 && c1 == 384,
            "shapes (%zu,%zu) vs (%zu,%zu)", r1, c1, r2, c2);
    double worst_cos, worst_abs;
    compare_rows(ours, ref, r1, c1, (size_t)stride, &worst_cos, &worst_abs); /* the k-th kept line */
    printf("embed: %zu texts, min cosine %.9f, max abs diff %.3g\n", r1, worst_cos, worst_abs);
    CHECK_MSG(worst_cos >= 0.99999, "min cosine %.9f", worst_cos);
    CHECK_MSG(worst_abs <= 1e-5, "max abs diff %g", worst_abs);
    free(ours);
    free(ref);

    /* ---- cross-encoders: BERT, and the same trunk as ELECTRA, DistilBERT, MPNet, XLM-R, DeBERTa, RoBERTa,
     * CamemBERT;
     * two seeded ModernBERTs ---- */
    if (check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_pairs.tsv",
                            "test-cross-encoder", 1000, 100) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_electra_pairs.tsv",
                            "test-electra-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_distilbert_pairs.tsv",
                            "test-distilbert-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_mpnet_pairs.tsv",
                            "test-mpnet-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_xlmr_pairs.tsv",
                            "test-xlmr-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_deberta_pairs.tsv",
                            "test-deberta-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_deberta_variant_pairs.tsv",
                            "test-deberta-variant-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_roberta_pairs.tsv",
                            "test-roberta-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_camembert_pairs.tsv",
                            "test-camembert-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_modernbert_pairs.tsv",
                            "test-modernbert-cross-encoder", 240, 20) ||
        check_cross_encoder(repo, models, bin, tmp, stride, &corpus, &queries, "ce_modernbert_variant_pairs.tsv",
                            "test-modernbert-variant-cross-encoder", 240, 20))
        return 1;

    /* ---- the DistilBERT, MPNet, XLM-R, DeBERTa and ModernBERT trunks as bi-encoders (mean pooling, max length
     * 256) ---- */
    if (check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "distilbert_embed.tsv",
                          "test-distilbert-cross-encoder", 384) ||
        check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "mpnet_embed.tsv", "test-mpnet-cross-encoder", 384) ||
        check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "xlmr_embed.tsv", "test-xlmr-cross-encoder", 384) ||
        check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "deberta_embed.tsv", "test-deberta-cross-encoder",
                          384) ||
        check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "modernbert_embed.tsv",
                          "test-modernbert-cross-encoder", 64) ||
        check_trunk_embed(repo, models, bin, tmp, &corpus, &queries, "modernbert_variant_embed.tsv",
                          "test-modernbert-variant-cross-encoder", 64))
        return 1;

    /* ---- MPNet's and XLM-R's positions skip pad tokens (texts holding "<pad>") ---- */
    if (check_inline_pairs(repo, models, bin, tmp, "ce_pad_pairs.tsv", "", "texts holding \"<pad>\"", 2))
        return 1;

    /* ---- past 512 tokens: the ModernBERT variant at 8,192 positions (test-modernbert-long-cross-encoder:
     * make_modernbert.py --positions 8192, as tests/reference/fixtures_long.py makes it; rotary positions,
     * no table, so the same network) on pairs of 964 to 5,224 tokens, at its default max length; and
     * DeBERTa-v3 (relative positions only, no table either) past its max_position_embeddings on the
     * same pairs at max length 2,048 (932 and 1,845 of its tokens whole, the others cut) ---- */
    if (check_inline_pairs(repo, models, bin, tmp, "ce_long_pairs.tsv", "", "pairs of 964 to 5,224 tokens", 1) ||
        check_inline_pairs(repo, models, bin, tmp, "ce_long_deberta_pairs.tsv", "--max-length 2048",
                           "pairs of 932 to 5,137 tokens at max length 2,048", 1))
        return 1;

    /* ---- MPNet's relative position buckets against transformers' for offsets -1023..1023 ---- */
    snprintf(path, sizeof path, "%s/tests/fixtures/mpnet_buckets.tsv", repo);
    FILE *bf = fopen(path, "r");
    REQUIRE(bf, "cannot open %s", path);
    int rel, want, rows = 0, wrong = 0;
    while (fscanf(bf, "%d\t%d", &rel, &want) == 2) {
        rows++;
        const int got = rr_rel_bucket(rel, 32);
        if (got != want && wrong++ < 5)
            fprintf(stderr, "relative position %d: bucket %d, transformers %d\n", rel, got, want);
    }
    fclose(bf);
    CHECK_MSG(rows == 2047 && wrong == 0, "MPNet buckets: %d of %d rows differ", wrong, rows);

    /* ---- DeBERTa's log buckets against transformers' (float32 on tensors) for several
     * (position_buckets, max_relative_positions), relative positions -1023..1023 ---- */
    snprintf(path, sizeof path, "%s/tests/fixtures/deberta_buckets.tsv", repo);
    bf = fopen(path, "r");
    REQUIRE(bf, "cannot open %s", path);
    int bsize, maxpos;
    rows = wrong = 0;
    while (fscanf(bf, "%d %d %d %d", &bsize, &maxpos, &rel, &want) == 4) {
        rows++;
        const int got = rr_log_bucket(rel, bsize, maxpos);
        if (got != want && wrong++ < 5)
            fprintf(stderr, "DeBERTa (%d, %d), relative position %d: bucket %d, transformers %d\n", bsize, maxpos,
                    rel, got, want);
    }
    fclose(bf);
    CHECK_MSG(rows >= 4 * 2047 && wrong == 0, "DeBERTa buckets: %d of %d rows differ", wrong, rows);
    printf("DeBERTa log buckets: %d rows (4 settings x offsets -1023..1023), %d differ\n", rows, wrong);

    text_list_free(&corpus);
    text_list_free(&queries);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
