/* Reading an approver's private key and passphrase: the files are the secret, so a file that
 * others may read is refused (as ssh does), and libcrypto is never let to prompt. */
#include "signing_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "text.h"

#define ENCRYPTED_PEM "-----BEGIN ENCRYPTED PRIVATE KEY-----"

/* Reads the file, refusing one that group or others may read when `secret`. */
static char *read_bounded(const char *what, const char *path, size_t max, size_t *len, bool secret)
{
    char shown[OUT_ESCAPED_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *text = NULL;
    ssize_t got = 0;

    out_escape(path, "", shown, sizeof(shown));
    if (fd < 0) {
        cli_fail("cannot open %s %s: %s", what, shown, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_fail("%s %s is not a regular file", what, shown);
        goto failed;
    }
    if (secret && (st.st_mode & 077) != 0) {
        cli_fail("%s %s may be read by others (mode %04o): chmod 600 it", what, shown,
                 (unsigned)(st.st_mode & 07777));
        goto failed;
    }
    text = malloc(max + 1);
    *len = 0;
    while (text != NULL && *len <= max && (got = read(fd, text + *len, max + 1 - *len)) > 0)
        *len += (size_t)got;
    if (text == NULL || got < 0 || *len > max) {
        cli_fail("cannot read %s %s: %s", what, shown,
                 text == NULL || got < 0 ? strerror(errno) : "too large");
        goto failed;
    }
    text[*len] = '\0';
    close(fd);
    return text;
failed:
    free(text);
    close(fd);
    return NULL;
}

char *signing_read_file(const char *what, const char *path, size_t max, size_t *len)
{
    return read_bounded(what, path, max, len, false);
}

int signing_passphrase_read(const char *path, char out[SIGNING_PASSPHRASE_MAX + 1])
{
    size_t len;
    char *text = read_bounded("passphrase file", path, SIGNING_PASSPHRASE_MAX + 1, &len, true);

    if (text == NULL)
        return CLI_FAIL;
    len = strcspn(text, "\n");
    if (len == 0 || len > SIGNING_PASSPHRASE_MAX) {
        free(text);
        return cli_fail("the passphrase file's first line must hold 1-%d bytes",
                        SIGNING_PASSPHRASE_MAX);
    }
    memcpy(out, text, len);
    out[len] = '\0';
    explicit_bzero(text, len);
    free(text);
    return 0;
}

/* Gives libcrypto the passphrase we have, or nothing: it would otherwise ask the terminal. */
static int passphrase_callback(char *buf, int size, int rwflag, void *passphrase)
{
    size_t len = passphrase != NULL ? strlen(passphrase) : 0;

    (void)rwflag;
    if (passphrase == NULL || len >= (size_t)size)
        return -1;
    memcpy(buf, passphrase, len);
    return (int)len;
}

static EVP_PKEY *decode_key(const char *shown, const char *text, size_t len, const char *passphrase)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, passphrase_callback,
                                                          (void *)passphrase)
                                : NULL;
    bool encrypted = strstr(text, ENCRYPTED_PEM) != NULL;

    BIO_free(bio);
    if (key != NULL)
        return key;
    if (encrypted && passphrase == NULL)
        cli_fail("key file %s is encrypted: give its passphrase with --passphrase-file", shown);
    else if (encrypted)
        cli_fail("cannot decrypt key file %s: wrong passphrase", shown);
    else
        cli_fail("key file %s holds no PEM private key", shown);
    return NULL;
}

EVP_PKEY *signing_key_load(const char *path, const char *passphrase)
{
    char shown[OUT_ESCAPED_MAX];
    size_t len;
    char *text = read_bounded("key file", path, SIGNING_KEY_FILE_MAX, &len, true);
    EVP_PKEY *key;

    if (text == NULL)
        return NULL;
    out_escape(path, "", shown, sizeof(shown));
    if (memchr(text, '\0', len) != NULL) {
        free(text);
        cli_fail("key file %s holds no PEM private key", shown);
        return NULL;
    }
    key = decode_key(shown, text, len, passphrase);
    explicit_bzero(text, len);
    free(text);
    if (key != NULL && EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        cli_fail("key file %s holds an %s key: approver keys are Ed25519 (lockboxctl key "
                 "generate makes one)",
                 shown, EVP_PKEY_get0_type_name(key));
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

int signing_key_public(EVP_PKEY *key, unsigned char raw[APPROVER_KEY_RAW_LEN])
{
    size_t raw_len = APPROVER_KEY_RAW_LEN;

    return EVP_PKEY_get_raw_public_key(key, raw, &raw_len) == 1 && raw_len == APPROVER_KEY_RAW_LEN
               ? 0
               : -1;
}

const char *signing_name(const char *command, const char *given, char out[LOCKBOX_NAME_MAX + 1])
{
    char shown[OUT_ESCAPED_MAX];
    const struct passwd *pw = given == NULL ? getpwuid(getuid()) : NULL;
    const char *name = given != NULL ? given : pw != NULL ? pw->pw_name : NULL;

    if (name == NULL) {
        cli_usage(command, "who are you? give --name NAME");
        return NULL;
    }
    if (!text_is_name(name, LOCKBOX_NAME_MAX)) {
        cli_usage(command,
                  "the name '%s' must be 1-%d characters of A-Z a-z 0-9 . _ - (not "
                  "starting with -)",
                  out_escape(name, "", shown, sizeof(shown)), LOCKBOX_NAME_MAX);
        return NULL;
    }
    snprintf(out, LOCKBOX_NAME_MAX + 1, "%s", name);
    return out;
}
