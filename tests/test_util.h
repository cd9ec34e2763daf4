/* tests/test_util.h — a minimal assertion kit for the C tests (no framework).
 * Each CHECK counts; a test's main() ends with TEST_DONE(), which prints
 * "N passed, M failed" and returns non-zero on any failure. TEST_SKIP() exits with 77,
 * which ctest reports as skipped (SKIP_RETURN_CODE). */
#ifndef RR_TEST_UTIL_H
#define RR_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int rr_test_passed, rr_test_failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            rr_test_passed++;                                                              \
        } else {                                                                           \
            rr_test_failed++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                               \
    do {                                                                                   \
        if (cond) {                                                                        \
            rr_test_passed++;                                                              \
        } else {                                                                           \
            rr_test_failed++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* Stop the test at once (a precondition such as a fixture file is missing). */
#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

#define TEST_SKIP(...)                                                                     \
    do {                                                                                   \
        fprintf(stderr, "SKIPPED: ");                                                      \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        return 77;                                                                         \
    } while (0)

#define TEST_DONE()                                                                        \
    do {                                                                                   \
        printf("%d passed, %d failed\n", rr_test_passed, rr_test_failed);                  \
        return (rr_test_failed || !rr_test_passed) ? 1 : 0;                                \
    } while (0)

/* FNV-1a 64 over the little-endian bytes of (id, type_id) for each token: the hash the
 * fixture generator (tests/reference/make_fixtures.py) writes for each encoding. */
static inline unsigned long long rr_test_hash_tokens(const int *ids, const int *type_ids, int n) {
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        unsigned int words[2] = {(unsigned int)ids[i], (unsigned int)(type_ids ? type_ids[i] : 0)};
        for (int w = 0; w < 2; w++)
            for (int b = 0; b < 4; b++) {
                h ^= (words[w] >> (8 * b)) & 0xffu;
                h *= 0x100000001b3ULL;
            }
    }
    return h;
}

#endif
