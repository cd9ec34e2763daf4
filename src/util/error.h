/* util/error.h — internal helpers that record the thread's last error and return a status. */
#ifndef RR_UTIL_ERROR_H
#define RR_UTIL_ERROR_H

#include "rerank/status.h"

#if defined(__GNUC__)
#define RR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RR_PRINTF(a, b)
#endif

/* Record a formatted message as the thread's last error and return code. */
rr_status rr_error(rr_status code, const char *fmt, ...) RR_PRINTF(2, 3);

/* Prefix the current last error with a context ("model.safetensors: " + old message). */
rr_status rr_error_prefix(rr_status code, const char *fmt, ...) RR_PRINTF(2, 3);

/* Clear the thread's last error. */
void rr_error_clear(void);

/* Broken invariants only: records the location and returns RR_ERR_INTERNAL. */
#define RR_CHECK_INVARIANT(cond)                                                           \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return rr_error(RR_ERR_INTERNAL, "%s:%d: invariant failed: %s", __FILE__,      \
                            __LINE__, #cond);                                              \
    } while (0)

/* Propagate a failing status. */
#define RR_TRY(expr)                                                                       \
    do {                                                                                   \
        rr_status rr_try_status_ = (expr);                                                 \
        if (rr_try_status_ != RR_OK)                                                       \
            return rr_try_status_;                                                         \
    } while (0)

#endif
