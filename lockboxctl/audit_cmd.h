/* `audit`, `audit verify`, `audit export` and `audit head`: what they share (arguments,
 * reading audit files). */
#ifndef LOCKBOXCTL_AUDIT_CMD_H
#define LOCKBOXCTL_AUDIT_CMD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_record.h"
#include "audit_grants.h"
#include "cli.h"

#define AUDIT_FILES_MAX 64

enum audit_action {
    AUDIT_SHOW,
    AUDIT_VERIFY,
    AUDIT_EXPORT,
    AUDIT_HEAD,
};

struct audit_args {
    const char *files[AUDIT_FILES_MAX]; /* oldest first */
    size_t n_files;
    enum audit_action action;
    bool database; /* verify the database's chain (through the API), not a file */
    bool has_since;
    int64_t since_ms;
    /* export */
    const char *tenant;
    uint64_t after_seq;
    const char *output; /* NULL: stdout */
    /* verify of an export: a head the tenant kept (--head SEQ:HASH) */
    bool has_kept_head;
    uint64_t kept_seq;
    audit_hash kept_hash;
    /* --trust-format-1: withheld format-1 records may be taken on trust even when no record of
     * the tenant's shows where format 2 began */
    bool trust_format_1;
    /* --keys FILE: also check every record's grant against the tenant's pinned keys */
    const char *keys_file;
    unsigned required; /* --required N: the quorum a request.approved record needs (1) */
    struct audit_grant_check *grants; /* loaded from keys_file by cmd_audit */
};

/* Called for each line of a file, without its newline; lineno counts from 1. A non-zero
 * return stops the reading and is passed back. */
typedef int (*audit_line_fn)(void *ctx, const char *line, size_t len, unsigned long lineno);

/* Reads PATH line by line. Returns what fn returned to stop, 0 at the end, or CLI_FAIL
 * (after a message) when the file cannot be read. */
int audit_read_file(const char *path, audit_line_fn fn, void *ctx);

/* `audit verify`: checks the chain; reports and returns an enum cli_exit. */
int audit_verify(struct cli *cli, const struct audit_args *args);
/* Prints "audit chain broken: MESSAGE" (and {"ok":false,...} with --json); returns CLI_FAIL.
 * MESSAGE must already be escaped. */
int audit_chain_broken(const struct cli *cli, const char *message);

/* Is the first line of PATH an export header? (false too when the file cannot be read) */
bool audit_file_is_export(const char *path);
/* `audit verify` of an export file, offline. */
int audit_verify_export(struct cli *cli, const struct audit_args *args);
/* `audit export --tenant NAME`: writes the export file from lockboxd's pages. */
int audit_export(struct cli *cli, const struct audit_args *args);
/* `audit head`: the head of the chain lockboxd holds, to keep for a later verify --head. */
int audit_head(struct cli *cli);

/* `audit verify --database`: the same, on the chain lockboxd's database holds. */
int audit_verify_database(struct cli *cli);

#endif
