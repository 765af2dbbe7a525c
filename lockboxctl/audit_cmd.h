/* `audit` and `audit verify`: what the two share (arguments, reading audit files). */
#ifndef LOCKBOXCTL_AUDIT_CMD_H
#define LOCKBOXCTL_AUDIT_CMD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define AUDIT_FILES_MAX 64

struct audit_args {
    const char *files[AUDIT_FILES_MAX]; /* oldest first */
    size_t n_files;
    bool verify;
    bool database; /* verify the database's chain (through the API), not a file */
    bool has_since;
    int64_t since_ms;
};

/* Called for each line of a file, without its newline; lineno counts from 1. A non-zero
 * return stops the reading and is passed back. */
typedef int (*audit_line_fn)(void *ctx, const char *line, size_t len, unsigned long lineno);

/* Reads PATH line by line. Returns what fn returned to stop, 0 at the end, or CLI_FAIL
 * (after a message) when the file cannot be read. */
int audit_read_file(const char *path, audit_line_fn fn, void *ctx);

/* `audit verify`: checks the chain; reports and returns an enum cli_exit. */
int audit_verify(struct cli *cli, const struct audit_args *args);
/* `audit verify --database`: the same, on the chain lockboxd's database holds. */
int audit_verify_database(struct cli *cli);

#endif
