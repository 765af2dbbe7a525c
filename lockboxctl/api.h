/* lockboxctl's calls to lockboxd (lib/client.h) and the one-line errors when one fails. */
#ifndef LOCKBOXCTL_API_H
#define LOCKBOXCTL_API_H
#include <json-c/json.h>

#include "cli.h"
#include "client.h"
#include "lockbox_limits.h"
#include "request.h"

/* Calls lockboxd. Returns CLI_OK for a 2xx reply with a JSON object body; otherwise prints
 * one line on stderr and returns CLI_FAIL, except for a reply whose status equals
 * `quiet_status` (0: none), which is returned as CLI_FAIL without a message so that the
 * caller can explain it better. A total_timeout_ms of 0 uses the client's default. The
 * caller frees reply with lockbox_reply_free() in every case. */
int api_call(const struct cli *cli, const char *method, const char *path, json_object *body,
             long total_timeout_ms, long quiet_status, struct lockbox_reply *reply);

/* Parses a request object out of a reply; prints an error and returns CLI_FAIL if malformed. */
int api_parse_request(json_object *obj, struct lockbox_request *req);

/* Completes what the user typed for a request id (cli_is_id_argument) into a whole id. A
 * prefix is looked up with GET /v1/requests?state=all&id_prefix=, which lists only what the
 * caller may read, so a prefix never reveals another user's request; it must match exactly
 * one. Otherwise prints one line (none, or the candidates) and returns CLI_FAIL. */
int api_resolve_request_id(const struct cli *cli, const char *typed,
                           char id[LOCKBOX_ID_HEX_LEN + 1]);

/* GET /v1/requests/{id} into req, also handing back the whole reply (a new reference). */
int api_get_request_reply(const struct cli *cli, const char *id, struct lockbox_request *req,
                          json_object **whole);
/* The array (object) member key of obj as a new reference, or NULL. */
json_object *api_array_member(json_object *obj, const char *key);
json_object *api_object_member(json_object *obj, const char *key);

/* GET /v1/requests/{id} into req. */
int api_get_request(const struct cli *cli, const char *id, struct lockbox_request *req);
/* The same, also handing back the "notifications" and "sessions" arrays and, at central, the
 * "host_sessions" object (new references, or NULL; any pointer may be NULL). */
int api_get_request_with_notifications(const struct cli *cli, const char *id,
                                       struct lockbox_request *req, json_object **notifications,
                                       json_object **sessions, json_object **host_sessions);

#endif
