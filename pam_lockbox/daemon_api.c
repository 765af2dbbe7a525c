/* JSON bodies in, validated structs out, over lockbox_call() (lib/client.c). */
#include "daemon_api.h"

#include <stdio.h>
#include <string.h>

#include "request_json.h"
#include "text.h"

#define CHECK_TIMEOUT_MS 10000L
#define WAIT_MARGIN_MS 5000L

bool api_id_is_valid(const char *id)
{
    return id != NULL && text_is_request_id(id, strnlen(id, LOCKBOX_ID_HEX_LEN + 1));
}

static void add_optional(json_object *body, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        json_object_object_add(body, key, json_object_new_string(value));
}

static json_object *new_login_body(const struct api_target *target)
{
    json_object *body = json_object_new_object();

    if (body == NULL)
        return NULL;
    json_object_object_add(body, "user", json_object_new_string(target->user));
    add_optional(body, "tenant", target->tenant);
    add_optional(body, "service", target->service);
    add_optional(body, "rhost", target->rhost);
    return body;
}

/* One call; maps transport, status and JSON failures onto api_status. */
static enum api_status call(const struct api_target *target, long total_ms, const char *method,
                            const char *path, json_object *body, long ok1, long ok2,
                            struct lockbox_reply *reply, char *err, size_t err_len)
{
    struct lockbox_client client = target->client;

    client.total_timeout_ms = total_ms;
    if (lockbox_call(&client, method, path, body, reply) != 0) {
        snprintf(err, err_len, "%s", reply->error);
        return reply->reached ? API_MALFORMED : API_UNREACHABLE;
    }
    if (reply->status != ok1 && reply->status != ok2) {
        snprintf(err, err_len, "%s (HTTP %ld)", reply->error, reply->status);
        return API_REFUSED;
    }
    if (reply->body == NULL || !json_object_is_type(reply->body, json_type_object)) {
        snprintf(err, err_len, "lockboxd answered %s %s without a JSON object", method, path);
        return API_MALFORMED;
    }
    return API_OK;
}

/* A request that concerns this login: well-formed, a real id, this user, this tenant. */
static enum api_status take_request(const struct api_target *target, json_object *obj,
                                    struct lockbox_request *out, char *err, size_t err_len)
{
    char why[160];

    if (request_from_json(obj, out, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "lockboxd sent a malformed request: %s", why);
        return API_MALFORMED;
    }
    if (!api_id_is_valid(out->id) || strcmp(out->user, target->user) != 0 ||
        (target->tenant[0] != '\0' && strcmp(out->tenant, target->tenant) != 0) ||
        !text_is_name(out->tenant, LOCKBOX_NAME_MAX) ||
        !text_is_host(out->host, LOCKBOX_HOST_MAX)) {
        snprintf(err, err_len, "lockboxd sent a request with a bad id or for another user, "
                 "tenant or host");
        return API_MALFORMED;
    }
    return API_OK;
}

static enum api_status read_check(const struct api_target *target, json_object *reply,
                                  struct check_reply *out, char *err, size_t err_len)
{
    json_object *allowed, *request;

    if (!json_object_object_get_ex(reply, "allowed", &allowed) ||
        !json_object_is_type(allowed, json_type_boolean) ||
        !json_object_object_get_ex(reply, "request", &request)) {
        snprintf(err, err_len, "lockboxd's access check reply lacks 'allowed' or 'request'");
        return API_MALFORMED;
    }
    out->allowed = json_object_get_boolean(allowed);
    out->has_request = request != NULL;
    if (!out->has_request) {
        if (!out->allowed)
            return API_OK;
        snprintf(err, err_len, "lockboxd allowed access without naming the approval");
        return API_MALFORMED;
    }
    enum api_status st = take_request(target, request, &out->request, err, err_len);
    if (st != API_OK)
        return st;
    /* Allowed only on an approval. A refusal names the pending request, or (lockboxd does
     * this) the latest one, whose state then says why. */
    if (out->allowed && out->request.state != REQUEST_APPROVED) {
        snprintf(err, err_len, "lockboxd's access check names a request in state %s",
                 request_state_name(out->request.state));
        return API_MALFORMED;
    }
    return API_OK;
}

enum api_status api_check(const struct api_target *target, bool final, struct check_reply *out,
                          char *err, size_t err_len)
{
    struct lockbox_reply reply;
    enum api_status st = API_MALFORMED;
    json_object *body = new_login_body(target);

    memset(out, 0, sizeof(*out));
    if (body == NULL) {
        snprintf(err, err_len, "out of memory");
        return API_MALFORMED;
    }
    json_object_object_add(body, "final", json_object_new_boolean(final));
    st = call(target, CHECK_TIMEOUT_MS, "POST", "/v1/access/check", body, 200, 200, &reply,
              err, err_len);
    if (st == API_OK)
        st = read_check(target, reply.body, out, err, err_len);
    lockbox_reply_free(&reply);
    json_object_put(body);
    if (st != API_OK)
        out->allowed = false; /* nobody may act on half a reply */
    return st;
}

enum api_status api_file(const struct api_target *target, const char *reason,
                         struct lockbox_request *out, char *err, size_t err_len)
{
    struct lockbox_reply reply;
    json_object *body = new_login_body(target);

    memset(out, 0, sizeof(*out));
    if (body == NULL) {
        snprintf(err, err_len, "out of memory");
        return API_MALFORMED;
    }
    json_object_object_add(body, "reason", json_object_new_string(reason));
    enum api_status st = call(target, CHECK_TIMEOUT_MS, "POST", "/v1/requests", body, 200, 201,
                              &reply, err, err_len);
    if (st == API_OK)
        st = take_request(target, reply.body, out, err, err_len);
    if (st == API_OK && out->state != REQUEST_PENDING) {
        snprintf(err, err_len, "lockboxd filed a request in state %s",
                 request_state_name(out->state));
        st = API_MALFORMED;
    }
    lockbox_reply_free(&reply);
    json_object_put(body);
    return st;
}

enum api_status api_wait(const struct api_target *target, const char *id, int timeout_s,
                         struct lockbox_request *out, char *err, size_t err_len)
{
    struct lockbox_reply reply;
    char path[128];

    memset(out, 0, sizeof(*out));
    if (!api_id_is_valid(id) || timeout_s < 0 || timeout_s > LOCKBOX_WAIT_MAX_SECONDS) {
        snprintf(err, err_len, "invalid request id or wait time");
        return API_MALFORMED;
    }
    snprintf(path, sizeof(path), "/v1/requests/%s/wait?timeout=%d", id, timeout_s);
    enum api_status st = call(target, timeout_s * 1000L + WAIT_MARGIN_MS, "GET", path, NULL, 200,
                              200, &reply, err, err_len);
    if (st == API_OK)
        st = take_request(target, reply.body, out, err, err_len);
    if (st == API_OK && strcmp(out->id, id) != 0) {
        snprintf(err, err_len, "lockboxd answered a wait with another request");
        st = API_MALFORMED;
    }
    lockbox_reply_free(&reply);
    return st;
}

static int copy_field(json_object *obj, const char *key, bool is_host, char *out, size_t out_len)
{
    json_object *value;

    if (!json_object_object_get_ex(obj, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return -1;
    const char *text = json_object_get_string(value);
    if (is_host ? !text_is_host(text, LOCKBOX_HOST_MAX) : !text_is_name(text, LOCKBOX_NAME_MAX))
        return -1;
    if ((size_t)snprintf(out, out_len, "%s", text) >= out_len)
        return -1;
    return 0;
}

enum api_status api_describe(const struct api_target *target, char *tenant, size_t tenant_len,
                             char *host, size_t host_len)
{
    struct lockbox_reply reply;
    char err[256];

    enum api_status st = call(target, CHECK_TIMEOUT_MS, "GET", "/v1/health", NULL, 200, 200,
                              &reply, err, sizeof(err));
    if (st == API_OK && (copy_field(reply.body, "tenant", false, tenant, tenant_len) != 0 ||
                         copy_field(reply.body, "host", true, host, host_len) != 0))
        st = API_MALFORMED;
    lockbox_reply_free(&reply);
    return st;
}

enum api_status api_session_open(const struct api_target *target, const char *tty,
                                 char session_id[LOCKBOX_ID_HEX_LEN + 1],
                                 struct lockbox_request *approval, char *err, size_t err_len)
{
    struct lockbox_reply reply;
    json_object *body = new_login_body(target), *id, *request;

    if (body == NULL) {
        snprintf(err, err_len, "out of memory");
        return API_MALFORMED;
    }
    add_optional(body, "tty", tty);
    enum api_status st = call(target, CHECK_TIMEOUT_MS, "POST", "/v1/sessions", body, 201, 201,
                              &reply, err, err_len);
    if (st == API_OK) {
        if (!json_object_object_get_ex(reply.body, "session_id", &id) ||
            !json_object_is_type(id, json_type_string) ||
            !api_id_is_valid(json_object_get_string(id)) ||
            !json_object_object_get_ex(reply.body, "request", &request)) {
            snprintf(err, err_len, "lockboxd's session reply lacks a valid session_id");
            st = API_MALFORMED;
        } else {
            memcpy(session_id, json_object_get_string(id), LOCKBOX_ID_HEX_LEN + 1);
            st = take_request(target, request, approval, err, err_len);
        }
    }
    lockbox_reply_free(&reply);
    json_object_put(body);
    return st;
}

enum api_status api_session_close(const struct api_target *target, const char *session_id,
                                  char *err, size_t err_len)
{
    struct lockbox_reply reply;
    char path[128];

    if (!api_id_is_valid(session_id)) {
        snprintf(err, err_len, "invalid session id");
        return API_MALFORMED;
    }
    snprintf(path, sizeof(path), "/v1/sessions/%s/close", session_id);
    json_object *body = json_object_new_object();
    enum api_status st = call(target, CHECK_TIMEOUT_MS, "POST", path, body, 200, 200, &reply, err,
                              err_len);
    lockbox_reply_free(&reply);
    json_object_put(body);
    return st;
}
