/* The session stack: open_session registers the login's session with lockboxd, so that it
 * ends when its access ends (revoked or expired); close_session deregisters it. Opening is
 * refused when access is no longer current, which closes the gap between the account check
 * and the session's start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "args.h"
#include "conversation.h"
#include "daemon_api.h"
#include "pam_items.h"
#include "text.h"
#include "timefmt.h"

#define SESSION_DATA "pam_lockbox_session_id"

static void free_session_id(pam_handle_t *pamh, void *data, int status)
{
    (void)pamh;
    (void)status;
    free(data);
}

struct session_call {
    struct lockbox_args args;
    const char *user;
    char service[LOCKBOX_NAME_MAX + 1];
    char rhost[LOCKBOX_RHOST_MAX + 1];
    char requester[LOCKBOX_NAME_MAX + 1];
    char tty[64];
};

/* Options, user and items; PAM_SUCCESS or the code to return. */
static int gather(pam_handle_t *pamh, int argc, const char **argv, struct session_call *c)
{
    char err[400], shown[800];

    if (parse_args(argc, argv, &c->args, err, sizeof(err)) != 0) {
        pam_syslog(pamh, LOG_ERR, "event=session.refused why=bad_option detail=%s",
                   text_escape_log(err, shown, sizeof(shown)));
        return PAM_SESSION_ERR;
    }
    int rc = items_user(pamh, &c->user);
    if (rc != PAM_SUCCESS)
        return rc;
    items_service(pamh, c->service, sizeof(c->service));
    items_rhost(pamh, c->rhost, sizeof(c->rhost));
    items_ruser(pamh, c->requester, sizeof(c->requester));
    items_tty(pamh, c->tty, sizeof(c->tty));
    return PAM_SUCCESS;
}

/* Once per login, on the session's own terminal: sshd shows session-stack text only on a pty,
 * after the login, where the account stack's text would have shown twice. Only under sshd: su
 * and sudo print it to stdout, into whatever a command's output is piped to. */
static void tell_access_until(pam_handle_t *pamh, int flags, const struct lockbox_request *approval)
{
    char by[100], until[TIMEFMT_LEN], text[300];

    text_escape_terminal(approval->decided_by[0] ? approval->decided_by : "a tenant admin", by,
                         sizeof(by));
    timefmt_rfc3339(approval->expires_at, until);
    snprintf(text, sizeof(text),
             "Lockbox: access approved by %s (request %s) until %s; this "
             "session ends then.",
             by, approval->id, until);
    conversation_tell(pamh, flags, false, text);
}

static int open_with_daemon(pam_handle_t *pamh, int flags, struct session_call *c)
{
    struct login_channel channel = LOGIN_CHANNEL_INIT(c->args.socket_path);
    struct api_target target = {&channel,   c->user,  c->args.tenant,
                                c->service, c->rhost, c->requester};
    char session_id[LOCKBOX_ID_HEX_LEN + 1], err[400] = "", shown[800];
    struct lockbox_request approval;

    enum api_status st = api_session_open(&target, c->tty, session_id, &approval, err, sizeof(err));
    login_channel_close(&channel);
    text_escape_log(err, shown, sizeof(shown));
    if (st == API_OK) {
        char *copy = strdup(session_id);
        if (copy == NULL ||
            pam_set_data(pamh, SESSION_DATA, copy, free_session_id) != PAM_SUCCESS) {
            free(copy);
            return PAM_SESSION_ERR;
        }
        pam_syslog(pamh, LOG_INFO, "event=session.opened session=%s id=%s user=%s service=%s",
                   session_id, approval.id, c->user, c->service);
        if (strcmp(c->service, "sshd") == 0)
            tell_access_until(pamh, flags, &approval);
        return PAM_SUCCESS;
    }
    if (st == API_NOT_RUNNING && c->args.failmode == FAILMODE_SAFE) {
        pam_syslog(pamh, LOG_ALERT,
                   "event=session.unenforced user=%s why=unreachable "
                   "failmode=safe detail=%s",
                   c->user, shown);
        return PAM_SUCCESS;
    }
    pam_syslog(pamh, st == API_IMPOSTOR ? LOG_ALERT : LOG_NOTICE,
               "event=session.refused user=%s service=%s why=%s detail=%s", c->user, c->service,
               st == API_REFUSED    ? "not_current"
               : st == API_IMPOSTOR ? "impostor"
                                    : "unreachable",
               shown);
    conversation_tell(pamh, flags, true,
                      st == API_REFUSED
                          ? "Lockbox: your access is no longer approved; the session was refused."
                          : "Lockbox: cannot reach lockboxd; the session was refused.");
    return PAM_SESSION_ERR;
}

EXPORTED int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct session_call c;

    memset(&c, 0, sizeof(c));
    int rc = gather(pamh, argc, argv, &c);
    return rc == PAM_SUCCESS ? open_with_daemon(pamh, flags, &c) : rc;
}

EXPORTED int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct session_call c;
    const void *data = NULL;
    char err[400], shown[800];

    (void)flags;
    memset(&c, 0, sizeof(c));
    if (pam_get_data(pamh, SESSION_DATA, &data) != PAM_SUCCESS || data == NULL)
        return PAM_SUCCESS; /* never opened (or failmode=safe): nothing to close */
    if (gather(pamh, argc, argv, &c) != PAM_SUCCESS)
        return PAM_SUCCESS; /* lockboxd notices the process exit itself */
    struct login_channel channel = LOGIN_CHANNEL_INIT(c.args.socket_path);
    struct api_target target = {&channel, c.user, c.args.tenant, c.service, c.rhost, c.requester};
    if (api_session_close(&target, data, err, sizeof(err)) != API_OK)
        pam_syslog(pamh, LOG_NOTICE, "event=session.close_failed session=%s detail=%s",
                   (const char *)data, text_escape_log(err, shown, sizeof(shown)));
    login_channel_close(&channel);
    pam_set_data(pamh, SESSION_DATA, NULL, NULL);
    return PAM_SUCCESS;
}
