/* How a database backend plugs into store.h: one function per operation in a struct store_ops,
 * each taking the backend's own state. store.c dispatches the public calls to it and keeps
 * what needs no SQL (which approval is current, which lasts longest). Only store*.c include
 * this. Every function keeps the contract written in store.h; store.c has already turned the
 * NULL texts store.h allows (a requester, a cgroup, an error) into "" and checked the length
 * of a list's id prefix. A backend is added to backends[] in store.c. */
#ifndef LOCKBOXD_STORE_BACKEND_H
#define LOCKBOXD_STORE_BACKEND_H
#include "store.h"

struct store_ops {
    const char *name; /* the [store] backend value that selects it */
    bool shared;      /* several lockboxd may use one database (a server) */
    /* Returns the backend's state, or NULL with err. */
    void *(*open)(const struct store_config *config, char *err, size_t err_len);
    void (*close)(void *state);
    const char *(*error)(void *state);

    int (*begin)(void *state);
    int (*commit)(void *state);
    void (*rollback)(void *state);
    int (*sync)(void *state, int64_t seq);

    enum lockbox_result (*put_request)(void *state, const struct lockbox_request *req,
                                       int from_state);
    /* NULL where the transaction itself already excludes other writers (SQLite's BEGIN
     * IMMEDIATE), or where nobody else can be told (one process per database). */
    int (*lock_chain)(void *state);
    int (*announce)(void *state, const char *request_id);
    bool (*unavailable)(void *state); /* NULL: a local file is never out of reach */
    enum lockbox_result (*get_request)(void *state, const char *id, struct lockbox_request *req);
    enum lockbox_result (*find_pending)(void *state, const char *user, const char *tenant,
                                        const char *host, const char *requester,
                                        struct lockbox_request *req);
    enum lockbox_result (*asked_pending)(void *state, const char *user, const char *tenant,
                                         const char *host, const char *name, uid_t uid);
    enum lockbox_result (*find_latest)(void *state, const char *user, const char *tenant,
                                       const char *host, struct lockbox_request *req);
    /* Every approved request for user, tenant and host, newest first (by when it was filed). */
    int (*each_approved)(void *state, const char *user, const char *tenant, const char *host,
                         store_request_fn fn, void *ctx);
    int (*count_pending_for_user)(void *state, const char *user, int *count);
    int (*list)(void *state, const struct store_filter *filter, store_request_fn fn, void *ctx);
    int (*each_live)(void *state, store_request_fn fn, void *ctx);

    int (*audit_head)(void *state, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1]);
    int (*audit_insert)(void *state, uint64_t seq, const char *line, const char *hash);
    int (*audit_lines_after)(void *state, uint64_t after, int limit, store_line_fn fn, void *ctx);

    enum lockbox_result (*meta_get_int)(void *state, const char *key, int64_t *value);
    int (*meta_set_int)(void *state, const char *key, int64_t value);

    int (*session_insert)(void *state, const struct session_row *row);
    int (*session_set_state)(void *state, const char *id, const char *state_name);
    int (*session_set_state_at)(void *state, const char *id, const char *state_name,
                                int64_t closed_at);
    int (*session_set_warned)(void *state, const char *id, bool warned);
    int (*session_rebind)(void *state, const char *id, const char *request_id);
    int (*session_set_contained)(void *state, const char *id, bool contained);
    int (*session_set_containment)(void *state, const char *id, int64_t audit_session,
                                   const char *cgroup, bool contained);
    enum lockbox_result (*session_get_state)(void *state, const char *id,
                                             char state_name[STORE_SESSION_STATE_MAX + 1]);
    int (*session_live_rows)(void *state, store_session_fn fn, void *ctx);
    int (*sessions_of_request)(void *state, const char *request_id, store_session_fn fn, void *ctx);

    int (*outbox_add)(void *state, const char *notification_id, const char *channel,
                      const char *request_id, const char *event, const char *tenant,
                      const char *body, int64_t now_ms);
    enum lockbox_result (*outbox_next_due)(void *state, int64_t now_ms, struct outbox_row *row);
    int64_t (*outbox_next_attempt_at)(void *state);
    int (*outbox_mark_delivered)(void *state, int64_t seq, int attempts, int64_t now_ms);
    int (*outbox_mark_retry)(void *state, int64_t seq, int attempts, int64_t next_at,
                             const char *error, bool failed);
    int (*outbox_of_request)(void *state, const char *request_id, store_outbox_fn fn, void *ctx);
};

/* store_sqlite.c */
extern const struct store_ops store_sqlite_ops;
/* store_pg.c */
extern const struct store_ops store_pg_ops;

#endif
