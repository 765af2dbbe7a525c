/* Unit tests of lockboxd/routes.c's table: which route a method and path reach, what the path's
 * id and action are, and that every route's declared permissions and body hold together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "body.h"
#include "routes.h"
#include "routes_internal.h"

#define ID "0123456789abcdef0123456789abcdef"

static const struct route *found(const char *method, const char *url, struct route_match *m)
{
    assert_int_equal(routes_find(method, url, m), ROUTE_FOUND);
    assert_non_null(m->route);
    assert_string_equal(m->route->method, method);
    assert_non_null(m->route->handler);
    return m->route;
}

static void test_plain_paths(void **state)
{
    struct route_match m;
    (void)state;

    const struct route *r = found("GET", "/v1/health", &m);
    assert_string_equal(r->path, "/v1/health");
    assert_int_equal(r->caller, ROUTE_HOSTS_TOO);
    assert_int_equal(r->body, 0);
    assert_string_equal(m.id, "");
    assert_null(m.action);

    r = found("POST", "/v1/requests", &m);
    /* People, and at role = central host certificates filing for themselves. */
    assert_int_equal(r->caller, ROUTE_HOSTS_AT_CENTRAL);
    assert_int_equal(r->required, BODY_REASON);
    assert_true(r->root_fields & BODY_REQUESTER);
    r = found("GET", "/v1/requests", &m);
    assert_int_equal(r->body, 0);              /* a list reads its query, never a body */
    assert_int_equal(r->caller, ROUTE_ANYONE); /* hosts never list */
    r = found("GET", "/v1/hosts/self/requests", &m);
    assert_int_equal(r->caller, ROUTE_HOSTS_ONLY);
    assert_int_equal(r->body, 0);
}

/* Host certificates: /v1/health anywhere; filing, reading and their feed at central only;
 * nothing else anywhere, each refusal saying what a host may do. */
static void test_hosts_admitted(void **state)
{
    struct lockboxd_config config;
    struct route_match m;
    const char *why = NULL;
    (void)state;

    memset(&config, 0, sizeof(config));
    const struct route *health = found("GET", "/v1/health", &m);
    const struct route *file = found("POST", "/v1/requests", &m);
    const struct route *show = found("GET", "/v1/requests/" ID, &m);
    const struct route *feed = found("GET", "/v1/hosts/self/requests", &m);
    const struct route *approve = found("POST", "/v1/requests/" ID "/approve", &m);
    const struct route *list = found("GET", "/v1/requests", &m);

    assert_true(route_admits_host(health, &config, &why));
    assert_false(route_admits_host(file, &config, &why));
    assert_non_null(strstr(why, "not a central"));
    assert_false(route_admits_host(feed, &config, &why));
    config.role = LOCKBOXD_ROLE_CENTRAL;
    assert_true(route_admits_host(file, &config, &why));
    assert_true(route_admits_host(show, &config, &why));
    assert_true(route_admits_host(feed, &config, &why));
    why = NULL;
    assert_false(route_admits_host(approve, &config, &why));
    assert_string_equal(why, "host certificates may file for their own host, read its "
                             "requests and follow its feed");
    assert_false(route_admits_host(list, &config, &why));
    config.role = LOCKBOXD_ROLE_AGENT;
    assert_false(route_admits_host(show, &config, &why));
}

static void test_id_and_action(void **state)
{
    struct route_match m;
    (void)state;

    const struct route *r = found("GET", "/v1/requests/" ID, &m);
    assert_string_equal(r->path, "/v1/requests/{id}");
    assert_string_equal(m.id, ID);
    assert_null(m.action);

    r = found("POST", "/v1/requests/" ID "/approve", &m);
    assert_string_equal(m.id, ID);
    assert_string_equal(m.action, "approve");
    assert_true(r->body & BODY_FOR); /* only an approval takes a duration */
    r = found("POST", "/v1/requests/" ID "/deny", &m);
    assert_string_equal(m.action, "deny");
    assert_false(r->body & BODY_FOR);
    r = found("POST", "/v1/requests/" ID "/revoke", &m);
    assert_false(r->body & BODY_FOR);
    found("GET", "/v1/requests/" ID "/wait", &m);
    assert_string_equal(m.action, "wait");
}

static void test_root_only_routes(void **state)
{
    struct route_match m;
    (void)state;

    const struct route *r = found("POST", "/v1/access/check", &m);
    assert_int_equal(r->caller, ROUTE_ROOT);
    assert_int_equal(r->required, BODY_USER);
    assert_string_equal(r->action, "access.check");
    r = found("POST", "/v1/sessions", &m);
    assert_int_equal(r->caller, ROUTE_ROOT);
    assert_true(r->body & BODY_TTY);
    r = found("POST", "/v1/sessions/" ID "/close", &m);
    assert_int_equal(r->caller, ROUTE_ROOT);
    assert_string_equal(m.id, ID);
}

static void test_refusals(void **state)
{
    struct route_match m;
    (void)state;

    assert_int_equal(routes_find("GET", "/v1/nothing", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("GET", "/v1/health/", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("GET", "/v1/requests/" ID "/extra/more", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("POST", "/v1/requests//approve", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("GET", "", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("DELETE", "/v1/health", &m), ROUTE_WRONG_METHOD);
    assert_int_equal(routes_find("GET", "/v1/requests/" ID "/approve", &m), ROUTE_WRONG_METHOD);
    assert_int_equal(routes_find("get", "/v1/health", &m), ROUTE_WRONG_METHOD);
    /* Ids are exactly 32 lowercase hex characters: anything else is no id at all. */
    assert_int_equal(routes_find("GET", "/v1/requests/0123456789ABCDEF0123456789abcdef", &m),
                     ROUTE_BAD_ID);
    assert_int_equal(routes_find("GET", "/v1/requests/0123", &m), ROUTE_BAD_ID);
    assert_int_equal(routes_find("POST", "/v1/requests/../../etc/approve", &m), ROUTE_NO_PATH);
    assert_int_equal(routes_find("POST", "/v1/sessions/zz/close", &m), ROUTE_BAD_ID);
    assert_null(m.route);
    assert_string_equal(m.id, "");
}

/* The table's declarations must be coherent: what is required or root-only is also taken,
 * every refusal has its message, every route a name for its refusals' log line, and no two
 * routes share a method and path. */
static void test_table_is_consistent(void **state)
{
    size_t n;
    const struct route *all = routes_all(&n);
    (void)state;

    assert_true(n >= 12);
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &all[i];
        assert_int_equal(r->required & ~r->body, 0);
        assert_int_equal(r->root_fields & ~r->body, 0);
        if (r->caller == ROUTE_ROOT || r->caller == ROUTE_HOSTS_ONLY)
            assert_non_null(r->refusal);
        if (r->root_fields)
            assert_non_null(r->root_fields_refusal);
        assert_non_null(r->action); /* what its refusals are logged as */
        /* What describes a login is root's to say wherever a route lets others call: the
         * service no longer checks it (routes.c's table does, for every door's sake). */
        if (r->caller != ROUTE_ROOT)
            assert_int_equal(r->body & (BODY_SERVICE | BODY_RHOST | BODY_REQUESTER) &
                                 ~r->root_fields,
                             0);
        assert_true(strncmp(r->path, "/v1/", 4) == 0);
        for (size_t j = i + 1; j < n; j++)
            assert_false(strcmp(r->method, all[j].method) == 0 &&
                         strcmp(r->path, all[j].path) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths),      cmocka_unit_test(test_id_and_action),
        cmocka_unit_test(test_root_only_routes), cmocka_unit_test(test_hosts_admitted),
        cmocka_unit_test(test_refusals),         cmocka_unit_test(test_table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
