/* Unit tests of lib/timefmt.c: RFC 3339 UTC formatting and strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define T0 1764072000000LL                     /* 2025-11-25T12:00:00Z */
#define LAST_4_DIGIT_YEAR_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

static void expect_format(int64_t wall_ms, const char *seconds, const char *millis)
{
    char out[TIMEFMT_LEN];

    memset(out, 'X', sizeof(out));
    timefmt_rfc3339(wall_ms, out);
    assert_string_equal(out, seconds);
    memset(out, 'X', sizeof(out));
    timefmt_rfc3339_ms(wall_ms, out);
    assert_string_equal(out, millis);
}

static void test_format(void **unused)
{
    (void)unused;
    expect_format(0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z");
    expect_format(1, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.001Z");
    expect_format(T0, "2025-11-25T12:00:00Z", "2025-11-25T12:00:00.000Z");
    expect_format(T0 + 123, "2025-11-25T12:00:00Z", "2025-11-25T12:00:00.123Z");
    expect_format(T0 + 999, "2025-11-25T12:00:00Z", "2025-11-25T12:00:00.999Z");
    expect_format(T0 + 1000, "2025-11-25T12:00:01Z", "2025-11-25T12:00:01.000Z");
    expect_format(951782400000LL, "2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z");
    expect_format(LAST_4_DIGIT_YEAR_MS, "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z");
}

static void test_format_invalid(void **unused)
{
    char out[TIMEFMT_LEN];

    (void)unused;
    timefmt_rfc3339(-1, out);
    assert_string_equal(out, "invalid-time");
    timefmt_rfc3339_ms(-1000, out);
    assert_string_equal(out, "invalid-time");
    timefmt_rfc3339_ms(INT64_MIN, out);
    assert_string_equal(out, "invalid-time");
    /* Far in the future: whatever comes out fits and is terminated. */
    memset(out, 'X', sizeof(out));
    timefmt_rfc3339_ms(INT64_MAX, out);
    assert_true(strnlen(out, sizeof(out)) < sizeof(out));
}

static void expect_parse(const char *text, int64_t wall_ms)
{
    int64_t got = -1;

    if (timefmt_parse(text, &got) != 0)
        fail_msg("\"%s\" was refused", text);
    if (got != wall_ms)
        fail_msg("\"%s\" gave %lld, expected %lld", text, (long long)got, (long long)wall_ms);
}

static void test_parse(void **unused)
{
    (void)unused;
    expect_parse("1970-01-01T00:00:00Z", 0);
    expect_parse("1970-01-01T00:00:00.001Z", 1);
    expect_parse("2025-11-25T12:00:00Z", T0);
    expect_parse("2025-11-25T12:00:00.000Z", T0);
    expect_parse("2025-11-25T12:00:00.123Z", T0 + 123);
    expect_parse("2025-11-25T12:00:00.999Z", T0 + 999);
    expect_parse("2024-02-29T00:00:00Z", 1709164800000LL);
    expect_parse("2000-02-29T00:00:00Z", 951782400000LL);
    expect_parse("9999-12-31T23:59:59.999Z", LAST_4_DIGIT_YEAR_MS);
}

static void test_round_trip(void **unused)
{
    char out[TIMEFMT_LEN];
    unsigned seed = 4711;
    int64_t back;

    (void)unused;
    for (int i = 0; i < 20000; i++) {
        int64_t wall_ms = (((int64_t)rand_r(&seed) << 31) ^ rand_r(&seed)) % LAST_4_DIGIT_YEAR_MS;
        if (i < 3)
            wall_ms = (int64_t[]){0, T0, LAST_4_DIGIT_YEAR_MS}[i];
        timefmt_rfc3339_ms(wall_ms, out);
        assert_int_equal(timefmt_parse(out, &back), 0);
        assert_int_equal(back, wall_ms);
        timefmt_rfc3339(wall_ms, out);
        assert_int_equal(timefmt_parse(out, &back), 0);
        assert_int_equal(back, wall_ms - wall_ms % 1000);
    }
}

static void test_parse_bad_inputs(void **unused)
{
    static const char *const bad[] = {
        "",
        "Z",
        "2025-11-25",
        "2025-11-25T12:00:00",
        "2025-11-25T12:00Z",
        "2025-11-25T12:00:00+00:00",
        "2025-11-25T12:00:00z",
        "2025-11-25t12:00:00Z",
        "2025-11-25 12:00:00Z",
        "2025-11-25T12:00:00.1Z",
        "2025-11-25T12:00:00.12Z",
        "2025-11-25T12:00:00.1234Z",
        "2025-11-25T12:00:00.Z",
        "2025-11-25T12:00:00.12xZ",
        "2025-11-25T12:00:00,123Z",
        "2025-11-25T12:00:00ZZ",
        "2025-11-25T12:00:00Z ",
        " 2025-11-25T12:00:00Z",
        "2025-11-25T12:00:00Zjunk",
        "2025-11-25T12:00:00\nZ",
        /* out of range */
        "2025-00-25T12:00:00Z",
        "2025-13-25T12:00:00Z",
        "2025-11-00T12:00:00Z",
        "2025-11-32T12:00:00Z",
        "2025-11-31T12:00:00Z",
        "2025-02-29T12:00:00Z",
        "2100-02-29T12:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-11-25T24:00:00Z",
        "2025-11-25T23:60:00Z",
        "2025-11-25T23:59:61Z",
        "1969-12-31T23:59:59Z",
        "1969-12-31T23:59:58Z",
        "0000-01-01T00:00:00Z",
        /* signs, spaces and short fields that sscanf would take */
        "+025-11-25T12:00:00Z",
        "-025-11-25T12:00:00Z",
        "2025-+1-25T12:00:00Z",
        "2025- 1-25T12:00:00Z",
        "2025-1-25T12:00:00Z",
        "2025-11-5T12:00:00Z",
        "2025-11-25T 2:00:00Z",
        "2025-11-25T12:-1:00Z",
        "2025-11-25T12:00:+1Z",
        "20251-11-25T12:00:00Z",
        "2025/11/25T12:00:00Z",
        "2025-11-25T12.00.00Z",
        /* far too long */
        "2025-11-25T12:00:00.123Z00000000000000000000000000",
    };
    (void)unused;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = 42;
        if (timefmt_parse(bad[i], &got) != -1)
            fail_msg("\"%s\" was accepted as %lld", bad[i], (long long)got);
        assert_int_equal(got, 42);
    }
    int64_t got = 42;
    assert_int_equal(timefmt_parse(NULL, &got), -1);
    assert_int_equal(got, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_invalid),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
