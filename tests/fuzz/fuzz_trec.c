/* tests/fuzz/fuzz_trec.c — TREC run and qrels readers, the candidate loader, and the
 * measures over whatever they accept (fuzz_util.h).
 * Input: byte 0 picks the top-n of the candidate loader; the rest is split at the first NUL
 * byte into a qrels file and a run file (no NUL: the same bytes serve as both). */
#include "fuzz_util.h"
#include "io/candidates.h"
#include "rerank/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const size_t top_n = data[0] % 8;
    data++, size--;
    const uint8_t *nul = memchr(data, 0, size);
    const uint8_t *run = nul ? nul + 1 : data;
    const size_t qrels_len = nul ? (size_t)(nul - data) : size;
    const size_t run_len = nul ? size - qrels_len - 1 : size;

    rr_candidates c;
    if (rr_candidates_load(fuzz_file(run, run_len), top_n, &c) == RR_OK)
        rr_candidates_free(&c);
    rr_run *r = NULL;
    rr_qrels *q = NULL;
    if (rr_run_load(fuzz_file(run, run_len), &r) != RR_OK)
        r = NULL;
    if (rr_qrels_load(fuzz_file(data, qrels_len), &q) != RR_OK)
        q = NULL;
    if (r && q) {
        rr_eval_params params = rr_eval_default_params();
        params.average_complete = run_len & 1;
        rr_eval *ev = NULL;
        if (rr_eval_create(&params, &ev) == RR_OK) {
            (void)rr_eval_add_measure(ev, "all_trec");
            if (rr_eval_compute(ev, q, r) == RR_OK) {
                FILE *devnull = fopen("/dev/null", "w");
                if (devnull) {
                    (void)rr_eval_write_text(ev, devnull, 1, 0);
                    fclose(devnull);
                }
            }
            rr_eval_free(ev);
        }
    }
    rr_run_free(r);
    rr_qrels_free(q);
    return 0;
}
