/* Error replies in the API's shape, built in one place for both doors. */
#include "api_error.h"

#include <stdio.h>

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
