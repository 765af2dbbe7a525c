/* What the route handlers share (routes.c, routes_audit.c); not for the rest of lockboxd. */
#ifndef LOCKBOXD_ROUTES_INTERNAL_H
#define LOCKBOXD_ROUTES_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>

#include "body.h"
#include "http.h"
#include "routes.h"

struct route_ctx {
    struct routes *routes;
    struct service *svc;
    struct call *call;
    const char *id; /* /v1/requests/{id}[/action] */
    const char *action;
    struct body body; /* parsed when the route takes one */
};

/* role = agent: root's filing goes to central (routes_forward.c). True when it took the call
 * (*rc is then its result). */
struct file_input;
bool route_forward_file(struct route_ctx *ctx, const struct file_input *in, enum MHD_Result *rc);
/* Answers a forwarded filing once central answered (or its caller left). */
enum MHD_Result route_forward_finish(struct call *call);

/* Rejects query parameters other than the allowed ones (a typo must not pass silently). */
bool route_query_ok(struct call *call, const char *const *allowed, char *err, size_t err_len);
/* The integer query parameter key in [min, max], or fallback when absent; 0 or -1. */
int route_query_int(struct call *call, const char *key, long min, long max, long fallback,
                    long *out);

/* GET /v1/hosts/self/requests, a host's feed at central, and the end of its long-poll
 * (routes_hosts.c). */
enum MHD_Result route_host_feed(struct route_ctx *ctx);
enum MHD_Result route_host_feed_finish(struct routes *routes, struct call *call);
/* Whether the route admits a host certificate under this configuration, and the refusal. */
bool route_admits_host(const struct route *route, const struct lockboxd_config *config,
                       const char **refusal);

/* GET /v1/audit and GET /v1/audit/export (routes_audit.c). */
enum MHD_Result route_audit(struct route_ctx *ctx);
enum MHD_Result route_audit_export(struct route_ctx *ctx);

#endif
