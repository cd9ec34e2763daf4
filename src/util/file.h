/* util/file.h — whole-file reads, read-only memory maps, atomic output files, paths. */
#ifndef RR_UTIL_FILE_H
#define RR_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "rerank/status.h"

/* Read a whole file into a NUL-terminated heap buffer (free() it). Files over max_bytes are
 * refused, so that a hostile or mistaken path cannot exhaust memory. */
rr_status rr_file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len);

/* A read-only memory map of a whole file. */
typedef struct rr_mmap {
    const unsigned char *data; /* NULL for an empty file */
    size_t size;
} rr_mmap;

rr_status rr_mmap_open(const char *path, rr_mmap *out);
void rr_mmap_close(rr_mmap *m);

/* 1 if path names an existing regular file. */
int rr_file_exists(const char *path);

/* Join dir and name into out (cap bytes); an error if it does not fit. */
rr_status rr_path_join(char *out, size_t cap, const char *dir, const char *name);

/* Atomic output: data goes to "<path>.tmp.<pid>", and rr_atomic_commit() flushes, fsyncs and
 * renames it over path. rr_atomic_abort() removes the temporary; the old path stays intact. */
typedef struct rr_atomic_file {
    FILE *fp;
    char path[4096];
    char tmp_path[4200];
} rr_atomic_file;

rr_status rr_atomic_open(rr_atomic_file *af, const char *path);
/* The whole file at once, atomically (open, write, commit): len bytes of data; or a text and
 * a final newline (JSON documents). */
rr_status rr_atomic_write(const char *path, const void *data, size_t len);
rr_status rr_atomic_write_line(const char *path, const char *text);
rr_status rr_atomic_commit(rr_atomic_file *af);
void rr_atomic_abort(rr_atomic_file *af);

#endif
