/* lib/random_id.c: ids are well-formed, 1,000 draws never repeat (128 random bits), and what
 * counts as a prefix of one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "random_id.h"
#include "text.h"

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ids_are_hex_and_distinct(void **state)
{
    enum { N = 1000 };
    static char ids[N][LOCKBOX_ID_HEX_LEN + 1];
    (void)state;

    for (int i = 0; i < N; i++) {
        assert_int_equal(random_id(ids[i]), 0);
        assert_true(text_is_request_id(ids[i], strlen(ids[i])));
    }
    qsort(ids, N, sizeof(ids[0]), compare_ids);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
}

static void request_id_check(void **state)
{
    (void)state;
    assert_true(text_is_request_id("0123456789abcdef0123456789abcdef", 32));
    assert_false(text_is_request_id("0123456789ABCDEF0123456789abcdef", 32)); /* uppercase */
    assert_false(text_is_request_id("0123456789abcdef0123456789abcde", 31));  /* short */
    assert_false(text_is_request_id("0123456789abcdef0123456789abcdefa", 33));
    assert_false(text_is_request_id("0123456789abcdef0123456789abcdeg", 32));
    assert_false(text_is_request_id("0123456789abcdef/123456789abcdef", 32));
    assert_false(text_is_request_id(NULL, 32));
}

static void prefix_check(void **state)
{
    (void)state;
    assert_true(random_id_is_prefix("0123ab", 6));
    assert_true(random_id_is_prefix("0123456789abcdef0123456789abcdef", 6)); /* a whole id */
    assert_true(random_id_is_prefix("0", 1));
    assert_false(random_id_is_prefix("0123a", 6)); /* too short */
    assert_true(random_id_is_prefix("", 0));
    assert_false(random_id_is_prefix("0123456789abcdef0123456789abcdef0", 6)); /* too long */
    assert_false(random_id_is_prefix("0123AB", 6));                            /* uppercase */
    assert_false(random_id_is_prefix("0123ag", 6));
    assert_false(random_id_is_prefix("0123a%", 6));
    assert_false(random_id_is_prefix(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_hex_and_distinct),
        cmocka_unit_test(request_id_check),
        cmocka_unit_test(prefix_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
