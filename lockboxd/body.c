/* Strict JSON body decoding on top of json-c. */
#include "body.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "lockbox_limits.h"
#include "login_message.h"
#include "text.h"

enum kind {
    KIND_TEXT,
    KIND_NAME,
    KIND_HOST,
    KIND_DURATION,
    KIND_BOOL,
    KIND_TTY,
    KIND_ID,
    KIND_SECONDS,
    KIND_GRANT
};

struct field_spec {
    const char *name;
    enum body_field bit;
    enum kind kind;
    size_t max;
    size_t offset; /* of the const char * in struct body */
};

static const struct field_spec fields[] = {
    {"reason", BODY_REASON, KIND_TEXT, LOCKBOX_TEXT_MAX, offsetof(struct body, reason)},
    {"comment", BODY_COMMENT, KIND_TEXT, LOCKBOX_TEXT_MAX, offsetof(struct body, comment)},
    {"tenant", BODY_TENANT, KIND_NAME, LOCKBOX_NAME_MAX, offsetof(struct body, tenant)},
    {"host", BODY_HOST, KIND_HOST, LOCKBOX_HOST_MAX, offsetof(struct body, host)},
    {"user", BODY_USER, KIND_NAME, LOCKBOX_NAME_MAX, offsetof(struct body, user)},
    {"service", BODY_SERVICE, KIND_NAME, LOCKBOX_NAME_MAX, offsetof(struct body, service)},
    {"rhost", BODY_RHOST, KIND_HOST, LOCKBOX_RHOST_MAX, offsetof(struct body, rhost)},
    {"for", BODY_FOR, KIND_DURATION, 16, offsetof(struct body, duration)},
    {"final", BODY_FINAL, KIND_BOOL, 0, 0},
    {"tty", BODY_TTY, KIND_TTY, 63, offsetof(struct body, tty)},
    {"op", BODY_OP, KIND_NAME, 32, offsetof(struct body, op)},
    {"id", BODY_ID, KIND_ID, LOCKBOX_ID_HEX_LEN, offsetof(struct body, id)},
    {"session_id", BODY_SESSION_ID, KIND_ID, LOCKBOX_ID_HEX_LEN, offsetof(struct body, session_id)},
    {"timeout", BODY_TIMEOUT, KIND_SECONDS, LOCKBOX_WAIT_MAX_SECONDS, 0},
    {"requester", BODY_REQUESTER, KIND_NAME, LOCKBOX_NAME_MAX, offsetof(struct body, requester)},
    {"grant", BODY_GRANT, KIND_GRANT, LOCKBOX_GRANT_MAX, offsetof(struct body, grant)},
};

/* A terminal name as PAM_TTY gives it: "/dev/pts/3", "pts/3", "ssh", ":0". */
static bool is_tty_name(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len == 0 || len > max || strstr(text, "..") != NULL)
        return false;
    for (const char *p = text; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/._:-", *p) != NULL))
            return false;
    }
    return true;
}

static int check_value(const struct field_spec *spec, json_object *value, struct body *body,
                       char *err, size_t err_len)
{
    if (spec->kind == KIND_SECONDS) {
        int64_t seconds = json_object_is_type(value, json_type_int) ? json_object_get_int64(value)
                                                                    : -1;
        if (seconds < 0 || seconds > (int64_t)spec->max) {
            snprintf(err, err_len, "'%s' must be a whole number of seconds from 0 to %zu",
                     spec->name, spec->max);
            return -1;
        }
        body->timeout = (int)seconds;
        return 0;
    }
    if (spec->kind == KIND_BOOL) {
        if (!json_object_is_type(value, json_type_boolean)) {
            snprintf(err, err_len, "'%s' must be true or false", spec->name);
            return -1;
        }
        body->final = json_object_get_boolean(value);
        return 0;
    }
    if (!json_object_is_type(value, json_type_string)) {
        snprintf(err, err_len, "'%s' must be a string", spec->name);
        return -1;
    }
    const char *text = json_object_get_string(value);
    size_t len = (size_t)json_object_get_string_len(value);
    int64_t seconds;
    int ok = strlen(text) == len; /* no embedded NUL */
    switch (spec->kind) {
    case KIND_TEXT: ok = ok && text_is_clean(text, spec->max); break;
    case KIND_NAME: ok = ok && text_is_name(text, spec->max); break;
    case KIND_HOST: ok = ok && text_is_host(text, spec->max); break;
    case KIND_DURATION: ok = ok && duration_parse(text, &seconds) == 0; break;
    case KIND_TTY: ok = ok && is_tty_name(text, spec->max); break;
    case KIND_ID: ok = ok && text_is_request_id(text, len); break;
    /* Lines by design; grant_parse() takes it apart strictly, and says what is wrong. */
    case KIND_GRANT: ok = ok && len > 0 && len <= spec->max; break;
    default: ok = 0;
    }
    if (!ok) {
        char what[128];
        switch (spec->kind) {
        case KIND_TEXT:
            snprintf(what, sizeof(what),
                     "1 to %zu bytes of UTF-8 text without control characters, "
                     "bidi controls or line separators",
                     spec->max);
            break;
        case KIND_NAME:
            snprintf(what, sizeof(what), "a name of 1 to %zu characters from A-Z a-z 0-9 . _ -",
                     spec->max);
            break;
        case KIND_HOST:
            snprintf(what, sizeof(what), "a host name or address of 1 to %zu characters",
                     spec->max);
            break;
        case KIND_ID:
            snprintf(what, sizeof(what), "an id of %d lowercase hex characters",
                     LOCKBOX_ID_HEX_LEN);
            break;
        case KIND_GRANT:
            snprintf(what, sizeof(what), "a signed grant of 1 to %zu bytes", spec->max);
            break;
        case KIND_TTY:
            snprintf(what, sizeof(what), "a terminal such as /dev/pts/3 (at most %zu characters)",
                     spec->max);
            break;
        default: snprintf(what, sizeof(what), "a duration such as 90m or 2h");
        }
        snprintf(err, err_len, "'%s' must be %s", spec->name, what);
        return -1;
    }
    *(const char **)((char *)body + spec->offset) = text;
    return 0;
}

static const struct field_spec *find_field(const char *key)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(fields[i].name, key) == 0)
            return &fields[i];
    }
    return NULL;
}

int body_parse(struct body *body, const char *data, size_t len, unsigned allowed, char *err,
               size_t err_len)
{
    memset(body, 0, sizeof(*body));
    if (len == 0)
        return 0;
    json_tokener *tok = json_tokener_new_ex(8);
    if (tok == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    body->root = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    int complete = body->root != NULL && jerr == json_tokener_success &&
                   tok->char_offset == (int)len;
    json_tokener_free(tok);
    if (!complete) {
        snprintf(err, err_len, "the body is not one valid JSON object (%s)",
                 jerr == json_tokener_success ? "trailing bytes" : json_tokener_error_desc(jerr));
        goto fail;
    }
    if (!json_object_is_type(body->root, json_type_object)) {
        snprintf(err, err_len, "the body must be a JSON object");
        goto fail;
    }
    if (login_message_count_members(data, len) != (size_t)json_object_object_length(body->root)) {
        snprintf(err, err_len, "the body has a duplicate key");
        goto fail;
    }
    if (login_message_escapes_nul(data, len)) {
        snprintf(err, err_len, "the body contains an escaped NUL (\\u0000)");
        goto fail;
    }
    json_object_object_foreach(body->root, key, value)
    {
        const struct field_spec *spec = find_field(key);
        if (spec == NULL || !(allowed & spec->bit)) {
            char shown[80];
            snprintf(err, err_len, "unknown field '%s'",
                     text_escape_log(key, shown, sizeof(shown)));
            goto fail;
        }
        if (value == NULL) {
            snprintf(err, err_len, "'%s' must not be null", key);
            goto fail;
        }
        if (check_value(spec, value, body, err, err_len) != 0)
            goto fail;
        body->present |= spec->bit;
    }
    return 0;
fail:
    body_free(body);
    return -1;
}

void body_free(struct body *body)
{
    json_object_put(body->root);
    body->root = NULL;
}

const char *body_field_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if ((unsigned)fields[i].bit == bit)
            return fields[i].name;
    }
    return "?";
}

const char *body_first_missing(unsigned present, unsigned required)
{
    unsigned missing = required & ~present;
    return missing ? body_field_name(missing & -missing) : NULL;
}
