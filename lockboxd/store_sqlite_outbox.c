/* The notification outbox in SQLite (schema: store_sqlite_schema.c, migration 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

const char *const sqlite_outbox_sql[OB_COUNT] = {
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

static sqlite3_stmt *statement(void *state, enum sqlite_outbox_statement which)
{
    struct sqlite_store *store = state;
    return sqlite_ready(store->outbox_statements[which]);
}

int sqlite_outbox_add(void *state, const char *notification_id, const char *channel,
                      const char *request_id, const char *event, const char *tenant,
                      const char *body, int64_t now_ms)
{
    sqlite3_stmt *s = statement(state, OB_ADD);
    sqlite3_bind_text(s, 1, notification_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, now_ms);
    return sqlite_step_done(s);
}

static int load_row(sqlite3_stmt *s, struct outbox_row *row, bool with_body)
{
    memset(row, 0, sizeof(*row));
    row->seq = sqlite3_column_int64(s, 0);
    sqlite_copy_column(s, 1, row->notification_id, sizeof(row->notification_id));
    sqlite_copy_column(s, 2, row->channel, sizeof(row->channel));
    sqlite_copy_column(s, 3, row->event, sizeof(row->event));
    sqlite_copy_column(s, 4, row->tenant, sizeof(row->tenant));
    if (with_body) {
        const unsigned char *body = sqlite3_column_text(s, 5);
        row->body = strdup(body ? (const char *)body : "{}");
        if (row->body == NULL)
            return -1;
    }
    row->attempts = sqlite3_column_int(s, 6);
    row->next_attempt_at = sqlite3_column_int64(s, 7);
    row->delivered_at = sqlite3_column_int64(s, 8);
    row->failed = sqlite3_column_int(s, 9) != 0;
    sqlite_copy_column(s, 10, row->last_error, sizeof(row->last_error));
    return 0;
}

enum lockbox_result sqlite_outbox_next_due(void *state, int64_t now_ms, struct outbox_row *row)
{
    sqlite3_stmt *s = statement(state, OB_DUE);
    sqlite3_bind_int64(s, 1, now_ms);
    int rc = sqlite3_step(s);
    enum lockbox_result result = LOCKBOX_ERROR;
    if (rc == SQLITE_ROW && load_row(s, row, true) == 0)
        result = LOCKBOX_OK;
    else if (rc == SQLITE_DONE)
        result = LOCKBOX_NOT_FOUND;
    sqlite3_reset(s);
    return result;
}

int64_t sqlite_outbox_next_attempt_at(void *state)
{
    sqlite3_stmt *s = statement(state, OB_NEXT);
    int64_t next = INT64_MAX;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return next;
}

int sqlite_outbox_mark_delivered(void *state, int64_t seq, int attempts, int64_t now_ms)
{
    sqlite3_stmt *s = statement(state, OB_DELIVERED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int(s, 3, attempts);
    return sqlite_step_done(s);
}

int sqlite_outbox_mark_retry(void *state, int64_t seq, int attempts, int64_t next_at,
                             const char *error, bool failed)
{
    sqlite3_stmt *s = statement(state, OB_RETRY);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, next_at);
    sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, failed ? 1 : 0);
    return sqlite_step_done(s);
}

int sqlite_outbox_of_request(void *state, const char *request_id, store_outbox_fn fn, void *ctx)
{
    sqlite3_stmt *s = statement(state, OB_FOR_REQUEST);
    struct outbox_row row;
    int rc;

    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        load_row(s, &row, false);
        if (fn(&row, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
