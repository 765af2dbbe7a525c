/* SQL for the outbox table (schema in store.c, migration 2). */
#include "outbox.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OB_ADD, OB_DUE, OB_NEXT, OB_DELIVERED, OB_RETRY, OB_FOR_REQUEST, OB_COUNT };

static const char *const outbox_sql[OB_COUNT] = {
    [OB_ADD] = "INSERT OR IGNORE INTO outbox (notification_id, channel, request_id, event, tenant,"
               " body, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [OB_DUE] = "SELECT seq, notification_id, channel, event, tenant, body, attempts,"
               " next_attempt_at, delivered_at, failed, last_error FROM outbox"
               " WHERE delivered_at = 0 AND failed = 0 AND next_attempt_at <= ?1"
               " ORDER BY next_attempt_at, seq LIMIT 1",
    [OB_NEXT] = "SELECT min(next_attempt_at) FROM outbox WHERE delivered_at = 0 AND failed = 0",
    [OB_DELIVERED] = "UPDATE outbox SET delivered_at = ?2, attempts = ?3, last_error = ''"
                     " WHERE seq = ?1",
    [OB_RETRY] = "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4,"
                 " failed = ?5 WHERE seq = ?1",
    [OB_FOR_REQUEST] = "SELECT seq, notification_id, channel, event, tenant, NULL, attempts,"
                       " next_attempt_at, delivered_at, failed, last_error FROM outbox"
                       " WHERE request_id = ?1 ORDER BY seq",
};

struct outbox {
    sqlite3_stmt *statements[OB_COUNT];
};

struct outbox *outbox_open(struct store *store, char *err, size_t err_len)
{
    struct outbox *outbox = calloc(1, sizeof(*outbox));
    sqlite3 *db = store_handle(store);

    if (outbox == NULL)
        return NULL;
    for (int i = 0; i < OB_COUNT; i++) {
        if (sqlite3_prepare_v3(db, outbox_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &outbox->statements[i], NULL) != SQLITE_OK) {
            snprintf(err, err_len, "outbox: %s", sqlite3_errmsg(db));
            outbox_close(outbox);
            return NULL;
        }
    }
    return outbox;
}

void outbox_close(struct outbox *outbox)
{
    if (outbox == NULL)
        return;
    for (int i = 0; i < OB_COUNT; i++)
        sqlite3_finalize(outbox->statements[i]);
    free(outbox);
}

static sqlite3_stmt *statement(struct outbox *outbox, int which)
{
    sqlite3_stmt *s = outbox->statements[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int outbox_add(struct outbox *outbox, const char *notification_id, const char *channel,
               const char *request_id, const char *event, const char *tenant, const char *body,
               int64_t now_ms)
{
    sqlite3_stmt *s = statement(outbox, OB_ADD);
    sqlite3_bind_text(s, 1, notification_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, now_ms);
    return step_done(s);
}

static void text_column(sqlite3_stmt *s, int col, char *out, size_t out_len)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    snprintf(out, out_len, "%s", text ? (const char *)text : "");
}

static int row_to_item(sqlite3_stmt *s, struct outbox_item *item, int with_body)
{
    memset(item, 0, sizeof(*item));
    item->seq = sqlite3_column_int64(s, 0);
    text_column(s, 1, item->notification_id, sizeof(item->notification_id));
    text_column(s, 2, item->channel, sizeof(item->channel));
    text_column(s, 3, item->event, sizeof(item->event));
    text_column(s, 4, item->tenant, sizeof(item->tenant));
    if (with_body) {
        const unsigned char *body = sqlite3_column_text(s, 5);
        item->body = strdup(body ? (const char *)body : "{}");
        if (item->body == NULL)
            return -1;
    }
    item->attempts = sqlite3_column_int(s, 6);
    item->next_attempt_at = sqlite3_column_int64(s, 7);
    item->delivered_at = sqlite3_column_int64(s, 8);
    item->failed = sqlite3_column_int(s, 9);
    text_column(s, 10, item->last_error, sizeof(item->last_error));
    return 0;
}

enum lockbox_result outbox_next_due(struct outbox *outbox, int64_t now_ms, struct outbox_item *item)
{
    sqlite3_stmt *s = statement(outbox, OB_DUE);
    sqlite3_bind_int64(s, 1, now_ms);
    int rc = sqlite3_step(s);
    enum lockbox_result result = LOCKBOX_ERROR;
    if (rc == SQLITE_ROW && row_to_item(s, item, 1) == 0)
        result = LOCKBOX_OK;
    else if (rc == SQLITE_DONE)
        result = LOCKBOX_NOT_FOUND;
    sqlite3_reset(s);
    return result;
}

int64_t outbox_next_attempt_at(struct outbox *outbox)
{
    sqlite3_stmt *s = statement(outbox, OB_NEXT);
    int64_t next = INT64_MAX;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return next;
}

int outbox_mark_delivered(struct outbox *outbox, int64_t seq, int attempts, int64_t now_ms)
{
    sqlite3_stmt *s = statement(outbox, OB_DELIVERED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int(s, 3, attempts);
    return step_done(s);
}

int outbox_mark_retry(struct outbox *outbox, int64_t seq, int attempts, int64_t next_at,
                      const char *error, int failed)
{
    sqlite3_stmt *s = statement(outbox, OB_RETRY);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, next_at);
    sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, failed);
    return step_done(s);
}

int outbox_for_request(struct outbox *outbox, const char *request_id, outbox_item_fn fn, void *ctx)
{
    sqlite3_stmt *s = statement(outbox, OB_FOR_REQUEST);
    struct outbox_item item;
    int rc;

    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row_to_item(s, &item, 0);
        if (fn(&item, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
