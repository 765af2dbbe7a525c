"""Step 15 (central + agents) against what an attacker review found; each test failed before
its fix.

  RevokeBeyondKnown   an agent whose mirror holds more than 200 live requests (AGENT_KNOWN_MAX)
                      never learns a revoke of the requests past the first 200: central's feed
                      lists live requests only, plus the known= ones, and the agent forgets only
                      what it named in known=. The revoked access keeps admitting logins.
  CentralBeyondCap    a hostile (or broken) central approves with an expires_at ten years
                      out: the agent keeps it as is, past its own access_ttl; nothing on the
                      host bounds what one bad answer grants.
  PendingCapAcrossHosts  central counts max_pending_per_user by user name over every host and
                      tenant: one compromised host fills the cap for an account name and every
                      other host's logins for that name are refused (429, login denied).
"""

import calendar
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
from lockbox_certs import TestCA  # noqa: E402
import test_agents as ta  # noqa: E402

PREFIX = lt.unique_prefix("lbrv")
U = lt.Users(PREFIX)
ADMIN = PREFIX + "_admin"
TENANT = "contoso"
OTHER = "fabrikam"
CERTS = ta.CERTS


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.PAM_MODULE, lt.PAM_HARNESS,
                        why="adds users, runs logins")
    U.add(ADMIN)
    tmp = CERTS["dir"] = tempfile.mkdtemp(prefix="lbx-review-")
    os.chmod(tmp, 0o755)
    ca = TestCA(tmp)
    CERTS["ca"] = ca.cert
    CERTS["server"] = ca.server("central")
    CERTS[ADMIN] = ca.client(ADMIN)
    for host in ("db01", "db02", "web01"):
        CERTS[host] = ca.client(host, uris=["lockbox:host/%s" % host])
    CERTS["crl"] = ca.gen_crl()


def tearDownModule():
    U.cleanup()
    ta.U.cleanup()  # new_user() adds through test_agents' list
    shutil.rmtree(CERTS.get("dir", "/nonexistent"), ignore_errors=True)


def central_daemon(port):
    # web01 is another tenant's host: the cap attack crosses tenants too.
    d = lt.Daemon(tenant=TENANT, host="central", tenants={TENANT: [ADMIN], OTHER: [ADMIN]},
                  tenant_options={TENANT: {"hosts": "db01, db02"}, OTHER: {"hosts": "web01"}},
                  daemon_extra={"role": "central"}, store="sqlite")
    crt, key = CERTS["server"]
    d.write_config(lt.remote_section(port, crt, key, CERTS["ca"], CERTS["crl"]))
    d.port = port
    return d


class FleetReview(ta.AgentCase):
    @classmethod
    def setUpClass(cls):
        cls.port = lt.free_port()
        cls.central = central_daemon(cls.port)
        cls.agents = {}
        try:
            cls.central.start()
            cls.agents["db01"] = ta.agent_daemon("db01", cls.port)
            cls.agents["db01"].start()
            lt.wait_until(lambda: ta.link(cls.agents["db01"]) == "up", 15, "db01's link")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for d in cls.agents.values():
            d.close()
        cls.central.close()

    def setUp(self):
        self.procs = []

    def central_call(self, method, path, body=None):
        return ta.tls_call(self.port, ADMIN, method, path, body)

    def local_state(self, d, rid):
        status, obj = d.call("GET", "/v1/requests/" + rid)
        return obj.get("state") if status == 200 else None

    def test_a_revoke_reaches_a_host_that_holds_more_than_200_live_requests(self):
        d = self.agents["db01"]
        # 200 live requests for db01, older than the one that matters. Here db01's own
        # certificate files them (user names need not exist at central); on a real host they
        # are the module's filings (one per account and su caller) and persons' filings at
        # central: a busy jump host gets there without any attacker.
        # Approved, so that they do not count against central's pending caps (per user and
        # host, and per host).
        last = None
        for i in range(200):
            status, obj = ta.tls_call(self.port, "db01", "POST", "/v1/requests",
                                      {"user": "%s_f%03d" % (PREFIX, i), "reason": "filler"})
            self.assertIn(status, (200, 201), obj)
            last = obj["id"]
            status, obj = self.central_call("POST", "/v1/requests/%s/approve" % last, {})
            self.assertEqual(status, 200, obj)
        lt.wait_until(lambda: self.local_state(d, last) == "approved", 15,
                      "db01's mirror to hold the 200 live requests")
        user = self.new_user()
        reply = ta.login_socket_call(d, {"op": "file", "user": user, "reason": "INC-15 review"})
        self.assertEqual(reply["status"], 201, reply)
        rid = reply["request"]["id"]
        status, obj = self.central_call("POST", "/v1/requests/%s/approve" % rid,
                                        {"comment": "ok"})
        self.assertEqual(status, 200, obj)
        lt.wait_until(lambda: self.local_state(d, rid) == "approved", 10, "the approval on db01")
        self.assertEqual(self.login(d, user)["account"], "PAM_SUCCESS")

        status, obj = self.central_call("POST", "/v1/requests/%s/revoke" % rid,
                                        {"comment": "stop"})
        self.assertEqual(status, 200, obj)
        try:
            lt.wait_until(lambda: self.local_state(d, rid) == "revoked", 10,
                          "the revoke to reach db01")
        except lt.WaitTimeout:
            pass
        seen = (self.local_state(d, rid), self.login(d, user)["account"],
                ta.link(d))
        self.assertEqual(seen, ("revoked", "PAM_PERM_DENIED", "up"),
                         "central revoked %s; db01's (mirror state, login, link) " % rid)

    def test_another_host_cannot_use_up_a_users_pending_cap_on_this_host(self):
        d = self.agents["db01"]
        user = self.new_user()
        # web01 (tenant fabrikam, compromised) files 20 pending requests for the account name
        # `user`, each with another requester so that central's reuse does not merge them.
        for i in range(20):
            status, obj = ta.tls_call(self.port, "web01", "POST", "/v1/requests",
                                      {"user": user, "reason": "flood",
                                       "requester": "%s_r%02d" % (PREFIX, i)})
            self.assertIn(status, (200, 201), obj)
        # db01 (tenant contoso) files for its own account of that name: refused by central.
        reply = ta.login_socket_call(d, {"op": "file", "user": user, "reason": "INC-15 cap"})
        self.assertEqual(reply["status"], 201,
                         "another tenant's host used up %s's pending cap for db01: %r" %
                         (user, reply))


class CentralBeyondCap(ta.AgentCase):
    """A fake central (test_agents.FakeCentral) as the hostile side of the link."""

    def setUp(self):
        self.procs = []
        self.fake = ta.FakeCentral()
        self.agent = ta.agent_daemon("db01", self.fake.server_address[1])

    def tearDown(self):
        self.agent.close()
        self.fake.close()

    def test_an_approval_longer_than_the_hosts_access_ttl_is_cut_to_it(self):
        user = self.new_user()
        req = ta.approved_request(user)
        req["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                          time.gmtime(time.time() + 10 * 365 * 86400))
        self.fake.answer = lambda query: (200, ta.feed(requests=[req]))
        self.agent.start()
        lt.wait_until(lambda: ta.link(self.agent) == "up", 10, "the link to come up")
        status, obj = self.agent.call("GET", "/v1/requests/" + req["id"])
        self.assertEqual(status, 200, obj)
        held_until = calendar.timegm(time.strptime(obj["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLessEqual(held_until, time.time() + 12 * 3600 + 60,
                             "the host holds central's approval until %s, past its own "
                             "access_ttl (12h)" % obj["expires_at"])


if __name__ == "__main__":
    unittest.main()
