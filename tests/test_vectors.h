/* tests/test_vectors.h — seeded vectors for the index tests (test_index, test_index_gpu):
 * a xorshift64* generator, its normal deviates, and clustered unit vectors. One generator
 * state per test program (static); test_rng_seed sets it. */
#ifndef RR_TEST_VECTORS_H
#define RR_TEST_VECTORS_H

#include <math.h>
#include <stdint.h>
#include <stddef.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
#if defined(__GNUC__)
#define RR_TEST_MAYBE_UNUSED __attribute__((unused))
#else
#define RR_TEST_MAYBE_UNUSED
#endif
RR_TEST_MAYBE_UNUSED static void test_rng_seed(uint64_t seed) { rng_state = seed ? seed : 1; }
static double rng_uniform(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double rng_normal(void) {
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Clustered unit vectors: C centres, each point a centre plus noise (what embeddings look
 * like to an IVF quantizer, unlike uniform noise). x [n, d]. */
static void make_vectors(float *x, int n, int d, int clusters, const float *centres) {
    for (int i = 0; i < n; i++) {
        const float *c = centres + (size_t)(i % clusters) * d;
        double norm = 0;
        for (int j = 0; j < d; j++) {
            double v = c[j] + 2.0 * rng_normal();
            x[(size_t)i * d + j] = (float)v;
            norm += v * v;
        }
        norm = sqrt(norm);
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] = (float)(x[(size_t)i * d + j] / norm);
    }
}

#endif /* RR_TEST_VECTORS_H */
