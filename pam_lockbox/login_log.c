/* log_login(): every value passes text_escape_log, so nothing from a user or the daemon can
 * start a line or forge a field. */
#include "login_log.h"

#include <stdio.h>
#include <syslog.h>
#include <security/pam_ext.h>

#include "text.h"

/* Escaped values can grow four times; the line stays well under syslog's limits. */
#define FIELD_MAX 300

static const char *or_dash(const char *value)
{
    return value != NULL && value[0] != '\0' ? value : "-";
}

void log_login(pam_handle_t *pamh, const struct login_who *who, const struct login_result *result,
               bool allowed_by_failmode)
{
    const struct lockbox_request *req = &result->request;
    char id[FIELD_MAX], tenant[FIELD_MAX], host[FIELD_MAX], user[FIELD_MAX], service[FIELD_MAX],
        rhost[FIELD_MAX], detail[FIELD_MAX], requester[FIELD_MAX + 12];
    bool allowed = result->outcome == OUTCOME_ALLOWED || allowed_by_failmode;
    int priority = LOG_INFO;

    text_escape_log(or_dash(result->has_request ? req->id : ""), id, sizeof(id));
    text_escape_log(or_dash(result->has_request ? req->tenant : who->tenant), tenant,
                    sizeof(tenant));
    text_escape_log(or_dash(result->has_request ? req->host : ""), host, sizeof(host));
    text_escape_log(or_dash(who->user), user, sizeof(user));
    text_escape_log(or_dash(who->service), service, sizeof(service));
    text_escape_log(or_dash(who->rhost), rhost, sizeof(rhost));
    text_escape_log(or_dash(result->detail), detail, sizeof(detail));
    requester[0] = '\0';
    if (who->requester != NULL && who->requester[0] != '\0') {
        char shown[FIELD_MAX];
        snprintf(requester, sizeof(requester), " requester=%s",
                 text_escape_log(who->requester, shown, sizeof(shown)));
    }
    if (allowed_by_failmode || result->outcome == OUTCOME_IMPOSTOR)
        priority = LOG_ALERT;
    else if (!allowed)
        priority = result->outcome == OUTCOME_UNREACHABLE ? LOG_ERR : LOG_NOTICE;
    if (allowed && !allowed_by_failmode) {
        pam_syslog(pamh, priority,
                   "event=login.allowed id=%s tenant=%s host=%s user=%s service=%s rhost=%s%s", id,
                   tenant, host, user, service, rhost, requester);
        return;
    }
    pam_syslog(pamh, priority,
               "event=%s id=%s tenant=%s host=%s user=%s service=%s rhost=%s why=%s%s%s%s%s",
               allowed ? "login.allowed" : "login.denied", id, tenant, host, user, service, rhost,
               login_outcome_name(result->outcome), allowed_by_failmode ? " failmode=safe" : "",
               result->detail[0] != '\0' ? " detail=" : "", result->detail[0] != '\0' ? detail : "",
               requester);
}
