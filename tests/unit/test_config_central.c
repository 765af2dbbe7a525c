/* Unit tests of lockboxd/config_central.c: [central]'s keys, its URL rule and what a present
 * section needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config_central.h"

static int key(struct central_config *c, const char *k, const char *v)
{
    char why[300];
    return config_central_key(c, k, v, why, sizeof(why));
}

static void test_only_plain_https_urls(void **state)
{
    (void)state;
    assert_true(config_central_url_ok("https://central.example:8443"));
    assert_true(config_central_url_ok("https://127.0.0.1:8443/"));
    assert_true(config_central_url_ok("https://[::1]:8443"));
    assert_false(config_central_url_ok("http://central.example:8443"));
    assert_false(config_central_url_ok("https://user@central.example"));
    assert_false(config_central_url_ok("https://central.example/v1"));
    assert_false(config_central_url_ok("https://central.example?x=1"));
    assert_false(config_central_url_ok("central.example"));
}

static void test_keys_and_defaults(void **state)
{
    struct central_config c;
    (void)state;

    memset(&c, 0, sizeof(c));
    assert_int_equal(key(&c, "url", "https://127.0.0.1:8443/"), 0);
    assert_string_equal(c.url, "https://127.0.0.1:8443"); /* the routes add their "/v1" */
    assert_int_equal(c.offline, CENTRAL_OFFLINE_STRICT);
    assert_int_equal(c.offline_grace_s, CENTRAL_GRACE_DEFAULT_SECONDS);
    assert_int_equal(key(&c, "offline", "grace"), 0);
    assert_int_equal(c.offline, CENTRAL_OFFLINE_GRACE);
    assert_int_equal(key(&c, "offline", "lenient"), -1);
    assert_int_equal(key(&c, "offline_grace", "30m"), 0);
    assert_int_equal(c.offline_grace_s, 1800);
    assert_int_equal(key(&c, "offline_grace", "30s"), -1); /* below 1m */
    assert_int_equal(key(&c, "offline_grace", "13h"), -1); /* above 12h */
    assert_int_equal(key(&c, "ca", "relative.crt"), -1);
    assert_int_equal(key(&c, "listen", "127.0.0.1:1"), -1);
}

static void test_a_section_needs_all_its_files(void **state)
{
    struct central_config c;
    char why[300];
    (void)state;

    memset(&c, 0, sizeof(c));
    assert_int_equal(config_central_check(&c, why, sizeof(why)), 0); /* absent: nothing */
    assert_int_equal(key(&c, "url", "https://127.0.0.1:8443"), 0);
    assert_int_equal(config_central_check(&c, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "certificate"));
    assert_int_equal(key(&c, "certificate", "/etc/lockbox/tls/host.crt"), 0);
    assert_int_equal(key(&c, "key", "/nonexistent/lockbox-test/host.key"), 0);
    assert_int_equal(config_central_check(&c, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "ca"));
    assert_int_equal(key(&c, "ca", "/etc/lockbox/tls/ca.crt"), 0);
    assert_int_equal(config_central_check(&c, why, sizeof(why)), -1); /* the key is missing */
    assert_non_null(strstr(why, "/nonexistent/lockbox-test/host.key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_plain_https_urls),
        cmocka_unit_test(test_keys_and_defaults),
        cmocka_unit_test(test_a_section_needs_all_its_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
