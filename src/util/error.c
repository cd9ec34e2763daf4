/* util/error.c — status names and the thread-local last-error buffer. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RR_ERROR_CAP 1024
static _Thread_local char rr_last_error_buf[RR_ERROR_CAP];

const char *rr_status_str(rr_status code) {
    switch (code) {
    case RR_OK: return "ok";
    case RR_ERR_INVALID_ARG: return "invalid argument";
    case RR_ERR_IO: return "i/o error";
    case RR_ERR_FORMAT: return "format error";
    case RR_ERR_UNSUPPORTED: return "unsupported";
    case RR_ERR_NOMEM: return "out of memory";
    case RR_ERR_NOT_FOUND: return "not found";
    case RR_ERR_BACKEND: return "backend error";
    case RR_ERR_INTERNAL: return "internal error";
    case RR_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *rr_last_error(void) { return rr_last_error_buf; }

void rr_error_clear(void) { rr_last_error_buf[0] = '\0'; }

rr_status rr_error(rr_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rr_last_error_buf, RR_ERROR_CAP, fmt, ap);
    va_end(ap);
    return code;
}

rr_status rr_error_prefix(rr_status code, const char *fmt, ...) {
    char old[RR_ERROR_CAP];
    memcpy(old, rr_last_error_buf, RR_ERROR_CAP);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rr_last_error_buf, RR_ERROR_CAP, fmt, ap);
    va_end(ap);
    if (n >= 0 && n < RR_ERROR_CAP)
        snprintf(rr_last_error_buf + n, (size_t)(RR_ERROR_CAP - n), "%s", old);
    return code;
}
