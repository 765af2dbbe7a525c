"""Two lockboxd on one PostgreSQL database (Step 13). What one decides reaches the other's
sessions even when the other did not hear it: a notification is only a wake-up and is not
replayed after a broken connection, so a revoke decided while a lockboxd's listener was down
must still end that lockboxd's sessions once it is back. And either one verifies the chain
both append to."""

import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import pg_cluster  # noqa: E402  (also labels the suite postgresql)

PREFIX = lt.unique_prefix("lbp")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, ENG = PREFIX + "_admin", PREFIX + "_eng"
TENANT, HOST = "contoso", "testhost"
# Wake-ups a flood sends: one read of the store each would keep a lockboxd busy for minutes.
FLOOD = 1000000


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.LOCKBOXCTL, lt.PAM_MODULE, lt.PAM_HARNESS, why="adds users, registers sessions, runs PostgreSQL")
    U.add(ADMIN)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


alive = lt.process_alive


class TwoInstances(unittest.TestCase):
    def daemon(self, host=HOST):
        return lt.Daemon(tenant=TENANT, host=host, tenants={TENANT: [ADMIN]},
                         daemon_extra={"session_grace": "1s", "session_warning": "0"},
                         store="postgresql")

    def setUp(self):
        self.procs = []
        self.a = self.daemon()
        self.addCleanup(self.a.close)  # last: it drops the database
        self.a.start()
        self.a_backends = self.backends()
        # The second lockboxd uses the first one's database (and drops nothing).
        self.b = self.daemon(host=HOST + "-b")
        self.b.pg, self.b.store_dsn = None, self.a.store_dsn
        self.b.write_config()
        self.addCleanup(self.b.close)
        self.b.start()

    def tearDown(self):
        if self.a.proc is not None:
            os.kill(self.a.pid, signal.SIGCONT)
        for p in self.procs:
            lt.terminate(p, sig=signal.SIGKILL, group=True)
            p.stdout.close()

    def backends(self):
        """The database's server processes other than the asking one's."""
        rows = self.a.pg.rows("SELECT pid FROM pg_stat_activity WHERE datname = "
                              "current_database() AND pid <> pg_backend_pid()")
        return {row[0] for row in rows}

    def open_session(self, daemon):
        confdir = os.path.join(daemon.dir, "pam.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "lbp-session"), "w") as f:
            f.write("session required %s socket=%s\n" % (lt.PAM_MODULE, daemon.pam_socket))
        p = subprocess.Popen([lt.PAM_HARNESS, "--confdir", confdir, "--service", "lbp-session",
                              "--user", ENG, "--stack", "session", "--hold", "120"],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        opened = json.loads(p.stdout.readline())
        self.assertEqual((opened["open_session"], opened["pid"]), ("PAM_SUCCESS", p.pid), opened)
        return p

    def file_seqs(self, daemon):
        return [json.loads(line)["seq"] for line in daemon.audit_lines(daemon.audit_path)]

    def rotate(self, daemon, first_seq):
        """logrotate's way: the file moved aside, SIGHUP, a fresh file from first_seq on."""
        os.rename(daemon.audit_path, daemon.audit_path + ".1")
        daemon.hup()
        lt.wait_until(lambda: daemon.health()["audit_file_first_seq"] == first_seq, 10,
                      "the fresh audit file to start at %d" % first_seq)

    def deny(self, daemon, rid):
        status, obj = daemon.call("POST", "/v1/requests/%s/deny" % rid, {"comment": "no"},
                                  as_user=ADMIN)
        self.assertEqual(status, 200, obj)

    def test_each_host_rotates_its_own_mirror(self):
        # The first lockboxd mirrors records 1-2, then hands the mirror to the second.
        self.deny(self.a, self.a.file_request(ENG, "INC-13 rotation")["id"])
        lt.wait_until(lambda: self.file_seqs(self.a) == [1, 2], 10,
                      lambda: "the first mirror, at %r" % self.file_seqs(self.a))
        self.a.stop()
        lt.wait_until(lambda: self.file_seqs(self.b) == [1, 2], 10, "the mirror to move")
        self.a.start()
        self.deny(self.b, self.b.file_request(ENG, "INC-13 rotation")["id"])
        pending = self.b.file_request(ENG, "INC-13 rotation")["id"]
        lt.wait_until(lambda: self.file_seqs(self.b) == [1, 2, 3, 4, 5], 10,
                      lambda: "the mirror, at %r" % self.file_seqs(self.b))
        # Both rotate (the same logrotate run on every host): the second lockboxd's file went
        # to 5, the first one's, no longer the mirror, only to 2.
        self.rotate(self.b, 6)
        self.rotate(self.a, 3)
        self.deny(self.b, pending)
        lt.wait_until(lambda: self.file_seqs(self.b)[-1:] == [6], 10, "record 6 in the mirror")
        self.assertEqual(self.file_seqs(self.b), [6],
                         "the mirror's fresh file repeats what its rotated file holds")

    def test_the_chain_verifies_through_the_instance_that_did_not_append_last(self):
        # The first lockboxd (started first, it holds the mirror) appends; the second one's
        # own idea of the head stays where it last appended.
        for _ in range(3):
            self.a.file_request(ENG, "INC-13 chain")
        out = lt.run_as("root", [lt.LOCKBOXCTL, "--socket", self.b.socket, "audit", "verify",
                                 "--database"])
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("audit chain OK (database)", out.stdout)

    def test_a_flood_of_notifications_does_not_hold_up_a_revoke(self):
        """NOTIFY needs no privilege: any role that may connect to the database (here one that
        may only read) can send a million wake-ups. Each instance reads at most a batch of
        them one by one and otherwise reads everything it holds again, once."""
        req = self.a.file_request(ENG, "INC-13 flood")
        out = lt.run_as(ADMIN, [lt.LOCKBOXCTL, "--socket", self.a.socket, "approve", req["id"],
                                "--for", "1h", "--comment", "ok"])
        self.assertEqual(out.returncode, 0, out.stderr)
        session = self.open_session(self.a)
        sent = self.a.pg.rows("SELECT count(pg_notify('lockbox_requests', "
                              "'0123456789abcdef:' || md5(i::text))) "
                              "FROM generate_series(1, %d) AS i" % FLOOD, user=pg_cluster.READER)
        self.assertEqual(sent, [(FLOOD,)])
        # Delivered after the flood, to the first lockboxd as to every other.
        status, obj = self.b.call("POST", "/v1/requests/%s/revoke" % req["id"],
                                  {"comment": "after the flood"}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        try:
            session.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("the flood of notifications held up the revoke")
        self.assertEqual(self.a.call("GET", "/v1/health", timeout=5)[0], 200)

    def test_a_revoke_decided_while_the_listener_was_down_ends_the_session(self):
        req = self.a.file_request(ENG, "INC-13 peers")
        out = lt.run_as(ADMIN, [lt.LOCKBOXCTL, "--socket", self.a.socket, "approve", req["id"],
                                "--for", "1h", "--comment", "ok"])
        self.assertEqual(out.returncode, 0, out.stderr)
        session = self.open_session(self.a)
        # The first lockboxd stands still while the server drops its connections (as in a
        # failover) and the second revokes: the notification has nobody to reach there.
        os.kill(self.a.pid, signal.SIGSTOP)
        pids = ",".join(str(pid) for pid in self.a_backends)
        self.a.pg.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE pid IN (%s)" % pids)
        lt.wait_until(lambda: not (self.backends() & self.a_backends), 10,
                      "the first lockboxd's connections to end")
        status, obj = self.b.call("POST", "/v1/requests/%s/revoke" % req["id"],
                                  {"comment": "decided elsewhere"}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["sessions_terminated"], 0, obj)  # not this lockboxd's session
        os.kill(self.a.pid, signal.SIGCONT)
        # Back, it reconnects and checks its sessions against the approvals as they are now.
        try:
            code = session.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("the session outlived a revoke the other lockboxd decided")
        self.assertEqual(code, -signal.SIGHUP)
        self.assertFalse(alive(session.pid))


if __name__ == "__main__":
    unittest.main()
