/* Unit tests of lib/array_grow.c: doubling, zeroed new room, refusal on overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "array_grow.h"
#include "monotonic.h"

static void test_grows_by_doubling_and_zeroes(void **state)
{
    int *items = NULL;
    size_t cap = 0, reallocs = 0;
    (void)state;

    assert_int_equal(array_grow(&items, &cap, 1, sizeof(*items), 4), 0);
    assert_int_equal(cap, 4);
    for (size_t n = 0; n < 10000; n++) {
        size_t before = cap;
        assert_int_equal(array_grow(&items, &cap, n + 1, sizeof(*items), 4), 0);
        assert_true(cap >= n + 1);
        if (cap != before) {
            assert_int_equal(cap, before * 2);
            reallocs++;
            for (size_t i = before; i < cap; i++)
                assert_int_equal(items[i], 0); /* new room is zeroed */
        }
        items[n] = (int)n + 1;
    }
    assert_true(reallocs <= 12); /* 4 -> 16384 */
    for (size_t n = 0; n < 10000; n++)
        assert_int_equal(items[n], (int)n + 1);
    free(items);
}

static void test_enough_room_is_a_no_op(void **state)
{
    char *items = malloc(8);
    char *before = items;
    size_t cap = 8;
    (void)state;

    assert_non_null(items);
    assert_int_equal(array_grow(&items, &cap, 8, 1, 4), 0);
    assert_ptr_equal(items, before);
    assert_int_equal(cap, 8);
    free(items);
}

static void test_overflow_is_refused_and_leaves_the_array(void **state)
{
    long *items = NULL;
    size_t cap = 0;
    (void)state;

    assert_int_equal(array_grow(&items, &cap, 2, sizeof(*items), 2), 0);
    long *kept = items;
    assert_int_equal(array_grow(&items, &cap, SIZE_MAX / 2, sizeof(*items), 2), -1);
    assert_int_equal(array_grow(&items, &cap, SIZE_MAX, 1, 2), -1);
    assert_ptr_equal(items, kept);
    assert_int_equal(cap, 2);
    free(items);
}

static void test_monotonic_never_goes_back(void **state)
{
    (void)state;
    int64_t last = monotonic_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t now = monotonic_ms();
        assert_true(now >= last);
        last = now;
    }
    struct timespec later = monotonic_after(1500);
    int64_t later_ms = (int64_t)later.tv_sec * 1000 + later.tv_nsec / 1000000;
    assert_true(later.tv_nsec >= 0 && later.tv_nsec < 1000000000);
    assert_true(later_ms >= last + 1500 && later_ms < last + 1500 + 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling_and_zeroes),
        cmocka_unit_test(test_enough_room_is_a_no_op),
        cmocka_unit_test(test_overflow_is_refused_and_leaves_the_array),
        cmocka_unit_test(test_monotonic_never_goes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
