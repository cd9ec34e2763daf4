/* backend/cuda_loader.c — finds and opens the CUDA backend module, librerank_cuda.so (see
 * backend/cuda/module.h), on first use, and forwards the library's CUDA entry points to it.
 * Where it looks, in order: $RR_CUDA_MODULE (a path: only there); beside the executable; one
 * directory up (tests under build/tests); ../lib beside it (an installed layout); the build
 * directory this library was compiled for; then the dynamic linker's own search. */
#define _GNU_SOURCE
#include "backend/backend.h"

#ifdef RR_CUDA
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cuda/device.h"
#include "backend/cuda/module.h"
#include "util/error.h"

static void set_error(rr_status code, const char *message) { rr_error(code, "%s", message); }
static const rr_cuda_host host = {RR_CUDA_MODULE_ABI, set_error};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const rr_cuda_module *module;
static char load_error[1024];

static int try_open(const char *path) {
    if (strchr(path, '/') && access(path, F_OK) != 0)
        return 0; /* not there: the next place */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load the CUDA backend %s: %s", path, e ? e : "?");
        return 1; /* found but unusable: stop here with the reason */
    }
    typedef const rr_cuda_module *(*entry_fn)(const rr_cuda_host *);
    entry_fn entry = (entry_fn)dlsym(h, "rr_cuda_module_entry");
    const rr_cuda_module *m = entry ? entry(&host) : NULL;
    if (!m || m->abi != RR_CUDA_MODULE_ABI) {
        snprintf(load_error, sizeof load_error, "%s is not this build's CUDA backend module (%s): rebuild",
                 path, m ? "another build" : "no rr_cuda_module_entry");
        dlclose(h);
        return 1;
    }
    module = m; /* kept open for the life of the process */
    return 1;
}

static void load(void) {
    const char *env = getenv("RR_CUDA_MODULE");
    if (env && *env) {
        if (!try_open(env))
            snprintf(load_error, sizeof load_error, "RR_CUDA_MODULE=%s: no such file", env);
        return;
    }
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *rel[] = {"", "/..", "/../lib"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(path, sizeof path, "%s%s/%s", exe, rel[i], RR_CUDA_MODULE_FILE);
            if (try_open(path))
                return;
        }
    }
#ifdef RR_CUDA_MODULE_BUILD_DIR
    snprintf(path, sizeof path, "%s/%s", RR_CUDA_MODULE_BUILD_DIR, RR_CUDA_MODULE_FILE);
    if (try_open(path))
        return;
#endif
    if (!try_open(RR_CUDA_MODULE_FILE))
        snprintf(load_error, sizeof load_error, "%s not found beside the executable (set RR_CUDA_MODULE "
                 "to its path)", RR_CUDA_MODULE_FILE);
}

static const rr_cuda_module *get(char *why, size_t cap) {
    pthread_once(&load_once, load);
    if (!module && why && cap)
        snprintf(why, cap, "%s", load_error);
    return module;
}

int rr_cuda_module_loaded(char *why, size_t why_cap) { return get(why, why_cap) != NULL; }

int rr_cuda_device_count(char *why, size_t why_cap) {
    const rr_cuda_module *m = get(why, why_cap);
    return m ? m->device_count(why, why_cap) : 0;
}

int rr_cuda_device_name(int device, char *name, size_t cap) {
    const rr_cuda_module *m = get(NULL, 0);
    return m ? m->device_name(device, name, cap) : -1;
}

rr_status rr_backend_cuda_create(const rr_backend_limits *limits, rr_backend **out) {
    *out = NULL;
    char why[1100];
    const rr_cuda_module *m = get(why, sizeof why);
    if (!m)
        return rr_error(RR_ERR_UNSUPPORTED, "device \"cuda\": %s", why);
    return m->backend_create(limits, out);
}
#else
typedef int rr_cuda_loader_unused; /* ISO C: a translation unit is not empty */
#endif
