/* The SQLite backend of store.h: one database file (WAL), requests, the audit chain and meta.
 * The schema, sessions and the outbox have files of their own; every statement is prepared
 * once, when the store opens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT,
    ST_GET,
    ST_FIND_PENDING,
    ST_FIND_APPROVED,
    ST_COUNT_PENDING,
    ST_FIND_LATEST,
    ST_ASKED_PENDING,
    ST_LIVE,
    ST_AUDIT_HEAD,
    ST_AUDIT_INSERT,
    ST_AUDIT_AFTER,
    ST_META_GET,
    ST_META_SET,
    ST_COUNT
};
_Static_assert(ST_COUNT == SQLITE_REQUEST_STATEMENTS, "store_sqlite.h sizes the statements");

#define REQUEST_COLUMNS                                                                            \
    "id, state, tenant, host, user, requested_by, requested_by_uid, reason, service, rhost, "      \
    "decided_by, comment, created_at, decided_at, expires_at, approved_boot_ms, granted_ms, "      \
    "approved_boot_id, requester, requester_uid"

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT] = "INSERT INTO requests (" REQUEST_COLUMNS ") VALUES "
               "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20) "
               "ON CONFLICT(id) DO UPDATE SET state=?2, decided_by=?11, comment=?12, "
               "decided_at=?14, expires_at=?15, approved_boot_ms=?16, granted_ms=?17, "
               "approved_boot_id=?18 WHERE requests.state = ?21",
    [ST_GET] = "SELECT " REQUEST_COLUMNS " FROM requests WHERE id = ?1",
    [ST_FIND_PENDING] = "SELECT " REQUEST_COLUMNS " FROM requests WHERE user = ?1 AND "
                        "tenant = ?2 AND host = ?3 AND state = 0 AND requester = ?4 "
                        "ORDER BY seq DESC LIMIT 1",
    [ST_ASKED_PENDING] = "SELECT 1 FROM requests WHERE user = ?1 AND tenant = ?2 AND host = ?3 "
                         "AND state = 0 AND requester != '' AND (requester = ?4 OR "
                         "requester_uid = ?5) LIMIT 1",
    [ST_FIND_APPROVED] = "SELECT " REQUEST_COLUMNS " FROM requests WHERE user = ?1 AND "
                         "tenant = ?2 AND host = ?3 AND state = 1 ORDER BY seq DESC",
    /* max() per state is one index seek each; ORDER BY seq would sort all of the history. */
    [ST_FIND_LATEST] = "SELECT " REQUEST_COLUMNS " FROM requests WHERE seq = (SELECT max(seq) "
                       "FROM requests WHERE user = ?1 AND tenant = ?2 AND host = ?3 AND "
                       "state IN (0, 1, 2, 3, 4))",
    [ST_COUNT_PENDING] = "SELECT count(*) FROM requests WHERE user = ?1 AND state = 0",
    [ST_LIVE] = "SELECT " REQUEST_COLUMNS " FROM requests WHERE state IN (0, 1)",
    [ST_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (seq, line, hash) VALUES (?1, ?2, ?3)",
    [ST_AUDIT_AFTER] = "SELECT seq, line FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = ?2",
};

/* store_list's shapes: one statement per combination of filters, so each has a plan that
 * uses its index ("x OR state = ?" would hide the index from SQLite's planner). */
#define LIST_BY_STATE 1
#define LIST_BY_TENANT 2
#define LIST_BY_USER 4
#define LIST_BY_ID_PREFIX 8
#define LIST_BY_HOST 16
#define LIST_SHAPES SQLITE_LIST_SHAPES

static const char *sqlite_error(void *state)
{
    struct sqlite_store *store = state;
    return sqlite3_errmsg(store->db);
}

static int prepare_list_statements(struct sqlite_store *store)
{
    for (int shape = 0; shape < LIST_SHAPES; shape++) {
        /* An id prefix matches a handful of rows: "+" keeps SQLite on the id's index (a
         * range) rather than walking a state's, a tenant's or a user's history. */
        bool by_id = shape & LIST_BY_ID_PREFIX;
        bool by_user = shape & LIST_BY_USER;
        char sql[720];
        snprintf(sql, sizeof(sql),
                 "SELECT " REQUEST_COLUMNS " FROM requests WHERE 1%s%s%s%s%s ORDER BY seq DESC "
                 "LIMIT :limit",
                 !(shape & LIST_BY_STATE) ? ""
                 : by_id                  ? " AND +state = :state"
                                          : " AND state = :state",
                 /* With a user too, walk that user's (shorter) history: "+" keeps SQLite
                  * off the tenant index. */
                 !(shape & LIST_BY_TENANT)                    ? ""
                 : by_id || by_user || (shape & LIST_BY_HOST) ? " AND +tenant = :tenant"
                                                              : " AND tenant = :tenant",
                 !by_user ? ""
                 : by_id  ? " AND +user = :user"
                          : " AND user = :user",
                 /* A host's requests (central's feed): its own index, unless a user's
                  * history or an id range is shorter. */
                 !(shape & LIST_BY_HOST) ? ""
                 : by_id || by_user      ? " AND +host = :host"
                                         : " AND host = :host",
                 by_id ? " AND id >= :id_low AND id < :id_high" : "");
        if (sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                               &store->list_statements[shape], NULL) != SQLITE_OK)
            return -1;
    }
    return 0;
}

static int prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **statements, int n)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &statements[i], NULL) !=
            SQLITE_OK)
            return -1;
    }
    return 0;
}

static void finalize_all(sqlite3_stmt **statements, int n)
{
    for (int i = 0; i < n; i++)
        sqlite3_finalize(statements[i]);
}

static void sqlite_close(void *state)
{
    struct sqlite_store *store = state;

    if (store == NULL)
        return;
    finalize_all(store->statements, ST_COUNT);
    finalize_all(store->list_statements, LIST_SHAPES);
    finalize_all(store->session_statements, SS_COUNT);
    finalize_all(store->outbox_statements, OB_COUNT);
    sqlite3_close(store->db);
    free(store);
}

/* Opens the file with the settings group commit relies on, refusing a read-only one. */
static int open_database(struct sqlite_store *store, const char *path, char *err, size_t err_len)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
                SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE;
    if (sqlite3_open_v2(path, &store->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path,
                 store->db ? sqlite3_errmsg(store->db) : "cannot open");
        return -1;
    }
    sqlite3_busy_timeout(store->db, 5000);
    /* WAL + synchronous=NORMAL: each commit is atomic, and sqlite_sync() makes every commit
     * so far durable with one fsync (group commit). The journal syncs before anyone is
     * answered, so nothing acknowledged can be lost. */
    if (sqlite3_exec(store->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                     "PRAGMA secure_delete=OFF;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(store->db));
        return -1;
    }
    /* SQLite opens a file it cannot write read-only without complaint; a daemon that could
     * only refuse every change must not start and claim to be healthy. */
    if (sqlite3_db_readonly(store->db, "main") != 0) {
        snprintf(err, err_len,
                 "%s: the database is read-only (check permissions, "
                 "immutable attribute and mount)",
                 path);
        return -1;
    }
    return 0;
}

static void *sqlite_open(const struct store_config *config, char *err, size_t err_len)
{
    const char *path = config->path;
    struct sqlite_store *store;

    if (path == NULL || path[0] == '\0') {
        snprintf(err, err_len, "the sqlite store needs a database path");
        return NULL;
    }
    store = calloc(1, sizeof(*store));
    if (store == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (open_database(store, path, err, err_len) != 0)
        goto fail;
    if (sqlite_migrate(store->db, err, err_len) != 0) {
        if (err[0] == '\0')
            snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(store->db));
        goto fail;
    }
    if (prepare_all(store->db, statement_sql, store->statements, ST_COUNT) != 0 ||
        prepare_list_statements(store) != 0 ||
        prepare_all(store->db, sqlite_session_sql, store->session_statements, SS_COUNT) != 0 ||
        prepare_all(store->db, sqlite_outbox_sql, store->outbox_statements, OB_COUNT) != 0) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(store->db));
        goto fail;
    }
    return store;
fail:
    sqlite_close(store);
    return NULL;
}

sqlite3_stmt *sqlite_ready(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return stmt;
}

int sqlite_step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

enum lockbox_result sqlite_row_result(int rc)
{
    return rc == SQLITE_ROW ? LOCKBOX_OK : rc == SQLITE_DONE ? LOCKBOX_NOT_FOUND : LOCKBOX_ERROR;
}

void sqlite_copy_column(sqlite3_stmt *stmt, int col, char *out, size_t out_len)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(out, out_len, "%s", text ? (const char *)text : "");
}

static sqlite3_stmt *prepared(void *state, enum statement which)
{
    struct sqlite_store *store = state;
    return sqlite_ready(store->statements[which]);
}

static int sqlite_begin(void *state)
{
    return sqlite_step_done(prepared(state, ST_BEGIN));
}

static int sqlite_commit(void *state)
{
    return sqlite_step_done(prepared(state, ST_COMMIT));
}

static void sqlite_rollback(void *state)
{
    struct sqlite_store *store = state;
    if (!sqlite3_get_autocommit(store->db))
        sqlite_step_done(prepared(state, ST_ROLLBACK));
}

static int sqlite_meta_set_int(void *state, const char *key, int64_t value)
{
    sqlite3_stmt *s = prepared(state, ST_META_SET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, value);
    return sqlite_step_done(s);
}

static int sqlite_sync(void *state, int64_t seq)
{
    struct sqlite_store *store = state;
    /* A commit under synchronous=FULL fsyncs the write-ahead log, and with it every frame
     * that earlier NORMAL commits wrote there. */
    int rc = sqlite3_exec(store->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK && sqlite_begin(state) == 0 &&
        sqlite_meta_set_int(state, "synced_seq", seq) == 0 && sqlite_commit(state) == 0)
        rc = SQLITE_OK;
    else
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK)
        sqlite_rollback(state);
    sqlite3_exec(store->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : -1;
}

static enum lockbox_result sqlite_put_request(void *state, const struct lockbox_request *r,
                                              int from_state)
{
    struct sqlite_store *store = state;
    sqlite3_stmt *s = prepared(state, ST_PUT);

    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)r->state);
    sqlite3_bind_text(s, 3, r->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->requested_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)r->requested_by_uid);
    sqlite3_bind_text(s, 8, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, r->service, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, r->rhost, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, r->decided_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, r->comment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 13, r->created_at);
    sqlite3_bind_int64(s, 14, r->decided_at);
    sqlite3_bind_int64(s, 15, r->expires_at);
    sqlite3_bind_int64(s, 16, r->approved_boot_ms);
    sqlite3_bind_int64(s, 17, r->granted_ms);
    sqlite3_bind_text(s, 18, r->approved_boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 19, r->requester, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 20, r->requester_uid == (uid_t)-1 ? -1 : (sqlite3_int64)r->requester_uid);
    if (from_state != STORE_NEW_REQUEST)
        sqlite3_bind_int(s, 21, from_state); /* unbound (NULL) for an insert: no update */
    if (sqlite_step_done(s) != 0)
        return LOCKBOX_ERROR;
    return sqlite3_changes(store->db) == 1 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
}

static void row_to_request(sqlite3_stmt *s, struct lockbox_request *r)
{
    memset(r, 0, sizeof(*r));
    sqlite_copy_column(s, 0, r->id, sizeof(r->id));
    r->state = (enum request_state)sqlite3_column_int(s, 1);
    sqlite_copy_column(s, 2, r->tenant, sizeof(r->tenant));
    sqlite_copy_column(s, 3, r->host, sizeof(r->host));
    sqlite_copy_column(s, 4, r->user, sizeof(r->user));
    sqlite_copy_column(s, 5, r->requested_by, sizeof(r->requested_by));
    r->requested_by_uid = (uid_t)sqlite3_column_int64(s, 6);
    sqlite_copy_column(s, 7, r->reason, sizeof(r->reason));
    sqlite_copy_column(s, 8, r->service, sizeof(r->service));
    sqlite_copy_column(s, 9, r->rhost, sizeof(r->rhost));
    sqlite_copy_column(s, 10, r->decided_by, sizeof(r->decided_by));
    sqlite_copy_column(s, 11, r->comment, sizeof(r->comment));
    r->created_at = sqlite3_column_int64(s, 12);
    r->decided_at = sqlite3_column_int64(s, 13);
    r->expires_at = sqlite3_column_int64(s, 14);
    r->approved_boot_ms = sqlite3_column_int64(s, 15);
    r->granted_ms = sqlite3_column_int64(s, 16);
    sqlite_copy_column(s, 17, r->approved_boot_id, sizeof(r->approved_boot_id));
    sqlite_copy_column(s, 18, r->requester, sizeof(r->requester));
    int64_t requester_uid = sqlite3_column_int64(s, 19);
    r->requester_uid = requester_uid < 0 ? (uid_t)-1 : (uid_t)requester_uid;
}

/* Steps a prepared single-row query into req. */
static enum lockbox_result fetch_one(sqlite3_stmt *s, struct lockbox_request *req)
{
    enum lockbox_result result = sqlite_row_result(sqlite3_step(s));
    if (result == LOCKBOX_OK)
        row_to_request(s, req);
    sqlite3_reset(s);
    return result;
}

static enum lockbox_result sqlite_get_request(void *state, const char *id,
                                              struct lockbox_request *req)
{
    sqlite3_stmt *s = prepared(state, ST_GET);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return fetch_one(s, req);
}

static void bind_match(sqlite3_stmt *s, const char *user, const char *tenant, const char *host)
{
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, host, -1, SQLITE_STATIC);
}

static enum lockbox_result sqlite_find_pending(void *state, const char *user, const char *tenant,
                                               const char *host, const char *requester,
                                               struct lockbox_request *req)
{
    sqlite3_stmt *s = prepared(state, ST_FIND_PENDING);
    bind_match(s, user, tenant, host);
    sqlite3_bind_text(s, 4, requester, -1, SQLITE_STATIC);
    return fetch_one(s, req);
}

static enum lockbox_result sqlite_asked_pending(void *state, const char *user, const char *tenant,
                                                const char *host, const char *name, uid_t uid)
{
    sqlite3_stmt *s = prepared(state, ST_ASKED_PENDING);
    bind_match(s, user, tenant, host);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    if (uid == (uid_t)-1)
        sqlite3_bind_null(s, 5); /* a remote caller has no uid: match by name alone */
    else
        sqlite3_bind_int64(s, 5, (sqlite3_int64)uid);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return sqlite_row_result(rc);
}

static enum lockbox_result sqlite_find_latest(void *state, const char *user, const char *tenant,
                                              const char *host, struct lockbox_request *req)
{
    sqlite3_stmt *s = prepared(state, ST_FIND_LATEST);
    bind_match(s, user, tenant, host);
    return fetch_one(s, req);
}

static int sqlite_count_pending_for_user(void *state, const char *user, int *count)
{
    sqlite3_stmt *s = prepared(state, ST_COUNT_PENDING);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int walk(sqlite3_stmt *s, store_request_fn fn, void *ctx)
{
    struct lockbox_request req;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row_to_request(s, &req);
        if (fn(&req, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_each_approved(void *state, const char *user, const char *tenant, const char *host,
                                store_request_fn fn, void *ctx)
{
    sqlite3_stmt *s = prepared(state, ST_FIND_APPROVED);
    bind_match(s, user, tenant, host);
    return walk(s, fn, ctx);
}

static int sqlite_list(void *state, const struct store_filter *filter, store_request_fn fn,
                       void *ctx)
{
    struct sqlite_store *store = state;
    int shape = (filter->all_states ? 0 : LIST_BY_STATE) | (filter->tenant ? LIST_BY_TENANT : 0) |
                (filter->user ? LIST_BY_USER : 0) | (filter->id_prefix ? LIST_BY_ID_PREFIX : 0) |
                (filter->host ? LIST_BY_HOST : 0);
    sqlite3_stmt *s = sqlite_ready(store->list_statements[shape]);

    sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":limit"), filter->limit);
    if (shape & LIST_BY_STATE)
        sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":state"), (int)filter->state);
    if (shape & LIST_BY_TENANT)
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":tenant"), filter->tenant, -1,
                          SQLITE_STATIC);
    if (shape & LIST_BY_USER)
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":user"), filter->user, -1,
                          SQLITE_STATIC);
    if (shape & LIST_BY_HOST)
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":host"), filter->host, -1,
                          SQLITE_STATIC);
    if (shape & LIST_BY_ID_PREFIX) {
        /* Every id that starts with "ab1" lies in ["ab1", "ab2"): the prefix with its last
         * character one higher ('f' + 1 is 'g', still above every hex digit). store.c has
         * checked the prefix's length. */
        char id_high[LOCKBOX_ID_HEX_LEN + 1];
        size_t len = strlen(filter->id_prefix);
        memcpy(id_high, filter->id_prefix, len + 1);
        id_high[len - 1]++;
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":id_low"), filter->id_prefix, -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":id_high"), id_high, -1,
                          SQLITE_TRANSIENT);
    }
    return walk(s, fn, ctx);
}

static int sqlite_each_live(void *state, store_request_fn fn, void *ctx)
{
    return walk(prepared(state, ST_LIVE), fn, ctx);
}

static int sqlite_audit_head(void *state, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    sqlite3_stmt *s = prepared(state, ST_AUDIT_HEAD);
    int rc = sqlite3_step(s);

    *seq = 0;
    snprintf(hash, LOCKBOX_HASH_HEX_LEN + 1, "%064d", 0);
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite_copy_column(s, 1, hash, LOCKBOX_HASH_HEX_LEN + 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_audit_insert(void *state, uint64_t seq, const char *line, const char *hash)
{
    sqlite3_stmt *s = prepared(state, ST_AUDIT_INSERT);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    sqlite3_bind_text(s, 2, line, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    return sqlite_step_done(s);
}

static int sqlite_audit_lines_after(void *state, uint64_t after, int limit, store_line_fn fn,
                                    void *ctx)
{
    sqlite3_stmt *s = prepared(state, ST_AUDIT_AFTER);
    int rc;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)after);
    sqlite3_bind_int(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn((uint64_t)sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
               ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static enum lockbox_result sqlite_meta_get_int(void *state, const char *key, int64_t *value)
{
    sqlite3_stmt *s = prepared(state, ST_META_GET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return sqlite_row_result(rc);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .error = sqlite_error,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .sync = sqlite_sync,
    .put_request = sqlite_put_request,
    .get_request = sqlite_get_request,
    .find_pending = sqlite_find_pending,
    .asked_pending = sqlite_asked_pending,
    .find_latest = sqlite_find_latest,
    .each_approved = sqlite_each_approved,
    .count_pending_for_user = sqlite_count_pending_for_user,
    .list = sqlite_list,
    .each_live = sqlite_each_live,
    .audit_head = sqlite_audit_head,
    .audit_insert = sqlite_audit_insert,
    .audit_lines_after = sqlite_audit_lines_after,
    .meta_get_int = sqlite_meta_get_int,
    .meta_set_int = sqlite_meta_set_int,
    .session_insert = sqlite_session_insert,
    .session_set_state = sqlite_session_set_state,
    .session_set_state_at = sqlite_session_set_state_at,
    .session_set_warned = sqlite_session_set_warned,
    .session_rebind = sqlite_session_rebind,
    .session_set_contained = sqlite_session_set_contained,
    .session_set_containment = sqlite_session_set_containment,
    .session_get_state = sqlite_session_get_state,
    .session_live_rows = sqlite_session_live_rows,
    .sessions_of_request = sqlite_sessions_of_request,
    .outbox_add = sqlite_outbox_add,
    .outbox_next_due = sqlite_outbox_next_due,
    .outbox_next_attempt_at = sqlite_outbox_next_attempt_at,
    .outbox_mark_delivered = sqlite_outbox_mark_delivered,
    .outbox_mark_retry = sqlite_outbox_mark_retry,
    .outbox_of_request = sqlite_outbox_of_request,
};
