/* pam_lockbox/args.c: every option, its defaults, and every refusal (fail closed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "args.h"

static int parse(struct lockbox_args *args, int argc, const char **argv)
{
    char err[256];
    return parse_args(argc, argv, args, err, sizeof(err));
}

static void defaults(void **state)
{
    struct lockbox_args args;
    (void)state;
    assert_int_equal(parse(&args, 0, NULL), 0);
    assert_string_equal(args.socket_path, LOCKBOX_DEFAULT_PAM_SOCKET);
    assert_string_equal(args.tenant, "");
    assert_int_equal(args.wait_seconds, LOCKBOX_WAIT_DEFAULT_SECONDS);
    assert_int_equal(args.failmode, FAILMODE_SECURE);
    assert_false(args.debug);
}

static void every_option(void **state)
{
    struct lockbox_args args;
    const char *argv[] = {"socket=/run/x/l.sock", "tenant=fabrikam", "wait=0", "failmode=safe",
                          "debug"};
    (void)state;
    assert_int_equal(parse(&args, 5, argv), 0);
    assert_string_equal(args.socket_path, "/run/x/l.sock");
    assert_string_equal(args.tenant, "fabrikam");
    assert_int_equal(args.wait_seconds, 0);
    assert_int_equal(args.failmode, FAILMODE_SAFE);
    assert_true(args.debug);
}

static void refusals(void **state)
{
    static const char *const bad[] = {
        "colour=blue",
        "wait=-1",
        "wait=abc",
        "wait=",
        "wait=3601",
        "wait=1e3",
        "failmode=open",
        "failmode=",
        "socket=relative.sock",
        "socket=",
        "tenant=bad name",
        "tenant=",
        "debug=1",
        "socket=/"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaa",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lockbox_args args;
        char err[256] = "";
        const char *argv[] = {bad[i]};
        assert_int_equal(parse_args(1, argv, &args, err, sizeof(err)), -1);
        assert_true(strlen(err) > 0); /* names what is wrong */
    }
}

static void repeated_option_is_refused(void **state)
{
    struct lockbox_args args;
    const char *argv[] = {"wait=10", "wait=20"};
    (void)state;
    assert_int_equal(parse(&args, 2, argv), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(every_option),
        cmocka_unit_test(refusals),
        cmocka_unit_test(repeated_option_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
