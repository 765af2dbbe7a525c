/* Lines of the audit export file: parsed strictly (the file comes from anywhere: a tenant
 * verifies what a provider handed over), written in one fixed compact form. */
#include "export_format.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_text.h"
#include "text.h"

#define HEADER_KEY "lockbox_audit_export"
#define TRAILER_KEY "lockbox_audit_export_end"
#define EXPORT_FORMAT_VERSION 1

static bool starts_with_member(const char *line, size_t len, const char *key)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "{\"%s\":", key);

    return n > 0 && (size_t)n <= len && memcmp(line, prefix, (size_t)n) == 0;
}

enum export_line_kind export_line_kind(const char *line, size_t len)
{
    if (starts_with_member(line, len, HEADER_KEY))
        return EXPORT_LINE_HEADER;
    if (starts_with_member(line, len, TRAILER_KEY))
        return EXPORT_LINE_TRAILER;
    if (starts_with_member(line, len, "withheld"))
        return EXPORT_LINE_WITHHELD;
    return EXPORT_LINE_RECORD;
}

bool export_is_hash(const char *text)
{
    if (strlen(text) != LOCKBOX_HASH_HEX_LEN)
        return false;
    for (const char *p = text; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

/* The line as one JSON object of min_members to max_members members, all len bytes of it. */
static json_object *parse_object(const char *line, size_t len, int min_members, int max_members)
{
    if (memchr(line, '\0', len) != NULL || len > LOCKBOX_AUDIT_LINE_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    bool whole = obj != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!whole || !json_object_is_type(obj, json_type_object) ||
        json_object_object_length(obj) < min_members ||
        json_object_object_length(obj) > max_members) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

static bool get_seq(json_object *obj, const char *key, uint64_t *seq)
{
    json_object *value;

    if (!json_object_object_get_ex(obj, key, &value) || !json_object_is_type(value, json_type_int))
        return false;
    errno = 0;
    int64_t n = json_object_get_int64(value);
    if (n < 0 || errno != 0)
        return false;
    *seq = (uint64_t)n;
    return true;
}

static bool get_hash(json_object *obj, const char *key, audit_hash out)
{
    json_object *value;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_string) ||
        !export_is_hash(json_object_get_string(value)))
        return false;
    memcpy(out, json_object_get_string(value), LOCKBOX_HASH_HEX_LEN + 1);
    return true;
}

static bool get_text(json_object *obj, const char *key, char *out, size_t out_len)
{
    json_object *value;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_string) ||
        (size_t)json_object_get_string_len(value) >= out_len ||
        !text_is_clean(json_object_get_string(value), out_len - 1))
        return false;
    memcpy(out, json_object_get_string(value), (size_t)json_object_get_string_len(value) + 1);
    return true;
}

static int header_from_json(json_object *obj, struct export_header *header, char *err,
                            size_t err_len)
{
    uint64_t version;

    if (!get_seq(obj, HEADER_KEY, &version) || version != EXPORT_FORMAT_VERSION)
        return error_text(err, err_len, "an export header of a version other than %d",
                          EXPORT_FORMAT_VERSION);
    if (!get_text(obj, "tenant", header->tenant, sizeof(header->tenant)) ||
        !text_is_name(header->tenant, LOCKBOX_NAME_MAX))
        return error_text(err, err_len, "the export header's tenant is not a tenant name");
    if (!get_text(obj, "server", header->server, sizeof(header->server)) ||
        !get_text(obj, "exported_at", header->exported_at, sizeof(header->exported_at)))
        return error_text(err, err_len, "the export header lacks server or exported_at");
    if (!get_seq(obj, "after_seq", &header->after_seq) ||
        !get_hash(obj, "after_hash", header->after_hash))
        return error_text(err, err_len, "the export header lacks after_seq or after_hash");
    /* The chain's start has no record before it: nothing else may stand in for it. */
    if (header->after_seq == 0 && strspn(header->after_hash, "0") != LOCKBOX_HASH_HEX_LEN)
        return error_text(err, err_len, "the export starts at seq 1 but after_hash is not zeros");
    return 0;
}

int export_header_parse(const char *line, size_t len, struct export_header *header, char *err,
                        size_t err_len)
{
    json_object *obj = parse_object(line, len, 6, 6);

    memset(header, 0, sizeof(*header));
    if (obj == NULL)
        return error_text(err, err_len, "not an export header (one JSON object of 6 members)");
    int rc = header_from_json(obj, header, err, err_len);
    json_object_put(obj);
    return rc;
}

int export_withheld_from_json(json_object *entry, struct export_withheld *withheld, char *err,
                              size_t err_len)
{
    memset(withheld, 0, sizeof(*withheld));
    if (!json_object_is_type(entry, json_type_object) ||
        !get_seq(entry, "withheld", &withheld->v2.seq) || withheld->v2.seq == 0)
        return error_text(err, err_len, "a withheld entry without its seq");
    int members = json_object_object_length(entry);
    if (members == 3 && get_hash(entry, "tenant_tag", withheld->v2.tenant_tag) &&
        get_hash(entry, "content_hash", withheld->v2.content_hash)) {
        withheld->version = 2;
        return 0;
    }
    if (members == 2 && get_hash(entry, "record_hash", withheld->record_hash)) {
        withheld->version = 1;
        return 0;
    }
    return error_text(err, err_len,
                      "withheld entry seq %llu has neither tenant_tag and content_hash nor "
                      "record_hash (64 lowercase hex characters each), and nothing else",
                      (unsigned long long)withheld->v2.seq);
}

int export_withheld_parse(const char *line, size_t len, struct export_withheld *withheld, char *err,
                          size_t err_len)
{
    json_object *obj = parse_object(line, len, 2, 3);

    if (obj == NULL) {
        memset(withheld, 0, sizeof(*withheld));
        return error_text(err, err_len, "not a withheld entry (one JSON object of 2 or 3 members)");
    }
    int rc = export_withheld_from_json(obj, withheld, err, err_len);
    json_object_put(obj);
    return rc;
}

int export_trailer_parse(const char *line, size_t len, struct export_trailer *trailer, char *err,
                         size_t err_len)
{
    json_object *obj = parse_object(line, len, 3, 3);
    uint64_t version;
    int rc = 0;

    memset(trailer, 0, sizeof(*trailer));
    if (obj == NULL)
        return error_text(err, err_len, "not an export trailer (one JSON object of 3 members)");
    if (!get_seq(obj, TRAILER_KEY, &version) || version != EXPORT_FORMAT_VERSION ||
        !get_seq(obj, "head_seq", &trailer->head_seq) ||
        !get_hash(obj, "head_hash", trailer->head_hash))
        rc = error_text(err, err_len, "the export trailer lacks head_seq or head_hash");
    json_object_put(obj);
    return rc;
}

/* Copies obj's compact JSON text into out. */
static int format_object(json_object *obj, char *out, size_t out_len)
{
    const char *text = obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
                           : NULL;
    int rc = text != NULL && (size_t)snprintf(out, out_len, "%s", text) < out_len ? 0 : -1;

    json_object_put(obj);
    return rc;
}

int export_header_format(const struct export_header *header, char *out, size_t out_len)
{
    json_object *obj = json_object_new_object();

    if (obj == NULL)
        return -1;
    /* json-c keeps members in the order they are added: the header's key comes first. */
    json_object_object_add(obj, HEADER_KEY, json_object_new_int(EXPORT_FORMAT_VERSION));
    json_object_object_add(obj, "tenant", json_object_new_string(header->tenant));
    json_object_object_add(obj, "server", json_object_new_string(header->server));
    json_object_object_add(obj, "after_seq", json_object_new_int64((int64_t)header->after_seq));
    json_object_object_add(obj, "after_hash", json_object_new_string(header->after_hash));
    json_object_object_add(obj, "exported_at", json_object_new_string(header->exported_at));
    return format_object(obj, out, out_len);
}

int export_withheld_format(const struct export_withheld *withheld, char *out, size_t out_len)
{
    int n;

    if (withheld->version == 2)
        n = snprintf(out, out_len,
                     "{\"withheld\":%llu,\"tenant_tag\":\"%s\",\"content_hash\":\"%s\"}",
                     (unsigned long long)withheld->v2.seq, withheld->v2.tenant_tag,
                     withheld->v2.content_hash);
    else
        n = snprintf(out, out_len, "{\"withheld\":%llu,\"record_hash\":\"%s\"}",
                     (unsigned long long)withheld->v2.seq, withheld->record_hash);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int export_trailer_format(const struct export_trailer *trailer, char *out, size_t out_len)
{
    int n = snprintf(out, out_len,
                     "{\"" TRAILER_KEY "\":%d,\"head_seq\":%llu,\"head_hash\":\"%s\"}",
                     EXPORT_FORMAT_VERSION, (unsigned long long)trailer->head_seq,
                     trailer->head_hash);

    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int export_kept_head_parse(const char *text, uint64_t *seq, audit_hash hash)
{
    const char *colon = strchr(text, ':');
    size_t digits = colon ? (size_t)(colon - text) : 0;
    char *end;

    if (digits == 0 || digits > 19 || strspn(text, "0123456789") != digits ||
        strlen(colon + 1) != LOCKBOX_HASH_HEX_LEN)
        return -1;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || end != colon || n > INT64_MAX)
        return -1;
    for (size_t i = 0; i < LOCKBOX_HASH_HEX_LEN; i++)
        hash[i] = (char)tolower((unsigned char)colon[1 + i]);
    hash[LOCKBOX_HASH_HEX_LEN] = '\0';
    if (!export_is_hash(hash))
        return -1;
    *seq = n;
    return 0;
}
