/* backend/pass_check.c — the checks every backend runs on a pass. Compiled into the library
 * and into the CUDA backend module (which carries its own copy, see backend/cuda/module.h). */
#include "backend/backend.h"
#include "util/error.h"

rr_status rr_pass_check(const rr_backend_limits *lim, const rr_pass *pass, const char *who) {
    if (pass->total_tokens > lim->token_budget || pass->num_seqs > lim->max_seqs ||
        pass->max_seqlen > lim->max_seqlen || pass->num_seqs < 1)
        return rr_error(RR_ERR_INVALID_ARG,
                        "%s backend: pass of %d sequences / %d tokens / longest %d exceeds the "
                        "limits (%d / %d / %d)", who, pass->num_seqs, pass->total_tokens,
                        pass->max_seqlen, lim->max_seqs, lim->token_budget, lim->max_seqlen);
    return RR_OK;
}

rr_status rr_pass_check_ids(const rr_pass *p, int32_t vocab, int32_t type_vocab) {
    for (int32_t t = 0; t < p->total_tokens; t++)
        if (p->ids[t] < 0 || p->ids[t] >= vocab || p->type_ids[t] < 0 || p->type_ids[t] >= type_vocab)
            return rr_error(RR_ERR_INVALID_ARG, "token %d: id %d / type %d outside the vocabulary "
                            "(%d) / type vocabulary (%d)", t, p->ids[t], p->type_ids[t], vocab, type_vocab);
    return RR_OK;
}
