/* text/tokenizer_impl.h — the inside of rr_tokenizer, shared by the loader
 * (tokenizer_load.c) and the encoder (tokenizer.c). Not a public header. */
#ifndef RR_TEXT_TOKENIZER_IMPL_H
#define RR_TEXT_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/tokenizer.h"
#include "text/bpe.h"
#include "text/hf_unicode.h"
#include "text/sentencepiece.h"
#include "text/vocab.h"

/* What BertNormalizer + BertPreTokenizer make of an ASCII byte. */
enum { RR_CH_WORD = 0, RR_CH_SPACE, RR_CH_PUNCT, RR_CH_DROP };

/* Normalization options plus their ASCII fast-path tables. */
typedef struct rr_text_opts {
    int clean_text, handle_chinese_chars, strip_accents, lowercase;
    uint8_t ascii_class[128]; /* RR_CH_* */
    uint8_t ascii_map[128];   /* the byte after lowercasing */
} rr_text_opts;

/* A token of the added vocabulary (tokenizer.json "added_tokens", or the special tokens of
 * tokenizer_config.json): matched in the text before WordPiece sees it. */
typedef struct rr_added_token {
    char *content;      /* as written */
    size_t len;
    char *match;        /* what is searched for: content, or content normalized */
    size_t match_len;
    int32_t id;
    int normalized;     /* matched in the normalized text (else in the raw input) */
    int single_word;    /* only when not touching word characters on either side */
    int lstrip, rstrip; /* the match takes the whitespace before / after it */
} rr_added_token;

struct rr_tokenizer {
    rr_vocab vocab;           /* every token (WordPiece) or piece (Unigram) -> id */
    rr_spm *spm;              /* Unigram: SentencePiece normalizers, Metaspace and scores;
                               * NULL: WordPiece with BertNormalizer + BertPreTokenizer */
    rr_bpe *bpe;              /* byte-level BPE: ByteLevel and merges (RoBERTa); NULL otherwise */
    rr_vocab cont;            /* continuation pieces: "##ing" stored as "ing" */
    rr_text_opts norm;        /* the model's normalizer (WordPiece) */
    rr_text_opts ident;       /* no normalization: for text already normalized */
    int32_t ascii_single_id[128]; /* id of the one-byte word b, unk when absent */
    rr_added_token *added;    /* [num_added], longest first within equal first bytes */
    int num_added;
    int has_raw_added, has_normalized_added;
    uint8_t raw_first[256];   /* 1: some raw added token starts with this byte */
    uint8_t norm_first[256];  /* 1: some normalized added token starts with this byte */
    int32_t added_from[256], added_to[256]; /* added[from, to): the tokens that start with this byte */
    rr_tokenizer_info info;
};

/* Grow an array to hold need elements (capacity doubles); NULL when out of memory, the old
 * array left as it was. rr_grow_bytes: the same for a byte buffer, 0 when out of memory. */
void *rr_grow(void *p, size_t *cap, size_t need, size_t elem);
int rr_grow_bytes(uint8_t **p, size_t *cap, size_t need);

/* Fill the ASCII tables of o from its options. */
void rr_text_opts_prepare(rr_text_opts *o);

/* Normalize text (valid UTF-8) as BertNormalizer does with options o, into a malloc'd
 * buffer (free it). Used at load time for normalized added tokens. */
rr_status rr_text_normalize_alloc(const rr_text_opts *o, const char *text, size_t len,
                                  char **out, size_t *out_len);

/* Offset of the first invalid UTF-8 sequence in s, or len when all of it is valid. */
size_t rr_utf8_invalid_at(const unsigned char *s, size_t len);

/* Decode one code point of valid UTF-8 (checked beforehand); *n = its byte length. */
static inline int32_t rr_utf8_decode(const uint8_t *s, int *n) {
    const uint8_t b = s[0];
    if (b < 0x80) {
        *n = 1;
        return b;
    }
    if (b < 0xE0) {
        *n = 2;
        return ((int32_t)(b & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (b < 0xF0) {
        *n = 3;
        return ((int32_t)(b & 0x0F) << 12) | ((int32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *n = 4;
    return ((int32_t)(b & 0x07) << 18) | ((int32_t)(s[1] & 0x3F) << 12) | ((int32_t)(s[2] & 0x3F) << 6) |
           (s[3] & 0x3F);
}

/* Rust's char::is_whitespace (Unicode White_Space) for any code point. */
static inline int rr_is_space(int32_t cp) {
    return cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 0x80 && rr_hf_is_whitespace(cp));
}

#endif
