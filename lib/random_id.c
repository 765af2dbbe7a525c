/* Request and session ids, and prefixes of them. */
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

bool random_id_is_prefix(const char *text, size_t min_len)
{
    size_t len = 0;

    if (text == NULL)
        return false;
    for (; text[len] != '\0'; len++) {
        bool hex = (text[len] >= '0' && text[len] <= '9') || (text[len] >= 'a' && text[len] <= 'f');
        if (!hex || len == LOCKBOX_ID_HEX_LEN)
            return false;
    }
    return len >= min_len;
}
