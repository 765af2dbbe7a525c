/* Strict parsing and bounded formatting of login socket messages with json-c. */
#include "login_message.h"

#include <stdio.h>
#include <string.h>

size_t login_message_count_members(const char *data, size_t len)
{
    size_t members = 0;
    int depth = 0, in_string = 0, escaped = 0;

    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"')
            in_string = 1;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == ':' && depth == 1)
            members++;
    }
    return members;
}

/* Members at every depth as written, and whether any string holds an escaped NUL (json-c
 * cuts a key or value short there, so "user\u0000x" would pass for "user"). */
static size_t count_all_members(const char *data, size_t len, int *escaped_nul)
{
    size_t members = 0;
    int in_string = 0;

    *escaped_nul = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\' && i + 1 < len) {
                if (data[i + 1] == 'u' && i + 5 < len && memcmp(data + i + 2, "0000", 4) == 0)
                    *escaped_nul = 1;
                i++; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"')
            in_string = 1;
        else if (c == ':')
            members++;
    }
    return members;
}

/* Members of obj and of every object inside it, as json-c kept them. */
static size_t count_kept_members(json_object *obj)
{
    size_t members = 0;

    if (json_object_is_type(obj, json_type_object)) {
        json_object_object_foreach(obj, key, value)
        {
            (void)key;
            members += 1 + count_kept_members(value);
        }
    } else if (json_object_is_type(obj, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(obj); i++)
            members += count_kept_members(json_object_array_get_idx(obj, i));
    }
    return members;
}

bool login_message_escapes_nul(const char *data, size_t len)
{
    int escaped_nul;
    count_all_members(data, len, &escaped_nul);
    return escaped_nul != 0;
}

json_object *login_message_parse(const char *data, size_t len, char *err, size_t err_len)
{
    if (len == 0 || len > LOCKBOX_LOGIN_MESSAGE_MAX) {
        snprintf(err, err_len, "a message is 1 to %d bytes, not %zu", LOCKBOX_LOGIN_MESSAGE_MAX,
                 len);
        return NULL;
    }
    if (memchr(data, '\0', len) != NULL) {
        snprintf(err, err_len, "the message contains a NUL byte");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(8);
    if (tok == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    int complete = obj != NULL && jerr == json_tokener_success && tok->char_offset == (int)len;
    json_tokener_free(tok);
    if (!complete) {
        snprintf(err, err_len, "the message is not one JSON object (%s)",
                 jerr == json_tokener_success ? "trailing bytes" : json_tokener_error_desc(jerr));
        json_object_put(obj);
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, err_len, "the message must be a JSON object");
        json_object_put(obj);
        return NULL;
    }
    int escaped_nul;
    if (count_all_members(data, len, &escaped_nul) != count_kept_members(obj)) {
        snprintf(err, err_len, "the message has a duplicate key");
        json_object_put(obj);
        return NULL;
    }
    if (escaped_nul) {
        snprintf(err, err_len, "the message contains an escaped NUL (\\u0000)");
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

ssize_t login_message_format(json_object *obj, char *buf, size_t buf_len)
{
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = text != NULL ? strlen(text) : 0;

    if (text == NULL || len >= buf_len || len > LOCKBOX_LOGIN_MESSAGE_MAX)
        return -1;
    memcpy(buf, text, len + 1);
    return (ssize_t)len;
}

int login_message_status(json_object *reply)
{
    json_object *status;

    if (!json_object_object_get_ex(reply, "status", &status) ||
        !json_object_is_type(status, json_type_int))
        return -1;
    int64_t value = json_object_get_int64(status);
    return value >= 100 && value <= 599 ? (int)value : -1;
}
