/* Connect, check the peer, send one message, poll for one reply. */
#define _GNU_SOURCE
#include "login_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "login_message.h"
#include "monotonic.h"
#include "socket_check.h"

void login_channel_close(struct login_channel *channel)
{
    if (channel->fd >= 0)
        close(channel->fd);
    channel->fd = -1;
}

/* Sets err to "PATH: what happened", closes the connection and returns status. */
__attribute__((format(printf, 5, 6))) static enum api_status fail(struct login_channel *channel,
                                                                  enum api_status status, char *err,
                                                                  size_t err_len, const char *fmt,
                                                                  ...)
{
    va_list ap;
    int used = snprintf(err, err_len, "%s: ", channel->socket_path);

    if (used >= 0 && (size_t)used < err_len) {
        va_start(ap, fmt);
        vsnprintf(err + used, err_len - (size_t)used, fmt, ap);
        va_end(ap);
    }
    login_channel_close(channel);
    return status;
}

/* Only root can have made a socket that passed socket_check(), and only root may answer on
 * it: anything else is someone impersonating lockboxd, whatever the failmode. */
static enum api_status check_peer(struct login_channel *channel, char *err, size_t err_len)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(channel->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
        return fail(channel, API_UNREACHABLE, err, err_len,
                    "cannot read the peer's credentials: %s", strerror(errno));
    if (cred.uid != 0) {
        char uid[32];
        snprintf(uid, sizeof(uid), "%u", (unsigned)cred.uid);
        return fail(channel, API_IMPOSTOR, err, err_len, "answered by uid %s, not root", uid);
    }
    return API_OK;
}

static enum api_status connect_channel(struct login_channel *channel, char *err, size_t err_len)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char why[300];

    switch (socket_check(channel->socket_path, why, sizeof(why))) {
    case SOCKET_OK: break;
    case SOCKET_ABSENT: return fail(channel, API_NOT_RUNNING, err, err_len, "%s", why);
    case SOCKET_UNSAFE: return fail(channel, API_IMPOSTOR, err, err_len, "%s", why);
    }
    size_t path_len = strlen(channel->socket_path);
    if (path_len >= sizeof(addr.sun_path))
        return fail(channel, API_IMPOSTOR, err, err_len, "socket path too long");
    memcpy(addr.sun_path, channel->socket_path, path_len + 1);
    channel->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (channel->fd < 0)
        return fail(channel, API_UNREACHABLE, err, err_len, "socket: %s", strerror(errno));
    if (connect(channel->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno;
        /* Refused or vanished: nobody listens, lockboxd is not running. A full queue (EAGAIN)
         * is a busy lockboxd, never an outage: that denies. */
        enum api_status status = saved == ECONNREFUSED || saved == ENOENT ? API_NOT_RUNNING
                                                                          : API_UNREACHABLE;
        return fail(channel, status, err, err_len, "connect: %s",
                    saved == EAGAIN ? "lockboxd's queue is full (busy)" : strerror(saved));
    }
    return check_peer(channel, err, err_len);
}

#define WAIT_ABANDONED 2

/* poll() for events until the deadline, watching the login's client connection too (only for
 * its hang-up: POLLRDHUP; its data is not ours). 1 ready, 0 timed out, -1 error,
 * WAIT_ABANDONED when the client hung up. */
static int wait_for(const struct login_channel *channel, short events, int64_t deadline_ms)
{
    struct pollfd pfds[1 + 4];
    nfds_t n_fds = 1;

    pfds[0] = (struct pollfd){channel->fd, events, 0};
    for (int i = 0; i < channel->n_watch && i < 4; i++)
        pfds[n_fds++] = (struct pollfd){channel->watch_fds[i], POLLRDHUP, 0};
    for (;;) {
        int64_t left = deadline_ms - monotonic_ms();
        if (left <= 0)
            return 0;
        int n = poll(pfds, n_fds, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
        for (nfds_t i = 1; n > 0 && i < n_fds; i++) {
            if (pfds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
                return WAIT_ABANDONED;
            if (pfds[i].revents & POLLNVAL)
                pfds[i].fd = -1; /* closed under us: nothing more to watch there */
        }
        if (n > 0 && pfds[0].revents != 0)
            return (pfds[0].revents & events) ? 1 : -1;
    }
}

static enum api_status send_request(struct login_channel *channel, json_object *request,
                                    int64_t deadline_ms, char *err, size_t err_len)
{
    char buf[LOCKBOX_LOGIN_MESSAGE_MAX + 1];
    ssize_t len = login_message_format(request, buf, sizeof(buf));

    if (len < 0)
        return fail(channel, API_MALFORMED, err, err_len, "request too large");
    for (;;) {
        if (send(channel->fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) == len)
            return API_OK;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail(channel, API_UNREACHABLE, err, err_len, "send: %s", strerror(errno));
        if (wait_for(channel, POLLOUT, deadline_ms) != 1)
            return fail(channel, API_UNREACHABLE, err, err_len,
                        "lockboxd takes no requests (busy)");
    }
}

static enum api_status receive_reply(struct login_channel *channel, int64_t deadline_ms,
                                     json_object **reply, char *err, size_t err_len)
{
    char buf[LOCKBOX_LOGIN_MESSAGE_MAX + 1], why[200];

    int ready = wait_for(channel, POLLIN, deadline_ms);
    if (ready == WAIT_ABANDONED)
        return fail(channel, API_ABANDONED, err, err_len, "the client hung up while it waited");
    if (ready == 0)
        return fail(channel, API_UNREACHABLE, err, err_len, "no answer in time");
    ssize_t n = recv(channel->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
    if (ready < 0 || n <= 0)
        return fail(channel, API_UNREACHABLE, err, err_len,
                    "lockboxd closed the connection without an answer");
    if ((size_t)n > LOCKBOX_LOGIN_MESSAGE_MAX)
        return fail(channel, API_MALFORMED, err, err_len, "the answer is too large");
    *reply = login_message_parse(buf, (size_t)n, why, sizeof(why));
    if (*reply == NULL)
        return fail(channel, API_MALFORMED, err, err_len, "bad answer: %s", why);
    if (login_message_status(*reply) < 0) {
        json_object_put(*reply);
        *reply = NULL;
        return fail(channel, API_MALFORMED, err, err_len, "the answer has no status");
    }
    return API_OK;
}

enum api_status login_call(struct login_channel *channel, json_object *request, long timeout_ms,
                           json_object **reply, char *err, size_t err_len)
{
    int64_t deadline_ms = monotonic_ms() + timeout_ms;
    enum api_status status = API_OK;

    *reply = NULL;
    if (channel->fd < 0)
        status = connect_channel(channel, err, err_len);
    if (status == API_OK)
        status = send_request(channel, request, deadline_ms, err, err_len);
    if (status == API_OK)
        status = receive_reply(channel, deadline_ms, reply, err, err_len);
    return status;
}
