/* Unit tests of lockboxd/host_feed.c: a host's feed, its version, known= and the waiter key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "host_feed.h"

static struct lockbox_request request(char first, enum request_state state)
{
    struct lockbox_request req;

    memset(&req, 0, sizeof(req));
    memset(req.id, '0', LOCKBOX_ID_HEX_LEN);
    req.id[0] = first;
    req.state = state;
    snprintf(req.host, sizeof(req.host), "db01");
    snprintf(req.tenant, sizeof(req.tenant), "contoso");
    snprintf(req.user, sizeof(req.user), "eng1");
    req.created_at = 1700000000000;
    return req;
}

static void sealed(struct host_feed *feed, char version[HOST_FEED_VERSION_LEN + 1])
{
    assert_int_equal(host_feed_seal(feed), 0);
    assert_int_equal(strlen(feed->version), HOST_FEED_VERSION_LEN);
    memcpy(version, feed->version, HOST_FEED_VERSION_LEN + 1);
}

/* The version is the content's: the same requests in any order give the same version, and
 * any change a decision makes gives another. */
static void test_version_follows_content(void **state)
{
    struct host_feed a = {"db01", "contoso", NULL, 0, 0, ""};
    struct host_feed b = {"db01", "contoso", NULL, 0, 0, ""};
    struct lockbox_request one = request('1', REQUEST_PENDING), two = request('2', REQUEST_PENDING);
    char empty[HOST_FEED_VERSION_LEN + 1], va[HOST_FEED_VERSION_LEN + 1];
    char vb[HOST_FEED_VERSION_LEN + 1];
    (void)state;

    sealed(&a, empty);
    assert_int_equal(host_feed_add(&a, &one), 0);
    assert_int_equal(host_feed_add(&a, &two), 0);
    assert_int_equal(host_feed_add(&a, &one), 0); /* once only */
    assert_int_equal(a.count, 2);
    sealed(&a, va);
    assert_string_not_equal(va, empty);
    assert_int_equal(host_feed_add(&b, &two), 0);
    assert_int_equal(host_feed_add(&b, &one), 0);
    sealed(&b, vb);
    assert_string_equal(va, vb);
    assert_string_equal(b.requests[0].id, one.id); /* answered in id order */

    b.requests[1].state = REQUEST_APPROVED;
    b.requests[1].decided_at = 1700000001000;
    sealed(&b, vb);
    assert_string_not_equal(va, vb);
    char approved[HOST_FEED_VERSION_LEN + 1];
    memcpy(approved, vb, sizeof(approved));
    snprintf(b.requests[1].comment, sizeof(b.requests[1].comment), "ok");
    sealed(&b, vb);
    assert_string_not_equal(approved, vb);
    host_feed_free(&a);
    host_feed_free(&b);
}

static void test_json_shape(void **state)
{
    struct host_feed feed = {"db01", "contoso", NULL, 0, 0, ""};
    struct lockbox_request one = request('a', REQUEST_APPROVED);
    (void)state;

    assert_int_equal(host_feed_add(&feed, &one), 0);
    assert_int_equal(host_feed_seal(&feed), 0);
    json_object *obj = host_feed_to_json(&feed), *v;
    assert_true(json_object_object_get_ex(obj, "host", &v));
    assert_string_equal(json_object_get_string(v), "db01");
    assert_true(json_object_object_get_ex(obj, "tenant", &v));
    assert_string_equal(json_object_get_string(v), "contoso");
    assert_true(json_object_object_get_ex(obj, "version", &v));
    assert_string_equal(json_object_get_string(v), feed.version);
    assert_true(json_object_object_get_ex(obj, "requests", &v));
    assert_int_equal(json_object_array_length(v), 1);
    json_object_put(obj);
    host_feed_free(&feed);
}

static void test_known_list(void **state)
{
    char ids[3][LOCKBOX_ID_HEX_LEN + 1];
    size_t n = 99;
    const char *id1 = "0123456789abcdef0123456789abcdef";
    char two[80], text[200];
    (void)state;

    assert_int_equal(host_feed_parse_known("", ids, 3, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(host_feed_parse_known(id1, ids, 3, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], id1);
    snprintf(two, sizeof(two), "%s,%s", id1, "fedcba9876543210fedcba9876543210");
    assert_int_equal(host_feed_parse_known(two, ids, 3, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[1], "fedcba9876543210fedcba9876543210");
    /* Each must be a whole id; at most max of them. */
    static const char *const bad[] = {"0123", ",", "0123456789ABCDEF0123456789abcdef", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(host_feed_parse_known(bad[i], ids, 3, &n), -1);
    snprintf(text, sizeof(text), "%s,", id1);
    assert_int_equal(host_feed_parse_known(text, ids, 3, &n), -1);
    snprintf(text, sizeof(text), "%s,%s,%s,%s", id1, id1, id1, id1);
    assert_int_equal(host_feed_parse_known(text, ids, 3, &n), -1);
}

static void test_waiter_key(void **state)
{
    char a[LOCKBOX_ID_HEX_LEN + 1], b[LOCKBOX_ID_HEX_LEN + 1], again[LOCKBOX_ID_HEX_LEN + 1];
    (void)state;

    host_feed_waiter_key("db01", a);
    host_feed_waiter_key("db02", b);
    host_feed_waiter_key("db01", again);
    assert_int_equal(strlen(a), LOCKBOX_ID_HEX_LEN);
    assert_string_equal(a, again);
    assert_string_not_equal(a, b);
    assert_true(host_feed_is_waiter_key(a));
    assert_false(host_feed_is_waiter_key("0123456789abcdef0123456789abcdef")); /* a request */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_follows_content),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_known_list),
        cmocka_unit_test(test_waiter_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
