/* Doubling growth for the arrays of the daemon, the CLI and the module. */
#include "array_grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_grow(void *items_ptr, size_t *cap, size_t need, size_t item_size, size_t first)
{
    void *items;
    size_t grown_cap = *cap > 0 ? *cap : (first > 0 ? first : 1);

    if (need <= *cap)
        return 0;
    while (grown_cap < need) {
        if (grown_cap > SIZE_MAX / 2)
            return -1;
        grown_cap *= 2;
    }
    if (item_size == 0 || grown_cap > SIZE_MAX / item_size)
        return -1;
    /* Through memcpy: items_ptr points at a pointer of whatever type the array has. */
    memcpy(&items, items_ptr, sizeof(items));
    void *grown = realloc(items, grown_cap * item_size);
    if (grown == NULL)
        return -1;
    memset((char *)grown + *cap * item_size, 0, (grown_cap - *cap) * item_size);
    memcpy(items_ptr, &grown, sizeof(grown));
    *cap = grown_cap;
    return 0;
}
