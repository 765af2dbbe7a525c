/* Local or remote: which door of lockboxd a call goes through, from --socket/--server, the
 * environment and client.conf (command line > environment > client.conf). */
#ifndef LOCKBOXCTL_REMOTE_H
#define LOCKBOXCTL_REMOTE_H
#include <stdbool.h>
#include <stddef.h>

#include "client_conf.h"
#include "lockbox_limits.h"

/* What the command line and the environment say; conf is NULL when none was read. */
struct remote_inputs {
    const char *server_flag, *cert_flag, *key_flag, *ca_flag; /* NULL when not given */
    bool socket_flag;                                         /* --socket was given */
    const char *server_env;                                   /* LOCKBOX_SERVER or NULL */
    bool socket_env;                                          /* LOCKBOX_SOCKET is set */
    const struct client_conf *conf;
};

/* One TLS file and where its name came from, for messages ("--key" or the conf's path). */
struct remote_file {
    char path[LOCKBOX_PATH_MAX + 1];
    const char *origin;
};

struct remote_target {
    bool resolved, remote; /* remote false: the Unix socket */
    int rc;                /* the outcome of the first resolution, repeated on later calls */
    char server[LOCKBOX_SERVER_URL_MAX + 16]; /* canonical https://HOST:PORT */
    const char *server_origin;                /* "--server", "LOCKBOX_SERVER" or the conf */
    struct remote_file cert, key, ca;
};

/* Whether client.conf must be read to decide (it is not read when the command line settles
 * everything, so a broken file never gets in the way of --socket). */
bool remote_needs_conf(const struct remote_inputs *in);

/* The pure decision. Returns 0 with target filled (remote or not), or -1 with a one-line
 * reason in err. */
int remote_choose(const struct remote_inputs *in, struct remote_target *target, char *err,
                  size_t err_len);

/* Checks that the TLS files can be read, and that the key is private to its owner (like
 * ssh, a key others may read is refused). Returns 0, or -1 with a reason in err. */
int remote_check_files(const struct remote_target *target, char *err, size_t err_len);

#endif
