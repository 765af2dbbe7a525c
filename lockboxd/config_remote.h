/* lockboxd.conf's [remote] section: the TLS listener for callers with client certificates. */
#ifndef LOCKBOXD_CONFIG_REMOTE_H
#define LOCKBOXD_CONFIG_REMOTE_H
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"

struct remote_config {
    bool present;                           /* the section is there: a TCP listener runs */
    char listen_host[LOCKBOX_HOST_MAX + 1]; /* "127.0.0.1", "::1" (no brackets), a name */
    char listen_port[8];
    char certificate[LOCKBOX_PATH_MAX]; /* the server's certificate (chain), PEM */
    char key[LOCKBOX_PATH_MAX];         /* its private key, PEM: root's, mode 0600 or 0400 */
    char client_ca[LOCKBOX_PATH_MAX];   /* CA(s) whose client certificates are accepted */
    char crl[LOCKBOX_PATH_MAX];         /* optional CRL of that CA; "" = none */
    /* Open TLS connections at most (0: the default, REMOTE_CONNECTIONS_DEFAULT). A central
     * holds one per agent host, so it needs more than a host serving a few admins. */
    unsigned max_connections;
    /* Set from [daemon] role = central: nearly every descriptor is for the TLS listener (a
     * central's login socket serves its own host only), so it keeps a fixed reserve rather
     * than three quarters of the descriptor limit. */
    bool central;
};

#define REMOTE_CENTRAL_FD_RESERVE 1024

#define REMOTE_CONNECTIONS_DEFAULT 4096
#define REMOTE_CONNECTIONS_MIN 16
#define REMOTE_CONNECTIONS_MAX 262144

/* One key = value of [remote]. Returns 0, or -1 with why. */
int config_remote_key(struct remote_config *remote, const char *key, const char *value, char *why,
                      size_t why_len);
/* Whether a present section has all it needs. Returns 0, or -1 with why. */
int config_remote_check(const struct remote_config *remote, char *why, size_t why_len);
/* "HOST:PORT" or "[V6]:PORT" into host and port. Pure. Returns 0 or -1. */
int config_remote_parse_listen(const char *value, char *host, size_t host_len, char *port,
                               size_t port_len);

#endif
