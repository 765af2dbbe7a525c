/* What an epoll event belongs to: the main loop registers every descriptor with a tag that
 * names its kind and carries the descriptor, and dispatches on the kind (never by comparing
 * descriptors, which a closed and reused number would confuse). */
#ifndef LOCKBOXD_EVENT_TAG_H
#define LOCKBOXD_EVENT_TAG_H
#include <stdint.h>

enum event_kind {
    EVENT_SIGNAL = 1,
    EVENT_CLOCK,
    EVENT_HTTP,         /* libmicrohttpd's own epoll descriptor */
    EVENT_SESSION,      /* a session's pidfd */
    EVENT_LOGIN_LISTEN, /* the login socket */
    EVENT_LOGIN_CONN,   /* one connection of the login socket */
    EVENT_HTTP_WAIT,    /* an HTTP connection suspended in a long-poll: did its caller leave? */
};

static inline uint64_t event_tag(enum event_kind kind, int fd)
{
    return ((uint64_t)kind << 32) | (uint32_t)fd;
}

static inline enum event_kind event_tag_kind(uint64_t tag)
{
    return (enum event_kind)(tag >> 32);
}

static inline int event_tag_fd(uint64_t tag)
{
    return (int)(uint32_t)tag;
}

#endif
