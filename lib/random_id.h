/* Unguessable ids: 128 bits from getrandom(), as lowercase hex; and what a prefix of one,
 * as people type it (git-style), looks like. */
#ifndef LOCKBOX_RANDOM_ID_H
#define LOCKBOX_RANDOM_ID_H
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"

/* Returns 0, or -1 when the kernel gave no randomness. */
int random_id(char out[LOCKBOX_ID_HEX_LEN + 1]);

/* A prefix of an id: min_len..LOCKBOX_ID_HEX_LEN lowercase hex characters (a whole id too). */
bool random_id_is_prefix(const char *text, size_t min_len);

#endif
