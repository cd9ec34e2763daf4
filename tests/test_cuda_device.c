/* tests/test_cuda_device.c — the CUDA backend module and device discovery (label gpu). The
 * module (librerank_cuda.so) must load on any machine of a CUDA build, GPU or not: that part
 * fails rather than skips, and so does an error raised inside it that does not reach
 * rr_last_error(). Then without a device the test reports "skipped" (exit 77) with
 * the driver's reason; with one it names it and checks that the count and the name agree. */
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda/device.h"
#include "util/error.h"
#include "test_util.h"

int main(void) {
    char why[1200] = "";
    CHECK_MSG(rr_cuda_module_loaded(why, sizeof why), "the CUDA backend module does not load: %s", why);
    if (rr_test_failed)
        TEST_DONE();
    /* an error raised inside the module reaches the library's rr_last_error() */
    rr_backend_limits bad;
    memset(&bad, 0, sizeof bad);
    rr_backend *be = NULL;
    CHECK(rr_backend_cuda_create(&bad, &be) == RR_ERR_INVALID_ARG && !be);
    CHECK_MSG(strstr(rr_last_error(), "cuda backend: inconsistent limits") != NULL, "last error: %s", rr_last_error());
    if (rr_test_failed)
        TEST_DONE(); /* a failure here must not hide behind the skip below */
    printf("module: loaded, errors forwarded (%d checks)\n", rr_test_passed);
    int n = rr_cuda_device_count(why, sizeof why);
    if (n == 0)
        TEST_SKIP("no CUDA device: %s", why);
    char name[256] = "";
    CHECK(n > 0);
    CHECK(rr_cuda_device_name(0, name, sizeof name) == 0);
    CHECK(strlen(name) > 0);
    CHECK(rr_cuda_device_name(n, name, sizeof name) != 0); /* one past the last device */
    printf("device 0: %s (%d device(s))\n", name, n);
    TEST_DONE();
}
