/* `approve`, `deny` and `revoke`: an admin's decisions on one request. The daemon enforces
 * who may decide; this file checks the arguments and explains refusals in one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "approve_signed.h"
#include "cli.h"
#include "duration.h"
#include "lockbox_limits.h"
#include "output.h"
#include "text.h"
#include "timefmt.h"

struct decision {
    const char *command;      /* CLI name and API path segment */
    const char *done;         /* "Approved": the start of the confirmation */
    const char *passive;      /* "approved": in "only a pending request can be approved" */
    const char *needed_state; /* the only state the transition starts from, with its article */
    bool takes_duration;      /* approve --for */
};

static const struct decision approve_decision = {"approve", "Approved", "approved", "a pending",
                                                 true};
static const struct decision deny_decision = {"deny", "Denied", "denied", "a pending", false};
static const struct decision revoke_decision = {"revoke", "Revoked", "revoked", "an approved",
                                                false};

struct decision_args {
    const char *id, *comment, *duration;
    struct signed_approve_args signing; /* approve --key: sign the grant statement */
};

/* approve's own options. --key names the signing key there (as in `grant sign`); for deny and
 * revoke it stays the common option, the TLS client key. */
enum { OPT_SIGNING_KEY = 2200, OPT_SIGNING_NAME, OPT_PASSPHRASE_FILE };

static int take_signing_option(const struct decision *what, int opt, struct decision_args *args)
{
    if (!what->takes_duration)
        return cli_usage(what->command, "--name and --passphrase-file go with approve --key");
    if (opt == OPT_SIGNING_KEY)
        args->signing.key_file = optarg;
    else if (opt == OPT_SIGNING_NAME)
        args->signing.name = optarg;
    else
        args->signing.passphrase_file = optarg;
    return -1;
}

static int parse_decision_options(struct cli *cli, const struct decision *what, int argc,
                                  char **argv, struct decision_args *args)
{
    static const struct option options[] = {
        {"comment", required_argument, NULL, 'c'},
        {"for", required_argument, NULL, 'f'},
        {"key", required_argument, NULL, OPT_SIGNING_KEY},
        {"name", required_argument, NULL, OPT_SIGNING_NAME},
        {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;
    int64_t seconds;

    memset(args, 0, sizeof(*args));
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == OPT_SIGNING_KEY && !what->takes_duration)
            opt = OPT_KEY; /* deny, revoke: the TLS client key */
        if (opt >= OPT_SIGNING_KEY && opt <= OPT_PASSPHRASE_FILE) {
            if ((rc = take_signing_option(what, opt, args)) != -1)
                return rc;
        } else if (opt == 'c')
            args->comment = optarg;
        else if (opt == 'f' && what->takes_duration)
            args->duration = optarg;
        else if (opt == 'f')
            return cli_usage(what->command, "unknown option '--for'");
        else if ((rc = cli_common_option(cli, what->command, opt, argv)) != -1)
            return rc;
    }
    if (optind + 1 != argc)
        return cli_usage(what->command, "give exactly one request id");
    args->id = argv[optind];
    if (!cli_is_id_argument(args->id))
        return cli_usage(what->command, CLI_ID_USAGE);
    if (args->comment != NULL && !text_is_clean(args->comment, LOCKBOX_TEXT_MAX))
        return cli_usage(what->command,
                         "--comment must be 1-%d bytes of UTF-8 text without "
                         "control characters, bidi controls or line separators",
                         LOCKBOX_TEXT_MAX);
    if (args->duration != NULL && duration_parse(args->duration, &seconds) != 0)
        return cli_usage(what->command, "--for takes a duration such as 90m, 2h or 1d");
    if (args->signing.key_file == NULL &&
        (args->signing.name != NULL || args->signing.passphrase_file != NULL))
        return cli_usage(what->command, "--name and --passphrase-file go with --key");
    args->signing.duration = args->duration;
    return -1;
}

/* 409: say which state the request is in, which the daemon's generic message may not, and
 * what would do what the admin meant: denying approved access is revoking it. */
static int explain_conflict(const struct cli *cli, const struct decision *what, const char *id)
{
    struct lockbox_request req;

    if (api_get_request(cli, id, &req) != CLI_OK)
        return CLI_FAIL;
    if (what == &deny_decision && req.state == REQUEST_APPROVED)
        return cli_fail("request %s is approved; only a pending request can be denied. To end "
                        "the access it gives, run: lockboxctl revoke %s",
                        id, id);
    if (what == &approve_decision && req.state == REQUEST_PENDING)
        return cli_fail("request %s changed while you signed (another signature landed, or "
                        "another statement was started); run the approve again to sign the "
                        "statement it carries now",
                        id);
    return cli_fail("request %s is %s; only %s request can be %s", id,
                    request_state_name(req.state), what->needed_state, what->passive);
}

static void print_decided(const struct decision *what, const struct lockbox_request *req)
{
    char user[OUT_ESCAPED_MAX], host[OUT_ESCAPED_MAX], tenant[OUT_ESCAPED_MAX];

    printf("%s request %s: %s on %s (tenant %s)", what->done, req->id,
           out_escape(req->user, "-", user, sizeof(user)),
           out_escape(req->host, "-", host, sizeof(host)),
           out_escape(req->tenant, "-", tenant, sizeof(tenant)));
    if (req->state == REQUEST_APPROVED && req->expires_at > 0) {
        char until[TIMEFMT_LEN], relative[64];
        timefmt_rfc3339(req->expires_at, until);
        out_relative(req->expires_at, out_now_ms(), relative, sizeof(relative));
        printf("; access until %s (%s)", until, relative);
    }
    puts(".");
}

/* What a revoke did to the user's sessions. The user and host come from lockboxd's reply:
 * escaped like every other string from it. */
static void print_sessions_ended(const struct lockbox_request *req, int ended, int leftovers,
                                 int kept, const char *kept_by)
{
    char user[OUT_ESCAPED_MAX], host[OUT_ESCAPED_MAX];

    out_escape(req->user, "-", user, sizeof(user));
    out_escape(req->host, "-", host, sizeof(host));
    if (ended >= 0)
        printf("Ended %d live session%s of %s on %s.\n", ended, ended == 1 ? "" : "s", user, host);
    if (leftovers > 0)
        printf("Ended what %d closed session%s of %s left running.\n", leftovers,
               leftovers == 1 ? "" : "s", user);
    if (kept > 0)
        printf("Kept %d session%s: request %s still approves %s on %s.\n", kept,
               kept == 1 ? "" : "s", kept_by, user, host);
}

static int int_member(json_object *obj, const char *key)
{
    json_object *value;
    return json_object_object_get_ex(obj, key, &value) && json_object_is_type(value, json_type_int)
               ? json_object_get_int(value)
               : 0;
}

/* A request id member, or "" when it is missing or not an id. */
static void id_member(json_object *obj, const char *key, char out[LOCKBOX_ID_HEX_LEN + 1])
{
    json_object *value;
    out[0] = '\0';
    if (json_object_object_get_ex(obj, key, &value) &&
        json_object_is_type(value, json_type_string) &&
        text_is_request_id(json_object_get_string(value),
                           (size_t)json_object_get_string_len(value)))
        memcpy(out, json_object_get_string(value), LOCKBOX_ID_HEX_LEN + 1);
}

static int run_decision(struct cli *cli, const struct decision *what, int argc, char **argv)
{
    struct decision_args args;
    struct lockbox_reply reply;
    struct lockbox_request req;
    char path[128], id[LOCKBOX_ID_HEX_LEN + 1];
    int rc = parse_decision_options(cli, what, argc, argv, &args);

    if (rc != -1)
        return rc;
    if (api_resolve_request_id(cli, args.id, id) != CLI_OK)
        return CLI_FAIL;
    char *grant = NULL;
    if (args.signing.key_file != NULL &&
        (rc = approve_sign_request(cli, id, &args.signing, &grant)) != CLI_OK)
        return rc;
    json_object *body = json_object_new_object();
    if (grant != NULL) {
        json_object_object_add(body, "grant", json_object_new_string(grant));
        free(grant);
    } else if (args.duration != NULL)
        json_object_object_add(body, "for", json_object_new_string(args.duration));
    if (args.comment != NULL)
        json_object_object_add(body, "comment", json_object_new_string(args.comment));
    snprintf(path, sizeof(path), "/v1/requests/%s/%s", id, what->command);
    rc = api_call(cli, "POST", path, body, 0, 409, &reply);
    int ended = -1, kept = 0, leftovers = 0; /* revoke: sessions ended, kept; leftovers */
    char kept_by[LOCKBOX_ID_HEX_LEN + 1] = "";
    json_object *count;
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, &req);
    if (rc == CLI_OK && json_object_object_get_ex(reply.body, "sessions_terminated", &count) &&
        json_object_is_type(count, json_type_int)) {
        ended = json_object_get_int(count);
        kept = int_member(reply.body, "sessions_kept");
        leftovers = int_member(reply.body, "leftovers_ended");
        id_member(reply.body, "sessions_kept_by", kept_by);
    } else if (reply.status == 409)
        rc = explain_conflict(cli, what, id);
    json_object *signed_reply = rc == CLI_OK && args.signing.key_file ? json_object_get(reply.body)
                                                                      : NULL;
    lockbox_reply_free(&reply);
    json_object_put(body);
    if (rc != CLI_OK)
        return rc;
    if (signed_reply != NULL && !cli->json) {
        approve_print_signers(&req, signed_reply);
        if (req.state == REQUEST_PENDING) {
            json_object_put(signed_reply);
            return CLI_OK;
        }
    }
    json_object_put(signed_reply);
    if (cli->json) {
        json_object *obj = out_request_json(&req);
        if (ended >= 0) {
            json_object_object_add(obj, "sessions_terminated", json_object_new_int(ended));
            json_object_object_add(obj, "sessions_kept", json_object_new_int(kept));
            json_object_object_add(obj, "leftovers_ended", json_object_new_int(leftovers));
            json_object_object_add(obj, "sessions_kept_by",
                                   kept_by[0] ? json_object_new_string(kept_by) : NULL);
        }
        out_print_json(obj);
        json_object_put(obj);
    } else {
        print_decided(what, &req);
        print_sessions_ended(&req, ended, leftovers, kept, kept_by);
    }
    return CLI_OK;
}

int cmd_approve(struct cli *cli, int argc, char **argv)
{
    return run_decision(cli, &approve_decision, argc, argv);
}

int cmd_deny(struct cli *cli, int argc, char **argv)
{
    return run_decision(cli, &deny_decision, argc, argv);
}

int cmd_revoke(struct cli *cli, int argc, char **argv)
{
    return run_decision(cli, &revoke_decision, argc, argv);
}
