/* The audit export file (`lockboxctl audit export`): JSON Lines with a header, the entries of
 * GET /v1/audit/export (a tenant's own records whole, the others withheld as hashes) and a
 * trailer naming the head. Pure: parsing and formatting of single lines, no I/O. */
#ifndef LOCKBOXCTL_EXPORT_FORMAT_H
#define LOCKBOXCTL_EXPORT_FORMAT_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_record.h"
#include "lockbox_limits.h"

#define EXPORT_SERVER_MAX (LOCKBOX_PATH_MAX + LOCKBOX_SERVER_URL_MAX + 16)
#define EXPORT_TIME_MAX 32
#define EXPORT_ERROR_MAX 256

/* Line 1: which tenant's export, from which lockboxd, starting after which record. */
struct export_header {
    char tenant[LOCKBOX_NAME_MAX + 1];
    char server[EXPORT_SERVER_MAX + 1];
    uint64_t after_seq;
    audit_hash after_hash;
    char exported_at[EXPORT_TIME_MAX + 1];
};

/* A record withheld from the tenant: format 2 by its tenant tag and content hash, format 1
 * by its record hash alone. */
struct export_withheld {
    int version;
    struct audit_withheld v2; /* seq, tenant_tag, content_hash (version 2) */
    audit_hash record_hash;   /* version 1 */
};

/* The last line: the head lockboxd held when the last page was sent. */
struct export_trailer {
    uint64_t head_seq;
    audit_hash head_hash;
};

enum export_line_kind {
    EXPORT_LINE_HEADER,
    EXPORT_LINE_TRAILER,
    EXPORT_LINE_WITHHELD,
    EXPORT_LINE_RECORD, /* anything else: audit_verify_line() decides whether it is one */
};

/* Which kind of line this is, by its first member. */
enum export_line_kind export_line_kind(const char *line, size_t len);

/* Each parser takes one whole line (len bytes, no newline) and returns 0, or -1 with a reason
 * in err (without the file and line, which the caller adds). */
int export_header_parse(const char *line, size_t len, struct export_header *header, char *err,
                        size_t err_len);
int export_withheld_parse(const char *line, size_t len, struct export_withheld *withheld, char *err,
                          size_t err_len);
int export_trailer_parse(const char *line, size_t len, struct export_trailer *trailer, char *err,
                         size_t err_len);
/* A withheld entry as lockboxd's reply holds it (a JSON object); the same rules. */
int export_withheld_from_json(json_object *entry, struct export_withheld *withheld, char *err,
                              size_t err_len);

/* The lines as lockboxctl writes them (compact JSON, members in a fixed order, no newline).
 * Return 0, or -1 when out is too small. */
int export_header_format(const struct export_header *header, char *out, size_t out_len);
int export_withheld_format(const struct export_withheld *withheld, char *out, size_t out_len);
int export_trailer_format(const struct export_trailer *trailer, char *out, size_t out_len);

/* `--head SEQ:HASH`, a head the tenant kept (hex in either case). 0 or -1. */
int export_kept_head_parse(const char *text, uint64_t *seq, audit_hash hash);

/* 64 lowercase hex characters. */
bool export_is_hash(const char *text);

#endif
