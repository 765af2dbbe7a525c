"""lockboxd against its contract (Step 1): lifecycle, long-poll, authorisation, crash safety,
hostile input, syslog and audit chain — all against a real lockboxd process."""

import grp
import json
import os
import pwd
import random
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import (Daemon, Users, account_tool, sqlite_only,  # noqa: E402
                             terminate, unique_prefix, verify_chain, wait_until)

PREFIX = unique_prefix("lbd")  # every account this file adds starts so
U = Users(PREFIX)
ALICE, BOB, CAROL = PREFIX + "_alice", PREFIX + "_bob", PREFIX + "_carol"
ENG, MALLORY = PREFIX + "_eng", PREFIX + "_mallory"
ORPHAN = PREFIX + "_orphan"  # a fabrikam admin whose primary group has no /etc/group entry
ORPHAN_GID = None  # its primary gid, chosen in setUpModule
TENANTS = {"contoso": [ALICE, "@" + PREFIX + "_cadmins"], "fabrikam": [CAROL, ORPHAN]}


# Run as a plain user: opens N idle connections, then one more, and says whether lockboxd
# closed that one at once; holds them all until stdin closes.
HOLD_CONNECTIONS = """
import socket, sys
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
extra = socket.socket(socket.AF_UNIX)
extra.connect(sys.argv[1])
extra.settimeout(5)
try:
    print("closed at once" if extra.recv(1) == b"" else "answered", flush=True)
except OSError as exc:
    print("still open: %r" % exc, flush=True)
sys.stdin.readline()
"""


def setUpModule():
    U.add(ALICE)
    U.add(BOB, groups=[PREFIX + "_cadmins"])
    U.add(CAROL)
    U.add(ENG)
    U.add(MALLORY)
    # ORPHAN's primary gid is far above GID_MAX (60000) and SUB_GID_MAX: useradd and groupadd
    # never hand it out, so no other account on the machine takes it while this file runs
    # (a freed gid in the normal range was reused by other tests' groupadd).
    global ORPHAN_GID
    ORPHAN_GID = free_gid(3000000000, 3100000000)
    account_tool(["groupadd", "-g", str(ORPHAN_GID), ORPHAN])
    U.add(ORPHAN, gid=ORPHAN_GID)
    account_tool(["groupdel", "-f", ORPHAN])


def free_gid(low, high):
    """A gid in [low, high) that has no group entry now."""
    while True:
        gid = random.randrange(low, high)
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid


def tearDownModule():
    U.cleanup()


class DaemonCase(unittest.TestCase):
    daemon_args = {}

    def setUp(self):
        self.d = Daemon(tenants=TENANTS, **self.daemon_args).start()

    def tearDown(self):
        self.d.close()

    def file(self, user=ENG, reason="INC-1", as_user=None):
        return self.d.file_request(user if as_user in (None, "root") else None, reason,
                                   as_user=as_user or "root")

    def decide(self, rid, action, as_user=ALICE, **body):
        return self.d.call("POST", "/v1/requests/%s/%s" % (rid, action), body, as_user=as_user)

    def state(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200)
        return obj["state"]


class Lifecycle(DaemonCase):
    def test_approve_then_revoke(self):
        req = self.file()
        self.assertEqual(req["state"], "pending")
        self.assertRegex(req["id"], "^[0-9a-f]{32}$")
        status, obj = self.decide(req["id"], "approve", comment="ok", **{"for": "1h"})
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["state"], "approved")
        self.assertEqual(obj["decided_by"], ALICE)
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertEqual((status, check["allowed"]), (200, True))
        status, obj = self.decide(req["id"], "revoke", comment="done")
        self.assertEqual((status, obj["state"]), (200, "revoked"))
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertFalse(check["allowed"])
        events = [e["event"] for e in self.d.audit_events()]
        self.assertEqual(events, ["request.created", "request.approved", "login.allowed",
                                  "access.revoked"])
        ok, _ = verify_chain(self.d.audit_lines())
        self.assertTrue(ok)

    def test_deny_records_comment(self):
        req = self.file()
        status, obj = self.decide(req["id"], "deny", comment="not during freeze")
        self.assertEqual((status, obj["state"], obj["comment"]), (200, "denied", "not during freeze"))
        last = self.d.audit_events()[-1]
        self.assertEqual((last["event"], last["actor"], last["comment"]),
                         ("request.denied", ALICE, "not during freeze"))

    def test_illegal_transitions_are_409_and_change_nothing(self):
        req = self.file()
        self.decide(req["id"], "deny")
        before = self.d.audit_lines()
        for action in ("approve", "deny", "revoke"):
            status, obj = self.decide(req["id"], action)
            self.assertEqual(status, 409, (action, obj))
            self.assertEqual(obj["error"], "conflict")
        pending = self.file(reason="second")
        status, _ = self.decide(pending["id"], "revoke")
        self.assertEqual(status, 409)
        self.assertEqual(self.state(req["id"]), "denied")
        self.assertEqual(self.state(pending["id"]), "pending")
        self.assertEqual(self.d.audit_lines(), before + self.d.audit_lines()[len(before):len(before) + 1])

    def test_grant_longer_than_access_ttl_is_refused(self):
        req = self.file()
        status, obj = self.decide(req["id"], "approve", **{"for": "13h"})
        self.assertEqual(status, 400, obj)
        self.assertEqual(self.state(req["id"]), "pending")

    def test_repeated_filing_returns_the_pending_request(self):
        first = self.file()
        status, again = self.d.call("POST", "/v1/requests", {"reason": "again", "user": ENG})
        self.assertEqual(status, 200)
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(again["reason"], "INC-1")


class Expiry(DaemonCase):
    daemon_args = {"request_ttl": "2s", "access_ttl": "2s"}

    def test_pending_request_expires_without_polling(self):
        req = self.file()
        # No API call in between (the audit file is read directly): the daemon's timer must
        # expire it.
        events = self.expired_in_audit_file("request.expired")
        self.assertEqual(events[-1]["actor"], "lockboxd")
        self.assertEqual(self.state(req["id"]), "expired")

    def test_approved_access_expires_without_polling(self):
        req = self.file()
        status, _ = self.decide(req["id"], "approve")
        self.assertEqual(status, 200)
        self.expired_in_audit_file("access.expired")
        self.assertEqual(self.state(req["id"]), "expired")
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertFalse(check["allowed"])

    def expired_in_audit_file(self, event):
        """The audit records once `event` (after a 2 s TTL) is the last; read from the file,
        not the API, so that only the daemon's own timer can have written it."""
        def last_is_event():
            events = self.d.audit_events()
            return events if events and events[-1]["event"] == event else None
        return wait_until(last_is_event, 10, "%s as the last audit record" % event)

    def test_expiry_wakes_a_waiter(self):
        req = self.file()
        start = time.monotonic()
        status, obj = self.d.call("GET", "/v1/requests/%s/wait?timeout=30" % req["id"])
        self.assertEqual((status, obj["state"]), (200, "expired"))
        self.assertLess(time.monotonic() - start, 10)


class LongPoll(DaemonCase):
    def test_wait_returns_promptly_after_approval(self):
        req = self.file()
        result = {}
        import threading

        def waiter():
            result["r"] = self.d.call("GET", "/v1/requests/%s/wait?timeout=30" % req["id"])
            result["t"] = time.monotonic()

        t = threading.Thread(target=waiter)
        t.start()
        self.d.wait_waiting(1)
        self.assertNotIn("r", result, "wait returned before any decision")
        status, _ = self.decide(req["id"], "approve")
        decided = time.monotonic()
        t.join(10)
        self.assertEqual(result["r"][0], 200)
        self.assertEqual(result["r"][1]["state"], "approved")
        # Loose bound here; bench/ measures the real latency.
        self.assertLess(result["t"] - decided, 1.0)

    def test_a_caller_that_leaves_releases_its_wait_at_once(self):
        """MHD does not watch a suspended connection: lockboxd does, so a killed
        `lockboxctl wait` (or curl) frees its wait and its connection slot at once."""
        req = self.file()
        waiter = subprocess.Popen(
            [sys.executable, "-c", "import socket, sys; s = socket.socket(socket.AF_UNIX); "
             "s.connect(sys.argv[1]); s.sendall(('GET /v1/requests/%s/wait?timeout=600 "
             "HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % sys.argv[2]).encode()); "
             "sys.stdin.read()", self.d.socket, req["id"]], stdin=subprocess.PIPE)
        self.addCleanup(terminate, waiter, sig=signal.SIGKILL)
        self.d.wait_waiting(1, 10)
        terminate(waiter, sig=signal.SIGKILL)
        killed = time.monotonic()
        self.d.wait_waiting(0, 5)
        self.assertLess(time.monotonic() - killed, 2.0)
        self.assertIn("event=api.wait_abandoned id=%s" % req["id"], self.d.stderr())
        self.assertEqual(self.state(req["id"]), "pending", "nothing else changed")
        # The daemon still answers waits and decisions.
        status, _ = self.decide(req["id"], "approve")
        self.assertEqual(status, 200)

    def test_wait_times_out_still_pending(self):
        req = self.file()
        status, obj = self.d.call("GET", "/v1/requests/%s/wait?timeout=1" % req["id"])
        self.assertEqual((status, obj["state"]), (200, "pending"))

    def test_wait_rejects_bad_timeout(self):
        req = self.file()
        for q in ("timeout=-1", "timeout=abc", "timeout=99999", "bogus=1"):
            status, _ = self.d.call("GET", "/v1/requests/%s/wait?%s" % (req["id"], q))
            self.assertEqual(status, 400, q)


class Authorisation(DaemonCase):
    def test_matrix(self):
        req = self.file(ENG)  # filed by root (the module) for ENG
        own = self.d.file_request(None, "alice's own", as_user=ALICE)
        cases = [
            (MALLORY, req, 403), (ENG, req, 403), (CAROL, req, 403), ("root", req, 403),
            (ALICE, own, 403),  # admin deciding her own request
            (BOB, own, 200),    # admin via @group may decide alice's
        ]
        for who, target, expected in cases:
            before = len(self.d.audit_lines())
            status, obj = self.decide(target["id"], "deny", as_user=who)
            self.assertEqual(status, expected, (who, obj))
            if expected == 403:
                self.assertEqual(len(self.d.audit_lines()), before, who)
        status, obj = self.decide(req["id"], "approve", as_user=ALICE)
        self.assertEqual(status, 200, obj)

    def test_second_account_name_for_the_same_uid_cannot_approve(self):
        alias = PREFIX + "_alice2"
        uid, gid = pwd.getpwnam(ALICE).pw_uid, pwd.getpwnam(ALICE).pw_gid
        account_tool(["useradd", "-o", "-u", str(uid), "-g", str(gid), "-M", "-d",
                      "/nonexistent", alias])
        U.users.append(alias)
        req = self.file(alias)  # e.g. `ssh ALICE2@host`: the module files for the alias
        status, obj = self.decide(req["id"], "approve", as_user=ALICE)
        self.assertEqual(status, 403, obj)
        self.assertIn("cannot decide your own request", obj["message"])
        status, obj = self.decide(req["id"], "approve", as_user=BOB)
        self.assertEqual(status, 200, obj)

    def test_only_root_sets_service_and_rhost(self):
        for extra in ({"service": "sshd"}, {"rhost": "10.0.0.5"}):
            body = dict(reason="x", **extra)
            status, obj = self.d.call("POST", "/v1/requests", body, as_user=MALLORY)
            self.assertEqual(status, 403, obj)
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], 0)

    def test_concurrent_calls_per_user_are_capped(self):
        self.d.close()
        self.d = Daemon(tenants=TENANTS, daemon_extra={"max_calls_per_user": "3"}).start()
        own = self.d.file_request(None, "mine", as_user=MALLORY)
        path = "/v1/requests/%s/wait?timeout=20" % own["id"]
        import threading
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            self.d.call("GET", path, as_user=MALLORY, timeout=30)[0])) for _ in range(3)]
        for t in threads:
            t.start()
        self.d.wait_waiting(3, 5)
        status, obj = self.d.call("GET", path, as_user=MALLORY)
        self.assertEqual(status, 429, obj)
        # root (the PAM module) and other users are still served
        self.assertEqual(self.d.call("POST", "/v1/access/check", {"user": ENG})[0], 200)
        self.assertEqual(self.d.call("GET", "/v1/requests", as_user=ENG)[0], 200)
        self.decide(own["id"], "deny", as_user=ALICE)
        for t in threads:
            t.join(10)
        self.assertEqual(results, [200, 200, 200])
        self.assertEqual(self.d.call("GET", "/v1/requests", as_user=MALLORY)[0], 200)

    def test_open_connections_per_user_are_capped(self):
        """Idle connections count too: one user holding connections open cannot take every
        slot from the PAM module (root) or from other users."""
        self.d.close()
        self.d = Daemon(tenants=TENANTS, daemon_extra={"max_connections_per_user": "5"}).start()
        holder = subprocess.Popen(
            ["runuser", "-u", MALLORY, "--", "/usr/bin/python3", "-c", HOLD_CONNECTIONS, self.d.socket, "5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            verdict = holder.stdout.readline().strip()
            self.assertEqual(self.d.call("POST", "/v1/access/check", {"user": ENG})[0], 200)
            self.assertEqual(self.d.call("GET", "/v1/requests", as_user=ENG)[0], 200)
        finally:
            holder.stdin.close()
            holder.wait(30)
        self.assertEqual(verdict, "closed at once", "a connection beyond the cap was kept open")
        self.assertEqual(self.d.call("GET", "/v1/requests", as_user=MALLORY)[0], 200)

    def test_messages_say_why(self):
        req = self.file(ENG)
        _, obj = self.decide(req["id"], "approve", as_user=CAROL)
        self.assertIn("not an approver for tenant contoso", obj["message"])
        own = self.d.file_request(None, "mine", as_user=ALICE)
        _, obj = self.decide(own["id"], "approve", as_user=ALICE)
        self.assertIn("cannot decide your own request", obj["message"])

    def test_root_listed_as_admin_may_decide(self):
        self.d.close()
        self.d = Daemon(tenants={"contoso": ["root"]}).start()
        req = self.file(ENG)
        status, obj = self.decide(req["id"], "approve", as_user="root")
        self.assertEqual(status, 200, obj)

    def test_users_file_only_for_themselves(self):
        status, obj = self.d.call("POST", "/v1/requests", {"reason": "x", "user": ENG}, as_user=MALLORY)
        self.assertEqual(status, 403)
        status, obj = self.d.call("POST", "/v1/requests", {"reason": "x"}, as_user=MALLORY)
        self.assertEqual((status, obj["user"], obj["requested_by"]), (201, MALLORY, MALLORY))

    def test_read_rules(self):
        req = self.file(ENG)
        for who, expected in ((ENG, 200), (ALICE, 200), (BOB, 200), (MALLORY, 403), (CAROL, 403)):
            status, _ = self.d.call("GET", "/v1/requests/" + req["id"], as_user=who)
            self.assertEqual(status, expected, who)
        _, listing = self.d.call("GET", "/v1/requests", as_user=MALLORY)
        self.assertEqual(listing["requests"], [])
        _, listing = self.d.call("GET", "/v1/requests", as_user=ALICE)
        self.assertEqual([r["id"] for r in listing["requests"]], [req["id"]])

    def test_audit_shows_an_admin_only_their_tenants_records(self):
        self.file()
        self.d.file_request(ENG, "INC-2", tenant="fabrikam")
        self.d.file_request(ENG, "INC-3", requester="h2")  # another asker: a second request
        status, obj = self.d.call("GET", "/v1/audit", as_user=CAROL)
        self.assertEqual(status, 200, obj)
        tenants = [json.loads(line)["tenant"] for line in obj["records"]]
        self.assertEqual((tenants, obj["all_tenants"], obj["more"]), (["fabrikam"], False, False))
        status, obj = self.d.call("GET", "/v1/audit")
        self.assertEqual([json.loads(line)["tenant"] for line in obj["records"]],
                         ["contoso", "fabrikam", "contoso"])
        self.assertTrue(obj["all_tenants"])
        self.assertEqual(self.d.call("GET", "/v1/audit", as_user=MALLORY)[0], 403)

    def test_filtered_audit_pages_say_where_to_go_on(self):
        self.file()
        self.d.file_request(ENG, "INC-2", tenant="fabrikam")
        pages, after = [], 0
        while True:
            status, obj = self.d.call("GET", "/v1/audit?limit=1&after=%d" % after, as_user=CAROL)
            self.assertEqual(status, 200, obj)
            pages.append([json.loads(line)["seq"] for line in obj["records"]])
            if not obj["more"]:
                break
            self.assertGreater(obj["next_after"], after)
            after = obj["next_after"]
        # seq 1 is contoso's (hidden, but the page says there is more), seq 2 fabrikam's.
        self.assertEqual(pages, [[], [2], []])

    def test_only_root_checks_access(self):
        status, _ = self.d.call("POST", "/v1/access/check", {"user": ENG}, as_user=ENG)
        self.assertEqual(status, 403)

    def test_pending_cap_per_user(self):
        self.d.close()
        self.d = Daemon(tenants=TENANTS, max_pending=2).start()
        # Each asked by someone else, so each is a request of its own (Step 15: one host only).
        for asker in ("h1", "h2"):
            self.d.file_request(ENG, "x", requester=asker)
        status, obj = self.d.call("POST", "/v1/requests",
                                  {"reason": "x", "user": ENG, "requester": "h3"})
        self.assertEqual(status, 429, obj)


class GroupLookup(DaemonCase):
    """Groups are looked up only for calls that need them (deciding, reading others'
    requests); when that lookup fails the call is refused, never answered without it."""

    def setUp(self):
        try:
            taken = grp.getgrgid(ORPHAN_GID).gr_name
            self.fail("gid %d (ORPHAN's primary group) was taken by %s: the test needs it free"
                      % (ORPHAN_GID, taken))
        except KeyError:
            pass
        super().setUp()

    def test_failed_group_lookup_refuses_a_decision_but_not_filing(self):
        own = self.d.call("POST", "/v1/requests", {"reason": "mine"}, as_user=ORPHAN)
        self.assertEqual(own[0], 201, own)
        req = self.d.file_request(ENG, "INC-2", tenant="fabrikam")
        status, obj = self.decide(req["id"], "approve", as_user=ORPHAN)
        self.assertEqual(status, 403, obj)
        self.assertIn("groups", obj["message"])
        self.assertEqual(self.state(req["id"]), "pending")
        self.assertEqual(self.decide(req["id"], "approve", as_user=CAROL)[0], 200)

    def test_failed_group_lookup_hides_other_users_requests(self):
        self.d.file_request(ENG, "INC-2", tenant="fabrikam")
        status, obj = self.d.call("GET", "/v1/requests?tenant=fabrikam", as_user=ORPHAN)
        self.assertEqual(status, 403, obj)
        status, obj = self.d.call("GET", "/v1/requests?tenant=fabrikam", as_user=CAROL)
        self.assertEqual((status, len(obj["requests"])), (200, 1))


@sqlite_only("the audit file is written before the answer here; on PostgreSQL it mirrors the "
             "database's chain, and crash safety there is Step 13's two-instance kill -9 test")
class CrashSafety(DaemonCase):
    def test_kill9_after_acknowledged_decisions(self):
        decided = {}
        for i in range(6):
            req = self.d.file_request(ENG, "crash %d" % i, requester="h%d" % i)
            action = "approve" if i % 2 else "deny"
            status, obj = self.decide(req["id"], action)
            self.assertEqual(status, 200)
            decided[req["id"]] = obj["state"]
        self.d.kill9()
        self.d.start()
        for rid, state in decided.items():
            self.assertEqual(self.state(rid), state)
        lines = self.d.audit_lines()
        events = [json.loads(l) for l in lines]
        for rid in decided:
            n = sum(1 for e in events if e["request_id"] == rid and e["event"] != "request.created")
            self.assertEqual(n, 1, rid)
        ok, head = verify_chain(lines)
        self.assertTrue(ok, head)
        _, health = self.d.call("GET", "/v1/health")
        self.assertEqual((health["audit_seq"], health["audit_hash"]), (events[-1]["seq"], head))

    def test_committed_record_missing_from_file_is_appended_at_start(self):
        req = self.file()
        self.decide(req["id"], "approve")
        self.d.stop()
        lines = self.d.audit_lines()
        with open(self.d.audit_path, "w") as f:  # simulate a crash between commit and append
            f.write("\n".join(lines[:-1]) + "\n")
        self.d.start()
        self.assertEqual(self.d.audit_lines(), lines)


class HostileInput(DaemonCase):
    def assert_rejected(self, raw_body, path="/v1/requests", status=400):
        before = self.d.db("SELECT count(*) FROM requests")[0][0]
        got, obj = self.d.call("POST", path, raw_body=raw_body)
        self.assertEqual(got, status, (raw_body[:60], obj))
        self.assertIn("message", obj)
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], before)

    def test_bad_bodies(self):
        for body in [b"{", b"[]", b"\"x\"", b"{\"reason\": 5}", b"{\"reason\": null}",
                     b"{\"reason\": \"a\", \"reason\": \"b\"}", b"{\"reason\": \"a\", \"colour\": 1}",
                     b"{\"reason\": \"a\"} {}", b"{\"reason\": \"a\\u0000b\"}",
                     b"{\"reason\": \"line\\nbreak\"}", b"{\"reason\": \"esc\\u001b[31m\"}",
                     b"{\"reason\": \"c1 \\u0085\"}", b"{\"reason\": \"del \\u007f\"}",
                     b"{\"reason\": \"bad \xff utf8\"}", b"{\"reason\": \"\"}",
                     b"{\"reason\": \"x\", \"user\": \"../etc\"}", b"{\"reason\": \"x\", \"tenant\": \"nope\"}",
                     b"{\"reason\": \"" + b"a" * 1025 + b"\"}"]:
            self.assert_rejected(body)

    def test_body_over_limit(self):
        self.assert_rejected(b"{\"reason\": \"" + b"a" * 20000 + b"\"}", status=413)

    def test_decision_bodies(self):
        req = self.file()
        path = "/v1/requests/%s/approve" % req["id"]
        for body in [b"{\"for\": \"13\"}", b"{\"for\": \"0h\"}", b"{\"comment\": 1}",
                     b"{\"reason\": \"x\"}", b"{\"comment\": \"a\\rb\"}"]:
            got, obj = self.d.call("POST", path, raw_body=body, as_user=ALICE)
            self.assertEqual(got, 400, (body, obj))
        self.assertEqual(self.state(req["id"]), "pending")

    def test_ids_and_paths(self):
        for path in ("/v1/requests/ABC", "/v1/requests/" + "0" * 32, "/v1/requests/../../etc",
                     "/v2/health", "/v1/requests/" + "0" * 32 + "/explode"):
            status, _ = self.d.call("GET", path)
            self.assertEqual(status, 404, path)
        status, _ = self.d.call("DELETE", "/v1/health")
        self.assertEqual(status, 405)

    def test_garbage_bytes_then_still_answering(self):
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" +
                     b"X-Long: " + b"a" * 100000 + b"\r\n\r\n", os.urandom(4096),
                     b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Content-Length: 7\r\n\r\n{}"):
            reply = self.d.raw(junk)
            self.assertNotIn("200 OK", reply.split("\r\n")[0] if reply else "")
        status, _ = self.d.call("GET", "/v1/health")
        self.assertEqual(status, 200)
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], 0)


class SyslogAndAudit(unittest.TestCase):
    def test_every_event_reaches_syslog_escaped(self):
        with Daemon(tenants=TENANTS, syslog=True) as d:
            req = d.file_request(ENG, 'quote " and = and \\ and ünïcode')
            d.call("POST", "/v1/requests/%s/approve" % req["id"], {"comment": "ok then"}, as_user=ALICE)
            found = d.syslog.wait_for("event=request.approved")
            self.assertTrue(found, d.syslog.snapshot())
            self.assertIn("actor=%s" % ALICE, found[0])
            self.assertIn('comment="ok then"', found[0])
            self.assertIn("<%d>" % (10 * 8 + 5), found[0])  # authpriv.notice
            created = d.syslog.wait_for("event=request.created")[0]
            self.assertIn('reason="quote \\" and = and \\\\ and ünïcode"', created)
            for line in d.syslog.snapshot():
                self.assertFalse(any(ord(c) < 0x20 or ord(c) == 0x7f for c in line), line)
            d.call("POST", "/v1/requests/%s/deny" % req["id"], {}, as_user=MALLORY)
            self.assertTrue(d.syslog.wait_for("event=api.refused status=403"))

    def test_every_refusal_is_logged_once(self):
        """DESIGN: every refused call is a 403 and is logged, whichever check refused it (the
        route table, the service, a failed group lookup, a session without access) and on
        either door: one `event=api.refused status=403` line per refusal, never two."""
        with Daemon(tenants=TENANTS, syslog=True) as d:
            req = d.file_request(ENG, "INC-1")
            refusals = [  # who, method, path, body, the action the line names
                (MALLORY, "POST", "/v1/requests", {"reason": "x", "user": ENG}, "request.created"),
                (MALLORY, "POST", "/v1/requests", {"reason": "x", "service": "sshd"},
                 "request.created"),
                (MALLORY, "POST", "/v1/requests", {"reason": "x", "rhost": "10.0.0.5"},
                 "request.created"),
                (MALLORY, "POST", "/v1/requests", {"reason": "x", "requester": ALICE},
                 "request.created"),
                (ORPHAN, "GET", "/v1/requests?tenant=fabrikam", None, "list"),
                (MALLORY, "GET", "/v1/audit", None, "audit"),
                (MALLORY, "POST", "/v1/sessions", {"user": MALLORY}, "session.open"),
                (MALLORY, "POST", "/v1/sessions/%s/close" % ("0" * 32), None, "session.close"),
                ("root", "POST", "/v1/sessions", {"user": ENG}, "session.open"),  # no access
                (ENG, "POST", "/v1/access/check", {"user": ENG}, "access.check"),
                (MALLORY, "GET", "/v1/requests/" + req["id"], None, "show"),
                (MALLORY, "GET", "/v1/requests/%s/wait?timeout=0" % req["id"], None, "show"),
                (MALLORY, "POST", "/v1/requests/%s/deny" % req["id"], {}, "request.denied"),
            ]
            for who, method, path, body, action in refusals:
                status, obj = d.call(method, path, body, as_user=who)
                self.assertEqual(status, 403, (who, path, obj))
                uid = 0 if who == "root" else pwd.getpwnam(who).pw_uid
                needle = "event=api.refused status=403 actor=%s uid=%d action=%s " % (
                    who, uid, action)
                self.assertTrue(d.syslog.wait_for(needle), (needle, d.syslog.snapshot()))
            # The login socket's one refusal: a session without current access.
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.settimeout(10)
                s.connect(d.pam_socket)
                s.send(json.dumps({"op": "session_open", "user": ENG}).encode())
                self.assertEqual(json.loads(s.recv(16384))["status"], 403)
            self.assertTrue(d.syslog.wait_for("actor=root uid=0 action=session_open id=- "))
            # A line sent after all of them: every refusal line is in by the time it is.
            d.file_request(ENG, "after the refusals", requester="h2")
            self.assertTrue(d.syslog.wait_for('reason="after the refusals"'))
            lines = [l for l in d.syslog.snapshot() if "event=api.refused status=403" in l]
            self.assertEqual(len(lines), len(refusals) + 1, "\n".join(lines))
            for line in lines:
                self.assertIn("<%d>" % (10 * 8 + 4), line)  # authpriv.warning
                self.assertRegex(line, r' msg=("[^"]+"|\S+)$')

    def test_rotation_on_sighup_continues_the_chain(self):
        with Daemon(tenants=TENANTS) as d:
            d.file_request(ENG, "one", requester="a")
            # On PostgreSQL the file is a mirror a moment behind the database: rotate once
            # the record is in it, as logrotate would find it.
            self.assertEqual(len(d.audit_lines()), 1)
            os.rename(d.audit_path, d.audit_path + ".1")
            d.hup()
            wait_until(lambda: "event=audit.reopened" in d.stderr(), 5, "the audit file reopened")
            d.file_request(ENG, "two", requester="b")
            old, new = d.audit_lines(d.audit_path + ".1"), d.audit_lines()
            self.assertEqual(len(new), 1)
            self.assertEqual(json.loads(new[0])["seq"], len(old) + 1)
            ok, _ = verify_chain(old + new)
            self.assertTrue(ok)
            d.restart()  # a restart must not re-append what the rotated file holds
            self.assertEqual(len(d.audit_lines()), 1)

    @sqlite_only("a full audit file refuses decisions where the file is written before the "
                 "answer; on PostgreSQL the decision commits in the database, the file mirrors it")
    def test_unwritable_audit_file_grants_nothing(self):
        d = Daemon(tenants=TENANTS)
        log_dir = os.path.dirname(d.audit_path)
        d.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount -t tmpfs -o size=64k,mode=755 tmpfs "%s" && exec "$@"' % log_dir, "sh"]
        try:
            d.start()
            req = d.file_request(ENG, "before full", requester="target")
            fill = subprocess.run(["nsenter", "-t", str(d.pid), "-m", "dd", "if=/dev/zero",
                                   "of=%s/filler" % log_dir, "bs=4k"], capture_output=True)
            self.assertNotEqual(fill.returncode, 0)  # the disk is full
            # Records go on until the audit file's last page is full too.
            for i in range(200):
                status, _ = d.call("POST", "/v1/requests", {"reason": "fill %d" % i, "user": ENG,
                                                            "requester": "h%d" % i})
                if d.call("GET", "/v1/health")[1]["audit_ok"] is False:
                    break
            else:
                self.fail("the audit file never filled up")
            status, obj = d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
            self.assertEqual(status, 503, obj)
            self.assertIn("audit file", obj["message"])
            self.assertEqual(d.call("GET", "/v1/requests/" + req["id"])[1]["state"], "pending")
            status, check = d.call("POST", "/v1/access/check", {"user": ENG})
            self.assertNotEqual((status, (check or {}).get("allowed")), (200, True))
            subprocess.run(["nsenter", "-t", str(d.pid), "-m", "rm", "-f", "%s/filler" % log_dir],
                           check=True)  # the space is free once rm has returned
            status, obj = d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
            self.assertIn(status, (200, 409), obj)  # approved now (or already, if the first landed)
            status, check = d.call("POST", "/v1/access/check", {"user": ENG})
            self.assertEqual((status, check["allowed"]), (200, True))
            lines = subprocess.run(["nsenter", "-t", str(d.pid), "-m", "cat", d.audit_path],
                                   capture_output=True, text=True, check=True).stdout.splitlines()
            ok, head = verify_chain(lines)
            self.assertTrue(ok, head)
        finally:
            d.close()


class Config(unittest.TestCase):
    def check(self, text):
        d = Daemon(tenants=TENANTS)
        try:
            with open(d.conf_path, "w") as f:
                f.write(text)
            return subprocess.run([__import__("lockbox_testlib").LOCKBOXD, "-c", d.conf_path,
                                   "--check-config"], capture_output=True, text=True)
        finally:
            d.close()

    def test_errors_name_file_and_line(self):
        base = "[daemon]\ntenant = contoso\n"
        cases = {
            base + "request_ttl = 12\n[tenant contoso]\nadmins = a\n": ":3:",
            base + "colour = blue\n[tenant contoso]\nadmins = a\n": ":3:",
            base + "[tenant contoso]\nadmins = a, b c\n": ":4:",
            base + "[tenant contoso]\nowners = a\n": ":4:",
            "[daemon]\ntenant = contoso\n": "no [tenant contoso]",
            base + "[tenant contoso]\n": "no [tenant contoso]",
            "[daemon]\n[tenant x]\nadmins = a\n": "tenant is not set",
            base + "socket = relative/path\n[tenant contoso]\nadmins=a\n": ":3:",
            base + "max_connections_per_user = 0\n[tenant contoso]\nadmins = a\n": ":3:",
            base + "max_connections_per_user = 12x\n[tenant contoso]\nadmins = a\n": ":3:",
        }
        for text, needle in cases.items():
            r = self.check(text)
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(needle, r.stderr, text)

    def test_valid_config_with_inline_comments(self):
        r = self.check("[daemon]\ntenant = contoso   # owner\naccess_ttl = 2h\n"
                       "[tenant contoso]\nadmins = alice, @ops  # people\n")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
