/* Before talking to the daemon: is the socket where only root could have put it? */
#ifndef PAM_LOCKBOX_SOCKET_CHECK_H
#define PAM_LOCKBOX_SOCKET_CHECK_H
#include <stddef.h>

/* Returns 0 when path is a Unix socket (not a symlink) in a directory owned by root that
 * neither group nor others may write; else -1 with the reason in err. A refused socket counts
 * as an unreachable daemon: anyone able to plant one could answer "allowed". */
int socket_check(const char *path, char *err, size_t err_len);

#endif
