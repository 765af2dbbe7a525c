/* Unit tests of lockboxd/body.c: one JSON object whose members are the allowed ones, each of
 * the right type and content, or an error that says which and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "body.h"

#define ALL_API                                                                                    \
    (BODY_REASON | BODY_COMMENT | BODY_TENANT | BODY_HOST | BODY_USER | BODY_SERVICE |             \
     BODY_RHOST | BODY_FOR | BODY_FINAL | BODY_TTY | BODY_REQUESTER)

static char err[256];

static int parse(struct body *body, const char *text, unsigned allowed)
{
    err[0] = '\0';
    return body_parse(body, text, strlen(text), allowed, err, sizeof(err));
}

static void refused(const char *text, unsigned allowed, const char *why)
{
    struct body body;

    assert_int_equal(parse(&body, text, allowed), -1);
    assert_null(body.root); /* nothing left to free */
    if (strstr(err, why) == NULL)
        fail_msg("%s: error \"%s\" does not say \"%s\"", text, err, why);
}

static void test_empty_body_is_an_empty_object(void **state)
{
    struct body body;
    (void)state;

    assert_int_equal(body_parse(&body, "", 0, ALL_API, err, sizeof(err)), 0);
    assert_int_equal(body.present, 0);
    body_free(&body);
    assert_int_equal(parse(&body, "{}", ALL_API), 0);
    assert_int_equal(body.present, 0);
    body_free(&body);
}

static void test_typed_members(void **state)
{
    struct body body;
    (void)state;

    assert_int_equal(parse(&body,
                           "{\"reason\":\"INC-1 disk full\",\"user\":\"eng\",\"tenant\":"
                           "\"contoso\",\"host\":\"db1.example\",\"for\":\"2h\","
                           "\"final\":true,\"tty\":\"/dev/pts/3\"}",
                           ALL_API),
                     0);
    assert_string_equal(body.reason, "INC-1 disk full");
    assert_string_equal(body.user, "eng");
    assert_string_equal(body.tenant, "contoso");
    assert_string_equal(body.host, "db1.example");
    assert_string_equal(body.duration, "2h");
    assert_string_equal(body.tty, "/dev/pts/3");
    assert_true(body.final);
    assert_int_equal(body.present, BODY_REASON | BODY_USER | BODY_TENANT | BODY_HOST | BODY_FOR |
                                       BODY_FINAL | BODY_TTY);
    assert_null(body_first_missing(body.present, BODY_REASON | BODY_USER));
    body_free(&body);
    assert_null(body.root);
}

static void test_shape_refusals(void **state)
{
    (void)state;
    refused("[]", ALL_API, "must be a JSON object");
    refused("\"text\"", ALL_API, "must be a JSON object");
    refused("{\"reason\":\"x\"} {}", ALL_API, "not one valid JSON object");
    refused("{\"reason\":\"x\"", ALL_API, "not one valid JSON object");
    refused("{\"reason\":\"a\",\"reason\":\"b\"}", ALL_API, "duplicate key");
    refused("{\"reason\":\"a\\u0000b\"}", ALL_API, "escaped NUL");
    refused("{\"bogus\":1}", ALL_API, "unknown field 'bogus'");
    /* A member the route does not take is as unknown as one nobody takes. */
    refused("{\"for\":\"1h\"}", BODY_COMMENT, "unknown field 'for'");
    refused("{\"reason\":null}", ALL_API, "'reason' must not be null");
}

static void test_value_refusals(void **state)
{
    (void)state;
    refused("{\"reason\":7}", ALL_API, "'reason' must be a string");
    refused("{\"reason\":\"\"}", ALL_API, "'reason' must be 1 to");
    refused("{\"reason\":\"line\\nbreak\"}", ALL_API, "without control characters");
    refused("{\"user\":\"a b\"}", ALL_API, "'user' must be a name");
    refused("{\"host\":\"\"}", ALL_API, "'host' must be a host name");
    refused("{\"for\":\"soon\"}", ALL_API, "'for' must be a duration");
    refused("{\"final\":\"yes\"}", ALL_API, "'final' must be true or false");
    refused("{\"tty\":\"../../etc/passwd\"}", ALL_API, "'tty' must be a terminal");
    refused("{\"id\":\"ABC\"}", BODY_ID, "'id' must be an id of 32");
    refused("{\"timeout\":-1}", BODY_TIMEOUT, "'timeout' must be a whole number");
    refused("{\"timeout\":1.5}", BODY_TIMEOUT, "'timeout' must be a whole number");
    refused("{\"timeout\":3601}", BODY_TIMEOUT, "'timeout' must be a whole number");
}

static void test_timeout_bounds(void **state)
{
    struct body body;
    (void)state;

    assert_int_equal(parse(&body, "{\"timeout\":0}", BODY_TIMEOUT), 0);
    assert_int_equal(body.timeout, 0);
    body_free(&body);
    assert_int_equal(parse(&body, "{\"timeout\":3600}", BODY_TIMEOUT), 0);
    assert_int_equal(body.timeout, 3600);
    body_free(&body);
}

static void test_field_names_and_missing(void **state)
{
    (void)state;
    assert_string_equal(body_field_name(BODY_REASON), "reason");
    assert_string_equal(body_field_name(BODY_FOR), "for");
    assert_string_equal(body_field_name(BODY_REQUESTER), "requester");
    assert_string_equal(body_field_name(0), "?");
    assert_string_equal(body_field_name(BODY_USER | BODY_HOST), "?");
    assert_null(body_first_missing(0, 0));
    assert_string_equal(body_first_missing(0, BODY_USER), "user");
    assert_string_equal(body_first_missing(BODY_USER, BODY_USER | BODY_REASON), "reason");
    /* The lowest missing bit first, as the login socket's "'op' needs 'X'" reports it. */
    assert_string_equal(body_first_missing(0, BODY_USER | BODY_REASON), "reason");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_body_is_an_empty_object),
        cmocka_unit_test(test_typed_members),
        cmocka_unit_test(test_shape_refusals),
        cmocka_unit_test(test_value_refusals),
        cmocka_unit_test(test_timeout_bounds),
        cmocka_unit_test(test_field_names_and_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
