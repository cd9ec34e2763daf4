/* tests/test_cuda_device.c — CUDA device discovery (label gpu). Without a device it reports
 * "skipped" (exit 77) with the driver's reason; with one it names it and checks that the
 * count and the name agree. The op-by-op parity tests of the CUDA backend join this label
 * with issue 3. */
#include <string.h>

#include "backend/cuda/device.h"
#include "test_util.h"

int main(void) {
    char why[256] = "";
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
