/* LISTEN_FDS parsing and matching passed sockets to the configured paths. */
#include "activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_count(const char *text, long max, long *out)
{
    char *end;

    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 0 || value > max)
        return -1;
    *out = value;
    return 0;
}

int activation_parse(const char *listen_pid, const char *listen_fds, pid_t self)
{
    long pid, fds;

    if (listen_pid == NULL && listen_fds == NULL)
        return 0;
    if (parse_count(listen_pid, 0x7fffffffL, &pid) != 0 ||
        parse_count(listen_fds, ACTIVATION_MAX_FDS, &fds) != 0)
        return -1;
    return pid == (long)self ? (int)fds : 0;
}

int activation_take(void)
{
    int count = activation_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid());

    /* Our children (notification commands) must not believe the sockets are theirs. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int i = 0; i < count; i++) {
        int fd = ACTIVATION_FIRST_FD + i;
        int flags = fcntl(fd, F_GETFD);
        struct stat st;
        /* Only sockets: anything else was not passed by systemd, and is not ours to close. */
        if (flags < 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
            fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
            return -1;
    }
    return count;
}

static int is_listening_on(int fd, const char *path, int type)
{
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    int value = 0;
    socklen_t value_len = sizeof(value);

    memset(&addr, 0, sizeof(addr));
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 || addr.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path))
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &value_len) != 0 || value != type)
        return 0;
    value = 0;
    value_len = sizeof(value);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &value_len) != 0 || value != 1)
        return 0;
    return strncmp(addr.sun_path, path, sizeof(addr.sun_path)) == 0;
}

int activation_find(int count, const char *path, int type)
{
    for (int i = 0; i < count; i++) {
        int fd = ACTIVATION_FIRST_FD + i;
        if (is_listening_on(fd, path, type)) {
            int flags = fcntl(fd, F_GETFL);
            if (flags >= 0)
                fcntl(fd, F_SETFL, flags | O_NONBLOCK);
            return fd;
        }
    }
    return -1;
}

void activation_close_unclaimed(int count, const int *claimed_fds, int n_claimed)
{
    for (int i = 0; i < count; i++) {
        int fd = ACTIVATION_FIRST_FD + i, claimed = 0;
        for (int j = 0; j < n_claimed; j++)
            claimed = claimed || claimed_fds[j] == fd;
        if (!claimed)
            close(fd);
    }
}
