"""Hostile input against a real lockboxd: HTTP framing tricks (smuggling shapes), oversize
headers, slowloris, a flood of requests from one user, guessed and truncated ids, and decisions
racing on one request. Complements tests/integration/test_daemon.py (bad bodies, garbage
bytes, two different Content-Lengths), which these tests do not repeat."""

import os
import random
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("lbh")  # every account this file adds starts so
U = lt.Users(PREFIX)
ALICE, BOB, ENG, MALLORY = PREFIX + "_alice", PREFIX + "_bob", PREFIX + "_eng", PREFIX + "_mallory"
TENANTS = {sl.TENANT: [ALICE, "@" + PREFIX + "_admins"]}


def setUpModule():
    U.add(ALICE)
    U.add(BOB, groups=[PREFIX + "_admins"])
    U.add(ENG)
    U.add(MALLORY)


def tearDownModule():
    U.cleanup()


class HostileCase(unittest.TestCase):
    daemon_args = {}

    def setUp(self):
        self.d = lt.Daemon(tenants=TENANTS, host=sl.HOST, **self.daemon_args).start()

    def tearDown(self):
        self.d.close()

    def count(self, where="1"):
        return self.d.db("SELECT count(*) FROM requests WHERE " + where)[0][0]

    def assert_still_serving(self):
        status, health = self.d.call("GET", "/v1/health", timeout=10)
        self.assertEqual(status, 200)
        self.assertTrue(health["audit_ok"])


SMUGGLED = b'{"reason":"SMUGGLED"}'
SMUGGLED_POST = (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(SMUGGLED)) + SMUGGLED
HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


class Smuggling(HostileCase):
    """Ambiguous message framing is refused; a request hidden in a body never runs."""

    def assert_nothing_smuggled(self):
        self.assertEqual(self.count("reason = 'SMUGGLED'"), 0, "a hidden request was executed")

    def test_duplicate_identical_content_length_is_refused(self):
        body = b'{"reason":"dup-cl"}'
        req = (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body))) + body
        out = sl.conversation(self.d.socket, req, as_user=ENG, follow=SMUGGLED_POST)
        self.assertEqual(len(out["replies"]), 1, out)
        self.assertIn(" 400 ", out["replies"][0], out)
        self.assertTrue(out["closed"], out)
        self.assertEqual(self.count(), 0)
        self.assert_still_serving()

    def test_content_length_with_transfer_encoding_is_refused_and_closed(self):
        # By Content-Length (4) the body ends after "2a\r\n" and SMUGGLED_POST follows as a
        # second request; by chunked framing the smuggled request is inside the chunk.
        chunk = b'{"reason":"chunk"}' + SMUGGLED_POST
        req = (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"%x\r\n" % len(chunk)) + chunk + b"\r\n0\r\n\r\n"
        out = sl.conversation(self.d.socket, req, as_user=ENG, follow=SMUGGLED_POST)
        self.assertEqual(len(out["replies"]), 1, out)
        self.assertIn(" 400 ", out["replies"][0], out)
        self.assertTrue(out["closed"], "RFC 9112 6.1: the connection must be closed")
        self.assertEqual(self.count(), 0, "nothing is filed from an ambiguous request")
        self.assert_nothing_smuggled()
        self.assert_still_serving()

    def test_unknown_transfer_codings_are_refused(self):
        body = b'{"reason":"te"}'
        for coding in (b"xchunked", b"chunked, identity", b"gzip, chunked", b"identity",
                       b"chunked\r\nTransfer-Encoding: chunked"):
            req = (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: " + coding + b"\r\n\r\n%x\r\n" % len(body) + body +
                   b"\r\n0\r\n\r\n")
            out = sl.conversation(self.d.socket, req, as_user=ENG, follow=SMUGGLED_POST)
            self.assertFalse([r for r in out["replies"] if " 20" in r], (coding, out))
        self.assertEqual(self.count(), 0)
        self.assert_still_serving()

    def test_bare_lf_never_hides_a_request(self):
        # RFC 9112 2.2 lets a server take a bare LF as a line end; either way, one message
        # is one request: the POST inside the GET's body is never run.
        req = (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: a\nContent-Length: %d\r\n\r\n"
               % len(SMUGGLED_POST)) + SMUGGLED_POST
        out = sl.conversation(self.d.socket, req, as_user=ENG)
        self.assertLessEqual(len(out["replies"]), 1, out)
        lf_only = b"GET /v1/health HTTP/1.1\nHost: x\n\n"
        out = sl.conversation(self.d.socket, lf_only, as_user=ENG)
        self.assertLessEqual(len(out["replies"]), 1, out)
        self.assert_nothing_smuggled()
        self.assert_still_serving()

    def test_pipelined_request_after_a_refused_body_does_not_run(self):
        # A body that is not JSON is refused; what follows it is a second request the client
        # really sent, so it may run - but only once, and under the caller's own identity.
        junk = b"not json"
        req = (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(junk)
               + junk + SMUGGLED_POST)
        sl.conversation(self.d.socket, req, as_user=MALLORY)
        rows = self.d.db("SELECT user, requested_by FROM requests")
        self.assertLessEqual(len(rows), 1)
        for user, by in rows:
            self.assertEqual((user, by), (MALLORY, MALLORY))


class Oversize(HostileCase):
    def test_oversize_request_parts_are_refused(self):
        cases = {
            "one 70 KB header": b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000
                                + b"\r\n\r\n",
            "10,000 headers": b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 10000
                              + b"\r\n",
            "70 KB URL": b"GET /v1/requests?user=" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "2^70 Content-Length": b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 1180591620717411303424\r\n\r\n{}",
            "chunked body over 16 KiB": b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n" +
                                        (b"1000\r\n" + b"a" * 4096 + b"\r\n") * 8 + b"0\r\n\r\n",
        }
        for name, data in cases.items():
            out = sl.conversation(self.d.socket, data, as_user=MALLORY, timeout=5)
            statuses = [r.split(" ")[1] for r in out["replies"]]
            self.assertTrue(all(s[0] == "4" for s in statuses), (name, out["replies"]))
        self.assertEqual(self.count(), 0)
        self.assert_still_serving()


class Slowloris(HostileCase):
    def open_idle_connections(self, n, hold_seconds):
        """As an unprivileged user: n connections with half a request each, then silence.
        Returns (how many the daemon closed, after how long)."""
        path = self.d.socket

        def attack():
            socks = []
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.sendall(b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Le")
                s.setblocking(False)
                socks.append(s)
            start = time.monotonic()
            closed_at = {}
            while len(closed_at) < n and time.monotonic() - start < hold_seconds:
                for i, s in enumerate(socks):
                    if i in closed_at:
                        continue
                    try:
                        if s.recv(4096) == b"":
                            closed_at[i] = time.monotonic() - start
                    except BlockingIOError:
                        pass
                    except ConnectionResetError:
                        closed_at[i] = time.monotonic() - start
                time.sleep(0.2)
            for s in socks:
                s.close()
            return [len(closed_at), min(closed_at.values(), default=None)]
        return sl.ForkedUser(MALLORY, attack)

    def test_idle_connections_are_dropped_and_others_served_meanwhile(self):
        _, fds_before = sl.proc_stats(self.d.pid)
        # 100: below max_connections_per_user (128), which would close the rest at once.
        attacker = self.open_idle_connections(100, hold_seconds=60)
        try:
            self.assertTrue(sl.wait_until(lambda: sl.proc_stats(self.d.pid)[1] >= fds_before + 90, 10),
                            "the idle connections never reached the daemon")
            # Meanwhile: filing, deciding and checking work at once.
            started = time.monotonic()
            req = self.d.file_request(ENG, "during slowloris")
            status, _ = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                    as_user=ALICE, timeout=10)
            self.assertEqual(status, 200)
            status, check = self.d.call("POST", "/v1/access/check", {"user": ENG}, timeout=10)
            self.assertTrue(check["allowed"])
            self.assertLess(time.monotonic() - started, 8, "others must not wait on idle peers")
            closed, first = attacker.join(timeout=90)
        finally:
            attacker.kill()
        self.assertEqual(closed, 100, "every idle connection is dropped by the idle timeout")
        self.assertGreater(first, 5, "dropped by the 15 s idle timeout, not at once")
        self.assertTrue(sl.wait_until(lambda: sl.proc_stats(self.d.pid)[1] <= fds_before + 1, 10))
        self.assert_still_serving()

    def test_one_user_cannot_exhaust_the_daemons_descriptors(self):
        """Under systemd's default RLIMIT_NOFILE (1024 soft) one local user holding ~1,100 idle
        connections would leave lockboxd unable to accept anyone else; lockboxd raises its soft
        limit to the hard limit at start-up (and caps calls and connections per uid; the
        connection cap is lifted here to test the descriptor limit itself)."""
        self.d.close()
        self.d = lt.Daemon(tenants=TENANTS, host=sl.HOST,
                           daemon_extra={"max_connections_per_user": "5000"},
                           wrapper=["prlimit", "--nofile=1024:%d"
                                    % resource.getrlimit(resource.RLIMIT_NOFILE)[1], "--"]).start()
        path = self.d.socket

        def attack():
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
            socks = []
            for _ in range(1100):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.sendall(b"GET /v1/health HTTP/1.1\r\n")
                socks.append(s)
            time.sleep(30)  # holds them open until the test ends it (attacker.kill())
            for s in socks:
                s.close()
            return len(socks)
        attacker = sl.ForkedUser(MALLORY, attack)
        try:
            sl.wait_until(lambda: sl.proc_stats(self.d.pid)[1] > 1000, 20,
                          "the attacker's connections to reach lockboxd")
            started = time.monotonic()
            try:
                status, _ = self.d.call("GET", "/v1/health", timeout=15)
            except OSError:
                status = None
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic() - started, 5, "root waited for the attacker")
        finally:
            attacker.kill()


class Flood(HostileCase):
    # Under ASan freed memory waits in a quarantine (256 MB by default) before reuse: keep it
    # small, so that growth means a leak rather than the quarantine filling up.
    daemon_args = {"max_pending": 20,
                   "env": {"ASAN_OPTIONS": "quarantine_size_mb=8:thread_local_quarantine_size_kb=64"}
                   if lt.SANITIZED else None}

    def flood(self, n, first_asker):
        """n calls filing for ENG on the daemon's own host, each from another requester (as
        root's PAM module files when many people su or sudo to one account): each one new,
        so past max_pending each meets the cap, not the pending request reused. ENG alone
        could not: a lockboxd files for its own host only, and a user's own filings share
        one requester, so they find the request already pending."""
        path = self.d.socket

        def run():
            counts = {}
            for i in range(n):
                if i % 10 == 9:
                    status, _ = lt.http_call(path, "GET", "/v1/requests?state=all&limit=5")
                else:
                    status, _ = lt.http_call(path, "POST", "/v1/requests",
                                             {"reason": "flood %d" % i, "user": ENG,
                                              "host": sl.HOST,
                                              "requester": "f%d" % (first_asker + i)})
                counts[str(status)] = counts.get(str(status), 0) + 1
            return counts
        return sl.ForkedUser("root", run).join(timeout=900)

    def test_ten_thousand_requests_from_one_user(self):
        warm = self.flood(1000, 0)  # fills the cap; the daemon's caches warm up
        self.assertEqual(warm.get("201"), 20, warm)
        self.assertEqual(warm.get("429"), 900 - 20, warm)
        rss_before, fds_before = sl.proc_stats(self.d.pid)
        counts = self.flood(sl.scaled(10000, 50000), 1000)
        rss_after, fds_after = sl.proc_stats(self.d.pid)
        n = sl.scaled(10000, 50000)
        self.assertEqual(counts, {"429": n - n // 10, "200": n // 10}, counts)
        self.assertEqual(self.count("user = '%s' AND state = 0" % ENG), 20)
        self.assertEqual(self.count(), 20, "nothing past max_pending_per_user was filed")
        self.assertEqual(len(self.d.audit_lines()), 20)
        self.assertLessEqual(fds_after, fds_before + 1, "descriptors leak per request")
        # Loose (here it grows by ~30 KiB), yet a leak of 150 bytes per request would cross
        # it. Under ASan the (small) quarantine and its allocator caches add some noise.
        bound = 8 * 1024 if lt.SANITIZED else 1536
        self.assertLess(rss_after - rss_before, bound,
                        "VmRSS grew from %d to %d KiB" % (rss_before, rss_after))
        self.assert_still_serving()

    def test_a_users_own_flood_files_one_request(self):
        """ENG flooding with their own filings: each finds the request already pending."""
        path = self.d.socket

        def run():
            counts = {}
            for i in range(500):
                status, _ = lt.http_call(path, "POST", "/v1/requests", {"reason": "own %d" % i})
                counts[str(status)] = counts.get(str(status), 0) + 1
            return counts
        counts = sl.ForkedUser(ENG, run).join(timeout=300)
        self.assertEqual(counts, {"201": 1, "200": 499}, counts)
        self.assertEqual(self.count(), 1)
        self.assertEqual(len(self.d.audit_lines()), 1)
        self.assert_still_serving()


class Ids(HostileCase):
    daemon_args = {"max_pending": 200}

    def test_guessed_and_truncated_ids_find_nothing(self):
        req = self.d.file_request(ENG, "target")
        rid = req["id"]
        before = self.d.audit_lines()
        guesses = [rid[:-1], rid[:16], rid + "0", rid.upper(), rid[:-1] + "g", rid[1:] + rid[0],
                   "%s%%" % rid[:31], rid[:31] + "_", "'%20OR%201=1%20--", "%2e%2e%2f" * 4, "0" * 32,
                   "%s/../%s" % (rid, rid)]
        guesses += ["%032x" % random.getrandbits(128) for _ in range(20)]
        for guess in guesses:
            for action in ("approve", "deny", "revoke"):
                status, obj = self.d.call("POST", "/v1/requests/%s/%s" % (guess, action), {},
                                          as_user=ALICE)
                self.assertIn(status, (400, 404), (guess, action, obj))
            status, _ = self.d.call("GET", "/v1/requests/%s" % guess, as_user=ENG)
            self.assertIn(status, (400, 404), guess)
            status, _ = self.d.call("GET", "/v1/requests/%s/wait?timeout=0" % guess, as_user=ENG)
            self.assertIn(status, (400, 404), guess)
        self.assertEqual(self.d.call("GET", "/v1/requests/" + rid)[1]["state"], "pending")
        self.assertEqual(self.d.audit_lines(), before, "a guess changed something")

    def test_ids_are_random_not_sequential(self):
        ids = [self.d.file_request(ENG, "id %d" % i, host=sl.HOST,
                                   requester="i%d" % i)["id"] for i in range(64)]
        self.assertEqual(len(set(ids)), len(ids))
        for rid in ids:
            self.assertRegex(rid, "^[0-9a-f]{32}$")
        values = [int(rid, 16) for rid in ids]
        for a, b in zip(values, values[1:]):
            self.assertGreater(abs(a - b), 1 << 64, "ids close together: sequential?")
        ones = sum(bin(v).count("1") for v in values)
        self.assertTrue(0.40 < ones / (128 * len(values)) < 0.60, "biased id bits")
        dist = [bin(a ^ b).count("1") for a, b in zip(values, values[1:])]
        self.assertTrue(50 < sum(dist) / len(dist) < 78, "ids too alike: %s" % dist)


class Races(HostileCase):
    """Decisions on one request from many connections at once: exactly one wins."""

    def race(self, participants, path_of):
        go_r, go_w = os.pipe()
        ready_r, ready_w = os.pipe()
        sock_path = self.d.socket
        children = []
        for i, (user, action) in enumerate(participants):
            def run(action=action):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock_path)  # connected now, as this user; sent on "go"
                os.write(ready_w, b"r")
                os.read(go_r, 1)
                return sl.http_on(s, *path_of(action))[0]
            children.append(sl.ForkedUser(user, run))
        try:
            # Synchronised on state: every participant has connected before "go".
            lt.read_until(ready_r, b"r" * len(participants), 30)
            os.write(go_w, b"x" * len(participants))
            return [c.join(timeout=60) for c in children]
        finally:
            for child in children:
                child.kill()
            for fd in (go_r, go_w, ready_r, ready_w):
                os.close(fd)

    def decisions_in_audit(self, rid, events):
        return [e for e in self.d.audit_events() if e["request_id"] == rid and e["event"] in events]

    def test_concurrent_approve_and_deny_one_winner(self):
        rounds = sl.scaled(4, 40)
        for n in range(rounds):
            # A requester of its own each round: a new request, not the last one reused.
            req = self.d.file_request(ENG, "race %d" % n, host=sl.HOST, requester="r%d" % n)
            rid = req["id"]
            participants = [(ALICE if i % 2 else BOB, "approve" if i % 3 else "deny")
                            for i in range(12)]
            statuses = self.race(participants, lambda a: ("POST", "/v1/requests/%s/%s" % (rid, a), {}))
            self.assertEqual(sorted(statuses), [200] + [409] * 11, statuses)
            winner = participants[statuses.index(200)][1]
            records = self.decisions_in_audit(rid, ("request.approved", "request.denied"))
            self.assertEqual(len(records), 1, records)
            self.assertEqual(records[0]["event"], "request.%s" % ("approved" if winner == "approve" else "denied"))
            state = self.d.call("GET", "/v1/requests/" + rid)[1]["state"]
            self.assertEqual(state, "approved" if winner == "approve" else "denied")
        sl.verify_against_daemon(self, self.d)

    def test_concurrent_revokes_one_winner(self):
        req = self.d.file_request(ENG, "revoke race")
        rid = req["id"]
        self.assertEqual(self.d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=ALICE)[0], 200)
        statuses = self.race([(ALICE, "revoke"), (BOB, "revoke")] * 5,
                             lambda a: ("POST", "/v1/requests/%s/%s" % (rid, a), {}))
        self.assertEqual(sorted(statuses), [200] + [409] * 9, statuses)
        self.assertEqual(len(self.decisions_in_audit(rid, ("access.revoked",))), 1)

    def test_concurrent_logins_file_one_request(self):
        # Twelve logins of one user at once (as the PAM module files them, as root): one
        # request is filed and all twelve get it.
        statuses = self.race([("root", None)] * 12,
                             lambda a: ("POST", "/v1/requests", {"reason": "login", "user": ENG,
                                                                 "service": "sshd"}))
        self.assertEqual(sorted(statuses), [200] * 11 + [201], statuses)
        self.assertEqual(self.count("user = '%s'" % ENG), 1)
        created = [e for e in self.d.audit_events() if e["event"] == "request.created"]
        self.assertEqual(len(created), 1)


class Identity(unittest.TestCase):
    def test_caller_without_a_user_name_is_refused(self):
        """design.md: the role comes only from SO_PEERCRED; a failed user lookup denies."""
        with lt.Daemon(tenants=TENANTS, host=sl.HOST, syslog=True) as d:
            path = d.socket
            nobody_uid = 54321
            self.assertRaises(KeyError, lt.pwd.getpwuid, nobody_uid)

            def as_unknown_uid():
                os.setgroups([])
                os.setgid(nobody_uid)
                os.setuid(nobody_uid)
                return [lt.http_call(path, "POST", "/v1/requests", {"reason": "who am i"})[0],
                        lt.http_call(path, "GET", "/v1/requests?state=all")[0],
                        lt.http_call(path, "POST", "/v1/access/check", {"user": ENG})[0]]
            statuses = sl.ForkedUser("root", as_unknown_uid).join()
            self.assertEqual(statuses, [403, 403, 403])
            self.assertEqual(d.db("SELECT count(*) FROM requests")[0][0], 0)
            self.assertTrue(d.syslog.wait_for("event=api.refused status=403"))


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
