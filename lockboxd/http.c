/* libmicrohttpd setup, per-call bookkeeping and the long-poll waiter list. */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "api_error.h"
#include "array_grow.h"
#include "http_internal.h"
#include "listen_socket.h"
#include "lockbox_limits.h"
#include "text.h"

#define CONNECTION_LIMIT 20000
#define IDLE_TIMEOUT_SECONDS 15       /* slow or silent clients are dropped */
#define CONNECTION_MEMORY (16 * 1024) /* bounds request line and headers */

/* MHD's messages, flattened to one line: its format strings come from MHD itself. */
__attribute__((format(printf, 2, 0))) void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    for (char *p = text; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    syslog(LOG_INFO, "event=http.error msg=\"%s\"", text);
}

static struct MHD_Response *json_response(json_object *obj)
{
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    /* Hidden characters as \u202e: a reply read with curl or logged by a client shows them. */
    char *copy = text ? text_escape_json_hidden(text) : NULL;
    json_object_put(obj);
    if (copy == NULL)
        return NULL;
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback(strlen(copy),
                                                                                       copy, free);
    if (response == NULL) {
        free(copy);
        return NULL;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return response;
}

static void add_audit_head(const struct http_server *server, struct MHD_Response *response)
{
    char head[LOCKBOX_HASH_HEX_LEN + 32];

    if (server->handler.audit_head == NULL)
        return;
    server->handler.audit_head(server->handler.ctx, head, sizeof(head));
    MHD_add_response_header(response, "Lockbox-Audit-Head", head);
}

enum MHD_Result http_reply_json(struct call *call, unsigned status, json_object *obj)
{
    struct MHD_Response *response = json_response(obj);
    struct http_server *server = call->server;

    if (response == NULL)
        return MHD_NO;
    add_audit_head(server, response);
    call->reply_status = status;
    /* Nothing is said about records that could still be lost: hold the reply until the
     * journal's flush has made them durable and put them in the audit file. */
    if (server->handler.replies_must_wait(server->handler.ctx)) {
        call->deferred = response;
        call->deferred_status = status;
        call->deferred_next = server->deferred;
        server->deferred = call;
        MHD_suspend_connection(call->conn);
        return MHD_YES;
    }
    enum MHD_Result rc = MHD_queue_response(call->conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

size_t http_release_deferred(struct http_server *server, bool durable)
{
    struct call *call = server->deferred;
    size_t released = 0;

    server->deferred = NULL;
    while (call != NULL) {
        struct call *next = call->deferred_next;
        if (!durable) {
            MHD_destroy_response(call->deferred);
            call->deferred = json_response(
                api_error_new("audit_unavailable", "%s", API_AUDIT_UNAVAILABLE_MESSAGE));
            call->deferred_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        }
        call->deferred_next = NULL;
        MHD_resume_connection(call->conn);
        released++;
        call = next;
    }
    return released;
}

void http_poll_once(struct http_server *server)
{
    MHD_run(server->mhd);
}

enum MHD_Result http_reply_error(struct call *call, unsigned status, const char *error,
                                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    json_object *obj = api_error_vnew(error, fmt, ap);
    va_end(ap);
    if (obj == NULL)
        return MHD_NO;
    snprintf(call->reply_message, sizeof(call->reply_message), "%s", api_error_message(obj));
    return http_reply_json(call, status, obj);
}

const char *http_query(struct call *call, const char *key)
{
    return MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct query_check {
    const char *const *allowed;
    const char *unknown;
};

static enum MHD_Result check_query_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    struct query_check *qc = cls;
    (void)kind;
    (void)value;
    for (const char *const *a = qc->allowed; *a; a++) {
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    }
    qc->unknown = key;
    return MHD_NO;
}

const char *http_query_unknown(struct call *call, const char *const *allowed)
{
    struct query_check qc = {allowed, NULL};
    MHD_get_connection_values(call->conn, MHD_GET_ARGUMENT_KIND, check_query_key, &qc);
    return qc.unknown;
}

/* A body framed two ways - Content-Length and Transfer-Encoding, or either one twice - may be
 * an attempt to smuggle a second request past something that frames it the other way (RFC
 * 9112 6.1, 6.3). Refuse it and close the connection ("MUST close"), so nothing after it on
 * the connection is read as a request. libmicrohttpd itself takes the first of each. */
struct framing_count {
    unsigned content_length, transfer_encoding;
};

static enum MHD_Result count_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    struct framing_count *fc = cls;
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        fc->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        fc->transfer_encoding++;
    return MHD_YES;
}

static bool framing_is_ambiguous(struct call *call)
{
    struct framing_count fc = {0, 0};
    MHD_get_connection_values(call->conn, MHD_HEADER_KIND, count_framing_header, &fc);
    return fc.content_length + fc.transfer_encoding > 1;
}

enum MHD_Result http_reply_and_close(struct call *call, unsigned status, json_object *obj)
{
    struct MHD_Response *response = json_response(obj);

    if (response == NULL)
        return MHD_NO;
    call->reply_status = status;
    add_audit_head(call->server, response);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(call->conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

/* Answered at once (never held: it reports nothing) and the connection closed after it. */
static enum MHD_Result refuse_ambiguous_framing(struct call *call)
{
    return http_reply_and_close(
        call, MHD_HTTP_BAD_REQUEST,
        api_error_new("bad_request",
                      "send one Content-Length or one Transfer-Encoding: chunked, not both"));
}

static void on_wait_event(struct event_source *source, uint32_t events);

/* While a long-poll is suspended, its descriptor sits in the main loop's epoll set (with
 * EPOLLRDHUP only: the request is read, so data would not be news) so that a caller who goes
 * away releases its wait and its connection slot at once, not at the wait's deadline. */
static void watch_waiting(struct http_server *server, struct call *call)
{
    if (server->epoll_fd < 0 || call->fd < 0)
        return; /* not watched: the wait still ends at its deadline */
    call->wait_source.on_event = on_wait_event;
    if (event_source_watch(server->epoll_fd, call->fd, EPOLLRDHUP, &call->wait_source) == 0)
        call->watched = true;
}

static void unwatch_waiting(struct http_server *server, struct call *call)
{
    if (!call->watched)
        return;
    epoll_ctl(server->epoll_fd, EPOLL_CTL_DEL, call->fd, NULL);
    call->watched = false;
}

static void on_wait_over(struct waiter *waiter)
{
    struct call *call = (struct call *)((char *)waiter - offsetof(struct call, waiter));
    unwatch_waiting(call->server, call);
    MHD_resume_connection(call->conn);
}

void http_suspend_wait(struct call *call, const char *request_id, int64_t deadline_boot_ms)
{
    struct http_server *server = call->server;

    call->waiting = true;
    call->waiter.on_wake = on_wait_over;
    if (waiters_add(server->waiters, &call->waiter, request_id, deadline_boot_ms) != 0)
        return; /* out of memory: answered at once with the request's state, which is safe */
    MHD_suspend_connection(call->conn);
    watch_waiting(server, call);
}

void http_suspend_external(struct call *call, void *external, void (*on_gone)(struct call *call))
{
    call->waiting = true;
    call->external = external;
    call->on_gone = on_gone;
    MHD_suspend_connection(call->conn);
    watch_waiting(call->server, call);
}

void http_resume_external(struct call *call)
{
    unwatch_waiting(call->server, call);
    MHD_resume_connection(call->conn);
}

/* MHD's events need nothing here: the loop runs MHD after every batch. */
static void on_mhd_event(struct event_source *source, uint32_t events)
{
    (void)source;
    (void)events;
}

int http_attach(struct http_server *server, int epoll_fd)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_EPOLL_FD);

    server->epoll_fd = epoll_fd;
    server->mhd_source.on_event = on_mhd_event;
    if (info == NULL)
        return -1;
    return event_source_watch(epoll_fd, info->epoll_fd, EPOLLIN, &server->mhd_source);
}

/* A suspended long-poll's descriptor reported events: if its caller left, the wait ends. */
static void on_wait_event(struct event_source *source, uint32_t events)
{
    struct call *call = EVENT_SOURCE_OWNER(source, struct call, wait_source);
    struct http_server *server = call->server;

    if (!call->watched || !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        return;
    server->abandoned++;
    syslog(LOG_NOTICE,
           "event=api.wait_abandoned id=%s uid=%u pid=%d msg=\"the caller went "
           "away; its wait is released\"",
           call->waiter.id, (unsigned)call->who.uid, (int)call->who.pid);
    waiters_remove(server->waiters, &call->waiter);
    unwatch_waiting(server, call);
    /* Resumed, MHD answers into the closed connection, sees it gone and completes the call. */
    MHD_resume_connection(call->conn);
}

struct uid_calls *http_caller_entry(struct http_server *server, uid_t uid, const char *remote,
                                    bool create)
{
    for (size_t i = 0; i < server->n_uid_calls; i++) {
        if (server->uid_calls[i].uid == uid && strcmp(server->uid_calls[i].remote, remote) == 0)
            return &server->uid_calls[i];
    }
    if (!create)
        return NULL;
    if (array_grow(&server->uid_calls, &server->uid_calls_cap, server->n_uid_calls + 1,
                   sizeof(*server->uid_calls), 16) != 0)
        return NULL;
    struct uid_calls *entry = &server->uid_calls[server->n_uid_calls++];
    *entry = (struct uid_calls){uid, 0, 0, ""};
    snprintf(entry->remote, sizeof(entry->remote), "%s", remote);
    return entry;
}

static struct uid_calls *uid_entry(struct http_server *server, uid_t uid, bool create)
{
    return http_caller_entry(server, uid, "", create);
}

/* An entry with neither calls nor connections left goes (the last one takes its place). */
void http_forget_if_unused(struct http_server *server, struct uid_calls *entry)
{
    if (entry->calls == 0 && entry->connections == 0)
        *entry = server->uid_calls[--server->n_uid_calls];
}

/* A local caller's calls count per uid, a remote one's per certificate identity. */
static const char *call_remote_key(const struct call *call)
{
    return call->who.kind == IDENTITY_LOCAL ? "" : call->who.actor;
}

/* Returns false when the caller already has its share of concurrent calls. */
static bool count_call(struct http_server *server, struct call *call)
{
    if (call->who.uid == 0)
        return true;
    struct uid_calls *entry = http_caller_entry(server, call->who.uid, call_remote_key(call), true);
    if (entry == NULL || entry->calls >= server->limits.max_calls_per_user)
        return false;
    entry->calls++;
    call->counted = true;
    return true;
}

static void uncount_call(struct http_server *server, struct call *call)
{
    struct uid_calls *entry = call->counted ? http_caller_entry(server, call->who.uid,
                                                                call_remote_key(call), false)
                                            : NULL;
    if (entry == NULL)
        return;
    entry->calls--;
    http_forget_if_unused(server, entry);
    call->counted = false;
}

/* The peer's uid + 1 is kept as the connection's context (0: root or unknown, not counted). */
static uid_t counted_uid(void *context)
{
    return (uid_t)((uintptr_t)context - 1);
}

/* Every uid without a passwd entry (subordinate uids of user namespaces, say) shares one
 * small budget: otherwise one user with a range of 65,536 uids has 65,536 budgets. Such a
 * caller cannot be identified, so its calls are refused anyway; only its slots count. */
#define UNMAPPED_UID ((uid_t)-2)
#define UNMAPPED_CONNECTIONS 16

static bool uid_has_account(uid_t uid)
{
    struct passwd pw, *found = NULL;
    char buf[16384]; /* as identity.c: a long entry must not look like no entry */
    return getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != NULL;
}

/* Open connections per non-root uid, idle and half-sent ones included: without this, one
 * local user could hold every connection slot (each byte resets the idle timeout) and lock
 * the PAM module, and so every login, out. Beyond the cap the connection is shut down at
 * once; root is never limited. */
void http_on_connection(void *cls, struct MHD_Connection *conn, void **context,
                        enum MHD_ConnectionNotificationCode code)
{
    struct http_server *server = cls;

    if (server->trust != NULL) {
        http_tls_on_connection(server, conn, context, code);
        return;
    }
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct uid_calls *entry = *context ? uid_entry(server, counted_uid(*context), false) : NULL;
        if (entry != NULL) {
            entry->connections--;
            http_forget_if_unused(server, entry);
        }
        *context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    if (info == NULL || identity_peer_cred(info->connect_fd, &cred) != 0 || cred.uid == 0)
        return; /* root, or refused later when the call cannot be identified */
    uid_t key = cred.uid;
    int cap = server->limits.max_connections_per_user;
    if (!uid_has_account(cred.uid)) {
        key = UNMAPPED_UID;
        cap = UNMAPPED_CONNECTIONS;
    }
    struct uid_calls *entry = uid_entry(server, key, true);
    if (entry == NULL || entry->connections >= cap) {
        syslog(LOG_WARNING, "event=api.refused uid=%u msg=\"too many open connections%s\"",
               (unsigned)cred.uid, key == UNMAPPED_UID ? " from uids without an account" : "");
        shutdown(info->connect_fd, SHUT_RDWR);
        return;
    }
    entry->connections++;
    *context = (void *)((uintptr_t)key + 1);
}

/* Names the caller: its credentials on the Unix socket, its client certificate over TLS.
 * Returns true, or false with *refusal sent. */
static bool identify_call(struct http_server *server, struct call *call, enum MHD_Result *refusal)
{
    if (server->trust != NULL)
        return http_tls_identify(server, call, refusal);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(call->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != NULL && identity_from_socket(info->connect_fd, &call->who) == 0)
        return true;
    syslog(LOG_WARNING, "event=api.refused status=403 msg=\"cannot identify the peer\"");
    *refusal = http_reply_error(call, MHD_HTTP_FORBIDDEN, "forbidden",
                                "lockboxd cannot identify you (SO_PEERCRED or user lookup failed)");
    return false;
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **con_cls)
{
    struct http_server *server = cls;
    struct call *call = *con_cls;
    (void)version;

    if (call == NULL) {
        call = calloc(1, sizeof(*call));
        if (call == NULL)
            return MHD_NO;
        call->conn = conn;
        call->server = server;
        const union MHD_ConnectionInfo *fd_info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        call->fd = fd_info != NULL ? fd_info->connect_fd : -1;
        *con_cls = call;
        return MHD_YES;
    }
    if (call->deferred != NULL) {
        struct MHD_Response *response = call->deferred;
        call->deferred = NULL;
        if (response == NULL)
            return MHD_NO;
        enum MHD_Result rc = MHD_queue_response(conn, call->deferred_status, response);
        MHD_destroy_response(response);
        return rc;
    }
    if (*upload_size > 0) {
        if (!call->too_large && call->body_len + *upload_size <= LOCKBOX_BODY_MAX) {
            if (array_grow(&call->body, &call->body_cap, call->body_len + *upload_size + 1, 1,
                           1024) != 0)
                return MHD_NO;
            memcpy(call->body + call->body_len, upload_data, *upload_size);
            call->body_len += *upload_size;
            call->body[call->body_len] = '\0';
        } else {
            call->too_large = true; /* keep reading, answer 413 at the end */
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (call->waiting) {
        call->waiting = false;
        return server->handler.finish_wait(server->handler.ctx, call);
    }
    if (call->too_large)
        return http_reply_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                "the request body is larger than %d bytes", LOCKBOX_BODY_MAX);
    if (!call->identified) {
        enum MHD_Result refusal;
        if (!identify_call(server, call, &refusal))
            return refusal;
        call->identified = true;
        if (!count_call(server, call)) {
            if (call->who.kind == IDENTITY_LOCAL)
                syslog(LOG_WARNING,
                       "event=api.refused status=429 uid=%u msg=\"too many concurrent calls\"",
                       (unsigned)call->who.uid);
            else
                syslog(LOG_WARNING,
                       "event=api.refused status=429 actor=%s msg=\"too many concurrent calls\"",
                       call->who.actor);
            return http_reply_error(call, 429, "too_many_calls",
                                    "you have %d calls in progress already; finish some first",
                                    server->limits.max_calls_per_user);
        }
    }
    if (framing_is_ambiguous(call))
        return refuse_ambiguous_framing(call);
    return server->handler.dispatch(server->handler.ctx, call, url, method);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode why)
{
    struct http_server *server = cls;
    struct call *call = *con_cls;
    (void)why;

    if (server->trust != NULL)
        http_tls_call_done(conn);
    if (call == NULL)
        return;
    if (call->external != NULL && call->on_gone != NULL)
        call->on_gone(call);
    waiters_remove(server->waiters, &call->waiter);
    unwatch_waiting(server, call);
    if (call->deferred != NULL)
        MHD_destroy_response(call->deferred);
    uncount_call(server, call);
    identity_free(&call->who);
    free(call->body);
    free(call);
    *con_cls = NULL;
}

int http_start(struct http_server *server, const struct http_handler *handler,
               const struct http_limits *limits, struct waiters *waiters, const char *socket_path,
               int inherited_fd, char *err, size_t err_len)
{
    memset(server, 0, sizeof(*server));
    server->handler = *handler;
    server->limits = *limits;
    server->waiters = waiters;
    server->epoll_fd = -1;
    server->listen_inherited = inherited_fd >= 0;
    server->listen_fd = inherited_fd >= 0
                            ? inherited_fd
                            : listen_socket_bind(socket_path, SOCK_STREAM, 0666, err, err_len);
    if (server->listen_fd < 0)
        return -1;
    server->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
                                   NULL, NULL, http_on_request, server, MHD_OPTION_EXTERNAL_LOGGER,
                                   http_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, server->listen_fd,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_SECONDS,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                                   MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, server,
                                   MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, server,
                                   MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
    if (server->mhd == NULL) {
        snprintf(err, err_len, "cannot start the HTTP server on %s", socket_path);
        if (!server->listen_inherited) {
            close(server->listen_fd);
            unlink(socket_path);
        }
        return -1;
    }
    return 0;
}

void http_stop(struct http_server *server, const char *socket_path)
{
    if (server->mhd == NULL)
        return;
    /* MHD cannot stop with suspended connections: the caller has woken every waiter (their
     * connections are resumed); answer them and every held reply first. */
    bool durable = !server->handler.replies_must_wait(server->handler.ctx);
    http_release_deferred(server, durable);
    MHD_run(server->mhd);
    durable = !server->handler.replies_must_wait(server->handler.ctx);
    http_release_deferred(server, durable);
    MHD_run(server->mhd);
    MHD_stop_daemon(server->mhd);
    server->mhd = NULL;
    free(server->uid_calls);
    server->uid_calls = NULL;
    http_tls_free(server);
    if (!server->listen_inherited) { /* systemd keeps an activated socket for the next start */
        close(server->listen_fd);
        if (socket_path != NULL)
            unlink(socket_path);
    }
}

int64_t http_next_timeout_ms(const struct http_server *server)
{
    MHD_UNSIGNED_LONG_LONG mhd_ms = 0;
    int64_t timeout = MHD_get_timeout(server->mhd, &mhd_ms) == MHD_YES ? (int64_t)mhd_ms : -1;

    if (server->trust != NULL) {
        int64_t sweep = http_tls_sweep_due_ms(server);
        if (sweep >= 0 && (timeout < 0 || sweep < timeout))
            timeout = sweep;
    }
    return timeout;
}

void http_run(struct http_server *server)
{
    MHD_run(server->mhd);
    if (server->trust != NULL)
        http_tls_sweep(server);
}
