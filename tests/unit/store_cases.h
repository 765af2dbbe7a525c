/* Test cases for any backend of lockboxd/store.h, written against the interface only. A
 * backend's test (test_store_sqlite.c) defines store_case_open() and store_case_close() (a
 * fresh, empty database per case), includes this file and runs STORE_CASES. */
#ifndef LOCKBOX_TESTS_STORE_CASES_H
#define LOCKBOX_TESTS_STORE_CASES_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static struct store *store_case_open(void);
static void store_case_close(struct store *store);

#define HOUR_MS 3600000LL
#define T0 1700000000000LL /* wall ms of the cases' "now" */

static const struct lockbox_clock case_now = {T0, 50000, "00000000-0000-0000-0000-000000000001"};

static int case_setup(void **state)
{
    *state = store_case_open();
    return *state == NULL ? -1 : 0;
}

static int case_teardown(void **state)
{
    store_case_close(*state);
    return 0;
}

/* A pending request filed at created_at (ids sort like n: list order tests use that). */
static struct lockbox_request case_request(int n, const char *user, int64_t created_at)
{
    struct lockbox_request req;

    memset(&req, 0, sizeof(req));
    snprintf(req.id, sizeof(req.id), "%02x%030x", n, 0);
    req.state = REQUEST_PENDING;
    snprintf(req.tenant, sizeof(req.tenant), "contoso");
    snprintf(req.host, sizeof(req.host), "db01");
    snprintf(req.user, sizeof(req.user), "%s", user);
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", user);
    req.requested_by_uid = 1000;
    req.requester_uid = (uid_t)-1;
    snprintf(req.reason, sizeof(req.reason), "INC-%d", n);
    snprintf(req.service, sizeof(req.service), "sshd");
    snprintf(req.rhost, sizeof(req.rhost), "192.0.2.7");
    req.created_at = created_at;
    req.expires_at = created_at + 12 * HOUR_MS;
    return req;
}

static void approve(struct lockbox_request *req, int64_t expires_at)
{
    req->state = REQUEST_APPROVED;
    snprintf(req->decided_by, sizeof(req->decided_by), "alice");
    req->decided_at = T0 - 1000;
    req->expires_at = expires_at;
}

/* Inserts req, or moves the stored row from whatever state it is in now to req's. */
static void put(struct store *store, const struct lockbox_request *req)
{
    struct lockbox_request now;
    int from = store_get_request(store, req->id, &now) == LOCKBOX_OK ? (int)now.state
                                                                     : STORE_NEW_REQUEST;
    assert_int_equal(store_put_request(store, req, from), LOCKBOX_OK);
}

/* --- requests --- */

static void test_request_put_get_and_update(void **state)
{
    struct store *store = *state;
    struct lockbox_request req = case_request(1, "eng1", T0), got;

    snprintf(req.requester, sizeof(req.requester), "eng1");
    req.requester_uid = 1000;
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_NOT_FOUND);
    put(store, &req);
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_OK);
    assert_memory_equal(&got, &req, sizeof(req));

    /* A second put is the decision: it changes the decision's fields, never who asked why. */
    struct lockbox_request decided = req;
    approve(&decided, T0 + HOUR_MS);
    decided.approved_boot_ms = 49000;
    decided.granted_ms = HOUR_MS;
    snprintf(decided.approved_boot_id, sizeof(decided.approved_boot_id), "%s", case_now.boot_id);
    snprintf(decided.comment, sizeof(decided.comment), "ok");
    snprintf(decided.reason, sizeof(decided.reason), "rewritten");
    put(store, &decided);
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_OK);
    assert_int_equal(got.state, REQUEST_APPROVED);
    assert_string_equal(got.decided_by, "alice");
    assert_string_equal(got.comment, "ok");
    assert_int_equal(got.expires_at, T0 + HOUR_MS);
    assert_int_equal(got.granted_ms, HOUR_MS);
    assert_string_equal(got.approved_boot_id, case_now.boot_id);
    assert_string_equal(got.reason, "INC-1");
}

/* Two daemons decide the same pending request at once: the second change finds the row no
 * longer pending and writes nothing. An insert of an id that exists writes nothing either. */
static void test_transition_applies_only_from_the_state_it_was_read_in(void **state)
{
    struct store *store = *state;
    struct lockbox_request req = case_request(1, "eng1", T0), got;

    assert_int_equal(store_put_request(store, &req, STORE_NEW_REQUEST), LOCKBOX_OK);
    assert_int_equal(store_put_request(store, &req, STORE_NEW_REQUEST), LOCKBOX_NOT_FOUND);
    struct lockbox_request approved = req, denied = req;
    approve(&approved, T0 + HOUR_MS);
    denied.state = REQUEST_DENIED;
    snprintf(denied.decided_by, sizeof(denied.decided_by), "bob");
    assert_int_equal(store_put_request(store, &approved, REQUEST_PENDING), LOCKBOX_OK);
    assert_int_equal(store_put_request(store, &denied, REQUEST_PENDING), LOCKBOX_NOT_FOUND);
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_OK);
    assert_int_equal(got.state, REQUEST_APPROVED);
    assert_string_equal(got.decided_by, "alice");
}

static void test_request_unknown_requester_round_trips(void **state)
{
    struct store *store = *state;
    struct lockbox_request req = case_request(2, "eng1", T0), got;

    put(store, &req);
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_OK);
    assert_string_equal(got.requester, "");
    assert_int_equal(got.requester_uid, (uid_t)-1);
}

static void test_find_pending_matches_requester(void **state)
{
    struct store *store = *state;
    struct lockbox_request nobody = case_request(1, "eng1", T0);
    struct lockbox_request bob = case_request(2, "eng1", T0 + 1);
    struct lockbox_request got;

    snprintf(bob.requester, sizeof(bob.requester), "bob");
    bob.requester_uid = 1001;
    put(store, &nobody);
    put(store, &bob);
    assert_int_equal(store_find_pending(store, "eng1", "contoso", "db01", NULL, &got), LOCKBOX_OK);
    assert_string_equal(got.id, nobody.id);
    assert_int_equal(store_find_pending(store, "eng1", "contoso", "db01", "bob", &got), LOCKBOX_OK);
    assert_string_equal(got.id, bob.id);
    assert_int_equal(store_find_pending(store, "eng1", "contoso", "db01", "carol", &got),
                     LOCKBOX_NOT_FOUND);
    assert_int_equal(store_find_pending(store, "eng1", "contoso", "db02", NULL, &got),
                     LOCKBOX_NOT_FOUND);

    /* bob asked, by name or by uid; nobody asked the other one. */
    assert_int_equal(store_asked_pending(store, "eng1", "contoso", "db01", "bob", 4242),
                     LOCKBOX_OK);
    assert_int_equal(store_asked_pending(store, "eng1", "contoso", "db01", "b2", 1001), LOCKBOX_OK);
    assert_int_equal(store_asked_pending(store, "eng1", "contoso", "db01", "carol", 1002),
                     LOCKBOX_NOT_FOUND);

    int count = -1;
    assert_int_equal(store_count_pending_for_user(store, "eng1", &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_count_pending_for_user(store, "eng2", &count), 0);
    assert_int_equal(count, 0);
}

static void test_find_latest_of_any_state(void **state)
{
    struct store *store = *state;
    struct lockbox_request old = case_request(1, "eng1", T0), newer = case_request(2, "eng1", T0);
    struct lockbox_request got;

    assert_int_equal(store_find_latest(store, "eng1", "contoso", "db01", &got), LOCKBOX_NOT_FOUND);
    put(store, &old);
    newer.state = REQUEST_DENIED;
    put(store, &newer);
    assert_int_equal(store_find_latest(store, "eng1", "contoso", "db01", &got), LOCKBOX_OK);
    assert_string_equal(got.id, newer.id);
}

static void test_approvals_current_and_longest(void **state)
{
    struct store *store = *state;
    struct lockbox_request lapsed = case_request(1, "eng1", T0 - 3 * HOUR_MS);
    struct lockbox_request longest = case_request(2, "eng1", T0 - 2 * HOUR_MS);
    struct lockbox_request newest = case_request(3, "eng1", T0 - HOUR_MS);
    struct lockbox_request got;

    assert_int_equal(store_find_current_approval(store, "eng1", "contoso", "db01", &case_now, &got),
                     LOCKBOX_NOT_FOUND);
    approve(&lapsed, T0 - 1);
    approve(&longest, T0 + 3 * HOUR_MS);
    approve(&newest, T0 + HOUR_MS);
    put(store, &lapsed);
    put(store, &longest);
    put(store, &newest);
    assert_int_equal(store_find_current_approval(store, "eng1", "contoso", "db01", &case_now, &got),
                     LOCKBOX_OK);
    assert_string_equal(got.id, newest.id);
    assert_int_equal(store_find_longest_approval(store, "eng1", "contoso", "db01", &case_now, &got),
                     LOCKBOX_OK);
    assert_string_equal(got.id, longest.id);
    assert_int_equal(store_find_longest_approval(store, "eng2", "contoso", "db01", &case_now, &got),
                     LOCKBOX_NOT_FOUND);
}

struct collected {
    char ids[8][LOCKBOX_ID_HEX_LEN + 1];
    size_t n;
    size_t stop_after; /* 0: never stop */
};

static int collect_request(const struct lockbox_request *req, void *ctx)
{
    struct collected *c = ctx;
    if (c->n < 8)
        memcpy(c->ids[c->n], req->id, sizeof(c->ids[0]));
    c->n++;
    return c->stop_after != 0 && c->n >= c->stop_after;
}

static void test_list_filters_newest_first(void **state)
{
    struct store *store = *state;
    struct lockbox_request a = case_request(0x10, "eng1", T0), b = case_request(0x11, "eng2", T0);
    struct lockbox_request c = case_request(0x20, "eng1", T0);

    snprintf(b.tenant, sizeof(b.tenant), "fabrikam");
    c.state = REQUEST_DENIED;
    snprintf(c.host, sizeof(c.host), "db02");
    put(store, &a);
    put(store, &b);
    put(store, &c);

    struct store_filter all = {true, REQUEST_PENDING, NULL, NULL, NULL, 10, NULL};
    struct collected got = {0};
    assert_int_equal(store_list(store, &all, collect_request, &got), 0);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.ids[0], c.id);
    assert_string_equal(got.ids[2], a.id);

    struct store_filter pending_eng1 = {false, REQUEST_PENDING, "contoso", "eng1", NULL, 10, NULL};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &pending_eng1, collect_request, &got), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ids[0], a.id);

    struct store_filter prefix = {true, REQUEST_PENDING, NULL, NULL, "1", 10, NULL};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &prefix, collect_request, &got), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.ids[0], b.id);

    struct store_filter limited = {true, REQUEST_PENDING, NULL, NULL, NULL, 1, NULL};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &limited, collect_request, &got), 0);
    assert_int_equal(got.n, 1);

    struct collected stopped = {.stop_after = 2};
    assert_int_equal(store_list(store, &all, collect_request, &stopped), 0);
    assert_int_equal(stopped.n, 2);

    /* One host's requests (role=central): exact, alone or with the other filters. */
    struct store_filter on_host = {true, REQUEST_PENDING, NULL, NULL, NULL, 10, "db02"};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &on_host, collect_request, &got), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ids[0], c.id);
    struct store_filter on_a_host = {true, REQUEST_PENDING, NULL, "eng1", NULL, 10, a.host};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &on_a_host, collect_request, &got), 0);
    assert_int_equal(got.n, 1);
    struct store_filter pending_on = {false, REQUEST_PENDING, "contoso", NULL, NULL, 10, a.host};
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_list(store, &pending_on, collect_request, &got), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ids[0], a.id);
    struct store_filter empty_prefix = {true, REQUEST_PENDING, NULL, NULL, "", 10, NULL};
    assert_int_equal(store_list(store, &empty_prefix, collect_request, &got), -1);
}

struct live_scan {
    struct store *store;
    struct collected seen;
};

/* The expiry scan queues notifications from inside the walk: a write during a walk. */
static int write_while_walking(const struct lockbox_request *req, void *ctx)
{
    struct live_scan *scan = ctx;
    char id[LOCKBOX_ID_HEX_LEN + 40];

    snprintf(id, sizeof(id), "%s.request.expiring", req->id);
    assert_int_equal(store_outbox_add(scan->store, id, "webhook", req->id, "request.expiring",
                                      req->tenant, "{}", T0),
                     0);
    return collect_request(req, &scan->seen);
}

static void test_each_live_is_pending_and_approved(void **state)
{
    struct store *store = *state;
    struct lockbox_request pending = case_request(1, "eng1", T0);
    struct lockbox_request approved = case_request(2, "eng1", T0);
    struct lockbox_request denied = case_request(3, "eng1", T0);

    approve(&approved, T0 + HOUR_MS);
    denied.state = REQUEST_DENIED;
    put(store, &pending);
    put(store, &approved);
    put(store, &denied);
    struct live_scan scan = {.store = store};
    assert_int_equal(store_each_live(store, write_while_walking, &scan), 0);
    assert_int_equal(scan.seen.n, 2);
    assert_true(strcmp(scan.seen.ids[0], denied.id) != 0 &&
                strcmp(scan.seen.ids[1], denied.id) != 0);
    assert_int_equal(store_outbox_next_attempt_at(store), T0);
}

/* --- transactions, meta, audit --- */

static void test_rollback_undoes_commit_keeps(void **state)
{
    struct store *store = *state;
    struct lockbox_request dropped = case_request(1, "eng1", T0),
                           kept = case_request(2, "eng1", T0);
    struct lockbox_request got;
    int64_t value = 0;

    assert_int_equal(store_begin(store), 0);
    put(store, &dropped);
    assert_int_equal(store_audit_insert(store, 1, "{\"seq\":1}", "aa"), 0);
    assert_int_equal(store_get_request(store, dropped.id, &got), LOCKBOX_OK); /* own writes */
    store_rollback(store);
    assert_int_equal(store_get_request(store, dropped.id, &got), LOCKBOX_NOT_FOUND);

    assert_int_equal(store_begin(store), 0);
    put(store, &kept);
    assert_int_equal(store_meta_set_int(store, "rotated_at", 7), 0);
    assert_int_equal(store_commit(store), 0);
    store_rollback(store); /* none open: harmless */
    assert_int_equal(store_sync(store, 0), 0);
    assert_int_equal(store_get_request(store, kept.id, &got), LOCKBOX_OK);
    assert_int_equal(store_meta_get_int(store, "rotated_at", &value), LOCKBOX_OK);
    assert_int_equal(value, 7);
    assert_int_equal(store_meta_set_int(store, "rotated_at", 9), 0);
    assert_int_equal(store_meta_get_int(store, "rotated_at", &value), LOCKBOX_OK);
    assert_int_equal(value, 9);
    assert_int_equal(store_meta_get_int(store, "no_such_key", &value), LOCKBOX_NOT_FOUND);
}

struct lines {
    uint64_t seqs[8];
    char text[8][32];
    size_t n;
};

static int collect_line(uint64_t seq, const char *line, void *ctx)
{
    struct lines *l = ctx;
    l->seqs[l->n] = seq;
    snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
    return ++l->n >= 8;
}

static void test_audit_head_insert_lines_after(void **state)
{
    struct store *store = *state;
    char hash[LOCKBOX_HASH_HEX_LEN + 1], zeros[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t seq = 99;

    memset(zeros, '0', LOCKBOX_HASH_HEX_LEN);
    zeros[LOCKBOX_HASH_HEX_LEN] = '\0';
    assert_int_equal(store_audit_head(store, &seq, hash), 0);
    assert_int_equal(seq, 0);
    assert_string_equal(hash, zeros);

    for (uint64_t i = 1; i <= 3; i++) {
        char line[32], h[LOCKBOX_HASH_HEX_LEN + 1];
        snprintf(line, sizeof(line), "{\"seq\":%llu}", (unsigned long long)i);
        memset(h, (int)('a' + i), LOCKBOX_HASH_HEX_LEN);
        h[LOCKBOX_HASH_HEX_LEN] = '\0';
        assert_int_equal(store_audit_insert(store, i, line, h), 0);
    }
    assert_int_not_equal(store_audit_insert(store, 2, "{\"seq\":2}", zeros), 0); /* taken */
    assert_int_equal(store_audit_head(store, &seq, hash), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(hash[0], 'd');

    struct lines got = {0};
    assert_int_equal(store_audit_lines_after(store, 1, 10, collect_line, &got), 0);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.seqs[0], 2);
    assert_string_equal(got.text[1], "{\"seq\":3}");
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_audit_lines_after(store, 0, 1, collect_line, &got), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.seqs[0], 1);
}

/* --- sessions --- */

static struct session_row case_session(int n, const char *request_id, int64_t opened_at)
{
    struct session_row row;

    memset(&row, 0, sizeof(row));
    snprintf(row.id, sizeof(row.id), "5e%030x", n);
    snprintf(row.request_id, sizeof(row.request_id), "%s", request_id);
    snprintf(row.user, sizeof(row.user), "eng1");
    snprintf(row.tenant, sizeof(row.tenant), "contoso");
    snprintf(row.host, sizeof(row.host), "db01");
    snprintf(row.service, sizeof(row.service), "sshd");
    snprintf(row.rhost, sizeof(row.rhost), "192.0.2.7");
    snprintf(row.tty, sizeof(row.tty), "/dev/pts/%d", n);
    row.pid = 4000 + n;
    row.start_time = 123456789012ULL + (uint64_t)n;
    row.opened_at = opened_at;
    row.audit_session = -1;
    snprintf(row.boot_id, sizeof(row.boot_id), "%s", case_now.boot_id);
    snprintf(row.state, sizeof(row.state), "open"); /* what a new row starts as */
    return row;
}

struct session_rows {
    struct session_row rows[4];
    size_t n;
};

static int collect_session(const struct session_row *row, void *ctx)
{
    struct session_rows *c = ctx;
    if (c->n < 4)
        c->rows[c->n] = *row;
    c->n++;
    return 0;
}

static void test_session_rows_round_trip(void **state)
{
    struct store *store = *state;
    struct session_row row = case_session(1, "aa", T0);
    struct session_rows got = {0};

    row.audit_session = 77;
    snprintf(row.cgroup, sizeof(row.cgroup), "/sys/fs/cgroup/user.slice/session-3.scope");
    row.contained = true;
    assert_int_equal(store_session_insert(store, &row), 0);
    assert_int_equal(store_session_live_rows(store, collect_session, &got), 0);
    assert_int_equal(got.n, 1);
    assert_memory_equal(&got.rows[0], &row, sizeof(row));

    char state_name[STORE_SESSION_STATE_MAX + 1];
    assert_int_equal(store_session_get_state(store, row.id, state_name), LOCKBOX_OK);
    assert_string_equal(state_name, "open");
    assert_int_equal(store_session_get_state(store, "5e00", state_name), LOCKBOX_NOT_FOUND);
}

static void test_session_updates(void **state)
{
    struct store *store = *state;
    struct session_row first = case_session(1, "aa", T0), second = case_session(2, "aa", T0 - 5);
    struct session_rows got = {0};

    assert_int_equal(store_session_insert(store, &first), 0);
    assert_int_equal(store_session_insert(store, &second), 0);
    assert_int_equal(store_session_set_warned(store, first.id, true), 0);
    assert_int_equal(store_session_rebind(store, first.id, "bb"), 0);
    assert_int_equal(store_session_set_containment(store, first.id, 9, "/cg", true), 0);
    assert_int_equal(store_session_set_state_at(store, first.id, "closed", T0 + 10), 0);
    assert_int_equal(store_session_set_state(store, second.id, "terminated"), 0);

    /* Closed but contained stays live; terminated and not contained does not. */
    assert_int_equal(store_session_live_rows(store, collect_session, &got), 0);
    assert_int_equal(got.n, 1);
    struct session_row *r = &got.rows[0];
    assert_string_equal(r->id, first.id);
    assert_string_equal(r->request_id, "bb");
    assert_true(r->warned);
    assert_int_equal(r->audit_session, 9);
    assert_string_equal(r->cgroup, "/cg");
    assert_string_equal(r->state, "closed");
    assert_int_equal(r->closed_at, T0 + 10);

    assert_int_equal(store_session_set_contained(store, first.id, false), 0);
    assert_int_equal(store_session_set_warned(store, first.id, false), 0);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_session_live_rows(store, collect_session, &got), 0);
    assert_int_equal(got.n, 0);

    /* A request's sessions, oldest first, whatever their state. */
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_sessions_of_request(store, "aa", collect_session, &got), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.rows[0].id, second.id);
    assert_string_equal(got.rows[0].state, "terminated");
    assert_int_equal(got.rows[0].closed_at, 0);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_sessions_of_request(store, "bb", collect_session, &got), 0);
    assert_int_equal(got.n, 1);
    assert_false(got.rows[0].warned);
    assert_false(got.rows[0].contained);
}

/* --- the outbox --- */

struct outbox_rows {
    struct outbox_row rows[4];
    size_t n;
};

static int collect_outbox(const struct outbox_row *row, void *ctx)
{
    struct outbox_rows *c = ctx;
    assert_null(row->body);
    if (c->n < 4)
        c->rows[c->n] = *row;
    c->n++;
    return 0;
}

static void test_outbox_add_once_due_in_order(void **state)
{
    struct store *store = *state;
    struct outbox_row row;

    assert_int_equal(store_outbox_next_attempt_at(store), INT64_MAX);
    assert_int_equal(store_outbox_next_due(store, T0, &row), LOCKBOX_NOT_FOUND);
    assert_int_equal(store_outbox_add(store, "r1.request.created", "webhook", "r1",
                                      "request.created", "contoso", "{\"a\":1}", T0),
                     0);
    assert_int_equal(store_outbox_add(store, "r1.request.created", "webhook", "r1",
                                      "request.created", "contoso", "{\"a\":2}", T0 - 9),
                     0); /* the same notification again: kept as it was */
    assert_int_equal(store_outbox_add(store, "r1.request.created", "command", "r1",
                                      "request.created", "contoso", "{\"a\":3}", T0 + 5),
                     0);
    assert_int_equal(store_outbox_next_attempt_at(store), T0);
    assert_int_equal(store_outbox_next_due(store, T0 - 1, &row), LOCKBOX_NOT_FOUND);
    assert_int_equal(store_outbox_next_due(store, T0 + 5, &row), LOCKBOX_OK);
    assert_string_equal(row.channel, "webhook");
    assert_string_equal(row.body, "{\"a\":1}");
    assert_string_equal(row.event, "request.created");
    assert_string_equal(row.tenant, "contoso");
    assert_int_equal(row.attempts, 0);
    assert_false(row.failed);
    free(row.body);
}

static void test_outbox_retry_deliver_fail(void **state)
{
    struct store *store = *state;
    struct outbox_row row;

    assert_int_equal(store_outbox_add(store, "r1.x", "webhook", "r1", "x", "contoso", "{}", T0), 0);
    assert_int_equal(store_outbox_add(store, "r1.x", "command", "r1", "x", "contoso", "{}", T0), 0);
    assert_int_equal(store_outbox_add(store, "r2.x", "webhook", "r2", "x", "contoso", "{}", T0), 0);
    assert_int_equal(store_outbox_next_due(store, T0, &row), LOCKBOX_OK);
    free(row.body);
    int64_t first = row.seq;
    assert_int_equal(store_outbox_mark_retry(store, first, 1, T0 + 1000, "HTTP 500", false), 0);
    assert_int_equal(store_outbox_next_due(store, T0, &row), LOCKBOX_OK);
    free(row.body);
    assert_int_not_equal(row.seq, first);
    assert_int_equal(store_outbox_mark_delivered(store, row.seq, 1, T0 + 1), 0);
    int64_t delivered = row.seq;
    assert_int_equal(store_outbox_next_due(store, T0, &row), LOCKBOX_OK);
    free(row.body);
    assert_int_equal(store_outbox_mark_retry(store, row.seq, 60, T0 + 9, "gave up", true), 0);
    assert_int_equal(store_outbox_next_attempt_at(store), T0 + 1000);
    assert_int_equal(store_outbox_next_due(store, T0 + 999, &row), LOCKBOX_NOT_FOUND);
    assert_int_equal(store_outbox_next_due(store, T0 + 1000, &row), LOCKBOX_OK);
    assert_int_equal(row.seq, first);
    assert_int_equal(row.attempts, 1);
    assert_string_equal(row.last_error, "HTTP 500");
    free(row.body);

    struct outbox_rows got = {0};
    assert_int_equal(store_outbox_of_request(store, "r1", collect_outbox, &got), 0);
    assert_int_equal(got.n, 2);
    assert_true(got.rows[0].seq < got.rows[1].seq);
    for (size_t i = 0; i < 2; i++) {
        if (got.rows[i].seq == delivered) {
            assert_int_equal(got.rows[i].delivered_at, T0 + 1);
            assert_string_equal(got.rows[i].last_error, "");
        }
    }
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_outbox_of_request(store, "r2", collect_outbox, &got), 0);
    assert_int_equal(got.n, 1);
    assert_true(got.rows[0].failed);
    assert_int_equal(got.rows[0].attempts, 60);
}

#define STORE_CASE(name) cmocka_unit_test_setup_teardown(name, case_setup, case_teardown)
#define STORE_CASES                                                                                \
    STORE_CASE(test_request_put_get_and_update),                                                   \
        STORE_CASE(test_transition_applies_only_from_the_state_it_was_read_in),                    \
        STORE_CASE(test_request_unknown_requester_round_trips),                                    \
        STORE_CASE(test_find_pending_matches_requester),                                           \
        STORE_CASE(test_find_latest_of_any_state), STORE_CASE(test_approvals_current_and_longest), \
        STORE_CASE(test_list_filters_newest_first),                                                \
        STORE_CASE(test_each_live_is_pending_and_approved),                                        \
        STORE_CASE(test_rollback_undoes_commit_keeps),                                             \
        STORE_CASE(test_audit_head_insert_lines_after), STORE_CASE(test_session_rows_round_trip),  \
        STORE_CASE(test_session_updates), STORE_CASE(test_outbox_add_once_due_in_order),           \
        STORE_CASE(test_outbox_retry_deliver_fail)

#endif
