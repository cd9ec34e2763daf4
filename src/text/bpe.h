/* text/bpe.h — byte-level BPE, as the tokenizer.json of a RoBERTa or ModernBERT checkpoint
 * describes it:
 *   normalizer    none (RoBERTa), or NFC (ModernBERT; also a Sequence of only NFC), run by
 *                 sentencepiece.c's normalizer (rr_spm_as_nfc) on the text between added tokens
 *                 before ByteLevel, as tokenizers' AddedVocabulary does: tokens with
 *                 "normalized": false are matched in the raw text, the others in the NFC text;
 *   pre_tokenizer ByteLevel: GPT-2's regex splits the text into words
 *                 ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
 *                 optionally after a space is put before the text (add_prefix_space), and
 *                 each byte of a word becomes one of 256 printable characters;
 *   model         BPE: the word's bytes, merged pair by pair in the order of the merges
 *                 list (lowest rank first, leftmost first), as tokenizers' Word::merge_all.
 * The vocabulary keeps its written form ("Ġthe" for " the"); the merges are resolved to ids
 * at load, so encoding looks up (left id, right id) pairs and never a string.
 * Not a public header: tokenizer_load.c builds an rr_bpe, tokenizer.c runs it on the text
 * between added tokens. Immutable once loaded.
 */
#ifndef RR_TEXT_BPE_H
#define RR_TEXT_BPE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"
#include "text/vocab.h"

/* A merge: the pair (left id, right id) as key, its rank (line of the merges list) and the
 * id of the merged token. id -1: an empty slot. */
typedef struct rr_bpe_merge {
    uint64_t key;
    uint32_t rank;
    int32_t id;
} rr_bpe_merge;

struct rr_spm;

typedef struct rr_bpe {
    struct rr_spm *norm;   /* the normalizer (an rr_spm_as_nfc), or NULL: none */
    int32_t byte_id[256];  /* the id of each byte's character, -1 when the vocabulary lacks it */
    uint8_t byte_char[256][2]; /* each byte's character as UTF-8 (one or two bytes) */
    rr_bpe_merge *merges;  /* [mask + 1] open addressing, at most half full */
    uint64_t mask;
    int32_t num_merges;
    int32_t vocab_size;    /* largest id + 1 */
    int add_prefix_space;  /* ByteLevel: a space before each piece of text that lacks one */
    int use_regex;         /* ByteLevel: 0 takes each piece of text as one word */
    int32_t unk_id;        /* a byte without a character in the vocabulary; -1: dropped */
    int fuse_unk;          /* consecutive unknown bytes make one unknown token */
    int ignore_merges;     /* a word found whole in the vocabulary is that token */
    uint64_t serial;       /* unique to this load: an encoding's word cache belongs to one tokenizer */
} rr_bpe;

/* A candidate merge: key = rank << 32 | position of its left symbol; id: the merged token. */
typedef struct rr_bpe_cand {
    uint64_t key;
    int32_t id;
} rr_bpe_cand;

/* A remembered word: its bytes and ids (tokenizers keeps such a cache too; it changes only
 * the speed). Words of up to RR_BPE_CACHE_WORD bytes that make up to RR_BPE_CACHE_IDS tokens. */
#define RR_BPE_CACHE_SLOTS 8192
#define RR_BPE_CACHE_WORD 24
#define RR_BPE_CACHE_IDS 8
typedef struct rr_bpe_cached {
    uint64_t hash;   /* 0: empty */
    uint8_t len, n;  /* bytes of the word, ids */
    uint8_t word[RR_BPE_CACHE_WORD];
    int32_t ids[RR_BPE_CACHE_IDS];
} rr_bpe_cached;

/* Working memory of one encoding. */
typedef struct rr_bpe_scratch {
    rr_bpe_cached *cache;   /* [RR_BPE_CACHE_SLOTS], direct-mapped by the word's hash */
    uint64_t cache_serial;  /* the rr_bpe.serial the cache holds words of */
    struct rr_bpe_sym *sym; /* [sym_cap] the word's symbols */
    size_t sym_cap;
    rr_bpe_cand *heap;      /* [heap_cap] */
    size_t heap_cap;
    uint8_t *text;          /* [text_cap] the text after its prefix space */
    size_t text_cap;
    uint8_t *chars;         /* [chars_cap] a word as the vocabulary writes it (ignore_merges) */
    size_t chars_cap;
} rr_bpe_scratch;

/* Read tokenizer.json's BPE model (its vocabulary goes into vocab) and, unless as_roberta,
 * its normalizer (null, NFC, or a Sequence of only NFC) and ByteLevel pre_tokenizer;
 * *unk_name: the model's unk_token or NULL. Anything else is refused by name. as_roberta:
 * read as transformers 5's RobertaTokenizer reads the file: the vocabulary and merges alone (no
 * normalizer, no unknown token, the pre-tokenizer ByteLevel(add_prefix_space)). */
rr_status rr_bpe_load(rr_bpe *bpe, rr_vocab *vocab, const json_t *model, const json_t *normalizer,
                      const json_t *pre_tokenizer, int as_roberta, int add_prefix_space, const char *path,
                      const char **unk_name);
void rr_bpe_free(rr_bpe *bpe);
void rr_bpe_scratch_free(rr_bpe_scratch *sc);

/* Receives each id; returns 0 to stop reading (enough tokens). */
typedef int (*rr_bpe_emit)(void *ctx, int32_t id);

/* ByteLevel and BPE over text s[0..n) (valid UTF-8, already normalized: bpe->norm is the
 * caller's to run) free of added tokens. vocab: the
 * tokenizer's (ignore_merges looks whole words up in it). Returns 0, or -1 when out of
 * memory. */
int rr_bpe_words(const rr_bpe *bpe, const rr_vocab *vocab, rr_bpe_scratch *sc, const uint8_t *s,
                 size_t n, rr_bpe_emit emit, void *ctx);

#endif
