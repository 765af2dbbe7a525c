/* A host's feed at role=central (GET /v1/hosts/self/requests): the requests an agent must
 * hold, and a version that changes whenever one of them does. Pure: building, sealing and
 * showing an answer, the query's `known` list and the waiter key; the service fills it from
 * the store (service_host_feed). */
#ifndef LOCKBOXD_HOST_FEED_H
#define LOCKBOXD_HOST_FEED_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"
#include "request.h"

#define HOST_FEED_KNOWN_MAX 200           /* ids in one call's known= */
#define HOST_FEED_WAIT_DEFAULT_SECONDS 25 /* wait= when absent */
#define HOST_FEED_WAIT_MAX_SECONDS 60
#define HOST_FEED_VERSION_LEN 32 /* hex characters */
#define HOST_FEED_SINCE_MAX 64   /* a since= longer than this is not a version of ours */

struct host_feed {
    const char *host, *tenant; /* not owned */
    struct lockbox_request *requests;
    size_t count, cap;
    char version[HOST_FEED_VERSION_LEN + 1]; /* set by host_feed_seal() */
};

/* Adds req unless a request with its id is in already. Returns 0, or -1 out of memory. */
int host_feed_add(struct host_feed *feed, const struct lockbox_request *req);
bool host_feed_has(const struct host_feed *feed, const char *id);
/* Orders the requests by id and computes the version from what they say, so the same
 * requests in the same states give the same version on every central instance and after a
 * restart. Returns 0, or -1 when the version cannot be computed. */
int host_feed_seal(struct host_feed *feed);
/* {"host", "tenant", "version", "requests": [...]} */
json_object *host_feed_to_json(const struct host_feed *feed);
void host_feed_free(struct host_feed *feed);

/* Parses known= ("ID,ID,..."): at most max well-formed ids. Returns 0 with *count, or -1. */
int host_feed_parse_known(const char *text, char (*ids)[LOCKBOX_ID_HEX_LEN + 1], size_t max,
                          size_t *count);
/* The key a host's suspended feed calls wait under in the waiters' set: "h:" and 30 hex
 * characters of a hash of the name. It never equals a request id (those are all hex). */
void host_feed_waiter_key(const char *host, char key[LOCKBOX_ID_HEX_LEN + 1]);
bool host_feed_is_waiter_key(const char *key);

#endif
