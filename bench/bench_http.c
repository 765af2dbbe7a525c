/* The load driver's HTTP client: enough HTTP/1.1 for lockboxd's replies (Content-Length bodies,
 * keep-alive), JSON fields read with json-c. */
#define _GNU_SOURCE
#include "bench_http.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_connect(struct bench_conn *c, const char *socket_path, uid_t as_uid)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    uid_t saved = geteuid();
    int rc = -1;

    c->fd = -1;
    c->len = 0;
    if (c->buf == NULL && (c->buf = malloc(BENCH_REPLY_MAX + 1)) == NULL)
        return -1;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
    /* SO_PEERCRED records the effective uid at connect(): switch only around that call. */
    if (as_uid != (uid_t)-1 && as_uid != saved && seteuid(as_uid) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
        rc = 0;
    if (geteuid() != saved && seteuid(saved) != 0)
        abort(); /* never continue with the wrong identity */
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

void bench_close(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

int bench_send(struct bench_conn *c, const char *method, const char *path, const char *body)
{
    char request[4096];
    int n = body ? snprintf(request, sizeof(request),
                            "%s %s HTTP/1.1\r\nHost: lockboxd\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s",
                            method, path, strlen(body), body)
                 : snprintf(request, sizeof(request), "%s %s HTTP/1.1\r\nHost: lockboxd\r\n\r\n",
                            method, path);
    if (n < 0 || (size_t)n >= sizeof(request))
        return -1;
    c->len = 0;
    c->status = 0;
    c->body = NULL;
    c->sent_ns = bench_now_ns();
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = write(c->fd, request + off, (size_t)n - off);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {c->fd, POLLOUT, 0};
            poll(&p, 1, 1000);
            continue;
        }
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* 1: a whole reply is in buf; 0: not yet; -1: malformed. */
static int parse_reply(struct bench_conn *c)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL)
        return c->len >= BENCH_REPLY_MAX ? -1 : 0;
    size_t head_len = (size_t)(end - c->buf) + 4;
    long content_length = -1;
    for (char *line = strstr(c->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            content_length = strtol(line + 17, NULL, 10);
    }
    if (content_length < 0 || head_len + (size_t)content_length > BENCH_REPLY_MAX)
        return -1;
    if (c->len < head_len + (size_t)content_length)
        return 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &c->status) != 1)
        return -1;
    c->body = c->buf + head_len;
    c->body_len = (size_t)content_length;
    c->done_ns = bench_now_ns();
    return 1;
}

int bench_read(struct bench_conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BENCH_REPLY_MAX - c->len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return parse_reply(c);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
        int done = parse_reply(c);
        if (done != 0)
            return done;
    }
}

int bench_roundtrip(struct bench_conn *c, const char *method, const char *path, const char *body)
{
    if (bench_send(c, method, path, body) != 0)
        return -1;
    for (;;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 30000) <= 0)
            return -1;
        int rc = bench_read(c);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
    }
}

static json_object *field(const struct bench_conn *c, const char *key, json_object **root)
{
    json_object *value = NULL;
    *root = c->body ? json_tokener_parse(c->body) : NULL;
    if (*root != NULL)
        json_object_object_get_ex(*root, key, &value);
    return value;
}

int bench_json_string(const struct bench_conn *c, const char *key, char *out, size_t out_len)
{
    json_object *root, *value = field(c, key, &root);
    int rc = -1;
    if (value != NULL && json_object_is_type(value, json_type_string)) {
        snprintf(out, out_len, "%s", json_object_get_string(value));
        rc = 0;
    }
    json_object_put(root);
    return rc;
}

long long bench_json_int(const struct bench_conn *c, const char *key)
{
    json_object *root, *value = field(c, key, &root);
    long long v = value && json_object_is_type(value, json_type_int) ? json_object_get_int64(value)
                                                                     : -1;
    json_object_put(root);
    return v;
}
