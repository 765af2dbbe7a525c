"""Signed grants on an agent (Step 16): a host whose tenant requires signed approvals lets a
login in only with a grant that verifies against its own pinned keys, whatever central says.
A fake central (test_agents.FakeCentral, TLS with the test CA) answers "approved" with no
grant, with a grant no pinned key signed, and with a valid one; the logins go through the real
module (pam_harness) against the agent's login socket.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_grants_agent.py -v
"""

import hashlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import test_agents as ta  # noqa: E402  (its helpers and certificates; none of its tests)

RID = "ab" * 16


def setUpModule():
    ta.setUpModule()


def tearDownModule():
    ta.tearDownModule()


def request_hash(req):
    """DESIGN.md's request text, hashed: what a statement's request-sha256 holds."""
    created = req["created_at"].replace("Z", ".000Z")
    text = ("lockbox-request v1\nid %s\ntenant %s\nhost %s\nuser %s\nrequester -\n"
            "requested-by %s\ncreated-at %s\nreason %s\n"
            % (req["id"], req["tenant"], req["host"], req["user"], req["requested_by"],
               created, req["reason"]))
    return hashlib.sha256(text.encode()).hexdigest()


class ForgingCentral(ta.AgentCase):
    def setUp(self):
        self.procs = []
        self.dir = os.path.join(ta.CERTS["dir"], self.id().rsplit(".", 1)[-1])
        os.mkdir(self.dir)
        self.alice_key, alice_line = self.key("alice")
        self.keys_path = os.path.join(self.dir, "pinned.txt")
        with open(self.keys_path, "w") as f:
            f.write(alice_line + "\n")
        os.chmod(self.keys_path, 0o644)
        self.fake = ta.FakeCentral()
        self.agent = self.signed_agent(self.fake.server_address[1])

    def tearDown(self):
        self.agent.close()
        self.fake.close()

    def key(self, name):
        path = os.path.join(self.dir, name + ".key")
        done = subprocess.run([lt.LOCKBOXCTL, "key", "generate", "--name", name, "--output",
                               path], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        return path, done.stdout.strip()

    def signed_agent(self, port):
        options = {"approver_keys": self.keys_path, "signed_approvals": "required"}
        d = lt.Daemon(tenant=ta.TENANT, host="db01", tenants={ta.TENANT: [ta.ADMIN]},
                      store="sqlite", tenant_options={ta.TENANT: options},
                      daemon_extra={"role": "agent", "session_grace": "1s",
                                    "session_warning": "0"})
        crt, key = ta.CERTS["db01"]
        d.write_config("\n[central]\nurl = https://127.0.0.1:%d\ncertificate = %s\nkey = %s\n"
                       "ca = %s\noffline = strict\n" % (port, crt, key, ta.CERTS["ca"]))
        return d

    def signed_grant(self, req, key_path, signer):
        """A statement for req, signed with `lockboxctl grant sign`."""
        lines = ["lockbox-grant v1", "tenant " + req["tenant"], "request " + req["id"],
                 "request-sha256 " + request_hash(req), "user " + req["user"], "requester -",
                 "host " + req["host"], "not-before " + req["decided_at"],
                 "not-after " + req["expires_at"]]
        path = os.path.join(self.dir, "grant-%s.txt" % signer)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        done = subprocess.run([lt.LOCKBOXCTL, "grant", "sign", "--key", key_path, "--name",
                               signer, path], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(path) as f:
            return f.read()

    def serve(self, req):
        """Central answers with req approved; the agent mirrors it."""
        self.fake.answer = lambda query: (200, ta.feed(requests=[req]))
        self.agent.start()
        lt.wait_until(lambda: ta.link(self.agent) == "up", 10, "the link to come up")
        lt.wait_until(lambda: self.agent.call("GET", "/v1/requests/" + RID)[1].get("state") ==
                      "approved", 10, "the agent to mirror the approval")

    def assert_denied_and_alerted(self, user, reason):
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_PERM_DENIED")
        lt.wait_until(lambda: "event=grant.invalid id=%s" % RID in self.agent.stderr(), 5,
                      "grant.invalid to be logged")
        line = [l for l in self.agent.stderr().splitlines() if "event=grant.invalid" in l][0]
        self.assertIn(reason, line)

    def test_approved_without_a_grant_is_denied(self):
        user = self.new_user()
        self.serve(ta.approved_request(user))
        self.assert_denied_and_alerted(user, 'reason="no grant"')

    def test_approved_with_a_grant_no_pinned_key_signed_is_denied(self):
        user = self.new_user()
        req = ta.approved_request(user)
        mallory_key, _ = self.key("mallory")
        req["grant"] = self.signed_grant(req, mallory_key, "mallory")
        self.serve(req)
        self.assert_denied_and_alerted(user, "not enough valid signatures")

    def test_approved_with_a_valid_grant_lets_the_login_in(self):
        user = self.new_user()
        req = ta.approved_request(user)
        req["grant"] = self.signed_grant(req, self.alice_key, "alice")
        self.serve(req)
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_SUCCESS")
        approved = [e for e in self.agent.audit_events() if e["event"] == "request.approved"]
        self.assertEqual(approved[0]["grant"], req["grant"])
        done = subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file",
                               self.agent.audit_path, "--keys", self.keys_path],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("grants OK: 1 records", done.stdout)


if __name__ == "__main__":
    unittest.main()
