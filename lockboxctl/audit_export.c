/* `audit export` and `audit head`: a tenant's copy of the audit chain (GET
 * /v1/audit/export, paged into an export file as the pages arrive) and the head to keep
 * beside it (GET /v1/health). `audit verify` checks both offline (audit_verify_export.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "audit_chain.h"
#include "audit_cmd.h"
#include "export_format.h"
#include "lockbox_limits.h"
#include "output.h"
#include "remote.h"
#include "timefmt.h"

#define EXPORT_PAGE 1000 /* the route's largest limit */

struct export_run {
    const struct cli *cli;
    const struct audit_args *args;
    FILE *out;
    uint64_t after; /* the next page starts after this seq */
    uint64_t first_after;
    uint64_t records, withheld;
    struct export_trailer head;
    unsigned pages;
};

/* What one page of the route holds, checked before any of it is written. */
struct export_page {
    uint64_t after_seq, next_after;
    const char *after_hash;
    json_object *entries;
    bool more;
    struct export_trailer head;
};

static bool member(json_object *obj, const char *key, json_type type, json_object **value)
{
    return json_object_object_get_ex(obj, key, value) && json_object_is_type(*value, type);
}

static bool member_seq(json_object *obj, const char *key, uint64_t *seq)
{
    json_object *value;

    if (!member(obj, key, json_type_int, &value) || json_object_get_int64(value) < 0)
        return false;
    *seq = (uint64_t)json_object_get_int64(value);
    return true;
}

static bool member_hash(json_object *obj, const char *key, const char **hash)
{
    json_object *value;

    if (!member(obj, key, json_type_string, &value) ||
        !export_is_hash(json_object_get_string(value)))
        return false;
    *hash = json_object_get_string(value);
    return true;
}

static int read_page(const struct export_run *run, json_object *body, struct export_page *page)
{
    json_object *tenant, *more;
    const char *head_hash;

    if (!member(body, "tenant", json_type_string, &tenant) ||
        strcmp(json_object_get_string(tenant), run->args->tenant) != 0 ||
        !member_seq(body, "after_seq", &page->after_seq) ||
        !member_hash(body, "after_hash", &page->after_hash) ||
        !member(body, "entries", json_type_array, &page->entries) ||
        !member_seq(body, "next_after", &page->next_after) ||
        !member(body, "more", json_type_boolean, &more) ||
        !member_seq(body, "head_seq", &page->head.head_seq) ||
        !member_hash(body, "head_hash", &head_hash))
        return cli_fail("lockboxd sent an audit export page without tenant, after_seq, "
                        "after_hash, entries, next_after, more, head_seq and head_hash");
    page->more = json_object_get_boolean(more);
    memcpy(page->head.head_hash, head_hash, sizeof(page->head.head_hash));
    /* Each page holds every record after after_seq up to next_after: a count that does not
     * add up, or a page that does not move on, would make a file that cannot verify (or a
     * loop that never ends). */
    if (page->after_seq != run->after || page->next_after < page->after_seq ||
        json_object_array_length(page->entries) != page->next_after - page->after_seq ||
        (page->more && page->next_after == page->after_seq))
        return cli_fail("lockboxd's audit export page after seq %llu does not hold the "
                        "records after it in order",
                        (unsigned long long)run->after);
    if (!page->more && page->next_after != page->head.head_seq)
        return cli_fail("lockboxd's audit export stops at seq %llu, before its head seq %llu",
                        (unsigned long long)page->next_after,
                        (unsigned long long)page->head.head_seq);
    return CLI_OK;
}

static int write_header(struct export_run *run, const struct export_page *page)
{
    struct export_header header;
    char line[EXPORT_SERVER_MAX * 2 + 512];

    memset(&header, 0, sizeof(header));
    snprintf(header.tenant, sizeof(header.tenant), "%s", run->args->tenant);
    if (run->cli->target->remote)
        snprintf(header.server, sizeof(header.server), "%s", run->cli->target->server);
    else
        snprintf(header.server, sizeof(header.server), "unix:%s", run->cli->socket_path);
    header.after_seq = page->after_seq;
    memcpy(header.after_hash, page->after_hash, sizeof(header.after_hash));
    timefmt_rfc3339(out_now_ms(), header.exported_at);
    if (export_header_format(&header, line, sizeof(line)) != 0)
        return cli_fail("cannot format the export header");
    fprintf(run->out, "%s\n", line);
    run->first_after = page->after_seq;
    return CLI_OK;
}

/* A whole record goes out as the exact line lockboxd holds: its hash covers those bytes. */
static int write_entry(struct export_run *run, json_object *entry, uint64_t seq)
{
    struct export_withheld withheld;
    char line[512], err[EXPORT_ERROR_MAX];

    if (json_object_is_type(entry, json_type_string)) {
        const char *text = json_object_get_string(entry);
        size_t len = (size_t)json_object_get_string_len(entry);
        if (len == 0 || len > LOCKBOX_AUDIT_LINE_MAX || strlen(text) != len ||
            memchr(text, '\n', len) != NULL)
            return cli_fail("lockboxd sent record seq %llu with a line break, a NUL or no "
                            "bytes at all",
                            (unsigned long long)seq);
        fprintf(run->out, "%s\n", text);
        run->records++;
        return CLI_OK;
    }
    if (export_withheld_from_json(entry, &withheld, err, sizeof(err)) != 0 ||
        export_withheld_format(&withheld, line, sizeof(line)) != 0)
        return cli_fail("lockboxd sent a bad entry for seq %llu: %s", (unsigned long long)seq, err);
    fprintf(run->out, "%s\n", line);
    run->withheld++;
    return CLI_OK;
}

/* Only for an export of more than one page: a single page is done before a person reads. */
static void show_progress(const struct export_run *run, bool more)
{
    if (run->cli->stderr_tty && (more || run->pages > 1))
        fprintf(stderr, "\rexported through seq %llu of %llu...", (unsigned long long)run->after,
                (unsigned long long)run->head.head_seq);
}

static int export_page(struct export_run *run, bool *more)
{
    struct lockbox_reply reply;
    struct export_page page;
    char path[LOCKBOX_NAME_MAX + 96];

    *more = false;
    snprintf(path, sizeof(path), "/v1/audit/export?tenant=%s&after=%llu&limit=%d",
             run->args->tenant, (unsigned long long)run->after, EXPORT_PAGE);
    int rc = api_call(run->cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK)
        rc = read_page(run, reply.body, &page);
    if (rc == CLI_OK && run->pages == 0)
        rc = write_header(run, &page);
    size_t count = rc == CLI_OK ? json_object_array_length(page.entries) : 0;
    for (size_t i = 0; i < count && rc == CLI_OK; i++)
        rc = write_entry(run, json_object_array_get_idx(page.entries, i), run->after + 1 + i);
    if (rc == CLI_OK) {
        run->pages++;
        run->after = page.next_after;
        run->head = page.head;
        *more = page.more;
        show_progress(run, page.more);
    }
    lockbox_reply_free(&reply);
    return rc;
}

static int write_trailer_and_close(struct export_run *run)
{
    char line[256];

    if (export_trailer_format(&run->head, line, sizeof(line)) == 0)
        fprintf(run->out, "%s\n", line);
    int failed = fflush(run->out) != 0 || ferror(run->out);
    if (run->out != stdout) {
        failed |= fsync(fileno(run->out)) != 0;
        failed |= fclose(run->out) != 0;
        run->out = NULL;
    }
    if (failed)
        return cli_fail("cannot write the export: %s", strerror(errno));
    return CLI_OK;
}

static void report_export(const struct export_run *run)
{
    const char *tenant = run->args->tenant; /* checked by text_is_name: safe to print */

    if (run->cli->stderr_tty && run->pages > 1)
        fputs("\r\033[K", stderr);
    if (run->cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "tenant", json_object_new_string(tenant));
        json_object_object_add(result, "records", json_object_new_int64((int64_t)run->records));
        json_object_object_add(result, "withheld", json_object_new_int64((int64_t)run->withheld));
        json_object_object_add(result, "after_seq",
                               json_object_new_int64((int64_t)run->first_after));
        json_object_object_add(result, "head_seq",
                               json_object_new_int64((int64_t)run->head.head_seq));
        json_object_object_add(result, "head_hash", json_object_new_string(run->head.head_hash));
        out_print_json_line(result);
        json_object_put(result);
    } else if (run->head.head_seq == run->first_after) {
        fprintf(stderr, "wrote no records of %s: none after seq %llu, head %llu %s\n", tenant,
                (unsigned long long)run->first_after, (unsigned long long)run->head.head_seq,
                run->head.head_hash);
    } else {
        fprintf(stderr,
                "wrote %llu records of %s and %llu withheld, seq %llu\xe2\x80\x93%llu, "
                "head %llu %s\n",
                (unsigned long long)run->records, tenant, (unsigned long long)run->withheld,
                (unsigned long long)run->first_after + 1, (unsigned long long)run->head.head_seq,
                (unsigned long long)run->head.head_seq, run->head.head_hash);
    }
}

/* O_EXCL: an export never replaces a file, least of all an earlier export. */
static int open_output(struct export_run *run)
{
    char shown[OUT_ESCAPED_MAX];

    if (run->args->output == NULL) {
        run->out = stdout;
        return CLI_OK;
    }
    int fd = open(run->args->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int open_errno = errno;
    if (fd >= 0 && (run->out = fdopen(fd, "w")) == NULL)
        close(fd);
    if (run->out == NULL)
        return cli_fail("cannot create %s: %s%s",
                        out_escape(run->args->output, "", shown, sizeof(shown)),
                        strerror(open_errno),
                        open_errno == EEXIST ? " (an export never overwrites a file: choose "
                                               "another name or remove it)"
                                             : "");
    return CLI_OK;
}

int audit_export(struct cli *cli, const struct audit_args *args)
{
    struct export_run run = {.cli = cli, .args = args, .after = args->after_seq};
    bool more = true;

    /* The export itself is JSON Lines on stdout then: a summary object would join it. */
    if (cli->json && args->output == NULL)
        return cli_usage("audit",
                         "--json prints the summary of an export written with --output FILE");
    int rc = open_output(&run);
    if (rc != CLI_OK)
        return rc;
    while (rc == CLI_OK && more)
        rc = export_page(&run, &more);
    if (rc == CLI_OK)
        rc = write_trailer_and_close(&run);
    if (rc != CLI_OK && args->output != NULL) {
        /* A partial file must not pass for an export: it goes (on stdout, the missing
         * trailer tells verify it is incomplete). */
        if (run.out != NULL)
            fclose(run.out);
        unlink(args->output);
        return rc;
    }
    if (rc == CLI_OK)
        report_export(&run);
    return rc;
}

int audit_head(struct cli *cli)
{
    struct lockbox_reply reply;
    json_object *hash;
    uint64_t seq;

    int rc = api_call(cli, "GET", "/v1/health", NULL, 0, 0, &reply);
    if (rc == CLI_OK && (!member_seq(reply.body, "audit_seq", &seq) ||
                         !json_object_object_get_ex(reply.body, "audit_hash", &hash)))
        rc = cli_fail("lockboxd's health reply lacks audit_seq or audit_hash");
    /* Before the first record the head is seq 0 and the zero hash (some replies say null). */
    const char *text = rc != CLI_OK                                ? NULL
                       : json_object_is_type(hash, json_type_null) ? AUDIT_ZERO_HASH
                                                                   : json_object_get_string(hash);
    if (rc == CLI_OK &&
        (!export_is_hash(text) || (seq == 0) != (strcmp(text, AUDIT_ZERO_HASH) == 0)))
        rc = cli_fail("lockboxd's health reply has a malformed audit_hash");
    if (rc == CLI_OK && cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "head_seq", json_object_new_int64((int64_t)seq));
        json_object_object_add(result, "head_hash", json_object_new_string(text));
        out_print_json(result);
        json_object_put(result);
    } else if (rc == CLI_OK) {
        printf("%llu %s\n", (unsigned long long)seq, text);
        fprintf(stderr,
                "Keep this head where the provider cannot change it (your own records); "
                "later, `lockboxctl audit verify --head %llu:%s FILE` proves an export "
                "still holds it.\n",
                (unsigned long long)seq, text);
    }
    lockbox_reply_free(&reply);
    return rc;
}
