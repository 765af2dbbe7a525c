/* Request operations over the store and journal, authorised by the pure core. */
#define _GNU_SOURCE
#include "service.h"
#include "service_grants.h"
#include "service_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "array_grow.h"
#include "duration.h"
#include "random_id.h"
#include "text.h"

struct service_result service_result_of(int status, const char *error, const char *fmt, ...)
{
    struct service_result r = {status, error, "", 0, 0, 0, ""};
    va_list ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(r.message, sizeof(r.message), fmt, ap);
        va_end(ap);
    }
    return r;
}

static const struct service_result OK = {200, NULL, "", 0, 0, 0, ""};

void service_read_clock(struct lockbox_clock *now)
{
    static char boot_id[LOCKBOX_BOOT_ID_LEN + 1];
    struct timespec wall, boot;

    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    now->wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    now->boot_ms = (int64_t)boot.tv_sec * 1000 + boot.tv_nsec / 1000000;
    if (boot_id[0] == '\0') {
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, boot_id, LOCKBOX_BOOT_ID_LEN) : -1;
        if (fd >= 0)
            close(fd);
        if (n != LOCKBOX_BOOT_ID_LEN)
            snprintf(boot_id, sizeof(boot_id), "unknown-boot");
    }
    memcpy(now->boot_id, boot_id, sizeof(boot_id));
}

static void schedule(struct service *svc, const struct lockbox_request *req,
                     const struct lockbox_clock *now)
{
    int64_t left = request_ms_until_deadline(req, now);
    int64_t warning = svc->notifier ? notifier_warn_if_due(svc->notifier, req, now) : -1;
    if (warning > 0 && warning < left)
        left = warning;
    if (left >= 0 && now->boot_ms + left < svc->next_deadline_boot_ms)
        svc->next_deadline_boot_ms = now->boot_ms + left;
}

/* Wakes whoever waits on the request, and its host's feed (role=central). */
static void announce_change(struct service *svc, const struct lockbox_request *req)
{
    if (svc->on_changed)
        svc->on_changed(svc->on_changed_ctx, req->id);
    if (svc->on_host_changed)
        svc->on_host_changed(svc->on_changed_ctx, req->host);
}

static struct audit_event event_for(const struct lockbox_request *req, const char *event,
                                    const char *actor)
{
    struct audit_event ev = {event,           req->id,        req->tenant, req->host,
                             req->user,       actor,          req->reason, req->comment,
                             req->expires_at, req->requester, NULL};
    return ev;
}

/* A store that failed: 503 while it cannot be reached (a database server down or failing
 * over: try again), else 500. Nothing was changed either way. */
struct service_result service_store_failed(struct store *store)
{
    if (store_unavailable(store))
        return service_result_of(
            503, "store_unavailable",
            "the database cannot be reached or refused the change; nothing was "
            "changed, try again (see syslog)");
    return service_result_of(500, "internal", "cannot read or change the store (see syslog)");
}

struct service_result service_journal_result(struct service *svc, enum journal_result jr)
{
    switch (jr) {
    case JOURNAL_OK: return OK;
    case JOURNAL_CONFLICT:
        return service_result_of(
            409, "conflict",
            "the request changed while this call was deciding it (another lockboxd "
            "decided it first); show it again");
    case JOURNAL_AUDIT_DOWN:
        return service_result_of(
            503, "audit_unavailable",
            "the audit file cannot be written; nothing was granted (see syslog)");
    default: return service_store_failed(svc->store);
    }
}

/* Who asks. For a login: the invoking user su or sudo named (PAM_RUSER, root included: root
 * su'ing to an account asks for it too), else nobody known (ssh; and root filing on someone's
 * behalf, as the module does). Anyone else asks for themselves: the person behind the session
 * the call comes from (its audit login uid, so an admin working in a shared account is still
 * herself), else the caller. */
static void set_requester(struct lockbox_request *req, const struct identity *who,
                          const struct file_input *in)
{
    uid_t uid;

    req->requester[0] = '\0';
    req->requester_uid = (uid_t)-1;
    if (in->requester != NULL) {
        snprintf(req->requester, sizeof(req->requester), "%s", in->requester);
        if (identity_uid_of(in->requester, &uid) == 0)
            req->requester_uid = uid;
    } else if (who->uid != 0 && who->kind != IDENTITY_REMOTE_HOST) {
        if (identity_login_name(who, req->requester, sizeof(req->requester), &req->requester_uid) !=
            0) {
            snprintf(req->requester, sizeof(req->requester), "%s", who->name);
            req->requester_uid = who->uid;
        }
    }
}

struct service_result service_file(struct service *svc, const struct identity *who,
                                   const struct file_input *in, const struct lockbox_clock *now,
                                   struct lockbox_request *out)
{
    const struct lockboxd_config *cfg = svc->config;
    struct lockbox_request req;

    /* An agent's requests live at central: the login socket forwards the module's there. */
    if (svc->agent != NULL)
        return service_result_of(
            400, "bad_request",
            "this host is an agent of central %s: file there (lockboxctl --server %s "
            "request ...)",
            agent_central_url(svc->agent), agent_central_url(svc->agent));
    const char *user = in->user ? in->user : who->name;
    const char *tenant, *host;
    bool is_host = who->kind == IDENTITY_REMOTE_HOST;
    /* Who may set service, rhost and requester at all is the door's to check (routes.c's
     * table; the login socket is root's alone): whom a request is for depends on the value.
     * A host (at central) speaks for its PAM module, as root does on the host. */
    if (strcmp(user, who->name) != 0 && who->uid != 0 && !is_host)
        return service_result_of(403, "forbidden", "only root may file a request for another user");
    if (is_host && in->user == NULL)
        return service_result_of(400, "bad_request", "'user' is required when a host files");
    struct service_result target = service_file_target(svc, who, in, &tenant, &host);
    if (target.status != 200)
        return target;
    /* Accounts live on the hosts: a central has none of them to check. */
    if (cfg->role != LOCKBOXD_ROLE_CENTRAL && !identity_user_exists(user))
        return service_result_of(400, "bad_request", "no such user '%s' on this host", user);
    memset(&req, 0, sizeof(req));
    set_requester(&req, who, in);
    enum lockbox_result found = store_find_pending(svc->store, user, tenant, host, req.requester,
                                                   out);
    if (found == LOCKBOX_OK)
        return OK; /* a repeated login finds the request it already filed */
    if (found == LOCKBOX_ERROR)
        return service_store_failed(svc->store);
    struct service_result room = service_pending_room(svc, user, host);
    if (room.status != 200)
        return room;
    if (random_id(req.id) != 0)
        return service_result_of(500, "internal", "cannot draw a random request id");
    snprintf(req.tenant, sizeof(req.tenant), "%s", tenant);
    snprintf(req.host, sizeof(req.host), "%s", host);
    snprintf(req.user, sizeof(req.user), "%s", user);
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", identity_recorded_name(who));
    req.requested_by_uid = who->uid;
    snprintf(req.reason, sizeof(req.reason), "%s", in->reason);
    snprintf(req.service, sizeof(req.service), "%s", in->service ? in->service : "lockboxctl");
    snprintf(req.rhost, sizeof(req.rhost), "%s", in->rhost ? in->rhost : "");
    request_init_pending(&req, now, cfg->request_ttl_s * 1000);
    struct audit_event ev = event_for(&req, "request.created", identity_recorded_name(who));
    enum journal_result jr = journal_record(svc->journal, &req, STORE_NEW_REQUEST, &ev, false,
                                            now->wall_ms);
    struct service_result r = service_journal_result(svc, jr);
    if (jr != JOURNAL_OK && jr != JOURNAL_AUDIT_DOWN)
        return r;
    schedule(svc, &req, now);
    *out = req;
    announce_change(svc, &req); /* a new request is news to its host's feed */
    r.status = r.status == 200 ? 201 : r.status;
    return r;
}

static const char *decision_event(enum request_state to)
{
    return to == REQUEST_APPROVED ? "request.approved"
           : to == REQUEST_DENIED ? "request.denied"
                                  : "access.revoked";
}

static struct service_result refuse_decision(const struct service *svc,
                                             enum request_verdict verdict,
                                             const struct lockbox_request *req,
                                             enum request_state to)
{
    char limit[32];

    switch (verdict) {
    case VERDICT_NOT_ADMIN:
        return service_result_of(403, "forbidden", "you are not an approver for tenant %s",
                                 req->tenant);
    case VERDICT_SELF_DECISION:
        return service_result_of(403, "forbidden",
                                 "you cannot decide your own request (you asked for it, "
                                 "filed it, or it is for your account)");
    case VERDICT_WRONG_STATE:
        return service_result_of(409, "conflict", "request %s is %s; only %s request can be %s",
                                 req->id, request_state_name(req->state),
                                 to == REQUEST_REVOKED ? "an approved" : "a pending",
                                 to == REQUEST_APPROVED ? "approved"
                                 : to == REQUEST_DENIED ? "denied"
                                                        : "revoked");
    case VERDICT_BAD_DURATION:
        /* Name the limit: the admin's next try should not be a guess. */
        duration_format(svc->config->access_ttl_s, limit, sizeof(limit));
        return service_result_of(400, "bad_request", "'for' may not exceed access_ttl (%s)", limit);
    default: return service_result_of(500, "internal", "unexpected verdict");
    }
}

struct service_result service_decide(struct service *svc, const struct identity *who,
                                     const char *id, enum request_state to, const char *comment,
                                     int64_t grant_s, const struct lockbox_clock *now,
                                     struct lockbox_request *out)
{
    return service_decide_signed(svc, who, id, to, comment, grant_s, NULL, now, out);
}

/* A tenant that signs: the grant's new signatures are recorded (grant.signed), and the
 * request is approved only once they reach the quorum, for the statement's window. 200 with
 * *approve false while more signatures are needed. */
static struct service_result gather_signatures(struct service *svc, const struct identity *who,
                                               struct lockbox_request *req, int *stored_state,
                                               const char *grant_text,
                                               const struct lockbox_clock *now, int64_t *access_ms,
                                               bool *approve)
{
    struct grant_outcome outcome;
    struct service_result r = service_grant_sign(svc, who, req, *stored_state, grant_text, now,
                                                 &outcome);
    *approve = r.status == 200 && outcome.quorum_reached;
    *access_ms = outcome.access_ms;
    if (r.status == 200 && !outcome.quorum_reached) {
        *stored_state = (int)req->state;
        snprintf(r.message, sizeof(r.message), "signed (%u of %u)", outcome.counted,
                 outcome.required);
    }
    return r;
}

struct service_result service_decide_signed(struct service *svc, const struct identity *who,
                                            const char *id, enum request_state to,
                                            const char *comment, int64_t grant_s,
                                            const char *grant_text, const struct lockbox_clock *now,
                                            struct lockbox_request *out)
{
    struct lockbox_request req;
    int64_t grant_ms = grant_s * 1000;
    if (svc->agent != NULL)
        return service_result_of(400, "bad_request",
                                 "decide at central (lockboxctl --server %s ...)",
                                 agent_central_url(svc->agent));
    enum lockbox_result found = store_get_request(svc->store, id, &req);

    if (found != LOCKBOX_OK)
        return found == LOCKBOX_NOT_FOUND ? service_result_of(404, "not_found", "no request %s", id)
                                          : service_store_failed(svc->store);
    int stored_state = (int)req.state; /* the change applies only if it still is */
    struct lockbox_tenant_policy policy = config_policy_for(svc->config, req.tenant);
    struct lockbox_actor actor;
    if (identity_actor(who, &actor) != 0)
        return service_result_of(403, "forbidden", "lockboxd cannot look up your groups");
    request_expire_if_due(&req, now); /* a lapsed request is not decided by a late click */
    enum request_verdict verdict = request_may_decide(&req, &policy, &actor, to);
    /* The caller's name is the first account of its uid; a second name for the same uid is
     * the same person. Compare uids too, and refuse when the user cannot be looked up. */
    if (verdict == VERDICT_OK && service_user_is_caller(svc, req.user, who))
        verdict = VERDICT_SELF_DECISION;
    /* Approvals are per account and host: someone waiting for this very account on this
     * host would let themselves in by approving another person's request for it. */
    if (verdict == VERDICT_OK && to == REQUEST_APPROVED &&
        store_asked_pending(svc->store, req.user, req.tenant, req.host, who->name, who->uid) !=
            LOCKBOX_NOT_FOUND)
        verdict = VERDICT_SELF_DECISION;
    bool signs = to == REQUEST_APPROVED && service_tenant_signs(svc, req.tenant);
    if (verdict == VERDICT_OK && signs) {
        bool approve = false;
        struct service_result g = gather_signatures(svc, who, &req, &stored_state, grant_text, now,
                                                    &grant_ms, &approve);
        if (g.status != 200 || !approve) {
            if (g.status == 200) {
                *out = req;
                announce_change(svc, &req); /* the request shows its new signer */
            }
            return g;
        }
    } else if (verdict == VERDICT_OK && grant_text != NULL && to == REQUEST_APPROVED) {
        return service_result_of(400, "bad_request",
                                 "tenant %s takes no signed grants (signed_approvals = off): "
                                 "approve without --key",
                                 req.tenant);
    }
    if (verdict == VERDICT_OK) {
        if (to == REQUEST_APPROVED)
            verdict = request_approve(&req, identity_recorded_name(who), comment, grant_ms,
                                      svc->config->access_ttl_s * 1000, now);
        else if (to == REQUEST_DENIED)
            verdict = request_deny(&req, identity_recorded_name(who), comment, now);
        else
            verdict = request_revoke(&req, identity_recorded_name(who), comment, now);
    }
    if (verdict != VERDICT_OK)
        return refuse_decision(svc, verdict, &req, to);
    struct audit_event ev = event_for(&req, decision_event(to), identity_recorded_name(who));
    if (signs)
        ev.grant = req.grant; /* the signatures that approved it, for the offline proof */
    enum journal_result jr = journal_record(svc->journal, &req, stored_state, &ev,
                                            to == REQUEST_APPROVED, now->wall_ms);
    struct service_result r = service_journal_result(svc, jr);
    if (jr != JOURNAL_OK)
        return r;
    schedule(svc, &req, now);
    *out = req;
    if (to != REQUEST_DENIED && svc->sessions) {
        /* Access follows the user and host: a revoke ends their sessions only when no other
         * approval covers them; an approval extends the sessions an older one covers. */
        char why[LOCKBOX_NAME_MAX + 16];
        snprintf(why, sizeof(why), "revoked by %s", identity_recorded_name(who));
        struct session_change change = sessions_access_changed(svc->sessions, req.user, req.tenant,
                                                               req.host,
                                                               identity_recorded_name(who), why,
                                                               comment, to == REQUEST_REVOKED, now);
        r.sessions_terminated = change.terminated;
        r.sessions_kept = change.kept;
        r.leftovers_ended = change.leftovers_ended;
        memcpy(r.sessions_kept_by, change.kept_by, sizeof(r.sessions_kept_by));
    }
    announce_change(svc, &req);
    return r;
}

struct service_result service_show(struct service *svc, const struct identity *who, const char *id,
                                   struct lockbox_request *out)
{
    enum lockbox_result found = store_get_request(svc->store, id, out);
    if (found != LOCKBOX_OK)
        return found == LOCKBOX_NOT_FOUND ? service_result_of(404, "not_found", "no request %s", id)
                                          : service_store_failed(svc->store);
    if (who->kind == IDENTITY_REMOTE_HOST) /* hosts do not learn what other hosts have */
        return service_host_may_read(svc, who, out)
                   ? OK
                   : service_result_of(404, "not_found", "no request %s", id);
    struct lockbox_tenant_policy policy = config_policy_for(svc->config, out->tenant);
    struct lockbox_actor actor;
    if (identity_reader(who, &actor) != 0 || !request_may_read(out, &policy, &actor))
        return service_result_of(403, "forbidden",
                                 "you may only read your own requests or your tenants'");
    return OK;
}

bool service_may_read_tenant(const struct service *svc, const struct identity *who,
                             const char *tenant_name)
{
    if (who->uid == 0)
        return true;
    const struct tenant_config *tenant = config_find_tenant(svc->config, tenant_name);
    if (tenant == NULL)
        return false;
    struct lockbox_tenant_policy policy = config_tenant_policy(tenant);
    struct lockbox_actor actor;
    return identity_actor(who, &actor) == 0 && policy_is_admin(&policy, &actor);
}

static void login_event(struct audit_event *ev, const struct lockbox_request *req,
                        const struct check_input *in, const char *tenant, const char *host,
                        const char *event)
{
    memset(ev, 0, sizeof(*ev));
    ev->event = event;
    ev->request_id = req ? req->id : NULL;
    ev->tenant = tenant;
    ev->host = host;
    ev->user = in->user;
    ev->actor = in->user;
    ev->requester = in->requester; /* who is logging in: su's or sudo's invoking user */
    ev->reason = req ? req->reason : NULL;
    ev->comment = req && req->comment[0] ? req->comment : NULL;
    ev->expires_at = req ? req->expires_at : 0;
}

struct service_result service_check(struct service *svc, const struct identity *who,
                                    const struct check_input *in, const struct lockbox_clock *now,
                                    bool *allowed, struct lockbox_request *out, bool *has_request)
{
    const char *tenant = in->tenant ? in->tenant : svc->config->tenant;
    const char *host = in->host ? in->host : svc->config->host;
    struct audit_event ev;

    (void)who; /* root: both doors let only root ask (routes.c's table, the login socket) */
    *allowed = false;
    *has_request = false;
    if (config_find_tenant(svc->config, tenant) == NULL)
        return service_result_of(400, "bad_request", "unknown tenant '%s'", tenant);
    /* An agent cut off from central may not know of a revoke: the mirror's approvals count
     * only while the link is up (or within offline_grace of the last sync). */
    bool offline = svc->agent != NULL && !agent_may_admit(svc->agent, now);
    enum lockbox_result found = store_find_current_approval(svc->store, in->user, tenant, host, now,
                                                            out);
    /* A held approval refused is a denied login even before the module's final check (it
     * files anew, which fails while central is out of reach, and never makes one). */
    bool held_refused = offline && found == LOCKBOX_OK;
    if (held_refused)
        found = LOCKBOX_NOT_FOUND;
    if (found == LOCKBOX_ERROR)
        return service_store_failed(svc->store);
    /* Signed tenants: "approved" in the store (or from central) counts only with a grant that
     * verifies here and now. */
    if (found == LOCKBOX_OK && !service_grant_holds(svc, out, host, now))
        found = LOCKBOX_NOT_FOUND;
    if (found == LOCKBOX_OK) {
        *has_request = true;
        login_event(&ev, out, in, tenant, host, "login.allowed");
        struct service_result r = service_journal_result(svc, journal_record(svc->journal, NULL,
                                                                             STORE_NEW_REQUEST, &ev,
                                                                             true, now->wall_ms));
        *allowed = r.status == 200;
        return r;
    }
    found = store_find_pending(svc->store, in->user, tenant, host, in->requester, out);
    if (found == LOCKBOX_NOT_FOUND) {
        found = store_find_latest(svc->store, in->user, tenant, host, out);
        /* Someone else's pending request is not this login's to wait on: it files its own. */
        if (found == LOCKBOX_OK && out->state == REQUEST_PENDING)
            found = LOCKBOX_NOT_FOUND;
    }
    if (found == LOCKBOX_ERROR)
        return service_store_failed(svc->store);
    *has_request = found == LOCKBOX_OK;
    struct service_result r = OK;
    if (offline)
        snprintf(r.message, sizeof(r.message), "central unreachable");
    if (in->final || held_refused) {
        login_event(&ev, *has_request ? out : NULL, in, tenant, host, "login.denied");
        if (offline)
            ev.comment = "central unreachable";
        enum journal_result jr = journal_record(svc->journal, NULL, STORE_NEW_REQUEST, &ev, false,
                                                now->wall_ms);
        if (jr == JOURNAL_STORE_FAILED)
            return service_journal_result(svc, jr);
    }
    return r;
}

struct due_list {
    struct service *svc;
    const struct lockbox_clock *now;
    char (*ids)[LOCKBOX_ID_HEX_LEN + 1];
    size_t count, cap;
    int64_t next;
};

static int collect_due(const struct lockbox_request *req, void *ctx)
{
    struct due_list *due = ctx;
    int64_t left = request_ms_until_deadline(req, due->now);

    if (left > 0) {
        int64_t warning = due->svc->notifier
                              ? notifier_warn_if_due(due->svc->notifier, req, due->now)
                              : -1;
        if (warning > 0 && warning < left)
            left = warning;
        if (due->now->boot_ms + left < due->next)
            due->next = due->now->boot_ms + left;
        return 0;
    }
    if (array_grow(&due->ids, &due->cap, due->count + 1, sizeof(*due->ids), 64) != 0)
        return 1;
    memcpy(due->ids[due->count++], req->id, LOCKBOX_ID_HEX_LEN + 1);
    return 0;
}

static void expire_one(struct service *svc, const char *id, const struct lockbox_clock *now)
{
    struct lockbox_request req;

    if (store_get_request(svc->store, id, &req) != LOCKBOX_OK)
        return;
    enum request_state was = req.state;
    if (!request_expire_if_due(&req, now))
        return;
    req.decided_at = now->wall_ms;
    snprintf(req.decided_by, sizeof(req.decided_by), "lockboxd");
    struct audit_event ev = event_for(&req,
                                      was == REQUEST_PENDING ? "request.expired" : "access.expired",
                                      "lockboxd");
    /* With several lockboxd on one database each may find the request due: the first to
     * commit expires it, the others' changes conflict and do nothing. */
    if (journal_record(svc->journal, &req, (int)was, &ev, false, now->wall_ms) != JOURNAL_OK)
        return;
    if (was == REQUEST_APPROVED && svc->sessions)
        sessions_access_changed(svc->sessions, req.user, req.tenant, req.host, "lockboxd",
                                "access expired", NULL, true, now);
    announce_change(svc, &req);
}

void service_expire_due(struct service *svc, const struct lockbox_clock *now)
{
    struct due_list due = {svc, now, NULL, 0, 0, INT64_MAX};

    /* Collect first: the store is not written while its live rows are being walked. */
    if (store_each_live(svc->store, collect_due, &due) != 0) {
        syslog(LOG_ERR, "event=store.error msg=\"cannot scan live requests: %s\"",
               store_error(svc->store));
        due.next = now->boot_ms + 1000; /* try again shortly */
    }
    for (size_t i = 0; i < due.count; i++)
        expire_one(svc, due.ids[i], now);
    free(due.ids);
    svc->next_deadline_boot_ms = due.next;
}

void service_schedule_all(struct service *svc, const struct lockbox_clock *now)
{
    service_expire_due(svc, now);
}

void service_request_changed(struct service *svc, const char *id, const struct lockbox_clock *now)
{
    struct lockbox_request req;

    if (store_get_request(svc->store, id, &req) != LOCKBOX_OK)
        return; /* unreadable now: the next expiry scan and the waiters' deadlines still run */
    schedule(svc, &req, now);
    /* Sessions follow approvals: a new one extends them, the end of one (never a pending
     * request lapsing: granted_ms is 0 then) ends those no other approval covers. */
    bool approved = req.state == REQUEST_APPROVED;
    bool ended = (req.state == REQUEST_REVOKED || req.state == REQUEST_EXPIRED) &&
                 req.granted_ms > 0;
    if (svc->sessions != NULL && (approved || ended)) {
        char why[LOCKBOX_NAME_MAX + 16];
        if (req.state == REQUEST_REVOKED)
            snprintf(why, sizeof(why), "revoked by %s", req.decided_by);
        else
            snprintf(why, sizeof(why), "%s", approved ? "approved" : "access expired");
        sessions_access_changed(svc->sessions, req.user, req.tenant, req.host, req.decided_by, why,
                                ended ? req.comment : NULL, ended, now);
    }
    announce_change(svc, &req);
}

bool service_store_unavailable(struct service *svc)
{
    return store_unavailable(svc->store);
}

int service_follow_approvals(struct service *svc, const struct lockbox_clock *now)
{
    return svc->sessions != NULL ? sessions_follow_approvals(svc->sessions, now) : 0;
}
