/* tests/fuzz/fuzz_config.c — the YAML configuration loader (libyaml + our typed table), an
 * override, path resolution and the resolved-config writer (fuzz_util.h). The input is a
 * real file: the loader resolves paths against its directory. */
#include "fuzz_util.h"
#include "rerank/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rr_config *cfg = NULL;
    if (rr_config_load(fuzz_named_file("config.yaml", data, size), &cfg) != RR_OK) {
        if (getenv("FUZZ_DEBUG"))
            fprintf(stderr, "%s\n", rr_last_error());
        return 0;
    }
    (void)rr_config_set(cfg, size & 1 ? "rerank.top_n=7" : "eval.measures=[map, P.10]");
    if (rr_config_finish(cfg, NULL) == RR_OK) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            (void)rr_config_write_yaml(cfg, devnull);
            fclose(devnull);
        }
    }
    rr_config_free(cfg);
    return 0;
}
