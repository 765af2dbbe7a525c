"""The environment the module and the daemon run in. (1) pam_lockbox inside the real sudo,
invoked with a hostile environment (proxies, SSLKEYLOGFILE, HOME with a .curlrc, LD_*,
LOCKBOX_SOCKET pointing at a daemon that allows everything): the outcome is the same as with a
clean environment, nothing is contacted and no file is created. sudo runs in a private mount
namespace over a copy of /etc/pam.d and a private /etc/sudoers (testing.md). (2) The wall clock
set back under lockboxd (libfaketime): access still ends on time."""

import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

sys.path.insert(0, os.path.join(sl.HERE, "..", "e2e"))
from e2e_lib import PamDir  # noqa: E402  (the e2e suite's private pam.d copy)

PREFIX = lt.unique_prefix("lbe")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, ENG, ENG2 = PREFIX + "_adm", PREFIX + "_eng", PREFIX + "_eng2"
SUDO = shutil.which("sudo") or "/usr/bin/sudo"
TRUE = shutil.which("true") or "/usr/bin/true"
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

TRAP_SO = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* Loaded only if something honours LD_PRELOAD/LD_AUDIT in a setuid program: leaves a mark. */
__attribute__((constructor)) static void mark(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/loaded-%d", TRAP_DIR, (int)getpid());
    close(open(path, O_CREAT | O_WRONLY, 0644));
}
unsigned la_version(unsigned v) { mark(); return v; }
"""


def setUpModule():
    U.add(ADMIN)
    U.add(ENG)
    U.add(ENG2)


def tearDownModule():
    U.cleanup()


class ProxyTrap:
    """A TCP listener on 127.0.0.1 that counts who connects (a proxy nobody should use)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


def tree(path):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(path) for f in files)


class SudoEnvironment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if lt.SANITIZED:
            raise unittest.SkipTest("sanitizer build: an ASan pam_lockbox.so cannot be loaded "
                                    "into the non-ASan sudo; the plain build runs this")
        if not os.path.exists(SUDO) or not os.path.exists(lt.PAM_MODULE):
            raise unittest.SkipTest("needs sudo and the built module")
        cls.tmp = sl.make_tmp("lbx-env-")
        cls.d = lt.Daemon(tenants={sl.TENANT: [ADMIN]}, host=sl.HOST).start()
        req = cls.d.file_request(ENG, "approved ahead")
        status, _ = cls.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ADMIN)
        assert status == 200
        cls.pamdir = PamDir(cls.tmp)
        cls.pamdir.write("sudo", "auth     required pam_permit.so\n"
                                 "account  required %s socket=%s wait=0\n"
                                 "account  required pam_permit.so\n"
                                 "session  required pam_permit.so\n" % (lt.PAM_MODULE, cls.d.pam_socket))
        cls.sudoers = os.path.join(cls.tmp, "sudoers")
        with open(cls.sudoers, "w") as f:
            f.write("Defaults !lecture\nDefaults !use_pty\nroot ALL=(ALL) ALL\n"
                    "%s,%s ALL=(root) NOPASSWD: %s\n" % (ENG, ENG2, TRUE))
        os.chmod(cls.sudoers, 0o440)
        cls.trap = cls.make_traps()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.close()
        cls.fake.close()
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_traps(cls):
        trap = os.path.join(cls.tmp, "trap")
        for sub in ("", "home", "lib", "tmp"):
            os.makedirs(os.path.join(trap, sub), exist_ok=True)
            os.chmod(os.path.join(trap, sub), 0o777)
        src = os.path.join(trap, "trap.c")
        with open(src, "w") as f:
            f.write(TRAP_SO)
        sl.compile_c(src, os.path.join(trap, "lib", "trap.so"), shared=True,
                     extra=['-DTRAP_DIR="%s"' % trap])
        cls.proxy = ProxyTrap()
        proxy = "http://127.0.0.1:%d" % cls.proxy.port
        with open(os.path.join(trap, "home", ".curlrc"), "w") as f:
            f.write("proxy = %s\n" % proxy)
        with open(os.path.join(trap, "home", ".netrc"), "w") as f:
            f.write("machine lockboxd login x password y\n")
        # A "lockboxd" that allows everyone, where LOCKBOX_SOCKET points.
        allow = {"status": 200, "allowed": True, "request": {
            "id": "b" * 32, "state": "approved", "tenant": sl.TENANT, "host": sl.HOST, "user": ENG2,
            "reason": "x", "service": "sudo", "rhost": None, "requested_by": "root",
            "created_at": "2026-01-01T00:00:00Z", "decided_at": "2026-01-01T00:00:01Z",
            "decided_by": ADMIN, "comment": None, "expires_at": "2099-01-01T00:00:00Z"}}
        cls.fake = sl.FakeDaemon(cls.tmp, "reply", body=json.dumps(allow))
        cls.hostile = {
            "http_proxy": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "HTTPS_PROXY": proxy,
            "ALL_PROXY": proxy, "all_proxy": proxy, "NO_PROXY": "", "no_proxy": "",
            "SSLKEYLOGFILE": os.path.join(trap, "keylog"),
            "HOME": os.path.join(trap, "home"), "CURL_HOME": os.path.join(trap, "home"),
            "XDG_CONFIG_HOME": os.path.join(trap, "home"), "TMPDIR": os.path.join(trap, "tmp"),
            "LD_PRELOAD": os.path.join(trap, "lib", "trap.so"),
            "LD_AUDIT": os.path.join(trap, "lib", "trap.so"),
            "LD_LIBRARY_PATH": os.path.join(trap, "lib"),
            "CURL_CA_BUNDLE": os.path.join(trap, "ca.pem"),
            "LOCKBOX_SOCKET": cls.fake.socket,
        }
        return trap

    def sudo(self, user, env):
        argv = ["runuser", "-u", user, "--", "env"] + ["%s=%s" % kv for kv in env.items()] + \
               [SUDO, "-n", TRUE]
        argv = lt.in_namespace(argv, binds=[self.pamdir.bind(), (self.sudoers, "/etc/sudoers")])
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def events(self, user, name):
        return sum(1 for e in self.d.audit_events() if e["user"] == user and e["event"] == name)

    def test_hostile_environment_changes_nothing(self):
        before = tree(self.trap)
        outcomes = {}
        for user in (ENG, ENG2):
            for label, env in (("clean", {}), ("hostile", self.hostile)):
                proc = self.sudo(user, env)
                outcomes[(user, label)] = proc.returncode
                self.assertNotIn("Lockbox", proc.stderr, "sudo is silent (PAM_SILENT)")
        self.assertEqual(outcomes[(ENG, "clean")], 0, "control: the approved user passes")
        self.assertNotEqual(outcomes[(ENG2, "clean")], 0, "control: the other user is refused")
        self.assertEqual(outcomes[(ENG, "hostile")], outcomes[(ENG, "clean")])
        self.assertEqual(outcomes[(ENG2, "hostile")], outcomes[(ENG2, "clean")])
        self.assertEqual(self.events(ENG, "login.allowed"), 2)
        self.assertEqual(self.events(ENG2, "login.denied"), 2)
        self.assertEqual(self.events(ENG2, "request.created"), 1, "the second login reused it")
        self.assertEqual(self.proxy.connections, 0, "the module used a proxy")
        self.assertEqual(self.fake.requests(), [], "the module read LOCKBOX_SOCKET")
        self.assertEqual(tree(self.trap), before, "a file was created from the environment")


class ClockSetBack(unittest.TestCase):
    """libfaketime moves lockboxd's wall clock (FAKETIME_TIMESTAMP_FILE, re-read on every call)
    but not CLOCK_BOOTTIME, like `date -s` would."""

    def setUp(self):
        if not os.path.exists(FAKETIME_LIB):
            self.skipTest("libfaketime is not installed")
        self.d = lt.Daemon(tenants={sl.TENANT: [ADMIN]}, host=sl.HOST, access_ttl="1h")
        self.offset_file = os.path.join(self.d.dir, "faketime")
        self.set_offset(0)
        self.d.env = dict(LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=self.offset_file,
                          FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                          **sl.sanitizer_env())
        self.check_faketime_models_a_clock_change()
        self.d.start()

    def tearDown(self):
        self.d.close()

    def set_offset(self, seconds):
        with open(self.offset_file + ".new", "w") as f:
            f.write("%+d\n" % seconds)
        os.rename(self.offset_file + ".new", self.offset_file)

    def check_faketime_models_a_clock_change(self):
        self.set_offset(-7200)
        probe = ("import time; print(time.time(), time.clock_gettime(time.CLOCK_BOOTTIME))")
        env = dict(os.environ, **{k: v for k, v in self.d.env.items() if k != "ASAN_OPTIONS"})
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        wall, boot = float(out[0]), float(out[1])
        if abs(wall - (time.time() - 7200)) > 60:
            self.skipTest("libfaketime does not move the wall clock here")
        if abs(boot - time.clock_gettime(time.CLOCK_BOOTTIME)) > 60:
            self.skipTest("libfaketime fakes CLOCK_BOOTTIME here: it cannot model `date -s`")
        self.set_offset(0)

    def approve(self, grant):
        req = self.d.file_request(ENG, "clock")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {"for": grant},
                                  as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        return req["id"], time.monotonic()

    def allowed(self):
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG})
        return status == 200 and check["allowed"]

    def daemon_wall_clock(self):
        """The daemon's idea of now, from a request it files (for its own host; a requester
        of its own each time, so a new request rather than the pending one reused)."""
        obj = self.d.file_request(ENG2, "what time is it", host=sl.HOST,
                                  requester="clock%d" % time.monotonic_ns())
        when = datetime.datetime.strptime(obj["created_at"], "%Y-%m-%dT%H:%M:%SZ")
        return when.replace(tzinfo=datetime.timezone.utc).timestamp()

    def assert_ends_on_time(self, rid, approved_at, grant_s):
        self.assertTrue(sl.wait_until(lambda: not self.allowed(), grant_s + 20, step=0.5),
                        "setting the clock back extended access")
        ended_after = time.monotonic() - approved_at
        self.assertGreater(ended_after, grant_s - 2, "access ended early")
        state = self.d.call("GET", "/v1/requests/" + rid)[1]["state"]
        self.assertEqual(state, "expired")
        events = [e["event"] for e in self.d.audit_events() if e["request_id"] == rid]
        self.assertIn("access.expired", events)

    def test_clock_set_back_while_running(self):
        rid, approved_at = self.approve("6s")
        self.assertTrue(self.allowed())
        self.set_offset(-7200)
        self.assertLess(self.daemon_wall_clock(), time.time() - 7000, "the daemon's clock moved")
        self.assert_ends_on_time(rid, approved_at, 6)

    def test_clock_set_back_across_a_restart(self):
        rid, approved_at = self.approve("8s")
        self.d.kill9()
        self.set_offset(-7200)
        self.d.start()
        self.assertLess(self.daemon_wall_clock(), time.time() - 7000)
        self.assertTrue(self.allowed(), "still within the grant")
        self.assert_ends_on_time(rid, approved_at, 8)

    def test_clock_set_forward_ends_access(self):
        rid, _ = self.approve("1h")
        self.assertTrue(self.allowed())
        self.set_offset(2 * 3600)  # past the wall-clock deadline
        self.assertFalse(self.allowed())


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
