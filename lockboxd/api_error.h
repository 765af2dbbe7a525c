/* The one shape of an error reply, for both doors (the HTTP API and the login socket):
 * {"error": CODE, "message": TEXT}. docs/API.md lists the codes; clients match on them.
 * And the one line a refused call (403) leaves in syslog, whichever door it came through. */
#ifndef LOCKBOXD_API_ERROR_H
#define LOCKBOXD_API_ERROR_H
#include <json-c/json.h>
#include <stdarg.h>

#include "identity.h"

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
/* The message of an error object ("" when it has none). Lives as long as obj. */
const char *api_error_message(json_object *obj);

/* Logs a refused call: event=api.refused status=403 actor=NAME uid=N action=WHAT id=ID
 * msg=WHY, every value escaped. DESIGN.md: every refused call is logged; each door calls
 * this once per 403 it sends (routes.c's dispatcher, login_socket.c's reply_error), so that
 * nothing behind a door logs a refusal of its own and none is logged twice. */
void api_log_refusal(const struct identity *who, const char *action, const char *id,
                     const char *why);

#endif
