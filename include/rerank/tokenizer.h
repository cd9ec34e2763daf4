/* rerank/tokenizer.h — tokenization identical to Hugging Face's fast tokenizers: BERT's
 * WordPiece (BERT, ELECTRA, DistilBERT, MPNet), SentencePiece Unigram (XLM-RoBERTa, DeBERTa-v2/v3)
 * and byte-level BPE (RoBERTa).
 *
 * Loaded from a model directory: tokenizer.json when present (normalizer options, vocab,
 * WordPiece settings, the Unigram pieces, charsmap and Metaspace, or the BPE vocabulary and
 * merges), otherwise vocab.txt +
 * tokenizer_config.json (WordPiece). Special-token ids ([CLS], [SEP], [PAD], [UNK]; <s>,
 * </s>, <pad>, <unk>) are looked up in the vocab, never assumed.
 *
 * A loaded tokenizer is immutable: any number of threads may encode with it at once, each
 * with its own rr_encoding. Encoding never allocates once an rr_encoding has grown to the
 * largest text it has seen.
 */
#ifndef RERANK_TOKENIZER_H
#define RERANK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_tokenizer rr_tokenizer;

/* Token ids of one encoded input: [CLS] a [SEP] (single) or [CLS] a [SEP] b [SEP] (pair;
 * MPNet's template doubles the middle separator: <s> a </s> </s> b </s>).
 * ids/type_ids hold len entries. The remaining fields are scratch owned by the encoding. */
typedef struct rr_encoding {
    int32_t *ids;      /* [len] */
    int32_t *type_ids; /* [len] 0 for the first segment (with [CLS] and its [SEP]), then the
                          template's type of the second (1; 0 for RobertaProcessing) */
    int32_t len;
    int32_t cap;       /* capacity of ids/type_ids */
    void *scratch;     /* tokenizer-private working memory, grown as needed */
    size_t scratch_cap;
} rr_encoding;

typedef struct rr_tokenizer_info {
    int32_t vocab_size;
    int32_t cls_id, sep_id, pad_id, unk_id;
    int lowercase;               /* BertNormalizer.lowercase / do_lower_case */
    int strip_accents;           /* resolved: 1 strip, 0 keep (null follows lowercase) */
    int handle_chinese_chars;    /* tokenize_chinese_chars */
    int clean_text;
    int32_t max_input_chars_per_word; /* longer words become [UNK] (default 100) */
    int32_t model_max_length;    /* from tokenizer_config.json; 512 when absent */
    int32_t pair_seps;           /* separators between a pair's two texts: 1 (BERT), 2 (MPNet) */
    int32_t pair_second_type;    /* type id of the second text and its [SEP]: 1, or 0 */
} rr_tokenizer_info;

/* Load from a Hugging Face model directory. */
rr_status rr_tokenizer_load(const char *model_dir, rr_tokenizer **out);
void rr_tokenizer_free(rr_tokenizer *tok);
rr_tokenizer_info rr_tokenizer_get_info(const rr_tokenizer *tok);

/* Look up a token string; -1 when absent. */
int32_t rr_tokenizer_token_id(const rr_tokenizer *tok, const char *token);

void rr_encoding_init(rr_encoding *enc);
void rr_encoding_free(rr_encoding *enc);

/* [CLS] text [SEP], the text truncated so the whole fits max_length (>= 2) tokens.
 * text is UTF-8 of len bytes (need not be NUL-terminated); invalid UTF-8 is an error. */
rr_status rr_tokenizer_encode(const rr_tokenizer *tok, const char *text, size_t len,
                              int32_t max_length, rr_encoding *out);

/* [CLS] a [SEP] b [SEP] (MPNet: [CLS] a [SEP] [SEP] b [SEP]) with token type ids, truncated to
 * max_length (>= 2 + pair_seps) tokens with Hugging Face's longest_first strategy (as the
 * `tokenizers` library implements it). */
rr_status rr_tokenizer_encode_pair(const rr_tokenizer *tok, const char *a, size_t a_len,
                                   const char *b, size_t b_len, int32_t max_length,
                                   rr_encoding *out);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_TOKENIZER_H */
