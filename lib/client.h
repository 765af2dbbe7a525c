/* The libcurl client of lockboxd's API over its Unix socket, shared by the PAM module and the
 * CLI. Hardened for use inside setuid programs: no signals, no proxies, no redirects, http
 * only, bounded time and reply size. */
#ifndef LOCKBOX_CLIENT_H
#define LOCKBOX_CLIENT_H
#include <json-c/json.h>
#include <stdbool.h>

struct lockbox_client {
    const char *socket_path;
    long connect_timeout_ms; /* 0 → 2000 */
    long total_timeout_ms;   /* 0 → 10000; a long-poll wait sets its wait plus a margin */
};

struct lockbox_reply {
    long status;       /* HTTP status, 0 when no answer arrived */
    bool reached;      /* the connection was made (false: refused, no socket: not running) */
    json_object *body; /* parsed JSON reply, or NULL */
    char error[256];   /* transport error, or the reply's "message" for a 4xx/5xx */
};

/* Sends METHOD path (e.g. "/v1/requests") with an optional JSON body. Returns 0 when the
 * daemon answered (any status; see reply->status), -1 when it could not be reached or the
 * reply was not JSON (reply->error says why). Always call lockbox_reply_free afterwards. */
int lockbox_call(const struct lockbox_client *client, const char *method, const char *path,
                 json_object *body, struct lockbox_reply *reply);

void lockbox_reply_free(struct lockbox_reply *reply);

/* Percent-encodes one query value into out; returns -1 if it does not fit. */
int lockbox_query_escape(const char *value, char *out, size_t out_len);

#endif
