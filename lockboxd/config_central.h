/* lockboxd.conf's [central] section: where an agent takes its requests and decisions from. */
#ifndef LOCKBOXD_CONFIG_CENTRAL_H
#define LOCKBOXD_CONFIG_CENTRAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

enum central_offline {
    CENTRAL_OFFLINE_STRICT, /* central unreachable: nobody is admitted */
    CENTRAL_OFFLINE_GRACE,  /* held approvals are honoured for offline_grace after a sync */
};

#define CENTRAL_GRACE_MIN_SECONDS 60
#define CENTRAL_GRACE_MAX_SECONDS (12 * 3600)
#define CENTRAL_GRACE_DEFAULT_SECONDS 3600

struct central_config {
    bool present;
    char url[LOCKBOX_SERVER_URL_MAX + 1]; /* https://HOST:PORT, no path */
    char certificate[LOCKBOX_PATH_MAX];   /* the host's client certificate */
    char key[LOCKBOX_PATH_MAX];           /* its key: root's alone */
    char ca[LOCKBOX_PATH_MAX];            /* the CA that signed central's server certificate */
    enum central_offline offline;
    int64_t offline_grace_s;
};

/* One key = value of [central]. Returns 0, or -1 with why. */
int config_central_key(struct central_config *central, const char *key, const char *value,
                       char *why, size_t why_len);
/* Whether a present section has all it needs, and its key file is root's alone (read here:
 * a key others can read is a host identity anyone on the host can borrow). 0, or -1. */
int config_central_check(const struct central_config *central, char *why, size_t why_len);
/* The whole configuration's side of it: [central] exactly when role = agent, and then
 * complete. line: where [central] starts (0: absent); role_line: where role is set. 0, or -1
 * with "FILE:LINE: why". */
struct lockboxd_config;
int config_central_validate(const struct lockboxd_config *config, int line, int role_line,
                            char *err, size_t err_len);
/* Is url an https URL of a host and optional port, nothing more? Pure. */
bool config_central_url_ok(const char *url);

#endif
