/* io/journal.h — the journal of a long job: committed chunks of final output, so that a job
 * killed at any moment (SIGKILL included) can be finished by running it again with --resume,
 * and its output is byte-identical to an uninterrupted run.
 *
 * File (text; "<output>.journal"):
 *     rerank-journal 1 <fingerprint>\n          the job's identity (inputs + settings)
 *     <chunk 0's output bytes>
 *     \x1ecommit 0 <bytes> <crc32 hex>\n        written after the chunk's bytes, then fsync
 *     <chunk 1's output bytes>
 *     \x1ecommit 1 <bytes> <crc32 hex>\n
 *     ...
 * A chunk counts only when its commit line follows it with the right index, length and
 * checksum; whatever follows the last such line (a torn write) is cut off on resume. The
 * journal is locked (fcntl write lock) while a process holds it: a second process refuses. */
#ifndef RR_IO_JOURNAL_H
#define RR_IO_JOURNAL_H

#include <stddef.h>
#include <stdio.h>

#include "rerank/status.h"

typedef struct rr_journal {
    FILE *fp;
    char path[4200];
    size_t chunks;         /* complete chunks in the file */
    long long data_start;  /* offset of chunk 0 (after the header) */
    long long end;         /* offset just past the last commit line */
} rr_journal;

/* Open path for a job whose identity is fingerprint (printable, no spaces).
 *  - no file: a new journal (chunks = 0);
 *  - a file and resume: its fingerprint must match (else RR_ERR_INVALID_ARG, naming the
 *    mismatch); complete chunks are kept (j->chunks), a torn tail is cut off;
 *  - a file and !resume: RR_ERR_INVALID_ARG ("an interrupted run's journal; --resume").
 * RR_ERR_IO when it cannot be created, read or locked (another process holds it). */
rr_status rr_journal_open(rr_journal *j, const char *path, const char *fingerprint, int resume);

/* Append one chunk (its final output bytes), its commit line, flush and fsync. */
rr_status rr_journal_commit(rr_journal *j, const char *data, size_t len);

/* Copy every committed chunk's bytes, in order, to out. */
rr_status rr_journal_copy(rr_journal *j, FILE *out);

/* Close; remove != 0 deletes the file (the job's output is complete). */
void rr_journal_close(rr_journal *j, int remove);

#endif
