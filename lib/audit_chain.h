/* The audit file's format: JSON Lines, each record chained to the one before by its hash
 * (audit_record.h: format 1 hashed a line's exact bytes, format 2 its content by hash). The
 * daemon builds lines with it; `lockboxctl audit verify` checks them with it. */
#ifndef LOCKBOX_AUDIT_CHAIN_H
#define LOCKBOX_AUDIT_CHAIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_record.h"
#include "lockbox_limits.h"

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct audit_event {
    const char *event; /* request.created, request.approved, ... */
    const char *request_id;
    const char *tenant;
    const char *host;
    const char *user;
    const char *actor;
    const char *reason;
    const char *comment;
    int64_t expires_at;    /* wall ms, 0 → null */
    const char *requester; /* the person asking (the request's, or the login's PAM_RUSER) */
};

/* Builds the line (without newline) for record `seq` at `time_ms`; *line is malloc'd.
 * Field order is fixed; control bytes and hidden characters (text.h: bidi controls, zero
 * width characters, ...) in values are JSON-escaped (\u001b, \u202e), so the line holds none
 * of them raw. Returns 0 or -1. */
int audit_line_build(uint64_t seq, uint64_t v2_from, int64_t time_ms,
                     const struct audit_event *event, const char *prev_hash, char **line);
/* A format-2 line's v2_from: the seq of the first format-2 record of its chain. 0 or -1 (not a
 * valid format-2 line). */
int audit_line_v2_from(const char *line, size_t len, uint64_t *v2_from);

/* Walks a chain one line at a time, across rotated files given oldest first. */
struct audit_verifier {
    bool started;
    uint64_t seq;                        /* last good record */
    char hash[LOCKBOX_HASH_HEX_LEN + 1]; /* its hash */
    int version;                         /* its format: a later record may not be older */
    uint64_t whole_seq;                  /* the last record seen whole (not withheld) */
    uint64_t records;
    uint64_t withheld;       /* records shown only by their hashes */
    uint64_t taken_on_trust; /* withheld format-1 records: their hash cannot be recomputed */
    uint64_t trust_first, trust_last; /* the seqs of the first and last of those */
    uint64_t v2_from;                 /* where format 2 began, once a whole format-2 line said so */
    uint64_t last_v1_seq;             /* the last record seen in format 1 (0: none) */
    uint64_t first_v2_seq;            /* the first record seen in format 2 (0: none) */
    char error[512];
};

void audit_verifier_init(struct audit_verifier *v);
/* Checks the next line (without its newline). Returns 0, or -1 with v->error naming the
 * record and whether it was altered, removed, inserted or reordered. `where` (e.g.
 * "audit.jsonl:12") is put into the message. */
int audit_verify_line(struct audit_verifier *v, const char *line, size_t len, const char *where);
/* A record withheld from this reader, by its hashes (format 2): it must come next, and the
 * chain goes on from the hash they make with the previous one. 0 or -1. */
int audit_verify_withheld(struct audit_verifier *v, const struct audit_withheld *w,
                          const char *where);
/* A withheld format-1 record: only its hash can be given, and is taken as it is. 0 or -1. */
int audit_verify_withheld_v1(struct audit_verifier *v, uint64_t seq, const char *record_hash,
                             const char *where);
/* Starts a chain after a record known by its seq and hash (an excerpt); after 0, the first
 * record must be seq 1 with the zero hash. */
void audit_verifier_start_after(struct audit_verifier *v, uint64_t seq, const char *hash);
/* After the last line: does the chain end at the head the daemon holds? */
int audit_verify_head(struct audit_verifier *v, uint64_t head_seq, const char *head_hash);

/* What audit_line_canonical() read out of a line. */
struct audit_line_info {
    int version;
    uint64_t v2_from; /* format 2 only */
    uint64_t seq;
    int64_t time_ms;
    char event[40];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char prev_hash[LOCKBOX_HASH_HEX_LEN + 1];
};
/* Is this line byte for byte what audit_line_build() writes for its own fields (field order,
 * escaping, time formats), in format 2 or 1, or what it wrote before Step 11 (hidden characters
 * raw) or before Step 10 (no requester)? The daemon takes records back from the file only when they
 * are; a hand-edited or foreign line is not. Returns 0 and fills info, or -1. */
int audit_line_canonical(const char *line, size_t len, struct audit_line_info *info);
/* Reads seq and prev_hash out of one line; 0 or -1. */
int audit_line_fields(const char *line, size_t len, uint64_t *seq,
                      char prev_hash[LOCKBOX_HASH_HEX_LEN + 1]);

#endif
