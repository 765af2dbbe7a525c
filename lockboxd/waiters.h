/* The set of long-polls waiting for a request's decision, shared by both doors (the HTTP
 * API's suspended connections and the login socket's waits). Found by request id (hash
 * buckets, for a decision) and by deadline (a min-heap, for the loop's timeout): with 10,000
 * waiting logins no decision and no loop round walks them all. */
#ifndef LOCKBOXD_WAITERS_H
#define LOCKBOXD_WAITERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

struct waiter {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    int64_t deadline_boot_ms;
    /* Called once the waiter has left the set: its request changed state or its deadline
     * passed. The owner answers its caller (and may add the waiter again). */
    void (*on_wake)(struct waiter *waiter);
    /* private to waiters.c */
    struct waiter *prev, *next;
    size_t heap_index;
    bool queued;
};

struct waiters {
    struct waiter **buckets;
    struct waiter **heap;
    size_t n, cap;
};

int waiters_init(struct waiters *set);
void waiters_free(struct waiters *set);
/* Adds w (not in the set) for request id until deadline. Returns 0, or -1 out of memory. */
int waiters_add(struct waiters *set, struct waiter *w, const char *id, int64_t deadline_boot_ms);
/* Takes w out of the set without waking it (its caller went away). No-op if not queued. */
void waiters_remove(struct waiters *set, struct waiter *w);
/* Wakes every waiter of request id. */
void waiters_wake(struct waiters *set, const char *id);
/* Every waiter at once (each reads its request again): after changes may have been missed. A
 * waiter its on_wake adds back is not woken twice. Returns -1 when out of memory (then some
 * wait on until their deadline or their next change). */
int waiters_wake_all(struct waiters *set);
/* Wakes every waiter whose deadline is at or before now. */
void waiters_expire(struct waiters *set, int64_t now_boot_ms);
/* The earliest deadline, INT64_MAX when nobody waits. */
int64_t waiters_next_deadline(const struct waiters *set);
size_t waiters_count(const struct waiters *set);

#endif
