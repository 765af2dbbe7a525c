/* The SQLite schema: its migrations, applied in order at open. The version is the database's
 * user_version; the schema is lockboxd's on-disk format, so a migration is never edited. */
#include <stdio.h>

#include "store_sqlite.h"

#define SCHEMA_VERSION 7

/* Migration n brings the schema from version n-1 to n. Append, never edit. */
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE requests ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, state INTEGER NOT NULL,"
    " tenant TEXT NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL, requested_by TEXT NOT NULL,"
    " requested_by_uid INTEGER NOT NULL, reason TEXT NOT NULL, service TEXT NOT NULL,"
    " rhost TEXT NOT NULL, decided_by TEXT NOT NULL, comment TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, decided_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " approved_boot_ms INTEGER NOT NULL, granted_ms INTEGER NOT NULL,"
    " approved_boot_id TEXT NOT NULL);"
    "CREATE INDEX requests_by_match ON requests (user, tenant, host, state);"
    "CREATE INDEX requests_by_state ON requests (state, seq);"
    "CREATE INDEX requests_by_tenant ON requests (tenant, state, seq);"
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, line TEXT NOT NULL, hash TEXT NOT NULL);",
    /* 2: the notification outbox (written in the same transaction as the event). */
    "CREATE TABLE outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, request_id TEXT NOT NULL, event TEXT NOT NULL,"
    " tenant TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL, delivered_at INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " UNIQUE (notification_id, channel));"
    "CREATE INDEX outbox_due ON outbox (delivered_at, failed, next_attempt_at);"
    "CREATE INDEX outbox_by_request ON outbox (request_id);",
    /* 3: live login sessions, enforced when their access ends (sessions.c). */
    "CREATE TABLE sessions ("
    " id TEXT PRIMARY KEY, request_id TEXT NOT NULL, user TEXT NOT NULL, tenant TEXT NOT NULL,"
    " host TEXT NOT NULL, service TEXT NOT NULL, rhost TEXT NOT NULL, tty TEXT NOT NULL,"
    " pid INTEGER NOT NULL, start_time INTEGER NOT NULL, opened_at INTEGER NOT NULL,"
    " closed_at INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'open',"
    " warned INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_by_request ON sessions (request_id, state);"
    "CREATE INDEX sessions_open ON sessions (state);",
    /* 4: indexes for the list filters and the pending count, so none of them reads a user's or
     * a tenant's whole history (bench/ growth). An index ends with the rowid (seq), so each
     * also serves ORDER BY seq. */
    "CREATE INDEX requests_by_user_state ON requests (user, state);"
    "CREATE INDEX requests_by_user ON requests (user);"
    "CREATE INDEX requests_by_tenant_all ON requests (tenant);",
    /* 5: a session's kernel audit session (set by pam_loginuid), which setsid() cannot leave. */
    "ALTER TABLE sessions ADD COLUMN audit_session INTEGER NOT NULL DEFAULT -1;",
    /* 6: who asked (PAM_RUSER of su/sudo, or the filer), apart from whose account it is. */
    "ALTER TABLE requests ADD COLUMN requester TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE requests ADD COLUMN requester_uid INTEGER NOT NULL DEFAULT -1;"
    /* ... and where a login's processes are found again after it closed (containment.h):
     * contained = 1 while they must still be ended with the access. */
    "ALTER TABLE sessions ADD COLUMN cgroup TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sessions ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sessions ADD COLUMN contained INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX sessions_contained ON sessions (contained);",
    /* 7: one host's requests by state (role=central's feed and list's host filter). */
    "CREATE INDEX requests_by_host ON requests (host, state);",
};

int sqlite_migrate(sqlite3 *db, char *err, size_t err_len)
{
    sqlite3_stmt *stmt;
    int version = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (version > SCHEMA_VERSION) {
        snprintf(err, err_len, "database schema version %d is newer than this lockboxd (%d)",
                 version, SCHEMA_VERSION);
        return -1;
    }
    for (; version < SCHEMA_VERSION; version++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, migrations[version], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, err_len, "migrating the database to version %d: %s", version + 1,
                     sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}
