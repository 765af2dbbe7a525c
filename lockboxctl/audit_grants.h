/* `audit verify --keys FILE`: besides the chain, each record that carries a signed grant is
 * checked offline against the tenant's pinned keys as they stood when it was recorded (key
 * history: a key revoked later still counts for an older record). */
#ifndef LOCKBOXCTL_AUDIT_GRANTS_H
#define LOCKBOXCTL_AUDIT_GRANTS_H
#include <stddef.h>
#include <stdint.h>

#include "approver_keys.h"
#include "lockbox_limits.h"

struct audit_grant_check {
    struct approver_keys keys;
    unsigned required; /* counted signers a request.approved record needs (--required) */
    uint64_t grants_checked;
    /* The tenant whose keys these are (--tenant, an export's header, or else the tenant of the
     * first grant seen): each of its request.approved records in format 2 from then on must
     * carry a grant, or it is an approval nobody signed. */
    char tenant[LOCKBOX_NAME_MAX + 1];
};

/* Loads the keys file into a new checker (tenant: NULL when not known yet); NULL after a
 * message. */
struct audit_grant_check *audit_grants_open(const char *keys_file, unsigned required,
                                            const char *tenant);
void audit_grants_set_tenant(struct audit_grant_check *check, const char *tenant);
/* Checks the grant of one verified record, if it has one. 0, or -1 with error naming
 * `where`, the record's seq and what is wrong. */
int audit_grants_check_line(struct audit_grant_check *check, const char *line, size_t len,
                            const char *where, char *error, size_t error_len);

#endif
