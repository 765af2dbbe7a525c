"""lockboxd at role = central (Step 15): hosts reach it with their certificates.

A real lockboxd with [remote] on 127.0.0.1, tenants with `hosts`, host certificates
(lockbox:host/NAME) and people's certificates from a CA of the test's own (lockbox_certs.py).
  HostsFile      a host files for itself (host from its certificate, tenant from the hosts
                 lists, requested_by lockbox:host/NAME, the user need not exist at central),
                 is given its pending request again; another host in the body, another tenant,
                 a host in no tenant's list, a body without user: refused.
  PeopleFile     a person files for a host in the tenant's hosts (the host names the tenant
                 when none is given) and is refused for one outside them.
  Feed           answers at once; a long-poll is woken by an approval and by a filing within
                 its wait (synchronised on the suspended call, then on its answer); a timeout
                 answers the same version; known= brings final states of the host's own
                 requests only; another host's requests never appear; bad queries refused;
                 only hosts have a feed.
  HostsRead      a host reads its own host's requests, gets 404 for another host's, and 403
                 with what hosts may do on every other route; health names the role.
  ListByHost     GET /v1/requests?host= and lockboxctl list --host --tenant.
  Standalone     refuses to file for another host (HTTP API and lockboxctl request --host);
                 its own host still works; host certificates reach /v1/health only.
  Config         role = central without [remote], a bad hosts entry: FILE:LINE at start.
  TwoCentrals    (PostgreSQL run only) a decision on one central wakes a feed waiting on
                 another instance on the same database.
Run as root: python3 tests/integration/test_central_hosts.py -v   (LOCKBOX_BUILD=build dir)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
from lockbox_certs import TestCA, client_context, https_json  # noqa: E402

PREFIX = lt.unique_prefix("lbc")
ENG, ALICE, BOB = PREFIX + "_eng", PREFIX + "_alice", PREFIX + "_bob"
GHOST = PREFIX + "_ghost"  # an account that exists on the hosts only, never at central
TENANTS = {"contoso": [ALICE], "fabrikam": [BOB]}
# db0? overlaps contoso's list: db01 and db02 are contoso's (the first that matches them).
HOSTS = {"contoso": {"hosts": "db01, db02"}, "fabrikam": {"hosts": "web-*, db0?"}}
U = lt.Users(PREFIX)
CERTS = {}
HOST_REFUSAL = "host certificates may file for their own host, read its requests and follow its feed"


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.LOCKBOXCTL, why="adds users")
    for name in (ENG, ALICE, BOB):
        U.add(name)
    tmp = CERTS["dir"] = tempfile.mkdtemp(prefix="lbx-central-")
    ca = TestCA(tmp)
    CERTS["ca"] = ca.cert
    CERTS["server"] = ca.server("server")
    for name in (ENG, ALICE, BOB):
        CERTS[name] = ca.client(name)
    for host in ("db01", "db02", "web-7", "stray"):
        CERTS[host] = ca.client("host-" + host, uris=["lockbox:host/" + host])
    CERTS["crl"] = ca.gen_crl()


def tearDownModule():
    U.cleanup()
    shutil.rmtree(CERTS.get("dir", "/nonexistent"), ignore_errors=True)



def with_remote(d):
    """Adds [remote] on a free port to d's configuration (after anything else it holds)."""
    d.port = lt.free_port()
    crt, key = CERTS["server"]
    d.write_config(lt.remote_section(d.port, crt, key, CERTS["ca"], CERTS["crl"]))
    return d


def central_daemon(**kw):
    return with_remote(lt.Daemon(tenants=TENANTS, tenant_options=HOSTS, host="central1",
                                 daemon_extra={"role": "central"}, **kw))


def tls_call(d, who, method, path, body=None, timeout=30):
    """One call over TLS as the certificate `who` (a key of CERTS)."""
    crt, key = CERTS[who]
    return https_json(d.port, CERTS["ca"], crt, key, method, path, body, timeout)


def feed_path(since=None, wait=None, known=None):
    query = {}
    if since is not None:
        query["since"] = since
    if wait is not None:
        query["wait"] = str(wait)
    if known is not None:
        query["known"] = ",".join(known)
    return "/v1/hosts/self/requests" + ("?" + urllib.parse.urlencode(query, safe=",")
                                        if query else "")


def feed(d, host, **kw):
    status, obj = tls_call(d, host, "GET", feed_path(**kw), timeout=90)
    if status != 200:
        raise AssertionError("feed of %s: %s %s" % (host, status, obj))
    return obj


class FeedCall(threading.Thread):
    """A long-poll of the feed in a thread of its own: its answer, and when it came."""

    def __init__(self, d, host, **kw):
        super().__init__(daemon=True)
        self.d, self.host, self.kw = d, host, kw
        self.answer = self.error = None

    def run(self):
        try:
            self.answer = feed(self.d, self.host, **self.kw)
        except Exception as e:  # noqa: BLE001 - reported by the test that waits on it
            self.error = e
        self.done_at = time.monotonic()

    def result(self, timeout=10):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("the feed of %s did not answer within %ss" % (self.host, timeout))
        if self.error:
            raise self.error
        return self.answer


def host_file(d, cert, user, reason="login via sshd from 10.0.0.5", **extra):
    """A host (by its certificate, a key of CERTS) files as its PAM module would."""
    body = dict(user=user, reason=reason, service="sshd", rhost="10.0.0.5", **extra)
    return tls_call(d, cert, "POST", "/v1/requests", body)


def ids(answer):
    return [r["id"] for r in answer["requests"]]


class Central(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = central_daemon()
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def waiting_feeds(self, count):
        """Synchronises on the daemon's state: count calls are suspended in its waiters."""
        lt.wait_until(lambda: self.d.health()["waiting"] >= count, 10,
                      what="%d suspended calls" % count)

    def file_for(self, host, user=GHOST, **extra):
        status, obj = host_file(self.d, host, user, **extra)
        self.assertIn(status, (200, 201), obj)
        return obj


class HostsFile(Central):
    def test_host_files_for_itself_and_reuses_its_pending_request(self):
        user = GHOST + "a"
        status, req = host_file(self.d, "db01", user)
        self.assertEqual(status, 201, req)
        self.assertEqual((req["host"], req["tenant"], req["user"], req["requested_by"]),
                         ("db01", "contoso", user, "lockbox:host/db01"))
        self.assertEqual((req["service"], req["rhost"], req["requester"]),
                         ("sshd", "10.0.0.5", None))
        status, again = host_file(self.d, "db01", user)
        self.assertEqual((status, again["id"]), (200, req["id"]))
        # Naming itself and its own tenant is fine too.
        status, same = host_file(self.d, "db01", user, host="db01", tenant="contoso")
        self.assertEqual((status, same["id"]), (200, req["id"]))
        events = [json.loads(line) for line in self.d.audit_lines()]
        created = [e for e in events if e["request_id"] == req["id"]]
        self.assertEqual([(e["event"], e["actor"], e["host"]) for e in created],
                         [("request.created", "lockbox:host/db01", "db01")])

    def test_host_files_only_for_itself(self):
        status, obj = host_file(self.d, "db01", GHOST, host="db02")
        self.assertEqual(status, 403, obj)
        self.assertEqual(obj["message"], "a host files only for itself")

    def test_tenant_must_be_the_hosts(self):
        status, obj = host_file(self.d, "db01", GHOST, tenant="fabrikam")
        self.assertEqual(status, 403, obj)
        self.assertIn("belongs to tenant contoso", obj["message"])
        status, obj = host_file(self.d, "web-7", GHOST)  # web-* is fabrikam's
        self.assertEqual((status, obj["tenant"]), (201, "fabrikam"), obj)

    def test_host_in_no_tenant_can_do_nothing_but_health(self):
        status, obj = host_file(self.d, "stray", GHOST)
        self.assertEqual(status, 403, obj)
        self.assertEqual(obj["message"], "host stray belongs to no tenant at this central")
        status, obj = tls_call(self.d, "stray", "GET", feed_path())
        self.assertEqual(status, 403, obj)
        status, obj = tls_call(self.d, "stray", "GET", "/v1/health")
        self.assertEqual((status, obj["role"]), (200, "central"))

    def test_host_names_the_user(self):
        status, obj = tls_call(self.d, "db01", "POST", "/v1/requests", {"reason": "x"})
        self.assertEqual(status, 400, obj)
        self.assertIn("'user' is required", obj["message"])


class PeopleFile(Central):
    def test_person_files_for_a_host_of_the_tenant(self):
        status, req = tls_call(self.d, ENG, "POST", "/v1/requests",
                               {"reason": "INC-7", "tenant": "contoso", "host": "db02"})
        self.assertEqual(status, 201, req)
        self.assertEqual((req["host"], req["tenant"], req["requested_by"]),
                         ("db02", "contoso", "lockbox:user/" + ENG))
        # The host says whose it is when no tenant is given.
        status, req = tls_call(self.d, ENG, "POST", "/v1/requests",
                               {"reason": "INC-8", "host": "web-eu1"})
        self.assertEqual((status, req["tenant"]), (201, "fabrikam"), req)

    def test_person_refused_outside_the_tenants_hosts(self):
        for tenant, host in (("contoso", "db09"), ("contoso", "web-1"), (None, "central1")):
            body = {"reason": "INC-9", "host": host}
            if tenant:
                body["tenant"] = tenant
            status, obj = tls_call(self.d, ENG, "POST", "/v1/requests", body)
            self.assertEqual(status, 400, obj)
            self.assertEqual(obj["message"], "host %s is not one of tenant %s's hosts"
                             % (host, tenant or "contoso"))
        # fabrikam's "db0?" matches db01 too, but db01's feed carries contoso's requests only
        # (the first tenant that matches): a request filed under fabrikam would never reach it.
        status, obj = tls_call(self.d, ENG, "POST", "/v1/requests",
                               {"reason": "INC-9", "host": "db01", "tenant": "fabrikam"})
        self.assertEqual(status, 400, obj)
        self.assertIn("host db01 belongs to tenant contoso at this central", obj["message"])


class Feed(Central):
    def test_answers_at_once_with_the_hosts_requests_only(self):
        mine = self.file_for("db01", GHOST + "f1")
        theirs = self.file_for("db02", GHOST + "f1")
        answer = feed(self.d, "db01")
        self.assertEqual((answer["host"], answer["tenant"]), ("db01", "contoso"))
        self.assertIn(mine["id"], ids(answer))
        self.assertNotIn(theirs["id"], ids(answer))
        self.assertTrue(all(r["host"] == "db01" for r in answer["requests"]))
        self.assertEqual(ids(answer), sorted(ids(answer)))
        # Asked again with another version, or none: at once, the same version.
        self.assertEqual(feed(self.d, "db01", since="not-a-version", wait=60)["version"],
                         answer["version"])

    def test_only_the_hosts_tenants_requests(self):
        """Where two tenants' lists overlap, the host is the first's: nobody may file for it
        under the other (test_person_refused_outside_the_tenants_hosts), and a request of the
        other's for it (filed before the configuration changed; here set in the database) is
        not in its feed, known= included (its agent would refuse the whole answer)."""
        status, foreign = tls_call(self.d, ENG, "POST", "/v1/requests",
                                   {"reason": "INC-5", "tenant": "contoso", "host": "db01"})
        self.assertEqual(status, 201, foreign)
        self.d.db("UPDATE requests SET tenant = 'fabrikam' WHERE id = ?", (foreign["id"],))
        answer = feed(self.d, "db01", known=[foreign["id"]])
        self.assertEqual(answer["tenant"], "contoso")
        self.assertNotIn(foreign["id"], ids(answer))
        self.assertTrue(all(r["tenant"] == "contoso" for r in answer["requests"]))

    def test_long_poll_woken_by_an_approval(self):
        req = self.file_for("db01", GHOST + "f2")
        version = feed(self.d, "db01")["version"]
        waiting_before = self.d.health()["waiting"]
        call = FeedCall(self.d, "db01", since=version, wait=60)
        call.start()
        self.waiting_feeds(waiting_before + 1)
        status, obj = tls_call(self.d, ALICE, "POST", "/v1/requests/%s/approve" % req["id"],
                               {"comment": "ok"})
        self.assertEqual(status, 200, obj)  # GHOST has no account here: central decides anyway
        approved_at = time.monotonic()
        answer = call.result(timeout=10)
        self.assertNotEqual(answer["version"], version)
        got = {r["id"]: r for r in answer["requests"]}
        self.assertEqual(got[req["id"]]["state"], "approved")
        self.assertEqual(got[req["id"]]["decided_by"], "lockbox:user/" + ALICE)
        self.assertLess(call.done_at - approved_at, 2.0)

    def test_long_poll_woken_by_a_filing_not_by_another_hosts(self):
        version = feed(self.d, "db02")["version"]
        waiting_before = self.d.health()["waiting"]
        call = FeedCall(self.d, "db02", since=version, wait=60)
        call.start()
        self.waiting_feeds(waiting_before + 1)
        self.file_for("db01", GHOST + "f3")  # another host's: db02's feed keeps waiting
        self.assertTrue(lt.holds_for(call.is_alive, 0.5))
        req = self.file_for("db02", GHOST + "f3")
        answer = call.result(timeout=10)
        self.assertIn(req["id"], ids(answer))

    def test_timeout_answers_the_same_version(self):
        version = feed(self.d, "db02")["version"]
        started = time.monotonic()
        answer = feed(self.d, "db02", since=version, wait=1)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertEqual(answer["version"], version)

    def test_known_brings_final_states_of_own_requests_only(self):
        denied = self.file_for("db01", GHOST + "k1")
        status, obj = tls_call(self.d, ALICE, "POST", "/v1/requests/%s/deny" % denied["id"], {})
        self.assertEqual(status, 200, obj)
        other = self.file_for("db02", GHOST + "k1")
        self.assertNotIn(denied["id"], ids(feed(self.d, "db01")))
        unknown = "0" * 32
        answer = feed(self.d, "db01", known=[denied["id"], other["id"], unknown])
        got = {r["id"]: r["state"] for r in answer["requests"]}
        self.assertEqual(got.get(denied["id"]), "denied")
        self.assertNotIn(other["id"], got)
        self.assertNotIn(unknown, got)

    def test_bad_queries_refused(self):
        for path in (feed_path(known=["abc"]), feed_path(known=["A" * 32]),
                     feed_path(known=["0" * 32] * 201), feed_path(wait=61),
                     feed_path(since="x" * 65), "/v1/hosts/self/requests?sinse=1"):
            status, obj = tls_call(self.d, "db01", "GET", path)
            self.assertEqual(status, 400, (path[:80], obj))
        self.assertEqual(len(feed(self.d, "db01", known=["0" * 32] * 200)["version"]), 32)

    def test_only_hosts_have_a_feed(self):
        status, obj = tls_call(self.d, ALICE, "GET", feed_path())
        self.assertEqual(status, 403, obj)
        status, obj = self.d.call("GET", "/v1/hosts/self/requests")  # root, on the Unix socket
        self.assertEqual(status, 403, obj)


class HostsRead(Central):
    def test_host_reads_its_own_hosts_requests_only(self):
        mine = self.file_for("db01", GHOST + "r1")
        theirs = self.file_for("db02", GHOST + "r1")
        status, obj = tls_call(self.d, "db01", "GET", "/v1/requests/" + mine["id"])
        self.assertEqual((status, obj["id"]), (200, mine["id"]))
        status, obj = tls_call(self.d, "db01", "GET", "/v1/requests/" + theirs["id"])
        self.assertEqual(status, 404, obj)

    def test_every_other_route_refused_with_what_hosts_may_do(self):
        req = self.file_for("db01", GHOST + "r2")
        for method, path, body in (("GET", "/v1/requests", None),
                                   ("POST", "/v1/requests/%s/approve" % req["id"], {}),
                                   ("GET", "/v1/requests/%s/wait" % req["id"], None),
                                   ("POST", "/v1/access/check", {"user": GHOST}),
                                   ("GET", "/v1/audit", None)):
            status, obj = tls_call(self.d, "db01", method, path, body)
            self.assertEqual((status, obj["message"]), (403, HOST_REFUSAL), path)

    def test_health_names_the_role(self):
        self.assertEqual(self.d.health()["role"], "central")


class ListByHost(Central):
    def test_list_filters_by_host_and_tenant(self):
        a = self.file_for("db01", GHOST + "l1")
        b = self.file_for("db02", GHOST + "l1")
        status, obj = self.d.call("GET", "/v1/requests?host=db01&state=all&limit=1000")
        self.assertEqual(status, 200, obj)
        listed = [r["id"] for r in obj["requests"]]
        self.assertIn(a["id"], listed)
        self.assertNotIn(b["id"], listed)
        self.assertTrue(all(r["host"] == "db01" for r in obj["requests"]))
        status, obj = self.d.call("GET", "/v1/requests?host=db%2001")
        self.assertEqual(status, 400, obj)

        ctl = [lt.LOCKBOXCTL, "--socket", self.d.socket]
        out = subprocess.run(ctl + ["list", "--host", "db02", "--tenant", "contoso", "--json"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        listed = json.loads(out.stdout)
        self.assertIn(b["id"], [r["id"] for r in listed])
        self.assertTrue(all(r["host"] == "db02" for r in listed))
        out = subprocess.run(ctl + ["list", "--host", "db02", "--wide"], capture_output=True,
                             text=True, timeout=30, env=dict(os.environ, COLUMNS="200"))
        self.assertEqual(out.returncode, 0, out.stderr)
        header = out.stdout.splitlines()[0].split()
        self.assertIn("HOST", header)
        row = [line for line in out.stdout.splitlines() if line.startswith(b["id"])]
        self.assertEqual(len(row), 1, out.stdout)
        self.assertEqual(row[0].split()[header.index("HOST")], "db02")
        out = subprocess.run(ctl + ["list", "--host", "db 02"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)


class Standalone(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = with_remote(lt.Daemon(tenants=TENANTS, host="vm1"))
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_refuses_filing_for_another_host(self):
        status, obj = self.d.call("POST", "/v1/requests",
                                  {"user": ENG, "reason": "x", "host": "db01"})
        self.assertEqual(status, 400, obj)
        self.assertEqual(obj["message"], "this lockboxd gates host vm1; file for db01 on that "
                                         "host or at central (lockboxctl --server)")
        out = lt.run_as(ENG, [lt.LOCKBOXCTL, "--socket", self.d.socket, "request", "--host",
                              "db01", "--reason", "INC-1"])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("this lockboxd gates host vm1", out.stderr)
        # Its own host, named or not, as before.
        for extra in ({}, {"host": "vm1"}):
            status, obj = self.d.call("POST", "/v1/requests", dict(user=ENG, reason="y", **extra))
            self.assertIn(status, (200, 201), obj)
            self.assertEqual(obj["host"], "vm1")

    def test_host_certificates_reach_health_only(self):
        status, obj = tls_call(self.d, "db01", "GET", "/v1/health")
        self.assertEqual(status, 200, obj)
        self.assertNotIn("role", obj)
        for method, path, body in (("POST", "/v1/requests", {"user": ENG, "reason": "x"}),
                                   ("GET", feed_path(), None)):
            status, obj = tls_call(self.d, "db01", method, path, body)
            self.assertEqual(status, 403, obj)
            self.assertIn("this lockboxd is not a central", obj["message"])


class Config(unittest.TestCase):
    def refused(self, d):
        out = subprocess.run([lt.LOCKBOXD, "-c", d.conf_path, "-f"], capture_output=True,
                             text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        return out.stderr

    def test_central_needs_remote(self):
        d = lt.Daemon(tenants=TENANTS, daemon_extra={"role": "central"})
        self.addCleanup(d.close)
        with open(d.conf_path) as f:
            line = [n for n, text in enumerate(f, 1) if text.startswith("role")][0]
        self.assertIn("%s:%d: role = central needs a [remote] section" % (d.conf_path, line),
                      self.refused(d))

    def test_bad_hosts_and_role_refused(self):
        d = lt.Daemon(tenants=TENANTS, tenant_options={"contoso": {"hosts": "db01, db 02"}})
        self.addCleanup(d.close)
        self.assertIn("hosts: 'db 02' is not a host name or pattern", self.refused(d))
        d.daemon_extra = {"role": "hub"}
        d.tenant_options = {}
        d.write_config()
        self.assertIn("role must be standalone, central or agent", self.refused(d))


@unittest.skipUnless(lt.STORE == "postgresql", "two instances need a shared PostgreSQL database")
class TwoCentrals(unittest.TestCase):
    def test_decision_on_one_wakes_a_feed_on_the_other(self):
        a = central_daemon()
        self.addCleanup(a.close)  # last: it drops the database
        a.start()
        b = lt.Daemon(tenants=TENANTS, tenant_options=HOSTS, host="central2",
                      daemon_extra={"role": "central"})
        b.pg, b.store_dsn = None, a.store_dsn  # a's database; b drops nothing
        with_remote(b)
        self.addCleanup(b.close)
        b.start()
        status, req = host_file(a, "db01", GHOST + "p1")
        self.assertEqual(status, 201, req)
        version = feed(a, "db01")["version"]
        self.assertEqual(feed(b, "db01")["version"], version)  # the same content, one version
        call = FeedCall(a, "db01", since=version, wait=60)
        call.start()
        lt.wait_until(lambda: a.health()["waiting"] >= 1, 10, what="a's suspended feed")
        status, obj = tls_call(b, ALICE, "POST", "/v1/requests/%s/approve" % req["id"], {})
        self.assertEqual(status, 200, obj)
        answer = call.result(timeout=10)
        self.assertEqual({r["id"]: r["state"] for r in answer["requests"]}[req["id"]], "approved")


if __name__ == "__main__":
    unittest.main()
