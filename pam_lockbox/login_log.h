/* The module's own syslog lines about each login it decided (docs/DESIGN.md, "Syslog"). */
#ifndef PAM_LOCKBOX_LOGIN_LOG_H
#define PAM_LOCKBOX_LOGIN_LOG_H
#include <stdbool.h>
#include <security/pam_appl.h>

#include "decision.h"

struct login_who {
    const char *user;
    const char *tenant; /* the module's tenant=, or "" */
    const char *service;
    const char *rhost;     /* or "" */
    const char *requester; /* PAM_RUSER, or "" */
};

/* One line: event=login.allowed|login.denied id= tenant= host= user= service= rhost= [why=]
 * [failmode=safe] [detail=] [requester=]. allowed_by_failmode marks a login let in only because
 * failmode=safe: that one goes out at LOG_ALERT. */
void log_login(pam_handle_t *pamh, const struct login_who *who, const struct login_result *result,
               bool allowed_by_failmode);

#endif
