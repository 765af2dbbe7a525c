/* The SQLite store: requests, the audit records and the chain head, in one database (WAL,
 * synchronous=FULL). Callers group changes with store_begin/store_commit. */
#ifndef LOCKBOXD_STORE_H
#define LOCKBOXD_STORE_H
#include <stdbool.h>
#include <stdint.h>

#include "lockbox_result.h"
#include "request.h"

struct store;

struct store_filter {
    bool all_states;
    enum request_state state;
    const char *tenant;    /* NULL: any */
    const char *user;      /* NULL: any */
    const char *id_prefix; /* NULL: any; else lowercase hex the ids start with */
    int limit;
};

typedef int (*store_request_fn)(const struct lockbox_request *req, void *ctx);
typedef int (*store_line_fn)(uint64_t seq, const char *line, void *ctx);

/* Opens (creating and migrating) the database. Returns NULL with a message in err. */
struct store *store_open(const char *path, char *err, size_t err_len);
void store_close(struct store *store);
const char *store_error(struct store *store);
/* The connection, for the notification outbox (outbox.c) which keeps its own statements. */
struct sqlite3 *store_handle(struct store *store);

/* Makes every commit so far durable (one fsync); records seq as synced. Returns 0 or -1. */
int store_sync(struct store *store, int64_t seq);
int store_begin(struct store *store);
int store_commit(struct store *store);
void store_rollback(struct store *store);

/* Inserts or updates by id. */
int store_put_request(struct store *store, const struct lockbox_request *req);
/* The lookups below return enum lockbox_result (lockbox_result.h). */
enum lockbox_result store_get_request(struct store *store, const char *id,
                                      struct lockbox_request *req);
/* The pending request for user, tenant and host that this requester asked for ("" or NULL:
 * one nobody is known to have asked for): a login reuses only its own person's request. */
enum lockbox_result store_find_pending(struct store *store, const char *user, const char *tenant,
                                       const char *host, const char *requester,
                                       struct lockbox_request *req);
/* Has this person (by name or uid) a pending request of their own for user, tenant and host?
 * LOCKBOX_OK yes, LOCKBOX_NOT_FOUND no. */
enum lockbox_result store_asked_pending(struct store *store, const char *user, const char *tenant,
                                        const char *host, const char *name, uid_t uid);
/* The newest request of any state for user/tenant/host. */
enum lockbox_result store_find_latest(struct store *store, const char *user, const char *tenant,
                                      const char *host, struct lockbox_request *req);
/* The newest approved request for user/tenant/host whose access is current at now. */
enum lockbox_result store_find_current_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req);
/* The current approval for user, tenant and host that lasts longest. */
enum lockbox_result store_find_longest_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req);
int store_count_pending_for_user(struct store *store, const char *user, int *count);
/* Newest first; the callback may stop the walk by returning non-zero. */
int store_list(struct store *store, const struct store_filter *filter, store_request_fn fn,
               void *ctx);
/* Every pending or approved request (the ones with deadlines). */
int store_each_live(struct store *store, store_request_fn fn, void *ctx);

int store_audit_head(struct store *store, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1]);
int store_audit_insert(struct store *store, uint64_t seq, const char *line, const char *hash);
int store_audit_lines_after(struct store *store, uint64_t after, int limit, store_line_fn fn,
                            void *ctx);

enum lockbox_result store_meta_get_int(struct store *store, const char *key, int64_t *value);
int store_meta_set_int(struct store *store, const char *key, int64_t value);

#endif
