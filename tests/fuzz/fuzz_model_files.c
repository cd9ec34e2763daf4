/* tests/fuzz/fuzz_model_files.c — the JSON files of a model directory: config.json (BERT
 * settings), tokenizer.json and tokenizer_config.json (tokenizer options), and a sharded
 * checkpoint's model.safetensors.index.json (fuzz_util.h); a tokenizer that loads encodes one
 * fixed pair (Unicode, an added token, spaces) so that what was read is also run.
 * Byte 0 picks the file; the rest becomes its content in a scratch directory (under
 * $TMPDIR, made once; the vocab.txt beside it is a tiny fixed one). */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */

#include <sys/stat.h>
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "rerank/tokenizer.h"

static char scratch_dir[4096];

static void cleanup(void) {
    static const char *const files[] = {"vocab.txt", "config.json", "tokenizer.json", "tokenizer_config.json",
                                        "model.safetensors.index.json"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", scratch_dir, files[i]);
        unlink(p);
    }
    rmdir(scratch_dir);
}

static const char *scratch(void) {
    char *dir = scratch_dir;
    if (dir[0])
        return dir;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof scratch_dir, "%s/rr-fuzz-model.XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(cleanup);
    char p[4200];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\na\n", f);
    fclose(f);
    return dir;
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t size) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
}

static void drop(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *dir = scratch();
    const int which = data[0] % 4;
    data++, size--;
    static const char *const names[4] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                         "model.safetensors.index.json"};
    put(dir, names[which], data, size);
    if (which == 0) {
        rr_bert_config cfg;
        (void)rr_bert_config_load(dir, &cfg);
    } else if (which == 3) {
        rr_checkpoint ck;
        if (rr_checkpoint_open(dir, &ck) == RR_OK)
            rr_checkpoint_close(&ck);
    } else {
        rr_tokenizer *tok = NULL;
        if (rr_tokenizer_load(dir, &tok) == RR_OK) {
            /* a text through whatever was loaded (a mutated charsmap, normalizers, pieces) */
            static const char text[] = "  Hello W\xc3\xb6rld \xef\xac\x81 e\xcc\x81 \xef\xbc\xa1 <mask> "
                                       "\xe9\xbe\x98 \xe2\x96\x81the  \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd  ";
            rr_encoding enc;
            rr_encoding_init(&enc);
            (void)rr_tokenizer_encode_pair(tok, text, sizeof text - 1, text + 3, sizeof text - 4, 64, &enc);
            rr_encoding_free(&enc);
            rr_tokenizer_free(tok);
        }
    }
    drop(dir, names[which]);
    return 0;
}
