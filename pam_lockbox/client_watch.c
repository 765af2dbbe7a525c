/* Finding the client's connection among the host process's descriptors: fstat and
 * getsockopt/getpeername only, nothing is read or changed. */
#include "client_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* sshd's descriptors are small numbers; this bounds the scan's cost (one fstat each). */
#define SCAN_LIMIT 256

static int int_option(int fd, int option)
{
    int value = -1;
    socklen_t len = sizeof(value);

    return getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 ? value : -1;
}

static int peer_is(int fd, const char *rhost)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    char text[INET6_ADDRSTRLEN];
    const void *addr;

    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
        return 0;
    if (peer.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&peer)->sin_addr;
    else if (peer.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&peer)->sin6_addr;
    else
        return 0;
    return inet_ntop(peer.ss_family, addr, text, sizeof(text)) != NULL &&
           strcmp(text, rhost) == 0;
}

int client_watch_find(const char *rhost, int fds[CLIENT_WATCH_MAX])
{
    int found = 0;
    struct stat st;

    if (rhost == NULL || rhost[0] == '\0')
        return 0;
    for (int fd = 0; fd < SCAN_LIMIT && found < CLIENT_WATCH_MAX; fd++) {
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
            continue;
        int domain = int_option(fd, SO_DOMAIN);
        if ((domain != AF_INET && domain != AF_INET6) || int_option(fd, SO_TYPE) != SOCK_STREAM ||
            int_option(fd, SO_ACCEPTCONN) != 0)
            continue;
        if (peer_is(fd, rhost))
            fds[found++] = fd;
    }
    return found;
}
