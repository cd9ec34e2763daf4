/* tests/fuzz/fuzz_safetensors.c — the safetensors header parser and tensor access: every
 * tensor it accepts must lie inside the file (ASan checks the reads; fuzz_util.h). */
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rr_st_file f;
    if (rr_st_file_open(fuzz_file(data, size), &f) != RR_OK)
        return 0;
    for (int i = 0; i < f.num_tensors; i++) {
        const rr_st_tensor *t = &f.tensors[i];
        if (t->numel <= 0 || t->numel > (1 << 16))
            continue;
        float *dst = malloc((size_t)t->numel * sizeof(float));
        if (dst)
            (void)rr_tensor_to_f32(t, dst);
        free(dst);
    }
    rr_st_file_close(&f);
    return 0;
}
