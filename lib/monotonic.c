/* CLOCK_MONOTONIC in the two shapes the programs use. */
#include "monotonic.h"

static struct timespec now_timespec(void)
{
    struct timespec ts = {0, 0};
    /* Cannot fail for CLOCK_MONOTONIC on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

int64_t monotonic_ms(void)
{
    struct timespec ts = now_timespec();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec monotonic_after(int64_t ms)
{
    struct timespec ts = now_timespec();
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}
