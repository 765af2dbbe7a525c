/* The module's side of the login socket (docs/API.md, "The login socket"): one connection per
 * PAM call, SOCK_SEQPACKET, one JSON message each way, poll() deadlines, MSG_NOSIGNAL, and the
 * peer's SO_PEERCRED checked before any answer is believed. libc and json-c only: this runs
 * inside sshd, su and sudo. */
#ifndef PAM_LOCKBOX_LOGIN_CLIENT_H
#define PAM_LOCKBOX_LOGIN_CLIENT_H
#include <json-c/json.h>
#include <stddef.h>

enum api_status {
    API_OK,
    API_NOT_RUNNING, /* provably no lockboxd: no socket, or nobody listening (ECONNREFUSED) */
    API_UNREACHABLE, /* lockboxd is there but did not answer: busy, slow, gone mid-call */
    API_REFUSED,     /* an answer with an error status (403, 429, 503, ...) */
    API_MALFORMED,   /* an answer that is not what the protocol promises */
    API_IMPOSTOR,    /* the socket is not root's, or someone other than root answers */
    API_ABANDONED,   /* the client of this login hung up while it waited */
};

struct login_channel {
    const char *socket_path;
    int fd; /* -1 until the first call, and after a call that broke the connection */
    /* The login's client connection (client_watch.h), watched while a call waits: when it
     * hangs up, the call ends with API_ABANDONED. */
    const int *watch_fds;
    int n_watch;
};

#define LOGIN_CHANNEL_INIT(path)                                                                   \
    {                                                                                              \
        (path), -1, NULL, 0                                                                        \
    }

/* Sends request (a JSON object) and reads one reply within timeout_ms. API_OK with *reply
 * (the caller puts it) whatever its "status"; every other result closes the connection, so
 * the next call starts afresh on a new one. */
enum api_status login_call(struct login_channel *channel, json_object *request, long timeout_ms,
                           json_object **reply, char *err, size_t err_len);
void login_channel_close(struct login_channel *channel);

#endif
