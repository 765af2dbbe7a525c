"""The private PostgreSQL fixture (pg_cluster.py) that Step 13's store tests stand on: the
roles and grants lockboxd gets, a Unix-socket-only durable server, stop/start and crash for
outage tests, a streaming standby, promotion, and a multi-host DSN following the failover."""

import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import terminate, wait_until  # noqa: E402
from pg_cluster import (OWNER, READER, SUPERUSER, Cluster, multi_host_dsn, psql,  # noqa: E402
                        psql_argv, query)


def connects(dsn):
    return psql(dsn, "SELECT 1").returncode == 0


def running(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class OneServer(unittest.TestCase):
    """A single cluster: what lockboxd's role may do, what the reader may not, how it runs."""

    @classmethod
    def setUpClass(cls):
        cls.pg = Cluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()

    def test_owner_role_creates_writes_and_reads(self):
        dsn = self.pg.dsn()
        self.assertIn("user=%s" % OWNER, dsn)
        out = query(dsn, "CREATE TABLE owner_probe (id bigint PRIMARY KEY);"
                         "INSERT INTO owner_probe VALUES (7);"
                         "SELECT current_user || ':' || sum(id) FROM owner_probe")
        self.assertEqual(out, "%s:7" % OWNER)

    def test_reader_reads_but_cannot_create_or_write(self):
        query(self.pg.dsn(), "CREATE TABLE reader_probe (id int); INSERT INTO reader_probe "
                             "VALUES (1), (2)")
        reader = self.pg.dsn(user=READER)
        self.assertEqual(query(reader, "SELECT count(*) FROM reader_probe"), "2")
        created = psql(reader, "CREATE TABLE reader_made (id int)")
        self.assertNotEqual(created.returncode, 0)
        self.assertIn("permission denied for schema public", created.stderr)
        inserted = psql(reader, "INSERT INTO reader_probe VALUES (3)")
        self.assertIn("permission denied for table reader_probe", inserted.stderr)

    def test_other_roles_cannot_connect_to_the_database(self):
        query(self.pg.dsn(user=SUPERUSER, dbname="postgres"), "CREATE ROLE stranger LOGIN")
        refused = psql(self.pg.dsn(user="stranger"), "SELECT 1")
        self.assertIn("permission denied for database", refused.stderr)

    def test_unix_socket_only_and_durable(self):
        settings = self.pg.query("SELECT current_setting('listen_addresses') || '|' || "
                                 "current_setting('fsync') || '|' || "
                                 "current_setting('synchronous_commit')")
        self.assertEqual(settings, "|on|on")
        self.assertTrue(os.path.exists(os.path.join(self.pg.dir, ".s.PGSQL.%d" % self.pg.port)))
        self.assertEqual(os.stat(self.pg.dir).st_mode & 0o077, 0, "socket dir open to others")

    def test_stop_and_start_keep_committed_rows(self):
        query(self.pg.dsn(), "CREATE TABLE outage_probe (id int); INSERT INTO outage_probe "
                             "VALUES (1)")
        pid = self.pg.pid
        self.assertEqual(self.pg.stop(), 0)
        self.assertFalse(os.path.exists("/proc/%d" % pid), "postmaster still running")
        down = psql(self.pg.dsn(), "SELECT 1")
        self.assertIn("No such file or directory", down.stderr)
        self.pg.start()
        self.assertEqual(query(self.pg.dsn(), "SELECT count(*) FROM outage_probe"), "1")

    def test_kill9_then_crash_recovery_keeps_committed_rows(self):
        query(self.pg.dsn(), "CREATE TABLE crash_probe (id int); INSERT INTO crash_probe "
                             "VALUES (1)")
        # A backend deep in a computation does not look for its postmaster's death: it
        # survives a SIGKILL of the postmaster alone, but not kill9().
        busy = subprocess.Popen(psql_argv(self.pg.dsn(), "SELECT count(*) FROM "
                                          "generate_series(1, 10000000000)"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(terminate, busy)
        wait_until(lambda: self.pg.query("SELECT count(*) FROM pg_stat_activity WHERE "
                                         "query LIKE '%generate_series%' AND state = "
                                         "'active' AND pid <> pg_backend_pid()") == "1",
                   10, "the busy query running")
        server = [int(pid) for pid in self.pg.query(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()").split()]
        self.assertGreaterEqual(len(server), 5, "checkpointer, walwriter, ... expected")
        self.addCleanup(lambda: [os.kill(pid, signal.SIGKILL) for pid in server if running(pid)])
        postmaster = self.pg.pid
        self.pg.kill9()
        self.assertEqual([pid for pid in server + [postmaster] if running(pid)], [])
        self.assertFalse(connects(self.pg.dsn()))
        self.pg.start()
        self.assertEqual(query(self.pg.dsn(), "SELECT count(*) FROM crash_probe"), "1")
        self.assertIn("not properly shut down", self.pg.log())


class PrimaryAndStandby(unittest.TestCase):
    """A streaming standby follows the primary; promoted after the primary stops, it is what
    a two-host read-write DSN reaches."""

    def setUp(self):
        self.primary = Cluster(port=5432).start()
        self.addCleanup(self.primary.close)
        self.standby = self.primary.add_standby(port=5433)
        self.addCleanup(self.standby.close)

    def test_failover_through_a_multi_host_dsn(self):
        both = multi_host_dsn(self.primary, self.standby)
        self.assertIn("host=%s,%s" % (self.primary.dir, self.standby.dir), both)
        self.assertIn("port=5432,5433", both)

        query(both, "CREATE TABLE decisions (id int); INSERT INTO decisions VALUES (1)")
        self.standby.wait_replayed(self.primary)
        self.assertEqual(query(self.standby.dsn(), "SELECT count(*) FROM decisions"), "1")
        self.assertIn("read-only transaction",
                      psql(self.standby.dsn(), "INSERT INTO decisions VALUES (9)").stderr)
        self.assertEqual(query(both, "SHOW port"), "5432")

        self.primary.stop()
        # No read-write server now: libpq passes over the standby rather than settle for it.
        refused = psql(both, "SELECT 1")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("session is read-only", refused.stderr)

        self.standby.promote()
        self.assertEqual(query(both, "SHOW port; INSERT INTO decisions VALUES (2);"
                                     "SELECT count(*) FROM decisions"), "5433\n2")


if __name__ == "__main__":
    unittest.main()
