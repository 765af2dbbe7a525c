/* The PostgreSQL store's notification outbox (schema: store_pg.c). Several lockboxd on one
 * database each run a sender: a row is claimed for a lease before it is delivered, so one
 * sender delivers it, and another takes it over only once the lease ran out (a sender that
 * died mid-delivery): at least once, and once while every sender lives. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

#define OUTBOX_COLUMNS                                                                             \
    "seq, notification_id, channel, event, tenant, body, attempts, next_attempt_at, "              \
    "delivered_at, failed, last_error"
/* How long a claimed row is left to its sender before another may take it over. */
#define CLAIM_LEASE_MS 120000

int pg_outbox_add(void *state, const char *notification_id, const char *channel,
                  const char *request_id, const char *event, const char *tenant, const char *body,
                  int64_t now_ms)
{
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    const char *values[] = {notification_id, channel, request_id, event, tenant, body, now};
    return pg_command(state,
                      "INSERT INTO outbox (notification_id, channel, request_id, event, tenant, "
                      "body, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                      "ON CONFLICT (notification_id, channel) DO NOTHING",
                      7, values);
}

static void row_from(const PGresult *res, int i, struct outbox_row *row, bool with_body)
{
    memset(row, 0, sizeof(*row));
    row->seq = pg_number(res, i, 0);
    pg_copy_text(res, i, 1, row->notification_id, sizeof(row->notification_id));
    pg_copy_text(res, i, 2, row->channel, sizeof(row->channel));
    pg_copy_text(res, i, 3, row->event, sizeof(row->event));
    pg_copy_text(res, i, 4, row->tenant, sizeof(row->tenant));
    row->body = with_body ? strdup(PQgetvalue(res, i, 5)) : NULL;
    row->attempts = (int)pg_number(res, i, 6);
    row->next_attempt_at = pg_number(res, i, 7);
    row->delivered_at = pg_number(res, i, 8);
    row->failed = pg_number(res, i, 9) != 0;
    pg_copy_text(res, i, 10, row->last_error, sizeof(row->last_error));
}

enum lockbox_result pg_outbox_next_due(void *state, int64_t now_ms, struct outbox_row *row)
{
    char now[24], lease[24];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lease, sizeof(lease), "%lld", (long long)(now_ms + CLAIM_LEASE_MS));
    const char *values[] = {now, lease};
    /* One statement, so the claim commits at once; SKIP LOCKED lets two senders claim two
     * different rows at the same moment instead of waiting for each other. */
    PGresult *res = pg_query(state,
                             "UPDATE outbox SET next_attempt_at = $2 WHERE seq = ("
                             "SELECT seq FROM outbox WHERE delivered_at = 0 AND failed = 0 AND "
                             "next_attempt_at <= $1 ORDER BY next_attempt_at, seq LIMIT 1 "
                             "FOR UPDATE SKIP LOCKED) RETURNING " OUTBOX_COLUMNS,
                             2, values);
    if (res == NULL)
        return LOCKBOX_ERROR;
    enum lockbox_result result = PQntuples(res) > 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
    if (result == LOCKBOX_OK) {
        row_from(res, 0, row, true);
        if (row->body == NULL)
            result = LOCKBOX_ERROR;
    }
    PQclear(res);
    return result;
}

int64_t pg_outbox_next_attempt_at(void *state)
{
    PGresult *res = pg_query(state,
                             "SELECT min(next_attempt_at) FROM outbox WHERE delivered_at = 0 AND "
                             "failed = 0",
                             0, NULL);
    int64_t next = INT64_MAX;
    if (res != NULL && !PQgetisnull(res, 0, 0))
        next = pg_number(res, 0, 0);
    PQclear(res);
    return next;
}

int pg_outbox_mark_delivered(void *state, int64_t seq, int attempts, int64_t now_ms)
{
    char numbers[3][24];
    snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)seq);
    snprintf(numbers[1], sizeof(numbers[1]), "%lld", (long long)now_ms);
    snprintf(numbers[2], sizeof(numbers[2]), "%d", attempts);
    const char *values[] = {numbers[0], numbers[1], numbers[2]};
    return pg_command(state,
                      "UPDATE outbox SET delivered_at = $2, attempts = $3, last_error = '' "
                      "WHERE seq = $1",
                      3, values);
}

int pg_outbox_mark_retry(void *state, int64_t seq, int attempts, int64_t next_at, const char *error,
                         bool failed)
{
    char numbers[3][24];
    snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)seq);
    snprintf(numbers[1], sizeof(numbers[1]), "%d", attempts);
    snprintf(numbers[2], sizeof(numbers[2]), "%lld", (long long)next_at);
    const char *values[] = {numbers[0], numbers[1], numbers[2], error, failed ? "1" : "0"};
    return pg_command(state,
                      "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, "
                      "failed = $5 WHERE seq = $1 AND delivered_at = 0",
                      5, values);
}

int pg_outbox_of_request(void *state, const char *request_id, store_outbox_fn fn, void *ctx)
{
    const char *values[] = {request_id};
    PGresult *res = pg_query(state,
                             "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE request_id = $1 "
                             "ORDER BY seq",
                             1, values);
    struct outbox_row row;

    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        row_from(res, i, &row, false);
        if (fn(&row, ctx) != 0)
            break;
    }
    PQclear(res);
    return 0;
}
