/* io/lines.c — gzip-transparent line reader. */
#include "io/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/error.h"

rr_status rr_lines_open(rr_line_reader *r, const char *path, size_t max_line) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_line = max_line ? max_line : RR_DEFAULT_MAX_LINE;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "gzopen failed");
    gzbuffer(gz, 1 << 17);
    r->gz = gz;
    r->cap = 1 << 12;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        gzclose(gz);
        r->gz = NULL;
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate a line buffer", path);
    }
    return RR_OK;
}

rr_status rr_lines_next(rr_line_reader *r, int *eof) {
    *eof = 0;
    r->len = 0;
    r->buf[0] = '\0';
    gzFile gz = (gzFile)r->gz;
    int got_any = 0;
    for (;;) {
        if (r->cap - r->len < 2) {
            if (r->cap >= r->max_line + 2)
                return rr_error(RR_ERR_FORMAT, "%s:%lld: line longer than %zu bytes", r->path,
                                r->line_no + 1, r->max_line);
            size_t ncap = r->cap * 2 > r->max_line + 2 ? r->max_line + 2 : r->cap * 2;
            char *nb = realloc(r->buf, ncap);
            if (!nb)
                return rr_error(RR_ERR_NOMEM, "%s:%lld: cannot grow line buffer", r->path,
                                r->line_no + 1);
            r->buf = nb;
            r->cap = ncap;
        }
        char *dst = r->buf + r->len;
        int room = (int)((r->cap - r->len) > (size_t)1 << 30 ? (size_t)1 << 30 : (r->cap - r->len));
        const char *got = gzgets(gz, dst, room);
        /* zlib hands out what it decoded before a stream that stops short (Z_BUF_ERROR,
         * "unexpected end of file") or is corrupt: that partial line is not to be parsed */
        int errnum = 0;
        const char *msg = gzerror(gz, &errnum);
        /* zlib decodes ahead of the lines handed out, so the line number is only a bound */
        if (errnum == Z_BUF_ERROR)
            return rr_error(RR_ERR_FORMAT, "%s: truncated gzip file: the compressed data ends early "
                            "(%lld complete lines read)", r->path, r->line_no);
        if (errnum == Z_DATA_ERROR)
            return rr_error(RR_ERR_FORMAT, "%s: corrupt gzip data after %lld complete lines (zlib: %s)",
                            r->path, r->line_no, msg);
        if (errnum != Z_OK && errnum != Z_STREAM_END)
            return rr_error(RR_ERR_IO, "%s:%lld: read error: %s", r->path, r->line_no + 1, msg);
        if (!got)
            break;
        got_any = 1;
        /* gzgets stops after '\n' or when full; a NUL inside the data makes strlen short,
         * which we detect by looking for the terminator gzgets wrote. */
        size_t n = strlen(dst);
        size_t written = n;
        if (n + 1 < (size_t)room && (n == 0 || dst[n - 1] != '\n') && !gzeof(gz)) {
            /* a short read without newline and not at EOF means an embedded NUL */
            return rr_error(RR_ERR_FORMAT, "%s:%lld: NUL byte in a text line", r->path,
                            r->line_no + 1);
        }
        r->len += written;
        if (r->len && r->buf[r->len - 1] == '\n')
            break;
        if (gzeof(gz))
            break;
    }
    if (!got_any) {
        *eof = 1;
        return RR_OK;
    }
    r->line_no++;
    if (r->len && r->buf[r->len - 1] == '\n')
        r->buf[--r->len] = '\0';
    if (r->len && r->buf[r->len - 1] == '\r')
        r->buf[--r->len] = '\0';
    /* a UTF-8 byte-order mark opening the file (Windows editors, PowerShell) is not text */
    if (r->line_no == 1 && r->len >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3)) {
        r->len -= 3;
        memmove(r->buf, r->buf + 3, r->len + 1);
    }
    if (memchr(r->buf, '\0', r->len))
        return rr_error(RR_ERR_FORMAT, "%s:%lld: NUL byte in a text line", r->path, r->line_no);
    return RR_OK;
}

void rr_lines_close(rr_line_reader *r) {
    if (r->gz)
        gzclose((gzFile)r->gz);
    free(r->buf);
    memset(r, 0, sizeof *r);
}
