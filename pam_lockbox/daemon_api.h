/* The module's calls to lockboxd (docs/API.md) with every reply validated before use: what the
 * daemon says decides a login, so a reply that is not exactly what the API promises is refused. */
#ifndef PAM_LOCKBOX_DAEMON_API_H
#define PAM_LOCKBOX_DAEMON_API_H
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "request.h"

enum api_status {
    API_OK,
    API_UNREACHABLE, /* no answer at all: socket refused, connection failed, timed out */
    API_REFUSED,     /* an answer with an error status (403, 429, 503, ...) */
    API_MALFORMED,   /* an answer that is not what the API promises */
};

/* Who is logging in where: the fields every call names. Empty tenant/rhost are left out. */
struct api_target {
    struct lockbox_client client;
    const char *user;
    const char *tenant;
    const char *service;
    const char *rhost;
};

struct check_reply {
    bool allowed;
    /* allowed: the approval; refused: the user's pending request for this tenant and host,
     * or the latest one in any state, if any */
    bool has_request;
    struct lockbox_request request;
};

/* POST /v1/access/check; final marks the login's last check (the daemon records login.denied). */
enum api_status api_check(const struct api_target *target, bool final, struct check_reply *out,
                          char *err, size_t err_len);
/* POST /v1/requests: the user's pending request for this tenant and host, or a new one. */
enum api_status api_file(const struct api_target *target, const char *reason,
                         struct lockbox_request *out, char *err, size_t err_len);
/* GET /v1/requests/{id}/wait?timeout=: returns when decided, expired, or after timeout_s. */
enum api_status api_wait(const struct api_target *target, const char *id, int timeout_s,
                         struct lockbox_request *out, char *err, size_t err_len);
/* GET /v1/health: the daemon's default tenant and its host name, for the prompt's wording. */
enum api_status api_describe(const struct api_target *target, char *tenant, size_t tenant_len,
                             char *host, size_t host_len);

/* POST /v1/sessions: registers this process's login session; refused unless access is
 * current. approval receives the request that grants it. */
enum api_status api_session_open(const struct api_target *target, const char *tty,
                                 char session_id[LOCKBOX_ID_HEX_LEN + 1],
                                 struct lockbox_request *approval, char *err, size_t err_len);
/* POST /v1/sessions/{id}/close. */
enum api_status api_session_close(const struct api_target *target, const char *session_id,
                                  char *err, size_t err_len);

/* 32 lowercase hex characters. */
bool api_id_is_valid(const char *id);

#endif
