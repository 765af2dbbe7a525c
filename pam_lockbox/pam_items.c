/* What PAM knows about the login (user, service, remote host, terminal), read and validated
 * once for every stack. */
#include "pam_items.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "lockbox_limits.h"
#include "text.h"

/* PAM_SERVICE is the application's choice ("sshd", "sudo-i"): keep it a valid name. */
void items_service(pam_handle_t *pamh, char *out, size_t out_len)
{
    const void *item = NULL;
    const char *raw = pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS ? item : NULL;
    size_t n = 0;

    for (; raw != NULL && raw[n] != '\0' && n + 1 < out_len && n < LOCKBOX_NAME_MAX; n++) {
        char c = raw[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || (c == '-' && n > 0);
        out[n] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, out_len, "unknown");
}

/* The user, checked as a name and against the password database. */
int items_user(pam_handle_t *pamh, const char **user)
{
    char shown[300];

    if (pam_get_user(pamh, user, NULL) != PAM_SUCCESS || *user == NULL) {
        pam_syslog(pamh, LOG_ERR, "event=login.denied why=no_user");
        return PAM_USER_UNKNOWN;
    }
    if (!text_is_name(*user, LOCKBOX_NAME_MAX) || pam_modutil_getpwnam(pamh, *user) == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "event=login.denied user=%s why=unknown_user",
                   text_escape_log(*user, shown, sizeof(shown)));
        return PAM_USER_UNKNOWN;
    }
    return PAM_SUCCESS;
}

bool items_can_prompt(pam_handle_t *pamh)
{
    const void *item = NULL;

    return pam_get_item(pamh, PAM_CONV, &item) == PAM_SUCCESS && item != NULL &&
           ((const struct pam_conv *)item)->conv != NULL;
}

void items_rhost(pam_handle_t *pamh, char *out, size_t out_len)
{
    const void *item = NULL;

    out[0] = '\0';
    /* A PAM_RHOST that is not plain host text is left out rather than sent: the daemon would
     * refuse the whole call for it, and the login would fail for a cosmetic field. */
    if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL &&
        text_is_host(item, LOCKBOX_RHOST_MAX))
        snprintf(out, out_len, "%s", (const char *)item);
}

void items_ruser(pam_handle_t *pamh, char *out, size_t out_len)
{
    const void *item = NULL;

    out[0] = '\0';
    /* Set by the application (su and sudo name the user who ran them); sshd sets none, so an
     * ssh login's requester stays unknown. A value that is not a plain name is left out. */
    if (pam_get_item(pamh, PAM_RUSER, &item) == PAM_SUCCESS && item != NULL &&
        text_is_name(item, LOCKBOX_NAME_MAX))
        snprintf(out, out_len, "%s", (const char *)item);
}

/* PAM_TTY as sshd, su and login give it ("/dev/pts/3", "pts/3", "ssh"): a device path or
 * nothing. The daemon writes warnings only to a terminal the session user owns. */
void items_tty(pam_handle_t *pamh, char *out, size_t out_len)
{
    const void *item = NULL;
    const char *tty;

    out[0] = '\0';
    if (pam_get_item(pamh, PAM_TTY, &item) != PAM_SUCCESS || item == NULL)
        return;
    tty = item;
    if (strncmp(tty, "/dev/", 5) == 0)
        tty += 5;
    if ((strncmp(tty, "pts/", 4) == 0 || strncmp(tty, "tty", 3) == 0) &&
        strstr(tty, "..") == NULL && text_is_host(tty + (tty[0] == 'p' ? 4 : 0), 32) &&
        strlen(tty) + 6 <= out_len)
        snprintf(out, out_len, "/dev/%s", tty);
}

bool items_ssh_publickey_accepted(pam_handle_t *pamh)
{
    static const char method[] = "publickey ";
    const char *info = pam_getenv(pamh, "SSH_AUTH_INFO_0");

    for (const char *line = info; line != NULL && *line != '\0';) {
        if (strncmp(line, method, sizeof(method) - 1) == 0)
            return true;
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return false;
}
