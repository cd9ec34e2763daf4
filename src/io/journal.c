/* io/journal.c — see journal.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "util/error.h"

#define MAGIC "rerank-journal 1 "

/* Is line (len bytes, '\n' included) the commit line of chunk `index` over `bytes` data bytes
 * with checksum crc? */
static int is_commit(const char *line, size_t len, size_t index, long long bytes, uint32_t crc) {
    if (len < 2 || line[0] != '\x1e' || line[len - 1] != '\n')
        return 0;
    char want[96];
    int n = snprintf(want, sizeof want, "\x1e" "commit %zu %lld %08" PRIx32 "\n", index, bytes, crc);
    return n > 0 && (size_t)n == len && !memcmp(line, want, len);
}

/* Walk the chunks after the header: count the complete ones and the offset past the last
 * commit line; copy their data bytes to out when out is not NULL. */
static rr_status scan(rr_journal *j, FILE *out) {
    if (fseeko(j->fp, (off_t)j->data_start, SEEK_SET) != 0)
        return rr_error(RR_ERR_IO, "%s: seek failed: %s", j->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, chunks = 0;
    long long pos = j->data_start, end = j->data_start, bytes = 0;
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    rr_status st = RR_OK;
    ssize_t got;
    while ((got = getline(&line, &cap, j->fp)) > 0) {
        const size_t len = (size_t)got;
        if (is_commit(line, len, chunks, bytes, crc)) {
            chunks++;
            pos += (long long)len;
            end = pos;
            bytes = 0;
            crc = (uint32_t)crc32(0L, Z_NULL, 0);
            if (out && j->chunks && chunks == j->chunks)
                break; /* copy: everything committed is out */
            continue;
        }
        crc = (uint32_t)crc32(crc, (const unsigned char *)line, (uInt)len);
        bytes += (long long)len;
        pos += (long long)len;
        if (out && fwrite(line, 1, len, out) != len) {
            st = rr_error(RR_ERR_IO, "writing the output: %s", strerror(errno));
            break;
        }
    }
    if (!st && ferror(j->fp))
        st = rr_error(RR_ERR_IO, "%s: read failed: %s", j->path, strerror(errno));
    free(line);
    if (!st && !out) {
        j->chunks = chunks;
        j->end = end;
    }
    return st;
}

static rr_status lock_fd(int fd, const char *path) {
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) == 0)
        return RR_OK;
    const int e = errno;
    struct flock who = {0};
    who.l_type = F_WRLCK;
    who.l_whence = SEEK_SET;
    if ((e == EACCES || e == EAGAIN) && fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
        return rr_error(RR_ERR_IO, "%s: in use by another running job (pid %ld)", path, (long)who.l_pid);
    return rr_error(RR_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
}

rr_status rr_journal_open(rr_journal *j, const char *path, const char *fingerprint, int resume) {
    memset(j, 0, sizeof *j);
    int n = snprintf(j->path, sizeof j->path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof j->path)
        return rr_error(RR_ERR_INVALID_ARG, "journal path too long: %s", path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    const int existed = fd >= 0;
    if (!existed) {
        if (errno != ENOENT)
            return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return rr_error(RR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    rr_status st = lock_fd(fd, path);
    if (!st && existed && !resume)
        st = rr_error(RR_ERR_INVALID_ARG, "%s: the journal of an interrupted run is here: add --resume to "
                      "finish that run, or delete the file to start over", path);
    if (st) {
        close(fd);
        return st;
    }
    j->fp = fdopen(fd, "r+");
    if (!j->fp) {
        st = rr_error(RR_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!existed) {
        if (fprintf(j->fp, MAGIC "%s\n", fingerprint) < 0 || fflush(j->fp) != 0 || fsync(fd) != 0) {
            st = rr_error(RR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            rr_journal_close(j, 1);
            return st;
        }
        j->data_start = j->end = (long long)ftello(j->fp);
        return RR_OK;
    }
    /* resume: the header must name this job */
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, j->fp);
    const size_t ml = strlen(MAGIC), fl = strlen(fingerprint);
    if (got <= 0 || (size_t)got < ml || memcmp(line, MAGIC, ml)) {
        st = rr_error(RR_ERR_FORMAT, "%s:1: not a rerank journal (delete it to start over)", path);
    } else if ((size_t)got != ml + fl + 1 || memcmp(line + ml, fingerprint, fl) || line[got - 1] != '\n') {
        st = rr_error(RR_ERR_INVALID_ARG, "%s: the journal is from a different job (the inputs or settings "
                      "changed since it was written): rerun the original command with --resume, or "
                      "delete the journal to start over", path);
    }
    free(line);
    if (!st) {
        j->data_start = (long long)got;
        st = scan(j, NULL);
    }
    if (!st && (fflush(j->fp) != 0 || ftruncate(fd, (off_t)j->end) != 0 ||
                fseeko(j->fp, (off_t)j->end, SEEK_SET) != 0))
        st = rr_error(RR_ERR_IO, "%s: cannot cut the torn tail: %s", path, strerror(errno));
    if (st) {
        fclose(j->fp);
        j->fp = NULL;
    }
    return st;
}

rr_status rr_journal_commit(rr_journal *j, const char *data, size_t len) {
    if (fseeko(j->fp, (off_t)j->end, SEEK_SET) != 0)
        return rr_error(RR_ERR_IO, "%s: seek failed: %s", j->path, strerror(errno));
    const uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)data, (uInt)len);
    if ((len && fwrite(data, 1, len, j->fp) != len) ||
        fprintf(j->fp, "\x1e" "commit %zu %lld %08" PRIx32 "\n", j->chunks, (long long)len, crc) < 0 ||
        fflush(j->fp) != 0 || fsync(fileno(j->fp)) != 0)
        return rr_error(RR_ERR_IO, "%s: write failed: %s", j->path, strerror(errno));
    j->chunks++;
    j->end = (long long)ftello(j->fp);
    return RR_OK;
}

rr_status rr_journal_copy(rr_journal *j, FILE *out) {
    if (!j->chunks)
        return RR_OK;
    return scan(j, out);
}

void rr_journal_close(rr_journal *j, int remove) {
    if (remove && j->path[0])
        unlink(j->path); /* before the close: the lock still held keeps a second job off it */
    if (j->fp)
        fclose(j->fp); /* releases the lock */
    j->fp = NULL;
}
