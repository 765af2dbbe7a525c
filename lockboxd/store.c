/* The backend-neutral side of the store: picks the backend named in the configuration,
 * dispatches each call to its ops table, and decides which approval is current or lasts
 * longest (request.h's rules, the same for every backend). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

struct store {
    const struct store_ops *ops;
    void *state; /* the backend's own */
};

static const struct store_ops *const backends[] = {&store_sqlite_ops, &store_pg_ops};

static const struct store_ops *backend_named(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    }
    return NULL;
}

struct store *store_open(const struct store_config *config, char *err, size_t err_len)
{
    const char *name = config->backend ? config->backend : "sqlite";
    const struct store_ops *ops = backend_named(name);
    struct store *store;

    err[0] = '\0';
    if (ops == NULL) {
        snprintf(err, err_len, "unknown store backend \"%s\"", name);
        return NULL;
    }
    store = calloc(1, sizeof(*store));
    if (store == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    store->ops = ops;
    store->state = ops->open(config, err, err_len);
    if (store->state == NULL) {
        free(store);
        return NULL;
    }
    return store;
}

void store_close(struct store *store)
{
    if (store == NULL)
        return;
    store->ops->close(store->state);
    free(store);
}

const char *store_error(struct store *store)
{
    return store->ops->error(store->state);
}

int store_begin(struct store *store)
{
    return store->ops->begin(store->state);
}

int store_commit(struct store *store)
{
    return store->ops->commit(store->state);
}

void store_rollback(struct store *store)
{
    store->ops->rollback(store->state);
}

int store_sync(struct store *store, int64_t seq)
{
    return store->ops->sync(store->state, seq);
}

enum lockbox_result store_put_request(struct store *store, const struct lockbox_request *req,
                                      int from_state)
{
    return store->ops->put_request(store->state, req, from_state);
}

int store_lock_chain(struct store *store)
{
    return store->ops->lock_chain ? store->ops->lock_chain(store->state) : 0;
}

bool store_unavailable(struct store *store)
{
    return store->ops->unavailable != NULL && store->ops->unavailable(store->state);
}

bool store_chain_is_shared(const struct store *store)
{
    return store->ops->shared;
}

int store_announce(struct store *store, const char *request_id)
{
    return store->ops->announce ? store->ops->announce(store->state, request_id) : 0;
}

enum lockbox_result store_get_request(struct store *store, const char *id,
                                      struct lockbox_request *req)
{
    return store->ops->get_request(store->state, id, req);
}

enum lockbox_result store_find_pending(struct store *store, const char *user, const char *tenant,
                                       const char *host, const char *requester,
                                       struct lockbox_request *req)
{
    return store->ops->find_pending(store->state, user, tenant, host, requester ? requester : "",
                                    req);
}

enum lockbox_result store_asked_pending(struct store *store, const char *user, const char *tenant,
                                        const char *host, const char *name, uid_t uid)
{
    return store->ops->asked_pending(store->state, user, tenant, host, name, uid);
}

enum lockbox_result store_find_latest(struct store *store, const char *user, const char *tenant,
                                      const char *host, struct lockbox_request *req)
{
    return store->ops->find_latest(store->state, user, tenant, host, req);
}

/* The search for an approval: the first current one, or the current one that lasts longest. */
struct approval_search {
    const struct lockbox_clock *now;
    bool first_current;
    struct lockbox_request *best;
    int64_t longest; /* ms left of best; -1 while none */
};

static int consider_approval(const struct lockbox_request *req, void *ctx)
{
    struct approval_search *search = ctx;

    if (!request_access_current(req, search->now))
        return 0;
    int64_t left = request_ms_until_deadline(req, search->now);
    /* Strictly longer: of equals, the newest (seen first) wins. */
    if (left > search->longest) {
        search->longest = left;
        *search->best = *req;
    }
    return search->first_current;
}

static enum lockbox_result find_approval(struct store *store, const char *user, const char *tenant,
                                         const char *host, struct approval_search *search)
{
    if (store->ops->each_approved(store->state, user, tenant, host, consider_approval, search) != 0)
        return LOCKBOX_ERROR;
    return search->longest >= 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
}

enum lockbox_result store_find_current_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req)
{
    struct approval_search search = {now, true, req, -1};
    return find_approval(store, user, tenant, host, &search);
}

enum lockbox_result store_find_longest_approval(struct store *store, const char *user,
                                                const char *tenant, const char *host,
                                                const struct lockbox_clock *now,
                                                struct lockbox_request *req)
{
    struct approval_search search = {now, false, req, -1};
    return find_approval(store, user, tenant, host, &search);
}

int store_count_pending_for_user(struct store *store, const char *user, int *count)
{
    return store->ops->count_pending_for_user(store->state, user, count);
}

int store_list(struct store *store, const struct store_filter *filter, store_request_fn fn,
               void *ctx)
{
    if (filter->id_prefix != NULL &&
        (filter->id_prefix[0] == '\0' || strlen(filter->id_prefix) > LOCKBOX_ID_HEX_LEN))
        return -1;
    return store->ops->list(store->state, filter, fn, ctx);
}

int store_each_live(struct store *store, store_request_fn fn, void *ctx)
{
    return store->ops->each_live(store->state, fn, ctx);
}

int store_audit_head(struct store *store, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    return store->ops->audit_head(store->state, seq, hash);
}

int store_audit_insert(struct store *store, uint64_t seq, const char *line, const char *hash)
{
    return store->ops->audit_insert(store->state, seq, line, hash);
}

int store_audit_lines_after(struct store *store, uint64_t after, int limit, store_line_fn fn,
                            void *ctx)
{
    return store->ops->audit_lines_after(store->state, after, limit, fn, ctx);
}

enum lockbox_result store_meta_get_int(struct store *store, const char *key, int64_t *value)
{
    return store->ops->meta_get_int(store->state, key, value);
}

int store_meta_set_int(struct store *store, const char *key, int64_t value)
{
    return store->ops->meta_set_int(store->state, key, value);
}

int store_session_insert(struct store *store, const struct session_row *row)
{
    return store->ops->session_insert(store->state, row);
}

int store_session_set_state(struct store *store, const char *id, const char *state)
{
    return store->ops->session_set_state(store->state, id, state);
}

int store_session_set_state_at(struct store *store, const char *id, const char *state,
                               int64_t closed_at)
{
    return store->ops->session_set_state_at(store->state, id, state, closed_at);
}

int store_session_set_warned(struct store *store, const char *id, bool warned)
{
    return store->ops->session_set_warned(store->state, id, warned);
}

int store_session_rebind(struct store *store, const char *id, const char *request_id)
{
    return store->ops->session_rebind(store->state, id, request_id);
}

int store_session_set_contained(struct store *store, const char *id, bool contained)
{
    return store->ops->session_set_contained(store->state, id, contained);
}

int store_session_set_containment(struct store *store, const char *id, int64_t audit_session,
                                  const char *cgroup, bool contained)
{
    return store->ops->session_set_containment(store->state, id, audit_session,
                                               cgroup ? cgroup : "", contained);
}

enum lockbox_result store_session_get_state(struct store *store, const char *id,
                                            char state[STORE_SESSION_STATE_MAX + 1])
{
    return store->ops->session_get_state(store->state, id, state);
}

int store_session_live_rows(struct store *store, store_session_fn fn, void *ctx)
{
    return store->ops->session_live_rows(store->state, fn, ctx);
}

int store_sessions_of_request(struct store *store, const char *request_id, store_session_fn fn,
                              void *ctx)
{
    return store->ops->sessions_of_request(store->state, request_id, fn, ctx);
}

int store_outbox_add(struct store *store, const char *notification_id, const char *channel,
                     const char *request_id, const char *event, const char *tenant,
                     const char *body, int64_t now_ms)
{
    return store->ops->outbox_add(store->state, notification_id, channel, request_id, event, tenant,
                                  body, now_ms);
}

enum lockbox_result store_outbox_next_due(struct store *store, int64_t now_ms,
                                          struct outbox_row *row)
{
    return store->ops->outbox_next_due(store->state, now_ms, row);
}

int64_t store_outbox_next_attempt_at(struct store *store)
{
    return store->ops->outbox_next_attempt_at(store->state);
}

int store_outbox_mark_delivered(struct store *store, int64_t seq, int attempts, int64_t now_ms)
{
    return store->ops->outbox_mark_delivered(store->state, seq, attempts, now_ms);
}

int store_outbox_mark_retry(struct store *store, int64_t seq, int attempts, int64_t next_at,
                            const char *error, bool failed)
{
    return store->ops->outbox_mark_retry(store->state, seq, attempts, next_at, error ? error : "",
                                         failed);
}

int store_outbox_of_request(struct store *store, const char *request_id, store_outbox_fn fn,
                            void *ctx)
{
    return store->ops->outbox_of_request(store->state, request_id, fn, ctx);
}
