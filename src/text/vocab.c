/* text/vocab.c — building the token -> id hash table. */
#include "text/vocab.h"

#include <stdlib.h>

#include "util/error.h"

rr_status rr_vocab_init(rr_vocab *v, size_t max_keys) {
    memset(v, 0, sizeof *v);
    size_t cap = 16;
    while (cap < 2 * max_keys + 16)
        cap *= 2;
    v->slots = malloc(cap * sizeof *v->slots);
    v->pool_cap = 16 * max_keys + 64;
    v->pool = malloc(v->pool_cap);
    if (!v->slots || !v->pool) {
        rr_vocab_free(v);
        return rr_error(RR_ERR_NOMEM, "vocabulary: cannot allocate a table for %zu tokens", max_keys);
    }
    for (size_t i = 0; i < cap; i++)
        v->slots[i].id = -1;
    v->mask = cap - 1;
    v->max_count = max_keys;
    return RR_OK;
}

void rr_vocab_free(rr_vocab *v) {
    free(v->slots);
    free(v->pool);
    memset(v, 0, sizeof *v);
}

rr_status rr_vocab_put(rr_vocab *v, const char *key, size_t len, int32_t id) {
    if (id < 0 || len > UINT32_MAX)
        return rr_error(RR_ERR_INTERNAL, "vocabulary: bad token (id %d, %zu bytes)", (int)id, len);
    uint64_t h = rr_vocab_hash(key, len);
    uint32_t tag = (uint32_t)(h >> 32);
    uint64_t i = h & v->mask;
    for (;; i = (i + 1) & v->mask) {
        rr_vocab_slot *s = &v->slots[i];
        if (s->id < 0)
            break;
        if (s->hash == tag && s->len == len && memcmp(v->pool + s->off, key, len) == 0) {
            s->id = id;
            return RR_OK;
        }
    }
    if (v->count >= v->max_count)
        return rr_error(RR_ERR_INTERNAL, "vocabulary: more tokens than the %zu sized for",
                        v->max_count);
    if (v->pool_len + len > v->pool_cap) {
        size_t cap = v->pool_cap * 2 + len;
        char *p = realloc(v->pool, cap);
        if (!p)
            return rr_error(RR_ERR_NOMEM, "vocabulary: cannot grow the string pool to %zu bytes", cap);
        v->pool = p;
        v->pool_cap = cap;
    }
    if (len)
        memcpy(v->pool + v->pool_len, key, len);
    rr_vocab_slot *s = &v->slots[i];
    s->hash = tag;
    s->len = (uint32_t)len;
    s->off = v->pool_len;
    s->id = id;
    v->pool_len += len;
    v->count++;
    if (len > v->max_key_len)
        v->max_key_len = len;
    return RR_OK;
}
