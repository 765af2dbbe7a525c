/* `request` and `wait`: an engineer files a request ahead of logging in, then blocks on the
 * daemon's long-poll until someone decides it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cli.h"
#include "lockbox_limits.h"
#include "monotonic.h"
#include "output.h"
#include "text.h"
#include "timefmt.h"

/* Each long-poll asks for at most this much, so that a restarted daemon or a lost
 * connection is noticed; a terminal's status line is refreshed once per poll. */
#define WAIT_CHUNK_SECONDS 300
#define WAIT_CHUNK_TTY_SECONDS 60
#define WAIT_MARGIN_MS 15000
#define WAIT_TIMEOUT_MAX (366LL * 24 * 3600)

struct request_args {
    const char *reason, *tenant, *host;
};

static int parse_request_options(struct cli *cli, int argc, char **argv, struct request_args *args)
{
    static const struct option options[] = {
        {"reason", required_argument, NULL, 'r'},
        {"tenant", required_argument, NULL, 't'},
        {"host", required_argument, NULL, 'H'},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;

    *args = (struct request_args){NULL, NULL, NULL};
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 'r')
            args->reason = optarg;
        else if (opt == 't')
            args->tenant = optarg;
        else if (opt == 'H')
            args->host = optarg;
        else if ((rc = cli_common_option(cli, "request", opt, argv)) != -1)
            return rc;
    }
    if (optind < argc)
        return cli_usage("request", "unexpected argument (put the reason after --reason)");
    if (args->reason == NULL)
        return cli_usage("request", "--reason is required, e.g. --reason \"INC-4711 disk full\"");
    if (!text_is_clean(args->reason, LOCKBOX_TEXT_MAX))
        return cli_usage("request",
                         "--reason must be 1-%d bytes of UTF-8 text without control "
                         "characters (no escape sequences or newlines), bidi controls "
                         "or line separators",
                         LOCKBOX_TEXT_MAX);
    if (args->tenant != NULL && !text_is_name(args->tenant, LOCKBOX_NAME_MAX))
        return cli_usage("request", "--tenant must be a name of [A-Za-z0-9._-]");
    if (args->host != NULL && !text_is_host(args->host, LOCKBOX_HOST_MAX))
        return cli_usage("request", "--host must be a host name or address");
    return -1;
}

static void print_filed(const struct lockbox_request *req, bool is_new)
{
    char user[OUT_ESCAPED_MAX], host[OUT_ESCAPED_MAX], tenant[OUT_ESCAPED_MAX];

    out_escape(req->user, "-", user, sizeof(user));
    out_escape(req->host, "-", host, sizeof(host));
    out_escape(req->tenant, "-", tenant, sizeof(tenant));
    if (req->state != REQUEST_PENDING) {
        printf("Request %s for %s on %s (tenant %s) is %s.\n", req->id, user, host, tenant,
               request_state_name(req->state));
        return;
    }
    printf("%s %s %s for %s on %s (tenant %s); waiting for a %s admin. Run: lockboxctl wait %s\n",
           is_new ? "Request" : "You already have pending request", req->id,
           is_new ? "filed" : "(nothing new filed)", user, host, tenant, tenant, req->id);
}

int cmd_request(struct cli *cli, int argc, char **argv)
{
    struct request_args args;
    struct lockbox_reply reply;
    struct lockbox_request req;
    int rc = parse_request_options(cli, argc, argv, &args);

    if (rc != -1)
        return rc;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "reason", json_object_new_string(args.reason));
    if (args.tenant != NULL)
        json_object_object_add(body, "tenant", json_object_new_string(args.tenant));
    if (args.host != NULL)
        json_object_object_add(body, "host", json_object_new_string(args.host));
    rc = api_call(cli, "POST", "/v1/requests", body, 0, 0, &reply);
    long status = reply.status;
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, &req);
    lockbox_reply_free(&reply);
    json_object_put(body);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        json_object *obj = out_request_json(&req);
        out_print_json(obj);
        json_object_put(obj);
    } else {
        print_filed(&req, status == 201);
    }
    return CLI_OK;
}

static int parse_wait_options(struct cli *cli, int argc, char **argv, const char **id,
                              long long *timeout_seconds)
{
    static const struct option options[] = {
        {"timeout", required_argument, NULL, 'T'},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;
    char *end;

    *timeout_seconds = -1; /* until decided or expired */
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 'T') {
            errno = 0;
            *timeout_seconds = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
                *timeout_seconds > WAIT_TIMEOUT_MAX)
                return cli_usage("wait", "--timeout takes a number of seconds (0 checks once)");
        } else if ((rc = cli_common_option(cli, "wait", opt, argv)) != -1) {
            return rc;
        }
    }
    if (optind + 1 != argc)
        return cli_usage("wait", "give exactly one request id");
    *id = argv[optind];
    if (!cli_is_id_argument(*id))
        return cli_usage("wait", CLI_ID_USAGE);
    return -1;
}

static void show_waiting(const struct cli *cli, const struct lockbox_request *req)
{
    char expires[64];

    if (!cli->stderr_tty)
        return;
    out_relative(req->expires_at, out_now_ms(), expires, sizeof(expires));
    fprintf(stderr, "\r\033[Klockboxctl: waiting for a decision on %s (request expires %s)...",
            req->id, expires);
    fflush(stderr);
}

/* One long-poll of at most `seconds`. */
static int wait_once(const struct cli *cli, const char *id, long long seconds,
                     struct lockbox_request *req)
{
    struct lockbox_reply reply;
    char path[128];

    snprintf(path, sizeof(path), "/v1/requests/%s/wait?timeout=%lld", id, seconds);
    int rc = api_call(cli, "GET", path, NULL, seconds * 1000 + WAIT_MARGIN_MS, 0, &reply);
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, req);
    lockbox_reply_free(&reply);
    return rc;
}

static int report_outcome(const struct cli *cli, const struct lockbox_request *req,
                          long long timeout_seconds)
{
    char actor[OUT_ESCAPED_MAX], comment[OUT_ESCAPED_MAX], until[TIMEFMT_LEN], relative[64];
    char tenant[OUT_ESCAPED_MAX];

    out_escape(req->decided_by, "-", actor, sizeof(actor));
    out_escape(req->tenant, "-", tenant, sizeof(tenant));
    out_escape(req->comment, "", comment, sizeof(comment));
    if (cli->json) {
        json_object *obj = out_request_json(req);
        out_print_json(obj);
        json_object_put(obj);
    } else if (req->state == REQUEST_APPROVED) {
        timefmt_rfc3339(req->expires_at, until);
        out_relative(req->expires_at, out_now_ms(), relative, sizeof(relative));
        printf("Request %s approved by %s%s%s; access until %s (%s).\n", req->id, actor,
               comment[0] ? ": " : "", comment, until, relative);
    } else {
        printf("Request %s is %s%s%s%s%s.\n", req->id, request_state_name(req->state),
               req->decided_by[0] ? " by " : "", req->decided_by[0] ? actor : "",
               comment[0] ? ": " : "", comment);
    }
    if (req->state == REQUEST_APPROVED)
        return CLI_OK;
    if (req->state == REQUEST_PENDING)
        return cli_fail("request %s is still pending after %llds; run lockboxctl wait %s again "
                        "or ask an admin of tenant %s",
                        req->id, timeout_seconds < 0 ? 0 : timeout_seconds, req->id, tenant);
    return cli_fail("request %s was not approved: it is %s", req->id,
                    request_state_name(req->state));
}

/* Seconds to ask the next long-poll for: at most one chunk, never past the deadline. */
static long long next_chunk(long long chunk_max, long long timeout_seconds, int64_t deadline)
{
    if (timeout_seconds < 0)
        return chunk_max;
    long long left = (deadline - monotonic_ms() + 999) / 1000;
    return left <= 0 ? 0 : left < chunk_max ? left : chunk_max;
}

int cmd_wait(struct cli *cli, int argc, char **argv)
{
    struct lockbox_request req;
    const char *typed = NULL;
    char id[LOCKBOX_ID_HEX_LEN + 1];
    long long timeout_seconds, chunk;
    int rc = parse_wait_options(cli, argc, argv, &typed, &timeout_seconds);

    if (rc != -1)
        return rc;
    if (api_resolve_request_id(cli, typed, id) != CLI_OK)
        return CLI_FAIL;
    long long chunk_max = cli->stderr_tty ? WAIT_CHUNK_TTY_SECONDS : WAIT_CHUNK_SECONDS;
    int64_t deadline = monotonic_ms() + (timeout_seconds > 0 ? timeout_seconds * 1000 : 0);
    /* The first call answers at once: a decided request needs no status line. */
    rc = wait_once(cli, id, 0, &req);
    while (rc == CLI_OK && req.state == REQUEST_PENDING &&
           (chunk = next_chunk(chunk_max, timeout_seconds, deadline)) > 0) {
        show_waiting(cli, &req);
        rc = wait_once(cli, id, chunk, &req);
    }
    if (cli->stderr_tty)
        fputs("\r\033[K", stderr);
    if (rc != CLI_OK)
        return rc;
    return report_outcome(cli, &req, timeout_seconds);
}
