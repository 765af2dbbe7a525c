/* The one reading of CLOCK_MONOTONIC, for timeouts, lags and durations: never set back, never
 * a date (dates come from CLOCK_REALTIME, deadlines of requests from lockbox_clock). */
#ifndef LOCKBOX_MONOTONIC_H
#define LOCKBOX_MONOTONIC_H
#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary fixed point. */
int64_t monotonic_ms(void);
/* The CLOCK_MONOTONIC time ms from now, for waits on a condition variable whose clock is
 * CLOCK_MONOTONIC (pthread_condattr_setclock). */
struct timespec monotonic_after(int64_t ms);

#endif
