/* Maps lockboxd's replies to lockboxctl's exit codes and error lines. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "client_conf.h"
#include "output.h"
#include "remote.h"
#include "remote_errors.h"
#include "request_json.h"

static int report_transport_failure(const struct cli *cli, const struct lockbox_reply *reply)
{
    char socket[OUT_ESCAPED_MAX], error[OUT_ESCAPED_MAX];

    if (cli->target->remote)
        return remote_report_failure(cli->target, reply);
    out_escape(cli->socket_path, "", socket, sizeof(socket));
    if (reply->failure == LOCKBOX_FAILURE_UNREACHABLE)
        return cli_fail("cannot reach lockboxd at %s (is lockboxd running? set --socket or "
                        "LOCKBOX_SOCKET)",
                        socket);
    return cli_fail("%s", out_escape(reply->error, "lockboxd call failed", error, sizeof(error)));
}

/* Decides once per run whether lockboxd is local or remote (remote.h); client.conf is read
 * only when the command line and environment leave it open. */
static int decide_target(const struct cli *cli, struct remote_target *target)
{
    struct remote_inputs in = {
        .server_flag = cli->server_flag,
        .cert_flag = cli->cert_flag,
        .key_flag = cli->key_flag,
        .ca_flag = cli->ca_flag,
        .socket_flag = cli->socket_flag,
        .server_env = cli->server_env,
        .socket_env = cli->socket_env,
        .conf = NULL,
    };
    static struct client_conf conf;
    char home[LOCKBOX_PATH_MAX + 1], path[LOCKBOX_PATH_MAX + 1], err[1024];
    char shown[OUT_ESCAPED_MAX];
    bool found = false;

    if (remote_needs_conf(&in) && client_conf_home(home, sizeof(home)) == 0 &&
        client_conf_path(home, path, sizeof(path)) == 0) {
        if (client_conf_load(path, home, &conf, &found, err, sizeof(err)) != 0)
            return cli_fail("%s", out_escape(err, "", shown, sizeof(shown)));
        in.conf = found ? &conf : NULL;
    }
    if (remote_choose(&in, target, err, sizeof(err)) != 0 ||
        (target->remote && remote_check_files(target, err, sizeof(err)) != 0))
        return cli_fail("%s", out_escape(err, "", shown, sizeof(shown)));
    return CLI_OK;
}

int api_call(const struct cli *cli, const char *method, const char *path, json_object *body,
             long total_timeout_ms, long quiet_status, struct lockbox_reply *reply)
{
    struct remote_target *target = cli->target;

    memset(reply, 0, sizeof(*reply)); /* the caller frees it whatever happens */
    if (!target->resolved) {
        target->rc = decide_target(cli, target);
        target->resolved = true;
    }
    if (target->rc != CLI_OK)
        return CLI_FAIL;
    struct lockbox_client client = {
        .socket_path = target->remote ? NULL : cli->socket_path,
        .server_url = target->remote ? target->server : NULL,
        .tls = {target->ca.path, target->cert.path, target->key.path},
        .connect_timeout_ms = 0,
        .total_timeout_ms = total_timeout_ms,
    };

    if (lockbox_call(&client, method, path, body, reply) != 0)
        return report_transport_failure(cli, reply);
    if (target->remote && reply->status == 403 &&
        strcmp(reply->error_code, "certificate_refused") == 0)
        return remote_report_certificate_refused(target, reply);
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

/* At most this many candidates are named when a prefix is ambiguous (the line stays short);
 * the daemon is asked for a few more, so that "and N more" counts. */
#define CANDIDATES_SHOWN 4
#define CANDIDATES_ASKED 100

struct candidates {
    char ids[CANDIDATES_SHOWN][LOCKBOX_ID_HEX_LEN + 1];
    const char *states[CANDIDATES_SHOWN];
    size_t n;
};

static void add_candidate(struct candidates *found, const char *typed, json_object *obj)
{
    struct lockbox_request req;
    char err[160];

    /* Whatever the daemon sends, only an id that starts with what was typed can be meant. */
    if (request_from_json(obj, &req, err, sizeof(err)) != 0 || !cli_is_request_id(req.id) ||
        strncmp(req.id, typed, strlen(typed)) != 0)
        return;
    if (found->n < CANDIDATES_SHOWN) {
        memcpy(found->ids[found->n], req.id, sizeof(found->ids[0]));
        found->states[found->n] = request_state_name(req.state);
    }
    found->n++;
}

static int report_ambiguous(const char *typed, const struct candidates *found)
{
    char list[CANDIDATES_SHOWN * (LOCKBOX_ID_HEX_LEN + 24)] = "";
    size_t used = 0;

    for (size_t i = 0; i < found->n && i < CANDIDATES_SHOWN; i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s (%s)", i ? ", " : "",
                         found->ids[i], found->states[i]);
        if (n < 0 || (size_t)n >= sizeof(list) - used)
            break;
        used += (size_t)n;
    }
    return cli_fail("request id %s is ambiguous: %s%zu requests start with it: %s%s; type more "
                    "of it",
                    typed, found->n >= CANDIDATES_ASKED ? "at least " : "", found->n, list,
                    found->n > CANDIDATES_SHOWN ? ", ..." : "");
}

int api_resolve_request_id(const struct cli *cli, const char *typed,
                           char id[LOCKBOX_ID_HEX_LEN + 1])
{
    struct lockbox_reply reply;
    struct candidates found = {.n = 0};
    json_object *array;
    char path[128];

    if (cli_is_request_id(typed)) {
        memcpy(id, typed, LOCKBOX_ID_HEX_LEN + 1);
        return CLI_OK;
    }
    if (!cli_is_id_argument(typed)) /* the commands check first; hex needs no escaping */
        return cli_fail(CLI_ID_USAGE);
    snprintf(path, sizeof(path), "/v1/requests?state=all&id_prefix=%s&limit=%d", typed,
             CANDIDATES_ASKED);
    int rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK && (!json_object_object_get_ex(reply.body, "requests", &array) ||
                         !json_object_is_type(array, json_type_array)))
        rc = cli_fail("lockboxd sent a list without a \"requests\" array");
    for (size_t i = 0; rc == CLI_OK && i < json_object_array_length(array); i++)
        add_candidate(&found, typed, json_object_array_get_idx(array, i));
    lockbox_reply_free(&reply);
    if (rc != CLI_OK)
        return rc;
    if (found.n == 0)
        return cli_fail("no request you may read has an id starting with %s", typed);
    if (found.n > 1)
        return report_ambiguous(typed, &found);
    memcpy(id, found.ids[0], LOCKBOX_ID_HEX_LEN + 1);
    return CLI_OK;
}

int api_get_request(const struct cli *cli, const char *id, struct lockbox_request *req)
{
    return api_get_request_with_notifications(cli, id, req, NULL, NULL, NULL);
}

static json_object *array_field(json_object *obj, const char *key)
{
    json_object *list;
    if (json_object_object_get_ex(obj, key, &list) && json_object_is_type(list, json_type_array))
        return json_object_get(list);
    return NULL;
}

json_object *api_array_member(json_object *obj, const char *key)
{
    return obj != NULL ? array_field(obj, key) : NULL;
}

json_object *api_object_member(json_object *obj, const char *key)
{
    json_object *member;
    return obj != NULL && json_object_object_get_ex(obj, key, &member) &&
                   json_object_is_type(member, json_type_object)
               ? json_object_get(member)
               : NULL;
}

int api_get_request_reply(const struct cli *cli, const char *id, struct lockbox_request *req,
                          json_object **whole)
{
    struct lockbox_reply reply;
    char path[96];

    *whole = NULL;
    snprintf(path, sizeof(path), "/v1/requests/%s", id);
    int rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, req);
    if (rc == CLI_OK)
        *whole = json_object_get(reply.body);
    lockbox_reply_free(&reply);
    return rc;
}

int api_get_request_with_notifications(const struct cli *cli, const char *id,
                                       struct lockbox_request *req, json_object **notifications,
                                       json_object **sessions, json_object **host_sessions)
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
    json_object *report;
    if (rc == CLI_OK && host_sessions != NULL &&
        json_object_object_get_ex(reply.body, "host_sessions", &report) &&
        json_object_is_type(report, json_type_object))
        *host_sessions = json_object_get(report);
    lockbox_reply_free(&reply);
    return rc;
}
