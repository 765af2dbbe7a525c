/* The sd_notify datagram. */
#include "readiness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sockaddr_un notify_addr;
static socklen_t notify_len;

int readiness_address(const char *value, struct sockaddr_un *addr, socklen_t *len)
{
    size_t n = value != NULL ? strlen(value) : 0;

    memset(addr, 0, sizeof(*addr));
    if (n < 2 || n >= sizeof(addr->sun_path) || (value[0] != '/' && value[0] != '@'))
        return -1;
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, value, n);
    if (value[0] == '@')
        addr->sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends the name */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/' ? 1 : 0));
    return 0;
}

void readiness_init(void)
{
    if (readiness_address(getenv("NOTIFY_SOCKET"), &notify_addr, &notify_len) != 0)
        notify_len = 0;
    unsetenv("NOTIFY_SOCKET");
}

int readiness_notify(const char *state)
{
    if (notify_len == 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    size_t len = strlen(state);
    ssize_t sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
                          notify_len);
    close(fd);
    return sent == (ssize_t)len ? 0 : -1;
}
