/* Signing and verifying grants with Ed25519 (libcrypto), the quorum count, and the request's
 * hash that binds a statement to the request as filed. Pure: keys and times are parameters. */
#include "grant.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_text.h"
#include "timefmt.h"

#define REQUEST_FORMAT "lockbox-request v1"

/* A field goes on one line of the request's text: no line break may hide in it. */
static bool fits_one_line(const char *value)
{
    return strpbrk(value, "\r\n") == NULL;
}

int grant_request_text(const struct lockbox_request *req, char **text)
{
    const char *values[] = {req->id,        req->tenant,       req->host,  req->user,
                            req->requester, req->requested_by, req->reason};
    char created[TIMEFMT_LEN];
    /* The labels take less than 128 bytes; each value at most its field's size. */
    size_t size = 128 + sizeof(req->id) + sizeof(req->tenant) + sizeof(req->host) +
                  sizeof(req->user) + sizeof(req->requester) + sizeof(req->requested_by) +
                  TIMEFMT_LEN + sizeof(req->reason);

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (!fits_one_line(values[i]))
            return -1;
    }
    *text = malloc(size);
    if (*text == NULL)
        return -1;
    timefmt_rfc3339_ms(req->created_at, created);
    /* The reason last: it is the one free text, and nothing follows it to be confused with. */
    snprintf(*text, size,
             REQUEST_FORMAT "\nid %s\ntenant %s\nhost %s\nuser %s\nrequester %s\n"
                            "requested-by %s\ncreated-at %s\nreason %s\n",
             req->id, req->tenant, req->host, req->user,
             req->requester[0] != '\0' ? req->requester : "-", req->requested_by, created,
             req->reason);
    return 0;
}

int grant_request_hash(const struct lockbox_request *req, char hash[LOCKBOX_HASH_HEX_LEN + 1])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *text;

    if (grant_request_text(req, &text) != 0)
        return -1;
    SHA256((const unsigned char *)text, strlen(text), digest);
    free(text);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(hash + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

static bool signed_with(const struct grant *grant, const char *key_id)
{
    for (size_t i = 0; i < grant->n_signatures; i++) {
        if (strcmp(grant->signatures[i].key_id, key_id) == 0)
            return true;
    }
    return false;
}

int grant_sign(struct grant *grant, const char *signer, EVP_PKEY *key, char *err, size_t err_len)
{
    unsigned char raw[APPROVER_KEY_RAW_LEN];
    size_t raw_len = sizeof(raw), signature_len = GRANT_SIGNATURE_LEN, text_len;
    struct grant_signature *signature = &grant->signatures[grant->n_signatures];
    EVP_MD_CTX *ctx = NULL;
    char *text = NULL, key_id[LOCKBOX_KEY_ID_HEX_LEN + 1];
    int rc = -1;

    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
        return error_text(err, err_len, "not an Ed25519 key (approver keys are Ed25519)");
    if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1 || raw_len != sizeof(raw))
        return error_text(err, err_len, "cannot read the key's public half");
    approver_key_id(raw, key_id);
    if (signed_with(grant, key_id))
        return error_text(err, err_len, "key %s has already signed this statement", key_id);
    if (grant->n_signatures == LOCKBOX_GRANT_SIGNATURES_MAX)
        return error_text(err, err_len, "the statement has %d signatures, the most it may carry",
                          LOCKBOX_GRANT_SIGNATURES_MAX);
    if (snprintf(signature->signer, sizeof(signature->signer), "%s", signer) >=
        (int)sizeof(signature->signer))
        return error_text(err, err_len, "the signer's name is longer than %d bytes",
                          LOCKBOX_NAME_MAX);
    if (grant_statement_text(&grant->statement, &text, &text_len, err, err_len) != 0)
        return -1;
    ctx = EVP_MD_CTX_new();
    /* Ed25519 signs the message itself (no pre-hash): the digest argument stays NULL. */
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(ctx, signature->signature, &signature_len, (const unsigned char *)text,
                       text_len) != 1 ||
        signature_len != GRANT_SIGNATURE_LEN) {
        error_text(err, err_len, "signing failed");
        goto out;
    }
    memcpy(signature->key_id, key_id, sizeof(key_id));
    grant->n_signatures++;
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(text);
    return rc;
}

static bool signature_verifies(const struct approver_key *key, const unsigned char *signature,
                               const char *text, size_t text_len)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->raw,
                                                 APPROVER_KEY_RAW_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = pkey != NULL && ctx != NULL &&
              EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
              EVP_DigestVerify(ctx, signature, GRANT_SIGNATURE_LEN, (const unsigned char *)text,
                               text_len) == 1;

    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}

/* Has an earlier line by the same signer already counted? */
static bool counted_before(const struct grant *grant, const bool *counted, size_t index)
{
    for (size_t i = 0; i < index; i++) {
        if (counted[i] && strcmp(grant->signatures[i].signer, grant->signatures[index].signer) == 0)
            return true;
    }
    return false;
}

static enum grant_signature_status check_one(const struct grant *grant, size_t index,
                                             const struct approver_keys *keys, int64_t as_of_ms,
                                             const char *text, size_t text_len)
{
    const struct grant_signature *signature = &grant->signatures[index];
    const struct approver_key *key = approver_keys_find(keys, signature->signer, signature->key_id);

    if (key == NULL)
        return approver_keys_find_id(keys, signature->key_id) != NULL ? GRANT_SIGNATURE_WRONG_NAME
                                                                      : GRANT_SIGNATURE_UNKNOWN_KEY;
    if (!signature_verifies(key, signature->signature, text, text_len))
        return GRANT_SIGNATURE_BAD;
    if (!approver_key_current_at(key, as_of_ms))
        return GRANT_SIGNATURE_REVOKED;
    return GRANT_SIGNATURE_VALID;
}

void grant_verify(const struct grant *grant, const struct approver_keys *keys, int64_t as_of_ms,
                  struct grant_verification *result)
{
    const struct grant_statement *s = &grant->statement;
    char *text = NULL, err[256];
    size_t text_len = 0;
    bool have_text = grant_statement_text(s, &text, &text_len, err, sizeof(err)) == 0;
    bool counted[LOCKBOX_GRANT_SIGNATURES_MAX] = {false};

    memset(result, 0, sizeof(*result));
    result->in_window = s->not_before_ms <= as_of_ms && as_of_ms < s->not_after_ms;
    for (size_t i = 0; i < grant->n_signatures && i < LOCKBOX_GRANT_SIGNATURES_MAX; i++) {
        enum grant_signature_status status = have_text ? check_one(grant, i, keys, as_of_ms, text,
                                                                   text_len)
                                                       : GRANT_SIGNATURE_BAD;
        /* A signer counts once: a second valid line by the same name adds nothing. */
        if (status == GRANT_SIGNATURE_VALID && counted_before(grant, counted, i))
            status = GRANT_SIGNATURE_REPEATED;
        counted[i] = status == GRANT_SIGNATURE_VALID;
        result->status[i] = status;
    }
    free(text);
}

static bool is_excluded(const char *name, const char *const *excluded, size_t n_excluded)
{
    for (size_t i = 0; i < n_excluded; i++) {
        if (excluded[i] != NULL && excluded[i][0] != '\0' && strcmp(excluded[i], name) == 0)
            return true;
    }
    return false;
}

unsigned grant_quorum(const struct grant *grant, const struct grant_verification *result,
                      const char *const *excluded, size_t n_excluded)
{
    unsigned count = 0;

    /* grant_verify() marks each signer VALID at most once, so counting lines counts people. */
    for (size_t i = 0; i < grant->n_signatures && i < LOCKBOX_GRANT_SIGNATURES_MAX; i++) {
        if (result->status[i] == GRANT_SIGNATURE_VALID &&
            !is_excluded(grant->signatures[i].signer, excluded, n_excluded))
            count++;
    }
    return count;
}

bool grant_allows(const struct grant *grant, const struct approver_keys *keys, int64_t as_of_ms,
                  unsigned required, const char *const *excluded, size_t n_excluded)
{
    struct grant_verification result;

    grant_verify(grant, keys, as_of_ms, &result);
    return required > 0 && result.in_window &&
           grant_quorum(grant, &result, excluded, n_excluded) >= required;
}

bool grant_matches_request(const struct grant_statement *statement,
                           const struct lockbox_request *req, const char *host)
{
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    return grant_request_hash(req, hash) == 0 && strcmp(statement->request_sha256, hash) == 0 &&
           strcmp(statement->request_id, req->id) == 0 &&
           strcmp(statement->tenant, req->tenant) == 0 && strcmp(statement->user, req->user) == 0 &&
           strcmp(statement->requester, req->requester) == 0 &&
           strcmp(statement->host, req->host) == 0 && strcmp(statement->host, host) == 0;
}

const char *grant_signature_status_text(enum grant_signature_status status)
{
    switch (status) {
    case GRANT_SIGNATURE_VALID: return "valid";
    case GRANT_SIGNATURE_UNKNOWN_KEY: return "no key pinned for this signer and key id";
    case GRANT_SIGNATURE_WRONG_NAME: return "the key id is pinned for another approver";
    case GRANT_SIGNATURE_BAD: return "the signature does not verify over this statement";
    case GRANT_SIGNATURE_REVOKED: return "the key was revoked by then";
    case GRANT_SIGNATURE_REPEATED: return "the same signer again (counted once)";
    }
    return "unknown";
}
