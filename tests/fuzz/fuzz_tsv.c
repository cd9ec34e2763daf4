/* tests/fuzz/fuzz_tsv.c — query<TAB>passage TSV and plain text lines (fuzz_util.h). */
#include "fuzz_util.h"
#include "cli/cli_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    text_list q = {0}, p = {0}, t = {0};
    (void)read_pair_tsv(path, &q, &p);
    text_list_free(&q);
    text_list_free(&p);
    (void)read_text_lines(path, &t);
    text_list_free(&t);
    return 0;
}
