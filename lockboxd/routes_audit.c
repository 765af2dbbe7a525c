/* The audit routes: the chain as root or a tenant's admins may read it (GET /v1/audit), and a
 * tenant's export that it can verify against the one chain without seeing other tenants'
 * records (GET /v1/audit/export: those are given as hashes, lib/audit_record.h). */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "audit_chain.h"
#include "journal.h"
#include "lockbox_limits.h"
#include "routes_internal.h"
#include "service.h"

/* The head a page ends at. It comes from the store, read before the records: with several
 * lockboxd on one database this one's own idea of it lags behind the others' commits, and a
 * page that went past the head it reports would look like records inserted to a verifier.
 * Yet the store must hold at least what this lockboxd appended: a tail cut from it still
 * shows as such when this one's head is further on. */
static int read_head(struct service *svc, uint64_t *seq, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    if (store_audit_head(svc->store, seq, hash) != 0)
        return -1;
    struct journal_view journal = journal_view(svc->journal);
    if (journal.head_seq > *seq) {
        *seq = journal.head_seq;
        snprintf(hash, LOCKBOX_HASH_HEX_LEN + 1, "%s", journal.head_hash);
    }
    return 0;
}

/* A page stops early past this many bytes of records, so that a range of long records (a
 * reason of 1,024 quotes is 6 KiB escaped) never makes a reply the client refuses (8 MiB). */
#define PAGE_BYTES (4 * 1024 * 1024) /* estimated reply bytes */

/* Which records a caller may read: root all of them; a tenant admin those of the tenants
 * they administer (the trail names other tenants' users, hosts and reasons). */
struct audit_ctx {
    json_object *records;
    const struct lockboxd_config *config;
    bool all_tenants;
    bool readable[LOCKBOX_TENANTS_MAX];
    uint64_t last_seq; /* the last record looked at, shown or not */
    int scanned;
    uint64_t head_seq; /* the page ends here */
    size_t bytes;
    bool full; /* stopped at PAGE_BYTES */
};

/* The record's tenant (*name NULL when it names none); *name lives in the object returned,
 * which the caller puts. */
static json_object *record_tenant(const char *line, const char **name)
{
    json_object *record = json_tokener_parse(line), *tenant;

    *name = record != NULL && json_object_object_get_ex(record, "tenant", &tenant) &&
                    json_object_is_type(tenant, json_type_string)
                ? json_object_get_string(tenant)
                : NULL;
    return record;
}

static bool record_readable(const struct audit_ctx *ac, const char *line)
{
    if (ac->all_tenants)
        return true;
    const char *name;
    json_object *record = record_tenant(line, &name);
    bool readable = false;
    for (unsigned i = 0; name != NULL && i < ac->config->n_tenants && !readable; i++)
        readable = ac->readable[i] && strcmp(ac->config->tenants[i].name, name) == 0;
    json_object_put(record);
    return readable;
}

static int add_line(uint64_t seq, const char *line, void *cls)
{
    struct audit_ctx *ac = cls;
    if (seq > ac->head_seq)
        return 1; /* committed after the head this reply reports */
    if (ac->bytes >= PAGE_BYTES) {
        ac->full = true;
        return 1;
    }
    ac->last_seq = seq;
    ac->scanned++;
    if (record_readable(ac, line)) {
        ac->bytes += 2 * strlen(line); /* escaped again inside the reply: at most twice */
        json_object_array_add(ac->records, json_object_new_string(line));
    }
    return 0;
}

enum MHD_Result route_audit(struct route_ctx *ctx)
{
    static const char *const allowed[] = {"after", "limit", NULL};
    struct call *call = ctx->call;
    struct service *svc = ctx->svc;
    long after, limit;
    char err[256];

    if (!route_query_ok(call, allowed, err, sizeof(err)))
        return http_reply_error(call, 400, "bad_request", "%s", err);
    if (route_query_int(call, "after", 0, 0x7fffffffffffffffL, 0, &after) != 0 ||
        route_query_int(call, "limit", 1, LOCKBOX_LIST_MAX, LOCKBOX_LIST_DEFAULT, &limit) != 0)
        return http_reply_error(call, 400, "bad_request", "after must be a seq, limit 1 to %d",
                                LOCKBOX_LIST_MAX);
    struct audit_ctx ac = {NULL, svc->config, call->who.uid == 0, {false}, (uint64_t)after, 0, 0,
                           0,    false};
    bool any = ac.all_tenants;
    for (unsigned i = 0; i < svc->config->n_tenants && !ac.all_tenants; i++) {
        ac.readable[i] = service_may_read_tenant(svc, &call->who, svc->config->tenants[i].name);
        any = any || ac.readable[i];
    }
    if (!any)
        return http_reply_error(call, 403, "forbidden",
                                "only root and tenant admins may read the audit");
    char head_hash[LOCKBOX_HASH_HEX_LEN + 1];
    if (read_head(svc, &ac.head_seq, head_hash) != 0)
        return http_reply_error(call, 500, "internal", "cannot read the audit head");
    ac.records = json_object_new_array();
    if (store_audit_lines_after(svc->store, (uint64_t)after, (int)limit, add_line, &ac) != 0) {
        json_object_put(ac.records);
        return http_reply_error(call, 500, "internal", "cannot read the audit records");
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "records", ac.records);
    /* A page filtered for a tenant admin can be short or empty with more to come: the client
     * pages on with next_after while more is true. */
    json_object_object_add(obj, "next_after", json_object_new_int64((int64_t)ac.last_seq));
    json_object_object_add(obj, "more",
                           json_object_new_boolean(ac.scanned == (int)limit || ac.full));
    json_object_object_add(obj, "all_tenants", json_object_new_boolean(ac.all_tenants));
    json_object_object_add(obj, "head_seq", json_object_new_int64((int64_t)ac.head_seq));
    json_object_object_add(obj, "head_hash", json_object_new_string(head_hash));
    return http_reply_json(call, 200, obj);
}

/* One tenant's export: its records whole, every other one reduced to hashes. */
struct export_ctx {
    const char *tenant;
    json_object *entries;
    uint64_t last_seq;
    int scanned;
    uint64_t head_seq;
    size_t bytes;
    bool full; /* stopped at PAGE_BYTES */
    int failed;
};

static bool record_of_tenant(const char *line, const char *tenant)
{
    const char *name;
    json_object *record = record_tenant(line, &name);
    bool same = name != NULL && strcmp(name, tenant) == 0;
    json_object_put(record);
    return same;
}

/* {"withheld":SEQ,"tenant_tag":..,"content_hash":..}, or for a format-1 record (whose hash
 * is over its bytes) {"withheld":SEQ,"record_hash":..}. NULL when the line is neither. */
static json_object *withheld_entry(uint64_t seq, const char *line)
{
    struct audit_withheld w;
    audit_hash hash;
    json_object *entry = json_object_new_object();

    json_object_object_add(entry, "withheld", json_object_new_int64((int64_t)seq));
    if (audit_line_version(line, strlen(line)) == 2 &&
        audit_withhold(line, strlen(line), &w) == 0 && w.seq == seq) {
        json_object_object_add(entry, "tenant_tag", json_object_new_string(w.tenant_tag));
        json_object_object_add(entry, "content_hash", json_object_new_string(w.content_hash));
    } else if (audit_line_version(line, strlen(line)) == 1 &&
               audit_record_hash(line, strlen(line), hash) == 0) {
        json_object_object_add(entry, "record_hash", json_object_new_string(hash));
    } else {
        json_object_put(entry);
        return NULL;
    }
    return entry;
}

static int add_export_entry(uint64_t seq, const char *line, void *cls)
{
    struct export_ctx *ec = cls;
    if (seq > ec->head_seq)
        return 1; /* committed after the head this reply reports */
    if (seq != ec->last_seq + 1) {
        /* The store lacks records: an export that skipped them would still chain from
         * after_hash for a verifier that takes the first entry's seq as given. */
        syslog(LOG_CRIT,
               "event=audit.gap after_seq=%llu next_seq=%llu msg=\"the database's audit chain "
               "lacks records\"",
               (unsigned long long)ec->last_seq, (unsigned long long)seq);
        ec->failed = 1;
        return 1;
    }
    if (ec->bytes >= PAGE_BYTES) {
        ec->full = true;
        return 1;
    }
    json_object *entry = record_of_tenant(line, ec->tenant) ? json_object_new_string(line)
                                                            : withheld_entry(seq, line);
    if (entry == NULL) {
        ec->failed = 1; /* a record the store holds but that is not one: say so, stop */
        return 1;
    }
    ec->bytes += 2 * strlen(line); /* escaped again inside the reply: at most twice */
    json_object_array_add(ec->entries, entry);
    ec->last_seq = seq;
    ec->scanned++;
    return 0;
}

struct record_hash_ctx {
    uint64_t seq;
    char *hash;
    int found;
};

static int hash_record(uint64_t seq, const char *line, void *cls)
{
    struct record_hash_ctx *rh = cls;
    rh->found = seq == rh->seq && audit_record_hash(line, strlen(line), rh->hash) == 0;
    return 1;
}

/* The chain hash of record `seq` (the zero hash for 0): where an export that starts after it
 * picks the chain up. */
static int hash_of_record(struct service *svc, uint64_t seq, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    struct record_hash_ctx rh = {seq, hash, 0};
    if (seq == 0) {
        snprintf(hash, LOCKBOX_HASH_HEX_LEN + 1, "%s", AUDIT_ZERO_HASH);
        return 0;
    }
    if (store_audit_lines_after(svc->store, seq - 1, 1, hash_record, &rh) != 0 || !rh.found)
        return -1;
    return 0;
}

static bool tenant_configured(const struct lockboxd_config *config, const char *name)
{
    for (unsigned i = 0; i < config->n_tenants; i++) {
        if (strcmp(config->tenants[i].name, name) == 0)
            return true;
    }
    return false;
}

static json_object *export_page(struct export_ctx *ec, uint64_t after, const char *after_hash,
                                const char *head_hash, int limit)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "tenant", json_object_new_string(ec->tenant));
    json_object_object_add(obj, "after_seq", json_object_new_int64((int64_t)after));
    json_object_object_add(obj, "after_hash", json_object_new_string(after_hash));
    json_object_object_add(obj, "entries", ec->entries);
    json_object_object_add(obj, "next_after", json_object_new_int64((int64_t)ec->last_seq));
    json_object_object_add(obj, "more",
                           json_object_new_boolean((ec->scanned == limit || ec->full) &&
                                                   ec->last_seq < ec->head_seq));
    json_object_object_add(obj, "head_seq", json_object_new_int64((int64_t)ec->head_seq));
    json_object_object_add(obj, "head_hash", json_object_new_string(head_hash));
    return obj;
}

enum MHD_Result route_audit_export(struct route_ctx *ctx)
{
    static const char *const allowed[] = {"tenant", "after", "limit", NULL};
    struct call *call = ctx->call;
    struct service *svc = ctx->svc;
    const char *tenant = http_query(call, "tenant");
    long after, limit;
    char err[256], head_hash[LOCKBOX_HASH_HEX_LEN + 1], after_hash[LOCKBOX_HASH_HEX_LEN + 1];

    if (!route_query_ok(call, allowed, err, sizeof(err)))
        return http_reply_error(call, 400, "bad_request", "%s", err);
    if (tenant == NULL)
        return http_reply_error(call, 400, "bad_request", "tenant is required");
    /* Before the tenant is looked up: a caller who may not read it must not learn whether a
     * tenant of that name exists. */
    if (call->who.uid != 0 && !service_may_read_tenant(svc, &call->who, tenant))
        return http_reply_error(call, 403, "forbidden",
                                "only root and the tenant's admins may export its audit");
    if (!tenant_configured(svc->config, tenant))
        return http_reply_error(call, 400, "bad_request",
                                "tenant must name a tenant this lockboxd serves");
    if (route_query_int(call, "after", 0, 0x7fffffffffffffffL, 0, &after) != 0 ||
        route_query_int(call, "limit", 1, LOCKBOX_LIST_MAX, LOCKBOX_LIST_MAX, &limit) != 0)
        return http_reply_error(call, 400, "bad_request", "after must be a seq, limit 1 to %d",
                                LOCKBOX_LIST_MAX);
    struct export_ctx ec = {tenant, NULL, (uint64_t)after, 0, 0, 0, false, 0};
    if (read_head(svc, &ec.head_seq, head_hash) != 0)
        return http_reply_error(call, 500, "internal", "cannot read the audit head");
    if ((uint64_t)after > ec.head_seq)
        return http_reply_error(call, 400, "bad_request", "after is past the head (seq %llu)",
                                (unsigned long long)ec.head_seq);
    if (hash_of_record(svc, (uint64_t)after, after_hash) != 0)
        return http_reply_error(call, 500, "internal", "cannot read audit record %ld", after);
    ec.entries = json_object_new_array();
    if (store_audit_lines_after(svc->store, (uint64_t)after, (int)limit, add_export_entry, &ec) !=
            0 ||
        ec.failed) {
        json_object_put(ec.entries);
        return http_reply_error(call, 500, "internal", "cannot read the audit records");
    }
    return http_reply_json(call, 200,
                           export_page(&ec, (uint64_t)after, after_hash, head_hash, (int)limit));
}
