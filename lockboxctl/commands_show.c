/* `show`: one request in full, with where it was notified and the sessions it let in, as a
 * detail view or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "approve_signed.h"
#include "cli.h"
#include "lockbox_limits.h"
#include "output.h"
#include "timefmt.h"

/* Session ids are shown as far as people compare them (the audit has them whole). */
#define SESSION_ID_SHOWN 8

/* "5m ago (2026-11-25T12:00:00Z)", or "-" when unset. */
static void format_moment(int64_t when_ms, int64_t now_ms, char *out, size_t out_len)
{
    char relative[64], absolute[TIMEFMT_LEN];

    if (when_ms <= 0) {
        snprintf(out, out_len, "-");
        return;
    }
    out_relative(when_ms, now_ms, relative, sizeof(relative));
    timefmt_rfc3339(when_ms, absolute);
    snprintf(out, out_len, "%s (%s)", relative, absolute);
}

static void print_field(const char *label, const char *value)
{
    char escaped[OUT_ESCAPED_MAX];

    printf("%-10s %s\n", label, out_escape(value, "-", escaped, sizeof(escaped)));
}

/* Who asked; for a login that nobody named (ssh), say so and where it came from. */
static void print_requester(const struct lockbox_request *req)
{
    char unknown[LOCKBOX_NAME_MAX + LOCKBOX_RHOST_MAX + 64];

    if (req->requester[0] != '\0') {
        print_field("Asked by", req->requester);
        return;
    }
    if (req->rhost[0] != '\0')
        snprintf(unknown, sizeof(unknown), "unknown (a %s login from %s)", req->service,
                 req->rhost);
    else if (strcmp(req->service, "lockboxctl") == 0)
        snprintf(unknown, sizeof(unknown), "unknown (filed by %s)", req->requested_by);
    else
        snprintf(unknown, sizeof(unknown), "unknown (a %s login)", req->service);
    print_field("Asked by", unknown);
}

static void print_request_detail(const struct cli *cli, const struct lockbox_request *req)
{
    int64_t now_ms = out_now_ms();
    char moment[128];

    print_field("Request", req->id);
    printf("%-10s %s%s%s\n", "State", out_state_color(req->state, cli->color),
           request_state_name(req->state), out_color_reset(cli->color));
    print_field("User", req->user);
    print_field("Tenant", req->tenant);
    print_field("Host", req->host);
    print_field("Reason", req->reason);
    print_field("Service", req->service);
    print_field("From", req->rhost);
    print_field("Filed by", req->requested_by);
    print_requester(req);
    format_moment(req->created_at, now_ms, moment, sizeof(moment));
    print_field("Created", moment);
    print_field("Decided by", req->decided_by);
    format_moment(req->decided_at, now_ms, moment, sizeof(moment));
    print_field("Decided", moment);
    print_field("Comment", req->comment);
    format_moment(req->expires_at, now_ms, moment, sizeof(moment));
    print_field(req->state == REQUEST_REVOKED ? "Revoked" : "Expires", moment);
}

static const char *string_field(json_object *obj, const char *key)
{
    json_object *value;
    if (json_object_object_get_ex(obj, key, &value) && json_object_is_type(value, json_type_string))
        return json_object_get_string(value);
    return NULL;
}

/* One line per notification: where it went, for which event, and whether it arrived. */
static void print_notifications(json_object *list)
{
    char channel[32], event[64], state[32], error[OUT_ESCAPED_MAX];
    size_t n = list ? json_object_array_length(list) : 0;

    if (n == 0) {
        print_field("Notified", NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(list, i), *attempts;
        int tries = json_object_object_get_ex(item, "attempts", &attempts)
                        ? json_object_get_int(attempts)
                        : 0;
        const char *last_error = string_field(item, "last_error");
        printf("%-10s %s %s: %s after %d attempt%s%s%s\n", i == 0 ? "Notified" : "",
               out_escape(string_field(item, "event"), "?", event, sizeof(event)),
               out_escape(string_field(item, "channel"), "?", channel, sizeof(channel)),
               out_escape(string_field(item, "state"), "?", state, sizeof(state)), tries,
               tries == 1 ? "" : "s", last_error ? " - " : "",
               last_error ? out_escape(last_error, "", error, sizeof(error)) : "");
    }
}

/* "12:01 UTC" for a moment of today (UTC), else "2026-11-24 12:01 UTC"; "?" when unreadable. */
static void clock_time(const char *rfc3339, int64_t now_ms, char *out, size_t out_len)
{
    int64_t when_ms;
    char today[TIMEFMT_LEN];

    if (rfc3339 == NULL || timefmt_parse(rfc3339, &when_ms) != 0) {
        snprintf(out, out_len, "?");
        return;
    }
    timefmt_rfc3339(now_ms, today);
    /* rfc3339 is "YYYY-MM-DDTHH:MM:SS...Z" (it parsed): date, then the clock. */
    if (strncmp(rfc3339, today, 10) == 0)
        snprintf(out, out_len, "%.5s UTC", rfc3339 + 11);
    else
        snprintf(out, out_len, "%.10s %.5s UTC", rfc3339, rfc3339 + 11);
}

static void relative_time(const char *rfc3339, int64_t now_ms, char *out, size_t out_len)
{
    int64_t when_ms;

    if (rfc3339 == NULL || timefmt_parse(rfc3339, &when_ms) != 0)
        snprintf(out, out_len, "?");
    else
        out_relative(when_ms, now_ms, out, out_len);
}

/* What became of a session: "open since 12:01 UTC (2m ago)", "opened 12:01 UTC, closed
 * 12:05 UTC (1m ago)" and what that means for what it left running. */
static void session_story(json_object *item, int64_t now_ms, char *out, size_t out_len)
{
    const char *state = string_field(item, "state"), *opened = string_field(item, "opened_at");
    const char *closed = string_field(item, "closed_at");
    char opened_at[64], opened_ago[64], closed_at[64], closed_ago[64], shown[64];
    json_object *leftovers;
    bool tracked = json_object_object_get_ex(item, "leftovers_tracked", &leftovers) &&
                   json_object_get_boolean(leftovers);

    clock_time(opened, now_ms, opened_at, sizeof(opened_at));
    relative_time(opened, now_ms, opened_ago, sizeof(opened_ago));
    clock_time(closed, now_ms, closed_at, sizeof(closed_at));
    relative_time(closed, now_ms, closed_ago, sizeof(closed_ago));
    if (state != NULL && strcmp(state, "open") == 0)
        snprintf(out, out_len, "open since %s (%s)", opened_at, opened_ago);
    else if (state != NULL && strcmp(state, "closed") == 0)
        snprintf(out, out_len, "opened %s, closed %s (%s)%s", opened_at, closed_at, closed_ago,
                 tracked ? "; processes it left running end with the access" : "");
    else if (state != NULL && strcmp(state, "terminated") == 0)
        snprintf(out, out_len,
                 "opened %s, closed %s (%s): Lockbox ended it (and what it left "
                 "running) when the access ended",
                 opened_at, closed_at, closed_ago);
    else
        snprintf(out, out_len, "opened %s, %s", opened_at,
                 out_escape(state, "in an unknown state", shown, sizeof(shown)));
}

/* One line per login session the request let in, each field said for what it is:
 * "1a2b3c4d: sshd from 10.0.0.5 on /dev/pts/3, pid 1234, open since 12:01 UTC (2m ago)". */
static void print_sessions(json_object *list)
{
    char id[OUT_ESCAPED_MAX], service[OUT_ESCAPED_MAX], rhost[OUT_ESCAPED_MAX];
    char tty[OUT_ESCAPED_MAX], story[512];
    size_t n = list ? json_object_array_length(list) : 0;
    int64_t now_ms = out_now_ms();

    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(list, i), *pid;
        long long pid_value = json_object_object_get_ex(item, "pid", &pid)
                                  ? json_object_get_int64(pid)
                                  : 0;
        const char *from = string_field(item, "rhost"), *on = string_field(item, "tty");
        out_escape(string_field(item, "id"), "?", id, sizeof(id));
        id[SESSION_ID_SHOWN] = '\0'; /* a cut inside the buffer: ids are hex */
        session_story(item, now_ms, story, sizeof(story));
        printf("%-10s session %s: %s%s%s%s%s, pid %lld, %s\n", i == 0 ? "Sessions" : "", id,
               out_escape(string_field(item, "service"), "?", service, sizeof(service)),
               from ? " from " : "", from ? out_escape(from, "", rhost, sizeof(rhost)) : "",
               on ? " on " : "", on ? out_escape(on, "", tty, sizeof(tty)) : "", pid_value, story);
    }
}

/* At central: what the request's host last reported of its live sessions. */
static void print_host_sessions(const struct lockbox_request *req, json_object *report)
{
    char host[OUT_ESCAPED_MAX], ago[64];
    json_object *live;
    int64_t at_ms = 0;
    const char *at = report ? string_field(report, "reported_at") : NULL;

    if (report == NULL || at == NULL || !json_object_object_get_ex(report, "live", &live) ||
        timefmt_parse(at, &at_ms) != 0)
        return;
    out_relative(at_ms, out_now_ms(), ago, sizeof(ago));
    printf("%-10s %d live on %s (as its agent reported %s)\n", "Sessions",
           json_object_get_int(live), out_escape(req->host, "?", host, sizeof(host)), ago);
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    struct lockbox_request req;
    char id[LOCKBOX_ID_HEX_LEN + 1];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if ((rc = cli_common_option(cli, "show", opt, argv)) != -1)
            return rc;
    }
    if (optind + 1 != argc)
        return cli_usage("show", "give exactly one request id");
    if (!cli_is_id_argument(argv[optind]))
        return cli_usage("show", CLI_ID_USAGE);
    if (api_resolve_request_id(cli, argv[optind], id) != CLI_OK)
        return CLI_FAIL;
    json_object *notifications = NULL, *sessions = NULL, *host_sessions = NULL, *whole = NULL;
    rc = api_get_request_reply(cli, id, &req, &whole);
    if (rc != CLI_OK)
        return rc;
    notifications = api_array_member(whole, "notifications");
    sessions = api_array_member(whole, "sessions");
    host_sessions = api_object_member(whole, "host_sessions");
    if (cli->json) {
        json_object *obj = out_request_json(&req);
        json_object_object_add(obj, "notifications",
                               notifications ? json_object_get(notifications)
                                             : json_object_new_array());
        json_object_object_add(obj, "sessions",
                               sessions ? json_object_get(sessions) : json_object_new_array());
        if (host_sessions != NULL)
            json_object_object_add(obj, "host_sessions", json_object_get(host_sessions));
        out_print_json(obj);
        json_object_put(obj);
    } else {
        print_request_detail(cli, &req);
        approve_print_signers(&req, whole);
        print_notifications(notifications);
        print_sessions(sessions);
        print_host_sessions(&req, host_sessions);
    }
    json_object_put(notifications);
    json_object_put(sessions);
    json_object_put(host_sessions);
    json_object_put(whole);
    return CLI_OK;
}
