/* Shared by the PostgreSQL store's files only (store_pg*.c): the connection and the statement
 * helpers. Nothing outside the store sees libpq. */
#ifndef LOCKBOXD_STORE_PG_INTERNAL_H
#define LOCKBOXD_STORE_PG_INTERNAL_H
#include <libpq-fe.h>
#include <stdbool.h>

#include "store_backend.h"

/* The LISTEN/NOTIFY channel on which instances announce changed requests (payload: the id). */
#define PG_CHANNEL "lockbox_requests"

#define PG_INSTANCE_LEN 16

struct pg_store {
    PGconn *conn;
    char instance[PG_INSTANCE_LEN + 1];
    bool in_transaction;
    bool needs_check;    /* a new session not yet checked (see usable()) */
    int64_t retry_at_ms; /* monotonic: no reconnect before */
    char error[512];
};

/* Connects with lockboxd's defaults (a 5 s connect timeout, UTF-8) under the dsn's own. */
PGconn *pg_connect(const char *dsn);
/* A parameterised statement's result (free with PQclear), or NULL with pg->error set. */
PGresult *pg_query(struct pg_store *pg, const char *sql, int n, const char *const *values);
/* The same for a statement whose rows do not matter: 0 or -1. */
int pg_command(struct pg_store *pg, const char *sql, int n, const char *const *values);
/* How many rows an UPDATE or DELETE changed, or -1. */
int pg_command_rows(struct pg_store *pg, const char *sql, int n, const char *const *values);

/* A text cell copied (cut to out_len), "" for NULL; a number cell, 0 for NULL. */
void pg_copy_text(const PGresult *res, int row, int col, char *out, size_t out_len);
int64_t pg_number(const PGresult *res, int row, int col);

/* The operations store_pg_ops points at (store_backend.h says what each does). */
enum lockbox_result pg_put_request(void *state, const struct lockbox_request *req, int from_state);
enum lockbox_result pg_get_request(void *state, const char *id, struct lockbox_request *req);
enum lockbox_result pg_find_pending(void *state, const char *user, const char *tenant,
                                    const char *host, const char *requester,
                                    struct lockbox_request *req);
enum lockbox_result pg_asked_pending(void *state, const char *user, const char *tenant,
                                     const char *host, const char *name, uid_t uid);
enum lockbox_result pg_find_latest(void *state, const char *user, const char *tenant,
                                   const char *host, struct lockbox_request *req);
int pg_each_approved(void *state, const char *user, const char *tenant, const char *host,
                     store_request_fn fn, void *ctx);
int pg_count_pending_for_user(void *state, const char *user, int *count);
int pg_list(void *state, const struct store_filter *filter, store_request_fn fn, void *ctx);
int pg_each_live(void *state, store_request_fn fn, void *ctx);
int pg_audit_head(void *state, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1]);
int pg_audit_insert(void *state, uint64_t seq, const char *line, const char *hash);
int pg_audit_lines_after(void *state, uint64_t after, int limit, store_line_fn fn, void *ctx);
enum lockbox_result pg_meta_get_int(void *state, const char *key, int64_t *value);
int pg_meta_set_int(void *state, const char *key, int64_t value);

int pg_session_insert(void *state, const struct session_row *row);
int pg_session_set_state(void *state, const char *id, const char *state_name);
int pg_session_set_state_at(void *state, const char *id, const char *state_name, int64_t closed_at);
int pg_session_set_warned(void *state, const char *id, bool warned);
int pg_session_rebind(void *state, const char *id, const char *request_id);
int pg_session_set_contained(void *state, const char *id, bool contained);
int pg_session_set_containment(void *state, const char *id, int64_t audit_session,
                               const char *cgroup, bool contained);
enum lockbox_result pg_session_get_state(void *state, const char *id,
                                         char state_name[STORE_SESSION_STATE_MAX + 1]);
int pg_session_live_rows(void *state, store_session_fn fn, void *ctx);
int pg_sessions_of_request(void *state, const char *request_id, store_session_fn fn, void *ctx);

int pg_outbox_add(void *state, const char *notification_id, const char *channel,
                  const char *request_id, const char *event, const char *tenant, const char *body,
                  int64_t now_ms);
enum lockbox_result pg_outbox_next_due(void *state, int64_t now_ms, struct outbox_row *row);
int64_t pg_outbox_next_attempt_at(void *state);
int pg_outbox_mark_delivered(void *state, int64_t seq, int attempts, int64_t now_ms);
int pg_outbox_mark_retry(void *state, int64_t seq, int attempts, int64_t next_at, const char *error,
                         bool failed);
int pg_outbox_of_request(void *state, const char *request_id, store_outbox_fn fn, void *ctx);

#endif
