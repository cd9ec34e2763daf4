/* tests/fuzz/fuzz_trec.c — TREC run and qrels readers, the candidate loader, and the
 * measures over whatever they accept (fuzz_util.h). The candidate stream must say exactly
 * what the loader says (status, message, queries and candidates on two passes): abort if not.
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
    const char *run_path = fuzz_file(run, run_len);
    const rr_status st_load = rr_candidates_load(run_path, top_n, &c);
    char msg_load[1024];
    snprintf(msg_load, sizeof msg_load, "%s", rr_last_error());
    rr_cand_stream *cs = NULL;
    const rr_status st_stream = rr_cand_stream_open(run_path, top_n, &cs);
    if (st_stream != st_load || (st_load && strcmp(msg_load, rr_last_error())))
        abort();
    for (int pass = 0; !st_load && pass < 2; pass++) {
        if (rr_cand_stream_rewind(cs))
            abort();
        for (size_t q = 0;; q++) {
            rr_cand_query cq;
            int eof = 0;
            if (rr_cand_stream_next(cs, &cq, &eof) || (eof && q != c.num_queries))
                abort();
            if (eof)
                break;
            const size_t a = c.first[q];
            if (q >= c.num_queries || strcmp(cq.qid, c.qids[q]) || cq.num_docs != c.first[q + 1] - a)
                abort();
            for (size_t j = 0; j < cq.num_docs; j++)
                if (strcmp(cq.docids[j], c.docids[a + j]) || cq.line_no[j] != c.line_no[a + j])
                    abort();
        }
    }
    rr_cand_stream_free(cs);
    if (st_load == RR_OK)
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
