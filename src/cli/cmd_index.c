/* cli/cmd_index.c — `rerank index`: a BEIR or MS MARCO corpus → bi-encoder embeddings → a
 * FAISS index directory (index.faiss, docids.txt, meta.json; see include/rerank/index.h).
 *
 * The corpus is streamed, so peak memory is the index (vectors and document ids) plus one
 * chunk, not the corpus text. It is read twice:
 *   1. scan_corpus: every line parsed (--lenient skips and counts malformed ones), the
 *      documents counted (for the progress line's ETA), the ids checked (unique, no
 *      whitespace; a duplicate names both lines) and the corpus checksum computed, all before
 *      any embedding is spent. Only the ids and their line numbers are kept, then freed.
 *   2. corpus_stream: CHUNK_DOCS documents at a time into one reused text buffer, embedded
 *      (rr_model_embed sorts each chunk by length and packs it to the token budget) and added
 *      to the index. Its checksum and count must equal the scan's: a corpus that changed
 *      between the reads is an error, never an index that disagrees with its meta.json.
 * An index that needs training (IVF, PQ) embeds the first --train-docs documents chunk by
 * chunk into the training sample, trains, adds them, and streams on; the sample's vectors and
 * ids are the only thing held beyond a chunk.
 * With --from-index the vectors and ids come from an existing index instead (exact for a
 * Flat source), so IVF / HNSW / PQ variants are built without embedding the corpus again.
 * --update streams its --add corpus the same way (scan, then chunks) after the stored vectors
 * it keeps: an update's memory is the index plus one chunk too.
 * Every index records each document's checksum (rr_doc_hash, dochash.bin), so --update DIR
 * --corpus FILE can make the index hold exactly FILE's documents: the scan compares FILE with
 * the index by id and checksum (corpus_diff), the stored vectors of unchanged documents are
 * kept, and the stream hands out only the new and changed documents to embed.
 * index_check_corpus makes the same comparison for `retrieve --corpus` and `rerank run`. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rerank/index.h"
#include "rerank/model.h"
#include "util/error.h"
#include "util/sha256.h"

/* Documents per rr_model_embed call and per rr_index_add: the text held at once (SciFact:
 * ~1.5 MB, MS MARCO passages: ~0.35 MB). Each chunk is one embed call, so the chunks must
 * stay what they were for an index rebuilt from the same corpus to hold the same vectors. */
enum { CHUNK_DOCS = 1024 };

/* The corpus checksum feeds "id\ttext\n" of every document in order, i.e. exactly what was
 * embedded, whatever the file's compression or JSON formatting. */
static void sha_doc(rr_sha256 *h, const char *id, const char *text, size_t len) {
    rr_sha256_update(h, id, strlen(id));
    rr_sha256_update(h, "\t", 1);
    rr_sha256_update(h, text, len);
    rr_sha256_update(h, "\n", 1);
}

/* Append s [len] and a NUL to a growing buffer; *off = where it starts. Grows by doubling,
 * so a buffer reused chunk after chunk stops allocating once it holds the largest chunk. */
static rr_status buf_append(char **buf, size_t *used, size_t *cap, const char *s, size_t len, size_t *off) {
    if (*used + len + 1 > *cap) {
        size_t nc = *cap ? *cap : 65536;
        while (nc < *used + len + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return rr_error(RR_ERR_NOMEM, "out of memory for %zu bytes of corpus text", nc);
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *used, s, len);
    (*buf)[*used + len] = '\0';
    *off = *used;
    *used += len + 1;
    return RR_OK;
}

/* ---- 1. the scan: ids with their lines, the count, the checksum ---- */
typedef struct corpus_ids {
    char *chars;         /* NUL-terminated ids one after another */
    size_t chars_len, chars_cap;
    size_t *offset;      /* [n] into chars */
    long long *line_no;  /* [n] */
    uint64_t *hash;      /* [n] rr_doc_hash of each text */
    size_t n, cap;
} corpus_ids;

static void corpus_ids_free(corpus_ids *ids) {
    free(ids->chars);
    free(ids->offset);
    free(ids->line_no);
    free(ids->hash);
    memset(ids, 0, sizeof *ids);
}

static rr_status scan_corpus(const char *path, bad_lines *bl, corpus_ids *ids, char sha_hex[65]) {
    memset(ids, 0, sizeof *ids);
    doc_reader dr;
    RR_TRY(doc_reader_open(&dr, path, bl));
    rr_sha256 h;
    rr_sha256_init(&h);
    rr_status st;
    int eof = 0;
    while (!(st = doc_reader_next(&dr, &eof)) && !eof) {
        if (ids->n == ids->cap) {
            size_t nc = ids->cap ? ids->cap * 2 : 4096;
            size_t *no = realloc(ids->offset, nc * sizeof *no);
            if (no)
                ids->offset = no;
            long long *nl = realloc(ids->line_no, nc * sizeof *nl);
            if (nl)
                ids->line_no = nl;
            uint64_t *nh = realloc(ids->hash, nc * sizeof *nh);
            if (nh)
                ids->hash = nh;
            if (!no || !nl || !nh) {
                st = rr_error(RR_ERR_NOMEM, "out of memory for the ids of %s", path);
                break;
            }
            ids->cap = nc;
        }
        if ((st = buf_append(&ids->chars, &ids->chars_len, &ids->chars_cap, dr.id, strlen(dr.id),
                             &ids->offset[ids->n])))
            break;
        ids->hash[ids->n] = rr_doc_hash(dr.text, dr.len);
        ids->line_no[ids->n++] = dr.line_no;
        sha_doc(&h, dr.id, dr.text, dr.len);
    }
    doc_reader_close(&dr);
    rr_sha256_final_hex(&h, sha_hex);
    if (st)
        corpus_ids_free(ids);
    return st;
}

/* Unique and free of whitespace, as check_unique_ids: "corpus.jsonl:12: duplicate _id \"7\"
 * (first at line 3)". */
static rr_status corpus_ids_check(const corpus_ids *ids, const char *path) {
    const char **ptr = malloc((ids->n ? ids->n : 1) * sizeof *ptr);
    if (!ptr)
        return rr_error(RR_ERR_NOMEM, "out of memory checking the ids of %s", path);
    for (size_t i = 0; i < ids->n; i++)
        ptr[i] = ids->chars + ids->offset[i];
    size_t *order = NULL;
    rr_status st = ids_check_unique(ptr, ids->line_no, ids->n, path, "_id", &order);
    free(order);
    free(ptr);
    return st;
}

/* ---- 2. the stream: one chunk of text at a time ---- */
typedef struct corpus_stream {
    doc_reader reader;
    bad_lines bl;            /* the scan reported the skipped lines; these are the same ones */
    rr_sha256 sha;           /* over what was read: must equal the scan's */
    size_t read;             /* documents handed out */
    const unsigned char *want; /* [documents in the file]: 0 = read past it (NULL: take all) */
    size_t ord;              /* documents read from the file, taken or not */
    char *text;              /* this chunk's texts, NUL-terminated one after another */
    size_t text_len, text_cap;
    size_t *text_off;        /* [CHUNK_DOCS] into text */
    const char **texts;      /* [CHUNK_DOCS] */
    size_t *lens;            /* [CHUNK_DOCS] */
    char *id_chars;          /* ids of the documents read but not yet added to the index */
    size_t id_len, id_cap;
    size_t *id_off;          /* [held_cap] into id_chars */
    uint64_t *hash;          /* [held_cap] rr_doc_hash of the held documents */
    size_t held, held_cap;
} corpus_stream;

static void corpus_stream_close(corpus_stream *cs) {
    doc_reader_close(&cs->reader);
    free(cs->text);
    free(cs->text_off);
    free(cs->texts);
    free(cs->lens);
    free(cs->id_chars);
    free(cs->id_off);
    free(cs->hash);
    memset(cs, 0, sizeof *cs);
}

/* held_cap: the most documents read before an rr_index_add (a chunk, or the training sample);
 * want (may be NULL): which documents of the file to hand out, by their order in it. */
static rr_status corpus_stream_open(corpus_stream *cs, const char *path, int lenient, size_t held_cap,
                                    const unsigned char *want) {
    memset(cs, 0, sizeof *cs);
    cs->bl.lenient = lenient;
    cs->want = want;
    rr_sha256_init(&cs->sha);
    cs->text_off = malloc(CHUNK_DOCS * sizeof *cs->text_off);
    cs->texts = malloc(CHUNK_DOCS * sizeof *cs->texts);
    cs->lens = malloc(CHUNK_DOCS * sizeof *cs->lens);
    cs->id_off = malloc(held_cap * sizeof *cs->id_off);
    cs->hash = malloc(held_cap * sizeof *cs->hash);
    cs->held_cap = held_cap;
    if (!cs->text_off || !cs->texts || !cs->lens || !cs->id_off || !cs->hash) {
        corpus_stream_close(cs);
        return rr_error(RR_ERR_NOMEM, "out of memory for a chunk of %d documents", CHUNK_DOCS);
    }
    rr_status st = doc_reader_open(&cs->reader, path, &cs->bl);
    if (st)
        corpus_stream_close(cs);
    return st;
}

static rr_status changed_error(const corpus_stream *cs) {
    return rr_error(RR_ERR_IO, "%s changed while it was being indexed (read again, it no longer matches the "
                    "first read); nothing was written", cs->reader.path);
}

/* The next document of the file into cs->reader, hashed into cs->sha; *take: cs->want has it. */
static rr_status corpus_stream_next(corpus_stream *cs, int *eof, int *take) {
    RR_TRY(doc_reader_next(&cs->reader, eof));
    if (*eof)
        return RR_OK;
    const doc_reader *dr = &cs->reader;
    sha_doc(&cs->sha, dr->id, dr->text, dr->len);
    *take = !cs->want || cs->want[cs->ord];
    cs->ord++;
    return RR_OK;
}

/* The next count (<= CHUNK_DOCS) documents wanted: their texts into cs->texts / lens (valid
 * until the next call), their ids and checksums kept until corpus_stream_added. */
static rr_status corpus_stream_read(corpus_stream *cs, size_t count) {
    RR_CHECK_INVARIANT(count <= CHUNK_DOCS && cs->held + count <= cs->held_cap);
    cs->text_len = 0;
    for (size_t k = 0; k < count; k++) {
        int eof = 0, take = 0;
        while (!eof && !take)
            RR_TRY(corpus_stream_next(cs, &eof, &take));
        if (eof)
            return changed_error(cs);
        const doc_reader *dr = &cs->reader;
        cs->hash[cs->held] = rr_doc_hash(dr->text, dr->len);
        RR_TRY(buf_append(&cs->text, &cs->text_len, &cs->text_cap, dr->text, dr->len, &cs->text_off[k]));
        RR_TRY(buf_append(&cs->id_chars, &cs->id_len, &cs->id_cap, dr->id, strlen(dr->id),
                          &cs->id_off[cs->held]));
        cs->lens[k] = dr->len;
        cs->held++;
    }
    for (size_t k = 0; k < count; k++)
        cs->texts[k] = cs->text + cs->text_off[k];
    cs->read += count;
    return RR_OK;
}

/* The ids and checksums of the held documents, in order, into idp and hp [held]; the ids stay
 * valid until corpus_stream_added (rr_index_add copies them). */
static void corpus_stream_ids(const corpus_stream *cs, const char **idp, uint64_t *hp) {
    for (size_t k = 0; k < cs->held; k++) {
        idp[k] = cs->id_chars + cs->id_off[k];
        hp[k] = cs->hash[k];
    }
}

static void corpus_stream_added(corpus_stream *cs) {
    cs->held = 0;
    cs->id_len = 0;
}

/* At the end: nothing left to read and the checksum the scan computed. */
static rr_status corpus_stream_finish(corpus_stream *cs, const char scan_sha[65]) {
    int eof = 0, take = 0;
    while (!eof && !take) /* past the documents not wanted */
        RR_TRY(corpus_stream_next(cs, &eof, &take));
    char hex[65];
    rr_sha256_final_hex(&cs->sha, hex);
    if (!eof || strcmp(hex, scan_sha))
        return changed_error(cs);
    return RR_OK;
}

/* The vectors of documents [pos, pos + take) of the index being built, into out, and their
 * ids and checksums into idp and hp. Documents 0 .. nk-1 are stored vectors of src (labels
 * kept[], copied by runs of consecutive labels, not embedded again); the rest are the next
 * documents of the stream cs (--corpus, or --update's --add), embedded; their ids and
 * checksums come from corpus_stream_ids. */
static rr_status fill_vectors(rr_index *src, const int64_t *kept, size_t nk, rr_model *model,
                              corpus_stream *cs, size_t pos, size_t take, size_t dim, float *out,
                              const char **idp, uint64_t *hp) {
    const uint64_t *src_hash = src ? rr_index_doc_hashes(src) : NULL;
    size_t i = 0;
    while (i < take && pos + i < nk) {
        size_t j = i + 1;
        while (j < take && pos + j < nk && kept[pos + j] == kept[pos + j - 1] + 1)
            j++;
        RR_TRY(rr_index_reconstruct(src, kept[pos + i], (int64_t)(j - i), out + i * dim));
        for (size_t k = i; k < j; k++) {
            idp[k] = rr_index_doc_id(src, kept[pos + k]);
            hp[k] = src_hash ? src_hash[kept[pos + k]] : 0;
        }
        i = j;
    }
    if (i < take) {
        RR_CHECK_INVARIANT(cs && cs->read == pos + i - nk);
        RR_TRY(corpus_stream_read(cs, take - i));
        RR_TRY(rr_model_embed(model, take - i, cs->texts, cs->lens, out + i * dim));
    }
    return RR_OK;
}

/* --update: the labels of src to keep (in label order) after removing the ids listed in
 * remove_path and the ids that add (the scan of --add) replaces; the new corpus checksum:
 * "update of" the old one, then "-id" per removed id, then "+" and the added corpus's own
 * checksum (add_sha). */
static rr_status plan_update(const rr_index *src, const char *update_dir, const char *remove_path,
                             const corpus_ids *add, const char add_sha[65], int64_t **kept_out, size_t *nk_out,
                             size_t *removed_out, size_t *replaced_out, char sha_hex[65]) {
    const int64_t n = rr_index_size(src);
    unsigned char *drop = calloc((size_t)(n ? n : 1), 1);
    int64_t *kept = malloc((size_t)(n ? n : 1) * sizeof *kept);
    text_list rm;
    memset(&rm, 0, sizeof rm);
    rr_status st = RR_OK;
    if (!drop || !kept) {
        st = rr_error(RR_ERR_NOMEM, "out of memory planning the update of %s", update_dir);
        goto out;
    }
    rr_sha256 h;
    rr_sha256_init(&h);
    rr_sha256_update(&h, "update of ", 10);
    rr_sha256_update(&h, rr_index_get_meta(src)->corpus_sha256, 64);
    size_t removed = 0, replaced = 0;
    if (remove_path) {
        if ((st = read_text_lines(remove_path, &rm)))
            goto out;
        for (size_t i = 0; i < rm.n; i++) {
            if (!rm.lens[i])
                continue; /* blank lines */
            int64_t l = rr_index_find(src, rm.texts[i]);
            if (l < 0) {
                st = rr_error(RR_ERR_NOT_FOUND, "%s:%lld: document \"%s\" is not in the index %s", remove_path,
                              rm.line_no[i], rm.texts[i], update_dir);
                goto out;
            }
            removed += !drop[l];
            drop[l] = 1;
            rr_sha256_update(&h, "\n-", 2);
            rr_sha256_update(&h, rm.texts[i], rm.lens[i]);
        }
    }
    for (size_t i = 0; add && i < add->n; i++) {
        int64_t l = rr_index_find(src, add->chars + add->offset[i]);
        if (l >= 0 && !drop[l]) {
            drop[l] = 1; /* the new text replaces the stored vector */
            replaced++;
        }
    }
    if (add) {
        rr_sha256_update(&h, "\n+", 2);
        rr_sha256_update(&h, add_sha, 64);
    }
    size_t nk = 0;
    for (int64_t i = 0; i < n; i++)
        if (!drop[i])
            kept[nk++] = i;
    rr_sha256_final_hex(&h, sha_hex);
    *kept_out = kept;
    kept = NULL;
    *nk_out = nk;
    *removed_out = removed;
    *replaced_out = replaced;
out:
    free(drop);
    free(kept);
    text_list_free(&rm);
    return st;
}

/* How a corpus (its scan) differs from the documents of an index that records their checksums:
 * by id, then by checksum. */
typedef struct corpus_diff {
    unsigned char *want;  /* [ids->n] 1: a document to embed (new, or its text changed) */
    unsigned char *state; /* [index size] 0: the corpus lacks it, 1: the same text, 2: changed */
    size_t added, changed, removed;
    size_t first_added, first_changed; /* corpus ordinals (valid when the count is not 0) */
    int64_t first_removed;             /* label */
} corpus_diff;

static void corpus_diff_free(corpus_diff *d) {
    free(d->want);
    free(d->state);
    memset(d, 0, sizeof *d);
}

static rr_status corpus_diff_make(const rr_index *ix, const corpus_ids *ids, corpus_diff *d) {
    memset(d, 0, sizeof *d);
    const uint64_t *h = rr_index_doc_hashes(ix);
    const int64_t n = rr_index_size(ix);
    RR_CHECK_INVARIANT(h != NULL);
    d->want = calloc(ids->n ? ids->n : 1, 1);
    d->state = calloc((size_t)(n ? n : 1), 1);
    if (!d->want || !d->state) {
        corpus_diff_free(d);
        return rr_error(RR_ERR_NOMEM, "out of memory comparing a corpus with an index");
    }
    for (size_t i = 0; i < ids->n; i++) {
        int64_t l = rr_index_find(ix, ids->chars + ids->offset[i]);
        if (l >= 0 && h[l] == ids->hash[i]) {
            d->state[l] = 1;
            continue;
        }
        d->want[i] = 1;
        if (l >= 0) {
            d->state[l] = 2;
            if (!d->changed++)
                d->first_changed = i;
        } else if (!d->added++) {
            d->first_added = i;
        }
    }
    for (int64_t l = 0; l < n; l++)
        if (!d->state[l] && !d->removed++)
            d->first_removed = l;
    return RR_OK;
}

/* "2 changed (the first: \"7\", corpus.jsonl:12), 1 new (...), 3 gone from the corpus (the first: \"9\")" */
static void corpus_diff_describe(const corpus_diff *d, const rr_index *ix, const corpus_ids *ids,
                                 const char *corpus, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    const char *sep = "";
    if (d->changed) {
        len += (size_t)snprintf(out + len, cap - len, "%zu changed (the first: \"%s\", %s:%lld)", d->changed,
                                ids->chars + ids->offset[d->first_changed], corpus, ids->line_no[d->first_changed]);
        sep = ", ";
    }
    if (d->added && len < cap) {
        len += (size_t)snprintf(out + len, cap - len, "%s%zu new (the first: \"%s\", %s:%lld)", sep, d->added,
                                ids->chars + ids->offset[d->first_added], corpus, ids->line_no[d->first_added]);
        sep = ", ";
    }
    if (d->removed && len < cap)
        snprintf(out + len, cap - len, "%s%zu gone from the corpus (the first: \"%s\")", sep, d->removed,
                 rr_index_doc_id(ix, d->first_removed));
}

rr_status index_check_corpus(const rr_index *ix, const char *index_dir, const char *corpus, int lenient) {
    bad_lines bl = {lenient, 0, ""};
    corpus_ids ids;
    char sha[65];
    RR_TRY(scan_corpus(corpus, &bl, &ids, sha));
    rr_status st = corpus_ids_check(&ids, corpus);
    if (!st && !rr_index_doc_hashes(ix)) {
        if (strcmp(sha, rr_index_get_meta(ix)->corpus_sha256))
            st = rr_error(RR_ERR_INVALID_ARG, "%s was not built from %s: the corpus checksum differs (meta.json), and "
                          "the index records no per-document checksums (written before they existed, or rebuilt "
                          "from such an index) to say which documents; rebuild it from the corpus", index_dir, corpus);
    } else if (!st) {
        corpus_diff d;
        if (!(st = corpus_diff_make(ix, &ids, &d)) && (d.added || d.changed || d.removed)) {
            char what[1200];
            corpus_diff_describe(&d, ix, &ids, corpus, what, sizeof what);
            st = rr_error(RR_ERR_INVALID_ARG, "%s does not hold the documents of %s: %s; bring it up to date with "
                          "`rerank index --update %s --corpus %s`, or rebuild it", index_dir, corpus, what,
                          index_dir, corpus);
        }
        corpus_diff_free(&d);
    }
    corpus_ids_free(&ids);
    return st;
}

static int copy_str(char *dst, size_t cap, const char *src, const char *what) {
    if (strlen(src) >= cap) {
        fprintf(stderr, "rerank index: %s too long (max %zu bytes)\n", what, cap - 1);
        return 1;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

index_opts index_opts_default(void) {
    index_opts o = {.factory = "Flat", .metric = "ip", .device = "cpu", .precision = "fp32", .train_docs = 100000};
    return o;
}

int rr_cmd_index(int argc, char **argv) {
    index_opts o = index_opts_default();
    const cli_opt opts[] = {
        {"corpus", OPT_STR, &o.corpus, "BEIR corpus.jsonl(.gz): {\"_id\", \"title\"?, \"text\"} (with --update: the "
                                       "corpus the index is to hold; only new and changed documents are embedded)"},
        {"model", OPT_STR, &o.model_dir, "bi-encoder directory (sentence-transformers)"},
        {"out", OPT_STR, &o.out_dir, "index directory to write (replaced atomically)"},
        {"factory", OPT_STR, &o.factory, "FAISS index_factory string (default Flat)"},
        {"metric", OPT_STR, &o.metric, "ip | l2 (default ip; with --from-index: the source's)"},
        {"from-index", OPT_STR, &o.from_index, "rebuild from this index's stored vectors (no --corpus/--model)"},
        {"update", OPT_STR, &o.update,
         "update this index: --remove IDS and/or --add CORPUS, or --corpus CORPUS (--out: default in place)"},
        {"remove", OPT_STR, &o.remove, "with --update: document ids to remove, one per line"},
        {"add", OPT_STR, &o.add, "with --update: BEIR JSONL of documents to add (an id already there is replaced)"},
        {"train-docs", OPT_INT, &o.train_docs, "documents to train on when the index needs it (default 100000)"},
        {"max-length", OPT_INT, &o.max_length, "tokens per document (default: the model's)"},
        {"token-budget", OPT_INT, &o.token_budget, "tokens per forward pass (default 16384)"},
        {"threads", OPT_INT, &o.threads, "CPU threads (default: all)"},
        {"device", OPT_STR, &o.device, "cpu | cuda | auto (default cpu)"},
        {"precision", OPT_STR, &o.precision, "fp32 (default) | bf16 | fp16 (CUDA)"},
        {"quiet", OPT_FLAG, &o.quiet, "no progress line"},
        CLI_BAD_LINES_OPTS(&o.lenient, &o.strict),
        {"progress", OPT_FLAG, &o.progress, "a progress line on stderr even when it is not a terminal"},
    };
    int rc = cli_parse("index",
                       "(--corpus FILE --model DIR | --from-index DIR) --out DIR | --update DIR ([--remove IDS] "
                       "[--add CORPUS] | --corpus FILE) [options]", argc, argv, opts,
                       (int)(sizeof opts / sizeof opts[0]));
    if (rc)
        return rc == 1 ? 0 : rc;
    for (int i = 1; i < argc; i++)
        o.metric_given |= !strncmp(argv[i], "--metric", 8);
    return stage_index(&o);
}

int stage_index(const index_opts *o) {
    const char *corpus = o->corpus, *model_dir = o->model_dir, *out_dir = o->out_dir, *factory = o->factory;
    const char *metric = o->metric, *from_index = o->from_index, *update = o->update;
    int train_docs = o->train_docs, metric_given = o->metric_given, rc = 0;
    if ((rc = cli_bad_lines_check("index", o->lenient, o->strict)))
        return rc;
    if (update) {
        if (model_dir || from_index || (corpus ? o->remove || o->add : !o->remove && !o->add)) {
            fprintf(stderr, "rerank index: --update DIR takes --remove IDS and/or --add CORPUS, or --corpus CORPUS "
                            "alone (the model is the index's own), not --model or --from-index\n");
            return 2;
        }
        if (!out_dir)
            out_dir = update; /* in place, atomically */
    } else if (o->remove || o->add) {
        fprintf(stderr, "rerank index: --remove and --add go with --update DIR\n");
        return 2;
    }
    if (!out_dir || (!update && (from_index ? corpus || model_dir : !corpus || !model_dir))) {
        fprintf(stderr, "rerank index: --out and either --corpus with --model, or --from-index, are required\n");
        return 2;
    }
    if (rr_metric_parse(metric) < 0) {
        fprintf(stderr, "rerank index: --metric must be ip or l2\n");
        return 2;
    }
    if (train_docs <= 0) {
        fprintf(stderr, "rerank index: --train-docs must be positive\n");
        return 2;
    }
    if (!rr_index_available()) {
        fprintf(stderr, "rerank index: this rerank was built without FAISS; run scripts/setup.sh "
                        "(it builds FAISS with its C API), then rebuild\n");
        return 1;
    }
    rr_model_params p;
    if (cli_model_params("index", RR_HEAD_EMBEDDING, o->max_length, o->threads, o->device, o->precision,
                         o->token_budget, &p))
        return 2;

    double t_start = omp_get_wtime();
    double t_scan = 0.0, t_sha = 0.0, t_load = 0.0, t0; /* the stage's other work, for its last line */
    rr_model *model = NULL;
    const char *loaded_dir = NULL; /* the model's directory, once loaded */
    rr_index *index = NULL, *src = NULL;
    float *buf = NULL;
    const char **idp = NULL;
    uint64_t *hp = NULL; /* the checksums of the documents held, beside idp */
    rr_index_meta meta;
    memset(&meta, 0, sizeof meta);
    rr_status st = RR_OK;
    size_t n, nk = 0, removed = 0, replaced = 0;
    size_t n_embed = 0; /* documents to embed: the corpus, --add's, or what --corpus changed */
    corpus_diff diff; /* --update --corpus: the corpus against the index */
    memset(&diff, 0, sizeof diff);
    int64_t *kept = NULL; /* labels of src whose stored vectors come first, in this order */
    corpus_ids add_ids; /* --update --add: the scan of the added corpus (ids, lines) */
    memset(&add_ids, 0, sizeof add_ids);
    char stream_sha[65] = ""; /* the scan's checksum of the corpus streamed (--corpus or --add) */
    corpus_stream stream;
    memset(&stream, 0, sizeof stream);
    corpus_stream *cs = NULL; /* --corpus: the documents come from here */
    if (update) {
        /* stored vectors minus the removed and replaced ids, then the added documents embedded
         * with the index's own model (its weights must not have changed) */
        if ((st = rr_index_read(update, NULL, &src)))
            goto done;
        meta = *rr_index_get_meta(src);
        if (!metric_given)
            metric = rr_metric_name(meta.metric);
        if (!strcmp(factory, "Flat") && strcmp(meta.factory, "Flat"))
            factory = meta.factory; /* the default: keep the index's own factory */
        const char *scan_path = corpus ? corpus : o->add;
        if (corpus && !rr_index_doc_hashes(src)) {
            st = rr_error(RR_ERR_INVALID_ARG, "%s records no per-document checksums (written before they existed, or "
                          "rebuilt from such an index), so it cannot tell which documents of %s changed: rebuild it "
                          "from the corpus", update, corpus);
            goto done;
        }
        if (scan_path) {
            bad_lines bl = {o->lenient, 0, ""};
            t0 = omp_get_wtime();
            if ((st = scan_corpus(scan_path, &bl, &add_ids, stream_sha)) ||
                (st = corpus_ids_check(&add_ids, scan_path)))
                goto done;
            t_scan = omp_get_wtime() - t0;
            cli_bad_lines_report("index", &bl, scan_path);
        }
        if (corpus) {
            /* the index becomes the corpus: kept where the text is the same, embedded where it is
             * new or changed, dropped where the corpus no longer has it */
            if ((st = corpus_diff_make(src, &add_ids, &diff)))
                goto done;
            kept = malloc((size_t)(rr_index_size(src) ? rr_index_size(src) : 1) * sizeof *kept);
            if (!kept) {
                st = rr_error(RR_ERR_NOMEM, "out of memory planning the update of %s", update);
                goto done;
            }
            for (int64_t l = 0; l < rr_index_size(src); l++)
                if (diff.state[l] == 1)
                    kept[nk++] = l;
            removed = diff.removed;
            replaced = diff.changed;
            n_embed = diff.added + diff.changed;
            memcpy(meta.corpus_sha256, stream_sha, sizeof stream_sha);
            if (copy_str(meta.corpus, sizeof meta.corpus, corpus, "--corpus path")) {
                rc = 2;
                goto done;
            }
            if (!n_embed && !removed && !strcmp(out_dir, update)) {
                fprintf(stderr, "rerank index: %s already holds the %zu documents of %s; nothing to do\n", update,
                        nk, corpus);
                goto done;
            }
        } else {
            if ((st = plan_update(src, update, o->remove, o->add ? &add_ids : NULL, stream_sha, &kept, &nk,
                                  &removed, &replaced, meta.corpus_sha256)))
                goto done;
            n_embed = add_ids.n;
        }
        n = nk + n_embed;
        if (n == 0) {
            st = rr_error(RR_ERR_INVALID_ARG, "%s: the update would leave the index empty", update);
            goto done;
        }
        if (n_embed) {
            char now[65];
            t0 = omp_get_wtime();
            if ((st = cli_weights_sha256(meta.model, now)))
                goto done;
            t_sha = omp_get_wtime() - t0;
            if (strcmp(now, meta.model_sha256)) {
                st = rr_error(RR_ERR_INVALID_ARG, "%s: the index's model %s has changed since the index was built "
                              "(weights sha256 %.12s…, now %.12s…): its vectors and new ones would not match; "
                              "rebuild the index", update, meta.model, meta.model_sha256, now);
                goto done;
            }
            t0 = omp_get_wtime();
            if ((st = cli_model_load("index", meta.model, &p, &model, NULL)))
                goto done;
            t_load = omp_get_wtime() - t0;
            loaded_dir = meta.model;
        }
    } else if (from_index) {
        /* vectors and ids from an existing index; the model and corpus it records carry over */
        if ((st = rr_index_read(from_index, NULL, &src)))
            goto done;
        meta = *rr_index_get_meta(src);
        n = nk = (size_t)rr_index_size(src);
        if (!metric_given)
            metric = rr_metric_name(meta.metric);
        kept = malloc((nk ? nk : 1) * sizeof *kept);
        if (!kept) {
            st = rr_error(RR_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < nk; i++)
            kept[i] = (int64_t)i;
    } else {
        bad_lines bl = {o->lenient, 0, ""};
        corpus_ids ids;
        t0 = omp_get_wtime();
        if ((st = scan_corpus(corpus, &bl, &ids, meta.corpus_sha256)))
            goto done;
        t_scan = omp_get_wtime() - t0;
        memcpy(stream_sha, meta.corpus_sha256, sizeof stream_sha);
        cli_bad_lines_report("index", &bl, corpus);
        n = n_embed = ids.n;
        if (n == 0)
            st = rr_error(RR_ERR_FORMAT, "%s: empty corpus", corpus);
        else
            st = corpus_ids_check(&ids, corpus);
        corpus_ids_free(&ids);
        if (st)
            goto done;
        /* absolute, so that `retrieve` finds the model from any working directory */
        char *abs_model = realpath(model_dir, NULL);
        int bad = copy_str(meta.model, sizeof meta.model, abs_model ? abs_model : model_dir, "--model path");
        free(abs_model);
        if (bad ||
            copy_str(meta.corpus, sizeof meta.corpus, corpus, "--corpus path")) {
            rc = 2;
            goto done;
        }
        t0 = omp_get_wtime();
        if ((st = cli_weights_sha256(model_dir, meta.model_sha256)))
            goto done;
        t_sha = omp_get_wtime() - t0;
        t0 = omp_get_wtime();
        if ((st = cli_model_load("index", model_dir, &p, &model, NULL)))
            goto done;
        t_load = omp_get_wtime() - t0;
        loaded_dir = model_dir;
        meta.dim = rr_model_get_info(model).out_dim;
    }
    if (copy_str(meta.factory, sizeof meta.factory, factory, "--factory")) {
        rc = 2;
        goto done;
    }
    meta.metric = (rr_metric)rr_metric_parse(metric);
    /* The factory string is checked before any embedding is spent on it. */
    if ((st = rr_index_create(&meta, &index)))
        goto done;
    int training = rr_index_needs_training(index);
    size_t dim = (size_t)meta.dim;
    size_t train_n = training ? ((size_t)train_docs < n ? (size_t)train_docs : n) : 0;
    size_t cap = train_n > CHUNK_DOCS ? train_n : CHUNK_DOCS;
    buf = malloc(cap * dim * sizeof *buf);
    idp = malloc(cap * sizeof *idp);
    hp = malloc(cap * sizeof *hp);
    if (!buf || !idp || !hp) {
        st = rr_error(RR_ERR_NOMEM, "out of memory for %zu embeddings", cap);
        goto done;
    }
    const char *stream_path = corpus ? corpus : o->add;
    if (n_embed) {
        if ((st = corpus_stream_open(&stream, stream_path, o->lenient, cap, diff.want)))
            goto done;
        cs = &stream;
    }
    cli_progress pr;
    cli_progress_init(&pr, "rerank index", "docs", cli_progress_mode(o->progress, o->quiet));
    double t_embed = omp_get_wtime(), t_train = 0.0;
    size_t first = 0; /* first document held in buf */
    for (size_t done_n = 0; done_n < n;) {
        size_t want = training ? train_n : CHUNK_DOCS, held = done_n - first;
        size_t take = want - held < CHUNK_DOCS ? want - held : CHUNK_DOCS;
        if (take > n - done_n)
            take = n - done_n;
        if ((st = fill_vectors(src, kept, nk, model, cs, done_n, take, dim, buf + held * dim, idp + held,
                               hp + held)))
            goto done;
        done_n += take;
        held += take;
        cli_progress_cb(&pr, done_n, n);
        if (held < want && done_n < n)
            continue;
        if (training) {
            t0 = omp_get_wtime();
            if ((st = rr_index_train(index, (int64_t)held, buf)))
                goto done;
            t_train = omp_get_wtime() - t0;
            training = 0;
        }
        if (cs) /* the streamed documents are the last cs->held of the held ones */
            corpus_stream_ids(cs, idp + (held - cs->held), hp + (held - cs->held));
        /* an index without checksums (an old one, updated) makes one without them */
        if ((st = rr_index_add_hashed(index, (int64_t)held, buf, idp, !src || rr_index_doc_hashes(src) ? hp : NULL)))
            goto done;
        if (cs)
            corpus_stream_added(cs);
        first = done_n;
    }
    if (cs && (st = corpus_stream_finish(cs, stream_sha)))
        goto done;
    double embed_s = omp_get_wtime() - t_embed;
    t0 = omp_get_wtime();
    if ((st = rr_index_write(index, out_dir)))
        goto done;
    fprintf(stderr,
            "rerank index: %zu docs -> %s (%s, %s, dim %d) in %.1fs: %s+add %.1fs (%.1f docs/s)%s", n,
            out_dir, factory, metric, meta.dim, omp_get_wtime() - t_start,
            update ? "copy/embed" : src ? "copy" : "embed", embed_s, (double)n / embed_s, train_n ? "" : "\n");
    if (train_n)
        fprintf(stderr, ", trained on %zu docs in %.1fs\n", train_n, t_train);
    /* where the rest went: the first read of the corpus (ids, checksum), the weights' checksum,
     * the model's load (on a GPU: the device's start and the upload), the index's write */
    fprintf(stderr, "rerank index: other work: corpus scan %.2fs, weights sha256 %.2fs, model load %.2fs, "
                    "write %.2fs\n", t_scan, t_sha, t_load, omp_get_wtime() - t0);
    if (update)
        fprintf(stderr, "rerank index: updated %s: %zu kept (not embedded again), %zu removed, %zu replaced, "
                        "%zu added\n", update, nk, removed, replaced, n_embed - replaced);
done:
    if (st)
        rc = cli_fail("index", st);
    free(buf);
    free(idp);
    free(hp);
    free(kept);
    corpus_diff_free(&diff);
    rr_index_free(index);
    rr_index_free(src);
    if (!st && !rc && loaded_dir) /* `rerank run`'s retrieve stage may take it (cli_stage_cache) */
        cli_model_done(model, loaded_dir, &p);
    else
        rr_model_free(model);
    corpus_ids_free(&add_ids);
    corpus_stream_close(&stream);
    return rc;
}
