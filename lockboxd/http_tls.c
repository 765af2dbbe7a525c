/* The TLS listener of [remote]: a second libmicrohttpd server on TCP, in the same loop and
 * with the same handler as the Unix socket, whose callers are named by their client
 * certificates. Nothing here touches the login socket: a flood over TCP costs this listener's
 * slots only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "api_error.h"
#include "client_cert.h"
#include "config_remote.h"
#include "http_internal.h"
#include "monotonic.h"
#include "text.h"

#define TLS_CONNECTION_LIMIT REMOTE_CONNECTIONS_DEFAULT
/* Connections from one address before any certificate is seen (handshakes included): the
 * per-identity cap starts only once a call names its caller. */
#define TLS_CONNECTIONS_PER_ADDRESS 1024
#define TLS_TIMEOUT_SECONDS 30 /* idle or slow clients, a handshake that never ends included */
#define TLS_SWEEP_MS 1000      /* how often connections are held to that deadline */
#define TLS_CONNECTION_MEMORY (16 * 1024)
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define PEM_FILE_MAX (1024 * 1024)

/* One TLS connection: its certificate is verified once, on its first call. */
struct tls_connection {
    bool checked, refused;
    bool counted; /* counts against actor's open connections */
    struct client_cert_name name;
    char actor[LOCKBOX_NAME_MAX + 1];
    char why[256];
    /* libmicrohttpd's timeout counts idle time only: a client that sends a byte every few
     * seconds would hold its slot for ever. So a connection must deliver a whole request
     * (handshake, headers and body) within TLS_TIMEOUT_SECONDS of opening or of its last
     * answer, or it is shut down (http_tls_sweep). A call being answered (a long-poll
     * included) is not held to it. */
    int fd;
    int64_t idle_since_ms; /* CLOCK_MONOTONIC */
    bool busy, swept;
    struct tls_connection *prev, *next;
};

static void track(struct http_server *server, struct tls_connection *tc,
                  struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    tc->fd = info != NULL ? info->connect_fd : -1;
    tc->idle_since_ms = monotonic_ms();
    tc->next = server->tls_connections;
    if (tc->next != NULL)
        tc->next->prev = tc;
    server->tls_connections = tc;
}

static void untrack(struct http_server *server, struct tls_connection *tc)
{
    if (tc->prev != NULL)
        tc->prev->next = tc->next;
    else
        server->tls_connections = tc->next;
    if (tc->next != NULL)
        tc->next->prev = tc->prev;
}

static struct tls_connection *connection_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void http_tls_call_done(struct MHD_Connection *conn)
{
    struct tls_connection *tc = connection_of(conn);
    if (tc != NULL) {
        tc->busy = false;
        tc->idle_since_ms = monotonic_ms();
    }
}

void http_tls_sweep(struct http_server *server)
{
    int64_t now = monotonic_ms();
    unsigned dropped = 0;

    if (now - server->tls_swept_ms < TLS_SWEEP_MS)
        return;
    server->tls_swept_ms = now;
    for (struct tls_connection *tc = server->tls_connections; tc != NULL; tc = tc->next) {
        if (tc->busy || tc->swept || tc->fd < 0 ||
            now - tc->idle_since_ms < (int64_t)TLS_TIMEOUT_SECONDS * 1000)
            continue;
        /* The descriptor stays libmicrohttpd's: it sees the end of the stream and closes. */
        shutdown(tc->fd, SHUT_RDWR);
        tc->swept = true;
        dropped++;
    }
    if (dropped > 0)
        syslog(LOG_NOTICE,
               "event=remote.dropped count=%u msg=\"connections that sent no whole request "
               "within %d s\"",
               dropped, TLS_TIMEOUT_SECONDS);
}

int64_t http_tls_sweep_due_ms(const struct http_server *server)
{
    if (server->tls_connections == NULL)
        return -1;
    int64_t left = server->tls_swept_ms + TLS_SWEEP_MS - monotonic_ms();
    return left > 0 ? left : 0;
}

void http_tls_on_connection(struct http_server *server, struct MHD_Connection *conn, void **context,
                            enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct tls_connection *fresh = calloc(1, sizeof(*fresh)); /* NULL: calls refused */
        if (fresh != NULL)
            track(server, fresh, conn);
        *context = fresh;
        return;
    }
    struct tls_connection *tc = *context;
    if (tc != NULL)
        untrack(server, tc);
    if (tc != NULL && tc->counted) {
        struct uid_calls *entry = http_caller_entry(server, (uid_t)-1, tc->actor, false);
        if (entry != NULL) {
            entry->connections--;
            http_forget_if_unused(server, entry);
        }
    }
    free(tc);
    *context = NULL;
}

static const char *peer_address(struct MHD_Connection *conn, char *out, size_t out_len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL ||
        getnameinfo(info->client_addr,
                    info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                             : sizeof(struct sockaddr_in),
                    out, out_len, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, out_len, "-");
    return out;
}

static void check_certificate(struct tls_connection *tc, struct http_server *server,
                              struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

    tc->checked = true;
    if (info == NULL || info->tls_session == NULL) {
        snprintf(tc->why, sizeof(tc->why), "no TLS session (lockboxd cannot check you)");
        tc->refused = true;
        return;
    }
    tc->refused = client_trust_verify(server->trust, (gnutls_session_t)info->tls_session, &tc->name,
                                      tc->why, sizeof(tc->why)) != 0;
}

static bool refuse_certificate(struct call *call, const char *why, enum MHD_Result *refusal)
{
    char peer[64], shown[512];
    syslog(LOG_WARNING, "event=api.refused status=403 actor=- peer=%s action=certificate msg=%s",
           peer_address(call->conn, peer, sizeof(peer)),
           text_escape_log(why, shown, sizeof(shown)));
    *refusal = http_reply_and_close(call, MHD_HTTP_FORBIDDEN,
                                    api_error_new("certificate_refused", "%s", why));
    return false;
}

/* Open connections per certificate identity, counted from a connection's first call (only
 * then is its caller known); beyond the cap the call is refused and the connection closed. */
static bool count_connection(struct http_server *server, struct tls_connection *tc,
                             struct call *call, enum MHD_Result *refusal)
{
    if (tc->counted)
        return true;
    struct uid_calls *entry = http_caller_entry(server, (uid_t)-1, call->who.actor, true);
    int cap = server->limits.max_connections_per_user;
    if (entry == NULL || entry->connections >= cap) {
        syslog(LOG_WARNING,
               "event=api.refused status=429 actor=%s msg=\"too many open connections\"",
               call->who.actor);
        *refusal = http_reply_and_close(
            call, 429,
            api_error_new("too_many_connections",
                          "you have %d connections open already; close some first", cap));
        return false;
    }
    entry->connections++;
    tc->counted = true;
    snprintf(tc->actor, sizeof(tc->actor), "%s", call->who.actor);
    return true;
}

bool http_tls_identify(struct http_server *server, struct call *call, enum MHD_Result *refusal)
{
    struct tls_connection *tc = connection_of(call->conn);

    if (tc != NULL)
        tc->busy = true; /* the whole request is in: being answered now */
    if (tc == NULL)
        return refuse_certificate(call, "lockboxd cannot keep track of this connection", refusal);
    if (!tc->checked)
        check_certificate(tc, server, call->conn);
    if (tc->refused)
        return refuse_certificate(call, tc->why, refusal);
    if (identity_from_remote(tc->name.kind, tc->name.name, server->admin_groups,
                             server->n_admin_groups, &call->who) != 0)
        return refuse_certificate(call, "lockboxd cannot set up your identity", refusal);
    return count_connection(server, tc, call, refusal);
}

/* The TLS listener's share of the process's descriptors: a quarter of RLIMIT_NOFILE, at
 * most TLS_CONNECTION_LIMIT. Anyone who reaches the port can open connections without a
 * certificate; were they allowed every descriptor, the login socket could accept no login
 * (EMFILE) and nobody could log in while the flood lasts. */
/* [remote] max_connections, but never more than a quarter of RLIMIT_NOFILE: the rest is for
 * the login socket, the Unix socket's callers and the database. A central leaves a fixed
 * reserve instead (its TLS callers are what it is for). */
static unsigned tls_connection_limit(const struct remote_config *remote)
{
    struct rlimit limit;
    unsigned wanted = remote->max_connections ? remote->max_connections : TLS_CONNECTION_LIMIT;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return wanted;
    rlim_t room = limit.rlim_cur / 4;
    if (remote->central && limit.rlim_cur > 2 * REMOTE_CENTRAL_FD_RESERVE)
        room = limit.rlim_cur - REMOTE_CENTRAL_FD_RESERVE;
    if (room >= wanted)
        return wanted;
    return room >= 1 ? (unsigned)room : 1;
}

/* A PEM file into memory, NUL-terminated (MHD takes PEM as a string). The private key must
 * be root's and unreadable by anyone else: lockboxd refuses to serve with a leaked key. */
static char *read_pem(const char *path, bool secret, char *err, size_t err_len)
{
    struct stat st;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (secret && (st.st_uid != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)) {
        snprintf(err, err_len,
                 "%s: the private key must be owned by root and not readable by group or "
                 "others (chown root and chmod 600 it)",
                 path);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > PEM_FILE_MAX) {
        snprintf(err, err_len, "%s: not a PEM file of 1 byte to 1 MiB", path);
        goto out;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    if (text == NULL || read(fd, text, (size_t)st.st_size) != st.st_size) {
        snprintf(err, err_len, "%s: cannot read", path);
        free(text);
        text = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    return text;
}

static int bind_tcp(const struct remote_config *remote, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *found = NULL;
    int rc = getaddrinfo(remote->listen_host, remote->listen_port, &hints, &found);
    int fd = -1, on = 1;

    if (rc != 0) {
        snprintf(err, err_len, "[remote] listen: cannot resolve %s: %s", remote->listen_host,
                 gai_strerror(rc));
        return -1;
    }
    fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, err_len, "[remote] listen: cannot listen on %s port %s: %s",
                 remote->listen_host, remote->listen_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

static int load_files(struct http_server *server, const struct remote_config *remote, char *err,
                      size_t err_len)
{
    server->tls_cert = read_pem(remote->certificate, false, err, err_len);
    if (server->tls_cert == NULL)
        return -1;
    server->tls_key = read_pem(remote->key, true, err, err_len);
    if (server->tls_key == NULL)
        return -1;
    server->tls_client_ca = read_pem(remote->client_ca, false, err, err_len);
    if (server->tls_client_ca == NULL)
        return -1;
    server->trust = client_trust_load(remote->client_ca, remote->crl, err, err_len);
    return server->trust != NULL ? 0 : -1;
}

int http_tls_reload_trust(struct http_server *server, const struct remote_config *remote, char *err,
                          size_t err_len)
{
    struct client_trust *fresh = client_trust_load(remote->client_ca, remote->crl, err, err_len);

    if (fresh == NULL)
        return -1;
    /* Certificates are checked on a connection's first call, inside this loop: no call is
     * using the old list while it is swapped. Open connections are checked again on their
     * next call, so a kept-alive connection (an agent's feed) of a certificate just revoked
     * is refused then, not only once it reconnects. */
    client_trust_free(server->trust);
    server->trust = fresh;
    for (struct tls_connection *tc = server->tls_connections; tc != NULL; tc = tc->next)
        tc->checked = tc->refused = false;
    return 0;
}

int http_start_remote(struct http_server *server, const struct http_handler *handler,
                      const struct http_limits *limits, struct waiters *waiters,
                      const struct remote_config *remote, const char *const *admin_groups,
                      size_t n_admin_groups, char *err, size_t err_len)
{
    memset(server, 0, sizeof(*server));
    server->admin_groups = admin_groups;
    server->n_admin_groups = n_admin_groups;
    server->handler = *handler;
    server->limits = *limits;
    server->waiters = waiters;
    server->epoll_fd = -1;
    server->listen_fd = -1;
    if (load_files(server, remote, err, err_len) != 0 ||
        (server->listen_fd = bind_tcp(remote, err, err_len)) < 0)
        goto fail;
    unsigned connections = tls_connection_limit(remote);
    unsigned per_address = connections < TLS_CONNECTIONS_PER_ADDRESS ? connections
                                                                     : TLS_CONNECTIONS_PER_ADDRESS;
    if (connections < (remote->max_connections ? remote->max_connections : TLS_CONNECTION_LIMIT))
        syslog(LOG_NOTICE,
               "event=remote.limit connections=%u msg=\"the TLS listener keeps to a quarter of "
               "RLIMIT_NOFILE (a central: all but 1024); raise LimitNOFILE for more\"",
               connections);
    /* MHD_OPTION_HTTPS_MEM_TRUST makes GnuTLS ask for a client certificate; whether it is
     * good is decided by client_trust_verify() on the first call. */
    server->mhd =
        MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TLS,
                         0, NULL, NULL, http_on_request, server, MHD_OPTION_EXTERNAL_LOGGER,
                         http_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, server->listen_fd,
                         MHD_OPTION_HTTPS_MEM_CERT, server->tls_cert, MHD_OPTION_HTTPS_MEM_KEY,
                         server->tls_key, MHD_OPTION_HTTPS_MEM_TRUST, server->tls_client_ca,
                         MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_CONNECTION_LIMIT,
                         connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TLS_TIMEOUT_SECONDS,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)TLS_CONNECTION_MEMORY,
                         MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, server,
                         MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, server,
                         MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
    if (server->mhd == NULL) {
        snprintf(err, err_len,
                 "cannot start the TLS server on %s port %s (check [remote] certificate and key "
                 "belong together)",
                 remote->listen_host, remote->listen_port);
        goto fail;
    }
    return 0;
fail:
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    server->listen_fd = -1;
    http_tls_free(server);
    return -1;
}

static void free_secret(char **text)
{
    if (*text != NULL)
        explicit_bzero(*text, strlen(*text));
    free(*text);
    *text = NULL;
}

void http_tls_free(struct http_server *server)
{
    client_trust_free(server->trust);
    server->trust = NULL;
    free(server->tls_cert);
    server->tls_cert = NULL;
    free_secret(&server->tls_key);
    free(server->tls_client_ca);
    server->tls_client_ca = NULL;
}
