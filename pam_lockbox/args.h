/* The module's options (the text after pam_lockbox.so on a PAM line), parsed once into a struct
 * that the rest of the module consults. */
#ifndef PAM_LOCKBOX_ARGS_H
#define PAM_LOCKBOX_ARGS_H
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"

#define LOCKBOX_WAIT_DEFAULT_SECONDS 90
/* sun_path holds 108 bytes including the NUL. */
#define LOCKBOX_SOCKET_PATH_MAX 107

enum lockbox_failmode {
    FAILMODE_SECURE, /* daemon unreachable: deny */
    FAILMODE_SAFE,   /* daemon unreachable: allow, and log loudly */
};

struct lockbox_args {
    char socket_path[LOCKBOX_SOCKET_PATH_MAX + 1];
    char tenant[LOCKBOX_NAME_MAX + 1]; /* empty: the daemon's default tenant */
    int wait_seconds;                  /* 0 = never block */
    enum lockbox_failmode failmode;
    bool debug;
    /* Auth stack only: succeed only after sshd accepted a public key for this login (its
     * SSH_AUTH_INFO_0). For "auth [success=done default=die]" lines placed before
     * common-auth, so that skipping the password can never mean "no credential at all". */
    bool publickey_first;
};

/* Fills args from the module's argv. Returns 0, or -1 with a sentence naming the bad option in
 * err: unknown, malformed, out-of-range and repeated options are all refused (fail closed). */
int parse_args(int argc, const char **argv, struct lockbox_args *args, char *err, size_t err_len);

#endif
