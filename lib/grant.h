/* The signed grant (docs/DESIGN.md, "Grants: the signed statement"): a small canonical text
 * that says who may log in where and when for which request, followed by one signature line
 * per approver. Pure: building, parsing, signing and verifying take everything as parameters
 * (keys, the time); reading key files and clocks is the caller's. */
#ifndef LOCKBOX_GRANT_H
#define LOCKBOX_GRANT_H
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "approver_keys.h"
#include "lockbox_limits.h"
#include "request.h"

#define GRANT_FORMAT "lockbox-grant v1"
#define GRANT_SIGNATURE_LEN 64 /* Ed25519 */
/* Starts every signature line: an em dash (U+2014) and a space, as in signed notes. */
#define GRANT_SIGNATURE_MARK "\xe2\x80\x94 "

struct grant_statement {
    char tenant[LOCKBOX_NAME_MAX + 1];
    char request_id[LOCKBOX_ID_HEX_LEN + 1];
    char request_sha256[LOCKBOX_HASH_HEX_LEN + 1]; /* grant_request_hash() */
    char user[LOCKBOX_NAME_MAX + 1];
    char requester[LOCKBOX_NAME_MAX + 1]; /* "" when nobody is known: written "-" */
    char host[LOCKBOX_HOST_MAX + 1];
    int64_t not_before_ms; /* whole seconds */
    int64_t not_after_ms;  /* whole seconds, later than not_before_ms */
};

struct grant_signature {
    char signer[LOCKBOX_NAME_MAX + 1];
    char key_id[LOCKBOX_KEY_ID_HEX_LEN + 1];
    unsigned char signature[GRANT_SIGNATURE_LEN];
};

struct grant {
    struct grant_statement statement;
    size_t n_signatures;
    struct grant_signature signatures[LOCKBOX_GRANT_SIGNATURES_MAX];
};

/* The request's canonical text (its fields as filed, one per line, see DESIGN.md) and its
 * SHA-256 as lowercase hex: what a statement's request-sha256 holds. The text is malloc'd;
 * both return 0, or -1 when a field could not be written on one line (or out of memory). */
int grant_request_text(const struct lockbox_request *req, char **text);
int grant_request_hash(const struct lockbox_request *req, char hash[LOCKBOX_HASH_HEX_LEN + 1]);

/* The statement's text, the bytes every signature covers (up to and including the newline of
 * its last field). malloc'd, NUL-terminated, *len its length. 0, or -1 with err naming the
 * field that is not valid (the builder writes only what grant_parse() accepts). */
int grant_statement_text(const struct grant_statement *statement, char **text, size_t *len,
                         char *err, size_t err_len);
/* The whole grant: the statement's text, then, when it is signed, an empty line and one line
 * per signature. Same contract as grant_statement_text(). */
int grant_build(const struct grant *grant, char **text, size_t *len, char *err, size_t err_len);
/* Parses a grant or an unsigned statement, strictly: exactly what grant_build() writes. 0, or
 * -1 with err saying what is wrong and on which line ("line 3: ..."). */
int grant_parse(const char *text, size_t len, struct grant *grant, char *err, size_t err_len);

/* Appends signer's signature with key (an Ed25519 private key). Refuses a key that is not
 * Ed25519, a statement that key already signed, and a 17th signature. 0 or -1 with err. */
int grant_sign(struct grant *grant, const char *signer, EVP_PKEY *key, char *err, size_t err_len);

enum grant_signature_status {
    GRANT_SIGNATURE_VALID,
    GRANT_SIGNATURE_UNKNOWN_KEY, /* no key pinned under this name and key id */
    GRANT_SIGNATURE_WRONG_NAME,  /* the key id is pinned, for someone else */
    GRANT_SIGNATURE_BAD,         /* does not verify over this statement with the pinned key */
    GRANT_SIGNATURE_REVOKED,     /* verifies, but the key was revoked at the time asked about */
    GRANT_SIGNATURE_REPEATED,    /* a signer seen on an earlier line: counted there, if at all */
};

/* What grant_verify() found: one status per signature line, and whether the statement's window
 * holds the time asked about. */
struct grant_verification {
    enum grant_signature_status status[LOCKBOX_GRANT_SIGNATURES_MAX];
    bool in_window; /* not_before <= as_of < not_after */
};

/* Checks each signature against the tenant's pinned keys as of as_of_ms. For new access, give
 * the current time: a key revoked by then does not count. For the audit, give the time the
 * grant was recorded: a key revoked later still counts, so old grants stay verifiable. */
void grant_verify(const struct grant *grant, const struct approver_keys *keys, int64_t as_of_ms,
                  struct grant_verification *result);
/* The quorum count: distinct signers with a valid signature, leaving out every name in
 * excluded (the requester, the filer, the target user; NULL or "" entries are skipped). */
unsigned grant_quorum(const struct grant *grant, const struct grant_verification *result,
                      const char *const *excluded, size_t n_excluded);
/* Does the statement grant new access at as_of_ms: in its window, with at least `required`
 * valid signers outside excluded? */
bool grant_allows(const struct grant *grant, const struct approver_keys *keys, int64_t as_of_ms,
                  unsigned required, const char *const *excluded, size_t n_excluded);
/* Does the statement name this request as filed, on this host? The caller checks the time. */
bool grant_matches_request(const struct grant_statement *statement,
                           const struct lockbox_request *req, const char *host);
/* A short English phrase for a status ("valid", "no pinned key", ...). */
const char *grant_signature_status_text(enum grant_signature_status status);

#endif
