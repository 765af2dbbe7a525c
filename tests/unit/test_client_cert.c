/* Unit tests of lockboxd/client_cert.c's pure part: which caller a client certificate's URI
 * subjectAltNames name, and every way they fail to name exactly one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "client_cert.h"

static int parse(const char *const *uris, size_t n, struct client_cert_name *out, char *why)
{
    return client_cert_parse_sans(uris, n, out, why, 256);
}

static void test_person_and_host(void **unused)
{
    struct client_cert_name name;
    char why[256];
    (void)unused;

    const char *const person[] = {"https://example.com/alice", "lockbox:user/alice"};
    assert_int_equal(parse(person, 2, &name, why), 0);
    assert_int_equal(name.kind, IDENTITY_REMOTE_PERSON);
    assert_string_equal(name.name, "alice");

    const char *const host[] = {"lockbox:host/db01.example.com"};
    assert_int_equal(parse(host, 1, &name, why), 0);
    assert_int_equal(name.kind, IDENTITY_REMOTE_HOST);
    assert_string_equal(name.name, "db01.example.com");
}

static void test_none_or_more_than_one(void **unused)
{
    struct client_cert_name name;
    char why[256];
    (void)unused;

    assert_int_equal(parse(NULL, 0, &name, why), -1);
    assert_non_null(strstr(why, "names no Lockbox identity (add a URI SAN lockbox:user/NAME"));
    const char *const other[] = {"urn:x:alice", "mailto:alice@example.com"};
    assert_int_equal(parse(other, 2, &name, why), -1);
    assert_non_null(strstr(why, "names no Lockbox identity"));

    const char *const two[] = {"lockbox:user/alice", "lockbox:host/db01"};
    assert_int_equal(parse(two, 2, &name, why), -1);
    assert_non_null(strstr(why, "more than one Lockbox identity"));
    /* The scheme is case-insensitive: a second one in capitals still counts. */
    const char *const shouted[] = {"lockbox:user/alice", "LOCKBOX:user/bob"};
    assert_int_equal(parse(shouted, 2, &name, why), -1);
    assert_non_null(strstr(why, "more than one"));
}

static void test_invalid_names(void **unused)
{
    struct client_cert_name name;
    char why[256];
    char longest[80] = "lockbox:user/", too_long[80] = "lockbox:user/";
    (void)unused;

    const char *const bad[] = {
        "lockbox:user/",
        "lockbox:user/al ice",
        "lockbox:user/../root",
        "lockbox:user/a/b",
        "lockbox:admin/alice",
        "LOCKBOX:user/alice",
        "lockbox:user/al\x1b[2Jx",
        "lockbox:host/db 01",
        "lockbox:user/\xe2\x80\xae"
        "ecila",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(&bad[i], 1, &name, why), -1);
        assert_non_null(strstr(why, "is not lockbox:user/NAME or lockbox:host/NAME"));
        assert_null(strchr(why, '\x1b')); /* shown escaped */
    }
    /* The name must leave room for the prefix where actor names are stored. */
    memset(longest + 13, 'a', LOCKBOX_REMOTE_NAME_MAX);
    memset(too_long + 13, 'a', LOCKBOX_REMOTE_NAME_MAX + 1);
    const char *const ok[] = {longest}, *const over[] = {too_long};
    assert_int_equal(parse(ok, 1, &name, why), 0);
    assert_int_equal(strlen(name.name), LOCKBOX_REMOTE_NAME_MAX);
    assert_int_equal(parse(over, 1, &name, why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_and_host),
        cmocka_unit_test(test_none_or_more_than_one),
        cmocka_unit_test(test_invalid_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
