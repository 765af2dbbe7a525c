/* Which events notify whom, the notification body, and the sender thread. */
#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "monotonic.h"
#include "request_json.h"
#include "text.h"
#include "timefmt.h"

struct notifier {
    const struct lockboxd_config *config;
    struct store *store; /* the daemon's (main thread only); the sender opens its own */
    bool running;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool kicked, stopping;
    atomic_bool cancel; /* stopping, seen by a delivery in progress without the lock */
};

static bool tenant_has_channel(const struct tenant_config *t)
{
    return t != NULL && (t->notify_url[0] != '\0' || t->notify_command[0] != '\0');
}

/* Approvers hear of new requests; requesters hear of what happened to theirs. */
static const char *audience_of(const char *event)
{
    if (strcmp(event, "request.created") == 0)
        return "approvers";
    if (strcmp(event, "request.expiring") == 0)
        return "approvers,requester";
    if (strncmp(event, "request.", 8) == 0 || strncmp(event, "access.", 7) == 0)
        return "requester";
    return NULL; /* login.* events notify nobody */
}

static char *build_body(const struct tenant_config *tenant, const struct lockbox_request *req,
                        const char *notification_id, const char *event, const char *audience,
                        int64_t now_ms)
{
    char when[TIMEFMT_LEN];
    json_object *obj = json_object_new_object(), *approvers = json_object_new_array();

    timefmt_rfc3339_ms(now_ms, when);
    for (unsigned i = 0; i < tenant->n_admins; i++)
        json_object_array_add(approvers, json_object_new_string(tenant->admins[i]));
    json_object_object_add(obj, "id", json_object_new_string(notification_id));
    json_object_object_add(obj, "event", json_object_new_string(event));
    json_object_object_add(obj, "audience", json_object_new_string(audience));
    json_object_object_add(obj, "time", json_object_new_string(when));
    json_object_object_add(obj, "tenant", json_object_new_string(tenant->name));
    json_object_object_add(obj, "approvers", approvers);
    /* Whom to tell: the person who asked, or, when nobody knows (an ssh login), the user of
     * the account, as before requests named their requester. */
    json_object_object_add(obj, "requester",
                           json_object_new_string(req->requester[0] ? req->requester : req->user));
    json_object_object_add(obj, "request", request_to_json(req));
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    /* Hidden characters as \u202e, for a receiver that logs or shows the body as it came. */
    char *body = text ? text_escape_json_hidden(text) : NULL;
    json_object_put(obj);
    return body;
}

int notifier_enqueue(void *cls, const struct lockbox_request *req, const char *event,
                     int64_t now_ms)
{
    struct notifier *n = cls;
    const struct tenant_config *tenant = config_find_tenant(n->config, req->tenant);
    const char *audience = audience_of(event);
    char id[LOCKBOX_ID_HEX_LEN + 40];

    if (!tenant_has_channel(tenant) || audience == NULL)
        return 0;
    /* One notification per request and event: the id doubles as the idempotency key. */
    snprintf(id, sizeof(id), "%s.%s", req->id, event);
    char *body = build_body(tenant, req, id, event, audience, now_ms);
    if (body == NULL)
        return -1;
    int rc = 0;
    if (tenant->notify_url[0] != '\0')
        rc |= store_outbox_add(n->store, id, "webhook", req->id, event, tenant->name, body, now_ms);
    if (tenant->notify_command[0] != '\0')
        rc |= store_outbox_add(n->store, id, "command", req->id, event, tenant->name, body, now_ms);
    free(body);
    return rc;
}

void notifier_kick(void *cls)
{
    struct notifier *n = cls;
    if (n == NULL || !n->running)
        return;
    pthread_mutex_lock(&n->lock);
    n->kicked = true;
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
}

int64_t notifier_warn_if_due(struct notifier *n, const struct lockbox_request *req,
                             const struct lockbox_clock *now)
{
    const struct tenant_config *tenant = config_find_tenant(n->config, req->tenant);
    int64_t left = request_ms_until_deadline(req, now);

    if (!tenant_has_channel(tenant) || tenant->notify_before_s <= 0 || left <= 0)
        return -1;
    int64_t until_warning = left - tenant->notify_before_s * 1000;
    if (until_warning > 0)
        return until_warning;
    const char *event = req->state == REQUEST_PENDING ? "request.expiring" : "access.expiring";
    if (notifier_enqueue(n, req, event, now->wall_ms) != 0)
        syslog(LOG_ERR, "event=notify.error id=%s msg=\"cannot queue %s\"", req->id, event);
    notifier_kick(n);
    return -1;
}

static int add_status(const struct outbox_row *item, void *ctx)
{
    json_object *array = ctx, *obj = json_object_new_object();
    char when[TIMEFMT_LEN];
    const char *state = item->delivered_at ? "delivered" : item->failed ? "failed" : "pending";

    json_object_object_add(obj, "channel", json_object_new_string(item->channel));
    json_object_object_add(obj, "event", json_object_new_string(item->event));
    json_object_object_add(obj, "state", json_object_new_string(state));
    json_object_object_add(obj, "attempts", json_object_new_int(item->attempts));
    json_object_object_add(obj, "last_error",
                           item->last_error[0] ? json_object_new_string(item->last_error) : NULL);
    if (item->delivered_at) {
        timefmt_rfc3339(item->delivered_at, when);
        json_object_object_add(obj, "delivered_at", json_object_new_string(when));
    } else {
        json_object_object_add(obj, "delivered_at", NULL);
    }
    json_object_array_add(array, obj);
    return 0;
}

json_object *notifier_status(struct notifier *n, const char *request_id)
{
    json_object *array = json_object_new_array();
    if (n != NULL)
        store_outbox_of_request(n->store, request_id, add_status, array);
    return array;
}

/* --- the sender thread --- */

static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t backoff_ms(int attempts)
{
    int64_t delay = 1000;
    for (int i = 1; i < attempts && delay < 600000; i++)
        delay *= 2;
    return delay > 600000 ? 600000 : delay;
}

static void deliver_one(struct notifier *n, struct store *store, struct outbox_row *item)
{
    const struct tenant_config *tenant = config_find_tenant(n->config, item->tenant);
    char err[200] = "";
    int rc = -1;

    if (tenant == NULL)
        snprintf(err, sizeof(err), "tenant no longer configured");
    else if (strcmp(item->channel, "webhook") == 0 && tenant->notify_url[0])
        rc = notify_deliver_webhook(tenant, item->notification_id, item->event, item->body,
                                    &n->cancel, err, sizeof(err));
    else if (strcmp(item->channel, "command") == 0 && tenant->notify_command[0])
        rc = notify_deliver_command(tenant, item->body, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "channel no longer configured");
    int attempts = item->attempts + 1;
    if (rc == 0) {
        store_outbox_mark_delivered(store, item->seq, attempts, wall_now_ms());
        syslog(LOG_INFO, "event=notify.delivered id=%s channel=%s attempts=%d",
               item->notification_id, item->channel, attempts);
        return;
    }
    bool failed = attempts >= LOCKBOX_NOTIFY_MAX_ATTEMPTS;
    char shown[260];
    syslog(failed ? LOG_ERR : LOG_WARNING, "event=notify.%s id=%s channel=%s attempts=%d error=%s",
           failed ? "failed" : "retry", item->notification_id, item->channel, attempts,
           text_escape_log(err, shown, sizeof(shown)));
    store_outbox_mark_retry(store, item->seq, attempts, wall_now_ms() + backoff_ms(attempts), err,
                            failed);
}

static void wait_for_work(struct notifier *n, int64_t next_due_wall_ms)
{
    struct timespec deadline;
    int64_t wait_ms = next_due_wall_ms == INT64_MAX ? 60000 : next_due_wall_ms - wall_now_ms();

    if (wait_ms <= 0)
        return;
    if (wait_ms > 60000)
        wait_ms = 60000;
    deadline = monotonic_after(wait_ms);
    pthread_mutex_lock(&n->lock);
    while (!n->kicked && !n->stopping) {
        if (pthread_cond_timedwait(&n->wake, &n->lock, &deadline) == ETIMEDOUT)
            break;
    }
    n->kicked = false;
    pthread_mutex_unlock(&n->lock);
}

static bool stopping(struct notifier *n)
{
    pthread_mutex_lock(&n->lock);
    bool stop = n->stopping;
    pthread_mutex_unlock(&n->lock);
    return stop;
}

static void *sender_main(void *cls)
{
    struct notifier *n = cls;
    char err[512];
    struct store_config store_config;
    config_store(n->config, &store_config);
    struct store *store = store_open(&store_config, err, sizeof(err));

    if (store == NULL) {
        syslog(LOG_CRIT, "event=notify.error msg=\"sender cannot open the database: %s\"", err);
        return NULL;
    }
    while (!stopping(n)) {
        struct outbox_row item;
        enum lockbox_result found = store_outbox_next_due(store, wall_now_ms(), &item);
        if (found == LOCKBOX_OK) {
            deliver_one(n, store, &item);
            free(item.body);
            continue;
        }
        wait_for_work(n, found == LOCKBOX_ERROR ? wall_now_ms() + 5000
                                                : store_outbox_next_attempt_at(store));
    }
    store_close(store);
    return NULL;
}

struct notifier *notifier_start(const struct lockboxd_config *config, struct store *store,
                                char *err, size_t err_len)
{
    struct notifier *n = calloc(1, sizeof(*n));
    pthread_condattr_t attr;
    bool any_channel = false;

    if (n == NULL)
        return NULL;
    n->config = config;
    n->store = store;
    for (unsigned i = 0; i < config->n_tenants; i++)
        any_channel |= tenant_has_channel(&config->tenants[i]);
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&n->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (any_channel) {
        int rc = pthread_create(&n->thread, NULL, sender_main, n);
        if (rc != 0) {
            snprintf(err, err_len, "cannot start the notification sender: %s", strerror(rc));
            notifier_stop(n);
            return NULL;
        }
        n->running = true;
    }
    return n;
}

void notifier_stop(struct notifier *n)
{
    if (n == NULL)
        return;
    if (n->running) {
        pthread_mutex_lock(&n->lock);
        n->stopping = true;
        atomic_store(&n->cancel, true);
        pthread_cond_signal(&n->wake);
        pthread_mutex_unlock(&n->lock);
        pthread_join(n->thread, NULL);
    }
    pthread_cond_destroy(&n->wake);
    pthread_mutex_destroy(&n->lock);
    free(n);
}
