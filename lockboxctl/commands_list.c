/* `list`: the requests the caller may read, newest first, as an aligned table or JSON. The
 * table is for an approver at an 80-column terminal: short ids, no column that says the same
 * on every row, and the reason (what she judges) keeps its room while the other columns give
 * way; --wide shows everything. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "duration.h"
#include "lockbox_limits.h"
#include "output.h"
#include "text.h"

enum list_column {
    COL_ID,
    COL_STATE,
    COL_USER,
    COL_TENANT,
    COL_HOST,
    COL_AGE,
    COL_LEFT,
    COL_REASON,
    COL_COUNT
};

static const char *const column_titles[COL_COUNT] = {
    "ID", "STATE", "USER", "TENANT", "HOST", "AGE", "LEFT", "REASON",
};

/* Ids are shown this long, longer where two rows shown would otherwise look alike (git's
 * rule); prefixes of 6 or more work wherever an id is taken. */
#define SHORT_ID_MIN 8
/* The reason keeps this many columns (when it is that long) while USER, TENANT and HOST give
 * way, down to SQUEEZE_FLOOR columns each; it never gets fewer than REASON_COLUMN_MIN. */
#define REASON_GOAL 32
#define SQUEEZE_FLOOR 12
#define REASON_COLUMN_MIN 10
/* After the id of the caller's own pending request: a field of its own for awk, and outside
 * what a double click selects. */
#define OWN_MARK " *"

struct list_filter {
    const char *state, *tenant, *user, *host; /* host: one host's (a central has many) */
    bool wide;                                /* --wide: whole ids, every column, nothing cut */
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
        {"host", required_argument, NULL, 'H'},
        {"wide", no_argument, NULL, 'w'},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;

    *filter = (struct list_filter){"pending", NULL, NULL, NULL, false};
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 's')
            filter->state = optarg;
        else if (opt == 't')
            filter->tenant = optarg;
        else if (opt == 'u')
            filter->user = optarg;
        else if (opt == 'H')
            filter->host = optarg;
        else if (opt == 'w')
            filter->wide = true;
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
    if (filter->host != NULL && !text_is_host(filter->host, LOCKBOX_HOST_MAX))
        return cli_usage("list", "--host must be a host name of [A-Za-z0-9._:%%-]");
    return -1;
}

static int build_list_path(const struct list_filter *filter, char *path, size_t path_len)
{
    char tenant[3 * LOCKBOX_NAME_MAX + 1] = "", user[3 * LOCKBOX_NAME_MAX + 1] = "";
    char host[3 * LOCKBOX_HOST_MAX + 1] = "";

    if ((filter->tenant && lockbox_query_escape(filter->tenant, tenant, sizeof(tenant)) != 0) ||
        (filter->user && lockbox_query_escape(filter->user, user, sizeof(user)) != 0) ||
        (filter->host && lockbox_query_escape(filter->host, host, sizeof(host)) != 0))
        return -1;
    int n = snprintf(path, path_len, "/v1/requests?state=%s&limit=%d%s%s%s%s%s%s", filter->state,
                     LOCKBOX_LIST_MAX, filter->tenant ? "&tenant=" : "", tenant,
                     filter->user ? "&user=" : "", user, filter->host ? "&host=" : "", host);
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

struct table {
    char *(*rows)[COL_COUNT];
    size_t n;
    size_t widths[COL_COUNT];
    bool shown[COL_COUNT];
    bool all_states; /* --state all: STATE says something */
    bool any_own;    /* a row is marked OWN_MARK: explain the mark under the table */
};

/* The shortest length, at least SHORT_ID_MIN, at which the ids of the rows differ. */
static size_t short_id_length(const struct lockbox_request *reqs, size_t n)
{
    size_t len = SHORT_ID_MIN;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            size_t same = 0;
            while (same < LOCKBOX_ID_HEX_LEN && reqs[i].id[same] == reqs[j].id[same])
                same++;
            if (same + 1 > len)
                len = same + 1 < LOCKBOX_ID_HEX_LEN ? same + 1 : LOCKBOX_ID_HEX_LEN;
        }
    }
    return len;
}

/* The daemon's rule (lib/request.c) as far as names tell: a pending request the caller asked
 * for, is the user of, or filed (root files for every login, so that does not count for
 * root) is one she may not decide; another admin must. */
static bool is_own_pending(const struct lockbox_request *req, const char *me, bool me_is_root)
{
    if (req->state != REQUEST_PENDING || me == NULL)
        return false;
    return strcmp(req->user, me) == 0 || strcmp(req->requester, me) == 0 ||
           (!me_is_root && strcmp(req->requested_by, me) == 0);
}

static char *escaped_copy(const char *text)
{
    char escaped[OUT_ESCAPED_MAX];

    return strdup(out_escape(text, "-", escaped, sizeof(escaped)));
}

/* The account, and who asked for it when that is someone else ("rtshared by alice"). */
static char *user_cell(const struct lockbox_request *req)
{
    char both[2 * LOCKBOX_NAME_MAX + 8];

    if (req->requester[0] == '\0' || strcmp(req->requester, req->user) == 0)
        return escaped_copy(req->user);
    snprintf(both, sizeof(both), "%s by %s", req->user, req->requester);
    return escaped_copy(both);
}

/* A span without "ago" or "in": the column's title says which ("AGE 5m", "LEFT 11h30m"). */
static char *span_cell(int64_t from_ms, int64_t to_ms)
{
    char span[32];

    duration_format(to_ms > from_ms ? out_span_seconds(to_ms, from_ms) : 0, span, sizeof(span));
    return strdup(span);
}

static void fill_row(const struct lockbox_request *req, int64_t now_ms, size_t id_len, bool own,
                     char *cells[COL_COUNT])
{
    char id[LOCKBOX_ID_HEX_LEN + sizeof(OWN_MARK)];
    bool live = req->state == REQUEST_PENDING || req->state == REQUEST_APPROVED;

    /* The id was checked to be hex by api_parse_request. */
    snprintf(id, sizeof(id), "%.*s%s", (int)id_len, req->id, own ? OWN_MARK : "");
    cells[COL_ID] = strdup(id);
    cells[COL_STATE] = strdup(request_state_name(req->state));
    cells[COL_USER] = user_cell(req);
    cells[COL_TENANT] = escaped_copy(req->tenant);
    cells[COL_HOST] = escaped_copy(req->host);
    cells[COL_AGE] = span_cell(req->created_at, now_ms);
    cells[COL_LEFT] = live && req->expires_at > 0 ? span_cell(now_ms, req->expires_at)
                                                  : strdup("-");
    cells[COL_REASON] = escaped_copy(req->reason);
}

/* Narrows the widest of USER, TENANT and HOST, one column at a time, until the reason has
 * `want` columns or none of them can give more. Returns the columns the others now use. */
static size_t squeeze(struct table *t, size_t used, size_t columns, size_t want)
{
    static const enum list_column squeezable[] = {COL_USER, COL_TENANT, COL_HOST};

    while (used + want > columns) {
        size_t *widest = NULL;
        for (size_t i = 0; i < sizeof(squeezable) / sizeof(squeezable[0]); i++) {
            enum list_column col = squeezable[i];
            size_t floor = strlen(column_titles[col]) > SQUEEZE_FLOOR ? strlen(column_titles[col])
                                                                      : SQUEEZE_FLOOR;
            if (t->shown[col] && t->widths[col] > floor &&
                (widest == NULL || t->widths[col] > *widest))
                widest = &t->widths[col];
        }
        if (widest == NULL)
            break;
        (*widest)--;
        used--;
    }
    return used;
}

/* Which columns show, and how wide each is. STATE shows with --state all (a list of one
 * state says which it is); TENANT when the rows are of more than one tenant (an admin of one
 * tenant knows which). The columns they would take are the reason's. */
static void lay_out(struct table *t, size_t columns, bool wide)
{
    size_t used = 0;

    for (int col = 0; col < COL_COUNT; col++) {
        t->widths[col] = strlen(column_titles[col]);
        t->shown[col] = true;
        for (size_t i = 0; i < t->n; i++) {
            size_t width = out_width(t->rows[i][col]);
            t->widths[col] = width > t->widths[col] ? width : t->widths[col];
        }
    }
    bool one_tenant = true;
    for (size_t i = 1; i < t->n; i++)
        one_tenant = one_tenant && strcmp(t->rows[i][COL_TENANT], t->rows[0][COL_TENANT]) == 0;
    t->shown[COL_TENANT] = wide || !one_tenant;
    t->shown[COL_STATE] = wide || t->all_states;
    if (wide)
        return;
    for (int col = 0; col < COL_REASON; col++)
        used += t->shown[col] ? t->widths[col] + 2 : 0;
    size_t want = t->widths[COL_REASON] < REASON_GOAL ? t->widths[COL_REASON] : REASON_GOAL;
    used = squeeze(t, used, columns, want);
    size_t room = columns > used ? columns - used : 0;
    t->widths[COL_REASON] = room > REASON_COLUMN_MIN ? room : REASON_COLUMN_MIN;
}

/* Prints a cell cut to its width (nothing is cut when `wide`), padded unless it is the last.
 * STATE is coloured. */
static void print_cell(const struct cli *cli, const char *cell, size_t width, int col,
                       const struct lockbox_request *req, bool wide)
{
    char fitted[OUT_ESCAPED_MAX];
    const char *text = cell;

    if (!wide) {
        out_fit(cell, width, fitted, sizeof(fitted));
        text = fitted;
    }
    if (req != NULL && col == COL_STATE) {
        printf("%s%s%s", out_state_color(req->state, cli->color), text,
               out_color_reset(cli->color));
        out_pad("", width > out_width(text) ? width - out_width(text) : 0);
    } else if (col == COL_REASON) {
        fputs(text, stdout);
    } else {
        out_pad(text, width);
    }
}

static void print_row(const struct cli *cli, const struct table *t, char *const cells[COL_COUNT],
                      const struct lockbox_request *req, bool wide)
{
    for (int col = 0; col < COL_COUNT; col++) {
        if (!t->shown[col])
            continue;
        print_cell(cli, cells[col], t->widths[col], col, req, wide);
        fputs(col == COL_REASON ? "\n" : "  ", stdout);
    }
}

static int print_table(const struct cli *cli, const struct lockbox_request *reqs, size_t n,
                       const struct list_filter *filter)
{
    bool wide = filter->wide;
    struct table t = {calloc(n ? n : 1, sizeof(*t.rows)), n,    {0}, {0},
                      strcmp(filter->state, "all") == 0,  false};
    struct passwd *pw = getpwuid(getuid()); /* who "yours" is */
    size_t id_len = wide ? LOCKBOX_ID_HEX_LEN : short_id_length(reqs, n);
    int64_t now_ms = out_now_ms();

    if (t.rows == NULL)
        return cli_fail("out of memory for %zu rows", n);
    for (size_t i = 0; i < n; i++) {
        bool own = is_own_pending(&reqs[i], pw ? pw->pw_name : NULL, getuid() == 0);
        t.any_own = t.any_own || own;
        fill_row(&reqs[i], now_ms, id_len, own, t.rows[i]);
        for (int col = 0; col < COL_COUNT; col++) {
            if (t.rows[i][col] == NULL)
                t.rows[i][col] = strdup("?");
        }
    }
    lay_out(&t, (size_t)cli->columns, wide);
    print_row(cli, &t, (char *const *)column_titles, NULL, wide);
    for (size_t i = 0; i < n; i++)
        print_row(cli, &t, t.rows[i], &reqs[i], wide);
    if (t.any_own)
        puts("* your own request: another admin of its tenant must decide it");
    for (size_t i = 0; i < n; i++) {
        for (int col = 0; col < COL_COUNT; col++)
            free(t.rows[i][col]);
    }
    free(t.rows);
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
    char path[1024];
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
        rc = print_table(cli, reqs, count, &filter);
    free(reqs);
    return rc;
}
