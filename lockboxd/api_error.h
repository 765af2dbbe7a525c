/* The one shape of an error reply, for both doors (the HTTP API and the login socket):
 * {"error": CODE, "message": TEXT}. docs/API.md lists the codes; clients match on them. */
#ifndef LOCKBOXD_API_ERROR_H
#define LOCKBOXD_API_ERROR_H
#include <json-c/json.h>
#include <stdarg.h>

/* What a held reply becomes when the journal's flush failed: the change it reported may not
 * be durable or audited. */
#define API_AUDIT_UNAVAILABLE_MESSAGE                                                              \
    "the change could not be made durable or written to the audit file; it takes effect only "     \
    "once it is (see syslog)"

/* A new error object (the caller owns it). NULL only when out of memory. */
json_object *api_error_new(const char *error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
json_object *api_error_vnew(const char *error, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
