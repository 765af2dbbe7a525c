/* Unguessable ids: 128 bits from getrandom(), as lowercase hex. */
#ifndef LOCKBOX_RANDOM_ID_H
#define LOCKBOX_RANDOM_ID_H
#include "lockbox_limits.h"

/* Returns 0, or -1 when the kernel gave no randomness. */
int random_id(char out[LOCKBOX_ID_HEX_LEN + 1]);

#endif
