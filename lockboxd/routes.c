/* The /v1 routing table: one handler per path, each turning a typed body into a service call
 * and its result into JSON. Who may call and what the body holds are checked before. */
#define _GNU_SOURCE
#include "routes.h"
#include "routes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "api_error.h"
#include "body.h"
#include "duration.h"
#include "host_feed.h"
#include "random_id.h"
#include "request_json.h"
#include "service_grants.h"
#include "text.h"
#include "timefmt.h"

/* The wait route's action: a suspended wait is answered outside the dispatcher. */
#define WAIT_ACTION "show"

/* Every refused call is logged (docs/DESIGN.md), here and only here for this door: the
 * table's checks, the handlers and the service they call answer 403 without logging it, so
 * each refusal is one line whichever of them refused. */
static void log_if_refused(const struct call *call, const char *action, const char *id)
{
    if (call->reply_status == 403)
        api_log_refusal(&call->who, action, id ? id : "-", call->reply_message);
}

static enum MHD_Result reply_result(const struct service *svc, struct call *call,
                                    const struct service_result *r,
                                    const struct lockbox_request *req)
{
    if (r->status >= 400)
        return http_reply_error(call, (unsigned)r->status, r->error, "%s", r->message);
    return http_reply_json(call, (unsigned)r->status, service_request_json(svc, req));
}

/* Rejects query parameters other than the allowed ones (a typo must not pass silently). */
bool route_query_ok(struct call *call, const char *const *allowed, char *err, size_t err_len)
{
    const char *unknown = http_query_unknown(call, allowed);
    if (unknown != NULL) {
        char shown[80];
        snprintf(err, err_len, "unknown query parameter '%s'",
                 text_escape_log(unknown, shown, sizeof(shown)));
        return false;
    }
    return true;
}

static const char *query(struct call *call, const char *key)
{
    return http_query(call, key);
}

int route_query_int(struct call *call, const char *key, long min, long max, long fallback,
                    long *out)
{
    const char *text = query(call, key);
    char *end;

    if (text == NULL) {
        *out = fallback;
        return 0;
    }
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static enum MHD_Result route_health(struct route_ctx *ctx)
{
    struct service *svc = ctx->svc;
    struct journal_view journal = journal_view(svc->journal);
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "status", json_object_new_string("ok"));
    json_object_object_add(obj, "version", json_object_new_string(LOCKBOX_VERSION));
    if (svc->config->role != LOCKBOXD_ROLE_STANDALONE)
        json_object_object_add(obj, "role",
                               json_object_new_string(config_role_name(svc->config->role)));
    json_object_object_add(obj, "tenant", json_object_new_string(svc->config->tenant));
    json_object_object_add(obj, "host", json_object_new_string(svc->config->host));
    json_object_object_add(obj, "audit_ok", json_object_new_boolean(journal.audit_ok));
    json_object_object_add(obj, "audit_seq", json_object_new_int64((int64_t)journal.head_seq));
    json_object_object_add(obj, "audit_hash", json_object_new_string(journal.head_hash));
    json_object_object_add(obj, "audit_file", json_object_new_string(journal.file_path));
    json_object_object_add(obj, "audit_file_first_seq",
                           json_object_new_int64((int64_t)journal.file_first_seq));
    json_object_object_add(obj, "waiting",
                           json_object_new_int64((int64_t)waiters_count(ctx->routes->waiters)));
    if (svc->agent != NULL)
        json_object_object_add(obj, "central", agent_health(svc->agent));
    return http_reply_json(ctx->call, 200, obj);
}

static enum MHD_Result route_file(struct route_ctx *ctx)
{
    const struct body *body = &ctx->body;
    struct lockbox_clock now;
    struct lockbox_request req;

    struct file_input in = {body->reason,  body->tenant, body->host,     body->user,
                            body->service, body->rhost,  body->requester};
    enum MHD_Result forwarded;
    if (route_forward_file(ctx, &in, &forwarded))
        return forwarded;
    service_read_clock(&now);
    struct service_result r = service_file(ctx->svc, &ctx->call->who, &in, &now, &req);
    return reply_result(ctx->svc, ctx->call, &r, &req);
}

static bool is_any_admin(const struct service *svc, const struct identity *who)
{
    for (unsigned i = 0; i < svc->config->n_tenants; i++) {
        if (service_may_read_tenant(svc, who, svc->config->tenants[i].name))
            return true;
    }
    return false;
}

struct list_ctx {
    json_object *array;
    struct service *svc;
    struct lockbox_actor actor;
};

static int add_readable(const struct lockbox_request *req, void *cls)
{
    struct list_ctx *lc = cls;
    struct lockbox_tenant_policy policy = config_policy_for(lc->svc->config, req->tenant);
    if (request_may_read(req, &policy, &lc->actor))
        json_object_array_add(lc->array, service_request_json(lc->svc, req));
    return 0;
}

static enum MHD_Result route_list(struct route_ctx *ctx)
{
    static const char *const allowed[] = {"state",     "tenant", "user", "host",
                                          "id_prefix", "limit",  NULL};
    struct call *call = ctx->call;
    struct store_filter filter = {false,
                                  REQUEST_PENDING,
                                  query(call, "tenant"),
                                  query(call, "user"),
                                  query(call, "id_prefix"),
                                  0,
                                  query(call, "host")};
    const char *state = query(call, "state");
    long limit;
    char err[256];

    if (!route_query_ok(call, allowed, err, sizeof(err)))
        return http_reply_error(call, 400, "bad_request", "%s", err);
    if (state != NULL && strcmp(state, "all") == 0)
        filter.all_states = true;
    else if (state != NULL && request_state_parse(state, &filter.state) != 0)
        return http_reply_error(call, 400, "bad_request",
                                "state must be pending, approved, denied, expired, revoked or all");
    if ((filter.tenant && !text_is_name(filter.tenant, LOCKBOX_NAME_MAX)) ||
        (filter.user && !text_is_name(filter.user, LOCKBOX_NAME_MAX)))
        return http_reply_error(call, 400, "bad_request", "tenant and user must be names");
    if (filter.host && !text_is_host(filter.host, LOCKBOX_HOST_MAX))
        return http_reply_error(call, 400, "bad_request", "host must be a host name");
    if (filter.id_prefix && !random_id_is_prefix(filter.id_prefix, 1))
        return http_reply_error(call, 400, "bad_request",
                                "id_prefix must be 1 to %d lowercase hex characters",
                                LOCKBOX_ID_HEX_LEN);
    if (route_query_int(call, "limit", 1, LOCKBOX_LIST_MAX, LOCKBOX_LIST_DEFAULT, &limit) != 0)
        return http_reply_error(call, 400, "bad_request", "limit must be 1 to %d",
                                LOCKBOX_LIST_MAX);
    /* Plain users see their own: filter in SQL so the limit counts what they may read. */
    if (call->who.uid != 0 && filter.user == NULL &&
        (filter.tenant ? !service_may_read_tenant(ctx->svc, &call->who, filter.tenant)
                       : !is_any_admin(ctx->svc, &call->who)))
        filter.user = call->who.name;
    filter.limit = (int)limit;
    struct list_ctx lc = {NULL, ctx->svc, {0}};
    if (identity_reader(&call->who, &lc.actor) != 0)
        return http_reply_error(call, 403, "forbidden", "lockboxd cannot look up your groups");
    lc.array = json_object_new_array();
    if (store_list(ctx->svc->store, &filter, add_readable, &lc) != 0) {
        json_object_put(lc.array);
        return http_reply_error(call, 500, "internal", "cannot read the store");
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "requests", lc.array);
    return http_reply_json(call, 200, obj);
}

/* At central: the live sessions the request's host last reported for it, or null when its
 * agent has not reported to this instance. */
static json_object *host_sessions_json(const struct service *svc, const struct lockbox_request *req)
{
    int live;
    int64_t at;
    char when[TIMEFMT_LEN];

    if (!host_reports_get(&svc->host_reports, req->host, req->id, &live, &at))
        return NULL;
    json_object *obj = json_object_new_object();
    timefmt_rfc3339(at, when);
    json_object_object_add(obj, "host", json_object_new_string(req->host));
    json_object_object_add(obj, "live", json_object_new_int(live));
    json_object_object_add(obj, "reported_at", json_object_new_string(when));
    return obj;
}

static enum MHD_Result route_show(struct route_ctx *ctx)
{
    struct lockbox_request req;
    struct service_result r = service_show(ctx->svc, &ctx->call->who, ctx->id, &req);
    if (r.status != 200)
        return reply_result(ctx->svc, ctx->call, &r, &req);
    json_object *obj = service_request_json(ctx->svc, &req);
    json_object_object_add(obj, "notifications", notifier_status(ctx->svc->notifier, req.id));
    json_object_object_add(obj, "sessions",
                           ctx->svc->sessions ? sessions_of_request(ctx->svc->sessions, req.id)
                                              : json_object_new_array());
    if (ctx->svc->config->role == LOCKBOXD_ROLE_CENTRAL)
        json_object_object_add(obj, "host_sessions", host_sessions_json(ctx->svc, &req));
    return http_reply_json(ctx->call, 200, obj);
}

static enum MHD_Result route_decide(struct route_ctx *ctx)
{
    struct call *call = ctx->call;
    enum request_state to;
    int64_t grant_s = 0;
    struct lockbox_clock now;
    struct lockbox_request req;

    if (strcmp(ctx->action, "approve") == 0)
        to = REQUEST_APPROVED;
    else if (strcmp(ctx->action, "deny") == 0)
        to = REQUEST_DENIED;
    else
        to = REQUEST_REVOKED;
    if (ctx->body.duration)
        duration_parse(ctx->body.duration, &grant_s);
    service_read_clock(&now);
    struct service_result r = service_decide_signed(ctx->svc, &call->who, ctx->id, to,
                                                    ctx->body.comment, grant_s, ctx->body.grant,
                                                    &now, &req);
    if (r.status != 200 || to != REQUEST_REVOKED)
        return reply_result(ctx->svc, call, &r, &req);
    json_object *obj = service_request_json(ctx->svc, &req);
    json_object_object_add(obj, "sessions_terminated", json_object_new_int(r.sessions_terminated));
    json_object_object_add(obj, "sessions_kept", json_object_new_int(r.sessions_kept));
    json_object_object_add(obj, "leftovers_ended", json_object_new_int(r.leftovers_ended));
    json_object_object_add(obj, "sessions_kept_by",
                           r.sessions_kept_by[0] ? json_object_new_string(r.sessions_kept_by)
                                                 : NULL);
    return http_reply_json(call, 200, obj);
}

static enum MHD_Result route_wait(struct route_ctx *ctx)
{
    static const char *const allowed[] = {"timeout", NULL};
    struct call *call = ctx->call;
    struct lockbox_request req;
    long timeout;
    char err[256];

    if (!route_query_ok(call, allowed, err, sizeof(err)))
        return http_reply_error(call, 400, "bad_request", "%s", err);
    if (route_query_int(call, "timeout", 0, LOCKBOX_WAIT_MAX_SECONDS, 60, &timeout) != 0)
        return http_reply_error(call, 400, "bad_request", "timeout must be 0 to %d seconds",
                                LOCKBOX_WAIT_MAX_SECONDS);
    struct service_result r = service_show(ctx->svc, &call->who, ctx->id, &req);
    if (r.status != 200 || req.state != REQUEST_PENDING || timeout == 0)
        return reply_result(ctx->svc, call, &r, &req);
    struct lockbox_clock now;
    service_read_clock(&now);
    http_suspend_wait(call, req.id, now.boot_ms + timeout * 1000);
    return MHD_YES;
}

static enum MHD_Result finish_wait(void *cls, struct call *call)
{
    struct routes *routes = cls;
    struct lockbox_request req;
    if (call->external != NULL)
        return route_forward_finish(call);
    if (host_feed_is_waiter_key(call->waiter.id))
        return route_host_feed_finish(routes, call);
    struct service_result r = service_show(routes->svc, &call->who, call->waiter.id, &req);
    enum MHD_Result rc = reply_result(routes->svc, call, &r, &req);
    log_if_refused(call, WAIT_ACTION, call->waiter.id);
    return rc;
}

static enum MHD_Result route_check(struct route_ctx *ctx)
{
    struct call *call = ctx->call;
    const struct body *body = &ctx->body;
    struct lockbox_clock now;
    struct lockbox_request req;
    bool allowed = false, has_request = false;

    struct check_input in = {body->user,  body->tenant, body->host,     body->service,
                             body->rhost, body->final,  body->requester};
    service_read_clock(&now);
    struct service_result r = service_check(ctx->svc, &call->who, &in, &now, &allowed, &req,
                                            &has_request);
    if (r.status >= 400)
        return http_reply_error(call, (unsigned)r.status, r.error, "%s", r.message);
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "allowed", json_object_new_boolean(allowed));
    json_object_object_add(obj, "request",
                           has_request ? service_request_json(ctx->svc, &req) : NULL);
    return http_reply_json(call, 200, obj);
}

/* POST /v1/sessions: the PAM session stack registers a login session (root only). */
static enum MHD_Result route_session_open(struct route_ctx *ctx)
{
    struct call *call = ctx->call;
    struct service *svc = ctx->svc;
    const struct body *body = &ctx->body;
    char err[256], id[LOCKBOX_ID_HEX_LEN + 1];
    struct lockbox_clock now;
    struct lockbox_request req;

    struct session_open_input in = {body->user,  body->tenant, body->host,   body->service,
                                    body->rhost, body->tty,    call->who.pid};
    service_read_clock(&now);
    enum lockbox_result rc = svc->sessions ? sessions_open(svc->sessions, &in, &now, id, &req, err,
                                                           sizeof(err))
                                           : LOCKBOX_ERROR;
    bool refused = rc == LOCKBOX_NOT_FOUND;
    if (rc != LOCKBOX_OK)
        return http_reply_error(call, refused ? 403 : 500, refused ? "forbidden" : "internal", "%s",
                                refused ? err : "cannot register the session");
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "session_id", json_object_new_string(id));
    json_object_object_add(obj, "request", service_request_json(ctx->svc, &req));
    return http_reply_json(call, 201, obj);
}

static enum MHD_Result route_session_close(struct route_ctx *ctx)
{
    struct call *call = ctx->call;
    struct lockbox_clock now;

    service_read_clock(&now);
    enum lockbox_result rc = ctx->svc->sessions ? sessions_close(ctx->svc->sessions, ctx->id, &now)
                                                : LOCKBOX_NOT_FOUND;
    bool unknown = rc == LOCKBOX_NOT_FOUND;
    if (rc != LOCKBOX_OK)
        return http_reply_error(call, unknown ? 404 : 500, unknown ? "not_found" : "internal",
                                "no session %s", ctx->id);
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "session_id", json_object_new_string(ctx->id));
    return http_reply_json(call, 200, obj);
}

#define FILE_BODY                                                                                  \
    (BODY_REASON | BODY_TENANT | BODY_HOST | BODY_USER | BODY_SERVICE | BODY_RHOST | BODY_REQUESTER)
#define CHECK_BODY                                                                                 \
    (BODY_USER | BODY_TENANT | BODY_HOST | BODY_SERVICE | BODY_RHOST | BODY_FINAL | BODY_REQUESTER)
#define SESSION_BODY (BODY_USER | BODY_TENANT | BODY_HOST | BODY_SERVICE | BODY_RHOST | BODY_TTY)
/* Service, remote host and requester describe a login; only the module (root) knows them. A
 * user could otherwise make a request look like "login via sshd from 10.0.0.5". */
#define LOGIN_FIELDS (BODY_SERVICE | BODY_RHOST | BODY_REQUESTER)
#define LOGIN_FIELDS_REFUSAL "only root (the PAM module) may set service, rhost and requester"

static const struct route route_table[] = {
    {"GET", "/v1/health", ROUTE_HOSTS_TOO, NULL, "health", 0, 0, 0, NULL, route_health},
    {"POST", "/v1/requests", ROUTE_HOSTS_AT_CENTRAL, NULL, "request.created", FILE_BODY,
     BODY_REASON, LOGIN_FIELDS, LOGIN_FIELDS_REFUSAL, route_file},
    {"GET", "/v1/requests", ROUTE_ANYONE, NULL, "list", 0, 0, 0, NULL, route_list},
    {"GET", "/v1/requests/{id}", ROUTE_HOSTS_AT_CENTRAL, NULL, "show", 0, 0, 0, NULL, route_show},
    {"GET", "/v1/hosts/self/requests", ROUTE_HOSTS_ONLY,
     "only a host's certificate follows its feed (lockbox:host/NAME)", "host.feed", 0, 0, 0, NULL,
     route_host_feed},
    {"POST", "/v1/requests/{id}/approve", ROUTE_ANYONE, NULL, "request.approved",
     BODY_COMMENT | BODY_FOR | BODY_GRANT, 0, 0, NULL, route_decide},
    {"POST", "/v1/requests/{id}/deny", ROUTE_ANYONE, NULL, "request.denied", BODY_COMMENT, 0, 0,
     NULL, route_decide},
    {"POST", "/v1/requests/{id}/revoke", ROUTE_ANYONE, NULL, "access.revoked", BODY_COMMENT, 0, 0,
     NULL, route_decide},
    {"GET", "/v1/requests/{id}/wait", ROUTE_ANYONE, NULL, WAIT_ACTION, 0, 0, 0, NULL, route_wait},
    {"POST", "/v1/access/check", ROUTE_ROOT, "only root (the PAM module) may check access",
     "access.check", CHECK_BODY, BODY_USER, 0, NULL, route_check},
    {"GET", "/v1/audit", ROUTE_ANYONE, NULL, "audit", 0, 0, 0, NULL, route_audit},
    {"GET", "/v1/audit/export", ROUTE_ANYONE, NULL, "audit", 0, 0, 0, NULL, route_audit_export},
    {"POST", "/v1/sessions", ROUTE_ROOT, "only root (the PAM module) may register sessions",
     "session.open", SESSION_BODY, BODY_USER, 0, NULL, route_session_open},
    {"POST", "/v1/sessions/{id}/close", ROUTE_ROOT, "only root (the PAM module) may close sessions",
     "session.close", 0, 0, 0, NULL, route_session_close},
};

/* Matches url against a pattern; fills match's id and action. "{id}" must be a well-formed
 * id (*bad_id says when the rest matched but it was not). */
static bool path_matches(const char *pattern, const char *url, struct route_match *match,
                         bool *bad_id)
{
    const char *slot = strstr(pattern, "{id}");
    if (slot == NULL)
        return strcmp(pattern, url) == 0;
    size_t prefix = (size_t)(slot - pattern);
    if (strncmp(pattern, url, prefix) != 0)
        return false;
    const char *rest = url + prefix, *end = strchr(rest, '/');
    size_t id_len = end ? (size_t)(end - rest) : strlen(rest);
    if (strcmp(slot + 4, end ? end : "") != 0 || id_len == 0)
        return false;
    if (!text_is_request_id(rest, id_len)) {
        *bad_id = true;
        return false;
    }
    memcpy(match->id, rest, id_len);
    match->id[id_len] = '\0';
    match->action = end ? end + 1 : NULL;
    return true;
}

enum route_lookup routes_find(const char *method, const char *url, struct route_match *match)
{
    bool path_known = false, bad_id = false;

    memset(match, 0, sizeof(*match));
    for (size_t i = 0; i < sizeof(route_table) / sizeof(route_table[0]); i++) {
        if (!path_matches(route_table[i].path, url, match, &bad_id))
            continue;
        path_known = true;
        if (strcmp(route_table[i].method, method) == 0) {
            match->route = &route_table[i];
            return ROUTE_FOUND;
        }
    }
    match->id[0] = '\0';
    match->action = NULL;
    if (bad_id)
        return ROUTE_BAD_ID;
    return path_known ? ROUTE_WRONG_METHOD : ROUTE_NO_PATH;
}

const struct route *routes_all(size_t *count)
{
    *count = sizeof(route_table) / sizeof(route_table[0]);
    return route_table;
}

/* What the table says about a call, checked before its handler: the caller, then the body's
 * shape, then what it must hold, then what only root may put in it. Returns true when the
 * call may go on (ctx->body parsed, to be freed), or false with *refusal the refusal sent. */
static bool call_admitted(const struct route *route, struct route_ctx *ctx,
                          enum MHD_Result *refusal)
{
    struct call *call = ctx->call;
    bool is_host = call->who.kind == IDENTITY_REMOTE_HOST;
    const char *host_refusal = NULL;
    char err[256];

    if (is_host && !route_admits_host(route, ctx->svc->config, &host_refusal)) {
        *refusal = http_reply_error(call, 403, "forbidden", "%s", host_refusal);
        return false;
    }
    if ((route->caller == ROUTE_ROOT && call->who.uid != 0) ||
        (route->caller == ROUTE_HOSTS_ONLY && !is_host)) {
        *refusal = http_reply_error(call, 403, "forbidden", "%s", route->refusal);
        return false;
    }
    if (route->body == 0)
        return true; /* the body is not read: whatever came is ignored */
    if (body_parse(&ctx->body, call->body, call->body_len, route->body, err, sizeof(err)) != 0) {
        *refusal = http_reply_error(call, 400, "bad_request", "%s", err);
        return false;
    }
    const char *missing = body_first_missing(ctx->body.present, route->required);
    if (missing != NULL)
        *refusal = http_reply_error(call, 400, "bad_request", "'%s' is required", missing);
    else if ((ctx->body.present & route->root_fields) && call->who.uid != 0 && !is_host)
        *refusal = http_reply_error(call, 403, "forbidden", "%s", route->root_fields_refusal);
    else
        return true;
    body_free(&ctx->body);
    return false;
}

static enum MHD_Result dispatch(void *cls, struct call *call, const char *url, const char *method)
{
    struct routes *routes = cls;
    struct route_ctx ctx = {routes, routes->svc, call, NULL, NULL, {0}};
    struct route_match match;
    enum MHD_Result rc;

    switch (routes_find(method, url, &match)) {
    case ROUTE_FOUND: break;
    case ROUTE_BAD_ID:
        return http_reply_error(call, 404, "not_found",
                                "not a request id (32 lowercase hex characters)");
    case ROUTE_WRONG_METHOD:
        return http_reply_error(call, 405, "method_not_allowed", "wrong method for this path");
    default: return http_reply_error(call, 404, "not_found", "no such API path (see docs/API.md)");
    }
    ctx.id = match.id[0] ? match.id : NULL;
    ctx.action = match.action;
    if (call_admitted(match.route, &ctx, &rc)) {
        rc = match.route->handler(&ctx);
        body_free(&ctx.body);
    }
    log_if_refused(call, match.route->action, ctx.id);
    return rc;
}

static bool replies_must_wait(void *cls)
{
    const struct routes *routes = cls;
    return journal_holds_unflushed(routes->svc->journal);
}

/* Every reply carries the chain's head, so a tenant can keep it wherever it likes and later
 * check that no export has cut or rewritten what came before (docs/DESIGN.md). */
static void audit_head(void *cls, char *out, size_t len)
{
    const struct routes *routes = cls;
    struct journal_view view = journal_view(routes->svc->journal);
    snprintf(out, len, "%llu %s", (unsigned long long)view.head_seq, view.head_hash);
}

struct http_handler routes_handler(struct routes *routes)
{
    struct http_handler handler = {dispatch, finish_wait, replies_must_wait, audit_head, routes};
    return handler;
}
