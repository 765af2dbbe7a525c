/* What the SQLite backend's files share (store_sqlite.c: the database, requests, audit and
 * meta; store_sqlite_schema.c; store_sqlite_sessions.c; store_sqlite_outbox.c). Nothing else
 * includes this. */
#ifndef LOCKBOXD_STORE_SQLITE_H
#define LOCKBOXD_STORE_SQLITE_H
#include <sqlite3.h>

#include "store_backend.h"

enum sqlite_session_statement {
    SS_INSERT,
    SS_SET_STATE,
    SS_SET_STATE_AT,
    SS_WARNED,
    SS_REBIND,
    SS_CONTAINED,
    SS_CONTAINMENT,
    SS_GET_STATE,
    SS_LIVE_ROWS,
    SS_OF_REQUEST,
    SS_COUNT
};

enum sqlite_outbox_statement {
    OB_ADD,
    OB_DUE,
    OB_NEXT,
    OB_DELIVERED,
    OB_RETRY,
    OB_FOR_REQUEST,
    OB_COUNT
};

/* One statement per combination of store_list's filters (store_sqlite.c). */
#define SQLITE_LIST_SHAPES 32
/* store_sqlite.c's own statements. */
#define SQLITE_REQUEST_STATEMENTS 16

struct sqlite_store {
    sqlite3 *db;
    sqlite3_stmt *statements[SQLITE_REQUEST_STATEMENTS];
    sqlite3_stmt *list_statements[SQLITE_LIST_SHAPES];
    sqlite3_stmt *session_statements[SS_COUNT];
    sqlite3_stmt *outbox_statements[OB_COUNT];
};

extern const char *const sqlite_session_sql[SS_COUNT];
extern const char *const sqlite_outbox_sql[OB_COUNT];

/* store_sqlite_schema.c: creates or migrates the schema; a newer one is refused (err). */
int sqlite_migrate(sqlite3 *db, char *err, size_t err_len);

/* A prepared statement, reset and with its bindings cleared, ready to bind and step. */
sqlite3_stmt *sqlite_ready(sqlite3_stmt *stmt);
/* Steps a statement that returns no rows: 0 when it ran, -1 otherwise. */
int sqlite_step_done(sqlite3_stmt *stmt);
/* What a single-row query's step says: a row, none, or a failure. */
enum lockbox_result sqlite_row_result(int rc);
/* Copies a text column ("" for NULL), cut to out_len. */
void sqlite_copy_column(sqlite3_stmt *stmt, int col, char *out, size_t out_len);

/* store_sqlite_sessions.c */
int sqlite_session_insert(void *state, const struct session_row *row);
int sqlite_session_set_state(void *state, const char *id, const char *state_name);
int sqlite_session_set_state_at(void *state, const char *id, const char *state_name,
                                int64_t closed_at);
int sqlite_session_set_warned(void *state, const char *id, bool warned);
int sqlite_session_rebind(void *state, const char *id, const char *request_id);
int sqlite_session_set_contained(void *state, const char *id, bool contained);
int sqlite_session_set_containment(void *state, const char *id, int64_t audit_session,
                                   const char *cgroup, bool contained);
enum lockbox_result sqlite_session_get_state(void *state, const char *id,
                                             char state_name[STORE_SESSION_STATE_MAX + 1]);
int sqlite_session_live_rows(void *state, store_session_fn fn, void *ctx);
int sqlite_sessions_of_request(void *state, const char *request_id, store_session_fn fn, void *ctx);

/* store_sqlite_outbox.c */
int sqlite_outbox_add(void *state, const char *notification_id, const char *channel,
                      const char *request_id, const char *event, const char *tenant,
                      const char *body, int64_t now_ms);
enum lockbox_result sqlite_outbox_next_due(void *state, int64_t now_ms, struct outbox_row *row);
int64_t sqlite_outbox_next_attempt_at(void *state);
int sqlite_outbox_mark_delivered(void *state, int64_t seq, int attempts, int64_t now_ms);
int sqlite_outbox_mark_retry(void *state, int64_t seq, int attempts, int64_t next_at,
                             const char *error, bool failed);
int sqlite_outbox_of_request(void *state, const char *request_id, store_outbox_fn fn, void *ctx);

#endif
