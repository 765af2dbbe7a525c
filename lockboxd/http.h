/* lockboxd's HTTP edge: libmicrohttpd on the Unix socket and, with [remote], on TCP with TLS
 * (http_tls.c), each a server of its own driven from the main loop (epoll), with
 * suspend/resume for long-poll waits. Both call the same handler (the route table). */
#ifndef LOCKBOXD_HTTP_H
#define LOCKBOXD_HTTP_H
#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_source.h"
#include "identity.h"
#include "waiters.h"

struct call;

/* What the HTTP edge calls into: it frames, identifies and counts calls and holds replies;
 * what a call means is the handler's. It knows no journal, service or configuration. */
struct http_handler {
    /* Answers a call whose body is read and whose caller is identified. */
    enum MHD_Result (*dispatch)(void *ctx, struct call *call, const char *url, const char *method);
    /* A long-poll suspended with http_suspend_wait() is over (woken or timed out). */
    enum MHD_Result (*finish_wait)(void *ctx, struct call *call);
    /* True while replies must wait for a flush (records not yet durable). */
    bool (*replies_must_wait)(void *ctx);
    /* The audit chain's head as "SEQ HASH", sent with every reply (Lockbox-Audit-Head). */
    void (*audit_head)(void *ctx, char *out, size_t len);
    void *ctx;
};

/* Per non-root uid, or per certificate identity over TLS: concurrent calls (long-polls
 * included) and open connections. */
struct http_limits {
    int max_calls_per_user;
    int max_connections_per_user;
};

/* One HTTP exchange. Lives from the first callback to MHD's completion notice. */
struct call {
    struct MHD_Connection *conn;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool identified;
    struct identity who;
    /* long-poll state: suspended while waiter is in the shared set */
    bool waiting;
    struct waiter waiter;
    int fd; /* the connection's descriptor, watched while the call is suspended */
    bool watched;
    struct event_source wait_source; /* its caller went away while it waited */
    bool counted;                    /* counts against its uid's concurrent calls */
    /* group commit: a reply held back until the journal's records are durable */
    struct http_server *server;
    struct MHD_Response *deferred;
    unsigned deferred_status;
    struct call *deferred_next;
    /* Suspended for work done elsewhere (http_suspend_external): the handler's state for
     * it, and what to call when the call ends before it is resumed and answered. */
    void *external;
    void (*on_gone)(struct call *call);
    /* The reply the handler gave this call, and its message when it was an error: the
     * handler logs its refusals from these in one place, whichever check refused. */
    unsigned reply_status;
    char reply_message[256];
};

struct client_trust;

struct http_server {
    struct MHD_Daemon *mhd;
    struct http_handler handler;
    struct http_limits limits;
    int listen_fd;
    bool listen_inherited;   /* socket activation: the socket is not ours to remove */
    struct waiters *waiters; /* shared with the login socket */
    /* MHD does not poll a suspended connection: the main loop watches the long-polls'
     * descriptors for the caller going away (each call's wait_source). */
    int epoll_fd;
    struct event_source mhd_source; /* MHD's own epoll descriptor: http_run() serves it */
    uint64_t abandoned;
    struct call *deferred; /* replies waiting for journal_flush() */
    /* Concurrent calls per non-root uid: one local user must not tie up the descriptors the
     * PAM module needs (a login would then fail, or pass under failmode=safe). Over TLS the
     * same per certificate identity (uid -1, remote its recorded name). */
    struct uid_calls {
        uid_t uid;
        int calls;
        int connections;
        char remote[LOCKBOX_NAME_MAX + 1]; /* "" for a local uid */
    } * uid_calls;
    size_t n_uid_calls, uid_calls_cap;
    /* The TLS listener's (NULL on the Unix socket): the client certificates' trust list and
     * the PEM files MHD was given. */
    struct client_trust *trust;
    char *tls_cert, *tls_key, *tls_client_ca;
    /* Its open connections, for the deadline a complete request must meet (http_tls.c). */
    struct tls_connection *tls_connections;
    int64_t tls_swept_ms;
    /* The @group names of the admin lists: the groups a remote person may be in. */
    const char *const *admin_groups;
    size_t n_admin_groups;
};

/* Binds the socket (mode 0666 in a root-owned 0755 directory; the peer's credentials decide
 * what it may do), or takes inherited_fd (>= 0: socket activation), and starts MHD without
 * its own thread. Returns 0 or -1 with err. */
int http_start(struct http_server *server, const struct http_handler *handler,
               const struct http_limits *limits, struct waiters *waiters, const char *socket_path,
               int inherited_fd, char *err, size_t err_len);
/* socket_path: the Unix socket to remove; NULL for the TLS listener. */
void http_stop(struct http_server *server, const char *socket_path);
/* Starts the TLS listener of [remote] on TCP (http_tls.c). admin_groups (names without '@',
 * kept, not copied) are the groups a remote person's membership is looked up in. Returns 0 or
 * -1 with err. */
struct remote_config;
/* SIGHUP: reads client_ca and crl again, so that a certificate revoked since the start is
 * refused from the next call on (the server's own certificate and key need a restart). On
 * failure the trust in use stays as it was. Returns 0 or -1 with err. */
int http_tls_reload_trust(struct http_server *server, const struct remote_config *remote, char *err,
                          size_t err_len);
int http_start_remote(struct http_server *server, const struct http_handler *handler,
                      const struct http_limits *limits, struct waiters *waiters,
                      const struct remote_config *remote, const char *const *admin_groups,
                      size_t n_admin_groups, char *err, size_t err_len);
/* Watches MHD's epoll descriptor on the main loop's epoll_fd (http_run() serves it each
 * round), where suspended long-polls are watched too. Returns 0 or -1. */
int http_attach(struct http_server *server, int epoll_fd);
/* Milliseconds until MHD needs attention (-1: none). */
int64_t http_next_timeout_ms(const struct http_server *server);
/* Runs MHD once. */
void http_run(struct http_server *server);
/* After journal_flush(): sends the replies held back for it, or, when the flush failed,
 * a 503 in their place (what they reported may not be durable or audited). */
size_t http_release_deferred(struct http_server *server, bool durable);
/* Runs MHD once (sends what was released; may take in new work). */
void http_poll_once(struct http_server *server);

/* Reply helpers for the handler. Each queues a response and returns MHD's result; while the
 * journal holds records not yet durable, the reply waits for the flush (group commit). */
enum MHD_Result http_reply_json(struct call *call, unsigned status, json_object *obj);
enum MHD_Result http_reply_error(struct call *call, unsigned status, const char *error,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Suspends the call until its request changes state or the deadline passes; the handler's
 * finish_wait() answers it then. */
void http_suspend_wait(struct call *call, const char *request_id, int64_t deadline_boot_ms);
/* Suspends call for work done elsewhere (an agent's call to central): external is the
 * handler's, and finish_wait answers the call once http_resume_external() is called, or at
 * once when its caller leaves. on_gone runs if the call ends while external is still set
 * (the caller left and the answer could not be given, or the server stops). */
void http_suspend_external(struct call *call, void *external, void (*on_gone)(struct call *call));
void http_resume_external(struct call *call);
/* The call's query parameter key, or NULL. */
const char *http_query(struct call *call, const char *key);
/* The first query parameter not in allowed (NULL-terminated), or NULL when all are. */
const char *http_query_unknown(struct call *call, const char *const *allowed);

#endif
