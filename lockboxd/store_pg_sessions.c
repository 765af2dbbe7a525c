/* The PostgreSQL store's login sessions (schema: store_pg.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

#define SESSION_COLUMNS                                                                            \
    "id, request_id, \"user\", tenant, host, service, rhost, tty, pid, start_time, opened_at, "    \
    "closed_at, state, warned, audit_session, cgroup, boot_id, contained"

int pg_session_insert(void *state, const struct session_row *row)
{
    char numbers[5][24];
    snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)row->pid);
    snprintf(numbers[1], sizeof(numbers[1]), "%llu", (unsigned long long)row->start_time);
    snprintf(numbers[2], sizeof(numbers[2]), "%lld", (long long)row->opened_at);
    snprintf(numbers[3], sizeof(numbers[3]), "%lld", (long long)row->audit_session);
    snprintf(numbers[4], sizeof(numbers[4]), "%d", row->contained ? 1 : 0);
    const char *values[] = {row->id,      row->request_id, row->user,   row->tenant,  row->host,
                            row->service, row->rhost,      row->tty,    numbers[0],   numbers[1],
                            numbers[2],   numbers[3],      row->cgroup, row->boot_id, numbers[4]};
    return pg_command(state,
                      "INSERT INTO sessions (id, request_id, \"user\", tenant, host, service, "
                      "rhost, tty, pid, start_time, opened_at, audit_session, cgroup, boot_id, "
                      "contained) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                      15, values);
}

/* One UPDATE keyed by the session id ($1) with one more value ($2). */
static int update_one(void *state, const char *sql, const char *id, const char *value)
{
    const char *values[] = {id, value};
    return pg_command(state, sql, 2, values);
}

int pg_session_set_state(void *state, const char *id, const char *state_name)
{
    return update_one(state, "UPDATE sessions SET state = $2 WHERE id = $1", id, state_name);
}

int pg_session_set_state_at(void *state, const char *id, const char *state_name, int64_t closed_at)
{
    char at[24];
    snprintf(at, sizeof(at), "%lld", (long long)closed_at);
    const char *values[] = {id, state_name, at};
    return pg_command(state, "UPDATE sessions SET state = $2, closed_at = $3 WHERE id = $1", 3,
                      values);
}

int pg_session_set_warned(void *state, const char *id, bool warned)
{
    return update_one(state, "UPDATE sessions SET warned = $2 WHERE id = $1", id,
                      warned ? "1" : "0");
}

int pg_session_rebind(void *state, const char *id, const char *request_id)
{
    return update_one(state, "UPDATE sessions SET request_id = $2 WHERE id = $1", id, request_id);
}

int pg_session_set_contained(void *state, const char *id, bool contained)
{
    return update_one(state, "UPDATE sessions SET contained = $2 WHERE id = $1", id,
                      contained ? "1" : "0");
}

int pg_session_set_containment(void *state, const char *id, int64_t audit_session,
                               const char *cgroup, bool contained)
{
    char number[24];
    snprintf(number, sizeof(number), "%lld", (long long)audit_session);
    const char *values[] = {id, number, cgroup, contained ? "1" : "0"};
    return pg_command(state,
                      "UPDATE sessions SET audit_session = $2, cgroup = $3, contained = $4 "
                      "WHERE id = $1",
                      4, values);
}

enum lockbox_result pg_session_get_state(void *state, const char *id,
                                         char state_name[STORE_SESSION_STATE_MAX + 1])
{
    const char *values[] = {id};
    PGresult *res = pg_query(state, "SELECT state FROM sessions WHERE id = $1", 1, values);
    if (res == NULL)
        return LOCKBOX_ERROR;
    enum lockbox_result result = PQntuples(res) > 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
    if (result == LOCKBOX_OK)
        snprintf(state_name, STORE_SESSION_STATE_MAX + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return result;
}

static void row_from(const PGresult *res, int i, struct session_row *row)
{
    memset(row, 0, sizeof(*row));
    pg_copy_text(res, i, 0, row->id, sizeof(row->id));
    pg_copy_text(res, i, 1, row->request_id, sizeof(row->request_id));
    pg_copy_text(res, i, 2, row->user, sizeof(row->user));
    pg_copy_text(res, i, 3, row->tenant, sizeof(row->tenant));
    pg_copy_text(res, i, 4, row->host, sizeof(row->host));
    pg_copy_text(res, i, 5, row->service, sizeof(row->service));
    pg_copy_text(res, i, 6, row->rhost, sizeof(row->rhost));
    pg_copy_text(res, i, 7, row->tty, sizeof(row->tty));
    row->pid = pg_number(res, i, 8);
    row->start_time = (uint64_t)pg_number(res, i, 9);
    row->opened_at = pg_number(res, i, 10);
    row->closed_at = pg_number(res, i, 11);
    pg_copy_text(res, i, 12, row->state, sizeof(row->state));
    row->warned = pg_number(res, i, 13) != 0;
    row->audit_session = pg_number(res, i, 14);
    pg_copy_text(res, i, 15, row->cgroup, sizeof(row->cgroup));
    pg_copy_text(res, i, 16, row->boot_id, sizeof(row->boot_id));
    row->contained = pg_number(res, i, 17) != 0;
}

/* All rows are fetched before fn runs, so fn may use the store (writes included). */
static int walk(PGresult *res, store_session_fn fn, void *ctx)
{
    struct session_row row;

    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        row_from(res, i, &row);
        if (fn(&row, ctx) != 0)
            break;
    }
    PQclear(res);
    return 0;
}

int pg_session_live_rows(void *state, store_session_fn fn, void *ctx)
{
    return walk(pg_query(state,
                         "SELECT " SESSION_COLUMNS " FROM sessions WHERE state = 'open' OR "
                         "contained = 1",
                         0, NULL),
                fn, ctx);
}

int pg_sessions_of_request(void *state, const char *request_id, store_session_fn fn, void *ctx)
{
    const char *values[] = {request_id};
    return walk(pg_query(state,
                         "SELECT " SESSION_COLUMNS " FROM sessions WHERE request_id = $1 "
                         "ORDER BY opened_at",
                         1, values),
                fn, ctx);
}
