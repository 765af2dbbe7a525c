/* What host certificates may call at role = central (docs/API.md, "Hosts at central"): their
 * feed, a long-poll woken when a request of their host is filed or changes. Filing for
 * themselves and reading their requests go through the ordinary routes (routes.c), which
 * the table opens to hosts at central only. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "host_feed.h"
#include "routes.h"
#include "routes_internal.h"
#include "service.h"

#define HOSTS_AT_CENTRAL_REFUSAL                                                                   \
    "host certificates may file for their own host, read its requests and follow its feed"
#define HOSTS_ELSEWHERE_REFUSAL                                                                    \
    "host certificates reach only /v1/health here (this lockboxd is not a central)"

bool route_admits_host(const struct route *route, const struct lockboxd_config *config,
                       const char **refusal)
{
    bool central = config->role == LOCKBOXD_ROLE_CENTRAL;

    if (route->caller == ROUTE_HOSTS_TOO)
        return true;
    if (central && (route->caller == ROUTE_HOSTS_AT_CENTRAL || route->caller == ROUTE_HOSTS_ONLY))
        return true;
    *refusal = central ? HOSTS_AT_CENTRAL_REFUSAL : HOSTS_ELSEWHERE_REFUSAL;
    return false;
}

/* The feed's query, checked whole before anything is read. */
struct feed_query {
    const char *since; /* NULL: answer at once */
    long wait_seconds;
    char known[HOST_FEED_KNOWN_MAX][LOCKBOX_ID_HEX_LEN + 1];
    size_t n_known;
    struct host_session_count live[HOST_SESSIONS_MAX]; /* live=: the host's sessions */
    size_t n_live;
    bool has_live;
};

static bool read_feed_query(struct call *call, struct feed_query *q, char *err, size_t err_len)
{
    static const char *const allowed[] = {"since", "wait", "known", "live", NULL};
    const char *known = http_query(call, "known");
    const char *live = http_query(call, "live");

    if (!route_query_ok(call, allowed, err, err_len))
        return false;
    q->since = http_query(call, "since");
    if (q->since != NULL && strlen(q->since) > HOST_FEED_SINCE_MAX) {
        snprintf(err, err_len, "since must be a version this feed gave (at most %d characters)",
                 HOST_FEED_SINCE_MAX);
        return false;
    }
    if (route_query_int(call, "wait", 0, HOST_FEED_WAIT_MAX_SECONDS, HOST_FEED_WAIT_DEFAULT_SECONDS,
                        &q->wait_seconds) != 0) {
        snprintf(err, err_len, "wait must be 0 to %d seconds", HOST_FEED_WAIT_MAX_SECONDS);
        return false;
    }
    q->n_known = 0;
    if (known != NULL &&
        host_feed_parse_known(known, q->known, HOST_FEED_KNOWN_MAX, &q->n_known) != 0) {
        snprintf(err, err_len, "known must be at most %d request ids separated by commas",
                 HOST_FEED_KNOWN_MAX);
        return false;
    }
    q->n_live = 0;
    q->has_live = live != NULL;
    if (live != NULL && host_sessions_parse(live, q->live, HOST_SESSIONS_MAX, &q->n_live) != 0) {
        snprintf(err, err_len,
                 "live must be at most %d ID:COUNT pairs (request id, live sessions) separated "
                 "by commas",
                 HOST_SESSIONS_MAX);
        return false;
    }
    return true;
}

/* Keeps what the host says of its live sessions, for `show` at central: only counts for its
 * own requests (those in its feed) are believed. */
static void keep_session_report(struct service *svc, const struct call *call,
                                const struct feed_query *q, const struct host_feed *feed)
{
    struct host_session_count mine[HOST_SESSIONS_MAX];
    struct lockbox_clock now;
    size_t n = 0;

    if (!q->has_live)
        return;
    for (size_t i = 0; i < q->n_live; i++) {
        if (host_feed_has(feed, q->live[i].request_id))
            mine[n++] = q->live[i];
    }
    service_read_clock(&now);
    host_reports_set(&svc->host_reports, call->who.name, now.wall_ms, mine, n);
}

/* Builds the host's feed and answers with it, or suspends the call while the feed is still
 * what the host has (since) and it may wait. */
static enum MHD_Result answer_feed(struct service *svc, struct call *call,
                                   const struct feed_query *q, bool may_wait)
{
    struct host_feed feed;
    struct service_result r = service_host_feed(svc, &call->who, (const void *)q->known, q->n_known,
                                                &feed);
    enum MHD_Result rc;

    if (r.status == 200 && may_wait)
        keep_session_report(svc, call, q, &feed);
    if (r.status != 200) {
        rc = http_reply_error(call, (unsigned)r.status, r.error, "%s", r.message);
    } else if (may_wait && q->since != NULL && q->wait_seconds > 0 &&
               strcmp(q->since, feed.version) == 0) {
        struct lockbox_clock now;
        char key[LOCKBOX_ID_HEX_LEN + 1];
        service_read_clock(&now);
        host_feed_waiter_key(call->who.name, key);
        http_suspend_wait(call, key, now.boot_ms + q->wait_seconds * 1000);
        rc = MHD_YES;
    } else {
        rc = http_reply_json(call, 200, host_feed_to_json(&feed));
    }
    host_feed_free(&feed);
    return rc;
}

enum MHD_Result route_host_feed(struct route_ctx *ctx)
{
    struct feed_query q;
    char err[256];

    if (!read_feed_query(ctx->call, &q, err, sizeof(err)))
        return http_reply_error(ctx->call, 400, "bad_request", "%s", err);
    return answer_feed(ctx->svc, ctx->call, &q, true);
}

/* Woken (a request of the host changed, another instance said one did, or lockboxd stops)
 * or timed out: the host gets the feed as it is now, the same version on a timeout. A wake
 * that changed nothing answers early with the same version; the agent just asks again. */
enum MHD_Result route_host_feed_finish(struct routes *routes, struct call *call)
{
    struct feed_query q;
    char err[256];

    if (!read_feed_query(call, &q, err, sizeof(err)))
        return http_reply_error(call, 400, "bad_request", "%s", err);
    return answer_feed(routes->svc, call, &q, false);
}
