/* Fuzzes duration parsing and formatting (lib/duration.c): whatever parses is 1 s .. 366 d.
 * The short human form rounds its last unit ("6h" for 6h0m20s, as the regression input shows;
 * "1d" for 23h59m45s): when it parses again it is off by at most half an hour. */
#include <string.h>

#include "duration.h"
#include "fuzz.h"

#define MAX_SECONDS (366LL * 24 * 3600)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    char small[4], out[64];
    int64_t seconds = -1, again = -1;

    if (duration_parse(text, &seconds) == 0) {
        FUZZ_CHECK(seconds >= 1 && seconds <= MAX_SECONDS);
        duration_format(seconds, out, sizeof(out));
        if (duration_parse(out, &again) == 0)
            FUZZ_CHECK(again >= seconds - 1800 && again <= seconds + 1800);
    }
    /* Any int64 formats without overflow, into any buffer size. */
    int64_t raw = 0;
    memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
    duration_format(raw, out, sizeof(out));
    FUZZ_CHECK(strlen(out) < sizeof(out));
    duration_format(raw, small, sizeof(small));
    FUZZ_CHECK(strlen(small) < sizeof(small));
    free(text);
    return 0;
}
