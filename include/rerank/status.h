/* rerank/status.h — the one error model of the library.
 *
 * Every fallible function returns rr_status (RR_OK == 0). rr_status_str() names a code;
 * rr_last_error() gives the detail of the last failure on the calling thread
 * ("corpus.jsonl:1812: field \"_id\" missing"). Copy it at once: the next failing call on
 * the same thread overwrites it. The library never prints and never exits.
 */
#ifndef RERANK_STATUS_H
#define RERANK_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rr_status {
    RR_OK = 0,
    RR_ERR_INVALID_ARG,   /* a caller passed something that cannot be right */
    RR_ERR_IO,            /* a file could not be opened, read or written */
    RR_ERR_FORMAT,        /* a file's content is malformed (file, line, what) */
    RR_ERR_UNSUPPORTED,   /* well-formed but not something we run (architecture, dtype) */
    RR_ERR_NOMEM,         /* an allocation failed */
    RR_ERR_NOT_FOUND,     /* a file, tensor or id that must exist does not */
    RR_ERR_BACKEND,       /* BLAS / CUDA / device failure */
    RR_ERR_INTERNAL,      /* a broken invariant: a bug */
    RR_ERR_CANCELLED      /* the caller asked to stop (a progress callback returned non-zero) */
} rr_status;

/* Static name of a status code ("format error"). Never NULL. */
const char *rr_status_str(rr_status code);

/* Detail of the last failure on this thread; "" if none. Valid until the next failure. */
const char *rr_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_STATUS_H */
