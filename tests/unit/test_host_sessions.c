/* Unit tests of lockboxd/host_sessions.c: agents' live= reports, parsed strictly and kept per
 * host (each report replacing the last). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "host_sessions.h"

#define A "0123456789abcdef0123456789abcdef"
#define B "fedcba9876543210fedcba9876543210"

static void test_parse(void **unused)
{
    struct host_session_count out[4];
    size_t n = 99;
    (void)unused;

    assert_int_equal(host_sessions_parse("", out, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(host_sessions_parse(A ":2," B ":1", out, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].request_id, A);
    assert_int_equal(out[0].live, 2);
    assert_int_equal(out[1].live, 1);
    const char *const bad[] = {
        A,           /* no count */
        A ":",       /* empty count */
        A ":0",      /* zero is not reported */
        A ":100001", /* above the cap */
        A ":-1",
        A ":1x",
        A ":1,",        /* trailing comma */
        A ":1," A ":2", /* an id twice */
        "0123456789ABCDEF0123456789ABCDEF:1",
        "0123:1",
        ",",
        A ":1;" B ":1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (host_sessions_parse(bad[i], out, 4, &n) != -1)
            fail_msg("accepted bad live= #%zu: %s", i, bad[i]);
    }
    /* More entries than room. */
    assert_int_equal(host_sessions_parse(A ":1," B ":1", out, 1, &n), -1);
}

static void test_reports_replace_per_host(void **unused)
{
    struct host_reports r = {NULL, 0, 0};
    struct host_session_count two[2] = {{A, 2}, {B, 1}};
    int live;
    int64_t at;
    (void)unused;

    assert_false(host_reports_get(&r, "db01", A, &live, &at));
    assert_int_equal(host_reports_set(&r, "db01", 1000, two, 2), 0);
    assert_int_equal(host_reports_set(&r, "db02", 2000, two + 1, 1), 0);
    assert_true(host_reports_get(&r, "db01", A, &live, &at));
    assert_int_equal(live, 2);
    assert_int_equal(at, 1000);
    assert_true(host_reports_get(&r, "db02", A, &live, &at)); /* reported, none under A */
    assert_int_equal(live, 0);
    /* A new report of db01 without A: 0 now, not the old 2. */
    assert_int_equal(host_reports_set(&r, "db01", 3000, two + 1, 1), 0);
    assert_true(host_reports_get(&r, "db01", A, &live, &at));
    assert_int_equal(live, 0);
    assert_int_equal(at, 3000);
    assert_int_equal(host_reports_set(&r, "db01", 4000, NULL, 0), 0);
    assert_true(host_reports_get(&r, "db01", B, &live, &at));
    assert_int_equal(live, 0);
    host_reports_free(&r);
    assert_false(host_reports_get(&r, "db01", A, &live, &at));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_reports_replace_per_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
