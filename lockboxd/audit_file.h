/* The append-only audit file: one write() and one fsync() per record, O_APPEND|O_NOFOLLOW. */
#ifndef LOCKBOXD_AUDIT_FILE_H
#define LOCKBOXD_AUDIT_FILE_H
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

struct audit_file {
    int fd;
    char path[LOCKBOX_PATH_MAX];
    bool has_last;     /* the file holds at least one record */
    uint64_t last_seq; /* seq of its last record */
    char last_hash[LOCKBOX_HASH_HEX_LEN + 1];
    off_t size; /* where our last write ended */
};

/* Opens (creating, mode 0640) and reads the last record's seq and hash. A torn last line
 * (a crash inside write) is cut off. Returns 0 or -1 with err. */
int audit_file_open(struct audit_file *file, const char *path, char *err, size_t err_len);
/* Appends line + '\n' with one write() and fsync()s. Returns 0, or -1 (errno set) leaving
 * the file as it was. */
int audit_file_append(struct audit_file *file, const char *line, uint64_t seq, const char *hash);
/* Appends several complete records (each ending in '\n') with one write() and one
 * fdatasync(); last_seq/last_hash describe the final one. Same failure rule as above. */
int audit_file_append_many(struct audit_file *file, const char *records, size_t len,
                           uint64_t last_seq, const char *last_hash);
/* Calls fn for each record of the open file whose seq is above `after`, in file order, with
 * the line (no newline, NUL-terminated) and its seq. Reads the descriptor the daemon writes
 * (not the path, which may name another file by now), from the start. Lines that are not
 * records are skipped until the first record above `after`; from there on every line must be
 * one. Returns 0; -1 with err when the file cannot be read or a line after `after` is not a
 * record; fn's non-zero return stops the walk and is returned. */
typedef int (*audit_file_line_fn)(void *ctx, const char *line, size_t len, uint64_t seq);
int audit_file_each_after(const struct audit_file *file, uint64_t after, audit_file_line_fn fn,
                          void *ctx, char *err, size_t err_len);
/* Is the file still as our last write left it? */
enum audit_file_end {
    AUDIT_FILE_UNREADABLE = -1, /* it cannot be read: err says why */
    AUDIT_FILE_AS_LEFT = 0,
    AUDIT_FILE_CHANGED = 1, /* someone cut or added lines: its last record is read again (a
                             * torn last line cut) */
};
enum audit_file_end audit_file_check_end(struct audit_file *file, char *err, size_t err_len);
/* Closes and opens the path again (after logrotate moved the file away). */
int audit_file_reopen(struct audit_file *file, char *err, size_t err_len);
void audit_file_close(struct audit_file *file);

#endif
