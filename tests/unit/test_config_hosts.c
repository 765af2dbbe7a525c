/* Unit tests of lockboxd/config_hosts.c: [daemon] role and a tenant's hosts patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config_hosts.h"

static void test_roles(void **state)
{
    enum lockboxd_role role = LOCKBOXD_ROLE_AGENT;
    (void)state;

    assert_int_equal(config_role_parse("standalone", &role), 0);
    assert_int_equal(role, LOCKBOXD_ROLE_STANDALONE);
    assert_int_equal(config_role_parse("central", &role), 0);
    assert_int_equal(role, LOCKBOXD_ROLE_CENTRAL);
    assert_int_equal(config_role_parse("agent", &role), 0);
    assert_int_equal(role, LOCKBOXD_ROLE_AGENT);
    assert_int_equal(config_role_parse("Central", &role), -1);
    assert_int_equal(config_role_parse("", &role), -1);
    assert_string_equal(config_role_name(LOCKBOXD_ROLE_CENTRAL), "central");
}

static void test_patterns_match(void **state)
{
    struct host_patterns p = {0};
    char list[] = "db01, db02 ,web-*,cache-[ab]?";
    char err[200];
    (void)state;

    assert_int_equal(host_patterns_add(&p, list, err, sizeof(err)), 0);
    assert_int_equal(p.count, 4);
    assert_true(host_patterns_match(&p, "db01"));
    assert_true(host_patterns_match(&p, "db02"));
    assert_false(host_patterns_match(&p, "db03"));
    assert_false(host_patterns_match(&p, "DB01")); /* exact, as names are compared everywhere */
    assert_false(host_patterns_match(&p, "db011"));
    assert_true(host_patterns_match(&p, "web-1"));
    assert_true(host_patterns_match(&p, "web-eu.example")); /* no FNM flags: '*' spans dots */
    assert_false(host_patterns_match(&p, "web"));
    assert_true(host_patterns_match(&p, "cache-a1"));
    assert_false(host_patterns_match(&p, "cache-c1"));
    host_patterns_free(&p);
    assert_int_equal(p.count, 0);
    assert_false(host_patterns_match(&p, "db01")); /* no hosts: nothing belongs */
}

static void test_patterns_refused(void **state)
{
    static const char *const bad[] = {"db 01", "db01/x", "-db", "a\\*", "db01,", "", "db;01"};
    char err[200], list[300];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct host_patterns p = {0};
        snprintf(list, sizeof(list), "%s", bad[i]);
        int rc = host_patterns_add(&p, list, err, sizeof(err));
        /* "db01," is one good entry and nothing after it: strtok skips empty items. */
        if (strcmp(bad[i], "db01,") == 0 || bad[i][0] == '\0') {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "hosts:"));
        }
        host_patterns_free(&p);
    }
}

static void test_patterns_at_most_64(void **state)
{
    struct host_patterns p = {0};
    char list[64 * 8 + 16] = "", err[200];
    (void)state;

    for (int i = 0; i < LOCKBOX_HOSTS_MAX; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "h%d,", i);
    assert_int_equal(host_patterns_add(&p, list, err, sizeof(err)), 0);
    char one_more[] = "extra";
    assert_int_equal(host_patterns_add(&p, one_more, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 64"));
    host_patterns_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_patterns_match),
        cmocka_unit_test(test_patterns_refused),
        cmocka_unit_test(test_patterns_at_most_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
