/* Unit tests of lockboxd/login_request.c: each login socket operation with the members it
 * takes, and a refusal that names the member for everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockbox_limits.h"
#include "login_request.h"

#define ID "9f0c9f0c9f0c9f0c9f0c9f0c9f0c9f0c"
#define SESSION "0123456789abcdef0123456789abcdef"

/* Parses text as received (no terminator); fails the test unless it is accepted as op. */
static void parse_ok(const char *text, enum login_operation op, struct login_request *out)
{
    char err[256] = "";
    size_t len = strlen(text);
    char *copy = malloc(len);

    assert_non_null(copy);
    memcpy(copy, text, len);
    if (login_request_parse(copy, len, out, err, sizeof(err)) != 0)
        fail_msg("%s: refused: %s", text, err);
    free(copy); /* what was parsed must not point into the received bytes */
    assert_int_equal(out->op, op);
    assert_non_null(out->members.root);
}

/* The message must be refused with an error that names member (as 'member'). */
static void expect_refused_bytes(const char *data, size_t len, const char *member)
{
    char err[256] = "", quoted[64];
    struct login_request req;
    char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    int rc = login_request_parse(copy, len, &req, err, sizeof(err));
    free(copy);
    if (rc == 0) {
        login_request_free(&req);
        fail_msg("accepted: %.*s", (int)(len > 200 ? 200 : len), data);
    }
    assert_null(req.members.root);
    assert_true(err[0] != '\0');
    if (member != NULL) {
        snprintf(quoted, sizeof(quoted), "'%s'", member);
        if (strstr(err, quoted) == NULL)
            fail_msg("%.*s: the error \"%s\" does not name %s", (int)(len > 200 ? 200 : len), data,
                     err, quoted);
    }
}

static void expect_refused(const char *text, const char *member)
{
    expect_refused_bytes(text, strlen(text), member);
}

static void test_check(void **unused)
{
    (void)unused;
    struct login_request req;

    parse_ok("{\"op\":\"check\",\"user\":\"eng1\"}", LOGIN_CHECK, &req);
    assert_string_equal(req.members.user, "eng1");
    assert_null(req.members.tenant);
    assert_false(req.members.final);
    login_request_free(&req);

    parse_ok("{\"op\":\"check\",\"user\":\"eng1\",\"tenant\":\"contoso\",\"service\":\"sshd\","
             "\"rhost\":\"203.0.113.9\",\"final\":true}",
             LOGIN_CHECK, &req);
    assert_string_equal(req.members.tenant, "contoso");
    assert_string_equal(req.members.service, "sshd");
    assert_string_equal(req.members.rhost, "203.0.113.9");
    assert_true(req.members.final);
    assert_string_equal(login_operation_name(req.op), "check");
    login_request_free(&req);
    assert_null(req.members.root);
}

static void test_file(void **unused)
{
    (void)unused;
    struct login_request req;

    parse_ok("{\"op\":\"file\",\"user\":\"eng1\",\"reason\":\"INC-4711 disk full\"}", LOGIN_FILE,
             &req);
    assert_string_equal(req.members.reason, "INC-4711 disk full");
    login_request_free(&req);

    parse_ok("{\"reason\":\"caf\xc3\xa9\",\"rhost\":\"fe80::1%eth0\",\"op\":\"file\","
             "\"tenant\":\"contoso\",\"user\":\"eng1\",\"service\":\"su-l\"}",
             LOGIN_FILE, &req);
    assert_string_equal(req.members.rhost, "fe80::1%eth0");
    assert_string_equal(login_operation_name(req.op), "file");
    login_request_free(&req);
}

static void test_wait(void **unused)
{
    (void)unused;
    struct login_request req;

    parse_ok("{\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":30}", LOGIN_WAIT, &req);
    assert_string_equal(req.members.id, ID);
    assert_int_equal(req.members.timeout, 30);
    login_request_free(&req);

    parse_ok("{\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":0}", LOGIN_WAIT, &req);
    assert_int_equal(req.members.timeout, 0);
    login_request_free(&req);

    parse_ok("{\"timeout\":3600,\"op\":\"wait\",\"id\":\"" ID "\"}", LOGIN_WAIT, &req);
    assert_int_equal(req.members.timeout, LOCKBOX_WAIT_MAX_SECONDS);
    login_request_free(&req);
}

static void test_describe(void **unused)
{
    (void)unused;
    struct login_request req;

    parse_ok("{\"op\":\"describe\"}", LOGIN_DESCRIBE, &req);
    assert_string_equal(login_operation_name(req.op), "describe");
    login_request_free(&req);
}

static void test_sessions(void **unused)
{
    (void)unused;
    struct login_request req;

    parse_ok("{\"op\":\"session_open\",\"user\":\"eng1\"}", LOGIN_SESSION_OPEN, &req);
    assert_null(req.members.tty);
    login_request_free(&req);

    parse_ok("{\"op\":\"session_open\",\"user\":\"eng1\",\"tenant\":\"contoso\","
             "\"service\":\"sshd\",\"rhost\":\"db01.example.com\",\"tty\":\"/dev/pts/3\"}",
             LOGIN_SESSION_OPEN, &req);
    assert_string_equal(req.members.tty, "/dev/pts/3");
    login_request_free(&req);

    parse_ok("{\"op\":\"session_close\",\"session_id\":\"" SESSION "\"}", LOGIN_SESSION_CLOSE,
             &req);
    assert_string_equal(req.members.session_id, SESSION);
    assert_string_equal(login_operation_name(req.op), "session_close");
    login_request_free(&req);
}

static void test_missing_required_member(void **unused)
{
    (void)unused;
    expect_refused("{\"op\":\"check\"}", "user");
    expect_refused("{\"op\":\"check\",\"tenant\":\"contoso\",\"final\":true}", "user");
    expect_refused("{\"op\":\"file\",\"user\":\"eng1\"}", "reason");
    expect_refused("{\"op\":\"file\",\"reason\":\"INC-4711\"}", "user");
    expect_refused("{\"op\":\"wait\",\"timeout\":30}", "id");
    expect_refused("{\"op\":\"wait\",\"id\":\"" ID "\"}", "timeout");
    expect_refused("{\"op\":\"session_open\",\"tty\":\"pts/1\"}", "user");
    expect_refused("{\"op\":\"session_close\"}", "session_id");
}

static void test_member_the_op_does_not_take(void **unused)
{
    (void)unused;
    expect_refused("{\"op\":\"describe\",\"user\":\"eng1\"}", "user");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"reason\":\"r\"}", "reason");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"tty\":\"pts/1\"}", "tty");
    expect_refused("{\"op\":\"file\",\"user\":\"eng1\",\"reason\":\"r\",\"final\":true}", "final");
    expect_refused("{\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":5,\"user\":\"eng1\"}", "user");
    expect_refused("{\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":5,"
                   "\"session_id\":\"" SESSION "\"}",
                   "session_id");
    expect_refused("{\"op\":\"session_close\",\"session_id\":\"" SESSION "\",\"id\":\"" ID "\"}",
                   "id");
    expect_refused("{\"op\":\"session_open\",\"user\":\"eng1\",\"timeout\":5}", "timeout");
    /* Members of the HTTP API's bodies that no login operation takes. */
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"comment\":\"c\"}", "comment");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"host\":\"db01\"}", "host");
    expect_refused("{\"op\":\"file\",\"user\":\"eng1\",\"reason\":\"r\",\"for\":\"2h\"}", "for");
}

static void test_unknown_op(void **unused)
{
    (void)unused;
    expect_refused("{\"op\":\"approve\",\"id\":\"" ID "\"}", "op");
    expect_refused("{\"op\":\"CHECK\",\"user\":\"eng1\"}", "op");
    expect_refused("{\"op\":\"\",\"user\":\"eng1\"}", "op");
    expect_refused("{\"user\":\"eng1\"}", "op");
    expect_refused("{}", "op");
    expect_refused("{\"op\":7}", "op");
    expect_refused("{\"op\":null}", "op");
    expect_refused("{\"op\":[\"check\"],\"user\":\"eng1\"}", "op");
}

static void test_unknown_member(void **unused)
{
    (void)unused;
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"bogus\":1}", "bogus");
    expect_refused("{\"op\":\"describe\",\"Op\":\"describe\"}", "Op");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"status\":200}", "status");
}

static void test_wrong_types(void **unused)
{
    (void)unused;
    const char *pre = "{\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":";
    static const char *const bad_timeouts[] = {
        "\"30\"", "3601", "-1", "1.5", "true", "null", "99999999999999999999", "4294967326",
    };
    char text[256];

    for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++) {
        snprintf(text, sizeof(text), "%s%s}", pre, bad_timeouts[i]);
        expect_refused(text, "timeout");
    }
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"final\":\"true\"}", "final");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"final\":1}", "final");
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"final\":null}", "final");
    expect_refused("{\"op\":\"check\",\"user\":7}", "user");
    expect_refused("{\"op\":\"check\",\"user\":\"eng 1\"}", "user");
    expect_refused("{\"op\":\"check\",\"user\":\"\"}", "user");
    /* An escaped NUL would cut a value (or a key: "op\u0000junk" for "op") short. */
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\\u0000root\"}", NULL);
    expect_refused("{\"op\\u0000junk\":\"check\",\"user\":\"eng1\"}", NULL);
    expect_refused("{\"op\":\"check\",\"user\\u0000\":\"eng1\"}", NULL);
    expect_refused("{\"op\":\"file\",\"user\":\"eng1\",\"reason\":\"line\\nbreak\"}", "reason");
    expect_refused("{\"op\":\"session_open\",\"user\":\"eng1\",\"tty\":\"../../etc\"}", "tty");

    static const char *const bad_ids[] = {
        "9F0C9F0C9F0C9F0C9F0C9F0C9F0C9F0C",  /* uppercase */
        "9f0c9f0c9f0c9f0c9f0c9f0c9f0c9f0",   /* 31 */
        "9f0c9f0c9f0c9f0c9f0c9f0c9f0c9f0c0", /* 33 */
        "9f0c9f0c9f0c9f0c9f0c9f0c9f0c9f0g",  /* not hex */
        "",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(text, sizeof(text), "{\"op\":\"wait\",\"id\":\"%s\",\"timeout\":5}", bad_ids[i]);
        expect_refused(text, "id");
        snprintf(text, sizeof(text), "{\"op\":\"session_close\",\"session_id\":\"%s\"}",
                 bad_ids[i]);
        expect_refused(text, "session_id");
    }
    expect_refused("{\"op\":\"wait\",\"id\":12345,\"timeout\":5}", "id");
}

static void test_not_one_message(void **unused)
{
    (void)unused;
    static const char nul[] = "{\"op\":\"describe\"}\0";
    char *big = malloc(LOCKBOX_LOGIN_MESSAGE_MAX + 1);

    expect_refused_bytes("", 0, NULL);
    expect_refused("not json", NULL);
    expect_refused("[{\"op\":\"describe\"}]", NULL);
    expect_refused("{\"op\":\"describe\"}{}", NULL);
    expect_refused("{\"op\":\"check\",\"user\":\"eng1\",\"user\":\"root\"}", NULL);
    expect_refused_bytes(nul, sizeof(nul) - 1, NULL);

    assert_non_null(big);
    memset(big, ' ', LOCKBOX_LOGIN_MESSAGE_MAX + 1);
    memcpy(big, "{\"op\":\"describe\"}", 17);
    expect_refused_bytes(big, LOCKBOX_LOGIN_MESSAGE_MAX + 1, NULL);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_missing_required_member),
        cmocka_unit_test(test_member_the_op_does_not_take),
        cmocka_unit_test(test_unknown_op),
        cmocka_unit_test(test_unknown_member),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_not_one_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
