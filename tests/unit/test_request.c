/* Unit tests of lib/request.c: the lifecycle's transitions, expiry on both clocks, grant
 * durations and who may decide or read a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

#define N_STATES 5
#define HOUR_MS (3600LL * 1000)
#define REQUEST_TTL_MS (12 * HOUR_MS)
#define ACCESS_TTL_MS (12 * HOUR_MS)
#define T0 1764072000000LL /* 2025-11-25T12:00:00Z */
#define BOOT0 (5LL * 60 * 1000)
#define BOOT_A "0d7e1b54-2a67-4c38-9bd4-4c2f3b1f0a11"
#define BOOT_B "8a1f4c2e-7d3b-4e5f-a6b7-c8d9e0f1a2b3"
#define ENG1_UID 1001
#define ALICE_UID 1002
#define BOB_UID 1003

static const enum request_state all_states[N_STATES] = {
    REQUEST_PENDING, REQUEST_APPROVED, REQUEST_DENIED, REQUEST_EXPIRED, REQUEST_REVOKED,
};

static struct lockbox_clock clock_at(int64_t wall_ms, int64_t boot_ms, const char *boot_id)
{
    struct lockbox_clock now;

    memset(&now, 0, sizeof(now));
    now.wall_ms = wall_ms;
    now.boot_ms = boot_ms;
    snprintf(now.boot_id, sizeof(now.boot_id), "%s", boot_id);
    return now;
}

/* eng1's request for contoso/db01, filed by eng1 itself at T0 on boot A. */
static void make_pending(struct lockbox_request *req)
{
    struct lockbox_clock now = clock_at(T0, BOOT0, BOOT_A);

    memset(req, 0, sizeof(*req));
    snprintf(req->id, sizeof(req->id), "%s", "0123456789abcdef0123456789abcdef");
    snprintf(req->tenant, sizeof(req->tenant), "%s", "contoso");
    snprintf(req->host, sizeof(req->host), "%s", "db01");
    snprintf(req->user, sizeof(req->user), "%s", "eng1");
    snprintf(req->requested_by, sizeof(req->requested_by), "%s", "eng1");
    req->requested_by_uid = ENG1_UID;
    snprintf(req->reason, sizeof(req->reason), "%s", "INC-4711");
    request_init_pending(req, &now, REQUEST_TTL_MS);
}

/* Reaches each state through the lifecycle itself, one hour after T0. */
static void make_in_state(struct lockbox_request *req, enum request_state state)
{
    struct lockbox_clock later = clock_at(T0 + HOUR_MS, BOOT0 + HOUR_MS, BOOT_A);
    struct lockbox_clock lapse = clock_at(T0 + REQUEST_TTL_MS, BOOT0 + REQUEST_TTL_MS, BOOT_A);

    make_pending(req);
    switch (state) {
    case REQUEST_PENDING: break;
    case REQUEST_APPROVED:
        assert_int_equal(request_approve(req, "alice", "ok", 0, ACCESS_TTL_MS, &later), VERDICT_OK);
        break;
    case REQUEST_DENIED:
        assert_int_equal(request_deny(req, "alice", "no", &later), VERDICT_OK);
        break;
    case REQUEST_EXPIRED: assert_true(request_expire_if_due(req, &lapse)); break;
    case REQUEST_REVOKED:
        assert_int_equal(request_approve(req, "alice", "ok", 0, ACCESS_TTL_MS, &later), VERDICT_OK);
        assert_int_equal(request_revoke(req, "bob", "done", &later), VERDICT_OK);
        break;
    }
    assert_int_equal(req->state, state);
}

static void test_state_names_round_trip(void **unused)
{
    static const char *const expected[N_STATES] = {"pending", "approved", "denied", "expired",
                                                   "revoked"};
    (void)unused;
    for (int i = 0; i < N_STATES; i++) {
        enum request_state parsed = REQUEST_REVOKED + 1;
        assert_string_equal(request_state_name(all_states[i]), expected[i]);
        assert_int_equal(request_state_parse(expected[i], &parsed), 0);
        assert_int_equal(parsed, all_states[i]);
    }
    assert_string_equal(request_state_name((enum request_state)99), "unknown");
    assert_string_equal(request_state_name((enum request_state) - 1), "unknown");
    enum request_state untouched = REQUEST_DENIED;
    const char *bad[] = {NULL, "", "unknown", "Pending", "pending ", " pending", "pend", "all"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(request_state_parse(bad[i], &untouched), -1);
        assert_int_equal(untouched, REQUEST_DENIED);
    }
}

static bool transition_expected(enum request_state from, enum request_state to)
{
    if (from == REQUEST_PENDING)
        return to == REQUEST_APPROVED || to == REQUEST_DENIED || to == REQUEST_EXPIRED;
    if (from == REQUEST_APPROVED)
        return to == REQUEST_REVOKED || to == REQUEST_EXPIRED;
    return false;
}

static void test_transition_table(void **unused)
{
    int allowed = 0;

    (void)unused;
    for (int f = 0; f < N_STATES; f++) {
        for (int t = 0; t < N_STATES; t++) {
            bool got = request_transition_allowed(all_states[f], all_states[t]);
            if (got != transition_expected(all_states[f], all_states[t]))
                fail_msg("transition %s -> %s: got %d", request_state_name(all_states[f]),
                         request_state_name(all_states[t]), got);
            allowed += got;
        }
    }
    assert_int_equal(allowed, 5);
    assert_false(request_transition_allowed(REQUEST_PENDING, REQUEST_PENDING));
    assert_false(request_transition_allowed(REQUEST_REVOKED, REQUEST_APPROVED));
    assert_false(request_transition_allowed(REQUEST_EXPIRED, REQUEST_APPROVED));
    assert_false(request_transition_allowed(REQUEST_DENIED, REQUEST_APPROVED));
    assert_false(request_transition_allowed((enum request_state)42, REQUEST_APPROVED));
}

static void test_approve_from_every_state(void **unused)
{
    struct lockbox_clock now = clock_at(T0 + 2 * HOUR_MS, BOOT0 + 2 * HOUR_MS, BOOT_A);
    (void)unused;
    for (int i = 0; i < N_STATES; i++) {
        struct lockbox_request req, copy;
        make_in_state(&req, all_states[i]);
        memcpy(&copy, &req, sizeof(req));
        enum request_verdict v = request_approve(&req, "carol", "why not", 0, ACCESS_TTL_MS, &now);
        if (all_states[i] != REQUEST_PENDING) {
            assert_int_equal(v, VERDICT_WRONG_STATE);
            assert_memory_equal(&req, &copy, sizeof(req));
            continue;
        }
        assert_int_equal(v, VERDICT_OK);
        assert_int_equal(req.state, REQUEST_APPROVED);
        assert_string_equal(req.decided_by, "carol");
        assert_string_equal(req.comment, "why not");
        assert_int_equal(req.decided_at, now.wall_ms);
        assert_int_equal(req.expires_at, now.wall_ms + ACCESS_TTL_MS);
        assert_int_equal(req.granted_ms, ACCESS_TTL_MS);
        assert_int_equal(req.approved_boot_ms, now.boot_ms);
        assert_string_equal(req.approved_boot_id, BOOT_A);
        assert_int_equal(req.created_at, T0);
        assert_string_equal(req.user, "eng1");
        assert_true(request_access_current(&req, &now));
    }
}

static void test_deny_from_every_state(void **unused)
{
    struct lockbox_clock now = clock_at(T0 + 2 * HOUR_MS, BOOT0 + 2 * HOUR_MS, BOOT_A);
    (void)unused;
    for (int i = 0; i < N_STATES; i++) {
        struct lockbox_request req, copy;
        make_in_state(&req, all_states[i]);
        memcpy(&copy, &req, sizeof(req));
        enum request_verdict v = request_deny(&req, "carol", "not today", &now);
        if (all_states[i] != REQUEST_PENDING) {
            assert_int_equal(v, VERDICT_WRONG_STATE);
            assert_memory_equal(&req, &copy, sizeof(req));
            continue;
        }
        assert_int_equal(v, VERDICT_OK);
        assert_int_equal(req.state, REQUEST_DENIED);
        assert_string_equal(req.decided_by, "carol");
        assert_string_equal(req.comment, "not today");
        assert_int_equal(req.decided_at, now.wall_ms);
        assert_int_equal(req.expires_at, 0);
        assert_int_equal(request_ms_until_deadline(&req, &now), -1);
        assert_false(request_access_current(&req, &now));
        assert_false(request_expire_if_due(&req, &now));
        assert_int_equal(req.state, REQUEST_DENIED);
    }
}

static void test_revoke_from_every_state(void **unused)
{
    struct lockbox_clock now = clock_at(T0 + 2 * HOUR_MS, BOOT0 + 2 * HOUR_MS, BOOT_A);
    (void)unused;
    for (int i = 0; i < N_STATES; i++) {
        struct lockbox_request req, copy;
        make_in_state(&req, all_states[i]);
        memcpy(&copy, &req, sizeof(req));
        enum request_verdict v = request_revoke(&req, "carol", NULL, &now);
        if (all_states[i] != REQUEST_APPROVED) {
            assert_int_equal(v, VERDICT_WRONG_STATE);
            assert_memory_equal(&req, &copy, sizeof(req));
            continue;
        }
        assert_int_equal(v, VERDICT_OK);
        assert_int_equal(req.state, REQUEST_REVOKED);
        assert_string_equal(req.decided_by, "carol");
        assert_string_equal(req.comment, "");
        assert_int_equal(req.decided_at, now.wall_ms);
        assert_int_equal(req.expires_at, now.wall_ms);
        assert_false(request_access_current(&req, &now));
        /* A revoked request never turns into an expired one. */
        struct lockbox_clock much_later = clock_at(T0 + 48 * HOUR_MS, BOOT0 + 48 * HOUR_MS, BOOT_A);
        assert_false(request_expire_if_due(&req, &much_later));
        assert_int_equal(req.state, REQUEST_REVOKED);
    }
}

static void test_grant_durations(void **unused)
{
    struct lockbox_clock now = clock_at(T0 + HOUR_MS, BOOT0 + HOUR_MS, BOOT_A);
    struct lockbox_request req, copy;
    (void)unused;

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", 0, ACCESS_TTL_MS, &now), VERDICT_OK);
    assert_int_equal(req.granted_ms, ACCESS_TTL_MS);
    assert_int_equal(req.expires_at, now.wall_ms + ACCESS_TTL_MS);

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", 30 * 60 * 1000, ACCESS_TTL_MS, &now),
                     VERDICT_OK);
    assert_int_equal(req.granted_ms, 30 * 60 * 1000);
    assert_int_equal(req.expires_at, now.wall_ms + 30 * 60 * 1000);

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", ACCESS_TTL_MS, ACCESS_TTL_MS, &now),
                     VERDICT_OK);
    assert_int_equal(req.granted_ms, ACCESS_TTL_MS);

    const int64_t refused[] = {ACCESS_TTL_MS + 1, 2 * ACCESS_TTL_MS, INT64_MAX, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        make_pending(&req);
        memcpy(&copy, &req, sizeof(req));
        assert_int_equal(request_approve(&req, "alice", "", refused[i], ACCESS_TTL_MS, &now),
                         VERDICT_BAD_DURATION);
        assert_memory_equal(&req, &copy, sizeof(req));
    }
    /* The state is checked first: a too-long grant on a denied request is a state error. */
    make_in_state(&req, REQUEST_DENIED);
    assert_int_equal(request_approve(&req, "alice", "", 2 * ACCESS_TTL_MS, ACCESS_TTL_MS, &now),
                     VERDICT_WRONG_STATE);
}

static void test_pending_lapses_at_request_ttl(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(req.created_at, T0);
    assert_int_equal(req.expires_at, T0 + REQUEST_TTL_MS);
    assert_int_equal(req.decided_at, 0);

    struct lockbox_clock start = clock_at(T0, BOOT0, BOOT_A);
    assert_int_equal(request_ms_until_deadline(&req, &start), REQUEST_TTL_MS);
    assert_false(request_access_current(&req, &start));

    struct lockbox_clock before = clock_at(T0 + REQUEST_TTL_MS - 1, BOOT0, BOOT_A);
    assert_int_equal(request_ms_until_deadline(&req, &before), 1);
    assert_false(request_expire_if_due(&req, &before));
    assert_int_equal(req.state, REQUEST_PENDING);

    struct lockbox_clock at = clock_at(T0 + REQUEST_TTL_MS, BOOT0, BOOT_A);
    assert_int_equal(request_ms_until_deadline(&req, &at), 0);
    assert_true(request_expire_if_due(&req, &at));
    assert_int_equal(req.state, REQUEST_EXPIRED);
    assert_int_equal(request_ms_until_deadline(&req, &at), -1);
    assert_false(request_expire_if_due(&req, &at));

    /* Long past the deadline the wait is 0, never negative. */
    make_pending(&req);
    struct lockbox_clock past = clock_at(T0 + 10 * REQUEST_TTL_MS, BOOT0, BOOT_A);
    assert_int_equal(request_ms_until_deadline(&req, &past), 0);
}

static void test_access_ends_at_wall_deadline(void **unused)
{
    const int64_t grant = 2 * HOUR_MS;
    struct lockbox_clock approve_at = clock_at(T0 + HOUR_MS, BOOT0 + HOUR_MS, BOOT_A);
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", grant, ACCESS_TTL_MS, &approve_at),
                     VERDICT_OK);
    /* Approval replaces the pending deadline with the access deadline. */
    assert_int_equal(req.expires_at, approve_at.wall_ms + grant);

    struct lockbox_clock before = clock_at(approve_at.wall_ms + grant - 1,
                                           approve_at.boot_ms + grant - 1, BOOT_A);
    assert_true(request_access_current(&req, &before));
    assert_int_equal(request_ms_until_deadline(&req, &before), 1);
    assert_false(request_expire_if_due(&req, &before));

    struct lockbox_clock at = clock_at(approve_at.wall_ms + grant, approve_at.boot_ms + grant,
                                       BOOT_A);
    assert_false(request_access_current(&req, &at));
    assert_int_equal(request_ms_until_deadline(&req, &at), 0);
    assert_true(request_expire_if_due(&req, &at));
    assert_int_equal(req.state, REQUEST_EXPIRED);

    /* The wall clock jumping forward (boot time barely moved) also ends access. */
    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", grant, ACCESS_TTL_MS, &approve_at),
                     VERDICT_OK);
    struct lockbox_clock jumped = clock_at(approve_at.wall_ms + grant, approve_at.boot_ms + 10,
                                           BOOT_A);
    assert_false(request_access_current(&req, &jumped));
    assert_true(request_expire_if_due(&req, &jumped));
}

static void test_clock_set_back_same_boot(void **unused)
{
    const int64_t grant = 2 * HOUR_MS;
    struct lockbox_clock approve_at = clock_at(T0 + HOUR_MS, BOOT0 + HOUR_MS, BOOT_A);
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", grant, ACCESS_TTL_MS, &approve_at),
                     VERDICT_OK);
    /* Someone sets the wall clock back a day; boot time keeps counting. */
    int64_t set_back = approve_at.wall_ms - 24 * HOUR_MS;
    struct lockbox_clock early = clock_at(set_back + 30 * 60 * 1000,
                                          approve_at.boot_ms + 30 * 60 * 1000, BOOT_A);
    assert_true(request_access_current(&req, &early));
    assert_int_equal(request_ms_until_deadline(&req, &early), grant - 30 * 60 * 1000);

    struct lockbox_clock almost = clock_at(set_back + grant - 5, approve_at.boot_ms + grant - 5,
                                           BOOT_A);
    assert_int_equal(request_ms_until_deadline(&req, &almost), 5);
    assert_true(request_access_current(&req, &almost));

    struct lockbox_clock due = clock_at(set_back + grant, approve_at.boot_ms + grant, BOOT_A);
    assert_true(due.wall_ms < req.expires_at); /* the wall deadline alone would still allow it */
    assert_false(request_access_current(&req, &due));
    assert_int_equal(request_ms_until_deadline(&req, &due), 0);
    assert_true(request_expire_if_due(&req, &due));
    assert_int_equal(req.state, REQUEST_EXPIRED);
}

static void test_other_boot_falls_back_to_wall(void **unused)
{
    const int64_t grant = 2 * HOUR_MS;
    struct lockbox_clock approve_at = clock_at(T0 + HOUR_MS, BOOT0 + 10 * HOUR_MS, BOOT_A);
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(request_approve(&req, "alice", "", grant, ACCESS_TTL_MS, &approve_at),
                     VERDICT_OK);
    /* After a reboot boot time restarts near zero: it says nothing about the old approval. */
    struct lockbox_clock rebooted = clock_at(approve_at.wall_ms + HOUR_MS, 1000, BOOT_B);
    assert_true(request_access_current(&req, &rebooted));
    assert_int_equal(request_ms_until_deadline(&req, &rebooted), grant - HOUR_MS);

    /* On another boot, boot time past the grant does not end access early... */
    struct lockbox_clock long_uptime = clock_at(approve_at.wall_ms + HOUR_MS,
                                                approve_at.boot_ms + 5 * grant, BOOT_B);
    assert_int_equal(request_ms_until_deadline(&req, &long_uptime), grant - HOUR_MS);

    /* ...but the wall deadline still does. */
    struct lockbox_clock wall_due = clock_at(approve_at.wall_ms + grant, 2000, BOOT_B);
    assert_false(request_access_current(&req, &wall_due));
    assert_true(request_expire_if_due(&req, &wall_due));
    assert_int_equal(req.state, REQUEST_EXPIRED);
}

static void test_ms_until_deadline_by_state(void **unused)
{
    struct lockbox_clock now = clock_at(T0 + 3 * HOUR_MS, BOOT0 + 3 * HOUR_MS, BOOT_A);
    (void)unused;
    for (int i = 0; i < N_STATES; i++) {
        struct lockbox_request req;
        make_in_state(&req, all_states[i]);
        int64_t left = request_ms_until_deadline(&req, &now);
        switch (all_states[i]) {
        case REQUEST_PENDING: assert_int_equal(left, REQUEST_TTL_MS - 3 * HOUR_MS); break;
        case REQUEST_APPROVED: /* approved at T0+1h for the full access_ttl */
            assert_int_equal(left, ACCESS_TTL_MS - 2 * HOUR_MS);
            break;
        default:
            assert_int_equal(left, -1);
            assert_false(request_expire_if_due(&req, &now));
            assert_int_equal(req.state, all_states[i]);
        }
    }
}

static void test_init_pending_resets_decision(void **unused)
{
    struct lockbox_request req;
    struct lockbox_clock now = clock_at(T0 + 5, BOOT0, BOOT_A);
    (void)unused;

    make_in_state(&req, REQUEST_REVOKED);
    request_init_pending(&req, &now, 1000);
    assert_int_equal(req.state, REQUEST_PENDING);
    assert_int_equal(req.created_at, T0 + 5);
    assert_int_equal(req.expires_at, T0 + 1005);
    assert_int_equal(req.decided_at, 0);
    assert_string_equal(req.decided_by, "");
    assert_string_equal(req.comment, "");
    assert_int_equal(req.granted_ms, 0);
    assert_int_equal(req.approved_boot_ms, 0);
    assert_string_equal(req.approved_boot_id, "");
}

static void test_long_actor_and_comment_are_bounded(void **unused)
{
    char actor[200], comment[3000];
    struct lockbox_request req;
    struct lockbox_clock now = clock_at(T0 + HOUR_MS, BOOT0 + HOUR_MS, BOOT_A);
    (void)unused;

    memset(actor, 'a', sizeof(actor) - 1);
    actor[sizeof(actor) - 1] = '\0';
    memset(comment, 'c', sizeof(comment) - 1);
    comment[sizeof(comment) - 1] = '\0';
    make_pending(&req);
    assert_int_equal(request_deny(&req, actor, comment, &now), VERDICT_OK);
    assert_int_equal(strlen(req.decided_by), LOCKBOX_NAME_MAX);
    assert_int_equal(strlen(req.comment), LOCKBOX_TEXT_MAX);
}

/* --- authorisation --- */

static enum request_verdict decide(const struct lockbox_request *req,
                                   const struct lockbox_tenant_policy *tenant,
                                   const struct lockbox_actor *who, enum request_state to)
{
    return request_may_decide(req, tenant, who, to);
}

static const char *const contoso_admins[] = {"alice", "@contoso-admins"};
static const struct lockbox_tenant_policy contoso = {"contoso", contoso_admins, 2};
static const char *const root_and_alice[] = {"root", "alice"};
static const struct lockbox_tenant_policy contoso_with_root = {"contoso", root_and_alice, 2};
static const char *const fabrikam_admins[] = {"carol", "@contoso-admins-not"};
static const struct lockbox_tenant_policy fabrikam = {"fabrikam", fabrikam_admins, 2};

static const char *const root_groups[] = {"root"};
static const char *const alice_groups[] = {"alice", "staff"};
static const char *const bob_groups[] = {"bob", "contoso-admins"};
static const char *const carol_groups[] = {"carol"};
static const char *const eng1_groups[] = {"eng1", "alice"}; /* a group named like an admin */
static const struct lockbox_actor root = {0, "root", root_groups, 1};
static const struct lockbox_actor alice = {ALICE_UID, "alice", alice_groups, 2};
static const struct lockbox_actor bob = {BOB_UID, "bob", bob_groups, 2};
static const struct lockbox_actor carol = {1004, "carol", carol_groups, 1};
static const struct lockbox_actor eng1 = {ENG1_UID, "eng1", eng1_groups, 2};
static const struct lockbox_actor dave = {1005, "dave", NULL, 0};

static void test_policy_is_admin(void **unused)
{
    (void)unused;
    assert_false(policy_is_admin(&contoso, &root));
    assert_true(policy_is_admin(&contoso_with_root, &root));
    assert_true(policy_is_admin(&contoso, &alice));
    assert_true(policy_is_admin(&contoso, &bob)); /* by @group */
    assert_false(policy_is_admin(&contoso, &carol));
    assert_true(policy_is_admin(&fabrikam, &carol));
    assert_false(policy_is_admin(&fabrikam, &alice));
    assert_false(policy_is_admin(&fabrikam, &bob)); /* "@contoso-admins-not" is another group */
    assert_false(policy_is_admin(&contoso, &eng1)); /* in a group "alice", not user alice */
    assert_false(policy_is_admin(&contoso, &dave));
    assert_false(policy_is_admin(NULL, &alice));
    assert_false(policy_is_admin(&contoso, NULL));
    struct lockbox_actor nameless = {ALICE_UID, NULL, alice_groups, 2};
    assert_false(policy_is_admin(&contoso, &nameless));
    /* A user entry does not match a group of that name, nor a group entry a user name. */
    static const char *const group_only[] = {"@alice"};
    struct lockbox_tenant_policy by_group = {"contoso", group_only, 1};
    struct lockbox_actor alice_no_groups = {ALICE_UID, "alice", NULL, 0};
    assert_false(policy_is_admin(&by_group, &alice_no_groups));
    assert_true(policy_is_admin(&by_group, &eng1));
    struct lockbox_tenant_policy empty = {"contoso", NULL, 0};
    assert_false(policy_is_admin(&empty, &alice));
}

static void test_may_decide_admins(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_DENIED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_REVOKED), VERDICT_WRONG_STATE);
    make_in_state(&req, REQUEST_APPROVED);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_REVOKED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_WRONG_STATE);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_DENIED), VERDICT_WRONG_STATE);
    for (int i = 0; i < N_STATES; i++) {
        if (all_states[i] == REQUEST_PENDING || all_states[i] == REQUEST_APPROVED)
            continue;
        make_in_state(&req, all_states[i]);
        for (int t = 0; t < N_STATES; t++)
            assert_int_equal(decide(&req, &contoso, &bob, all_states[t]), VERDICT_WRONG_STATE);
    }
}

static void test_may_decide_root(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(decide(&req, &contoso, &root, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_DENIED), VERDICT_OK);
    /* A login's request is filed by root (the PAM module) on the user's behalf: it is eng1's,
     * so a listed root may still decide it, and so may another admin. */
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "root");
    req.requested_by_uid = 0;
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso_with_root, &alice, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso, &root, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    /* A request that names root as the user is root's own. */
    snprintf(req.user, sizeof(req.user), "%s", "root");
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_APPROVED),
                     VERDICT_SELF_DECISION);
}

static void test_may_decide_refusals(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_int_equal(decide(&req, &contoso, &eng1, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    assert_int_equal(decide(&req, &contoso, &dave, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    assert_int_equal(decide(&req, &contoso, &carol, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    /* carol administers fabrikam, and the request belongs to contoso. */
    assert_int_equal(decide(&req, &fabrikam, &carol, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    assert_int_equal(decide(&req, NULL, &alice, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    assert_int_equal(decide(&req, NULL, &root, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
    /* Not an admin is reported before a wrong state: nothing about the request leaks. */
    make_in_state(&req, REQUEST_DENIED);
    assert_int_equal(decide(&req, &contoso, &dave, REQUEST_APPROVED), VERDICT_NOT_ADMIN);
}

static void test_may_decide_self(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    /* alice filed a request for herself. */
    make_pending(&req);
    snprintf(req.user, sizeof(req.user), "%s", "alice");
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "alice");
    req.requested_by_uid = ALICE_UID;
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_DENIED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_APPROVED), VERDICT_OK);

    /* A login as alice, filed by root: it names her as the user. */
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "root");
    req.requested_by_uid = 0;
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);

    /* Filed by alice's uid under another account name (a second passwd entry). */
    make_pending(&req);
    req.requested_by_uid = ALICE_UID;
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);

    /* Filed by name "alice" though the uid differs. */
    make_pending(&req);
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "alice");
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);

    /* bob (admin by group) revoking his own approved access. */
    make_in_state(&req, REQUEST_APPROVED);
    snprintf(req.user, sizeof(req.user), "%s", "bob");
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_REVOKED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_REVOKED), VERDICT_OK);
}

/* Whoever asked for a login (su's or sudo's invoking user) may not decide it either: an admin
 * su'ing to a shared account cannot approve her own way in. */
static void test_may_decide_requester(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    snprintf(req.user, sizeof(req.user), "%s", "rtshared");
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "root");
    req.requested_by_uid = 0;
    snprintf(req.requester, sizeof(req.requester), "%s", "alice");
    req.requester_uid = ALICE_UID;
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_DENIED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_APPROVED), VERDICT_OK);

    /* The same person under a second account name (same uid), or by name alone. */
    snprintf(req.requester, sizeof(req.requester), "%s", "alice2");
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);
    req.requester_uid = (uid_t)-1;
    snprintf(req.requester, sizeof(req.requester), "%s", "alice");
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);

    /* Unknown (an ssh login): nobody is excluded for it. */
    req.requester[0] = '\0';
    req.requester_uid = (uid_t)-1;
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_OK);

    /* Root su'ing to the account asked for it too: root may not decide it. */
    snprintf(req.requester, sizeof(req.requester), "%s", "root");
    req.requester_uid = 0;
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_APPROVED),
                     VERDICT_SELF_DECISION);
    req.requester[0] = '\0';
    req.requester_uid = (uid_t)-1;
    assert_int_equal(decide(&req, &contoso_with_root, &root, REQUEST_APPROVED), VERDICT_OK);
}

/* Remote people (client certificates) have no uid: uid -1 is nobody's, so two remote people
 * are not one, and lockbox:user/NAME as the filer names the person NAME. */
static void test_may_decide_remote_people(void **unused)
{
    static const struct lockbox_actor remote_alice = {(uid_t)-1, "alice", NULL, 0};
    static const struct lockbox_actor remote_eng1 = {(uid_t)-1, "eng1", NULL, 0};
    static const char *const eng1_admins[] = {"alice", "eng1"};
    static const struct lockbox_tenant_policy contoso_eng1 = {"contoso", eng1_admins, 2};
    struct lockbox_request req;
    (void)unused;

    /* eng1 filed over TLS for the account eng1. */
    make_pending(&req);
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "lockbox:user/eng1");
    req.requested_by_uid = (uid_t)-1;
    snprintf(req.requester, sizeof(req.requester), "%s", "eng1");
    req.requester_uid = (uid_t)-1;
    assert_string_equal(request_filer_person(&req), "eng1");
    assert_int_equal(decide(&req, &contoso, &remote_alice, REQUEST_APPROVED), VERDICT_OK);
    assert_int_equal(decide(&req, &contoso_eng1, &remote_eng1, REQUEST_APPROVED),
                     VERDICT_SELF_DECISION);

    /* Filed remotely by alice for another account: alice (local or remote) may not decide. */
    snprintf(req.user, sizeof(req.user), "%s", "shared");
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "lockbox:user/alice");
    req.requester[0] = '\0';
    assert_int_equal(decide(&req, &contoso, &remote_alice, REQUEST_APPROVED),
                     VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &alice, REQUEST_APPROVED), VERDICT_SELF_DECISION);
    assert_int_equal(decide(&req, &contoso, &bob, REQUEST_APPROVED), VERDICT_OK);
    /* ...and she reads it, while another remote person does not (uid -1 is not shared). */
    assert_true(request_may_read(&req, NULL, &remote_alice));
    assert_false(request_may_read(&req, NULL, &remote_eng1));
    /* A name that merely ends like a person is not that person. */
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "xlockbox:user/alice");
    assert_int_equal(decide(&req, &contoso, &remote_alice, REQUEST_APPROVED), VERDICT_OK);
}

/* Root files on behalf of every login (the PAM module): such a filing names no person, so a
 * certificate lockbox:user/root (a person, never root) neither reads every login's request
 * nor is barred from deciding them. */
static void test_root_filing_names_no_person(void **unused)
{
    static const struct lockbox_actor remote_root = {(uid_t)-1, "root", NULL, 0};
    static const char *const root_admins[] = {"root"};
    static const struct lockbox_tenant_policy contoso_root = {"contoso", root_admins, 1};
    struct lockbox_request req;
    (void)unused;

    make_pending(&req); /* eng1's login, filed by the module as root */
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "root");
    req.requested_by_uid = 0;
    assert_false(request_may_read(&req, NULL, &remote_root));
    assert_false(request_may_read(&req, &fabrikam, &remote_root));
    assert_true(request_may_read(&req, NULL, &root)); /* root itself still reads it */
    assert_int_equal(decide(&req, &contoso_root, &remote_root, REQUEST_APPROVED), VERDICT_OK);
    /* The person root's own filing (over TLS) is still theirs. */
    snprintf(req.requested_by, sizeof(req.requested_by), "%s", "lockbox:user/root");
    req.requested_by_uid = (uid_t)-1;
    assert_true(request_may_read(&req, NULL, &remote_root));
    assert_int_equal(decide(&req, &contoso_root, &remote_root, REQUEST_APPROVED),
                     VERDICT_SELF_DECISION);
}

static void test_may_read(void **unused)
{
    struct lockbox_request req;
    (void)unused;

    make_pending(&req);
    assert_true(request_may_read(&req, &contoso, &root));
    assert_true(request_may_read(&req, NULL, &root));
    assert_true(request_may_read(&req, &fabrikam, &root));
    assert_true(request_may_read(&req, &contoso, &eng1)); /* names eng1 as the user */
    assert_true(request_may_read(&req, NULL, &eng1));
    assert_true(request_may_read(&req, &contoso, &alice));
    assert_true(request_may_read(&req, &contoso, &bob));
    assert_false(request_may_read(&req, &contoso, &carol));
    assert_false(request_may_read(&req, &fabrikam, &carol)); /* another tenant's admin */
    assert_false(request_may_read(&req, &contoso, &dave));
    assert_false(request_may_read(&req, NULL, &alice));

    /* dave filed it for eng1? Only root names another user, but the uid still counts. */
    req.requested_by_uid = 1005;
    assert_true(request_may_read(&req, NULL, &dave));

    /* An actor whose name could not be resolved reads nothing that needs the name. */
    struct lockbox_actor nameless = {4242, NULL, NULL, 0};
    assert_false(request_may_read(&req, &contoso, &nameless));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_round_trip),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_approve_from_every_state),
        cmocka_unit_test(test_deny_from_every_state),
        cmocka_unit_test(test_revoke_from_every_state),
        cmocka_unit_test(test_grant_durations),
        cmocka_unit_test(test_pending_lapses_at_request_ttl),
        cmocka_unit_test(test_access_ends_at_wall_deadline),
        cmocka_unit_test(test_clock_set_back_same_boot),
        cmocka_unit_test(test_other_boot_falls_back_to_wall),
        cmocka_unit_test(test_ms_until_deadline_by_state),
        cmocka_unit_test(test_init_pending_resets_decision),
        cmocka_unit_test(test_long_actor_and_comment_are_bounded),
        cmocka_unit_test(test_policy_is_admin),
        cmocka_unit_test(test_may_decide_admins),
        cmocka_unit_test(test_may_decide_root),
        cmocka_unit_test(test_may_decide_refusals),
        cmocka_unit_test(test_may_decide_self),
        cmocka_unit_test(test_may_decide_requester),
        cmocka_unit_test(test_may_decide_remote_people),
        cmocka_unit_test(test_root_filing_names_no_person),
        cmocka_unit_test(test_may_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
