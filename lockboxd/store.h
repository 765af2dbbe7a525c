/* The durable state of lockboxd, whatever database holds it: requests, the audit records and
 * the chain head, a few counters (meta), the login sessions and the notification outbox. The
 * rest of the daemon sees plain structs only; which database, and its SQL, stay behind this
 * interface (store_sqlite*.c today; store_backend.h says how a backend plugs in).
 *
 * The contract every backend keeps:
 *
 *  - Results follow lockbox_result.h: writes and walks return 0 or -1; lookups return
 *    LOCKBOX_OK (out parameters filled), LOCKBOX_NOT_FOUND or LOCKBOX_ERROR. After a failure
 *    store_error() says why, until the next call on the same store.
 *  - Transactions: store_begin() .. store_commit() groups writes so that all or none of them
 *    happen; store_rollback() undoes them and is harmless when no transaction is open.
 *    Transactions do not nest. The journal opens them (journal.c: a request, its audit line,
 *    its outbox rows, a session row change, all in one); every call outside one is a
 *    transaction of its own. Reads inside a transaction see its own writes. A failed write
 *    inside a transaction leaves it to the caller to roll back.
 *    Called inside the journal's transactions: store_put_request, store_audit_insert,
 *    store_outbox_add (the journal's in_transaction hook), store_session_insert and
 *    store_session_set_state(_at) (journal_record_change), store_meta_set_int (the audit
 *    file's rotation point). On their own: the other session updates (warned, rebind,
 *    containment), the outbox's marks (the sender's store), and the store_outbox_add of
 *    warnings ahead of a deadline (notifier_warn_if_due, also from inside store_each_live).
 *  - Durability: a commit is atomic, but may be durable only after store_sync(). Nobody is
 *    answered before the journal has synced, so a backend may defer the fsync to it (SQLite:
 *    WAL with synchronous=NORMAL, then one commit under synchronous=FULL fsyncs the WAL and
 *    with it every earlier commit). A backend whose COMMIT is already durable (PostgreSQL
 *    with synchronous_commit=on) may make store_sync() do nothing but return 0. store_sync()
 *    is never called inside a transaction.
 *  - Walks (store_list, store_each_live, store_audit_lines_after, the session and outbox
 *    walks) call fn once per row in the order each names; fn may stop the walk by returning
 *    non-zero (the walk still returns 0). fn may call other store functions on the same store,
 *    writes included (the expiry scan queues notifications from inside store_each_live): a
 *    backend that cannot run a query while another's rows are being read fetches all rows
 *    first. Whether a walk sees rows its own fn changed is not specified.
 *  - Threads: a store is used by one thread at a time. Another thread opens its own
 *    (notify.c's sender), and stores on the same database must work side by side.
 *  - Texts are copied into the caller's structs, cut to their sizes. Text arguments are never
 *    NULL unless a call says so. Times are wall-clock milliseconds since the epoch. */
#ifndef LOCKBOXD_STORE_H
#define LOCKBOXD_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "containment.h"
#include "lockbox_limits.h"
#include "lockbox_result.h"
#include "request.h"

struct store;

/* Which database, from lockboxd.conf (config_store()). */
struct store_config {
    const char *backend; /* "sqlite" (also when NULL) or "postgresql" */
    const char *path;    /* sqlite: the database file */
    const char *dsn;     /* postgresql: a libpq connection string */
    /* This lockboxd among those sharing a database ("" when alone): it leaves its own changes
     * out of store_events. */
    const char *instance;
};

struct store_filter {
    bool all_states;
    enum request_state state;
    const char *tenant;    /* NULL: any */
    const char *user;      /* NULL: any */
    const char *id_prefix; /* NULL: any; else 1..32 lowercase hex characters the ids start with */
    int limit;
    const char *host; /* NULL: any; else this host exactly (central: one host's requests) */
};

#define STORE_SESSION_STATE_MAX 15

/* One login session (sessions.h). state is "open", "closed" or "terminated". */
struct session_row {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    char request_id[LOCKBOX_ID_HEX_LEN + 1]; /* the approval that covers it now */
    char user[LOCKBOX_NAME_MAX + 1];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char host[LOCKBOX_HOST_MAX + 1];
    char service[LOCKBOX_NAME_MAX + 1];
    char rhost[LOCKBOX_RHOST_MAX + 1];
    char tty[64];
    int64_t pid;
    uint64_t start_time; /* of the session process, in clock ticks after boot */
    int64_t opened_at;
    int64_t closed_at; /* 0 while open */
    char state[STORE_SESSION_STATE_MAX + 1];
    bool warned;           /* its terminal was told that access ends soon */
    int64_t audit_session; /* -1: none */
    char cgroup[CONTAINMENT_CGROUP_MAX];
    char boot_id[LOCKBOX_BOOT_ID_LEN + 1]; /* the boot it was opened in ("" unknown) */
    bool contained; /* what it left running must still be ended with the access */
};

/* One notification to deliver on one channel (notify.c). */
struct outbox_row {
    int64_t seq; /* the row's key, in the order rows were added */
    char notification_id[LOCKBOX_ID_HEX_LEN + 40];
    char channel[16]; /* "webhook" or "command" */
    char event[40];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char *body; /* malloc'd JSON, or NULL where a call says it is not filled */
    int attempts;
    int64_t next_attempt_at, delivered_at; /* delivered_at 0: not delivered */
    bool failed;                           /* gave up */
    char last_error[200];
};

typedef int (*store_request_fn)(const struct lockbox_request *req, void *ctx);
typedef int (*store_line_fn)(uint64_t seq, const char *line, void *ctx);
typedef int (*store_session_fn)(const struct session_row *row, void *ctx);
typedef int (*store_outbox_fn)(const struct outbox_row *row, void *ctx);

/* Opens the configured database, creating or migrating its schema (a database of a newer
 * schema version is refused). Returns NULL with a message naming the cause in err. */
struct store *store_open(const struct store_config *config, char *err, size_t err_len);
/* Whether a PostgreSQL dsn carries a password of its own (false for one that does not parse:
 * opening the store refuses that). */
bool store_dsn_has_password(const char *dsn);
void store_close(struct store *store);
/* Why the last call failed (never NULL). */
const char *store_error(struct store *store);

/* --- transactions and durability (see above) --- */
int store_begin(struct store *store);
int store_commit(struct store *store);
void store_rollback(struct store *store);
/* Makes every commit so far durable and records seq as the last synced audit record. */
int store_sync(struct store *store, int64_t seq);

/* --- requests --- */
/* Inserts req, or updates the decision fields (state, decided_by, comment, decided_at,
 * expires_at and the approval's boot clock) of the request with its id. */
#define STORE_NEW_REQUEST (-1)
/* from_state is the state the row must still be in for the change to apply (as read before
 * the decision was made), or STORE_NEW_REQUEST to insert. LOCKBOX_NOT_FOUND: it was not (or
 * the id exists): another change won the race, nothing was written, the caller rolls back.
 * Several lockboxd on one database make transitions this way, never read-then-write. */
enum lockbox_result store_put_request(struct store *store, const struct lockbox_request *req,
                                      int from_state);
/* Inside a transaction, before store_audit_head(): holds every other writer of the chain off
 * until the commit, so the head read is the head the new record follows. */
int store_lock_chain(struct store *store);
/* Inside a transaction: tells other lockboxd on the same database, once it commits, that the
 * request changed (their waiters wake and read it again). */
int store_announce(struct store *store, const char *request_id);
/* The last failure was the database being out of reach (a server down, restarting or failing
 * over), not a refusal: the call may succeed when tried again. */
bool store_unavailable(struct store *store);
/* Several lockboxd may append to this database's chain (the audit file is then a mirror). */
bool store_chain_is_shared(const struct store *store);
enum lockbox_result store_get_request(struct store *store, const char *id,
                                      struct lockbox_request *req);
/* The newest pending request for user, tenant and host that this requester asked for ("" or
 * NULL: one nobody is known to have asked for): a login reuses only its own person's. */
enum lockbox_result store_find_pending(struct store *store, const char *user, const char *tenant,
                                       const char *host, const char *requester,
                                       struct lockbox_request *req);
/* Has this person (by requester name or uid) a pending request of their own for user, tenant
 * and host? LOCKBOX_OK yes, LOCKBOX_NOT_FOUND no. */
enum lockbox_result store_asked_pending(struct store *store, const char *user, const char *tenant,
                                        const char *host, const char *name, uid_t uid);
/* The newest request of any state for user, tenant and host. */
enum lockbox_result store_find_latest(struct store *store, const char *user, const char *tenant,
                                      const char *host, struct lockbox_request *req);
/* The newest approved request for user, tenant and host whose access is current at now. */
enum lockbox_result store_find_current_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req);
/* The current approval for user, tenant and host that lasts longest (the newest of equals). */
enum lockbox_result store_find_longest_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req);
int store_count_pending_for_user(struct store *store, const char *user, int *count);
/* The requests filter matches, newest first, at most filter->limit. */
int store_list(struct store *store, const struct store_filter *filter, store_request_fn fn,
               void *ctx);
/* Every pending or approved request (the ones with deadlines), in no particular order. */
int store_each_live(struct store *store, store_request_fn fn, void *ctx);

/* --- the audit chain: one row per audit line, keyed by seq; the last row is the head --- */
/* seq 0 and 64 zeros when there is no record yet. */
int store_audit_head(struct store *store, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1]);
/* Fails when seq is taken. */
int store_audit_insert(struct store *store, uint64_t seq, const char *line, const char *hash);
/* At most limit lines with a seq above after, in seq order. */
int store_audit_lines_after(struct store *store, uint64_t after, int limit, store_line_fn fn,
                            void *ctx);

/* --- meta: named integers (the audit file's rotation point, the synced seq) --- */
enum lockbox_result store_meta_get_int(struct store *store, const char *key, int64_t *value);
int store_meta_set_int(struct store *store, const char *key, int64_t value);

/* --- login sessions, keyed by their id --- */
/* Adds row as given (its id is new). */
int store_session_insert(struct store *store, const struct session_row *row);
int store_session_set_state(struct store *store, const char *id, const char *state);
/* Sets the state and stamps closed_at. */
int store_session_set_state_at(struct store *store, const char *id, const char *state,
                               int64_t closed_at);
int store_session_set_warned(struct store *store, const char *id, bool warned);
/* Binds the session to another approval. */
int store_session_rebind(struct store *store, const char *id, const char *request_id);
int store_session_set_contained(struct store *store, const char *id, bool contained);
/* cgroup NULL or "": none. */
int store_session_set_containment(struct store *store, const char *id, int64_t audit_session,
                                  const char *cgroup, bool contained);
enum lockbox_result store_session_get_state(struct store *store, const char *id,
                                            char state[STORE_SESSION_STATE_MAX + 1]);
/* Every session still open or still contained, in no particular order. */
int store_session_live_rows(struct store *store, store_session_fn fn, void *ctx);
/* The sessions bound to a request, oldest first (by opened_at). */
int store_sessions_of_request(struct store *store, const char *request_id, store_session_fn fn,
                              void *ctx);

/* --- the notification outbox --- */
/* Adds a row due at now_ms; a row with the same notification id and channel is kept as it is
 * (0: adding twice is not an error), so a notification is queued at most once. */
int store_outbox_add(struct store *store, const char *notification_id, const char *channel,
                     const char *request_id, const char *event, const char *tenant,
                     const char *body, int64_t now_ms);
/* The undelivered, not failed row due at now_ms that is due first (then the oldest), with its
 * body (LOCKBOX_OK: the caller frees row->body). */
enum lockbox_result store_outbox_next_due(struct store *store, int64_t now_ms,
                                          struct outbox_row *row);
/* When the next undelivered, not failed row falls due; INT64_MAX when none (or on failure:
 * the sender then waits for its next kick or a minute). */
int64_t store_outbox_next_attempt_at(struct store *store);
/* Delivered at now_ms after attempts tries (last_error cleared). */
int store_outbox_mark_delivered(struct store *store, int64_t seq, int attempts, int64_t now_ms);
/* Not delivered: tried attempts times, next try at next_at, or never again when failed;
 * error (NULL: none) is kept as last_error. */
int store_outbox_mark_retry(struct store *store, int64_t seq, int attempts, int64_t next_at,
                            const char *error, bool failed);
/* Every row of a request, oldest first, body NULL. */
int store_outbox_of_request(struct store *store, const char *request_id, store_outbox_fn fn,
                            void *ctx);

#endif
