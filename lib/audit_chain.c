/* Building and verifying the hash-chained audit lines. */
#include "audit_chain.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random_id.h"
#include "text.h"
#include "timefmt.h"

static json_object *string_or_null(const char *value)
{
    return value != NULL && value[0] != '\0' ? json_object_new_string(value) : NULL;
}

/* What a format-2 line holds beyond its event: where format 2 began in its chain, and a
 * random nonce (so that a withheld record's content hash cannot be found by guessing its
 * few unknown fields). */
struct v2_members {
    uint64_t v2_from;
    const char *nonce;
};

/* The line as json-c writes it: hidden characters raw, as every line before Step 11 was.
 * v2 NULL: format 1. */
static char *line_with_raw_hidden(const struct v2_members *v2, uint64_t seq, int64_t time_ms,
                                  const struct audit_event *event, const char *prev_hash)
{
    char when[TIMEFMT_LEN], expires[TIMEFMT_LEN];
    json_object *obj = json_object_new_object();

    if (obj == NULL)
        return NULL;
    timefmt_rfc3339_ms(time_ms, when);
    if (v2 != NULL) {
        json_object_object_add(obj, "v", json_object_new_int(2));
        json_object_object_add(obj, "v2_from", json_object_new_int64((int64_t)v2->v2_from));
    }
    json_object_object_add(obj, "seq", json_object_new_int64((int64_t)seq));
    json_object_object_add(obj, "time", json_object_new_string(when));
    json_object_object_add(obj, "event", string_or_null(event->event));
    json_object_object_add(obj, "request_id", string_or_null(event->request_id));
    json_object_object_add(obj, "tenant", string_or_null(event->tenant));
    json_object_object_add(obj, "host", string_or_null(event->host));
    json_object_object_add(obj, "user", string_or_null(event->user));
    json_object_object_add(obj, "actor", string_or_null(event->actor));
    json_object_object_add(obj, "requester", string_or_null(event->requester));
    json_object_object_add(obj, "reason", string_or_null(event->reason));
    json_object_object_add(obj, "comment", string_or_null(event->comment));
    if (event->expires_at > 0) {
        timefmt_rfc3339(event->expires_at, expires);
        json_object_object_add(obj, "expires_at", json_object_new_string(expires));
    } else {
        json_object_object_add(obj, "expires_at", NULL);
    }
    if (v2 != NULL) {
        json_object_object_add(obj, "grant", string_or_null(event->grant));
        json_object_object_add(obj, "nonce", json_object_new_string(v2->nonce));
    }
    json_object_object_add(obj, "prev_hash", json_object_new_string(prev_hash));
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char *line = text != NULL ? strdup(text) : NULL;
    json_object_put(obj);
    return line;
}

int audit_line_build(uint64_t seq, uint64_t v2_from, int64_t time_ms,
                     const struct audit_event *event, const char *prev_hash, char **line)
{
    char nonce[LOCKBOX_ID_HEX_LEN + 1];
    struct v2_members v2 = {v2_from, nonce};

    *line = NULL;
    if (v2_from == 0 || v2_from > seq || random_id(nonce) != 0)
        return -1;
    char *raw = line_with_raw_hidden(&v2, seq, time_ms, event, prev_hash);

    /* Escaped here, before anyone hashes the line: `cat`, `less` or `tail -f` of the audit file
     * must not show a reason reordered by a bidi override (the chain covers these bytes). */
    *line = raw != NULL ? text_escape_json_hidden(raw) : NULL;
    free(raw);
    return *line != NULL ? 0 : -1;
}

void audit_verifier_init(struct audit_verifier *v)
{
    memset(v, 0, sizeof(*v));
}

static bool is_hash_hex(const char *s)
{
    if (strlen(s) != LOCKBOX_HASH_HEX_LEN)
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

static int record_fields(json_object *obj, uint64_t *seq, char prev_hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    json_object *seq_obj, *hash_obj;

    if (!json_object_object_get_ex(obj, "seq", &seq_obj) ||
        !json_object_is_type(seq_obj, json_type_int) || json_object_get_int64(seq_obj) <= 0 ||
        !json_object_object_get_ex(obj, "prev_hash", &hash_obj) ||
        !json_object_is_type(hash_obj, json_type_string) ||
        !is_hash_hex(json_object_get_string(hash_obj)))
        return -1;
    *seq = (uint64_t)json_object_get_int64(seq_obj);
    memcpy(prev_hash, json_object_get_string(hash_obj), LOCKBOX_HASH_HEX_LEN + 1);
    return 0;
}

int audit_line_fields(const char *line, size_t len, uint64_t *seq,
                      char prev_hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    json_object *obj = audit_line_parse(line, len);
    int rc = obj != NULL ? record_fields(obj, seq, prev_hash) : -1;

    json_object_put(obj);
    return rc;
}

/* Does a record of `seq` whose prev_hash is `prev` (NULL: withheld, so it chains by its hash
 * alone) come next? */
static int check_position(struct audit_verifier *v, uint64_t seq, const char *prev,
                          const char *where)
{
    if (!v->started) {
        /* A chain may start in a rotated file whose predecessors were deleted; only the very
         * first record must point at the zero hash. */
        if (seq == 1 && prev != NULL && strcmp(prev, AUDIT_ZERO_HASH) != 0) {
            snprintf(v->error, sizeof(v->error),
                     "%s: record seq 1 does not start the chain (altered)", where);
            return -1;
        }
        if (prev == NULL && seq != 1) {
            snprintf(v->error, sizeof(v->error),
                     "%s: the chain cannot start at withheld record seq %llu", where,
                     (unsigned long long)seq);
            return -1;
        }
        if (prev == NULL)
            memcpy(v->hash, AUDIT_ZERO_HASH, sizeof(v->hash));
    } else if (seq <= v->seq) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu follows seq %llu (reordered or inserted)", where,
                 (unsigned long long)seq, (unsigned long long)v->seq);
        return -1;
    } else if (seq != v->seq + 1) {
        snprintf(v->error, sizeof(v->error), "%s: records seq %llu to %llu are missing (removed)",
                 where, (unsigned long long)v->seq + 1, (unsigned long long)seq - 1);
        return -1;
    } else if (prev != NULL && strcmp(prev, v->hash) != 0) {
        /* Records withheld since the last whole one are checked only here: any of them, or
         * that one, may be the altered one. */
        char which[64];
        if (v->whole_seq != 0 && v->whole_seq < v->seq)
            snprintf(which, sizeof(which), "one of seq %llu to %llu",
                     (unsigned long long)v->whole_seq, (unsigned long long)v->seq);
        else
            snprintf(which, sizeof(which), "seq %llu", (unsigned long long)v->seq);
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu does not chain to seq %llu (%s altered, or this one "
                 "inserted)",
                 where, (unsigned long long)seq, (unsigned long long)v->seq, which);
        return -1;
    }
    return 0;
}

/* Where format 2 began is known from any whole format-2 line (its v2_from, covered by its
 * content hash); before that point records are format 1, from it on format 2. A record given
 * in the other format than its place says was passed off as such (a format-2 record withheld as
 * a format-1 hash would escape every check of its content and tenant). */
static int check_format_place(struct audit_verifier *v, int version, uint64_t seq,
                              const char *where)
{
    if (v->v2_from != 0 && version == 1 && seq >= v->v2_from) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu is given in format 1, but format 2 began at seq %llu "
                 "(a record passed off as format 1)",
                 where, (unsigned long long)seq, (unsigned long long)v->v2_from);
        return -1;
    }
    if (v->v2_from != 0 && version == 2 && seq < v->v2_from) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu is given in format 2, but format 2 began at seq %llu "
                 "(altered)",
                 where, (unsigned long long)seq, (unsigned long long)v->v2_from);
        return -1;
    }
    if (version < v->version) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu is in format %d after a record in format %d (inserted)",
                 where, (unsigned long long)seq, version, v->version);
        return -1;
    }
    return 0;
}

/* A whole format-2 line says where format 2 began: it must agree with what came before. */
static int learn_v2_from(struct audit_verifier *v, const char *line, size_t len, uint64_t seq,
                         const char *where)
{
    uint64_t from;

    if (audit_line_v2_from(line, len, &from) != 0) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu is not a valid format-2 record (altered)", where,
                 (unsigned long long)seq);
        return -1;
    }
    if (v->v2_from != 0 && from != v->v2_from) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu says format 2 began at seq %llu, an earlier one said %llu "
                 "(altered)",
                 where, (unsigned long long)seq, (unsigned long long)from,
                 (unsigned long long)v->v2_from);
        return -1;
    }
    if (v->last_v1_seq >= from || (v->first_v2_seq != 0 && v->first_v2_seq < from)) {
        snprintf(v->error, sizeof(v->error),
                 "%s: format 2 began at seq %llu (record seq %llu says so), but seq %llu was "
                 "given in format %d (a record passed off as another format)",
                 where, (unsigned long long)from, (unsigned long long)seq,
                 (unsigned long long)(v->last_v1_seq >= from ? v->last_v1_seq : v->first_v2_seq),
                 v->last_v1_seq >= from ? 1 : 2);
        return -1;
    }
    v->v2_from = from;
    return 0;
}

static void note_format(struct audit_verifier *v, int version, uint64_t seq)
{
    if (version == 1)
        v->last_v1_seq = seq;
    else if (v->first_v2_seq == 0)
        v->first_v2_seq = seq;
}

static void advance(struct audit_verifier *v, uint64_t seq, int version, const char *hash)
{
    memcpy(v->hash, hash, sizeof(v->hash));
    v->started = true;
    v->seq = seq;
    v->version = version;
    v->records++;
}

int audit_verify_line(struct audit_verifier *v, const char *line, size_t len, const char *where)
{
    uint64_t seq;
    char prev[LOCKBOX_HASH_HEX_LEN + 1], hash[LOCKBOX_HASH_HEX_LEN + 1];
    int version = audit_line_version(line, len);

    if (audit_line_fields(line, len, &seq, prev) != 0) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record after seq %llu is not a valid audit record (altered)", where,
                 (unsigned long long)v->seq);
        return -1;
    }
    if (check_position(v, seq, prev, where) != 0 ||
        check_format_place(v, version, seq, where) != 0 ||
        (version == 2 && learn_v2_from(v, line, len, seq, where) != 0))
        return -1;
    if (audit_record_hash(line, len, hash) != 0) {
        snprintf(v->error, sizeof(v->error),
                 "%s: record seq %llu is not a valid format-%d record (altered)", where,
                 (unsigned long long)seq, version);
        return -1;
    }
    advance(v, seq, version, hash);
    note_format(v, version, seq);
    v->whole_seq = seq;
    return 0;
}

int audit_verify_withheld(struct audit_verifier *v, const struct audit_withheld *w,
                          const char *where)
{
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    if (!is_hash_hex(w->tenant_tag) || !is_hash_hex(w->content_hash)) {
        snprintf(v->error, sizeof(v->error), "%s: withheld record seq %llu has malformed hashes",
                 where, (unsigned long long)w->seq);
        return -1;
    }
    if (check_position(v, w->seq, NULL, where) != 0 ||
        check_format_place(v, 2, w->seq, where) != 0 ||
        audit_hash_v2(w->seq, v->hash, w->tenant_tag, w->content_hash, hash) != 0)
        return -1;
    advance(v, w->seq, 2, hash);
    note_format(v, 2, w->seq);
    v->withheld++;
    return 0;
}

int audit_verify_withheld_v1(struct audit_verifier *v, uint64_t seq, const char *record_hash,
                             const char *where)
{
    if (!is_hash_hex(record_hash)) {
        snprintf(v->error, sizeof(v->error), "%s: withheld record seq %llu has a malformed hash",
                 where, (unsigned long long)seq);
        return -1;
    }
    if (check_position(v, seq, NULL, where) != 0 || check_format_place(v, 1, seq, where) != 0)
        return -1;
    advance(v, seq, 1, record_hash);
    note_format(v, 1, seq);
    if (v->taken_on_trust == 0)
        v->trust_first = seq;
    v->trust_last = seq;
    v->withheld++;
    v->taken_on_trust++;
    return 0;
}

void audit_verifier_start_after(struct audit_verifier *v, uint64_t seq, const char *hash)
{
    audit_verifier_init(v);
    /* Started even at 0: an excerpt from the beginning must begin with seq 1 and the zero
     * hash, where a file after rotation may begin anywhere. */
    v->started = true;
    v->seq = seq;
    snprintf(v->hash, sizeof(v->hash), "%s", seq == 0 ? AUDIT_ZERO_HASH : hash);
}

int audit_verify_head(struct audit_verifier *v, uint64_t head_seq, const char *head_hash)
{
    if (head_seq == 0 && !v->started)
        return 0;
    if (v->seq < head_seq) {
        snprintf(v->error, sizeof(v->error),
                 "the file ends at seq %llu but lockboxd's head is seq %llu (tail removed)",
                 (unsigned long long)v->seq, (unsigned long long)head_seq);
        return -1;
    }
    if (v->seq > head_seq) {
        snprintf(v->error, sizeof(v->error),
                 "the file goes to seq %llu, past lockboxd's head seq %llu (records inserted)",
                 (unsigned long long)v->seq, (unsigned long long)head_seq);
        return -1;
    }
    if (strcmp(v->hash, head_hash) != 0) {
        snprintf(v->error, sizeof(v->error),
                 "record seq %llu differs from lockboxd's head (altered)",
                 (unsigned long long)v->seq);
        return -1;
    }
    return 0;
}

/* The string value of a field that audit_line_build() writes as a string or null. */
static int optional_string(json_object *obj, const char *key, const char **out)
{
    json_object *value;

    *out = NULL;
    if (!json_object_object_get_ex(obj, key, &value))
        return -1;
    if (value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_string))
        return -1;
    *out = json_object_get_string(value);
    return 0;
}

static bool is_line(const char *built, const char *line, size_t len)
{
    return strlen(built) == len && memcmp(built, line, len) == 0;
}

/* What audit_line_build() writes today; is_line() of the raw form is what it wrote before
 * Step 11, and a line of ours all the same. */
static bool is_escaped_line(const char *raw, const char *line, size_t len)
{
    char *escaped = text_escape_json_hidden(raw);
    bool same = escaped != NULL && is_line(escaped, line, len);

    free(escaped);
    return same;
}

static bool is_nonce(const char *s)
{
    return s != NULL && strlen(s) == LOCKBOX_ID_HEX_LEN &&
           strspn(s, "0123456789abcdef") == strlen(s);
}

/* A format-2 line's v2_from (1..seq) and nonce (32 lowercase hex); 0 or -1. */
static int v2_members_of(json_object *obj, uint64_t seq, struct v2_members *out)
{
    json_object *from, *nonce;

    if (!json_object_object_get_ex(obj, "v2_from", &from) ||
        !json_object_is_type(from, json_type_int) || json_object_get_int64(from) <= 0 ||
        (uint64_t)json_object_get_int64(from) > seq ||
        !json_object_object_get_ex(obj, "nonce", &nonce) ||
        !json_object_is_type(nonce, json_type_string) || !is_nonce(json_object_get_string(nonce)))
        return -1;
    out->v2_from = (uint64_t)json_object_get_int64(from);
    out->nonce = json_object_get_string(nonce);
    return 0;
}

int audit_line_v2_from(const char *line, size_t len, uint64_t *v2_from)
{
    json_object *obj = audit_line_version(line, len) == 2 ? audit_line_parse(line, len) : NULL;
    uint64_t seq;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];
    struct v2_members v2;
    int rc = obj != NULL && record_fields(obj, &seq, prev) == 0 && v2_members_of(obj, seq, &v2) == 0
                 ? 0
                 : -1;

    *v2_from = rc == 0 ? v2.v2_from : 0;
    json_object_put(obj);
    return rc;
}

/* info->seq and info->prev_hash are already read (record_fields); the rest is read here. */
static int rebuilds_exactly(json_object *obj, const char *line, size_t len,
                            struct audit_line_info *info)
{
    struct audit_event ev;
    const char *time_text, *expires_text;
    char *rebuilt = NULL;

    memset(&ev, 0, sizeof(ev));
    if (optional_string(obj, "time", &time_text) != 0 || time_text == NULL ||
        timefmt_parse(time_text, &info->time_ms) != 0 ||
        optional_string(obj, "event", &ev.event) != 0 || ev.event == NULL ||
        optional_string(obj, "request_id", &ev.request_id) != 0 ||
        optional_string(obj, "tenant", &ev.tenant) != 0 ||
        optional_string(obj, "host", &ev.host) != 0 ||
        optional_string(obj, "user", &ev.user) != 0 ||
        optional_string(obj, "actor", &ev.actor) != 0 ||
        (json_object_object_get_ex(obj, "requester", NULL) &&
         optional_string(obj, "requester", &ev.requester) != 0) ||
        optional_string(obj, "reason", &ev.reason) != 0 ||
        optional_string(obj, "comment", &ev.comment) != 0 ||
        optional_string(obj, "expires_at", &expires_text) != 0 ||
        (json_object_object_get_ex(obj, "grant", NULL) &&
         optional_string(obj, "grant", &ev.grant) != 0) ||
        (expires_text != NULL && timefmt_parse(expires_text, &ev.expires_at) != 0) ||
        strlen(ev.event) >= sizeof(info->event) ||
        (ev.tenant != NULL && strlen(ev.tenant) >= sizeof(info->tenant)))
        return -1;
    struct v2_members v2 = {0, NULL};
    if (info->version == 2 && v2_members_of(obj, info->seq, &v2) != 0)
        return -1;
    info->v2_from = v2.v2_from;
    rebuilt = line_with_raw_hidden(info->version == 2 ? &v2 : NULL, info->seq, info->time_ms, &ev,
                                   info->prev_hash);
    if (rebuilt == NULL)
        return -1;
    /* A line from before records named their requester has no such member: it is canonical
     * if it is what the builder writes, less that member. */
    json_object *requester;
    if (info->version == 1 && !json_object_object_get_ex(obj, "requester", &requester)) {
        char *member = strstr(rebuilt, ",\"requester\":null,");
        if (member != NULL)
            memmove(member, member + strlen(",\"requester\":null"),
                    strlen(member + strlen(",\"requester\":null")) + 1);
    }
    /* A format-2 line from before records carried grants (Step 16) has no grant member. */
    if (info->version == 2 && !json_object_object_get_ex(obj, "grant", NULL)) {
        char *member = strstr(rebuilt, ",\"grant\":null,\"nonce\":");
        if (member != NULL)
            memmove(member, member + strlen(",\"grant\":null"),
                    strlen(member + strlen(",\"grant\":null")) + 1);
    }
    int same = is_line(rebuilt, line, len) || is_escaped_line(rebuilt, line, len);
    free(rebuilt);
    if (!same)
        return -1;
    snprintf(info->event, sizeof(info->event), "%s", ev.event);
    snprintf(info->tenant, sizeof(info->tenant), "%s", ev.tenant ? ev.tenant : "");
    return 0;
}

int audit_line_canonical(const char *line, size_t len, struct audit_line_info *info)
{
    json_object *obj = audit_line_parse(line, len);
    int rc = -1;

    memset(info, 0, sizeof(*info));
    info->version = audit_line_version(line, len);
    if (obj != NULL && record_fields(obj, &info->seq, info->prev_hash) == 0)
        rc = rebuilds_exactly(obj, line, len, info);
    json_object_put(obj);
    return rc;
}
