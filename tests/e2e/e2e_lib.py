"""Fixtures for the end-to-end tests: a real sshd on 127.0.0.1 with its own config, keys and a
private /etc/pam.d (inside `unshare --mount`), ssh clients driven through pipes or a pty, and
the private pam.d copies for su and sudo. Builds on tests/integration/lockbox_testlib.py.

  require_e2e()                       skips the module when the real callers cannot be used
  PamDir(tmp)                         a copy of /etc/pam.d to bind over /etc/pam.d
  Sshd(tmp, pamdir, devlog, kbd)      sshd -D -e in a private mount namespace, stopped by PID
  UserKey(tmp)                        an ed25519 key pair for the ssh client
  Client(argv)                        a process whose stdout/stderr are collected as they come
  PtyClient(argv)                     a process on a pseudo-terminal (what a person would see)
  requests(d, admin, user)            `lockboxctl --json list` as the admin
  wait_for_request(d, admin, user)    that user's pending request, once filed
  ctl(d, user, *args)                 any lockboxctl command as that user
  events(d, name, user)               audit records, filtered
  record(name, sections)              keeps a client's transcript in BUILD/e2e-transcripts/
  syslog_about(d, id)                 the syslog lines that name a request
"""

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lockbox_testlib as lt  # noqa: E402
from lockbox_testlib import terminate, wait_until  # noqa: E402,F401  (re-exported)

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def require_e2e(*programs):
    """Raises SkipTest (for setUpModule) when the end-to-end tests cannot run here."""
    if lt.SANITIZED:
        raise unittest.SkipTest(
            "sanitizer build: an ASan-instrumented pam_lockbox.so cannot be loaded into the "
            "non-ASan sshd/su/sudo; the plain build runs these tests")
    if os.geteuid() != 0:
        raise unittest.SkipTest("end-to-end tests run as root (they start sshd, add users)")
    for path in (lt.LOCKBOXD, lt.LOCKBOXCTL, lt.PAM_MODULE) + tuple(programs):
        if not os.path.exists(path):
            raise unittest.SkipTest("missing: %s" % path)


def make_tmp(prefix):
    """A root-owned 0755 temporary directory (sshd and the users read files in it)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def free_port():
    """A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, let it go)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def module_line(stack, daemon, options):
    """One PAM line naming the BUILT module by absolute path, talking to the test daemon."""
    return "%-8s required %s socket=%s %s\n" % (stack, lt.PAM_MODULE, daemon.pam_socket, options)


class PamDir:
    """A copy of the machine's /etc/pam.d; tests rewrite services in it, never /etc itself."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "pam.d")
        shutil.copytree("/etc/pam.d", self.path, symlinks=True)

    def write(self, service, text):
        with open(os.path.join(self.path, service), "w") as f:
            f.write(text)

    def read(self, service):
        with open(os.path.join("/etc/pam.d", service)) as f:
            return f.read()

    def add_after(self, service, marker, line):
        """The machine's service file with `line` inserted after the line starting `marker`."""
        out, done = [], False
        for old in self.read(service).splitlines(True):
            out.append(old)
            if not done and old.strip().startswith(marker):
                out.append(line)
                done = True
        if not done:
            out.append(line)
        self.write(service, "".join(out))

    def bind(self):
        return (self.path, "/etc/pam.d")


SHIPPED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "packaging"))
_PLACEMENT = re.compile(r'^# (After|Before) "([^"]+)":\s*$')
_DIRECTIVE = re.compile(r"^(#?)(auth|account|session|password)\s")


def shipped_lines(service, optional=()):
    """The module's lines as packaging/pam.d/SERVICE ships them, as (where, anchor, line):
    every line that is not commented out, and the commented-out ones of the stacks named in
    `optional` (what an administrator uncomments to opt in). Each must say where it goes."""
    out, where = [], None
    with open(os.path.join(SHIPPED, "pam.d", service)) as f:
        for raw in f:
            placement = _PLACEMENT.match(raw)
            if placement:
                where = (placement.group(1), placement.group(2))
                continue
            directive = _DIRECTIVE.match(raw)
            if not directive:
                continue
            if where is None:
                raise AssertionError("%s: %r says not where it goes" % (service, raw))
            commented, stack = directive.group(1) == "#", directive.group(2)
            if not commented or stack in optional:
                out.append((where[0], where[1], raw[1:] if commented else raw))
            where = None
    return out


def install_shipped(pamdir, service, daemon, optional=(), replace=()):
    """The machine's PAM file for `service` with the shipped lines added where they say, the
    module named by the built path and pointed at the test daemon. `replace` holds (old, new)
    pairs applied to the module's lines only (a shorter wait= for one test)."""
    text = pamdir.read(service)
    for where, anchor, line in shipped_lines(service, optional):
        line = line.replace("pam_lockbox.so", "%s socket=%s" % (lt.PAM_MODULE, daemon.pam_socket))
        for old, new in replace:
            line = line.replace(old, new)
        lines = text.splitlines(True)
        at = [i for i, old in enumerate(lines) if old.strip() == anchor]
        if len(at) != 1:
            raise AssertionError("%s: %r found %d times" % (service, anchor, len(at)))
        lines.insert(at[0] + (1 if where == "After" else 0), line)
        text = "".join(lines)
    pamdir.write(service, text)
    return text


def shipped_sshd_config(kbd):
    """packaging/sshd_config.d/lockbox.conf, with its optional keyboard-interactive lines
    uncommented when `kbd` (as its comment tells the administrator to)."""
    with open(os.path.join(SHIPPED, "sshd_config.d", "lockbox.conf")) as f:
        text = f.read()
    if kbd:
        for option in ("KbdInteractiveAuthentication ", "AuthenticationMethods "):
            if ("\n#" + option) not in text:
                raise AssertionError("the shipped sshd config has no optional %s" % option)
            text = text.replace("\n#" + option, "\n" + option)
    return text


class UserKey:
    """An ed25519 key pair for the ssh client, and the authorized_keys file sshd reads."""

    def __init__(self, tmp):
        self.private = os.path.join(tmp, "id_user")
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "lockbox-e2e",
                        "-f", self.private], check=True, capture_output=True)
        with open(self.private + ".pub") as f:
            self.public = f.read()
        self.keys_dir = os.path.join(tmp, "authorized_keys")
        os.mkdir(self.keys_dir, 0o755)

    def authorize(self, user):
        path = os.path.join(self.keys_dir, user)
        with open(path, "w") as f:
            f.write(self.public)
        os.chmod(path, 0o644)


SSHD_CONFIG = """\
Include {shipped}
Port {port}
ListenAddress 127.0.0.1
HostKey {hostkey}
PidFile {pidfile}
AuthorizedKeysFile {keys_dir}/%u
StrictModes no
UsePAM yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
LoginGraceTime 110
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
Banner none
AcceptEnv none
"""


class Sshd:
    """A real sshd on 127.0.0.1:port, its PAM files and /dev/log bound in its own namespace."""

    def __init__(self, tmp, pamdir, key, devlog=None, kbd=False):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        self.dir = os.path.join(tmp, "sshd")
        os.mkdir(self.dir, 0o755)
        self.hostkey = os.path.join(self.dir, "host_ed25519")
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", self.hostkey],
                       check=True, capture_output=True)
        self.port = free_port()
        self.known_hosts = os.path.join(self.dir, "known_hosts")  # the client trusts this key
        with open(self.hostkey + ".pub") as f:
            host_public = f.read().split()
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n" % (self.port, host_public[0], host_public[1]))
        self.config = os.path.join(self.dir, "sshd_config")
        self.log_path = os.path.join(self.dir, "sshd.log")
        # The shipped sshd_config.d/lockbox.conf comes first: sshd keeps the first value it
        # reads, so what the package ships is what this sshd runs with.
        shipped = os.path.join(self.dir, "lockbox.conf")
        with open(shipped, "w") as f:
            f.write(shipped_sshd_config(kbd))
        with open(self.config, "w") as f:
            f.write(SSHD_CONFIG.format(shipped=shipped, port=self.port, hostkey=self.hostkey,
                                       pidfile=os.path.join(self.dir, "sshd.pid"),
                                       keys_dir=key.keys_dir))
        self.pamdir, self.devlog, self.proc = pamdir, devlog, None

    def start(self, timeout=15.0):
        check = subprocess.run([SSHD, "-t", "-f", self.config], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("sshd -t: %s" % check.stderr)
        self._log = open(self.log_path, "a")
        argv = lt.in_namespace([SSHD, "-D", "-e", "-f", self.config],
                               binds=[self.pamdir.bind()], devlog=self.devlog)
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: "Server listening on" in self.log() or self.proc.poll() is not None,
                       timeout, "sshd to listen")
        except lt.WaitTimeout:
            raise RuntimeError("sshd did not start: %s" % self.log())
        if self.proc.poll() is not None:
            raise RuntimeError("sshd exited: %s" % self.log())
        return self

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            terminate(self.proc)
            self._log.close()
        self.proc = None

    def ssh_argv(self, key, user, command=None, batch=True, extra=()):
        """The ssh client: no user or system config, this sshd's host key trusted, only `key`."""
        argv = [SSH, "-F", "/dev/null", "-p", str(self.port), "-i", key.private,
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=%s" % self.known_hosts,
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
                "-o", "ConnectTimeout=10", "-o", "BatchMode=%s" % ("yes" if batch else "no")]
        argv += list(extra) + ["%s@127.0.0.1" % user]
        return argv + ([command] if command is not None else [])


class Client:
    """A child whose stdout and stderr are read as they arrive, so a test can record what was
    shown before and after a decision. Stopped by PID in stop()."""

    def __init__(self, argv, **kw):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, **kw)
        self._out, self._err = [], []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink):
        for chunk in iter(lambda: stream.read1(4096), b""):
            with self._lock:
                sink.append(chunk)

    def stdout(self):
        with self._lock:
            return b"".join(self._out).decode("utf-8", "replace")

    def stderr(self):
        with self._lock:
            return b"".join(self._err).decode("utf-8", "replace")

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout=60):
        code = self.proc.wait(timeout)
        for t in self._threads:
            t.join(5)
        return code

    def stop(self):
        terminate(self.proc)
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


class PtyClient:
    """A child on a new pseudo-terminal (its controlling tty): the ssh client prompts there for
    keyboard-interactive answers exactly as for a person. Output is kept with CRs removed."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: exec at once (the parent has threads)
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self._buf = b""
        self.status = None

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            return None
        self._buf += data
        return True

    def output(self):
        return self._buf.decode("utf-8", "replace").replace("\r", "")

    def expect(self, needle, timeout=20.0, since=0):
        """Reads until `needle` appears in the output from offset `since` on; returns whether
        it did."""
        deadline = time.monotonic() + timeout
        while needle not in self.output()[since:]:
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                return needle in self.output()[since:]
        return True

    def drain(self, seconds):
        """Reads whatever arrives for `seconds` (stops early at end of output)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._read(max(0.0, deadline - time.monotonic())) is None:
                break

    def send(self, text):
        os.write(self.fd, text.encode())

    def running(self):
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = status
        return self.status is None

    def wait(self, timeout=60):
        """Reads to the end and returns the exit code (None if it is still running)."""
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.2):
            pass
        if self.running():
            return None
        return os.waitstatus_to_exitcode(self.status)

    def stop(self):
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            if self.wait(10) is None:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self.status = 0
        if self.fd >= 0:  # stop() may run twice: a test's and tearDown's
            os.close(self.fd)
            self.fd = -1


def ctl(daemon, user, *args, timeout=60):
    return lt.run_as(user, [lt.LOCKBOXCTL, "--socket", daemon.socket] + list(args),
                     timeout=timeout)


def requests(daemon, admin, user=None, state="all"):
    """The requests the admin can see, as `lockboxctl --json list` prints them."""
    args = ["--json", "list", "--state", state] + (["--user", user] if user else [])
    out = ctl(daemon, admin, *args)
    if out.returncode != 0:
        raise AssertionError("lockboxctl list: %s" % out.stderr)
    return json.loads(out.stdout)


def wait_for_request(daemon, admin, user, state="pending", timeout=30.0):
    """The one request of `user` in `state`, once it exists."""
    def found():
        reqs = [r for r in requests(daemon, admin, user, state) if r["user"] == user]
        return reqs[0] if reqs else None
    return wait_until(found, timeout, "a %s request of %s" % (state, user), step=0.2)


def events(daemon, name=None, user=None):
    return [e for e in daemon.audit_events()
            if (name is None or e["event"] == name) and (user is None or e["user"] == user)]


def record(name, sections):
    """Keeps what a client showed, section by section, under BUILD/e2e-transcripts/NAME.txt:
    the raw material of docs/LOGINS.md (`sections` is [(title, text)])."""
    out_dir = os.path.join(lt.BUILD, "e2e-transcripts")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".txt"), "w") as f:
        for title, text in sections:
            f.write("--- %s ---\n%s%s" % (title, text, "" if text.endswith("\n") else "\n"))


def syslog_about(daemon, needle):
    """The syslog lines the test's listener got that mention `needle` (a request id)."""
    return "".join(line.rstrip("\n") + "\n" for line in daemon.syslog.snapshot()
                   if needle in line)
