/* `audit verify` of an export file (audit_export.c), offline: the chain from the header's
 * starting point through every entry to the trailer's head. The tenant's own records are
 * checked whole; the others, withheld, by their hashes, and each must not be one of the
 * tenant's own (tenant tag). A head the tenant kept (--head) must lie on the chain. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"
#include "audit_cmd.h"
#include "export_format.h"
#include "lockbox_limits.h"
#include "output.h"

struct export_check {
    const struct audit_args *args;
    struct audit_verifier verifier;
    struct export_header header;
    struct export_trailer trailer;
    bool have_header, have_trailer, kept_head_seen;
    char shown_path[OUT_ESCAPED_MAX];
    char where[OUT_ESCAPED_MAX + 32];
    char error[1024];
};

static int check_failed(struct export_check *check, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int check_failed(struct export_check *check, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vsnprintf(check->error, sizeof(check->error), format, ap);
    va_end(ap);
    return CLI_FAIL;
}

static int is_header_line(void *ctx, const char *line, size_t len, unsigned long lineno)
{
    (void)lineno;
    *(bool *)ctx = export_line_kind(line, len) == EXPORT_LINE_HEADER;
    return 1; /* the first line decides */
}

bool audit_file_is_export(const char *path)
{
    bool is_export = false;
    FILE *probe = fopen(path, "re");

    if (probe == NULL)
        return false; /* audit_verify() says why the file cannot be read */
    fclose(probe);
    audit_read_file(path, is_header_line, &is_export);
    return is_export;
}

/* The kept head lies on the chain: compared when the walk reaches its seq. */
static int check_kept_head(struct export_check *check)
{
    const struct audit_args *args = check->args;
    const struct audit_verifier *v = &check->verifier;

    if (!args->has_kept_head || check->kept_head_seen || v->seq != args->kept_seq)
        return CLI_OK;
    check->kept_head_seen = true;
    /* At the export's start the chain's hash is the header's (zeros before seq 1). */
    const char *hash = v->seq == check->header.after_seq ? check->header.after_hash : v->hash;
    if (strcmp(hash, args->kept_hash) != 0)
        return check_failed(check,
                            "%s: record seq %llu does not match the head you kept (the history "
                            "up to it was rewritten)",
                            check->where, (unsigned long long)args->kept_seq);
    return CLI_OK;
}

static int take_header(struct export_check *check, const char *line, size_t len)
{
    char err[EXPORT_ERROR_MAX];

    if (export_header_parse(line, len, &check->header, err, sizeof(err)) != 0)
        return check_failed(check, "%s: %s", check->where, err);
    check->have_header = true;
    if (check->args->grants != NULL)
        audit_grants_set_tenant(check->args->grants, check->header.tenant);
    audit_verifier_start_after(&check->verifier, check->header.after_seq, check->header.after_hash);
    if (check->args->has_kept_head && check->args->kept_seq < check->header.after_seq)
        return check_failed(check, "cannot check: the export starts after seq %llu",
                            (unsigned long long)check->args->kept_seq);
    return check_kept_head(check);
}

static int take_record(struct export_check *check, const char *line, size_t len)
{
    char tenant[OUT_ESCAPED_MAX];
    json_object *record, *field;

    if (audit_verify_line(&check->verifier, line, len, check->where) != 0)
        return check_failed(check, "%s", check->verifier.error);
    if (check->args->grants != NULL &&
        audit_grants_check_line(check->args->grants, line, len, check->where, check->verifier.error,
                                sizeof(check->verifier.error)) != 0)
        return check_failed(check, "%s", check->verifier.error);
    /* A verified line is one JSON object; whose is it? */
    record = json_tokener_parse(line);
    const char *owner = record != NULL && json_object_object_get_ex(record, "tenant", &field) &&
                                json_object_is_type(field, json_type_string)
                            ? json_object_get_string(field)
                            : "";
    int rc = CLI_OK;
    if (strcmp(owner, check->header.tenant) != 0)
        rc = check_failed(check,
                          "%s: record seq %llu belongs to tenant %s: not part of a %s export",
                          check->where, (unsigned long long)check->verifier.seq,
                          out_escape(owner, "(none)", tenant, sizeof(tenant)),
                          check->header.tenant);
    json_object_put(record);
    return rc;
}

static int take_withheld(struct export_check *check, const char *line, size_t len)
{
    struct export_withheld withheld;
    char err[EXPORT_ERROR_MAX];
    audit_hash own_tag;

    if (export_withheld_parse(line, len, &withheld, err, sizeof(err)) != 0)
        return check_failed(check, "%s: %s", check->where, err);
    if (withheld.version == 1) {
        if (audit_verify_withheld_v1(&check->verifier, withheld.v2.seq, withheld.record_hash,
                                     check->where) != 0)
            return check_failed(check, "%s", check->verifier.error);
        return CLI_OK;
    }
    /* A record of the tenant's own must be given whole: withholding it would hide it. */
    if (audit_tenant_tag(withheld.v2.seq, check->header.tenant, own_tag) != 0)
        return check_failed(check, "cannot compute a tenant tag");
    if (strcmp(own_tag, withheld.v2.tenant_tag) == 0)
        return check_failed(check,
                            "%s: record seq %llu is %s's own record but was withheld from the "
                            "export",
                            check->where, (unsigned long long)withheld.v2.seq,
                            check->header.tenant);
    if (audit_verify_withheld(&check->verifier, &withheld.v2, check->where) != 0)
        return check_failed(check, "%s", check->verifier.error);
    return CLI_OK;
}

/* Withheld format-1 records are hashes taken on trust. They are genuine only before format 2
 * began, which a whole format-2 record of the tenant's says (v2_from); with none in the export
 * a provider could pass any record off as one, so they are refused unless the tenant says its
 * chain began before format 2. */
static int check_format_1_trust(struct export_check *check)
{
    const struct audit_verifier *v = &check->verifier;

    if (v->taken_on_trust == 0 || v->v2_from != 0 || check->args->trust_format_1)
        return CLI_OK;
    return check_failed(check,
                        "records seq %llu to %llu are given only as format-1 hashes and no "
                        "record of yours in the export shows where format 2 began, so they "
                        "cannot be checked; if this chain began before format 2 (Lockbox "
                        "before Step 14), verify with --trust-format-1",
                        (unsigned long long)v->trust_first, (unsigned long long)v->trust_last);
}

static int take_trailer(struct export_check *check, const char *line, size_t len)
{
    char err[EXPORT_ERROR_MAX];

    if (export_trailer_parse(line, len, &check->trailer, err, sizeof(err)) != 0)
        return check_failed(check, "%s: %s", check->where, err);
    check->have_trailer = true;
    if (audit_verify_head(&check->verifier, check->trailer.head_seq, check->trailer.head_hash) != 0)
        return check_failed(check, "%s: %s", check->where, check->verifier.error);
    if (check->args->has_kept_head && check->args->kept_seq > check->trailer.head_seq)
        return check_failed(check,
                            "the export ends at seq %llu, before the head you kept (%llu): "
                            "records were removed",
                            (unsigned long long)check->trailer.head_seq,
                            (unsigned long long)check->args->kept_seq);
    if (check->args->has_kept_head && !check->kept_head_seen)
        return check_failed(check,
                            "the chain never reached the head you kept (seq %llu): records "
                            "before it are missing from the export",
                            (unsigned long long)check->args->kept_seq);
    return check_format_1_trust(check);
}

static int check_line(void *ctx, const char *line, size_t len, unsigned long lineno)
{
    struct export_check *check = ctx;
    enum export_line_kind kind = export_line_kind(line, len);
    int rc;

    snprintf(check->where, sizeof(check->where), "%s:%lu", check->shown_path, lineno);
    if (memchr(line, '\0', len) != NULL) /* a NUL would hide bytes from the hash */
        return check_failed(check, "%s: a NUL byte in the line", check->where);
    if (check->have_trailer)
        return check_failed(check, "%s: a line after the trailer", check->where);
    if (lineno == 1 || kind == EXPORT_LINE_HEADER)
        return lineno == 1 ? take_header(check, line, len)
                           : check_failed(check, "%s: a second export header", check->where);
    if (kind == EXPORT_LINE_TRAILER)
        return take_trailer(check, line, len);
    rc = kind == EXPORT_LINE_WITHHELD ? take_withheld(check, line, len)
                                      : take_record(check, line, len);
    return rc == CLI_OK ? check_kept_head(check) : rc;
}

static int report_export_ok(const struct cli *cli, const struct export_check *check)
{
    const struct audit_verifier *v = &check->verifier;
    uint64_t own = v->records - v->withheld, from = check->header.after_seq + 1;

    if (cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "ok", json_object_new_boolean(1));
        json_object_object_add(result, "tenant", json_object_new_string(check->header.tenant));
        json_object_object_add(result, "from_seq", json_object_new_int64((int64_t)from));
        json_object_object_add(result, "head_seq",
                               json_object_new_int64((int64_t)check->trailer.head_seq));
        json_object_object_add(result, "head_hash",
                               json_object_new_string(check->trailer.head_hash));
        json_object_object_add(result, "records", json_object_new_int64((int64_t)own));
        json_object_object_add(result, "withheld", json_object_new_int64((int64_t)v->withheld));
        json_object_object_add(result, "taken_on_trust",
                               json_object_new_int64((int64_t)v->taken_on_trust));
        out_print_json(result);
        json_object_put(result);
        return CLI_OK;
    }
    if (check->trailer.head_seq == check->header.after_seq) {
        printf("%s: no records after seq %llu; head %llu %s\n", check->header.tenant,
               (unsigned long long)check->header.after_seq,
               (unsigned long long)check->trailer.head_seq, check->trailer.head_hash);
        return CLI_OK;
    }
    printf("%s: chain intact from seq %llu to %llu: %llu records of yours, %llu withheld; head "
           "%llu %s\n",
           check->header.tenant, (unsigned long long)from,
           (unsigned long long)check->trailer.head_seq, (unsigned long long)own,
           (unsigned long long)v->withheld, (unsigned long long)check->trailer.head_seq,
           check->trailer.head_hash);
    if (v->taken_on_trust > 0)
        printf("%s: %llu withheld records, seq %llu to %llu, are from before format 2: their "
               "hashes are taken on trust\n",
               check->header.tenant, (unsigned long long)v->taken_on_trust,
               (unsigned long long)v->trust_first, (unsigned long long)v->trust_last);
    return CLI_OK;
}

int audit_verify_export(struct cli *cli, const struct audit_args *args)
{
    struct export_check *check = calloc(1, sizeof(*check));
    int rc;

    if (check == NULL)
        return cli_fail("out of memory");
    check->args = args;
    out_escape(args->files[0], "", check->shown_path, sizeof(check->shown_path));
    rc = audit_read_file(args->files[0], check_line, check);
    if (rc == CLI_FAIL && check->error[0])
        rc = audit_chain_broken(cli, check->error);
    else if (rc == CLI_OK && !check->have_trailer)
        rc = audit_chain_broken(cli, "the export is incomplete (no trailer line)");
    else if (rc == CLI_OK)
        rc = report_export_ok(cli, check);
    free(check);
    return rc;
}
