/* Login socket requests in, validated structs out, over login_call() (login_client.c). */
#include "daemon_api.h"

#include <stdio.h>
#include <string.h>

#include "login_message.h"
#include "request_json.h"
#include "text.h"

#define CALL_TIMEOUT_MS 10000L
#define WAIT_MARGIN_MS 5000L

bool api_id_is_valid(const char *id)
{
    return id != NULL && text_is_request_id(id, strnlen(id, LOCKBOX_ID_HEX_LEN + 1));
}

static void add_optional(json_object *msg, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        json_object_object_add(msg, key, json_object_new_string(value));
}

static json_object *new_message(const char *op)
{
    json_object *msg = json_object_new_object();

    if (msg != NULL)
        json_object_object_add(msg, "op", json_object_new_string(op));
    return msg;
}

/* A message naming who logs in where. */
static json_object *new_login_message(const struct api_target *target, const char *op)
{
    json_object *msg = new_message(op);

    if (msg == NULL)
        return NULL;
    json_object_object_add(msg, "user", json_object_new_string(target->user));
    add_optional(msg, "tenant", target->tenant);
    add_optional(msg, "service", target->service);
    add_optional(msg, "rhost", target->rhost);
    add_optional(msg, "requester", target->requester);
    return msg;
}

static const char *reply_message(json_object *reply)
{
    json_object *message;

    if (json_object_object_get_ex(reply, "message", &message) &&
        json_object_is_type(message, json_type_string))
        return json_object_get_string(message);
    return "no reason given";
}

/* One exchange; a status other than ok1/ok2 is API_REFUSED with the daemon's message. Puts
 * msg; on API_OK, *reply is the caller's to put. */
static enum api_status call(const struct api_target *target, json_object *msg, long timeout_ms,
                            int ok1, int ok2, json_object **reply, char *err, size_t err_len)
{
    *reply = NULL;
    if (msg == NULL) {
        snprintf(err, err_len, "out of memory");
        return API_MALFORMED;
    }
    enum api_status st = login_call(target->channel, msg, timeout_ms, reply, err, err_len);
    json_object_put(msg);
    if (st != API_OK)
        return st;
    int status = login_message_status(*reply);
    if (status != ok1 && status != ok2) {
        snprintf(err, err_len, "%s (status %d)", reply_message(*reply), status);
        json_object_put(*reply);
        *reply = NULL;
        return API_REFUSED;
    }
    return API_OK;
}

/* A request that concerns this login: well-formed, a real id, this user, this tenant. */
static enum api_status take_request(const struct api_target *target, json_object *obj,
                                    struct lockbox_request *out, char *err, size_t err_len)
{
    char why[160];

    if (obj == NULL || request_from_json(obj, out, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "lockboxd sent a malformed request: %s", obj == NULL ? "none" : why);
        return API_MALFORMED;
    }
    if (!api_id_is_valid(out->id) || strcmp(out->user, target->user) != 0 ||
        (target->tenant[0] != '\0' && strcmp(out->tenant, target->tenant) != 0) ||
        !text_is_name(out->tenant, LOCKBOX_NAME_MAX) ||
        !text_is_host(out->host, LOCKBOX_HOST_MAX)) {
        snprintf(err, err_len,
                 "lockboxd sent a request with a bad id or for another user, "
                 "tenant or host");
        return API_MALFORMED;
    }
    return API_OK;
}

/* The reply's "request" member as a validated request. */
static enum api_status take_member_request(const struct api_target *target, json_object *reply,
                                           struct lockbox_request *out, char *err, size_t err_len)
{
    json_object *request = NULL;

    json_object_object_get_ex(reply, "request", &request);
    return take_request(target, request, out, err, err_len);
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
    json_object *reply, *msg = new_login_message(target, LOGIN_OP_CHECK);

    memset(out, 0, sizeof(*out));
    if (msg != NULL)
        json_object_object_add(msg, "final", json_object_new_boolean(final));
    enum api_status st = call(target, msg, CALL_TIMEOUT_MS, 200, 200, &reply, err, err_len);
    if (st == API_OK)
        st = read_check(target, reply, out, err, err_len);
    json_object_put(reply);
    if (st != API_OK)
        out->allowed = false; /* nobody may act on half a reply */
    return st;
}

enum api_status api_file(const struct api_target *target, const char *reason,
                         struct lockbox_request *out, char *err, size_t err_len)
{
    json_object *reply, *msg = new_login_message(target, LOGIN_OP_FILE);

    memset(out, 0, sizeof(*out));
    if (msg != NULL)
        json_object_object_add(msg, "reason", json_object_new_string(reason));
    enum api_status st = call(target, msg, CALL_TIMEOUT_MS, 200, 201, &reply, err, err_len);
    if (st == API_OK)
        st = take_member_request(target, reply, out, err, err_len);
    if (st == API_OK && out->state != REQUEST_PENDING) {
        snprintf(err, err_len, "lockboxd filed a request in state %s",
                 request_state_name(out->state));
        st = API_MALFORMED;
    }
    json_object_put(reply);
    return st;
}

enum api_status api_wait(const struct api_target *target, const char *id, int timeout_s,
                         struct lockbox_request *out, char *err, size_t err_len)
{
    json_object *reply, *msg;

    memset(out, 0, sizeof(*out));
    if (!api_id_is_valid(id) || timeout_s < 0 || timeout_s > LOCKBOX_WAIT_MAX_SECONDS) {
        snprintf(err, err_len, "invalid request id or wait time");
        return API_MALFORMED;
    }
    msg = new_message(LOGIN_OP_WAIT);
    if (msg != NULL) {
        json_object_object_add(msg, "id", json_object_new_string(id));
        json_object_object_add(msg, "timeout", json_object_new_int(timeout_s));
    }
    enum api_status st = call(target, msg, timeout_s * 1000L + WAIT_MARGIN_MS, 200, 200, &reply,
                              err, err_len);
    if (st == API_OK)
        st = take_member_request(target, reply, out, err, err_len);
    if (st == API_OK && strcmp(out->id, id) != 0) {
        snprintf(err, err_len, "lockboxd answered a wait with another request");
        st = API_MALFORMED;
    }
    json_object_put(reply);
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
    json_object *reply;
    char err[256];

    enum api_status st = call(target, new_message(LOGIN_OP_DESCRIBE), CALL_TIMEOUT_MS, 200, 200,
                              &reply, err, sizeof(err));
    if (st == API_OK && (copy_field(reply, "tenant", false, tenant, tenant_len) != 0 ||
                         copy_field(reply, "host", true, host, host_len) != 0))
        st = API_MALFORMED;
    json_object_put(reply);
    return st;
}

enum api_status api_session_open(const struct api_target *target, const char *tty,
                                 char session_id[LOCKBOX_ID_HEX_LEN + 1],
                                 struct lockbox_request *approval, char *err, size_t err_len)
{
    json_object *reply, *id, *msg = new_login_message(target, LOGIN_OP_SESSION_OPEN);

    if (msg != NULL)
        add_optional(msg, "tty", tty);
    enum api_status st = call(target, msg, CALL_TIMEOUT_MS, 201, 201, &reply, err, err_len);
    if (st == API_OK) {
        if (!json_object_object_get_ex(reply, "session_id", &id) ||
            !json_object_is_type(id, json_type_string) ||
            !api_id_is_valid(json_object_get_string(id))) {
            snprintf(err, err_len, "lockboxd's session reply lacks a valid session_id");
            st = API_MALFORMED;
        } else {
            memcpy(session_id, json_object_get_string(id), LOCKBOX_ID_HEX_LEN + 1);
            st = take_member_request(target, reply, approval, err, err_len);
            if (st == API_OK && approval->state != REQUEST_APPROVED) {
                snprintf(err, err_len, "lockboxd opened a session on a request in state %s",
                         request_state_name(approval->state));
                st = API_MALFORMED;
            }
        }
    }
    json_object_put(reply);
    return st;
}

enum api_status api_session_close(const struct api_target *target, const char *session_id,
                                  char *err, size_t err_len)
{
    json_object *reply, *msg;

    if (!api_id_is_valid(session_id)) {
        snprintf(err, err_len, "invalid session id");
        return API_MALFORMED;
    }
    msg = new_message(LOGIN_OP_SESSION_CLOSE);
    if (msg != NULL)
        json_object_object_add(msg, "session_id", json_object_new_string(session_id));
    enum api_status st = call(target, msg, CALL_TIMEOUT_MS, 200, 200, &reply, err, err_len);
    json_object_put(reply);
    return st;
}
