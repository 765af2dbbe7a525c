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

void duration_format(int64_t seconds, char *out, unsigned long out_len)
{
    if (seconds < 0)
        seconds = 0;
    int64_t days = seconds / 86400, hours = seconds % 86400 / 3600;
    int64_t minutes = seconds % 3600 / 60, secs = seconds % 60;

    if (days > 0)
        snprintf(out, out_len, hours ? "%lldd%lldh" : "%lldd", (long long)days, (long long)hours);
    else if (hours > 0)
        snprintf(out, out_len, minutes ? "%lldh%lldm" : "%lldh", (long long)hours,
                 (long long)minutes);
    else if (minutes > 0)
        snprintf(out, out_len, secs ? "%lldm%llds" : "%lldm", (long long)minutes, (long long)secs);
    else
        snprintf(out, out_len, "%llds", (long long)secs);
}
