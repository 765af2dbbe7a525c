/* Reading PAM items, validated. */
#ifndef PAM_LOCKBOX_PAM_ITEMS_H
#define PAM_LOCKBOX_PAM_ITEMS_H
#include <stdbool.h>
#include <stddef.h>
#include <security/pam_appl.h>

#define EXPORTED __attribute__((visibility("default")))

/* PAM_USER, a valid name of an existing account; PAM_USER_UNKNOWN otherwise (logged). */
int items_user(pam_handle_t *pamh, const char **user);
/* PAM_SERVICE made a valid name ("unknown" when absent). */
void items_service(pam_handle_t *pamh, char *out, size_t out_len);
/* PAM_RHOST when it is plain host text, else empty. */
void items_rhost(pam_handle_t *pamh, char *out, size_t out_len);
/* PAM_RUSER as su and sudo set it (the invoking user), when it is a plain name; else "". */
void items_ruser(pam_handle_t *pamh, char *out, size_t out_len);
/* PAM_TTY as "/dev/pts/N" or "/dev/ttyN", else empty. */
void items_tty(pam_handle_t *pamh, char *out, size_t out_len);
/* Has the application given a conversation function? */
bool items_can_prompt(pam_handle_t *pamh);

/* True when sshd reports, in the PAM environment it sets itself before every
 * keyboard-interactive and account stack (SSH_AUTH_INFO_0, one "method details" line per
 * method already passed), that a public key was accepted for this login. */
bool items_ssh_publickey_accepted(pam_handle_t *pamh);

#endif
