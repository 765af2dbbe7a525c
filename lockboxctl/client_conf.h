/* ~/.config/lockbox/client.conf: where lockboxctl finds lockboxd's server, the caller's
 * certificate and key, and the CA that pins the server (lockboxctl(1), REMOTE USE). */
#ifndef LOCKBOXCTL_CLIENT_CONF_H
#define LOCKBOXCTL_CLIENT_CONF_H
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"

struct client_conf {
    char path[LOCKBOX_PATH_MAX + 1];
    char server[LOCKBOX_SERVER_URL_MAX + 1]; /* as written; "" when absent */
    char certificate[LOCKBOX_PATH_MAX + 1];  /* ~ expanded; "" when absent */
    char key[LOCKBOX_PATH_MAX + 1];
    char ca[LOCKBOX_PATH_MAX + 1];
};

/* The caller's home: $HOME, else the password database's. Returns -1 when there is none. */
int client_conf_home(char *out, size_t out_len);
/* HOME/.config/lockbox/client.conf. Returns -1 when it does not fit. */
int client_conf_path(const char *home, char *out, size_t out_len);

/* Expands a leading "~/" (or a lone "~") to home. Paths must be absolute once expanded:
 * relative ones would depend on the directory lockboxctl happens to run in. Returns 0, or
 * -1 with a reason in err. */
int client_conf_expand_path(const char *value, const char *home, char *out, size_t out_len,
                            char *err, size_t err_len);

/* Reads path into conf. A file that does not exist is not an error (*found = false), nor is
 * one we may not open in a home that belongs to someone else (after su or sudo). A file
 * that others may write, or that belongs to someone else, is refused: whoever writes it
 * chooses the server and the CA the caller trusts. Returns 0, or -1 with "PATH[:LINE]: why"
 * in err. */
int client_conf_load(const char *path, const char *home, struct client_conf *conf, bool *found,
                     char *err, size_t err_len);

#endif
