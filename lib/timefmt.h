/* RFC 3339 UTC timestamps, the only time format Lockbox writes. */
#ifndef LOCKBOX_TIMEFMT_H
#define LOCKBOX_TIMEFMT_H
#include <stdint.h>

#define TIMEFMT_LEN 32

/* Milliseconds since the epoch to "2026-11-25T12:00:00Z" (seconds precision). */
void timefmt_rfc3339(int64_t wall_ms, char out[TIMEFMT_LEN]);
/* The same with milliseconds: "2026-11-25T12:00:00.123Z" (audit records). */
void timefmt_rfc3339_ms(int64_t wall_ms, char out[TIMEFMT_LEN]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" back to milliseconds. Returns 0 or -1. */
int timefmt_parse(const char *text, int64_t *wall_ms);

#endif
