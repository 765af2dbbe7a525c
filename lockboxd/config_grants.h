/* A tenant's signed-approval settings in lockboxd.conf (Step 16): approver_keys,
 * signed_approvals, approvals_required, and the pinned keys file they name, read at start
 * and again on SIGHUP. */
#ifndef LOCKBOXD_CONFIG_GRANTS_H
#define LOCKBOXD_CONFIG_GRANTS_H
#include <stdbool.h>
#include <stddef.h>

#include "approver_keys.h"
#include "lockbox_limits.h"

#define CONFIG_APPROVALS_REQUIRED_MAX 16

struct tenant_grants {
    char keys_path[LOCKBOX_PATH_MAX]; /* approver_keys ("" when not set) */
    bool required;                    /* signed_approvals = required */
    unsigned approvals_required;      /* N distinct signers, 1..16 */
    struct approver_keys *keys;       /* the pinned keys as last read (NULL: none) */
};

/* Takes one [tenant] key that is this file's: 1 taken, 0 bad value (err says why), -1 not
 * one of these keys. */
int config_grants_key(struct tenant_grants *grants, const char *key, const char *value, char *err,
                      size_t err_len);
/* After the parse: the settings agree with each other, and the keys file is safe to trust
 * (root-owned, not writable by others) and parses. config_path and tenant name the place in
 * errors ("FILE:LINE: [tenant T] ..."). 0 or -1. */
int config_grants_check(struct tenant_grants *grants, const char *config_path, const char *tenant,
                        char *err, size_t err_len);
/* SIGHUP: reads the keys file again. On failure the keys read before stay in use. 0 or -1. */
int config_grants_reload(struct tenant_grants *grants, char *err, size_t err_len);
void config_grants_free(struct tenant_grants *grants);

#endif
