/* Notifications to approvers and requesters: webhook (signed) and/or command per tenant.
 * Events enter the outbox inside the journal's transaction; a sender thread with its own
 * database connection delivers them at least once, so a slow receiver never delays a
 * decision or a login. */
#ifndef LOCKBOXD_NOTIFY_H
#define LOCKBOXD_NOTIFY_H
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "request.h"
#include "store.h"

struct notifier;

/* Queues into the daemon's store and starts the sender with a store of its own (only when
 * some tenant has a channel). Returns NULL with err on failure. */
struct notifier *notifier_start(const struct lockboxd_config *config, struct store *store,
                                char *err, size_t err_len);
void notifier_stop(struct notifier *notifier);

/* The journal's in-transaction hook: adds the outbox rows `event` calls for. */
int notifier_enqueue(void *notifier, const struct lockbox_request *req, const char *event,
                     int64_t now_ms);
/* The journal's after-commit hook: tells the sender there is work. */
void notifier_kick(void *notifier);
/* Queues "about to expire" warnings once they are due. Returns ms until this request's next
 * warning, or -1 when none is ahead. */
int64_t notifier_warn_if_due(struct notifier *notifier, const struct lockbox_request *req,
                             const struct lockbox_clock *now);
/* [{"channel","event","state","attempts","last_error","delivered_at"}...] for `show`. */
json_object *notifier_status(struct notifier *notifier, const char *request_id);

/* notify_deliver.c: one delivery attempt. Returns 0, or -1 with a short reason in err. A
 * webhook gives up within about a second once *cancel is set (lockboxd is stopping: a slow
 * receiver must not hold up its shutdown); the notification is then delivered after restart. */
int notify_deliver_webhook(const struct tenant_config *tenant, const char *notification_id,
                           const char *event, const char *body, const atomic_bool *cancel,
                           char *err, size_t err_len);
int notify_deliver_command(const struct tenant_config *tenant, const char *body, char *err,
                           size_t err_len);

#endif
