/* Unit tests of lockboxd/waiters.c: who is woken by a decision and by a deadline, each exactly
 * once, and a heap that stays ordered whatever is removed from its middle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waiters.h"

/* A waiter as its owners embed it, with what the tests observe. */
struct probe {
    struct waiter waiter;
    struct waiters *set;
    int woken;
    size_t wake_order;      /* 1 + the position in the log of wakes, 0 if never woken */
    int64_t readd_deadline; /* > 0: on_wake adds the waiter again until then, once */
};

static struct probe *wake_log[16];
static size_t wake_log_len;

static struct probe *probe_of(struct waiter *w)
{
    return (struct probe *)((char *)w - offsetof(struct probe, waiter));
}

static void on_wake(struct waiter *w)
{
    struct probe *p = probe_of(w);

    assert_false(w->queued); /* it has left the set before its owner hears of it */
    p->woken++;
    p->wake_order = ++wake_log_len;
    if (wake_log_len <= sizeof(wake_log) / sizeof(wake_log[0]))
        wake_log[wake_log_len - 1] = p;
    if (p->readd_deadline > 0) {
        int64_t deadline = p->readd_deadline;
        p->readd_deadline = 0;
        assert_int_equal(waiters_add(p->set, w, w->id, deadline), 0);
    }
}

/* Request id number n as the daemon writes ids: 32 lowercase hex characters. */
static void make_id(unsigned n, char id[LOCKBOX_ID_HEX_LEN + 1])
{
    snprintf(id, LOCKBOX_ID_HEX_LEN + 1, "%024x%08x", 0xabcdu, n);
}

static void add(struct waiters *set, struct probe *p, unsigned id_number, int64_t deadline)
{
    char id[LOCKBOX_ID_HEX_LEN + 1];

    make_id(id_number, id);
    p->set = set;
    p->waiter.on_wake = on_wake;
    assert_int_equal(waiters_add(set, &p->waiter, id, deadline), 0);
    assert_true(p->waiter.queued);
    assert_string_equal(p->waiter.id, id);
}

static void wake(struct waiters *set, unsigned id_number)
{
    char id[LOCKBOX_ID_HEX_LEN + 1];

    make_id(id_number, id);
    waiters_wake(set, id);
}

/* White-box: every parent's deadline is at or before its children's, and each waiter knows
 * its place. */
static void assert_heap_ordered(const struct waiters *set)
{
    for (size_t i = 0; i < set->n; i++) {
        assert_true(set->heap[i]->queued);
        assert_int_equal(set->heap[i]->heap_index, i);
        if (i > 0)
            assert_true(set->heap[(i - 1) / 2]->deadline_boot_ms <= set->heap[i]->deadline_boot_ms);
    }
}

static int setup(void **state)
{
    struct waiters *set = malloc(sizeof(*set));

    if (set == NULL || waiters_init(set) != 0) {
        free(set);
        return -1;
    }
    wake_log_len = 0;
    *state = set;
    return 0;
}

static int teardown(void **state)
{
    waiters_free(*state);
    free(*state);
    return 0;
}

static void test_empty(void **state)
{
    struct waiters *set = *state;

    assert_int_equal(waiters_count(set), 0);
    assert_true(waiters_next_deadline(set) == INT64_MAX);
    waiters_expire(set, INT64_MAX);
    wake(set, 1);
    assert_int_equal(wake_log_len, 0);
}

static void test_wake_by_id(void **state)
{
    struct waiters *set = *state;
    struct probe a[3], b[2];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    for (int i = 0; i < 3; i++)
        add(set, &a[i], 1, 1000 + i);
    for (int i = 0; i < 2; i++)
        add(set, &b[i], 2, 500 + i);
    assert_int_equal(waiters_count(set), 5);

    wake(set, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].woken, 1);
        assert_false(a[i].waiter.queued);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(b[i].woken, 0);
        assert_true(b[i].waiter.queued);
    }
    assert_int_equal(waiters_count(set), 2);
    assert_true(waiters_next_deadline(set) == 500);

    wake(set, 1); /* nobody left for that id */
    wake(set, 3); /* an id nobody waits for */
    for (int i = 0; i < 3; i++)
        assert_int_equal(a[i].woken, 1);
    assert_int_equal(waiters_count(set), 2);

    wake(set, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(b[i].woken, 1);
    assert_int_equal(waiters_count(set), 0);
    assert_true(waiters_next_deadline(set) == INT64_MAX);
}

static void test_remove(void **state)
{
    struct waiters *set = *state;
    struct probe p[3];

    memset(p, 0, sizeof(p));
    for (int i = 0; i < 3; i++)
        add(set, &p[i], 7, 100 * (i + 1));
    waiters_remove(set, &p[0].waiter);
    assert_false(p[0].waiter.queued);
    assert_int_equal(waiters_count(set), 2);
    assert_true(waiters_next_deadline(set) == 200);
    assert_heap_ordered(set);

    wake(set, 7);
    assert_int_equal(p[0].woken, 0); /* removed: never woken */
    assert_int_equal(p[1].woken, 1);
    assert_int_equal(p[2].woken, 1);
}

static void test_remove_not_queued_is_noop(void **state)
{
    struct waiters *set = *state;
    struct probe never, other, twice;

    memset(&never, 0, sizeof(never));
    memset(&other, 0, sizeof(other));
    memset(&twice, 0, sizeof(twice));
    add(set, &other, 4, 50);
    waiters_remove(set, &never.waiter); /* never added */
    assert_int_equal(waiters_count(set), 1);
    assert_true(other.waiter.queued);

    add(set, &twice, 4, 10);
    waiters_remove(set, &twice.waiter);
    waiters_remove(set, &twice.waiter); /* already out */
    assert_int_equal(waiters_count(set), 1);
    assert_true(waiters_next_deadline(set) == 50);
    assert_heap_ordered(set);

    wake(set, 4);
    assert_int_equal(other.woken, 1);
    assert_int_equal(twice.woken, 0);
    assert_int_equal(never.woken, 0);
}

static void test_expire_in_deadline_order(void **state)
{
    struct waiters *set = *state;
    static const int64_t deadlines[] = {700, 300, 900, 300, 100, 800, 500};
    enum { N = sizeof(deadlines) / sizeof(deadlines[0]) };
    struct probe p[N];

    memset(p, 0, sizeof(p));
    for (unsigned i = 0; i < N; i++)
        add(set, &p[i], i, deadlines[i]);
    assert_true(waiters_next_deadline(set) == 100);

    waiters_expire(set, 99); /* nothing is due yet */
    assert_int_equal(wake_log_len, 0);

    waiters_expire(set, 500); /* at or before now: 100, 300, 300, 500 */
    assert_int_equal(wake_log_len, 4);
    for (size_t i = 1; i < wake_log_len; i++)
        assert_true(wake_log[i - 1]->waiter.deadline_boot_ms <=
                    wake_log[i]->waiter.deadline_boot_ms);
    assert_int_equal(p[4].wake_order, 1);
    assert_int_equal(p[6].wake_order, 4);
    assert_int_equal(p[1].woken + p[3].woken, 2);
    assert_int_equal(waiters_count(set), 3);
    assert_true(waiters_next_deadline(set) == 700);

    waiters_expire(set, INT64_MAX);
    assert_int_equal(wake_log_len, N);
    for (size_t i = 1; i < wake_log_len; i++)
        assert_true(wake_log[i - 1]->waiter.deadline_boot_ms <=
                    wake_log[i]->waiter.deadline_boot_ms);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(p[i].woken, 1);
    assert_true(waiters_next_deadline(set) == INT64_MAX);
}

static void test_readd_from_on_wake(void **state)
{
    struct waiters *set = *state;
    struct probe by_id, by_deadline, other;

    memset(&by_id, 0, sizeof(by_id));
    memset(&by_deadline, 0, sizeof(by_deadline));
    memset(&other, 0, sizeof(other));
    /* Woken by a decision, it waits again (the owner's next long-poll on the same id): the
     * same wake must not wake it a second time. */
    add(set, &by_id, 9, 1000);
    add(set, &other, 9, 1500);
    by_id.readd_deadline = 2000;
    wake(set, 9);
    assert_int_equal(by_id.woken, 1);
    assert_int_equal(other.woken, 1);
    assert_true(by_id.waiter.queued);
    assert_int_equal(waiters_count(set), 1);
    assert_true(waiters_next_deadline(set) == 2000);

    /* Woken by its deadline, it waits again until later: expire stops at the new deadline. */
    add(set, &by_deadline, 10, 100);
    by_deadline.readd_deadline = 3000;
    waiters_expire(set, 150);
    assert_int_equal(by_deadline.woken, 1);
    assert_true(by_deadline.waiter.queued);
    assert_int_equal(waiters_count(set), 2);
    assert_heap_ordered(set);

    waiters_expire(set, 2500);
    assert_int_equal(by_id.woken, 2);
    assert_int_equal(by_deadline.woken, 1);
    wake(set, 10);
    assert_int_equal(by_deadline.woken, 2);
    assert_int_equal(waiters_count(set), 0);
}

/* Randomised adds, removes from anywhere, wakes by id and expiries over 10,000 waiters,
 * checked against a plain array. More ids than hash buckets, so buckets are shared. */
#define MANY 10000
#define IDS 20000u

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct reference {
    struct probe *probes;
    unsigned *id_of; /* id number of each probe while queued */
    int *expected_wakes;
};

static void check_against_reference(const struct waiters *set, const struct reference *ref)
{
    size_t queued = 0;
    int64_t earliest = INT64_MAX;

    for (size_t i = 0; i < MANY; i++) {
        const struct probe *p = &ref->probes[i];
        assert_int_equal(p->woken, ref->expected_wakes[i]);
        if (!p->waiter.queued)
            continue;
        queued++;
        if (p->waiter.deadline_boot_ms < earliest)
            earliest = p->waiter.deadline_boot_ms;
    }
    assert_int_equal(waiters_count(set), queued);
    assert_true(waiters_next_deadline(set) == earliest);
}

static void wake_reference(struct waiters *set, struct reference *ref, unsigned id_number)
{
    for (size_t i = 0; i < MANY; i++) {
        if (ref->probes[i].waiter.queued && ref->id_of[i] == id_number)
            ref->expected_wakes[i]++;
    }
    wake(set, id_number);
}

static void expire_reference(struct waiters *set, struct reference *ref, int64_t now)
{
    size_t due = 0;

    for (size_t i = 0; i < MANY; i++) {
        if (ref->probes[i].waiter.queued && ref->probes[i].waiter.deadline_boot_ms <= now) {
            ref->expected_wakes[i]++;
            due++;
        }
    }
    size_t before = wake_log_len;
    waiters_expire(set, now);
    assert_int_equal(wake_log_len - before, due);
}

static void test_randomised_against_reference(void **state)
{
    struct waiters *set = *state;
    struct reference ref;

    ref.probes = calloc(MANY, sizeof(*ref.probes));
    ref.id_of = calloc(MANY, sizeof(*ref.id_of));
    ref.expected_wakes = calloc(MANY, sizeof(*ref.expected_wakes));
    assert_non_null(ref.probes);
    assert_non_null(ref.id_of);
    assert_non_null(ref.expected_wakes);

    /* Fill, then churn: each round adds, removes from the middle, wakes or expires. */
    for (size_t i = 0; i < MANY; i++) {
        ref.id_of[i] = (unsigned)(next_random() % IDS);
        add(set, &ref.probes[i], ref.id_of[i], (int64_t)(next_random() % 1000000));
    }
    check_against_reference(set, &ref);
    assert_heap_ordered(set);

    int64_t now = 0;
    for (unsigned round = 0; round < 60000; round++) {
        size_t i = (size_t)(next_random() % MANY);
        struct probe *p = &ref.probes[i];
        unsigned what = (unsigned)(next_random() % 100);
        if (what < 45) {
            if (p->waiter.queued)
                waiters_remove(set, &p->waiter);
            else {
                ref.id_of[i] = (unsigned)(next_random() % IDS);
                add(set, p, ref.id_of[i], now + (int64_t)(next_random() % 1000000));
            }
        } else if (what < 90) {
            waiters_remove(set, &p->waiter); /* from wherever it is, or a no-op */
        } else if (what < 98) {
            /* An id with waiters, so that wakes find something. */
            wake_reference(set, &ref, ref.id_of[i]);
        } else {
            now += (int64_t)(next_random() % 20000);
            expire_reference(set, &ref, now);
        }
        if (round % 997 == 0) {
            assert_heap_ordered(set);
            check_against_reference(set, &ref);
        }
    }
    assert_heap_ordered(set);
    check_against_reference(set, &ref);

    /* Drain by deadline: the order must be by deadline all the way through. */
    int64_t last = INT64_MIN;
    while (waiters_count(set) > 0) {
        int64_t next = waiters_next_deadline(set);
        assert_true(next >= last);
        expire_reference(set, &ref, next);
        last = next;
    }
    check_against_reference(set, &ref);
    free(ref.probes);
    free(ref.id_of);
    free(ref.expected_wakes);
}

/* 10,000 waiters in shuffled deadline order, every third removed from wherever it sits in
 * the heap: the rest wake exactly once, strictly in deadline order, and no removed one does. */
static int64_t last_woken_deadline;
static size_t woken_in_order;

static void on_wake_in_order(struct waiter *w)
{
    assert_false(w->queued);
    assert_true(w->deadline_boot_ms > last_woken_deadline);
    last_woken_deadline = w->deadline_boot_ms;
    probe_of(w)->woken++;
    woken_in_order++;
}

static void test_ten_thousand_expire_in_order_after_removals(void **state)
{
    struct waiters *set = *state;
    struct probe *p = calloc(MANY, sizeof(*p));
    size_t *order = calloc(MANY, sizeof(*order));
    char id[LOCKBOX_ID_HEX_LEN + 1];

    assert_non_null(p);
    assert_non_null(order);
    for (size_t i = 0; i < MANY; i++)
        order[i] = i;
    for (size_t i = MANY - 1; i > 0; i--) { /* Fisher-Yates with the tests' generator */
        size_t j = (size_t)(next_random() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < MANY; k++) {
        size_t i = order[k];
        make_id((unsigned)i, id);
        p[i].waiter.on_wake = on_wake_in_order;
        assert_int_equal(waiters_add(set, &p[i].waiter, id, 1000 + (int64_t)i), 0);
    }
    assert_int_equal(waiters_count(set), MANY);
    assert_true(waiters_next_deadline(set) == 1000);
    assert_heap_ordered(set);

    size_t removed = 0;
    for (size_t i = 0; i < MANY; i += 3) {
        waiters_remove(set, &p[i].waiter);
        removed++;
    }
    assert_int_equal(waiters_count(set), MANY - removed);
    assert_true(waiters_next_deadline(set) == 1001); /* 1000 (index 0) was removed */
    assert_heap_ordered(set);

    last_woken_deadline = INT64_MIN;
    woken_in_order = 0;
    waiters_expire(set, 1000 + MANY / 2 - 1); /* the first half's deadlines */
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(p[i].woken, i % 3 != 0 && i < MANY / 2 ? 1 : 0);
    assert_heap_ordered(set);
    waiters_expire(set, INT64_MAX);
    assert_int_equal(woken_in_order, MANY - removed);
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(p[i].woken, i % 3 != 0 ? 1 : 0);
    assert_int_equal(waiters_count(set), 0);
    assert_true(waiters_next_deadline(set) == INT64_MAX);
    free(p);
    free(order);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_not_queued_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_in_deadline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readd_from_on_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomised_against_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ten_thousand_expire_in_order_after_removals, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
