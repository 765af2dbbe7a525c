/* The load driver's login-socket client: one JSON message per request and per reply over
 * SOCK_SEQPACKET, the way pam_lockbox talks to lockboxd. */
#ifndef LOCKBOX_BENCH_LOGIN_H
#define LOCKBOX_BENCH_LOGIN_H
#include <stddef.h>
#include <stdint.h>

#define BENCH_LOGIN_MESSAGE_MAX 16384 /* lockboxd's limit, either way */

struct bench_login {
    int fd;
    int index;  /* the caller's slot number (epoll data) */
    int status; /* the reply's "status" member, or -1 */
    char reply[BENCH_LOGIN_MESSAGE_MAX + 1];
    size_t reply_len;
    int64_t sent_ns, done_ns;
};

/* Connects (blocking while lockboxd's queue is full); non-blocking afterwards. 0 or -1. */
int bench_login_connect(struct bench_login *c, const char *socket_path);
void bench_login_close(struct bench_login *c);

/* Sends one request message. 0 or -1. */
int bench_login_send(struct bench_login *c, const char *message);

/* Reads the reply if it is in: 1 (reply/status set), 0 (not yet), -1 (closed or error). */
int bench_login_read(struct bench_login *c);

/* connect + send + reply + close, as the module does for each PAM call. 0 or -1. */
int bench_login_call(struct bench_login *c, const char *socket_path, const char *message);

#endif
