/* Before talking to the daemon: is the socket where only root could have put it? */
#ifndef PAM_LOCKBOX_SOCKET_CHECK_H
#define PAM_LOCKBOX_SOCKET_CHECK_H
#include <stddef.h>

enum socket_verdict {
    SOCKET_OK,     /* a Unix socket (not a symlink) in a directory owned by root that neither
                    * group nor others may write */
    SOCKET_ABSENT, /* no socket, or no directory: lockboxd is provably not running */
    SOCKET_UNSAFE, /* anything else: whoever could plant it could answer "allowed", so this is
                    * an attack or a broken setup, never an outage (failmode does not apply) */
};

/* The verdict, with the reason in err unless SOCKET_OK. */
enum socket_verdict socket_check(const char *path, char *err, size_t err_len);

#endif
