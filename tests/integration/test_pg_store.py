"""lockboxd on a PostgreSQL store that it must refuse (Step 13, "Bad input"): each start-up
ends with a non-zero exit, one clear message naming the cause, and no socket left behind, so a
login never reaches a daemon that cannot record what it decides."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import LOCKBOXD, Daemon, terminate  # noqa: E402
from lockbox_pg import shared_cluster  # noqa: E402
from pg_cluster import OWNER, READER, make_dsn  # noqa: E402

# How long a refused start may take: libpq's connect_timeout and lockboxd's own set-up.
REFUSAL_TIMEOUT = 20


class StartupRefusals(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (runs PostgreSQL as postgres, lockboxd as root)")
        self.d = Daemon(store="postgresql")
        self.addCleanup(self.d.close)

    def use_dsn(self, dsn):
        self.d.store_dsn = dsn
        self.d.write_config()

    def assert_refused(self, *needles, regex=None):
        """Starts lockboxd and expects it to exit non-zero at once, saying each needle (or
        matching regex) on stderr in its start-up error form, without leaving a socket."""
        proc = subprocess.Popen([LOCKBOXD, "-c", self.d.conf_path, "-f"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=REFUSAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            terminate(proc)
            self.fail("lockboxd kept running on a store it should refuse")
        self.assertNotEqual(proc.returncode, 0, "stdout=%r stderr=%r" % (out, err))
        said = [line for line in err.splitlines() if line.startswith("lockboxd: ")]
        for needle in needles:
            self.assertTrue(any(needle in line for line in said), "%r not in %r" % (needle, err))
        if regex:
            self.assertTrue(any(re.search(regex, line) for line in said),
                            "%r not in %r" % (regex, err))
        for path in (self.d.socket, self.d.pam_socket):
            self.assertFalse(os.path.lexists(path), "%s left behind" % path)
        return err

    def create_lockbox_schema(self):
        """The current lockbox schema in the Daemon's database: lockboxd made it once."""
        self.d.start()
        self.d.stop()

    def tables(self):
        return [row[0] for row in self.d.db(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "ORDER BY table_name")]

    def test_a_dsn_that_does_not_parse(self):
        for dsn in ("dbname", "host='unterminated", "nosuchoption=1 dbname=x"):
            with self.subTest(dsn=dsn):
                self.use_dsn(dsn)
                self.assert_refused("[store] dsn does not parse")

    def test_a_dsn_that_does_not_parse_is_not_quoted_back(self):
        """libpq's parse errors quote the text they stumbled on, which can be the password:
        lockboxd names the kind of mistake and never repeats a piece of the dsn."""
        secret = "Pw9secret"
        for dsn in ("postgresql://lockbox:%s%%zz@db.example/lockbox" % secret,
                    "postgresql://lockbox:%s@[::1/lockbox" % secret,
                    "host=db password=word %s" % secret,
                    "host=db password='%s" % secret):
            with self.subTest(dsn=dsn):
                self.use_dsn(dsn)
                err = self.assert_refused("[store] dsn does not parse")
                self.assertNotIn(secret, err)

    def test_an_unreachable_server(self):
        self.d.pg.create()
        self.use_dsn(make_dsn(host=os.path.join(self.d.dir, "no-server-here"), port=5432,
                              dbname=self.d.pg.name, user=OWNER, connect_timeout=2))
        self.assert_refused("cannot connect to the database")

    def test_a_newer_schema_version(self):
        self.create_lockbox_schema()
        self.d.db("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("999",))
        self.assert_refused("database schema version 999 is newer than this lockboxd")
        # Nothing was "migrated" down: the newer lockboxd's data stays as it left it.
        rows = self.d.db("SELECT value FROM meta WHERE key = 'schema_version'")
        self.assertEqual([str(value) for value, in rows], ["999"])

    def test_another_applications_meta_table(self):
        self.d.pg.create()
        self.d.db("CREATE TABLE meta (key text PRIMARY KEY, value text)")
        self.d.db("INSERT INTO meta (key, value) VALUES (?, ?)", ("app", "billing"))
        self.assert_refused("no lockbox schema version")
        self.assertEqual(self.tables(), ["meta"])
        self.assertEqual(self.d.db("SELECT key, value FROM meta"), [("app", "billing")])

    def test_a_user_without_rights_on_the_schema(self):
        self.d.pg.create()
        self.use_dsn(self.d.pg.dsn(user=READER))
        self.assert_refused(regex=r"creating or migrating lockbox's tables: .*permission denied")
        self.assertEqual(self.tables(), [])

    def test_a_standby(self):
        primary = shared_cluster()
        self.create_lockbox_schema()
        empty = Daemon(store="postgresql")  # a database without lockbox's tables, too
        self.addCleanup(empty.close)
        empty.pg.create()
        standby = primary.add_standby()
        self.addCleanup(standby.close)
        standby.wait_replayed(primary)
        for database in (self.d.pg.name, empty.pg.name):
            with self.subTest(database=database):
                self.use_dsn(make_dsn(host=standby.dir, port=standby.port, dbname=database,
                                      user=OWNER))
                self.assert_refused("the database is read-only")


if __name__ == "__main__":
    unittest.main()
