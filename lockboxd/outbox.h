/* The notification outbox: rows written in the same transaction as the event they announce,
 * delivered at least once by the sender (notify.c), retried with backoff, kept for `show`. */
#ifndef LOCKBOXD_OUTBOX_H
#define LOCKBOXD_OUTBOX_H
#include <stdint.h>

#include "lockbox_limits.h"
#include "lockbox_result.h"
#include "store.h"

struct outbox;

struct outbox_item {
    int64_t seq;
    char notification_id[LOCKBOX_ID_HEX_LEN + 40];
    char channel[16]; /* "webhook" or "command" */
    char event[40];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char *body; /* malloc'd JSON */
    int attempts;
    int64_t next_attempt_at, delivered_at;
    int failed;
    char last_error[200];
};

typedef int (*outbox_item_fn)(const struct outbox_item *item, void *ctx);

struct outbox *outbox_open(struct store *store, char *err, size_t err_len);
void outbox_close(struct outbox *outbox);

/* Adds one row; a row with the same notification id and channel is kept (idempotent). */
int outbox_add(struct outbox *outbox, const char *notification_id, const char *channel,
               const char *request_id, const char *event, const char *tenant, const char *body,
               int64_t now_ms);
/* The oldest undelivered row due at now_ms (LOCKBOX_OK: free item->body). */
enum lockbox_result outbox_next_due(struct outbox *outbox, int64_t now_ms,
                                    struct outbox_item *item);
/* When the next undelivered row falls due (INT64_MAX when none). */
int64_t outbox_next_attempt_at(struct outbox *outbox);
int outbox_mark_delivered(struct outbox *outbox, int64_t seq, int attempts, int64_t now_ms);
int outbox_mark_retry(struct outbox *outbox, int64_t seq, int attempts, int64_t next_at,
                      const char *error, int failed);
/* Every row of a request, oldest first (body not filled). */
int outbox_for_request(struct outbox *outbox, const char *request_id, outbox_item_fn fn, void *ctx);

#endif
