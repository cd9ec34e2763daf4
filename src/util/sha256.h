/* util/sha256.h — SHA-256 (FIPS 180-4), streaming, for the checksums an index records
 * (embedding model weights, corpus content). */
#ifndef RR_UTIL_SHA256_H
#define RR_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "rerank/status.h"

typedef struct rr_sha256 {
    uint32_t state[8];
    uint64_t bytes;          /* total bytes fed */
    unsigned char block[64]; /* pending partial block */
    size_t fill;
} rr_sha256;

void rr_sha256_init(rr_sha256 *h);
void rr_sha256_update(rr_sha256 *h, const void *data, size_t len);
/* 64 lowercase hex digits + NUL into hex[65]. */
void rr_sha256_final_hex(rr_sha256 *h, char hex[65]);
/* The digest's first 64 bits (its first 16 hex digits, as a number). */
uint64_t rr_sha256_final64(rr_sha256 *h);
/* The compression function in use: want 1 = SHA-NI where the CPU has it (what the first hash
 * decides on its own), 0 = the portable C one, -1 = ask without changing it. Returns 1 when
 * SHA-NI is in use. Not thread-safe while hashes run; for tests and benchmarks. */
int rr_sha256_accel(int want);
/* Feed a whole file's bytes (read in blocks) into h. */
rr_status rr_sha256_file(rr_sha256 *h, const char *path);

#endif
