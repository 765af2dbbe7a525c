"""lockboxctl against a real lockboxd, run as real users (runuser): every command, its output
forms and exit codes, refused decisions that change nothing, audit display and chain
verification (edit, deletion, reordering, truncated tail, rotation), and terminal safety.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_ctl.py -v (as root).
"""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lockbox_testlib import (RAW_CONTROL, CliAssertions,  # noqa: E402
                             LOCKBOXCTL, Daemon, Users, run_as, sqlite_only,  # noqa: E402
                             terminate, unique_prefix, wait_until)

PREFIX = unique_prefix("lbxc")  # every account this file adds starts so
ALICE = PREFIX + "alice"      # admin of contoso, by name
CAROL = PREFIX + "carol"      # admin of contoso, through @ADMIN_GROUP
BOB = PREFIX + "bob"          # admin of fabrikam only
ENG = PREFIX + "eng"          # an engineer
MALLORY = PREFIX + "mallory"  # nobody's admin
ADMIN_GROUP = PREFIX + "adm"

CONTRACT_FIELDS = ["id", "state", "tenant", "host", "user", "reason", "service", "rhost",
                   "requester", "created_at", "decided_at", "decided_by", "comment", "expires_at",
                   # Step 16: the signed grant gathered for the request, and who signed it
                   "grant", "signers"]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ID_RE = re.compile(r"\b[0-9a-f]{32}\b")


def parse_time(text):
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


class CtlTest(CliAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates users, runs lockboxd)")
        if not os.access(LOCKBOXCTL, os.X_OK):
            raise unittest.SkipTest("lockboxctl is not built at %s" % LOCKBOXCTL)
        cls.users = Users(PREFIX)
        try:
            for name in (ALICE, BOB, ENG, MALLORY):
                cls.users.add(name)
            cls.users.add(CAROL, groups=[ADMIN_GROUP])
        except Exception:
            cls.users.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.users.cleanup()

    def setUp(self):
        self.daemon = self.start_daemon()

    def start_daemon(self, **kw):
        # A central: the engineers here file for several hosts, which a lockboxd on a host
        # refuses since Step 15 (test_central_hosts.py has that refusal).
        daemon = Daemon(tenants={"contoso": [ALICE, "@" + ADMIN_GROUP], "fabrikam": [BOB]},
                        central=True, **kw)
        self.addCleanup(daemon.close)
        return daemon.start()

    # --- helpers ---
    def ctl(self, user, *args, daemon=None, env=None, timeout=60):
        """Runs the built lockboxctl as `user` against the test's daemon."""
        daemon = daemon or self.daemon
        argv = [LOCKBOXCTL, "--socket", daemon.socket] + list(args)
        full_env = dict(os.environ)
        full_env.pop("NO_COLOR", None)
        full_env.pop("LOCKBOX_SOCKET", None)
        full_env.pop("COLUMNS", None)  # a pipe is 120 columns wide unless COLUMNS says
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

    def audit_bytes(self):
        self.daemon.audit_lines()  # on PostgreSQL: once the file mirrors the chain's head
        with open(self.daemon.audit_path, "rb") as f:
            return f.read()

    def make_events(self, count):
        """`count` requests filed by ENG on distinct hosts, each approved by ALICE."""
        ids = []
        for i in range(count):
            req = self.file_as(ENG, "INC-%d" % i, "--host", "h%d.example" % i)
            self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
            ids.append(req["id"])
        return ids

    def wait_for_file(self, path, timeout=5.0):
        wait_until(lambda: os.path.exists(path), timeout, path)

    # --- usage, help, version ---
    def test_help_version_and_usage_errors(self):
        version = self.assert_ok(self.ctl(ENG, "--version"))
        self.assertRegex(version.stdout, r"^lockboxctl \d+\.\d+\.\d+\n$")
        top = self.assert_ok(self.ctl(ENG, "--help"))
        for command in ("list", "show", "approve", "deny", "revoke", "request", "wait", "audit"):
            self.assertIn(command, top.stdout)
        for command, option in (("approve", "--for"), ("deny", "--comment"),
                                ("request", "--reason"), ("wait", "--timeout"),
                                ("list", "--state"), ("audit", "verify"), ("show", "ID")):
            help_text = self.assert_ok(self.ctl(ENG, command, "--help"))
            self.assertIn(option, help_text.stdout)
            self.assertIn("Usage: lockboxctl", help_text.stdout)
        good_id = "0" * 32
        cases = [
            ((), "no command"),
            (("frobnicate",), "unknown command"),
            (("list", "--bogus"), "--bogus"),
            (("list", "--state", "maybe"), "--state"),
            (("list", "extra"), "unexpected argument"),
            (("show",), "exactly one request id"),
            (("show", "XYZ"), "32 lowercase hex"),
            (("approve", good_id, "--for", "3x"), "--for"),
            (("approve", good_id, "--for"), "needs a value"),
            (("deny", good_id, "--for", "2h"), "--for"),
            (("wait", good_id, "--timeout", "-1"), "--timeout"),
            (("wait", good_id, "--timeout", "soon"), "--timeout"),
            (("request",), "--reason is required"),
            (("request", "--reason", "x", "--tenant", "bad tenant"), "--tenant"),
            (("request", "--reason", "x", "--host", "db01;rm"), "--host"),
            (("audit", "--since", "yesterday"), "RFC 3339"),
            (("audit", "verify", "--since", "2026-01-01T00:00:00Z"), "--since"),
        ]
        before = self.audit_bytes()
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_fails(self.ctl(ENG, *args), 2, needle)
        self.assertEqual(self.audit_bytes(), before)

    def test_unreachable_daemon_and_socket_from_environment(self):
        missing = os.path.join(self.daemon.dir, "run", "nobody.sock")
        result = run_as(ENG, [LOCKBOXCTL, "--socket", missing, "list"])
        self.assert_fails(result, 1, "cannot reach lockboxd at " + missing,
                          "is lockboxd running?", "LOCKBOX_SOCKET")
        env = dict(os.environ, LOCKBOX_SOCKET=missing)
        self.assert_fails(run_as(ENG, [LOCKBOXCTL, "show", "0" * 32], env=env), 1,
                          "cannot reach lockboxd at " + missing)
        env["LOCKBOX_SOCKET"] = self.daemon.socket
        listed = self.assert_ok(run_as(ENG, [LOCKBOXCTL, "--json", "list"], env=env))
        self.assertEqual(json.loads(listed.stdout), [])
        # --socket wins over the environment.
        env["LOCKBOX_SOCKET"] = missing
        self.assert_ok(run_as(ENG, [LOCKBOXCTL, "--socket", self.daemon.socket, "list"], env=env))

    # --- request, list, show ---
    def test_request_prints_id_and_next_step(self):
        result = self.assert_ok(self.ctl(ENG, "request", "--reason", "INC-1 reboot",
                                         "--host", "db01"))
        ids = ID_RE.findall(result.stdout)
        self.assertTrue(ids, result.stdout)
        request_id = ids[0]
        self.assertIn("filed for %s on db01 (tenant contoso)" % ENG, result.stdout)
        self.assertIn("waiting for a contoso admin", result.stdout)
        self.assertIn("lockboxctl wait " + request_id, result.stdout)
        _, obj = self.daemon.call("GET", "/v1/requests/" + request_id)
        self.assertEqual((obj["user"], obj["host"], obj["tenant"], obj["reason"], obj["state"]),
                         (ENG, "db01", "contoso", "INC-1 reboot", "pending"))
        # Filing again for the same tenant and host returns the same pending request.
        again = self.assert_ok(self.ctl(ENG, "request", "--reason", "other", "--host", "db01"))
        self.assertIn(request_id, again.stdout)
        self.assertIn("already have", again.stdout)
        other = self.file_as(ENG, "INC-2", "--tenant", "fabrikam", "--host", "fabrikam-db1")
        self.assertEqual((other["tenant"], other["host"]), ("fabrikam", "fabrikam-db1"))
        self.assertNotEqual(other["id"], request_id)
        self.assert_fails(self.ctl(ENG, "request", "--reason", "x", "--tenant", "nosuch"), 1,
                          "nosuch")

    def test_list_table_is_aligned_newest_first_and_filtered(self):
        first = self.file_as(ENG, "first one", "--host", "alpha")
        time.sleep(1.1)  # created_at has one-second resolution
        second = self.file_as(ENG, "second one", "--host", "beta")
        other_tenant = self.file_as(ENG, "fabrikam work", "--tenant", "fabrikam", "--host",
                                    "fabrikam-db1")
        result = self.assert_ok(self.ctl(ALICE, "list", "--state", "all"))
        lines = result.stdout.splitlines()
        header = lines[0].split()
        # One tenant's rows: no TENANT column (test_ctl_ux.py tests the layout).
        self.assertEqual(header, ["ID", "STATE", "USER", "HOST", "AGE", "LEFT", "REASON"])
        rows = lines[1:]
        self.assertEqual([r.split()[0] for r in rows], [second["id"][:8], first["id"][:8]])
        # Columns line up: every row has its state where the header has STATE, etc.
        for title in ("STATE", "USER", "HOST", "AGE", "LEFT", "REASON"):
            column = lines[0].index(title)
            for row in rows:
                self.assertNotEqual(row[column], " ", (title, row))
                self.assertEqual(row[column - 1], " ", (title, row))
        self.assertIn("pending", rows[0])
        self.assertRegex(rows[0], r"  (\d+s|\d+m)  +12h  ")
        self.assertIn("second one", rows[0])
        self.assertTrue(all(len(line) <= 120 for line in lines))
        self.assertIsNone(re.search("\x1b", result.stdout), "colour on a pipe")
        # What each caller may read.
        self.assertNotIn(other_tenant["id"], result.stdout)
        bob = self.assert_ok(self.ctl(BOB, "--json", "list"))
        self.assertEqual([r["id"] for r in json.loads(bob.stdout)], [other_tenant["id"]])
        mallory = self.assert_ok(self.ctl(MALLORY, "list"))
        self.assertEqual(mallory.stdout.strip(), "no pending requests")
        mine = json.loads(self.assert_ok(self.ctl(ENG, "list", "--json")).stdout)
        self.assertEqual(len(mine), 3)
        # Filters: state, tenant, user.
        self.assert_ok(self.ctl(ALICE, "approve", first["id"]))
        pending = json.loads(self.assert_ok(self.ctl(ALICE, "list", "--json")).stdout)
        self.assertEqual([r["id"] for r in pending], [second["id"]])
        approved = json.loads(self.assert_ok(
            self.ctl(ALICE, "--json", "list", "--state", "approved")).stdout)
        self.assertEqual([r["id"] for r in approved], [first["id"]])
        everything = json.loads(self.assert_ok(
            self.ctl("root", "--json", "list", "--state", "all")).stdout)
        self.assertEqual({r["id"] for r in everything},
                         {first["id"], second["id"], other_tenant["id"]})
        by_tenant = json.loads(self.assert_ok(self.ctl(
            "root", "--json", "list", "--state", "all", "--tenant", "fabrikam")).stdout)
        self.assertEqual([r["id"] for r in by_tenant], [other_tenant["id"]])
        by_user = json.loads(self.assert_ok(self.ctl(
            "root", "--json", "list", "--state", "all", "--user", MALLORY)).stdout)
        self.assertEqual(by_user, [])

    def test_json_list_and_show_have_the_contract_fields(self):
        req = self.file_as(ENG, "INC-7 json", "--host", "db07")
        listed = json.loads(self.assert_ok(self.ctl(ALICE, "list", "--json")).stdout)
        self.assertIsInstance(listed, list)
        self.assertEqual(list(listed[0].keys()), CONTRACT_FIELDS)
        for args in (("--json", "show", req["id"]), ("show", req["id"], "--json")):
            shown = json.loads(self.assert_ok(self.ctl(ALICE, *args)).stdout)
            # show adds notification status (Step 7) and sessions (Step 8) after the
            # contract's fields.
            self.assertEqual(list(shown.keys()), CONTRACT_FIELDS + ["notifications", "sessions"])
            self.assertEqual((shown["notifications"], shown["sessions"]), ([], []))
            self.assertEqual((shown["id"], shown["state"], shown["user"], shown["host"],
                              shown["reason"], shown["service"]),
                             (req["id"], "pending", ENG, "db07", "INC-7 json", "lockboxctl"))
            self.assertRegex(shown["created_at"], RFC3339)
            self.assertRegex(shown["expires_at"], RFC3339)
            self.assertIsNone(shown["decided_at"])
        human = self.assert_ok(self.ctl(ENG, "show", req["id"])).stdout
        self.assertIn(req["id"], human)
        self.assertRegex(human, r"State\s+pending")
        self.assertRegex(human, r"Expires\s+in 12h \(\d{4}-")
        self.assertRegex(human, r"Created\s+\d+s ago \(")
        self.assert_fails(self.ctl(MALLORY, "show", req["id"]), 1, "your own")
        self.assert_fails(self.ctl(ALICE, "show", "f" * 32), 1)

    # --- decisions ---
    def test_approve_for_a_duration_and_its_limit(self):
        req = self.file_as(ENG)
        refused = self.ctl(ALICE, "approve", req["id"], "--for", "13h")
        self.assert_fails(refused, 1, "access_ttl")
        self.assertEqual(self.state_of(req["id"]), "pending")
        result = self.assert_ok(self.ctl(CAROL, "approve", req["id"], "--for", "2h",
                                         "--comment", "go ahead"))
        self.assertIn("Approved request " + req["id"], result.stdout)
        self.assertRegex(result.stdout, r"in 1h5\dm|in 2h")
        _, obj = self.daemon.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual((obj["state"], obj["decided_by"], obj["comment"]),
                         ("approved", CAROL, "go ahead"))
        left = parse_time(obj["expires_at"]) - time.time()
        self.assertTrue(2 * 3600 - 300 < left <= 2 * 3600 + 5, left)

    def test_refused_decisions_change_neither_state_nor_audit(self):
        own = self.file_as(ALICE, "alice needs access")
        eng = self.file_as(ENG, "eng needs access")
        before = self.audit_bytes()
        cases = [
            (ALICE, "approve", own["id"], "you cannot decide your own request"),
            (ALICE, "deny", own["id"], "you cannot decide your own request"),
            (BOB, "approve", eng["id"], "you are not an approver for tenant contoso"),
            (BOB, "deny", eng["id"], "you are not an approver for tenant contoso"),
            (MALLORY, "approve", eng["id"], "you are not an approver for tenant contoso"),
            (ENG, "approve", eng["id"], "lockboxctl: "),
        ]
        for user, verb, request_id, message in cases:
            with self.subTest(user=user, verb=verb):
                self.assert_fails(self.ctl(user, verb, request_id), 1, message)
                self.assertEqual(self.state_of(request_id), "pending")
        self.assertEqual(self.audit_bytes(), before)
        # The other admin may decide alice's request.
        self.assert_ok(self.ctl(CAROL, "deny", own["id"], "--comment", "not today"))
        self.assertEqual(self.state_of(own["id"]), "denied")
        self.assertNotEqual(self.audit_bytes(), before)

    def test_wrong_state_and_revoke(self):
        req = self.file_as(ENG)
        self.assert_fails(self.ctl(ALICE, "revoke", req["id"]), 1,
                          "request %s is pending; only an approved request can be revoked"
                          % req["id"])
        self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
        before = self.audit_bytes()
        self.assert_fails(self.ctl(ALICE, "approve", req["id"]), 1,
                          "request %s is approved; only a pending request can be approved"
                          % req["id"])
        self.assert_fails(self.ctl(ALICE, "deny", req["id"]), 1,
                          "is approved; only a pending request can be denied")
        self.assertEqual(self.audit_bytes(), before)
        self.assert_fails(self.ctl(BOB, "revoke", req["id"]), 1, "not an approver")
        revoked = self.assert_ok(self.ctl(ALICE, "--json", "revoke", req["id"],
                                          "--comment", "done"))
        obj = json.loads(revoked.stdout)
        self.assertEqual((obj["state"], obj["decided_by"], obj["comment"]),
                         ("revoked", ALICE, "done"))
        self.assertEqual(self.daemon.audit_events()[-1]["event"], "access.revoked")
        self.assert_fails(self.ctl(ALICE, "revoke", req["id"]), 1, "is revoked")
        self.assert_fails(self.ctl(ALICE, "approve", "e" * 32), 1)

    # --- wait ---
    def test_wait_outcomes_and_exit_codes(self):
        approved = self.file_as(ENG, "a", "--host", "h1")
        denied = self.file_as(ENG, "b", "--host", "h2")
        pending = self.file_as(ENG, "c", "--host", "h3")
        self.assert_ok(self.ctl(ALICE, "approve", approved["id"]))
        self.assert_ok(self.ctl(ALICE, "deny", denied["id"], "--comment", "no ticket"))
        result = self.assert_ok(self.ctl(ENG, "wait", approved["id"]))
        self.assertIn("approved by " + ALICE, result.stdout)
        result = self.assert_fails(self.ctl(ENG, "wait", denied["id"]), 1, "denied")
        self.assertIn("denied by %s: no ticket" % ALICE, result.stdout)
        started = time.monotonic()
        result = self.assert_fails(self.ctl(ENG, "wait", pending["id"], "--timeout", "1"), 1,
                                   "still pending")
        self.assertLess(time.monotonic() - started, 20)
        self.assertIn("pending", result.stdout)
        result = self.assert_fails(self.ctl(ENG, "--json", "wait", pending["id"],
                                            "--timeout", "0"), 1, "still pending")
        self.assertEqual(json.loads(result.stdout)["state"], "pending")
        self.assert_fails(self.ctl(MALLORY, "wait", pending["id"], "--timeout", "0"), 1,
                          "your own")

    def test_wait_wakes_when_an_admin_decides(self):
        req = self.file_as(ENG)
        argv = ["runuser", "-u", ENG, "--", LOCKBOXCTL, "--socket", self.daemon.socket,
                "wait", req["id"], "--timeout", "60"]
        waiter = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            self.daemon.wait_waiting(1)
            self.assertIsNone(waiter.poll(), "wait returned before a decision")
            decided = time.monotonic()
            self.assert_ok(self.ctl(ALICE, "approve", req["id"]))
            out, err = waiter.communicate(timeout=30)
            self.assertLess(time.monotonic() - decided, 10, "wait did not wake promptly")
        finally:
            terminate(waiter, sig=signal.SIGKILL)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("approved by " + ALICE, out)

    def test_wait_shows_a_status_line_only_on_a_tty(self):
        req = self.daemon.file_request(ENG, "status line")
        master, slave = pty.openpty()
        try:
            result = subprocess.run([LOCKBOXCTL, "--socket", self.daemon.socket, "wait",
                                     req["id"], "--timeout", "1"], stdout=subprocess.PIPE,
                                    stderr=slave, text=True, timeout=60)
            os.close(slave)
            slave = None
            seen = b""
            while select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"waiting for a decision on " + req["id"].encode(), seen)
        self.assertIn(b"still pending", seen)
        piped = self.assert_fails(self.ctl(ENG, "wait", req["id"], "--timeout", "1"), 1)
        self.assertNotIn("waiting for a decision", piped.stderr)

    def test_wait_reports_expiry(self):
        daemon = self.start_daemon(request_ttl="2s")
        result = self.assert_ok(self.ctl(ENG, "--json", "request", "--reason", "short",
                                         daemon=daemon))
        request_id = json.loads(result.stdout)["id"]
        result = self.ctl(ENG, "wait", request_id, "--timeout", "30", daemon=daemon)
        self.assert_fails(result, 1, "expired")
        self.assertIn("expired", result.stdout)

    # --- hostile and unusual text ---
    def test_control_characters_in_a_reason_are_refused_client_side(self):
        before = self.audit_bytes()
        for reason in ("\x1b[31mX", "line1\nline2", "cr\rhere", "\x7fdel", "c1\u009bhere"):
            with self.subTest(reason=reason):
                self.assert_fails(self.ctl(ENG, "request", "--reason", reason), 2,
                                  "control characters")
        self.assert_fails(self.ctl(ALICE, "deny", "0" * 32, "--comment", "\x1b]0;x\x07"), 2,
                          "--comment")
        self.assertEqual(self.audit_bytes(), before)
        # The daemon refuses them too, for clients that skip the check.
        status, _ = self.daemon.call("POST", "/v1/requests", {"reason": "\x1b[31mX"},
                                     as_user=ENG)
        self.assertEqual(status, 400)

    def test_unicode_quotes_and_backslashes_are_shown_safely(self):
        reason = 'Ünï "quoted" back\\slash ✓ tab\there'
        self.assert_fails(self.ctl(ENG, "request", "--reason", reason), 2)  # a tab is C0
        reason = reason.replace("\t", " ")
        req = self.file_as(ENG, reason)
        self.assertEqual(req["reason"], reason)  # JSON keeps the exact text
        table = self.assert_ok(self.ctl(ALICE, "list")).stdout
        detail = self.assert_ok(self.ctl(ALICE, "show", req["id"])).stdout
        audit = self.assert_ok(self.ctl(ALICE, "audit")).stdout
        for out in (table, detail, audit):
            self.assertIn("Ünï", out)
            self.assertIn("✓", out)
            self.assertIn('"quoted"' if out is not audit else '\\"quoted\\"', out)
            self.assertIn("back\\\\slash", out)  # a backslash is shown doubled
            self.assertIsNone(RAW_CONTROL.search(out), repr(out))

    def test_audit_from_the_daemon_shows_an_admin_their_tenants_only(self):
        mine = self.file_as(ENG, "contoso work")
        theirs = self.daemon.file_request(ENG, "fabrikam work", tenant="fabrikam",
                                          host="fabrikam-db1")
        ops = self.assert_ok(self.ctl("root", "audit")).stdout
        alice = self.assert_ok(self.ctl(ALICE, "audit")).stdout
        bob = self.assert_ok(self.ctl(BOB, "audit", "--json")).stdout
        self.assertIn(mine["id"], ops)
        self.assertIn(theirs["id"], ops)
        self.assertIn(mine["id"], alice)
        self.assertNotIn(theirs["id"], alice)
        self.assertEqual({json.loads(line)["tenant"] for line in bob.splitlines()}, {"fabrikam"})
        self.assertIn(theirs["id"], bob)

    def test_terminal_escaping_of_hostile_audit_records(self):
        # A forged audit file can hold anything; `audit --file` must not pass it through.
        path = os.path.join(self.daemon.dir, "forged.jsonl")
        records = [
            {"seq": 1, "time": "2026-01-01T00:00:00.000Z", "event": "request.created",
             "reason": "\x1b]0;owned\x07\x1b[2J\r\nseq=99 event=forged \u009b31m", "prev_hash": "0" * 64},
        ]
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(records[0], ensure_ascii=False) + "\n")
            f.write("raw \x1b[31m not json \x9b\n")
        shown = self.assert_ok(self.ctl("root", "audit", "--file", path)).stdout
        lines = shown.splitlines()
        self.assertEqual(len(lines), 2, shown)
        self.assertIn("\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0aseq=99", lines[0])
        self.assertIn("\\xc2\\x9b31m", lines[0])
        self.assertIn("not an audit record", lines[1])
        as_json = self.assert_ok(self.ctl("root", "--json", "audit", "--file", path)).stdout
        for out in (shown, as_json):
            self.assertIsNone(RAW_CONTROL.search(out), repr(out))
            self.assertNotIn("\u009b", out)

    # --- colour and width on a terminal ---
    def run_on_tty(self, args, env_extra, columns=80):
        """Runs lockboxctl as ENG with stdout on a pseudo-terminal of `columns` columns."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(env_extra)
        proc = subprocess.Popen(["runuser", "-u", ENG, "--", LOCKBOXCTL, "--socket",
                                 self.daemon.socket] + list(args),
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                                env=env)
        os.close(slave)
        output = b""
        try:
            while True:
                ready, _, _ = select.select([master], [], [], 20)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
        finally:
            os.close(master)
            terminate(proc, 30, sig=0)  # it ends by itself; SIGKILL only after 30 s
        self.assertEqual(proc.returncode, 0, proc.stderr.read())
        proc.stderr.close()
        return output.decode("utf-8")

    def test_colour_only_on_a_tty_and_never_with_no_color(self):
        self.file_as(ENG, "x" * 300)
        coloured = self.run_on_tty(["list", "--state", "all"], {}, columns=110)
        self.assertIn("\x1b[33mpending\x1b[0m", coloured)
        plain_lines = re.sub("\x1b\\[[0-9;]*m", "", coloured).replace("\r", "").splitlines()
        self.assertTrue(plain_lines and all(len(l) <= 110 for l in plain_lines), plain_lines)
        self.assertTrue(plain_lines[1].endswith("..."), plain_lines)
        no_color = self.run_on_tty(["list", "--state", "all"], {"NO_COLOR": "1"})
        self.assertNotIn("\x1b", no_color)
        wide = self.run_on_tty(["list"], {"NO_COLOR": "1"}, columns=200)
        self.assertTrue(any(len(l) > 120 for l in wide.replace("\r", "").splitlines()))

    # --- audit ---
    def test_audit_records_from_daemon_and_file(self):
        ids = self.make_events(2)
        time.sleep(1.1)  # --since has one-second resolution in what people type
        ids += self.make_events(1)
        lines = self.daemon.audit_lines()
        self.assertEqual(len(lines), 6)
        human = self.assert_ok(self.ctl(ALICE, "audit")).stdout.splitlines()
        self.assertEqual(len(human), 6)
        self.assertTrue(human[0].startswith("#1 "), human[0])
        self.assertIn("request.created id=%s tenant=contoso host=h0.example user=%s actor=%s "
                      'requester=%s reason=INC-0' % (ids[0], ENG, ENG, ENG), human[0])
        self.assertIn("request.approved id=%s" % ids[0], human[1])
        self.assertIn("actor=" + ALICE, human[1])
        raw = self.assert_ok(self.ctl(ALICE, "--json", "audit")).stdout.splitlines()
        self.assertEqual(raw, lines)  # the exact bytes, one record per line
        from_file = self.assert_ok(self.ctl("root", "audit", "--file", self.daemon.audit_path,
                                            "--json")).stdout.splitlines()
        self.assertEqual(from_file, lines)
        since = json.loads(lines[4])["time"][:19] + "Z"
        later = self.assert_ok(self.ctl(ALICE, "--json", "audit", "--since", since)).stdout
        self.assertEqual([json.loads(l)["seq"] for l in later.splitlines()], [5, 6])
        everything = self.assert_ok(self.ctl(ALICE, "audit", "--since", "2000-01-01T00:00:00Z"))
        self.assertEqual(len(everything.stdout.splitlines()), 6)
        future = self.assert_ok(self.ctl(ALICE, "audit", "--since", "2999-01-01T00:00:00Z"))
        self.assertEqual(future.stdout, "")
        self.assert_fails(self.ctl(ENG, "audit"), 1)
        self.assert_fails(self.ctl("root", "audit", "--file", "/nonexistent/audit.jsonl"), 1,
                          "cannot open audit file")

    def test_audit_verify_database_untouched_and_tampered(self):
        """--database walks the chain the database holds (on PostgreSQL, the one every
        lockboxd appends to), root only, and finds an edited or removed record there."""
        self.make_events(2)
        ok = self.assert_ok(self.ctl("root", "audit", "verify", "--database"))
        self.assertEqual(ok.stdout.strip(), "audit chain OK (database): 4 records, seq 1..4")
        self.assert_fails(self.ctl(ALICE, "audit", "verify", "--database"), 1, "only root")
        self.assert_fails(self.ctl("root", "audit", "verify", "--database", "--file", "/x"), 2,
                          "--database goes with")
        line = self.daemon.db("SELECT line FROM audit WHERE seq = 2")[0][0]
        self.daemon.db("UPDATE audit SET line = ? WHERE seq = 2", (line.replace("INC", "INX"),))
        self.assert_fails(self.ctl("root", "audit", "verify", "--database"), 1,
                          "audit chain broken", "database record 3")
        self.daemon.db("UPDATE audit SET line = ? WHERE seq = 2", (line,))
        self.assert_ok(self.ctl("root", "audit", "verify", "--database"))
        self.daemon.db("DELETE FROM audit WHERE seq = 4")
        self.assert_fails(self.ctl("root", "audit", "verify", "--database"), 1,
                          "audit chain broken")

    @sqlite_only("it edits the live audit file; on PostgreSQL that file is a mirror another "
                 "loop appends to, and its tamper checks belong to the audit-mirror tests")
    def test_audit_verify_untouched_and_tampered(self):
        self.make_events(3)
        ok = self.assert_ok(self.ctl("root", "audit", "verify"))
        self.assertEqual(ok.stdout.strip(), "audit chain OK: 6 records, seq 1..6")
        result = json.loads(self.assert_ok(self.ctl("root", "audit", "verify", "--json")).stdout)
        self.assertEqual((result["ok"], result["records"], result["first_seq"],
                          result["last_seq"]), (True, 6, 1, 6))
        lines = self.daemon.audit_lines()
        workdir = os.path.join(self.daemon.dir, "copies")
        os.mkdir(workdir)

        def copy_with(name, new_lines):
            path = os.path.join(workdir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write("".join(l + "\n" for l in new_lines))
            return path

        self.assert_ok(self.ctl("root", "audit", "verify", "--file", copy_with("same", lines)))
        edited = list(lines)
        edited[2] = edited[2].replace("INC-1", "INC-9")
        self.assertNotEqual(edited, lines)
        self.assert_fails(self.ctl("root", "audit", "verify", "--file",
                                   copy_with("edited", edited)), 1,
                          "audit chain broken", "edited:4", "seq 3 altered")
        removed = lines[:2] + lines[3:]
        self.assert_fails(self.ctl("root", "audit", "verify", "--file",
                                   copy_with("removed", removed)), 1, "removed:3", "removed")
        swapped = lines[:2] + [lines[3], lines[2]] + lines[4:]
        self.assert_fails(self.ctl("root", "audit", "verify", "--file",
                                   copy_with("swapped", swapped)), 1, "swapped:3", "reordered")
        forged = json.loads(lines[2])
        forged["actor"] = "someone"
        inserted = lines[:3] + [json.dumps(forged, separators=(",", ":"))] + lines[3:]
        self.assert_fails(self.ctl("root", "audit", "verify", "--file",
                                   copy_with("inserted", inserted)), 1, "inserted:4")
        # A removed tail still chains; only the daemon's head reveals it.
        truncated = copy_with("truncated", lines[:-1])
        self.assert_ok(self.ctl("root", "audit", "verify", "--file", truncated))
        shutil.copyfile(truncated, self.daemon.audit_path)
        self.assert_fails(self.ctl("root", "audit", "verify"), 1,
                          "ends at seq 5", "head is seq 6", "tail removed")
        # A removed first record also still chains; the daemon knows where its file starts.
        shutil.copyfile(copy_with("headless", lines[1:]), self.daemon.audit_path)
        self.assert_fails(self.ctl("root", "audit", "verify"), 1,
                          "starts at seq 2", "started it at seq 1", "removed")
        # An edit in the live file is found without --file too.
        shutil.copyfile(copy_with("edited-live", edited), self.daemon.audit_path)
        self.assert_fails(self.ctl("root", "audit", "verify"), 1, "altered")
        failed = self.ctl("root", "--json", "audit", "verify")
        self.assertEqual(failed.returncode, 1)
        self.assertFalse(json.loads(failed.stdout)["ok"])

    @sqlite_only("it rewrites the live audit file after a rotation; on PostgreSQL that file "
                 "is a mirror another loop appends to")
    def test_audit_verify_across_rotation(self):
        self.make_events(2)
        old = self.daemon.audit_path + ".1"
        os.rename(self.daemon.audit_path, old)
        self.daemon.hup()
        self.wait_for_file(self.daemon.audit_path)
        self.make_events(1)
        old_lines = self.daemon.audit_lines(old)
        new_lines = self.daemon.audit_lines()
        self.assertEqual((len(old_lines), len(new_lines)), (4, 2))
        both = self.assert_ok(self.ctl("root", "audit", "verify", "--file", old,
                                       "--file", self.daemon.audit_path))
        self.assertEqual(both.stdout.strip(), "audit chain OK: 6 records, seq 1..6")
        current = self.assert_ok(self.ctl("root", "audit", "verify"))
        self.assertEqual(current.stdout.strip(), "audit chain OK: 2 records, seq 5..6")
        with open(self.daemon.audit_path, "w") as f:  # drop the rotated file's first record
            f.write(new_lines[1] + "\n")
        self.assert_fails(self.ctl("root", "audit", "verify"), 1, "starts at seq 6",
                          "started it at seq 5")
        with open(self.daemon.audit_path, "w") as f:
            f.write("".join(l + "\n" for l in new_lines))
        self.assert_fails(self.ctl("root", "audit", "verify", "--file", self.daemon.audit_path,
                                   "--file", old), 1, "reordered or inserted")
        shown = self.assert_ok(self.ctl("root", "audit", "--file", old, "--file",
                                        self.daemon.audit_path)).stdout.splitlines()
        self.assertEqual([l.split()[0] for l in shown], ["#%d" % i for i in range(1, 7)])
        # Reading through the daemon still pages over the whole history it keeps.
        via_daemon = self.assert_ok(self.ctl(ALICE, "--json", "audit")).stdout.splitlines()
        self.assertEqual(via_daemon[-2:], new_lines)


if __name__ == "__main__":
    unittest.main()
