/* bench/tokenize_rate.c — the tokenizer alone: one thread encoding a file of texts, for
 * comparison with Hugging Face's `tokenizers` on the same texts (bench/bench_tokenizer.py runs
 * both in one go).
 *
 * Input: a UTF-8 file, one text per line (the line break is not part of the text). Each text
 * is encoded on its own ([CLS] text [SEP], as rerank encodes a document), truncated to
 * --max-length tokens (default: none). Timed: the whole file, best of --reps passes; the
 * encodings are reused between texts, so no pass allocates once the first has grown them.
 * Output, one line:
 *   tokenize_rate texts=5183 bytes=7719443 tokens=1622305 seconds=0.9281 tokens_per_s=1748000
 *     mb_per_s=8.32 ids_fnv=0123456789abcdef
 * ids_fnv: FNV-1a over every text's ids (int32 little-endian) in file order, which
 * bench_tokenizer.py computes for the peer too: equal hashes = the same ids.
 * Usage: rr_tokenize_rate --model DIR --texts FILE [--max-length N] [--reps R]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rerank/status.h"
#include "rerank/tokenizer.h"
#include "util/file.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t fnv_ids(uint64_t h, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++)
            h = (h ^ (((uint32_t)ids[i] >> (8 * b)) & 0xffu)) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv) {
    const char *model = NULL, *texts = NULL;
    long max_length = INT32_MAX, reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "rr_tokenize_rate: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--texts"))
            texts = v;
        else if (!strcmp(a, "--max-length"))
            max_length = atol(v);
        else if (!strcmp(a, "--reps"))
            reps = atol(v);
        else {
            fprintf(stderr, "rr_tokenize_rate: unknown option %s\n", a);
            return 2;
        }
    }
    if (!model || !texts || max_length < 2 || max_length > INT32_MAX || reps < 1) {
        fprintf(stderr, "usage: rr_tokenize_rate --model DIR --texts FILE [--max-length N >= 2] [--reps R >= 1]\n");
        return 2;
    }
    /* the file, whole, and the start of each line in it */
    char *buf;
    size_t len;
    rr_status st = rr_file_read_all(texts, (size_t)1 << 34, &buf, &len);
    if (st) {
        fprintf(stderr, "rr_tokenize_rate: %s\n", rr_last_error());
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len && buf[len - 1] != '\n')
        n++;
    size_t *start = malloc((n + 1) * sizeof *start), *end = malloc((n + 1) * sizeof *end);
    if (!start || !end) {
        fprintf(stderr, "rr_tokenize_rate: out of memory\n");
        return 1;
    }
    size_t k = 0, s = 0, bytes = 0;
    for (size_t i = 0; i <= len && k < n; i++)
        if (i == len || buf[i] == '\n') {
            start[k] = s;
            end[k++] = i;
            bytes += i - s;
            s = i + 1;
        }

    rr_tokenizer *tok;
    st = rr_tokenizer_load(model, &tok);
    if (st) {
        fprintf(stderr, "rr_tokenize_rate: %s: %s\n", rr_status_str(st), rr_last_error());
        return 1;
    }
    rr_encoding e;
    rr_encoding_init(&e);
    double best = 1e30;
    long long tokens = 0;
    uint64_t h = 0;
    for (long r = 0; r < reps; r++) {
        tokens = 0;
        h = 1469598103934665603ull;
        const double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            if ((st = rr_tokenizer_encode(tok, buf + start[i], end[i] - start[i], (int32_t)max_length, &e))) {
                fprintf(stderr, "rr_tokenize_rate: %s line %zu: %s\n", texts, i + 1, rr_last_error());
                return 1;
            }
            tokens += e.len;
            h = fnv_ids(h, e.ids, (size_t)e.len);
        }
        const double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    printf("tokenize_rate texts=%zu bytes=%zu tokens=%lld seconds=%.4f tokens_per_s=%.0f mb_per_s=%.2f "
           "ids_fnv=%016llx\n",
           n, bytes, tokens, best, (double)tokens / best, (double)bytes / 1e6 / best, (unsigned long long)h);
    rr_encoding_free(&e);
    rr_tokenizer_free(tok);
    free(start);
    free(end);
    free(buf);
    return 0;
}
