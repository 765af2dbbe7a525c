/* Unit tests of lockboxd/config_remote.c: [remote] listen addresses and required keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config_remote.h"

static void test_listen_addresses(void **unused)
{
    char host[256], port[8];
    (void)unused;

    assert_int_equal(config_remote_parse_listen("127.0.0.1:8443", host, sizeof(host), port,
                                                sizeof(port)),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "8443");
    assert_int_equal(config_remote_parse_listen("[::1]:443", host, sizeof(host), port,
                                                sizeof(port)),
                     0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "443");
    assert_int_equal(config_remote_parse_listen("lockbox.example:8443", host, sizeof(host), port,
                                                sizeof(port)),
                     0);

    const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":8443",   "::1:8443",
                               "[::1]8443", "[::1]:0",    "h:65536", "h:84a3",
                               "h:-1",      "[]:8443",    "a b:1",   "h:+80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(config_remote_parse_listen(bad[i], host, sizeof(host), port, sizeof(port)),
                         -1);
}

static void test_required_keys(void **unused)
{
    struct remote_config remote;
    char why[200];
    (void)unused;

    memset(&remote, 0, sizeof(remote));
    assert_int_equal(config_remote_check(&remote, why, sizeof(why)), 0); /* absent: fine */
    assert_int_equal(config_remote_key(&remote, "listen", "127.0.0.1:8443", why, sizeof(why)), 0);
    assert_int_equal(config_remote_check(&remote, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "[remote] needs certificate"));
    assert_int_equal(config_remote_key(&remote, "certificate", "/etc/s.crt", why, sizeof(why)), 0);
    assert_int_equal(config_remote_key(&remote, "key", "/etc/s.key", why, sizeof(why)), 0);
    assert_int_equal(config_remote_check(&remote, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "needs client_ca"));
    assert_int_equal(config_remote_key(&remote, "client_ca", "/etc/ca.crt", why, sizeof(why)), 0);
    assert_int_equal(config_remote_check(&remote, why, sizeof(why)), 0);

    assert_int_equal(config_remote_key(&remote, "crl", "relative.crl", why, sizeof(why)), -1);
    assert_int_equal(config_remote_key(&remote, "listen", "8443", why, sizeof(why)), -1);
    assert_int_equal(config_remote_key(&remote, "verify", "none", why, sizeof(why)), -1);
    assert_non_null(strstr(why, "unknown key 'verify' in [remote]"));
}

static void test_max_connections(void **unused)
{
    struct remote_config remote;
    char why[256];
    (void)unused;

    memset(&remote, 0, sizeof(remote));
    assert_int_equal(config_remote_key(&remote, "max_connections", "20000", why, sizeof(why)), 0);
    assert_int_equal(remote.max_connections, 20000);
    const char *const bad[] = {"", "15", "262145", "-5", "12x", " 100", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (config_remote_key(&remote, "max_connections", bad[i], why, sizeof(why)) != -1)
            fail_msg("max_connections '%s' accepted", bad[i]);
        assert_non_null(strstr(why, "from 16 to 262144"));
    }
    assert_int_equal(remote.max_connections, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_max_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
