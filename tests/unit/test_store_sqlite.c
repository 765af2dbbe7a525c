/* Unit tests of the store interface (lockboxd/store.h) on its SQLite backend, each case on a
 * fresh database file in a temporary directory. The cases themselves are in store_cases.h, for
 * every backend; what is SQLite's own (a file, reopening it) is here. */
#include "store_cases.h"

#include <unistd.h>

static char case_dir[] = "/tmp/lockbox-test-store-XXXXXX";
static char case_path[sizeof(case_dir) + 32];
static int case_number;

static struct store *open_path(const char *path, char *err, size_t err_len)
{
    struct store_config config = {"sqlite", path, NULL, false};
    return store_open(&config, err, err_len);
}

static struct store *store_case_open(void)
{
    char err[512];

    snprintf(case_path, sizeof(case_path), "%s/case%d.db", case_dir, ++case_number);
    struct store *store = open_path(case_path, err, sizeof(err));
    if (store == NULL)
        fprintf(stderr, "cannot open %s: %s\n", case_path, err);
    return store;
}

static void remove_database(const char *path)
{
    char side[sizeof(case_path) + 8];

    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

static void store_case_close(struct store *store)
{
    store_close(store);
    remove_database(case_path);
}

static void test_reopen_keeps_what_was_committed(void **state)
{
    struct store *store = *state;
    struct lockbox_request req = case_request(1, "eng1", T0), got;
    char err[512];

    put(store, &req);
    assert_int_equal(store_audit_insert(store, 1, "{\"seq\":1}", "ab"), 0);
    assert_int_equal(store_sync(store, 1), 0);
    store_close(store);
    store = open_path(case_path, err, sizeof(err));
    *state = store;
    assert_non_null(store);
    assert_int_equal(store_get_request(store, req.id, &got), LOCKBOX_OK);
    uint64_t seq;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    assert_int_equal(store_audit_head(store, &seq, hash), 0);
    assert_int_equal(seq, 1);
}

static void test_open_refuses_what_it_cannot_use(void **state)
{
    char err[512] = "";
    struct store_config unknown = {"oracle", "/nonexistent", NULL, false};
    (void)state;

    assert_null(store_open(&unknown, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown store backend \"oracle\""));
    assert_null(open_path(NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "needs a database path"));
    assert_null(open_path("/nonexistent-lockbox-dir/x.db", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-lockbox-dir/x.db"));
}

static void test_second_store_on_the_same_file(void **state)
{
    struct store *store = *state;
    struct lockbox_request req = case_request(1, "eng1", T0), got;
    char err[512];

    /* The notification sender's own connection sees what the daemon's committed. */
    struct store *sender = open_path(case_path, err, sizeof(err));
    assert_non_null(sender);
    put(store, &req);
    assert_int_equal(store_outbox_add(store, "n", "webhook", req.id, "request.created", "contoso",
                                      "{}", T0),
                     0);
    struct outbox_row row;
    assert_int_equal(store_outbox_next_due(sender, T0, &row), LOCKBOX_OK);
    free(row.body);
    assert_int_equal(store_get_request(sender, req.id, &got), LOCKBOX_OK);
    store_close(sender);
}

int main(void)
{
    if (mkdtemp(case_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        STORE_CASES,
        STORE_CASE(test_reopen_keeps_what_was_committed),
        STORE_CASE(test_second_store_on_the_same_file),
        cmocka_unit_test(test_open_refuses_what_it_cannot_use),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(case_dir);
    return failed;
}
