/* Unit tests of lib/login_message.c: what both ends of the login socket take as one message,
 * how a message is written within its bound, and which statuses a reply may carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lockbox_limits.h"
#include "login_message.h"

static json_object *parse_bytes(const char *data, size_t len)
{
    char err[256] = "";
    /* Exactly len bytes, no terminator, as recv() leaves them. */
    char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    json_object *obj = login_message_parse(copy, len, err, sizeof(err));
    free(copy);
    if (obj == NULL)
        assert_true(err[0] != '\0'); /* a refusal always says why */
    return obj;
}

static void expect_accepted(const char *text)
{
    json_object *obj = parse_bytes(text, strlen(text));

    if (obj == NULL)
        fail_msg("refused: %s", text);
    assert_true(json_object_is_type(obj, json_type_object));
    json_object_put(obj);
}

static void expect_refused_bytes(const char *data, size_t len, const char *what)
{
    json_object *obj = parse_bytes(data, len);

    if (obj != NULL) {
        json_object_put(obj);
        fail_msg("accepted %s", what);
    }
}

static void expect_refused(const char *text)
{
    expect_refused_bytes(text, strlen(text), text);
}

static void test_one_object(void **unused)
{
    (void)unused;
    expect_accepted("{}");
    expect_accepted("{\"op\":\"describe\"}");
    expect_accepted("{\"op\":\"check\",\"user\":\"eng1\",\"final\":true}");
    expect_accepted("{\"status\":200,\"allowed\":false,\"request\":null}");
    expect_accepted("{\"reason\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"}");
    expect_accepted("{\"s\":\"a \\\"quoted\\\" : {colon} [and] \\\\ brackets\"}");

    static const char reply[] = "{\"status\":201,\"session_id\":\"x\"}";
    json_object *obj = parse_bytes(reply, sizeof(reply) - 1);
    assert_non_null(obj);
    assert_int_equal(login_message_status(obj), 201);
    json_object_put(obj);
}

static void test_size_bounds(void **unused)
{
    (void)unused;
    char *big = malloc(LOCKBOX_LOGIN_MESSAGE_MAX + 2);

    assert_non_null(big);
    expect_refused_bytes("", 0, "an empty message");
    /* {"r":"xxx...x"} of exactly the limit is fine; one byte more is not. */
    size_t len = LOCKBOX_LOGIN_MESSAGE_MAX;
    memset(big, 'x', len);
    memcpy(big, "{\"r\":\"", 6);
    memcpy(big + len - 2, "\"}", 2);
    json_object *obj = parse_bytes(big, len);
    assert_non_null(obj);
    json_object_put(obj);

    len = LOCKBOX_LOGIN_MESSAGE_MAX + 1;
    memset(big, 'x', len);
    memcpy(big, "{\"r\":\"", 6);
    memcpy(big + len - 2, "\"}", 2);
    expect_refused_bytes(big, len, "a message of 16385 bytes");
    free(big);
}

static void test_nul_refused(void **unused)
{
    (void)unused;
    static const char inside_string[] = "{\"user\":\"eng1\0root\"}";
    static const char after_object[] = "{\"op\":\"describe\"}\0";
    static const char before_object[] = "\0{\"op\":\"describe\"}";

    expect_refused_bytes(inside_string, sizeof(inside_string) - 1, "a NUL in a string");
    expect_refused_bytes(after_object, sizeof(after_object) - 1, "a NUL after the object");
    expect_refused_bytes(before_object, sizeof(before_object) - 1, "a NUL before the object");
}

static void test_trailing_bytes_refused(void **unused)
{
    (void)unused;
    expect_refused("{}{}");
    expect_refused("{\"op\":\"describe\"} {\"op\":\"check\"}");
    expect_refused("{\"op\":\"describe\"}x");
    expect_refused("{\"op\":\"describe\"}]");
    expect_refused("{\"op\":\"describe\"");
    expect_refused("{\"op\":\"describe\",}");
}

static void test_top_level_must_be_object(void **unused)
{
    (void)unused;
    expect_refused("[]");
    expect_refused("[{\"op\":\"describe\"}]");
    expect_refused("\"op\"");
    expect_refused("42");
    expect_refused("-1.5");
    expect_refused("true");
    expect_refused("null");
    expect_refused("op");
}

static void test_invalid_utf8_refused(void **unused)
{
    (void)unused;
    expect_refused("{\"reason\":\"\xc3\x28\"}"); /* bad continuation */
    expect_refused("{\"reason\":\"\xe2\x82\"}"); /* truncated sequence */
    expect_refused("{\"reason\":\"\xff\"}");     /* never valid */
    expect_refused("{\"reason\":\"\x80\"}");     /* a lone continuation byte */
    expect_refused("{\"reason\":\"a\xc3\"}");    /* cut off at the quote */
    expect_refused("{\"r\xc3\x28\":\"key\"}");   /* in a key */
    /* json-c's JSON_TOKENER_VALIDATE_UTF8 checks the shape of sequences only: overlong forms,
     * surrogates and code points past U+10FFFF pass the framing, and only the members the
     * daemon validates (lib/text.c) refuse them. */
}

static void test_duplicate_keys(void **unused)
{
    (void)unused;
    expect_refused("{\"user\":\"eng1\",\"user\":\"root\"}");
    expect_refused("{\"status\":200,\"allowed\":false,\"allowed\":true,\"request\":null}");
    expect_refused("{\"a\":{\"x\":1},\"b\":[1,2],\"a\":2}");
    /* Inside a nested object too: json-c would keep the last, "approved". */
    expect_refused("{\"status\":200,\"request\":{\"state\":\"pending\",\"state\":\"approved\"}}");
    expect_refused("{\"c\":[{\"k\":3,\"k\":4}]}");
    /* An escaped NUL in a key or value (json-c would cut it short there). */
    expect_refused("{\"op\\u0000junk\":\"check\"}");
    expect_refused("{\"user\":\"eng1\\u0000root\"}");
    expect_accepted("{\"user\":\"eng1\\\\u0000\"}"); /* an escaped backslash, then text */
    /* The same key in different objects is no duplicate. */
    expect_accepted("{\"id\":\"a\",\"request\":{\"id\":\"b\",\"state\":\"approved\"}}");
    expect_accepted("{\"a\":{\"k\":1},\"b\":{\"k\":2},\"c\":[{\"k\":3},{\"k\":4}]}");
    /* Colons, braces and escaped quotes inside strings are not members. */
    expect_accepted("{\"k\":\"a:b\",\"j\":\"{\\\":\\\"}\"}");
}

static void test_format(void **unused)
{
    (void)unused;
    char buf[64];
    json_object *obj = json_object_new_object();

    json_object_object_add(obj, "op", json_object_new_string("wait"));
    json_object_object_add(obj, "id", json_object_new_string("a/b"));
    json_object_object_add(obj, "timeout", json_object_new_int(30));
    static const char expected[] = "{\"op\":\"wait\",\"id\":\"a/b\",\"timeout\":30}";
    const size_t len = sizeof(expected) - 1;

    assert_int_equal(login_message_format(obj, buf, sizeof(buf)), (ssize_t)len);
    assert_string_equal(buf, expected);
    /* The terminator needs room too: len bytes are one short. */
    assert_int_equal(login_message_format(obj, buf, len + 1), (ssize_t)len);
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(login_message_format(obj, buf, len), -1);
    assert_int_equal(login_message_format(obj, buf, 0), -1);
    assert_int_equal(buf[0], 'Z'); /* nothing written when it does not fit */
    json_object_put(obj);
}

static void test_format_over_the_limit(void **unused)
{
    (void)unused;
    size_t buf_len = 2 * LOCKBOX_LOGIN_MESSAGE_MAX;
    char *buf = malloc(buf_len), *text = malloc(LOCKBOX_LOGIN_MESSAGE_MAX + 1);
    json_object *obj = json_object_new_object();

    assert_non_null(buf);
    assert_non_null(text);
    /* {"r":"..."} is 8 bytes besides the text. */
    memset(text, 'x', LOCKBOX_LOGIN_MESSAGE_MAX - 8);
    text[LOCKBOX_LOGIN_MESSAGE_MAX - 8] = '\0';
    json_object_object_add(obj, "r", json_object_new_string(text));
    assert_int_equal(login_message_format(obj, buf, buf_len), LOCKBOX_LOGIN_MESSAGE_MAX);
    char err[256];
    json_object *back = login_message_parse(buf, LOCKBOX_LOGIN_MESSAGE_MAX, err, sizeof(err));
    assert_non_null(back); /* what one side writes, the other reads */
    json_object_put(back);

    memset(text, 'x', LOCKBOX_LOGIN_MESSAGE_MAX - 7);
    text[LOCKBOX_LOGIN_MESSAGE_MAX - 7] = '\0';
    json_object_object_add(obj, "r", json_object_new_string(text));
    /* A bigger buffer does not lift the protocol's limit. */
    assert_int_equal(login_message_format(obj, buf, buf_len), -1);
    json_object_put(obj);
    free(text);
    free(buf);
}

static void expect_status(const char *text, int status)
{
    json_object *obj = parse_bytes(text, strlen(text));

    if (obj == NULL)
        fail_msg("refused: %s", text);
    if (login_message_status(obj) != status)
        fail_msg("%s: status %d, expected %d", text, login_message_status(obj), status);
    json_object_put(obj);
}

static void test_status(void **unused)
{
    (void)unused;
    expect_status("{\"status\":100}", 100);
    expect_status("{\"status\":200}", 200);
    expect_status("{\"status\":201,\"request\":null}", 201);
    expect_status("{\"status\":503,\"error\":\"audit_unavailable\",\"message\":\"m\"}", 503);
    expect_status("{\"status\":599}", 599);
    expect_status("{\"status\":99}", -1);
    expect_status("{\"status\":600}", -1);
    expect_status("{\"status\":0}", -1);
    expect_status("{\"status\":-200}", -1);
    expect_status("{\"status\":4294967496}", -1);           /* 200 + 2^32 */
    expect_status("{\"status\":18446744073709551615}", -1); /* read as uint64 */
    expect_status("{\"status\":\"200\"}", -1);
    expect_status("{\"status\":200.0}", -1);
    expect_status("{\"status\":true}", -1);
    expect_status("{\"status\":null}", -1);
    expect_status("{\"status\":[200]}", -1);
    expect_status("{\"code\":200}", -1);
    expect_status("{\"request\":{\"status\":200}}", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_object),
        cmocka_unit_test(test_size_bounds),
        cmocka_unit_test(test_nul_refused),
        cmocka_unit_test(test_trailing_bytes_refused),
        cmocka_unit_test(test_top_level_must_be_object),
        cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_over_the_limit),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
