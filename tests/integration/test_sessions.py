"""Session enforcement in lockboxd (Step 8, daemon side): sessions registered by a real process
over the socket are warned, terminated on revoke and on expiry, cleaned up when their process
exits, survive a daemon restart, and a reused pid is never signalled."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import (Daemon, Users, LOCKBOXCTL, PAM_HARNESS, PAM_MODULE,  # noqa: E402
                             SANITIZED, holds_for, process_alive, read_until, terminate,
                             unique_prefix, wait_until)

PREFIX = unique_prefix("lbs")  # every account this file adds starts so
U = Users(PREFIX)
ADMIN, ENG = PREFIX + "_admin", PREFIX + "_eng"
HERE = os.path.dirname(os.path.abspath(__file__))

# A stand-in for sshd's session process: it registers itself (so SO_PEERCRED names it) and
# then lives on, with a child of its own, until it is signalled.
SESSION_PROCESS = r"""
import json, os, sys, time
sys.path.insert(0, %r)
from lockbox_testlib import http_call
status, body = http_call(sys.argv[1], "POST", "/v1/sessions", json.loads(sys.argv[2]))
print(json.dumps([status, body]), flush=True)
if status != 201:
    sys.exit(1)
if os.fork() == 0:
    time.sleep(120)
    os._exit(0)
time.sleep(120)
""" % HERE


def setUpModule():
    U.add(ADMIN)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


alive = process_alive


def wait_dead(pid, timeout):
    return wait_until(lambda: not alive(pid), timeout, "pid %d to end" % pid, step=0.02)


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def whole_line(path):
    """The file's text once a whole line is in it (a shell's `echo $$ > path`), else None."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return text if text.endswith("\n") else None


class SessionCase(unittest.TestCase):
    ttl = "12h"

    def setUp(self):
        self.d = Daemon(tenants={"contoso": [ADMIN]}, access_ttl=self.ttl)
        self.d.write_config()
        with open(self.d.conf_path) as f:
            conf = f.read()
        with open(self.d.conf_path, "w") as f:
            f.write(conf.replace("[daemon]", "[daemon]\nsession_grace = 1s\nsession_warning = %s"
                                 % self.warning(), 1))
        self.d.start()
        self.procs = []

    def warning(self):
        return "0"

    def tearDown(self):
        # Each stand-in leads its own process group (with the child it forked): end all of
        # it, or a leftover would hold ctest's output pipe open until it exits by itself.
        for p in self.procs:
            terminate(p, sig=signal.SIGKILL, group=True)
        self.d.close()

    def approved(self, user=ENG):
        req = self.d.file_request(user, "INC-8")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        return req

    def open_session(self, user=ENG, **extra):
        body = dict(user=user, service="sshd", **extra)
        p = subprocess.Popen([sys.executable, "-c", SESSION_PROCESS, self.d.socket, json.dumps(body)],
                             stdout=subprocess.PIPE, text=True, start_new_session=True,
                             **self.popen_extra())
        self.procs.append(p)
        status, obj = json.loads(p.stdout.readline())
        return p, status, obj

    def popen_extra(self):
        return {}

    def child_of(self, pid):
        # The stand-in forks after it has registered.
        return wait_until(lambda: children(pid), 5, "a child of %d" % pid, step=0.02)

    def events(self):
        return [e["event"] for e in self.d.audit_events()]


class Enforcement(SessionCase):
    def test_refused_without_current_access(self):
        p, status, obj = self.open_session()
        self.assertEqual(status, 403, obj)
        self.assertIn("not current", obj["message"])

    def test_only_root_registers(self):
        status, _ = self.d.call("POST", "/v1/sessions", {"user": ENG}, as_user=ENG)
        self.assertEqual(status, 403)

    def test_revoke_ends_the_session_at_once(self):
        req = self.approved()
        p, status, obj = self.open_session()
        self.assertEqual(status, 201, obj)
        children = self.child_of(p.pid)
        self.assertEqual(len(children), 1)
        status, shown = self.d.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual([s["state"] for s in shown["sessions"]], ["open"])
        self.assertEqual(shown["sessions"][0]["pid"], p.pid)
        status, obj = self.d.call("POST", "/v1/requests/%s/revoke" % req["id"], {}, as_user=ADMIN)
        self.assertEqual((status, obj["sessions_terminated"]), (200, 1))
        self.assertTrue(wait_dead(p.pid, 5), "the session leader survived the revoke")
        self.assertTrue(wait_dead(children[0], 5), "the session's child survived the revoke")
        self.assertIn("session.terminated", self.events())
        rec = [e for e in self.d.audit_events() if e["event"] == "session.terminated"][0]
        self.assertEqual(rec["actor"], ADMIN)

    def test_session_whose_process_exited_is_cleaned_up(self):
        req = self.approved()
        p, status, _ = self.open_session()
        self.assertEqual(status, 201)
        terminate(p, sig=signal.SIGKILL)
        wait_until(lambda: "session.closed" in self.events(), 5, "session.closed")
        closed = [e for e in self.d.audit_events() if e["event"] == "session.closed"]
        self.assertEqual(len(closed), 1)
        self.assertEqual(closed[0]["actor"], "lockboxd")
        _, shown = self.d.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual(shown["sessions"][0]["state"], "closed")

    def test_close_from_the_module(self):
        self.approved()
        p, status, obj = self.open_session()
        status, _ = self.d.call("POST", "/v1/sessions/%s/close" % obj["session_id"], {})
        self.assertEqual(status, 200)
        self.assertEqual(self.events().count("session.closed"), 1)
        self.assertTrue(alive(p.pid))  # closing never signals anything

    def test_restart_keeps_enforcement(self):
        req = self.approved()
        p, status, _ = self.open_session()
        self.assertEqual(status, 201)
        self.d.restart()
        status, obj = self.d.call("POST", "/v1/requests/%s/revoke" % req["id"], {}, as_user=ADMIN)
        self.assertEqual(obj["sessions_terminated"], 1)
        self.assertTrue(wait_dead(p.pid, 5))

    def test_recycled_pid_is_never_signalled(self):
        req = self.approved()
        p, status, obj = self.open_session()
        self.assertEqual(status, 201)
        self.d.stop()
        bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.procs.append(bystander)
        # As if the session's pid had been reused by an unrelated process while lockboxd was
        # down: same row, the bystander's pid, the old start time.
        self.d.db("UPDATE sessions SET pid = ? WHERE id = ?", (bystander.pid, obj["session_id"]))
        self.d.start()
        status, obj2 = self.d.call("POST", "/v1/requests/%s/revoke" % req["id"], {}, as_user=ADMIN)
        self.assertEqual((status, obj2["sessions_terminated"]), (200, 0))
        # Negative check: session_grace (1 s) passes and the bystander is still untouched.
        self.assertTrue(holds_for(lambda: alive(bystander.pid), 1.5), "a reused pid was signalled")
        _, shown = self.d.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual(shown["sessions"][0]["state"], "closed")

    def test_ctl_show_lists_sessions_and_revoke_reports_them(self):
        req = self.approved()
        p, status, _ = self.open_session()
        shown = subprocess.run([LOCKBOXCTL, "--socket", self.d.socket, "show", req["id"]],
                               capture_output=True, text=True)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r"Sessions\s+session .*, pid %d, open since" % p.pid)
        revoked = subprocess.run(["runuser", "-u", ADMIN, "--", LOCKBOXCTL, "--socket",
                                  self.d.socket, "revoke", req["id"]], capture_output=True, text=True)
        self.assertEqual(revoked.returncode, 0, revoked.stderr)
        self.assertIn("Ended 1 live session of %s on testhost." % ENG, revoked.stdout)


class Expiry(SessionCase):
    ttl = "3s"

    def test_expiry_terminates_within_two_seconds(self):
        req = self.approved()
        approved_at = time.monotonic()
        p, status, _ = self.open_session()
        self.assertEqual(status, 201)
        self.assertTrue(wait_dead(p.pid, 8))
        elapsed = time.monotonic() - approved_at
        self.assertLess(elapsed, 3 + 2 + 0.5)
        self.assertGreater(elapsed, 2.5)
        self.assertEqual(self.d.call("GET", "/v1/requests/" + req["id"])[1]["state"], "expired")
        events = self.events()
        self.assertLess(events.index("access.expired"), events.index("session.terminated"))


class Warning(SessionCase):
    ttl = "4s"

    def warning(self):
        return "2s"

    def popen_extra(self):
        master, slave = pty.openpty()
        self.master = master
        self.slave_name = os.ttyname(slave)
        return {"stdin": slave}

    def test_warning_then_termination_reach_the_terminal(self):
        # The pty belongs to root, so the session is root's: the daemon writes only to a
        # terminal its session user owns.
        req = self.d.file_request("root", "tty test")
        self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ADMIN)
        p, status, obj = self.open_session(user="root")
        self.assertEqual(status, 201, obj)
        seen = read_until(self.master, b"being closed", 8)
        self.assertIn(b"ends in", seen)
        self.assertIn(b"has ended (access expired)", seen)
        self.assertLess(seen.index(b"ends in"), seen.index(b"has ended"))


class ModuleSessionStack(SessionCase):
    """`session required pam_lockbox.so` loaded by the real libpam (pam_harness)."""

    def harness(self, user, hold=60, failmode="secure", socket=None):
        confdir = os.path.join(self.d.dir, "pam.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "lbs-session"), "w") as f:
            f.write("session required %s socket=%s failmode=%s\n"
                    % (PAM_MODULE, socket or self.d.pam_socket, failmode))
        p = subprocess.Popen([PAM_HARNESS, "--confdir", confdir, "--service", "lbs-session",
                              "--user", user, "--stack", "session", "--hold", str(hold),
                              "--tty", "/dev/pts/999", "--rhost", "203.0.113.7"],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        return p, json.loads(p.stdout.readline())

    def test_open_refused_without_access(self):
        p, opened = self.harness(ENG)
        self.assertEqual(opened["open_session"], "PAM_SESSION_ERR")
        self.assertNotIn("session.opened", self.events())

    def test_open_then_revoke_ends_the_login(self):
        req = self.approved()
        p, opened = self.harness(ENG)
        self.assertEqual((opened["open_session"], opened["pid"]), ("PAM_SUCCESS", p.pid))
        _, shown = self.d.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual(shown["sessions"][0]["pid"], p.pid)
        self.assertEqual(shown["sessions"][0]["service"], "lbs-session")
        status, obj = self.d.call("POST", "/v1/requests/%s/revoke" % req["id"], {}, as_user=ADMIN)
        self.assertEqual(obj["sessions_terminated"], 1)
        p.wait(5)
        self.assertEqual(p.returncode, -signal.SIGHUP)

    def test_close_session_deregisters(self):
        self.approved()
        p, opened = self.harness(ENG, hold=1)
        self.assertEqual(opened["open_session"], "PAM_SUCCESS")
        self.assertEqual(json.loads(p.stdout.readline())["close_session"], "PAM_SUCCESS")
        p.wait(5)
        closed = [e for e in self.d.audit_events() if e["event"] == "session.closed"]
        self.assertEqual([e["actor"] for e in closed], [ENG])

    def test_unreachable_daemon(self):
        missing = os.path.join(self.d.dir, "run", "absent.sock")
        p, opened = self.harness(ENG, socket=missing)
        self.assertEqual(opened["open_session"], "PAM_SESSION_ERR")
        p, opened = self.harness(ENG, socket=missing, failmode="safe", hold=0)
        self.assertEqual(opened["open_session"], "PAM_SUCCESS")


ESCAPING_SESSION = r"""
import json, os, subprocess, sys, time
sys.path.insert(0, %r)
from lockbox_testlib import http_call
with open("/proc/self/loginuid", "w") as f:  # what pam_loginuid does: a new audit session
    f.write(str(__import__("pwd").getpwnam(json.loads(sys.argv[2])["user"]).pw_uid))
status, body = http_call(sys.argv[1], "POST", "/v1/sessions", json.loads(sys.argv[2]))
escaped = subprocess.Popen(["setsid", "-f", "sh", "-c", "echo $$ > %%s; exec sleep 120" %% sys.argv[3]])
print(json.dumps([status, body]), flush=True)
time.sleep(120)
""" % HERE


class Escapes(SessionCase):
    def test_a_process_that_left_the_tree_still_ends(self):
        req = self.approved()
        pidfile = os.path.join(self.d.dir, "escaped.pid")
        p = subprocess.Popen([sys.executable, "-c", ESCAPING_SESSION, self.d.socket,
                              json.dumps({"user": ENG, "service": "sshd"}), pidfile],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        status, obj = json.loads(p.stdout.readline())
        self.assertEqual(status, 201, obj)
        escaped = int(wait_until(lambda: whole_line(pidfile), 5, "the escaped pid's file"))
        self.assertNotIn(escaped, children(p.pid) if alive(p.pid) else [])  # reparented
        status, obj = self.d.call("POST", "/v1/requests/%s/revoke" % req["id"], {}, as_user=ADMIN)
        self.assertEqual(obj["sessions_terminated"], 1)
        self.assertTrue(wait_dead(p.pid, 5))
        self.assertTrue(wait_dead(escaped, 5), "a setsid()-escaped process outlived the revoke")


if __name__ == "__main__":
    unittest.main()
