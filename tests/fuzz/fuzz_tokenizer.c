/* tests/fuzz/fuzz_tokenizer.c — WordPiece, SentencePiece Unigram and byte-level BPE over
 * arbitrary bytes, single texts and pairs with longest_first truncation, with the real
 * all-MiniLM-L6-v2 vocabulary, the test XLM-R tokenizer (its real precompiled charsmap;
 * fuzz_util.h), the test DeBERTa-v3 tokenizer (read as DebertaV2Tokenizer: regex Replace, NFC,
 * right strip) and the test RoBERTa tokenizer (ByteLevel + BPE).
 * Input: byte 0 picks max_length (3..258) and the tokenizer (low bit clear: WordPiece; set:
 * (byte 0 >> 1) % 3 picks XLM-R's, DeBERTa's or RoBERTa's); the rest is
 * split at the first NUL byte into the two texts of a pair (no NUL: the text is also encoded
 * alone). Invalid UTF-8 must be refused, never read past. The model directories:
 * $RR_FUZZ_MODEL (WordPiece only), else $RR_MODELS_DIR/{all-MiniLM-L6-v2,
 * test-xlmr-cross-encoder, test-deberta-cross-encoder, test-roberta-cross-encoder}, else the same
 * under ~/.cache/rerank/models; each of the last three is used when present (else WordPiece). */
#include "fuzz_util.h"
#include "rerank/tokenizer.h"

static rr_tokenizer *load(const char *name, int required) {
    char dir[4096];
    const char *e = getenv("RR_FUZZ_MODEL"), *m = getenv("RR_MODELS_DIR"), *home = getenv("HOME");
    if (e && required)
        snprintf(dir, sizeof dir, "%s", e);
    else if (m)
        snprintf(dir, sizeof dir, "%s/%s", m, name);
    else
        snprintf(dir, sizeof dir, "%s/.cache/rerank/models/%s", home ? home : ".", name);
    rr_tokenizer *tok = NULL;
    if (rr_tokenizer_load(dir, &tok) != RR_OK && required) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", dir, rr_last_error());
        abort();
    }
    return tok;
}

static rr_tokenizer *tokenizer(int which) {
    static rr_tokenizer *toks[4];
    static int loaded;
    if (!loaded) {
        toks[0] = load("all-MiniLM-L6-v2", 1);
        toks[1] = getenv("RR_FUZZ_MODEL") ? NULL : load("test-xlmr-cross-encoder", 0);
        toks[2] = getenv("RR_FUZZ_MODEL") ? NULL : load("test-deberta-cross-encoder", 0);
        toks[3] = getenv("RR_FUZZ_MODEL") ? NULL : load("test-roberta-cross-encoder", 0);
        loaded = 1;
    }
    return toks[which] ? toks[which] : toks[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const rr_tokenizer *tok = tokenizer(!(data[0] & 1) ? 0 : 1 + (data[0] >> 1) % 3);
    const int32_t max_length = 3 + data[0];
    const char *text = (const char *)data + 1;
    size--;
    const char *nul = memchr(text, 0, size);
    rr_encoding enc;
    rr_encoding_init(&enc);
    if (!nul) {
        (void)rr_tokenizer_encode(tok, text, size, max_length, &enc);
        (void)rr_tokenizer_encode_pair(tok, text, size / 2, text + size / 2, size - size / 2, max_length, &enc);
    } else {
        const size_t a_len = (size_t)(nul - text);
        (void)rr_tokenizer_encode_pair(tok, text, a_len, nul + 1, size - a_len - 1, max_length, &enc);
    }
    rr_encoding_free(&enc);
    return 0;
}
