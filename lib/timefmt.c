/* RFC 3339 formatting and parsing without the C library's locale or TZ dependence. */
#define _GNU_SOURCE
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define YEAR_10000_SECONDS 253402300800LL

static void format_with(int64_t wall_ms, char out[TIMEFMT_LEN], int with_ms)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    char millis[8];

    if (wall_ms < 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(out, TIMEFMT_LEN - 6, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, TIMEFMT_LEN, "invalid-time");
        return;
    }
    snprintf(millis, sizeof(millis), ".%03d", (int)(wall_ms % 1000));
    if (with_ms)
        strcat(out, millis);
    strcat(out, "Z");
}

void timefmt_rfc3339(int64_t wall_ms, char out[TIMEFMT_LEN])
{
    format_with(wall_ms, out, 0);
}

void timefmt_rfc3339_ms(int64_t wall_ms, char out[TIMEFMT_LEN])
{
    format_with(wall_ms, out, 1);
}

/* sscanf alone would take signs, spaces and short fields ("2026- 1-+5T..."). */
static int has_shape(const char *text)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";

    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? text[i] < '0' || text[i] > '9' : text[i] != shape[i])
            return 0;
    }
    return 1;
}

/* timegm() would quietly turn February 30 into March 2. */
static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

    return month == 2 && leap ? 29 : days[month - 1];
}

int timefmt_parse(const char *text, int64_t *wall_ms)
{
    struct tm tm;
    int millis = 0, consumed = 0;

    memset(&tm, 0, sizeof(tm));
    if (text == NULL || strlen(text) > 30 || !has_shape(text))
        return -1;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19)
        return -1;
    const char *rest = text + consumed;
    if (*rest == '.') {
        if (rest[1] < '0' || rest[1] > '9' || rest[2] < '0' || rest[2] > '9' || rest[3] < '0' ||
            rest[3] > '9')
            return -1;
        millis = (rest[1] - '0') * 100 + (rest[2] - '0') * 10 + (rest[3] - '0');
        rest += 4;
    }
    if (strcmp(rest, "Z") != 0)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon) || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    if (secs < 0) /* before 1970, or an error: never written by Lockbox */
        return -1;
    /* A leap second on 9999-12-31 lands in year 10000, which has no 4-digit form: refuse it,
     * so every time that parses formats back to text that parses (fuzz/regressions/timefmt). */
    if (secs >= YEAR_10000_SECONDS)
        return -1;
    *wall_ms = (int64_t)secs * 1000 + millis;
    return 0;
}
