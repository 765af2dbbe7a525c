/* `grant verify` (offline: a grant against a tenant's pinned keys, at a time) and `grant sign`
 * (adds the approver's signature to a statement file). docs/DESIGN.md, "Grants: the signed
 * statement". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "approver_keys.h"
#include "cli.h"
#include "grant.h"
#include "output.h"
#include "signing_key.h"
#include "timefmt.h"

struct grant_args {
    bool sign;
    const char *keys_file, *key_file, *passphrase_file, *name, *grant_file;
    int64_t at_ms;
    unsigned required;
};

enum { OPT_KEYS = 2100, OPT_AT, OPT_REQUIRED, OPT_SIGNING_KEY, OPT_PASSPHRASE_FILE, OPT_NAME };

static int check_grant_args(struct grant_args *args)
{
    if (args->grant_file == NULL)
        return cli_usage("grant", "name the grant or statement file");
    if (!args->sign && args->keys_file == NULL)
        return cli_usage("grant", "verify needs --keys FILE (the tenant's pinned approver keys)");
    if (args->sign && args->key_file == NULL)
        return cli_usage("grant", "sign needs --key FILE (your private key)");
    if (args->sign && args->keys_file != NULL)
        return cli_usage("grant", "--keys goes with 'grant verify'");
    if (!args->sign && (args->key_file != NULL || args->passphrase_file != NULL))
        return cli_usage("grant", "--key and --passphrase-file go with 'grant sign'");
    return -1;
}

static int parse_grant_options(struct cli *cli, int argc, char **argv, struct grant_args *args)
{
    /* --key comes before the common options: here it names the signing key, not a TLS key. */
    static const struct option options[] = {
        {"keys", required_argument, NULL, OPT_KEYS},
        {"at", required_argument, NULL, OPT_AT},
        {"required", required_argument, NULL, OPT_REQUIRED},
        {"key", required_argument, NULL, OPT_SIGNING_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
        {"name", required_argument, NULL, OPT_NAME},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *end;
    int opt, rc;

    if (argc < 2 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "sign") != 0)) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0)
            return cli_common_option(cli, "grant", OPT_HELP, argv);
        return cli_usage("grant", "say 'grant verify' or 'grant sign'");
    }
    args->sign = strcmp(argv[1], "sign") == 0;
    args->at_ms = out_now_ms() / 1000 * 1000;
    args->required = 1;
    optind = 2;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == OPT_KEYS)
            args->keys_file = optarg;
        else if (opt == OPT_AT && timefmt_parse(optarg, &args->at_ms) != 0)
            return cli_usage("grant", "--at takes an RFC 3339 UTC time: 2026-12-02T10:00:00Z");
        else if (opt == OPT_REQUIRED) {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] < '1' || optarg[0] > '9' ||
                n > LOCKBOX_GRANT_SIGNATURES_MAX)
                return cli_usage("grant", "--required takes 1-%d", LOCKBOX_GRANT_SIGNATURES_MAX);
            args->required = (unsigned)n;
        } else if (opt == OPT_SIGNING_KEY)
            args->key_file = optarg;
        else if (opt == OPT_PASSPHRASE_FILE)
            args->passphrase_file = optarg;
        else if (opt == OPT_NAME)
            args->name = optarg;
        else if (opt != OPT_AT && (rc = cli_common_option(cli, "grant", opt, argv)) != -1)
            return rc;
    }
    if (optind < argc)
        args->grant_file = argv[optind++];
    if (optind < argc)
        return cli_usage("grant", "one grant file at a time");
    return check_grant_args(args);
}

/* Reads and parses a grant file; CLI_OK, or CLI_FAIL after "FILE: line N: ...". */
static int load_grant(const char *path, struct grant *grant)
{
    char shown[OUT_ESCAPED_MAX], err[256], err_shown[OUT_ESCAPED_MAX];
    size_t len;
    char *text = signing_read_file("grant file", path, LOCKBOX_GRANT_MAX, &len);
    int rc;

    if (text == NULL)
        return CLI_FAIL;
    rc = grant_parse(text, len, grant, err, sizeof(err));
    free(text);
    if (rc != 0)
        return cli_fail("%s: %s", out_escape(path, "", shown, sizeof(shown)),
                        out_escape(err, "", err_shown, sizeof(err_shown)));
    return CLI_OK;
}

static void print_statement(const struct grant_statement *s)
{
    char from[TIMEFMT_LEN], to[TIMEFMT_LEN];

    timefmt_rfc3339(s->not_before_ms, from);
    timefmt_rfc3339(s->not_after_ms, to);
    printf("statement: tenant %s, request %s, user %s (requester %s) on %s, from %s until %s\n",
           s->tenant, s->request_id, s->user, s->requester[0] ? s->requester : "-", s->host, from,
           to);
}

static json_object *verification_json(const struct grant *grant, const struct grant_verification *v,
                                      unsigned quorum, bool valid, const char *at)
{
    json_object *result = json_object_new_object(), *signatures = json_object_new_array();

    json_object_object_add(result, "valid", json_object_new_boolean(valid));
    json_object_object_add(result, "at", json_object_new_string(at));
    json_object_object_add(result, "in_window", json_object_new_boolean(v->in_window));
    json_object_object_add(result, "approvers", json_object_new_int((int)quorum));
    for (size_t i = 0; i < grant->n_signatures; i++) {
        json_object *one = json_object_new_object();
        json_object_object_add(one, "signer", json_object_new_string(grant->signatures[i].signer));
        json_object_object_add(one, "key_id", json_object_new_string(grant->signatures[i].key_id));
        json_object_object_add(one, "valid",
                               json_object_new_boolean(v->status[i] == GRANT_SIGNATURE_VALID));
        json_object_object_add(one, "status",
                               json_object_new_string(grant_signature_status_text(v->status[i])));
        json_object_array_add(signatures, one);
    }
    json_object_object_add(result, "signatures", signatures);
    return result;
}

static int grant_verify_command(const struct cli *cli, const struct grant_args *args)
{
    struct approver_keys *keys = malloc(sizeof(*keys));
    char err[512], shown[OUT_ESCAPED_MAX], at[TIMEFMT_LEN];
    struct grant grant;
    struct grant_verification v;
    int rc = CLI_FAIL;

    if (keys == NULL)
        return cli_fail("out of memory");
    if (approver_keys_load(args->keys_file, keys, err, sizeof(err)) != 0) {
        cli_fail("%s", out_escape(err, "", shown, sizeof(shown)));
        goto out;
    }
    if (load_grant(args->grant_file, &grant) != CLI_OK)
        goto out;
    grant_verify(&grant, keys, args->at_ms, &v);
    /* The people the statement names may not approve their own access. */
    const char *const excluded[] = {grant.statement.user, grant.statement.requester};
    unsigned quorum = grant_quorum(&grant, &v, excluded, 2);
    bool window_ok = grant.statement.not_after_ms - grant.statement.not_before_ms <=
                     (int64_t)LOCKBOX_DEFAULT_TTL_SECONDS * 1000;
    bool valid = v.in_window && window_ok && quorum >= args->required;
    timefmt_rfc3339(args->at_ms, at);
    if (cli->json) {
        json_object *result = verification_json(&grant, &v, quorum, valid, at);
        out_print_json(result);
        json_object_put(result);
    } else {
        print_statement(&grant.statement);
        for (size_t i = 0; i < grant.n_signatures; i++)
            printf("signed by %s (key %s): %s\n", grant.signatures[i].signer,
                   grant.signatures[i].key_id, grant_signature_status_text(v.status[i]));
        printf("%s at %s: %u valid approver signatures, %u required%s%s\n",
               valid ? "valid" : "NOT valid", at, quorum, args->required,
               v.in_window ? "" : "; outside the statement's window",
               window_ok ? "" : "; its window is longer than 12h, the most any approval may last");
    }
    rc = valid ? CLI_OK : CLI_FAIL;
out:
    free(keys);
    return rc;
}

/* Replaces path with text through a temporary file beside it and rename(): a reader never sees
 * half a grant, and the file keeps its mode. */
static int replace_file(const char *path, const char *text, size_t len)
{
    char tmp[LOCKBOX_PATH_MAX + 32], shown[OUT_ESCAPED_MAX];
    struct stat st;
    int fd;

    out_escape(path, "", shown, sizeof(shown));
    if (strlen(path) > LOCKBOX_PATH_MAX || stat(path, &st) != 0)
        return cli_fail("cannot replace %s", shown);
    snprintf(tmp, sizeof(tmp), "%s.signing.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0666);
    if (fd < 0)
        return cli_fail("cannot create %s.signing.*: %s", shown, strerror(errno));
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return cli_fail("cannot write %s: %s", shown, strerror(saved));
    }
    return CLI_OK;
}

static int grant_sign_command(const struct grant_args *args)
{
    char name_buf[LOCKBOX_NAME_MAX + 1], passphrase[SIGNING_PASSPHRASE_MAX + 1], err[256];
    const char *name = signing_name("grant", args->name, name_buf);
    struct grant grant;
    EVP_PKEY *key = NULL;
    char *text = NULL;
    size_t len;
    int rc = CLI_FAIL;

    if (name == NULL)
        return CLI_USAGE;
    if (args->passphrase_file != NULL && signing_passphrase_read(args->passphrase_file, passphrase))
        return CLI_FAIL;
    key = signing_key_load(args->key_file, args->passphrase_file ? passphrase : NULL);
    explicit_bzero(passphrase, sizeof(passphrase));
    if (key == NULL || load_grant(args->grant_file, &grant) != CLI_OK)
        goto out;
    if (grant_sign(&grant, name, key, err, sizeof(err)) != 0 ||
        grant_build(&grant, &text, &len, err, sizeof(err)) != 0) {
        cli_fail("cannot sign: %s", err);
        goto out;
    }
    if ((rc = replace_file(args->grant_file, text, len)) != CLI_OK)
        goto out;
    print_statement(&grant.statement);
    printf("signed by %s (key %s): %zu signature%s on the statement\n", name,
           grant.signatures[grant.n_signatures - 1].key_id, grant.n_signatures,
           grant.n_signatures == 1 ? "" : "s");
out:
    free(text);
    EVP_PKEY_free(key);
    return rc;
}

int cmd_grant(struct cli *cli, int argc, char **argv)
{
    struct grant_args args = {0};
    int rc = parse_grant_options(cli, argc, argv, &args);

    if (rc != -1)
        return rc;
    return args.sign ? grant_sign_command(&args) : grant_verify_command(cli, &args);
}
