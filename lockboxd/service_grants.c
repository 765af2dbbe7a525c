/* Signed grants at approve (gathering signatures toward the quorum) and at every access check
 * (verifying what is stored: the database and central are not trusted to say "approved"). */
#define _GNU_SOURCE
#include "service_grants.h"
#include "service_internal.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "duration.h"
#include "grant.h"
#include "request_json.h"
#include "text.h"
#include "timefmt.h"

/* Verified grants, and the requests already alerted about. A small ring each: a host has few
 * current approvals, and a miss costs one verification (or one more alert line), never access. */
#define GRANT_CACHE_SLOTS 128

struct verified_grant {
    char request_id[LOCKBOX_ID_HEX_LEN + 1];
    unsigned char grant_sha256[SHA256_DIGEST_LENGTH];
    char host[LOCKBOX_HOST_MAX + 1];
    int64_t not_before_ms, not_after_ms;
};

struct grant_cache {
    struct verified_grant verified[GRANT_CACHE_SLOTS];
    size_t next_verified;
    char alerted[GRANT_CACHE_SLOTS][LOCKBOX_ID_HEX_LEN + 1];
    size_t next_alerted;
};

static struct grant_cache *cache_of(struct service *svc)
{
    if (svc->grant_cache == NULL)
        svc->grant_cache = calloc(1, sizeof(*svc->grant_cache));
    return svc->grant_cache;
}

static const struct tenant_grants *grants_of(const struct service *svc, const char *tenant)
{
    const struct tenant_config *t = config_find_tenant(svc->config, tenant);
    return t != NULL && t->grants.required ? &t->grants : NULL;
}

bool service_tenant_signs(const struct service *svc, const char *tenant)
{
    return grants_of(svc, tenant) != NULL;
}

/* Whose signatures never count for this request: its user, the person asking, the filer. */
static size_t excluded_names(const struct lockbox_request *req, const char *out[3])
{
    out[0] = req->user;
    out[1] = req->requester;
    out[2] = request_filer_person(req);
    return 3;
}

static bool is_excluded(const struct lockbox_request *req, const char *signer)
{
    const char *excluded[3];
    size_t n = excluded_names(req, excluded);
    for (size_t i = 0; i < n; i++) {
        if (excluded[i][0] != '\0' && strcmp(excluded[i], signer) == 0)
            return true;
    }
    return false;
}

static bool has_signer(const struct grant *grant, const char *signer)
{
    for (size_t i = 0; i < grant->n_signatures; i++) {
        if (strcmp(grant->signatures[i].signer, signer) == 0)
            return true;
    }
    return false;
}

/* The statement's fields and window, as the approve takes them. 200 or 400 with the reason. */
/* A statement may open a window no longer than this host's access_ttl, starting no earlier
 * than its request (less some clock skew): checked where access is granted, since whoever
 * runs central could have had an approver sign a year-long window and replay it later. */
#define GRANT_SKEW_MS (5 * 60 * 1000)

static struct service_result check_statement(const struct service *svc,
                                             const struct grant_statement *s,
                                             const struct lockbox_request *req,
                                             const struct lockbox_clock *now)
{
    char limit[32];

    if (!grant_matches_request(s, req, req->host))
        return service_result_of(400, "bad_grant",
                                 "the grant is not for request %s as filed (its tenant, request "
                                 "id, request hash, user, requester or host differ)",
                                 req->id);
    if (now->wall_ms < s->not_before_ms || now->wall_ms >= s->not_after_ms)
        return service_result_of(400, "bad_grant",
                                 "the grant's window (not-before to not-after) does not hold now");
    if (s->not_after_ms - s->not_before_ms > svc->config->access_ttl_s * 1000) {
        duration_format(svc->config->access_ttl_s, limit, sizeof(limit));
        return service_result_of(400, "bad_grant",
                                 "the grant's window is longer than access_ttl (%s)", limit);
    }
    if (s->not_before_ms < req->created_at - GRANT_SKEW_MS)
        return service_result_of(400, "bad_grant",
                                 "the grant's window starts before its request was filed");
    return service_result_of(200, NULL, NULL);
}

/* Is the stored statement the same text as the submitted one? */
static bool same_statement(const struct grant_statement *a, const struct grant_statement *b)
{
    char *ta = NULL, *tb = NULL, err[128];
    size_t la = 0, lb = 0;
    bool same = grant_statement_text(a, &ta, &la, err, sizeof(err)) == 0 &&
                grant_statement_text(b, &tb, &lb, err, sizeof(err)) == 0 && la == lb &&
                memcmp(ta, tb, la) == 0;
    free(ta);
    free(tb);
    return same;
}

/* Adds the submitted signatures that count and are new to merged. Returns how many were
 * added; why says what became of the first one that was not. */
static size_t merge_signatures(struct grant *merged, const struct grant *submitted,
                               const struct grant_verification *checked,
                               const struct lockbox_request *req, char *why, size_t why_len)
{
    size_t added = 0;

    why[0] = '\0';
    for (size_t i = 0; i < submitted->n_signatures; i++) {
        const struct grant_signature *sig = &submitted->signatures[i];
        const char *problem = NULL;
        if (checked->status[i] != GRANT_SIGNATURE_VALID)
            problem = grant_signature_status_text(checked->status[i]);
        else if (is_excluded(req, sig->signer))
            problem = "does not count (the user, the requester or the filer of the request)";
        else if (has_signer(merged, sig->signer))
            problem = "has signed already";
        else if (merged->n_signatures >= LOCKBOX_GRANT_SIGNATURES_MAX)
            problem = "is one signature too many";
        if (problem == NULL) {
            merged->signatures[merged->n_signatures++] = *sig;
            added++;
        } else if (why[0] == '\0') {
            snprintf(why, why_len, "%s's signature: %s", sig->signer, problem);
        }
    }
    return added;
}

/* req->grant = merged's text. 0, or -1 when it cannot be written or is too long. */
static int store_text(struct lockbox_request *req, const struct grant *merged)
{
    char *text = NULL, err[128];
    size_t len = 0;
    int rc = -1;

    if (grant_build(merged, &text, &len, err, sizeof(err)) == 0 && len < sizeof(req->grant)) {
        memcpy(req->grant, text, len + 1);
        rc = 0;
    }
    free(text);
    return rc;
}

static struct service_result merge_into_request(struct lockbox_request *req,
                                                const struct tenant_grants *grants,
                                                const struct grant *submitted,
                                                const struct lockbox_clock *now,
                                                struct grant_outcome *outcome)
{
    struct grant merged;
    struct grant_verification checked;
    char why[160], err[200];

    if (req->grant[0] != '\0') {
        if (grant_parse(req->grant, strlen(req->grant), &merged, err, sizeof(err)) != 0)
            return service_result_of(500, "internal", "the stored grant of %s does not parse",
                                     req->id);
        if (!same_statement(&merged.statement, &submitted->statement))
            return service_result_of(409, "conflict",
                                     "sign the statement already started: lockboxctl approve "
                                     "--key shows it");
    } else {
        memset(&merged, 0, sizeof(merged));
        merged.statement = submitted->statement;
    }
    grant_verify(submitted, grants->keys, now->wall_ms, &checked);
    if (merge_signatures(&merged, submitted, &checked, req, why, sizeof(why)) == 0)
        return service_result_of(400, "bad_grant", "no new valid signature: %s",
                                 why[0] ? why : "the grant has no signature");
    if (store_text(req, &merged) != 0)
        return service_result_of(400, "bad_grant", "the grant cannot be stored (too long)");
    const char *excluded[3];
    size_t n = excluded_names(req, excluded);
    grant_verify(&merged, grants->keys, now->wall_ms, &checked);
    outcome->counted = grant_quorum(&merged, &checked, excluded, n);
    outcome->required = grants->approvals_required;
    outcome->quorum_reached = outcome->counted >= outcome->required && checked.in_window;
    outcome->access_ms = merged.statement.not_after_ms - now->wall_ms; /* capped by the caller */
    return service_result_of(200, NULL, NULL);
}

struct service_result service_grant_sign(struct service *svc, const struct identity *who,
                                         struct lockbox_request *req, int stored_state,
                                         const char *grant_text, const struct lockbox_clock *now,
                                         struct grant_outcome *outcome)
{
    const struct tenant_grants *grants = grants_of(svc, req->tenant);
    struct grant submitted;
    char err[200];

    memset(outcome, 0, sizeof(*outcome));
    if (grants == NULL || grants->keys == NULL)
        return service_result_of(500, "internal", "tenant %s has no pinned keys", req->tenant);
    if (grant_text == NULL)
        return service_result_of(400, "grant_required",
                                 "this tenant requires a signed grant (lockboxctl approve --key "
                                 "FILE)");
    if (grant_parse(grant_text, strlen(grant_text), &submitted, err, sizeof(err)) != 0)
        return service_result_of(400, "bad_grant", "the grant does not parse: %s", err);
    struct service_result r = check_statement(svc, &submitted.statement, req, now);
    if (r.status == 200)
        r = merge_into_request(req, grants, &submitted, now, outcome);
    if (r.status != 200)
        return r;
    if (outcome->access_ms > svc->config->access_ttl_s * 1000)
        outcome->access_ms = svc->config->access_ttl_s * 1000;
    struct audit_event ev = {"grant.signed", req->id,   req->tenant,
                             req->host,      req->user, identity_recorded_name(who),
                             req->reason,    NULL,      req->expires_at,
                             req->requester, req->grant};
    return service_journal_result(svc, journal_record(svc->journal, req, stored_state, &ev, false,
                                                      now->wall_ms));
}

/* The cache's key: the grant and the request as stored now, so that a row changed in the
 * database after a verification is verified again. */
static int verification_key(const struct lockbox_request *req,
                            unsigned char out[SHA256_DIGEST_LENGTH])
{
    char keyed[LOCKBOX_HASH_HEX_LEN + 1 + LOCKBOX_GRANT_MAX + 1];

    if (grant_request_hash(req, keyed) != 0)
        return -1;
    size_t len = LOCKBOX_HASH_HEX_LEN;
    len += (size_t)snprintf(keyed + len, sizeof(keyed) - len, "\n%s", req->grant);
    SHA256((const unsigned char *)keyed, len, out);
    return 0;
}

static bool cached(struct grant_cache *cache, const struct lockbox_request *req, const char *host,
                   const unsigned char hash[SHA256_DIGEST_LENGTH], int64_t now_ms)
{
    for (size_t i = 0; cache != NULL && i < GRANT_CACHE_SLOTS; i++) {
        const struct verified_grant *v = &cache->verified[i];
        if (strcmp(v->request_id, req->id) == 0 && strcmp(v->host, host) == 0 &&
            memcmp(v->grant_sha256, hash, SHA256_DIGEST_LENGTH) == 0)
            return now_ms >= v->not_before_ms && now_ms < v->not_after_ms;
    }
    return false;
}

/* A key revoked-at a time still to come stops counting then: a verification holds until the
 * first such moment, not just until the statement's not-after. */
static int64_t next_revocation(const struct approver_keys *keys, int64_t now_ms)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < keys->n_keys; i++) {
        int64_t at = keys->keys[i].revoked_at_ms;
        if (at > now_ms && at < next)
            next = at;
    }
    return next;
}

static void remember(struct grant_cache *cache, const struct lockbox_request *req, const char *host,
                     const unsigned char hash[SHA256_DIGEST_LENGTH],
                     const struct grant_statement *s, int64_t valid_until_ms)
{
    if (cache == NULL)
        return;
    struct verified_grant *v = &cache->verified[cache->next_verified++ % GRANT_CACHE_SLOTS];
    snprintf(v->request_id, sizeof(v->request_id), "%s", req->id);
    snprintf(v->host, sizeof(v->host), "%s", host);
    memcpy(v->grant_sha256, hash, SHA256_DIGEST_LENGTH);
    v->not_before_ms = s->not_before_ms;
    v->not_after_ms = s->not_after_ms < valid_until_ms ? s->not_after_ms : valid_until_ms;
}

/* Once per request: a forged approval is an attack, not noise, but a host that checks it on
 * every login attempt must not flood the log. */
static void alert_invalid(struct grant_cache *cache, const struct lockbox_request *req,
                          const char *host, const char *reason)
{
    char id[80], tenant[140], shown_host[520], user[140];

    for (size_t i = 0; cache != NULL && i < GRANT_CACHE_SLOTS; i++) {
        if (strcmp(cache->alerted[i], req->id) == 0)
            return;
    }
    if (cache != NULL)
        snprintf(cache->alerted[cache->next_alerted++ % GRANT_CACHE_SLOTS],
                 sizeof(cache->alerted[0]), "%s", req->id);
    syslog(LOG_ALERT,
           "event=grant.invalid id=%s tenant=%s host=%s user=%s reason=\"%s\" msg=\"an approval "
           "without a valid signed grant grants nothing\"",
           text_escape_log(req->id, id, sizeof(id)),
           text_escape_log(req->tenant, tenant, sizeof(tenant)),
           text_escape_log(host, shown_host, sizeof(shown_host)),
           text_escape_log(req->user, user, sizeof(user)), reason);
}

/* NULL when the grant allows access now, else why not. */

/* The same bounds as check_statement(), at every access check. */
static const char *window_refused(const struct service *svc, const struct lockbox_request *req,
                                  const struct grant *grant)
{
    int64_t length = grant->statement.not_after_ms - grant->statement.not_before_ms;

    if (length > svc->config->access_ttl_s * 1000)
        return "the grant's window is longer than this host's access_ttl";
    if (grant->statement.not_before_ms < req->created_at - GRANT_SKEW_MS)
        return "the grant's window starts before its request was filed";
    return NULL;
}

static const char *why_invalid(const struct service *svc, const struct tenant_grants *grants,
                               const struct lockbox_request *req, const char *host,
                               const struct lockbox_clock *now, struct grant *grant)
{
    char err[200];
    const char *excluded[3];
    size_t n = excluded_names(req, excluded);

    if (req->grant[0] == '\0')
        return "no grant";
    if (grants->keys == NULL)
        return "no pinned keys";
    if (grant_parse(req->grant, strlen(req->grant), grant, err, sizeof(err)) != 0)
        return "the grant does not parse";
    if (!grant_matches_request(&grant->statement, req, host))
        return "the grant is for another request, user or host";
    const char *window = window_refused(svc, req, grant);
    if (window != NULL)
        return window;
    if (now->wall_ms < grant->statement.not_before_ms ||
        now->wall_ms >= grant->statement.not_after_ms)
        return "outside the grant's window";
    if (!grant_allows(grant, grants->keys, now->wall_ms, grants->approvals_required, excluded, n))
        return "not enough valid signatures by pinned, unrevoked keys";
    return NULL;
}

bool service_grant_holds(struct service *svc, const struct lockbox_request *req, const char *host,
                         const struct lockbox_clock *now)
{
    const struct tenant_grants *grants = grants_of(svc, req->tenant);
    struct grant_cache *cache = cache_of(svc);
    unsigned char hash[SHA256_DIGEST_LENGTH];
    struct grant grant;

    if (grants == NULL)
        return true;
    bool keyed = verification_key(req, hash) == 0;
    if (keyed && cached(cache, req, host, hash, now->wall_ms))
        return true;
    const char *why = why_invalid(svc, grants, req, host, now, &grant);
    if (why != NULL) {
        alert_invalid(cache, req, host, why);
        return false;
    }
    if (keyed)
        remember(cache, req, host, hash, &grant.statement,
                 next_revocation(grants->keys, now->wall_ms));
    return true;
}

json_object *service_request_json(const struct service *svc, const struct lockbox_request *req)
{
    const struct tenant_config *t = config_find_tenant(svc->config, req->tenant);
    json_object *obj = request_to_json(req);

    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    /* What a statement's request-sha256 must be: the object's created_at has whole seconds
     * only, so an approver cannot compute it from the other members. */
    if (grant_request_hash(req, hash) == 0)
        json_object_object_add(obj, "request_sha256", json_object_new_string(hash));
    json_object_object_add(obj, "approvals_required",
                           json_object_new_int(t != NULL && t->grants.approvals_required > 0
                                                   ? (int)t->grants.approvals_required
                                                   : 1));
    return obj;
}

void service_grants_keys_changed(struct service *svc)
{
    if (svc->grant_cache != NULL)
        memset(svc->grant_cache, 0, sizeof(*svc->grant_cache));
}

void service_grants_free(struct service *svc)
{
    free(svc->grant_cache);
    svc->grant_cache = NULL;
}
