/* Duration parsing and formatting: pure, shared by config, CLI and API. */
#include "duration.h"

#include <stdio.h>

#define MAX_DURATION_SECONDS (366LL * 24 * 3600)

int duration_parse(const char *text, int64_t *seconds)
{
    int64_t value = 0;
    const char *p = text;

    if (text == NULL || *p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        value = value * 10 + (*p - '0');
        if (value > MAX_DURATION_SECONDS)
            return -1;
    }
    int64_t unit;
    switch (*p) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    if (p[1] != '\0' || value == 0 || value > MAX_DURATION_SECONDS / unit)
        return -1;
    *seconds = value * unit;
    return 0;
}

/* Above an hour the seconds are not shown, above a day the minutes; the last unit shown is
 * rounded to the nearest, so that 29m59s reads "30m" and 1d0h59m "1d1h" (people read the
 * result as "about", and rounding down showed 29m for a 30-minute grant a moment later).
 * Rounding works on the remainder below a day, so INT64_MAX cannot overflow. */
void duration_format(int64_t seconds, char *out, unsigned long out_len)
{
    if (seconds < 0)
        seconds = 0;
    int64_t days = seconds / 86400, rest = seconds % 86400;

    if (days == 0 && rest < 3600) {
        int64_t minutes = rest / 60, secs = rest % 60;
        if (minutes > 0)
            snprintf(out, out_len, secs ? "%lldm%llds" : "%lldm", (long long)minutes,
                     (long long)secs);
        else
            snprintf(out, out_len, "%llds", (long long)secs);
        return;
    }
    if (days == 0 && rest < 86400 - 30) {
        int64_t minutes = (rest + 30) / 60;
        snprintf(out, out_len, minutes % 60 ? "%lldh%lldm" : "%lldh", (long long)(minutes / 60),
                 (long long)(minutes % 60));
        return;
    }
    int64_t hours = (rest + 1800) / 3600;
    if (hours == 24) {
        days++;
        hours = 0;
    }
    snprintf(out, out_len, hours ? "%lldd%lldh" : "%lldd", (long long)days, (long long)hours);
}
