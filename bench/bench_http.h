/* A minimal non-blocking HTTP/1.1 client over lockboxd's Unix socket, for the load driver:
 * many keep-alive connections in one epoll loop, one request in flight per connection. */
#ifndef LOCKBOX_BENCH_HTTP_H
#define LOCKBOX_BENCH_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_REPLY_MAX (256 * 1024)

struct bench_conn {
    int fd;
    int index; /* the caller's slot number (epoll data) */
    char *buf; /* the reply being read */
    size_t len;
    int status;       /* HTTP status of the completed reply */
    const char *body; /* into buf, valid until the next request */
    size_t body_len;
    int64_t sent_ns; /* when the current request was written */
    int64_t done_ns; /* when its reply was complete */
};

int64_t bench_now_ns(void);

/* Connects with the effective uid `as_uid` (-1: our own), so SO_PEERCRED shows that user;
 * the socket is non-blocking afterwards. Returns 0 or -1. */
int bench_connect(struct bench_conn *c, const char *socket_path, uid_t as_uid);
void bench_close(struct bench_conn *c);

/* Writes one request (body may be NULL). Returns 0 or -1. */
int bench_send(struct bench_conn *c, const char *method, const char *path, const char *body);

/* Reads what is available. Returns 1 when a whole reply is in (status/body set), 0 when more is
 * needed, -1 on error or EOF. */
int bench_read(struct bench_conn *c);

/* Blocking round trip on a connection (used for set-up and sequential probes). */
int bench_roundtrip(struct bench_conn *c, const char *method, const char *path, const char *body);

/* Copies the JSON string field `key` of the reply body into out. Returns 0 or -1. */
int bench_json_string(const struct bench_conn *c, const char *key, char *out, size_t out_len);
/* The integer field `key` of the reply body, or -1. */
long long bench_json_int(const struct bench_conn *c, const char *key);

#endif
