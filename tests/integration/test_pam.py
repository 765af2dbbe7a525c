"""pam_lockbox.so through the real libpam (pam_start_confdir via pam_harness) against a real
lockboxd: every return code, message and syslog line of the module's contract (design.md,
"pam_lockbox" and "Security rules"). Run as root: python3 test_pam.py -v (LOCKBOX_BUILD=dir)."""

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("tpam")
TENANT = "contoso"
HOST = "testhost"
ADMIN = PREFIX + "_adm"
LOG_AUTHPRIV = 10 << 3
LOG_ALERT = 1


class PamTestCase(unittest.TestCase):
    """One daemon and one syslog listener for the module, fresh users per test."""

    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        for path in (lt.PAM_MODULE, lt.PAM_HARNESS, lt.LOCKBOXD):
            if not os.path.exists(path):
                raise unittest.SkipTest("not built: %s" % path)
        cls.users = lt.Users(PREFIX)
        cls.users.add(ADMIN)
        cls.tmp = tempfile.mkdtemp(prefix="lbx-pam-")
        os.chmod(cls.tmp, 0o755)
        cls.confdir = os.path.join(cls.tmp, "pam.d")
        os.mkdir(cls.confdir)
        cls.syslog = lt.SyslogListener(os.path.join(cls.tmp, "devlog"))
        cls.daemon = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]})
        try:
            cls.daemon.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.syslog.close()
        cls.users.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- fixtures ---
    def new_user(self):
        return self.users.add("%s_u%d" % (PREFIX, next(self.counter)))

    def service(self, options, stacks=("auth", "account"), socket_path=None, name=None):
        """A PAM service file naming the built module by absolute path; returns its name."""
        name = name or "lbx%d" % next(self.counter)
        sock = socket_path or self.daemon.pam_socket
        with open(os.path.join(self.confdir, name), "w") as f:
            for stack in stacks:
                f.write("%s required %s socket=%s %s\n" % (stack, lt.PAM_MODULE, sock, options))
        return name

    def harness_argv(self, service, user, stack="account", answers=(), conv_fail=False,
                     silent=False, rhost=None, cycles=None, pam_env=None):
        argv = [lt.PAM_HARNESS, "--confdir", self.confdir, "--service", service, "--user", user,
                "--stack", stack]
        for answer in answers:
            argv += ["--answer", answer]
        if conv_fail:
            argv.append("--conv-fail")
        if silent:
            argv.append("--silent")
        if rhost:
            argv += ["--rhost", rhost]
        if cycles:
            argv += ["--cycles", str(cycles)]
        if pam_env:
            argv += ["--pam-env", pam_env]
        return argv

    def login(self, service, user, timeout=60, wrapper=(), **kw):
        """Runs one login in a mount namespace whose /dev/log is our listener."""
        argv = lt.in_namespace(list(wrapper) + self.harness_argv(service, user, **kw),
                               devlog=self.syslog.path)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def start_login(self, service, user, **kw):
        argv = lt.in_namespace(self.harness_argv(service, user, **kw), devlog=self.syslog.path)
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish_login(self, proc, timeout=60):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("the login did not return within %ss" % timeout)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out.strip().splitlines()[-1])

    def requests_of(self, user, state="all"):
        status, obj = self.daemon.call("GET", "/v1/requests?state=%s&user=%s" % (state, user))
        self.assertEqual(status, 200, obj)
        return obj["requests"]

    def wait_for_pending(self, user, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = self.requests_of(user, "pending")
            if pending:
                return pending[0]
            time.sleep(0.05)
        self.fail("no pending request for %s appeared" % user)

    def waiting(self):
        status, health = self.daemon.call("GET", "/v1/health")
        self.assertEqual(status, 200, health)
        return health["waiting"]

    @staticmethod
    def until(predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def decide(self, request_id, verb, comment=None):
        body = {"comment": comment} if comment else {}
        status, obj = self.daemon.call("POST", "/v1/requests/%s/%s" % (request_id, verb), body,
                                       as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        return obj

    def approved_user(self):
        user = self.new_user()
        req = self.daemon.file_request(user, reason="filed ahead")
        self.decide(req["id"], "approve", "go ahead")
        return user, req["id"]

    def module_lines(self, user, needle="", timeout=5.0):
        """The module's syslog lines about `user` (the daemon logs elsewhere)."""
        found = self.syslog.wait_for("user=%s " % user, timeout)
        deadline = time.monotonic() + timeout
        while needle and not any(needle in l for l in found) and time.monotonic() < deadline:
            time.sleep(0.05)
            found = [l for l in self.syslog.snapshot() if "user=%s " % user in l]
        return [l for l in found if "pam_lockbox" in l]

    def texts(self, result, style=None):
        return [m["text"] for m in result["messages"] if style is None or m["style"] == style]


class Allowed(PamTestCase):
    def test_approved_request_allows_both_stacks_silently(self):
        user, rid = self.approved_user()
        svc = self.service("wait=5")
        for stack in ("auth", "account"):
            result = self.login(svc, user, stack=stack)
            self.assertEqual(result["result"], "PAM_SUCCESS", result)
            self.assertEqual(result["messages"], [], "no prompt or text for an approval filed ahead")
        lines = self.module_lines(user, "event=login.allowed id=%s" % rid)
        self.assertTrue(any("event=login.allowed id=%s tenant=%s host=%s user=%s" % (
            rid, TENANT, HOST, user) in l for l in lines), lines)
        events = [e["event"] for e in self.daemon.audit_events() if e["request_id"] == rid]
        self.assertGreaterEqual(events.count("login.allowed"), 2, events)

    def test_waiting_login_unblocks_when_an_admin_approves(self):
        user = self.new_user()
        svc = self.service("wait=120")
        proc = self.start_login(svc, user, rhost="192.0.2.7")
        req = self.wait_for_pending(user)
        self.assertEqual(req["reason"], "login via %s from 192.0.2.7" % svc)
        time.sleep(0.3)  # the module is inside its long poll now
        approved_at = time.monotonic()
        self.decide(req["id"], "approve", "change window open")
        result = self.finish_login(proc, timeout=60)
        returned_after = time.monotonic() - approved_at
        self.assertEqual(result["account"], "PAM_SUCCESS", result)
        self.assertLess(returned_after, 15, "the login must wake on the decision, not the wait")
        info = self.texts(result, "info")
        self.assertTrue(any(req["id"] in t and "waiting up to 120 seconds" in t for t in info), info)
        self.assertTrue(any("approved by %s" % ADMIN in t and "change window open" in t
                            for t in info), info)


class Refused(PamTestCase):
    def test_denial_refuses_and_shows_the_comment(self):
        user = self.new_user()
        proc = self.start_login(self.service("wait=120"), user)
        req = self.wait_for_pending(user)
        self.decide(req["id"], "deny", "no change window \u00e9 \\ today")
        result = self.finish_login(proc)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        errors = self.texts(result, "error")
        self.assertTrue(any(req["id"] in t and "denied by %s" % ADMIN in t and
                            "no change window \u00e9 \\\\ today" in t for t in errors), errors)
        lines = self.module_lines(user, "why=denied")
        self.assertTrue(any("event=login.denied id=%s" % req["id"] in l and "why=denied" in l
                            for l in lines), lines)

    def test_login_after_a_denial_files_a_new_request(self):
        user = self.new_user()
        first = self.daemon.file_request(user, reason="first")
        self.decide(first["id"], "deny", "not today")
        result = self.login(self.service("wait=0"), user)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        pending = self.requests_of(user, "pending")
        self.assertEqual(len(pending), 1)
        self.assertNotEqual(pending[0]["id"], first["id"])

    def test_denial_in_auth_stack_is_auth_err(self):
        user = self.new_user()
        proc = self.start_login(self.service("wait=120"), user, stack="auth",
                                answers=["INC-1", ""])
        req = self.wait_for_pending(user)
        self.assertTrue(self.until(lambda: self.waiting() >= 1, 20), "the login never waited")
        self.decide(req["id"], "deny", "nope")
        result = self.finish_login(proc)
        self.assertEqual(result["auth"], "PAM_AUTH_ERR", result)
        self.assertTrue(any("was denied by" in t for t in self.texts(result, "error")), result)

    def test_wait_expires_and_shows_the_id(self):
        user = self.new_user()
        result = self.login(self.service("wait=2"), user)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        self.assertGreaterEqual(result["elapsed_ms"], 1500, "it waited")
        self.assertLess(result["elapsed_ms"], 30000)
        req = self.requests_of(user, "pending")[0]
        errors = self.texts(result, "error")
        self.assertTrue(any(req["id"] in t and "still pending" in t and
                            "lockboxctl request --reason TEXT" in t for t in errors), errors)
        lines = self.module_lines(user, "why=pending")
        self.assertTrue(any("why=pending" in l and req["id"] in l for l in lines), lines)
        events = [e["event"] for e in self.daemon.audit_events() if e["request_id"] == req["id"]]
        self.assertIn("login.denied", events, "the final check records the refusal")

    def test_wait_zero_files_and_refuses_at_once(self):
        user = self.new_user()
        result = self.login(self.service("wait=0"), user)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        self.assertLess(result["elapsed_ms"], 10000)
        reqs = self.requests_of(user, "pending")
        self.assertEqual(len(reqs), 1)
        self.assertTrue(any(reqs[0]["id"] in t for t in self.texts(result, "error")), result)
        events = [e["event"] for e in self.daemon.audit_events() if e["request_id"] == reqs[0]["id"]]
        self.assertEqual(events, ["request.created", "login.denied"])

    def test_second_login_reuses_the_pending_request(self):
        user = self.new_user()
        svc = self.service("wait=0")
        first = self.login(svc, user, stack="auth", answers=["INC-4711"])
        second = self.login(svc, user, stack="auth", answers=["should not be asked"])
        third = self.login(svc, user, stack="account")
        reqs = self.requests_of(user, "all")
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["reason"], "INC-4711")
        for result in (first, second, third):
            self.assertNotEqual(result["result"], "PAM_SUCCESS")
            self.assertTrue(any(reqs[0]["id"] in t for t in self.texts(result)), result)
        self.assertEqual(len(self.texts(first, "prompt_echo_on")), 1)
        self.assertEqual(self.texts(second, "prompt_echo_on"), [], "no second justification")

    def test_auth_prompt_carries_the_context(self):
        user = self.new_user()
        result = self.login(self.service("wait=0"), user, stack="auth", answers=["INC-9"])
        prompts = self.texts(result, "prompt_echo_on")
        self.assertEqual(prompts, ["Lockbox: access to %s needs approval by a %s admin. "
                                   "Justification: " % (HOST, TENANT)])
        self.assertEqual(self.requests_of(user, "pending")[0]["reason"], "INC-9")

    def test_the_id_is_shown_in_a_prompt_before_the_wait(self):
        """sshd passes a module's text on only with its next prompt: so the id comes as one."""
        user = self.new_user()
        result = self.login(self.service("wait=1"), user, stack="auth", answers=["INC-3", ""])
        req = self.requests_of(user, "pending")[0]
        prompts = self.texts(result, "prompt_echo_on")
        self.assertEqual(len(prompts), 2, result)
        self.assertEqual(prompts[1], "Lockbox: request %s asks a %s admin to approve access to "
                         "%s. Press Enter to wait up to 1 seconds for the decision (Ctrl-C gives "
                         "up; the request stays filed): " % (req["id"], TENANT, HOST))
        self.assertEqual(result["auth"], "PAM_AUTH_ERR")
        self.assertTrue(any("still pending" in t for t in self.texts(result, "error")), result)

    def test_no_answer_at_the_id_prompt_refuses_and_keeps_the_request(self):
        user = self.new_user()
        result = self.login(self.service("wait=60"), user, stack="auth", answers=["INC-4"])
        self.assertEqual(result["auth"], "PAM_AUTH_ERR", result)
        self.assertLess(result["elapsed_ms"], 30000, "it waited without an Enter")
        reqs = self.requests_of(user, "pending")
        self.assertEqual([r["reason"] for r in reqs], ["INC-4"])
        lines = self.module_lines(user, "why=conversation")
        self.assertTrue(any(reqs[0]["id"] in l for l in lines), lines)

    def test_publickey_first_refuses_without_a_key_and_files_nothing(self):
        user = self.new_user()
        svc = self.service("wait=0 publickey_first")
        # Unset; empty (what sshd sets before any method passed); other methods; look-alikes.
        for env in (None, "SSH_AUTH_INFO_0=", "SSH_AUTH_INFO_0=password\n",
                    "SSH_AUTH_INFO_0=keyboard-interactive/pam\n",
                    "SSH_AUTH_INFO_0=hostbased ssh-ed25519 AAAAC3Nz\n",
                    "SSH_AUTH_INFO_0=publickeyx ssh-ed25519 AAAAC3Nz\n",
                    "SSH_AUTH_INFO_0= publickey ssh-ed25519 AAAAC3Nz\n"):
            result = self.login(svc, user, stack="auth", answers=["INC-5", ""], pam_env=env)
            self.assertEqual(result["auth"], "PAM_AUTH_ERR", (env, result))
            # Nothing at all for a caller without a key: not even whether the account exists.
            self.assertEqual(result["messages"], [], (env, result))
        nobody = self.login(svc, "lbx-no-such-user", stack="auth", answers=["INC-5"])
        self.assertEqual((nobody["auth"], nobody["messages"]), ("PAM_AUTH_ERR", []), nobody)
        self.assertEqual(self.requests_of(user), [])
        lines = self.module_lines(user, "why=no_publickey")
        self.assertTrue(any("why=no_publickey" in l for l in lines), lines)

    def test_publickey_first_goes_on_after_a_key(self):
        user = self.new_user()
        svc = self.service("wait=0 publickey_first")
        # A password step before the key, as sshd lists the methods passed so far.
        env = ("SSH_AUTH_INFO_0=password\npublickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE\n")
        result = self.login(svc, user, stack="auth", answers=["INC-6"], pam_env=env)
        self.assertEqual(len(self.texts(result, "prompt_echo_on")), 1, result)
        self.assertEqual([r["reason"] for r in self.requests_of(user, "pending")], ["INC-6"])
        user2, _ = self.approved_user()
        allowed = self.login(svc, user2, stack="auth", pam_env=env)
        self.assertEqual(allowed["auth"], "PAM_SUCCESS", allowed)

    def test_sshd_says_nothing_while_waiting_or_on_approval(self):
        """sshd shows account-stack text after the stack returns, and on a pty a second time:
        the module names the request only when it refuses."""
        svc = self.service("wait=1", name="sshd")
        user = self.new_user()
        refused = self.login(svc, user)
        req = self.requests_of(user, "pending")[0]
        self.assertEqual(refused["account"], "PAM_PERM_DENIED")
        self.assertEqual([m["text"] for m in refused["messages"]],
                         ["Lockbox: request %s is still pending; log in again once it is "
                          "approved, or file ahead with: lockboxctl request --reason TEXT"
                          % req["id"]])
        proc = self.start_login(svc, user)
        self.assertTrue(self.until(lambda: self.waiting() >= 1, 20), "the login never waited")
        self.decide(req["id"], "approve", "ok")
        allowed = self.finish_login(proc)
        self.assertEqual(allowed["account"], "PAM_SUCCESS", allowed)
        self.assertEqual(allowed["messages"], [])

    def test_empty_justification_uses_the_default(self):
        user = self.new_user()
        svc = self.service("wait=0")
        self.login(svc, user, stack="auth", answers=[""])
        self.assertEqual(self.requests_of(user, "pending")[0]["reason"], "login via %s" % svc)

    def test_silent_login_shows_nothing_but_logs_the_id(self):
        user = self.new_user()
        result = self.login(self.service("wait=0"), user, silent=True)
        self.assertEqual(result["account"], "PAM_PERM_DENIED")
        self.assertEqual(result["messages"], [])
        rid = self.requests_of(user, "pending")[0]["id"]
        lines = self.module_lines(user, rid)
        self.assertTrue(any(rid in l and "why=pending" in l for l in lines), lines)


class Conversation(PamTestCase):
    def test_conversation_failure_refuses_and_files_nothing(self):
        user = self.new_user()
        svc = self.service("wait=5")
        failed = self.login(svc, user, stack="auth", conv_fail=True)
        self.assertEqual(failed["auth"], "PAM_AUTH_ERR", failed)
        eof = self.login(svc, user, stack="auth")  # no answers: the prompt meets EOF
        self.assertEqual(eof["auth"], "PAM_AUTH_ERR", eof)
        self.assertEqual(self.requests_of(user), [], "no request without a justification")
        lines = self.module_lines(user, "why=conversation")
        self.assertTrue(any("why=conversation" in l for l in lines), lines)

    def test_justification_with_control_characters_is_refused(self):
        user = self.new_user()
        result = self.login(self.service("wait=0"), user, stack="auth",
                            answers=["INC-1\x1b[2J"])
        self.assertEqual(result["auth"], "PAM_AUTH_ERR")
        self.assertEqual(self.requests_of(user), [])


class Configuration(PamTestCase):
    def test_unknown_user(self):
        svc = self.service("wait=0")
        for stack in ("auth", "account"):
            result = self.login(svc, PREFIX + "_nobody", stack=stack)
            self.assertEqual(result["result"], "PAM_USER_UNKNOWN", result)

    def test_bad_options_deny(self):
        user, _ = self.approved_user()  # would be allowed with valid options
        for options in ("wait=5 bogus", "wait=abc", "wait=3601", "wait=-1", "failmode=open",
                        "tenant=bad/name", "wait=5 wait=6", "socket=relative.sock"):
            svc = self.service(options)
            for stack, code in (("auth", "PAM_AUTH_ERR"), ("account", "PAM_PERM_DENIED")):
                result = self.login(svc, user, stack=stack)
                self.assertEqual(result["result"], code, (options, result))
        lines = self.syslog.wait_for("why=bad_option detail=\"unknown option bogus")
        self.assertTrue(lines and "pam_lockbox" in lines[0], lines)

    def test_control_good_options_allow(self):
        user, _ = self.approved_user()
        svc = self.service("wait=3600 tenant=%s failmode=secure debug" % TENANT)
        self.assertEqual(self.login(svc, user)["result"], "PAM_SUCCESS")
        lines = self.module_lines(user, "debug:")
        self.assertTrue(any("debug: stack=account" in l and "wait=3600" in l for l in lines),
                        lines)

    def test_rhost_that_is_not_host_text_is_left_out(self):
        user = self.new_user()
        svc = self.service("wait=0")
        self.login(svc, user, rhost="evil host\nevent=login.allowed")
        req = self.requests_of(user, "pending")[0]
        self.assertEqual(req["reason"], "login via %s" % svc)
        self.assertIsNone(req["rhost"])
        lines = self.module_lines(user, "why=pending")
        self.assertTrue(any("rhost=- why=pending" in l for l in lines), lines)

    def test_service_name_is_sanitised(self):
        user = self.new_user()
        svc = self.service("wait=0")
        odd = svc + "+x"
        os.rename(os.path.join(self.confdir, svc), os.path.join(self.confdir, odd))
        self.login(odd, user)
        req = self.requests_of(user, "pending")[0]
        self.assertEqual(req["service"], svc + "_x")

    def test_too_many_pending_is_refused_with_the_daemons_message(self):
        other = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]}, max_pending=1)
        self.addCleanup(other.close)
        other.start()
        user = self.new_user()
        # Someone else's pending request for the account (a lockboxd files only for its own
        # host): the login's own filing is then one too many.
        other.file_request(user, reason="elsewhere", requester=ADMIN)
        result = self.login(self.service("wait=5", socket_path=other.pam_socket), user)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        errors = self.texts(result, "error")
        self.assertTrue(any("lockboxd refused this login" in t and "429" in t for t in errors),
                        errors)
        lines = self.module_lines(user, "why=refused")
        self.assertTrue(any("why=refused" in l for l in lines), lines)


class Unreachable(PamTestCase):
    """Every way the login socket can be missing or untrustworthy. failmode=safe lets a login
    in only when lockboxd is provably not running (no socket, nobody listening); a socket that
    someone else could have planted denies whatever the failmode (why=impostor)."""

    def check_refused_then_safe(self, socket_path, why_fragment=""):
        user = self.new_user()
        secure = self.service("wait=5", socket_path=socket_path)
        for stack, code in (("auth", "PAM_AUTH_ERR"), ("account", "PAM_PERM_DENIED")):
            result = self.login(secure, user, stack=stack)
            self.assertEqual(result["result"], code, (socket_path, result))
        lines = self.module_lines(user, "why=unreachable")
        self.assertTrue(any("why=unreachable" in l and why_fragment in l for l in lines), lines)
        safe = self.service("wait=5 failmode=safe", socket_path=socket_path)
        result = self.login(safe, user)
        self.assertEqual(result["account"], "PAM_SUCCESS", (socket_path, result))
        alerts = [l for l in self.module_lines(user, "failmode=safe")
                  if "failmode=safe" in l]
        self.assertTrue(alerts, "failmode=safe must log loudly")
        self.assertTrue(alerts[-1].startswith("<%d>" % (LOG_AUTHPRIV | LOG_ALERT)), alerts)
        self.assertEqual(self.requests_of(user), [])

    def check_refused_in_both_modes(self, socket_path, why_fragment):
        user = self.new_user()
        for options in ("wait=5", "wait=5 failmode=safe"):
            svc = self.service(options, socket_path=socket_path)
            for stack, code in (("auth", "PAM_AUTH_ERR"), ("account", "PAM_PERM_DENIED")):
                result = self.login(svc, user, stack=stack)
                self.assertEqual(result["result"], code, (socket_path, options, result))
                errors = self.texts(result, "error")
                self.assertTrue(any("not lockboxd's" in t for t in errors), errors)
        lines = [l for l in self.module_lines(user, "why=impostor") if "why=impostor" in l]
        self.assertTrue(any(why_fragment in l for l in lines), lines)
        self.assertTrue(all(l.startswith("<%d>" % (LOG_AUTHPRIV | LOG_ALERT)) for l in lines),
                        lines)
        self.assertFalse(any("failmode=safe" in l for l in self.module_lines(user, "user=")))
        self.assertEqual(self.requests_of(user), [])

    def private_dir(self, mode=0o755, owner=0):
        path = tempfile.mkdtemp(prefix="sock-", dir=self.tmp)
        os.chmod(path, mode)
        os.chown(path, owner, -1)
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def test_socket_missing(self):
        self.check_refused_then_safe(os.path.join(self.private_dir(), "none.sock"))

    def test_socket_directory_missing(self):
        self.check_refused_then_safe(os.path.join(self.private_dir(), "gone", "pam.sock"))

    def test_daemon_down(self):
        other = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]})
        self.addCleanup(other.close)
        other.start()
        other.stop()
        self.check_refused_then_safe(other.pam_socket)

    def test_stale_socket_nobody_listening(self):
        path = os.path.join(self.private_dir(), "stale.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stale.bind(path)  # bound, never listening: connect() is refused
        self.addCleanup(stale.close)
        self.check_refused_then_safe(path, "refused")

    def test_socket_path_is_a_regular_file(self):
        path = os.path.join(self.private_dir(), "file.sock")
        open(path, "w").close()
        self.check_refused_in_both_modes(path, "not a socket")

    def test_socket_path_is_a_symlink_to_the_live_socket(self):
        path = os.path.join(self.private_dir(), "link.sock")
        os.symlink(self.daemon.pam_socket, path)
        self.check_refused_in_both_modes(path, "symbolic")

    def link_live_socket(self, directory):
        """A hard link to the live daemon's login socket: connecting to it would work."""
        path = os.path.join(directory, "live.sock")
        os.link(self.daemon.pam_socket, path)
        return path

    def test_control_hard_link_in_a_safe_directory_works(self):
        user, _ = self.approved_user()
        svc = self.service("wait=0", socket_path=self.link_live_socket(self.private_dir()))
        self.assertEqual(self.login(svc, user)["result"], "PAM_SUCCESS")

    def test_world_writable_socket_directory(self):
        self.check_refused_in_both_modes(self.link_live_socket(self.private_dir(0o1777)),
                                         "directory")

    def test_group_writable_socket_directory(self):
        self.check_refused_in_both_modes(self.link_live_socket(self.private_dir(0o775)),
                                         "directory")

    def test_socket_directory_not_owned_by_root(self):
        owner = lt.pwd.getpwnam(ADMIN).pw_uid
        self.check_refused_in_both_modes(self.link_live_socket(self.private_dir(0o755, owner)),
                                         "directory")

    def test_safe_mode_never_overrides_an_answer(self):
        user = self.new_user()
        result = self.login(self.service("wait=0 failmode=safe"), user)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)

    def test_daemon_stopped_during_the_wait_refuses_even_in_safe_mode(self):
        other = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]})
        self.addCleanup(other.close)
        other.start()
        user = self.new_user()
        svc = self.service("wait=60 failmode=safe", socket_path=other.pam_socket)
        proc = self.start_login(svc, user)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, obj = other.call("GET", "/v1/requests?user=%s" % user)
            if obj["requests"]:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        other.stop()
        result = self.finish_login(proc)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)


class Resources(PamTestCase):
    def test_thousand_cycles_keep_descriptors_constant(self):
        user, _ = self.approved_user()
        pending_user = self.new_user()
        for who, options in ((user, "wait=0"), (pending_user, "wait=0"),
                             (user, "wait=0 socket=/nonexistent/x.sock")):
            svc = self.service(options) if "socket=" not in options else \
                self.service("wait=0", socket_path="/nonexistent/x.sock")
            proc = subprocess.run(self.harness_argv(svc, who, cycles=1000), capture_output=True,
                                  text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            out = json.loads(proc.stdout)
            self.assertEqual(out["fds_after"], out["fds_before"], out)
            self.assertEqual(out["fds_after_first"], out["fds_before"], out)
        self.assertEqual(len(self.requests_of(pending_user)), 1, "1000 logins, one request")

    def test_valgrind_finds_no_definite_leak(self):
        if lt.SANITIZED:
            self.skipTest("sanitizer build: valgrind cannot run it")
        valgrind = shutil.which("valgrind")
        if valgrind is None:
            self.skipTest("valgrind is not installed")
        user, _ = self.approved_user()
        pending_user = self.new_user()
        vg = [valgrind, "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
              "--error-exitcode=3"]
        for who, svc in ((user, self.service("wait=0")), (pending_user, self.service("wait=1"))):
            proc = subprocess.run(vg + self.harness_argv(svc, who, cycles=25 if who == user
                                                         else 3),
                                  capture_output=True, text=True, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr[-4000:])
        # The auth stack with a prompt, once, under valgrind too.
        auth_user = self.new_user()
        result = self.login(self.service("wait=1"), auth_user, stack="auth", answers=["INC-2"],
                            wrapper=vg)
        self.assertEqual(result["auth"], "PAM_AUTH_ERR")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_pam.py must run as root (it creates users and binds /dev/log)")
        sys.exit(1)
    unittest.main()
