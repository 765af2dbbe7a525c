/* The request lifecycle: states, the transitions between them, expiry, and who may decide.
 * Pure: no I/O, no clock reads (time comes in as struct lockbox_clock), no globals. */
#ifndef LOCKBOX_REQUEST_H
#define LOCKBOX_REQUEST_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lockbox_limits.h"

enum request_state {
    REQUEST_PENDING,
    REQUEST_APPROVED,
    REQUEST_DENIED,
    REQUEST_EXPIRED,
    REQUEST_REVOKED,
};

/* A moment, read once by the caller: wall time for deadlines people see, boot time so that
 * setting the clock back never extends access. */
struct lockbox_clock {
    int64_t wall_ms;
    int64_t boot_ms;                       /* CLOCK_BOOTTIME */
    char boot_id[LOCKBOX_BOOT_ID_LEN + 1]; /* which boot boot_ms belongs to */
};

struct lockbox_request {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    enum request_state state;
    char tenant[LOCKBOX_NAME_MAX + 1];
    char host[LOCKBOX_HOST_MAX + 1];
    char user[LOCKBOX_NAME_MAX + 1];
    char requested_by[LOCKBOX_NAME_MAX + 1]; /* who filed it: the user, or root for a login */
    uid_t requested_by_uid;
    /* The person asking: the filer, or for a login the invoking user su and sudo report
     * (PAM_RUSER). Empty with (uid_t)-1 when nobody knows (an ssh login). */
    char requester[LOCKBOX_NAME_MAX + 1];
    uid_t requester_uid;
    char reason[LOCKBOX_TEXT_MAX + 1];
    char service[LOCKBOX_NAME_MAX + 1];
    char rhost[LOCKBOX_RHOST_MAX + 1];
    char decided_by[LOCKBOX_NAME_MAX + 1];
    char comment[LOCKBOX_TEXT_MAX + 1];
    int64_t created_at; /* wall ms */
    int64_t decided_at; /* wall ms, 0 while pending */
    int64_t expires_at; /* wall ms: pending → request lapses; approved → access ends */
    /* Approved access also ends once this much boot time has passed since approval, on the
     * boot it was approved in: the clock cannot be set back to extend it. */
    int64_t approved_boot_ms;
    int64_t granted_ms;
    char approved_boot_id[LOCKBOX_BOOT_ID_LEN + 1];
    /* The signed grant (lib/grant.h) gathered for it: the statement and the signatures that
     * count so far, "" when the tenant takes unsigned approvals or nobody has signed yet. */
    char grant[LOCKBOX_GRANT_MAX + 1];
};

/* Who is asking, as the daemon resolved it from SO_PEERCRED. */
struct lockbox_actor {
    uid_t uid;
    const char *name;
    const char *const *groups; /* names of all the caller's groups */
    unsigned n_groups;
};

/* A tenant's admins: user names, and group names written "@group". */
struct lockbox_tenant_policy {
    const char *name;
    const char *const *admins;
    unsigned n_admins;
};

enum request_verdict {
    VERDICT_OK,
    VERDICT_NOT_ADMIN,     /* not among the tenant's admins */
    VERDICT_SELF_DECISION, /* filed it, asked for it, or it names them as the user */
    VERDICT_WRONG_STATE,   /* the transition is not allowed from the current state */
    VERDICT_BAD_DURATION,  /* asked for more than access_ttl, or nothing */
};

const char *request_state_name(enum request_state state);
int request_state_parse(const char *name, enum request_state *state);

/* The only moves: pending → approved | denied | expired, approved → revoked | expired. */
bool request_transition_allowed(enum request_state from, enum request_state to);

bool policy_is_admin(const struct lockbox_tenant_policy *tenant, const struct lockbox_actor *who);

/* May `who` approve, deny or revoke this request now (revoke needs approved, the others
 * pending)? Checks the state, the tenant's admin list and the self-decision rule. */
enum request_verdict request_may_decide(const struct lockbox_request *req,
                                        const struct lockbox_tenant_policy *tenant,
                                        const struct lockbox_actor *who, enum request_state to);

/* The person who filed req (see LOCKBOX_REMOTE_USER_PREFIX); "" when root filed it. */
const char *request_filer_person(const struct lockbox_request *req);

/* May `who` read this request? root: all; admins: their tenants; everyone: their own. */
bool request_may_read(const struct lockbox_request *req, const struct lockbox_tenant_policy *tenant,
                      const struct lockbox_actor *who);

/* Initialises a new pending request. */
void request_init_pending(struct lockbox_request *req, const struct lockbox_clock *now,
                          int64_t request_ttl_ms);

/* Decisions. Each returns VERDICT_OK and changes req, or a refusal and leaves it untouched.
 * grant_ms 0 means the full access_ttl; more than access_ttl is refused. */
enum request_verdict request_approve(struct lockbox_request *req, const char *actor,
                                     const char *comment, int64_t grant_ms, int64_t access_ttl_ms,
                                     const struct lockbox_clock *now);
enum request_verdict request_deny(struct lockbox_request *req, const char *actor,
                                  const char *comment, const struct lockbox_clock *now);
enum request_verdict request_revoke(struct lockbox_request *req, const char *actor,
                                    const char *comment, const struct lockbox_clock *now);

/* Returns true (and moves req to expired) when its deadline has passed. */
bool request_expire_if_due(struct lockbox_request *req, const struct lockbox_clock *now);

/* Is this approval current: approved, not past either deadline? */
bool request_access_current(const struct lockbox_request *req, const struct lockbox_clock *now);

/* Milliseconds until the request's next deadline from now (0 if due, -1 if none). */
int64_t request_ms_until_deadline(const struct lockbox_request *req,
                                  const struct lockbox_clock *now);

#endif
