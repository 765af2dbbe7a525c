/* The daemon's operations, free of HTTP: filing, deciding, checking access, expiring.
 * Each takes the caller's identity and one clock reading, applies the pure lifecycle, and
 * commits through the journal. Results carry the HTTP-ish status the API answers with; a
 * refusal (403) is logged by the door that sends it (api_log_refusal), not here. */
#ifndef LOCKBOXD_SERVICE_H
#define LOCKBOXD_SERVICE_H
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "identity.h"
#include "journal.h"
#include "notify.h"
#include "sessions.h"
#include "host_sessions.h"
#include "request.h"
#include "store.h"

struct agent;

struct service {
    const struct lockboxd_config *config;
    struct store *store;
    struct journal *journal;
    int64_t next_deadline_boot_ms; /* when to run expiry next (INT64_MAX: nothing due) */
    /* Called after a request changed state, to wake whoever waits on it. */
    void (*on_changed)(void *ctx, const char *request_id);
    void *on_changed_ctx;
    struct notifier *notifier; /* queues "about to expire" warnings; may be NULL */
    struct sessions *sessions; /* live sessions to end with their access; may be NULL */
    struct agent *agent;       /* role = agent: central decides (agent.h); else NULL */
    /* Called with the host of a request filed or changed (role=central: its feed); may be
     * NULL. Takes on_changed_ctx too. */
    void (*on_host_changed)(void *ctx, const char *host);
    /* role=central: what each agent host last said of its live sessions (host_sessions.h). */
    struct host_reports host_reports;
    struct grant_cache *grant_cache; /* service_grants.c's verified grants (NULL until used) */
};

struct service_result {
    int status;        /* 200, 201, 4xx, 5xx */
    const char *error; /* API error code for 4xx/5xx */
    char message[256];
    int sessions_terminated; /* revoke: how many live sessions it ended */
    int sessions_kept;       /* revoke: how many another current approval still covers */
    int leftovers_ended;     /* revoke: closed sessions whose left-behind processes it ended */
    char sessions_kept_by[LOCKBOX_ID_HEX_LEN + 1]; /* that approval */
};

struct file_input {
    const char *reason, *tenant, *host, *user, *service, *rhost; /* validated; NULL = default */
    const char *requester; /* root only: who asks for a login (PAM_RUSER); NULL = unknown */
};

struct check_input {
    const char *user, *tenant, *host, *service, *rhost;
    bool final;
    const char *requester; /* the login's PAM_RUSER, for its record; NULL = unknown */
};

void service_read_clock(struct lockbox_clock *now);

struct service_result service_file(struct service *svc, const struct identity *who,
                                   const struct file_input *in, const struct lockbox_clock *now,
                                   struct lockbox_request *out);
struct service_result service_decide(struct service *svc, const struct identity *who,
                                     const char *id, enum request_state to, const char *comment,
                                     int64_t grant_s, const struct lockbox_clock *now,
                                     struct lockbox_request *out);
/* service_decide() with the signed grant an approve brings (NULL: none), for a tenant with
 * signed_approvals = required (service_grants.h). */
struct service_result service_decide_signed(struct service *svc, const struct identity *who,
                                            const char *id, enum request_state to,
                                            const char *comment, int64_t grant_s,
                                            const char *grant_text, const struct lockbox_clock *now,
                                            struct lockbox_request *out);
struct service_result service_show(struct service *svc, const struct identity *who, const char *id,
                                   struct lockbox_request *out);
/* who must be root: the doors check that before (it is the PAM module's question). */
struct service_result service_check(struct service *svc, const struct identity *who,
                                    const struct check_input *in, const struct lockbox_clock *now,
                                    bool *allowed, struct lockbox_request *out, bool *has_request);
/* May this caller see requests of this tenant (list filter) — root, its admins. */
bool service_may_read_tenant(const struct service *svc, const struct identity *who,
                             const char *tenant);
/* Expires what is due; sets next_deadline_boot_ms. */
void service_expire_due(struct service *svc, const struct lockbox_clock *now);
/* Schedules the expiry timer from every live request (start-up). */
void service_schedule_all(struct service *svc, const struct lockbox_clock *now);

/* Another lockboxd on the same database changed request id: read it again, keep its
 * deadline, wake this one's waiters on it, and end or extend this host's sessions as a
 * decision here would have. */
void service_request_changed(struct service *svc, const char *id, const struct lockbox_clock *now);
/* This lockboxd may have missed other lockboxd's changes (see store_events.h): this host's
 * sessions follow the approvals as they are now. 0, or -1 when they could not be read. */
int service_follow_approvals(struct service *svc, const struct lockbox_clock *now);

/* role = agent: records the request as central holds it (service_mirror.c): a new one is
 * created, a decision of central's is applied as the transition it is; waiters and sessions
 * follow. 200, or the journal's refusal (nothing changed). */
struct service_result service_mirror(struct service *svc, const struct lockbox_request *central,
                                     const struct lockbox_clock *now);
/* role=central: the feed of the calling host (who is a host certificate): its pending and
 * approved requests and those of known (ids it holds) that are its host's, sealed. 200 or
 * the refusal; out is the caller's to free (host_feed_free) either way. */
struct host_feed;
struct service_result service_host_feed(struct service *svc, const struct identity *who,
                                        const char (*known)[LOCKBOX_ID_HEX_LEN + 1], size_t n_known,
                                        struct host_feed *out);

/* The database is out of reach right now (a waiting login keeps waiting rather than fail). */
bool service_store_unavailable(struct service *svc);

#endif
