/* The PostgreSQL store's requests, audit chain and meta values (libpq). Every statement is
 * a parameterised PQexecParams (text in, text out): no value is ever spliced into SQL. */
#include "store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_COLUMNS                                                                            \
    "id, state, tenant, host, \"user\", requested_by, requested_by_uid, reason, service, rhost, "  \
    "decided_by, comment, created_at, decided_at, expires_at, approved_boot_ms, granted_ms, "      \
    "approved_boot_id, requester, requester_uid"

/* A request's values as text parameters, in REQUEST_COLUMNS order. */
struct request_params {
    char numbers[9][24];
    const char *values[21];
};

static void request_to_params(const struct lockbox_request *r, struct request_params *p)
{
    int64_t requester_uid = r->requester_uid == (uid_t)-1 ? -1 : (int64_t)r->requester_uid;
    int64_t numbers[9] = {(int64_t)r->state,
                          (int64_t)r->requested_by_uid,
                          r->created_at,
                          r->decided_at,
                          r->expires_at,
                          r->approved_boot_ms,
                          r->granted_ms,
                          requester_uid,
                          0};

    for (int i = 0; i < 8; i++)
        snprintf(p->numbers[i], sizeof(p->numbers[i]), "%lld", (long long)numbers[i]);
    const char *values[20] = {r->id,         p->numbers[0], r->tenant,
                              r->host,       r->user,       r->requested_by,
                              p->numbers[1], r->reason,     r->service,
                              r->rhost,      r->decided_by, r->comment,
                              p->numbers[2], p->numbers[3], p->numbers[4],
                              p->numbers[5], p->numbers[6], r->approved_boot_id,
                              r->requester,  p->numbers[7]};
    memcpy(p->values, values, sizeof(values));
    p->values[20] = NULL;
}

static void row_to_request(const PGresult *res, int row, struct lockbox_request *r)
{
    memset(r, 0, sizeof(*r));
    pg_copy_text(res, row, 0, r->id, sizeof(r->id));
    r->state = (enum request_state)pg_number(res, row, 1);
    pg_copy_text(res, row, 2, r->tenant, sizeof(r->tenant));
    pg_copy_text(res, row, 3, r->host, sizeof(r->host));
    pg_copy_text(res, row, 4, r->user, sizeof(r->user));
    pg_copy_text(res, row, 5, r->requested_by, sizeof(r->requested_by));
    r->requested_by_uid = (uid_t)pg_number(res, row, 6);
    pg_copy_text(res, row, 7, r->reason, sizeof(r->reason));
    pg_copy_text(res, row, 8, r->service, sizeof(r->service));
    pg_copy_text(res, row, 9, r->rhost, sizeof(r->rhost));
    pg_copy_text(res, row, 10, r->decided_by, sizeof(r->decided_by));
    pg_copy_text(res, row, 11, r->comment, sizeof(r->comment));
    r->created_at = pg_number(res, row, 12);
    r->decided_at = pg_number(res, row, 13);
    r->expires_at = pg_number(res, row, 14);
    r->approved_boot_ms = pg_number(res, row, 15);
    r->granted_ms = pg_number(res, row, 16);
    pg_copy_text(res, row, 17, r->approved_boot_id, sizeof(r->approved_boot_id));
    pg_copy_text(res, row, 18, r->requester, sizeof(r->requester));
    int64_t requester_uid = pg_number(res, row, 19);
    r->requester_uid = requester_uid < 0 ? (uid_t)-1 : (uid_t)requester_uid;
}

enum lockbox_result pg_put_request(void *state, const struct lockbox_request *r, int from_state)
{
    static const char sql[] =
        "INSERT INTO requests (" REQUEST_COLUMNS ") VALUES "
        "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) "
        "ON CONFLICT (id) DO UPDATE SET state=$2, decided_by=$11, comment=$12, "
        "decided_at=$14, expires_at=$15, approved_boot_ms=$16, granted_ms=$17, "
        "approved_boot_id=$18 WHERE requests.state = $21";
    struct request_params p;
    char from[16];

    request_to_params(r, &p);
    snprintf(from, sizeof(from), "%d", from_state);
    p.values[20] = from_state == STORE_NEW_REQUEST ? NULL : from; /* NULL: never an update */
    int rows = pg_command_rows(state, sql, 21, p.values);
    return rows < 0 ? LOCKBOX_ERROR : rows == 1 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
}

/* One row at most into req. */
static enum lockbox_result fetch_one(void *state, const char *sql, int n, const char *const *values,
                                     struct lockbox_request *req)
{
    PGresult *res = pg_query(state, sql, n, values);
    if (res == NULL)
        return LOCKBOX_ERROR;
    enum lockbox_result result = PQntuples(res) > 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
    if (result == LOCKBOX_OK)
        row_to_request(res, 0, req);
    PQclear(res);
    return result;
}

enum lockbox_result pg_get_request(void *state, const char *id, struct lockbox_request *req)
{
    const char *values[] = {id};
    return fetch_one(state, "SELECT " REQUEST_COLUMNS " FROM requests WHERE id = $1", 1, values,
                     req);
}

enum lockbox_result pg_find_pending(void *state, const char *user, const char *tenant,
                                    const char *host, const char *requester,
                                    struct lockbox_request *req)
{
    const char *values[] = {user, tenant, host, requester ? requester : ""};
    return fetch_one(state,
                     "SELECT " REQUEST_COLUMNS " FROM requests WHERE \"user\" = $1 AND "
                     "tenant = $2 AND host = $3 AND state = 0 AND requester = $4 "
                     "ORDER BY seq DESC LIMIT 1",
                     4, values, req);
}

enum lockbox_result pg_asked_pending(void *state, const char *user, const char *tenant,
                                     const char *host, const char *name, uid_t uid)
{
    char uid_text[24];
    snprintf(uid_text, sizeof(uid_text), "%lld", (long long)uid);
    /* A remote caller has no uid: NULL matches no row, so it is matched by name alone. */
    const char *values[] = {user, tenant, host, name, uid == (uid_t)-1 ? NULL : uid_text};
    PGresult *res = pg_query(state,
                             "SELECT 1 FROM requests WHERE \"user\" = $1 AND tenant = $2 AND "
                             "host = $3 AND state = 0 AND requester <> '' AND (requester = $4 "
                             "OR requester_uid = $5) LIMIT 1",
                             5, values);
    if (res == NULL)
        return LOCKBOX_ERROR;
    enum lockbox_result result = PQntuples(res) > 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
    PQclear(res);
    return result;
}

enum lockbox_result pg_find_latest(void *state, const char *user, const char *tenant,
                                   const char *host, struct lockbox_request *req)
{
    const char *values[] = {user, tenant, host};
    return fetch_one(state,
                     "SELECT " REQUEST_COLUMNS " FROM requests WHERE \"user\" = $1 AND "
                     "tenant = $2 AND host = $3 ORDER BY seq DESC LIMIT 1",
                     3, values, req);
}

static int walk(PGresult *res, store_request_fn fn, void *ctx)
{
    struct lockbox_request req;

    if (res == NULL)
        return -1;
    for (int row = 0; row < PQntuples(res); row++) {
        row_to_request(res, row, &req);
        if (fn(&req, ctx) != 0)
            break;
    }
    PQclear(res);
    return 0;
}

int pg_each_approved(void *state, const char *user, const char *tenant, const char *host,
                     store_request_fn fn, void *ctx)
{
    const char *values[] = {user, tenant, host};
    return walk(pg_query(state,
                         "SELECT " REQUEST_COLUMNS " FROM requests WHERE \"user\" = $1 AND "
                         "tenant = $2 AND host = $3 AND state = 1 ORDER BY seq DESC",
                         3, values),
                fn, ctx);
}

int pg_count_pending_for_user(void *state, const char *user, int *count)
{
    const char *values[] = {user};
    PGresult *res = pg_query(state,
                             "SELECT count(*) FROM requests WHERE \"user\" = $1 AND state = 0", 1,
                             values);
    *count = 0;
    if (res == NULL)
        return -1;
    *count = (int)pg_number(res, 0, 0);
    PQclear(res);
    return 0;
}

int pg_list(void *state, const struct store_filter *filter, store_request_fn fn, void *ctx)
{
    /* NULL parameters switch a condition off, so one statement serves every filter. An id
     * prefix is matched with starts_with(), never LIKE, so nothing in it is a pattern. */
    char state_text[16], limit[16];
    snprintf(state_text, sizeof(state_text), "%d", (int)filter->state);
    snprintf(limit, sizeof(limit), "%d", filter->limit);
    const char *values[] = {filter->all_states ? NULL : state_text,
                            filter->tenant,
                            filter->user,
                            filter->id_prefix,
                            limit,
                            filter->host};
    return walk(pg_query(state,
                         "SELECT " REQUEST_COLUMNS " FROM requests WHERE "
                         "($1::smallint IS NULL OR state = $1) AND "
                         "($2::text IS NULL OR tenant = $2) AND "
                         "($3::text IS NULL OR \"user\" = $3) AND "
                         "($4::text IS NULL OR starts_with(id, $4)) AND "
                         "($6::text IS NULL OR host = $6) "
                         "ORDER BY seq DESC LIMIT $5",
                         6, values),
                fn, ctx);
}

int pg_each_live(void *state, store_request_fn fn, void *ctx)
{
    return walk(pg_query(state, "SELECT " REQUEST_COLUMNS " FROM requests WHERE state IN (0, 1)", 0,
                         NULL),
                fn, ctx);
}

int pg_audit_head(void *state, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    PGresult *res = pg_query(state, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", 0,
                             NULL);

    *seq = 0;
    snprintf(hash, LOCKBOX_HASH_HEX_LEN + 1, "%064d", 0);
    if (res == NULL)
        return -1;
    if (PQntuples(res) > 0) {
        *seq = (uint64_t)pg_number(res, 0, 0);
        pg_copy_text(res, 0, 1, hash, LOCKBOX_HASH_HEX_LEN + 1);
    }
    PQclear(res);
    return 0;
}

int pg_audit_insert(void *state, uint64_t seq, const char *line, const char *hash)
{
    char seq_text[24];
    snprintf(seq_text, sizeof(seq_text), "%llu", (unsigned long long)seq);
    const char *values[] = {seq_text, line, hash};
    return pg_command(state, "INSERT INTO audit (seq, line, hash) VALUES ($1, $2, $3)", 3, values);
}

int pg_audit_lines_after(void *state, uint64_t after, int limit, store_line_fn fn, void *ctx)
{
    char after_text[24], limit_text[16];
    snprintf(after_text, sizeof(after_text), "%llu", (unsigned long long)after);
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *values[] = {after_text, limit_text};
    PGresult *res = pg_query(state,
                             "SELECT seq, line FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", 2,
                             values);
    if (res == NULL)
        return -1;
    for (int row = 0; row < PQntuples(res); row++)
        if (fn((uint64_t)pg_number(res, row, 0), PQgetvalue(res, row, 1), ctx) != 0)
            break;
    PQclear(res);
    return 0;
}

enum lockbox_result pg_meta_get_int(void *state, const char *key, int64_t *value)
{
    const char *values[] = {key};
    PGresult *res = pg_query(state, "SELECT value FROM meta WHERE key = $1", 1, values);
    if (res == NULL)
        return LOCKBOX_ERROR;
    enum lockbox_result result = PQntuples(res) > 0 ? LOCKBOX_OK : LOCKBOX_NOT_FOUND;
    if (result == LOCKBOX_OK)
        *value = pg_number(res, 0, 0);
    PQclear(res);
    return result;
}

int pg_meta_set_int(void *state, const char *key, int64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)value);
    const char *values[] = {key, text};
    return pg_command(state,
                      "INSERT INTO meta (key, value) VALUES ($1, $2) "
                      "ON CONFLICT (key) DO UPDATE SET value = $2",
                      2, values);
}
