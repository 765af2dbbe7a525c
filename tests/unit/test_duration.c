/* Unit tests of lib/duration.c: what users may write as a duration, and how one is shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "duration.h"

#define MAX_SECONDS (366LL * 24 * 3600)

static void expect_seconds(const char *text, int64_t seconds)
{
    int64_t got = -1;

    if (duration_parse(text, &got) != 0)
        fail_msg("\"%s\" was refused", text);
    if (got != seconds)
        fail_msg("\"%s\" gave %lld, expected %lld", text, (long long)got, (long long)seconds);
}

static void expect_refused(const char *text)
{
    int64_t got = 777;

    if (duration_parse(text, &got) != -1)
        fail_msg("\"%s\" was accepted as %lld", text ? text : "(null)", (long long)got);
    assert_int_equal(got, 777); /* the output is not touched on refusal */
}

static void test_valid_units(void **unused)
{
    (void)unused;
    expect_seconds("1s", 1);
    expect_seconds("90s", 90);
    expect_seconds("15m", 15 * 60);
    expect_seconds("12h", 12 * 3600);
    expect_seconds("7d", 7 * 86400);
    expect_seconds("1d", 86400);
    expect_seconds("007m", 7 * 60);
    expect_seconds("366d", MAX_SECONDS);
    expect_seconds("8784h", MAX_SECONDS);
    expect_seconds("527040m", MAX_SECONDS);
    expect_seconds("31622400s", MAX_SECONDS);
}

static void test_zero_refused(void **unused)
{
    (void)unused;
    expect_refused("0s");
    expect_refused("0m");
    expect_refused("0h");
    expect_refused("0d");
    expect_refused("000s");
}

static void test_missing_or_unknown_unit(void **unused)
{
    (void)unused;
    expect_refused("12");
    expect_refused("0");
    expect_refused("s");
    expect_refused("h");
    expect_refused("12H");
    expect_refused("12S");
    expect_refused("12w");
    expect_refused("12y");
    expect_refused("12ms");
    expect_refused("1.5h");
    expect_refused("12 h");
}

static void test_overflow(void **unused)
{
    (void)unused;
    expect_refused("367d");
    expect_refused("8785h");
    expect_refused("527041m");
    expect_refused("31622401s");
    expect_refused("9223372036854775807s");
    expect_refused("9223372036854775808s");
    expect_refused("99999999999999999999999999999999d");
    expect_refused("153722867280912930d"); /* × 86400 would wrap int64 */
}

static void test_trailing_and_leading_junk(void **unused)
{
    (void)unused;
    expect_refused("12hx");
    expect_refused("12h ");
    expect_refused("12h\n");
    expect_refused("12hh");
    expect_refused("1h30m");
    expect_refused(" 12h");
    expect_refused("\t12h");
    expect_refused("+12h");
    expect_refused("x12h");
    expect_refused("0x10s");
    /* An embedded NUL ends the string: what follows it is not seen. */
    expect_seconds("12h\0junk", 12 * 3600);
}

static void test_negative_empty_null(void **unused)
{
    int64_t got = 5;

    (void)unused;
    expect_refused("-1s");
    expect_refused("-12h");
    expect_refused("-0s");
    expect_refused("");
    expect_refused(NULL);
    assert_int_equal(duration_parse(NULL, &got), -1);
    assert_int_equal(got, 5);
}

static void expect_format(int64_t seconds, const char *text)
{
    char out[32];

    memset(out, 'X', sizeof(out));
    duration_format(seconds, out, sizeof(out));
    if (strcmp(out, text) != 0)
        fail_msg("%lld formatted as \"%s\", expected \"%s\"", (long long)seconds, out, text);
}

static void test_format(void **unused)
{
    (void)unused;
    expect_format(0, "0s");
    expect_format(1, "1s");
    expect_format(45, "45s");
    expect_format(59, "59s");
    expect_format(60, "1m");
    expect_format(90, "1m30s");
    expect_format(3599, "59m59s");
    expect_format(3600, "1h");
    expect_format(5400, "1h30m");
    expect_format(3601, "1h"); /* short form: seconds dropped under hours */
    expect_format(3629, "1h"); /* ...rounded to the nearest minute */
    expect_format(3630, "1h1m");
    expect_format(5399, "1h30m");
    expect_format(7170, "2h"); /* 1h59m30s */
    expect_format(86369, "23h59m");
    expect_format(86370, "1d"); /* 23h59m30s carries into a day */
    expect_format(12 * 3600, "12h");
    expect_format(86400, "1d");
    expect_format(90000, "1d1h");
    expect_format(86460, "1d");        /* minutes dropped under days */
    expect_format(86400 + 1799, "1d"); /* ...rounded to the nearest hour */
    expect_format(86400 + 1800, "1d1h");
    expect_format(89999, "1d1h");
    expect_format(2 * 86400 - 1, "2d"); /* 1d23h59m59s */
    expect_format(MAX_SECONDS, "366d");
    expect_format(-5, "0s");
    expect_format(INT64_MIN, "0s");
    expect_format(INT64_MAX, "106751991167300d16h"); /* 15h30m7s, rounded, no overflow */
}

static void test_format_round_trips_single_units(void **unused)
{
    static const char *const texts[] = {"1s", "59s", "1m", "59m", "1h", "23h", "1d", "366d"};
    char out[32];

    (void)unused;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        int64_t seconds = 0;
        assert_int_equal(duration_parse(texts[i], &seconds), 0);
        duration_format(seconds, out, sizeof(out));
        assert_string_equal(out, texts[i]);
    }
}

static void test_format_small_buffers(void **unused)
{
    char out[8];

    (void)unused;
    duration_format(5400, out, 0); /* writes nothing */
    for (unsigned long len = 1; len <= sizeof(out); len++) {
        memset(out, 'X', sizeof(out));
        duration_format(5400, out, len);
        assert_true(strlen(out) < len);
        assert_memory_equal(out, "1h30m", strlen(out));
    }
    memset(out, 'X', sizeof(out));
    duration_format(5400, out, 1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_units),
        cmocka_unit_test(test_zero_refused),
        cmocka_unit_test(test_missing_or_unknown_unit),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_trailing_and_leading_junk),
        cmocka_unit_test(test_negative_empty_null),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_round_trips_single_units),
        cmocka_unit_test(test_format_small_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
