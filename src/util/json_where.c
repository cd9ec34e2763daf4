/* util/json_where.c — positions of top-level JSON members in their source text. */
#define _POSIX_C_SOURCE 200809L
#include "util/json_where.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/file.h"

rr_status rr_json_load_object(const char *path, size_t max_bytes, rr_json_doc *doc) {
    memset(doc, 0, sizeof *doc);
    doc->path = path;
    if (!rr_file_exists(path))
        return rr_error(RR_ERR_NOT_FOUND, "%s: no such file", path);
    RR_TRY(rr_file_read_all(path, max_bytes, &doc->text, &doc->len));
    json_error_t jerr;
    doc->root = json_loadb(doc->text, doc->len, JSON_REJECT_DUPLICATES, &jerr);
    rr_status st = RR_OK;
    if (!doc->root)
        st = rr_error(RR_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(doc->root))
        st = rr_error(RR_ERR_FORMAT, "%s:1:1: top level is not a JSON object", path);
    if (st)
        rr_json_doc_free(doc);
    return st;
}

void rr_json_doc_free(rr_json_doc *doc) {
    json_decref(doc->root);
    free(doc->text);
    doc->root = NULL;
    doc->text = NULL;
    doc->len = 0;
}

/* One forward scan: depth counts open objects/arrays; at depth 1 a string right after '{'
 * or ',' is a key. Returns the offset of its value, or -1. */
static long find_value(const char *t, size_t n, const char *key) {
    const size_t klen = strlen(key);
    int depth = 0, expect_key = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = t[i];
        if (c == '"') {
            const size_t start = ++i;
            while (i < n && t[i] != '"')
                i += t[i] == '\\' ? 2 : 1;
            if (i >= n)
                return -1;
            if (depth == 1 && expect_key) {
                expect_key = 0;
                size_t j = i + 1;
                while (j < n && strchr(" \t\r\n", t[j]))
                    j++;
                if (j < n && t[j] == ':' && i - start == klen && !memcmp(t + start, key, klen)) {
                    j++;
                    while (j < n && strchr(" \t\r\n", t[j]))
                        j++;
                    return (long)j;
                }
            }
        } else if (c == '{' || c == '[') {
            depth++;
            expect_key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            expect_key = 1;
        }
    }
    return -1;
}

int rr_json_key_position(const char *text, size_t len, const char *key, int *line, int *col) {
    const long at = text ? find_value(text, len, key) : -1;
    if (at < 0)
        return 0;
    int l = 1, c = 1;
    for (long i = 0; i < at; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
    return 1;
}

const char *rr_json_where(const rr_json_doc *doc, const char *key, char *buf, size_t cap) {
    int line, col;
    if (rr_json_key_position(doc->text, doc->len, key, &line, &col))
        snprintf(buf, cap, "%s:%d:%d", doc->path, line, col);
    else
        snprintf(buf, cap, "%s", doc->path);
    return buf;
}
