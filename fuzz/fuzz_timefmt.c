/* Fuzzes RFC 3339 parsing and formatting (lib/timefmt.c): a parsed time formats back to text
 * that parses to the same instant; any int64 formats within TIMEFMT_LEN. */
#include <string.h>

#include "fuzz.h"
#include "timefmt.h"

#define YEAR_10000_MS 253402300800000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    char out[TIMEFMT_LEN];
    int64_t ms = -1, again = -1;

    if (timefmt_parse(text, &ms) == 0) {
        FUZZ_CHECK(ms >= 0 && ms < YEAR_10000_MS);
        timefmt_rfc3339_ms(ms, out);
        FUZZ_CHECK(timefmt_parse(out, &again) == 0 && again == ms);
        timefmt_rfc3339(ms, out);
        FUZZ_CHECK(timefmt_parse(out, &again) == 0 && again == ms - ms % 1000);
    }
    int64_t raw = 0;
    memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
    timefmt_rfc3339_ms(raw, out);
    FUZZ_CHECK(strlen(out) < TIMEFMT_LEN);
    if (raw >= 0 && raw < YEAR_10000_MS)
        FUZZ_CHECK(timefmt_parse(out, &again) == 0 && again == raw);
    free(text);
    return 0;
}
