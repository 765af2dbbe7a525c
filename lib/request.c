/* The pure request lifecycle. Every state change in Lockbox goes through these functions. */
#include "request.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
    [REQUEST_PENDING] = "pending", [REQUEST_APPROVED] = "approved", [REQUEST_DENIED] = "denied",
    [REQUEST_EXPIRED] = "expired", [REQUEST_REVOKED] = "revoked",
};

const char *request_state_name(enum request_state state)
{
    if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
        return "unknown";
    return state_names[state];
}

int request_state_parse(const char *name, enum request_state *state)
{
    for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
        if (name != NULL && strcmp(name, state_names[i]) == 0) {
            *state = (enum request_state)i;
            return 0;
        }
    }
    return -1;
}

bool request_transition_allowed(enum request_state from, enum request_state to)
{
    if (from == REQUEST_PENDING)
        return to == REQUEST_APPROVED || to == REQUEST_DENIED || to == REQUEST_EXPIRED;
    if (from == REQUEST_APPROVED)
        return to == REQUEST_REVOKED || to == REQUEST_EXPIRED;
    return false;
}

bool policy_is_admin(const struct lockbox_tenant_policy *tenant, const struct lockbox_actor *who)
{
    if (tenant == NULL || who == NULL || who->name == NULL)
        return false;
    for (unsigned i = 0; i < tenant->n_admins; i++) {
        const char *entry = tenant->admins[i];
        if (entry[0] != '@') {
            if (strcmp(entry, who->name) == 0)
                return true;
            continue;
        }
        for (unsigned g = 0; g < who->n_groups; g++) {
            if (strcmp(entry + 1, who->groups[g]) == 0)
                return true;
        }
    }
    return false;
}

/* The person who filed req: requested_by, or NAME when a remote person filed it over TLS
 * (recorded as "lockbox:user/NAME"). Root files on behalf of every login (the PAM module):
 * that filing names nobody, or a certificate lockbox:user/root, a person and never root,
 * would read every login's request as its own. */
const char *request_filer_person(const struct lockbox_request *req)
{
    static const char prefix[] = LOCKBOX_REMOTE_USER_PREFIX;
    if (req->requested_by_uid == 0)
        return "";
    if (strncmp(req->requested_by, prefix, sizeof(prefix) - 1) == 0)
        return req->requested_by + sizeof(prefix) - 1;
    return req->requested_by;
}

/* Remote callers have no uid ((uid_t)-1): uids are compared only for local callers, or every
 * remote person would be every other one. */
static bool same_uid(uid_t a, uid_t b)
{
    return a != (uid_t)-1 && a == b;
}

static bool is_own_request(const struct lockbox_request *req, const struct lockbox_actor *who)
{
    /* The uid as well as the name: a second account name for the same uid is the same
     * person. Root files for other users on behalf of their logins (the PAM module); such a
     * request is the user's, so root's filing alone does not bar root from deciding. */
    if (strcmp(req->user, who->name) == 0)
        return true;
    /* The person who asked, e.g. an admin who su's to a shared account (by name, or by uid:
     * a second name for the same uid is the same person). */
    if (req->requester[0] != '\0' &&
        (same_uid(req->requester_uid, who->uid) || strcmp(req->requester, who->name) == 0))
        return true;
    return who->uid != 0 && (same_uid(req->requested_by_uid, who->uid) ||
                             strcmp(request_filer_person(req), who->name) == 0);
}

enum request_verdict request_may_decide(const struct lockbox_request *req,
                                        const struct lockbox_tenant_policy *tenant,
                                        const struct lockbox_actor *who, enum request_state to)
{
    if (tenant == NULL || strcmp(tenant->name, req->tenant) != 0 || !policy_is_admin(tenant, who))
        return VERDICT_NOT_ADMIN;
    if (is_own_request(req, who))
        return VERDICT_SELF_DECISION;
    if (!request_transition_allowed(req->state, to))
        return VERDICT_WRONG_STATE;
    return VERDICT_OK;
}

bool request_may_read(const struct lockbox_request *req, const struct lockbox_tenant_policy *tenant,
                      const struct lockbox_actor *who)
{
    if (who->uid == 0)
        return true;
    if (same_uid(req->requested_by_uid, who->uid) ||
        (who->name != NULL &&
         (strcmp(req->user, who->name) == 0 || strcmp(request_filer_person(req), who->name) == 0)))
        return true;
    return tenant != NULL && strcmp(tenant->name, req->tenant) == 0 && policy_is_admin(tenant, who);
}

void request_init_pending(struct lockbox_request *req, const struct lockbox_clock *now,
                          int64_t request_ttl_ms)
{
    req->state = REQUEST_PENDING;
    req->created_at = now->wall_ms;
    req->decided_at = 0;
    req->expires_at = now->wall_ms + request_ttl_ms;
    req->decided_by[0] = '\0';
    req->comment[0] = '\0';
    req->approved_boot_ms = 0;
    req->granted_ms = 0;
    req->approved_boot_id[0] = '\0';
}

static void record_decision(struct lockbox_request *req, enum request_state to, const char *actor,
                            const char *comment, const struct lockbox_clock *now)
{
    req->state = to;
    req->decided_at = now->wall_ms;
    snprintf(req->decided_by, sizeof(req->decided_by), "%s", actor ? actor : "");
    snprintf(req->comment, sizeof(req->comment), "%s", comment ? comment : "");
}

enum request_verdict request_approve(struct lockbox_request *req, const char *actor,
                                     const char *comment, int64_t grant_ms, int64_t access_ttl_ms,
                                     const struct lockbox_clock *now)
{
    if (!request_transition_allowed(req->state, REQUEST_APPROVED))
        return VERDICT_WRONG_STATE;
    if (grant_ms < 0 || grant_ms > access_ttl_ms)
        return VERDICT_BAD_DURATION;
    if (grant_ms == 0)
        grant_ms = access_ttl_ms;
    record_decision(req, REQUEST_APPROVED, actor, comment, now);
    req->expires_at = now->wall_ms + grant_ms;
    req->granted_ms = grant_ms;
    req->approved_boot_ms = now->boot_ms;
    snprintf(req->approved_boot_id, sizeof(req->approved_boot_id), "%s", now->boot_id);
    return VERDICT_OK;
}

enum request_verdict request_deny(struct lockbox_request *req, const char *actor,
                                  const char *comment, const struct lockbox_clock *now)
{
    if (!request_transition_allowed(req->state, REQUEST_DENIED))
        return VERDICT_WRONG_STATE;
    record_decision(req, REQUEST_DENIED, actor, comment, now);
    req->expires_at = 0;
    return VERDICT_OK;
}

enum request_verdict request_revoke(struct lockbox_request *req, const char *actor,
                                    const char *comment, const struct lockbox_clock *now)
{
    if (!request_transition_allowed(req->state, REQUEST_REVOKED))
        return VERDICT_WRONG_STATE;
    /* decided_* now name the revocation; the approval stays in the audit file. */
    record_decision(req, REQUEST_REVOKED, actor, comment, now);
    req->expires_at = now->wall_ms;
    return VERDICT_OK;
}

int64_t request_ms_until_deadline(const struct lockbox_request *req,
                                  const struct lockbox_clock *now)
{
    if (req->state != REQUEST_PENDING && req->state != REQUEST_APPROVED)
        return -1;
    int64_t left = req->expires_at - now->wall_ms;
    if (req->state == REQUEST_APPROVED && req->granted_ms > 0 &&
        strcmp(req->approved_boot_id, now->boot_id) == 0) {
        int64_t boot_left = req->approved_boot_ms + req->granted_ms - now->boot_ms;
        if (boot_left < left)
            left = boot_left;
    }
    return left < 0 ? 0 : left;
}

bool request_expire_if_due(struct lockbox_request *req, const struct lockbox_clock *now)
{
    if (request_ms_until_deadline(req, now) != 0)
        return false;
    req->state = REQUEST_EXPIRED;
    return true;
}

bool request_access_current(const struct lockbox_request *req, const struct lockbox_clock *now)
{
    return req->state == REQUEST_APPROVED && request_ms_until_deadline(req, now) > 0;
}
