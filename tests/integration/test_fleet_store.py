"""Several lockboxd on one PostgreSQL database (Step 13, "What to build" 3-5): a login waiting
on one instance wakes when another records the decision, the instances append to one audit
chain that the mirror holder's file follows, expiry fires once, an instance killed during a
burst loses no acknowledged decision, a stopped server makes calls fail closed until it is
back, and a promoted standby is followed through a multi-host DSN. Run as root:
python3 test_fleet_store.py -v (LOCKBOX_BUILD=dir)."""

import http.client
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import lockbox_pg  # noqa: E402
import pg_cluster  # noqa: E402

PREFIX = lt.unique_prefix("tfl")
TENANT = "contoso"
ADMIN = PREFIX + "_adm"
USERS = lt.Users(PREFIX)
# How long the mirror may take to reach the database's head: it ticks every 500 ms.
MIRROR_TIMEOUT = 5.0
# A burst's size: enough decisions that the two instances interleave their appends.
BURST = 40


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (accounts, PostgreSQL as postgres)")
    for path in (lt.LOCKBOXD, lt.LOCKBOXCTL, lt.PAM_MODULE, lt.PAM_HARNESS):
        if not os.path.exists(path):
            raise unittest.SkipTest("not built: %s" % path)
    USERS.add(ADMIN)


def tearDownModule():
    USERS.cleanup()


class FleetCase(unittest.TestCase):
    """Two lockboxd (A, B) on one fresh database, each with its own sockets, audit file and
    syslog listener; engineers are real accounts made per test."""

    counter = itertools.count(1)
    request_ttl = "12h"

    def setUp(self):
        self.a = self.instance("hosta")
        self.b = self.instance("hostb", database=self.a.pg)
        self.a.start()
        self.wait_mirror_taken(self.a)  # A holds the mirror before B can try
        self.b.start()
        self.tmp = tempfile.mkdtemp(prefix="lbx-fleet-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def instance(self, host, database=None):
        d = lt.Daemon(tenant=TENANT, host=host, tenants={TENANT: [ADMIN]}, syslog=True,
                      store="postgresql", database=database, request_ttl=self.request_ttl,
                      max_pending=BURST + 5)
        self.addCleanup(d.close)  # LIFO: B closes before A, whose close drops the database
        return d

    # --- state ---
    def new_user(self):
        return USERS.add("%s_u%d" % (PREFIX, next(self.counter)))

    def db_seqs(self):
        return [row[0] for row in self.a.db("SELECT seq FROM audit ORDER BY seq")]

    def db_lines(self):
        return [row[0] for row in self.a.db("SELECT line FROM audit ORDER BY seq")]

    def db_events(self, event, request_id=None):
        records = [json.loads(line) for line in self.db_lines()]
        return [r for r in records if r["event"] == event
                and (request_id is None or r["request_id"] == request_id)]

    @staticmethod
    def file_lines(daemon):
        try:
            with open(daemon.audit_path, "rb") as f:
                return [l.decode() for l in f.read().split(b"\n") if l]
        except FileNotFoundError:
            return []

    @staticmethod
    def daemon_lines(daemon, needle=""):
        """lockboxd's own syslog lines (without the timestamp and PID, which differ)."""
        return [l.split(": ", 1)[-1] for l in daemon.syslog.snapshot()
                if "lockboxd" in l and needle in l]

    def wait_mirror_taken(self, daemon, timeout=MIRROR_TIMEOUT):
        return lt.wait_until(lambda: self.daemon_lines(daemon, "event=audit.mirror_taken"),
                             timeout, "%s to take the audit mirror" % daemon.host)

    def wait_mirror_complete(self, daemon, timeout=MIRROR_TIMEOUT):
        """Until `daemon`'s file holds exactly the database's chain; returns its lines."""
        def complete():
            lines = self.file_lines(daemon)
            return lines if lines == self.db_lines() else None
        return lt.wait_until(complete, timeout, lambda: "%s's audit file (%d lines) to mirror "
                             "the database (%d records)" % (daemon.host,
                                                            len(self.file_lines(daemon)),
                                                            len(self.db_lines())))

    def assert_one_chain(self):
        seqs = self.db_seqs()
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "gaps or duplicates in audit.seq")
        ok, why = lt.verify_chain(self.db_lines())
        self.assertTrue(ok, why)

    def assert_file_verifies(self, daemon):
        done = subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file", daemon.audit_path],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    # --- calls ---
    def decide(self, daemon, request_id, verb="approve", timeout=30):
        return daemon.call("POST", "/v1/requests/%s/%s" % (request_id, verb), {},
                           as_user=ADMIN, timeout=timeout)

    def file_requests(self, count):
        """`count` pending requests, filed alternately on A and B."""
        users = [self.new_user() for _ in range(count)]
        return [(self.a, self.b)[i % 2].file_request(u, reason="burst")["id"]
                for i, u in enumerate(users)]

    # --- logins through pam_lockbox on a daemon's login socket ---
    def service(self, daemon, wait):
        name = "lbx%d" % next(self.counter)
        confdir = os.path.join(self.tmp, "pam.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, name), "w") as f:
            f.write("account required %s socket=%s wait=%d\n" % (lt.PAM_MODULE,
                                                                 daemon.pam_socket, wait))
        return confdir, name

    def start_login(self, daemon, user, wait=120):
        confdir, name = self.service(daemon, wait)
        argv = [lt.PAM_HARNESS, "--confdir", confdir, "--service", name, "--user", user,
                "--stack", "account"]
        proc = subprocess.Popen(lt.in_namespace(argv, devlog=daemon.syslog.path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lt.terminate, proc)
        return proc

    def finish_login(self, proc, timeout=60):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            lt.terminate(proc)
            self.fail("the login did not return within %ss" % timeout)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out.strip().splitlines()[-1])


class CrossInstanceWakeUp(FleetCase):
    def test_a_login_waiting_on_a_is_released_by_an_approval_on_b(self):
        user = self.new_user()
        login = self.start_login(self.a, user)
        req = self.b.wait_pending(user)  # B reads what A filed: one database
        self.a.wait_waiting(1)
        self.assertEqual(self.b.health()["waiting"], 0)

        status, obj = self.decide(self.b, req["id"])
        self.assertEqual(status, 200, obj)
        result = self.finish_login(login)
        self.assertEqual(result["account"], "PAM_SUCCESS", result)
        self.assertTrue(any("approved by %s" % ADMIN in m["text"] for m in result["messages"]),
                        result)
        self.a.wait_waiting(0)

        # B recorded the approval, A the request and the login it let in: each record once in
        # the database, each syslog line once, and in the syslog of the instance that made it.
        self.assertEqual(len(self.db_events("request.approved", req["id"])), 1)
        self.assertEqual(len(self.db_events("request.created", req["id"])), 1)
        approved = "event=request.approved id=%s" % req["id"]
        self.assertEqual(len(self.daemon_lines(self.b, approved)), 1, self.b.syslog.snapshot())
        self.assertEqual(self.daemon_lines(self.a, approved), [])
        a_lines = self.daemon_lines(self.a, "id=%s" % req["id"])
        self.assertEqual(len(a_lines), len(set(a_lines)), a_lines)
        self.assertTrue(a_lines, "A logged nothing about the request it filed")
        lines = self.wait_mirror_complete(self.a)
        self.assertEqual(len(lines), len(set(lines)))
        self.assert_one_chain()


class OneChain(FleetCase):
    def test_concurrent_decisions_on_both_instances_make_one_chain(self):
        ids = self.file_requests(BURST)
        results = {}

        def decide_half(daemon, half):
            for i, rid in enumerate(half):
                results[rid] = self.decide(daemon, rid, "approve" if i % 2 else "deny")[0]

        threads = [threading.Thread(target=decide_half, args=(d, ids[k::4]))
                   for k, d in enumerate((self.a, self.b, self.a, self.b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(sorted(results.values()), [200] * BURST, results)

        self.assert_one_chain()
        decided = [r["request_id"] for r in self.db_lines_as_records()
                   if r["event"] in ("request.approved", "request.denied")]
        self.assertEqual(sorted(decided), sorted(ids))
        self.wait_mirror_complete(self.a)
        self.assert_file_verifies(self.a)
        self.assertEqual(self.file_lines(self.b), [], "only the mirror holder writes its file")

    def db_lines_as_records(self):
        return [json.loads(line) for line in self.db_lines()]


class ExpiryOnce(FleetCase):
    request_ttl = "2s"

    def test_each_request_expires_once(self):
        ids = self.file_requests(6)
        lt.wait_until(lambda: len(self.db_events("request.expired")) >= len(ids), 20,
                      "every request to expire")
        # Both instances had each deadline (B learns A's through the notification); a second
        # expiry would follow the first within one scan. Time itself is under test here.
        self.assertTrue(lt.holds_for(
            lambda: len(self.db_events("request.expired")) == len(ids), 3))
        expired = sorted(r["request_id"] for r in self.db_events("request.expired"))
        self.assertEqual(expired, sorted(ids))
        self.assert_one_chain()


class KilledDuringBurst(FleetCase):
    def test_every_acknowledged_decision_survives_the_kill(self):
        ids = self.file_requests(BURST * 2)
        acknowledged, lost, lock = [], [], threading.Lock()
        halfway = threading.Event()

        def decide_on(daemon, mine):
            for rid in mine:
                try:
                    status, _ = self.decide(daemon, rid, timeout=10)
                except (OSError, RuntimeError, ValueError, http.client.HTTPException):
                    with lock:
                        lost.append(rid)
                    continue  # the instance is gone: this one is not acknowledged
                if status == 200:
                    with lock:
                        acknowledged.append(rid)
                        if len(acknowledged) >= BURST // 2:
                            halfway.set()

        threads = [threading.Thread(target=decide_on, args=(d, ids[k::2]))
                   for k, d in enumerate((self.a, self.b))]
        for t in threads:
            t.start()
        self.assertTrue(halfway.wait(60), "the burst never got going")
        self.a.kill9()  # the mirror holder
        for t in threads:
            t.join(120)
        with lock:
            acked = list(acknowledged)
        self.assertGreater(len(acked), BURST // 2)
        self.assertTrue(lost, "A finished its share before the kill: not during the burst")

        approved = [r["request_id"] for r in map(json.loads, self.db_lines())
                    if r["event"] == "request.approved"]
        self.assertEqual(len(approved), len(set(approved)), "a request approved twice")
        self.assertEqual(sorted(set(acked) - set(approved)), [], "acknowledged, not recorded")
        self.assert_one_chain()

        self.wait_mirror_taken(self.b, timeout=10)
        lines = self.wait_mirror_complete(self.b)
        self.assert_file_verifies(self.b)
        in_file = {json.loads(l)["request_id"] for l in lines
                   if json.loads(l)["event"] == "request.approved"}
        self.assertEqual(sorted(set(acked) - in_file), [])

        # A, restarted, joins again as a follower: the chain goes on from the same head.
        self.a.start()
        rid = self.file_requests(1)[0]
        self.assertEqual(self.decide(self.a, rid)[0], 200)
        self.wait_mirror_complete(self.b)
        self.assert_one_chain()


class DatabaseStopped(FleetCase):
    """Each expectation is a subTest, so that one run names every way lockboxd differs."""

    def test_outage_fails_closed_and_waiting_login_survives(self):
        cluster = lockbox_pg.shared_cluster()
        user = self.new_user()
        login = self.start_login(self.a, user)
        req = self.a.wait_pending(user)
        self.a.wait_waiting(1)
        other, idle = self.file_requests(2)  # idle: decided on B, which the outage left alone
        # An engineer approved ahead gets in at once while the database is up: the denial
        # during the outage is the outage's, not a wait that ran out.
        approved = self.new_user()
        rid = self.a.file_request(approved, reason="filed ahead")["id"]  # for A's host
        self.assertEqual(self.decide(self.b, rid)[0], 200)
        allowed = self.finish_login(self.start_login(self.a, approved, wait=5))
        self.assertEqual(allowed["account"], "PAM_SUCCESS", allowed)

        cluster.stop()
        try:
            for attempt in (1, 2):  # the first finds the connection broken, the second resets
                with self.subTest("a decision during the outage answers 503", attempt=attempt):
                    status, obj = self.decide(self.a, other)
                    self.assertEqual(status, 503, obj)
            with self.subTest("a login during the outage is denied"):
                denied = self.finish_login(self.start_login(self.a, approved, wait=5))
                self.assertNotEqual(denied["account"], "PAM_SUCCESS", denied)
            with self.subTest("the waiting login keeps waiting"):
                self.assertEqual(self.a.health()["waiting"], 1)
                self.assertIsNone(login.poll(), "the waiting login ended during the outage")
        finally:
            cluster.start()

        # Back without a restart of lockboxd: the first decision after the start succeeds on
        # A (whose calls found the outage) and on B (whose connection broke unnoticed).
        with self.subTest("A decides at once after the start"):
            status, obj = self.decide(self.a, req["id"])
            self.assertEqual(status, 200, obj)
        with self.subTest("B decides at once after the start"):
            status, obj = self.decide(self.b, idle)
            self.assertEqual(status, 200, obj)
        # However the first calls went, lockboxd gets there by itself; the login is released.
        for daemon, rid in ((self.a, req["id"]), (self.b, idle)):
            lt.wait_until(lambda: self.decided(daemon, rid), 10,
                          "a decision on %s after the start" % daemon.host)
        result = self.finish_login(login)
        self.assertEqual(result["account"], "PAM_SUCCESS", result)
        self.assert_one_chain()

    def decided(self, daemon, request_id):
        status, obj = daemon.call("GET", "/v1/requests/%s" % request_id)
        if status == 200 and obj["state"] == "approved":
            return True
        return self.decide(daemon, request_id)[0] == 200


class Failover(unittest.TestCase):
    def test_lockboxd_follows_a_promoted_standby(self):
        primary = pg_cluster.Cluster(port=5440)
        self.addCleanup(primary.close)
        primary.start()
        standby = primary.add_standby()
        self.addCleanup(standby.close)
        dsn = pg_cluster.multi_host_dsn(primary, standby, connect_timeout=3)
        d = lt.Daemon(tenant=TENANT, host="hosta", tenants={TENANT: [ADMIN]}, syslog=True,
                      store="postgresql", database=lockbox_pg.Existing(dsn))
        self.addCleanup(d.close)
        d.start()
        user = USERS.add("%s_f%d" % (PREFIX, next(FleetCase.counter)))
        before = d.file_request(user, reason="before the failover")
        self.assertEqual(d.call("POST", "/v1/requests/%s/approve" % before["id"], {},
                                as_user=ADMIN)[0], 200)
        standby.wait_replayed(primary)

        primary.stop()
        standby.promote()

        statuses = []

        def filed():
            status, obj = d.call("POST", "/v1/requests", {"user": user, "reason": "after"})
            statuses.append((status, (obj or {}).get("message")))
            return obj if status in (200, 201) else None
        after = lt.wait_until(filed, 30, lambda: "a request filed on the new primary "
                              "(statuses %s; %s)" % (statuses, d.stderr()[-2000:]))
        # A call that finds the old primary gone may fail, but closed and saying so (503).
        self.assertEqual([s for s in statuses[:-1] if s[0] != 503], [],
                         "statuses until the first filing: %s" % statuses)
        status, obj = d.call("POST", "/v1/requests/%s/approve" % after["id"], {}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        lines = [row[0] for row in d.db("SELECT line FROM audit ORDER BY seq")]
        ok, why = lt.verify_chain(lines)
        self.assertTrue(ok, why)
        self.assertIn("request.approved", [json.loads(l)["event"] for l in lines[-1:]])


if __name__ == "__main__":
    unittest.main()
