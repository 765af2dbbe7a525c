/* `list`: the requests the caller may read, newest first, as an aligned table or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "lockbox_limits.h"
#include "output.h"
#include "text.h"

enum list_column { COL_ID, COL_STATE, COL_USER, COL_TENANT, COL_HOST, COL_AGE, COL_EXPIRES,
                   COL_REASON, COL_COUNT };

static const char *const column_titles[COL_COUNT] = {
    "ID", "STATE", "USER", "TENANT", "HOST", "AGE", "EXPIRES", "REASON",
};

#define HOST_COLUMN_MAX 40
#define REASON_COLUMN_MIN 10

struct list_filter {
    const char *state, *tenant, *user;
};

static bool is_list_state(const char *state)
{
    enum request_state parsed;

    return strcmp(state, "all") == 0 || request_state_parse(state, &parsed) == 0;
}

static int parse_list_options(struct cli *cli, int argc, char **argv, struct list_filter *filter)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},
        {"tenant", required_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;

    *filter = (struct list_filter){"pending", NULL, NULL};
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 's')
            filter->state = optarg;
        else if (opt == 't')
            filter->tenant = optarg;
        else if (opt == 'u')
            filter->user = optarg;
        else if ((rc = cli_common_option(cli, "list", opt, argv)) != -1)
            return rc;
    }
    if (optind < argc)
        return cli_usage("list", "unexpected argument (list takes options only)");
    if (!is_list_state(filter->state))
        return cli_usage("list", "--state must be pending, approved, denied, expired, revoked "
                                 "or all");
    if (filter->tenant != NULL && !text_is_name(filter->tenant, LOCKBOX_NAME_MAX))
        return cli_usage("list", "--tenant must be a name of [A-Za-z0-9._-]");
    if (filter->user != NULL && !text_is_name(filter->user, LOCKBOX_NAME_MAX))
        return cli_usage("list", "--user must be a name of [A-Za-z0-9._-]");
    return -1;
}

static int build_list_path(const struct list_filter *filter, char *path, size_t path_len)
{
    char tenant[3 * LOCKBOX_NAME_MAX + 1] = "", user[3 * LOCKBOX_NAME_MAX + 1] = "";

    if ((filter->tenant && lockbox_query_escape(filter->tenant, tenant, sizeof(tenant)) != 0) ||
        (filter->user && lockbox_query_escape(filter->user, user, sizeof(user)) != 0))
        return -1;
    int n = snprintf(path, path_len, "/v1/requests?state=%s&limit=%d%s%s%s%s", filter->state,
                     LOCKBOX_LIST_MAX, filter->tenant ? "&tenant=" : "", tenant,
                     filter->user ? "&user=" : "", user);
    return n > 0 && (size_t)n < path_len ? 0 : -1;
}

static int newest_first(const void *a, const void *b)
{
    const struct lockbox_request *left = a, *right = b;

    if (left->created_at != right->created_at)
        return left->created_at < right->created_at ? 1 : -1;
    return strcmp(left->id, right->id);
}

/* The "requests" array of a list reply, parsed and sorted newest first. */
static int parse_request_list(json_object *body, struct lockbox_request **out, size_t *count)
{
    json_object *array;

    *out = NULL;
    *count = 0;
    if (!json_object_object_get_ex(body, "requests", &array) ||
        !json_object_is_type(array, json_type_array))
        return cli_fail("lockboxd sent a list without a \"requests\" array");
    size_t n = json_object_array_length(array);
    struct lockbox_request *reqs = calloc(n ? n : 1, sizeof(*reqs));
    if (reqs == NULL)
        return cli_fail("out of memory for %zu requests", n);
    for (size_t i = 0; i < n; i++) {
        if (api_parse_request(json_object_array_get_idx(array, i), &reqs[i]) != CLI_OK) {
            free(reqs);
            return CLI_FAIL;
        }
    }
    qsort(reqs, n, sizeof(*reqs), newest_first);
    *out = reqs;
    *count = n;
    return CLI_OK;
}

static char *escaped_copy(const char *text, size_t max_columns)
{
    char escaped[OUT_ESCAPED_MAX], fitted[OUT_ESCAPED_MAX];

    out_escape(text, "-", escaped, sizeof(escaped));
    out_fit(escaped, max_columns, fitted, sizeof(fitted));
    return strdup(fitted);
}

static bool deadline_matters(enum request_state state)
{
    return state == REQUEST_PENDING || state == REQUEST_APPROVED;
}

/* The account, and who asked for it when that is someone else ("rtshared by alice"). */
static char *user_cell(const struct lockbox_request *req)
{
    char both[2 * LOCKBOX_NAME_MAX + 8];

    if (req->requester[0] == '\0' || strcmp(req->requester, req->user) == 0)
        return escaped_copy(req->user, LOCKBOX_NAME_MAX);
    snprintf(both, sizeof(both), "%s by %s", req->user, req->requester);
    return escaped_copy(both, sizeof(both));
}

static void fill_row(const struct lockbox_request *req, int64_t now_ms, char *cells[COL_COUNT])
{
    char when[64];

    cells[COL_ID] = escaped_copy(req->id, LOCKBOX_ID_HEX_LEN);
    cells[COL_STATE] = strdup(request_state_name(req->state));
    cells[COL_USER] = user_cell(req);
    cells[COL_TENANT] = escaped_copy(req->tenant, LOCKBOX_NAME_MAX);
    cells[COL_HOST] = escaped_copy(req->host, HOST_COLUMN_MAX);
    out_relative(req->created_at, now_ms, when, sizeof(when));
    cells[COL_AGE] = strdup(when);
    out_relative(deadline_matters(req->state) ? req->expires_at : 0, now_ms, when, sizeof(when));
    cells[COL_EXPIRES] = strdup(when);
    cells[COL_REASON] = escaped_copy(req->reason, OUT_ESCAPED_MAX);
}

static void print_row(const struct cli *cli, char *const cells[COL_COUNT],
                      const size_t widths[COL_COUNT], const struct lockbox_request *req)
{
    char reason[OUT_ESCAPED_MAX];

    for (int col = 0; col < COL_REASON; col++) {
        bool colored = req != NULL && col == COL_STATE;
        if (colored)
            fputs(out_state_color(req->state, cli->color), stdout);
        out_pad(cells[col], widths[col]);
        if (colored)
            fputs(out_color_reset(cli->color), stdout);
        fputs("  ", stdout);
    }
    out_fit(cells[COL_REASON], widths[COL_REASON], reason, sizeof(reason));
    puts(reason);
}

static int print_table(const struct cli *cli, const struct lockbox_request *reqs, size_t n)
{
    char *(*rows)[COL_COUNT] = calloc(n ? n : 1, sizeof(*rows));
    size_t widths[COL_COUNT], used = 0;
    int64_t now_ms = out_now_ms();

    if (rows == NULL)
        return cli_fail("out of memory for %zu rows", n);
    for (int col = 0; col < COL_COUNT; col++)
        widths[col] = strlen(column_titles[col]);
    for (size_t i = 0; i < n; i++) {
        fill_row(&reqs[i], now_ms, rows[i]);
        for (int col = 0; col < COL_COUNT; col++) {
            if (rows[i][col] == NULL)
                rows[i][col] = strdup("?");
            size_t width = rows[i][col] ? out_width(rows[i][col]) : 1;
            widths[col] = width > widths[col] ? width : widths[col];
        }
    }
    for (int col = 0; col < COL_REASON; col++)
        used += widths[col] + 2;
    /* The reason takes what is left of the line; the other columns are short and fixed. */
    size_t room = (size_t)cli->columns > used ? (size_t)cli->columns - used : 0;
    widths[COL_REASON] = room > REASON_COLUMN_MIN ? room : REASON_COLUMN_MIN;
    print_row(cli, (char *const *)column_titles, widths, NULL);
    for (size_t i = 0; i < n; i++) {
        print_row(cli, rows[i], widths, &reqs[i]);
        for (int col = 0; col < COL_COUNT; col++)
            free(rows[i][col]);
    }
    free(rows);
    return CLI_OK;
}

static void print_json_list(const struct lockbox_request *reqs, size_t n)
{
    json_object *array = json_object_new_array();

    for (size_t i = 0; i < n; i++)
        json_object_array_add(array, out_request_json(&reqs[i]));
    out_print_json(array);
    json_object_put(array);
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
    struct list_filter filter;
    struct lockbox_reply reply;
    struct lockbox_request *reqs = NULL;
    size_t count = 0;
    char path[512];
    int rc = parse_list_options(cli, argc, argv, &filter);

    if (rc != -1)
        return rc;
    if (build_list_path(&filter, path, sizeof(path)) != 0)
        return cli_usage("list", "filter too long");
    rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK)
        rc = parse_request_list(reply.body, &reqs, &count);
    lockbox_reply_free(&reply);
    if (rc != CLI_OK)
        return rc;
    if (cli->json)
        print_json_list(reqs, count);
    else if (count == 0)
        printf("no %s%srequests\n", strcmp(filter.state, "all") == 0 ? "" : filter.state,
               strcmp(filter.state, "all") == 0 ? "" : " ");
    else
        rc = print_table(cli, reqs, count);
    free(reqs);
    return rc;
}
