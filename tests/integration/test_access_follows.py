"""Step 10: access follows the user, tenant and host, not the request. A session registered
through the module's session stack (the real libpam, pam_harness) lives while ANY current
approval covers its user, tenant and host: a second approval keeps it alive past the first
one's expiry (`show` moves it to the second request), revoking one of two approvals keeps it
(and says which request still approves it), revoking the last one ends it."""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("lbf")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, ENG = PREFIX + "_admin", PREFIX + "_eng"
TENANT, HOST = "contoso", "testhost"


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.LOCKBOXCTL, lt.PAM_MODULE, lt.PAM_HARNESS, why="adds users, registers sessions")
    U.add(ADMIN)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


alive = lt.process_alive


class AccessFollows(unittest.TestCase):
    def setUp(self):
        self.d = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]}, syslog=True,
                           daemon_extra={"session_grace": "1s", "session_warning": "0"})
        self.d.start()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            lt.terminate(p, sig=signal.SIGKILL, group=True)
            p.stdout.close()
        self.d.close()

    # --- helpers ---
    def ctl(self, user, *args):
        return lt.run_as(user, [lt.LOCKBOXCTL, "--socket", self.d.socket] + list(args))

    def approved(self, grant):
        """A new request for ENG, approved by ADMIN for `grant`; two approvals for the same
        user and host can be current at once (a new request is filed once the old one is no
        longer pending)."""
        req = self.d.file_request(ENG, "INC-10 access follows")
        out = self.ctl(ADMIN, "approve", req["id"], "--for", grant, "--comment", "ok")
        self.assertEqual(out.returncode, 0, out.stderr)
        return req["id"]

    def open_session(self):
        """`session required pam_lockbox.so` through the real libpam: the harness process is
        the session process (what sshd's or su's would be); it holds the session open."""
        confdir = os.path.join(self.d.dir, "pam.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "lbf-session"), "w") as f:
            f.write("session required %s socket=%s\n" % (lt.PAM_MODULE, self.d.pam_socket))
        p = subprocess.Popen([lt.PAM_HARNESS, "--confdir", confdir, "--service", "lbf-session",
                              "--user", ENG, "--stack", "session", "--hold", "60",
                              "--rhost", "203.0.113.7"],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        opened = json.loads(p.stdout.readline())
        self.assertEqual((opened["open_session"], opened["pid"]), ("PAM_SUCCESS", p.pid), opened)
        return p

    def shown(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200, obj)
        return obj

    def session_pids(self, rid, state="open"):
        return [s["pid"] for s in self.shown(rid)["sessions"] if s["state"] == state]

    def events(self, name, rid=None):
        return [e for e in self.d.audit_events()
                if e["event"] == name and (rid is None or e["request_id"] == rid)]

    def settled(self):
        """One API round trip: whatever lockboxd was doing when it wrote the last audit record
        (it is single-threaded) has finished."""
        self.assertEqual(self.d.call("GET", "/v1/health")[0], 200)

    def stays_alive(self, pid, seconds):
        """Negative check: the session process is not signalled within session_grace (1 s)
        plus lockboxd's notice delay; bounded, polled."""
        return lt.holds_for(lambda: alive(pid), seconds)

    # --- tests ---
    def test_a_second_approval_keeps_the_session_past_the_first_ones_expiry(self):
        first = self.approved("3s")
        p = self.open_session()
        self.assertEqual(self.session_pids(first), [p.pid])
        # A longer approval for the same user, tenant and host takes the session over at once.
        second = self.approved("1h")
        covered = self.d.syslog.wait_for("event=session.covered")
        self.assertTrue(covered, "\n".join(self.d.syslog.snapshot()))
        covered = covered[0]
        self.assertIn("id=%s was=%s user=%s" % (second, first, ENG), covered)
        self.assertEqual(self.session_pids(second), [p.pid],
                         "show did not move to the new approval")
        self.assertEqual(self.shown(first)["sessions"], [])
        shown = self.ctl(ADMIN, "show", second)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r"Sessions\s+session .*, pid %d, open since" % p.pid)
        # The first approval ends while the second is current: the session lives on.
        lt.wait_until(lambda: self.events("access.expired", first), 8,
                      "the first approval to expire")
        self.settled()
        self.assertEqual(self.shown(first)["state"], "expired")
        self.assertTrue(self.stays_alive(p.pid, 1.8), "the session ended with the first approval")
        self.assertEqual(self.events("session.terminated"), [])
        self.assertEqual(self.session_pids(second), [p.pid])

    def test_revoke_keeps_what_another_approval_covers_and_the_last_revoke_ends_it(self):
        longest = self.approved("3h")
        middle = self.approved("2h")
        shortest = self.approved("1h")
        p = self.open_session()
        # The session is bound to the longest current approval.
        self.assertEqual(self.session_pids(longest), [p.pid])
        # Revoke of one of three (over the API): kept, by the longest one left.
        status, obj = self.d.call("POST", "/v1/requests/%s/revoke" % longest,
                                  {"comment": "not this one"}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        self.assertEqual((obj["sessions_terminated"], obj["sessions_kept"],
                          obj["sessions_kept_by"]),
                         (0, 1, middle), obj)
        self.assertEqual(self.session_pids(middle), [p.pid])
        # Revoke of one of two (lockboxctl): kept, and the CLI says by which request.
        out = self.ctl(ADMIN, "revoke", middle, "--comment", "nor this one")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ended 0 live sessions of %s on %s." % (ENG, HOST), out.stdout)
        self.assertIn("Kept 1 session: request %s still approves %s on %s." % (shortest, ENG, HOST),
                      out.stdout)
        self.settled()
        self.assertTrue(self.stays_alive(p.pid, 1.8), "a covered session was ended by a revoke")
        self.assertEqual(self.events("session.terminated"), [])
        self.assertEqual(self.session_pids(shortest), [p.pid])
        # Revoke of the last approval ends it.
        out = self.ctl(ADMIN, "--json", "revoke", shortest, "--comment", "done")
        self.assertEqual(out.returncode, 0, out.stderr)
        obj = json.loads(out.stdout)
        self.assertEqual((obj["sessions_terminated"], obj["sessions_kept"],
                          obj["sessions_kept_by"]),
                         (1, 0, None), obj)
        self.assertEqual(p.wait(5), -signal.SIGHUP)
        self.assertFalse(alive(p.pid))
        terminated = self.events("session.terminated")
        self.assertEqual([(e["request_id"], e["actor"]) for e in terminated], [(shortest, ADMIN)])
        self.assertRegex(terminated[0]["comment"], r"revoked by %s" % re.escape(ADMIN))


if __name__ == "__main__":
    unittest.main()
