/* Unit tests of lib/request_json.c: a request to JSON and back, nulls, and refusing wrong
 * types and over-long strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request_json.h"

#define T0 1764072000000LL /* 2025-11-25T12:00:00Z */
#define HOUR_MS (3600LL * 1000)

static const struct {
    const char *key;
    size_t max;
} string_fields[] = {
    {"id", LOCKBOX_ID_HEX_LEN},      {"tenant", LOCKBOX_NAME_MAX},
    {"host", LOCKBOX_HOST_MAX},      {"user", LOCKBOX_NAME_MAX},
    {"reason", LOCKBOX_TEXT_MAX},    {"service", LOCKBOX_NAME_MAX},
    {"rhost", LOCKBOX_RHOST_MAX},    {"requested_by", LOCKBOX_NAME_MAX},
    {"requester", LOCKBOX_NAME_MAX}, {"decided_by", LOCKBOX_NAME_MAX},
    {"comment", LOCKBOX_TEXT_MAX},
};
static const char *const time_fields[] = {"created_at", "decided_at", "expires_at"};
#define N_STRING_FIELDS (sizeof(string_fields) / sizeof(string_fields[0]))
#define N_TIME_FIELDS (sizeof(time_fields) / sizeof(time_fields[0]))

static void make_approved(struct lockbox_request *req)
{
    memset(req, 0, sizeof(*req));
    snprintf(req->id, sizeof(req->id), "%s", "0123456789abcdef0123456789abcdef");
    req->state = REQUEST_APPROVED;
    snprintf(req->tenant, sizeof(req->tenant), "%s", "contoso");
    snprintf(req->host, sizeof(req->host), "%s", "db01.example.com");
    snprintf(req->user, sizeof(req->user), "%s", "eng1");
    snprintf(req->requested_by, sizeof(req->requested_by), "%s", "root");
    snprintf(req->requester, sizeof(req->requester), "%s", "alice");
    snprintf(req->reason, sizeof(req->reason), "%s", "INC-4711 \"caf\xc3\xa9\" \\ restore");
    snprintf(req->service, sizeof(req->service), "%s", "sshd");
    snprintf(req->rhost, sizeof(req->rhost), "%s", "2001:db8::9");
    snprintf(req->decided_by, sizeof(req->decided_by), "%s", "alice");
    snprintf(req->comment, sizeof(req->comment), "%s", "go ahead");
    req->created_at = T0;
    req->decided_at = T0 + 60 * 1000;
    req->expires_at = T0 + 60 * 1000 + 2 * HOUR_MS;
}

/* To JSON text and back through the parser, as it travels over the socket. */
static json_object *through_text(json_object *obj)
{
    char *text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
    json_object_put(obj);
    json_object *parsed = json_tokener_parse(text);
    free(text);
    assert_non_null(parsed);
    return parsed;
}

static void assert_same_contract_fields(const struct lockbox_request *a,
                                        const struct lockbox_request *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->tenant, b->tenant);
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->user, b->user);
    assert_string_equal(a->requested_by, b->requested_by);
    assert_string_equal(a->requester, b->requester);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->service, b->service);
    assert_string_equal(a->rhost, b->rhost);
    assert_string_equal(a->decided_by, b->decided_by);
    assert_string_equal(a->comment, b->comment);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->decided_at, b->decided_at);
    assert_int_equal(a->expires_at, b->expires_at);
}

static void test_round_trip(void **unused)
{
    struct lockbox_request req, back;
    char err[128] = "";

    (void)unused;
    make_approved(&req);
    for (int s = REQUEST_PENDING; s <= REQUEST_REVOKED; s++) {
        req.state = (enum request_state)s;
        json_object *obj = through_text(request_to_json(&req));
        memset(&back, 0xa5, sizeof(back));
        assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
        assert_same_contract_fields(&req, &back);
        /* What is not part of the contract is not invented: no uid, and never root's. */
        assert_int_equal(back.requested_by_uid, (uid_t)-1);
        assert_int_equal(back.requester_uid, (uid_t)-1);
        assert_int_equal(back.granted_ms, 0);
        assert_string_equal(back.approved_boot_id, "");
        json_object_put(obj);
    }
}

static void test_json_shape(void **unused)
{
    static const char *const keys[] = {"id",           "state",     "tenant",     "host",
                                       "user",         "reason",    "service",    "rhost",
                                       "requested_by", "requester", "created_at", "decided_at",
                                       "decided_by",   "comment",   "expires_at", "grant",
                                       "signers"};
    struct lockbox_request req;
    json_object *value;

    (void)unused;
    make_approved(&req);
    json_object *obj = request_to_json(&req);
    assert_int_equal(json_object_object_length(obj), sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_true(json_object_object_get_ex(obj, keys[i], &value));
    assert_true(json_object_object_get_ex(obj, "state", &value));
    assert_string_equal(json_object_get_string(value), "approved");
    assert_true(json_object_object_get_ex(obj, "created_at", &value));
    assert_string_equal(json_object_get_string(value), "2025-11-25T12:00:00Z");
    assert_true(json_object_object_get_ex(obj, "expires_at", &value));
    assert_string_equal(json_object_get_string(value), "2025-11-25T14:01:00Z");
    json_object_put(obj);
}

/* signers: the names on the grant's signature lines, in order; the grant goes back and forth. */
static void test_grant_and_signers(void **unused)
{
    struct lockbox_request req, back;
    json_object *value;
    char err[128];

    (void)unused;
    make_approved(&req);
    snprintf(req.grant, sizeof(req.grant),
             "lockbox-grant v1\ntenant t\n\n\xe2\x80\x94 alice 0011aabb c2ln\n"
             "\xe2\x80\x94 bob 2233ccdd c2ln\n");
    json_object *obj = through_text(request_to_json(&req));
    assert_true(json_object_object_get_ex(obj, "signers", &value));
    assert_int_equal(json_object_array_length(value), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(value, 0)), "alice");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(value, 1)), "bob");
    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
    assert_string_equal(back.grant, req.grant);
    json_object_put(obj);

    req.grant[0] = '\0';
    obj = request_to_json(&req);
    assert_true(json_object_object_get_ex(obj, "grant", &value));
    assert_null(value);
    assert_true(json_object_object_get_ex(obj, "signers", &value));
    assert_int_equal(json_object_array_length(value), 0);
    json_object_put(obj);
}

static void test_null_fields(void **unused)
{
    struct lockbox_request req, back;
    json_object *value;
    char err[128];

    (void)unused;
    make_approved(&req);
    req.state = REQUEST_PENDING;
    req.decided_by[0] = '\0';
    req.comment[0] = '\0';
    req.service[0] = '\0';
    req.rhost[0] = '\0';
    req.decided_at = 0;
    json_object *obj = request_to_json(&req);
    const char *nulls[] = {"decided_by", "comment", "service", "rhost", "decided_at"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        assert_true(json_object_object_get_ex(obj, nulls[i], &value));
        assert_null(value);
    }
    obj = through_text(obj);
    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
    assert_same_contract_fields(&req, &back);
    json_object_put(obj);

    /* Every optional field null, or missing altogether. */
    obj = json_tokener_parse("{\"id\":\"abc\",\"state\":\"denied\",\"tenant\":null,\"host\":null,"
                             "\"user\":null,\"reason\":null,\"created_at\":null,"
                             "\"expires_at\":null}");
    assert_non_null(obj);
    memset(&back, 0xa5, sizeof(back));
    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
    assert_string_equal(back.id, "abc");
    assert_int_equal(back.state, REQUEST_DENIED);
    assert_string_equal(back.tenant, "");
    assert_string_equal(back.comment, "");
    assert_int_equal(back.created_at, 0);
    assert_int_equal(back.expires_at, 0);
    json_object_put(obj);
}

static void test_times_with_milliseconds(void **unused)
{
    struct lockbox_request back;
    char err[128];

    (void)unused;
    json_object *obj = json_tokener_parse(
        "{\"id\":\"abc\",\"state\":\"approved\",\"created_at\":\"2025-11-25T12:00:00.250Z\"}");
    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
    assert_int_equal(back.created_at, T0 + 250);
    json_object_put(obj);
}

static json_object *valid_object(void)
{
    struct lockbox_request req;

    make_approved(&req);
    return request_to_json(&req);
}

static void expect_refused(json_object *obj, const char *named)
{
    struct lockbox_request back;
    char err[128] = "";

    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), -1);
    if (named != NULL && strstr(err, named) == NULL)
        fail_msg("error \"%s\" does not name %s", err, named);
    assert_true(strlen(err) > 0);
}

static void test_wrong_types_refused(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < N_STRING_FIELDS + N_TIME_FIELDS + 1; i++) {
        const char *key = i < N_STRING_FIELDS                   ? string_fields[i].key
                          : i < N_STRING_FIELDS + N_TIME_FIELDS ? time_fields[i - N_STRING_FIELDS]
                                                                : "state";
        json_object *wrong[] = {json_object_new_int(5), json_object_new_boolean(1),
                                json_object_new_double(1.5), json_object_new_array(),
                                json_object_new_object()};
        for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
            json_object *obj = valid_object();
            json_object_object_add(obj, key, wrong[w]);
            expect_refused(obj, key);
            json_object_put(obj);
        }
    }
    /* Times must be RFC 3339 strings. */
    const char *bad_times[] = {"1764072000", "yesterday", "2025-11-25", "2025-02-30T00:00:00Z", ""};
    for (size_t t = 0; t < N_TIME_FIELDS; t++) {
        for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
            json_object *obj = valid_object();
            json_object_object_add(obj, time_fields[t], json_object_new_string(bad_times[i]));
            expect_refused(obj, time_fields[t]);
            json_object_put(obj);
        }
    }
    /* Not an object at all. */
    json_object *not_objects[] = {json_object_new_array(), json_object_new_string("{}"),
                                  json_object_new_int(1)};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        expect_refused(not_objects[i], NULL);
        json_object_put(not_objects[i]);
    }
    expect_refused(NULL, NULL);
}

static void test_id_and_state_required(void **unused)
{
    const char *states[] = {"", "unknown", "Approved", "all", "approved ", "revokedrevokedrevoked"};
    json_object *obj;

    (void)unused;
    obj = valid_object();
    json_object_object_del(obj, "id");
    expect_refused(obj, "id");
    json_object_put(obj);
    obj = valid_object();
    json_object_object_add(obj, "id", json_object_new_string(""));
    expect_refused(obj, "id");
    json_object_put(obj);
    obj = valid_object();
    json_object_object_add(obj, "id", NULL);
    expect_refused(obj, "id");
    json_object_put(obj);
    obj = valid_object();
    json_object_object_del(obj, "state");
    expect_refused(obj, "state");
    json_object_put(obj);
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        obj = valid_object();
        json_object_object_add(obj, "state", json_object_new_string(states[i]));
        expect_refused(obj, "state");
        json_object_put(obj);
    }
}

static void test_over_long_strings_refused(void **unused)
{
    char *text = malloc(LOCKBOX_TEXT_MAX + 2);
    struct lockbox_request back;
    char err[128];
    json_object *value;

    (void)unused;
    assert_non_null(text);
    for (size_t i = 0; i < N_STRING_FIELDS; i++) {
        size_t max = string_fields[i].max;
        memset(text, 'a', max + 1);
        text[max] = '\0';
        json_object *obj = valid_object();
        json_object_object_add(obj, string_fields[i].key, json_object_new_string(text));
        obj = through_text(obj);
        assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), 0);
        assert_true(json_object_object_get_ex(obj, string_fields[i].key, &value));
        assert_int_equal(json_object_get_string_len(value), max);
        json_object_put(obj);

        text[max] = 'a';
        text[max + 1] = '\0';
        obj = valid_object();
        json_object_object_add(obj, string_fields[i].key, json_object_new_string(text));
        expect_refused(obj, string_fields[i].key);
        json_object_put(obj);
    }
    free(text);
}

static void test_embedded_nul_refused(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < N_STRING_FIELDS; i++) {
        json_object *obj = valid_object();
        json_object_object_add(obj, string_fields[i].key, json_object_new_string_len("eng1\0x", 6));
        expect_refused(obj, string_fields[i].key);
        json_object_put(obj);
    }
    json_object *obj = json_tokener_parse("{\"id\":\"abc\",\"state\":\"approved\","
                                          "\"user\":\"eng1\\u0000root\"}");
    assert_non_null(obj);
    expect_refused(obj, "user");
    json_object_put(obj);
}

static void test_small_error_buffer(void **unused)
{
    struct lockbox_request back;
    char err[8];

    (void)unused;
    json_object *obj = valid_object();
    json_object_object_add(obj, "reason", json_object_new_int(1));
    memset(err, 'X', sizeof(err));
    assert_int_equal(request_from_json(obj, &back, err, sizeof(err)), -1);
    assert_int_equal(strnlen(err, sizeof(err)), sizeof(err) - 1);
    assert_int_equal(request_from_json(obj, &back, NULL, 0), -1);
    json_object_put(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_null_fields),
        cmocka_unit_test(test_grant_and_signers),
        cmocka_unit_test(test_times_with_milliseconds),
        cmocka_unit_test(test_wrong_types_refused),
        cmocka_unit_test(test_id_and_state_required),
        cmocka_unit_test(test_over_long_strings_refused),
        cmocka_unit_test(test_embedded_nul_refused),
        cmocka_unit_test(test_small_error_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
