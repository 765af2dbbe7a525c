/* Maps lockboxd's replies to lockboxctl's exit codes and error lines. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "output.h"
#include "request_json.h"

static int report_transport_failure(const struct cli *cli, const struct lockbox_reply *reply)
{
    char socket[OUT_ESCAPED_MAX], error[OUT_ESCAPED_MAX];

    out_escape(cli->socket_path, "", socket, sizeof(socket));
    if (reply->status == 0 && strncmp(reply->error, "cannot reach", 12) == 0)
        return cli_fail("cannot reach lockboxd at %s (is lockboxd running? set --socket or "
                        "LOCKBOX_SOCKET)",
                        socket);
    return cli_fail("%s", out_escape(reply->error, "lockboxd call failed", error, sizeof(error)));
}

int api_call(const struct cli *cli, const char *method, const char *path, json_object *body,
             long total_timeout_ms, long quiet_status, struct lockbox_reply *reply)
{
    struct lockbox_client client = {
        .socket_path = cli->socket_path,
        .connect_timeout_ms = 0,
        .total_timeout_ms = total_timeout_ms,
    };

    if (lockbox_call(&client, method, path, body, reply) != 0)
        return report_transport_failure(cli, reply);
    if (reply->status == quiet_status)
        return CLI_FAIL;
    if (reply->status < 200 || reply->status > 299) {
        char error[OUT_ESCAPED_MAX];
        return cli_fail("%s", out_escape(reply->error, "lockboxd refused the call", error,
                                         sizeof(error)));
    }
    if (reply->body == NULL || !json_object_is_type(reply->body, json_type_object))
        return cli_fail("lockboxd sent an unexpected reply to %s %s", method, path);
    return CLI_OK;
}

int api_parse_request(json_object *obj, struct lockbox_request *req)
{
    char err[160];

    if (request_from_json(obj, req, err, sizeof(err)) != 0) {
        char escaped[OUT_ESCAPED_MAX];
        return cli_fail("lockboxd sent a malformed request: %s",
                        out_escape(err, "", escaped, sizeof(escaped)));
    }
    /* Ids are printed and put into paths unescaped from here on. */
    if (!cli_is_request_id(req->id))
        return cli_fail("lockboxd sent a request with a malformed id");
    return CLI_OK;
}

int api_get_request(const struct cli *cli, const char *id, struct lockbox_request *req)
{
    return api_get_request_with_notifications(cli, id, req, NULL, NULL);
}

static json_object *array_field(json_object *obj, const char *key)
{
    json_object *list;
    if (json_object_object_get_ex(obj, key, &list) && json_object_is_type(list, json_type_array))
        return json_object_get(list);
    return NULL;
}

int api_get_request_with_notifications(const struct cli *cli, const char *id,
                                       struct lockbox_request *req, json_object **notifications,
                                       json_object **sessions)
{
    struct lockbox_reply reply;
    char path[96];

    snprintf(path, sizeof(path), "/v1/requests/%s", id);
    int rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, req);
    if (rc == CLI_OK && notifications != NULL)
        *notifications = array_field(reply.body, "notifications");
    if (rc == CLI_OK && sessions != NULL)
        *sessions = array_field(reply.body, "sessions");
    lockbox_reply_free(&reply);
    return rc;
}
