/* A login socket request, parsed and validated in one place: the login socket's handlers get
 * a typed operation with its members, or an error to send back. Pure: no I/O. */
#ifndef LOCKBOXD_LOGIN_REQUEST_H
#define LOCKBOXD_LOGIN_REQUEST_H
#include <stddef.h>

#include "body.h"

enum login_operation {
    LOGIN_CHECK,         /* may this user log in now? (final: record login.denied if not) */
    LOGIN_FILE,          /* the user's pending request for this tenant and host, or a new one */
    LOGIN_WAIT,          /* answer when request id leaves pending, or after timeout seconds */
    LOGIN_DESCRIBE,      /* the daemon's tenant and host, for the module's prompt */
    LOGIN_SESSION_OPEN,  /* register the caller's login session */
    LOGIN_SESSION_CLOSE, /* deregister it */
};

struct login_request {
    enum login_operation op;
    struct body members; /* typed members; the strings live until login_request_free() */
};

/* Returns 0, or -1 with err set (the message, an unknown op, a member that op does not take,
 * a missing required member, a bad value). */
int login_request_parse(const char *data, size_t len, struct login_request *out, char *err,
                        size_t err_len);
void login_request_free(struct login_request *req);
const char *login_operation_name(enum login_operation op);

#endif
