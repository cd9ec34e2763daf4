/* text/sentencepiece.c — Precompiled/Replace/Strip/NFC/Lowercase normalizers, the
 * Punctuation and Metaspace pre-tokenizers and the Unigram model, each as the `tokenizers`
 * library (0.23) runs it.
 *
 * Precompiled: the charsmap is base64 of [u32 trie bytes][darts-clone units][strings]. The
 * text is read one extended grapheme cluster at a time (utf8proc's segmentation); a cluster
 * shorter than 6 bytes is first looked up whole, and if some prefix of it is a key, the
 * cluster becomes that key's string: the *shortest* matching prefix, the rest of the cluster
 * dropped (spm_precompiled's transform takes results[0]; tokenizers keeps it so, since it is
 * what XLM-R, mBART and Marian were trained with). Otherwise each code point is looked up
 * on its own.
 *
 * Replace with DeBERTa's Regex "\s{2,}|[\n\r\t]" (Oniguruma, UTF-8): \s is Unicode
 * White_Space, the 25 code points of onig_space() (probed: every code point through the
 * tokenizers library; U+180E and U+200B are not among them, U+0085 is), the same set as
 * Rust's char::is_whitespace. A run of two or more becomes one space, and so does a lone
 * \n, \r or \t; a lone other space (NBSP, U+3000, \v...) stays.
 *
 * NFC: unicode-normalization-alignments' (tokenizers'). Its Unicode data is older than
 * utf8proc's: it neither decomposes nor composes U+11938 (DIVES AKURU VOWEL SIGN O, Unicode
 * 13) and gives combining class 0 to the marks of hf_unicode's hf_ccc_zero (assigned after
 * its version); rr_hf_nfd and rr_hf_ccc answer as it does, and a composition is kept only
 * when rr_hf_nfd decomposes the result. Hangul is composed here (L+V, LV+T with T after
 * U+11A7: utf8proc 2.8 would also swallow U+11A7 after an LV syllable). Text below U+0300
 * is already NFC and composes with nothing before it: only the segments from the code
 * point before a U+0300-or-above character to the next one below U+0300 are worked.
 *
 * Lowercase: Rust's char::to_lowercase, one code point at a time (no final-sigma rule),
 * as BertNormalizer's lowercase (rr_hf_lower).
 *
 * Punctuation(Isolated): every character that BertPreTokenizer calls punctuation (ASCII
 * punctuation or Unicode P*, rr_hf_is_punct; the two pre-tokenizers share the test) is a
 * piece of its own.
 *
 * Unigram: tokenizers' encode_optimized. At every code point boundary the pieces that start
 * there are tried shortest first (the trie's order); a path replaces another only with a
 * strictly higher score (f64 sums in the same order). A code point no one-character piece
 * covers gets the unknown piece at lowest score - 10, and runs of unknowns fuse into one.
 *
 * The prefix search walks a byte trie of the pieces (built at load: children adjacent and in
 * byte order, a 256-entry table for the root and every node of more than RR_SPM_WIDE
 * children, each node holding its piece's score), one step per byte, and stops where no
 * piece continues the text. Versions tried:
 *   v1: the vocabulary's hash table, probed once per candidate length up to the longest
 *       piece, hashing the whole prefix each time: 1.75 M tokens/s on SciFact (one thread),
 *       two thirds of it in those probes (perf).
 *   v2: the pieces sorted, the candidates narrowed byte by byte with two binary searches per
 *       byte: 0.97 M tokens/s, slower (cache misses across the whole sorted list).
 *   v3 (this): the trie: 2.55 M tokens/s for XLM-R, 3.25 M for DeBERTa, against v1's 1.50 M
 *       and 1.70 M on the same machine (bench/RESULTS.md, sixteenth session); what is left is
 *       mostly the wait for each next node (L2, not L1).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/hf_unicode.h"
#include "text/sentencepiece.h"
#include "text/tokenizer_impl.h"
#include "util/error.h"

#define K_UNK_PENALTY 10.0
#define GRAPHEME_WHOLE_MAX 6 /* clusters of fewer bytes are looked up whole */

/* ---- loading --------------------------------------------------------------------------- */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with optional '=' padding into a malloc'd buffer. */
static rr_status b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len,
                            const char *path) {
    while (n && s[n - 1] == '=')
        n--;
    uint8_t *o = malloc(n / 4 * 3 + 3);
    if (!o)
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate the precompiled charsmap", path);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(o);
            return rr_error(RR_ERR_FORMAT, "%s: normalizer Precompiled: precompiled_charsmap is not "
                            "base64 (character %zu)", path, i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    *out = o;
    *out_len = k;
    return RR_OK;
}

static rr_status load_precompiled(rr_spm *spm, const json_t *norm, const char *path) {
    const json_t *cm = json_object_get(norm, "precompiled_charsmap");
    if (json_is_null(cm) || (json_is_string(cm) && json_string_length(cm) == 0))
        return RR_OK; /* no rules: the identity */
    if (!json_is_string(cm))
        return rr_error(RR_ERR_FORMAT, "%s: normalizer Precompiled: precompiled_charsmap is not a string",
                        path);
    if (spm->trie || spm->pool)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: more than one Precompiled normalizer", path);
    uint8_t *raw = NULL;
    size_t len = 0;
    RR_TRY(b64_decode(json_string_value(cm), json_string_length(cm), &raw, &len, path));
    rr_status st = RR_OK;
    uint32_t trie_bytes = 0;
    if (len >= 4)
        trie_bytes = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 24;
    if (len < 4 || trie_bytes % 4 || trie_bytes > len - 4 || trie_bytes == 0) {
        st = rr_error(RR_ERR_FORMAT, "%s: normalizer Precompiled: precompiled_charsmap is malformed "
                      "(%zu bytes, trie of %u)", path, len, (unsigned)trie_bytes);
        goto done;
    }
    spm->trie_units = trie_bytes / 4;
    spm->pool_len = len - 4 - trie_bytes;
    spm->trie = malloc(trie_bytes);
    spm->pool = malloc(spm->pool_len + 1);
    if (!spm->trie || !spm->pool) {
        st = rr_error(RR_ERR_NOMEM, "%s: cannot allocate the precompiled charsmap", path);
        goto done;
    }
    for (size_t i = 0; i < spm->trie_units; i++) {
        const uint8_t *p = raw + 4 + 4 * i;
        spm->trie[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(spm->pool, raw + 4 + trie_bytes, spm->pool_len);
    spm->pool[spm->pool_len] = 0;
    size_t bad = rr_utf8_invalid_at((const unsigned char *)spm->pool, spm->pool_len);
    if (bad < spm->pool_len)
        st = rr_error(RR_ERR_FORMAT, "%s: normalizer Precompiled: the replacement strings are not "
                      "UTF-8 (byte %zu)", path, bad);
done:
    free(raw);
    return st;
}

static rr_status dup_str(const json_t *v, char **out, size_t *len, const char *path, const char *what) {
    if (!json_is_string(v))
        return rr_error(RR_ERR_FORMAT, "%s: normalizer Replace: %s is not a string", path, what);
    *len = json_string_length(v);
    *out = malloc(*len + 1);
    if (!*out)
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a normalizer", path);
    memcpy(*out, json_string_value(v), *len + 1);
    return RR_OK;
}

/* DeBERTa's whitespace regex, as DebertaV2Tokenizer writes it. */
static const char kWsRegex[] = "\\s{2,}|[\\n\\r\\t]";

/* Replace: {"pattern": {"String": s} | {"Regex": r}, "content": c}. Of regexes only runs of
 * spaces " {n,}" (what transformers' SentencePiece converters write) and DeBERTa's
 * "\s{2,}|[\n\r\t]" are understood, written exactly so. */
static rr_status load_replace(rr_spm_step *st, const json_t *norm, const char *path) {
    const json_t *pat = json_object_get(norm, "pattern");
    const json_t *lit = json_object_get(pat, "String"), *re = json_object_get(pat, "Regex");
    RR_TRY(dup_str(json_object_get(norm, "content"), &st->to, &st->to_len, path, "content"));
    if (lit) {
        RR_TRY(dup_str(lit, &st->from, &st->from_len, path, "pattern.String"));
        if (st->from_len == 0)
            return rr_error(RR_ERR_UNSUPPORTED, "%s: normalizer Replace with an empty pattern", path);
        return RR_OK;
    }
    const char *r = json_string_value(re);
    if (r && json_string_length(re) == sizeof kWsRegex - 1 && !strcmp(r, kWsRegex)) {
        st->runs = RR_SPM_WS_REGEX;
        return RR_OK;
    }
    int n = 0;
    size_t k = 2;
    if (r && r[0] == ' ' && r[1] == '{')
        while (r[k] >= '0' && r[k] <= '9' && n <= 64)
            n = 10 * n + (r[k++] - '0');
    if (r && r[0] == ' ' && r[1] == '{' && k > 2 && !strcmp(r + k, ",}") && n >= 1 && n <= 64) {
        st->runs = n;
        st->from = malloc(2);
        if (!st->from)
            return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a normalizer", path);
        memcpy(st->from, " ", 2);
        st->from_len = 1;
        return RR_OK;
    }
    return rr_error(RR_ERR_UNSUPPORTED, "%s: normalizer Replace pattern %s is not supported (a literal "
                    "String, or the Regex \" {n,}\" or \"%s\")", path, r ? r : "(not a String or Regex)",
                    kWsRegex);
}

static rr_status load_normalizer(rr_spm *spm, const json_t *norm, const char *path, int depth) {
    if (!norm || json_is_null(norm))
        return RR_OK;
    const json_t *t = json_object_get(norm, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;
    if (type && !strcmp(type, "Sequence") && depth == 0) {
        const json_t *list = json_object_get(norm, "normalizers");
        if (!json_is_array(list))
            return rr_error(RR_ERR_FORMAT, "%s: normalizer Sequence without a \"normalizers\" array", path);
        size_t i;
        const json_t *n;
        json_array_foreach(list, i, n) RR_TRY(load_normalizer(spm, n, path, 1));
        return RR_OK;
    }
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"Precompiled", RR_SPM_PRECOMPILED}, {"Replace", RR_SPM_REPLACE}, {"Strip", RR_SPM_STRIP},
                 {"NFC", RR_SPM_NFC}, {"Lowercase", RR_SPM_LOWERCASE}};
    int kind = 0;
    for (size_t k = 0; type && k < sizeof kinds / sizeof kinds[0]; k++)
        if (!strcmp(type, kinds[k].name))
            kind = kinds[k].kind;
    if (!kind)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: normalizer \"%s\"%s is not supported with a Unigram model "
                        "(Precompiled, Replace, Strip, NFC, Lowercase, or a Sequence of them)", path,
                        type ? type : "(untyped)", depth ? " inside the Sequence" : "");
    if (spm->num_steps == RR_SPM_MAX_STEPS)
        return rr_error(RR_ERR_UNSUPPORTED, "%s: more than %d normalizers", path, RR_SPM_MAX_STEPS);
    rr_spm_step *st = &spm->steps[spm->num_steps++];
    st->kind = kind;
    if (kind == RR_SPM_PRECOMPILED)
        return load_precompiled(spm, norm, path);
    if (kind == RR_SPM_REPLACE)
        return load_replace(st, norm, path);
    if (kind != RR_SPM_STRIP)
        return RR_OK;
    const json_t *l = json_object_get(norm, "strip_left"), *r = json_object_get(norm, "strip_right");
    if ((l && !json_is_boolean(l)) || (r && !json_is_boolean(r)))
        return rr_error(RR_ERR_FORMAT, "%s: normalizer Strip: strip_left/strip_right must be true or false",
                        path);
    st->left = json_is_true(l);
    st->right = json_is_true(r);
    return RR_OK;
}

static rr_status load_metaspace(rr_spm *spm, const json_t *pre, const char *path) {
    const json_t *t = json_object_get(pre, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;
    int inside = 0;
    if (type && !strcmp(type, "Sequence")) {
        /* [WhitespaceSplit, Metaspace], as transformers 5 writes XLM-R's; [Punctuation, Metaspace],
         * as DeBERTa's split_by_punct; or [Metaspace] */
        const json_t *list = json_object_get(pre, "pretokenizers");
        size_t n = json_array_size(list);
        if (!json_is_array(list) || n == 0 || n > 2)
            return rr_error(RR_ERR_UNSUPPORTED, "%s: pre_tokenizer Sequence of %zu is not supported with a "
                            "Unigram model (Metaspace, after WhitespaceSplit or Punctuation)", path, n);
        const json_t *first = json_array_get(list, 0);
        const char *ft = json_string_value(json_object_get(first, "type"));
        if (n == 2) {
            if (ft && !strcmp(ft, "WhitespaceSplit"))
                spm->ws_split = 1;
            else if (ft && !strcmp(ft, "Punctuation")) {
                const json_t *b = json_object_get(first, "behavior");
                const char *bs = json_string_value(b);
                if (b && !json_is_null(b) && (!bs || strcmp(bs, "Isolated")))
                    return rr_error(RR_ERR_UNSUPPORTED, "%s: pre_tokenizer Punctuation with behavior %s is "
                                    "not supported (Isolated only)", path, bs ? bs : "(not a string)");
                spm->punct = 1;
            } else
                return rr_error(RR_ERR_UNSUPPORTED, "%s: pre_tokenizer \"%s\" inside the Sequence is not "
                                "supported with a Unigram model (WhitespaceSplit or Punctuation, then "
                                "Metaspace)", path, ft ? ft : "(untyped)");
        }
        pre = json_array_get(list, n - 1);
        t = json_object_get(pre, "type");
        type = json_is_string(t) ? json_string_value(t) : NULL;
        inside = 1;
    }
    if (!type || strcmp(type, "Metaspace"))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: pre_tokenizer \"%s\"%s is not supported with a Unigram model "
                        "(Metaspace, or a Sequence of WhitespaceSplit or Punctuation and Metaspace)", path,
                        type ? type : (!pre || json_is_null(pre) ? "null" : "(untyped)"),
                        inside ? " at the end of the Sequence" : "");
    const json_t *r = json_object_get(pre, "replacement");
    const char *repl = r ? json_string_value(r) : "\xE2\x96\x81";
    size_t rl = repl ? strlen(repl) : 0;
    int cl = 0;
    if (rl && rl <= 4) {
        utf8proc_int32_t cp;
        cl = (int)utf8proc_iterate((const utf8proc_uint8_t *)repl, (utf8proc_ssize_t)rl, &cp);
    }
    if (!repl || rl == 0 || rl > 4 || cl != (int)rl)
        return rr_error(RR_ERR_FORMAT, "%s: pre_tokenizer Metaspace: replacement must be one character", path);
    memcpy(spm->repl, repl, rl);
    spm->repl_len = rl;
    /* prepend_scheme (tokenizers >= 0.15) wins over the older add_prefix_space */
    const json_t *ps = json_object_get(pre, "prepend_scheme"), *aps = json_object_get(pre, "add_prefix_space");
    if (ps && !json_is_null(ps)) {
        const char *s = json_string_value(ps);
        if (s && !strcmp(s, "always"))
            spm->prepend = RR_SPM_PREPEND_ALWAYS;
        else if (s && !strcmp(s, "first"))
            spm->prepend = RR_SPM_PREPEND_FIRST;
        else if (s && !strcmp(s, "never"))
            spm->prepend = RR_SPM_PREPEND_NEVER;
        else
            return rr_error(RR_ERR_FORMAT, "%s: pre_tokenizer Metaspace: prepend_scheme must be \"always\", "
                            "\"first\" or \"never\"", path);
    } else if (aps && !json_is_boolean(aps)) {
        return rr_error(RR_ERR_FORMAT, "%s: pre_tokenizer Metaspace: add_prefix_space must be true or false",
                        path);
    } else
        spm->prepend = !aps || json_is_true(aps) ? RR_SPM_PREPEND_ALWAYS : RR_SPM_PREPEND_NEVER;
    const json_t *sp = json_object_get(pre, "split");
    if (sp && !json_is_boolean(sp))
        return rr_error(RR_ERR_FORMAT, "%s: pre_tokenizer Metaspace: split must be true or false", path);
    spm->split = !sp || json_is_true(sp);
    return RR_OK;
}

/* ---- the pieces' trie ------------------------------------------------------------------ */

typedef struct piece_key {
    const uint8_t *s;
    uint32_t len;
    int32_t id;
} piece_key;

/* Byte order, a prefix before the strings it starts. */
static int cmp_piece_key(const void *pa, const void *pb) {
    const piece_key *a = pa, *b = pb;
    const uint32_t n = a->len < b->len ? a->len : b->len;
    const int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* The trie of vocab's keys (each with the id the table gives it: a later duplicate piece won
 * there), built breadth first from the keys in byte order, so that every node's children
 * are adjacent: a node stands for the keys [lo, hi) that share its depth bytes. No recursion
 * (a piece may be as long as the file allows). */
static rr_status build_trie(rr_spm *spm, const rr_vocab *vocab, const char *path) {
    const size_t K = vocab->count;
    size_t bytes = 0;
    piece_key *keys = malloc((K ? K : 1) * sizeof *keys);
    if (!keys)
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate the pieces' trie", path);
    size_t k = 0;
    for (uint64_t i = 0; i <= vocab->mask && k < K; i++)
        if (vocab->slots[i].id >= 0) {
            const rr_vocab_slot *sl = &vocab->slots[i];
            keys[k++] = (piece_key){(const uint8_t *)vocab->pool + sl->off, sl->len, sl->id};
            bytes += sl->len;
        }
    if (bytes >= UINT32_MAX) {
        free(keys);
        return rr_error(RR_ERR_FORMAT, "%s: model.vocab: the pieces are too long (%zu bytes)", path, bytes);
    }
    qsort(keys, k, sizeof *keys, cmp_piece_key);
    const size_t cap = bytes + 1; /* a node per byte at most, and the root */
    spm->nodes = malloc(cap * sizeof *spm->nodes);
    spm->labels = malloc(cap);
    uint32_t *range = malloc(cap * 3 * sizeof *range); /* lo, hi, depth of each node */
    if (!spm->nodes || !spm->labels || !range) {
        free(keys);
        free(range);
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate the pieces' trie (%zu nodes)", path, cap);
    }
    uint32_t count = 1;
    range[0] = 0, range[1] = (uint32_t)k, range[2] = 0;
    spm->labels[0] = 0;
    for (uint32_t q = 0; q < count; q++) {
        uint32_t a = range[3 * q], b = range[3 * q + 1];
        const uint32_t d = range[3 * q + 2];
        rr_spm_node *nd = &spm->nodes[q];
        nd->id = -1;
        nd->score = 0;
        if (a < b && keys[a].len == d) { /* the node's own string: first, and the only one */
            nd->id = keys[a++].id;
            nd->score = spm->scores[nd->id];
        }
        nd->first = count;
        while (a < b) {
            const uint8_t c = keys[a].s[d];
            uint32_t e = a + 1;
            while (e < b && keys[e].s[d] == c)
                e++;
            spm->labels[count] = c;
            range[3 * count] = a, range[3 * count + 1] = e, range[3 * count + 2] = d + 1;
            count++;
            a = e;
        }
        nd->n = count - nd->first;
    }
    free(range);
    free(keys);
    /* a direct table for the root and every node of many children */
    uint32_t wide = 0;
    for (uint32_t q = 0; q < count; q++)
        wide += q == 0 || spm->nodes[q].n > RR_SPM_WIDE;
    if (!(spm->wide = malloc((size_t)wide * 256 * sizeof *spm->wide)))
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate the pieces' trie (%u wide nodes)", path, wide);
    wide = 0;
    for (uint32_t q = 0; q < count; q++) {
        rr_spm_node *nd = &spm->nodes[q];
        nd->wide = -1;
        if (q && nd->n <= RR_SPM_WIDE)
            continue;
        int32_t *row = spm->wide + (size_t)wide * 256;
        for (int c = 0; c < 256; c++)
            row[c] = -1;
        for (uint32_t i = nd->first; i < nd->first + nd->n; i++)
            row[spm->labels[i]] = (int32_t)i;
        nd->wide = (int32_t)wide++;
    }
    return RR_OK;
}

/* The child of node by byte c, or -1: a wide node's table, else a scan of the labels (sorted:
 * it stops at the first one >= c). */
static inline int32_t trie_child(const rr_spm *spm, uint32_t node, uint8_t c) {
    const rr_spm_node *nd = &spm->nodes[node];
    if (nd->wide >= 0)
        return spm->wide[(size_t)nd->wide * 256 + c];
    const uint8_t *lab = spm->labels + nd->first;
    for (uint32_t i = 0; i < nd->n; i++)
        if (lab[i] >= c)
            return lab[i] == c ? (int32_t)(nd->first + i) : -1;
    return -1;
}

/* model.vocab: [[piece, score], ...] into vocab (id = index), spm->scores and the trie. */
static rr_status load_pieces(rr_spm *spm, rr_vocab *vocab, const json_t *model, const char *path) {
    const json_t *pieces = json_object_get(model, "vocab");
    if (!json_is_array(pieces) || json_array_size(pieces) == 0)
        return rr_error(RR_ERR_FORMAT, "%s: model.vocab of a Unigram model must be a non-empty array of "
                        "[piece, score]", path);
    if (json_array_size(pieces) > INT32_MAX)
        return rr_error(RR_ERR_FORMAT, "%s: model.vocab has too many pieces", path);
    const size_t n = json_array_size(pieces);
    spm->num_pieces = (int32_t)n;
    spm->scores = malloc(n * sizeof *spm->scores);
    if (!spm->scores)
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate %zu piece scores", path, n);
    RR_TRY(rr_vocab_init(vocab, n));
    double lowest = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(pieces, i, p) {
        const json_t *s = json_array_get(p, 0), *sc = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_string(s) || !json_is_number(sc))
            return rr_error(RR_ERR_FORMAT, "%s: model.vocab[%zu] is not [piece, score]", path, i);
        RR_TRY(rr_vocab_put(vocab, json_string_value(s), json_string_length(s), (int32_t)i));
        spm->scores[i] = json_number_value(sc);
        if (i == 0 || spm->scores[i] < lowest)
            lowest = spm->scores[i];
    }
    spm->unk_score = lowest - K_UNK_PENALTY;
    return build_trie(spm, vocab, path);
}

rr_status rr_spm_load(rr_spm *spm, rr_vocab *vocab, const json_t *model, const json_t *normalizer,
                      const json_t *pre_tokenizer, const char *path, const char **unk_name) {
    memset(spm, 0, sizeof *spm);
    const json_t *bf = json_object_get(model, "byte_fallback");
    if (json_is_true(bf))
        return rr_error(RR_ERR_UNSUPPORTED, "%s: Unigram byte_fallback is not supported", path);
    RR_TRY(load_pieces(spm, vocab, model, path));
    const json_t *unk = json_object_get(model, "unk_id");
    const size_t n = (size_t)spm->num_pieces;
    if (!json_is_integer(unk) || json_integer_value(unk) < 0 || (size_t)json_integer_value(unk) >= n)
        return rr_error(RR_ERR_FORMAT, "%s: model.unk_id must be the id of a piece (0 to %zu)", path, n - 1);
    spm->unk_id = (int32_t)json_integer_value(unk);
    const json_t *pieces = json_object_get(model, "vocab");
    *unk_name = json_string_value(json_array_get(json_array_get(pieces, (size_t)spm->unk_id), 0));
    RR_TRY(load_normalizer(spm, normalizer, path, 0));
    return load_metaspace(spm, pre_tokenizer, path);
}

rr_status rr_spm_load_deberta(rr_spm *spm, rr_vocab *vocab, const json_t *model, const char *unk_name,
                              long long config_unk_id, const char *path) {
    memset(spm, 0, sizeof *spm);
    RR_TRY(load_pieces(spm, vocab, model, path));
    /* vocab.index((unk_token, 0.0)): the piece and a score equal to 0.0 (-0.0 too) */
    const json_t *pieces = json_object_get(model, "vocab");
    long long unk = -1;
    for (size_t i = 0; i < (size_t)spm->num_pieces && unk < 0; i++) {
        const json_t *s = json_array_get(json_array_get(pieces, i), 0);
        if (spm->scores[i] == 0.0 && !strcmp(json_string_value(s), unk_name) &&
            json_string_length(s) == strlen(unk_name))
            unk = (long long)i;
    }
    if (unk < 0)
        unk = config_unk_id >= 0 ? config_unk_id : 1;
    if (unk >= spm->num_pieces)
        return rr_error(RR_ERR_FORMAT, "%s: DebertaV2Tokenizer: no piece [\"%s\", 0.0] in model.vocab, and "
                        "its fallback unknown id %lld is not a piece (0 to %d)", path, unk_name, unk,
                        (int)spm->num_pieces - 1);
    spm->unk_id = (int32_t)unk;
    return RR_OK;
}

rr_status rr_spm_as_deberta_tokenizer(rr_spm *spm, int lowercase, int split_by_punct, int add_prefix_space,
                                      const char *path) {
    for (int i = 0; i < spm->num_steps; i++) {
        free(spm->steps[i].from);
        free(spm->steps[i].to);
    }
    memset(spm->steps, 0, sizeof spm->steps);
    spm->num_steps = 0;
    free(spm->trie); /* the charsmap is dropped too */
    free(spm->pool);
    spm->trie = NULL;
    spm->pool = NULL;
    spm->trie_units = spm->pool_len = 0;
    if (lowercase)
        spm->steps[spm->num_steps++].kind = RR_SPM_LOWERCASE;
    rr_spm_step *re = &spm->steps[spm->num_steps++];
    re->kind = RR_SPM_REPLACE;
    re->runs = RR_SPM_WS_REGEX;
    if (!(re->to = malloc(2)))
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a normalizer", path);
    memcpy(re->to, " ", 2);
    re->to_len = 1;
    spm->steps[spm->num_steps++].kind = RR_SPM_NFC;
    rr_spm_step *strip = &spm->steps[spm->num_steps++];
    strip->kind = RR_SPM_STRIP;
    strip->right = 1;
    spm->ws_split = 0;
    spm->punct = split_by_punct != 0;
    spm->split = 1;
    spm->prepend = add_prefix_space ? RR_SPM_PREPEND_ALWAYS : RR_SPM_PREPEND_FIRST;
    memcpy(spm->repl, "\xE2\x96\x81", 4);
    spm->repl_len = 3;
    return RR_OK;
}

void rr_spm_as_xlmr_tokenizer(rr_spm *spm, int add_prefix_space) {
    int kept = 0;
    for (int i = 0; i < spm->num_steps; i++) {
        rr_spm_step st = spm->steps[i];
        if (st.kind == RR_SPM_PRECOMPILED) {
            spm->steps[kept++] = st;
            continue;
        }
        free(st.from);
        free(st.to);
    }
    for (int i = kept; i < spm->num_steps; i++)
        memset(&spm->steps[i], 0, sizeof spm->steps[i]);
    spm->num_steps = kept;
    spm->ws_split = 1;
    spm->split = 1;
    spm->prepend = add_prefix_space ? RR_SPM_PREPEND_ALWAYS : RR_SPM_PREPEND_NEVER;
    memcpy(spm->repl, "\xE2\x96\x81", 4);
    spm->repl_len = 3;
}

void rr_spm_as_nfc(rr_spm *spm) {
    memset(spm, 0, sizeof *spm);
    spm->steps[0].kind = RR_SPM_NFC;
    spm->num_steps = 1;
}

void rr_spm_free(rr_spm *spm) {
    if (!spm)
        return;
    free(spm->trie);
    free(spm->pool);
    free(spm->nodes);
    free(spm->labels);
    free(spm->wide);
    free(spm->scores);
    for (int i = 0; i < spm->num_steps; i++) {
        free(spm->steps[i].from);
        free(spm->steps[i].to);
    }
    memset(spm, 0, sizeof *spm);
}

void rr_spm_scratch_free(rr_spm_scratch *sc) {
    for (int k = 0; k < 3; k++)
        free(sc->buf[k]);
    free(sc->best); /* (from, id and path live in its block) */
    free(sc->cps);
    memset(sc, 0, sizeof *sc);
}

/* ---- normalizers ----------------------------------------------------------------------- */

typedef struct out_buf {
    uint8_t **p;
    size_t *cap;
    size_t len;
    int failed;
} out_buf;

static void put(out_buf *o, const void *s, size_t n) {
    if (o->failed || n == 0) /* (an empty replacement: nothing to copy, maybe nothing allocated) */
        return;
    if (o->len + n > *o->cap) {
        size_t c = *o->cap ? *o->cap : 256;
        while (c < o->len + n)
            c *= 2;
        uint8_t *q = realloc(*o->p, c);
        if (!q) {
            o->failed = 1;
            return;
        }
        *o->p = q;
        *o->cap = c;
    }
    memcpy(*o->p + o->len, s, n);
    o->len += n;
}

static inline int cp_len(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/* The darts-clone walk of spm_precompiled: the string of the shortest key that prefixes
 * key[0..n) (stopping at a NUL byte), or NULL. Every index is checked: the file is input. */
static const char *first_prefix(const rr_spm *spm, const uint8_t *key, size_t n) {
    const uint32_t *a = spm->trie;
    const size_t units = spm->trie_units;
    if (!units)
        return NULL;
#define OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    size_t pos = OFFSET(a[0]);
    for (size_t i = 0; i < n && key[i]; i++) {
        pos ^= key[i];
        if (pos >= units)
            return NULL;
        uint32_t u = a[pos];
        if ((u & (0x80000000u | 0xFFu)) != key[i])
            return NULL;
        pos ^= OFFSET(u);
        if ((u >> 8) & 1) {
            if (pos >= units)
                return NULL;
            size_t v = a[pos] & 0x7FFFFFFFu;
            /* a string must start on a character of the (valid UTF-8) pool */
            if (v > spm->pool_len || (v < spm->pool_len && (spm->pool[v] & 0xC0) == 0x80))
                return NULL;
            return spm->pool + v;
        }
    }
#undef OFFSET
    return NULL;
}

/* *lead: how many output bytes tokenizers aligns to the text's first character. Its
 * transform aligns output to input one character after another, deletions at the very start
 * unseen: the first output character, plus the characters a one-character unit adds after
 * it (the unit's whole output), or only that first character when a whole cluster of
 * several was replaced. */
static void precompiled(const rr_spm *spm, const uint8_t *s, size_t n, out_buf *o, size_t *lead) {
    utf8proc_int32_t state = 0;
    size_t i = 0;
    *lead = 0;
    while (i < n) {
        /* the grapheme cluster s[i..g) */
        int l;
        int32_t prev = rr_utf8_decode(s + i, &l);
        size_t g = i + (size_t)l;
        while (g < n) {
            int32_t next = rr_utf8_decode(s + g, &l);
            int brk;
            if (prev < 0x80 && next < 0x80) { /* ASCII: one cluster per byte but CR LF */
                brk = !(prev == '\r' && next == '\n');
                state = 0;
            } else
                brk = utf8proc_grapheme_break_stateful(prev, next, &state);
            if (brk)
                break;
            prev = next;
            g += (size_t)l;
        }
        const char *m = g - i < GRAPHEME_WHOLE_MAX ? first_prefix(spm, s + i, g - i) : NULL;
        if (m) {
            const size_t ml = strlen(m);
            put(o, m, ml);
            if (!*lead && ml)
                *lead = (size_t)cp_len(s[i]) == g - i ? ml : (size_t)cp_len((uint8_t)m[0]);
        } else {
            for (size_t k = i; k < g; k += (size_t)l) {
                l = cp_len(s[k]);
                const char *c = first_prefix(spm, s + k, (size_t)l);
                const size_t cl = c ? strlen(c) : (size_t)l;
                put(o, c ? (const uint8_t *)c : s + k, cl);
                if (!*lead)
                    *lead = cl;
            }
        }
        i = g;
    }
}

/* Oniguruma's \s in a UTF-8 regex: Unicode White_Space (probed against tokenizers 0.23.3). */
static inline int onig_space(int32_t cp) {
    if (cp < 0x80)
        return cp == ' ' || (cp >= 9 && cp <= 13);
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

static inline int32_t decode_at(const uint8_t *s, size_t i, int *l) {
    if (s[i] < 0x80) {
        *l = 1;
        return s[i];
    }
    return rr_utf8_decode(s + i, l);
}

/* "\s{2,}|[\n\r\t]" -> content: leftmost-first, so a run of two or more whitespace characters
 * goes whole, and a lone one only when it is \n, \r or \t. */
static int replace_ws(const rr_spm_step *st, const uint8_t *s, size_t n, out_buf *o) {
    size_t i = 0, plain = 0;
    int changed = 0;
    while (i < n) {
        int l;
        const int32_t cp = decode_at(s, i, &l);
        if (!onig_space(cp)) {
            i += (size_t)l;
            continue;
        }
        size_t end = i + (size_t)l, count = 1;
        while (end < n && onig_space(decode_at(s, end, &l))) {
            end += (size_t)l;
            count++;
        }
        if (count >= 2 || cp == '\n' || cp == '\r' || cp == '\t') {
            put(o, s + plain, i - plain);
            put(o, st->to, st->to_len);
            plain = end;
            changed = 1;
        }
        i = end;
    }
    if (changed)
        put(o, s + plain, n - plain);
    return changed;
}

/* Replace: 1 with the result in o, 0 when nothing matched (the text stands as it is). */
static int replace(const rr_spm_step *st, const uint8_t *s, size_t n, out_buf *o) {
    if (st->runs == RR_SPM_WS_REGEX)
        return replace_ws(st, s, n, o);
    size_t i = 0, plain = 0;
    int changed = 0;
    while (i < n) {
        size_t end = i;
        if (st->runs) {
            while (end < n && s[end] == ' ')
                end++;
            if (end - i < (size_t)st->runs) {
                i = end > i ? end : i + 1;
                continue;
            }
        } else if (n - i >= st->from_len && memcmp(s + i, st->from, st->from_len) == 0)
            end = i + st->from_len;
        else {
            i++;
            continue;
        }
        put(o, s + plain, i - plain);
        put(o, st->to, st->to_len);
        changed = 1;
        i = plain = end;
    }
    if (changed)
        put(o, s + plain, n - plain);
    return changed;
}

/* Strip in place: *s and *n narrowed; returns how many bytes went from the left. */
static size_t strip(const rr_spm_step *st, const uint8_t **s, size_t *n) {
    const uint8_t *p = *s;
    size_t a = 0, b = *n;
    int l;
    while (st->left && a < b && rr_is_space(rr_utf8_decode(p + a, &l)))
        a += (size_t)l;
    while (st->right && b > a) {
        size_t k = b - 1;
        while (k > a && (p[k] & 0xC0) == 0x80)
            k--;
        if (!rr_is_space(rr_utf8_decode(p + k, &l)))
            break;
        b = k;
    }
    *s = p + a;
    *n = b - a;
    return a;
}

/* Lowercase (Rust's char::to_lowercase per code point): 1 with the result in o, 0 when the
 * text has nothing to lower (no A-Z, nothing beyond ASCII). */
static int lowercase(const uint8_t *s, size_t n, out_buf *o) {
    size_t i = 0;
    while (i < n && s[i] < 0x80 && !(s[i] >= 'A' && s[i] <= 'Z'))
        i++;
    if (i == n)
        return 0;
    put(o, s, i);
    while (i < n) {
        if (s[i] < 0x80) {
            uint8_t c = s[i++];
            c = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            put(o, &c, 1);
            continue;
        }
        int l;
        int32_t lower[2];
        const int k = rr_hf_lower(rr_utf8_decode(s + i, &l), lower);
        for (int j = 0; j < k; j++) {
            uint8_t enc[4];
            put(o, enc, (size_t)utf8proc_encode_char(lower[j], enc));
        }
        i += (size_t)l;
    }
    return 1;
}

/* ---- NFC ------------------------------------------------------------------------------- */

#define HANGUL_SBASE 0xAC00
#define HANGUL_LBASE 0x1100
#define HANGUL_VBASE 0x1161
#define HANGUL_TBASE 0x11A7
#define HANGUL_LCOUNT 19
#define HANGUL_VCOUNT 21
#define HANGUL_TCOUNT 28
#define HANGUL_SCOUNT (HANGUL_LCOUNT * HANGUL_VCOUNT * HANGUL_TCOUNT)

/* The primary composite of starter a and b as unicode-normalization knows it, or -1. */
static int32_t compose_pair(int32_t a, int32_t b) {
    if (a >= HANGUL_LBASE && a < HANGUL_LBASE + HANGUL_LCOUNT)
        return b >= HANGUL_VBASE && b < HANGUL_VBASE + HANGUL_VCOUNT
                   ? HANGUL_SBASE + ((a - HANGUL_LBASE) * HANGUL_VCOUNT + (b - HANGUL_VBASE)) * HANGUL_TCOUNT
                   : -1;
    if (a >= HANGUL_SBASE && a < HANGUL_SBASE + HANGUL_SCOUNT)
        return (a - HANGUL_SBASE) % HANGUL_TCOUNT == 0 && b > HANGUL_TBASE && b < HANGUL_TBASE + HANGUL_TCOUNT
                   ? a + (b - HANGUL_TBASE)
                   : -1;
    utf8proc_int32_t pair[2] = {a, b};
    if (utf8proc_normalize_utf32(pair, 2, (utf8proc_option_t)(UTF8PROC_COMPOSE | UTF8PROC_STABLE)) != 1)
        return -1;
    int32_t d[RR_HF_NFD_MAX];
    /* a composite the older data lacks decomposes to itself there (U+11938) */
    return rr_hf_nfd(pair[0], d) > 1 ? pair[0] : -1;
}

/* cps[0..*m) += the canonical decomposition of cp, each mark moved before the marks of
 * higher combining class before it (canonical order). 0 when out of memory. */
static int push_decomposed(rr_spm_scratch *sc, size_t *m, int32_t cp) {
    int32_t d[RR_HF_NFD_MAX];
    const int nd = cp < 0xC0 ? (d[0] = cp, 1) : rr_hf_nfd(cp, d);
    if (*m + (size_t)nd > sc->cps_cap) {
        size_t c = sc->cps_cap ? 2 * sc->cps_cap : 64;
        while (c < *m + (size_t)nd)
            c *= 2;
        int32_t *q = realloc(sc->cps, c * sizeof *q);
        if (!q)
            return 0;
        sc->cps = q;
        sc->cps_cap = c;
    }
    for (int k = 0; k < nd; k++) {
        const int32_t x = d[k];
        const int ccc = x < 0x300 ? 0 : rr_hf_ccc(x);
        size_t at = *m;
        while (ccc && at > 0 && sc->cps[at - 1] >= 0x300 && rr_hf_ccc(sc->cps[at - 1]) > ccc) {
            sc->cps[at] = sc->cps[at - 1];
            at--;
        }
        sc->cps[at] = x;
        (*m)++;
    }
    return 1;
}

/* NFC of one segment s[0..n) into o: decompose, reorder, compose (unicode-normalization's
 * recomposition: a mark composes with the last starter unless a mark of the same or higher
 * class, or a starter, stands between; a starter only right after it). */
static int nfc_segment(rr_spm_scratch *sc, const uint8_t *s, size_t n, out_buf *o) {
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int l;
        if (!push_decomposed(sc, &m, decode_at(s, i, &l)))
            return 0;
        i += (size_t)l;
    }
    int32_t *c = sc->cps;
    long starter = -1;
    int last_ccc = -1; /* the class of the last mark kept after the starter; -1: none */
    size_t k = 0;
    for (size_t r = 0; r < m; r++) {
        const int32_t x = c[r];
        const int ccc = x < 0x300 ? 0 : rr_hf_ccc(x);
        if (starter >= 0 && last_ccc < ccc) {
            const int32_t comp = compose_pair(c[starter], x);
            if (comp >= 0) {
                c[starter] = comp;
                continue;
            }
        }
        if (ccc == 0) {
            starter = (long)k;
            last_ccc = -1;
        } else
            last_ccc = ccc;
        c[k++] = x;
    }
    for (size_t r = 0; r < k; r++) {
        uint8_t enc[4];
        put(o, enc, (size_t)utf8proc_encode_char(c[r], enc));
    }
    return 1;
}

/* NFC: 1 with the result in o, 0 when the text has nothing at or above U+0300 (it is NFC
 * already), -1 when out of memory. Below U+0300 every character is its own NFC and no
 * character composes with one before it, so the text is worked in segments: a code point
 * before a run of ones at or above U+0300 (lead bytes >= 0xCC), and that run. */
static int nfc(rr_spm_scratch *sc, const uint8_t *s, size_t n, out_buf *o) {
    size_t i = 0, done = 0;
    while (i < n && s[i] < 0xCC)
        i++;
    if (i == n)
        return 0;
    while (i < n) {
        size_t start = i;
        if (start > done) { /* the code point before it starts the segment */
            start--;
            while (start > done && (s[start] & 0xC0) == 0x80)
                start--;
        }
        put(o, s + done, start - done);
        size_t end = i;
        while (end < n && s[end] >= 0xCC)
            end += (size_t)cp_len(s[end]);
        if (!nfc_segment(sc, s + start, end - start, o))
            return -1;
        done = i = end;
        while (i < n && s[i] < 0xCC)
            i++;
    }
    put(o, s + done, n - done);
    return 1;
}

/* ---- Unigram --------------------------------------------------------------------------- */

static int grow_lattice(rr_spm_scratch *sc, size_t n) {
    if (n <= sc->lat_cap)
        return 1;
    size_t c = sc->lat_cap ? sc->lat_cap : 64;
    while (c < n)
        c *= 2;
    /* one block: best (doubles) first, then from, id and path; nothing in it outlives a call */
    double *b = malloc(c * (sizeof *b + 3 * sizeof(int32_t)));
    if (!b)
        return 0;
    free(sc->best);
    sc->best = b;
    sc->from = (int32_t *)(b + c);
    sc->id = sc->from + c;
    sc->path = sc->id + c;
    sc->lat_cap = c;
    return 1;
}

/* The best segmentation of w[0..m) (m < 2^31), emitted in order; 0 when emit said stop. */
static int unigram(const rr_spm *spm, const rr_vocab *vocab, rr_spm_scratch *sc, const uint8_t *w,
                   size_t m, rr_spm_emit emit, void *ctx) {
    double *best = sc->best;
    int32_t *from = sc->from, *id = sc->id;
    for (size_t k = 0; k <= m; k++)
        from[k] = -1;
    best[0] = 0;
    for (size_t at = 0; at < m;) {
        const size_t mblen = (size_t)cp_len(w[at]);
        const double here = best[at];
        int single = 0;
        /* the pieces that start here, shortest first: down the trie along w[at..m) */
        int32_t node = spm->wide[w[at]]; /* row 0: the root's */
        for (size_t len = 1; node >= 0; len++) {
            const int32_t p = spm->nodes[node].id;
            if (p >= 0) {
                double cand = spm->nodes[node].score + here;
                if (from[at + len] < 0 || cand > best[at + len]) {
                    best[at + len] = cand;
                    from[at + len] = (int32_t)at;
                    id[at + len] = p;
                }
                single |= len == mblen;
            }
            node = len < m - at ? trie_child(spm, (uint32_t)node, w[at + len]) : -1;
        }
        if (!single) {
            double cand = spm->unk_score + here;
            if (from[at + mblen] < 0 || cand > best[at + mblen]) {
                best[at + mblen] = cand;
                from[at + mblen] = (int32_t)at;
                id[at + mblen] = spm->unk_id;
            }
        }
        at += mblen;
    }
    /* Walk back from the end, fusing runs of unknowns; path collects the pieces' ends (a
     * piece starts where the one before it ends) */
    int32_t *path = sc->path;
    size_t np = 0;
    for (size_t end = m; end > 0;) {
        size_t start = (size_t)from[end];
        if (id[end] == spm->unk_id)
            while (start > 0 && id[start] == spm->unk_id)
                start = (size_t)from[start];
        if (id[end] == spm->unk_id)
            id[end] = -1; /* a fused run: looked up as one string below */
        path[np++] = (int32_t)end;
        end = start;
    }
    size_t start = 0;
    while (np) {
        const size_t end = (size_t)path[--np];
        int32_t p = id[end];
        if (p < 0) { /* the run's text is looked up as a piece, as tokenize does; else unknown */
            p = rr_vocab_get(vocab, (const char *)w + start, end - start);
            if (p < 0)
                p = spm->unk_id;
        }
        if (!emit(ctx, p))
            return 0;
        start = end;
    }
    return 1;
}

/* ---- the pipeline ---------------------------------------------------------------------- */

int rr_spm_normalize(const rr_spm *spm, rr_spm_scratch *sc, const uint8_t *s, size_t n,
                     const uint8_t **out, size_t *out_len, size_t *lead) {
    const uint8_t *cur = s;
    size_t len = n;
    int which = 0; /* the buffer the next step writes; cur is s or the other one */
    *lead = n ? (size_t)cp_len(s[0]) : 0;
    for (int k = 0; k < spm->num_steps && len; k++) {
        out_buf o = {&sc->buf[which], &sc->cap[which], 0, 0};
        const rr_spm_step *st = &spm->steps[k];
        int wrote = 1;
        if (st->kind == RR_SPM_PRECOMPILED)
            precompiled(spm, cur, len, &o, lead);
        else if (st->kind == RR_SPM_REPLACE)
            wrote = replace(st, cur, len, &o); /* (a run at the start: approximated as unmoved) */
        else if (st->kind == RR_SPM_NFC)
            wrote = nfc(sc, cur, len, &o); /* (lead: approximated as unmoved) */
        else if (st->kind == RR_SPM_LOWERCASE)
            wrote = lowercase(cur, len, &o); /* (lead: likewise) */
        else {
            size_t gone = strip(st, &cur, &len);
            *lead = *lead > gone ? *lead - gone : 0;
            wrote = 0;
        }
        if (o.failed || wrote < 0)
            return -1;
        if (wrote) {
            cur = *o.p;
            len = o.len;
            which ^= 1;
        }
    }
    *out = cur;
    *out_len = len;
    return 0;
}

rr_status rr_spm_normalize_alloc(const rr_spm *spm, const char *s, size_t n, char **out,
                                 size_t *out_len) {
    rr_spm_scratch sc;
    memset(&sc, 0, sizeof sc);
    const uint8_t *t;
    size_t len, lead;
    char *r = NULL;
    if (rr_spm_normalize(spm, &sc, (const uint8_t *)s, n, &t, &len, &lead) == 0 && (r = malloc(len + 1))) {
        memcpy(r, t, len);
        r[len] = 0;
    }
    rr_spm_scratch_free(&sc);
    if (!r)
        return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate a normalized string");
    *out = r;
    *out_len = len;
    return RR_OK;
}

/* Metaspace and Unigram over one piece: 0 to go on, 1 when emit said stop, -1 out of memory. */
static int metaspace(const rr_spm *spm, const rr_vocab *vocab, rr_spm_scratch *sc, const uint8_t *cur,
                     size_t len, int at_start, rr_spm_emit emit, void *ctx) {
    if (len == 0)
        return 0;
    /* Metaspace: spaces become the replacement; one is prepended unless there already */
    out_buf o = {&sc->buf[2], &sc->cap[2], 0, 0};
    const int starts = cur[0] == ' ' || (len >= spm->repl_len && !memcmp(cur, spm->repl, spm->repl_len));
    if (!starts && (spm->prepend == RR_SPM_PREPEND_ALWAYS || (spm->prepend == RR_SPM_PREPEND_FIRST && at_start)))
        put(&o, spm->repl, spm->repl_len);
    size_t plain = 0;
    for (size_t i = 0; i < len; i++)
        if (cur[i] == ' ') {
            put(&o, cur + plain, i - plain);
            put(&o, spm->repl, spm->repl_len);
            plain = i + 1;
        }
    put(&o, cur + plain, len - plain);
    if (o.failed || o.len > INT32_MAX || !grow_lattice(sc, o.len + 1))
        return -1;
    /* words: each replacement character starts one (MergedWithNext) */
    const uint8_t *t = *o.p, *r = (const uint8_t *)spm->repl;
    const size_t rl = spm->repl_len;
    size_t w = 0;
    for (size_t i = 1; spm->split && i + rl <= o.len; i++)
        if (t[i] == r[0] && !memcmp(t + i, r, rl)) {
            if (!unigram(spm, vocab, sc, t + w, i - w, emit, ctx))
                return 1;
            w = i;
            i += rl - 1;
        }
    return !unigram(spm, vocab, sc, t + w, o.len - w, emit, ctx);
}

int rr_spm_words(const rr_spm *spm, const rr_vocab *vocab, rr_spm_scratch *sc, const uint8_t *s,
                 size_t n, int at_start, size_t lead, rr_spm_emit emit, void *ctx) {
    if (spm->punct) {
        /* Punctuation(Isolated) first: each punctuation character is a piece, and so is each
         * run between them; prepend_scheme "first" holds for the first piece only */
        size_t i = 0, piece = 0;
        while (i < n) {
            int l;
            const int32_t cp = decode_at(s, i, &l);
            if (!rr_hf_is_punct(cp)) {
                i += (size_t)l;
                continue;
            }
            int r = metaspace(spm, vocab, sc, s + piece, i - piece, at_start && piece == 0, emit, ctx);
            if (!r)
                r = metaspace(spm, vocab, sc, s + i, (size_t)l, at_start && i == 0, emit, ctx);
            if (r)
                return r < 0 ? -1 : 0;
            piece = i += (size_t)l;
        }
        return metaspace(spm, vocab, sc, s + piece, n - piece, at_start && piece == 0, emit, ctx) < 0 ? -1 : 0;
    }
    if (!spm->ws_split)
        return metaspace(spm, vocab, sc, s, n, at_start, emit, ctx) < 0 ? -1 : 0;
    /* WhitespaceSplit first: Metaspace sees one word at a time, and prepend_scheme "first"
     * holds for a word that starts at the text's first character (its first `lead` bytes) */
    size_t i = 0;
    while (i < n) {
        int l;
        while (i < n && rr_is_space(rr_utf8_decode(s + i, &l)))
            i += (size_t)l;
        size_t start = i;
        while (i < n && !rr_is_space(rr_utf8_decode(s + i, &l)))
            i += (size_t)l;
        int r = metaspace(spm, vocab, sc, s + start, i - start, at_start && start < lead, emit, ctx);
        if (r)
            return r < 0 ? -1 : 0;
    }
    return 0;
}
