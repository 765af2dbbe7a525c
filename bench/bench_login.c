/* SOCK_SEQPACKET client for the login socket: the kernel frames each message, so a read is
 * one whole reply; "status" is read with json-c. */
#define _GNU_SOURCE
#include "bench_login.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_login_connect(struct bench_login *c, const char *socket_path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        bench_login_close(c);
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

void bench_login_close(struct bench_login *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int bench_login_send(struct bench_login *c, const char *message)
{
    size_t len = strlen(message);
    c->status = -1;
    c->reply_len = 0;
    c->sent_ns = now_ns();
    return send(c->fd, message, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int reply_status(const char *reply)
{
    json_object *root = json_tokener_parse(reply), *status = NULL;
    int value = -1;
    if (root != NULL && json_object_object_get_ex(root, "status", &status) &&
        json_object_is_type(status, json_type_int))
        value = json_object_get_int(status);
    json_object_put(root);
    return value;
}

int bench_login_read(struct bench_login *c)
{
    ssize_t n = recv(c->fd, c->reply, BENCH_LOGIN_MESSAGE_MAX, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    c->done_ns = now_ns();
    c->reply[n] = '\0';
    c->reply_len = (size_t)n;
    c->status = reply_status(c->reply);
    return 1;
}

int bench_login_call(struct bench_login *c, const char *socket_path, const char *message)
{
    int64_t start = now_ns();
    int rc = -1;

    if (bench_login_connect(c, socket_path) != 0)
        return -1;
    if (bench_login_send(c, message) == 0) {
        struct pollfd p = {c->fd, POLLIN, 0};
        while (rc != 1 && poll(&p, 1, 30000) == 1)
            if ((rc = bench_login_read(c)) < 0)
                break;
    }
    bench_login_close(c);
    c->sent_ns = start; /* the round trip includes the connection, as the module's does */
    return rc == 1 ? 0 : -1;
}
