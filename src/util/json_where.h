/* util/json_where.h — where a member of a JSON object sits in its source text, so that a
 * message about a value can name its line and column ("config.json:7:26: field ..."):
 * jansson keeps no positions once a document is parsed.
 *
 * rr_json_load_object() reads the file (bounded), parses it with duplicate keys rejected
 * (syntax errors name path:line:column) and keeps the text; rr_json_where() then finds a
 * top-level key by scanning that text (strings and escapes respected, nesting tracked). */
#ifndef RR_UTIL_JSON_WHERE_H
#define RR_UTIL_JSON_WHERE_H

#include <stddef.h>

#include "rerank/status.h"

struct json_t;

typedef struct rr_json_doc {
    const char *path;
    char *text; /* the file, NUL-terminated */
    size_t len;
    struct json_t *root; /* a JSON object */
} rr_json_doc;

/* RR_ERR_NOT_FOUND when the file is absent; RR_ERR_FORMAT for invalid JSON or a top level
 * that is not an object. path must outlive doc. */
rr_status rr_json_load_object(const char *path, size_t max_bytes, rr_json_doc *doc);
void rr_json_doc_free(rr_json_doc *doc);

/* "PATH:LINE:COL" of the value of top-level member key (1-based; COL counts bytes), or "PATH"
 * when the key is not in the text under that exact spelling. Returns buf. */
const char *rr_json_where(const rr_json_doc *doc, const char *key, char *buf, size_t cap);

/* The same over any text: 1 and *line, *col when found, else 0. */
int rr_json_key_position(const char *text, size_t len, const char *key, int *line, int *col);

#endif
