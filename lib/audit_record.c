/* Hashing audit records into the chain (see audit_record.h for the two formats). */
#include "audit_record.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *digest, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

int audit_hash_hex(const char *bytes, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    if (EVP_Digest(bytes, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != 32)
        return -1;
    to_hex(digest, digest_len, out);
    return 0;
}

int audit_line_version(const char *line, size_t len)
{
    size_t prefix = strlen(AUDIT_V2_PREFIX);

    return len >= prefix && memcmp(line, AUDIT_V2_PREFIX, prefix) == 0 ? 2 : 1;
}

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* Where the line's closing prev_hash member starts, or 0 when it does not end in one. */
static size_t prev_hash_member_at(const char *line, size_t len)
{
    size_t member = strlen(AUDIT_PREV_HASH_MEMBER);
    size_t tail = member + LOCKBOX_HASH_HEX_LEN + 2; /* ,"prev_hash":"HEX"} */

    if (len <= tail)
        return 0;
    size_t at = len - tail;
    if (memcmp(line + at, AUDIT_PREV_HASH_MEMBER, member) != 0 ||
        !is_lower_hex(line + at + member, LOCKBOX_HASH_HEX_LEN) ||
        memcmp(line + len - 2, "\"}", 2) != 0)
        return 0;
    return at;
}

int audit_content_hash(const char *line, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1])
{
    size_t at = prev_hash_member_at(line, len);

    return at > 0 ? audit_hash_hex(line, at, out) : -1;
}

int audit_tenant_tag(uint64_t seq, const char *tenant, char out[LOCKBOX_HASH_HEX_LEN + 1])
{
    char head[64];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int n = snprintf(head, sizeof(head), "lockbox-audit-tenant\n%llu\n", (unsigned long long)seq);
    const char *name = tenant != NULL ? tenant : "";
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, head, (size_t)n) == 1 &&
             EVP_DigestUpdate(md, name, strlen(name)) == 1 &&
             EVP_DigestFinal_ex(md, digest, &digest_len) == 1 && digest_len == 32;

    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    to_hex(digest, digest_len, out);
    return 0;
}

int audit_hash_v2(uint64_t seq, const char *prev_hash, const char *tenant_tag,
                  const char *content_hash, char out[LOCKBOX_HASH_HEX_LEN + 1])
{
    char buf[3 * LOCKBOX_HASH_HEX_LEN + 64];
    int n = snprintf(buf, sizeof(buf), "lockbox-audit-2\n%llu\n%s\n%s\n%s", (unsigned long long)seq,
                     prev_hash, tenant_tag, content_hash);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return audit_hash_hex(buf, (size_t)n, out);
}

/* seq, tenant tag and prev_hash of a format-2 line. */
json_object *audit_line_parse(const char *line, size_t len)
{
    json_tokener *tok = len <= LOCKBOX_AUDIT_LINE_MAX ? json_tokener_new() : NULL;
    json_object *obj = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;

    if (obj != NULL &&
        (json_tokener_get_error(tok) != json_tokener_success || tok->char_offset != (int)len ||
         !json_object_is_type(obj, json_type_object))) {
        json_object_put(obj);
        obj = NULL;
    }
    if (tok != NULL)
        json_tokener_free(tok);
    return obj;
}

static int v2_fields(const char *line, size_t len, uint64_t *seq, audit_hash tag, audit_hash prev)
{
    json_object *obj = audit_line_parse(line, len);
    json_object *seq_obj, *tenant_obj, *prev_obj;
    int rc = -1;

    if (obj != NULL && json_object_object_get_ex(obj, "seq", &seq_obj) &&
        json_object_is_type(seq_obj, json_type_int) && json_object_get_int64(seq_obj) > 0 &&
        json_object_object_get_ex(obj, "tenant", &tenant_obj) &&
        (tenant_obj == NULL || json_object_is_type(tenant_obj, json_type_string)) &&
        json_object_object_get_ex(obj, "prev_hash", &prev_obj) &&
        json_object_is_type(prev_obj, json_type_string) &&
        json_object_get_string_len(prev_obj) == LOCKBOX_HASH_HEX_LEN) {
        *seq = (uint64_t)json_object_get_int64(seq_obj);
        memcpy(prev, json_object_get_string(prev_obj), LOCKBOX_HASH_HEX_LEN + 1);
        rc = audit_tenant_tag(*seq, tenant_obj ? json_object_get_string(tenant_obj) : "", tag);
    }
    json_object_put(obj);
    return rc;
}

int audit_withhold(const char *line, size_t len, struct audit_withheld *out)
{
    audit_hash prev;

    if (audit_line_version(line, len) != 2 ||
        audit_content_hash(line, len, out->content_hash) != 0 ||
        v2_fields(line, len, &out->seq, out->tenant_tag, prev) != 0)
        return -1;
    return 0;
}

int audit_record_hash(const char *line, size_t len, char out[LOCKBOX_HASH_HEX_LEN + 1])
{
    audit_hash prev;
    struct audit_withheld w;

    if (audit_line_version(line, len) == 1)
        return audit_hash_hex(line, len, out);
    if (audit_content_hash(line, len, w.content_hash) != 0 ||
        v2_fields(line, len, &w.seq, w.tenant_tag, prev) != 0)
        return -1;
    return audit_hash_v2(w.seq, prev, w.tenant_tag, w.content_hash, out);
}
