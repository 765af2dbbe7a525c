/* The login socket (docs/API.md, "The login socket"): the PAM module's own door into
 * lockboxd. Root only (mode 0600 and SO_PEERCRED), SOCK_SEQPACKET, one JSON request per
 * message and one reply, served from the main loop next to the HTTP API and calling the same
 * service functions. Nothing on the public socket shares its queue or its connections. */
#ifndef LOCKBOXD_LOGIN_SOCKET_H
#define LOCKBOXD_LOGIN_SOCKET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "event_source.h"
#include "service.h"
#include "waiters.h"

struct login_conn;

struct login_server {
    struct service *svc;
    struct waiters *waiters;
    int epoll_fd;
    int listen_fd;
    bool inherited; /* socket activation: systemd owns the socket file */
    char path[LOCKBOX_PATH_MAX];
    struct event_source listen_source;
    struct login_conn *conns; /* every open connection */
    size_t n_conns;
    struct login_conn *held; /* replies held until the journal's records are durable */
    uint64_t abandoned;      /* waits whose caller went away */
    int spare_fd;            /* given up to shed a connection when descriptors run out */
    time_t last_shed_log;
};

/* Binds path (mode 0600; its directory must be root's) or takes inherited_fd (>= 0). */
int login_socket_start(struct login_server *ls, struct service *svc, struct waiters *waiters,
                       const char *path, int inherited_fd, char *err, size_t err_len);
/* Starts watching the socket and, as they come, its connections on epoll_fd. */
int login_socket_attach(struct login_server *ls, int epoll_fd);
/* After journal_flush(): sends the held replies, or 503 audit_unavailable in their place. */
size_t login_socket_release_held(struct login_server *ls, bool durable);
size_t login_socket_connections(const struct login_server *ls);
void login_socket_stop(struct login_server *ls);

#endif
