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

static struct store *open_dsn(const char *dsn, bool exclusive, char *err, size_t err_len)
{
    struct store_config config = {"postgresql", NULL, dsn, exclusive};
    return store_open(&config, err, err_len);
}

static struct store *store_case_open(void)
{
    char err[512];
    const char *dsn = case_dsn();

    if (dsn == NULL || drop_tables(dsn) != 0)
        return NULL;
    struct store *store = open_dsn(dsn, true, err, sizeof(err));
    if (store == NULL)
        fprintf(stderr, "test_store_pg: %s\n", err);
    return store;
}

static void store_case_close(struct store *store)
{
    store_close(store);
}

static void test_one_daemon_per_database(void **state)
{
    char err[512] = "";
    (void)state;

    /* The case's store holds the writer lock; a second daemon's store is refused, a helper
     * thread's (not exclusive) store is not. */
    assert_null(open_dsn(case_dsn(), true, err, sizeof(err)));
    assert_non_null(strstr(err, "another lockboxd is using this database"));
    struct store *sender = open_dsn(case_dsn(), false, err, sizeof(err));
    assert_non_null(sender);
    store_close(sender);
}

static void test_open_names_what_is_wrong(void **state)
{
    char err[512] = "";
    (void)state;

    assert_null(open_dsn("host=/nonexistent port=notaport = =", false, err, sizeof(err)));
    assert_non_null(strstr(err, "[store] dsn does not parse"));
    assert_null(open_dsn("host=/nonexistent-lockbox-dir dbname=x", false, err, sizeof(err)));
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
        STORE_CASE(test_one_daemon_per_database),
        cmocka_unit_test(test_open_names_what_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
