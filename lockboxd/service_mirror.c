/* An agent's mirror of central (service.h, service_mirror): central decides, and each of its
 * decisions is recorded here through the journal, as a decision made here would be, so the
 * host's audit file, sessions and waiting logins follow it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agent_feed.h"
#include "service.h"

static struct service_result mirror_result(int status, const char *error, const char *message)
{
    struct service_result r = {status, error, "", 0, 0, 0, ""};
    snprintf(r.message, sizeof(r.message), "%s", message);
    return r;
}

static struct service_result from_journal(enum journal_result jr)
{
    switch (jr) {
    case JOURNAL_OK: return mirror_result(200, NULL, "");
    case JOURNAL_CONFLICT:
        return mirror_result(409, "conflict", "the mirrored request changed meanwhile");
    case JOURNAL_AUDIT_DOWN:
        return mirror_result(503, "audit_unavailable", "the audit file cannot be written");
    default: return mirror_result(500, "internal", "cannot change the store (see syslog)");
    }
}

static enum journal_result record(struct service *svc, const struct lockbox_request *req,
                                  int from_state, const char *event, const char *actor,
                                  const struct lockbox_clock *now)
{
    struct audit_event ev = {event, req->id, req->tenant, req->host, req->user, actor, req->reason,
                             req->comment, req->expires_at, req->requester,
                             /* central's signed grant: the host's own audit keeps the proof */
                             req->state == REQUEST_APPROVED && req->grant[0] ? req->grant : NULL};
    return journal_record(svc->journal, req, from_state, &ev, req->state == REQUEST_APPROVED,
                          now->wall_ms);
}

/* The request as filed: pending, whatever central has decided since. */
static enum journal_result insert_pending(struct service *svc,
                                          const struct lockbox_request *central,
                                          const struct lockbox_clock *now)
{
    struct lockbox_request req = *central;
    uid_t uid;

    req.state = REQUEST_PENDING;
    req.decided_at = 0;
    req.decided_by[0] = '\0';
    req.comment[0] = '\0';
    req.granted_ms = 0;
    req.approved_boot_ms = 0;
    req.approved_boot_id[0] = '\0';
    if (central->state != REQUEST_PENDING)
        req.expires_at = now->wall_ms + svc->config->request_ttl_s * 1000;
    req.requested_by_uid = (uid_t)-1;
    /* The person asking, as this host knows them: the self-decision rules compare uids. */
    req.requester_uid = req.requester[0] && identity_uid_of(req.requester, &uid) == 0 ? uid
                                                                                      : (uid_t)-1;
    return record(svc, &req, STORE_NEW_REQUEST, "request.created", req.requested_by, now);
}

/* Central's decision on the mirror's copy. An approval runs on this host's clocks from now:
 * its boot-time deadline keeps a clock set back here from stretching it past central's end. */
static enum journal_result apply_decision(struct service *svc, const struct lockbox_request *local,
                                          const struct lockbox_request *central,
                                          const struct lockbox_clock *now)
{
    struct lockbox_request req = *local;
    const char *event = mirror_event(local->state, central->state);

    if (event == NULL)
        return JOURNAL_OK;
    req.state = central->state;
    req.decided_at = central->decided_at ? central->decided_at : now->wall_ms;
    snprintf(req.decided_by, sizeof(req.decided_by), "%s",
             central->decided_by[0] ? central->decided_by : "central");
    snprintf(req.comment, sizeof(req.comment), "%s", central->comment);
    /* The grant comes with the approval; service_check verifies it here (service_grants.h). */
    snprintf(req.grant, sizeof(req.grant), "%s", central->grant);
    req.expires_at = central->expires_at;
    if (req.state == REQUEST_APPROVED) {
        /* No approval outlasts this host's own access_ttl (12 h at most), whatever central
         * says: one bad answer must not open the host for years. */
        int64_t cap = now->wall_ms + svc->config->access_ttl_s * 1000;
        if (req.expires_at > cap) {
            syslog(LOG_WARNING,
                   "event=central.capped id=%s msg=\"central's approval ran past this host's "
                   "access_ttl; it ends at the host's limit\"",
                   req.id);
            req.expires_at = cap;
        }
        int64_t left = req.expires_at - now->wall_ms;
        req.granted_ms = left > 1 ? left : 1;
        req.approved_boot_ms = now->boot_ms;
        snprintf(req.approved_boot_id, sizeof(req.approved_boot_id), "%s", now->boot_id);
    } else if (req.state == REQUEST_REVOKED || req.state == REQUEST_EXPIRED) {
        req.expires_at = req.decided_at < now->wall_ms ? req.decided_at : now->wall_ms;
    }
    return record(svc, &req, (int)local->state, event, req.decided_by, now);
}

struct service_result service_mirror(struct service *svc, const struct lockbox_request *central,
                                     const struct lockbox_clock *now)
{
    struct lockbox_request local;
    enum lockbox_result found = store_get_request(svc->store, central->id, &local);
    enum journal_result jr = JOURNAL_OK;

    if (found == LOCKBOX_ERROR)
        return mirror_result(500, "internal", "cannot read the mirror (see syslog)");
    switch (mirror_choose(found == LOCKBOX_OK ? &local : NULL, central)) {
    case MIRROR_NOTHING: return mirror_result(200, NULL, "");
    case MIRROR_INSERT:
        jr = insert_pending(svc, central, now);
        if (jr != JOURNAL_OK || central->state == REQUEST_PENDING)
            break;
        if (store_get_request(svc->store, central->id, &local) != LOCKBOX_OK)
            return mirror_result(500, "internal", "cannot read the mirror (see syslog)");
        jr = apply_decision(svc, &local, central, now);
        break;
    case MIRROR_TRANSITION: jr = apply_decision(svc, &local, central, now); break;
    }
    if (jr == JOURNAL_OK)
        service_request_changed(svc, central->id, now); /* deadlines, sessions, waiters */
    return from_journal(jr);
}
