/* The pinned approver keys file: a strict parser (pure) and a small reader around it. */
#include "approver_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64_strict.h"
#include "text.h"
#include "timefmt.h"

#define KEY_TYPE "ed25519"
#define REVOKED_AT "revoked-at"
#define FIELDS_MAX 5 /* NAME TYPE KEY revoked-at TIME */

void approver_key_id(const unsigned char raw[APPROVER_KEY_RAW_LEN],
                     char key_id[LOCKBOX_KEY_ID_HEX_LEN + 1])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256(raw, APPROVER_KEY_RAW_LEN, digest);
    for (int i = 0; i < LOCKBOX_KEY_ID_HEX_LEN / 2; i++)
        snprintf(key_id + 2 * i, 3, "%02x", digest[i]);
}

int approver_key_line(const char *name, const unsigned char raw[APPROVER_KEY_RAW_LEN],
                      char line[APPROVER_KEY_LINE_MAX])
{
    char encoded[BASE64_STRICT_LEN(APPROVER_KEY_RAW_LEN) + 1];

    if (!text_is_name(name, LOCKBOX_NAME_MAX))
        return -1;
    base64_strict_encode(raw, APPROVER_KEY_RAW_LEN, encoded);
    snprintf(line, APPROVER_KEY_LINE_MAX, "%s %s %s", name, KEY_TYPE, encoded);
    return 0;
}

static int fail(char *err, size_t err_len, const char *source, size_t lineno, const char *format,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t err_len, const char *source, size_t lineno, const char *format,
                ...)
{
    va_list ap;
    int used = snprintf(err, err_len, "%s:%zu: ", source, lineno);

    if (used < 0 || (size_t)used >= err_len)
        return -1;
    va_start(ap, format);
    vsnprintf(err + used, err_len - (size_t)used, format, ap);
    va_end(ap);
    return -1;
}

/* Splits a line at single spaces; a double, leading or trailing space is an error. Returns the
 * number of fields, or -1 (too many, or an empty field). */
static int split_fields(char *line, char *fields[FIELDS_MAX])
{
    int n = 0;
    char *cursor = line;

    for (;;) {
        char *space = strchr(cursor, ' ');
        if (n == FIELDS_MAX)
            return -1;
        fields[n++] = cursor;
        if (space == NULL)
            break;
        *space = '\0';
        cursor = space + 1;
    }
    for (int i = 0; i < n; i++) {
        if (fields[i][0] == '\0')
            return -1;
    }
    return n;
}

/* A time of the form the grants use: RFC 3339, UTC, whole seconds. */
static bool parse_second_time(const char *text, int64_t *ms)
{
    char again[TIMEFMT_LEN];

    if (strlen(text) != 20 || timefmt_parse(text, ms) != 0)
        return false;
    timefmt_rfc3339(*ms, again);
    return strcmp(again, text) == 0; /* a leap second (:60) is refused, as in grants */
}

static int check_unique(const struct approver_keys *keys, const struct approver_key *key,
                        const char *source, size_t lineno, char *err, size_t err_len)
{
    for (size_t i = 0; i < keys->n_keys; i++) {
        const struct approver_key *other = &keys->keys[i];
        if (memcmp(other->raw, key->raw, APPROVER_KEY_RAW_LEN) == 0)
            return fail(err, err_len, source, lineno, "this key is already pinned for %s",
                        other->name);
        if (strcmp(other->key_id, key->key_id) == 0)
            return fail(err, err_len, source, lineno,
                        "key id %s is already used by a key of %s: generate another key",
                        key->key_id, other->name);
        if (strcmp(other->name, key->name) == 0 &&
            other->revoked_at_ms == APPROVER_KEY_NOT_REVOKED &&
            key->revoked_at_ms == APPROVER_KEY_NOT_REVOKED)
            return fail(err, err_len, source, lineno,
                        "%s already has a current key: give the old one 'revoked-at TIME'",
                        key->name);
    }
    return 0;
}

static int parse_key_line(char *line, const char *source, size_t lineno, struct approver_keys *keys,
                          char *err, size_t err_len)
{
    char *fields[FIELDS_MAX];
    struct approver_key key = {.revoked_at_ms = APPROVER_KEY_NOT_REVOKED};
    int n = split_fields(line, fields);

    if (n != 3 && n != 5)
        return fail(err, err_len, source, lineno,
                    "expected 'NAME ed25519 KEY [revoked-at TIME]', fields separated by one space");
    if (!text_is_name(fields[0], LOCKBOX_NAME_MAX))
        return fail(err, err_len, source, lineno,
                    "the name must be 1-%d characters of A-Z a-z 0-9 . _ - (not starting with -)",
                    LOCKBOX_NAME_MAX);
    if (strcmp(fields[1], KEY_TYPE) != 0)
        return fail(err, err_len, source, lineno,
                    "key type '%.32s' is not supported: approver keys are ed25519", fields[1]);
    if (!base64_strict_decode(fields[2], strlen(fields[2]), key.raw, APPROVER_KEY_RAW_LEN))
        return fail(err, err_len, source, lineno,
                    "the key is not the base64 of a 32-byte Ed25519 public key");
    if (n == 5 &&
        (strcmp(fields[3], REVOKED_AT) != 0 || !parse_second_time(fields[4], &key.revoked_at_ms)))
        return fail(err, err_len, source, lineno,
                    "after the key only 'revoked-at YYYY-MM-DDTHH:MM:SSZ' may follow");
    if (keys->n_keys == LOCKBOX_APPROVER_KEYS_MAX)
        return fail(err, err_len, source, lineno, "more than %d keys", LOCKBOX_APPROVER_KEYS_MAX);
    snprintf(key.name, sizeof(key.name), "%s", fields[0]);
    approver_key_id(key.raw, key.key_id);
    if (check_unique(keys, &key, source, lineno, err, err_len) != 0)
        return -1;
    keys->keys[keys->n_keys++] = key;
    return 0;
}

/* One line (without its newline): a comment, a blank line or a key. */
static int parse_line(const char *start, size_t len, const char *source, size_t lineno,
                      struct approver_keys *keys, char *err, size_t err_len)
{
    char line[APPROVER_KEY_LINE_MAX + 64];

    if (len == 0 || start[0] == '#')
        return 0;
    if (memchr(start, '\r', len) != NULL)
        return fail(err, err_len, source, lineno, "carriage return (use LF line endings)");
    if (len >= sizeof(line))
        return fail(err, err_len, source, lineno, "line longer than %zu bytes", sizeof(line) - 1);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)start[i] < 0x20 || (unsigned char)start[i] >= 0x7f)
            return fail(err, err_len, source, lineno, "control or non-ASCII byte at column %zu",
                        i + 1);
    }
    memcpy(line, start, len);
    line[len] = '\0';
    return parse_key_line(line, source, lineno, keys, err, err_len);
}

int approver_keys_parse(const char *text, size_t len, const char *source,
                        struct approver_keys *keys, char *err, size_t err_len)
{
    size_t lineno = 0, at = 0;

    keys->n_keys = 0;
    while (at < len) {
        const char *newline = memchr(text + at, '\n', len - at);
        size_t line_len = newline != NULL ? (size_t)(newline - (text + at)) : len - at;
        if (memchr(text + at, '\0', line_len) != NULL)
            return fail(err, err_len, source, lineno + 1, "NUL byte");
        if (parse_line(text + at, line_len, source, ++lineno, keys, err, err_len) != 0)
            return -1;
        at += line_len + 1;
    }
    if (keys->n_keys == 0)
        return fail(err, err_len, source, lineno, "no keys in the file");
    return 0;
}

int approver_keys_load(const char *path, struct approver_keys *keys, char *err, size_t err_len)
{
    const size_t capacity = LOCKBOX_APPROVER_KEYS_FILE_MAX + 1;
    char *text = malloc(capacity);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t got = 0;
    size_t len = 0;
    int rc = -1;

    if (text == NULL || fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    while (len < capacity && (got = read(fd, text + len, capacity - len)) > 0)
        len += (size_t)got;
    if (got < 0 || len == capacity) {
        snprintf(err, err_len, "cannot read %s: %s", path,
                 got < 0 ? strerror(errno) : "larger than 64 KiB");
        goto out;
    }
    rc = approver_keys_parse(text, len, path, keys, err, err_len);
out:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

const struct approver_key *approver_keys_find(const struct approver_keys *keys, const char *name,
                                              const char *key_id)
{
    const struct approver_key *key = approver_keys_find_id(keys, key_id);

    return key != NULL && strcmp(key->name, name) == 0 ? key : NULL;
}

const struct approver_key *approver_keys_find_id(const struct approver_keys *keys,
                                                 const char *key_id)
{
    for (size_t i = 0; i < keys->n_keys; i++) {
        if (strcmp(keys->keys[i].key_id, key_id) == 0)
            return &keys->keys[i];
    }
    return NULL;
}

bool approver_key_current_at(const struct approver_key *key, int64_t as_of_ms)
{
    return as_of_ms < key->revoked_at_ms;
}
