/* text/sentencepiece.h — the SentencePiece side of Hugging Face tokenizers, as the
 * tokenizer.json of an XLM-RoBERTa or DeBERTa-v2/v3 checkpoint describes it:
 *   normalizer    Precompiled (SentencePiece's compiled normalization rules: a double-array
 *                 trie over UTF-8 plus the replacement strings), Replace (a literal, runs of
 *                 spaces, or DeBERTa's whitespace regex), Strip, NFC, Lowercase, or a Sequence
 *                 of them, or none;
 *   pre_tokenizer Metaspace (spaces become "▁", one is prepended, words split before each),
 *                 optionally after WhitespaceSplit (transformers 5 writes that pair for XLM-R)
 *                 or after Punctuation(Isolated) (DeBERTa's split_by_punct);
 *   model         Unigram (the best-scoring segmentation of each word, Viterbi).
 * Not a public header: tokenizer_load.c builds an rr_spm, tokenizer.c runs it on the text
 * between added tokens. Immutable once loaded.
 */
#ifndef RR_TEXT_SENTENCEPIECE_H
#define RR_TEXT_SENTENCEPIECE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"
#include "text/vocab.h"

enum { RR_SPM_PRECOMPILED = 1, RR_SPM_REPLACE, RR_SPM_STRIP, RR_SPM_NFC, RR_SPM_LOWERCASE };
enum { RR_SPM_PREPEND_NEVER = 0, RR_SPM_PREPEND_ALWAYS, RR_SPM_PREPEND_FIRST };
#define RR_SPM_MAX_STEPS 8
#define RR_SPM_WS_REGEX (-1)

/* One normalizer of the sequence. */
typedef struct rr_spm_step {
    int kind;        /* RR_SPM_* */
    char *from, *to; /* Replace: pattern and content (malloc'd) */
    size_t from_len, to_len;
    int runs;        /* Replace: 0 replaces each literal `from`; n >= 1 replaces each run of n
                      * or more spaces (the regex " {n,}"); RR_SPM_WS_REGEX: DeBERTa's regex
                      * "\s{2,}|[\n\r\t]" (a run of two or more whitespace characters, or one
                      * \n \r \t) */
    int left, right; /* Strip: which ends lose their whitespace */
} rr_spm_step;

/* A node of the pieces' trie: the piece it spells (or -1) and its children, the nodes
 * [first, first + n) in increasing order of their bytes (labels). */
typedef struct rr_spm_node {
    double score; /* scores[id] beside it: one cache line per step of the search */
    int32_t id;
    uint32_t first, n;
    int32_t wide; /* n > RR_SPM_WIDE: the node's row of rr_spm.wide, else -1 */
} rr_spm_node;
#define RR_SPM_WIDE 16

typedef struct rr_spm {
    uint32_t *trie;     /* [trie_units] darts-clone units of the precompiled charsmap */
    size_t trie_units;
    char *pool;         /* [pool_len] NUL-terminated replacement strings */
    size_t pool_len;
    rr_spm_step steps[RR_SPM_MAX_STEPS];
    int num_steps;
    int prepend;        /* RR_SPM_PREPEND_*: Metaspace's prepend_scheme */
    int split;          /* Metaspace splits words before each replacement character */
    int ws_split;       /* a WhitespaceSplit pre-tokenizer comes first */
    int punct;          /* a Punctuation(Isolated) pre-tokenizer comes first: each punctuation
                         * character is a piece of its own */
    char repl[5];       /* the replacement character (UTF-8, "▁" by default) */
    size_t repl_len;
    rr_spm_node *nodes; /* the pieces as a byte trie (Unigram's prefix search): node 0 is the
                         * empty string, each other node one more byte */
    uint8_t *labels;    /* [node] the byte that leads into each node */
    int32_t *wide;      /* [row, 256] the child by byte (or -1) of the root (row 0) and of each
                         * node of more than RR_SPM_WIDE children */
    double *scores;     /* [num_pieces] Unigram log probabilities, by id */
    int32_t num_pieces;
    double unk_score;   /* lowest score - 10: a character no piece covers */
    int32_t unk_id;
} rr_spm;

/* Working memory of one encoding. */
typedef struct rr_spm_scratch {
    uint8_t *buf[3];    /* normalizer (two, in turn) and Metaspace output */
    size_t cap[3];
    double *best;       /* [lat_cap] Viterbi: best score of a path ending at each byte (one
                         * allocation holds it and the three arrays below) */
    int32_t *from, *id; /* [lat_cap] where that path's last piece starts, and its id */
    int32_t *path;      /* [lat_cap] the best path's piece ends, last first */
    size_t lat_cap;
    int32_t *cps;       /* [cps_cap] NFC: one segment's code points, decomposed */
    size_t cps_cap;
} rr_spm_scratch;

/* Read tokenizer.json's Unigram model (its pieces go into vocab, id = index), normalizer
 * and pre_tokenizer; *unk_name points into model (the unknown piece). Anything else is
 * refused by name. */
rr_status rr_spm_load(rr_spm *spm, rr_vocab *vocab, const json_t *model, const json_t *normalizer,
                      const json_t *pre_tokenizer, const char *path, const char **unk_name);
/* The Unigram model alone, as transformers 5's DebertaV2Tokenizer reads it: the pieces and
 * their scores, nothing else of the file (its normalizer, pre-tokenizer, unk_id and
 * byte_fallback are not read). unk_name: the tokenizer's unknown token (tokenizer_config.json's
 * unk_token); the unknown id is the first piece [unk_name, 0.0], else config_unk_id (>= 0:
 * tokenizer_config.json's unk_id) or 1: DebertaV2Tokenizer's own rule, kept even where it
 * names another token. rr_spm_as_deberta_tokenizer then sets the pipeline. */
rr_status rr_spm_load_deberta(rr_spm *spm, rr_vocab *vocab, const json_t *model, const char *unk_name,
                              long long config_unk_id, const char *path);
/* transformers 5's DebertaV2Tokenizer pipeline, whatever the file says: normalizer
 * [Lowercase if lowercase], Replace(Regex "\s{2,}|[\n\r\t]" -> " "), NFC, Strip(right);
 * pre_tokenizer [Punctuation(Isolated) if split_by_punct], Metaspace("▁", prepend "always",
 * or "first" when add_prefix_space is false). No charsmap. */
rr_status rr_spm_as_deberta_tokenizer(rr_spm *spm, int lowercase, int split_by_punct, int add_prefix_space,
                                      const char *path);
/* transformers 5's XLMRobertaTokenizer: it takes the vocabulary, the precompiled charsmap and
 * the added tokens from tokenizer.json and sets the rest itself, whatever the file says:
 * normalizer Precompiled alone; pre_tokenizer WhitespaceSplit, then Metaspace("▁", prepend
 * "always", or "never" when tokenizer_config.json's add_prefix_space is false). */
void rr_spm_as_xlmr_tokenizer(rr_spm *spm, int add_prefix_space);
/* An rr_spm that is only a normalizer: NFC alone, for a model that is not Unigram (a byte-level
 * BPE's normalizer, as ModernBERT's tokenizer.json has it). Only rr_spm_normalize,
 * rr_spm_normalize_alloc and rr_spm_free may be used on it. */
void rr_spm_as_nfc(rr_spm *spm);
void rr_spm_free(rr_spm *spm);
void rr_spm_scratch_free(rr_spm_scratch *sc);

/* Receives each id; returns 0 to stop reading (enough tokens). */
typedef int (*rr_spm_emit)(void *ctx, int32_t id);

/* The normalizer sequence over s[0..n) (valid UTF-8): *out is s itself, or a part of it, when
 * no step rewrote the text (Strip only narrows it), else it points into sc (valid until the
 * next call); *lead: how many of its first bytes tokenizers aligns to s's first character (for
 * prepend_scheme "first" after WhitespaceSplit). Returns 0, or -1 when out of memory. */
int rr_spm_normalize(const rr_spm *spm, rr_spm_scratch *sc, const uint8_t *s, size_t n,
                     const uint8_t **out, size_t *out_len, size_t *lead);

/* The same into a malloc'd NUL-terminated string (added tokens' normalized forms). */
rr_status rr_spm_normalize_alloc(const rr_spm *spm, const char *s, size_t n, char **out,
                                 size_t *out_len);

/* Metaspace (after WhitespaceSplit or Punctuation when there is one) and Unigram over
 * normalized text free of added tokens. at_start: the text begins here (prepend_scheme
 * "first"); after WhitespaceSplit only a word starting within rr_spm_normalize's *lead bytes
 * counts as the first, after Punctuation only the first piece. Returns 0, or -1 when out of
 * memory. */
int rr_spm_words(const rr_spm *spm, const rr_vocab *vocab, rr_spm_scratch *sc, const uint8_t *s,
                 size_t n, int at_start, size_t lead, rr_spm_emit emit, void *ctx);

#endif
