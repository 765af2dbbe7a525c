"""Step 14 end to end: the real lockboxctl (--server, client certificates) against the real
lockboxd TLS listener. A remote engineer files ahead from "a laptop" (no account involved on
the client side: lockboxctl runs with only a certificate), a remote admin approves, and a login
waiting on the host's login socket is released; the other tenant's admin and the engineer
themselves are refused with lockboxd's reasons. Run as root."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
from lockbox_certs import TestCA  # noqa: E402

PREFIX = lt.unique_prefix("lbx")
ENG, ALICE, BOB = PREFIX + "_eng", PREFIX + "_alice", PREFIX + "_bob"
TENANTS = {"contoso": [ALICE], "fabrikam": [BOB]}
U = lt.Users(PREFIX)
M = {}


def setUpModule():
    U.add(ENG)  # the account the engineer logs in to on the host
    tmp = M["dir"] = tempfile.mkdtemp(prefix="lbx-e2e-tls-")
    ca = TestCA(tmp)
    M["ca"], M["server"] = ca.cert, ca.server("server")
    for name in (ENG, ALICE, BOB):
        M[name] = ca.client(name)
    port = lt.free_port()
    d = M["d"] = lt.Daemon(tenants=TENANTS)
    crt, key = M["server"]
    d.write_config(lt.remote_section(port, crt, key, M["ca"]))
    M["url"] = "https://127.0.0.1:%d" % port
    d.start()


def tearDownModule():
    if "d" in M:
        M["d"].close()
    U.cleanup()
    shutil.rmtree(M.get("dir", "/nonexistent"), ignore_errors=True)


def remote(who, *args, timeout=60):
    """lockboxctl as the certificate `who`: no local socket, no HOME config."""
    crt, key = M[who]
    env = {"PATH": "/usr/bin:/bin", "HOME": M["dir"]}
    argv = [lt.LOCKBOXCTL, "--server", M["url"], "--cert", crt, "--key", key, "--ca", M["ca"]]
    return subprocess.run(argv + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout)


class RemoteEndToEnd(unittest.TestCase):
    def test_filed_ahead_remotely_approved_remotely_login_released(self):
        d = M["d"]
        filed = remote(ENG, "--json", "request", "--reason", "INC-88 from laptop")
        self.assertEqual(filed.returncode, 0, filed.stderr)
        req = json.loads(filed.stdout)
        self.assertEqual((req["state"], req["user"], req["reason"]),
                         ("pending", ENG, "INC-88 from laptop"))
        # A login on the host waits on that request (the module's wait, on the login socket).
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(60)
            s.connect(d.pam_socket)
            s.send(json.dumps({"op": "wait", "id": req["id"], "timeout": 60}).encode())
            d.wait_waiting(1)
            self_approve = remote(ENG, "approve", req["id"][:8], "--comment", "me")
            self.assertEqual(self_approve.returncode, 1, self_approve.stdout)
            other = remote(BOB, "approve", req["id"], "--comment", "not mine")
            self.assertEqual(other.returncode, 1, other.stdout)
            listed = remote(ALICE, "--json", "list")
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertIn(req["id"], [r["id"] for r in json.loads(listed.stdout)])
            approved = remote(ALICE, "approve", req["id"][:8], "--for", "1h", "--comment",
                              "go ahead")
            self.assertEqual(approved.returncode, 0, approved.stderr)
            released = json.loads(s.recv(65536))
        self.assertEqual(released["request"]["state"], "approved")
        self.assertEqual(released["request"]["decided_by"], "lockbox:user/" + ALICE)
        decided = [e for e in d.audit_events() if e["request_id"] == req["id"]
                   and e["event"] == "request.approved"]
        self.assertEqual([e["actor"] for e in decided], ["lockbox:user/" + ALICE])
        check = lt.http_call(d.socket, "POST", "/v1/access/check", {"user": ENG})
        self.assertEqual((check[0], check[1]["allowed"]), (200, True), check)


if __name__ == "__main__":
    unittest.main()
