/* Finding the client's connection among the host process's descriptors: getsockopt and
 * getpeername only (they never block and never read), nothing is changed. */
#include "client_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* sshd's descriptors are small numbers; this bounds the scan's cost. */
#define SCAN_LIMIT 256

static int int_option(int fd, int option)
{
    int value = -1;
    socklen_t len = sizeof(value);

    /* ENOTSOCK or EBADF for anything but a socket: no fstat, which could hang on a file of a
     * stuck network file system. */
    return getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 ? value : -1;
}

/* The peer's address as sshd writes PAM_RHOST: IPv4 for an IPv4-mapped IPv6 peer. */
static int peer_is(int fd, const char *rhost)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    char text[INET6_ADDRSTRLEN];
    const void *addr;
    int family = AF_INET;

    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
        return 0;
    if (peer.ss_family == AF_INET) {
        addr = &((struct sockaddr_in *)&peer)->sin_addr;
    } else if (peer.ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            addr = &a6->s6_addr[12];
        } else {
            addr = a6;
            family = AF_INET6;
        }
    } else {
        return 0;
    }
    return inet_ntop(family, addr, text, sizeof(text)) != NULL && strcmp(text, rhost) == 0;
}

int client_watch_find(const char *rhost, int fds[CLIENT_WATCH_MAX])
{
    int found = 0;

    if (rhost == NULL || rhost[0] == '\0')
        return 0;
    for (int fd = 0; fd < SCAN_LIMIT && found <= 1; fd++) {
        int domain = int_option(fd, SO_DOMAIN);
        if ((domain != AF_INET && domain != AF_INET6) || int_option(fd, SO_TYPE) != SOCK_STREAM ||
            int_option(fd, SO_ACCEPTCONN) != 0)
            continue;
        if (peer_is(fd, rhost))
            fds[found++] = fd;
    }
    /* Exactly one: a process that carries several connections from the same address (a
     * proxy, NAT) cannot tell which is this login's, and another's hang-up must not end it. */
    return found == 1 ? 1 : 0;
}
