"""Step 8 end to end: with `session required pam_lockbox.so` in a real sshd's PAM stack, a live
ssh session is warned and then ended when its access expires, ended at once on revoke,
cleaned up when its process dies, and still enforced after lockboxd restarts. (A reused pid
is never signalled: tests/integration/test_sessions.py proves that against the daemon.)"""

import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e  # noqa: E402
from e2e_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("e2x")  # every account this file adds starts so
ADMIN = PREFIX + "_adm"
TENANT, HOST = "contoso", "testhost"
M = {}


def session_pam(daemon):
    return ("auth     required pam_deny.so\n"
            "@include common-account\n" + e.module_line("account", daemon, "wait=30") +
            "session  required pam_loginuid.so\n"
            "@include common-session\n" + e.module_line("session", daemon, "") +
            "password required pam_deny.so\n")


def setUpModule():
    e.require_e2e(e.SSHD, e.SSH)
    M["users"] = lt.Users(PREFIX)
    M["tmp"] = e.make_tmp("lbx-e2e-sessions-")
    try:
        M["users"].add(ADMIN)
        d = M["daemon"] = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]},
                                    syslog=True)
        with open(d.conf_path) as f:
            conf = f.read()
        with open(d.conf_path, "w") as f:
            f.write(conf.replace("[daemon]", "[daemon]\nsession_grace = 1s\nsession_warning = 3s", 1))
        d.start()
        M["key"] = e.UserKey(M["tmp"])
        pamdir = e.PamDir(M["tmp"])
        pamdir.write("sshd", session_pam(d))
        M["sshd"] = e.Sshd(M["tmp"], pamdir, M["key"], devlog=d.syslog.path).start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    if "sshd" in M:
        M["sshd"].stop()
    if "daemon" in M:
        M["daemon"].close()
    if "users" in M:
        M["users"].cleanup()
    shutil.rmtree(M.get("tmp", "/nonexistent"), ignore_errors=True)


class SessionCase(unittest.TestCase):
    counter = 0

    def setUp(self):
        SessionCase.counter += 1
        self.d, self.sshd, self.key = M["daemon"], M["sshd"], M["key"]
        self.user = M["users"].add("%s_eng%d" % (PREFIX, SessionCase.counter), home=True)
        self.key.authorize(self.user)
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.stop()

    def approve_ahead(self, grant):
        """Files and approves before the login (the recommended flow), so ssh gets in at once."""
        req = self.d.file_request(self.user, "INC-8 session test")
        out = e.ctl(self.d, ADMIN, "approve", req["id"], "--for", grant)
        self.assertEqual(out.returncode, 0, out.stderr)
        return req

    def interactive(self, command="echo SESSION-UP; sleep 120"):
        client = e.PtyClient(self.sshd.ssh_argv(self.key, self.user, command, batch=False,
                                                extra=("-tt",)))
        self.clients.append(client)
        self.assertTrue(client.expect("SESSION-UP", 30), client.output())
        return client

    def live_sessions(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200)
        return [s for s in obj["sessions"] if s["state"] == "open"]

    def session_events(self):
        return [(ev["event"], ev["actor"]) for ev in e.events(self.d, user=self.user)
                if ev["event"].startswith("session.")]


class Enforcement(SessionCase):
    def test_expiry_warns_then_ends_the_session_within_two_seconds(self):
        req = self.approve_ahead("6s")
        approved = time.monotonic()
        client = self.interactive()
        self.assertEqual(len(self.live_sessions(req["id"])), 1)
        self.assertTrue(client.expect("ends in", 10), client.output())
        code = client.wait(15)
        ended = time.monotonic()
        e.record("sshd-session-expired", [("what the ssh client showed", client.output()),
                                          ("exit status", str(code))])
        self.assertIsNotNone(code, "the session outlived its access")
        self.assertLess(ended - approved, 6 + 2 + 1.0)  # 1 s for the login itself
        self.assertIn("has ended (access expired)", client.output())
        self.assertEqual(self.session_events()[:2], [("session.opened", self.user),
                                                     ("session.terminated", "lockboxd")])

    def test_revoke_ends_the_session_at_once(self):
        req = self.approve_ahead("1h")
        client = self.interactive()
        out = e.ctl(self.d, ADMIN, "revoke", req["id"], "--comment", "done")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ended 1 live session of %s on %s." % (self.user, HOST), out.stdout)
        start = time.monotonic()
        code = client.wait(10)
        self.assertIsNotNone(code, "the session survived the revoke")
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn("has ended (revoked by %s)" % ADMIN, client.output())
        self.assertIn(("session.terminated", ADMIN), self.session_events())
        self.assertTrue(self.d.syslog.wait_for("event=session.terminated id=%s" % req["id"]))

    def test_a_finished_session_closes_and_a_killed_one_is_cleaned_up(self):
        req = self.approve_ahead("1h")
        done = e.Client(self.sshd.ssh_argv(self.key, self.user, "true"))
        self.clients.append(done)
        self.assertEqual(done.wait(30), 0, done.stderr())
        e.wait_until(lambda: ("session.closed", self.user) in self.session_events(), 10,
                     "the finished session's close")
        client = self.interactive()
        pid = self.live_sessions(req["id"])[0]["pid"]
        os.kill(pid, signal.SIGKILL)  # sshd's session process dies without closing the session
        e.wait_until(lambda: ("session.closed", "lockboxd") in self.session_events(), 10,
                     "lockboxd to close the killed session")
        self.assertEqual(self.live_sessions(req["id"]), [])
        client.wait(10)

    def test_restart_keeps_enforcement(self):
        req = self.approve_ahead("1h")
        client = self.interactive()
        self.d.restart()
        out = e.ctl(self.d, ADMIN, "revoke", req["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ended 1 live session", out.stdout)
        self.assertIsNotNone(client.wait(10), "the session survived revoke after a restart")

    def test_no_session_without_current_access(self):
        req = self.approve_ahead("1h")
        e.ctl(self.d, ADMIN, "revoke", req["id"])
        client = e.Client(self.sshd.ssh_argv(self.key, self.user, "echo SHOULD-NOT-RUN",
                                             extra=("-o", "ConnectTimeout=5")))
        self.clients.append(client)
        # The account stack now files a new request and waits; deny it.
        pending = e.wait_for_request(self.d, ADMIN, self.user)
        e.ctl(self.d, ADMIN, "deny", pending["id"])
        self.assertNotEqual(client.wait(30), 0)
        self.assertNotIn("SHOULD-NOT-RUN", client.stdout())


if __name__ == "__main__":
    unittest.main()
