/* Signed grants in the daemon (Step 16): gathering approvers' signatures at approve, and
 * verifying the stored grant wherever access is granted, so that an approval nobody signed
 * (a row set to approved in the database, a central that says so) grants nothing. */
#ifndef LOCKBOXD_SERVICE_GRANTS_H
#define LOCKBOXD_SERVICE_GRANTS_H
#include <stdbool.h>
#include <json-c/json.h>
#include <stdint.h>

#include "service.h"

/* Does this tenant take only signed approvals (signed_approvals = required)? */
bool service_tenant_signs(const struct service *svc, const char *tenant);

/* What an approve with a grant did. */
struct grant_outcome {
    bool quorum_reached; /* the request may now be approved, for access_ms */
    int64_t access_ms;   /* until the statement's not-after, at most access_ttl */
    unsigned counted, required;
};

/* Checks `grant_text` against the request (pending, the caller already allowed to decide),
 * merges its new valid signatures into req->grant and records grant.signed. The result's
 * status is 200, or the refusal (400 no or bad grant, 409 another statement, 5xx store).
 * *stored_state stays the state the row is in. */
struct service_result service_grant_sign(struct service *svc, const struct identity *who,
                                         struct lockbox_request *req, int stored_state,
                                         const char *grant_text, const struct lockbox_clock *now,
                                         struct grant_outcome *outcome);

/* May this approval grant access to host now? For a tenant without signed approvals, yes.
 * Otherwise only when its stored grant verifies now (pinned keys not revoked, quorum, fields,
 * window); when it does not, event=grant.invalid is logged at LOG_ALERT (once per request).
 * Positive results are cached per request and grant until the keys change. */
bool service_grant_holds(struct service *svc, const struct lockbox_request *req, const char *host,
                         const struct lockbox_clock *now);

/* The request object as the API serves it: request_to_json() and the tenant's
 * approvals_required (how many signers release it). */
json_object *service_request_json(const struct service *svc, const struct lockbox_request *req);

/* SIGHUP read the keys again: forget every cached verification. */
void service_grants_keys_changed(struct service *svc);
void service_grants_free(struct service *svc);

#endif
