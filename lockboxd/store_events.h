/* What other lockboxd commit to a database they share with this one (PostgreSQL): a request
 * changed (its id), as each change commits. A wake-up only: the receiver reads the request
 * again from the store. Nothing is replayed after a broken connection, so after
 * store_events_reconnect() the receiver must read everything it waits on again.
 * The same connection holds the mirror lock: the one lockboxd that writes the database's
 * audit chain to its audit file. */
#ifndef LOCKBOXD_STORE_EVENTS_H
#define LOCKBOXD_STORE_EVENTS_H
#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct store_events;

typedef void (*store_changed_fn)(void *ctx, const char *request_id);

/* NULL with err "" for a database nobody else writes (SQLite): there is nothing to hear.
 * NULL with a message in err when it cannot listen. */
struct store_events *store_events_open(const struct store_config *config, char *err,
                                       size_t err_len);
void store_events_close(struct store_events *events);
/* The descriptor to watch for input; -1 while disconnected. It may change at a reconnect. */
int store_events_fd(const struct store_events *events);
/* Takes in what arrived and calls fn for every request another lockboxd changed (this one's
 * own changes are left out). Returns 0; 1 when more requests changed than it reads one by one
 * (fn was not called: read everything again); -1 when the connection broke (reconnect). */
int store_events_drain(struct store_events *events, store_changed_fn fn, void *ctx);
/* Connects and listens again. 0 when connected: the caller reads everything again. */
int store_events_reconnect(struct store_events *events);
/* True while this lockboxd holds the mirror lock (taking it when it is free). False while
 * disconnected: the lock went with the connection. */
bool store_events_mirror_lock(struct store_events *events);

#endif
