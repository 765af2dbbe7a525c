"""Shared fixtures for Lockbox's real-process tests (stdlib only).

What it gives a test:
  BUILD, LOCKBOXD, LOCKBOXCTL, PAM_MODULE, PAM_HARNESS  paths of the built artefacts
  Daemon(...)            a real lockboxd on a temporary socket, database and audit file
                         (store="sqlite" | "postgresql"; default: $LOCKBOX_TEST_STORE or sqlite)
    .start() .stop() .kill9() .restart() .pid .socket .pam_socket .dir .audit_path .db_path
    .conf_path   (.socket: the HTTP API; .pam_socket: the login socket the module uses)
    .call(method, path, body=None, as_user=None) -> (status, json)   HTTP over the socket
    .raw(bytes, as_user=None) -> bytes                                 raw bytes to the socket
    .audit_lines() -> [str]    .db(sql, args=()) -> rows   .syslog (SyslogListener or None)
    .store .pg (lockbox_pg.Database, on PostgreSQL) .store_dsn (written as [store] dsn)
    (database=other.pg: a second lockboxd on the same database, e.g. lockbox_pg.Existing(dsn)
     for a cluster of the test's own; the Daemon that made a database drops it at close)
    .wait_pending(user) -> the user's pending request, once filed
    .health() -> /v1/health's object   .wait_waiting(n) until n long-polls are held
    .answers() -> whether /v1/health answers now (for wait_until after a flood)
  unique_prefix(base)    base + a part unique to this run: the start of every account name
  account_tool(argv)     useradd/groupadd/userdel/groupdel, retried while another holds the lock
  Users(prefix)          creates/removes real accounts and groups:  .add(name, groups=[])
  SyslogListener(path)   a datagram socket that collects syslog(3) lines
  in_namespace(cmd, binds) -> argv: run cmd inside `unshare --mount` with bind mounts
  run_as(user, argv, **kw) -> CompletedProcess   (runuser -u user -- argv)
  wait_until(predicate, timeout, what) -> the predicate's truthy value, or WaitTimeout
  terminate(proc, timeout, sig, group) -> exit status: SIGTERM, then SIGKILL, by PID
  read_until(fd, needle, timeout) -> bytes read from fd until needle came (or it closed)
  holds_for(predicate, seconds) -> whether predicate stayed true all along (negative checks)
  STORE, sqlite_only(reason)   the store this run tests; a skip for what only SQLite has

Everything runs as root (CI does). Each fixture stops what it started, by PID.
"""

import atexit
import grp
import http.client
import json
import os
import pwd
import random
import re
import select
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

BUILD = os.path.abspath(os.environ.get(
    "LOCKBOX_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build")))
LOCKBOXD = os.path.join(BUILD, "lockboxd", "lockboxd")
LOCKBOXCTL = os.path.join(BUILD, "lockboxctl", "lockboxctl")
PAM_MODULE = os.path.join(BUILD, "pam_lockbox", "pam_lockbox.so")
PAM_HARNESS = os.path.join(BUILD, "pam_lockbox", "pam_harness")
SANITIZED = os.environ.get("LOCKBOX_SANITIZED") == "1"
# ctest runs each lifecycle suite once more with LOCKBOX_TEST_STORE=postgresql (<name>_pg).
STORE = os.environ.get("LOCKBOX_TEST_STORE") or "sqlite"
STORES = ("sqlite", "postgresql")
if STORE not in STORES:
    raise ValueError("LOCKBOX_TEST_STORE=%r: one of %s" % (STORE, ", ".join(STORES)))


def sqlite_only(reason):
    """Skips a test or class in the PostgreSQL run of a suite, saying why it does not apply."""
    return unittest.skipIf(STORE == "postgresql", "SQLite only: " + reason)


class WaitTimeout(AssertionError):
    """A wait_until() that gave up: an AssertionError, so the test fails (not errors)."""


def wait_until(predicate, timeout=10.0, what=None, step=0.05):
    """Calls predicate() every `step` s until it returns something truthy, and returns that.
    After `timeout` s raises WaitTimeout naming `what` (a string, or a function that makes one
    then, to show late state) and the last value: a wait's result never goes unchecked."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            if callable(what):
                what = what()
            raise WaitTimeout("waited %gs for %s; last saw %r" % (
                timeout, what or getattr(predicate, "__qualname__", "a condition"), value))
        time.sleep(min(step, left))


def holds_for(predicate, seconds, step=0.05):
    """A negative check, where time itself is under test ("nothing happens within X"): True
    if predicate() stayed truthy for `seconds`, False as soon as it is not."""
    try:
        wait_until(lambda: not predicate(), seconds, step=step)
    except WaitTimeout:
        return True
    return False


def read_until(fd, needle, timeout=10.0):
    """Reads a descriptor (a pty's master, a pipe) until `needle` (bytes) has arrived or the
    other end closed; returns everything read. WaitTimeout if neither happens in time."""
    seen = bytearray()

    def arrived():
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the pty's other side is closed
                chunk = b""
            if not chunk:
                return "closed"
            seen.extend(chunk)
        return needle in seen
    wait_until(arrived, timeout, lambda: "%r on the descriptor (read: %r)" % (needle, bytes(seen)),
               step=0)
    return bytes(seen)


def terminate(proc, timeout=10.0, sig=signal.SIGTERM, group=False):
    """Stops a subprocess.Popen this test started, by its PID: `sig`, then SIGKILL if it is
    still there after `timeout` s. group=True signals its process group instead (a child
    started with start_new_session=True, so that what it forked goes too); sig=0 sends
    nothing and gives it `timeout` s to end by itself. Reaps it and returns its exit status."""
    def send(signum):
        try:
            if group:
                os.killpg(proc.pid, signum)
            else:
                os.kill(proc.pid, signum)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        if sig:
            send(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            proc.wait()
    elif group:
        send(signal.SIGKILL)  # the leader is gone; what it forked may not be
    return proc.returncode


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("lockboxd", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def drop_to(user):
    """In a child process: become `user` with all its groups (SO_PEERCRED then says so)."""
    pw = pwd.getpwnam(user)
    os.initgroups(user, pw.pw_gid)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def _in_child(user, fn):
    """Runs fn() in a forked child as `user`; returns its JSON-able result."""
    if user is None or user == "root":
        return fn()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 0
        try:
            drop_to(user)
            out = {"ok": fn()}
        except BaseException as exc:  # report any failure to the parent
            out = {"error": repr(exc)}
            code = 1
        data = json.dumps(out).encode()
        os.write(wfd, data)
        os._exit(code)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks).decode())
    if "error" in out:
        raise RuntimeError("as %s: %s" % (user, out["error"]))
    result = out["ok"]
    return tuple(result) if isinstance(result, list) and len(result) == 2 else result


def http_call(socket_path, method, path, body=None, timeout=30, raw_body=None):
    conn = UnixHTTPConnection(socket_path, timeout=timeout)
    try:
        payload = raw_body if raw_body is not None else (
            None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data.decode()) if data else None
        except ValueError:
            parsed = {"_raw": data.decode(errors="replace")}
        return [resp.status, parsed]
    finally:
        conn.close()


class SyslogListener:
    """Collects datagrams sent to a Unix socket the way syslog(3) sends them."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.lines = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.lines.append(data.decode("utf-8", errors="replace"))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def wait_for(self, needle, timeout=5.0):
        """The lines containing `needle` once there is one, or [] after `timeout` s (for a
        test that asserts on the lines, or on their absence)."""
        try:
            return wait_until(lambda: [l for l in self.snapshot() if needle in l], timeout)
        except WaitTimeout:
            return []

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


_devlog_registered = False
_DEVLOG_USERS = "/run/lockbox-tests-devlog.users"


def _ensure_dev_log_target():
    """A bind mount needs an existing file at /dev/log. These machines have none; an empty
    placeholder is created while any test process needs it and removed by the last one (a
    count under flock: removing it would drop the bind mounts of tests still running)."""
    global _devlog_registered
    if _devlog_registered:
        return
    import fcntl
    with open(_DEVLOG_USERS, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        users = int(f.read() or "0")
        if not os.path.lexists("/dev/log"):
            open("/dev/log", "w").close()
        f.seek(0)
        f.truncate()
        f.write(str(users + 1))
    _devlog_registered = True
    atexit.register(_release_dev_log)


def _release_dev_log():
    import fcntl
    with open(_DEVLOG_USERS, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        users = max(int(f.read() or "1") - 1, 0)
        f.seek(0)
        f.truncate()
        f.write(str(users))
        try:
            if users == 0 and os.path.isfile("/dev/log") and os.path.getsize("/dev/log") == 0:
                os.unlink("/dev/log")
        except OSError:
            pass


def in_namespace(argv, binds=(), devlog=None):
    """argv run in a private mount namespace with `binds` [(src, dst)] and, if devlog is a
    socket path, /dev/log bound to it. The returned argv execs, so its PID is the program's."""
    mounts = list(binds)
    if devlog is not None:
        _ensure_dev_log_target()
        mounts.append((devlog, "/dev/log"))
    script = "".join('mount --bind "%s" "%s" && ' % (src, dst) for src, dst in mounts)
    script += 'exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + list(argv)


def process_alive(pid):
    """Is pid a live process (not gone, not a zombie)? For tests that end sessions."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def require_root_and(*paths, why="adds users"):
    """setUpModule's guard: skip (with the reason) unless root and every path is built."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("runs as root (%s)" % why)
    for path in paths:
        if not os.path.exists(path):
            raise unittest.SkipTest("missing: %s" % path)


RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")  # anything but \t and \n


class CliAssertions:
    """What lockboxctl's suites assert of a finished command (a unittest.TestCase mixin)."""

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, "stdout=%r stderr=%r" % (result.stdout,
                                                                        result.stderr))
        return result

    def assert_fails(self, result, code, *needles):
        """Exit `code`, exactly one line on stderr from lockboxctl, holding each needle, with
        no raw control character in it."""
        self.assertEqual(result.returncode, code, "stdout=%r stderr=%r" % (result.stdout,
                                                                           result.stderr))
        self.assertEqual(result.stderr.count("\n"), 1, "not one line: %r" % result.stderr)
        self.assertTrue(result.stderr.startswith("lockboxctl"), result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stderr)
        self.assertIsNone(RAW_CONTROL.search(result.stderr), repr(result.stderr))
        return result


def run_as(user, argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(["runuser", "-u", user, "--"] + list(argv), **kw)


def unique_prefix(base, tag_length=5):
    """`base` (a test file's own short prefix) plus a part unique to this run, e.g.
    "lbd" -> "lbdk3x9q": two runs of one file, or two files, never share an account name."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    tag = "".join(random.SystemRandom().choice(alphabet) for _ in range(tag_length))
    prefix = base + tag
    if not _ACCOUNT_NAME.match(prefix) or len(prefix) > 16:
        raise ValueError("account prefix %r: a lower-case letter first, at most 11 chars" % base)
    return prefix


# What useradd accepts without --badname, and its length limit.
_ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_LOCK_RETRY_SECONDS = 30


def account_tool(argv, check=True):
    """Runs useradd/groupadd/userdel/groupdel. Other test runs change /etc/passwd and
    /etc/group too: a tool that finds them locked ("cannot lock ...; try again later", exit 1
    or 10) is run again until the lock is free."""
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    while True:
        done = subprocess.run(argv, capture_output=True, text=True)
        locked = done.returncode in (1, 10) and "lock" in done.stderr
        if not locked or time.monotonic() >= deadline:
            break
        time.sleep(0.1 + random.random() * 0.2)
    if check and done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), done.returncode, done.stderr))
    return done


class Users:
    """Real local accounts for a test; removed in cleanup(). Every name starts with the
    prefix (from unique_prefix(), so concurrent runs do not share accounts)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.users = []
        self.groups = []

    def _checked(self, name):
        if not name.startswith(self.prefix) or not _ACCOUNT_NAME.match(name):
            raise ValueError("account %r: must start with %r, be lower-case and at most "
                             "32 characters" % (name, self.prefix))
        return name

    def group(self, name):
        if name not in self.groups:
            self._checked(name)
            account_tool(["groupdel", name], check=False)
            account_tool(["groupadd", name])
            self.groups.append(name)
        return name

    def add(self, name, groups=(), home=False, gid=None):
        """A user with a group of its own name, or with the existing group `gid` instead."""
        self._checked(name)
        account_tool(["userdel", "-r", name], check=False)
        for g in groups:
            self.group(g)
        argv = ["useradd", "-s", "/bin/bash"] + (["-U"] if gid is None else ["-g", str(gid)])
        argv += ["-m"] if home else ["-M", "-d", "/nonexistent"]
        if groups:
            argv += ["-G", ",".join(groups)]
        account_tool(argv + [name])
        self.users.append(name)
        return name

    def cleanup(self):
        for name in self.users:
            account_tool(["userdel", "-r", "-f", name], check=False)
        for name in self.groups:
            account_tool(["groupdel", name], check=False)
        self.users, self.groups = [], []


class Daemon:
    """A real lockboxd with its own config, socket, database and audit file."""

    def __init__(self, tenant="contoso", tenants=None, request_ttl="12h", access_ttl="12h",
                 max_pending=20, host="testhost", syslog=False, env=None, wrapper=None,
                 tenant_options=None, daemon_extra=None, store=None, database=None,
                 central=False):
        self.store = store or STORE
        if self.store not in STORES:
            raise ValueError("store %r: one of %s" % (self.store, ", ".join(STORES)))
        self.dir = tempfile.mkdtemp(prefix="lbx-")
        os.chmod(self.dir, 0o755)
        for sub in ("run", "lib", "log"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        self.socket = os.path.join(self.dir, "run", "lockboxd.sock")
        self.pam_socket = os.path.join(self.dir, "run", "pam.sock")  # the login socket
        self.db_path = os.path.join(self.dir, "lib", "lockbox.db")
        self.pg = self.store_dsn = None
        self.owns_pg = False
        if database is not None and self.store != "postgresql":
            raise ValueError("database= is for store=\"postgresql\"")
        if self.store == "postgresql":
            self.db_path = None  # nothing may open a SQLite file by mistake
            if database is None:
                import lockbox_pg  # lazily: it starts a cluster; pg_cluster imports this file
                database = lockbox_pg.Database()
                self.owns_pg = True
            self.pg = database  # shared: several lockboxd on one database (Step 13)
            self.store_dsn = self.pg.dsn()
        self.audit_path = os.path.join(self.dir, "log", "audit.jsonl")
        self.conf_path = os.path.join(self.dir, "lockboxd.conf")
        self.log_path = os.path.join(self.dir, "lockboxd.stderr")
        self.tenant = tenant
        self.host = host
        self.tenants = tenants if tenants is not None else {tenant: ["alice"]}
        self.request_ttl, self.access_ttl, self.max_pending = request_ttl, access_ttl, max_pending
        self.env = env
        self.tenant_options = tenant_options or {}
        self.daemon_extra = daemon_extra or {}
        self.wrapper = wrapper or []
        self.proc = None
        self.syslog = SyslogListener(os.path.join(self.dir, "devlog")) if syslog else None
        self.remote_section = ""
        if central:
            self._make_central()
        self.write_config()

    def _make_central(self):
        """role = central, and the [remote] listener it needs on a free loopback port with a
        CA of its own: for suites where one person files for several hosts, which only a
        central accepts since Step 15 (a lockboxd on a host files for that host only). Each
        other tenant owns the hosts NAME-* ("fabrikam-db1"), the daemon's own tenant every
        other host: its section is written last, as a host belongs to the first tenant whose
        patterns match it."""
        from lockbox_certs import TestCA  # lazily: only central suites make certificates
        self.daemon_extra = dict(self.daemon_extra, role="central")
        self.tenant_options = {
            name: dict(self.tenant_options.get(name, {}),
                       hosts="*" if name == self.tenant else "%s-*" % name)
            for name in self.tenants}
        self.tenants = dict(sorted(self.tenants.items(), key=lambda kv: kv[0] == self.tenant))
        ca = TestCA(os.path.join(self.dir, "tls"))
        crt, key = ca.server("server")
        self.port = free_port()
        self.remote_section = remote_section(self.port, crt, key, ca.cert)

    def write_config(self, extra=""):
        lines = ["[daemon]",
                 "socket = %s" % self.socket,
                 "pam_socket = %s" % self.pam_socket]
        if self.db_path is not None:
            lines.append("database = %s" % self.db_path)
        lines += ["audit_log = %s" % self.audit_path,
                  "tenant = %s" % self.tenant,
                  "host = %s" % self.host,
                  "request_ttl = %s" % self.request_ttl,
                  "access_ttl = %s" % self.access_ttl,
                  "max_pending_per_user = %d" % self.max_pending]
        lines += ["%s = %s" % kv for kv in self.daemon_extra.items()] + [""]
        if self.store == "postgresql":
            lines += ["[store]", "backend = postgresql", "dsn = %s" % self.store_dsn, ""]
        for name, admins in self.tenants.items():
            lines += ["[tenant %s]" % name, "admins = %s" % ", ".join(admins)]
            lines += ["%s = %s" % kv for kv in self.tenant_options.get(name, {}).items()] + [""]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + self.remote_section + extra)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        argv = self.wrapper + [LOCKBOXD, "-c", self.conf_path, "-f"]
        if self.syslog:
            return in_namespace(argv, devlog=self.syslog.path)
        return argv

    def start(self, timeout=10.0):
        if self.pg:
            self.pg.create()
        env = dict(os.environ)
        env.update(self.env or {})
        self._stderr = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv(), stdout=self._stderr, stderr=self._stderr, env=env)

        try:
            wait_until(self.answers, timeout, step=0.02)
        except WaitTimeout:
            raise RuntimeError("lockboxd did not answer within %ss: %s" % (timeout, self.stderr()))
        return self

    def answers(self):
        """Whether /v1/health answers 200 now: False while the socket is missing, refuses or
        has a full backlog (EAGAIN); RuntimeError if lockboxd has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError("lockboxd exited with %s: %s" % (self.proc.returncode,
                                                                self.stderr()[-4000:]))
        try:
            return self.call("GET", "/v1/health", timeout=2)[0] == 200
        except OSError:
            return False

    def stderr(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        code = terminate(self.proc, timeout, sig)
        self.proc = None
        self._stderr.close()
        # A clean SIGTERM shutdown exits 0; anything else (a crash, a sanitizer report, a
        # leak) fails the test that owns this daemon.
        if sig == signal.SIGTERM and code != 0:
            raise RuntimeError("lockboxd exited with %s after SIGTERM: %s" % (code, self.stderr()[-4000:]))
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def hup(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def close(self):
        try:
            self.stop()
        finally:
            if self.syslog:
                self.syslog.close()
            subprocess.run(["rm", "-rf", self.dir])
            if self.pg and self.owns_pg:
                self.pg.drop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- talking to it ---
    def call(self, method, path, body=None, as_user=None, timeout=30, raw_body=None):
        sock = self.socket
        return _in_child(as_user, lambda: http_call(sock, method, path, body, timeout, raw_body))

    def raw(self, data, as_user=None, timeout=5):
        sock_path = self.socket

        def send():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(sock_path)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                # The daemon may refuse junk before reading all of it; what
                # it answered (if anything) is still in the receive buffer.
                pass
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
            return out.decode("latin-1")
        return _in_child(as_user, send)

    def file_request(self, user, reason="test", as_user="root", **extra):
        body = dict(reason=reason, **extra)
        if user is not None:
            body["user"] = user
        status, obj = self.call("POST", "/v1/requests", body, as_user=as_user)
        if status not in (200, 201):
            raise AssertionError("filing failed: %s %s" % (status, obj))
        return obj

    def health(self):
        status, obj = self.call("GET", "/v1/health")
        if status != 200:
            raise AssertionError("GET /v1/health: %s %s" % (status, obj))
        return obj

    def wait_waiting(self, count, timeout=10):
        """Until /v1/health counts `count` long-polls (lockboxctl wait, a waiting login) held
        in the daemon: the state a test syncs on before it decides, not a sleep."""
        return wait_until(lambda: self.health()["waiting"] == count, timeout,
                          "%d waiting in lockboxd" % count, step=0.02)

    def wait_pending(self, user, timeout=20):
        """The first pending request of `user`, once one is filed (a login files it)."""
        def find():
            status, obj = self.call("GET", "/v1/requests?state=pending&user=%s" % user)
            return obj["requests"][0] if status == 200 and obj["requests"] else None
        return wait_until(find, timeout, "a pending request of %s" % user)

    def audit_lines(self, path=None):
        if path is None and self.pg and self.proc and self.proc.poll() is None:
            self._wait_for_audit_mirror()
        try:
            with open(path or self.audit_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return [l.decode("utf-8") for l in data.split(b"\n") if l]

    def _wait_for_audit_mirror(self, timeout=5.0):
        """On PostgreSQL the audit file mirrors the database's chain within a second (Step 13):
        until the file's last record is the chain head /v1/health reports."""
        def file_seq():
            lines = self.audit_lines(self.audit_path)
            return json.loads(lines[-1])["seq"] if lines else 0
        head = self.health()["audit_seq"]
        wait_until(lambda: file_seq() >= head, timeout,
                   lambda: "the audit file to reach seq %d (at %d)" % (head, file_seq()))

    def audit_events(self):
        return [json.loads(l) for l in self.audit_lines()]

    def db(self, sql, args=()):
        """Rows of one statement with `?` placeholders, on either store; a change is committed
        (on SQLite too, so a test can edit a row while lockboxd is stopped)."""
        if self.pg:
            return self.pg.rows(sql, args)
        con = sqlite3.connect(self.db_path, timeout=10)
        try:
            rows = con.execute(sql, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remote_section(port, certificate, key, client_ca, crl=None):
    """lockboxd.conf's [remote] listening on 127.0.0.1:port, to append to a configuration."""
    text = ("\n[remote]\nlisten = 127.0.0.1:%d\ncertificate = %s\nkey = %s\nclient_ca = %s\n"
            % (port, certificate, key, client_ca))
    return text + ("crl = %s\n" % crl if crl else "")


def login_socket_call(d, message, timeout=60):
    """One message on d's login socket (root's SOCK_SEQPACKET door), as the module sends it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(timeout)
        s.connect(d.pam_socket)
        s.send(json.dumps(message).encode())
        return json.loads(s.recv(65536))


def record_hash(line):
    """A record's hash in the chain, re-implemented from docs/DESIGN.md for cross-checking:
    format 1 hashes the line's bytes; format 2 ({"v":2,...) its content, tenant tag and
    prev_hash."""
    import hashlib

    def sha(text):
        return hashlib.sha256(text.encode()).hexdigest()
    if not line.startswith('{"v":2,'):
        return sha(line)
    rec = json.loads(line)
    member = ',"prev_hash":"%s"}' % rec["prev_hash"]
    assert line.endswith(member), line
    content = sha(line[:-len(member)])
    tag = sha("lockbox-audit-tenant\n%d\n%s" % (rec["seq"], rec["tenant"] or ""))
    return sha("lockbox-audit-2\n%d\n%s\n%s\n%s" % (rec["seq"], rec["prev_hash"], tag, content))


def verify_chain(lines):
    """Independent re-implementation of the chain rule, for cross-checking the daemon."""
    prev = "0" * 64
    expect = None
    for line in lines:
        rec = json.loads(line)
        if expect is not None and rec["seq"] != expect:
            return False, "seq %s where %s expected" % (rec["seq"], expect)
        if rec["prev_hash"] != prev:
            return False, "seq %s does not chain" % rec["seq"]
        prev = record_hash(line)
        expect = rec["seq"] + 1
    return True, prev
