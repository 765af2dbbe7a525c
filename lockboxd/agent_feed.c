/* The agent's pure core (agent_feed.h): central's answers are checked here, in one place,
 * before the main loop applies anything; the store and the journal never see raw JSON. */
#include "agent_feed.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request_json.h"
#include "text.h"

/* A request central sent, for this host and tenant: anything else is a central that is
 * broken or not ours, and applying it would put another host's decisions into our mirror. */
static int check_request(const struct lockbox_request *req, const char *host, const char *tenant,
                         bool *mismatch, char *why, size_t why_len)
{
    if (!text_is_request_id(req->id, strlen(req->id))) {
        snprintf(why, why_len, "a request id is not well-formed");
        return -1;
    }
    if (strcmp(req->host, host) != 0 || strcmp(req->tenant, tenant) != 0) {
        *mismatch = true;
        snprintf(why, why_len, "request %s is for host '%.60s' of tenant '%.60s', not ours",
                 req->id, req->host, req->tenant);
        return -1;
    }
    if (!text_is_name(req->user, LOCKBOX_NAME_MAX) || req->requested_by[0] == '\0' ||
        req->created_at <= 0) {
        snprintf(why, why_len, "request %s lacks a valid user, requested_by or created_at",
                 req->id);
        return -1;
    }
    if ((req->state == REQUEST_APPROVED || req->state == REQUEST_PENDING) && req->expires_at <= 0) {
        snprintf(why, why_len, "request %s is %s without expires_at", req->id,
                 request_state_name(req->state));
        return -1;
    }
    return 0;
}

static int string_member(json_object *obj, const char *key, char *out, size_t out_len)
{
    json_object *value;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_string) ||
        (size_t)json_object_get_string_len(value) >= out_len ||
        (size_t)json_object_get_string_len(value) == 0)
        return -1;
    memcpy(out, json_object_get_string(value), (size_t)json_object_get_string_len(value) + 1);
    return 0;
}

static json_object *parse_object(const char *text, size_t len, char *why, size_t why_len)
{
    if (len == 0 || len > AGENT_ANSWER_MAX || memchr(text, '\0', len) != NULL) {
        snprintf(why, why_len, "the answer is empty, too long or holds a NUL byte");
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *obj = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    bool complete = tok != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (obj == NULL || !complete || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        snprintf(why, why_len, "the answer is not one JSON object");
        return NULL;
    }
    return obj;
}

/* The answer's own "host" and "tenant" must be ours (the certificate central saw names us). */
static int check_identity(json_object *obj, const char *host, const char *tenant, bool *mismatch,
                          char *why, size_t why_len)
{
    char named_host[LOCKBOX_HOST_MAX + 1], named_tenant[LOCKBOX_NAME_MAX + 1];

    if (string_member(obj, "host", named_host, sizeof(named_host)) != 0 ||
        string_member(obj, "tenant", named_tenant, sizeof(named_tenant)) != 0) {
        snprintf(why, why_len, "the answer lacks its host or tenant");
        return -1;
    }
    if (strcmp(named_host, host) != 0 || strcmp(named_tenant, tenant) != 0) {
        *mismatch = true;
        snprintf(why, why_len,
                 "central names this host '%.60s' of tenant '%.60s'; it is '%.60s' of '%.60s' "
                 "here ([daemon] host and tenant, and the certificate, must agree)",
                 named_host, named_tenant, host, tenant);
        return -1;
    }
    return 0;
}

static int parse_requests(json_object *array, const char *host, const char *tenant,
                          struct feed_answer *out, bool *mismatch, char *why, size_t why_len)
{
    size_t n = json_object_array_length(array);

    out->requests = calloc(n ? n : 1, sizeof(*out->requests));
    if (out->requests == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char err[200];
        struct lockbox_request *req = &out->requests[i];
        if (request_from_json(json_object_array_get_idx(array, i), req, err, sizeof(err)) != 0) {
            snprintf(why, why_len, "request %zu: %s", i, err);
            return -1;
        }
        if (check_request(req, host, tenant, mismatch, why, why_len) != 0)
            return -1;
        out->n_requests++;
    }
    return 0;
}

int feed_answer_parse(const char *text, size_t len, const char *host, const char *tenant,
                      struct feed_answer *out, bool *identity_mismatch, char *why, size_t why_len)
{
    json_object *array;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    *identity_mismatch = false;
    json_object *obj = parse_object(text, len, why, why_len);
    if (obj == NULL)
        return -1;
    if (check_identity(obj, host, tenant, identity_mismatch, why, why_len) != 0)
        goto out;
    if (string_member(obj, "version", out->version, sizeof(out->version)) != 0 ||
        !text_is_clean(out->version, AGENT_VERSION_MAX) || strpbrk(out->version, " &#%?") != NULL) {
        snprintf(why, why_len, "the answer lacks a version (a short string of plain characters)");
        goto out;
    }
    if (!json_object_object_get_ex(obj, "requests", &array) ||
        !json_object_is_type(array, json_type_array)) {
        snprintf(why, why_len, "the answer lacks its requests array");
        goto out;
    }
    rc = parse_requests(array, host, tenant, out, identity_mismatch, why, why_len);
out:
    json_object_put(obj);
    if (rc != 0)
        feed_answer_free(out);
    return rc;
}

void feed_answer_free(struct feed_answer *answer)
{
    free(answer->requests);
    answer->requests = NULL;
    answer->n_requests = 0;
}

int filed_answer_parse(const char *text, size_t len, const char *host, const char *tenant,
                       struct lockbox_request *out, char *why, size_t why_len)
{
    char err[200];
    bool mismatch = false;
    json_object *obj = parse_object(text, len, why, why_len);

    if (obj == NULL)
        return -1;
    int rc = request_from_json(obj, out, err, sizeof(err));
    json_object_put(obj);
    if (rc != 0) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    return check_request(out, host, tenant, &mismatch, why, why_len);
}

const char *mirror_event(enum request_state from, enum request_state to)
{
    if (from == REQUEST_PENDING) {
        switch (to) {
        case REQUEST_APPROVED: return "request.approved";
        case REQUEST_DENIED: return "request.denied";
        case REQUEST_EXPIRED: return "request.expired";
        case REQUEST_REVOKED: return "access.revoked"; /* central cancelled it before a decision */
        default: return NULL;
        }
    }
    if (from == REQUEST_APPROVED) {
        switch (to) {
        case REQUEST_REVOKED: return "access.revoked";
        case REQUEST_EXPIRED: return "access.expired";
        default: return NULL;
        }
    }
    return NULL; /* denied, expired and revoked are final */
}

enum mirror_action mirror_choose(const struct lockbox_request *local,
                                 const struct lockbox_request *central)
{
    if (local == NULL)
        return MIRROR_INSERT;
    if (local->state == central->state || mirror_event(local->state, central->state) == NULL)
        return MIRROR_NOTHING;
    return MIRROR_TRANSITION;
}

bool offline_may_admit(bool link_up, enum central_offline mode, int64_t grace_s,
                       int64_t last_sync_wall_ms, int64_t now_wall_ms)
{
    if (link_up)
        return true;
    if (mode != CENTRAL_OFFLINE_GRACE || last_sync_wall_ms <= 0)
        return false;
    /* A clock set back must not stretch the grace: a sync "in the future" counts as none. */
    int64_t since = now_wall_ms - last_sync_wall_ms;
    return since >= 0 && since < grace_s * 1000;
}
