/* See peers.h. */
#include "peers.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

struct changed_ctx {
    struct peers *peers;
    struct lockbox_clock now;
};

static void on_peer_change(void *ctx, const char *request_id)
{
    struct changed_ctx *c = ctx;
    service_request_changed(c->peers->service, request_id, &c->now);
}

/* (Re)registers the listener's descriptor, which libpq may change at a reconnect. */
static void watch(struct peers *p)
{
    int fd = store_events_fd(p->events);

    if (fd == p->watched_fd || p->epoll_fd < 0)
        return;
    if (p->watched_fd >= 0)
        epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, p->watched_fd, NULL);
    p->watched_fd = -1;
    if (fd >= 0 && event_source_watch(p->epoll_fd, fd, EPOLLIN, &p->source) == 0)
        p->watched_fd = fd;
}

static void lost(struct peers *p)
{
    if (p->connected)
        syslog(LOG_ERR, "event=peers.disconnected msg=\"lost the database's change "
                        "notifications; logins keep waiting, retrying\"");
    p->connected = false;
    if (p->watched_fd >= 0)
        epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, p->watched_fd, NULL);
    p->watched_fd = -1;
    journal_mirror(p->journal, false);
}

static void catch_up_with_peers(struct peers *p, const char *why);

static void drain(struct peers *p)
{
    struct changed_ctx c = {p, {0, 0, ""}};

    p->read_clock(&c.now);
    int rc = store_events_drain(p->events, on_peer_change, &c);
    if (rc < 0)
        lost(p);
    else if (rc > 0)
        catch_up_with_peers(p, "too many changes at once");
}

static void on_events(struct event_source *source, uint32_t events)
{
    struct peers *p = EVENT_SOURCE_OWNER(source, struct peers, source);
    (void)events;
    drain(p);
}

int peers_open(struct peers *p, const struct store_config *config, struct service *service,
               struct journal *journal, struct waiters *waiters,
               void (*read_clock)(struct lockbox_clock *now), char *err, size_t err_len)
{
    memset(p, 0, sizeof(*p));
    p->epoll_fd = p->watched_fd = -1;
    p->service = service;
    p->journal = journal;
    p->waiters = waiters;
    p->read_clock = read_clock;
    p->source.on_event = on_events;
    p->next_tick_boot_ms = INT64_MAX;
    p->events = store_events_open(config, err, err_len);
    if (p->events == NULL)
        return err[0] != '\0' ? -1 : 0;
    p->connected = true;
    p->next_tick_boot_ms = 0;
    return 0;
}

int peers_attach(struct peers *p, int epoll_fd)
{
    p->epoll_fd = epoll_fd;
    if (p->events != NULL)
        watch(p);
    return 0;
}

void peers_close(struct peers *p)
{
    store_events_close(p->events);
    p->events = NULL;
}

int64_t peers_next_deadline(const struct peers *p)
{
    return p->events != NULL ? p->next_tick_boot_ms : INT64_MAX;
}

/* After a reconnect nothing missed is replayed: every waiter reads its request again, the
 * expiry scan re-reads every deadline, and sessions follow the approvals as they are now (a
 * revoke missed meanwhile is in no deadline: without this its sessions would live on). */
/* A flood of notifications (anyone who may connect can send them) must not flood syslog. */
#define CATCH_UP_LOG_EVERY_MS 60000

static void catch_up_with_peers(struct peers *p, const char *why)
{
    struct lockbox_clock now;

    p->read_clock(&now);
    if (now.boot_ms >= p->catch_up_logged_boot_ms + CATCH_UP_LOG_EVERY_MS || !p->connected) {
        syslog(LOG_NOTICE, "event=peers.catch_up msg=\"%s: reading every waiting request again\"",
               why);
        p->catch_up_logged_boot_ms = now.boot_ms;
    }
    waiters_wake_all(p->waiters);
    p->service->next_deadline_boot_ms = 0;
    p->follow_sessions = true;
}

void peers_tick(struct peers *p, const struct lockbox_clock *now)
{
    if (p->events == NULL)
        return;
    p->next_tick_boot_ms = now->boot_ms + PEERS_TICK_MS;
    if (!p->connected) {
        if (store_events_reconnect(p->events) != 0)
            return;
        watch(p);
        catch_up_with_peers(p, "connected again");
        p->connected = true;
    }
    /* Until the approvals can be read (the store's own connection may still be coming back):
     * each tick tries again. */
    if (p->follow_sessions && service_follow_approvals(p->service, now) == 0)
        p->follow_sessions = false;
    journal_mirror(p->journal, store_events_mirror_lock(p->events));
    /* The lock's query may have read notifications into libpq's buffer, where epoll does not
     * see them: take them now. */
    drain(p);
}
