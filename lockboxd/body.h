/* Parses and validates an API request body in one place: the routes get a typed struct or an
 * error message, never raw JSON. */
#ifndef LOCKBOXD_BODY_H
#define LOCKBOXD_BODY_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

enum body_field {
    BODY_REASON = 1 << 0,
    BODY_COMMENT = 1 << 1,
    BODY_TENANT = 1 << 2,
    BODY_HOST = 1 << 3,
    BODY_USER = 1 << 4,
    BODY_SERVICE = 1 << 5,
    BODY_RHOST = 1 << 6,
    BODY_FOR = 1 << 7,
    BODY_FINAL = 1 << 8,
    BODY_TTY = 1 << 9,
    /* the login socket's members (login_request.c) */
    BODY_OP = 1 << 10,
    BODY_ID = 1 << 11,
    BODY_SESSION_ID = 1 << 12,
    BODY_TIMEOUT = 1 << 13,
    BODY_REQUESTER = 1 << 14,
    BODY_GRANT = 1 << 15, /* approve: a signed grant (lib/grant.h), parsed by the service */
};

struct body {
    json_object *root;
    unsigned present; /* enum body_field bits */
    const char *reason, *comment, *tenant, *host, *user, *service, *rhost, *duration, *tty;
    const char *op, *id, *session_id, *requester, *grant;
    bool final;
    int timeout; /* seconds, 0 to LOCKBOX_WAIT_MAX_SECONDS */
};

/* Accepts exactly one JSON object (an empty body counts as {}) whose keys are among
 * `allowed`, each of the right type and content. Returns 0, or -1 with err set. */
int body_parse(struct body *body, const char *data, size_t len, unsigned allowed, char *err,
               size_t err_len);
void body_free(struct body *body);
/* The member's name for one enum body_field bit ("reason"), or "?" for anything else. */
const char *body_field_name(unsigned bit);
/* The name of the lowest bit of `required` missing from `present`, or NULL if none is. */
const char *body_first_missing(unsigned present, unsigned required);

#endif
