/* io/lines.h — a line reader over plain or gzip-compressed files (zlib reads both),
 * with line numbers for error messages and a cap on line length. */
#ifndef RR_IO_LINES_H
#define RR_IO_LINES_H

#include <stddef.h>

#include "rerank/status.h"

typedef struct rr_line_reader {
    void *gz;           /* gzFile */
    const char *path;   /* borrowed; used in error messages */
    char *buf;          /* current line, NUL-terminated, without the newline */
    size_t len;         /* bytes in buf */
    size_t cap;
    size_t max_line;    /* longer lines are an error */
    long long line_no;  /* 1-based number of the line in buf */
} rr_line_reader;

#define RR_DEFAULT_MAX_LINE ((size_t)64 << 20)

rr_status rr_lines_open(rr_line_reader *r, const char *path, size_t max_line);
/* Next line into r->buf / r->len. *eof = 1 (and RR_OK) at end of input. A trailing '\r' is
 * removed, and so is a UTF-8 byte-order mark at the start of the file. A NUL byte inside a
 * line is a format error (text formats never contain one). */
rr_status rr_lines_next(rr_line_reader *r, int *eof);
void rr_lines_close(rr_line_reader *r);

#endif
