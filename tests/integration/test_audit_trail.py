"""The audit trail's everyday edges (Step 11): `audit verify` right after a rotation, a tail cut
from the file by hand while lockboxd runs, readers of a full disk never seeing half a record,
and the modes of the directories lockboxd makes itself. Real lockboxd and lockboxctl; run as
root."""

import json
import os
import signal
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("lbt")  # every account this file adds starts so
U = lt.Users(PREFIX)
ADMIN, ENG = PREFIX + "_adm", PREFIX + "_eng"


def setUpModule():
    U.add(ADMIN)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


class TrailCase(unittest.TestCase):
    def setUp(self):
        self.d = lt.Daemon(tenants={"contoso": [ADMIN]}).start()

    def tearDown(self):
        self.d.close()

    def health(self):
        return self.d.health()

    def verify(self, *files):
        argv = [lt.LOCKBOXCTL, "--socket", self.d.socket, "audit", "verify"]
        for f in files:
            argv += ["--file", f]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def file_some(self, n, prefix):
        # Each asked by someone else, so each is a request of its own.
        return [self.d.file_request(ENG, "%s %d" % (prefix, i), requester="%s%d" % (prefix, i))
                for i in range(n)]


class Rotation(TrailCase):
    def rotate(self):
        rotated = self.d.audit_path + "-20261201-1764547200"
        os.rename(self.d.audit_path, rotated)  # what logrotate does (dateext, nocreate)
        self.d.hup()
        head = self.health()["audit_seq"]
        lt.wait_until(lambda: self.health()["audit_file_first_seq"] == head + 1, 10,
                      "lockboxd to reopen the file")
        return rotated

    def test_verify_right_after_a_rotation_is_clean(self):
        self.file_some(3, "before")
        rotated = self.rotate()
        out = self.verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("empty since its rotation", out.stdout)
        self.assertIn(os.path.basename(rotated), out.stdout)
        # Once the next record lands, the live file alone verifies as before.
        self.file_some(1, "after")
        out = self.verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_a_rotated_file_that_lost_its_tail_still_fails(self):
        self.file_some(3, "before")
        rotated = self.rotate()
        with open(rotated, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(rotated, "wb") as f:
            f.writelines(lines[:-1])
        out = self.verify()
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("tail removed", out.stderr)


class TailCut(TrailCase):
    def test_a_tail_cut_by_hand_is_restored_from_the_database(self):
        self.file_some(4, "cut")
        with open(self.d.audit_path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(self.d.audit_path, "wb") as f:  # someone removes the last two records
            f.writelines(lines[:-2])
        self.file_some(1, "next")
        final = self.d.audit_lines()
        self.assertEqual([json.loads(l)["seq"] for l in final], list(range(1, 6)))
        ok, _ = lt.verify_chain(final)
        self.assertTrue(ok, "the chain was not restored")
        self.assertEqual(self.verify().returncode, 0)
        log = self.d.stderr()
        self.assertIn("event=audit.file_changed", log)
        self.assertIn("event=audit.caught_up", log)
        self.assertTrue(self.health()["audit_ok"])


class FullDisk(unittest.TestCase):
    def test_readers_never_see_half_a_record(self):
        d = lt.Daemon(tenants={"contoso": [ADMIN]})
        log_dir = os.path.dirname(d.audit_path)
        d.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount -t tmpfs -o size=64k,mode=755 tmpfs "%s" && exec "$@"' % log_dir,
                     "sh"]
        reader = None
        try:
            d.start()
            # A reader in lockboxd's mount namespace: it reads the file over and over and
            # reports a read that ends inside a line.
            reader = subprocess.Popen(
                ["nsenter", "-t", str(d.pid), "-m", sys.executable, "-c",
                 "import sys, time\n"
                 "end = time.monotonic() + float(sys.argv[2]); torn = 0; reads = 0\n"
                 "while time.monotonic() < end:\n"
                 "    data = open(sys.argv[1], 'rb').read(); reads += 1\n"
                 "    torn += bool(data) and not data.endswith(b'\\n')\n"
                 "print(reads, torn)\n", d.audit_path, "4"],
                stdout=subprocess.PIPE, text=True)
            subprocess.run(["nsenter", "-t", str(d.pid), "-m", "dd", "if=/dev/zero",
                            "of=%s/filler" % log_dir, "bs=1k"], capture_output=True)
            full_seen = False
            i = 0
            while reader.poll() is None:  # for the reader's 4 s: records that fail, retried
                d.call("POST", "/v1/requests", {"reason": "x" * 900 + str(i), "user": ENG,
                                                "requester": "h%d" % i})
                full_seen = full_seen or d.call("GET", "/v1/health")[1]["audit_ok"] is False
                i += 1
            reads, torn = map(int, reader.communicate(timeout=30)[0].split())
            self.assertTrue(full_seen, "the audit file never ran out of room")
            self.assertGreater(reads, 100)
            self.assertEqual(torn, 0, "a reader saw half a record")
        finally:
            if reader is not None:
                lt.terminate(reader, sig=signal.SIGKILL)
            d.close()


class Directories(unittest.TestCase):
    def test_directories_lockboxd_makes_get_the_packages_modes(self):
        d = lt.Daemon(tenants={"contoso": [ADMIN]})
        try:
            d.socket = os.path.join(d.dir, "run", "new", "lockboxd.sock")
            d.pam_socket = os.path.join(d.dir, "run", "new", "pam.sock")
            d.audit_path = os.path.join(d.dir, "log", "new", "audit.jsonl")
            d.db_path = os.path.join(d.dir, "lib", "new", "lockbox.db")
            d.write_config()
            d.start()
            modes = {role: stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
                     for role, path in (("socket", d.socket), ("log", d.audit_path),
                                        ("state", d.db_path))}
            self.assertEqual(modes, {"socket": 0o755, "log": 0o750, "state": 0o700})
            out = lt.run_as(ENG, [lt.LOCKBOXCTL, "--socket", d.socket, "list"])
            self.assertEqual(out.returncode, 0, out.stderr)
        finally:
            d.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_audit_trail.py must run as root")
        sys.exit(1)
    unittest.main()
