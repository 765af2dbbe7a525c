/* Fleet mode's part of the operations: which host a request may be filed for under each role,
 * what a host certificate may read, and a host's feed at central. */
#include <string.h>
#include <syslog.h>

#include "host_feed.h"
#include "service.h"
#include "service_internal.h"

/* Standalone and agent gate their own host: a request for another one would never be seen
 * by the host it names (the engineer would wait for nothing). */
static struct service_result own_host_only(const struct lockboxd_config *cfg, const char *host)
{
    if (strcmp(host, cfg->host) == 0)
        return service_result_of(200, NULL, NULL);
    return service_result_of(400, "bad_request",
                             "this lockboxd gates host %s; file for %s on that host or at "
                             "central (lockboxctl --server)",
                             cfg->host, host);
}

/* A host certificate files for the host it names, in the tenant whose hosts match it. */
static struct service_result host_files(const struct lockboxd_config *cfg,
                                        const struct identity *who, const struct file_input *in,
                                        const char **tenant, const char **host)
{
    const struct tenant_config *owner = config_tenant_of_host(cfg, who->name);

    if (in->host != NULL && strcmp(in->host, who->name) != 0)
        return service_result_of(403, "forbidden", "a host files only for itself");
    if (owner == NULL)
        return service_result_of(403, "forbidden", "host %s belongs to no tenant at this central",
                                 who->name);
    if (in->tenant != NULL && strcmp(in->tenant, owner->name) != 0)
        return service_result_of(403, "forbidden", "host %s belongs to tenant %s, not %s",
                                 who->name, owner->name, in->tenant);
    *tenant = owner->name;
    *host = who->name;
    return service_result_of(200, NULL, NULL);
}

struct service_result service_file_target(const struct service *svc, const struct identity *who,
                                          const struct file_input *in, const char **tenant,
                                          const char **host)
{
    const struct lockboxd_config *cfg = svc->config;
    bool central = cfg->role == LOCKBOXD_ROLE_CENTRAL;

    if (who->kind == IDENTITY_REMOTE_HOST) /* the route table lets hosts file at central only */
        return central ? host_files(cfg, who, in, tenant, host)
                       : service_result_of(403, "forbidden", "this lockboxd is not a central");
    *host = in->host ? in->host : cfg->host;
    *tenant = in->tenant ? in->tenant : cfg->tenant;
    const struct tenant_config *owner = central ? config_tenant_of_host(cfg, *host) : NULL;
    if (owner != NULL && in->tenant == NULL)
        *tenant = owner->name; /* the host says whose it is */
    const struct tenant_config *t = config_find_tenant(cfg, *tenant);
    if (t == NULL)
        return service_result_of(400, "bad_request", "unknown tenant '%s'", *tenant);
    if (!central)
        return own_host_only(cfg, *host);
    if (!host_patterns_match(&t->hosts, *host))
        return service_result_of(400, "bad_request", "host %s is not one of tenant %s's hosts",
                                 *host, *tenant);
    /* Patterns of two tenants may both match a host; its feed carries the first's requests
     * only, so a request filed under the other would never reach the host. */
    if (owner != t)
        return service_result_of(400, "bad_request",
                                 "host %s belongs to tenant %s at this central (the first "
                                 "whose hosts match it), not %s",
                                 *host, owner->name, *tenant);
    return service_result_of(200, NULL, NULL);
}

bool service_user_is_caller(const struct service *svc, const char *user, const struct identity *who)
{
    uid_t user_uid;

    if (identity_uid_of(user, &user_uid) != 0)
        return svc->config->role != LOCKBOXD_ROLE_CENTRAL;
    return user_uid == who->uid;
}

bool service_host_may_read(const struct service *svc, const struct identity *who,
                           const struct lockbox_request *req)
{
    return svc->config->role == LOCKBOXD_ROLE_CENTRAL && who->kind == IDENTITY_REMOTE_HOST &&
           strcmp(req->host, who->name) == 0;
}

struct feed_fill {
    struct host_feed *feed;
    int failed;
    size_t rows;
};

static int add_to_feed(const struct lockbox_request *req, void *ctx)
{
    struct feed_fill *fill = ctx;
    fill->rows++;
    if (host_feed_add(fill->feed, req) != 0)
        fill->failed = 1;
    return fill->failed;
}

/* What the host must hold: every pending request, and every approved one (an expired
 * approval leaves this list when the expiry scan records it; the agent's own clock ends it
 * first anyway). Only its tenant's: a request filed under another tenant before the
 * configuration moved the host is not this tenant's admins' decision. */
static int add_live(struct service *svc, struct host_feed *feed, enum request_state state)
{
    struct store_filter filter = {false,     state, feed->tenant, NULL, NULL, LOCKBOX_LIST_MAX,
                                  feed->host};
    struct feed_fill fill = {feed, 0, 0};

    if (store_list(svc->store, &filter, add_to_feed, &fill) != 0)
        return -1;
    if (fill.failed)
        return -2;
    /* The agent ends whatever it holds that the feed does not list: a feed cut short would
     * end live access, or hide a revoke among the rest. Better no answer (the host then
     * admits nobody, or only within its offline grace) and a loud line. */
    if (fill.rows >= LOCKBOX_LIST_MAX) {
        syslog(LOG_ERR,
               "event=host.feed_too_long host=%s state=%s msg=\"more than %d requests: the feed "
               "cannot list them all; deny or revoke some\"",
               feed->host, request_state_name(state), LOCKBOX_LIST_MAX - 1);
        return -3;
    }
    return 0;
}

/* What the agent holds and asked about: its final state too, if it is this host's. */
static int add_known(struct service *svc, struct host_feed *feed,
                     const char (*known)[LOCKBOX_ID_HEX_LEN + 1], size_t n_known)
{
    struct lockbox_request req;

    for (size_t i = 0; i < n_known; i++) {
        if (host_feed_has(feed, known[i]))
            continue;
        enum lockbox_result found = store_get_request(svc->store, known[i], &req);
        if (found == LOCKBOX_ERROR)
            return -1;
        if (found == LOCKBOX_OK && strcmp(req.host, feed->host) == 0 &&
            strcmp(req.tenant, feed->tenant) == 0 && host_feed_add(feed, &req) != 0)
            return -2;
    }
    return 0;
}

struct service_result service_host_feed(struct service *svc, const struct identity *who,
                                        const char (*known)[LOCKBOX_ID_HEX_LEN + 1], size_t n_known,
                                        struct host_feed *out)
{
    const struct tenant_config *owner = config_tenant_of_host(svc->config, who->name);
    int rc;

    memset(out, 0, sizeof(*out));
    if (svc->config->role != LOCKBOXD_ROLE_CENTRAL || who->kind != IDENTITY_REMOTE_HOST)
        return service_result_of(403, "forbidden",
                                 "only a host certificate has a feed, at central");
    if (owner == NULL)
        return service_result_of(403, "forbidden", "host %s belongs to no tenant at this central",
                                 who->name);
    out->host = who->name;
    out->tenant = owner->name;
    if ((rc = add_live(svc, out, REQUEST_PENDING)) == 0 &&
        (rc = add_live(svc, out, REQUEST_APPROVED)) == 0)
        rc = add_known(svc, out, known, n_known);
    if (rc == -1)
        return service_store_failed(svc->store);
    if (rc == -3)
        return service_result_of(503, "feed_too_long",
                                 "this host has too many pending or approved requests to list "
                                 "(%d); an admin must deny or revoke some",
                                 LOCKBOX_LIST_MAX - 1);
    if (rc != 0 || host_feed_seal(out) != 0)
        return service_result_of(500, "internal", "cannot build the feed (out of memory)");
    return service_result_of(200, NULL, NULL);
}

struct pending_count {
    int n;
};

static int count_row(const struct lockbox_request *req, void *ctx)
{
    (void)req;
    ((struct pending_count *)ctx)->n++;
    return 0;
}

/* Pending requests for host (and user, unless NULL), counted up to limit. */
static int count_pending(struct service *svc, const char *user, const char *host, int limit, int *n)
{
    struct store_filter filter = {false, REQUEST_PENDING, NULL, user, NULL, limit, host};
    struct pending_count c = {0};

    if (store_list(svc->store, &filter, count_row, &c) != 0)
        return -1;
    *n = c.n;
    return 0;
}

struct service_result service_pending_room(struct service *svc, const char *user, const char *host)
{
    const struct lockboxd_config *cfg = svc->config;
    int cap = cfg->max_pending_per_user, host_cap = cap * SERVICE_PENDING_PER_HOST_FACTOR;
    int pending = 0, host_pending = 0;

    if (cfg->role != LOCKBOXD_ROLE_CENTRAL) {
        if (store_count_pending_for_user(svc->store, user, &pending) != 0)
            return service_store_failed(svc->store);
    } else if (count_pending(svc, user, host, cap, &pending) != 0 ||
               count_pending(svc, NULL, host, host_cap, &host_pending) != 0) {
        return service_store_failed(svc->store);
    }
    if (pending >= cap)
        return service_result_of(429, "too_many_pending",
                                 "%s already has %d pending requests; wait for a decision first",
                                 user, pending);
    if (host_pending >= host_cap)
        return service_result_of(429, "too_many_pending",
                                 "host %s already has %d pending requests; wait for decisions "
                                 "first",
                                 host, host_pending);
    return service_result_of(200, NULL, NULL);
}
