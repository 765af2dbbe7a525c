"""Step 16 (tenant-signed grants) against what an attacker review found: each test failed
before its fix (docs/SECURITY.md, "Tenant-signed grants").

The attacker is whoever runs central or its database: here a lockboxd whose SQLite file the
test edits, and a fake "central" on a Unix socket that answers lockboxctl as a malicious
lockboxd would. Approvers sign with the real `lockboxctl approve --key` and `grant sign`.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_grants_review.py -v
"""

import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import test_grants as tg  # noqa: E402  (its keys, users and GrantCase; not its tests)

YEAR_S = 365 * 24 * 3600


def setUpModule():
    tg.setUpModule()


def tearDownModule():
    tg.tearDownModule()


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def statement(req, not_before, not_after):
    """The nine lines of a grant statement for the request object `req` (as lockboxd shows it,
    with its request_sha256), for the window [not_before, not_after) in epoch seconds."""
    return ("lockbox-grant v1\ntenant %s\nrequest %s\nrequest-sha256 %s\nuser %s\n"
            "requester %s\nhost %s\nnot-before %s\nnot-after %s\n"
            % (req["tenant"], req["id"], req["request_sha256"], req["user"],
               req.get("requester") or "-", req["host"], rfc3339(not_before),
               rfc3339(not_after)))


class FakeCentral:
    """A malicious central on a Unix socket: GET /v1/requests/ID answers the real request
    object with a statement of central's choosing already "started" in it; POST .../approve
    keeps the body (the approver's signed grant) and answers as if it approved."""

    def __init__(self, path, request_obj):
        self.path, self.request_obj, self.posted = path, request_obj, []
        central = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def address_string(self):
                return "unix"

            def reply(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/v1/requests/" + central.request_obj["id"]):
                    self.reply(200, central.request_obj)
                else:
                    self.reply(404, {"error": "not_found", "message": self.path})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                central.posted.append(json.loads(self.rfile.read(length) or b"{}"))
                approved = dict(central.request_obj, state="approved")
                self.reply(200, approved)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(path, Handler)
        os.chmod(path, 0o666)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)


class LongWindows(tg.GrantCase):
    """HIGH: no party that central cannot control bounds a statement's window. The approver's
    client signs whatever window central pre-started; hosts check only that now lies in the
    window, never its length (the access_ttl limit is checked at approve, i.e. by central)."""

    def approved_like(self):
        """A genuine signed approval (for ENG2) whose approval columns a forgery copies."""
        like = self.file(user=tg.ENG2)
        self.assert_ok(self.approve(like, tg.ALICE))
        return like

    def test_the_approvers_client_signs_a_year_long_window_central_chose(self):
        rid = self.file()
        req = self.show(rid)
        now = int(time.time())
        started = statement(req, now, now + YEAR_S)  # nobody has signed it yet
        fake_dir = tempfile.mkdtemp(prefix="lbx-fake-central-")
        self.addCleanup(shutil.rmtree, fake_dir, True)
        os.chmod(fake_dir, 0o755)
        central = FakeCentral(os.path.join(fake_dir, "api.sock"), dict(req, grant=started))
        try:
            done = lt.run_as(tg.ALICE, [lt.LOCKBOXCTL, "--socket", central.path, "approve", rid,
                                        "--key", tg.KEYS[tg.ALICE][0], "--name", tg.ALICE])
        finally:
            central.close()
        signed = [p["grant"] for p in central.posted if "grant" in p]
        # What the claim needs: the approver's routine command refuses a window it did not ask
        # for (default --for 1h) and one longer than any access_ttl (12 h at most).
        self.assertEqual(signed, [], "lockboxctl approve --key signed central's year-long "
                         "window (exit %d, stdout %r):\n%s"
                         % (done.returncode, done.stdout, signed[0] if signed else ""))

    def test_a_host_admits_a_grant_whose_window_is_a_year(self):
        like = self.approved_like()
        rid = self.file()
        now = int(time.time())
        path = os.path.join(self.d.dir, "year.grant")
        with open(path, "w") as f:
            f.write(statement(self.show(rid), now, now + YEAR_S))
        os.chmod(path, 0o644)
        self.assert_ok(subprocess.run([lt.LOCKBOXCTL, "grant", "sign", "--key",
                                       tg.KEYS[tg.ALICE][0], "--name", tg.ALICE, path],
                                      capture_output=True, text=True, timeout=60))
        with open(path) as f:
            year_grant = f.read()
        # Central (its database) stores the approval; it could equally deliver it months later
        # through the feed, as a request new to the agent.
        self.forge_approved(rid, like, grant=year_grant)
        allowed, _ = tg.login_check(self.d, tg.ENG)
        self.assertFalse(allowed, "a grant with a 365-day window (access_ttl %s) opened the "
                         "host" % self.d.access_ttl)


class AuditWithoutGrants(tg.GrantCase):
    """MEDIUM: `audit verify --keys` checks only records that carry a grant; a request.approved
    record with "grant": null passes, and the summary says "grants OK"."""

    def test_an_unsigned_approval_record_passes_audit_verify_keys(self):
        # Whoever runs central runs it with signed_approvals off (its own config) and approves
        # without any signature; the tenant checks central's trail with its pinned keys.
        self.d.close()
        self.d = lt.Daemon(tenants={"contoso": tg.ADMINS}).start()
        rid = self.d.file_request(tg.ENG, reason="INC-1")["id"]
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=tg.ALICE)
        self.assertEqual(status, 200, obj)
        record = [e for e in self.d.audit_events()
                  if e.get("request_id") == rid and e["event"] == "request.approved"][0]
        self.assertIsNone(record["grant"])
        # Naming the tenant whose keys they are: every approval of it must be signed.
        done = subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file", self.d.audit_path,
                               "--keys", self.keys_path, "--tenant", "contoso"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("approves a request of tenant contoso without a signed grant", done.stderr)


class RequesterIsInformational(tg.GrantCase):
    """Approvals are per account and host, signed or not (docs/SECURITY.md, "Tenant-signed
    grants"): the statement's requester records who asked, and a login into the same account
    on the same host by someone else is admitted by it, as by any approval."""

    def test_a_grant_for_one_requester_admits_the_account(self):
        rid = self.d.file_request(tg.ENG, reason="INC-7", requester=tg.CAROL)["id"]
        self.assertEqual(self.show(rid)["requester"], tg.CAROL)
        self.assert_ok(self.approve(rid, tg.ALICE))
        self.assertIn("\nrequester %s\n" % tg.CAROL, self.show(rid)["grant"])
        reply = lt.login_socket_call(self.d, {"op": "check", "user": tg.ENG,
                                              "requester": tg.BOB})
        self.assertTrue(reply["allowed"], reply)


if __name__ == "__main__":
    unittest.main()
