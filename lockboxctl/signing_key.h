/* An approver's private key on their own machine: reading it (PEM PKCS#8, optionally encrypted
 * with a passphrase from a file), refusing a key others may read or a key of the wrong type,
 * and the approver's name (--name, else the login name). Shared by `key` and `grant`. */
#ifndef LOCKBOXCTL_SIGNING_KEY_H
#define LOCKBOXCTL_SIGNING_KEY_H
#include <openssl/evp.h>
#include <stddef.h>

#include "approver_keys.h"

#define SIGNING_KEY_FILE_MAX 16384
#define SIGNING_PASSPHRASE_MAX 1024

/* Reads the first line of a passphrase file (its newline dropped) into out. The file must not
 * be readable by others. Returns 0, or CLI_FAIL after a message. */
int signing_passphrase_read(const char *path, char out[SIGNING_PASSPHRASE_MAX + 1]);
/* Loads an Ed25519 private key from path; passphrase is NULL for an unencrypted file. Never
 * prompts. Returns the key, or NULL after a message (wrong passphrase, wrong type, ...). */
EVP_PKEY *signing_key_load(const char *path, const char *passphrase);
/* The raw public key of an Ed25519 key. 0 or -1. */
int signing_key_public(EVP_PKEY *key, unsigned char raw[APPROVER_KEY_RAW_LEN]);
/* The approver's name: `given` when not NULL, else the caller's login name. Checked to be a
 * valid name. Returns it, or NULL after a usage message naming `command`. */
const char *signing_name(const char *command, const char *given, char out[LOCKBOX_NAME_MAX + 1]);
/* Reads a whole file of at most max bytes (NUL-terminated, malloc'd). NULL after a message. */
char *signing_read_file(const char *what, const char *path, size_t max, size_t *len);

#endif
