/* `audit verify`: walks the hash chain over one or several (rotated, oldest first) audit
 * files with lib/audit_chain.h and names the first bad record. Without --file it verifies
 * lockboxd's current file and compares its end with the head the daemon keeps, which is
 * what reveals a removed tail. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit_chain.h"
#include "audit_cmd.h"
#include "lockbox_limits.h"
#include "output.h"
#include "remote.h"

struct verify_context {
    struct audit_verifier verifier;
    const char *path; /* the file being read */
    char shown_path[OUT_ESCAPED_MAX];
    uint64_t first_seq;
    /* After a gap: the seq that is missing, to tell "reordered" from "removed". */
    uint64_t missing_seq;
    uint64_t bad_seq;
    unsigned long bad_lineno;
    unsigned long found_lineno;
};

static int verify_line(void *ctx, const char *line, size_t len, unsigned long lineno)
{
    struct verify_context *verify = ctx;
    char where[OUT_ESCAPED_MAX + 32];
    uint64_t seq;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];

    snprintf(where, sizeof(where), "%s:%lu", verify->shown_path, lineno);
    if (memchr(line, '\0', len) != NULL) /* a NUL would hide bytes from the hash; never valid */
        line = "";
    if (audit_verify_line(&verify->verifier, line, len, where) == 0) {
        if (verify->verifier.records == 1)
            verify->first_seq = verify->verifier.seq;
        return 0;
    }
    verify->bad_lineno = lineno;
    if (verify->verifier.started && audit_line_fields(line, len, &seq, prev) == 0 &&
        seq > verify->verifier.seq + 1) {
        verify->missing_seq = verify->verifier.seq + 1;
        verify->bad_seq = seq;
    }
    return CLI_FAIL;
}

/* After a gap, is the missing record further down the same file? Then it was reordered. */
static int find_missing(void *ctx, const char *line, size_t len, unsigned long lineno)
{
    struct verify_context *verify = ctx;
    uint64_t seq;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];

    if (lineno > verify->bad_lineno && audit_line_fields(line, len, &seq, prev) == 0 &&
        seq == verify->missing_seq) {
        verify->found_lineno = lineno;
        return 1;
    }
    return 0;
}

int audit_chain_broken(const struct cli *cli, const char *message)
{
    if (cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "ok", json_object_new_boolean(0));
        json_object_object_add(result, "error", json_object_new_string(message));
        out_print_json(result);
        json_object_put(result);
    }
    return cli_fail("audit chain broken: %s", message);
}

static int verify_one_file(const struct cli *cli, struct verify_context *verify, const char *path)
{
    verify->path = path;
    out_escape(path, "", verify->shown_path, sizeof(verify->shown_path));
    int rc = audit_read_file(path, verify_line, verify);
    if (rc == 0)
        return CLI_OK;
    if (!verify->verifier.error[0])
        return CLI_FAIL; /* the file could not be read; audit_read_file said so */
    if (verify->missing_seq != 0 && audit_read_file(path, find_missing, verify) == 1) {
        char message[sizeof(verify->shown_path) + 160];
        snprintf(message, sizeof(message),
                 "%s:%lu: record seq %llu comes before seq %llu (line %lu) (reordered)",
                 verify->shown_path, verify->bad_lineno, (unsigned long long)verify->bad_seq,
                 (unsigned long long)verify->missing_seq, verify->found_lineno);
        return audit_chain_broken(cli, message);
    }
    return audit_chain_broken(cli, verify->verifier.error);
}

static int report_ok(const struct cli *cli, const struct verify_context *verify)
{
    const struct audit_verifier *v = &verify->verifier;

    if (cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "ok", json_object_new_boolean(1));
        json_object_object_add(result, "records", json_object_new_int64((int64_t)v->records));
        json_object_object_add(result, "first_seq",
                               v->records ? json_object_new_int64((int64_t)verify->first_seq)
                                          : NULL);
        json_object_object_add(result, "last_seq",
                               v->records ? json_object_new_int64((int64_t)v->seq) : NULL);
        out_print_json(result);
        json_object_put(result);
    } else if (v->records == 0) {
        puts("audit chain OK: 0 records");
    } else {
        printf("audit chain OK: %llu records, seq %llu..%llu\n", (unsigned long long)v->records,
               (unsigned long long)verify->first_seq, (unsigned long long)v->seq);
    }
    return CLI_OK;
}

/* The daemon's audit file and the head of its chain, from GET /v1/health. */
struct daemon_head {
    char file[LOCKBOX_PATH_MAX + 1];
    uint64_t seq;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t file_first_seq; /* 0: the daemon did not say */
};

static int fetch_daemon_head(const struct cli *cli, struct daemon_head *head)
{
    struct lockbox_reply reply;
    json_object *file, *seq, *hash;

    memset(head, 0, sizeof(*head));
    int rc = api_call(cli, "GET", "/v1/health", NULL, 0, 0, &reply);
    if (rc != CLI_OK)
        goto out;
    /* The file it names is on lockboxd's host, not here: a local file of that name would be
     * some other chain. */
    if (cli->target->remote) {
        rc = cli_fail("audit verify without --file reads lockboxd's audit file, which is on its "
                      "host: run it there, or copy the files here and name them with --file");
        goto out;
    }
    if (!json_object_object_get_ex(reply.body, "audit_file", &file) ||
        !json_object_is_type(file, json_type_string) ||
        (size_t)json_object_get_string_len(file) > LOCKBOX_PATH_MAX ||
        !json_object_object_get_ex(reply.body, "audit_seq", &seq) ||
        !json_object_is_type(seq, json_type_int) || json_object_get_int64(seq) < 0 ||
        !json_object_object_get_ex(reply.body, "audit_hash", &hash)) {
        rc = cli_fail("lockboxd's health reply lacks audit_file, audit_seq or audit_hash");
        goto out;
    }
    snprintf(head->file, sizeof(head->file), "%s", json_object_get_string(file));
    head->seq = (uint64_t)json_object_get_int64(seq);
    if (hash != NULL && json_object_is_type(hash, json_type_string))
        snprintf(head->hash, sizeof(head->hash), "%s", json_object_get_string(hash));
    if (json_object_object_get_ex(reply.body, "audit_file_first_seq", &seq) &&
        json_object_is_type(seq, json_type_int) && json_object_get_int64(seq) > 0)
        head->file_first_seq = (uint64_t)json_object_get_int64(seq);
out:
    lockbox_reply_free(&reply);
    return rc;
}

/* The newest rotated file beside path: logrotate's dateext names (PATH-YYYYMMDD-EPOCH) sort
 * by age. Returns 0 with its path, or -1 when there is none. */
static int newest_rotated(const char *path, char *out, size_t out_len)
{
    char dir[LOCKBOX_PATH_MAX + 1];
    const char *slash = strrchr(path, '/');
    struct dirent *de;

    if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
        return -1;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    const char *base = slash + 1;
    size_t base_len = strlen(base);
    DIR *d = opendir(dir[0] ? dir : "/");
    if (d == NULL)
        return -1;
    out[0] = '\0';
    char best[NAME_MAX + 1] = "";
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strncmp(name, base, base_len) != 0 || name[base_len] != '-' ||
            strspn(name + base_len + 1, "0123456789-") != strlen(name + base_len + 1))
            continue; /* not one of ours, or compressed */
        if (strcmp(name, best) > 0)
            snprintf(best, sizeof(best), "%s", name);
    }
    closedir(d);
    if (best[0] == '\0' || (size_t)snprintf(out, out_len, "%s/%s", dir, best) >= out_len)
        return -1;
    return 0;
}

/* Right after a rotation the live file is empty until the next record: that is fine when the
 * file rotated away ends at the daemon's head. */
static int verify_rotated_away(const struct cli *cli, struct verify_context *verify,
                               const struct daemon_head *head)
{
    char previous[LOCKBOX_PATH_MAX + NAME_MAX + 2];

    if (newest_rotated(head->file, previous, sizeof(previous)) != 0)
        return audit_chain_broken(cli, verify->verifier.error);
    audit_verifier_init(&verify->verifier);
    int rc = verify_one_file(cli, verify, previous);
    if (rc != CLI_OK)
        return rc;
    if (audit_verify_head(&verify->verifier, head->seq, head->hash) != 0) {
        char message[8192], live[OUT_ESCAPED_MAX];
        snprintf(message, sizeof(message), "%s is empty and the newest rotated file, %s: %s",
                 out_escape(head->file, "", live, sizeof(live)), verify->shown_path,
                 verify->verifier.error);
        return audit_chain_broken(cli, message);
    }
    if (!cli->json) {
        char live[OUT_ESCAPED_MAX];
        printf("%s is empty since its rotation; %s ends at lockboxd's head\n",
               out_escape(head->file, "", live, sizeof(live)), verify->shown_path);
    }
    return CLI_OK;
}

int audit_verify(struct cli *cli, const struct audit_args *args)
{
    struct verify_context *verify = calloc(1, sizeof(*verify));
    struct daemon_head head;
    int rc = CLI_OK;

    if (verify == NULL)
        return cli_fail("out of memory");
    audit_verifier_init(&verify->verifier);
    if (args->n_files > 0) {
        for (size_t i = 0; i < args->n_files && rc == CLI_OK; i++)
            rc = verify_one_file(cli, verify, args->files[i]);
    } else if ((rc = fetch_daemon_head(cli, &head)) == CLI_OK &&
               (rc = verify_one_file(cli, verify, head.file)) == CLI_OK &&
               audit_verify_head(&verify->verifier, head.seq, head.hash) != 0) {
        /* An empty live file that lockboxd starts after its head: a rotation, not a loss. */
        if (verify->verifier.records == 0 && head.file_first_seq == head.seq + 1)
            rc = verify_rotated_away(cli, verify, &head);
        else
            rc = audit_chain_broken(cli, verify->verifier.error);
    } else if (rc == CLI_OK && head.file_first_seq > 0 && verify->verifier.records > 0 &&
               verify->first_seq != head.file_first_seq) {
        /* The head check sees the end of the file; this sees its start. */
        char message[LOCKBOX_PATH_MAX + 160];
        snprintf(message, sizeof(message),
                 "%s starts at seq %llu but lockboxd started it at seq %llu (records removed)",
                 head.file, (unsigned long long)verify->first_seq,
                 (unsigned long long)head.file_first_seq);
        rc = audit_chain_broken(cli, message);
    }
    if (rc == CLI_OK)
        rc = report_ok(cli, verify);
    free(verify);
    return rc;
}
