/* `key generate` and `key show`: an approver's Ed25519 key pair on their own machine. The
 * private key never leaves the file it is written to; the public key line is what the tenant
 * pins (docs/DESIGN.md, "Grants: the signed statement"). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "approver_keys.h"
#include "cli.h"
#include "output.h"
#include "signing_key.h"

struct key_args {
    bool generate;
    const char *name, *output, *key_file, *passphrase_file;
};

enum { OPT_NAME = 2000, OPT_OUTPUT, OPT_SIGNING_KEY, OPT_PASSPHRASE_FILE };

static int parse_key_options(struct cli *cli, int argc, char **argv, struct key_args *args)
{
    /* --key comes before the common options: here it names the signing key, not a TLS key. */
    static const struct option options[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"key", required_argument, NULL, OPT_SIGNING_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int opt, rc;

    if (argc < 2 || (strcmp(argv[1], "generate") != 0 && strcmp(argv[1], "show") != 0)) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0)
            return cli_common_option(cli, "key", OPT_HELP, argv);
        return cli_usage("key", "say 'key generate' or 'key show'");
    }
    args->generate = strcmp(argv[1], "generate") == 0;
    optind = 2;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == OPT_NAME)
            args->name = optarg;
        else if (opt == OPT_OUTPUT)
            args->output = optarg;
        else if (opt == OPT_SIGNING_KEY)
            args->key_file = optarg;
        else if (opt == OPT_PASSPHRASE_FILE)
            args->passphrase_file = optarg;
        else if ((rc = cli_common_option(cli, "key", opt, argv)) != -1)
            return rc;
    }
    if (optind < argc)
        return cli_usage("key", "unexpected argument");
    if (args->generate && args->key_file != NULL)
        return cli_usage("key", "generate writes a new key: --key goes with 'key show'");
    if (!args->generate && args->output != NULL)
        return cli_usage("key", "--output goes with 'key generate'");
    if (!args->generate && args->key_file == NULL)
        return cli_usage("key", "show needs --key FILE");
    return -1;
}

/* Prints the public key line (or its JSON) that the tenant publishes and pins. */
static int print_public(const struct cli *cli, const char *name, EVP_PKEY *key, const char *file)
{
    unsigned char raw[APPROVER_KEY_RAW_LEN];
    char line[APPROVER_KEY_LINE_MAX], key_id[LOCKBOX_KEY_ID_HEX_LEN + 1];

    if (signing_key_public(key, raw) != 0 || approver_key_line(name, raw, line) != 0)
        return cli_fail("cannot read the key's public half");
    approver_key_id(raw, key_id);
    if (!cli->json) {
        printf("%s\n", line);
        return CLI_OK;
    }
    json_object *result = json_object_new_object();
    json_object_object_add(result, "name", json_object_new_string(name));
    json_object_object_add(result, "type", json_object_new_string("ed25519"));
    json_object_object_add(result, "key_id", json_object_new_string(key_id));
    json_object_object_add(result, "line", json_object_new_string(line));
    json_object_object_add(result, "file", file ? json_object_new_string(file) : NULL);
    out_print_json(result);
    json_object_put(result);
    return CLI_OK;
}

/* The PEM text of the private key, encrypted when a passphrase is given. */
static BIO *private_pem(EVP_PKEY *key, const char *passphrase)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const EVP_CIPHER *cipher = passphrase != NULL ? EVP_aes_256_cbc() : NULL;

    if (bio != NULL &&
        PEM_write_bio_PKCS8PrivateKey(bio, key, cipher, passphrase,
                                      passphrase != NULL ? (int)strlen(passphrase) : 0, NULL,
                                      NULL) != 1) {
        BIO_free(bio);
        return NULL;
    }
    return bio;
}

/* O_EXCL: never overwrite a key (it may be the only copy); 0600 from the start, so the secret
 * is never readable by others, not even between open and chmod. */
static int write_private(const char *path, EVP_PKEY *key, const char *passphrase)
{
    char shown[OUT_ESCAPED_MAX];
    BIO *bio = private_pem(key, passphrase);
    char *pem = NULL;
    long len = bio != NULL ? BIO_get_mem_data(bio, &pem) : 0;
    int fd = -1, rc = CLI_FAIL;

    out_escape(path, "", shown, sizeof(shown));
    if (bio == NULL || len <= 0) {
        cli_fail("cannot encode the private key");
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_fail("cannot create key file %s: %s%s", shown, strerror(errno),
                 errno == EEXIST ? " (a key is never overwritten: choose another --output)" : "");
        goto out;
    }
    if (write(fd, pem, (size_t)len) != len || fsync(fd) != 0) {
        cli_fail("cannot write key file %s: %s", shown, strerror(errno));
        unlink(path);
        goto out;
    }
    rc = CLI_OK;
out:
    if (fd >= 0)
        close(fd);
    BIO_free(bio);
    return rc;
}

static int key_generate(const struct cli *cli, const struct key_args *args, const char *name,
                        const char *passphrase)
{
    char default_output[LOCKBOX_NAME_MAX + 8], shown[OUT_ESCAPED_MAX];
    const char *output = args->output;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    int rc;

    if (output == NULL) {
        snprintf(default_output, sizeof(default_output), "%s.key", name);
        output = default_output;
    }
    if (key == NULL)
        return cli_fail("cannot generate an Ed25519 key");
    rc = write_private(output, key, passphrase);
    if (rc == CLI_OK) {
        fprintf(stderr, "lockboxctl: private key in %s (mode 0600%s); the tenant pins this line:\n",
                out_escape(output, "", shown, sizeof(shown)),
                passphrase != NULL ? ", encrypted" : ", not encrypted");
        rc = print_public(cli, name, key, output);
    }
    EVP_PKEY_free(key);
    return rc;
}

int cmd_key(struct cli *cli, int argc, char **argv)
{
    struct key_args args = {0};
    char name_buf[LOCKBOX_NAME_MAX + 1], passphrase_buf[SIGNING_PASSPHRASE_MAX + 1];
    const char *name, *passphrase = NULL;
    int rc = parse_key_options(cli, argc, argv, &args);

    if (rc != -1)
        return rc;
    if ((name = signing_name("key", args.name, name_buf)) == NULL)
        return CLI_USAGE;
    if (args.passphrase_file != NULL) {
        if (signing_passphrase_read(args.passphrase_file, passphrase_buf) != 0)
            return CLI_FAIL;
        passphrase = passphrase_buf;
    }
    if (args.generate) {
        rc = key_generate(cli, &args, name, passphrase);
    } else {
        EVP_PKEY *key = signing_key_load(args.key_file, passphrase);
        rc = key != NULL ? print_public(cli, name, key, args.key_file) : CLI_FAIL;
        EVP_PKEY_free(key);
    }
    explicit_bzero(passphrase_buf, sizeof(passphrase_buf));
    return rc;
}
