/* A hash of buckets by request id and a min-heap by deadline over intrusive waiters. */
#include "waiters.h"

#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#define BUCKETS 16384 /* a power of two */

static struct waiter **bucket_of(struct waiters *set, const char *id)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return &set->buckets[hash & (BUCKETS - 1)];
}

int waiters_init(struct waiters *set)
{
    memset(set, 0, sizeof(*set));
    set->buckets = calloc(BUCKETS, sizeof(*set->buckets));
    return set->buckets != NULL ? 0 : -1;
}

void waiters_free(struct waiters *set)
{
    free(set->buckets);
    free(set->heap);
    memset(set, 0, sizeof(*set));
}

static void heap_place(struct waiters *set, size_t i, struct waiter *w)
{
    set->heap[i] = w;
    w->heap_index = i;
}

static void sift_up(struct waiters *set, size_t i)
{
    struct waiter *w = set->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (set->heap[parent]->deadline_boot_ms <= w->deadline_boot_ms)
            break;
        heap_place(set, i, set->heap[parent]);
        i = parent;
    }
    heap_place(set, i, w);
}

static void sift_down(struct waiters *set, size_t i)
{
    struct waiter *w = set->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= set->n)
            break;
        if (child + 1 < set->n &&
            set->heap[child + 1]->deadline_boot_ms < set->heap[child]->deadline_boot_ms)
            child++;
        if (w->deadline_boot_ms <= set->heap[child]->deadline_boot_ms)
            break;
        heap_place(set, i, set->heap[child]);
        i = child;
    }
    heap_place(set, i, w);
}

int waiters_add(struct waiters *set, struct waiter *w, const char *id, int64_t deadline_boot_ms)
{
    if (array_grow(&set->heap, &set->cap, set->n + 1, sizeof(*set->heap), 64) != 0)
        return -1;
    size_t id_len = strnlen(id, sizeof(w->id) - 1);
    memmove(w->id, id, id_len); /* id may be w->id itself: an owner waiting again */
    w->id[id_len] = '\0';
    w->deadline_boot_ms = deadline_boot_ms;
    struct waiter **bucket = bucket_of(set, w->id);
    w->prev = NULL;
    w->next = *bucket;
    if (*bucket)
        (*bucket)->prev = w;
    *bucket = w;
    heap_place(set, set->n++, w);
    sift_up(set, w->heap_index);
    w->queued = true;
    return 0;
}

void waiters_remove(struct waiters *set, struct waiter *w)
{
    if (!w->queued)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        *bucket_of(set, w->id) = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    size_t i = w->heap_index, last = --set->n;
    if (i != last) {
        struct waiter *moved = set->heap[last];
        heap_place(set, i, moved);
        sift_down(set, i);
        sift_up(set, moved->heap_index);
    }
    w->queued = false;
}

void waiters_wake(struct waiters *set, const char *id)
{
    struct waiter *next;

    for (struct waiter *w = *bucket_of(set, id); w; w = next) {
        next = w->next;
        if (strcmp(w->id, id) == 0) {
            waiters_remove(set, w);
            w->on_wake(w);
        }
    }
}

int waiters_wake_all(struct waiters *set)
{
    size_t n = set->n;
    if (n == 0)
        return 0;
    struct waiter **all = malloc(n * sizeof(*all));
    if (all == NULL)
        return -1;
    memcpy(all, set->heap, n * sizeof(*all));
    for (size_t i = 0; i < n; i++)
        waiters_remove(set, all[i]);
    for (size_t i = 0; i < n; i++)
        all[i]->on_wake(all[i]);
    free(all);
    return 0;
}

void waiters_expire(struct waiters *set, int64_t now_boot_ms)
{
    while (set->n > 0 && set->heap[0]->deadline_boot_ms <= now_boot_ms) {
        struct waiter *w = set->heap[0];
        waiters_remove(set, w);
        w->on_wake(w);
    }
}

int64_t waiters_next_deadline(const struct waiters *set)
{
    return set->n > 0 ? set->heap[0]->deadline_boot_ms : INT64_MAX;
}

size_t waiters_count(const struct waiters *set)
{
    return set->n;
}
