/* `audit`: prints audit records, from lockboxd (GET /v1/audit, paged) or from files, one
 * readable line per record or the exact JSON lines. Also parses and dispatches `audit verify`,
 * `audit export` and `audit head`. */
#include "audit_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit_chain.h"
#include "duration.h"
#include "export_format.h"
#include "lockbox_limits.h"
#include "output.h"
#include "text.h"
#include "timefmt.h"

#define AUDIT_PAGE LOCKBOX_LIST_MAX

/* The fields after seq, time and event, as key=value in this order. */
static const char *const shown_fields[][2] = {
    {"request_id", "id"}, {"tenant", "tenant"},   {"host", "host"},
    {"user", "user"},     {"actor", "actor"},     {"requester", "requester"},
    {"reason", "reason"}, {"comment", "comment"}, {"expires_at", "expires_at"},
};

/* --since: "1h" or "2d" (that long ago, as people ask), or an RFC 3339 UTC time. */
static int parse_since(const char *text, int64_t *since_ms)
{
    int64_t seconds;

    if (duration_parse(text, &seconds) == 0) {
        *since_ms = out_now_ms() - seconds * 1000;
        return 0;
    }
    return timefmt_parse(text, since_ms);
}

/* The word after `audit`: verify, export or head (words, not options, so that they read like
 * the other commands). */
static const struct {
    const char *word;
    enum audit_action action;
} audit_actions[] = {
    {"verify", AUDIT_VERIFY},
    {"export", AUDIT_EXPORT},
    {"head", AUDIT_HEAD},
};

static int parse_audit_action(int argc, char **argv, struct audit_args *args)
{
    for (size_t i = 0; optind < argc && i < sizeof(audit_actions) / sizeof(audit_actions[0]); i++) {
        if (strcmp(argv[optind], audit_actions[i].word) == 0) {
            args->action = audit_actions[i].action;
            optind++;
            break;
        }
    }
    /* verify FILE: files may be named without --file too. */
    while (args->action == AUDIT_VERIFY && optind < argc && args->n_files < AUDIT_FILES_MAX)
        args->files[args->n_files++] = argv[optind++];
    if (optind < argc)
        return cli_usage("audit", "unexpected argument (did you mean 'audit verify', 'audit "
                                  "export' or 'audit head'?)");
    return -1;
}

/* Which options go with which action: a wrong mix is a usage error, not silently ignored. */
static int check_audit_combination(const struct audit_args *args)
{
    bool exporting = args->action == AUDIT_EXPORT;

    if (args->action == AUDIT_VERIFY && args->has_since)
        return cli_usage("audit", "verify checks whole files; --since does not apply");
    if (args->database && (args->action != AUDIT_VERIFY || args->n_files > 0))
        return cli_usage("audit", "--database goes with 'audit verify' and no --file");
    if (exporting && args->tenant == NULL)
        return cli_usage("audit", "'audit export' needs --tenant NAME");
    if (!exporting && args->tenant != NULL && args->keys_file == NULL)
        return cli_usage("audit", "--tenant goes with 'audit export', or with 'audit verify "
                                  "--keys' (the tenant whose keys they are)");
    if (!exporting && (args->output != NULL || args->after_seq != 0))
        return cli_usage("audit", "--output and --after go with 'audit export'");
    if (exporting && (args->n_files > 0 || args->has_since))
        return cli_usage("audit", "'audit export' reads from lockboxd; --file and --since do "
                                  "not apply");
    if ((args->has_kept_head || args->trust_format_1) &&
        (args->action != AUDIT_VERIFY || args->n_files != 1))
        return cli_usage("audit", "--head and --trust-format-1 go with 'audit verify FILE' of one "
                                  "export file");
    if (args->keys_file != NULL && (args->action != AUDIT_VERIFY || args->database))
        return cli_usage("audit", "--keys goes with 'audit verify' of files");
    if (args->required != 0 && args->keys_file == NULL)
        return cli_usage("audit", "--required goes with --keys");
    if (args->action == AUDIT_HEAD && (args->n_files > 0 || args->has_since))
        return cli_usage("audit", "'audit head' takes no --file or --since");
    return -1;
}

static int parse_seq(const char *text, uint64_t *seq)
{
    char *end;

    if (text[0] < '0' || text[0] > '9' || strlen(text) > 19)
        return -1;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || n > INT64_MAX)
        return -1;
    *seq = n;
    return 0;
}

/* The options of export and verify --head; -1 when handled, else an exit code. */
static int parse_export_option(int opt, struct audit_args *args)
{
    switch (opt) {
    case 'T':
        if (!text_is_name(optarg, LOCKBOX_NAME_MAX))
            return cli_usage("audit", "--tenant takes a tenant's name");
        args->tenant = optarg;
        return -1;
    case 'A':
        if (parse_seq(optarg, &args->after_seq) != 0)
            return cli_usage("audit", "--after takes a record's seq, a number such as 120");
        return -1;
    case 'O':
        if (optarg[0] == '\0')
            return cli_usage("audit", "--output takes a file name");
        args->output = optarg;
        return -1;
    case 'H':
        if (export_kept_head_parse(optarg, &args->kept_seq, args->kept_hash) != 0)
            return cli_usage("audit", "--head takes SEQ:HASH as 'lockboxctl audit head' printed "
                                      "it, e.g. 120:9f86d08...");
        args->has_kept_head = true;
        return -1;
    case '1': args->trust_format_1 = true; return -1;
    default: return -2;
    }
}

/* --required N: 1 to 16, digits only. 0 or -1. */
static int parse_required(const char *text, unsigned *out)
{
    uint64_t n;

    if (parse_seq(text, &n) != 0 || n < 1 || n > LOCKBOX_GRANT_SIGNATURES_MAX)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static int parse_audit_options(struct cli *cli, int argc, char **argv, struct audit_args *args)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'F'},
        {"since", required_argument, NULL, 'S'},
        {"database", no_argument, NULL, 'D'},
        {"tenant", required_argument, NULL, 'T'},
        {"after", required_argument, NULL, 'A'},
        {"output", required_argument, NULL, 'O'},
        {"head", required_argument, NULL, 'H'},
        {"trust-format-1", no_argument, NULL, '1'},
        {"keys", required_argument, NULL, 'K'},
        {"required", required_argument, NULL, 'R'},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;

    memset(args, 0, sizeof(*args));
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 'F' && args->n_files == AUDIT_FILES_MAX)
            return cli_usage("audit", "at most %d --file options", AUDIT_FILES_MAX);
        if (opt == 'F')
            args->files[args->n_files++] = optarg;
        else if (opt == 'S' && parse_since(optarg, &args->since_ms) != 0)
            return cli_usage("audit", "--since takes a time ago such as 1h or 2d, or an RFC "
                                      "3339 UTC time such as 2026-11-25T12:00:00Z");
        else if (opt == 'S')
            args->has_since = true;
        else if (opt == 'D')
            args->database = true;
        else if (opt == 'K')
            args->keys_file = optarg;
        else if (opt == 'R') {
            if (parse_required(optarg, &args->required) != 0)
                return cli_usage("audit", "--required takes 1-%d (the tenant's approvals_required)",
                                 LOCKBOX_GRANT_SIGNATURES_MAX);
        } else if ((rc = parse_export_option(opt, args)) != -2) {
            if (rc != -1)
                return rc;
        } else if ((rc = cli_common_option(cli, "audit", opt, argv)) != -1)
            return rc;
    }
    if ((rc = parse_audit_action(argc, argv, args)) != -1)
        return rc;
    return check_audit_combination(args);
}

int audit_read_file(const char *path, audit_line_fn fn, void *ctx)
{
    char shown[OUT_ESCAPED_MAX];
    FILE *file = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    int rc = 0;

    int open_errno = errno;
    if (file == NULL)
        return cli_fail("cannot open audit file %s: %s%s",
                        out_escape(path, "", shown, sizeof(shown)), strerror(open_errno),
                        open_errno == EACCES ? " (run as root, or copy the file and use --file)"
                                             : "");
    while (rc == 0 && (len = getline(&line, &cap, file)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        rc = fn(ctx, line, (size_t)len, ++lineno);
    }
    if (rc == 0 && ferror(file))
        rc = cli_fail("cannot read audit file %s", out_escape(path, "", shown, sizeof(shown)));
    free(line);
    fclose(file);
    return rc;
}

static void print_record_fields(json_object *record)
{
    char value[4 * LOCKBOX_TEXT_MAX + 8];
    json_object *field;

    for (size_t i = 0; i < sizeof(shown_fields) / sizeof(shown_fields[0]); i++) {
        if (!json_object_object_get_ex(record, shown_fields[i][0], &field) || field == NULL)
            continue;
        /* Log-style quoting: a value with spaces or quotes cannot pose as another field. */
        printf(" %s=%s", shown_fields[i][1],
               text_escape_log(json_object_get_string(field), value, sizeof(value)));
    }
}

static const char *record_string(json_object *record, const char *key)
{
    json_object *field;

    if (!json_object_object_get_ex(record, key, &field) || field == NULL)
        return "";
    return json_object_get_string(field);
}

/* One record as "#SEQ TIME EVENT key=value ...", or the exact line with --json. */
static void print_record(const struct cli *cli, const char *line, size_t len)
{
    char shown[4 * LOCKBOX_AUDIT_LINE_MAX + 8], seq[32], time[64], event[128];
    json_object *record = json_tokener_parse(line);
    bool exact = strlen(line) == len;

    if (cli->json && exact && text_is_clean(line, LOCKBOX_AUDIT_LINE_MAX)) {
        /* JSON escapes every control byte, so a clean line is safe as it is, once a hidden
         * character a line from before Step 11 holds raw is escaped too. */
        out_print_json_exact(line);
    } else if (record == NULL || !json_object_is_type(record, json_type_object) || !exact) {
        printf("(not an audit record) %s\n", text_escape_terminal(line, shown, sizeof(shown)));
    } else if (cli->json) {
        /* Only a record holding DEL, C1, invalid UTF-8 or (before Step 11) a raw bidi control
         * gets here. */
        out_print_json_line(record);
    } else {
        printf("#%s %s %s", out_escape(record_string(record, "seq"), "?", seq, sizeof(seq)),
               out_escape(record_string(record, "time"), "?", time, sizeof(time)),
               out_escape(record_string(record, "event"), "?", event, sizeof(event)));
        print_record_fields(record);
        putchar('\n');
    }
    json_object_put(record);
}

/* --since: records at or after the time; one without a readable time is shown anyway. */
static bool record_wanted(const struct audit_args *args, const char *line)
{
    int64_t when;
    bool wanted = true;

    if (!args->has_since)
        return true;
    json_object *record = json_tokener_parse(line);
    if (record != NULL && json_object_is_type(record, json_type_object) &&
        timefmt_parse(record_string(record, "time"), &when) == 0)
        wanted = when >= args->since_ms;
    json_object_put(record);
    return wanted;
}

struct show_context {
    const struct cli *cli;
    const struct audit_args *args;
};

static int show_line(void *ctx, const char *line, size_t len, unsigned long lineno)
{
    struct show_context *show = ctx;

    (void)lineno;
    if (record_wanted(show->args, line))
        print_record(show->cli, line, len);
    return 0;
}

/* One page of GET /v1/audit; *after moves to the last record the daemon looked at, *more says
 * whether it may have more. For a tenant admin the daemon leaves other tenants' records out,
 * so a page can be short, or empty, with more to come. */
static int show_daemon_page(struct show_context *show, uint64_t *after, bool *more)
{
    struct lockbox_reply reply;
    json_object *records, *next_after, *has_more;
    char path[96];

    snprintf(path, sizeof(path), "/v1/audit?after=%llu&limit=%d", (unsigned long long)*after,
             AUDIT_PAGE);
    int rc = api_call(show->cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK && (!json_object_object_get_ex(reply.body, "records", &records) ||
                         !json_object_is_type(records, json_type_array) ||
                         !json_object_object_get_ex(reply.body, "next_after", &next_after) ||
                         !json_object_is_type(next_after, json_type_int) ||
                         !json_object_object_get_ex(reply.body, "more", &has_more) ||
                         !json_object_is_type(has_more, json_type_boolean)))
        rc = cli_fail(
            "lockboxd sent an audit page without \"records\", \"next_after\" and \"more\"");
    *more = false;
    if (rc != CLI_OK) {
        lockbox_reply_free(&reply);
        return rc;
    }
    size_t count = json_object_array_length(records);
    for (size_t i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx(records, i);
        show_line(show, json_object_get_string(item), (size_t)json_object_get_string_len(item), 0);
    }
    int64_t next = json_object_get_int64(next_after);
    /* Refuse to go backwards or stand still: a confused daemon must not loop us forever. */
    *more = json_object_get_boolean(has_more) && next > 0 && (uint64_t)next > *after;
    if (*more)
        *after = (uint64_t)next;
    lockbox_reply_free(&reply);
    return rc;
}

static int show_from_daemon(struct show_context *show)
{
    uint64_t after = 0;
    bool more;
    int rc;

    do
        rc = show_daemon_page(show, &after, &more);
    while (rc == CLI_OK && more);
    return rc;
}

static int audit_dispatch(struct cli *cli, struct audit_args *args_in);

int cmd_audit(struct cli *cli, int argc, char **argv)
{
    struct audit_args args;
    int rc = parse_audit_options(cli, argc, argv, &args);

    if (rc != -1)
        return rc;
    if (args.action == AUDIT_VERIFY && args.database)
        return audit_verify_database(cli);
    if (args.keys_file != NULL) {
        if ((args.grants = audit_grants_open(args.keys_file, args.required, args.tenant)) == NULL)
            return CLI_FAIL;
        rc = audit_dispatch(cli, &args);
        free(args.grants);
        return rc;
    }
    return audit_dispatch(cli, &args);
}

/* Runs the action, with args.grants loaded when --keys was given. */
static int audit_dispatch(struct cli *cli, struct audit_args *args_in)
{
    struct audit_args args = *args_in;
    int rc = CLI_OK;

    if (args.action == AUDIT_VERIFY && args.n_files > 0 && audit_file_is_export(args.files[0])) {
        if (args.n_files > 1)
            return cli_usage("audit", "an export file is verified on its own");
        return audit_verify_export(cli, &args);
    }
    if (args.action == AUDIT_VERIFY && args.has_kept_head)
        return cli_usage("audit", "--head goes with an export file (lockboxctl audit export)");
    if (args.action == AUDIT_VERIFY)
        return audit_verify(cli, &args);
    if (args.action == AUDIT_EXPORT)
        return audit_export(cli, &args);
    if (args.action == AUDIT_HEAD)
        return audit_head(cli);
    struct show_context show = {cli, &args};
    if (args.n_files == 0)
        return show_from_daemon(&show);
    for (size_t i = 0; i < args.n_files && rc != CLI_FAIL; i++)
        rc = audit_read_file(args.files[i], show_line, &show);
    return rc == CLI_FAIL ? CLI_FAIL : CLI_OK;
}
