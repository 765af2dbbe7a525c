/* JSON encoding and decoding of a request (json-c). */
#include "request_json.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"

static void add_string(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, value && value[0] ? json_object_new_string(value) : NULL);
}

static void add_time(json_object *obj, const char *key, int64_t wall_ms)
{
    char text[TIMEFMT_LEN];

    if (wall_ms <= 0) {
        json_object_object_add(obj, key, NULL);
        return;
    }
    timefmt_rfc3339(wall_ms, text);
    json_object_object_add(obj, key, json_object_new_string(text));
}

/* The names on the grant's signature lines, in signing order. A plain scan, not a parse:
 * the PAM module links this file and nothing of OpenSSL; lockboxd stores only grants it
 * parsed and verified, and whoever reads the names verifies the grant itself. */
static json_object *signer_names(const char *grant)
{
    static const char mark[] = "\n\xe2\x80\x94 "; /* a line that starts with an em dash */
    json_object *array = json_object_new_array();

    for (const char *line = strstr(grant, mark); line != NULL; line = strstr(line + 1, mark)) {
        const char *name = line + strlen(mark);
        size_t len = strcspn(name, " \n");
        json_object_array_add(array, json_object_new_string_len(name, (int)len));
    }
    return array;
}

json_object *request_to_json(const struct lockbox_request *req)
{
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "id", json_object_new_string(req->id));
    json_object_object_add(obj, "state", json_object_new_string(request_state_name(req->state)));
    add_string(obj, "tenant", req->tenant);
    add_string(obj, "host", req->host);
    add_string(obj, "user", req->user);
    add_string(obj, "reason", req->reason);
    add_string(obj, "service", req->service);
    add_string(obj, "rhost", req->rhost);
    add_string(obj, "requested_by", req->requested_by);
    add_string(obj, "requester", req->requester);
    add_time(obj, "created_at", req->created_at);
    add_time(obj, "decided_at", req->decided_at);
    add_string(obj, "decided_by", req->decided_by);
    add_string(obj, "comment", req->comment);
    add_time(obj, "expires_at", req->expires_at);
    add_string(obj, "grant", req->grant);
    json_object_object_add(obj, "signers", signer_names(req->grant));
    return obj;
}

static int copy_string(json_object *obj, const char *key, char *out, size_t out_len, char *err,
                       size_t err_len)
{
    json_object *value;

    out[0] = '\0';
    if (!json_object_object_get_ex(obj, key, &value) || value == NULL)
        return 0;
    /* An embedded "\u0000" would silently cut the string short: refuse it. */
    if (!json_object_is_type(value, json_type_string) ||
        (size_t)json_object_get_string_len(value) >= out_len ||
        strlen(json_object_get_string(value)) != (size_t)json_object_get_string_len(value)) {
        snprintf(err, err_len, "field '%s' is not a string of at most %zu bytes", key, out_len - 1);
        return -1;
    }
    memcpy(out, json_object_get_string(value), (size_t)json_object_get_string_len(value) + 1);
    return 0;
}

static int copy_time(json_object *obj, const char *key, int64_t *out, char *err, size_t err_len)
{
    json_object *value;

    *out = 0;
    if (!json_object_object_get_ex(obj, key, &value) || value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_string) ||
        timefmt_parse(json_object_get_string(value), out) != 0) {
        snprintf(err, err_len, "field '%s' is not an RFC 3339 time", key);
        return -1;
    }
    return 0;
}

int request_from_json(json_object *obj, struct lockbox_request *req, char *err, size_t err_len)
{
    char state[16];

    memset(req, 0, sizeof(*req));
    req->requested_by_uid = (uid_t)-1; /* not in the JSON: never taken for root's uid 0 */
    req->requester_uid = (uid_t)-1;
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, err_len, "a request is not a JSON object");
        return -1;
    }
    if (copy_string(obj, "id", req->id, sizeof(req->id), err, err_len) ||
        copy_string(obj, "state", state, sizeof(state), err, err_len) ||
        copy_string(obj, "tenant", req->tenant, sizeof(req->tenant), err, err_len) ||
        copy_string(obj, "host", req->host, sizeof(req->host), err, err_len) ||
        copy_string(obj, "user", req->user, sizeof(req->user), err, err_len) ||
        copy_string(obj, "reason", req->reason, sizeof(req->reason), err, err_len) ||
        copy_string(obj, "service", req->service, sizeof(req->service), err, err_len) ||
        copy_string(obj, "rhost", req->rhost, sizeof(req->rhost), err, err_len) ||
        copy_string(obj, "requested_by", req->requested_by, sizeof(req->requested_by), err,
                    err_len) ||
        copy_string(obj, "requester", req->requester, sizeof(req->requester), err, err_len) ||
        copy_string(obj, "decided_by", req->decided_by, sizeof(req->decided_by), err, err_len) ||
        copy_string(obj, "comment", req->comment, sizeof(req->comment), err, err_len) ||
        copy_time(obj, "created_at", &req->created_at, err, err_len) ||
        copy_time(obj, "decided_at", &req->decided_at, err, err_len) ||
        copy_time(obj, "expires_at", &req->expires_at, err, err_len) ||
        copy_string(obj, "grant", req->grant, sizeof(req->grant), err, err_len))
        return -1;
    if (req->id[0] == '\0' || request_state_parse(state, &req->state) != 0) {
        snprintf(err, err_len, "a request without a valid id or state");
        return -1;
    }
    return 0;
}
