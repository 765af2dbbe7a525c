/* The /v1 API as data: one table of routes, each with its method, path, who may call it and
 * the body it takes, checked in one place before its handler runs (as OpenSSH's monitor
 * dispatch table carries its permissions). The HTTP edge calls in through routes_handler(). */
#ifndef LOCKBOXD_ROUTES_H
#define LOCKBOXD_ROUTES_H
#include <stdbool.h>

#include "http.h"
#include "lockbox_limits.h"
#include "service.h"
#include "waiters.h"

struct routes {
    struct service *svc;
    struct waiters *waiters; /* for /v1/health's count */
};

/* Who may call a route. Anyone may be refused later by the service (tenant admins...). */
enum route_caller {
    ROUTE_ANYONE,           /* any person, local or over TLS */
    ROUTE_ROOT,             /* the PAM module */
    ROUTE_HOSTS_TOO,        /* anyone, hosts' certificates included (lockbox:host/NAME) */
    ROUTE_HOSTS_AT_CENTRAL, /* anyone; hosts' certificates too when role = central */
    ROUTE_HOSTS_ONLY,       /* hosts' certificates only, at role = central (their feed) */
};

struct route_ctx;
typedef enum MHD_Result (*route_fn)(struct route_ctx *ctx);

struct route {
    const char *method;
    const char *path; /* "{id}" matches a request or session id */
    enum route_caller caller;
    const char *refusal;  /* the 403 message for another caller */
    const char *action;   /* what a refusal's log line calls the call (api.refused action=) */
    unsigned body;        /* enum body_field bits it takes; 0: the body is not read */
    unsigned required;    /* of those, what it needs ("'X' is required") */
    unsigned root_fields; /* of those, what only root may set */
    const char *root_fields_refusal;
    route_fn handler;
};

enum route_lookup {
    ROUTE_FOUND,
    ROUTE_NO_PATH,      /* 404: no such API path */
    ROUTE_BAD_ID,       /* 404: the path's id is not a well-formed id */
    ROUTE_WRONG_METHOD, /* 405 */
};

struct route_match {
    const struct route *route;
    char id[LOCKBOX_ID_HEX_LEN + 1]; /* the path's {id}, "" if it has none */
    const char *action;              /* what follows the id ("approve"), points into url */
};

/* Finds the route of method and url. Pure: for the dispatcher and the unit tests. */
enum route_lookup routes_find(const char *method, const char *url, struct route_match *match);
/* The whole table (for the unit tests' checks of its consistency). */
const struct route *routes_all(size_t *count);

/* The handler the HTTP edge calls; routes must outlive the server. */
struct http_handler routes_handler(struct routes *routes);

#endif
