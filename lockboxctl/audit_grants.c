/* Checks the grants audit records carry: parse, fields against the record, window and
 * signatures as of the record's time, and for request.approved the quorum (--required). */
#include "audit_grants.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_record.h"
#include "cli.h"
#include "grant.h"
#include "output.h"
#include "timefmt.h"

void audit_grants_set_tenant(struct audit_grant_check *check, const char *tenant)
{
    snprintf(check->tenant, sizeof(check->tenant), "%s", tenant ? tenant : "");
}

struct audit_grant_check *audit_grants_open(const char *keys_file, unsigned required,
                                            const char *tenant)
{
    struct audit_grant_check *check = calloc(1, sizeof(*check));
    char err[512], shown[OUT_ESCAPED_MAX];

    if (check == NULL) {
        cli_fail("out of memory");
        return NULL;
    }
    audit_grants_set_tenant(check, tenant);
    if (approver_keys_load(keys_file, &check->keys, err, sizeof(err)) != 0) {
        cli_fail("%s", out_escape(err, "", shown, sizeof(shown)));
        free(check);
        return NULL;
    }
    check->required = required > 0 ? required : 1;
    return check;
}

static const char *string_member(json_object *record, const char *key)
{
    json_object *value;
    return json_object_object_get_ex(record, key, &value) &&
                   json_object_is_type(value, json_type_string)
               ? json_object_get_string(value)
               : "";
}

/* Does the statement name the record's request, tenant, host and user? */
static const char *mismatch(const struct grant_statement *s, json_object *record)
{
    if (strcmp(s->request_id, string_member(record, "request_id")) != 0)
        return "its grant is for another request";
    if (strcmp(s->tenant, string_member(record, "tenant")) != 0)
        return "its grant is for another tenant";
    if (strcmp(s->host, string_member(record, "host")) != 0)
        return "its grant is for another host";
    if (strcmp(s->user, string_member(record, "user")) != 0)
        return "its grant is for another user";
    return NULL;
}

/* The first signature that does not verify as of the record's time, or NULL. */
static const char *bad_signature(const struct grant *grant, const struct grant_verification *v,
                                 char *why, size_t why_len)
{
    for (size_t i = 0; i < grant->n_signatures; i++) {
        if (v->status[i] != GRANT_SIGNATURE_VALID) {
            snprintf(why, why_len, "the signature of %s (key %s): %s", grant->signatures[i].signer,
                     grant->signatures[i].key_id, grant_signature_status_text(v->status[i]));
            return why;
        }
    }
    return NULL;
}

static const char *check_grant(struct audit_grant_check *check, json_object *record,
                               const char *text, char *why, size_t why_len)
{
    struct grant grant;
    struct grant_verification v;
    int64_t at_ms;
    char err[200];

    if (grant_parse(text, strlen(text), &grant, err, sizeof(err)) != 0) {
        snprintf(why, why_len, "its grant does not parse (%s)", err);
        return why;
    }
    const char *wrong = mismatch(&grant.statement, record);
    if (wrong != NULL)
        return wrong;
    if (grant.statement.not_after_ms - grant.statement.not_before_ms >
        (int64_t)LOCKBOX_DEFAULT_TTL_SECONDS * 1000)
        return "its grant's window is longer than 12h, the most any approval may last";
    if (timefmt_parse(string_member(record, "time"), &at_ms) != 0)
        return "it has no valid time";
    grant_verify(&grant, &check->keys, at_ms, &v);
    if (!v.in_window)
        return "it was recorded outside its grant's window";
    if (bad_signature(&grant, &v, why, why_len) != NULL)
        return why;
    const char *excluded[] = {grant.statement.user, grant.statement.requester};
    if (strcmp(string_member(record, "event"), "request.approved") == 0 &&
        grant_quorum(&grant, &v, excluded, 2) < check->required) {
        snprintf(why, why_len, "its grant has fewer than %u signatures that count",
                 check->required);
        return why;
    }
    return NULL;
}

/* A format-2 request.approved record of the keys' tenant with no grant. */
static bool unsigned_approval(struct audit_grant_check *check, json_object *record,
                              const char *line, size_t len)
{
    json_object *grant;
    const char *event = string_member(record, "event");
    const char *tenant = string_member(record, "tenant");

    if (check->tenant[0] == '\0' && json_object_object_get_ex(record, "grant", &grant) &&
        json_object_is_type(grant, json_type_string) && tenant[0] != '\0')
        audit_grants_set_tenant(check, tenant); /* signing began here for this tenant */
    return check->tenant[0] != '\0' && audit_line_version(line, len) == 2 &&
           strcmp(event, "request.approved") == 0 && strcmp(tenant, check->tenant) == 0 &&
           (!json_object_object_get_ex(record, "grant", &grant) ||
            !json_object_is_type(grant, json_type_string));
}

int audit_grants_check_line(struct audit_grant_check *check, const char *line, size_t len,
                            const char *where, char *error, size_t error_len)
{
    json_tokener *tok = json_tokener_new();
    json_object *record = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
    json_object *grant, *seq;
    char why[400];
    int rc = 0;

    if (record != NULL && unsigned_approval(check, record, line, len)) {
        json_object_object_get_ex(record, "seq", &seq);
        snprintf(error, error_len,
                 "%s: record seq %lld: it approves a request of tenant %s without a signed "
                 "grant",
                 where, (long long)json_object_get_int64(seq), check->tenant);
        rc = -1;
    } else if (record != NULL && json_object_object_get_ex(record, "grant", &grant) &&
               json_object_is_type(grant, json_type_string)) {
        check->grants_checked++;
        const char *problem = check_grant(check, record, json_object_get_string(grant), why,
                                          sizeof(why));
        if (problem != NULL) {
            json_object_object_get_ex(record, "seq", &seq);
            snprintf(error, error_len, "%s: record seq %lld: %s", where,
                     (long long)json_object_get_int64(seq), problem);
            rc = -1;
        }
    }
    json_object_put(record);
    if (tok != NULL)
        json_tokener_free(tok);
    return rc;
}
