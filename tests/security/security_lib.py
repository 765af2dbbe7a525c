"""Helpers for the reliability and security suite (tests/security), on top of
tests/integration/lockbox_testlib.py (stdlib only; run as root).

  SOAK                     True under `make soak` (LOCKBOX_SOAK=1): the long variants
  scaled(short, long)      short normally, long under soak
  proc_stats(pid)          (VmRSS in KiB, open descriptors) of a process
  wait_until, terminate    lockbox_testlib's: poll until true (or fail), stop a child by PID
  conversation(path, data, as_user, follow)  raw bytes on one connection, all replies read
  connect_as(path, uid)    a connected Unix socket whose SO_PEERCRED says uid (seteuid trick)
  http_on(sock, ...)       one HTTP/1.1 exchange on an already connected socket
  ForkedUser(user, fn)     runs fn() in a child as `user`, started now, result at .join()
  FakeDaemon(dir, mode)    a misbehaving "lockboxd" (fake_lockboxd.py) on a Unix socket
  compile_c(src, out, shared)  builds a small test helper with cc
  SYSLOG_*, TENANT ...     shared constants
"""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lockbox_testlib as lt  # noqa: E402,F401  (re-exported for the tests)
from lockbox_testlib import terminate, wait_until  # noqa: E402,F401  (re-exported)

SOAK = os.environ.get("LOCKBOX_SOAK") == "1"
TENANT = "contoso"
HOST = "testhost"


def scaled(short, long):
    return long if SOAK else short


def require_root():
    if os.geteuid() != 0:
        print("the security tests run as root (they add users, mount namespaces, kill -9)")
        sys.exit(1)


def proc_stats(pid):
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def _read_all(sock, timeout, quiet=1.0):
    """Reads until the peer closes, or until it has said something and then stayed quiet for
    `quiet` seconds, or `timeout` passes. Returns (bytes, closed)."""
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, False
        sock.settimeout(min(left, quiet) if out else left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if out:
                return out, False
            continue
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk


def conversation(path, data, as_user=None, follow=None, timeout=5.0):
    """Sends data (then, after a pause, follow) on one connection without half-closing it,
    and reads until the daemon closes or goes quiet. Returns {"replies": [status lines],
    "closed": bool, "raw": text}."""
    def run():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        if follow is not None:
            time.sleep(0.3)
            try:
                s.sendall(follow)
            except OSError:
                pass  # the daemon closed the connection already: what a refusal may do
        out, closed = _read_all(s, timeout)
        s.close()
        text = out.decode("latin-1")
        replies = [l for l in text.split("\r\n") if l.startswith("HTTP/1.")]
        return {"replies": replies, "closed": closed, "raw": text[:2000]}
    return lt._in_child(as_user, run)


def connect_as(path, uid, gid=None):
    """A Unix socket connected while the effective uid is `uid`: the daemon's SO_PEERCRED
    then names that user. Only for a root process; the euid is restored at once."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if uid == 0:
        s.connect(path)
        return s
    old_egid = os.getegid()
    if gid is not None:
        os.setegid(gid)
    os.seteuid(uid)
    try:
        s.connect(path)
    finally:
        os.seteuid(0)
        os.setegid(old_egid)
    return s


def http_on(sock, method, path, body=None, timeout=10.0):
    """One HTTP/1.1 exchange (Connection: close) on a connected socket: (status, json)."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: lockboxd\r\nConnection: close\r\n" % (method, path)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(payload)
    sock.settimeout(timeout)
    sock.sendall(head.encode() + b"\r\n" + payload)
    out, _ = _read_all(sock, timeout)
    sock.close()
    head, _, rest = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(rest.decode()) if rest else None


class ForkedUser:
    """fn() in a child process as `user` (or root), started at once; join() returns its
    JSON-able result. Lets a test act as an attacker while it checks the daemon."""

    def __init__(self, user, fn):
        self.rfd, wfd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.rfd)
            code = 0
            try:
                if user not in (None, "root"):
                    lt.drop_to(user)
                out = {"ok": fn()}
            except BaseException as exc:  # reported to the parent
                out = {"error": repr(exc)}
                code = 1
            os.write(wfd, json.dumps(out).encode())
            os._exit(code)
        os.close(wfd)

    def join(self, timeout=120):
        deadline = time.monotonic() + timeout
        chunks = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise AssertionError("the child did not finish within %ss" % timeout)
            import select
            ready, _, _ = select.select([self.rfd], [], [], left)
            if ready:
                chunk = os.read(self.rfd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        os.close(self.rfd)
        os.waitpid(self.pid, 0)
        self.pid = None
        out = json.loads(b"".join(chunks).decode() or "{}")
        if "error" in out:
            raise AssertionError("child: %s" % out["error"])
        return out.get("ok")

    def kill(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = None


class FakeDaemon:
    """tests/security/fake_lockboxd.py MODE on DIR/fake.sock (DIR must be root-owned 0755 for
    the module to use it). Records what it saw in its .log (one JSON line per request)."""

    counter = itertools.count(1)

    def __init__(self, directory, mode, **options):
        n = next(FakeDaemon.counter)
        self.socket = os.path.join(directory, "fake-%s-%d.sock" % (mode, n))
        self.log = os.path.join(directory, "fake-%s-%d.log" % (mode, n))
        argv = [sys.executable, os.path.join(HERE, "fake_lockboxd.py"), mode, self.socket,
                self.log, json.dumps(options)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: os.path.exists(self.socket + ".ready") or self.proc.poll() is not None,
                   10, "the fake daemon's .ready file")
        if self.proc.poll() is not None:
            raise RuntimeError("fake daemon failed: %s" % self.proc.stderr.read().decode())

    def requests(self):
        try:
            with open(self.log) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def close(self):
        terminate(self.proc, 5)
        self.proc.stderr.close()


def compile_c(source, out, shared=False, extra=()):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler")
    argv = [cc, "-O1", "-Wall", "-o", out, source] + list(extra)
    if shared:
        argv[1:1] = ["-shared", "-fPIC"]
    subprocess.run(argv + ["-ldl"], check=True, capture_output=True)
    return out


def make_tmp(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def sanitizer_env():
    """Extra environment for a preloaded library in front of an ASan-built lockboxd."""
    return {"ASAN_OPTIONS": "verify_asan_link_order=0"} if lt.SANITIZED else {}


def verify_against_daemon(test, d):
    """The audit file verifies, equals the database's audit table line for line, and its end
    is the head that /v1/health reports."""
    lines = d.audit_lines()
    ok, head = lt.verify_chain(lines)
    test.assertTrue(ok, head)
    db_lines = [row[0] for row in d.db("SELECT line FROM audit ORDER BY seq")]
    test.assertEqual(lines, db_lines, "the audit file and the database's audit table differ")
    status, health = d.call("GET", "/v1/health")
    test.assertEqual(status, 200)
    test.assertTrue(health["audit_ok"], health)
    if lines:
        test.assertEqual((health["audit_seq"], health["audit_hash"]),
                         (json.loads(lines[-1])["seq"], head))
    return lines
