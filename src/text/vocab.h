/* text/vocab.h — token string -> id: an open-addressing hash table built once at load.
 *
 * Keys live in one string pool; slots hold (hash, offset, length, id). The load factor
 * stays at or under 1/2, so a miss ends after a probe or two. Immutable after building:
 * any number of threads may look up at once.
 */
#ifndef RR_TEXT_VOCAB_H
#define RR_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rerank/status.h"

typedef struct rr_vocab_slot {
    uint32_t hash; /* upper bits of the 64-bit hash: a cheap first comparison */
    uint32_t len;
    uint64_t off;  /* into pool */
    int32_t id;    /* -1: empty slot */
} rr_vocab_slot;

typedef struct rr_vocab {
    rr_vocab_slot *slots; /* [mask + 1] */
    uint64_t mask;
    char *pool;           /* [pool_len] key bytes */
    size_t pool_len, pool_cap;
    size_t count;         /* distinct keys */
    size_t max_count;     /* keys the slot array was sized for */
    size_t max_key_len;   /* longest key in bytes: longer strings cannot match */
} rr_vocab;

/* An empty table with room for max_keys keys. */
rr_status rr_vocab_init(rr_vocab *v, size_t max_keys);
void rr_vocab_free(rr_vocab *v);

/* Insert or replace (a later duplicate wins, as in Hugging Face's loaders). */
rr_status rr_vocab_put(rr_vocab *v, const char *key, size_t len, int32_t id);

/* The hash both put and get use: 64-bit, 8 bytes per step (keys are short). */
static inline uint64_t rr_vocab_hash(const char *key, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)len * 0xFF51AFD7ED558CCDULL);
    const unsigned char *p = (const unsigned char *)key;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0x94D049BB133111EBULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
}

/* The id of key, or -1 when absent. */
static inline int32_t rr_vocab_get(const rr_vocab *v, const char *key, size_t len) {
    if (len > v->max_key_len)
        return -1;
    uint64_t h = rr_vocab_hash(key, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const rr_vocab_slot *s = &v->slots[i];
        if (s->id < 0)
            return -1;
        if (s->hash == tag && s->len == len && memcmp(v->pool + s->off, key, len) == 0)
            return s->id;
    }
}

#endif
