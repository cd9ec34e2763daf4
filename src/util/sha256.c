/* util/sha256.c — SHA-256 (FIPS 180-4): a plain C reference, and on x86-64 CPUs with the SHA
 * extensions (SHA-NI: Intel since Ice Lake / Goldmont, AMD since Zen) the same compression
 * function with their instructions, chosen at run time. Both are checked against the FIPS
 * vectors and against each other in test_index. An index records the sha256 of its embedding
 * model's weights and is checked against them at every retrieve: MiniLM's 91 MB take ~0.28 s
 * with the portable function and ~0.06 s with SHA-NI on the 2-core AMD EPYC machine
 * (bench/RESULTS.md, sixth session). */
#define _POSIX_C_SOURCE 200809L
#include "util/sha256.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RR_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t s[8], const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d;
    s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

#ifdef RR_SHA_NI
/* n 64-byte blocks with the SHA extensions. The state lives as ABEF | CDGH (the layout
 * sha256rnds2 wants); message group g (words 4g..4g+3) is X[g % 4]: loaded and byte-swapped
 * for g < 4, then X_g = msg2(msg1(X_{g-4}, X_{g-3}) + X_{g-2..g-1} words 4g-7..4g-4, X_{g-1});
 * each group's W + K feeds two sha256rnds2 (two rounds each), whose operands alternate. */
__attribute__((target("sha,sse4.1"))) static void sha256_blocks_ni(uint32_t s[8], const unsigned char *p,
                                                                    size_t n) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1); /* CDAB */
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B); /* EFGH */
    __m128i st0 = _mm_alignr_epi8(t, st1, 8);                                        /* ABEF */
    st1 = _mm_blend_epi16(st1, t, 0xF0);                                             /* CDGH */
    for (; n; n--, p += 64) {
        const __m128i save0 = st0, save1 = st1;
        __m128i x[4];
        for (int g = 0; g < 16; g++) {
            if (g < 4)
                x[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            else
                x[g & 3] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(x[g & 3], x[(g + 1) & 3]),
                                  _mm_alignr_epi8(x[(g + 3) & 3], x[(g + 2) & 3], 4)),
                    x[(g + 3) & 3]);
            __m128i kw = _mm_add_epi32(x[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, kw);
            kw = _mm_shuffle_epi32(kw, 0x0E);
            st0 = _mm_sha256rnds2_epu32(st0, st1, kw);
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }
    t = _mm_shuffle_epi32(st0, 0x1B);                                      /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);                                    /* DCHG */
    _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(t, st1, 0xF0));     /* DCBA */
    _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(st1, t, 8));        /* HGFE */
}

/* SHA, SSSE3 and SSE4.1 (cpuid leaf 7 EBX bit 29; leaf 1 ECX bits 9 and 19) */
static int cpu_has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1u;
}
#endif

/* -1: not decided yet; 0: portable; 1: SHA-NI (atomic: hashes may run on several threads) */
static _Atomic int g_use_ni = -1;

int rr_sha256_accel(int want) {
#ifdef RR_SHA_NI
    const int have = cpu_has_sha_ni();
#else
    const int have = 0;
#endif
    if (want >= 0 || g_use_ni < 0)
        g_use_ni = have && want != 0;
    return g_use_ni;
}

static void sha256_blocks(uint32_t s[8], const unsigned char *p, size_t n) {
#ifdef RR_SHA_NI
    if (g_use_ni < 0)
        rr_sha256_accel(-1);
    if (g_use_ni) {
        sha256_blocks_ni(s, p, n);
        return;
    }
#endif
    for (; n; n--, p += 64)
        sha256_block(s, p);
}

void rr_sha256_init(rr_sha256 *h) {
    static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(h->state, init, sizeof init);
    h->bytes = 0;
    h->fill = 0;
}

void rr_sha256_update(rr_sha256 *h, const void *data, size_t len) {
    const unsigned char *p = data;
    h->bytes += len;
    if (h->fill) {
        size_t take = 64 - h->fill < len ? 64 - h->fill : len;
        memcpy(h->block + h->fill, p, take);
        h->fill += take;
        p += take;
        len -= take;
        if (h->fill < 64)
            return;
        sha256_blocks(h->state, h->block, 1);
        h->fill = 0;
    }
    sha256_blocks(h->state, p, len / 64);
    p += len / 64 * 64;
    len %= 64;
    memcpy(h->block, p, len);
    h->fill = len;
}

static void sha256_finish(rr_sha256 *h) {
    uint64_t bits = h->bytes * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (h->fill < 56 ? 56 : 120) - h->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    uint64_t keep = h->bytes;
    rr_sha256_update(h, pad, padlen + 8);
    h->bytes = keep;
}

void rr_sha256_final_hex(rr_sha256 *h, char hex[65]) {
    sha256_finish(h);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", (unsigned)h->state[i]);
}

uint64_t rr_sha256_final64(rr_sha256 *h) {
    sha256_finish(h);
    return (uint64_t)h->state[0] << 32 | h->state[1];
}

rr_status rr_sha256_file(rr_sha256 *h, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_error(RR_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        rr_sha256_update(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return rr_error(RR_ERR_IO, "%s: read error", path);
    return RR_OK;
}
