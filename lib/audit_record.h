/* How an audit record is hashed into the chain, by format version.
 *
 * Format 1 (before Step 14): no "v" member; a record's hash is SHA-256 of its line's bytes.
 * Format 2: the line starts {"v":2, and ends ,"prev_hash":"HEX"}. Its hash commits to its
 * content by hash, so that a record withheld from a reader (another tenant's) can be shown as
 * two hashes and the chain still checked across it:
 *   content_hash = SHA-256(the line's bytes before ,"prev_hash":)
 *   tenant_tag   = SHA-256("lockbox-audit-tenant\n" SEQ "\n" TENANT)     (TENANT "" if null)
 *   record hash  = SHA-256("lockbox-audit-2\n" SEQ "\n" PREV_HASH "\n" TENANT_TAG "\n"
 *                          CONTENT_HASH)
 * with SEQ in decimal and hashes as lowercase hex. The tenant tag lets a tenant check that a
 * withheld record is not one of its own, without naming whose it is. */
#ifndef LOCKBOX_AUDIT_RECORD_H
#define LOCKBOX_AUDIT_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

#define AUDIT_FORMAT_CURRENT 2
#define AUDIT_V2_PREFIX "{\"v\":2,"
#define AUDIT_PREV_HASH_MEMBER ",\"prev_hash\":\""

typedef char audit_hash[LOCKBOX_HASH_HEX_LEN + 1];

/* Lowercase hex SHA-256 of bytes. Returns 0 or -1. */
int audit_hash_hex(const char *bytes, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1]);

/* 1 or 2 by the line's first bytes (not a full check). */
int audit_line_version(const char *line, size_t len);

/* The parts of a format-2 line's hash. Returns 0, or -1 when the line does not end in its
 * prev_hash member (the line is not format 2). */
int audit_content_hash(const char *line, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1]);
int audit_tenant_tag(uint64_t seq, const char *tenant, char out[LOCKBOX_HASH_HEX_LEN + 1]);
int audit_hash_v2(uint64_t seq, const char *prev_hash, const char *tenant_tag,
                  const char *content_hash, char out[LOCKBOX_HASH_HEX_LEN + 1]);

/* The line as a JSON object when it is exactly one, all len bytes of it (at most
 * LOCKBOX_AUDIT_LINE_MAX; no terminator needed); NULL otherwise. The caller puts it. */
struct json_object;
struct json_object *audit_line_parse(const char *line, size_t len);

/* The record's hash in the chain (what the next record's prev_hash must be), by its version.
 * Parses the line (seq, tenant, prev_hash of a format-2 line). Returns 0 or -1. */
int audit_record_hash(const char *line, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1]);

/* What a format-2 line is reduced to when withheld: its seq, tenant tag and content hash.
 * Returns 0, or -1 when the line is not a format-2 record. */
struct audit_withheld {
    uint64_t seq;
    audit_hash tenant_tag;
    audit_hash content_hash;
};
int audit_withhold(const char *line, size_t len, struct audit_withheld *out);

#endif
