/* tests/fuzz/fuzz_jsonl.c — BEIR JSONL (corpus / queries) and the id checks (fuzz_util.h). */
#include "fuzz_util.h"
#include "cli/cli_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    text_list tl = {0};
    if (read_beir_jsonl(path, &tl) == RR_OK)
        (void)check_unique_ids(&tl, path, "_id");
    text_list_free(&tl);
    return 0;
}
