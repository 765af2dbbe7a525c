"""Who asked for a request (Step 10): the requester the module names (PAM_RUSER) or the
person behind a caller's session (its audit login uid), a pending request reused only by the
same person, and no decision by anyone waiting for the same account and host. Real lockboxd,
over the login socket as the module speaks it and over the HTTP API. Run as root."""

import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("lbq")  # every account this file adds starts so
U = lt.Users(PREFIX)
ALICE, BOB = PREFIX + "_alice", PREFIX + "_bob"
CAROL, SHARED = PREFIX + "_carol", PREFIX + "_shared"


def setUpModule():
    for name in (ALICE, BOB, CAROL, SHARED):
        U.add(name)


def tearDownModule():
    U.cleanup()


class RequesterCase(unittest.TestCase):
    def setUp(self):
        self.d = lt.Daemon(tenants={"contoso": [ALICE, BOB, CAROL]}).start()

    def tearDown(self):
        self.d.close()

    def login_call(self, message):
        """One request on the login socket, as the PAM module sends it (as root)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(10)
            s.connect(self.d.pam_socket)
            s.send(json.dumps(message).encode())
            return json.loads(s.recv(65536).decode())

    def file_as_login(self, requester=None, reason="login via su"):
        message = {"op": "file", "user": SHARED, "reason": reason, "service": "su"}
        if requester is not None:
            message["requester"] = requester
        reply = self.login_call(message)
        self.assertIn(reply["status"], (200, 201), reply)
        return reply["request"]

    def decide(self, rid, who):
        return self.d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=who)


class PendingReuse(RequesterCase):
    def test_a_login_reuses_only_its_own_persons_request(self):
        by_alice = self.file_as_login(ALICE)
        self.assertEqual(by_alice["requester"], ALICE)
        by_bob = self.file_as_login(BOB)
        self.assertNotEqual(by_bob["id"], by_alice["id"], "bob's login took alice's request")
        self.assertEqual(by_bob["requester"], BOB)
        self.assertEqual(self.file_as_login(ALICE)["id"], by_alice["id"], "not reused")
        unknown = self.file_as_login(None)
        self.assertIsNone(unknown["requester"])
        self.assertNotIn(unknown["id"], (by_alice["id"], by_bob["id"]))
        # The check names the pending request of this login's own person, or none.
        reply = self.login_call({"op": "check", "user": SHARED, "requester": BOB})
        self.assertEqual(reply["request"]["id"], by_bob["id"])
        carol = self.login_call({"op": "check", "user": SHARED, "requester": CAROL})
        self.assertFalse(carol["allowed"])
        self.assertIsNone(carol["request"], "carol's login would wait on someone else's request")

    def test_only_root_names_a_requester(self):
        status, obj = self.d.call("POST", "/v1/requests", {"reason": "x", "requester": BOB},
                                  as_user=ALICE)
        self.assertEqual(status, 403, obj)
        self.assertIn("requester", obj["message"])


class Decisions(RequesterCase):
    def test_the_requester_cannot_decide(self):
        req = self.file_as_login(ALICE)
        status, obj = self.decide(req["id"], ALICE)
        self.assertEqual(status, 403, obj)
        self.assertIn("you asked for it", obj["message"])
        self.assertIn("event=api.refused", self.d.stderr())
        self.assertEqual(self.decide(req["id"], CAROL)[0], 200)

    def test_someone_waiting_for_the_same_account_cannot_approve_anothers_request(self):
        by_alice = self.file_as_login(ALICE)
        self.file_as_login(BOB)
        status, obj = self.decide(by_alice["id"], BOB)
        self.assertEqual(status, 403, "bob would let himself in: %s" % obj)
        status, _ = self.decide(by_alice["id"], CAROL)
        self.assertEqual(status, 200)

    def test_the_person_behind_a_shared_accounts_session_is_the_requester(self):
        """alice works in the shared account (su without pam_loginuid keeps her login uid)
        and files an extension from there: it is hers, and she cannot approve it."""
        alice_uid = lt.pwd.getpwnam(ALICE).pw_uid
        sock = self.d.socket

        def file_from_alices_session():
            with open("/proc/self/loginuid", "w") as f:  # what pam_loginuid did at her login
                f.write(str(alice_uid))
            lt.drop_to(SHARED)
            return lt.http_call(sock, "POST", "/v1/requests", {"reason": "need more time"})

        status, req = run_in_child(file_from_alices_session)
        self.assertEqual(status, 201, req)
        self.assertEqual((req["user"], req["requester"]), (SHARED, ALICE))
        self.assertEqual(self.decide(req["id"], ALICE)[0], 403)
        self.assertEqual(self.decide(req["id"], CAROL)[0], 200)


def run_in_child(fn):
    """fn() in a forked child (it changes its own loginuid and uid); its JSON result."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            out = {"ok": fn()}
        except BaseException as exc:  # report to the parent
            out = {"error": repr(exc)}
        os.write(wfd, json.dumps(out).encode())
        os._exit(0)
    os.close(wfd)
    data = b""
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    out = json.loads(data.decode())
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["ok"]


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_requester.py must run as root")
        sys.exit(1)
    unittest.main()
