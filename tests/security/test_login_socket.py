"""The login socket (the root-only SOCK_SEQPACKET door between pam_lockbox.so and lockboxd) and
the module's failmode rules, against a real lockboxd and through the real libpam
(tests/integration/pam_harness.c, pam_start_confdir with a service file that names the built
module by absolute path; each login runs in a private mount namespace whose /dev/log is this
suite's syslog listener).

  Flood           ordinary users flooding the public HTTP socket with connect-and-drop, and uids
                  without an account holding idle connections, change no login outcome; the
                  unmapped uids share one small connection budget.
  Impostor        a socket whose listen() was made by another uid, a socket directory that is
                  group/world-writable or not root's, a symlink: denied in both failmodes, with
                  a why=impostor line at LOG_ALERT.
  NotRunning      socket (or directory) missing, or bound but nobody listening: failmode=safe
                  allows, failmode=secure denies.
  KilledLogin     a waiting login killed with SIGKILL releases its wait within 2 s
                  (GET /v1/health `waiting`) and lockboxd logs event=login.abandoned.
  Activation      the test plays systemd: it owns both listening sockets; a login made while no
                  lockboxd runs queues and succeeds on the next one; a waiting login survives
                  a restart; the sockets are not unlinked; READY=1 / STOPPING=1 reach
                  NOTIFY_SOCKET.
  BadInput        malformed, oversize, duplicate-key, unknown-member messages get 400/413 and
                  the daemon keeps serving; one "file" records one request; a second request
                  before the reply closes the connection; non-root peers are kept out even when
                  the socket's mode is loosened.
  Linkage         pam_lockbox.so needs nothing but libc, libpam and json-c.

Run as root: python3 tests/security/test_login_socket.py -v   (LOCKBOX_BUILD=build dir)."""

import errno
import itertools
import json
import os
import pwd
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("lbl")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, FLOODER, OUTSIDER = PREFIX + "_adm", PREFIX + "_flood", PREFIX + "_out"
COUNTER = itertools.count(1)

LOG_AUTHPRIV, LOG_ALERT = 10 << 3, 1
ALERT_PREFIX = "<%d>" % (LOG_AUTHPRIV | LOG_ALERT)
UNMAPPED_BUDGET = 16          # lockboxd/http.c UNMAPPED_CONNECTIONS
MESSAGE_MAX = 16384           # LOCKBOX_LOGIN_MESSAGE_MAX
IMPOSTOR_MESSAGE = "the login socket is not lockboxd's"


def setUpModule():
    for path in (lt.PAM_MODULE, lt.PAM_HARNESS, lt.LOCKBOXD):
        if not os.path.exists(path):
            raise unittest.SkipTest("not built: %s" % path)
    for name in (ADMIN, FLOODER, OUTSIDER):
        U.add(name)


def tearDownModule():
    U.cleanup()


# --- small helpers -----------------------------------------------------------------------------

def health(d):
    status, obj = d.call("GET", "/v1/health", timeout=10)
    if status != 200:
        raise AssertionError("GET /v1/health: %s %s" % (status, obj))
    return obj


def wait_for_health(d, key, value, timeout):
    """Polls GET /v1/health until obj[key] == value (fails the test after `timeout`)."""
    return sl.wait_until(lambda: health(d)[key] == value, timeout,
                         "health's %s to be %r" % (key, value), step=0.02)


def wait_for_stderr(d, needle, timeout=5.0):
    """lockboxd runs with -f: its syslog lines are copied to its stderr file."""
    return sl.wait_until(lambda: [l for l in d.stderr().splitlines() if needle in l], timeout,
                         "%r in lockboxd's stderr" % needle)


def unmapped_uids(count, start=200000):
    """uids with no passwd entry (what user namespaces' subordinate uids look like)."""
    uids = []
    uid = start
    while len(uids) < count:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            uids.append(uid)
        uid += 1
    return uids


def become_uid(uid):
    """In a child: a bare uid/gid, no supplementary groups (root may do this without an
    account)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def accept_queue(path):
    """Connections waiting in the accept queue of the listening socket at path (ss's Recv-Q
    of a listening Unix socket)."""
    out = subprocess.run(["ss", "-xlnH", "src", path], capture_output=True, text=True,
                         timeout=10).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[4] == path:
            return int(fields[2])
    return 0


def seq_connect(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    s.connect(path)
    return s


def seq_exchange(s, message):
    """Sends one message (bytes, or a dict sent as JSON) and reads one reply: the reply as
    JSON, or None when the daemon closed the connection without one."""
    data = message if isinstance(message, bytes) else json.dumps(message).encode()
    try:
        s.send(data)
        reply = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return None
    return json.loads(reply.decode()) if reply else None


def seq_call(path, message):
    s = seq_connect(path)
    try:
        return seq_exchange(s, message)
    finally:
        s.close()


class ChildGroup:
    """Forked children (sl.ForkedUser) that each say "ready" through one pipe and run until the
    parent closes another one (stop), so the parent synchronises on their state, never on a
    sleep. Every child is also bounded in time by its own work function."""

    def __init__(self, test):
        self.stop_r, self.stop_w = os.pipe()
        self.ready_r, self.ready_w = os.pipe()
        self.children = []
        test.addCleanup(self.cleanup)

    def spawn(self, become, work):
        def run():
            os.close(self.stop_w)
            os.close(self.ready_r)
            become()
            return work(self)
        self.children.append(sl.ForkedUser(None, run))

    # in a child
    def signal_ready(self):
        os.write(self.ready_w, b"r")

    def stop_requested(self, timeout=0.0):
        return bool(select.select([self.stop_r], [], [], timeout)[0])

    # in the parent
    def wait_ready(self, timeout):
        """How many children said ready within timeout."""
        os.close(self.ready_w)
        self.ready_w = None
        got = 0
        deadline = time.monotonic() + timeout
        while got < len(self.children):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.ready_r], [], [], left)[0]:
                break
            data = os.read(self.ready_r, 64)
            if not data:
                break  # every child is gone
            got += len(data)
        return got

    def stop_and_join(self, timeout=60):
        os.close(self.stop_w)
        self.stop_w = None
        return [child.join(timeout) for child in self.children]

    def cleanup(self):
        for child in self.children:
            child.kill()  # by PID; a no-op once joined
        for fd in (self.stop_r, self.stop_w, self.ready_r, self.ready_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def connect_and_drop(path, max_seconds=60, max_count=200000):
    """Work for a ChildGroup child: connect to path and close at once, in a loop, until the
    parent says stop (or the bounds are reached)."""
    def work(group):
        connects = errors = 0
        stopped = False
        deadline = time.monotonic() + max_seconds
        while connects + errors < max_count and time.monotonic() < deadline:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(path)
                connects += 1
            except OSError:
                errors += 1
            finally:
                s.close()
            if connects + errors == 1:
                group.signal_ready()
            if (connects + errors) % 32 == 0 and group.stop_requested():
                stopped = True
                break
        return {"connects": connects, "errors": errors, "stopped_by_parent": stopped}
    return work


def hold_idle(path, count, window):
    """Work for a ChildGroup child: open `count` connections to path, send nothing, and see
    which the daemon shuts down within `window` seconds; say ready, hold the rest until the
    parent says stop."""
    def work(group):
        socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(path)
            socks.append(s)
        still_open = list(socks)
        deadline = time.monotonic() + window
        while still_open:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for s in select.select(still_open, [], [], left)[0]:
                try:
                    data = s.recv(1)
                except OSError:
                    data = b""
                if data == b"":
                    still_open.remove(s)
        group.signal_ready()
        stopped = group.stop_requested(timeout=120)
        for s in socks:
            s.close()
        return {"opened": len(socks), "closed_fast": len(socks) - len(still_open),
                "stayed_open": len(still_open), "stopped_by_parent": stopped}
    return work


# --- the common fixture ------------------------------------------------------------------------

class LoginCase(unittest.TestCase):
    """A root-owned 0755 work directory, a PAM service directory, and a syslog listener that
    every login's /dev/log is bound to. Daemons and users are made per test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = sl.make_tmp("lbx-login-")
        cls.confdir = os.path.join(cls.tmp, "pam.d")
        os.mkdir(cls.confdir)
        cls.syslog = lt.SyslogListener(os.path.join(cls.tmp, "devlog"))

    @classmethod
    def tearDownClass(cls):
        cls.syslog.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # daemons, users, requests
    def daemon(self, **kw):
        d = lt.Daemon(tenant=sl.TENANT, host=sl.HOST, tenants={sl.TENANT: [ADMIN]}, **kw)
        self.addCleanup(d.close)
        return d.start()

    def new_user(self):
        return U.add("%s_u%d" % (PREFIX, next(COUNTER)))

    def approve(self, d, request_id):
        status, obj = d.call("POST", "/v1/requests/%s/approve" % request_id,
                             {"comment": "go ahead"}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        return obj

    def approved_user(self, d):
        user = self.new_user()
        req = d.file_request(user, reason="filed ahead")
        self.approve(d, req["id"])
        return user, req["id"]

    def pending_id(self, d, user, timeout=20):
        return d.wait_pending(user, timeout)["id"]

    def requests_of(self, d, user):
        status, obj = d.call("GET", "/v1/requests?state=all&user=%s" % user)
        self.assertEqual(status, 200, obj)
        return obj["requests"]

    def private_dir(self, mode=0o755, owner=0):
        path = tempfile.mkdtemp(prefix="dir-", dir=self.tmp)
        os.chmod(path, mode)
        os.chown(path, owner, -1)
        self.addCleanup(shutil.rmtree, path, True)
        return path

    # logins
    def service(self, socket_path, options="wait=0"):
        name = "lbl%d" % next(COUNTER)
        with open(os.path.join(self.confdir, name), "w") as f:
            for stack in ("auth", "account"):
                f.write("%s required %s socket=%s %s\n" % (stack, lt.PAM_MODULE, socket_path,
                                                           options))
        return name

    def login_argv(self, service, user, stack="account"):
        return lt.in_namespace([lt.PAM_HARNESS, "--confdir", self.confdir, "--service", service,
                                "--user", user, "--stack", stack], devlog=self.syslog.path)

    def login(self, service, user, stack="account", timeout=60):
        proc = subprocess.run(self.login_argv(service, user, stack), capture_output=True,
                              text=True, timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def start_login(self, service, user, stack="account"):
        """A login in the background; the Popen's pid is the harness's (the namespace wrapper
        execs it)."""
        proc = subprocess.Popen(self.login_argv(service, user, stack), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

        def reap():
            sl.terminate(proc, sig=signal.SIGKILL)
            proc.communicate()
        self.addCleanup(reap)
        return proc

    def finish_login(self, proc, timeout=60):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            sl.terminate(proc, sig=signal.SIGKILL)
            proc.communicate()
            self.fail("the login did not return within %ss" % timeout)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out.strip().splitlines()[-1])

    def module_lines(self, user, needle, timeout=5.0):
        """The module's syslog lines about user that contain needle (waits for one)."""
        def find():
            return [l for l in self.syslog.snapshot()
                    if "pam_lockbox" in l and "user=%s " % user in l and needle in l]
        if timeout == 0:
            return find()
        return sl.wait_until(find, timeout, "a module line about %s with %r" % (user, needle))

    def assert_alert(self, user, needle):
        lines = self.module_lines(user, needle)
        self.assertTrue(lines, "no module line with %r for %s" % (needle, user))
        self.assertTrue(all(l.startswith(ALERT_PREFIX) for l in lines),
                        "not logged at LOG_AUTHPRIV|LOG_ALERT: %s" % lines)
        return lines


# --- 1. floods on the public socket ------------------------------------------------------------

class Flood(LoginCase):
    LOGINS = 12

    def prepare(self, d):
        """Done before any flood starts (while one runs, the public API may well be unusable
        for everyone; that is what the separate login socket is for): an approved user, an
        unapproved one, a failmode=safe and a failmode=secure service."""
        approved, _ = self.approved_user(d)
        return {"approved": approved, "unapproved": self.new_user(),
                "safe": self.service(d.pam_socket, "wait=0 failmode=safe"),
                "secure": self.service(d.pam_socket, "wait=0 failmode=secure")}

    def run_logins(self, setup):
        """Unapproved logins under failmode=safe and approved ones under failmode=secure,
        interleaved: (results of the unapproved, results of the approved)."""
        denied, allowed = [], []
        for _ in range(self.LOGINS):
            denied.append(self.login(setup["safe"], setup["unapproved"])["result"])
            allowed.append(self.login(setup["secure"], setup["approved"])["result"])
        return denied, allowed

    def assert_outcomes(self, d, setup, denied, allowed):
        self.assertNotIn("PAM_SUCCESS", denied, "an unapproved login passed under failmode=safe")
        self.assertEqual(denied, ["PAM_PERM_DENIED"] * self.LOGINS)
        self.assertEqual(allowed, ["PAM_SUCCESS"] * self.LOGINS)
        # The flood has stopped, but its connections may still fill the public socket's
        # backlog (connect() then fails with EAGAIN) until lockboxd has accepted them.
        sl.wait_until(d.answers, 30, "the public socket to answer again after the flood")
        self.assertEqual(len(self.requests_of(d, setup["unapproved"])), 1,
                         "every unapproved login reuses the one pending request")
        self.assertTrue(health(d)["audit_ok"])

    def test_connect_and_drop_flood_by_a_local_user(self):
        d = self.daemon()
        setup = self.prepare(d)
        flood = ChildGroup(self)
        for _ in range(4):
            flood.spawn(lambda: lt.drop_to(FLOODER), connect_and_drop(d.socket))
        self.assertEqual(flood.wait_ready(20), 4, "the flooders did not start")
        denied, allowed = self.run_logins(setup)
        reports = flood.stop_and_join()
        self.assert_outcomes(d, setup, denied, allowed)
        for report in reports:
            self.assertTrue(report["stopped_by_parent"], "a flooder ended before the logins did: %s"
                            % report)
        self.assertGreater(sum(r["connects"] for r in reports), 200, reports)

    def test_uids_without_an_account_share_one_small_budget(self):
        d = self.daemon()
        setup = self.prepare(d)
        uids = unmapped_uids(20)
        per_uid = 10
        holders = ChildGroup(self)
        for uid in uids:
            holders.spawn(lambda uid=uid: become_uid(uid), hold_idle(d.socket, per_uid, window=3))
        self.assertEqual(holders.wait_ready(60), len(uids), "the holders did not all connect")
        denied, allowed = self.run_logins(setup)  # while the held connections stay open
        reports = holders.stop_and_join()
        self.assert_outcomes(d, setup, denied, allowed)
        opened = sum(r["opened"] for r in reports)
        stayed = sum(r["stayed_open"] for r in reports)
        self.assertEqual(opened, len(uids) * per_uid)
        self.assertTrue(all(r["stopped_by_parent"] for r in reports), reports)
        # Each uid stays far below max_connections_per_user (128): only the shared budget for
        # uids without an account can have shut these down.
        self.assertLessEqual(stayed, UNMAPPED_BUDGET,
                             "uids without an account held %d of %d connections open" % (
                                 stayed, opened))
        self.assertTrue(wait_for_stderr(d, "too many open connections from uids without an "
                                           "account"), d.stderr()[-2000:])


# --- 2. impostors ------------------------------------------------------------------------------

# A convincing fake lockboxd on the SOCK_SEQPACKET socket passed as fd argv[1]: it becomes uid
# argv[2] (unless 0), then calls listen() (SO_PEERCRED of its connections then names that uid),
# and approves everything with well-formed answers. It prints each message it gets.
FAKE_DAEMON = r"""
import json, os, socket, sys
fd, uid, tenant, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if uid:
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
s = socket.socket(fileno=fd)
s.listen(16)
print("listening uid=%d" % os.getuid(), flush=True)
def approved(user):
    return {"id": "ab" * 16, "state": "approved", "tenant": tenant, "host": host, "user": user,
            "reason": "x", "service": "sshd", "rhost": None, "requested_by": "root",
            "created_at": "2026-01-01T00:00:00Z", "decided_at": "2026-01-01T00:00:01Z",
            "decided_by": "someone", "comment": None, "expires_at": "2099-01-01T00:00:00Z"}
while True:
    conn, _ = s.accept()
    conn.settimeout(20)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            print("message " + data.decode("utf-8", "replace"), flush=True)
            msg = json.loads(data)
            if msg.get("op") == "describe":
                out = {"status": 200, "tenant": tenant, "host": host, "version": "0.1.0"}
            else:
                out = {"status": 200, "allowed": True, "request": approved(msg.get("user", ""))}
            conn.send(json.dumps(out).encode())
    except Exception as exc:
        print("error %r" % exc, flush=True)
    conn.close()
"""


class Impostor(LoginCase):
    def fake_daemon(self, listen_uid):
        """The fake on DIR/pam.sock in a root-owned 0755 directory: root binds it, a process
        running as listen_uid calls listen() and answers. Returns (path, output file)."""
        directory = self.private_dir()
        path = os.path.join(directory, "pam.sock")
        out_path = os.path.join(directory, "fake.out")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(path)
        with open(out_path, "w") as out:
            proc = subprocess.Popen([sys.executable, "-c", FAKE_DAEMON, str(s.fileno()),
                                     str(listen_uid), sl.TENANT, sl.HOST],
                                    pass_fds=(s.fileno(),), stdout=out,
                                    stderr=subprocess.STDOUT)
        s.close()

        self.addCleanup(sl.terminate, proc)

        def read():
            with open(out_path) as f:
                return f.read()
        sl.wait_until(lambda: "listening uid=%d" % listen_uid in read() or proc.poll() is not None,
                      10, "the fake to listen")
        self.assertIsNone(proc.poll(), "the fake did not start: " + read())
        return path, read

    def test_control_a_root_listener_is_believed(self):
        """The fake's answers are good enough to let a login in when root listens: so the
        refusals below come from the listener's uid alone."""
        path, output = self.fake_daemon(0)
        user = self.new_user()
        result = self.login(self.service(path, "wait=0 failmode=secure"), user)
        self.assertEqual(result["result"], "PAM_SUCCESS", result)
        self.assertIn('"op":"check"', output().replace(" ", ""))

    def test_listener_of_another_uid_is_refused_in_both_failmodes(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        path, output = self.fake_daemon(nobody)
        for failmode in ("secure", "safe"):
            user = self.new_user()
            svc = self.service(path, "wait=0 failmode=%s" % failmode)
            for stack, code in (("account", "PAM_PERM_DENIED"), ("auth", "PAM_AUTH_ERR")):
                result = self.login(svc, user, stack=stack)
                self.assertEqual(result["result"], code, (failmode, stack, result))
                errors = [m["text"] for m in result["messages"] if m["style"] == "error"]
                self.assertTrue(any(IMPOSTOR_MESSAGE in t for t in errors), result)
            lines = self.assert_alert(user, "why=impostor")
            self.assertTrue(any("event=login.denied" in l and "uid %d" % nobody in l
                                for l in lines), lines)
            self.assertFalse(self.module_lines(user, "failmode=safe", timeout=0),
                             "failmode=safe must not apply to an impostor")
        self.assertNotIn("message", output(), "the module sent a message to an impostor")

    def unsafe_case(self, d, socket_path, detail):
        """An approved user (a real daemon would let them in) is refused on socket_path under
        failmode=safe, with why=impostor at LOG_ALERT."""
        user, _ = self.approved_user(d)
        result = self.login(self.service(socket_path, "wait=0 failmode=safe"), user)
        self.assertEqual(result["result"], "PAM_PERM_DENIED", (socket_path, result))
        self.assertTrue(any(IMPOSTOR_MESSAGE in m["text"] for m in result["messages"]), result)
        lines = self.assert_alert(user, "why=impostor")
        self.assertTrue(any(detail in l for l in lines), (detail, lines))

    def test_unsafe_socket_directories_and_symlinks(self):
        d = self.daemon()
        # Control: a hard link to the live socket in a safe directory works.
        user, _ = self.approved_user(d)
        safe_link = os.path.join(self.private_dir(), "pam.sock")
        os.link(d.pam_socket, safe_link)
        result = self.login(self.service(safe_link, "wait=0 failmode=safe"), user)
        self.assertEqual(result["result"], "PAM_SUCCESS", result)

        owner = pwd.getpwnam(OUTSIDER).pw_uid
        for mode, uid in ((0o775, 0), (0o777, 0), (0o1777, 0), (0o755, owner)):
            with self.subTest(mode=oct(mode), owner=uid):
                link = os.path.join(self.private_dir(mode, uid), "pam.sock")
                os.link(d.pam_socket, link)
                self.unsafe_case(d, link, "socket directory")
        with self.subTest(kind="symlink"):
            link = os.path.join(self.private_dir(), "pam.sock")
            os.symlink(d.pam_socket, link)
            self.unsafe_case(d, link, "symbolic link")


# --- 3. lockboxd provably not running ----------------------------------------------------------

class NotRunning(LoginCase):
    def check_failmodes(self, socket_path):
        user = self.new_user()
        secure = self.login(self.service(socket_path, "wait=5 failmode=secure"), user)
        self.assertEqual(secure["result"], "PAM_PERM_DENIED", (socket_path, secure))
        lines = self.module_lines(user, "why=unreachable")
        self.assertTrue(lines, "no why=unreachable line for failmode=secure")
        safe = self.login(self.service(socket_path, "wait=5 failmode=safe"), user)
        self.assertEqual(safe["result"], "PAM_SUCCESS", (socket_path, safe))
        self.assert_alert(user, "failmode=safe")

    def test_socket_missing(self):
        self.check_failmodes(os.path.join(self.private_dir(), "pam.sock"))

    def test_socket_directory_missing(self):
        self.check_failmodes(os.path.join(self.private_dir(), "gone", "pam.sock"))

    def test_socket_bound_but_nobody_listening(self):
        path = os.path.join(self.private_dir(), "pam.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stale.bind(path)  # never listen(): connect() gets ECONNREFUSED
        self.addCleanup(stale.close)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with self.assertRaises(ConnectionRefusedError):
            probe.connect(path)
        probe.close()
        self.check_failmodes(path)


# --- 4. a killed login -------------------------------------------------------------------------

class KilledLogin(LoginCase):
    def test_killed_waiting_login_is_released_within_two_seconds(self):
        d = self.daemon()
        self.assertEqual(health(d)["waiting"], 0)
        user = self.new_user()
        proc = self.start_login(self.service(d.pam_socket, "wait=60"), user)
        rid = self.pending_id(d, user)
        self.assertTrue(wait_for_health(d, "waiting", 1, 20), "the login never waited")
        self.assertIsNone(proc.poll(), "the login returned while it should wait")

        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)  # the kill under test, not a clean-up
        wait_for_health(d, "waiting", 0, 2.0)  # fails if still counted 2 s after the kill
        self.assertLessEqual(time.monotonic() - killed_at, 2.0)
        proc.wait(10)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        lines = wait_for_stderr(d, "event=login.abandoned id=%s" % rid)
        self.assertTrue(lines, d.stderr()[-2000:])
        self.assertIn("pid=%d" % proc.pid, lines[0])
        self.assertEqual(self.requests_of(d, user)[0]["state"], "pending",
                         "an abandoned wait leaves the request as it is")


# --- 5. socket activation and restarts ---------------------------------------------------------

# Puts the passed listening sockets (argv[1], argv[2]) at fds 3 and 4, sets LISTEN_PID to its
# own pid and execs lockboxd (argv[3:]): what systemd does for a socket-activated service.
ACTIVATE = r"""
import os, sys
http, login = int(sys.argv[1]), int(sys.argv[2])
a, b = os.dup(http), os.dup(login)
os.dup2(a, 3)
os.dup2(b, 4)
for fd in {a, b, http, login} - {3, 4}:
    os.close(fd)
os.set_inheritable(3, True)  # os.dup's copies are close-on-exec, and dup2(3, 3) keeps that
os.set_inheritable(4, True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
"""


class Activated:
    """A lt.Daemon whose two listening sockets the test owns, as systemd would: HTTP (stream,
    0666) at d.socket and the login socket (seqpacket, 0600) at d.pam_socket. Each start()
    runs a new lockboxd on them with LISTEN_FDS=2."""

    def __init__(self, test):
        self.d = lt.Daemon(tenant=sl.TENANT, host=sl.HOST, tenants={sl.TENANT: [ADMIN]})
        self.http = self.login = None
        test.addCleanup(self.close)
        self.http = self.listen(socket.SOCK_STREAM, self.d.socket, 0o666)
        self.login = self.listen(socket.SOCK_SEQPACKET, self.d.pam_socket, 0o600)
        self.inodes = {p: os.lstat(p).st_ino for p in (self.d.socket, self.d.pam_socket)}

    @staticmethod
    def listen(kind, path, mode):
        s = socket.socket(socket.AF_UNIX, kind)
        s.bind(path)
        os.chmod(path, mode)
        s.listen(128)
        return s

    def start(self, env=None, wait=True, timeout=10):
        d = self.d
        full_env = dict(os.environ)
        full_env.pop("LISTEN_PID", None)
        full_env.update(env or {})
        full_env["LISTEN_FDS"] = "2"
        fds = (self.http.fileno(), self.login.fileno())
        argv = [sys.executable, "-c", ACTIVATE, str(fds[0]), str(fds[1]), lt.LOCKBOXD,
                "-c", d.conf_path, "-f"]
        d._stderr = open(d.log_path, "a")
        d.proc = subprocess.Popen(argv, pass_fds=fds, env=full_env, stdout=d._stderr,
                                  stderr=d._stderr)
        if not wait:
            return d

        def answers():
            if d.proc.poll() is not None:
                raise AssertionError("lockboxd exited with %s: %s" % (d.proc.returncode,
                                                                       d.stderr()[-2000:]))
            try:
                return d.call("GET", "/v1/health", timeout=2)[0] == 200
            except OSError:
                return False
        sl.wait_until(answers, timeout, "activated lockboxd to answer", step=0.02)
        return d

    def stop(self):
        return self.d.stop()  # SIGTERM, waits, raises unless it exited 0

    def sockets_intact(self):
        """Both socket files are still the ones the test made (not unlinked, not replaced)."""
        for path, inode in self.inodes.items():
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                return "%s was unlinked" % path
            if not stat.S_ISSOCK(st.st_mode) or st.st_ino != inode:
                return "%s was replaced" % path
        return None

    def close(self):
        try:
            self.d.close()
        finally:
            for s in (self.http, self.login):
                if s is not None:
                    s.close()


class Activation(LoginCase):
    def activated(self, env=None):
        act = Activated(self)
        act.start(env=env)
        return act

    def assert_started_activated(self, d, count):
        """lockboxd has said event=daemon.started `count` times, each with activated=yes."""
        def started():
            return [l for l in d.stderr().splitlines() if "event=daemon.started" in l]
        self.assertTrue(sl.wait_until(lambda: len(started()) >= count, 5), d.stderr()[-2000:])
        lines = started()
        self.assertEqual(len(lines), count, lines)
        self.assertTrue(all("activated=yes" in l for l in lines), lines)

    def stop_keeping_sockets(self, act):
        act.stop()
        self.assertIsNone(act.sockets_intact(), "lockboxd unlinked an activated socket")

    def test_login_made_while_no_daemon_runs_succeeds_on_the_next(self):
        act = self.activated()
        d = act.d
        self.assert_started_activated(d, 1)
        user, rid = self.approved_user(d)
        seq_before = health(d)["audit_seq"]
        self.stop_keeping_sockets(act)

        proc = self.start_login(self.service(d.pam_socket, "wait=0 failmode=secure"), user)
        self.assertTrue(sl.wait_until(lambda: accept_queue(d.pam_socket) >= 1, 10),
                        "the login did not queue on the login socket")
        self.assertIsNone(proc.poll(), "the login returned while no lockboxd ran")

        act.start()
        result = self.finish_login(proc)
        self.assertEqual(result["result"], "PAM_SUCCESS", result)
        self.assert_started_activated(d, 2)
        allowed = [e for e in d.audit_events() if e["event"] == "login.allowed"
                   and e["request_id"] == rid]
        self.assertTrue(allowed and all(e["seq"] > seq_before for e in allowed),
                        "no login.allowed from the new lockboxd: %s" % allowed)
        self.assertEqual(health(d)["status"], "ok", "the HTTP socket works after the restart")
        self.stop_keeping_sockets(act)

    def test_waiting_login_survives_a_restart(self):
        act = self.activated()
        d = act.d
        user = self.new_user()
        proc = self.start_login(self.service(d.pam_socket, "wait=60 failmode=secure"), user)
        rid = self.pending_id(d, user)
        self.assertTrue(wait_for_health(d, "waiting", 1, 20), "the login never waited")

        self.stop_keeping_sockets(act)
        self.assertTrue(sl.wait_until(lambda: accept_queue(d.pam_socket) >= 1, 10),
                        "the waiting login did not reconnect to the login socket")
        self.assertIsNone(proc.poll(), "the login gave up when lockboxd stopped")

        act.start()
        self.assertTrue(wait_for_health(d, "waiting", 1, 20),
                        "the login does not wait on the new lockboxd")
        self.approve(d, rid)
        result = self.finish_login(proc)
        self.assertEqual(result["result"], "PAM_SUCCESS", result)
        info = [m["text"] for m in result["messages"] if m["style"] == "info"]
        self.assertTrue(any(rid in t and "approved by %s" % ADMIN in t for t in info), info)
        events = [e["event"] for e in d.audit_events() if e["request_id"] == rid]
        self.assertIn("login.allowed", events)

    def test_readiness_notifications(self):
        act = Activated(self)
        notify_path = os.path.join(act.d.dir, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        self.addCleanup(notify.close)
        notify.settimeout(10)
        act.start(env={"NOTIFY_SOCKET": notify_path}, wait=False)
        try:
            ready = notify.recv(4096).decode()
        except socket.timeout:
            self.fail("no READY=1 within 10 s: %s" % act.d.stderr()[-2000:])
        self.assertIn("READY=1", ready.split("\n"))
        self.assertEqual(health(act.d)["status"], "ok", "READY=1, yet lockboxd does not serve")
        act.stop()
        try:
            stopping = notify.recv(4096).decode()
        except socket.timeout:
            self.fail("no STOPPING=1 at SIGTERM")
        self.assertIn("STOPPING=1", stopping.split("\n"))


# --- 6. bad input on the login socket ----------------------------------------------------------

class BadInput(LoginCase):
    def setUp(self):
        self.d = self.daemon()

    def assert_still_serving(self):
        reply = seq_call(self.d.pam_socket, {"op": "describe"})
        self.assertIsNotNone(reply, "describe: closed without an answer")
        self.assertEqual((reply["status"], reply["tenant"], reply["host"]),
                         (200, sl.TENANT, sl.HOST), reply)

    def test_malformed_messages_are_400_and_the_daemon_keeps_serving(self):
        audit_before = self.d.audit_lines()
        cases = [
            ("not JSON", b"hello, lockboxd"),
            ("truncated", b'{"op":"describe"'),
            ("trailing bytes", b'{"op":"describe"} x'),
            ("two objects", b'{"op":"describe"}{"op":"describe"}'),
            ("not an object", b'[{"op":"describe"}]'),
            ("NUL", b'{"op":"describe"}\x00'),
            ("invalid UTF-8", b'{"op":"check","user":"\xff\xfe"}'),
            ("wrong type", {"op": "check", "user": 5}),
            ("wrong type of op", {"op": 5}),
            ("wrong type of timeout", {"op": "wait", "id": "ab" * 16, "timeout": "60"}),
            ("no op", {"user": "root"}),
            ("unknown op", {"op": "approve", "id": "ab" * 16}),
            ("unknown member", {"op": "describe", "bogus": 1}),
            ("member the op does not take", {"op": "describe", "user": "root"}),
            ("member of another op", {"op": "check", "user": "root", "reason": "x"}),
            ("missing required member", {"op": "file", "user": "root"}),
            ("duplicate key", b'{"op":"check","user":"root","user":"nobody"}'),
            ("duplicate op", b'{"op":"describe","op":"describe"}'),
        ]
        for name, message in cases:
            with self.subTest(name):
                reply = seq_call(self.d.pam_socket, message)
                self.assertIsNotNone(reply, "closed without an answer")
                self.assertEqual((reply["status"], reply["error"]), (400, "bad_request"), reply)
                self.assert_still_serving()
        self.assertEqual(self.d.audit_lines(), audit_before, "bad input was recorded")
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], 0)

    def test_oversize_message_is_413(self):
        big = json.dumps({"op": "file", "user": "root", "reason": "x" * 20000}).encode()
        reply = seq_call(self.d.pam_socket, big)
        self.assertIsNotNone(reply, "closed without an answer")
        self.assertEqual((reply["status"], reply["error"]), (413, "too_large"), reply)
        self.assert_still_serving()
        # The boundary: a message of exactly the maximum is read whole (and refused as bad
        # input, its reason being too long), one byte more is too large.
        for size, status in ((MESSAGE_MAX, 400), (MESSAGE_MAX + 1, 413)):
            head = b'{"op":"file","user":"root","reason":"'
            message = head + b"x" * (size - len(head) - 2) + b'"}'
            self.assertEqual(len(message), size)
            reply = seq_call(self.d.pam_socket, message)
            self.assertEqual(reply and reply["status"], status, (size, reply))
        self.assertEqual(self.d.db("SELECT count(*) FROM requests")[0][0], 0)
        self.assert_still_serving()

    def test_file_once_records_exactly_once(self):
        user = self.new_user()
        s = seq_connect(self.d.pam_socket)
        self.addCleanup(s.close)
        reply = seq_exchange(s, {"op": "file", "user": user, "reason": "INC-7",
                                 "service": "sshd"})
        self.assertEqual(reply["status"], 201, reply)
        rid = reply["request"]["id"]
        self.assertEqual((reply["request"]["user"], reply["request"]["state"]), (user, "pending"))
        # The same connection carries the next request.
        check = seq_exchange(s, {"op": "check", "user": user})
        self.assertEqual((check["status"], check["allowed"], check["request"]["id"]),
                         (200, False, rid), check)
        created = [e for e in self.d.audit_events()
                   if e["event"] == "request.created" and e["user"] == user]
        self.assertEqual([e["request_id"] for e in created], [rid])
        self.assertEqual(len(self.requests_of(self.d, user)), 1)
        sl.verify_against_daemon(self, self.d)

    def test_second_request_before_the_reply_closes_the_connection(self):
        """The first request is a wait on a pending request, so its reply is certainly still
        owed when the second arrives (a describe is answered at once, before lockboxd reads
        the next message)."""
        user = self.new_user()
        filed = seq_call(self.d.pam_socket, {"op": "file", "user": user, "reason": "x"})
        self.assertEqual(filed and filed["status"], 201, filed)
        wait = json.dumps({"op": "wait", "id": filed["request"]["id"], "timeout": 60}).encode()
        for synchronised in (False, True):
            with self.subTest(after_the_wait_is_taken=synchronised):
                s = seq_connect(self.d.pam_socket)
                self.addCleanup(s.close)
                s.send(wait)
                if synchronised:
                    self.assertTrue(wait_for_health(self.d, "waiting", 1, 10),
                                    "the wait was not taken")
                s.send(json.dumps({"op": "describe"}).encode())
                try:
                    answer = s.recv(65536)
                except ConnectionResetError:
                    answer = b""
                self.assertEqual(answer, b"", "answered a connection that broke the rules")
                self.assertTrue(wait_for_health(self.d, "waiting", 0, 5),
                                "the broken connection's wait is still counted")
        lines = wait_for_stderr(self.d, "a request before the last one was answered")
        self.assertTrue(lines, self.d.stderr()[-2000:])
        self.assertEqual(self.requests_of(self.d, user)[0]["state"], "pending")
        self.assert_still_serving()

    def outsider_connects(self, path):
        """As OUTSIDER: ("refused", errno) if connect fails, else ("closed" | "answered",
        reply) after sending a describe."""
        def attempt():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(10)
            try:
                s.connect(path)
            except OSError as exc:
                s.close()
                return ["refused", exc.errno]
            try:
                s.send(b'{"op":"describe"}')
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except socket.timeout:
                return ["timeout", None]
            finally:
                s.close()
            return ["answered", data.decode()] if data else ["closed", None]
        return lt._in_child(OUTSIDER, attempt)

    def test_non_root_cannot_connect(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.d.pam_socket).st_mode), 0o600)
        self.assertEqual(os.stat(self.d.pam_socket).st_uid, 0)
        self.assertEqual(self.outsider_connects(self.d.pam_socket), ("refused", errno.EACCES))

    def test_non_root_is_closed_without_an_answer_even_if_the_mode_is_loosened(self):
        os.chmod(self.d.pam_socket, 0o666)
        outcome = self.outsider_connects(self.d.pam_socket)
        self.assertEqual(outcome, ("closed", None))
        uid = pwd.getpwnam(OUTSIDER).pw_uid
        self.assertTrue(wait_for_stderr(self.d, "event=login_socket.refused uid=%d " % uid),
                        self.d.stderr()[-2000:])
        self.assert_still_serving()


# --- 7. what the module links ------------------------------------------------------------------

def elf_needed(path):
    """DT_NEEDED entries of an ELF shared object, from its PT_DYNAMIC segment."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ValueError("%s is not ELF" % path)
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, phentsize, phnum = (struct.unpack_from(end + "Q", data, 0x20)[0],
                                   *struct.unpack_from(end + "HH", data, 0x36))
        ph_fmt, dyn_fmt = end + "IIQQQQQQ", end + "qQ"
    else:
        phoff, phentsize, phnum = (struct.unpack_from(end + "I", data, 0x1C)[0],
                                   *struct.unpack_from(end + "HH", data, 0x2A))
        ph_fmt, dyn_fmt = end + "IIIIIIII", end + "iI"
    loads, dynamic = [], None
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
        if is64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = fields[:5]
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []

    def file_offset(vaddr):
        for start, offset, size in loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise ValueError("address %#x is in no PT_LOAD segment" % vaddr)

    entries, strtab = [], None
    for pos in range(dynamic[0], dynamic[0] + dynamic[1], struct.calcsize(dyn_fmt)):
        tag, value = struct.unpack_from(dyn_fmt, data, pos)
        if tag == 0:
            break
        if tag == 1:
            entries.append(value)
        elif tag == 5:
            strtab = file_offset(value)
    return [data[strtab + v:data.index(b"\0", strtab + v)].decode() for v in entries]


class Linkage(unittest.TestCase):
    ALLOWED = ("libc.so.", "libpam.so.", "libjson-c.so.", "ld-linux")
    # The ASan+UBSan build (make test-asan) links the sanitizer runtimes into everything.
    SANITIZER_RUNTIMES = ("libasan.so.", "libubsan.so.")

    def test_module_needs_only_libc_libpam_and_json_c(self):
        needed = elf_needed(lt.PAM_MODULE)
        self.assertTrue(any(n.startswith("libpam.so.") for n in needed), needed)
        allowed = self.ALLOWED + (self.SANITIZER_RUNTIMES if lt.SANITIZED else ())
        unexpected = [n for n in needed if not n.startswith(allowed)]
        self.assertEqual(unexpected, [], "pam_lockbox.so needs more than libc, libpam, json-c")
        readelf = shutil.which("readelf")
        if readelf:  # cross-check the parser with binutils
            out = subprocess.run([readelf, "-d", lt.PAM_MODULE], capture_output=True, text=True,
                                 check=True).stdout
            listed = [l.split("[", 1)[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]
            self.assertEqual(sorted(listed), sorted(needed))


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
