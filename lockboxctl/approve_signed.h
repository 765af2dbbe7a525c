/* `approve ID --key FILE`: the approver's signature on the request's grant statement, made
 * on the approver's machine, for a tenant whose approvals must be signed (Step 16). */
#ifndef LOCKBOXCTL_APPROVE_SIGNED_H
#define LOCKBOXCTL_APPROVE_SIGNED_H
#include <json-c/json.h>

#include "cli.h"
#include "request.h"

struct signed_approve_args {
    const char *key_file, *passphrase_file, *name;
    const char *duration; /* --for: the window of a new statement (default 1h) */
};

/* Signs the statement the request already carries (shown first), or a new one for it, and
 * hands back the grant to send (malloc'd). CLI_OK, or an exit code after a message. */
int approve_sign_request(const struct cli *cli, const char *id,
                         const struct signed_approve_args *args, char **grant_text);
/* After the approve: "Signed by alice (1 of 2); ..." while the request waits for more. */
void approve_print_signers(const struct lockbox_request *req, json_object *reply);

#endif
