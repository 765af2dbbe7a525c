/* A tenant's pinned approver keys: the file that says whose Ed25519 signatures count as an
 * approval (docs/DESIGN.md, "Grants: the signed statement"). One line per key:
 *     NAME ed25519 BASE64-OF-32-BYTE-PUBLIC-KEY [revoked-at RFC3339]
 * '#' starts a comment line; blank lines are skipped. A revoked key stays in the file as key
 * history: grants it signed before revoked-at still verify for the audit, none grants new
 * access after it. */
#ifndef LOCKBOX_APPROVER_KEYS_H
#define LOCKBOX_APPROVER_KEYS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

#define APPROVER_KEY_RAW_LEN 32 /* an Ed25519 public key */
#define APPROVER_KEY_NOT_REVOKED INT64_MAX
/* "NAME ed25519 " + base64 of 32 bytes + NUL. */
#define APPROVER_KEY_LINE_MAX (LOCKBOX_NAME_MAX + 9 + 44 + 1)

struct approver_key {
    char name[LOCKBOX_NAME_MAX + 1];
    unsigned char raw[APPROVER_KEY_RAW_LEN];
    char key_id[LOCKBOX_KEY_ID_HEX_LEN + 1];
    int64_t revoked_at_ms; /* APPROVER_KEY_NOT_REVOKED when the key is current */
};

struct approver_keys {
    size_t n_keys;
    struct approver_key keys[LOCKBOX_APPROVER_KEYS_MAX];
};

/* The key id: the first 4 bytes of SHA-256 of the raw public key, as 8 lowercase hex. */
void approver_key_id(const unsigned char raw[APPROVER_KEY_RAW_LEN],
                     char key_id[LOCKBOX_KEY_ID_HEX_LEN + 1]);
/* "NAME ed25519 BASE64": the line a tenant publishes and pins. 0, or -1 for a bad name. */
int approver_key_line(const char *name, const unsigned char raw[APPROVER_KEY_RAW_LEN],
                      char line[APPROVER_KEY_LINE_MAX]);

/* Parses a keys file's text (len bytes). `source` names it in errors ("keys.txt:3: ...").
 * Refuses anything but the line format above, a key type other than ed25519, a key that is
 * not 32 bytes, the same key twice, two keys with one key id, and a name with two current
 * (unrevoked) keys: a name may keep revoked keys beside its current one, as its history.
 * Returns 0, or -1 with err saying what is wrong and on which line. */
int approver_keys_parse(const char *text, size_t len, const char *source,
                        struct approver_keys *keys, char *err, size_t err_len);
/* Reads and parses the file at path (at most LOCKBOX_APPROVER_KEYS_FILE_MAX bytes). 0 or -1. */
int approver_keys_load(const char *path, struct approver_keys *keys, char *err, size_t err_len);

/* The key pinned for `name` with this key id, or NULL. */
const struct approver_key *approver_keys_find(const struct approver_keys *keys, const char *name,
                                              const char *key_id);
/* The key with this key id under any name, or NULL (to say whose key it is). */
const struct approver_key *approver_keys_find_id(const struct approver_keys *keys,
                                                 const char *key_id);
/* Was the key current at as_of_ms (not yet revoked)? */
bool approver_key_current_at(const struct approver_key *key, int64_t as_of_ms);

#endif
