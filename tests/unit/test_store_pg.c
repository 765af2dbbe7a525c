/* The store interface's cases (store_cases.h) on PostgreSQL. It needs a server: the
 * integration test test_store_pg_cases.py starts a private cluster and runs this binary with
 * LOCKBOX_TEST_PG_DSN set; without it (a plain unit run) every case is skipped. Each case
 * starts from an empty database: the tables are dropped first, and store_open makes them. */
#include <libpq-fe.h>

#include "store_cases.h"

static const char *case_dsn(void)
{
    const char *dsn = getenv("LOCKBOX_TEST_PG_DSN");
    return dsn != NULL && dsn[0] != '\0' ? dsn : NULL;
}

static int drop_tables(const char *dsn)
{
    PGconn *conn = PQconnectdb(dsn);
    PGresult *res = NULL;
    int ok = PQstatus(conn) == CONNECTION_OK;

    if (ok) {
        res = PQexec(conn, "SET client_min_messages = 'warning'; DROP TABLE IF EXISTS meta, "
                           "requests, audit, outbox, sessions");
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    }
    if (!ok)
        fprintf(stderr, "test_store_pg: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return ok ? 0 : -1;
}

static struct store *open_dsn(const char *dsn, char *err, size_t err_len)
{
    struct store_config config = {"postgresql", NULL, dsn, "0123456789abcdef"};
    return store_open(&config, err, err_len);
}

static struct store *store_case_open(void)
{
    char err[512];
    const char *dsn = case_dsn();

    if (dsn == NULL || drop_tables(dsn) != 0)
        return NULL;
    struct store *store = open_dsn(dsn, err, sizeof(err));
    if (store == NULL)
        fprintf(stderr, "test_store_pg: %s\n", err);
    return store;
}

static void store_case_close(struct store *store)
{
    store_close(store);
}

/* Two lockboxd on one database append to one chain: each record follows the head the other
 * left, read under the chain's lock inside the transaction. */
static void test_two_stores_share_one_chain(void **state)
{
    struct store *a = *state;
    char err[512] = "", hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t seq;
    struct store *b = open_dsn(case_dsn(), err, sizeof(err));

    assert_non_null(b);
    for (int i = 1; i <= 4; i++) {
        struct store *writer = i % 2 ? a : b;
        assert_int_equal(store_begin(writer), 0);
        assert_int_equal(store_lock_chain(writer), 0);
        assert_int_equal(store_audit_head(writer, &seq, hash), 0);
        assert_int_equal(seq, (uint64_t)(i - 1));
        assert_int_equal(store_audit_insert(writer, seq + 1, "line", "hash"), 0);
        assert_int_equal(store_commit(writer), 0);
    }
    store_close(b);
}

/* PostgreSQL answers COMMIT in a transaction that a failed statement aborted with success
 * and the tag ROLLBACK: the store must say nothing was committed. */
static void test_commit_after_a_failed_write_fails(void **state)
{
    struct store *store = *state;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t seq;

    assert_int_equal(store_begin(store), 0);
    assert_int_equal(store_audit_insert(store, 1, "line", "hash"), 0);
    assert_int_equal(store_audit_insert(store, 1, "again", "hash"), -1);
    assert_int_equal(store_commit(store), -1);
    store_rollback(store);
    assert_int_equal(store_audit_head(store, &seq, hash), 0);
    assert_int_equal(seq, 0);
}

static void test_open_names_what_is_wrong(void **state)
{
    char err[512] = "";
    (void)state;

    assert_null(open_dsn("host=/nonexistent port=notaport = =", err, sizeof(err)));
    assert_non_null(strstr(err, "[store] dsn does not parse"));
    assert_null(open_dsn("host=/nonexistent-lockbox-dir dbname=x", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot connect to the database"));
}

int main(void)
{
    if (case_dsn() == NULL) {
        printf("test_store_pg: LOCKBOX_TEST_PG_DSN is not set: skipped (see "
               "tests/integration/test_store_pg_cases.py)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        STORE_CASES,
        STORE_CASE(test_two_stores_share_one_chain),
        STORE_CASE(test_commit_after_a_failed_write_fails),
        cmocka_unit_test(test_open_names_what_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
