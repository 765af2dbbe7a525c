"""pam_lockbox.so (through the real libpam, tests/integration/pam_harness.c) against login
sockets that misbehave: one that accepts and never answers, answers too late, closes without
an answer, sends a huge message, or answers nonsense. The module refuses within its deadline, and
the host process gets no signal, no handler, no timer and no thread (checked with strace).
Valgrind finds no leak over 1,000 pam_start/pam_end cycles under `make soak` (100 in
`make test`; tests/integration/test_pam.py runs a short valgrind check too)."""

import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("lbm")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, ENG, ENG2 = PREFIX + "_adm", PREFIX + "_eng", PREFIX + "_eng2"
# The module's own bounds (pam_lockbox/daemon_api.c): 10 s per call, wait + 5 s per wait.
CHECK_DEADLINE_S = 10
GRACE_S = 20  # a loaded 2-core machine
COUNTER = itertools.count(1)


def setUpModule():
    for path in (lt.PAM_MODULE, lt.PAM_HARNESS, lt.LOCKBOXD):
        if not os.path.exists(path):
            raise unittest.SkipTest("not built: %s" % path)
    U.add(ADMIN)
    U.add(ENG)
    U.add(ENG2)


def tearDownModule():
    U.cleanup()


def other_request(user):
    return {"id": "a" * 32, "state": "approved", "tenant": sl.TENANT, "host": sl.HOST,
            "user": user, "reason": "x", "service": "sshd", "rhost": None,
            "requested_by": "root", "created_at": "2026-01-01T00:00:00Z",
            "decided_at": "2026-01-01T00:00:01Z", "decided_by": ADMIN, "comment": None,
            "expires_at": "2099-01-01T00:00:00Z"}


class ModuleCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = sl.make_tmp("lbx-mod-")  # root-owned 0755: the module accepts sockets here
        cls.confdir = os.path.join(cls.tmp, "pam.d")
        os.mkdir(cls.confdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def service(self, socket_path, options="wait=2"):
        name = "lbm%d" % next(COUNTER)
        with open(os.path.join(self.confdir, name), "w") as f:
            f.write("auth     required %s socket=%s %s\n" % (lt.PAM_MODULE, socket_path, options))
            f.write("account  required %s socket=%s %s\n" % (lt.PAM_MODULE, socket_path, options))
        return name

    def harness(self, service, user=ENG, stack="account", wrapper=(), cycles=None, timeout=120):
        argv = list(wrapper) + [lt.PAM_HARNESS, "--confdir", self.confdir, "--service", service,
                                "--user", user, "--stack", stack]
        if cycles:
            argv += ["--cycles", str(cycles)]
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        elapsed = time.monotonic() - started
        # A signal would have killed the harness (it installs no handler): a negative code.
        self.assertEqual(proc.returncode, 0, "harness: %s %s" % (proc.returncode, proc.stderr[-3000:]))
        return json.loads(proc.stdout.strip().splitlines()[-1]), elapsed, proc

    def fake(self, mode, **options):
        fake = sl.FakeDaemon(self.tmp, mode, **options)
        self.addCleanup(fake.close)
        return fake


class BrokenDaemons(ModuleCase):
    def assert_refused(self, fake, service_options="wait=2", deadline=CHECK_DEADLINE_S,
                       stacks=("account", "auth")):
        svc = self.service(fake.socket, service_options)
        codes = {"account": "PAM_PERM_DENIED", "auth": "PAM_AUTH_ERR"}
        for stack, code in ((stack, codes[stack]) for stack in stacks):
            result, elapsed, _ = self.harness(svc, stack=stack)
            self.assertEqual(result["result"], code, result)
            self.assertLess(elapsed, deadline + GRACE_S, "refused, but not within its deadline")
        self.assertTrue(fake.requests(), "the module never called the fake daemon")
        return result

    def test_daemon_that_never_answers(self):
        # One stack: each waits out the whole deadline (the auth stack shares the code path).
        result = self.assert_refused(self.fake("silent"), stacks=("account",))
        self.assertGreaterEqual(result["elapsed_ms"], 1000 * (CHECK_DEADLINE_S - 2),
                                "gave up before its deadline: was it the silence it saw?")

    def test_daemon_that_answers_too_late(self):
        self.assert_refused(self.fake("slow", delay=CHECK_DEADLINE_S + 5), stacks=("auth",))

    def test_daemon_that_closes_without_an_answer(self):
        self.assert_refused(self.fake("close"))

    def test_daemon_that_sends_a_huge_message(self):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assert_refused(self.fake("huge"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if not lt.SANITIZED:
            self.assertLess(max(peak, before), 96 * 1024, "the reply was not bounded (KiB)")

    def test_error_statuses_are_refused(self):
        for status in (302, 403, 500, 503):
            with self.subTest(status=status):
                self.assert_refused(self.fake("reply", body=json.dumps(
                    {"status": status, "allowed": True, "request": other_request(ENG)})))

    def test_malformed_allow_replies_are_refused(self):
        def ok(obj):
            return json.dumps(dict(obj, status=200))
        bodies = [
            ok({"allowed": True, "request": None}),                    # allowed, naming nothing
            ok({"allowed": "yes", "request": None}),                   # not a boolean
            ok({"allowed": True}),                                     # no request field
            json.dumps({"allowed": True, "request": other_request(ENG)}),    # no status
            json.dumps({"allowed": True, "request": other_request(ENG), "status": "200"}),
            ok({"allowed": True, "request": other_request(ENG2)}),     # another user
            ok({"allowed": True, "request": dict(other_request(ENG), state="pending")}),
            ok({"allowed": True, "request": dict(other_request(ENG), id="../x")}),
            ok({"allowed": True, "request": other_request(ENG)}) + " trailing",
            "[" + ok({"allowed": True, "request": other_request(ENG)}) + "]",
            '{"status":200,"allowed":true,"allowed":false,"request":null}',
            ok({"allowed": True, "request": other_request(ENG)}) + "\0",  # a NUL after it
            ok({"allowed": True, "request": other_request(ENG)})[:-1] + ',"x":"\u0000"}',
            "not json at all",
        ]
        for body in bodies:
            with self.subTest(body=body[:60]):
                self.assert_refused(self.fake("reply", body=body))

    def test_control_a_well_formed_allow_is_believed(self):
        """The fake is believed when it answers right: the refusals above are its faults."""
        fake = self.fake("reply", body=json.dumps(
            {"status": 200, "allowed": True, "request": other_request(ENG)}))
        result, _, _ = self.harness(self.service(fake.socket, "wait=0"))
        self.assertEqual(result["result"], "PAM_SUCCESS", result)

    def test_malformed_replies_deny_even_in_safe_mode(self):
        # failmode=safe covers a daemon that is provably not running; one that answers garbage
        # or goes away mid-call is running, so the login is still refused.
        fake = self.fake("close")
        self.assert_refused(fake, service_options="wait=2 failmode=safe")
        fake = self.fake("reply", body='{"status":200,"allowed":"maybe"}')
        self.assert_refused(fake, service_options="wait=2 failmode=safe")


class HostProcess(ModuleCase):
    """What the module does to the process it runs in, seen by strace."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if shutil.which("strace") is None:
            raise unittest.SkipTest("strace is not installed")
        if lt.SANITIZED:
            raise unittest.SkipTest("sanitizer build: the ASan runtime itself installs signal "
                                    "handlers; the plain build runs these checks")

    def traced(self, socket_path, user=ENG, options="wait=2", stack="account"):
        out = os.path.join(self.tmp, "strace.%d" % next(COUNTER))
        syscalls = "rt_sigaction,signal,sigaction,alarm,setitimer,timer_create,timerfd_create," \
                   "clone,clone3,fork,vfork,execve,kill,tgkill"
        result, _, _ = self.harness(self.service(socket_path, options), user=user, stack=stack,
                                    wrapper=["strace", "-f", "-qq", "-o", out, "-e",
                                             "trace=" + syscalls, "-e", "signal=all"])
        with open(out) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        if lines and "execve(" in lines[0]:
            lines = lines[1:]  # strace starting the harness
        return result, lines

    def assert_untouched(self, calls):
        self.assertEqual(calls, [], "the module touched signals, timers or threads")

    def test_no_signal_handler_timer_or_thread_against_broken_daemons(self):
        for mode, options in (("silent", {}), ("close", {}), ("huge", {})):
            fake = self.fake(mode, **options)
            result, calls = self.traced(fake.socket)
            self.assertEqual(result["result"], "PAM_PERM_DENIED", (mode, result))
            self.assert_untouched(calls)

    def test_no_signal_handler_timer_or_thread_against_a_real_daemon(self):
        with lt.Daemon(tenants={sl.TENANT: [ADMIN]}, host=sl.HOST) as d:
            req = d.file_request(ENG, "approved ahead")
            self.assertEqual(d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                    as_user=ADMIN)[0], 200)
            result, calls = self.traced(d.pam_socket)
            self.assertEqual(result["result"], "PAM_SUCCESS", result)
            self.assert_untouched(calls)
            # A waiting login: long-poll, then the deadline.
            result, calls = self.traced(d.pam_socket, user=ENG2, options="wait=1")
            self.assertEqual(result["result"], "PAM_PERM_DENIED", result)
            self.assert_untouched(calls)


class Leaks(ModuleCase):
    def test_valgrind_over_many_cycles(self):
        if lt.SANITIZED:
            self.skipTest("sanitizer build: LeakSanitizer checks every run there instead")
        valgrind = shutil.which("valgrind")
        if valgrind is None:
            self.skipTest("valgrind is not installed")
        vg = [valgrind, "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
              "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=3"]
        with lt.Daemon(tenants={sl.TENANT: [ADMIN]}, host=sl.HOST) as d:
            req = d.file_request(ENG, "approved ahead")
            self.assertEqual(d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                    as_user=ADMIN)[0], 200)
            for user, cycles in ((ENG, sl.scaled(100, 1000)), (ENG2, sl.scaled(20, 200))):
                out, _, proc = self.harness(self.service(d.pam_socket, "wait=0"), user=user,
                                            wrapper=vg, cycles=cycles, timeout=3600)
                self.assertEqual(out["cycles"], cycles)
                self.assertEqual(out["fds_after"], out["fds_before"], out)
                self.assertNotIn("definitely lost", proc.stderr)


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
