/* util/file.c — whole-file reads, memory maps and atomic output files (POSIX). */
#define _POSIX_C_SOURCE 200809L
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

rr_status rr_file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len) {
    *out = NULL;
    if (out_len)
        *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return rr_error(RR_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > (unsigned long long)max_bytes) {
        fclose(fp);
        return rr_error(RR_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(fp);
        return rr_error(RR_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
    }
    size_t got = size ? fread(buf, 1, size, fp) : 0;
    int read_error = ferror(fp);
    fclose(fp);
    if (got != size || read_error) {
        free(buf);
        return rr_error(RR_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, size);
    }
    buf[size] = '\0';
    *out = buf;
    if (out_len)
        *out_len = size;
    return RR_OK;
}

rr_status rr_mmap_open(const char *path, rr_mmap *out) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rr_error(RR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rr_error(RR_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return RR_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return rr_error(RR_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    out->data = p;
    out->size = (size_t)st.st_size;
    return RR_OK;
}

void rr_mmap_close(rr_mmap *m) {
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int rr_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

rr_status rr_path_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    int n = (dl && dir[dl - 1] == '/') ? snprintf(out, cap, "%s%s", dir, name)
                                       : snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return rr_error(RR_ERR_INVALID_ARG, "path too long: %s/%s", dir, name);
    return RR_OK;
}

rr_status rr_atomic_open(rr_atomic_file *af, const char *path) {
    af->fp = NULL;
    int n = snprintf(af->path, sizeof af->path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof af->path)
        return rr_error(RR_ERR_INVALID_ARG, "output path too long: %s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp)
        return rr_error(RR_ERR_IO, "%s: cannot create: %s", af->tmp_path, strerror(errno));
    return RR_OK;
}

rr_status rr_atomic_write(const char *path, const void *data, size_t len) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    if (len)
        fwrite(data, 1, len, af.fp); /* a short write shows in the commit's ferror check */
    return rr_atomic_commit(&af);
}

rr_status rr_atomic_write_line(const char *path, const char *text) {
    rr_atomic_file af;
    RR_TRY(rr_atomic_open(&af, path));
    fputs(text, af.fp);
    fputc('\n', af.fp);
    return rr_atomic_commit(&af);
}

rr_status rr_atomic_commit(rr_atomic_file *af) {
    if (!af->fp)
        return rr_error(RR_ERR_INVALID_ARG, "%s: not open", af->path);
    int failed = fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0;
    int saved = errno;
    if (fclose(af->fp) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    af->fp = NULL;
    if (failed) {
        unlink(af->tmp_path);
        return rr_error(RR_ERR_IO, "%s: write failed: %s", af->path, strerror(saved));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved = errno;
        unlink(af->tmp_path);
        return rr_error(RR_ERR_IO, "%s: rename failed: %s", af->path, strerror(saved));
    }
    return RR_OK;
}

void rr_atomic_abort(rr_atomic_file *af) {
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
        unlink(af->tmp_path);
    }
}
