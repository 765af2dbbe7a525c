"""Bash completion of lockboxctl (packaging/bash-completion/lockboxctl) against a real lockboxd:
request ids for show, approve, deny, revoke and wait, under Debian's default awk (mawk), as
the users who type them. bash runs with the script sourced and COMP_WORDS/COMP_CWORD set, as
readline would set them, with and without the bash-completion package's helpers.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_completion.py -v (as root).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lockbox_testlib import LOCKBOXCTL, Daemon, Users, unique_prefix  # noqa: E402

SCRIPT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "packaging",
                                      "bash-completion", "lockboxctl"))
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
# Unique per run: other checkouts may run this suite on the same machine at the same time.
PREFIX = unique_prefix("lbcp")  # every account this file adds starts so
ADMIN = PREFIX + "adm"
ENG = PREFIX + "eng"
OTHER = PREFIX + "oth"

# Sets what readline sets, calls the completion function the script registered, prints
# COMPREPLY one per line. The words come as arguments, so no quoting is involved.
COMPLETE = r'''
source "$LBX_SCRIPT" || exit 3
[ -n "$LBX_BASH_COMPLETION" ] && { source "$LBX_BASH_COMPLETION" || exit 3; source "$LBX_SCRIPT"; }
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
spec=$(complete -p lockboxctl) || exit 4
func=${spec#*-F }
func=${func%% *}
"$func" lockboxctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


class CompletionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates users, runs lockboxd)")
        if not os.access(LOCKBOXCTL, os.X_OK):
            raise unittest.SkipTest("lockboxctl is not built at %s" % LOCKBOXCTL)
        cls.mawk = shutil.which("mawk")
        if cls.mawk is None:
            raise unittest.SkipTest("mawk (Debian's default awk) is not installed")
        # `awk` on PATH is mawk whatever the machine's alternative says: the completion must
        # work with it (it is what a stock Debian 12 has).
        cls.bin = tempfile.mkdtemp(prefix="lbx-completion-")
        os.chmod(cls.bin, 0o755)
        os.symlink(cls.mawk, os.path.join(cls.bin, "awk"))
        cls.path = ":".join([cls.bin, os.path.dirname(LOCKBOXCTL), "/usr/sbin", "/usr/bin",
                             "/sbin", "/bin"])
        cls.users = Users(PREFIX)
        try:
            for name in (ADMIN, ENG, OTHER):
                cls.users.add(name)
        except Exception:
            cls.users.cleanup()
            shutil.rmtree(cls.bin)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.users.cleanup()
        shutil.rmtree(cls.bin)

    def setUp(self):
        # A central: ENG's requests are for several hosts (Step 15: a lockboxd on a host files
        # for that host only).
        self.daemon = Daemon(tenants={"contoso": [ADMIN]}, central=True)
        self.addCleanup(self.daemon.close)
        self.daemon.start()
        # Two pending requests of ENG's (distinct hosts, so two requests), one approved, and
        # one pending request of OTHER's, which ENG may not read. The reason holds the text
        # a naive parser of the JSON might take for an id.
        fake = "deadbeef" * 4
        self.pending = [self.file(ENG, "db01", 'INC-1 "id": "%s"' % fake),
                        self.file(ENG, "db02", "INC-2")]
        self.approved = self.file(ENG, "db03", "INC-3")
        status, obj = self.daemon.call("POST", "/v1/requests/%s/approve" % self.approved, {},
                                       as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        self.others = [self.file(OTHER, "db04", "INC-4")]

    def file(self, user, host, reason):
        result = subprocess.run(
            ["runuser", "-u", user, "--", LOCKBOXCTL, "--socket", self.daemon.socket, "--json",
             "request", "--reason", reason, "--host", host],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["id"]

    def complete(self, user, *words, with_bash_completion=False):
        """COMPREPLY for the command line `words` (the last one is being completed)."""
        env = {"PATH": self.path, "HOME": "/", "LANG": "C.UTF-8",
               "LBX_SCRIPT": SCRIPT,
               "LBX_BASH_COMPLETION": BASH_COMPLETION if with_bash_completion else ""}
        argv = ["runuser", "-u", user, "--", "env", "-i"]
        argv += ["%s=%s" % kv for kv in env.items()]
        argv += ["bash", "--norc", "--noprofile", "-c", COMPLETE, "bash", "lockboxctl"]
        argv += list(words)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, "stdout=%r stderr=%r" % (result.stdout,
                                                                        result.stderr))
        return sorted(line for line in result.stdout.split("\n") if line)

    def test_awk_on_path_is_mawk(self):
        result = subprocess.run(["env", "PATH=" + self.path, "awk", "-W", "version"],
                                capture_output=True, text=True)
        self.assertIn("mawk", result.stdout + result.stderr)

    def test_ids_by_command_for_an_admin(self):
        sock = self.daemon.socket
        pending = sorted(self.pending + self.others)
        cases = [("approve", pending), ("deny", pending), ("wait", pending),
                 ("revoke", [self.approved]), ("show", sorted(pending + [self.approved]))]
        for command, want in cases:
            with self.subTest(command=command):
                self.assertEqual(self.complete(ADMIN, "--socket", sock, command, ""), want)
        # --socket=PATH works as well as --socket PATH.
        self.assertEqual(self.complete(ADMIN, "--socket=" + sock, "approve", ""), pending)

    def test_ids_are_filtered_by_what_is_typed(self):
        target = self.pending[0]
        for typed in (target[:1], target[:6], target):
            with self.subTest(typed=typed):
                got = self.complete(ADMIN, "--socket", self.daemon.socket, "approve", typed)
                self.assertIn(target, got)
                self.assertTrue(all(i.startswith(typed) for i in got), got)
        self.assertEqual(self.complete(ADMIN, "--socket", self.daemon.socket, "approve", "g"), [])

    def test_engineer_sees_only_own_ids(self):
        got = self.complete(ENG, "--socket", self.daemon.socket, "show", "")
        self.assertEqual(got, sorted(self.pending + [self.approved]))

    def test_options_are_not_ids(self):
        got = self.complete(ADMIN, "--socket", self.daemon.socket, "approve", "--")
        self.assertEqual(got, ["--ca", "--cert", "--comment", "--for", "--help", "--json",
                               "--key", "--name", "--passphrase-file", "--server", "--socket"])

    def test_remote_options(self):
        self.assertEqual(self.complete(ADMIN, "--se"), ["--server"])
        self.assertEqual(self.complete(ADMIN, "--server", ""), ["https://"])
        # --cert, --key and --ca take files.
        certs = os.path.join(self.daemon.dir, "certs")
        os.makedirs(certs)
        os.chmod(certs, 0o755)
        for name in ("alice.crt", "alice.key"):
            open(os.path.join(certs, name), "w").close()
        for option in ("--cert", "--key", "--ca"):
            got = self.complete(ADMIN, "--server", "https://127.0.0.1:1", option,
                                os.path.join(certs, "al"))
            self.assertEqual(got, [os.path.join(certs, "alice.crt"),
                                   os.path.join(certs, "alice.key")], option)
        # Ids are asked of the server named: one that is not there completes nothing.
        got = self.complete(ADMIN, "--server", "https://127.0.0.1:1", "--cert", "/x", "--key",
                            "/x", "--ca", "/x", "approve", "")
        self.assertEqual(got, [])

    def test_with_the_bash_completion_package(self):
        if not os.path.exists(BASH_COMPLETION):
            self.skipTest("the bash-completion package is not installed")
        got = self.complete(ADMIN, "--socket", self.daemon.socket, "approve", "",
                            with_bash_completion=True)
        self.assertEqual(got, sorted(self.pending + self.others))

    def test_unreachable_daemon_completes_nothing(self):
        missing = os.path.join(self.daemon.dir, "run", "nobody.sock")
        self.assertEqual(self.complete(ADMIN, "--socket", missing, "approve", ""), [])


if __name__ == "__main__":
    unittest.main()
