/* cli/cmd_fit_head.c — `rerank fit-head`: fit a cross-encoder's classification head on
 * labelled (query, passage) pairs with the encoder frozen, and write a complete Hugging
 * Face cross-encoder directory.
 *
 * Pairs: for each query of the split with a relevant document (qrels relevance > 0) that the
 * candidate run lists (the run decides which queries are used), its relevant documents are
 * positives; its first --negatives documents of the candidate run
 * (trec_eval's order) that are not relevant are hard negatives, and --random-negatives more
 * are drawn from the corpus (seeded). Features: the frozen model's pooled output
 * tanh(pooler(h_CLS)) [H] — the classifier's input — computed by the engine (pooled head).
 * Head: w·x + b fitted by Newton's method on an L2-regularised logistic (class-balanced) or
 * pairwise (RankNet) objective (model/head_fit.h). --l2 auto picks λ from a grid by the
 * mean per-query AUC on held-out queries (every fifth query by a hash of its id), then
 * refits on all queries. Output: io/hf_export.h. Everything is deterministic: the same
 * bytes for any thread count.
 * Letters: N pairs, H hidden (features), Q training queries.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "eval/eval_internal.h"
#include "io/candidates.h"
#include "io/hf_export.h"
#include "io/safetensors.h"
#include "model/head_fit.h"
#include "rerank/eval.h"
#include "rerank/model.h"
#include "util/error.h"
#include "util/file.h"

/* ---- id → row lookups (sorted index arrays, binary search) ---- */

typedef struct sorted_ids {
    const char *const *ids;
    size_t n;
    size_t *order; /* [n] indices sorted by id */
} sorted_ids;

static rr_status sorted_ids_build(const char *const *ids, size_t n, sorted_ids *s) {
    s->ids = ids;
    s->n = n;
    return ids_sort(ids, n, &s->order);
}

static long sorted_ids_find(const sorted_ids *s, const char *id) { return ids_find(s->ids, s->order, s->n, id); }

/* FNV-1a: the held-out split and the random negatives' seeds depend only on the query id */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* DIR/name, else DIR/name.gz */
static rr_status dataset_file(const char *dir, const char *name, char *out, size_t cap) {
    RR_TRY(rr_path_join(out, cap, dir, name));
    if (rr_file_exists(out))
        return RR_OK;
    size_t len = strlen(out);
    if (len + 4 > cap)
        return rr_error(RR_ERR_INVALID_ARG, "path too long: %s", out);
    memcpy(out + len, ".gz", 4);
    if (rr_file_exists(out))
        return RR_OK;
    out[len] = '\0';
    return rr_error(RR_ERR_NOT_FOUND, "%s: no such file (nor %s.gz)", out, out);
}

/* ---- the labelled pairs ---- */

typedef struct pair_set {
    size_t n, cap;
    long *query;       /* [n] row in the queries list */
    long *doc;         /* [n] row in the corpus list */
    uint8_t *label;    /* [n] */
    size_t num_queries;
    size_t *first;     /* [Q + 1] */
    const char **qid;  /* [Q] */
} pair_set;

static rr_status pairs_push(pair_set *p, long q, long d, int label) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 1024;
        long *nq = realloc(p->query, nc * sizeof *nq);
        if (nq)
            p->query = nq;
        long *nd = realloc(p->doc, nc * sizeof *nd);
        if (nd)
            p->doc = nd;
        uint8_t *nl = realloc(p->label, nc);
        if (nl)
            p->label = nl;
        if (!nq || !nd || !nl)
            return rr_error(RR_ERR_NOMEM, "out of memory for %zu pairs", nc);
        p->cap = nc;
    }
    p->query[p->n] = q;
    p->doc[p->n] = d;
    p->label[p->n] = (uint8_t)label;
    p->n++;
    return RR_OK;
}

static void pairs_free(pair_set *p) {
    free(p->query);
    free(p->doc);
    free(p->label);
    free(p->first);
    free(p->qid);
}

typedef struct pair_counts {
    size_t split_queries;      /* queries in the qrels of the split */
    size_t no_positive;        /* ... of which without a relevant document (skipped) */
    size_t no_candidates;      /* queries with a relevant document but absent from the run (skipped) */
    size_t positives, hard_negatives, random_negatives;
    size_t run_queries_ignored; /* run queries not in the split */
    size_t dropped;             /* lenient: candidates, relevant documents and queries not in the dataset */
} pair_counts;

static int doc_in(const long *docs, size_t n, long d) {
    for (size_t i = 0; i < n; i++)
        if (docs[i] == d)
            return 1;
    return 0;
}

static rr_status build_pairs(const rr_qrels *qrels, const char *qrels_path, const rr_candidates *cand,
                             const char *run_path, const text_list *corpus, const sorted_ids *cix,
                             const char *corpus_path, const sorted_ids *qix, const char *queries_path,
                             int negatives, int random_negatives, uint64_t seed, int lenient, pair_set *ps,
                             pair_counts *pc) {
    memset(pc, 0, sizeof *pc);
    /* every candidate must name a known document, whatever its query (lenient: dropped and
     * counted, e.g. when its corpus line was malformed and skipped) */
    for (size_t k = 0; k < cand->num_docs; k++)
        if (sorted_ids_find(cix, cand->docids[k]) < 0 && !(lenient && ++pc->dropped))
            return rr_error(RR_ERR_NOT_FOUND, "%s:%lld: document \"%s\" is not in %s", run_path,
                            cand->line_no[k], cand->docids[k], corpus_path);
    sorted_ids run_q = {0};
    RR_TRY(sorted_ids_build((const char *const *)cand->qids, cand->num_queries, &run_q));
    size_t Q = qrels->num_queries;
    ps->first = malloc((Q + 1) * sizeof *ps->first);
    ps->qid = malloc((Q ? Q : 1) * sizeof *ps->qid);
    long *pos_docs = malloc((qrels->num_docs ? qrels->num_docs : 1) * sizeof *pos_docs);
    rr_status st = RR_OK;
    if (!ps->first || !ps->qid || !pos_docs) {
        st = rr_error(RR_ERR_NOMEM, "out of memory");
        goto done;
    }
    ps->first[0] = 0;
    pc->split_queries = Q;
    for (size_t q = 0; q < Q && !st; q++) {
        const rr_eval_query *eq = &qrels->queries[q];
        size_t npos = 0, start = ps->n;
        long qrow = -1;
        for (size_t k = eq->first; k < eq->first + eq->count; k++) {
            if (qrels->rel[k] <= 0)
                continue;
            long d = sorted_ids_find(cix, qrels->docid[k]);
            if (d < 0 && lenient) {
                pc->dropped++;
                continue;
            }
            if (d < 0) {
                st = rr_error(RR_ERR_NOT_FOUND, "%s: query \"%s\": relevant document \"%s\" is not in %s",
                              qrels_path, eq->qid, qrels->docid[k], corpus_path);
                break;
            }
            pos_docs[npos++] = d;
        }
        if (st)
            break;
        if (!npos) {
            pc->no_positive++;
            continue;
        }
        long cq = sorted_ids_find(&run_q, eq->qid);
        if (cq < 0) { /* the run decides which queries of the split are used */
            pc->no_candidates++;
            continue;
        }
        qrow = sorted_ids_find(qix, eq->qid);
        if (qrow < 0 && lenient) {
            pc->dropped++;
            continue;
        }
        if (qrow < 0) {
            st = rr_error(RR_ERR_NOT_FOUND, "%s: query \"%s\" is not in %s", qrels_path, eq->qid, queries_path);
            break;
        }
        for (size_t i = 0; i < npos && !st; i++)
            st = pairs_push(ps, qrow, pos_docs[i], 1);
        pc->positives += npos;
        int taken = 0;
        for (size_t k = cand->first[cq]; k < cand->first[cq + 1] && taken < negatives && !st; k++) {
            long d = sorted_ids_find(cix, cand->docids[k]);
            if (d < 0 || doc_in(pos_docs, npos, d))
                continue;
            st = pairs_push(ps, qrow, d, 0);
            taken++;
        }
        pc->hard_negatives += (size_t)taken;
        /* random negatives: seeded by the query id, so a query's draw does not depend on
         * the others; neither relevant nor already taken */
        uint64_t state = fnv1a(eq->qid) ^ seed;
        int drawn = 0;
        size_t budget = (size_t)random_negatives * 64 + 64;
        while (drawn < random_negatives && budget-- && !st && corpus->n) {
            long d = (long)(splitmix64(&state) % corpus->n);
            if (doc_in(pos_docs, npos, d) || doc_in(ps->doc + start + npos, ps->n - start - npos, d))
                continue;
            st = pairs_push(ps, qrow, d, 0);
            drawn++;
        }
        pc->random_negatives += (size_t)drawn;
        ps->qid[ps->num_queries] = eq->qid;
        ps->first[++ps->num_queries] = ps->n;
    }
    for (size_t c = 0; c < cand->num_queries && !st; c++) {
        const rr_eval_query *eq = rr_eval_find_query(qrels->queries, Q, cand->qids[c]);
        if (!eq)
            pc->run_queries_ignored++;
    }
done:
    free(pos_docs);
    free(run_q.order);
    return st;
}

/* ---- the classifier of the input model, when it has one label (the "before" figure) ---- */

static int read_input_head(const char *model_dir, int32_t H, float *w, float *b) {
    rr_checkpoint ck = {0};
    if (rr_checkpoint_open(model_dir, &ck)) {
        rr_error_clear();
        return 0;
    }
    const rr_st_tensor *tw = rr_checkpoint_find(&ck, "classifier.weight");
    const rr_st_tensor *tb = rr_checkpoint_find(&ck, "classifier.bias");
    int ok = tw && tb && tw->numel == H && tb->numel == 1 && !rr_tensor_to_f32(tw, w) && !rr_tensor_to_f32(tb, b);
    rr_checkpoint_close(&ck);
    rr_error_clear();
    return ok;
}

static rr_status write_pairs_tsv(const char *path, const pair_set *ps, const text_list *queries,
                                 const text_list *corpus) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    fprintf(af.fp, "qid\tdocid\tlabel\n");
    for (size_t i = 0; i < ps->n; i++)
        fprintf(af.fp, "%s\t%s\t%d\n", queries->ids[ps->query[i]], corpus->ids[ps->doc[i]], ps->label[i]);
    return rr_atomic_commit(&af);
}

static const double l2_grid[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1};

int rr_cmd_fit_head(int argc, char **argv) {
    const char *model_dir = NULL, *dataset = NULL, *split = "train", *run_path = NULL, *output = NULL;
    const char *objective_name = "logistic", *l2_text = "auto", *dump = NULL, *device = "cpu",
               *precision = "fp32";
    int negatives = 20, random_negatives = 0, seed = 0, max_length = 0, token_budget = 0, threads = 0,
        timing = 0, lenient = 0, strict = 0;
    const cli_opt opts[] = {
        {"model", OPT_STR, &model_dir, "trunk: a BERT cross-encoder or a bare BERT (needs pooler.dense.*)"},
        {"dataset", OPT_STR, &dataset, "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv; .gz ok)"},
        {"split", OPT_STR, &split, "qrels split to fit on (default train)"},
        {"candidates", OPT_STR, &run_path, "first-stage TREC run: hard negatives (the top non-relevant)"},
        {"negatives", OPT_INT, &negatives, "hard negatives per query (default 20)"},
        {"random-negatives", OPT_INT, &random_negatives, "random corpus negatives per query (default 0)"},
        {"seed", OPT_INT, &seed, "seed of the random negatives (default 0)"},
        {"objective", OPT_STR, &objective_name, "logistic (class-balanced, default) | pairwise (RankNet)"},
        {"l2", OPT_STR, &l2_text, "L2 strength, or auto: chosen on held-out queries (default auto)"},
        {"output", OPT_STR, &output, "the cross-encoder directory to write (must not exist)"},
        {"dump-features", OPT_STR, &dump, "also write PREFIX.npy [N, H] features and PREFIX.pairs.tsv"},
        {"max-length", OPT_INT, &max_length, "tokens per pair, specials included (default: the model's)"},
        {"token-budget", OPT_INT, &token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &precision, "fp32 (default) | bf16 | fp16 (CUDA storage precision)"},
        {"timing", OPT_FLAG, &timing, "print load / tokenize / forward times and rates to stderr"},
        CLI_BAD_LINES_OPTS(&lenient, &strict),
    };
    int rc = cli_parse("fit-head",
                       "--model DIR --dataset DIR --candidates RUN --output DIR [--split train] [options]", argc,
                       argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    if ((rc = cli_bad_lines_check("fit-head", lenient, strict)))
        return rc;
    if (!model_dir || !dataset || !run_path || !output) {
        fprintf(stderr, "rerank fit-head: needs --model, --dataset, --candidates and --output\n");
        return 2;
    }
    rr_head_fit_params fp = rr_head_fit_default_params();
    if (!strcmp(objective_name, "pairwise"))
        fp.objective = RR_HEAD_PAIRWISE;
    else if (strcmp(objective_name, "logistic")) {
        fprintf(stderr, "rerank fit-head: --objective must be logistic or pairwise\n");
        return 2;
    }
    int auto_l2 = !strcmp(l2_text, "auto");
    if (!auto_l2) {
        char *end;
        fp.l2 = strtod(l2_text, &end);
        if (*end || !(fp.l2 >= 0) || !isfinite(fp.l2)) {
            fprintf(stderr, "rerank fit-head: --l2 must be a number >= 0 or auto\n");
            return 2;
        }
    }
    if (negatives < 0 || random_negatives < 0 || !*split || strchr(split, '/')) {
        fprintf(stderr, "rerank fit-head: --negatives and --random-negatives >= 0, --split a name\n");
        return 2;
    }
    size_t olen = strlen(output);
    if (!olen || output[olen - 1] == '/') {
        fprintf(stderr, "rerank fit-head: --output must name a directory without a trailing slash\n");
        return 2;
    }
    rr_model_params p;
    if (cli_model_params("fit-head", RR_HEAD_POOLED, max_length, threads, device, precision, token_budget, &p))
        return 2;
    if (threads > 0)
        omp_set_num_threads(threads);

    char corpus_path[4200], queries_path[4200], qrels_path[4200], qrels_name[256];
    rr_qrels *qrels = NULL;
    rr_candidates cand = {0};
    text_list corpus = {0}, queries = {0};
    sorted_ids cix = {0}, qix = {0};
    pair_set ps = {0};
    pair_counts pc;
    rr_model *model = NULL;
    const char **qs = NULL, **ds = NULL;
    size_t *ql = NULL, *dl = NULL;
    float *feats = NULL, *w = NULL, *w_in = NULL;
    double *scores = NULL;
    uint8_t *train_part = NULL, *held_part = NULL;
    char *readme = NULL, *extra = NULL;
    int have_cand = 0;
    rr_status st = rr_hf_export_check_target(output);
    if (st)
        goto done;
    snprintf(qrels_name, sizeof qrels_name, "qrels/%s.tsv", split);
    if ((st = dataset_file(dataset, "corpus.jsonl", corpus_path, sizeof corpus_path)) ||
        (st = dataset_file(dataset, "queries.jsonl", queries_path, sizeof queries_path)) ||
        (st = dataset_file(dataset, qrels_name, qrels_path, sizeof qrels_path)))
        goto done;
    double t_start = omp_get_wtime();
    if ((st = rr_qrels_load(qrels_path, &qrels)))
        goto done;
    if ((st = rr_candidates_load(run_path, 0, &cand)))
        goto done;
    have_cand = 1;
    bad_lines cbad = {lenient, 0, ""}, qbad = {lenient, 0, ""};
    if ((st = read_docs_ex(corpus_path, &corpus, &cbad)) || (st = read_docs_ex(queries_path, &queries, &qbad)))
        goto done;
    cli_bad_lines_report("fit-head", &cbad, corpus_path);
    cli_bad_lines_report("fit-head", &qbad, queries_path);
    if (!corpus.ids || !queries.ids) {
        st = rr_error(RR_ERR_FORMAT, "%s: no \"_id\" fields", !corpus.ids ? corpus_path : queries_path);
        goto done;
    }
    if ((st = check_unique_ids(&corpus, corpus_path, "_id")) || (st = check_unique_ids(&queries, queries_path, "_id")))
        goto done;
    if ((st = sorted_ids_build((const char *const *)corpus.ids, corpus.n, &cix)) ||
        (st = sorted_ids_build((const char *const *)queries.ids, queries.n, &qix)))
        goto done;
    if ((st = build_pairs(qrels, qrels_path, &cand, run_path, &corpus, &cix, corpus_path, &qix, queries_path,
                          negatives, random_negatives, (uint64_t)(uint32_t)seed, lenient, &ps, &pc)))
        goto done;
    if (lenient)
        fprintf(stderr, "rerank fit-head: lenient: %zu candidates, relevant documents or queries dropped (not in "
                "the dataset)\n", pc.dropped);
    if (pc.no_positive == pc.split_queries) {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: no query of split \"%s\" has a relevant document (relevance > 0)",
                      qrels_path, split);
        goto done;
    }
    if (!pc.positives) {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: none of its queries is in split \"%s\" with a relevant document "
                      "(%s)", run_path, split, qrels_path);
        goto done;
    }
    if (pc.hard_negatives + pc.random_negatives == 0) {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: no negatives: none of the %zu training queries has a non-relevant "
                      "candidate (is it a run of split \"%s\"?)", run_path, ps.num_queries, split);
        goto done;
    }
    const size_t N = ps.n;
    qs = malloc(N * sizeof *qs);
    ds = malloc(N * sizeof *ds);
    ql = malloc(N * sizeof *ql);
    dl = malloc(N * sizeof *dl);
    if (!qs || !ds || !ql || !dl) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu pairs", N);
        goto done;
    }
    for (size_t i = 0; i < N; i++) {
        qs[i] = queries.texts[ps.query[i]];
        ql[i] = queries.lens[ps.query[i]];
        ds[i] = corpus.texts[ps.doc[i]];
        dl[i] = corpus.lens[ps.doc[i]];
    }
    double t0 = omp_get_wtime();
    if ((st = cli_model_load("fit-head", model_dir, &p, &model, NULL)))
        goto done;
    rr_model_info info = rr_model_get_info(model);
    const int32_t H = info.hidden;
    double t_load = omp_get_wtime() - t0, t_run = omp_get_wtime();
    feats = malloc(N * (size_t)H * sizeof *feats);
    w = malloc((size_t)H * sizeof *w);
    w_in = malloc((size_t)H * sizeof *w_in);
    scores = malloc(N * sizeof *scores);
    train_part = malloc(ps.num_queries + 1);
    held_part = malloc(ps.num_queries + 1);
    if (!feats || !w || !w_in || !scores || !train_part || !held_part) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu features", N);
        goto done;
    }
    if ((st = rr_model_score_pairs(model, N, qs, ql, ds, dl, feats)))
        goto done;
    double t_features = omp_get_wtime() - t_run;
    if (timing)
        print_timing("fit-head", model, t_load, t_features);
    fprintf(stderr, "fit-head: %zu queries of split %s with a relevant document and candidates (skipped: %zu "
            "without a relevant document, %zu not in the run), %zu pairs: %zu positives, %zu hard + %zu random negatives; features [%zu, %d] "
            "in %.1f s\n", ps.num_queries, split, pc.no_positive, pc.no_candidates, N, pc.positives,
            pc.hard_negatives, pc.random_negatives, N, H, t_features);
    if (pc.run_queries_ignored)
        fprintf(stderr, "fit-head: %zu queries of %s are not in split %s: ignored\n", pc.run_queries_ignored,
                run_path, split);

    rr_head_data data = {N, H, feats, ps.label, ps.num_queries, ps.first};
    /* held out: every query whose id hashes to 0 mod 5 (about a fifth, fixed by the ids) */
    size_t num_held = 0;
    for (size_t q = 0; q < ps.num_queries; q++) {
        held_part[q] = fnv1a(ps.qid[q]) % 5 == 0;
        train_part[q] = !held_part[q];
        num_held += held_part[q];
    }
    rr_head_fit_result res;
    rr_head_auc auc_held = {-1, -1, 0}, auc;
    double chosen_l2 = fp.l2;
    int selected = 0;
    /* λ from the grid by held-out per-query AUC (ties: the larger λ), when asked */
    for (size_t g = 0; auto_l2 && g < sizeof l2_grid / sizeof *l2_grid; g++) {
        rr_head_fit_params gp = fp;
        gp.l2 = l2_grid[g];
        float b;
        if (rr_head_fit(&data, train_part, &gp, w, &b, &res)) {
            rr_error_clear();
            break; /* a part lacks a class: no selection */
        }
        rr_head_scores(&data, w, b, scores);
        if ((st = rr_head_auc_compute(&data, held_part, scores, &auc)))
            goto done;
        if (auc.num_ranked_queries == 0)
            break;
        fprintf(stderr, "fit-head: l2 %-7g held-out AUC per query %.4f pooled %.4f (%zu queries)\n", gp.l2,
                auc.per_query, auc.pooled, auc.num_ranked_queries);
        if (!selected || auc.per_query >= auc_held.per_query) {
            auc_held = auc;
            chosen_l2 = gp.l2;
            selected = 1;
        }
    }
    if (auto_l2 && !selected) {
        chosen_l2 = 1e-3;
        fprintf(stderr, "fit-head: too few held-out queries (%zu) to choose --l2: using %g\n", num_held, chosen_l2);
    } else if (!auto_l2 && num_held) {
        /* report the held-out figure at the given λ too */
        float b;
        if (!rr_head_fit(&data, train_part, &fp, w, &b, &res)) {
            rr_head_scores(&data, w, b, scores);
            if ((st = rr_head_auc_compute(&data, held_part, scores, &auc_held)))
                goto done;
        }
        rr_error_clear();
    }
    fp.l2 = chosen_l2;
    float bias = 0;
    double t_fit = omp_get_wtime();
    if ((st = rr_head_fit(&data, NULL, &fp, w, &bias, &res)))
        goto done;
    t_fit = omp_get_wtime() - t_fit;
    rr_head_scores(&data, w, bias, scores);
    if ((st = rr_head_auc_compute(&data, NULL, scores, &auc)))
        goto done;
    float b_in = 0;
    rr_head_auc auc_in = {-1, -1, 0};
    if (read_input_head(model_dir, H, w_in, &b_in)) {
        rr_head_scores(&data, w_in, b_in, scores);
        if ((st = rr_head_auc_compute(&data, NULL, scores, &auc_in)))
            goto done;
    }
    fprintf(stderr, "fit-head: %s objective, l2 %g%s: loss %.6f (data %.6f) after %d Newton steps (%.1f s), "
            "max |gradient| %.2e\n", objective_name, chosen_l2, auto_l2 ? " (chosen on held-out queries)" : "",
            res.loss, res.data_loss, res.iterations, t_fit, res.grad_max);
    fprintf(stderr, "fit-head: train AUC per query %.4f, pooled %.4f; held-out (fit without them) per query %.4f, "
            "pooled %.4f (%zu queries)\n", auc.per_query, auc.pooled, auc_held.per_query, auc_held.pooled,
            auc_held.num_ranked_queries);
    if (auc_in.pooled >= 0)
        fprintf(stderr, "fit-head: the input model's own head on the same pairs: AUC per query %.4f, pooled %.4f\n",
                auc_in.per_query, auc_in.pooled);

    if (dump) {
        char path[4200];
        snprintf(path, sizeof path, "%s.npy", dump);
        if ((st = write_matrix(path, "npy", feats, N, (size_t)H)))
            goto done;
        snprintf(path, sizeof path, "%s.pairs.tsv", dump);
        if ((st = write_pairs_tsv(path, &ps, &queries, &corpus)))
            goto done;
    }
    /* what was fitted, recorded in config.json and README.md (no paths: the bytes depend on
     * the data, not on where it lies) */
    size_t cap = 4096;
    extra = malloc(cap);
    readme = malloc(cap);
    if (!extra || !readme) {
        st = rr_error(RR_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(extra, cap,
             "{\"objective\": \"%s\", \"l2\": %.17g, \"l2_chosen_on_held_out\": %s, \"split\": \"%s\", "
             "\"hard_negatives_per_query\": %d, \"random_negatives_per_query\": %d, \"seed\": %d, "
             "\"max_length\": %d, \"queries\": %zu, \"pairs\": %zu, \"positives\": %zu, \"train_auc_per_query\": "
             "%.6f, \"held_out_auc_per_query\": %.6f, \"features\": \"tanh(pooler(h_CLS)), encoder frozen\"}",
             objective_name, chosen_l2, auto_l2 && selected ? "true" : "false", split, negatives,
             random_negatives, seed, info.max_length, ps.num_queries, N, pc.positives, auc.per_query,
             auc_held.per_query);
    snprintf(readme, cap,
             "# Cross-encoder: frozen BERT trunk + fitted head\n\n"
             "Written by `rerank fit-head`. The encoder and pooler are the input model's, unchanged; only\n"
             "the classifier (one logit, w·pooled + b) was fitted, on the `%s` split: %zu queries,\n"
             "%zu pairs (%zu positives from the qrels, %zu hard negatives from a first-stage run, %zu\n"
             "random), %s objective, L2 %g%s, max length %d.\n\n"
             "Train AUC per query %.4f; held-out queries (fitted without them) %.4f.\n\n"
             "Load it as any Hugging Face cross-encoder (`AutoModelForSequenceClassification`,\n"
             "sentence-transformers `CrossEncoder`) or with `rerank score` / `rerank rerank`.\n",
             split, ps.num_queries, N, pc.positives, pc.hard_negatives, pc.random_negatives, objective_name,
             chosen_l2, auto_l2 && selected ? " (chosen on held-out queries)" : "", info.max_length,
             auc.per_query, auc_held.per_query);
    rr_hf_export ex = {model_dir, output, H, w, bias, "rerank_fit_head", extra, readme};
    if ((st = rr_hf_export_cross_encoder(&ex)))
        goto done;
    fprintf(stderr, "fit-head: wrote %s in %.1f s\n", output, omp_get_wtime() - t_start);
done:
    rr_model_free(model);
    rr_qrels_free(qrels);
    if (have_cand)
        rr_candidates_free(&cand);
    text_list_free(&corpus);
    text_list_free(&queries);
    free(cix.order);
    free(qix.order);
    pairs_free(&ps);
    free(qs);
    free(ds);
    free(ql);
    free(dl);
    free(feats);
    free(w);
    free(w_in);
    free(scores);
    free(train_part);
    free(held_part);
    free(readme);
    free(extra);
    return st ? cli_fail("fit-head", st) : 0;
}
