"""lockboxctl's everyday edges (Step 11), against a real lockboxd as real users: request ids by
unique prefix wherever an id is taken, the `list` table at 80 columns (short ids, a readable
reason, --wide), durations rounded to the nearest unit, refusals that name the limit or the
right command, `audit --since 1h`, `show`'s session lines, the revoking admin's comment on the
engineer's terminal, and the mark on an admin's own pending request.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_ctl_ux.py -v (as root).
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lockbox_testlib import (RAW_CONTROL, CliAssertions,  # noqa: E402
                             LOCKBOXCTL, Daemon, Users, http_call, read_until,  # noqa: E402
                             run_as, terminate, unique_prefix, wait_until)

# Short names (ENG is 8 characters): at 80 columns the `list` table must leave 30 of them
# to the reason.
PREFIX = unique_prefix("u", 4)  # every account this file adds starts so
ALICE = PREFIX + "alice"      # admin of contoso
CAROL = PREFIX + "carol"      # admin of contoso
BOB = PREFIX + "bob"          # admin of fabrikam only
ENG = PREFIX + "eng"          # an engineer
MALLORY = PREFIX + "mallory"  # nobody's admin

HERE = os.path.dirname(os.path.abspath(__file__))

# Ids the prefix tests give requests (lockboxd's own are random): A and B share "c0ffee123",
# F (fabrikam) shares "c0ffee" with both.
ID_A = "c0ffee123a" + "0" * 22
ID_B = "c0ffee123b" + "0" * 22
ID_F = "c0ffee9" + "0" * 25

# A stand-in for sshd's session process: registers itself over the HTTP socket (root only),
# prints the reply, then lives until it is signalled.
SESSION_PROCESS = r"""
import json, sys, time
sys.path.insert(0, %r)
from lockbox_testlib import http_call
status, body = http_call(sys.argv[1], "POST", "/v1/sessions", json.loads(sys.argv[2]))
print(json.dumps([status, body]), flush=True)
time.sleep(120 if status == 201 else 0)
""" % HERE


class CtlUxTest(CliAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates users, runs lockboxd)")
        if not os.access(LOCKBOXCTL, os.X_OK):
            raise unittest.SkipTest("lockboxctl is not built at %s" % LOCKBOXCTL)
        cls.users = Users(PREFIX)
        try:
            for name in (ALICE, CAROL, BOB, ENG, MALLORY):
                cls.users.add(name)
        except Exception:
            cls.users.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.users.cleanup()

    def setUp(self):
        self.daemon = self.start_daemon()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            terminate(p, sig=signal.SIGKILL, group=True)
            p.stdout.close()

    def start_daemon(self, **kw):
        # A central: requests here are filed for several hosts (Step 15: a lockboxd on a host
        # files for that host only).
        daemon = Daemon(tenants={"contoso": [ALICE, CAROL], "fabrikam": [BOB]},
                        daemon_extra={"session_grace": "1s", "session_warning": "0"},
                        central=True, **kw)
        self.addCleanup(daemon.close)
        return daemon.start()

    # --- helpers ---
    def ctl(self, user, *args, env=None, timeout=60):
        """The built lockboxctl as `user`, its stdout a pipe of COLUMNS (default 80) columns."""
        argv = [LOCKBOXCTL, "--socket", self.daemon.socket] + list(args)
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("NO_COLOR", "LOCKBOX_SOCKET", "COLUMNS")}
        full_env["COLUMNS"] = "80"
        full_env.update(env or {})
        if user == "root":
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env=full_env)
        return run_as(user, argv, env=full_env, timeout=timeout)

    def file_as(self, user, reason="INC-4711 disk full", *extra):
        result = self.assert_ok(self.ctl(user, "--json", "request", "--reason", reason, *extra))
        return json.loads(result.stdout)

    def state_of(self, request_id):
        status, obj = self.daemon.call("GET", "/v1/requests/" + request_id)
        self.assertEqual(status, 200, obj)
        return obj["state"]

    def with_ids(self, renames):
        """Gives requests the ids in renames {old: new}: lockboxd is stopped meanwhile (it
        reads requests from its database on every call, and keeps none of these in memory
        that matters here: they are pending, with no sessions and no notifications)."""
        self.daemon.stop()
        con = sqlite3.connect(self.daemon.db_path)
        with con:
            for old, new in renames.items():
                con.execute("UPDATE requests SET id = ? WHERE id = ?", (new, old))
        con.close()
        self.daemon.start()

    def prefixed_requests(self):
        """A and B (contoso, by ENG) and F (fabrikam, by ENG) with the ids above."""
        a = self.file_as(ENG, "INC-1 a", "--host", "ha")
        b = self.file_as(ENG, "INC-2 b", "--host", "hb")
        f = self.file_as(ENG, "INC-3 f", "--tenant", "fabrikam", "--host", "fabrikam-db1")
        self.with_ids({a["id"]: ID_A, b["id"]: ID_B, f["id"]: ID_F})
        return ID_A, ID_B, ID_F

    def run_on_tty(self, user, args, columns):
        """lockboxctl as `user` with stdout on a pseudo-terminal of `columns` columns."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS",)}
        env["NO_COLOR"] = "1"
        proc = subprocess.Popen(["runuser", "-u", user, "--", LOCKBOXCTL, "--socket",
                                 self.daemon.socket] + list(args),
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                                env=env)
        os.close(slave)
        output = b""
        try:
            while select.select([master], [], [], 20)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
        finally:
            os.close(master)
            proc.wait(30)
        self.assertEqual(proc.returncode, 0, proc.stderr.read())
        proc.stderr.close()
        return output.decode("utf-8").replace("\r", "")

    def open_session(self, user, **extra):
        """Registers a stand-in session process for `user` (root's HTTP route, as the module's
        session_open does on the login socket)."""
        popen_extra = extra.pop("_popen", {})
        body = dict(user=user, **extra)
        body.setdefault("service", "sshd")
        p = subprocess.Popen([sys.executable, "-c", SESSION_PROCESS, self.daemon.socket,
                              json.dumps(body)], stdout=subprocess.PIPE, text=True,
                             start_new_session=True, **popen_extra)
        self.procs.append(p)
        status, obj = json.loads(p.stdout.readline())
        self.assertEqual(status, 201, obj)
        return p, obj["session_id"]

    # --- ids by prefix ---
    def test_a_unique_prefix_works_wherever_an_id_is_taken(self):
        a, b, f = self.prefixed_requests()
        shown = self.assert_ok(self.ctl(ALICE, "show", a[:10]))
        self.assertRegex(shown.stdout, r"(?m)^Request\s+%s$" % a)
        waited = self.assert_fails(self.ctl(ENG, "wait", b[:10], "--timeout", "0"), 1,
                                   "still pending")
        self.assertIn(b, waited.stdout)
        self.assert_ok(self.ctl(ALICE, "approve", a[:10], "--comment", "ok"))
        self.assertEqual(self.state_of(a), "approved")
        self.assert_ok(self.ctl(ENG, "wait", a[:10]))
        self.assert_ok(self.ctl(ALICE, "revoke", a[:10]))
        self.assertEqual(self.state_of(a), "revoked")
        self.assert_ok(self.ctl(ALICE, "deny", b[:10]))
        self.assertEqual(self.state_of(b), "denied")
        # What a caller may read decides what a prefix can mean: bob (fabrikam) sees only F,
        # so "c0ffee" is F to him; the engineer may read all three.
        self.assertIn(f, self.assert_ok(self.ctl(BOB, "show", "c0ffee")).stdout)
        self.assertIn(f, self.assert_ok(self.ctl(ENG, "show", f[:7])).stdout)
        self.assert_ok(self.ctl(BOB, "approve", "c0ffee"))
        self.assertEqual(self.state_of(f), "approved")

    def test_an_ambiguous_prefix_names_the_candidates_it_may_show(self):
        a, b, f = self.prefixed_requests()
        before = self.daemon.audit_lines()
        for args in (("show", "c0ffee12"), ("approve", "c0ffee123"), ("deny", "c0ffee"),
                     ("revoke", "c0ffee1"), ("wait", "c0ffee", "--timeout", "0")):
            with self.subTest(args=args):
                result = self.assert_fails(self.ctl(ALICE, *args), 1, "ambiguous", a, b,
                                           "type more")
                # Alice reads contoso only: fabrikam's F is not hers to see, nor to be told of.
                self.assertNotIn(f, result.stderr)
        self.assert_fails(self.ctl(ENG, "show", "c0ffee"), 1, "3 requests", a, b, f)
        # The API the completion uses: only what the caller may read, only hex.
        for user, expected in ((ALICE, {a, b}), (BOB, {f}), (ENG, {a, b, f}), (MALLORY, set())):
            status, obj = self.daemon.call("GET", "/v1/requests?state=all&id_prefix=c0ffee",
                                           as_user=user)
            self.assertEqual((status, {r["id"] for r in obj["requests"]}), (200, expected))
        status, obj = self.daemon.call("GET", "/v1/requests?state=all&id_prefix=c0ffee123a",
                                       as_user=ALICE)
        self.assertEqual([r["id"] for r in obj["requests"]], [a])
        for bad in ("C0FFEE", "c0ffeeg", "", "0" * 33):
            status, obj = self.daemon.call("GET", "/v1/requests?id_prefix=" + bad)
            self.assertEqual(status, 400, (bad, obj))
        self.assertEqual(self.daemon.audit_lines(), before)
        self.assertEqual([self.state_of(i) for i in (a, b, f)], ["pending"] * 3)

    def test_a_prefix_too_short_or_matching_nothing_is_refused(self):
        a, _, f = self.prefixed_requests()
        for verb in ("show", "approve", "deny", "revoke", "wait"):
            with self.subTest(verb=verb):
                self.assert_fails(self.ctl(ALICE, verb, a[:5]), 2, "at least 6")
                self.assert_fails(self.ctl(ALICE, verb, "C0FFEE"), 2, "lowercase hex")
                self.assert_fails(self.ctl(ALICE, verb, "0badc0de"), 1,
                                  "no request you may read", "0badc0de")
        # Nothing of another tenant's request shows through a prefix.
        self.assert_fails(self.ctl(ALICE, "show", f[:7]), 1, "no request you may read")
        self.assert_fails(self.ctl(MALLORY, "wait", a[:8]), 1, "no request you may read")
        self.assertEqual(self.state_of(a), "pending")

    # --- the list table ---
    def test_list_at_80_columns_keeps_the_reason_and_shows_short_ids(self):
        reason = ("INC-4711 disk full on /var/log: rotate and compress the old journal files, "
                  "then check the backups")
        a, b, _ = self.prefixed_requests()
        time.sleep(1.1)  # created_at is in whole seconds; newest first: the long reason on top
        req = self.file_as(ENG, reason, "--host", "db01.example")
        for result in (self.ctl(ALICE, "list"), self.run_on_tty(ALICE, ["list"], 80)):
            out = result if isinstance(result, str) else self.assert_ok(result).stdout
            lines = out.splitlines()
            self.assertTrue(all(len(line) <= 80 for line in lines), lines)
            # A list of pending requests of one tenant: neither STATE nor TENANT would say
            # anything, so their columns are the reason's.
            self.assertEqual(lines[0].split(), ["ID", "USER", "HOST", "AGE", "LEFT", "REASON"])
            # The reason keeps at least 30 columns: an approver judges it.
            shown = lines[1][lines[0].index("REASON"):]
            self.assertTrue(shown.startswith(reason[:30]), (shown, lines))
            self.assertTrue(shown.endswith("..."), shown)
            # Short ids: 8 characters, and all 10 here, where A and B would look alike.
            ids = [line.split()[0] for line in lines[1:]]
            self.assertEqual(ids[0], req["id"][:10])
            self.assertEqual(sorted(ids[1:]), [a[:10], b[:10]])
            self.assertNotIn(req["id"], out)
        # Each short id is an id: it works where one is taken.
        self.assertIn(req["id"], self.assert_ok(self.ctl(ALICE, "show", ids[0])).stdout)
        self.assert_ok(self.ctl(ALICE, "deny", a))
        self.assert_ok(self.ctl(ALICE, "deny", b))
        ids = [line.split()[0] for line in self.assert_ok(self.ctl(ALICE, "list")).stdout
               .splitlines()[1:]]
        self.assertEqual(ids, [req["id"][:8]])

    def test_list_wide_shows_whole_ids_and_the_whole_reason(self):
        reason = "INC-4712 " + "the whole story of this disk, " * 5
        reason = reason.strip()
        req = self.file_as(ENG, reason, "--host", "db01.example")
        other = self.file_as(ENG, "INC-4713", "--tenant", "fabrikam", "--host", "fabrikam-db1")
        out = self.assert_ok(self.ctl("root", "list", "--wide")).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "STATE", "USER", "TENANT", "HOST", "AGE",
                                            "LEFT", "REASON"])
        self.assertTrue(any(line.startswith(req["id"] + " ") and line.endswith(reason)
                            for line in lines), lines)
        self.assertTrue(any(line.startswith(other["id"] + " ") for line in lines), lines)
        self.assertTrue(any(len(line) > 80 for line in lines))
        # Without --wide, TENANT shows because the rows are of two tenants.
        narrow = self.assert_ok(self.ctl("root", "list")).stdout.splitlines()
        self.assertIn("TENANT", narrow[0].split())
        self.assertTrue(all(len(line) <= 80 for line in narrow), narrow)
        # An admin of one tenant sees one tenant's rows: the column gives its room away.
        alice = self.assert_ok(self.ctl(ALICE, "list")).stdout.splitlines()
        self.assertNotIn("TENANT", alice[0].split())

    def test_an_admins_own_pending_request_is_marked(self):
        own = self.file_as(ALICE, "alice needs access", "--host", "own")
        other = self.file_as(ENG, "eng needs access", "--host", "other")
        asked = self.daemon.file_request(ENG, "alice su's to eng", requester=ALICE,
                                         service="su-l", host="asked")
        out = self.assert_ok(self.ctl(ALICE, "list")).stdout
        lines = out.splitlines()
        rows = {line.split()[0]: line.split()[1] for line in lines[1:-1]}
        self.assertEqual(rows, {own["id"][:8]: "*", asked["id"][:8]: "*",
                                other["id"][:8]: ENG}, out)
        self.assertEqual(lines[-1], "* your own request: another admin of its tenant must "
                                    "decide it")
        # For another admin, none is hers; a decided request is nobody's to decide.
        carol = self.assert_ok(self.ctl(CAROL, "list")).stdout
        self.assertNotIn(" * ", carol)
        self.assertNotIn("your own request", carol)
        self.assert_ok(self.ctl(CAROL, "deny", own["id"]))
        everything = self.assert_ok(self.ctl(ALICE, "list", "--state", "all")).stdout
        self.assertRegex(everything, r"(?m)^%s  +denied " % own["id"][:8])
        # The mark says what the daemon does.
        self.assert_fails(self.ctl(ALICE, "approve", asked["id"]), 1, "your own request")

    # --- durations, limits and refusals ---
    def test_durations_round_to_the_nearest_unit(self):
        req = self.file_as(ENG)
        self.assert_ok(self.ctl(ALICE, "approve", req["id"], "--for", "30m"))
        time.sleep(1.2)  # a moment later, 29m58s are left: that is "30m", not "29m"
        shown = self.assert_ok(self.ctl(ALICE, "show", req["id"])).stdout
        self.assertRegex(shown, r"(?m)^Expires\s+in 30m \(")
        waited = self.assert_ok(self.ctl(ENG, "wait", req["id"])).stdout
        self.assertIn("(in 30m)", waited)
        listed = self.assert_ok(self.ctl(ALICE, "list", "--state", "approved")).stdout
        self.assertRegex(listed.splitlines()[1], r"  \d+s  +30m  ")
        pending = self.file_as(ENG, "INC-2", "--host", "db02")
        shown = self.assert_ok(self.ctl(ALICE, "show", pending["id"])).stdout
        self.assertRegex(shown, r"(?m)^Expires\s+in 12h \(")

    def test_the_access_ttl_refusal_names_the_limit(self):
        req = self.file_as(ENG)
        self.assert_fails(self.ctl(ALICE, "approve", req["id"], "--for", "13h"), 1,
                          "'for' may not exceed access_ttl (12h)")
        daemon = self.start_daemon(access_ttl="90m")
        status, obj = daemon.call("POST", "/v1/requests", {"reason": "x"}, as_user=ENG)
        self.assertEqual(status, 201, obj)
        status, obj = daemon.call("POST", "/v1/requests/%s/approve" % obj["id"], {"for": "2h"},
                                  as_user=ALICE)
        self.assertEqual((status, obj["message"]),
                         (400, "'for' may not exceed access_ttl (1h30m)"), obj)

    def test_deny_on_an_approved_request_suggests_revoke(self):
        req = self.file_as(ENG)
        self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
        before = self.daemon.audit_lines()
        self.assert_fails(self.ctl(CAROL, "deny", req["id"]), 1,
                          "is approved; only a pending request can be denied",
                          "lockboxctl revoke %s" % req["id"])
        self.assertEqual(self.daemon.audit_lines(), before)
        self.assertEqual(self.state_of(req["id"]), "approved")

    def test_audit_since_takes_a_time_ago(self):
        req = self.file_as(ENG)
        self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
        for since in ("1h", "2d", "90s"):
            with self.subTest(since=since):
                out = self.assert_ok(self.ctl(ALICE, "--json", "audit", "--since", since))
                self.assertEqual([json.loads(l)["event"] for l in out.stdout.splitlines()],
                                 ["request.created", "request.approved"])
        time.sleep(2.2)  # the clock itself is under test: the records are now over 1 s old
        self.assertEqual(self.assert_ok(self.ctl(ALICE, "audit", "--since", "1s")).stdout, "")
        self.assert_fails(self.ctl(ALICE, "audit", "--since", "0h"), 2, "1h or 2d", "RFC 3339")

    # --- sessions ---
    def test_show_explains_each_session(self):
        req = self.file_as(ENG)
        self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
        p, session_id = self.open_session(ENG, rhost="203.0.113.7", tty="/dev/pts/77")
        shown = self.assert_ok(self.ctl(ALICE, "show", req["id"])).stdout
        self.assertRegex(shown, r"(?m)^Sessions\s+session %s: sshd from 203\.0\.113\.7 on "
                                r"/dev/pts/77, pid %d, open since \d\d:\d\d UTC \(\d+s ago\)$"
                         % (session_id[:8], p.pid))
        terminate(p, sig=signal.SIGKILL, group=True)
        session = wait_until(lambda: next((s for s in self.daemon.call(
            "GET", "/v1/requests/" + req["id"])[1]["sessions"] if s["state"] != "open"), None),
            5, "the session to be closed")
        self.assertEqual(session["state"], "closed", session)
        self.assertEqual(session["state"], "closed", session)
        shown = self.assert_ok(self.ctl(ALICE, "show", req["id"])).stdout
        line = [l for l in shown.splitlines() if "session " + session_id[:8] in l][0]
        self.assertRegex(line, r"pid %d, opened \d\d:\d\d UTC, closed \d\d:\d\d UTC "
                               r"\(\d+s ago\)" % p.pid)
        left_running = "; processes it left running end with the access"
        if session["leftovers_tracked"]:
            self.assertTrue(line.endswith(left_running), line)
        else:
            self.assertNotIn(left_running, line)
        # A session without a remote host or terminal says nothing of them.
        q, quiet_id = self.open_session(ENG, service="su-l")
        shown = self.assert_ok(self.ctl(ALICE, "show", req["id"])).stdout
        self.assertRegex(shown, r"(?m)^\s+session %s: su-l, pid %d, open since "
                         % (quiet_id[:8], q.pid))

    def test_the_revoke_notice_carries_the_admins_comment(self):
        # The pty is root's, so the session is root's: lockboxd writes only to a terminal its
        # session user owns.
        req = self.daemon.file_request("root", "INC-9 tty")
        self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
        master, slave = pty.openpty()
        p, _ = self.open_session("root", _popen={"stdin": slave})
        os.close(slave)
        comment = "INC-9 is closed; log out now \u2014 ask me if you need more"
        self.assert_ok(self.ctl(ALICE, "revoke", req["id"], "--comment", comment))
        seen = read_until(master, comment.encode(), 8)
        os.close(master)
        text = seen.decode("utf-8", errors="replace")
        self.assertIn("has ended (revoked by %s)" % ALICE, text)
        self.assertIn("Lockbox: %s said: %s" % (ALICE, comment), text)
        self.assertLess(text.index("has ended"), text.index(comment))


if __name__ == "__main__":
    unittest.main()
