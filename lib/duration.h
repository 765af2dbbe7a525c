/* Durations as users write them: an integer with s, m, h or d. */
#ifndef LOCKBOX_DURATION_H
#define LOCKBOX_DURATION_H
#include <stdint.h>

/* Parses "90s", "15m", "12h", "7d" into seconds. Returns 0, or -1 for anything else
 * (no unit, zero, negative, overflow, trailing bytes, more than 366 days). */
int duration_parse(const char *text, int64_t *seconds);

/* Writes a short human form ("2h", "1h30m", "45s") of a non-negative number of seconds:
 * seconds are dropped above an hour and minutes above a day, rounding to the nearest. */
void duration_format(int64_t seconds, char *out, unsigned long out_len);

#endif
