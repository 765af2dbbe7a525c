/* The one way Lockbox grows an array: by doubling, checked for overflow, new room zeroed. */
#ifndef LOCKBOX_ARRAY_GROW_H
#define LOCKBOX_ARRAY_GROW_H
#include <stddef.h>

/* Makes room for at least `need` items of item_size bytes in the array *items_ptr holds (a
 * pointer to the array's pointer, e.g. &set->heap) whose capacity is *cap, growing it to
 * `first` items at least and doubling from there, so that n appends cost O(n) copies. Room
 * beyond the old capacity is zeroed. Returns 0, or -1 when out of memory or the size would
 * overflow; then the array and *cap are unchanged. */
int array_grow(void *items_ptr, size_t *cap, size_t need, size_t item_size, size_t first);

#endif
