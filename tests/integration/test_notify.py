"""Notifications (Step 7): a real webhook receiver on 127.0.0.1 and a real command, against a
real lockboxd. At-least-once delivery, signatures, retries across restarts, isolation from
slow receivers, hostile text kept as data."""

import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import (Daemon, Users, LOCKBOXD, LOCKBOXCTL, free_port,  # noqa: E402
                             unique_prefix, wait_until)

PREFIX = unique_prefix("lbn")  # every account this file adds starts so
U = Users(PREFIX)
ADMIN, ENG = PREFIX + "_admin", PREFIX + "_eng"
SECRET = "s3cret-for-tests-0123456789"


def setUpModule():
    U.add(ADMIN)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


class Receiver:
    """A webhook receiver. mode: 'ok' answers 204, 'slow' sleeps before answering."""

    def __init__(self, port, mode="ok"):
        self.received = []
        self.arrived = 0  # POSTs that reached the handler (a slow one is still inside)
        self.mode = mode
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.arrived += 1
                if outer.mode == "slow":
                    time.sleep(15)
                outer.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, event, timeout=10):
        """(headers, body) of the first `event` delivered; fails the test after `timeout`."""
        def delivered():
            return next(((headers, body) for headers, body in list(self.received)
                         if json.loads(body)["event"] == event), None)
        return wait_until(delivered, timeout, "the webhook to receive %s" % event)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyCase(unittest.TestCase):
    extra = {}

    def setUp(self):
        self.port = free_port()
        self.receiver = None
        self.d = Daemon(tenants={"contoso": [ADMIN]}, **self.daemon_kwargs())
        self.outdir = os.path.join(self.d.dir, "out")
        os.mkdir(self.outdir)
        os.chmod(self.outdir, 0o1777)
        script = os.path.join(self.d.dir, "notify.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nf=%s/$$\nenv > $f.env\nid -u > $f.uid\ncat > $f.json\n" % self.outdir)
        os.chmod(script, 0o755)
        options = {"notify_url": "http://127.0.0.1:%d/hook" % self.port, "notify_secret": SECRET,
                   "notify_command": script}
        options.update(self.extra)
        self.d.tenant_options = {"contoso": options}
        self.d.write_config()

    def daemon_kwargs(self):
        return {}

    def tearDown(self):
        try:
            self.d.close()
        finally:
            if self.receiver:
                self.receiver.close()

    def command_outputs(self):
        out = []
        for name in sorted(os.listdir(self.outdir)):
            if name.endswith(".json"):
                base = os.path.join(self.outdir, name[:-5])
                with open(base + ".json") as f:
                    text = f.read()
                if not text:
                    continue
                with open(base + ".env") as f:
                    env = f.read()
                with open(base + ".uid") as f:
                    uid = f.read().strip()
                out.append((json.loads(text), env, uid))
        return out

    def wait_command(self, event, timeout=10):
        def ran():
            return next((out for out in self.command_outputs() if out[0]["event"] == event),
                        None)
        return wait_until(ran, timeout, "notify_command to run for %s" % event)

    def webhook_attempted(self, rid):
        """The webhook notification of rid once the daemon has tried to send it."""
        hooks = [n for n in self.notifications(rid) if n["channel"] == "webhook"]
        return hooks[0] if hooks and hooks[0]["attempts"] >= 1 else None

    def notifications(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200)
        return obj["notifications"]


class Delivery(NotifyCase):
    def test_created_reaches_webhook_signed_and_command_with_json(self):
        self.receiver = Receiver(self.port)
        self.d.start()
        req = self.d.file_request(ENG, "INC-42")
        got = self.receiver.wait_for("request.created")
        self.assertIsNotNone(got, "webhook never received request.created")
        headers, body = got
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.assertEqual(headers["X-Lockbox-Signature"], "sha256=" + expected)
        payload = json.loads(body)
        self.assertEqual(headers["X-Lockbox-Delivery"], payload["id"])
        self.assertEqual((payload["audience"], payload["request"]["id"], payload["approvers"]),
                         ("approvers", req["id"], [ADMIN]))
        cmd = self.wait_command("request.created")
        self.assertIsNotNone(cmd, "the command never ran")
        cbody, env, uid = cmd
        self.assertEqual(cbody, payload)
        self.assertEqual(uid, str(__import__("pwd").getpwnam("nobody").pw_uid))
        names = {line.split("=", 1)[0] for line in env.splitlines() if "=" in line}
        self.assertTrue(names <= {"PWD", "OLDPWD", "SHLVL", "_"}, names)
        both = {("webhook", "delivered"), ("command", "delivered")}
        wait_until(lambda: {(n["channel"], n["state"]) for n in self.notifications(req["id"])}
                   == both, 5, "both notifications to be marked delivered")
        shown = subprocess.run([LOCKBOXCTL, "--socket", self.d.socket, "show", req["id"]],
                               capture_output=True, text=True)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r"Notified\s+request.created (webhook|command): delivered after 1 attempt")

    def test_decision_notifies_the_requester(self):
        self.receiver = Receiver(self.port)
        self.d.start()
        req = self.d.file_request(ENG, "INC-43")
        status, _ = self.d.call("POST", "/v1/requests/%s/deny" % req["id"], {"comment": "no"},
                                as_user=ADMIN)
        self.assertEqual(status, 200)
        got = self.receiver.wait_for("request.denied")
        self.assertIsNotNone(got)
        payload = json.loads(got[1])
        self.assertEqual((payload["audience"], payload["requester"], payload["request"]["comment"]),
                         ("requester", ENG, "no"))

    def test_hostile_reason_arrives_intact_never_executed(self):
        self.receiver = Receiver(self.port)
        self.d.start()
        marker = os.path.join(self.d.dir, "pwned")
        reason = "$(touch %s) `touch %s`; rm -rf / \"q\" 'x' \\ ünï" % (marker, marker)
        self.d.file_request(ENG, reason)
        got = self.receiver.wait_for("request.created")
        self.assertEqual(json.loads(got[1])["request"]["reason"], reason)
        body, _, _ = self.wait_command("request.created")
        self.assertEqual(body["request"]["reason"], reason)
        self.assertFalse(os.path.exists(marker))


class Retries(NotifyCase):
    def test_receiver_down_then_back(self):
        self.d.start()
        req = self.d.file_request(ENG, "INC-44")
        hook = wait_until(lambda: self.webhook_attempted(req["id"]), 10, "a first attempt")
        self.assertEqual(hook["state"], "pending")
        self.assertTrue(hook["last_error"])
        self.receiver = Receiver(self.port)
        self.assertIsNotNone(self.receiver.wait_for("request.created", timeout=20))

    def test_undelivered_notification_survives_a_restart(self):
        self.d.start()
        req = self.d.file_request(ENG, "INC-45")
        hook = wait_until(lambda: self.webhook_attempted(req["id"]), 10, "a first attempt")
        self.assertEqual(hook["state"], "pending")
        self.d.stop()
        self.receiver = Receiver(self.port)
        self.d.start()
        got = self.receiver.wait_for("request.created", timeout=20)
        self.assertIsNotNone(got)
        self.assertEqual(json.loads(got[1])["request"]["id"], req["id"])

    def test_slow_receiver_never_delays_a_decision_or_login(self):
        self.receiver = Receiver(self.port, mode="slow")
        self.d.start()
        req = self.d.file_request(ENG, "INC-46")
        wait_until(lambda: self.receiver.arrived, 10, "the sender to be stuck in the receiver")
        start = time.monotonic()
        status, _ = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ADMIN)
        status2, check = self.d.call("POST", "/v1/access/check", {"user": ENG})
        elapsed = time.monotonic() - start
        self.assertEqual((status, status2, check["allowed"]), (200, 200, True))
        self.assertLess(elapsed, 3.0)


class Expiring(NotifyCase):
    extra = {"notify_before": "3s"}

    def daemon_kwargs(self):
        return {"request_ttl": "6s"}

    def test_warning_before_a_pending_request_lapses(self):
        self.receiver = Receiver(self.port)
        self.d.start()
        req = self.d.file_request(ENG, "INC-47")
        got = self.receiver.wait_for("request.expiring", timeout=6)
        self.assertIsNotNone(got, "no request.expiring warning")
        self.assertEqual(json.loads(got[1])["request"]["state"], "pending")
        self.assertIsNotNone(self.receiver.wait_for("request.expired", timeout=8))
        self.assertEqual([json.loads(b)["event"] for _, b in self.receiver.received].count(
            "request.expiring"), 1)


class Config(unittest.TestCase):
    def test_bad_notify_settings_are_refused(self):
        for opts, needle in (({"notify_url": "http://10.0.0.1/x", "notify_secret": SECRET}, "notify_url"),
                             ({"notify_url": "http://localhost:1@evil.example/x",
                               "notify_secret": SECRET}, "notify_url"),
                             ({"notify_url": "ftp://127.0.0.1/x", "notify_secret": SECRET}, "notify_url"),
                             ({"notify_url": "http://127.0.0.1:1/x"}, "notify_secret"),
                             ({"notify_command": "relative.sh"}, "notify_command"),
                             ({"notify_command": "/bin/true", "notify_user": "root"}, "notify_user")):
            d = Daemon(tenants={"contoso": [ADMIN]}, tenant_options={"contoso": opts})
            try:
                r = subprocess.run([LOCKBOXD, "-c", d.conf_path, "--check-config"],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 1, opts)
                self.assertIn(needle, r.stderr)
            finally:
                d.close()


if __name__ == "__main__":
    unittest.main()
