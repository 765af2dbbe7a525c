/* What service.c shares with service_hosts.c (fleet mode's part of the operations). */
#ifndef LOCKBOXD_SERVICE_INTERNAL_H
#define LOCKBOXD_SERVICE_INTERNAL_H
#include "service.h"

/* A result with status, error code and message. */
struct service_result service_result_of(int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A store that failed: 503 while it cannot be reached, else 500. */
struct service_result service_store_failed(struct store *store);
/* What a journal_record() result answers: 200, 409 conflict, 503 audit down, 5xx store. */
struct service_result service_journal_result(struct service *svc, enum journal_result jr);

/* Where a filed request goes: its tenant and host, by this lockboxd's role. Standalone and
 * agent: their own host only. Central: a host certificate files for itself, in the tenant
 * whose hosts match it; a person for any host of the tenant's hosts. Status 200 or the
 * refusal; *tenant and *host point into in, who or the configuration. */
struct service_result service_file_target(const struct service *svc, const struct identity *who,
                                          const struct file_input *in, const char **tenant,
                                          const char **host);
/* Is the request's user the caller, by uid (another account name of the same uid)? An
 * account that cannot be looked up counts as the caller (refuse), except at central, which
 * keeps no accounts of its hosts (the names were compared already). */
/* May one more request for user on host be filed? On a host: the user's pending requests,
 * at most max_pending_per_user. At central, where one account name exists on many hosts, the
 * user's on that host (a flood from one host must not lock the name out on every other), and
 * at most SERVICE_PENDING_PER_HOST_FACTOR times that for the host in all (a host filing for
 * made-up names). Returns 200, 429 or the store's failure. */
#define SERVICE_PENDING_PER_HOST_FACTOR 10
struct service_result service_pending_room(struct service *svc, const char *user, const char *host);
bool service_user_is_caller(const struct service *svc, const char *user,
                            const struct identity *who);
/* A host certificate reads the requests of its own host, at central only. */
bool service_host_may_read(const struct service *svc, const struct identity *who,
                           const struct lockbox_request *req);

#endif
