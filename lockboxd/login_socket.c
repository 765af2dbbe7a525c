/* The login socket: accept, one request per message, one reply, long-poll waits in the shared
 * waiter set, replies held for the journal's flush like the HTTP API's. */
#define _GNU_SOURCE
#include "login_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "api_error.h"
#include "identity.h"
#include "listen_socket.h"
#include "login_message.h"
#include "login_request.h"
#include "request_json.h"

struct login_conn {
    struct login_server *server;
    struct event_source source;
    struct login_conn *prev, *next; /* the server's open connections */
    bool in_event;                  /* its own on_event runs: conn_close() leaves the free to it */
    bool closed;
    int fd;
    struct identity who; /* root: checked at accept */
    bool busy;           /* a request is being answered */
    /* The request being answered, for the log line of a refusal: its op, and the id it
     * names ("-": none). */
    const char *op_name;
    char op_id[LOCKBOX_ID_HEX_LEN + 1];
    struct waiter waiter;
    struct agent_filing filing; /* role = agent: a filing forwarded to central */
    int64_t wait_until_boot_ms; /* the wait's own deadline (the waiter's may be a retry) */
    char *held;                 /* a reply waiting for the journal's flush */
    size_t held_len;
    struct login_conn *held_next;
};

static void conn_close(struct login_conn *conn);

/* The request as the module reads it: without the grant, which it never checks (lockboxd
 * does) and which would take a quarter of a message's room. */
static json_object *module_request_json(const struct lockbox_request *req)
{
    json_object *obj = request_to_json(req);
    json_object_object_del(obj, "grant");
    json_object_object_del(obj, "signers");
    return obj;
}
static void on_listen_event(struct event_source *source, uint32_t events);
static void on_conn_event(struct event_source *source, uint32_t events);

int login_socket_start(struct login_server *ls, struct service *svc, struct waiters *waiters,
                       const char *path, int inherited_fd, char *err, size_t err_len)
{
    memset(ls, 0, sizeof(*ls));
    ls->svc = svc;
    ls->waiters = waiters;
    ls->epoll_fd = -1;
    ls->inherited = inherited_fd >= 0;
    snprintf(ls->path, sizeof(ls->path), "%s", path);
    ls->listen_fd = ls->inherited ? inherited_fd
                                  : listen_socket_bind(path, SOCK_SEQPACKET, 0600, err, err_len);
    ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return ls->listen_fd >= 0 ? 0 : -1;
}

int login_socket_attach(struct login_server *ls, int epoll_fd)
{
    ls->epoll_fd = epoll_fd;
    ls->listen_source.on_event = on_listen_event;
    return event_source_watch(epoll_fd, ls->listen_fd, EPOLLIN, &ls->listen_source);
}

static void remember(struct login_server *ls, struct login_conn *conn)
{
    conn->prev = NULL;
    conn->next = ls->conns;
    if (ls->conns != NULL)
        ls->conns->prev = conn;
    ls->conns = conn;
    ls->n_conns++;
}

static void forget(struct login_server *ls, struct login_conn *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        ls->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    ls->n_conns--;
}

static void accept_one(struct login_server *ls, int fd)
{
    struct login_conn *conn = calloc(1, sizeof(*conn));

    if (conn == NULL) {
        close(fd);
        return;
    }
    conn->server = ls;
    conn->fd = fd;
    /* The socket's mode already keeps others out; this holds even if someone loosened it. */
    int identified = identity_from_socket(fd, &conn->who);
    if (identified != 0 || conn->who.uid != 0) {
        if (identified != 0)
            syslog(LOG_ERR,
                   "event=login_socket.refused pid=%d msg=\"cannot identify the peer "
                   "(SO_PEERCRED or the user lookup failed)\"",
                   (int)conn->who.pid);
        else
            syslog(LOG_WARNING,
                   "event=login_socket.refused uid=%u pid=%d msg=\"only root may "
                   "use the login socket\"",
                   (unsigned)conn->who.uid, (int)conn->who.pid);
        identity_free(&conn->who);
        close(fd);
        free(conn);
        return;
    }
    conn->source.on_event = on_conn_event;
    if (event_source_watch(ls->epoll_fd, fd, EPOLLIN | EPOLLRDHUP, &conn->source) != 0) {
        identity_free(&conn->who);
        close(fd);
        free(conn);
        return;
    }
    remember(ls, conn);
}

/* Out of descriptors, the queue would stay readable and the loop would spin: the spare
 * descriptor makes room to take one connection and close it (that login is denied: it sees
 * lockboxd close without an answer), and the log says so at most once a second. */
static void shed_one(struct login_server *ls, int error)
{
    time_t now = time(NULL);

    if (now != ls->last_shed_log) {
        syslog(LOG_CRIT,
               "event=login_socket.error msg=\"accept: %s; logins are refused until "
               "descriptors are free\"",
               strerror(error));
        ls->last_shed_log = now;
    }
    if (ls->spare_fd >= 0) {
        close(ls->spare_fd);
        int fd = accept4(ls->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
    ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* The listening socket is readable: accept what is queued. */
static void on_listen_event(struct event_source *source, uint32_t events)
{
    struct login_server *ls = EVENT_SOURCE_OWNER(source, struct login_server, listen_source);
    (void)events;

    /* A bounded batch per round, so a burst of logins cannot hold up the rest of the loop. */
    for (int i = 0; i < 256; i++) {
        int fd = accept4(ls->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                shed_one(ls, errno);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                syslog(LOG_ERR, "event=login_socket.error msg=\"accept: %s\"", strerror(errno));
            return;
        }
        accept_one(ls, fd);
    }
}

static void send_now(struct login_conn *conn, const char *data, size_t len)
{
    conn->busy = false;
    if (send(conn->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
        conn_close(conn); /* the caller went away, or cannot take one message: it will retry */
}

/* Adds "status", then sends obj now or, while the journal holds records that are not yet
 * durable, after the flush (nothing is said about what could still be lost). Puts obj. */
static void reply(struct login_conn *conn, int status, json_object *obj)
{
    char buf[LOCKBOX_LOGIN_MESSAGE_MAX + 1];
    struct login_server *ls = conn->server;

    json_object_object_add(obj, "status", json_object_new_int(status));
    ssize_t len = login_message_format(obj, buf, sizeof(buf));
    json_object_put(obj);
    if (len < 0) {
        syslog(LOG_ERR, "event=login_socket.error msg=\"a reply does not fit one message\"");
        conn_close(conn);
        return;
    }
    if (!journal_holds_unflushed(ls->svc->journal)) {
        send_now(conn, buf, (size_t)len);
        return;
    }
    conn->held = malloc((size_t)len);
    if (conn->held == NULL) {
        conn_close(conn);
        return;
    }
    memcpy(conn->held, buf, (size_t)len);
    conn->held_len = (size_t)len;
    conn->held_next = ls->held;
    ls->held = conn;
}

__attribute__((format(printf, 4, 5))) static void
reply_error(struct login_conn *conn, int status, const char *error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    json_object *obj = api_error_vnew(error, fmt, ap);
    va_end(ap);
    if (obj == NULL) {
        conn_close(conn);
        return;
    }
    /* Every refused call is logged (docs/DESIGN.md): for this door, here and only here. */
    if (status == 403)
        api_log_refusal(&conn->who, conn->op_name ? conn->op_name : "-",
                        conn->op_id[0] ? conn->op_id : "-", api_error_message(obj));
    reply(conn, status, obj);
}

static void reply_result(struct login_conn *conn, const struct service_result *r, const char *key,
                         json_object *value)
{
    if (r->status >= 400) {
        json_object_put(value);
        reply_error(conn, r->status, r->error, "%s", r->message);
        return;
    }
    json_object *obj = json_object_new_object();
    if (key != NULL)
        json_object_object_add(obj, key, value);
    reply(conn, r->status, obj);
}

static void handle_check(struct login_conn *conn, const struct body *m)
{
    struct check_input in = {m->user,  m->tenant, NULL,        m->service,
                             m->rhost, m->final,  m->requester};
    struct lockbox_clock now;
    struct lockbox_request req;
    bool allowed = false, has_request = false;

    service_read_clock(&now);
    struct service_result r = service_check(conn->server->svc, &conn->who, &in, &now, &allowed,
                                            &req, &has_request);
    if (r.status >= 400) {
        reply_error(conn, r.status, r.error, "%s", r.message);
        return;
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "allowed", json_object_new_boolean(allowed));
    if (r.message[0] != '\0')
        json_object_object_add(obj, "message", json_object_new_string(r.message));
    json_object_object_add(obj, "request", has_request ? module_request_json(&req) : NULL);
    reply(conn, 200, obj);
}

/* Central's answer to a forwarded filing: the reply the module would have had from here. */
static void on_filed(struct agent_filing *filing, const struct service_result *r,
                     const struct lockbox_request *req)
{
    struct login_conn *conn = (struct login_conn *)((char *)filing -
                                                    offsetof(struct login_conn, filing));
    reply_result(conn, r, "request", r->status < 400 ? module_request_json(req) : NULL);
}

static void handle_file(struct login_conn *conn, const struct body *m)
{
    struct file_input in = {m->reason,  m->tenant, NULL,        m->user,
                            m->service, m->rhost,  m->requester};
    struct lockbox_clock now;
    struct lockbox_request req;
    struct agent *agent = conn->server->svc->agent;

    if (agent != NULL) {
        /* The reply is held until central answers (agent.h); the module waits for it. */
        conn->filing.on_done = on_filed;
        if (!identity_user_exists(m->user))
            reply_error(conn, 400, "bad_request", "no such user '%s' on this host", m->user);
        else if (agent_file(agent, &conn->filing, &in) != 0)
            reply_error(conn, 500, "internal", "cannot forward the request to central");
        return;
    }
    service_read_clock(&now);
    struct service_result r = service_file(conn->server->svc, &conn->who, &in, &now, &req);
    reply_result(conn, &r, "request", r.status < 400 ? module_request_json(&req) : NULL);
}

static void answer_wait(struct login_conn *conn, const char *id)
{
    struct lockbox_request req;
    struct service_result r = service_show(conn->server->svc, &conn->who, id, &req);
    reply_result(conn, &r, "request", r.status < 400 ? module_request_json(&req) : NULL);
}

/* While the database cannot be reached the login keeps waiting (until its own deadline):
 * it is woken again when lockboxd reconnects, or answered at the deadline with what the store
 * says then. Nothing is granted meanwhile. */
#define WAIT_RETRY_MS 1000

static void on_wait_over(struct waiter *waiter)
{
    struct login_conn *conn = (struct login_conn *)((char *)waiter -
                                                    offsetof(struct login_conn, waiter));
    struct lockbox_clock now;

    service_read_clock(&now);
    if (now.boot_ms < conn->wait_until_boot_ms && service_store_unavailable(conn->server->svc)) {
        int64_t again = now.boot_ms + WAIT_RETRY_MS;
        char id[LOCKBOX_ID_HEX_LEN + 1];
        memcpy(id, waiter->id, sizeof(id));
        if (waiters_add(conn->server->waiters, waiter, id,
                        again < conn->wait_until_boot_ms ? again : conn->wait_until_boot_ms) == 0)
            return;
    }
    answer_wait(conn, waiter->id);
}

static void handle_wait(struct login_conn *conn, const struct body *m)
{
    struct lockbox_request req;
    struct lockbox_clock now;
    struct service_result r = service_show(conn->server->svc, &conn->who, m->id, &req);

    if (r.status != 200 || req.state != REQUEST_PENDING || m->timeout == 0) {
        reply_result(conn, &r, "request", r.status < 400 ? module_request_json(&req) : NULL);
        return;
    }
    service_read_clock(&now);
    conn->waiter.on_wake = on_wait_over;
    conn->wait_until_boot_ms = now.boot_ms + m->timeout * 1000LL;
    if (waiters_add(conn->server->waiters, &conn->waiter, req.id, conn->wait_until_boot_ms) != 0)
        reply_result(conn, &r, "request", module_request_json(&req)); /* answer now: still safe */
}

static void handle_describe(struct login_conn *conn)
{
    const struct lockboxd_config *config = conn->server->svc->config;
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "tenant", json_object_new_string(config->tenant));
    json_object_object_add(obj, "host", json_object_new_string(config->host));
    json_object_object_add(obj, "version", json_object_new_string(LOCKBOX_VERSION));
    reply(conn, 200, obj);
}

static void handle_session_open(struct login_conn *conn, const struct body *m)
{
    struct sessions *sessions = conn->server->svc->sessions;
    struct session_open_input in = {m->user,  m->tenant, NULL,         m->service,
                                    m->rhost, m->tty,    conn->who.pid};
    char err[256], id[LOCKBOX_ID_HEX_LEN + 1];
    struct lockbox_clock now;
    struct lockbox_request req;

    service_read_clock(&now);
    enum lockbox_result rc = sessions
                                 ? sessions_open(sessions, &in, &now, id, &req, err, sizeof(err))
                                 : LOCKBOX_ERROR;
    bool refused = rc == LOCKBOX_NOT_FOUND;
    if (rc != LOCKBOX_OK) {
        reply_error(conn, refused ? 403 : 500, refused ? "forbidden" : "internal", "%s",
                    refused ? err : "cannot register the session");
        return;
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "session_id", json_object_new_string(id));
    json_object_object_add(obj, "request", module_request_json(&req));
    reply(conn, 201, obj);
}

static void handle_session_close(struct login_conn *conn, const struct body *m)
{
    struct sessions *sessions = conn->server->svc->sessions;
    struct lockbox_clock now;

    service_read_clock(&now);
    enum lockbox_result rc = sessions ? sessions_close(sessions, m->session_id, &now)
                                      : LOCKBOX_ERROR;
    bool unknown = rc == LOCKBOX_NOT_FOUND;
    if (rc != LOCKBOX_OK) {
        reply_error(conn, unknown ? 404 : 500, unknown ? "not_found" : "internal", "no session %s",
                    m->session_id);
        return;
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "session_id", json_object_new_string(m->session_id));
    reply(conn, 200, obj);
}

static void dispatch(struct login_conn *conn, const char *data, size_t len)
{
    struct login_request req;
    char err[256];

    conn->busy = true;
    if (login_request_parse(data, len, &req, err, sizeof(err)) != 0) {
        reply_error(conn, 400, "bad_request", "%s", err);
        return;
    }
    conn->op_name = login_operation_name(req.op);
    const char *id = req.members.id ? req.members.id : req.members.session_id;
    snprintf(conn->op_id, sizeof(conn->op_id), "%s", id ? id : "");
    switch (req.op) {
    case LOGIN_CHECK: handle_check(conn, &req.members); break;
    case LOGIN_FILE: handle_file(conn, &req.members); break;
    case LOGIN_WAIT: handle_wait(conn, &req.members); break;
    case LOGIN_DESCRIBE: handle_describe(conn); break;
    case LOGIN_SESSION_OPEN: handle_session_open(conn, &req.members); break;
    case LOGIN_SESSION_CLOSE: handle_session_close(conn, &req.members); break;
    }
    login_request_free(&req);
}

static void read_message(struct login_conn *conn)
{
    char buf[LOCKBOX_LOGIN_MESSAGE_MAX + 1];
    /* MSG_TRUNC: the real length of the packet, so an oversize one is told from a full one. */
    ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(conn);
        return;
    }
    if (conn->busy) {
        /* One request at a time: a second one before the reply is a broken client. */
        syslog(LOG_WARNING,
               "event=login_socket.refused pid=%d msg=\"a request before the last "
               "one was answered\"",
               (int)conn->who.pid);
        conn_close(conn);
        return;
    }
    if ((size_t)n > LOCKBOX_LOGIN_MESSAGE_MAX) {
        conn->busy = true;
        reply_error(conn, 413, "too_large", "a message is at most %d bytes",
                    LOCKBOX_LOGIN_MESSAGE_MAX);
        return;
    }
    dispatch(conn, buf, (size_t)n);
}

static void on_conn_event(struct event_source *source, uint32_t events)
{
    struct login_conn *conn = EVENT_SOURCE_OWNER(source, struct login_conn, source);

    /* A last message sent just before the hang-up (a final check) is still read and recorded;
     * only its answer has nowhere to go. */
    bool hung_up = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if ((events & EPOLLIN) && !(hung_up && conn->busy)) {
        conn->in_event = true;
        read_message(conn);
        conn->in_event = false;
        if (conn->closed) {
            free(conn); /* closed while reading */
            return;
        }
    }
    if (hung_up)
        conn_close(conn); /* the login went away (process killed, client gone) */
}

static void unhold(struct login_server *ls, struct login_conn *conn)
{
    for (struct login_conn **p = &ls->held; *p; p = &(*p)->held_next) {
        if (*p == conn) {
            *p = conn->held_next;
            break;
        }
    }
    free(conn->held);
    conn->held = NULL;
}

static void conn_close(struct login_conn *conn)
{
    struct login_server *ls = conn->server;

    if (conn->waiter.queued) {
        ls->abandoned++;
        syslog(LOG_NOTICE,
               "event=login.abandoned id=%s pid=%d msg=\"the waiting login went "
               "away; its wait is released\"",
               conn->waiter.id, (int)conn->who.pid);
        waiters_remove(ls->waiters, &conn->waiter);
    }
    if (conn->held != NULL)
        unhold(ls, conn);
    if (conn->filing.queued && ls->svc->agent != NULL)
        agent_file_cancel(ls->svc->agent, &conn->filing);
    forget(ls, conn);
    /* Out of the epoll set before the close: a child forked meanwhile (a notification
     * command) may hold the descriptor, and epoll forgets it only with its last holder. */
    epoll_ctl(ls->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
    close(conn->fd);
    conn->fd = -1;
    identity_free(&conn->who);
    if (conn->in_event)
        conn->closed = true; /* on_conn_event() frees it once read_message() is back */
    else
        free(conn);
}

/* The reply that takes a held one's place when the flush failed. Returns its length, or -1. */
static ssize_t format_unavailable(char *buf, size_t buf_len)
{
    json_object *obj = api_error_new("audit_unavailable", "%s", API_AUDIT_UNAVAILABLE_MESSAGE);
    if (obj == NULL)
        return -1;
    json_object_object_add(obj, "status", json_object_new_int(503));
    ssize_t len = login_message_format(obj, buf, buf_len);
    json_object_put(obj);
    return len;
}

size_t login_socket_release_held(struct login_server *ls, bool durable)
{
    char unavailable[512];
    ssize_t unavailable_len = durable ? 0 : format_unavailable(unavailable, sizeof(unavailable));
    struct login_conn *conn = ls->held;
    size_t released = 0;

    ls->held = NULL;
    while (conn != NULL) {
        struct login_conn *next = conn->held_next;
        char *data = conn->held;
        size_t len = conn->held_len;
        conn->held = NULL;
        conn->held_next = NULL;
        if (durable)
            send_now(conn, data, len);
        else if (unavailable_len > 0)
            send_now(conn, unavailable, (size_t)unavailable_len);
        else
            conn_close(conn); /* out of memory: the login sees lockboxd hang up, and fails */
        free(data);
        released++;
        conn = next;
    }
    return released;
}

size_t login_socket_connections(const struct login_server *ls)
{
    return ls->n_conns;
}

void login_socket_stop(struct login_server *ls)
{
    while (ls->conns != NULL)
        conn_close(ls->conns);
    if (ls->spare_fd >= 0)
        close(ls->spare_fd);
    ls->spare_fd = -1;
    if (ls->listen_fd >= 0 && !ls->inherited) {
        close(ls->listen_fd);
        unlink(ls->path);
    }
    ls->listen_fd = -1;
}
