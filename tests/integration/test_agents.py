"""Step 15, the agent side: lockboxd with role = agent takes its requests and decisions from a
central lockboxd over one outbound HTTPS connection (the host's certificate, central's CA
pinned), and keeps the login socket, the local audit file and the sessions on the host.

  Fleet        one central (role = central, [remote], tenant hosts db01-db03) and three
               agents on this machine (each its own config, sockets, state and certificate),
               the real module through libpam (pam_harness) against each agent's login socket:
               an approval at central admits the login on db01 and not on db02; db02 cannot
               file for db01; a revoke at central ends a live session on db01 within 2 s;
               central stopped: strict denies, grace admits a held approval and denies a new
               one, and central back: the agents resync; an agent stopped while a revoke is
               made at central does not admit the revoked access when it starts (its audit
               file records access.revoked); a host certificate revoked at central (CRL +
               SIGHUP): that host's feed is refused, the others stay up.
  BadCentral   a fake central (Python, TLS with the test CA) answering malformed JSON, a
               request for another host, another tenant: nothing is applied, logins are
               denied, central.bad_answer is logged.
"""

import http.server
import json
import os
import shutil
import signal
import ssl
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

PREFIX = lt.unique_prefix("lbag")
U = lt.Users(PREFIX)
ADMIN = PREFIX + "_admin"
TENANT = "contoso"
HOSTS = ("db01", "db02", "db03")
CERTS = {}


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.PAM_MODULE, lt.PAM_HARNESS,
                        why="adds users, runs logins and sessions")
    U.add(ADMIN)
    tmp = CERTS["dir"] = tempfile.mkdtemp(prefix="lbx-agents-")
    os.chmod(tmp, 0o755)
    ca = CERTS["ca_obj"] = TestCA(tmp)
    CERTS["ca"] = ca.cert
    CERTS["server"] = ca.server("central")
    CERTS[ADMIN] = ca.client(ADMIN)
    for host in HOSTS:
        CERTS[host] = ca.client(host, uris=["lockbox:host/%s" % host])
    CERTS["crl"] = ca.gen_crl()


def tearDownModule():
    U.cleanup()
    shutil.rmtree(CERTS.get("dir", "/nonexistent"), ignore_errors=True)


def central_daemon(port):
    d = lt.Daemon(tenant=TENANT, host="central", tenants={TENANT: [ADMIN]},
                  tenant_options={TENANT: {"hosts": ", ".join(HOSTS)}},
                  daemon_extra={"role": "central"}, store="sqlite")
    crt, key = CERTS["server"]
    d.write_config(lt.remote_section(port, crt, key, CERTS["ca"], CERTS["crl"]))
    d.port = port
    return d


def agent_daemon(host, port, offline="strict", grace="1h"):
    d = lt.Daemon(tenant=TENANT, host=host, tenants={TENANT: [ADMIN]}, store="sqlite",
                  daemon_extra={"role": "agent", "session_grace": "1s",
                                "session_warning": "0"})
    crt, key = CERTS[host]
    d.write_config("\n[central]\nurl = https://127.0.0.1:%d\ncertificate = %s\nkey = %s\n"
                   "ca = %s\noffline = %s\n%s" % (port, crt, key, CERTS["ca"], offline,
                                                 "offline_grace = %s\n" % grace
                                                 if offline == "grace" else ""))
    return d


def tls_call(port, who, method, path, body=None, timeout=30):
    crt, key = CERTS[who]
    return https_json(port, CERTS["ca"], crt, key, method, path, body, timeout)


login_socket_call = lt.login_socket_call


def read_text(path):
    with open(path) as f:
        return f.read()


def link(d):
    return d.health()["central"]["link"]


class AgentCase(unittest.TestCase):
    """Helpers over the real module: logins through libpam against an agent's login socket."""

    counter = 0

    def new_user(self):
        AgentCase.counter += 1
        return U.add("%s_u%d" % (PREFIX, AgentCase.counter))

    def pam_service(self, d, options):
        confdir = os.path.join(d.dir, "pam.d")
        os.makedirs(confdir, exist_ok=True)
        AgentCase.counter += 1
        name = "lbag%d" % AgentCase.counter
        with open(os.path.join(confdir, name), "w") as f:
            for stack in ("account", "session"):
                f.write("%s required %s socket=%s %s\n" % (stack, lt.PAM_MODULE, d.pam_socket,
                                                         options))
        return confdir, name

    def login_argv(self, d, user, options="wait=0", stack="account", extra=()):
        confdir, name = self.pam_service(d, options)
        return [lt.PAM_HARNESS, "--confdir", confdir, "--service", name, "--user", user,
                "--stack", stack] + list(extra)

    def login(self, d, user, options="wait=0", timeout=60):
        proc = subprocess.run(self.login_argv(d, user, options), capture_output=True, text=True,
                              timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def start_login(self, d, user, options):
        return subprocess.Popen(self.login_argv(d, user, options), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish_login(self, proc, timeout=60):
        out, err = proc.communicate(timeout=timeout)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out.strip().splitlines()[-1])

    def open_session(self, d, user):
        """The session stack through libpam; the harness process holds the session open."""
        argv = self.login_argv(d, user, stack="session", extra=["--hold", "60"])
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        opened = json.loads(p.stdout.readline())
        self.assertEqual(opened["open_session"], "PAM_SUCCESS", opened)
        return p


class Fleet(AgentCase):
    @classmethod
    def setUpClass(cls):
        cls.port = lt.free_port()
        cls.central = central_daemon(cls.port)
        cls.agents = {}
        try:
            cls.central.start()
            cls.agents["db01"] = agent_daemon("db01", cls.port)
            cls.agents["db02"] = agent_daemon("db02", cls.port)
            cls.agents["db03"] = agent_daemon("db03", cls.port, offline="grace", grace="1h")
            for d in cls.agents.values():
                d.start()
            for d in cls.agents.values():
                lt.wait_until(lambda: link(d) == "up", 15, "%s's link to come up" % d.host)
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
        if self.central.proc is None:
            self.central.start()
        for d in self.agents.values():
            if d.proc is None:
                d.start()
            lt.wait_until(lambda: link(d) == "up", 15, "%s's link to come up" % d.host)

    def tearDown(self):
        for p in self.procs:
            lt.terminate(p, sig=signal.SIGKILL, group=True)
            p.stdout.close()

    # --- at central ---
    def central_call(self, method, path, body=None):
        return tls_call(self.port, ADMIN, method, path, body)

    def pending_at_central(self, user, host):
        def find():
            status, obj = self.central_call("GET", "/v1/requests?state=pending&user=%s" % user)
            self.assertEqual(status, 200, obj)
            mine = [r for r in obj["requests"] if r["host"] == host]
            return mine[0] if mine else None
        return lt.wait_until(find, 20, "a pending request of %s for %s at central" % (user, host))

    def decide(self, rid, action, **body):
        status, obj = self.central_call("POST", "/v1/requests/%s/%s" % (rid, action),
                                        dict(comment="by the test", **body))
        self.assertEqual(status, 200, obj)
        return obj

    def approved_for(self, host, user):
        """A request filed on host by its module (the login socket), approved at central, and
        seen approved in the host's mirror."""
        d = self.agents[host]
        reply = login_socket_call(d, {"op": "file", "user": user, "reason": "INC-15 fleet"})
        self.assertEqual(reply["status"], 201, reply)
        rid = reply["request"]["id"]
        self.assertEqual(reply["request"]["host"], host)
        self.decide(rid, "approve")
        lt.wait_until(lambda: self.local_state(d, rid) == "approved", 5,
                      "the approval to reach %s" % host)
        return rid

    def local_state(self, d, rid):
        status, obj = d.call("GET", "/v1/requests/" + rid)
        return obj.get("state") if status == 200 else None

    # --- tests ---
    def test_approval_at_central_admits_the_login_on_its_host_only(self):
        user = self.new_user()
        waiting = self.start_login(self.agents["db01"], user, "wait=60")
        req = self.pending_at_central(user, "db01")
        self.assertEqual(req["requested_by"], "lockbox:host/db01", req)
        self.decide(req["id"], "approve")
        result = self.finish_login(waiting)
        self.assertEqual(result["account"], "PAM_SUCCESS", result)
        # The same account on db02: no approval there; the request it files is db02's.
        self.assertEqual(self.login(self.agents["db02"], user)["account"], "PAM_PERM_DENIED")
        events = [e["event"] for e in self.agents["db01"].audit_events()
                  if e.get("request_id") == req["id"]]
        self.assertEqual(events[:3], ["request.created", "request.approved", "login.allowed"])
        health = self.agents["db01"].health()
        self.assertEqual((health["role"], health["central"]["link"]), ("agent", "up"), health)
        self.assertIsNotNone(health["central"]["last_sync"])

    def test_each_agent_holds_one_long_poll_at_central(self):
        # Idle, every agent's feed call is suspended at central (one connection per host):
        # central counts them among its waiting calls, and they stay there.
        lt.wait_until(lambda: self.central.health()["waiting"] == len(self.agents), 30,
                      "one waiting feed call per agent at central")
        self.assertTrue(lt.holds_for(lambda: self.central.health()["waiting"] ==
                                     len(self.agents), 1.0), "the agents poll in a loop")

    def test_a_host_cannot_file_for_another_host_nor_decide(self):
        user = self.new_user()
        d = self.agents["db02"]
        status, obj = d.call("POST", "/v1/requests", {"reason": "x", "user": user,
                                                      "host": "db01"})
        self.assertEqual(status, 400, obj)
        self.assertIn("gates host db02", obj["message"])
        status, obj = d.call("POST", "/v1/requests", {"reason": "x"}, as_user=user)
        self.assertEqual(status, 400, obj)
        self.assertIn("agent of central https://127.0.0.1:%d" % self.port, obj["message"])
        rid = self.approved_for("db02", user)
        status, obj = d.call("POST", "/v1/requests/%s/revoke" % rid, {"comment": "no"},
                             as_user=ADMIN)
        self.assertEqual(status, 400, obj)
        self.assertIn("decide at central", obj["message"])
        # At central, db02's certificate may not file for db01 either.
        status, obj = tls_call(self.port, "db02", "POST", "/v1/requests",
                               {"reason": "x", "user": user, "host": "db01"})
        self.assertEqual(status, 403, obj)

    def test_root_on_the_host_files_at_central_through_the_agent(self):
        user = self.new_user()
        d = self.agents["db03"]
        status, obj = d.call("POST", "/v1/requests", {"reason": "INC-15 by root", "user": user})
        self.assertEqual(status, 201, obj)
        self.assertEqual((obj["host"], obj["requested_by"], obj["state"]),
                         ("db03", "lockbox:host/db03", "pending"), obj)
        # Mirrored before the answer: the host's audit file has it, and central holds it.
        created = [e for e in d.audit_events()
                   if e["event"] == "request.created" and e["request_id"] == obj["id"]]
        self.assertEqual(len(created), 1, created)
        status, at_central = self.central_call("GET", "/v1/requests/" + obj["id"])
        self.assertEqual((status, at_central["host"]), (200, "db03"), at_central)
        # The same filing again finds the pending request (central's reuse), not a second one.
        status, again = d.call("POST", "/v1/requests", {"reason": "INC-15 again", "user": user})
        self.assertEqual((status, again["id"]), (200, obj["id"]), again)

    def test_revoke_at_central_ends_a_live_session_within_2s(self):
        user = self.new_user()
        d = self.agents["db01"]
        rid = self.approved_for("db01", user)
        p = self.open_session(d, user)
        self.decide(rid, "revoke")
        start = time.monotonic()
        lt.wait_until(lambda: not lt.process_alive(p.pid) or p.poll() is not None, 5,
                      "the session to end")
        self.assertLess(time.monotonic() - start, 2.0, "the session outlived the revoke by 2 s")
        events = [e["event"] for e in d.audit_events() if e.get("request_id") == rid]
        self.assertIn("access.revoked", events)

    def test_central_shows_the_sessions_live_on_a_requests_host(self):
        """Each feed call carries the host's live sessions (live=); show at central names them
        with when the host said so. The report goes with the agent's next feed call: a change
        to the host's requests (a filing here) makes that call come at once."""
        user, other = self.new_user(), self.new_user()
        d = self.agents["db02"]
        rid = self.approved_for("db02", user)

        def nudge(n):
            # A filing for db02 (as db02's own module would) changes its feed: the agent's
            # long-poll is answered and its next call (with the report) leaves at once.
            status, obj = tls_call(self.port, "db02", "POST", "/v1/requests",
                                   {"user": other, "reason": "nudge", "requester": "n%d" % n})
            self.assertIn(status, (200, 201), obj)

        def live_at_central(want):
            status, obj = self.central_call("GET", "/v1/requests/" + rid)
            self.assertEqual(status, 200, obj)
            report = obj.get("host_sessions")
            return report if report and report["live"] == want else None
        def nudged_until(want, what):
            # A report published just after the nudged call left waits for the next change:
            # nudge again (a few times at most) rather than sleep through a long-poll.
            for attempt in range(3):
                nudge(len(self.nudges))
                self.nudges.append(want)
                try:
                    return lt.wait_until(lambda: live_at_central(want), 8, what)
                except lt.WaitTimeout:
                    if attempt == 2:
                        raise
        self.nudges = []
        p = self.open_session(d, user)
        report = nudged_until(1, "central to show 1 live session")
        self.assertEqual(report["host"], "db02")
        out = subprocess.run([lt.LOCKBOXCTL, "--server", "https://127.0.0.1:%d" % self.port,
                              "--cert", CERTS[ADMIN][0], "--key", CERTS[ADMIN][1],
                              "--ca", CERTS["ca"], "show", rid],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 live on db02 (as its agent reported", out.stdout)
        lt.terminate(p, sig=signal.SIGKILL, group=True)
        self.procs.remove(p)
        p.stdout.close()
        nudged_until(0, "central to show no live session")
        # Another host cannot speak for db02: its report names only its own requests.
        status, _ = tls_call(self.port, "db01", "GET",
                             "/v1/hosts/self/requests?wait=0&live=%s:5" % rid)
        self.assertEqual(status, 200)
        self.assertEqual(live_at_central(0)["live"], 0)

    def test_central_down_strict_denies_grace_admits_held_approvals_then_resync(self):
        strict_user, grace_user, new_user = self.new_user(), self.new_user(), self.new_user()
        self.approved_for("db01", strict_user)
        self.approved_for("db03", grace_user)
        self.central.stop()
        for host in ("db01", "db03"):
            lt.wait_until(lambda: link(self.agents[host]) == "down", 40,
                          "%s to see central gone" % host)
        self.assertEqual(self.login(self.agents["db01"], strict_user)["account"],
                         "PAM_PERM_DENIED")
        self.assertEqual(self.login(self.agents["db03"], grace_user)["account"], "PAM_SUCCESS")
        # A new request needs central: the module is told central_unavailable, and denies.
        reply = login_socket_call(self.agents["db03"], {"op": "file", "user": new_user,
                                                        "reason": "INC-15 offline"})
        self.assertEqual((reply["status"], reply["error"]), (503, "central_unavailable"), reply)
        self.assertEqual(self.login(self.agents["db03"], new_user)["account"], "PAM_PERM_DENIED")
        denied = [e for e in self.agents["db01"].audit_events()
                  if e["event"] == "login.denied" and e["user"] == strict_user]
        self.assertEqual(denied[-1].get("comment"), "central unreachable", denied)
        unreachable = [l for l in self.agents["db01"].stderr().splitlines()
                       if "event=central.unreachable" in l]
        self.assertEqual(len(unreachable), 1, unreachable)  # once per outage
        # Central back: the agents resync, and strict admits again.
        self.central.start()
        lt.wait_until(lambda: link(self.agents["db01"]) == "up", 15, "db01 to resync")
        self.assertIn("event=central.reconnected", self.agents["db01"].stderr())
        self.assertEqual(self.login(self.agents["db01"], strict_user)["account"], "PAM_SUCCESS")

    def test_grace_counts_from_the_last_sync_kept_across_a_restart(self):
        user = self.new_user()
        d = self.agents["db03"]
        self.approved_for("db03", user)
        synced = d.health()["central"]["last_sync"]
        self.central.stop()
        d.stop()
        d.start()
        health = d.health()
        self.assertEqual((health["central"]["link"], health["central"]["last_sync"]),
                         ("down", synced), health)
        self.assertEqual(self.login(d, user)["account"], "PAM_SUCCESS")
        # The same host with a grace already spent: the sync it keeps is too old to count.
        d.stop()
        d.db("UPDATE meta SET value = value - 3601000 WHERE key = 'central_last_sync_ms'")
        d.start()
        self.assertEqual(self.login(d, user)["account"], "PAM_PERM_DENIED")

    def test_a_revoke_while_the_agent_was_stopped_is_applied_before_anyone_is_admitted(self):
        user = self.new_user()
        d = self.agents["db02"]
        rid = self.approved_for("db02", user)
        self.assertEqual(self.login(d, user)["account"], "PAM_SUCCESS")
        d.stop()
        self.decide(rid, "revoke")
        d.start()
        # No waiting for the link: the very first login after the start must not pass.
        self.assertEqual(self.login(d, user)["account"], "PAM_PERM_DENIED")
        lt.wait_until(lambda: self.local_state(d, rid) == "revoked", 10, "the revoke to arrive")
        revoked = [e for e in d.audit_events()
                   if e["event"] == "access.revoked" and e["request_id"] == rid]
        self.assertEqual(len(revoked), 1, revoked)
        self.assertEqual(revoked[0]["actor"], "lockbox:user/%s" % ADMIN, revoked)

    def test_z_a_host_certificate_revoked_at_central_cuts_that_host_only(self):
        ca = CERTS["ca_obj"]
        ca.revoke(CERTS["db02"][0])
        ca.gen_crl()
        self.central.hup()
        try:
            d = self.agents["db02"]
            # The live keep-alive connection was admitted before; a restart of the agent
            # makes it connect anew, as it will after any dropped connection.
            d.stop()
            d.start()
            self.assertTrue(lt.holds_for(lambda: link(d) == "down", 2), "db02's link came up")
            self.assertEqual(link(self.agents["db01"]), "up")
            self.assertEqual(link(self.agents["db03"]), "up")
        finally:
            self.agents["db02"].stop()  # its certificate stays revoked: keep it out of setUp
            self.agents.pop("db02").close()


class Startup(unittest.TestCase):
    """[central] and role = agent go together, and the host's key is root's alone."""

    def check_config(self, d):
        return subprocess.run([lt.LOCKBOXD, "-c", d.conf_path, "--check-config"],
                              capture_output=True, text=True)

    def line_of(self, d, text):
        with open(d.conf_path) as f:
            return next(i for i, l in enumerate(f, 1) if l.strip().startswith(text))

    def test_central_and_role_agent_need_each_other(self):
        d = agent_daemon("db01", 8443)
        try:
            self.assertEqual(self.check_config(d).returncode, 0, self.check_config(d).stderr)
            d.daemon_extra = {}
            text = read_text(d.conf_path).replace("role = agent\n", "")
            with open(d.conf_path, "w") as f:
                f.write(text)
            out = self.check_config(d)
            self.assertEqual(out.returncode, 1)
            self.assertIn(":%d: [central] is only for role = agent" % self.line_of(d, "[central]"),
                          out.stderr)
            d.daemon_extra = {"role": "agent"}
            d.write_config()
            out = self.check_config(d)
            self.assertEqual(out.returncode, 1)
            self.assertIn(":%d: role = agent needs a [central] section" %
                          self.line_of(d, "role"), out.stderr)
        finally:
            d.close()

    def test_a_readable_key_or_a_plain_url_stops_the_start(self):
        d = agent_daemon("db01", 8443)
        try:
            key = os.path.join(d.dir, "readable.key")
            shutil.copy(CERTS["db01"][1], key)
            os.chmod(key, 0o640)
            text = read_text(d.conf_path)
            with open(d.conf_path, "w") as f:
                f.write(text.replace(CERTS["db01"][1], key))
            out = self.check_config(d)
            self.assertEqual(out.returncode, 1)
            self.assertIn("key %s must be owned by uid 0 and not readable" % key, out.stderr)
            with open(d.conf_path, "w") as f:
                f.write(text.replace("https://", "http://"))
            out = self.check_config(d)
            self.assertEqual(out.returncode, 1)
            self.assertIn("url must be https://", out.stderr)
        finally:
            d.close()


class FakeCentral(http.server.ThreadingHTTPServer):
    """Speaks the feed's wire contract over TLS with the test CA, answering with self.answer
    (a callable taking the query) — a broken or hostile central on demand."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeCentralHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*CERTS["server"])
        ctx.load_verify_locations(CERTS["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.answer = lambda query: (200, b"{}")
        self.polls = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class FakeCentralHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        self.server.polls += 1
        if url.path != "/v1/hosts/self/requests":
            status, body = 404, b'{"error":"not_found","message":"no such path"}'
        else:
            query = urllib.parse.parse_qs(url.query)
            status, body = self.server.answer(query)
            try:
                unchanged = json.loads(body).get("version") in query.get("since", [])
            except ValueError:
                unchanged = False
            if unchanged:
                time.sleep(0.3)  # a long-poll whose wait ran out, shortened
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def feed(host="db01", tenant=TENANT, requests=(), version="v1"):
    return json.dumps({"host": host, "tenant": tenant, "version": version,
                       "requests": list(requests)}).encode()


def approved_request(user, host="db01", tenant=TENANT, rid="ab" * 16):
    now = time.time()
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    return {"id": rid, "state": "approved", "tenant": tenant, "host": host, "user": user,
            "reason": "INC-15 fake", "service": "sshd", "requested_by": "lockbox:host/" + host,
            "created_at": fmt(now - 60), "decided_at": fmt(now - 30),
            "decided_by": "lockbox:user/mallory", "expires_at": fmt(now + 3600)}


class BadCentral(AgentCase):
    def setUp(self):
        self.procs = []
        self.fake = FakeCentral()
        self.agent = agent_daemon("db01", self.fake.server_address[1])

    def tearDown(self):
        self.agent.close()
        self.fake.close()

    def assert_nothing_applied(self, answer, needle):
        user = self.new_user()
        self.fake.answer = lambda query: (200, answer(user))
        self.agent.start()
        polls = self.fake.polls
        lt.wait_until(lambda: self.fake.polls >= polls + 2, 10, "the agent to poll twice")
        lt.wait_until(lambda: "event=central.bad_answer" in self.agent.stderr(), 5,
                      "central.bad_answer to be logged")
        lines = [l for l in self.agent.stderr().splitlines() if "central.bad_answer" in l]
        self.assertIn(needle, lines[0])
        self.assertEqual(link(self.agent), "down")
        status, obj = self.agent.call("GET", "/v1/requests?state=all")
        self.assertEqual((status, obj["requests"]), (200, []), obj)
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_PERM_DENIED")

    def test_malformed_json_is_not_applied(self):
        self.assert_nothing_applied(lambda user: b'{"host": "db01", "requests": [', "JSON")

    def test_a_request_for_another_host_is_not_applied(self):
        self.assert_nothing_applied(
            lambda user: feed(requests=[approved_request(user, host="db02")]), "db02")

    def test_another_tenant_is_not_applied(self):
        self.assert_nothing_applied(lambda user: feed(tenant="fabrikam"), "fabrikam")

    def test_a_good_answer_then_applies_and_the_link_comes_up(self):
        user = self.new_user()
        self.fake.answer = lambda query: (200, feed(requests=[approved_request(user)]))
        self.agent.start()
        lt.wait_until(lambda: link(self.agent) == "up", 10, "the link to come up")
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_SUCCESS")
        # Central then forgets it (a known id it does not list): treated as revoked.
        self.fake.answer = lambda query: (200, feed(version="v2"))
        rid = "ab" * 16
        lt.wait_until(lambda: self.agent.call("GET", "/v1/requests/" + rid)[1]["state"] ==
                      "revoked", 10, "the forgotten request to be revoked")
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_PERM_DENIED")


if __name__ == "__main__":
    unittest.main()
