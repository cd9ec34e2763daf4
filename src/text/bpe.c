/* text/bpe.c — byte-level BPE (RoBERTa's and ModernBERT's tokenizers): ByteLevel's regex split,
 * then each word's bytes merged pair by pair (bpe.h). The normalizer, when the file has one
 * (NFC), is loaded here but run by tokenizer.c through sentencepiece.c's rr_spm_normalize.
 *
 * Versions tried: the merge loop is tokenizers' own (word.rs merge_all): a heap of candidate
 * merges by (rank, position), an entry checked against the pair still there when it comes
 * out (by the merged id, as tokenizers checks it, so a stale entry behaves as it does there).
 * A rescan of the word for its best pair after each merge is simpler but quadratic in the
 * word's length, and ByteLevel's words have no length limit (a 100 kB run of letters is one
 * word). Each encoding keeps a direct-mapped cache of the short words it has merged, as
 * tokenizers keeps one per model (2.1-2.4x on SciFact, bench/RESULTS.md); it changes only the
 * speed.
 */
#include "text/bpe.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "text/hf_unicode.h"
#include "text/tokenizer_impl.h"
#include "util/error.h"

struct rr_bpe_sym {
    int32_t id;
    int32_t prev, next; /* neighbours in the word, -1 at either end */
    int32_t live;       /* 0: merged into its left neighbour */
};

/* ---- loading --------------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: the printable bytes ! to ~, ¡ to ¬ and ® to ÿ stand for
 * themselves, the other 68 for U+0100 upwards in byte order. */
static int32_t byte_cp(int b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return b;
    int32_t k = 0;
    for (int x = 0; x < b; x++)
        k += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF));
    return 256 + k;
}

static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static uint64_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDULL;
    k ^= k >> 33;
    return k;
}

static const rr_bpe_merge *find_merge(const rr_bpe *bpe, int32_t a, int32_t b) {
    const uint64_t key = pair_key(a, b);
    for (uint64_t i = pair_hash(key) & bpe->mask;; i = (i + 1) & bpe->mask) {
        const rr_bpe_merge *m = &bpe->merges[i];
        if (m->id < 0)
            return NULL;
        if (m->key == key)
            return m;
    }
}

/* A later merge of the same pair replaces the earlier one, as tokenizers' merge map does. */
static void put_merge(rr_bpe *bpe, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    const uint64_t key = pair_key(a, b);
    for (uint64_t i = pair_hash(key) & bpe->mask;; i = (i + 1) & bpe->mask) {
        rr_bpe_merge *m = &bpe->merges[i];
        if (m->id < 0 || m->key == key) {
            bpe->num_merges += m->id < 0;
            m->key = key;
            m->rank = rank;
            m->id = id;
            return;
        }
    }
}

static rr_status json_flag(const json_t *obj, const char *key, int def, int *out, const char *path,
                           const char *where) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return RR_OK;
    }
    if (!json_is_boolean(v))
        return rr_error(RR_ERR_FORMAT, "%s: %s.%s is not true or false", path, where, key);
    *out = json_is_true(v);
    return RR_OK;
}

/* "a b" (one space) or ["a", "b"]: the two halves of merge i. */
static rr_status merge_halves(const json_t *m, size_t i, const char *path, const char **a, size_t *a_len,
                              const char **b, size_t *b_len) {
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *a_len = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *b_len = json_string_length(json_array_get(m, 1));
        return RR_OK;
    }
    const char *s = json_string_value(m);
    const char *sp = s ? strchr(s, ' ') : NULL;
    if (!sp || strchr(sp + 1, ' '))
        return rr_error(RR_ERR_FORMAT, "%s: model.merges[%zu] is not two tokens (\"a b\" or [\"a\", \"b\"])",
                        path, i);
    *a = s;
    *a_len = (size_t)(sp - s);
    *b = sp + 1;
    *b_len = json_string_length(m) - *a_len - 1;
    return RR_OK;
}

static rr_status load_merges(rr_bpe *bpe, const rr_vocab *vocab, const json_t *merges, const char *path) {
    if (!json_is_array(merges))
        return rr_error(RR_ERR_FORMAT, "%s: model.merges is missing or not an array", path);
    const size_t n = json_array_size(merges);
    if (n > INT32_MAX / 4)
        return rr_error(RR_ERR_FORMAT, "%s: model.merges has %zu entries", path, n);
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)n)
        slots *= 2;
    if (!(bpe->merges = malloc(slots * sizeof *bpe->merges)))
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate %zu merges", path, n);
    for (uint64_t i = 0; i < slots; i++)
        bpe->merges[i].id = -1;
    bpe->mask = slots - 1;
    char *joined = NULL;
    size_t joined_cap = 0;
    rr_status st = RR_OK;
    for (size_t i = 0; i < n && st == RR_OK; i++) {
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        if ((st = merge_halves(json_array_get(merges, i), i, path, &a, &al, &b, &bl)))
            break;
        if (al + bl > joined_cap) {
            char *q = realloc(joined, 2 * (al + bl));
            if (!q) {
                st = rr_error(RR_ERR_NOMEM, "%s: cannot allocate a merge", path);
                break;
            }
            joined = q;
            joined_cap = 2 * (al + bl);
        }
        memcpy(joined, a, al);
        memcpy(joined + al, b, bl);
        const int32_t ia = rr_vocab_get(vocab, a, al), ib = rr_vocab_get(vocab, b, bl);
        const int32_t ij = rr_vocab_get(vocab, joined, al + bl);
        if (ia < 0 || ib < 0 || ij < 0) {
            const char *what = ia < 0 ? a : ib < 0 ? b : joined;
            const int len = (int)(ia < 0 ? al : ib < 0 ? bl : al + bl);
            st = rr_error(RR_ERR_FORMAT, "%s: model.merges[%zu]: \"%.*s\" is not in the vocabulary", path, i,
                          len > 200 ? 200 : len, what);
            break;
        }
        put_merge(bpe, ia, ib, (uint32_t)i, ij);
    }
    free(joined);
    return st;
}

/* The normalizer: null, NFC, or a Sequence of only NFC (one NFC: it is idempotent; an empty
 * Sequence is none). NFC is sentencepiece.c's, tokenizers' own (see there). */
static rr_status load_normalizer(rr_bpe *bpe, const json_t *norm, const char *path) {
    static const char kSupported[] = "none, as RoBERTa's, or NFC, as ModernBERT's";
    if (!norm || json_is_null(norm))
        return RR_OK;
    const char *type = json_string_value(json_object_get(norm, "type"));
    int nfc = type && !strcmp(type, "NFC");
    if (type && !strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(norm, "normalizers");
        if (!json_is_array(list))
            return rr_error(RR_ERR_FORMAT, "%s: normalizer Sequence without a \"normalizers\" array", path);
        size_t i;
        const json_t *n;
        json_array_foreach(list, i, n) {
            const char *t = json_string_value(json_object_get(n, "type"));
            if (!t || strcmp(t, "NFC") != 0)
                return rr_error(RR_ERR_UNSUPPORTED, "%s: normalizer \"%s\" inside the Sequence (normalizers[%zu]) "
                                "with a BPE model is not supported (%s)", path, t ? t : "(untyped)", i, kSupported);
        }
        if (json_array_size(list) == 0)
            return RR_OK;
        nfc = 1;
    }
    if (!nfc)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: normalizer \"%s\" with a BPE model is not supported (%s)", path,
                        type ? type : "(untyped)", kSupported);
    if (!(bpe->norm = malloc(sizeof *bpe->norm)))
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a normalizer", path);
    rr_spm_as_nfc(bpe->norm);
    return RR_OK;
}

rr_status rr_bpe_load(rr_bpe *bpe, rr_vocab *vocab, const json_t *model, const json_t *normalizer,
                      const json_t *pre_tokenizer, int as_roberta, int add_prefix_space, const char *path,
                      const char **unk_name) {
    static atomic_uint_fast64_t loads;
    *unk_name = NULL;
    bpe->serial = (uint64_t)atomic_fetch_add(&loads, 1) + 1;
    bpe->unk_id = -1;
    bpe->use_regex = 1;
    bpe->add_prefix_space = add_prefix_space;
    const json_t *v = json_object_get(model, "vocab");
    if (!json_is_object(v) || json_object_size(v) == 0)
        return rr_error(RR_ERR_FORMAT, "%s: model.vocab is missing, empty or not an object", path);
    RR_TRY(rr_vocab_init(vocab, json_object_size(v)));
    const char *key;
    const json_t *val;
    int32_t max_id = -1;
    json_object_foreach((json_t *)v, key, val) {
        const json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || id >= INT32_MAX)
            return rr_error(RR_ERR_FORMAT, "%s: model.vocab: token \"%.200s\" has no valid id", path, key);
        RR_TRY(rr_vocab_put(vocab, key, strlen(key), (int32_t)id));
        if (id > max_id)
            max_id = (int32_t)id;
    }
    bpe->vocab_size = max_id + 1;
    for (int b = 0; b < 256; b++) {
        const int32_t cp = byte_cp(b);
        uint8_t *c = bpe->byte_char[b];
        int len = 1;
        if (cp < 0x80)
            c[0] = (uint8_t)cp;
        else {
            c[0] = (uint8_t)(0xC0 | (cp >> 6));
            c[1] = (uint8_t)(0x80 | (cp & 0x3F));
            len = 2;
        }
        bpe->byte_id[b] = rr_vocab_get(vocab, (const char *)c, (size_t)len);
    }
    RR_TRY(load_merges(bpe, vocab, json_object_get(model, "merges"), path));
    if (as_roberta)
        return RR_OK;

    /* the file as it is: only what ByteLevel BPE without extras means */
    const json_t *drop = json_object_get(model, "dropout");
    if (drop && !json_is_null(drop) && !(json_is_number(drop) && json_number_value(drop) == 0.0))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: model.dropout is set: BPE dropout is not supported", path);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const json_t *a = json_object_get(model, affixes[k]);
        if (a && !json_is_null(a) && !(json_is_string(a) && json_string_length(a) == 0))
            return rr_error(RR_ERR_UNSUPPORTED, "%s: model.%s is set: only byte-level BPE without affixes is "
                            "supported", path, affixes[k]);
    }
    int byte_fallback = 0;
    RR_TRY(json_flag(model, "byte_fallback", 0, &byte_fallback, path, "model"));
    if (byte_fallback)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: model.byte_fallback is true: not supported", path);
    RR_TRY(json_flag(model, "fuse_unk", 0, &bpe->fuse_unk, path, "model"));
    RR_TRY(json_flag(model, "ignore_merges", 0, &bpe->ignore_merges, path, "model"));
    const json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk)) {
        if (!json_is_string(unk))
            return rr_error(RR_ERR_FORMAT, "%s: model.unk_token is not a string", path);
        *unk_name = json_string_value(unk);
        bpe->unk_id = rr_vocab_get(vocab, *unk_name, json_string_length(unk));
        if (bpe->unk_id < 0)
            return rr_error(RR_ERR_FORMAT, "%s: model.unk_token \"%.200s\" is not in the vocabulary", path,
                            *unk_name);
    }
    RR_TRY(load_normalizer(bpe, normalizer, path));
    const char *pt = json_string_value(json_object_get(pre_tokenizer, "type"));
    if (!pt || strcmp(pt, "ByteLevel") != 0)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: pre_tokenizer \"%s\" with a BPE model is not supported "
                        "(ByteLevel, as RoBERTa's)", path, pt ? pt : "null");
    RR_TRY(json_flag(pre_tokenizer, "add_prefix_space", 1, &bpe->add_prefix_space, path, "pre_tokenizer"));
    RR_TRY(json_flag(pre_tokenizer, "use_regex", 1, &bpe->use_regex, path, "pre_tokenizer"));
    return RR_OK;
}

void rr_bpe_free(rr_bpe *bpe) {
    if (!bpe)
        return;
    free(bpe->merges);
    bpe->merges = NULL;
    rr_spm_free(bpe->norm);
    free(bpe->norm);
    bpe->norm = NULL;
}

void rr_bpe_scratch_free(rr_bpe_scratch *sc) {
    free(sc->cache);
    free(sc->sym);
    free(sc->heap);
    free(sc->text);
    free(sc->chars);
    memset(sc, 0, sizeof *sc);
}

/* ---- BPE over one word ----------------------------------------------------------------- */

/* A binary min-heap of candidates by key: the lowest rank, then the leftmost position. */
static void heap_push(rr_bpe_cand *h, size_t *n, rr_bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2].key > c.key) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static rr_bpe_cand heap_pop(rr_bpe_cand *h, size_t *n) {
    const rr_bpe_cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (size_t c = 1; c < *n; c = 2 * i + 1) {
        if (c + 1 < *n && h[c + 1].key < h[c].key)
            c++;
        if (last.key <= h[c].key)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static void push_pair(const rr_bpe *bpe, rr_bpe_scratch *sc, size_t *n, int32_t pos) {
    const struct rr_bpe_sym *s = &sc->sym[pos];
    if (s->next < 0)
        return;
    const rr_bpe_merge *m = find_merge(bpe, s->id, sc->sym[s->next].id);
    if (m)
        heap_push(sc->heap, n, (rr_bpe_cand){(uint64_t)m->rank << 32 | (uint32_t)pos, m->id});
}

/* One word (w[0..len), raw bytes) into ids by the merges. Returns 0 when emit asked to stop, 1
 * to go on, -1 when out of memory. */
static int merge_word(const rr_bpe *bpe, const rr_vocab *vocab, rr_bpe_scratch *sc, const uint8_t *w,
                      size_t len, rr_bpe_emit emit, void *ctx);

/* Collects a word's ids for the cache (and passes them on). */
typedef struct cache_fill {
    rr_bpe_cached *slot;
    rr_bpe_emit emit;
    void *ctx;
    int overflow;
} cache_fill;

static int fill_emit(void *p, int32_t id) {
    cache_fill *f = p;
    if (f->slot->n < RR_BPE_CACHE_IDS)
        f->slot->ids[f->slot->n++] = id;
    else
        f->overflow = 1;
    return f->emit(f->ctx, id);
}

/* merge_word through the cache when the word is short; the same returns. */
static int word(const rr_bpe *bpe, const rr_vocab *vocab, rr_bpe_scratch *sc, const uint8_t *w, size_t len,
                rr_bpe_emit emit, void *ctx) {
    if (len > RR_BPE_CACHE_WORD)
        return merge_word(bpe, vocab, sc, w, len, emit, ctx);
    if (!sc->cache && !(sc->cache = calloc(RR_BPE_CACHE_SLOTS, sizeof *sc->cache)))
        return -1;
    if (sc->cache_serial != bpe->serial) { /* the encoding served another tokenizer */
        memset(sc->cache, 0, RR_BPE_CACHE_SLOTS * sizeof *sc->cache);
        sc->cache_serial = bpe->serial;
    }
    const uint64_t h = rr_vocab_hash((const char *)w, len) | 1;
    rr_bpe_cached *slot = &sc->cache[(h >> 17) & (RR_BPE_CACHE_SLOTS - 1)];
    if (slot->hash == h && slot->len == len && memcmp(slot->word, w, len) == 0) {
        for (int k = 0; k < slot->n; k++)
            if (!emit(ctx, slot->ids[k]))
                return 0;
        return 1;
    }
    slot->hash = 0;
    slot->n = 0;
    cache_fill f = {slot, emit, ctx, 0};
    const int r = merge_word(bpe, vocab, sc, w, len, fill_emit, &f);
    if (r == 1 && !f.overflow) { /* complete: emit never stopped it */
        slot->hash = h;
        slot->len = (uint8_t)len;
        memcpy(slot->word, w, len);
    }
    return r;
}

static int merge_word(const rr_bpe *bpe, const rr_vocab *vocab, rr_bpe_scratch *sc, const uint8_t *w,
                      size_t len, rr_bpe_emit emit, void *ctx) {
    if (bpe->ignore_merges) {
        if (!rr_grow_bytes(&sc->chars, &sc->chars_cap, 2 * len))
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            const uint8_t *c = bpe->byte_char[w[i]];
            sc->chars[k++] = c[0];
            if (c[0] >= 0x80)
                sc->chars[k++] = c[1];
        }
        const int32_t id = rr_vocab_get(vocab, (const char *)sc->chars, k);
        if (id >= 0)
            return emit(ctx, id);
    }
    struct rr_bpe_sym *sym = rr_grow(sc->sym, &sc->sym_cap, len, sizeof *sym);
    if (!sym)
        return -1;
    sc->sym = sym;
    int32_t n = 0;
    int unk_open = 0; /* the last symbol is an unknown byte fuse_unk may extend */
    for (size_t i = 0; i < len; i++) {
        int32_t id = bpe->byte_id[w[i]];
        if (id < 0) {
            if (bpe->unk_id < 0)
                continue; /* no unknown token: the byte is dropped */
            if (unk_open && bpe->fuse_unk)
                continue;
            id = bpe->unk_id;
            unk_open = 1;
        } else
            unk_open = 0;
        sym[n] = (struct rr_bpe_sym){id, n - 1, n + 1, 1};
        n++;
    }
    if (n == 0)
        return 1;
    sym[n - 1].next = -1;
    if (n > 1) {
        /* each merge pops one candidate and pushes at most two: 2n entries suffice */
        rr_bpe_cand *h = rr_grow(sc->heap, &sc->heap_cap, (size_t)2 * (size_t)n, sizeof *h);
        if (!h)
            return -1;
        sc->heap = h;
        size_t hn = 0;
        for (int32_t p = 0; p + 1 < n; p++)
            push_pair(bpe, sc, &hn, p);
        while (hn > 0) {
            const rr_bpe_cand top = heap_pop(sc->heap, &hn);
            const int32_t pos = (int32_t)(uint32_t)top.key, new_id = top.id;
            struct rr_bpe_sym *s = &sym[pos];
            if (!s->live || s->next < 0)
                continue;
            struct rr_bpe_sym *r = &sym[s->next];
            const rr_bpe_merge *m = find_merge(bpe, s->id, r->id);
            if (!m || m->id != new_id)
                continue; /* stale: the pair there is another now */
            s->id = new_id;
            r->live = 0;
            s->next = r->next;
            if (r->next >= 0)
                sym[r->next].prev = pos;
            if (s->prev >= 0)
                push_pair(bpe, sc, &hn, s->prev);
            push_pair(bpe, sc, &hn, pos);
        }
    }
    for (int32_t p = 0; p >= 0; p = sym[p].next)
        if (!emit(ctx, sym[p].id))
            return 0;
    return 1;
}

/* ---- ByteLevel's split ----------------------------------------------------------------- */

static int cp_class(const uint8_t *s, size_t i, int *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return rr_hf_bytelevel_class(s[i]);
    }
    return rr_hf_bytelevel_class(rr_utf8_decode(s + i, len));
}

/* 's 't 're 've 'm 'll 'd at s[i] == '\'': their length, or 0. */
static size_t contraction(const uint8_t *s, size_t n, size_t i) {
    if (i + 1 >= n)
        return 0;
    const uint8_t a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (i + 2 < n && ((a == 'r' && s[i + 2] == 'e') || (a == 'v' && s[i + 2] == 'e') ||
                      (a == 'l' && s[i + 2] == 'l')))
        return 3;
    return 0;
}

/* Where the regex's match that starts at s[i] ends, trying its alternatives in order. */
static size_t match_end(const uint8_t *s, size_t n, size_t i) {
    size_t c;
    if (s[i] == '\'' && (c = contraction(s, n, i)))
        return i + c;
    int len;
    int cls = cp_class(s, i, &len);
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n) { /* " ?" before a letter, number or other run */
        int l1;
        const int c1 = cp_class(s, i + 1, &l1);
        if (c1 != RR_BL_SPACE) {
            j = i + 1;
            cls = c1;
            len = l1;
        }
    }
    if (cls != RR_BL_SPACE) { /* \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+ */
        j += (size_t)len;
        while (j < n && cp_class(s, j, &len) == cls)
            j += (size_t)len;
        return j;
    }
    /* \s+(?!\S): the run, less its last character when a non-space follows; \s+: one */
    size_t last = i, count = 0;
    while (j < n && cp_class(s, j, &len) == RR_BL_SPACE) {
        last = j;
        j += (size_t)len;
        count++;
    }
    return j == n || count < 2 ? j : last;
}

int rr_bpe_words(const rr_bpe *bpe, const rr_vocab *vocab, rr_bpe_scratch *sc, const uint8_t *s,
                 size_t n, rr_bpe_emit emit, void *ctx) {
    if (n == 0)
        return 0;
    if (bpe->add_prefix_space && s[0] != ' ') {
        if (!rr_grow_bytes(&sc->text, &sc->text_cap, n + 1))
            return -1;
        sc->text[0] = ' ';
        memcpy(sc->text + 1, s, n);
        s = sc->text;
        n++;
    }
    size_t i = 0;
    while (i < n) {
        const size_t end = bpe->use_regex ? match_end(s, n, i) : n;
        const int r = word(bpe, vocab, sc, s + i, end - i, emit, ctx);
        if (r <= 0)
            return r;
        i = end;
    }
    return 0;
}
