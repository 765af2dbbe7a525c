"""lockboxd's TLS listener ([remote]): callers named by client certificates, same rules as local.

Certificates come from a CA of the test's own (lockbox_certs.py, openssl); a real lockboxd
listens on 127.0.0.1 at a free port; the test talks to it with Python's ssl and http.client.
  Remote         an engineer files over TLS, an admin of the tenant approves over TLS and a
                 login waiting on the login socket is released; the other tenant's admin and
                 the engineer himself (an admin by @group, gr_mem) are refused; host
                 certificates reach /v1/health only; root-only routes are refused; audit and
                 syslog name lockbox:user/NAME.
  Startup        [remote] without client_ca stops lockboxd with FILE:LINE; so does a private
                 key others may read, naming it; TLS 1.1 fails the handshake.
  BadCertificates  expired, not yet valid, not for client auth, revoked, another CA, no lockbox SAN, two of them, none at all:
                 403 certificate_refused with what is wrong, logged once each.
  CrlReload      SIGHUP re-reads the CRL: a certificate revoked after the start is refused
                 from then on; a CRL that cannot be read keeps the one in use (logged).
  Hostile        a partial request and a handshake that never ends are dropped after the
                 timeout; 300+ connections of one identity hold the per-identity cap and a
                 login on the login socket is answered promptly meanwhile.
Run as root: python3 tests/integration/test_remote_api.py -v   (LOCKBOX_BUILD=build dir)."""
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
from lockbox_certs import TestCA, client_context, https_json  # noqa: E402

PREFIX = lt.unique_prefix("lbr")
ENG, ALICE, BOB = PREFIX + "_eng", PREFIX + "_alice", PREFIX + "_bob"
OPS = PREFIX + "_ops"  # a group whose member list names ENG: admins of contoso by @group
TENANTS = {"contoso": [ALICE, "@" + OPS], "fabrikam": [BOB]}
TLS_TIMEOUT = 30  # lockboxd/http_tls.c TLS_TIMEOUT_SECONDS
CONNECTION_CAP = 40
U = lt.Users(PREFIX)
CERTS = {}


def setUpModule():
    for path in (lt.LOCKBOXD,):
        if not os.path.exists(path):
            raise unittest.SkipTest("not built: %s" % path)
    U.add(ENG, groups=[OPS])
    tmp = CERTS["dir"] = tempfile.mkdtemp(prefix="lbx-tls-")
    ca, other = TestCA(tmp), TestCA(tmp, "other")
    CERTS["ca"] = ca.cert
    CERTS["server"] = ca.server("server")
    for name in (ENG, ALICE, BOB):
        CERTS[name] = ca.client(name)
    CERTS["host"] = ca.client("db01", uris=["lockbox:host/db01"])
    CERTS["expired"] = ca.client("old", start="20200101000000Z", end="20200102000000Z")
    CERTS["future"] = ca.client("early", start="20990101000000Z", end="20991231000000Z")
    CERTS["server_only"] = ca.client("srvonly", eku="serverAuth")
    CERTS["no_eku"] = ca.client(BOB + "x", uris=["lockbox:user/" + BOB], eku=None)
    CERTS["revoked"] = ca.client("gone")
    ca.revoke(CERTS["revoked"][0])
    CERTS["crl"] = ca.gen_crl()
    CERTS["ca_obj"] = ca
    CERTS["other_ca"] = other.client(ALICE)
    CERTS["no_san"] = ca.client("nosan", uris=[])
    # An intermediate CA of client_ca that names a person: it issues, it never logs in.
    CERTS["ca_leaf"] = ca.client("caleaf", uris=["lockbox:user/%s" % BOB], ca=True)
    CERTS["two_sans"] = ca.client("two", uris=["lockbox:user/%s" % ALICE, "lockbox:user/%s" % BOB])


def tearDownModule():
    U.cleanup()
    shutil.rmtree(CERTS.get("dir", "/nonexistent"), ignore_errors=True)


def remote_daemon(crl=None, **kw):
    port = lt.free_port()
    d = lt.Daemon(tenants=TENANTS, **kw)
    crt, key = CERTS["server"]
    d.write_config(lt.remote_section(port, crt, key, CERTS["ca"], crl or CERTS["crl"]))
    d.port = port
    return d


def tls_call(d, who, method, path, body=None, timeout=30):
    """One call over TLS as the certificate `who` (a key of CERTS, or None for none)."""
    crt, key = CERTS[who] if who else (None, None)
    return https_json(d.port, CERTS["ca"], crt, key, method, path, body, timeout)


login_socket_call = lt.login_socket_call


class Remote(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = remote_daemon(syslog=True)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def file_as_engineer(self):
        """A new request of ENG's for this host. The tests share one lockboxd, and a lockboxd
        files for its own host only (Step 15): each test's request is denied when it ends, so
        the next test's filing is new rather than this pending one again."""
        status, obj = tls_call(self.d, ENG, "POST", "/v1/requests",
                               {"reason": "INC-1 over TLS", "tenant": "contoso",
                                "host": "testhost"})
        self.assertEqual(status, 201, obj)
        req = obj["request"] if "request" in obj else obj
        self.addCleanup(tls_call, self.d, ALICE, "POST", "/v1/requests/%s/deny" % req["id"], {})
        return req

    def test_engineer_files_admin_approves_waiting_login_released(self):
        req = self.file_as_engineer()
        self.assertEqual((req["user"], req["requested_by"], req["requester"]),
                         (ENG, "lockbox:user/" + ENG, ENG), req)
        result, remote_wait = {}, {}
        waiter = threading.Thread(target=lambda: result.update(login_socket_call(
            self.d, {"op": "wait", "id": req["id"], "timeout": 60})))
        waiter.start()
        # The engineer waits over TLS too (a suspended TLS connection, resumed by the decision).
        remote_waiter = threading.Thread(target=lambda: remote_wait.update(zip(
            ("status", "body"), tls_call(self.d, ENG, "GET",
                                         "/v1/requests/%s/wait?timeout=60" % req["id"]))))
        remote_waiter.start()
        self.d.wait_waiting(2)
        status, obj = tls_call(self.d, ALICE, "POST", "/v1/requests/%s/approve" % req["id"],
                               {"comment": "window open"})
        self.assertEqual(status, 200, obj)
        waiter.join(15)
        self.assertFalse(waiter.is_alive(), "the waiting login was not released")
        self.assertEqual(result["request"]["state"], "approved", result)
        self.assertEqual(result["request"]["decided_by"], "lockbox:user/" + ALICE, result)
        remote_waiter.join(15)
        self.assertFalse(remote_waiter.is_alive(), "the engineer's wait over TLS was not released")
        self.assertEqual(remote_wait["status"], 200, remote_wait)
        body = remote_wait["body"]
        self.assertEqual((body.get("request") or body)["state"], "approved", remote_wait)
        events = [e for e in self.d.audit_events() if e.get("request_id") == req["id"]]
        self.assertEqual([(e["event"], e["actor"]) for e in events],
                         [("request.created", "lockbox:user/" + ENG),
                          ("request.approved", "lockbox:user/" + ALICE)])
        self.assertTrue(self.d.syslog.wait_for(
            "event=request.approved id=%s" % req["id"]), self.d.syslog.snapshot())
        line = [l for l in self.d.syslog.snapshot()
                if "event=request.approved id=%s" % req["id"] in l][0]
        self.assertIn("actor=lockbox:user/%s " % ALICE, line)

    def test_admin_of_another_tenant_is_refused(self):
        req = self.file_as_engineer()
        status, obj = tls_call(self.d, BOB, "POST", "/v1/requests/%s/approve" % req["id"], {})
        self.assertEqual((status, obj["error"]), (403, "forbidden"), obj)
        self.assertIn("not an approver for tenant contoso", obj["message"])
        self.assertTrue(self.d.syslog.wait_for(
            "event=api.refused status=403 actor=lockbox:user/%s " % BOB))

    def test_self_decision_through_a_certificate_is_refused(self):
        """ENG is an admin of contoso by @group (its member list names him), so the refusal
        is the self-decision rule's, not the admin list's."""
        req = self.file_as_engineer()
        status, obj = tls_call(self.d, ENG, "POST", "/v1/requests/%s/approve" % req["id"], {})
        self.assertEqual((status, obj["error"]), (403, "forbidden"), obj)
        self.assertNotIn("not an approver", obj["message"])
        status, obj = tls_call(self.d, ENG, "GET", "/v1/requests?tenant=contoso")
        self.assertEqual(status, 200, obj)  # an admin by @group reads the tenant
        status, obj = tls_call(self.d, ALICE, "POST", "/v1/requests/%s/deny" % req["id"], {})
        self.assertEqual(status, 200, obj)

    def test_a_certificate_without_extended_key_usage_is_accepted(self):
        status, obj = tls_call(self.d, "no_eku", "GET", "/v1/requests")
        self.assertEqual(status, 200, obj)

    def test_host_certificate_reaches_health_only(self):
        status, obj = tls_call(self.d, "host", "GET", "/v1/health")
        self.assertEqual(status, 200, obj)
        for method, path, body in (("GET", "/v1/requests", None),
                                   ("POST", "/v1/requests", {"reason": "x"})):
            status, obj = tls_call(self.d, "host", method, path, body)
            self.assertEqual((status, obj["error"]), (403, "forbidden"), obj)
            self.assertIn("host certificates reach only /v1/health here", obj["message"])

    def test_root_only_routes_are_refused_to_remote_people(self):
        for method, path, body in (("POST", "/v1/access/check", {"user": ENG}),
                                   ("POST", "/v1/sessions", {"user": ENG}),
                                   ("POST", "/v1/requests", {"reason": "x", "requester": ALICE})):
            status, obj = tls_call(self.d, ALICE, method, path, body)
            self.assertEqual(status, 403, (path, obj))
        status, obj = tls_call(self.d, ALICE, "POST", "/v1/requests", {"reason": "x", "user": ENG})
        self.assertEqual(status, 403, obj)  # a request for another account


class BadCertificates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = remote_daemon(syslog=True)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_each_bad_certificate_is_refused_with_its_reason(self):
        cases = [
            ("expired", "has expired (not after 2020-01-02T00:00:00Z)"),
            ("future", "is not valid yet (not before 2099-01-01T00:00:00Z)"),
            ("server_only", "is not for TLS client authentication"),
            ("revoked", "has been revoked"),
            ("other_ca", "is not signed by a CA lockboxd trusts"),
            ("no_san", "names no Lockbox identity (add a URI SAN lockbox:user/NAME"),
            ("two_sans", "names more than one Lockbox identity"),
            ("ca_leaf", "is a CA certificate (basicConstraints CA:TRUE)"),
            (None, "no client certificate was presented"),
        ]
        for who, message in cases:
            with self.subTest(certificate=who):
                status, obj = tls_call(self.d, who, "GET", "/v1/requests")
                self.assertEqual((status, obj["error"]), (403, "certificate_refused"), obj)
                self.assertIn(message, obj["message"])
        lt.wait_until(lambda: len(self.refusals()) >= len(cases), 5, "the refusals logged")
        self.assertTrue(lt.holds_for(lambda: len(self.refusals()) == len(cases), 0.5),
                        "\n".join(self.refusals()))
        for (who, message), line in zip(cases, self.refusals()):
            self.assertIn("event=api.refused status=403 actor=- ", line)
            self.assertIn(message.split(" (")[0], line)
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], 0)

    def refusals(self):
        return [l for l in self.d.syslog.snapshot() if "action=certificate" in l]


class CrlReload(unittest.TestCase):
    """A certificate revoked after the start is refused once SIGHUP reloads the CRL; a CRL that
    cannot be read keeps the one in use."""

    def setUp(self):
        self.crl = os.path.join(CERTS["dir"], "reload-%d.crl" % os.getpid())
        shutil.copy(CERTS["crl"], self.crl)
        self.d = remote_daemon(crl=self.crl, syslog=True)
        self.d.start()
        self.addCleanup(self.d.close)

    def logged(self, event):
        return [l for l in self.d.syslog.snapshot() if "event=" + event in l]

    def hup_and_wait(self, event):
        before = len(self.logged(event))
        os.kill(self.d.pid, signal.SIGHUP)
        lt.wait_until(lambda: len(self.logged(event)) > before, 10, event)

    def test_sighup_rereads_the_crl(self):
        ca = CERTS["ca_obj"]
        late = ca.client("late%d" % os.getpid(), uris=["lockbox:user/" + ALICE])
        CERTS["late"] = late
        self.addCleanup(CERTS.pop, "late")
        self.assertEqual(tls_call(self.d, "late", "GET", "/v1/requests")[0], 200)
        # A kept-alive connection (as an agent's feed is) is checked again after the reload.
        kept = http.client.HTTPSConnection("127.0.0.1", self.d.port, timeout=30,
                                           context=client_context(CERTS["ca"], *late))
        self.addCleanup(kept.close)

        def kept_call():
            kept.request("GET", "/v1/requests")
            response = kept.getresponse()
            return response.status, json.loads(response.read() or b"null")
        self.assertEqual(kept_call()[0], 200)
        ca.revoke(late[0])
        shutil.copy(ca.gen_crl(), self.crl)
        # Not before the signal: the CRL is read at start and on SIGHUP only.
        self.assertEqual(tls_call(self.d, "late", "GET", "/v1/requests")[0], 200)
        self.hup_and_wait("remote.trust_reloaded")
        status, obj = tls_call(self.d, "late", "GET", "/v1/requests")
        self.assertEqual((status, obj["error"]), (403, "certificate_refused"), obj)
        self.assertIn("has been revoked", obj["message"])
        status, obj = kept_call()
        self.assertEqual((status, obj["error"]), (403, "certificate_refused"), obj)
        self.assertEqual(tls_call(self.d, ALICE, "GET", "/v1/requests")[0], 200)

    def test_an_unreadable_crl_keeps_the_trust_in_use(self):
        with open(self.crl, "w") as f:
            f.write("not a CRL\n")
        self.hup_and_wait("remote.trust_reload_failed")
        self.assertIn("no PEM CRL", self.logged("remote.trust_reload_failed")[-1])
        status, obj = tls_call(self.d, "revoked", "GET", "/v1/requests")
        self.assertEqual((status, obj["error"]), (403, "certificate_refused"), obj)
        self.assertEqual(tls_call(self.d, ALICE, "GET", "/v1/requests")[0], 200)


class Startup(unittest.TestCase):
    def start_fails(self, d):
        if d.pg:
            d.pg.create()  # as Daemon.start() does: the store opens before the listeners
        proc = subprocess.run([lt.LOCKBOXD, "-c", d.conf_path, "-f"], capture_output=True,
                              text=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        return proc.stderr

    def test_missing_key_names_the_section_line(self):
        d = lt.Daemon(tenants=TENANTS)
        self.addCleanup(d.close)
        with open(d.conf_path) as f:
            line = len(f.read().split("\n")) + 1  # write_config's extra starts after a newline
        crt, _ = CERTS["server"]
        d.write_config("\n[remote]\nlisten = 127.0.0.1:%d\ncertificate = %s\nkey = %s\n" % (
            lt.free_port(), crt, crt))
        err = self.start_fails(d)
        self.assertIn("%s:%d: [remote] needs client_ca" % (d.conf_path, line), err)

    def test_a_readable_key_stops_the_start_naming_the_file(self):
        d = remote_daemon()
        self.addCleanup(d.close)
        key = CERTS["server"][1]
        os.chmod(key, 0o640)
        try:
            err = self.start_fails(d)
        finally:
            os.chmod(key, 0o600)
        self.assertIn("%s: the private key must be owned by root and not readable" % key, err)

    def test_protocols_below_tls_1_2_fail_the_handshake(self):
        d = remote_daemon()
        self.addCleanup(d.close)
        d.start()
        crt, key = CERTS[ALICE]
        ctx = client_context(CERTS["ca"], crt, key)
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client offers TLS 1.1 at all
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionError)) as failed:
                ctx.wrap_socket(raw, server_hostname="localhost")
        # lockboxd ended it, not this client for want of a protocol it would offer
        self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(failed.exception))
        self.assertEqual(tls_call(d, ALICE, "GET", "/v1/health")[0], 200)  # 1.2+ still does


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = remote_daemon(daemon_extra={"max_connections_per_user": CONNECTION_CAP})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def closed_by_peer(self, sock, deadline):
        """Seconds until the server closed sock (b"" or a reset), or None by the deadline."""
        start = time.monotonic()
        sock.settimeout(max(0.1, deadline - start))
        try:
            while sock.recv(4096):
                pass
        except (ConnectionResetError, ssl.SSLError, OSError) as e:
            if isinstance(e, socket.timeout):
                return None
        return time.monotonic() - start

    def trickled_until_closed(self, sock, deadline):
        """Sends one byte of a header every 2 s (each resets libmicrohttpd's idle timeout);
        seconds until the server closed the connection, or None by the deadline."""
        start = time.monotonic()
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 2)
            try:
                if readable and not sock.recv(4096):
                    return time.monotonic() - start
                if not readable:
                    sock.sendall(b"a")
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                return time.monotonic() - start
        return None

    def test_slow_and_stalled_clients_are_dropped_after_the_timeout(self):
        opened = time.monotonic()
        stalled = socket.create_connection(("127.0.0.1", self.d.port))
        stalled.sendall(b"\x16\x03\x01\x00\xff")  # the start of a ClientHello, never the rest
        crt, key = CERTS[ENG]
        raw = socket.create_connection(("127.0.0.1", self.d.port))
        slow = client_context(CERTS["ca"], crt, key).wrap_socket(raw, server_hostname="localhost")
        slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\n")  # never the end
        trickle = client_context(CERTS["ca"], crt, key).wrap_socket(
            socket.create_connection(("127.0.0.1", self.d.port)), server_hostname="localhost")
        results = {}
        threads = [threading.Thread(target=lambda n=n, s=s: results.update(
            {n: self.closed_by_peer(s, opened + TLS_TIMEOUT + 20)}))
            for n, s in (("stalled", stalled), ("slow", slow))]
        threads.append(threading.Thread(target=lambda: results.update(
            {"trickle": self.trickled_until_closed(trickle, opened + TLS_TIMEOUT + 20)})))
        for t in threads:
            t.start()
        for t in threads:
            t.join(TLS_TIMEOUT + 30)
        stalled.close()
        slow.close()
        trickle.close()
        for name in ("stalled", "slow", "trickle"):
            self.assertIsNotNone(results.get(name), "%s: never dropped" % name)
            elapsed = time.monotonic() - opened
            self.assertGreater(results[name], TLS_TIMEOUT - 5, "%s: dropped too early" % name)
            self.assertLess(elapsed, TLS_TIMEOUT + 20)
        self.assertTrue(self.d.answers())

    def test_connection_flood_of_one_identity_keeps_the_cap_and_logins_answered(self):
        user = U.add(PREFIX + "_u1")
        crt, key = CERTS[ENG]
        ctx = client_context(CERTS["ca"], crt, key)
        conns, statuses = [], {}
        try:
            for _ in range(320):
                conn = http.client.HTTPSConnection("127.0.0.1", self.d.port, context=ctx,
                                                   timeout=30)
                conn.connect()
                conns.append(conn)
            for conn in conns:
                try:
                    conn.request("GET", "/v1/health")
                    response = conn.getresponse()
                    response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                except (ConnectionError, http.client.HTTPException, ssl.SSLError) as e:
                    statuses[type(e).__name__] = statuses.get(type(e).__name__, 0) + 1
            # Every connection is still open (the served ones keep alive): a login now.
            started = time.monotonic()
            reply = login_socket_call(self.d, {"op": "check", "user": user}, timeout=10)
            answered_in = time.monotonic() - started
        finally:
            for conn in conns:
                conn.close()
        self.assertEqual(reply["status"], 200, reply)
        self.assertLess(answered_in, 2.0, "the login waited behind the TLS flood")
        self.assertEqual(statuses.get(200), CONNECTION_CAP, statuses)
        self.assertEqual(statuses.get(429), 320 - CONNECTION_CAP, statuses)
        # The slots come back once the connections are gone.
        lt.wait_until(lambda: tls_call(self.d, ENG, "GET", "/v1/health")[0] == 200, 10,
                      "a new connection of the same identity served")


class DescriptorBudget(unittest.TestCase):
    """Bare TCP connections (no handshake, no certificate) must not use up lockboxd's
    descriptors, or the login socket could accept no login: under a low RLIMIT_NOFILE the
    TLS listener takes only a share of them."""
    NOFILE = 256

    def open_descriptors(self, pid):
        return len(os.listdir("/proc/%d/fd" % pid))

    def test_a_tcp_flood_leaves_descriptors_for_the_login_socket(self):
        user = U.add(PREFIX + "_u2")
        d = remote_daemon(wrapper=["prlimit", "--nofile=%d:%d" % (self.NOFILE, self.NOFILE),
                                   "--"])
        self.addCleanup(d.close)
        d.start()
        before = self.open_descriptors(d.pid)
        flood = []
        try:
            for _ in range(self.NOFILE + 50):
                flood.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
            # lockboxd has taken in what it will (its descriptor count settles), then a login.
            lt.wait_until(lambda: self.open_descriptors(d.pid) > before + 32, 10,
                          "lockboxd accepting the flood")

            def settled():
                now = self.open_descriptors(d.pid)
                return lt.holds_for(lambda: self.open_descriptors(d.pid) == now, 0.5)
            lt.wait_until(settled, 20, "the descriptor count settling")
            held = self.open_descriptors(d.pid)
            try:
                reply = login_socket_call(d, {"op": "check", "user": user}, timeout=10)
            except OSError as e:
                reply = {"status": repr(e)}
        finally:
            for sock in flood:
                sock.close()
        self.assertEqual(reply["status"], 200, "the login with %d descriptors held" % held)
        self.assertLess(held, self.NOFILE - 32)


if __name__ == "__main__":
    unittest.main()
