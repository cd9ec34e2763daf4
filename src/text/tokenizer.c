/* text/tokenizer.c — encoding: Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece +
 * TemplateProcessing, fused into one pass over the bytes of the text.
 *
 * Hugging Face runs the stages one after the other over whole strings (normalize the text,
 * split it into words, split each word into pieces). Every stage except WordPiece works
 * code point by code point, so here each input code point goes through all of them at once:
 *   clean_text -> chinese padding -> NFD + drop Mn -> lowercase -> whitespace/punctuation
 * and the code points that survive are appended to the current word, which WordPiece
 * splits when a separator ends it. ASCII takes a table lookup per byte; everything else
 * asks hf_unicode.c. The one non-local rule of NFD, canonical reordering of combining
 * marks, is applied inside the word (a starter or separator always ends a reorder run).
 *
 * Added tokens ([CLS], [SEP], [MASK]... found in the text itself) are split out of the raw
 * text first, as Hugging Face's AddedVocabulary does (leftmost-longest match). Tokens
 * flagged "normalized" are searched for in the normalized text: when a tokenizer has any,
 * each segment is normalized into a buffer first and then split without further
 * normalization (the slow path; BERT's special tokens are never normalized).
 *
 * A SentencePiece Unigram tokenizer (XLM-RoBERTa's; tok->spm) shares the added-token split and
 * the truncation and templates here; the text between added tokens goes through
 * sentencepiece.c (its normalizers, Metaspace, Viterbi) instead of the fused BERT pass. A
 * byte-level BPE tokenizer (RoBERTa's, ModernBERT's; tok->bpe) has no normalizer or NFC
 * (tok->bpe->norm, run by sentencepiece.c's rr_spm_normalize): that text goes through bpe.c
 * (ByteLevel's split and the merges).
 *
 * Truncation: a single text stops being read once max_length - 2 tokens are out. A pair
 * needs both full lengths (longest_first compares them), then keeps what the `tokenizers`
 * library keeps (utils/truncation.rs).
 */
#include <stdlib.h>
#include <string.h>

#include "rerank/tokenizer.h"
#include "text/hf_unicode.h"
#include "text/tokenizer_impl.h"
#include "util/error.h"

/* Working memory of one rr_encoding (its scratch pointer). */
typedef struct rr_tok_scratch {
    int32_t *a;     /* [a_cap] tokens of the first text */
    size_t a_cap;
    int32_t *b;     /* [b_cap] tokens of the second text */
    size_t b_cap;
    uint8_t *word;  /* [word_cap] the current word, normalized UTF-8 */
    size_t word_cap;
    uint8_t *norm;  /* [norm_cap] a normalized segment (normalized added tokens only) */
    size_t norm_cap;
    rr_spm_scratch spm; /* Unigram tokenizers; a BPE tokenizer's NFC */
    rr_bpe_scratch bpe; /* byte-level BPE tokenizers */
} rr_tok_scratch;

/* Where token ids go while a text is read. */
typedef struct rr_sink {
    int32_t **buf;  /* &scratch->a or &scratch->b: grown in place */
    size_t *cap;
    size_t len;
    size_t limit;   /* stop reading once len reaches it */
} rr_sink;

typedef struct rr_enc_ctx {
    const rr_tokenizer *tok;
    rr_tok_scratch *sc;
    rr_sink *sink;
    size_t wlen;    /* bytes in sc->word */
    size_t wchars;  /* code points in the word (may exceed what is stored) */
    int failed;     /* an allocation failed: the result is void */
} rr_enc_ctx;

void *rr_grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (q)
        *cap = n;
    return q;
}

int rr_grow_bytes(uint8_t **p, size_t *cap, size_t need) {
    uint8_t *q = rr_grow(*p, cap, need, 1);
    if (!q)
        return 0;
    *p = q;
    return 1;
}

static inline void sink_push(rr_enc_ctx *c, int32_t id) {
    rr_sink *k = c->sink;
    if (k->len == *k->cap) {
        int32_t *q = rr_grow(*k->buf, k->cap, k->len + 1, sizeof(int32_t));
        if (!q) {
            c->failed = 1;
            return;
        }
        *k->buf = q;
    }
    (*k->buf)[k->len++] = id;
}

static inline int sink_full(const rr_enc_ctx *c) { return c->sink->len >= c->sink->limit; }

/* ---- WordPiece ------------------------------------------------------------------------- */

/* Greedy longest-match-first over the word's bytes, as tokenizers' WordPiece::tokenize: at
 * each start the longest vocabulary entry (a "##" entry after the first piece) wins; one
 * position without any match makes the whole word [UNK]. Candidates longer than the longest
 * key cannot match and are not tried. */
static void wordpiece(rr_enc_ctx *c, const uint8_t *w, size_t len, size_t nchars) {
    const rr_tokenizer *tok = c->tok;
    if (len == 0)
        return;
    if (nchars > (size_t)tok->info.max_input_chars_per_word) {
        sink_push(c, tok->info.unk_id);
        return;
    }
    if (len == 1) {
        sink_push(c, tok->ascii_single_id[w[0]]);
        return;
    }
    size_t mark = c->sink->len;
    const rr_vocab *table = &tok->vocab;
    size_t start = 0;
    while (start < len) {
        size_t end = len;
        if (end - start > table->max_key_len) {
            end = start + table->max_key_len;
            while (end > start && (w[end] & 0xC0) == 0x80)
                end--;
        }
        int32_t id = -1;
        while (end > start) {
            id = rr_vocab_get(table, (const char *)w + start, end - start);
            if (id >= 0)
                break;
            do
                end--;
            while (end > start && (w[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            c->sink->len = mark;
            sink_push(c, tok->info.unk_id);
            return;
        }
        sink_push(c, id);
        start = end;
        table = &tok->cont;
    }
}

static inline void word_flush(rr_enc_ctx *c) {
    if (c->wchars) {
        wordpiece(c, c->sc->word, c->wlen, c->wchars);
        c->wlen = 0;
        c->wchars = 0;
    }
}

/* ---- UTF-8 ----------------------------------------------------------------------------- */

static inline int utf8_encode(int32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* The code point that ends at s[end] (exclusive) and its start offset. */
static int32_t utf8_decode_before(const uint8_t *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && (s[i] & 0xC0) == 0x80)
        i--;
    *start = i;
    if (s[i] < 0x80)
        return s[i];
    int n;
    return rr_utf8_decode(s + i, &n);
}

size_t rr_utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (b >= 0xC2 && b <= 0xDF) {
            n = 2;
            cp = b & 0x1Fu;
            min = 0x80;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 3;
            cp = b & 0x0Fu;
            min = 0x800;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 4;
            cp = b & 0x07u;
            min = 0x10000;
        } else {
            return i;
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

/* Append cp to buf (growing it). With reorder (NFD was applied), a combining mark moves
 * before the marks of higher combining class that precede it: canonical ordering. */
static int append_cp(uint8_t **buf, size_t *cap, size_t *len, int32_t cp, int reorder) {
    if (!rr_grow_bytes(buf, cap, *len + 4))
        return 0;
    uint8_t enc[4];
    int n = utf8_encode(cp, enc);
    size_t at = *len;
    int ccc;
    if (reorder && cp >= 0x300 && (ccc = rr_hf_ccc(cp)) > 0) {
        while (at > 0) {
            size_t prev;
            int32_t p = utf8_decode_before(*buf, at, &prev);
            int pc = p < 0x300 ? 0 : rr_hf_ccc(p);
            if (pc <= ccc)
                break;
            at = prev;
        }
        memmove(*buf + at + n, *buf + at, *len - at);
    }
    memcpy(*buf + at, enc, (size_t)n);
    *len += (size_t)n;
    return 1;
}

/* ---- normalization and pre-tokenization ------------------------------------------------ */

void rr_text_opts_prepare(rr_text_opts *o) {
    for (int b = 0; b < 128; b++) {
        uint8_t cls;
        if (o->clean_text && (b == 0 || ((b < 32 || b == 127) && b != '\t' && b != '\n' && b != '\r')))
            cls = RR_CH_DROP; /* NUL and control characters (\v and \f too: removed first) */
        else if (b == ' ' || (b >= 9 && b <= 13))
            cls = RR_CH_SPACE;
        else if (rr_hf_is_punct(b))
            cls = RR_CH_PUNCT;
        else
            cls = RR_CH_WORD;
        o->ascii_class[b] = cls;
        o->ascii_map[b] = (uint8_t)((o->lowercase && b >= 'A' && b <= 'Z') ? b + 32 : b);
    }
}

/* What BertNormalizer makes of one non-ASCII code point: 0..16 code points in out; *pad = a
 * CJK ideograph that gets spaces on both sides. A whitespace comes back as ' '. */
static int normalize_cp(const rr_text_opts *o, int32_t cp, int32_t out[2 * RR_HF_NFD_MAX],
                        int *pad) {
    *pad = 0;
    if (o->clean_text) {
        if (cp == 0xFFFD || rr_hf_is_other(cp))
            return 0;
        if (rr_hf_is_whitespace(cp)) {
            out[0] = ' ';
            return 1;
        }
    }
    *pad = o->handle_chinese_chars && rr_hf_is_cjk(cp);
    int32_t d[RR_HF_NFD_MAX];
    int nd = 1;
    d[0] = cp;
    if (o->strip_accents)
        nd = rr_hf_nfd(cp, d);
    int n = 0;
    for (int i = 0; i < nd; i++) {
        if (o->strip_accents && rr_hf_is_mn(d[i]))
            continue;
        if (o->lowercase && d[i] >= 0x80) {
            n += rr_hf_lower(d[i], out + n);
        } else {
            int32_t x = d[i];
            out[n++] = (o->lowercase && x >= 'A' && x <= 'Z') ? x + 32 : x;
        }
    }
    return n;
}

static inline int ascii_is_space(int32_t cp) { return cp == ' ' || (cp >= 9 && cp <= 13); }

/* One normalized code point into the pre-tokenizer: a separator ends the word, punctuation
 * is a word of its own, anything else extends the word. */
static void pretok_cp(rr_enc_ctx *c, int32_t cp, int reorder) {
    if (cp < 0x80) {
        if (ascii_is_space(cp)) {
            word_flush(c);
            return;
        }
        if (rr_hf_is_punct(cp)) {
            word_flush(c);
            sink_push(c, c->tok->ascii_single_id[cp]);
            return;
        }
    } else if (rr_hf_is_whitespace(cp)) {
        word_flush(c);
        return;
    } else if (rr_hf_is_punct(cp)) {
        word_flush(c);
        uint8_t enc[4];
        int n = utf8_encode(cp, enc);
        wordpiece(c, enc, (size_t)n, 1);
        return;
    }
    c->wchars++;
    if (c->wchars > (size_t)c->tok->info.max_input_chars_per_word)
        return; /* the word will be [UNK]: its bytes are not needed */
    if (!append_cp(&c->sc->word, &c->sc->word_cap, &c->wlen, cp, reorder))
        c->failed = 1;
}

static void process_cp(rr_enc_ctx *c, const rr_text_opts *o, int32_t cp) {
    int32_t out[2 * RR_HF_NFD_MAX];
    int pad;
    int n = normalize_cp(o, cp, out, &pad);
    if (pad)
        word_flush(c);
    for (int i = 0; i < n; i++)
        pretok_cp(c, out[i], o->strip_accents);
    if (pad)
        word_flush(c);
}

/* Normalize, split and WordPiece s[0..n) with options o (added tokens already removed). */
static void run_segment(rr_enc_ctx *c, const rr_text_opts *o, const uint8_t *s, size_t n) {
    const rr_tokenizer *tok = c->tok;
    const size_t max_chars = (size_t)tok->info.max_input_chars_per_word;
    size_t i = 0;
    while (i < n && !c->failed) {
        uint8_t b = s[i];
        if (b < 0x80) {
            switch (o->ascii_class[b]) {
            case RR_CH_WORD: {
                /* A run of plain ASCII word bytes: the common case. */
                size_t j = i;
                while (j < n && s[j] < 0x80 && o->ascii_class[s[j]] == RR_CH_WORD)
                    j++;
                size_t run = j - i;
                size_t room = c->wchars < max_chars ? max_chars + 1 - c->wchars : 0;
                size_t keep = run < room ? run : room;
                if (keep) {
                    if (!rr_grow_bytes(&c->sc->word, &c->sc->word_cap, c->wlen + keep)) {
                        c->failed = 1;
                        return;
                    }
                    uint8_t *w = c->sc->word + c->wlen;
                    for (size_t k = 0; k < keep; k++)
                        w[k] = o->ascii_map[s[i + k]];
                    c->wlen += keep;
                }
                c->wchars += run;
                i = j;
                continue;
            }
            case RR_CH_SPACE:
                word_flush(c);
                break;
            case RR_CH_PUNCT:
                word_flush(c);
                sink_push(c, tok->ascii_single_id[o->ascii_map[b]]);
                break;
            default: /* RR_CH_DROP */
                break;
            }
            i++;
        } else {
            int len;
            int32_t cp = rr_utf8_decode(s + i, &len);
            i += (size_t)len;
            process_cp(c, o, cp);
        }
        if (sink_full(c))
            return;
    }
    word_flush(c);
}

/* ---- added tokens ---------------------------------------------------------------------- */

/* The longest added token (raw or normalized ones, per `normalized`) at s[i], or NULL. */
static const rr_added_token *added_match(const rr_tokenizer *tok, int normalized,
                                         const uint8_t *s, size_t n, size_t i) {
    /* the tokens that start with s[i], longest first (a tokenizer.json of the GPT-NeoX line has
     * 23 runs of spaces among its added tokens: each space of the text would try them all) */
    for (int k = tok->added_from[s[i]]; k < tok->added_to[s[i]]; k++) {
        const rr_added_token *t = &tok->added[k];
        if (t->normalized != normalized || t->match_len > n - i)
            continue;
        if (t->match_len > 1 && s[i + 1] != (uint8_t)t->match[1]) /* a single space, against 23 runs */
            continue;
        if (memcmp(s + i, t->match, t->match_len) == 0)
            return t;
    }
    return NULL;
}

/* single_word: no word character right before or right after the match. */
static int single_word_ok(const uint8_t *s, size_t n, size_t start, size_t end) {
    if (start > 0) {
        size_t prev;
        if (rr_hf_is_word_char(utf8_decode_before(s, start, &prev)))
            return 0;
    }
    if (end < n) {
        int len;
        int32_t cp = s[end] < 0x80 ? s[end] : rr_utf8_decode(s + end, &len);
        if (rr_hf_is_word_char(cp))
            return 0;
    }
    return 1;
}

static void run_raw_piece(rr_enc_ctx *c, const uint8_t *s, size_t n, int at_start);

/* rr_spm_words' and rr_bpe_words' sink: the ids go where WordPiece's go. */
static int spm_emit(void *ctx, int32_t id) {
    rr_enc_ctx *c = ctx;
    sink_push(c, id);
    return !c->failed && !sink_full(c);
}

/* Text free of added tokens, already normalized: into words and pieces. */
static void run_normalized(rr_enc_ctx *c, const uint8_t *s, size_t n, int at_start, size_t lead) {
    const rr_tokenizer *tok = c->tok;
    if (tok->bpe) {
        if (rr_bpe_words(tok->bpe, &tok->vocab, &c->sc->bpe, s, n, spm_emit, c) < 0)
            c->failed = 1;
    } else if (!tok->spm)
        run_segment(c, &tok->ident, s, n);
    else if (rr_spm_words(tok->spm, &tok->vocab, &c->sc->spm, s, n, at_start, lead, spm_emit, c) < 0)
        c->failed = 1;
}

/* Split s[0..n) at the added tokens of one kind; the pieces between go to run_raw_piece (raw
 * pass) or run_normalized (normalized pass). at_start: s begins the text; lead: the
 * normalized pass's rr_spm_normalize lead. lstrip / rstrip tokens take the whitespace next
 * to them, as AddedVocabulary's find_matches does. */
static void split_added(rr_enc_ctx *c, int normalized, const uint8_t *s, size_t n, int at_start,
                        size_t lead) {
    const rr_tokenizer *tok = c->tok;
    const uint8_t *first = normalized ? tok->norm_first : tok->raw_first;
    size_t seg = 0, i = 0;
    while (i < n && !c->failed) {
        if (!first[s[i]]) {
            i++;
            continue;
        }
        const rr_added_token *t = added_match(tok, normalized, s, n, i);
        if (!t) {
            i++;
            continue;
        }
        size_t start = i, end = i + t->match_len;
        if (t->single_word && !single_word_ok(s, n, i, end)) {
            i = end; /* the matcher moves past a rejected match, like Aho-Corasick's iterator */
            continue;
        }
        size_t prev;
        while (t->lstrip && start > seg && rr_is_space(utf8_decode_before(s, start, &prev)))
            start = prev;
        int len;
        while (t->rstrip && end < n && rr_is_space(rr_utf8_decode(s + end, &len)))
            end += (size_t)len;
        if (seg < start) {
            if (normalized)
                run_normalized(c, s + seg, start - seg, at_start && seg == 0, lead);
            else
                run_raw_piece(c, s + seg, start - seg, at_start && seg == 0);
        }
        if (sink_full(c))
            return;
        sink_push(c, t->id);
        if (sink_full(c))
            return;
        seg = i = end;
    }
    if (seg < n && !c->failed) {
        if (normalized)
            run_normalized(c, s + seg, n - seg, at_start && seg == 0, lead);
        else
            run_raw_piece(c, s + seg, n - seg, at_start && seg == 0);
    }
}

/* Materialize BertNormalizer's output of s[0..n) into *buf (grown as needed). */
static int normalize_into(const rr_text_opts *o, const uint8_t *s, size_t n, uint8_t **buf,
                          size_t *cap, size_t *len) {
    *len = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            if (o->ascii_class[b] == RR_CH_DROP)
                continue;
            int32_t x = (o->clean_text && o->ascii_class[b] == RR_CH_SPACE) ? ' ' : o->ascii_map[b];
            if (!append_cp(buf, cap, len, x, 0))
                return 0;
            continue;
        }
        int blen;
        int32_t cp = rr_utf8_decode(s + i, &blen);
        i += (size_t)blen;
        int32_t out[2 * RR_HF_NFD_MAX];
        int pad;
        int m = normalize_cp(o, cp, out, &pad);
        if (pad && !append_cp(buf, cap, len, ' ', 0))
            return 0;
        for (int k = 0; k < m; k++)
            if (!append_cp(buf, cap, len, out[k], o->strip_accents))
                return 0;
        if (pad && !append_cp(buf, cap, len, ' ', 0))
            return 0;
    }
    return 1;
}

/* Raw text free of raw added tokens: normalized and split into words, through the search
 * for normalized added tokens when the tokenizer has any. */
static void run_raw_piece(rr_enc_ctx *c, const uint8_t *s, size_t n, int at_start) {
    const rr_tokenizer *tok = c->tok;
    const uint8_t *norm;
    size_t len, lead;
    if (tok->bpe) { /* without a normalizer, normalized added tokens are matched in the raw text */
        if (tok->bpe->norm) {
            if (rr_spm_normalize(tok->bpe->norm, &c->sc->spm, s, n, &norm, &len, &lead) < 0) {
                c->failed = 1;
                return;
            }
            s = norm;
            n = len;
        }
        if (tok->has_normalized_added)
            split_added(c, 1, s, n, at_start, 0);
        else
            run_normalized(c, s, n, at_start, 0);
        return;
    }
    if (tok->spm) {
        if (rr_spm_normalize(tok->spm, &c->sc->spm, s, n, &norm, &len, &lead) < 0)
            c->failed = 1;
        else if (tok->has_normalized_added)
            split_added(c, 1, norm, len, at_start, lead);
        else
            run_normalized(c, norm, len, at_start, lead);
        return;
    }
    if (!tok->has_normalized_added) {
        run_segment(c, &tok->norm, s, n);
        return;
    }
    if (!normalize_into(&tok->norm, s, n, &c->sc->norm, &c->sc->norm_cap, &len)) {
        c->failed = 1;
        return;
    }
    split_added(c, 1, c->sc->norm, len, at_start, 0);
}

rr_status rr_text_normalize_alloc(const rr_text_opts *o, const char *text, size_t len,
                                  char **out, size_t *out_len) {
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!rr_grow_bytes(&buf, &cap, len + 16) ||
        !normalize_into(o, (const uint8_t *)text, len, &buf, &cap, &n) ||
        !rr_grow_bytes(&buf, &cap, n + 1)) {
        free(buf);
        return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate a normalized string");
    }
    buf[n] = 0;
    *out = (char *)buf;
    *out_len = n;
    return RR_OK;
}

/* ---- public API ------------------------------------------------------------------------ */

void rr_encoding_init(rr_encoding *enc) { memset(enc, 0, sizeof *enc); }

void rr_encoding_free(rr_encoding *enc) {
    if (!enc)
        return;
    rr_tok_scratch *sc = enc->scratch;
    if (sc) {
        free(sc->a);
        free(sc->b);
        free(sc->word);
        free(sc->norm);
        rr_spm_scratch_free(&sc->spm);
        rr_bpe_scratch_free(&sc->bpe);
        free(sc);
    }
    free(enc->ids);
    free(enc->type_ids);
    memset(enc, 0, sizeof *enc);
}

static rr_status encoding_prepare(rr_encoding *enc, rr_tok_scratch **sc) {
    if (!enc->scratch) {
        enc->scratch = calloc(1, sizeof(rr_tok_scratch));
        if (!enc->scratch)
            return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate encoding scratch");
        enc->scratch_cap = sizeof(rr_tok_scratch);
    }
    *sc = enc->scratch;
    return RR_OK;
}

static rr_status encoding_reserve(rr_encoding *enc, size_t n) {
    if (n > INT32_MAX)
        return rr_error(RR_ERR_INVALID_ARG, "tokenizer: %zu tokens do not fit an encoding", n);
    if ((size_t)enc->cap >= n)
        return RR_OK;
    size_t cap = enc->cap ? (size_t)enc->cap : 64;
    while (cap < n)
        cap *= 2;
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    int32_t *ids = realloc(enc->ids, cap * sizeof *ids);
    if (ids)
        enc->ids = ids;
    int32_t *types = realloc(enc->type_ids, cap * sizeof *types);
    if (types)
        enc->type_ids = types;
    if (!ids || !types)
        return rr_error(RR_ERR_NOMEM, "tokenizer: cannot allocate %zu token ids", cap);
    enc->cap = (int32_t)cap;
    return RR_OK;
}

/* Tokenize one text into *buf (scratch), reading no further than limit tokens need. */
static rr_status tokenize_text(const rr_tokenizer *tok, rr_tok_scratch *sc, const char *text,
                               size_t len, const char *which, int32_t **buf, size_t *cap,
                               size_t limit, size_t *n_out) {
    if (!text && len)
        return rr_error(RR_ERR_INVALID_ARG, "tokenizer: %s text is NULL with length %zu", which, len);
    size_t bad = rr_utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len)
        return rr_error(RR_ERR_FORMAT, "tokenizer: %s text: invalid UTF-8 at byte %zu", which, bad);
    rr_sink sink = {buf, cap, 0, limit};
    rr_enc_ctx c = {tok, sc, &sink, 0, 0, 0};
    if (len && limit) {
        if (tok->has_raw_added)
            split_added(&c, 0, (const uint8_t *)text, len, 1, 0);
        else
            run_raw_piece(&c, (const uint8_t *)text, len, 1);
    }
    if (c.failed)
        return rr_error(RR_ERR_NOMEM, "tokenizer: out of memory tokenizing %zu bytes", len);
    *n_out = sink.len < limit ? sink.len : limit;
    return RR_OK;
}

rr_status rr_tokenizer_encode(const rr_tokenizer *tok, const char *text, size_t len,
                              int32_t max_length, rr_encoding *out) {
    if (!tok || !out)
        return rr_error(RR_ERR_INVALID_ARG, "rr_tokenizer_encode: NULL tokenizer or encoding");
    if (max_length < 2)
        return rr_error(RR_ERR_INVALID_ARG,
                        "rr_tokenizer_encode: max_length %d leaves no room for [CLS] and [SEP]",
                        (int)max_length);
    out->len = 0;
    rr_tok_scratch *sc = NULL;
    RR_TRY(encoding_prepare(out, &sc));
    size_t n;
    RR_TRY(tokenize_text(tok, sc, text, len, "input", &sc->a, &sc->a_cap,
                         (size_t)max_length - 2, &n));
    RR_TRY(encoding_reserve(out, n + 2));
    out->ids[0] = tok->info.cls_id;
    if (n)
        memcpy(out->ids + 1, sc->a, n * sizeof(int32_t));
    out->ids[n + 1] = tok->info.sep_id;
    memset(out->type_ids, 0, (n + 2) * sizeof(int32_t));
    out->len = (int32_t)(n + 2);
    return RR_OK;
}

/* tokenizers' TruncationStrategy::LongestFirst for two sequences and a budget m: the
 * shorter keeps its length when the longer still gets at least as much; otherwise both
 * get m/2, the extra token of an odd m going to the longer (the second when equal). */
static void longest_first(size_t n_a, size_t n_b, size_t m, size_t *keep_a, size_t *keep_b) {
    if (n_a + n_b <= m) {
        *keep_a = n_a;
        *keep_b = n_b;
        return;
    }
    size_t n1 = n_a, n2 = n_b;
    int swap = n1 > n2;
    if (swap) {
        n1 = n_b;
        n2 = n_a;
    }
    if (n1 > m)
        n2 = n1;
    else
        n2 = n1 > m - n1 ? n1 : m - n1;
    if (n1 + n2 > m) {
        n1 = m / 2;
        n2 = n1 + m % 2;
    }
    if (swap) {
        size_t t = n1;
        n1 = n2;
        n2 = t;
    }
    *keep_a = n_a < n1 ? n_a : n1;
    *keep_b = n_b < n2 ? n_b : n2;
}

rr_status rr_tokenizer_encode_pair(const rr_tokenizer *tok, const char *a, size_t a_len,
                                   const char *b, size_t b_len, int32_t max_length,
                                   rr_encoding *out) {
    if (!tok || !out)
        return rr_error(RR_ERR_INVALID_ARG, "rr_tokenizer_encode_pair: NULL tokenizer or encoding");
    const size_t seps = (size_t)tok->info.pair_seps, specials = 2 + seps;
    if (max_length < (int32_t)specials)
        return rr_error(RR_ERR_INVALID_ARG,
                        "rr_tokenizer_encode_pair: max_length %d leaves no room for the %zu special "
                        "tokens of a pair", (int)max_length, specials);
    out->len = 0;
    rr_tok_scratch *sc = NULL;
    RR_TRY(encoding_prepare(out, &sc));
    size_t n_a, n_b;
    RR_TRY(tokenize_text(tok, sc, a, a_len, "first", &sc->a, &sc->a_cap, SIZE_MAX, &n_a));
    RR_TRY(tokenize_text(tok, sc, b, b_len, "second", &sc->b, &sc->b_cap, SIZE_MAX, &n_b));
    size_t keep_a, keep_b;
    longest_first(n_a, n_b, (size_t)max_length - specials, &keep_a, &keep_b);
    size_t total = keep_a + keep_b + specials;
    RR_TRY(encoding_reserve(out, total));
    int32_t *ids = out->ids, *types = out->type_ids;
    size_t k = 0;
    ids[k++] = tok->info.cls_id;
    if (keep_a)
        memcpy(ids + k, sc->a, keep_a * sizeof(int32_t));
    k += keep_a;
    for (size_t i = 0; i < seps; i++)
        ids[k++] = tok->info.sep_id;
    size_t first_len = k;
    if (keep_b)
        memcpy(ids + k, sc->b, keep_b * sizeof(int32_t));
    k += keep_b;
    ids[k++] = tok->info.sep_id;
    for (size_t i = 0; i < total; i++)
        types[i] = i < first_len ? 0 : tok->info.pair_second_type;
    out->len = (int32_t)total;
    return RR_OK;
}
