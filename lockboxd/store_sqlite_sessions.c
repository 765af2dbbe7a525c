/* The sessions table in SQLite (schema: store_sqlite_schema.c, migrations 3, 5, 6). */
#include <stdio.h>
#include <string.h>

#include "store_sqlite.h"

#define SESSION_COLUMNS                                                                            \
    "id, request_id, user, tenant, host, service, rhost, tty, pid, start_time, opened_at, "        \
    "closed_at, state, warned, audit_session, cgroup, boot_id, contained"

const char *const sqlite_session_sql[SS_COUNT] = {
    [SS_INSERT] = "INSERT INTO sessions (id, request_id, user, tenant, host, service, rhost, tty,"
                  " pid, start_time, opened_at, audit_session, cgroup, boot_id, contained)"
                  " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [SS_SET_STATE] = "UPDATE sessions SET state = ?2 WHERE id = ?1",
    [SS_SET_STATE_AT] = "UPDATE sessions SET state = ?2, closed_at = ?3 WHERE id = ?1",
    [SS_WARNED] = "UPDATE sessions SET warned = ?2 WHERE id = ?1",
    [SS_REBIND] = "UPDATE sessions SET request_id = ?2 WHERE id = ?1",
    [SS_CONTAINED] = "UPDATE sessions SET contained = ?2 WHERE id = ?1",
    [SS_CONTAINMENT] = "UPDATE sessions SET audit_session = ?2, cgroup = ?3, contained = ?4"
                       " WHERE id = ?1",
    [SS_GET_STATE] = "SELECT state FROM sessions WHERE id = ?1",
    [SS_LIVE_ROWS] = "SELECT " SESSION_COLUMNS
                     " FROM sessions WHERE state = 'open' OR contained = 1",
    [SS_OF_REQUEST] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE request_id = ?1"
                      " ORDER BY opened_at",
};

static sqlite3_stmt *statement(void *state, enum sqlite_session_statement which)
{
    struct sqlite_store *store = state;
    return sqlite_ready(store->session_statements[which]);
}

int sqlite_session_insert(void *state, const struct session_row *row)
{
    sqlite3_stmt *st = statement(state, SS_INSERT);

    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row->service, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row->rhost, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row->tty, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, row->pid);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)row->start_time);
    sqlite3_bind_int64(st, 11, row->opened_at);
    sqlite3_bind_int64(st, 12, row->audit_session);
    sqlite3_bind_text(st, 13, row->cgroup, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, row->boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 15, row->contained ? 1 : 0);
    return sqlite_step_done(st);
}

/* One UPDATE keyed by the session id, with ?2 text. */
static int update_text(void *state, enum sqlite_session_statement which, const char *id,
                       const char *text)
{
    sqlite3_stmt *st = statement(state, which);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    return sqlite_step_done(st);
}

/* One UPDATE keyed by the session id, with ?2 a number. */
static int update_number(void *state, enum sqlite_session_statement which, const char *id,
                         int64_t number)
{
    sqlite3_stmt *st = statement(state, which);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, number);
    return sqlite_step_done(st);
}

int sqlite_session_set_state(void *state, const char *id, const char *state_name)
{
    return update_text(state, SS_SET_STATE, id, state_name);
}

int sqlite_session_set_state_at(void *state, const char *id, const char *state_name,
                                int64_t closed_at)
{
    sqlite3_stmt *st = statement(state, SS_SET_STATE_AT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, closed_at);
    return sqlite_step_done(st);
}

int sqlite_session_set_warned(void *state, const char *id, bool warned)
{
    return update_number(state, SS_WARNED, id, warned ? 1 : 0);
}

int sqlite_session_rebind(void *state, const char *id, const char *request_id)
{
    return update_text(state, SS_REBIND, id, request_id);
}

int sqlite_session_set_contained(void *state, const char *id, bool contained)
{
    return update_number(state, SS_CONTAINED, id, contained ? 1 : 0);
}

int sqlite_session_set_containment(void *state, const char *id, int64_t audit_session,
                                   const char *cgroup, bool contained)
{
    sqlite3_stmt *st = statement(state, SS_CONTAINMENT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, audit_session);
    sqlite3_bind_text(st, 3, cgroup, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, contained ? 1 : 0);
    return sqlite_step_done(st);
}

enum lockbox_result sqlite_session_get_state(void *state, const char *id,
                                             char state_name[STORE_SESSION_STATE_MAX + 1])
{
    sqlite3_stmt *st = statement(state, SS_GET_STATE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sqlite_copy_column(st, 0, state_name, STORE_SESSION_STATE_MAX + 1);
    sqlite3_reset(st);
    return sqlite_row_result(rc);
}

static void load_row(sqlite3_stmt *st, struct session_row *row)
{
    memset(row, 0, sizeof(*row));
    sqlite_copy_column(st, 0, row->id, sizeof(row->id));
    sqlite_copy_column(st, 1, row->request_id, sizeof(row->request_id));
    sqlite_copy_column(st, 2, row->user, sizeof(row->user));
    sqlite_copy_column(st, 3, row->tenant, sizeof(row->tenant));
    sqlite_copy_column(st, 4, row->host, sizeof(row->host));
    sqlite_copy_column(st, 5, row->service, sizeof(row->service));
    sqlite_copy_column(st, 6, row->rhost, sizeof(row->rhost));
    sqlite_copy_column(st, 7, row->tty, sizeof(row->tty));
    row->pid = sqlite3_column_int64(st, 8);
    row->start_time = (uint64_t)sqlite3_column_int64(st, 9);
    row->opened_at = sqlite3_column_int64(st, 10);
    row->closed_at = sqlite3_column_int64(st, 11);
    sqlite_copy_column(st, 12, row->state, sizeof(row->state));
    row->warned = sqlite3_column_int(st, 13) != 0;
    row->audit_session = sqlite3_column_int64(st, 14);
    sqlite_copy_column(st, 15, row->cgroup, sizeof(row->cgroup));
    sqlite_copy_column(st, 16, row->boot_id, sizeof(row->boot_id));
    row->contained = sqlite3_column_int(st, 17) != 0;
}

static int walk(sqlite3_stmt *st, store_session_fn fn, void *ctx)
{
    struct session_row row;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        load_row(st, &row);
        if (fn(&row, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_session_live_rows(void *state, store_session_fn fn, void *ctx)
{
    return walk(statement(state, SS_LIVE_ROWS), fn, ctx);
}

int sqlite_sessions_of_request(void *state, const char *request_id, store_session_fn fn, void *ctx)
{
    sqlite3_stmt *st = statement(state, SS_OF_REQUEST);
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    return walk(st, fn, ctx);
}
