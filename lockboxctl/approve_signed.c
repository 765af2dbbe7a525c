/* Builds or continues a request's grant statement and signs it with the approver's key. The
 * daemon checks everything again; this side only makes sure the admin signs what they see. */
#include "approve_signed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "duration.h"
#include "grant.h"
#include "output.h"
#include "signing_key.h"
#include "timefmt.h"

#define DEFAULT_WINDOW_S 3600

/* The request and its hash as lockboxd states it (request_sha256: the request object's
 * created_at has whole seconds, the hash covers milliseconds). */
static int fetch_request(const struct cli *cli, const char *id, struct lockbox_request *req,
                         char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    struct lockbox_reply reply;
    json_object *value;
    char path[96];

    snprintf(path, sizeof(path), "/v1/requests/%s", id);
    int rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
    if (rc == CLI_OK)
        rc = api_parse_request(reply.body, req);
    if (rc == CLI_OK) {
        if (json_object_object_get_ex(reply.body, "request_sha256", &value) &&
            json_object_is_type(value, json_type_string) &&
            json_object_get_string_len(value) == LOCKBOX_HASH_HEX_LEN)
            memcpy(hash, json_object_get_string(value), LOCKBOX_HASH_HEX_LEN + 1);
        else
            rc = cli_fail("lockboxd did not say request %s's hash (request_sha256): is it "
                          "older than signed grants?",
                          id);
    }
    lockbox_reply_free(&reply);
    return rc;
}

/* A new statement for req: from now (to the second) for the window. */
static int new_statement(const struct lockbox_request *req, const char *hash, const char *duration,
                         struct grant *grant)
{
    int64_t seconds = DEFAULT_WINDOW_S;
    struct grant_statement *s = &grant->statement;

    if (duration != NULL && duration_parse(duration, &seconds) != 0)
        return cli_usage("approve", "--for takes a duration such as 90m, 2h or 1d");
    memset(grant, 0, sizeof(*grant));
    snprintf(s->tenant, sizeof(s->tenant), "%s", req->tenant);
    snprintf(s->request_id, sizeof(s->request_id), "%s", req->id);
    snprintf(s->user, sizeof(s->user), "%s", req->user);
    snprintf(s->requester, sizeof(s->requester), "%s", req->requester);
    snprintf(s->host, sizeof(s->host), "%s", req->host);
    snprintf(s->request_sha256, sizeof(s->request_sha256), "%s", hash);
    s->not_before_ms = out_now_ms() / 1000 * 1000;
    s->not_after_ms = s->not_before_ms + seconds * 1000;
    return CLI_OK;
}

static void print_started(FILE *out, const struct grant *grant)
{
    char from[TIMEFMT_LEN], to[TIMEFMT_LEN];

    timefmt_rfc3339(grant->statement.not_before_ms, from);
    timefmt_rfc3339(grant->statement.not_after_ms, to);
    fprintf(out,
            "Signing the statement already started for request %s: %s on %s from %s until %s, "
            "signed by",
            grant->statement.request_id, grant->statement.user, grant->statement.host, from, to);
    for (size_t i = 0; i < grant->n_signatures; i++)
        fprintf(out, "%s %s", i ? "," : "", grant->signatures[i].signer);
    fputs(".\n", out);
}

/* A statement someone else started (lockboxd hands it over: whoever runs it could have made
 * it) is signed only for a window like the one this approver would have made: no longer
 * than --for (or the default hour), starting after the request was filed and not later
 * than now, and not over yet. */
#define STARTED_SKEW_MS (5 * 60 * 1000)

static int started_window_ok(const struct lockbox_request *req, const struct grant_statement *s,
                             const char *duration)
{
    int64_t limit_s = DEFAULT_WINDOW_S, now = out_now_ms();
    char asked[32], length[32];

    if (duration != NULL && duration_parse(duration, &limit_s) != 0)
        return cli_usage("approve", "--for takes a duration such as 90m, 2h or 1d");
    if (s->not_after_ms - s->not_before_ms > limit_s * 1000) {
        duration_format(limit_s, asked, sizeof(asked));
        duration_format((s->not_after_ms - s->not_before_ms) / 1000, length, sizeof(length));
        return cli_fail("the statement already started for request %s grants %s, longer than "
                        "%s; not signing it (pass --for %s if that is what you approve)",
                        req->id, length, asked, length);
    }
    if (s->not_before_ms < req->created_at - STARTED_SKEW_MS ||
        s->not_before_ms > now + STARTED_SKEW_MS || s->not_after_ms <= now)
        return cli_fail("the statement already started for request %s has a window that does "
                        "not start between the request's filing and now, or is over; not "
                        "signing it",
                        req->id);
    return CLI_OK;
}

/* The statement to sign: the request's own when signing has started, else a new one. */
static int statement_for(const struct cli *cli, const struct lockbox_request *req, const char *hash,
                         const char *duration, struct grant *grant)
{
    char err[256], shown[OUT_ESCAPED_MAX];
    const struct grant_statement *s = &grant->statement;

    if (req->grant[0] == '\0')
        return new_statement(req, hash, duration, grant);
    if (grant_parse(req->grant, strlen(req->grant), grant, err, sizeof(err)) != 0)
        return cli_fail("request %s carries a grant that does not parse: %s", req->id,
                        out_escape(err, "", shown, sizeof(shown)));
    if (strcmp(s->request_id, req->id) != 0 || strcmp(s->request_sha256, hash) != 0 ||
        strcmp(s->tenant, req->tenant) != 0 || strcmp(s->user, req->user) != 0 ||
        strcmp(s->requester, req->requester) != 0 || strcmp(s->host, req->host) != 0)
        return cli_fail("request %s carries a statement for another request; not signing it",
                        req->id);
    print_started(cli->json ? stderr : stdout, grant);
    return started_window_ok(req, s, duration);
}

int approve_sign_request(const struct cli *cli, const char *id,
                         const struct signed_approve_args *args, char **grant_text)
{
    char name_buf[LOCKBOX_NAME_MAX + 1], passphrase[SIGNING_PASSPHRASE_MAX + 1], err[256];
    const char *name = signing_name("approve", args->name, name_buf);
    struct lockbox_request req;
    struct grant grant;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    EVP_PKEY *key = NULL;
    size_t len;
    int rc;

    *grant_text = NULL;
    if (name == NULL)
        return CLI_USAGE;
    if ((rc = fetch_request(cli, id, &req, hash)) != CLI_OK)
        return rc;
    if (req.state != REQUEST_PENDING)
        return cli_fail("request %s is %s; only a pending request can be approved", id,
                        request_state_name(req.state));
    if ((rc = statement_for(cli, &req, hash, args->duration, &grant)) != CLI_OK)
        return rc;
    if (args->passphrase_file != NULL && signing_passphrase_read(args->passphrase_file, passphrase))
        return CLI_FAIL;
    key = signing_key_load(args->key_file, args->passphrase_file ? passphrase : NULL);
    explicit_bzero(passphrase, sizeof(passphrase));
    if (key == NULL)
        return CLI_FAIL;
    rc = CLI_OK;
    if (grant_sign(&grant, name, key, err, sizeof(err)) != 0 ||
        grant_build(&grant, grant_text, &len, err, sizeof(err)) != 0)
        rc = cli_fail("cannot sign request %s: %s", id, err);
    EVP_PKEY_free(key);
    return rc;
}

void approve_print_signers(const struct lockbox_request *req, json_object *reply)
{
    json_object *signers = NULL, *required = NULL;
    int n = 0, need = 1;

    if (json_object_object_get_ex(reply, "signers", &signers) &&
        json_object_is_type(signers, json_type_array))
        n = (int)json_object_array_length(signers);
    if (json_object_object_get_ex(reply, "approvals_required", &required) &&
        json_object_is_type(required, json_type_int))
        need = json_object_get_int(required);
    if (n == 0)
        return;
    printf("Signed by");
    for (int i = 0; i < n; i++) {
        char shown[OUT_ESCAPED_MAX];
        const char *name = json_object_get_string(json_object_array_get_idx(signers, i));
        printf("%s %s", i ? "," : "", out_escape(name, "-", shown, sizeof(shown)));
    }
    printf(" (%d of %d)", n, need);
    if (req->state == REQUEST_PENDING && n < need)
        printf("; request %s waits for %d more signature%s", req->id, need - n,
               need - n == 1 ? "" : "s");
    puts(".");
}
