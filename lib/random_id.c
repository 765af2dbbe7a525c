/* Request and session ids. */
#include "random_id.h"

#include <stdio.h>
#include <sys/random.h>
#include <sys/types.h>

int random_id(char out[LOCKBOX_ID_HEX_LEN + 1])
{
    unsigned char bytes[LOCKBOX_ID_HEX_LEN / 2];

    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
        return -1;
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}
