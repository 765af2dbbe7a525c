/* Unit tests of lockboxd/agent_feed.c: which feed answers an agent accepts (and which it
 * refuses whole), the transition a mirrored request takes, and the offline decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "agent_feed.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define NOW_MS 1764072000000LL /* 2025-11-25T12:00:00Z */

/* One request object; state and the other fields are the test's. */
static void request_json(char *out, size_t len, const char *id, const char *state, const char *host,
                         const char *tenant)
{
    snprintf(out, len,
             "{\"id\":\"%s\",\"state\":\"%s\",\"tenant\":\"%s\",\"host\":\"%s\",\"user\":"
             "\"eng\",\"reason\":\"INC-1\",\"requested_by\":\"lockbox:host/%s\","
             "\"created_at\":\"2025-11-25T11:00:00Z\",\"expires_at\":\"2025-11-25T13:00:00Z\"}",
             id, state, tenant, host, host);
}

static int parse(const char *text, struct feed_answer *answer, bool *mismatch, char *why,
                 size_t why_len)
{
    return feed_answer_parse(text, strlen(text), "db01", "contoso", answer, mismatch, why, why_len);
}

static void test_a_good_answer_is_accepted(void **state)
{
    char a[600], b[600], text[1400], why[300];
    struct feed_answer answer;
    bool mismatch;
    (void)state;

    request_json(a, sizeof(a), ID_A, "approved", "db01", "contoso");
    request_json(b, sizeof(b), ID_B, "revoked", "db01", "contoso");
    snprintf(text, sizeof(text),
             "{\"host\":\"db01\",\"tenant\":\"contoso\",\"version\":\"n-7\",\"requests\":[%s,%s]}",
             a, b);
    assert_int_equal(parse(text, &answer, &mismatch, why, sizeof(why)), 0);
    assert_string_equal(answer.version, "n-7");
    assert_int_equal(answer.n_requests, 2);
    assert_int_equal(answer.requests[0].state, REQUEST_APPROVED);
    assert_string_equal(answer.requests[1].id, ID_B);
    feed_answer_free(&answer);
}

static void test_bad_answers_are_refused_whole(void **state)
{
    char good[600], other_host[600], other_tenant[600], bad_id[600], text[1400], why[300];
    struct feed_answer answer;
    bool mismatch;
    (void)state;

    request_json(good, sizeof(good), ID_A, "approved", "db01", "contoso");
    request_json(other_host, sizeof(other_host), ID_B, "approved", "db02", "contoso");
    request_json(other_tenant, sizeof(other_tenant), ID_B, "approved", "db01", "fabrikam");
    request_json(bad_id, sizeof(bad_id), "ABC", "approved", "db01", "contoso");
    const char *const malformed[] = {
        "",
        "{\"host\":\"db01\",\"requests\":[",
        "[]",
        "{\"host\":\"db01\",\"tenant\":\"contoso\",\"requests\":[]}",   /* no version */
        "{\"host\":\"db01\",\"tenant\":\"contoso\",\"version\":\"v\"}", /* no requests */
        "{\"host\":\"db01\",\"tenant\":\"contoso\",\"version\":\"a b\",\"requests\":[]}",
        "{\"host\":\"db01\",\"tenant\":\"contoso\",\"version\":\"v\",\"requests\":[]} {}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_int_equal(parse(malformed[i], &answer, &mismatch, why, sizeof(why)), -1);
        assert_false(mismatch);
        assert_null(answer.requests);
    }
    /* One bad request spoils the answer: nothing of it is applied. */
    const char *const spoilers[] = {other_host, other_tenant, bad_id};
    for (size_t i = 0; i < 3; i++) {
        snprintf(text, sizeof(text),
                 "{\"host\":\"db01\",\"tenant\":\"contoso\",\"version\":\"v\",\"requests\":[%s,"
                 "%s]}",
                 good, spoilers[i]);
        assert_int_equal(parse(text, &answer, &mismatch, why, sizeof(why)), -1);
        assert_int_equal(mismatch, i < 2);
        assert_int_equal(answer.n_requests, 0);
    }
}

static void test_an_answer_for_another_host_or_tenant_is_a_mismatch(void **state)
{
    struct feed_answer answer;
    bool mismatch;
    char why[300];
    (void)state;

    assert_int_equal(parse("{\"host\":\"db02\",\"tenant\":\"contoso\",\"version\":\"v\","
                           "\"requests\":[]}",
                           &answer, &mismatch, why, sizeof(why)),
                     -1);
    assert_true(mismatch);
    assert_non_null(strstr(why, "db02"));
    assert_int_equal(parse("{\"host\":\"db01\",\"tenant\":\"fabrikam\",\"version\":\"v\","
                           "\"requests\":[]}",
                           &answer, &mismatch, why, sizeof(why)),
                     -1);
    assert_true(mismatch);
}

static void test_a_filed_answer_is_checked_as_the_feed(void **state)
{
    char text[600], why[300];
    struct lockbox_request req;
    (void)state;

    request_json(text, sizeof(text), ID_A, "pending", "db01", "contoso");
    assert_int_equal(filed_answer_parse(text, strlen(text), "db01", "contoso", &req, why,
                                        sizeof(why)),
                     0);
    assert_string_equal(req.id, ID_A);
    assert_int_equal(filed_answer_parse(text, strlen(text), "db02", "contoso", &req, why,
                                        sizeof(why)),
                     -1);
}

static void test_the_mirror_takes_the_transition_central_made(void **state)
{
    struct lockbox_request local = {.state = REQUEST_PENDING}, central = {.state = REQUEST_PENDING};
    (void)state;

    assert_int_equal(mirror_choose(NULL, &central), MIRROR_INSERT);
    assert_int_equal(mirror_choose(&local, &central), MIRROR_NOTHING);
    central.state = REQUEST_APPROVED;
    assert_int_equal(mirror_choose(&local, &central), MIRROR_TRANSITION);
    assert_string_equal(mirror_event(REQUEST_PENDING, REQUEST_APPROVED), "request.approved");
    assert_string_equal(mirror_event(REQUEST_PENDING, REQUEST_DENIED), "request.denied");
    assert_string_equal(mirror_event(REQUEST_PENDING, REQUEST_EXPIRED), "request.expired");
    assert_string_equal(mirror_event(REQUEST_APPROVED, REQUEST_REVOKED), "access.revoked");
    assert_string_equal(mirror_event(REQUEST_APPROVED, REQUEST_EXPIRED), "access.expired");
    /* Final states stay final: a late or replayed answer cannot bring access back. */
    local.state = REQUEST_REVOKED;
    assert_int_equal(mirror_choose(&local, &central), MIRROR_NOTHING);
    local.state = REQUEST_EXPIRED;
    assert_int_equal(mirror_choose(&local, &central), MIRROR_NOTHING);
    local.state = REQUEST_APPROVED;
    central.state = REQUEST_PENDING;
    assert_int_equal(mirror_choose(&local, &central), MIRROR_NOTHING);
    assert_null(mirror_event(REQUEST_DENIED, REQUEST_APPROVED));
}

static void test_offline_strict_never_admits_grace_within_its_time(void **state)
{
    const int64_t hour_s = 3600;
    (void)state;

    assert_true(offline_may_admit(true, CENTRAL_OFFLINE_STRICT, hour_s, 0, NOW_MS));
    assert_false(offline_may_admit(false, CENTRAL_OFFLINE_STRICT, hour_s, NOW_MS, NOW_MS));
    assert_true(offline_may_admit(false, CENTRAL_OFFLINE_GRACE, hour_s, NOW_MS - 1000, NOW_MS));
    assert_false(
        offline_may_admit(false, CENTRAL_OFFLINE_GRACE, hour_s, NOW_MS - hour_s * 1000, NOW_MS));
    assert_false(offline_may_admit(false, CENTRAL_OFFLINE_GRACE, hour_s, 0, NOW_MS)); /* never */
    /* A sync "in the future" (the clock set back) does not stretch the grace. */
    assert_false(offline_may_admit(false, CENTRAL_OFFLINE_GRACE, hour_s, NOW_MS + 1000, NOW_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_good_answer_is_accepted),
        cmocka_unit_test(test_bad_answers_are_refused_whole),
        cmocka_unit_test(test_an_answer_for_another_host_or_tenant_is_a_mismatch),
        cmocka_unit_test(test_a_filed_answer_is_checked_as_the_feed),
        cmocka_unit_test(test_the_mirror_takes_the_transition_central_made),
        cmocka_unit_test(test_offline_strict_never_admits_grace_within_its_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
