"""lockboxd under storage faults: a database locked by another process, garbage or corrupt
pages at the database path, a read-only database, and fsync errors on the audit file or the
database (fault_fsync.c, preloaded). Each fault ends in a clear error (at start-up, naming the
file) or a 500/503 with a message while the daemon keeps answering - and never in a grant
that is not on disk. The full-disk case is tests/integration/test_daemon.py
(test_unwritable_audit_file_grants_nothing)."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("lbz")  # every account this file adds starts so
U = lt.Users(PREFIX)
ALICE, ENG = PREFIX + "_alice", PREFIX + "_eng"
TENANTS = {sl.TENANT: [ALICE]}


def setUpModule():
    U.add(ALICE)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


def process_state(pid):
    """The state letter of /proc/PID/stat ("T": stopped)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class FaultCase(unittest.TestCase):
    def setUp(self):
        self.d = lt.Daemon(tenants=TENANTS, host=sl.HOST, syslog=True, max_pending=100)

    def tearDown(self):
        self.d.close()

    def start_fails(self, timeout=30):
        """Starts the daemon expecting it to refuse; returns what it printed this time."""
        before = len(self.d.stderr())
        started = time.monotonic()
        with self.assertRaises(RuntimeError):
            self.d.start(timeout=timeout)
        self.assertLess(time.monotonic() - started, timeout)
        self.d.proc = None
        self.d._stderr.close()
        return self.d.stderr()[before:]

    def file(self, requester):
        """Files for the daemon's own host (the only one it files for); each requester gets a
        request of its own, where one asker's pending request would be reused."""
        return self.d.call("POST", "/v1/requests", {"reason": "fault", "user": ENG,
                                                    "host": sl.HOST, "requester": requester})

    def assert_answering(self):
        status, health = self.d.call("GET", "/v1/health", timeout=15)
        self.assertEqual(status, 200)
        return health

    def assert_refused_clearly(self, status, obj):
        self.assertIn(status, (500, 503), obj)
        self.assertIn(obj["error"], ("internal", "audit_unavailable"))
        self.assertTrue(obj["message"], obj)


class LockedDatabase(FaultCase):
    def test_locked_at_startup_names_the_file(self):
        con = sqlite3.connect(self.d.db_path, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")  # another process holds the database
            err = self.start_fails()
        finally:
            con.close()
        self.assertIn(self.d.db_path, err)
        self.assertIn("locked", err)
        self.d.start()  # released: it starts
        self.assertEqual(self.file("after")[0], 201)

    def test_locked_while_running_refuses_writes_and_keeps_answering(self):
        self.d.start()
        req = self.file("before")[1]
        before = self.d.audit_lines()
        con = sqlite3.connect(self.d.db_path, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            status, obj = self.file("during")
            self.assert_refused_clearly(status, obj)
            status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                      as_user=ALICE, timeout=30)
            self.assert_refused_clearly(status, obj)
            self.assert_answering()
        finally:
            con.close()
        self.assertEqual(self.d.audit_lines(), before, "a refused change reached the audit file")
        self.assertEqual(self.d.call("GET", "/v1/requests/" + req["id"])[1]["state"], "pending")
        logged = self.d.syslog.wait_for("event=store.error")
        self.assertTrue(logged and "locked" in logged[-1], logged)
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
        self.assertEqual(status, 200, obj)
        sl.verify_against_daemon(self, self.d)


class CorruptDatabase(FaultCase):
    def test_garbage_at_the_database_path(self):
        with open(self.d.db_path, "wb") as f:
            f.write(b"not a database\n" + os.urandom(16384))
        err = self.start_fails()
        self.assertIn(self.d.db_path, err)
        self.assertIn("not a database", err)
        self.assertFalse(os.path.exists(self.d.audit_path), "nothing else was touched")

    def corrupt_pages(self):
        self.d.start()
        for i in range(30):
            self.assertEqual(self.file("p%d" % i)[0], 201)
        self.d.stop()
        with open(self.d.db_path, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            for offset in range(4096, size, 8192):  # every other page after the header
                f.seek(offset)
                f.write(os.urandom(4096))

    def test_corrupt_pages_refuse_to_start(self):
        self.corrupt_pages()
        err = self.start_fails()
        self.assertIn("malformed", err)

    def test_corrupt_pages_error_names_the_file(self):
        """KNOWN GAP (lockboxd/journal.c, reported): "cannot read the audit head: database
        disk image is malformed" does not say which file."""
        self.corrupt_pages()
        self.assertIn(self.d.db_path, self.start_fails())


class ReadOnlyDatabase(FaultCase):
    """A database lockboxd cannot write: refused at start-up, naming the file; one that turns
    read-only later refuses every change clearly and grants nothing."""

    def seed(self):
        self.d.start()
        self.assertEqual(self.file("seed")[0], 201)
        self.d.stop()

    def test_read_only_mount(self):
        self.seed()
        lib = os.path.dirname(self.d.db_path)
        self.d.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && '
                          'exec "$@"', lib]
        # Without its -wal/-shm files SQLite cannot open a WAL database on a read-only mount:
        # start-up fails naming the file. (With them it opens read-only: refused changes.)
        err = self.start_fails()
        self.assertIn(self.d.db_path, err)
        self.assertIn("unable to open", err)
        self.d.wrapper = []
        self.d.start()
        self.assertEqual(self.file("after")[0], 201)

    def test_store_errors_are_logged_with_their_reason(self):
        """A database that turns read-only while lockboxd runs: changes are refused clearly
        and syslog names SQLite's reason (kept from before the rollback)."""
        self.seed()
        self.d.start()
        for path in (self.d.db_path, self.d.db_path + "-wal"):
            subprocess.run(["chattr", "+i", path], check=True)
        try:
            self.assert_refused_clearly(*self.file("ro"))
            lines = self.d.syslog.wait_for("event=store.error")
            self.assertTrue(lines, self.d.syslog.snapshot())
            self.assertNotIn("not an error", lines[-1])
            self.assert_answering()
        finally:
            for path in (self.d.db_path, self.d.db_path + "-wal"):
                subprocess.run(["chattr", "-i", path], check=True)
            self.d.stop()

    def test_read_only_database_is_refused_at_startup(self):
        """KNOWN GAP (lockboxd/store.c, reported): store_open() does not check
        sqlite3_db_readonly(), so a read-only database starts a daemon that reports
        "status": "ok" and then refuses every change. It should refuse to start, naming
        the file."""
        self.seed()
        subprocess.run(["chattr", "+i", self.d.db_path], check=True)
        try:
            self.assertIn(self.d.db_path, self.start_fails())
        finally:
            subprocess.run(["chattr", "-i", self.d.db_path], check=True)


class FsyncErrors(FaultCase):
    """fsync()/fdatasync() failing with EIO (fault_fsync.c preloaded into lockboxd)."""

    def setUp(self):
        super().setUp()
        shim = sl.compile_c(os.path.join(sl.HERE, "fault_fsync.c"),
                            os.path.join(self.d.dir, "fault_fsync.so"), shared=True)
        self.control = os.path.join(self.d.dir, "fault")
        self.d.env = dict(LD_PRELOAD=shim, LOCKBOX_FAULT_CONTROL=self.control,
                          **sl.sanitizer_env())
        self.d.start()

    def fail_fsync_of(self, fragment):
        with open(self.control, "w") as f:
            f.write(fragment)

    def heal(self):
        os.unlink(self.control)

    def test_audit_fsync_error_grants_nothing(self):
        req = self.file("target")[1]
        self.fail_fsync_of("audit.jsonl")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
        self.assertEqual(status, 503, obj)
        self.assertIn("audit file", obj["message"])
        self.assertFalse(self.assert_answering()["audit_ok"])
        for _ in range(3):
            status, check = self.d.call("POST", "/v1/access/check", {"user": ENG, "host": sl.HOST})
            self.assertFalse(status == 200 and check["allowed"], (status, check))
        self.assertTrue(self.d.syslog.wait_for("event=audit.write_failed"))
        lines = self.d.audit_lines()
        self.assertFalse(any('"request.approved"' in l for l in lines),
                         "a record whose fsync failed stayed in the file")
        self.heal()
        self.assertTrue(sl.wait_until(lambda: self.d.call("GET", "/v1/health")[1]["audit_ok"], 15),
                        "the daemon does not retry the audit file")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
        self.assertIn(status, (200, 409), obj)  # the first approval was committed, or now
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG, "host": sl.HOST})
        self.assertEqual((status, check["allowed"]), (200, True))
        events = [e["event"] for e in self.d.audit_events() if e["request_id"] == req["id"]]
        self.assertEqual(events.count("request.approved"), 1, events)
        sl.verify_against_daemon(self, self.d)

    def test_sighup_does_not_release_a_login_whose_record_failed(self):
        """logrotate's SIGHUP reopens the audit file, which flushes first. When that flush
        fails, a login answered in the same loop round must still hear 503, not 'allowed'
        from the round's own flush, which found nothing left to flush."""
        req = self.file("target")[1]
        self.assertEqual(self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                     as_user=ALICE)[0], 200)
        pid = self.d.pid
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(15)
            s.connect(self.d.pam_socket)
            s.send(json.dumps({"op": "describe"}).encode())
            self.assertEqual(json.loads(s.recv(16384))["status"], 200)  # accepted, watched
            self.fail_fsync_of("audit.jsonl")
            # Stopped, lockboxd sees the login's check and the SIGHUP in one batch of events,
            # in that order: the check records login.allowed, the SIGHUP's flush fails.
            os.kill(pid, signal.SIGSTOP)
            try:
                self.assertTrue(sl.wait_until(lambda: process_state(pid) == "T", 10))
                s.send(json.dumps({"op": "check", "user": ENG}).encode())
                os.kill(pid, signal.SIGHUP)
            finally:
                os.kill(pid, signal.SIGCONT)
            reply = json.loads(s.recv(16384))
        self.assertFalse(reply["status"] == 200 and reply.get("allowed"), reply)
        self.assertEqual((reply["status"], reply["error"]), (503, "audit_unavailable"), reply)
        self.heal()
        self.assertTrue(sl.wait_until(lambda: self.d.call("GET", "/v1/health")[1]["audit_ok"], 15))
        sl.verify_against_daemon(self, self.d)

    def test_database_fsync_error_acknowledges_nothing(self):
        req = self.file("target")[1]
        self.fail_fsync_of("lockbox.db")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
        self.assert_refused_clearly(status, obj)
        self.assert_refused_clearly(*self.file("during"))
        status, check = self.d.call("POST", "/v1/access/check", {"user": ENG, "host": sl.HOST})
        self.assertFalse(status == 200 and check["allowed"], (status, check))
        # Still answering: while changes wait to become durable (group commit), every reply
        # is held and then refused with a 503 that says why - health included.
        status, health = self.d.call("GET", "/v1/health", timeout=15)
        if status != 200:
            self.assert_refused_clearly(status, health)
        self.heal()
        self.assertTrue(sl.wait_until(lambda: self.d.call("GET", "/v1/health")[0] == 200, 15),
                        "the daemon does not recover once fsync works again")
        # Whatever SQLite kept of the failed commits, after a crash and restart the file and
        # the database agree, and the request is pending or approved - never half of each.
        self.d.kill9()
        self.d.env = None
        self.d.start()
        sl.verify_against_daemon(self, self.d)
        state = self.d.call("GET", "/v1/requests/" + req["id"])[1]["state"]
        self.assertIn(state, ("pending", "approved"))


    def test_failing_database_fsync_after_logins_is_retried_not_spun_on(self):
        req = self.file("target")[1]
        self.assertEqual(self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                     as_user=ALICE)[0], 200)
        self.d.call("POST", "/v1/access/check", {"user": ENG})  # a login-only round: sync later
        self.fail_fsync_of("lockbox.db")
        self.assert_refused_clearly(*self.file("during"))  # a change whose sync fails
        time.sleep(2)  # time is under test: a loop spinning on the failure logs thousands
        failures = self.d.syslog.wait_for("event=store.sync_failed", timeout=1)
        self.assertTrue(failures)
        # Retried with the loop (each call, each idle deadline), not in a tight loop.
        self.assertLess(len(failures), 50, "lockboxd spins on a failing fsync")
        self.heal()
        self.assertTrue(sl.wait_until(lambda: self.d.call("GET", "/v1/health")[0] == 200, 15))


class StateFiles(FaultCase):
    """design.md, "Files": state, audit and socket directories are root-owned and not
    writable by others; files are opened with O_NOFOLLOW|O_CLOEXEC."""

    def test_unsafe_state_directories_are_refused(self):
        other = lt.pwd.getpwnam(ENG).pw_uid
        for sub in ("lib", "log", "run"):
            path = os.path.join(self.d.dir, sub)
            for change, undo in ((lambda: os.chmod(path, 0o777), lambda: os.chmod(path, 0o755)),
                                 (lambda: os.chmod(path, 0o775), lambda: os.chmod(path, 0o755)),
                                 (lambda: os.chown(path, other, -1), lambda: os.chown(path, 0, -1))):
                change()
                try:
                    err = self.start_fails()
                finally:
                    undo()
                self.assertIn(path, err)
        self.d.start()  # control: the same directories, made safe again

    def test_symlinked_state_files_are_refused(self):
        target = os.path.join(self.d.dir, "elsewhere")
        for path in (self.d.db_path, self.d.audit_path):
            os.symlink(target, path)
            try:
                err = self.start_fails()
            finally:
                os.unlink(path)
            self.assertIn(path, err)
            self.assertFalse(os.path.exists(target), "followed the link")

    def test_socket_path_that_is_not_a_socket_is_left_alone(self):
        with open(self.d.socket, "w") as f:
            f.write("keep me")
        err = self.start_fails()
        self.assertIn(self.d.socket, err)
        with open(self.d.socket) as f:
            self.assertEqual(f.read(), "keep me")

    def test_every_descriptor_is_close_on_exec_and_files_are_private(self):
        self.d.start()
        self.assertEqual(self.file("x")[0], 201)
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(self.d.socket)  # an accepted connection is a descriptor too
        try:
            # Accepted for sure once it has answered; HTTP/1.1 keeps the connection open.
            idle.sendall(b"GET /v1/health HTTP/1.1\r\nHost: lockboxd\r\n\r\n")
            lt.read_until(idle.fileno(), b"\r\n\r\n", 10)
            fd_dir = "/proc/%d/fd" % self.d.pid
            for fd in os.listdir(fd_dir):
                if int(fd) <= 2:
                    continue
                try:
                    with open("/proc/%d/fdinfo/%s" % (self.d.pid, fd)) as f:
                        flags = int([l for l in f if l.startswith("flags:")][0].split()[1], 8)
                except FileNotFoundError:
                    continue  # closed meanwhile (the filing call's connection)
                if not flags & os.O_CLOEXEC:
                    self.fail("fd %s (%s) lacks O_CLOEXEC" % (
                        fd, os.readlink(os.path.join(fd_dir, fd))))
        finally:
            idle.close()
        for path in (self.d.db_path, self.d.audit_path):
            st = os.stat(path)
            self.assertEqual(st.st_uid, 0, path)
            self.assertEqual(st.st_mode & 0o022, 0, "%s is writable by others" % path)


class PowerCut(FaultCase):
    """A round of login records only is made durable by the audit file's fdatasync alone (no
    database fsync). A power cut can then leave the database without the last login records
    the file holds; start-up must take them back, and must refuse anything else the file
    holds beyond the database (a lost approval is not something to paper over)."""

    def db_files(self):
        return [p for p in (self.d.db_path, self.d.db_path + "-wal") if os.path.exists(p)]

    def snapshot(self):
        copies = {}
        for path in self.db_files():
            with open(path, "rb") as f:
                copies[path] = f.read()
        return copies

    def power_cut_back_to(self, copies):
        """What the disk would hold had the database's unsynced tail been lost."""
        for path in (self.d.db_path, self.d.db_path + "-wal", self.d.db_path + "-shm"):
            if os.path.exists(path):
                os.unlink(path)
        for path, data in copies.items():
            with open(path, "wb") as f:
                f.write(data)

    def login(self):
        status, obj = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertEqual(status, 200, obj)
        return obj["allowed"]

    def approved_request(self):
        req = self.file("target")[1]
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {}, as_user=ALICE)
        self.assertEqual(status, 200, obj)
        return req

    def test_login_records_lost_from_the_database_are_adopted_from_the_file(self):
        self.d.start()
        self.approved_request()
        self.d.stop()
        before_logins = self.snapshot()
        self.d.start()
        self.assertTrue(self.login())
        self.assertTrue(self.login())
        self.d.stop()
        lines = self.d.audit_lines()
        self.assertEqual([json.loads(l)["event"] for l in lines[-2:]], ["login.allowed"] * 2)
        self.power_cut_back_to(before_logins)
        self.assertEqual(self.d.db("SELECT max(seq) FROM audit")[0][0], len(lines) - 2)

        self.d.start()
        health = self.assert_answering()
        self.assertEqual((health["audit_ok"], health["audit_seq"]), (True, len(lines)))
        self.assertEqual(self.d.db("SELECT max(seq) FROM audit")[0][0], len(lines))
        self.assertTrue(self.d.syslog.wait_for("event=audit.adopted"), "no audit.adopted in syslog")
        self.assertTrue(self.login())  # the next record continues the chain
        after = self.d.audit_lines()
        self.assertEqual(after[:len(lines)], lines, "the file was rewritten")
        lt.verify_chain(after)
        self.assertEqual(len(after), len(lines) + 1)

    def test_a_lost_approval_in_the_file_refuses_to_start(self):
        self.d.start()
        self.file("other")
        self.d.stop()
        before_approval = self.snapshot()
        self.d.start()
        self.approved_request()
        self.d.stop()
        lines = self.d.audit_lines()
        self.power_cut_back_to(before_approval)
        err = self.start_fails()
        self.assertIn(self.d.audit_path, err)
        self.assertIn("ahead of the database", err)
        self.assertIn("not a login record", err)
        self.assertEqual(self.d.audit_lines(), lines, "the file was touched")


class FileAheadOfDatabase(FaultCase):
    """Records in the audit file that lockboxd did not write: refused, never adopted."""

    def next_login_line(self, spacing=""):
        """A login.allowed line continuing the file's chain, as a forger would write it."""
        lines = self.d.audit_lines()
        last = json.loads(lines[-1])
        login = [json.loads(l) for l in lines if json.loads(l)["event"] == "login.allowed"][-1]
        login["seq"] = last["seq"] + 1
        login["prev_hash"] = lt.record_hash(lines[-1])
        return json.dumps(login, separators=(",", ":" + spacing), ensure_ascii=False)

    def append(self, line):
        with open(self.d.audit_path, "a") as f:
            f.write(line + "\n")

    def approved_and_logged_in(self):
        self.d.start()
        req = self.file("target")[1]
        self.assertEqual(self.d.call("POST", "/v1/requests/%s/approve" % req["id"], {},
                                     as_user=ALICE)[0], 200)
        status, obj = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertTrue(status == 200 and obj["allowed"], obj)

    def test_a_hand_written_login_record_refuses_to_start(self):
        self.approved_and_logged_in()
        self.d.stop()
        self.append(self.next_login_line(spacing=" "))
        err = self.start_fails()
        self.assertIn("not a line lockboxd wrote", err)

    def test_a_format_1_login_record_after_format_2_refuses_to_start(self):
        """Canonical in format 1 (lockboxd wrote such lines before Step 14), but the chain is
        in format 2 by then: adopting it would break every later verification."""
        self.approved_and_logged_in()
        self.d.stop()
        lines = self.d.audit_lines()
        login = [json.loads(l) for l in lines if json.loads(l)["event"] == "login.allowed"][-1]
        for member in ("v", "v2_from", "grant", "nonce"):
            del login[member]
        login["seq"] = json.loads(lines[-1])["seq"] + 1
        login["prev_hash"] = lt.record_hash(lines[-1])
        self.append(json.dumps(login, separators=(",", ":"), ensure_ascii=False))
        err = self.start_fails()
        self.assertIn("not in the format the chain is in", err)

    def test_records_appended_while_running_stop_every_grant(self):
        self.approved_and_logged_in()
        self.append(self.next_login_line())
        os.kill(self.d.pid, signal.SIGHUP)  # reopen: the file is now ahead of the database
        self.assertTrue(sl.wait_until(lambda: not self.d.call("GET", "/v1/health")[1]["audit_ok"], 10),
                        "health still says the audit file is fine")
        status, obj = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertFalse(status == 200 and obj.get("allowed"), (status, obj))
        forged = self.d.audit_lines()
        # Changes that grant nothing still commit; they must not be appended after the lines
        # lockboxd did not write, and grants must not come back once the seqs catch up.
        for asker in ("h1", "h2", "h3"):
            self.assertIn(self.file(asker)[0], (201, 503))  # committed, maybe not filed yet
        status, obj = self.d.call("POST", "/v1/access/check", {"user": ENG})
        self.assertFalse(status == 200 and obj.get("allowed"), (status, obj))
        self.assertEqual(self.d.audit_lines(), forged, "the chain was continued after foreign lines")
        mismatches = self.d.syslog.wait_for("event=audit.mismatch")
        self.assertEqual(len(mismatches), 1, "said once, not on every loop")
        self.d.stop()
        self.assertIn("does not match the database", self.start_fails())


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
