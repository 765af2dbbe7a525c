/* What an epoll event belongs to. Every descriptor the main loop watches is registered with
 * data.ptr pointing at an event_source embedded in its owner (a connection, a session's
 * watch), and the loop calls its on_event: no descriptor numbers are compared, which a closed
 * and reused number would confuse, and the loop knows no kinds of sources.
 * Lifetime: an owner takes its descriptor out of the epoll set before freeing the source,
 * and frees it only from its own on_event or outside the loop's batch of events (a later
 * event of the same batch could otherwise point at freed memory). */
#ifndef LOCKBOXD_EVENT_SOURCE_H
#define LOCKBOXD_EVENT_SOURCE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct event_source {
    void (*on_event)(struct event_source *source, uint32_t events);
};

/* The owner of an embedded source: EVENT_SOURCE_OWNER(source, struct conn, source). */
#define EVENT_SOURCE_OWNER(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Adds fd to epoll_fd for events, dispatched to source. Returns 0 or -1 (errno). */
static inline int event_source_watch(int epoll_fd, int fd, uint32_t events,
                                     struct event_source *source)
{
    struct epoll_event ev = {.events = events, .data.ptr = source};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

#endif
