/* Keeping up with the other lockboxd on a database they share (PostgreSQL): their decisions
 * wake this one's waiting logins and end or extend its sessions (store_events.h), and one of
 * them at a time writes the chain to its audit file (journal_mirror). Standalone (SQLite)
 * there are no peers and every call here does nothing. */
#ifndef LOCKBOXD_PEERS_H
#define LOCKBOXD_PEERS_H
#include <stdbool.h>
#include <stdint.h>

#include "event_source.h"
#include "journal.h"
#include "service.h"
#include "store_events.h"
#include "waiters.h"

/* How often the mirror's holder brings the file up to the chain's head (the "within a
 * second"), and how often a lost listener connection is tried again. */
#define PEERS_TICK_MS 500

struct peers {
    struct store_events *events; /* NULL standalone */
    struct event_source source;
    int epoll_fd, watched_fd;
    struct service *service;
    struct journal *journal;
    struct waiters *waiters;
    void (*read_clock)(struct lockbox_clock *now);
    int64_t next_tick_boot_ms;
    bool connected;
    bool follow_sessions; /* after a reconnect, until this host's sessions were checked */
    int64_t catch_up_logged_boot_ms;
};

/* Opens the listener when the store is shared. Returns 0 (also standalone), or -1 with err. */
int peers_open(struct peers *p, const struct store_config *config, struct service *service,
               struct journal *journal, struct waiters *waiters,
               void (*read_clock)(struct lockbox_clock *now), char *err, size_t err_len);
/* Watches the listener's descriptor in the main loop. */
int peers_attach(struct peers *p, int epoll_fd);
void peers_close(struct peers *p);
/* Boot-clock ms of the next tick (INT64_MAX standalone). */
int64_t peers_next_deadline(const struct peers *p);
/* The tick: take or keep the mirror lock and bring the file up to date; reconnect a lost
 * listener and then read everything again. */
void peers_tick(struct peers *p, const struct lockbox_clock *now);

#endif
