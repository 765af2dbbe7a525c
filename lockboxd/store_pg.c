/* The PostgreSQL store's connection, schema and transactions (libpq). COMMIT is durable on the
 * server (synchronous_commit on, checked at open), so sync is a no-op here. */
#include "store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "monotonic.h"
#include "text.h"

#define PG_SCHEMA_VERSION 3
/* pg_advisory_xact_lock key under which instances migrate one at a time ("lbxm"). */
#define MIGRATION_LOCK "1818391661"

/* Migration n brings the schema from version n-1 to n. Append, never edit. */
static const char *const migrations[PG_SCHEMA_VERSION] = {
    "CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE requests ("
    " seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, state smallint NOT NULL,"
    " tenant text NOT NULL, host text NOT NULL, \"user\" text NOT NULL,"
    " requested_by text NOT NULL, requested_by_uid bigint NOT NULL, reason text NOT NULL,"
    " service text NOT NULL, rhost text NOT NULL, decided_by text NOT NULL,"
    " comment text NOT NULL, created_at bigint NOT NULL, decided_at bigint NOT NULL,"
    " expires_at bigint NOT NULL, approved_boot_ms bigint NOT NULL, granted_ms bigint NOT NULL,"
    " approved_boot_id text NOT NULL, requester text NOT NULL DEFAULT '',"
    " requester_uid bigint NOT NULL DEFAULT -1);"
    "CREATE INDEX requests_by_match ON requests (\"user\", tenant, host, state, seq);"
    "CREATE INDEX requests_by_state ON requests (state, seq);"
    "CREATE INDEX requests_by_tenant ON requests (tenant, state, seq);"
    "CREATE INDEX requests_by_user ON requests (\"user\", state, seq);"
    "CREATE TABLE audit (seq bigint PRIMARY KEY, line text NOT NULL, hash text NOT NULL);"
    "CREATE TABLE outbox ("
    " seq bigserial PRIMARY KEY, notification_id text NOT NULL, channel text NOT NULL,"
    " request_id text NOT NULL, event text NOT NULL, tenant text NOT NULL, body text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL,"
    " delivered_at bigint NOT NULL DEFAULT 0, failed integer NOT NULL DEFAULT 0,"
    " last_error text NOT NULL DEFAULT '', UNIQUE (notification_id, channel));"
    "CREATE INDEX outbox_due ON outbox (delivered_at, failed, next_attempt_at);"
    "CREATE INDEX outbox_by_request ON outbox (request_id);"
    "CREATE TABLE sessions ("
    " id text PRIMARY KEY, request_id text NOT NULL, \"user\" text NOT NULL,"
    " tenant text NOT NULL, host text NOT NULL, service text NOT NULL, rhost text NOT NULL,"
    " tty text NOT NULL, pid bigint NOT NULL, start_time bigint NOT NULL,"
    " opened_at bigint NOT NULL, closed_at bigint NOT NULL DEFAULT 0,"
    " state text NOT NULL DEFAULT 'open', warned integer NOT NULL DEFAULT 0,"
    " audit_session bigint NOT NULL DEFAULT -1, cgroup text NOT NULL DEFAULT '',"
    " boot_id text NOT NULL DEFAULT '', contained integer NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_by_request ON sessions (request_id, state);"
    "CREATE INDEX sessions_open ON sessions (state);"
    "CREATE INDEX sessions_contained ON sessions (contained);",
    /* 2: newest-first per user (and per user, tenant and host) across states, so a busy
     * user's lookups read a few index entries instead of sorting their whole history
     * (bench_pg.py growth: 2.35x and 2.86x from 1k to 1M rows before). */
    "CREATE INDEX requests_by_user_seq ON requests (\"user\", seq);"
    "CREATE INDEX requests_by_match_seq ON requests (\"user\", tenant, host, seq);",
    /* 3: one host's requests by state, newest first (role=central's feed, list's host=). */
    "CREATE INDEX requests_by_host ON requests (host, state, seq);",
};

static const char *pg_error(void *state)
{
    return ((struct pg_store *)state)->error;
}

void pg_copy_text(const PGresult *res, int row, int col, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int64_t pg_number(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void set_error(struct pg_store *pg, const char *what, const char *detail)
{
    char clean[sizeof(pg->error) - 64];
    size_t n = 0;

    /* libpq's messages end with a newline and may span lines: keep one line. */
    for (const char *c = detail ? detail : ""; *c != '\0' && n + 1 < sizeof(clean); c++)
        clean[n++] = (*c == '\n' || *c == '\r') ? ' ' : *c;
    while (n > 0 && clean[n - 1] == ' ')
        n--;
    clean[n] = '\0';
    snprintf(pg->error, sizeof(pg->error), "%s%s%s", what, what[0] ? ": " : "", clean);
}

/* A broken connection is reset once before a statement: a restarted server or a failover to
 * a promoted standby (multi-host DSN with target_session_attrs=read-write) is followed
 * without restarting lockboxd. Inside a transaction nothing is retried: the caller rolls back
 * and fails the call, which is the fail-closed answer. */
static int session_ready(struct pg_store *pg, char *err, size_t err_len);

/* After a reconnect that timed out, none is tried for a while: while a server does not answer,
 * each call fails at once instead of waiting for a connect timeout in the daemon's loop. */
#define RECONNECT_EVERY_MS 1000
#define SLOW_CONNECT_MS 100

static int usable(struct pg_store *pg)
{
    char why[sizeof(pg->error)];

    if (PQstatus(pg->conn) == CONNECTION_OK && !pg->needs_check)
        return 0;
    if (pg->in_transaction) {
        set_error(pg, "the database connection was lost", PQerrorMessage(pg->conn));
        return -1;
    }
    int64_t now = monotonic_ms();
    if (now < pg->retry_at_ms) {
        set_error(pg, "the database is unreachable", "retrying shortly");
        return -1;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK)
        PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        /* A refused connection fails at once and may be tried on the next call; one that
         * took its time (a host that does not answer) is not tried again for a while. */
        if (monotonic_ms() - now > SLOW_CONNECT_MS)
            pg->retry_at_ms = monotonic_ms() + RECONNECT_EVERY_MS;
        set_error(pg, "the database is unreachable", PQerrorMessage(pg->conn));
        return -1;
    }
    /* A new session: what start-up checked (a durable commit, a writable primary) is
     * checked again, since a failover may have brought another server. */
    pg->needs_check = false; /* session_ready's own statements run on it */
    if (session_ready(pg, why, sizeof(why)) != 0) {
        pg->needs_check = true;
        set_error(pg, "", why);
        syslog(LOG_CRIT, "event=store.refused msg=\"%s\"", pg->error);
        return -1;
    }
    pg->retry_at_ms = 0;
    syslog(LOG_NOTICE, "event=store.reconnected msg=\"connected to the database again\"");
    return 0;
}

/* One statement, run again once on a new connection when it was the one to find the old
 * connection dead (a server restart or failover while this lockboxd was idle): outside a
 * transaction nothing half-done can be repeated, and every transaction starts with a BEGIN
 * made outside one. */
PGresult *pg_query(struct pg_store *pg, const char *sql, int n, const char *const *values)
{
    if (usable(pg) != 0)
        return NULL;
    PGresult *res = PQexecParams(pg->conn, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && !pg->in_transaction &&
        PQstatus(pg->conn) == CONNECTION_BAD) {
        PQclear(res);
        pg->retry_at_ms = 0;
        if (usable(pg) != 0)
            return NULL;
        res = PQexecParams(pg->conn, sql, n, NULL, values, NULL, NULL, 0);
        status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    }
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        return res;
    set_error(pg, "", res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    PQclear(res);
    return NULL;
}

int pg_command(struct pg_store *pg, const char *sql, int n, const char *const *values)
{
    PGresult *res = pg_query(pg, sql, n, values);
    PQclear(res);
    return res ? 0 : -1;
}

/* The server's notices (a shutdown, a terminated connection) go to syslog, escaped, not to
 * stderr raw. */
static void log_notice(void *arg, const char *message)
{
    char shown[600];
    (void)arg;
    syslog(LOG_NOTICE, "event=store.notice msg=%s", text_escape_log(message, shown, sizeof(shown)));
}

/* Whether the dsn sets this parameter itself (then it is kept as given). */
static bool dsn_sets(const char *dsn, const char *keyword)
{
    PQconninfoOption *options = PQconninfoParse(dsn, NULL);
    bool set = false;

    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
            set = true;
    PQconninfoFree(options);
    return set;
}

/* lockboxd's defaults, each only where the dsn sets none: a 5 s connect timeout, and TCP
 * keepalives so that a server that vanished without a word (a failover behind a silent
 * network) is noticed within about a minute, and with it the mirror lock that went too.
 * Later keywords win over the expanded dsn. */
PGconn *pg_connect(const char *dsn)
{
    static const char *const defaults[][2] = {{"connect_timeout", "5"},
                                              {"keepalives", "1"},
                                              {"keepalives_idle", "30"},
                                              {"keepalives_interval", "10"},
                                              {"keepalives_count", "3"}};
    const char *keys[8] = {"dbname", "client_encoding"}, *values[8] = {dsn, "UTF8"};
    size_t n = 2;

    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (!dsn_sets(dsn, defaults[i][0])) {
            keys[n] = defaults[i][0];
            values[n++] = defaults[i][1];
        }
    }
    keys[n] = values[n] = NULL;
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, log_notice, NULL);
    return conn;
}

/* Several statements in one string (the schema): PQexec, which takes no parameters. */
static int pg_script(struct pg_store *pg, const char *sql)
{
    if (usable(pg) != 0)
        return -1;
    PGresult *res = PQexec(pg->conn, sql);
    int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        set_error(pg, "", res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Rows a command changed (UPDATE ... WHERE state = ...), or -1. */
int pg_command_rows(struct pg_store *pg, const char *sql, int n, const char *const *values)
{
    PGresult *res = pg_query(pg, sql, n, values);
    if (res == NULL)
        return -1;
    int rows = atoi(PQcmdTuples(res));
    PQclear(res);
    return rows;
}

static int pg_begin(void *state)
{
    struct pg_store *pg = state;

    if (pg_command(pg, "BEGIN", 0, NULL) != 0)
        return -1;
    pg->in_transaction = true;
    return 0;
}

/* A transaction that a failed statement aborted answers COMMIT with success and the tag
 * ROLLBACK: that is a failure here, or a caller that missed the failed statement would
 * answer as if its change were durable. */
static int pg_commit(void *state)
{
    struct pg_store *pg = state;

    PGresult *res = pg_query(pg, "COMMIT", 0, NULL);
    bool committed = res != NULL && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (res != NULL && !committed)
        set_error(pg, "", "the transaction had failed: nothing was committed");
    PQclear(res);
    pg->in_transaction = false;
    return committed ? 0 : -1;
}

static void pg_rollback(void *state)
{
    struct pg_store *pg = state;

    if (pg->in_transaction)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    pg->in_transaction = false;
}

/* 0 for an empty database, -1 for a meta table that is not lockbox's. */
static int schema_version(struct pg_store *pg, int *version)
{
    PGresult *res = pg_query(pg, "SELECT to_regclass('meta') IS NOT NULL", 0, NULL);
    if (res == NULL)
        return -1;
    bool has_meta = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    *version = 0;
    if (!has_meta)
        return 0;
    res = pg_query(pg, "SELECT value FROM meta WHERE key = 'schema_version'", 0, NULL);
    if (res == NULL) {
        *version = -1; /* a meta table without our columns */
        return 0;
    }
    *version = PQntuples(res) > 0 ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return 0;
}

static int migrate(struct pg_store *pg, char *err, size_t err_len)
{
    int version = 0;

    if (pg_begin(pg) != 0 ||
        pg_command(pg, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, NULL) != 0 ||
        schema_version(pg, &version) != 0)
        goto fail;
    if (version < 0) {
        snprintf(err, err_len,
                 "the database has a meta table but no lockbox schema version: "
                 "is it another application's database?");
        pg_rollback(pg);
        return -1;
    }
    if (version > PG_SCHEMA_VERSION) {
        snprintf(err, err_len, "database schema version %d is newer than this lockboxd (%d)",
                 version, PG_SCHEMA_VERSION);
        pg_rollback(pg);
        return -1;
    }
    for (; version < PG_SCHEMA_VERSION; version++) {
        char set[160];
        snprintf(set, sizeof(set),
                 "INSERT INTO meta (key, value) VALUES ('schema_version', %d) ON CONFLICT (key) "
                 "DO UPDATE SET value = %d",
                 version + 1, version + 1);
        if (pg_script(pg, migrations[version]) != 0 || pg_command(pg, set, 0, NULL) != 0)
            goto fail;
    }
    if (pg_commit(pg) == 0)
        return 0;
fail:
    snprintf(err, err_len, "creating or migrating lockbox's tables: %s", pg->error);
    pg_rollback(pg);
    return -1;
}

/* Before the schema: a server that would acknowledge a decision before it is durable, and a
 * database nobody may write (a standby), are start-up errors, named. */
static int check_server(struct pg_store *pg, char *err, size_t err_len)
{
    PGresult *res = pg_query(pg,
                             "SELECT current_setting('synchronous_commit'), "
                             "current_setting('transaction_read_only'), pg_is_in_recovery()",
                             0, NULL);
    if (res == NULL) {
        snprintf(err, err_len, "checking the database: %s", pg->error);
        return -1;
    }
    const char *sync = PQgetvalue(res, 0, 0);
    bool read_only = strcmp(PQgetvalue(res, 0, 1), "on") == 0 ||
                     strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    int rc = -1;
    if (strcmp(sync, "off") == 0 || strcmp(sync, "local") == 0)
        snprintf(err, err_len,
                 "synchronous_commit is %s for this database user: lockboxd answers only "
                 "after a durable COMMIT (set it to on)",
                 sync);
    else if (read_only)
        snprintf(err, err_len,
                 "the database is read-only (a standby, or default_transaction_read_only): "
                 "use target_session_attrs=read-write in the dsn");
    else
        rc = 0;
    PQclear(res);
    return rc;
}

/* After the schema: the user must be able to change what it holds. */
static int check_privileges(struct pg_store *pg, char *err, size_t err_len)
{
    PGresult *res = pg_query(pg,
                             "SELECT has_table_privilege('requests', 'INSERT, UPDATE') AND "
                             "has_table_privilege('audit', 'INSERT') AND "
                             "has_table_privilege('sessions', 'INSERT, UPDATE') AND "
                             "has_table_privilege('outbox', 'INSERT, UPDATE')",
                             0, NULL);
    bool may_write = res != NULL && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (res == NULL)
        snprintf(err, err_len, "checking the database: %s", pg->error);
    else if (!may_write)
        snprintf(err, err_len,
                 "the database user %s may not write lockbox's tables (grant INSERT and UPDATE "
                 "on them)",
                 PQuser(pg->conn));
    PQclear(res);
    return may_write ? 0 : -1;
}

/* Every instance appends to the one chain: this transaction-scoped lock makes them take
 * turns from reading the head to COMMIT, so no two records ever share a seq or a prev_hash. */
#define CHAIN_LOCK "1818391650"
static int pg_lock_chain(void *state)
{
    return pg_command(state, "SELECT pg_advisory_xact_lock(" CHAIN_LOCK ")", 0, NULL);
}

/* Delivered at COMMIT to every lockboxd listening (store_pg_events.c), dropped on ROLLBACK.
 * The payload names the sender, so that it can leave its own changes out. */
static int pg_announce(void *state, const char *request_id)
{
    struct pg_store *pg = state;
    char payload[PG_INSTANCE_LEN + LOCKBOX_ID_HEX_LEN + 2];
    snprintf(payload, sizeof(payload), "%s:%s", pg->instance, request_id);
    const char *values[] = {payload};
    return pg_command(pg, "SELECT pg_notify('" PG_CHANNEL "', $1)", 1, values);
}

static bool pg_unavailable(void *state)
{
    struct pg_store *pg = state;
    return PQstatus(pg->conn) != CONNECTION_OK || pg->needs_check;
}

/* A commit is durable on the server (check_server refused synchronous_commit off). */
static int pg_sync(void *state, int64_t seq)
{
    (void)state;
    (void)seq;
    return 0;
}

/* A session as lockboxd needs it, at open and after every reconnect. */
static int session_ready(struct pg_store *pg, char *err, size_t err_len)
{
    /* Keep the server's answers in a form this file parses, whatever the role's defaults. */
    if (pg_script(pg, "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO'; "
                      "SET client_min_messages = 'warning'") != 0) {
        snprintf(err, err_len, "setting up the database session: %s", pg->error);
        return -1;
    }
    return check_server(pg, err, err_len);
}

/* libpq's parse errors quote the text they stumbled on, which may be the password
 * ("invalid percent-encoded token: \"s3cr%zz\"", "missing \"=\" after \"...\""): everything
 * from the first quote to the last is left out, so the message names the kind of mistake
 * and never a piece of the dsn. */
static void redact_quoted(char *text)
{
    char *first = strchr(text, '"'), *last = strrchr(text, '"');

    if (first == NULL)
        return;
    if (first == last)
        last = first + strlen(first) - 1; /* an unmatched quote: cut to the end */
    static const char hidden[] = "\"(not shown)\"";
    size_t tail = strlen(last + 1);
    size_t room = (size_t)(last - first + 1);
    if (room >= sizeof(hidden) - 1) {
        memcpy(first, hidden, sizeof(hidden) - 1);
        memmove(first + sizeof(hidden) - 1, last + 1, tail + 1);
    } else {
        memset(first, '.', room); /* too short to say more: dots, never the text */
    }
}

/* The dsn parses as a libpq connection string before anything connects. */
static int check_dsn(const char *dsn, char *err, size_t err_len)
{
    char *why = NULL;
    PQconninfoOption *options = PQconninfoParse(dsn, &why);

    if (options == NULL) {
        if (why != NULL)
            redact_quoted(why);
        snprintf(err, err_len, "[store] dsn does not parse: %s", why ? why : "out of memory");
        size_t n = strlen(err);
        for (size_t i = 0; i < n; i++)
            if (err[i] == '\n')
                err[i] = ' ';
        while (n > 0 && err[n - 1] == ' ')
            err[--n] = '\0';
        PQfreemem(why);
        return -1;
    }
    PQconninfoFree(options);
    return 0;
}

bool store_dsn_has_password(const char *dsn)
{
    PQconninfoOption *options = PQconninfoParse(dsn, NULL);
    bool has = false;

    for (const PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
            has = true;
    PQconninfoFree(options);
    return has;
}

static void pg_close(void *state);

static void *pg_open(const struct store_config *config, char *err, size_t err_len)
{
    const char *dsn = config->dsn ? config->dsn : "";
    struct pg_store *pg;

    if (check_dsn(dsn, err, err_len) != 0)
        return NULL;
    if ((pg = calloc(1, sizeof(*pg))) == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(pg->instance, sizeof(pg->instance), "%s", config->instance ? config->instance : "");
    pg->conn = pg_connect(dsn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        set_error(pg, "", PQerrorMessage(pg->conn));
        snprintf(err, err_len, "cannot connect to the database: %s", pg->error);
        goto fail;
    }
    if (session_ready(pg, err, err_len) != 0 || migrate(pg, err, err_len) != 0 ||
        check_privileges(pg, err, err_len) != 0)
        goto fail;
    return pg;
fail:
    pg_close(pg);
    return NULL;
}

static void pg_close(void *state)
{
    struct pg_store *pg = state;

    if (pg == NULL)
        return;
    PQfinish(pg->conn);
    free(pg);
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .shared = true,
    .open = pg_open,
    .close = pg_close,
    .error = pg_error,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .sync = pg_sync,
    .put_request = pg_put_request,
    .lock_chain = pg_lock_chain,
    .announce = pg_announce,
    .unavailable = pg_unavailable,
    .get_request = pg_get_request,
    .find_pending = pg_find_pending,
    .asked_pending = pg_asked_pending,
    .find_latest = pg_find_latest,
    .each_approved = pg_each_approved,
    .count_pending_for_user = pg_count_pending_for_user,
    .list = pg_list,
    .each_live = pg_each_live,
    .audit_head = pg_audit_head,
    .audit_insert = pg_audit_insert,
    .audit_lines_after = pg_audit_lines_after,
    .meta_get_int = pg_meta_get_int,
    .meta_set_int = pg_meta_set_int,
    .session_insert = pg_session_insert,
    .session_set_state = pg_session_set_state,
    .session_set_state_at = pg_session_set_state_at,
    .session_set_warned = pg_session_set_warned,
    .session_rebind = pg_session_rebind,
    .session_set_contained = pg_session_set_contained,
    .session_set_containment = pg_session_set_containment,
    .session_get_state = pg_session_get_state,
    .session_live_rows = pg_session_live_rows,
    .sessions_of_request = pg_sessions_of_request,
    .outbox_add = pg_outbox_add,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_next_attempt_at = pg_outbox_next_attempt_at,
    .outbox_mark_delivered = pg_outbox_mark_delivered,
    .outbox_mark_retry = pg_outbox_mark_retry,
    .outbox_of_request = pg_outbox_of_request,
};
