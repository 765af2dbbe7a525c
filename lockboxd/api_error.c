/* Error replies in the API's shape, built in one place for both doors. */
#include "api_error.h"

#include <stdio.h>
#include <syslog.h>

#include "text.h"

json_object *api_error_vnew(const char *error, const char *fmt, va_list ap)
{
    char message[512];
    json_object *obj = json_object_new_object();

    if (obj == NULL)
        return NULL;
    vsnprintf(message, sizeof(message), fmt, ap);
    json_object_object_add(obj, "error", json_object_new_string(error));
    json_object_object_add(obj, "message", json_object_new_string(message));
    return obj;
}

json_object *api_error_new(const char *error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    json_object *obj = api_error_vnew(error, fmt, ap);
    va_end(ap);
    return obj;
}

const char *api_error_message(json_object *obj)
{
    json_object *message;
    if (obj == NULL || !json_object_object_get_ex(obj, "message", &message))
        return "";
    return json_object_get_string(message);
}

void api_log_refusal(const struct identity *who, const char *action, const char *id,
                     const char *why)
{
    char actor[4 * LOCKBOX_NAME_MAX + 8], shown_id[80], reason[1100], uid[24] = "-";
    if (who->uid != (uid_t)-1) /* a remote caller has none */
        snprintf(uid, sizeof(uid), "%u", (unsigned)who->uid);
    syslog(LOG_WARNING, "event=api.refused status=403 actor=%s uid=%s action=%s id=%s msg=%s",
           text_escape_log(identity_recorded_name(who), actor, sizeof(actor)), uid, action,
           text_escape_log(id, shown_id, sizeof(shown_id)),
           text_escape_log(why, reason, sizeof(reason)));
}
