/* tests/fuzz/fuzz_util.h — what the fuzz targets share.
 *
 * Our parsers read files (by path; gzip transparently), so each input is written to an
 * in-memory file (memfd) and handed over as /proc/self/fd/N: no disk traffic per execution.
 *
 * Every target is built two ways:
 *   - with clang and -fsanitize=fuzzer (RR_FUZZ=ON; tests/fuzz/run_fuzz.sh runs it for a
 *     time budget, ctest label `fuzz`);
 *   - with the normal compiler and FUZZ_STANDALONE_MAIN below, as a regression test that runs
 *     the target once over every file of its seed corpus and of tests/fuzz/regressions/NAME
 *     (label cpu), so the harnesses and every input that once crashed stay checked in CI.
 */
#ifndef RR_FUZZ_UTIL_H
#define RR_FUZZ_UTIL_H
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Path of an in-memory file holding data (the same file, rewritten, on every call). */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("rr-fuzz", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("writing the fuzz input");
        abort();
    }
    return path;
}

/* A real file NAME in a scratch directory made once (in /dev/shm when it exists, else
 * $TMPDIR or /tmp), for parsers that resolve paths relative to their file's directory. */
static char fuzz_scratch_dir[256], fuzz_scratch_path[512];
static void fuzz_scratch_cleanup(void) {
    if (fuzz_scratch_path[0])
        unlink(fuzz_scratch_path);
    if (fuzz_scratch_dir[0])
        rmdir(fuzz_scratch_dir);
}
static inline const char *fuzz_named_file(const char *name, const uint8_t *data, size_t size) {
    char *dir = fuzz_scratch_dir, *path = fuzz_scratch_path;
    if (!dir[0]) {
        const char *t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(dir, sizeof fuzz_scratch_dir, "%s/rr-fuzz.XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_scratch_cleanup);
    }
    snprintf(path, sizeof fuzz_scratch_path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

#ifdef FUZZ_STANDALONE_MAIN
/* Regression mode: run every file of the directories given (non-recursive); exit 0 when the
 * target returned for all of them (a crash or sanitizer report ends the process first). */
static int fuzz_run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            files += fuzz_run_file(argv[i]);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            files += fuzz_run_file(p);
        }
        closedir(d);
    }
    printf("%d inputs ran without a crash\n", files);
    if (files == 0) {
        fprintf(stderr, "no inputs found: the seed corpus is missing\n");
        return 1;
    }
    return 0;
}
#endif
#endif
