/* The module's calls to lockboxd over the login socket (docs/API.md, "The login socket") with
 * every reply validated before use: what the daemon says decides a login, so a reply that is
 * not exactly what the protocol promises is refused. */
#ifndef PAM_LOCKBOX_DAEMON_API_H
#define PAM_LOCKBOX_DAEMON_API_H
#include <stdbool.h>
#include <stddef.h>

#include "login_client.h"
#include "request.h"

/* Who is logging in where: the fields every call names. Empty tenant/rhost are left out. All
 * calls of one PAM call share the channel's connection. */
struct api_target {
    struct login_channel *channel;
    const char *user;
    const char *tenant;
    const char *service;
    const char *rhost;
    const char *requester; /* PAM_RUSER, or "" */
};

struct check_reply {
    bool allowed;
    /* allowed: the approval; refused: the user's pending request for this tenant and host,
     * or the latest one in any state, if any */
    bool has_request;
    struct lockbox_request request;
};

/* "check"; final marks the login's last check (the daemon records login.denied). */
enum api_status api_check(const struct api_target *target, bool final, struct check_reply *out,
                          char *err, size_t err_len);
/* "file": the user's pending request for this tenant and host, or a new one. */
enum api_status api_file(const struct api_target *target, const char *reason,
                         struct lockbox_request *out, char *err, size_t err_len);
/* "wait": returns when decided, expired, or after timeout_s. */
enum api_status api_wait(const struct api_target *target, const char *id, int timeout_s,
                         struct lockbox_request *out, char *err, size_t err_len);
/* "describe": the daemon's default tenant and its host name, for the prompt's wording. */
enum api_status api_describe(const struct api_target *target, char *tenant, size_t tenant_len,
                             char *host, size_t host_len);

/* "session_open": registers this process's login session; refused unless access is
 * current. approval receives the request that grants it. */
enum api_status api_session_open(const struct api_target *target, const char *tty,
                                 char session_id[LOCKBOX_ID_HEX_LEN + 1],
                                 struct lockbox_request *approval, char *err, size_t err_len);
/* "session_close". */
enum api_status api_session_close(const struct api_target *target, const char *session_id,
                                  char *err, size_t err_len);

/* 32 lowercase hex characters. */
bool api_id_is_valid(const char *id);

#endif
