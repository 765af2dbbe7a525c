"""Step 10 end to end: access ends for everything the login started, and the person who asked
is on record.

  Leftovers   real `su - USER` (util-linux su, a private /etc/pam.d whose su has
              `session required pam_loginuid.so` and the module in its session stack) on a
              pty: processes started with nohup, setsid, a double fork and a pid-hopping loop
              survive the logout (the session stack's close runs) while the access lasts, and
              are gone within 5 s of a revoke and of the expiry; an open session's pid hopper
              is gone within 5 s (+ session_grace) of a revoke.
  Cgroup      the same su without pam_loginuid, run inside a test-made
              /sys/fs/cgroup/unified/lbx-test-*/session-1.scope: only the cgroup can find the
              leftovers, and revoke empties it (cgroup.kill).
  Warnings    a real sshd with a pty: a session opened with ~30 s left is warned on its
              terminal within seconds, and again after a new approval extends it; a session
              without a terminal stays "warned = 0" and is logged event=session.unwarned.
  Requester   a tenant admin runs `su - SHARED`: the request names her as requester in the
              API, list, show, audit and syslog; her own approval is refused (403), another
              admin's lets su in. A login without PAM_RUSER has an unknown requester.

Every wait polls state (the audit file, syslog, /proc, the database) within a bound. Run as
root: python3 test_containment.py -v."""

import errno
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e  # noqa: E402
from e2e_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("e2c")  # every account this file adds starts so
ADMIN = PREFIX + "_adm"
TENANT, HOST = "contoso", "testhost"
SU, RUNUSER = "/usr/bin/su", "/usr/sbin/runuser"
CGROUP_ROOT = "/sys/fs/cgroup/unified"
PYTHON = "/usr/bin/python3"  # the system's: every user can run it
M = {}

# What a person leaves running: "sleep" just sleeps (nohup/setsid/double fork put it out of
# reach of the shell); "hop" keeps changing its pid (fork, the parent exits, the child goes
# on; SIGHUP ignored) and writes a heartbeat so a test can tell it is still hopping.
LEFTOVER = r"""
import os, signal, sys, time
mode, marker = sys.argv[1], sys.argv[2]
if mode == "sleep":
    while True:
        time.sleep(1000)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
beat, n = sys.argv[3], 0
while True:
    if os.fork() > 0:
        os._exit(0)
    n += 1
    with open(beat, "w") as f:
        f.write("%d %d\n" % (n, os.getpid()))
    time.sleep(0.05)
"""

KINDS = ("nohup", "setsid", "double_fork", "pid_hopper")


def setUpModule():
    e.require_e2e(SU, RUNUSER, e.SSHD, e.SSH, lt.PAM_HARNESS)
    M["users"] = lt.Users(PREFIX)
    M["tmp"] = e.make_tmp("lbx-e2e-contain-")
    try:
        M["users"].add(ADMIN)
        M["leftover"] = os.path.join(M["tmp"], "leftover.py")
        with open(M["leftover"], "w") as f:
            f.write(LEFTOVER)
        os.chmod(M["leftover"], 0o644)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    if "users" in M:
        M["users"].cleanup()
    shutil.rmtree(M.get("tmp", "/nonexistent"), ignore_errors=True)


# --- /proc -----------------------------------------------------------------------------------

def marker_pids(marker):
    """Live (non-zombie) processes running leftover.py with this marker in their argv."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args and any(a.endswith(b"leftover.py") for a in args):
            found.append(int(name))
    return found


def read_beat(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def wait_present(marker, timeout=10.0):
    return e.wait_until(lambda: marker_pids(marker), timeout, "a process marked " + marker,
                        step=0.02)


def hopping(beat, timeout=3.0):
    """The pid hopper's heartbeat moved on within `timeout` (it is alive and still hopping)."""
    first = read_beat(beat)
    return e.wait_until(lambda: read_beat(beat) not in (None, first), timeout,
                        "the pid hopper's heartbeat to move", step=0.02)


def wait_gone(marker, timeout, since, beat=None, quiet=0.5):
    """Seconds from `since` (a monotonic time) until no process with the marker was left, or
    None if one was still there after `timeout`. A pid hopper counts as gone only once its
    heartbeat has also stood still for `quiet` seconds (a /proc scan could pass between its
    fork and its parent's exit)."""
    deadline = since + timeout + (quiet if beat else 0)
    quiet_since, last_beat = None, read_beat(beat) if beat else None
    while True:
        now = time.monotonic()
        pids = marker_pids(marker)
        current = read_beat(beat) if beat else None
        if pids or current != last_beat:
            quiet_since, last_beat = None, current
        elif quiet_since is None:
            quiet_since = now
        if quiet_since is not None and (beat is None or now - quiet_since >= quiet):
            return quiet_since - since
        if now > deadline:
            return None
        time.sleep(0.02)


def end_markers(marker):
    """Cleanup: SIGKILL by pid whatever still runs with the marker, until a few scans in a row
    find nothing (a hopper changes pid between scans)."""
    empty = 0
    for _ in range(200):
        pids = marker_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        empty = 0 if pids else empty + 1
        if empty >= 5:
            return
        time.sleep(0.02)


# --- PAM files --------------------------------------------------------------------------------

def su_pam(pam, daemon, loginuid=True, account_wait=0):
    """The machine's su, with the module in the account stack and, after pam_loginuid (which
    starts the login's audit session), in the session stack."""
    text = pam.read("su")
    text = text.replace("@include common-account\n", "@include common-account\n" +
                        e.module_line("account", daemon, "wait=%d" % account_wait), 1)
    if loginuid:
        text += "session  required pam_loginuid.so\n"
    text += e.module_line("session", daemon, "")
    pam.write("su", text)


class SuCase(unittest.TestCase):
    """A daemon of its own and a private pam.d; each test has its own engineer account."""
    loginuid = True
    daemon_extra = {"session_grace": "1s"}
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.tmp = e.make_tmp("lbx-e2e-%s-" % cls.__name__.lower())
        cls.d = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]}, syslog=True,
                          daemon_extra=cls.daemon_extra)
        try:
            cls.d.start()
            cls.pam = e.PamDir(cls.tmp)
            su_pam(cls.pam, cls.d, loginuid=cls.loginuid)
        except BaseException:
            cls.d.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        SuCase.counter += 1
        self.user = M["users"].add("%s_eng%d" % (PREFIX, SuCase.counter), home=True)
        pw = pwd.getpwnam(self.user)
        self.work = os.path.join(self.tmp, self.user)  # the user writes heartbeats here
        os.mkdir(self.work, 0o755)
        os.chown(self.work, pw.pw_uid, pw.pw_gid)
        self.clients, self.markers = [], []
        self.run_id = uuid.uuid4().hex[:8]

    def tearDown(self):
        for client in self.clients:
            client.stop()
        for marker in self.markers:
            end_markers(marker)

    # --- steps ---
    def approve_ahead(self, grant):
        req = self.d.file_request(self.user, "INC-10 containment")
        out = e.ctl(self.d, ADMIN, "approve", req["id"], "--for", grant)
        self.assertEqual(out.returncode, 0, out.stderr)
        return req["id"]

    def su_argv(self):
        return [SU, "-", self.user]

    def su_login(self):
        """An interactive `su - USER` on a pty, once its session is registered."""
        argv = lt.in_namespace(self.su_argv(), binds=[self.pam.bind()], devlog=self.d.syslog.path)
        client = e.PtyClient(argv)
        self.clients.append(client)
        e.wait_until(lambda: e.events(self.d, "session.opened", self.user), 15,
                     lambda: "session.opened for %s; su showed:\n%s" % (self.user, client.output()))
        self.shell(client, "true")
        return client

    def shell(self, client, line):
        """Runs `line` in the su shell and waits for it to finish (the echo of the typed line
        cannot match the marker: the quotes split it)."""
        tag = "DONE-%s-%d" % (self.run_id, len(client.output()))
        client.send('%s\necho "%s""-ok"\n' % (line, tag))
        self.assertTrue(client.expect(tag + "-ok", 15), "the shell did not run %r:\n%s"
                        % (line, client.output()))

    def start_leftover(self, client, kind):
        """Starts one leftover of `kind` from the su shell; returns (marker, beat file)."""
        marker = "lbx-mark-%s-%s-%s" % (self.run_id, self.user, kind)
        self.markers.append(marker)
        beat = os.path.join(self.work, kind + ".beat") if kind == "pid_hopper" else None
        run = "%s %s %s %s" % (PYTHON, M["leftover"], "hop" if beat else "sleep", marker)
        if beat:
            run += " " + beat
        quiet = "</dev/null >/dev/null 2>&1"
        line = {"nohup": "nohup %s %s &" % (run, quiet),
                "setsid": "setsid %s %s &" % (run, quiet),
                "double_fork": "sh -c '( %s %s & ) &'" % (run, quiet),
                "pid_hopper": "%s %s &" % (run, quiet)}[kind]
        self.shell(client, line)
        self.assertTrue(wait_present(marker), "%s leftover did not start" % kind)
        if beat:
            self.assertTrue(hopping(beat), "the pid hopper does not hop")
        return marker, beat

    def logout(self, client):
        """`exit` in the shell: su runs the session stack's close, then exits; lockboxd keeps
        what the login left running."""
        client.send("exit\n")
        self.assertEqual(client.wait(15), 0, client.output())
        closed = e.wait_until(lambda: [ev for ev in e.events(self.d, "session.closed", self.user)
                                       if ev["actor"] == self.user], 10,
                              lambda: "the session stack's close; records: %s"
                              % e.events(self.d, user=self.user))
        session = re.search(r"session ([0-9a-f]+)", closed[0]["comment"]).group(1)
        # Closed, and still tracked: what it left running ends with the access. (Its syslog
        # line event=session.leftovers comes from one look at /proc, which a fast pid hopper
        # can slip past; the tracking does not depend on it.)
        rows = self.d.db("SELECT state, contained FROM sessions WHERE id = ?", (session,))
        self.assertEqual(rows, [("closed", 1)], "lockboxd did not keep the leftovers:\n%s"
                         % "\n".join(self.d.syslog.snapshot()[-20:]))
        return session

    def assert_alive(self, marker, beat):
        # One look at /proc can miss a pid hopper between its fork and its parent's exit.
        e.wait_until(lambda: marker_pids(marker), 3, "%s alive after the logout" % marker,
                     step=0.01)
        if beat:
            self.assertTrue(hopping(beat), "the pid hopper stopped after the logout")

    def shown_session(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200, obj)
        self.assertEqual(len(obj["sessions"]), 1, obj["sessions"])
        return obj["sessions"][0]

    def terminated_comment(self):
        rec = e.wait_until(lambda: e.events(self.d, "session.terminated", self.user), 5,
                           "a session.terminated record")
        return rec[0]["comment"]


class Leftovers(SuCase):
    """pam_loginuid gives each su login its own audit session; what it leaves running ends with
    the access."""

    def leftover_then_revoke(self, kind):
        rid = self.approve_ahead("1h")
        client = self.su_login()
        opened = e.events(self.d, "session.opened", self.user)[0]
        self.assertNotIn("no audit session", opened["comment"] or "")
        marker, beat = self.start_leftover(client, kind)
        self.logout(client)
        self.assert_alive(marker, beat)
        shown = self.shown_session(rid)
        self.assertEqual((shown["state"], shown["leftovers_tracked"]), ("closed", True), shown)
        start = time.monotonic()
        out = e.ctl(self.d, ADMIN, "revoke", rid, "--comment", "done with %s" % kind)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ended 0 live sessions of %s on %s." % (self.user, HOST), out.stdout)
        took = wait_gone(marker, 5, start, beat)
        self.assertIsNotNone(took, "the %s leftover survived the revoke: pids %s"
                             % (kind, marker_pids(marker)))
        comment = self.terminated_comment()
        if kind == "pid_hopper":  # caught between fork and exit, it may be two
            self.assertRegex(comment, r"revoked by %s; ended [12] process(es)? that %s's closed "
                             r"session left running" % (ADMIN, self.user))
        else:
            self.assertIn("revoked by %s; ended 1 process that %s's closed session left running"
                          % (ADMIN, self.user), comment)
        self.assertFalse(self.shown_session(rid)["leftovers_tracked"])
        e.record("leftover-%s-revoked" % kind,
                 [("lockboxctl revoke", out.stdout), ("audit comment", comment),
                  ("seconds from revoke to gone", "%.2f" % took)])
        return took

    def test_nohup_leftover_ends_on_revoke(self):
        self.leftover_then_revoke("nohup")

    def test_setsid_leftover_ends_on_revoke(self):
        self.leftover_then_revoke("setsid")

    def test_double_fork_leftover_ends_on_revoke(self):
        self.leftover_then_revoke("double_fork")

    def test_pid_hopper_leftover_ends_on_revoke(self):
        self.leftover_then_revoke("pid_hopper")

    def test_all_leftovers_end_on_expiry(self):
        """One login leaves all four kinds; the approval expires after the logout."""
        grant = 8
        rid = self.approve_ahead("%ds" % grant)
        approved = time.monotonic()
        client = self.su_login()
        started = {kind: self.start_leftover(client, kind) for kind in KINDS}
        self.logout(client)
        self.assertEqual(e.events(self.d, "access.expired", self.user), [],
                         "the test was too slow: the access expired before the logout (%.1f s)"
                         % (time.monotonic() - approved))
        for marker, beat in started.values():
            self.assert_alive(marker, beat)
        e.wait_until(lambda: e.events(self.d, "access.expired", self.user), grant + 5,
                     "the access to expire", step=0.02)
        expired = time.monotonic()
        took = {}
        for kind, (marker, beat) in started.items():
            took[kind] = wait_gone(marker, 5, expired, beat)
            self.assertIsNotNone(took[kind], "the %s leftover survived the expiry: pids %s"
                                 % (kind, marker_pids(marker)))
        comment = self.terminated_comment()
        e.record("leftovers-expired", [("audit comment", comment)] +
                 [("%s: seconds from access.expired to gone" % k, "%.2f" % v)
                  for k, v in took.items()])
        self.assertRegex(comment, r"access expired; ended [45] processes that %s's closed "
                                  r"sessions? left running" % self.user)
        self.assertEqual(self.shown_session(rid)["state"], "terminated")

    def test_open_session_pid_hopper_ends_on_revoke(self):
        """Not logged out: terminating the open session (SIGHUP, then after session_grace the
        full kill) also ends a process that keeps changing its pid."""
        rid = self.approve_ahead("1h")
        client = self.su_login()
        marker, beat = self.start_leftover(client, "pid_hopper")
        start = time.monotonic()
        out = e.ctl(self.d, ADMIN, "revoke", rid, "--comment", "stop hopping")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Ended 1 live session of %s on %s." % (self.user, HOST), out.stdout)
        took = wait_gone(marker, 5 + 1, start, beat)  # + session_grace
        self.assertIsNotNone(took, "the pid hopper survived the revoke: pids %s"
                             % marker_pids(marker))
        self.assertIsNotNone(client.wait(10), "su outlived the revoke")
        self.assertIn("revoked by %s" % ADMIN, self.terminated_comment())


class CgroupContainment(SuCase):
    """su WITHOUT pam_loginuid, inside a session-N.scope cgroup (what pam_systemd would make):
    the cgroup is the only handle on the leftovers, and revoke ends them through it."""
    loginuid = False

    def setUp(self):
        if not os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.procs")):
            self.skipTest("no cgroup2 hierarchy mounted at %s" % CGROUP_ROOT)
        super().setUp()
        # Where logind puts a login of this user; lockboxd takes no other cgroup for one.
        self.made = []
        self.parent = os.path.join(CGROUP_ROOT, "user.slice",
                                   "user-%d.slice" % lt.pwd.getpwnam(self.user).pw_uid)
        for path in (os.path.dirname(self.parent), self.parent):
            if not os.path.isdir(path):
                os.mkdir(path)
                self.made.insert(0, path)
        self.scope = os.path.join(self.parent, "session-lbx%s.scope" % uuid.uuid4().hex[:8])
        os.mkdir(self.scope)
        if not os.path.exists(os.path.join(self.scope, "cgroup.kill")):
            self.tearDown()
            self.skipTest("the kernel has no cgroup.kill (before 5.14)")

    def tearDown(self):
        super().tearDown()
        if os.path.isdir(self.scope):
            if self.populated():  # a failed test: end what is left, by the cgroup
                with open(os.path.join(self.scope, "cgroup.kill"), "w") as f:
                    f.write("1")
                e.wait_until(lambda: not self.populated(), 5, "the cgroup to empty")
            os.rmdir(self.scope)
        for path in self.made:  # only what this test made, deepest first
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as exc:  # EBUSY: another run's login cgroup is inside it now
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise

    def populated(self):
        with open(os.path.join(self.scope, "cgroup.events")) as f:
            return "populated 1" in f.read()

    def su_argv(self):
        # su (this very pid: the shell execs it) joins the scope before PAM opens the session.
        return ["sh", "-c", 'echo $$ > "%s/cgroup.procs" && exec %s - %s'
                % (self.scope, SU, self.user)]

    def test_leftovers_in_the_session_cgroup_end_on_revoke(self):
        rid = self.approve_ahead("1h")
        client = self.su_login()
        with open("/proc/%d/sessionid" % client.pid) as f:
            self.assertEqual(f.read().strip(), "4294967295", "su has an audit session")
        with open("/proc/%d/cgroup" % client.pid) as f:
            self.assertIn("0::%s" % self.scope[len(CGROUP_ROOT):], f.read())
        opened = e.events(self.d, "session.opened", self.user)[0]
        self.assertNotIn("no audit session or cgroup", opened["comment"] or "")
        started = [self.start_leftover(client, kind) for kind in ("setsid", "double_fork",
                                                                   "pid_hopper")]
        self.logout(client)
        for marker, beat in started:
            self.assert_alive(marker, beat)
        self.assertTrue(self.populated())
        start = time.monotonic()
        out = e.ctl(self.d, ADMIN, "revoke", rid, "--comment", "cgroup")
        self.assertEqual(out.returncode, 0, out.stderr)
        for marker, beat in started:
            self.assertIsNotNone(wait_gone(marker, 5, start, beat),
                                 "%s survived the revoke" % marker)
        e.wait_until(lambda: not self.populated(), 5, "the session cgroup to empty")
        comment = self.terminated_comment()
        syslog = self.d.syslog.wait_for("event=session.terminated id=%s" % rid)
        self.assertTrue(syslog, "no syslog line for session.terminated")
        self.assertIn("closed session left running", syslog[0])
        # Three processes were running in the scope when cgroup.kill ended them.
        self.assertRegex(comment, r"revoked by %s; ended [34] processes that %s's closed "
                                  r"session left running" % (ADMIN, self.user))


class SuWarning(SuCase):
    """su's PAM_TTY is its caller's terminal, which the su user does not own: the warning and
    the closing notice still reach it, as su's own controlling terminal."""
    daemon_extra = {"session_grace": "1s", "session_warning": "1m"}

    def test_a_su_session_is_warned_on_its_callers_terminal(self):
        rid = self.approve_ahead("20s")
        client = self.su_login()
        self.assertTrue(client.expect("Lockbox: access for %s on %s ends in" % (self.user, HOST),
                                      10), "no warning on su's terminal:\n%s" % client.output())
        self.assertTrue(self.d.syslog.wait_for("event=session.warned", 5))
        out = e.ctl(self.d, ADMIN, "revoke", rid, "--comment", "done here")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(client.expect("has ended (revoked by %s)" % ADMIN, 10), client.output())
        self.assertIsNotNone(client.wait(10), "su outlived the revoke")


# --- warnings (sshd, a real pty) -------------------------------------------------------------

def sshd_pam(daemon):
    return ("auth     required pam_deny.so\n"
            "@include common-account\n" + e.module_line("account", daemon, "wait=0") +
            "session  required pam_loginuid.so\n"
            "@include common-session\n" + e.module_line("session", daemon, "") +
            "password required pam_deny.so\n")


class Warnings(unittest.TestCase):
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.tmp = e.make_tmp("lbx-e2e-warn-")
        cls.d = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]}, syslog=True,
                          daemon_extra={"session_grace": "1s", "session_warning": "1m"})
        cls.sshd = None
        try:
            cls.d.start()
            cls.key = e.UserKey(cls.tmp)
            pamdir = e.PamDir(cls.tmp)
            pamdir.write("sshd", sshd_pam(cls.d))
            cls.sshd = e.Sshd(cls.tmp, pamdir, cls.key, devlog=cls.d.syslog.path).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.sshd is not None:
            cls.sshd.stop()
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        Warnings.counter += 1
        self.user = M["users"].add("%s_w%d" % (PREFIX, Warnings.counter), home=True)
        self.key.authorize(self.user)
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.stop()

    def approve(self, grant):
        req = self.d.file_request(self.user, "INC-10 warning")
        out = e.ctl(self.d, ADMIN, "approve", req["id"], "--for", grant)
        self.assertEqual(out.returncode, 0, out.stderr)
        return req["id"]

    def session_row(self):
        rows = self.d.db("SELECT id, warned FROM sessions WHERE user = ?", (self.user,))
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def warning_re(self):
        return (r"Lockbox: access for %s on %s ends in (\d+)s; this session will then be "
                r"closed\. A new approval for %s on %s extends it \(ask a %s admin, or: "
                r"lockboxctl request --reason TEXT\)\."
                % (self.user, HOST, self.user, HOST, TENANT))

    def test_a_session_opened_30s_before_the_end_is_warned_at_once(self):
        first = self.approve("32s")
        client = e.PtyClient(self.sshd.ssh_argv(self.key, self.user, "echo SESSION-UP; sleep 120",
                                                batch=False, extra=("-tt",)))
        self.clients.append(client)
        self.assertTrue(client.expect("SESSION-UP", 30), client.output())
        up = time.monotonic()
        needle = "Lockbox: access for %s on %s ends in" % (self.user, HOST)
        self.assertTrue(client.expect(needle, 5), "no warning within 5 s:\n%s" % client.output())
        self.assertLess(time.monotonic() - up, 5)
        warnings = re.findall(self.warning_re(), client.output())
        self.assertEqual(len(warnings), 1, client.output())
        self.assertTrue(15 <= int(warnings[0]) <= 32, warnings)
        session, warned = self.session_row()
        self.assertEqual(warned, 1)
        logged = self.d.syslog.wait_for("event=session.warned session=%s id=%s" % (session, first))
        self.assertTrue(logged, "\n".join(self.d.syslog.snapshot()[-20:]))
        self.assertRegex(logged[0], r"tty=/dev/pts/\d+ left=\d+s")
        # The advice works: a new approval extends the session, which is warned again before
        # the new end (still inside the 1 m window).
        seen = len(client.output())
        second = self.approve("50s")
        self.assertTrue(self.d.syslog.wait_for("event=session.covered session=%s id=%s was=%s"
                                               % (session, second, first)))
        self.assertTrue(client.expect(needle, 5, since=seen), "no second warning:\n%s"
                        % client.output()[seen:])
        again = re.findall(self.warning_re(), client.output()[seen:])
        self.assertEqual(len(again), 1, client.output()[seen:])
        self.assertTrue(35 <= int(again[0]) <= 50, again)
        self.assertTrue(self.d.syslog.wait_for("event=session.warned session=%s id=%s"
                                               % (session, second)))
        e.record("session-warning", [("what the ssh client showed", client.output())])
        for rid in (first, second):
            out = e.ctl(self.d, ADMIN, "revoke", rid)
            self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIsNotNone(client.wait(10), "the session survived the revokes")
        self.assertIn("has ended (revoked by %s)" % ADMIN, client.output())

    def test_a_session_without_a_terminal_stays_unwarned(self):
        rid = self.approve("6s")
        client = e.Client(self.sshd.ssh_argv(self.key, self.user, "echo SESSION-UP; sleep 120"))
        self.clients.append(client)
        e.wait_until(lambda: "SESSION-UP" in client.stdout(), 30,
                     lambda: "SESSION-UP; ssh said: " + client.stderr())
        session, warned = self.session_row()
        self.assertEqual(warned, 0)
        unwarned = self.d.syslog.wait_for("event=session.unwarned session=%s id=%s"
                                          % (session, rid), 15)
        self.assertTrue(unwarned, "\n".join(self.d.syslog.snapshot()[-20:]))
        self.assertEqual(self.session_row()[1], 0)
        self.assertFalse([l for l in self.d.syslog.snapshot()
                          if "event=session.warned session=%s" % session in l])
        # The syslog line goes out as the expiry is handled; its audit record with the flush.
        e.wait_until(lambda: e.events(self.d, "access.expired", self.user), 5, "access.expired")
        self.assertIsNotNone(client.wait(10), "the session outlived its access")


# --- the requester (su by a tenant admin to a shared account) --------------------------------

class Requester(unittest.TestCase):
    ALICE, BOB = PREFIX + "_alice", PREFIX + "_bob"
    SHARED, SSHUSER = PREFIX + "_shared", PREFIX + "_sshuser"
    PASSWORD = "Lbx-e2e-%s" % uuid.uuid4().hex[:12]

    @classmethod
    def setUpClass(cls):
        cls.tmp = e.make_tmp("lbx-e2e-req-")
        users = M["users"]
        for name in (cls.ALICE, cls.BOB, cls.SSHUSER):
            users.add(name)
        users.add(cls.SHARED, home=True)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (cls.SHARED, cls.PASSWORD), text=True,
                       check=True, capture_output=True)
        cls.d = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [cls.ALICE, cls.BOB]},
                          syslog=True)
        try:
            cls.d.start()
            cls.pam = e.PamDir(cls.tmp)
            cls.pam.add_after("su", "@include common-account",
                              e.module_line("account", cls.d, "wait=60"))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.stop()

    def test_an_admin_who_asks_cannot_approve_her_own_request(self):
        alice, bob, shared = self.ALICE, self.BOB, self.SHARED
        client = e.PtyClient(lt.in_namespace(
            [RUNUSER, "-u", alice, "--", SU, "-", shared, "-c", 'echo "RAN""-AS"; id -un'],
            binds=[self.pam.bind()], devlog=self.d.syslog.path))
        self.clients.append(client)
        self.assertTrue(client.expect("Password:", 15), client.output())
        client.send(self.PASSWORD + "\n")
        req = e.wait_for_request(self.d, bob, shared)
        self.assertIsNotNone(req, "no pending request:\n%s" % client.output())
        rid = req["id"]
        self.assertTrue(client.expect("Lockbox: request %s asks" % rid, 10), client.output())
        # Who asked, everywhere it is shown.
        self.assertEqual((req["requester"], req["user"], req["service"]), (alice, shared, "su-l"))
        status, listed = self.d.call("GET", "/v1/requests")
        self.assertEqual(status, 200)
        self.assertEqual([r["requester"] for r in listed["requests"] if r["id"] == rid], [alice])
        status, one = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(one["requester"], alice)
        shown = e.ctl(self.d, bob, "show", rid)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertRegex(shown.stdout, r"(?m)^Asked by\s+%s$" % alice)
        table = e.ctl(self.d, bob, "list", "--user", shared)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("%s by %s" % (shared, alice), table.stdout)
        # Her own decision is refused, and logged.
        status, refused = self.d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=alice)
        self.assertEqual((status, refused["error"]), (403, "forbidden"), refused)
        own = e.ctl(self.d, alice, "approve", rid, "--comment", "me")
        self.assertEqual(own.returncode, 1, own.stdout + own.stderr)
        self.assertIn("you cannot decide your own request (you asked for it", own.stderr)
        logged = self.d.syslog.wait_for("event=api.refused status=403 actor=%s" % alice)
        self.assertTrue(logged, "\n".join(self.d.syslog.snapshot()[-20:]))
        self.assertIn("action=request.approved id=%s" % rid, logged[0])
        self.assertTrue(client.running(), "su did not keep waiting")
        self.assertEqual(e.wait_for_request(self.d, bob, shared)["id"], rid)
        # Another admin's approval lets the login in.
        out = e.ctl(self.d, bob, "approve", rid, "--comment", "go")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(client.wait(30), 0, client.output())
        self.assertIn("RAN-AS\n%s\n" % shared, client.output())
        e.record("su-requester", [("alice runs su - %s" % shared, client.output()),
                                  ("lockboxctl show", shown.stdout),
                                  ("lockboxctl list", table.stdout),
                                  ("alice approves her own request", own.stderr)])
        # The audit file and syslog name her.
        for name in ("request.created", "login.allowed"):
            recs = [r for r in e.events(self.d, name, shared) if r["request_id"] == rid]
            self.assertTrue(recs, "no %s record" % name)
            self.assertEqual([r["requester"] for r in recs], [alice] * len(recs), recs)
        created = self.d.syslog.wait_for("event=request.created id=%s" % rid)
        self.assertTrue(created)
        self.assertRegex(created[0], r"lockboxd\[\d+\]: event=request\.created id=%s .* seq=\d+ "
                                     r"requester=%s( |$)" % (rid, alice))
        module = self.d.syslog.wait_for("pam_lockbox(su-l:account): event=login.allowed id=%s"
                                        % rid)
        self.assertTrue(module, "\n".join(self.d.syslog.snapshot()[-20:]))
        self.assertTrue(module[0].rstrip("\n").endswith(" requester=%s" % alice), module[0])

    def test_a_login_without_ruser_has_an_unknown_requester(self):
        """What sshd does: PAM_RHOST but no PAM_RUSER (the real libpam through pam_harness)."""
        confdir = os.path.join(self.tmp, "harness.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "sshd"), "w") as f:
            f.write(e.module_line("account", self.d, "wait=0"))
        run = subprocess.run([lt.PAM_HARNESS, "--confdir", confdir, "--service", "sshd",
                              "--user", self.SSHUSER, "--stack", "account",
                              "--rhost", "198.51.100.23"], capture_output=True, text=True,
                             timeout=30)
        self.assertNotEqual(json.loads(run.stdout.splitlines()[0])["result"], "PAM_SUCCESS")
        req = e.wait_for_request(self.d, self.BOB, self.SSHUSER)
        self.assertIsNotNone(req)
        self.assertIsNone(req["requester"])
        status, one = self.d.call("GET", "/v1/requests/" + req["id"])
        self.assertIsNone(one["requester"])
        shown = e.ctl(self.d, self.BOB, "show", req["id"])
        self.assertRegex(shown.stdout, r"(?m)^Asked by\s+unknown \(a sshd login from "
                                       r"198\.51\.100\.23\)$")
        table = e.ctl(self.d, self.BOB, "list", "--user", self.SSHUSER)
        self.assertNotIn(" by ", table.stdout)
        created = [r for r in e.events(self.d, "request.created", self.SSHUSER)]
        self.assertEqual([r["requester"] for r in created], [None])


if __name__ == "__main__":
    unittest.main()
