/* The grant's text: the builder and the strict parser, each the other's inverse (a parsed grant
 * builds back to the same bytes, fuzz/fuzz_grant.c). Signing and verifying: grant_sign.c. */
#include "grant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64_strict.h"
#include "text.h"
#include "timefmt.h"

#define NO_REQUESTER "-"
#define SECOND_TIME_LEN 20 /* 2026-12-02T10:00:00Z */
#define SIGNATURE_B64_LEN BASE64_STRICT_LEN(GRANT_SIGNATURE_LEN)
#define MARK_LEN (sizeof(GRANT_SIGNATURE_MARK) - 1)

static int fail(char *err, size_t err_len, size_t lineno, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, size_t lineno, const char *format, ...)
{
    va_list ap;
    int used = lineno > 0 ? snprintf(err, err_len, "line %zu: ", lineno) : 0;

    if (used < 0 || (size_t)used >= err_len)
        return -1;
    va_start(ap, format);
    vsnprintf(err + used, err_len - (size_t)used, format, ap);
    va_end(ap);
    return -1;
}

static bool is_sha256_hex(const char *s)
{
    size_t len = strlen(s);

    return len == LOCKBOX_HASH_HEX_LEN && strspn(s, "0123456789abcdef") == len;
}

static bool is_key_id(const char *s)
{
    size_t len = strlen(s);

    return len == LOCKBOX_KEY_ID_HEX_LEN && strspn(s, "0123456789abcdef") == len;
}

/* Whole seconds, in the years timefmt writes with four digits. */
static bool is_second_time(int64_t ms)
{
    char text[TIMEFMT_LEN];
    int64_t again;

    if (ms < 0 || ms % 1000 != 0)
        return false;
    timefmt_rfc3339(ms, text);
    return timefmt_parse(text, &again) == 0 && again == ms;
}

/* The field lines after the format line, in their one order. */
enum field_kind { FIELD_NAME, FIELD_ID, FIELD_SHA256, FIELD_REQUESTER, FIELD_HOST, FIELD_TIME };
struct field {
    const char *key;
    enum field_kind kind;
    const char *rule; /* what a valid value is, for errors */
};
static const struct field fields[] = {
    {"tenant", FIELD_NAME, "a name of 1-64 characters A-Z a-z 0-9 . _ -"},
    {"request", FIELD_ID, "32 lowercase hex characters"},
    {"request-sha256", FIELD_SHA256, "64 lowercase hex characters"},
    {"user", FIELD_NAME, "a name of 1-64 characters A-Z a-z 0-9 . _ -"},
    {"requester", FIELD_REQUESTER, "a name of 1-64 characters A-Z a-z 0-9 . _ -, or -"},
    {"host", FIELD_HOST, "a host of 1-253 characters A-Z a-z 0-9 . _ : % -"},
    {"not-before", FIELD_TIME, "an RFC 3339 UTC time to the second: 2026-12-02T10:00:00Z"},
    {"not-after", FIELD_TIME, "an RFC 3339 UTC time to the second: 2026-12-02T10:00:00Z"},
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Where each field lives in the struct, in the order of fields[]. */
static char *field_text(struct grant_statement *s, size_t i, size_t *size)
{
    char *places[] = {s->tenant, s->request_id, s->request_sha256, s->user, s->requester, s->host};
    size_t sizes[] = {sizeof(s->tenant), sizeof(s->request_id), sizeof(s->request_sha256),
                      sizeof(s->user),   sizeof(s->requester),  sizeof(s->host)};

    *size = sizes[i];
    return places[i];
}

static int64_t *field_time(struct grant_statement *s, size_t i)
{
    return i == N_FIELDS - 2 ? &s->not_before_ms : &s->not_after_ms;
}

static bool value_valid(enum field_kind kind, const char *value)
{
    switch (kind) {
    case FIELD_NAME: return text_is_name(value, LOCKBOX_NAME_MAX);
    case FIELD_ID: return text_is_request_id(value, strlen(value));
    case FIELD_SHA256: return is_sha256_hex(value);
    case FIELD_REQUESTER:
        return strcmp(value, NO_REQUESTER) == 0 || text_is_name(value, LOCKBOX_NAME_MAX);
    case FIELD_HOST: return text_is_host(value, LOCKBOX_HOST_MAX);
    case FIELD_TIME: break;
    }
    /* Written back the same: a leap second (:60) reads as the next minute's :00, and a time
     * with two spellings would let two texts mean one statement. */
    int64_t ms;
    char again[TIMEFMT_LEN];
    if (strlen(value) != SECOND_TIME_LEN || timefmt_parse(value, &ms) != 0)
        return false;
    timefmt_rfc3339(ms, again);
    return strcmp(again, value) == 0;
}

/* --- building --- */

struct writer {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void put(struct writer *w, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void put(struct writer *w, const char *format, ...)
{
    va_list ap;
    int n;

    if (w->failed)
        return;
    va_start(ap, format);
    n = vsnprintf(w->buf + w->len, w->cap - w->len, format, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len)
        w->failed = true;
    else
        w->len += (size_t)n;
}

static int write_statement(struct writer *w, const struct grant_statement *statement, char *err,
                           size_t err_len)
{
    struct grant_statement copy = *statement;

    if (copy.requester[0] == '\0')
        snprintf(copy.requester, sizeof(copy.requester), "%s", NO_REQUESTER);
    put(w, "%s\n", GRANT_FORMAT);
    for (size_t i = 0; i < N_FIELDS; i++) {
        char value[TIMEFMT_LEN];
        size_t size;
        const char *text = value;
        if (fields[i].kind == FIELD_TIME) {
            int64_t ms = *field_time(&copy, i);
            if (!is_second_time(ms))
                return fail(err, err_len, 0, "%s must be whole seconds after 1970", fields[i].key);
            timefmt_rfc3339(ms, value);
        } else {
            text = field_text(&copy, i, &size);
        }
        if (memchr(text, '\0', fields[i].kind == FIELD_TIME ? sizeof(value) : size) == NULL ||
            !value_valid(fields[i].kind, text))
            return fail(err, err_len, 0, "%s must be %s", fields[i].key, fields[i].rule);
        put(w, "%s %s\n", fields[i].key, text);
    }
    if (statement->not_after_ms <= statement->not_before_ms)
        return fail(err, err_len, 0, "not-after must be later than not-before");
    return 0;
}

static int write_signature(struct writer *w, const struct grant_signature *signature, char *err,
                           size_t err_len)
{
    char encoded[SIGNATURE_B64_LEN + 1];

    if (memchr(signature->signer, '\0', sizeof(signature->signer)) == NULL ||
        !text_is_name(signature->signer, LOCKBOX_NAME_MAX) ||
        memchr(signature->key_id, '\0', sizeof(signature->key_id)) == NULL ||
        !is_key_id(signature->key_id))
        return fail(err, err_len, 0, "a signature's signer or key id is not valid");
    base64_strict_encode(signature->signature, GRANT_SIGNATURE_LEN, encoded);
    put(w, "%s%s %s %s\n", GRANT_SIGNATURE_MARK, signature->signer, signature->key_id, encoded);
    return 0;
}

static int build(const struct grant *grant, size_t n_signatures, char **text, size_t *len,
                 char *err, size_t err_len)
{
    struct writer w = {.buf = malloc(LOCKBOX_GRANT_MAX), .cap = LOCKBOX_GRANT_MAX};

    if (w.buf == NULL)
        return fail(err, err_len, 0, "out of memory");
    if (n_signatures > LOCKBOX_GRANT_SIGNATURES_MAX) {
        fail(err, err_len, 0, "more than %d signatures", LOCKBOX_GRANT_SIGNATURES_MAX);
        goto failed;
    }
    if (write_statement(&w, &grant->statement, err, err_len) != 0)
        goto failed;
    if (n_signatures > 0)
        put(&w, "\n");
    for (size_t i = 0; i < n_signatures; i++) {
        if (write_signature(&w, &grant->signatures[i], err, err_len) != 0)
            goto failed;
    }
    if (w.failed) {
        fail(err, err_len, 0, "longer than %d bytes", LOCKBOX_GRANT_MAX);
        goto failed;
    }
    *text = w.buf;
    *len = w.len;
    return 0;
failed:
    free(w.buf);
    return -1;
}

int grant_statement_text(const struct grant_statement *statement, char **text, size_t *len,
                         char *err, size_t err_len)
{
    struct grant unsigned_grant = {.statement = *statement};

    return build(&unsigned_grant, 0, text, len, err, err_len);
}

int grant_build(const struct grant *grant, char **text, size_t *len, char *err, size_t err_len)
{
    return build(grant, grant->n_signatures, text, len, err, err_len);
}

/* --- parsing --- */

struct reader {
    const char *text;
    size_t len, at, lineno;
    char line[LOCKBOX_HOST_MAX + 32]; /* the longest valid line is a host's */
};

/* Takes the next line into r->line (without its newline). 0, or -1 with err. */
static int next_line(struct reader *r, char *err, size_t err_len)
{
    const char *start = r->text + r->at;
    const char *newline = memchr(start, '\n', r->len - r->at);
    size_t line_len = newline != NULL ? (size_t)(newline - start) : r->len - r->at;

    r->lineno++;
    if (memchr(start, '\0', line_len) != NULL)
        return fail(err, err_len, r->lineno, "NUL byte");
    if (line_len > 0 && start[line_len - 1] == '\r')
        return fail(err, err_len, r->lineno, "ends in CR: grants use LF line endings only");
    if (newline == NULL)
        return fail(err, err_len, r->lineno, "no newline at the end (truncated?)");
    if (line_len >= sizeof(r->line))
        return fail(err, err_len, r->lineno, "longer than %zu bytes", sizeof(r->line) - 1);
    memcpy(r->line, start, line_len);
    r->line[line_len] = '\0';
    r->at += line_len + 1;
    return 0;
}

static int parse_format_line(struct reader *r, char *err, size_t err_len)
{
    static const char prefix[] = "lockbox-grant ";
    const char *version = r->line + sizeof(prefix) - 1;

    if (next_line(r, err, err_len) != 0)
        return -1;
    if (strcmp(r->line, GRANT_FORMAT) == 0)
        return 0;
    if (strncmp(r->line, prefix, sizeof(prefix) - 1) == 0 && version[0] == 'v' &&
        strlen(version) <= 8 && strspn(version + 1, "0123456789") == strlen(version) - 1)
        return fail(err, err_len, r->lineno, "unknown format version '%s' (this reads v1)",
                    version);
    return fail(err, err_len, r->lineno, "not a Lockbox grant: expected '%s'", GRANT_FORMAT);
}

static int parse_field(struct reader *r, size_t i, struct grant_statement *s, char *err,
                       size_t err_len)
{
    size_t key_len = strlen(fields[i].key), size;
    const char *value = r->line + key_len + 1;

    if (next_line(r, err, err_len) != 0)
        return -1;
    if (strncmp(r->line, fields[i].key, key_len) != 0 || r->line[key_len] != ' ')
        return fail(err, err_len, r->lineno, "expected the field '%s' here", fields[i].key);
    if (value[0] == ' ' || value[0] == '\0' || value[strlen(value) - 1] == ' ' ||
        value[strlen(value) - 1] == '\t')
        return fail(err, err_len, r->lineno, "%s: one space before the value and none after it",
                    fields[i].key);
    if (!value_valid(fields[i].kind, value))
        return fail(err, err_len, r->lineno, "%s must be %s", fields[i].key, fields[i].rule);
    if (fields[i].kind == FIELD_TIME) {
        timefmt_parse(value, field_time(s, i));
        return 0;
    }
    char *place = field_text(s, i, &size);
    snprintf(place, size, "%s",
             strcmp(value, NO_REQUESTER) == 0 && fields[i].kind == FIELD_REQUESTER ? "" : value);
    return 0;
}

/* Cuts the next word (up to a single space, or the end) off *rest into out. False when the word
 * is empty or does not fit: a doubled, leading or trailing space leaves an empty word. */
static bool take_word(const char **rest, char *out, size_t out_size)
{
    size_t len = strcspn(*rest, " ");

    if (len == 0 || len >= out_size)
        return false;
    memcpy(out, *rest, len);
    out[len] = '\0';
    *rest += len;
    if (**rest == ' ') {
        (*rest)++;
        if (**rest == '\0')
            return false; /* a trailing space */
    }
    return true;
}

static int parse_signature(struct reader *r, struct grant_signature *signature, char *err,
                           size_t err_len)
{
    char signer[LOCKBOX_NAME_MAX + 1], key_id[LOCKBOX_KEY_ID_HEX_LEN + 1];
    char encoded[SIGNATURE_B64_LEN + 1];
    const char *rest = r->line + MARK_LEN;

    if (strncmp(r->line, GRANT_SIGNATURE_MARK, MARK_LEN) != 0)
        return fail(err, err_len, r->lineno,
                    "a signature line starts with an em dash (U+2014) and a space");
    if (!take_word(&rest, signer, sizeof(signer)) || !take_word(&rest, key_id, sizeof(key_id)) ||
        !take_word(&rest, encoded, sizeof(encoded)) || *rest != '\0')
        return fail(err, err_len, r->lineno,
                    "expected '" GRANT_SIGNATURE_MARK
                    "SIGNER KEYID SIGNATURE', one space between them");
    if (!text_is_name(signer, LOCKBOX_NAME_MAX))
        return fail(err, err_len, r->lineno,
                    "the signer must be a name of 1-64 characters "
                    "A-Z a-z 0-9 . _ - (not starting with -)");
    if (!is_key_id(key_id))
        return fail(err, err_len, r->lineno, "the key id must be 8 lowercase hex characters");
    if (!base64_strict_decode(encoded, strlen(encoded), signature->signature, GRANT_SIGNATURE_LEN))
        return fail(err, err_len, r->lineno, "the signature is not the base64 of 64 bytes");
    snprintf(signature->signer, sizeof(signature->signer), "%s", signer);
    snprintf(signature->key_id, sizeof(signature->key_id), "%s", key_id);
    return 0;
}

static int parse_signatures(struct reader *r, struct grant *grant, char *err, size_t err_len)
{
    if (next_line(r, err, err_len) != 0)
        return -1;
    if (r->line[0] != '\0')
        return fail(err, err_len, r->lineno, "expected an empty line after not-after");
    if (r->at == r->len)
        return fail(err, err_len, r->lineno + 1, "no signature after the empty line (truncated?)");
    while (r->at < r->len) {
        if (grant->n_signatures == LOCKBOX_GRANT_SIGNATURES_MAX)
            return fail(err, err_len, r->lineno + 1, "more than %d signatures",
                        LOCKBOX_GRANT_SIGNATURES_MAX);
        if (next_line(r, err, err_len) != 0 ||
            parse_signature(r, &grant->signatures[grant->n_signatures], err, err_len) != 0)
            return -1;
        grant->n_signatures++;
    }
    return 0;
}

int grant_parse(const char *text, size_t len, struct grant *grant, char *err, size_t err_len)
{
    struct reader r = {.text = text, .len = len};

    memset(grant, 0, sizeof(*grant));
    if (len == 0)
        return fail(err, err_len, 1, "empty: not a Lockbox grant");
    if (len > LOCKBOX_GRANT_MAX)
        return fail(err, err_len, 0, "longer than %d bytes: not a Lockbox grant",
                    LOCKBOX_GRANT_MAX);
    if (parse_format_line(&r, err, err_len) != 0)
        return -1;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (parse_field(&r, i, &grant->statement, err, err_len) != 0)
            return -1;
    }
    if (grant->statement.not_after_ms <= grant->statement.not_before_ms)
        return fail(err, err_len, r.lineno, "not-after must be later than not-before");
    if (r.at == r.len)
        return 0; /* a statement nobody signed yet */
    return parse_signatures(&r, grant, err, err_len);
}
