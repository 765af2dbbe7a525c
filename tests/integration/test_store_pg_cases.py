"""The store interface's cmocka cases (tests/unit/store_cases.h) on a real PostgreSQL 15: a
private cluster (pg_cluster.py), then build/tests/unit/test_store_pg with its DSN. The same
cases run on SQLite in unit_test_store_sqlite. Run as root: python3 test_store_pg_cases.py."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import pg_cluster  # noqa: E402

CASES = os.path.join(lt.BUILD, "tests", "unit", "test_store_pg")


class StoreCasesOnPostgreSQL(unittest.TestCase):
    def test_every_case_passes_on_postgresql(self):
        if not os.path.exists(CASES):
            self.skipTest("not built: %s" % CASES)
        with pg_cluster.Cluster() as cluster:
            env = dict(os.environ, LOCKBOX_TEST_PG_DSN=cluster.dsn())
            run = subprocess.run([CASES], env=env, capture_output=True, text=True, timeout=300)
        out = run.stdout + run.stderr
        self.assertEqual(run.returncode, 0, out)
        ran, passed = out.count("[ RUN      ]"), out.count("[       OK ]")
        self.assertGreater(ran, 10, "the cases did not run: %s" % out)
        self.assertEqual(ran, passed, out)


if __name__ == "__main__":
    unittest.main()
