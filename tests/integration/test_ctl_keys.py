"""lockboxctl's approver keys and signed grants (Step 16), offline: `key generate` writes a
0600 PKCS#8 key (encrypted with a passphrase), `key show` refuses a wrong passphrase, a key
others may read and keys that are not Ed25519; `grant sign` and `grant verify` agree with the
OpenSSL-only recipe docs/DESIGN.md gives, which this test runs as written, on the example that
section shows and on a grant made here.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_ctl_keys.py -v
"""

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lockbox_testlib import LOCKBOXCTL, CliAssertions  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DESIGN = os.path.join(HERE, "..", "..", "docs", "DESIGN.md")
SECTION = "## Grants: the signed statement"

STATEMENT = """lockbox-grant v1
tenant contoso
request 0123456789abcdef0123456789abcdef
request-sha256 39ac2c9182e661de9a7880ce7a46579de6d65d9a0feb24c11132d3f95c7ce09b
user eng1
requester -
host db01
not-before 2025-11-25T12:00:00Z
not-after 2025-11-26T00:00:00Z
"""
IN_WINDOW = "2025-11-25T13:00:00Z"


def design_blocks():
    """The fenced blocks of DESIGN.md's grants section, in order, with their info strings."""
    with open(DESIGN, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index(SECTION):]
    return re.findall(r"^ *```(\w*)\n(.*?)^ *```$", section, re.M | re.S)


class KeysAndGrants(CliAssertions, unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="lockbox-keys-")
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, text, mode=0o600):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self.path(name), mode)
        return self.path(name)

    def ctl(self, *args):
        return subprocess.run([LOCKBOXCTL] + list(args), capture_output=True, text=True,
                              timeout=60, cwd=self.dir.name)

    def generate(self, name, *extra):
        result = self.assert_ok(self.ctl("key", "generate", "--name", name, "--output",
                                         self.path(name + ".key"), *extra))
        line = result.stdout.strip()
        self.assertRegex(line, r"^%s ed25519 [A-Za-z0-9+/]{43}=$" % re.escape(name))
        return line

    def run_recipe(self, grant, keys, signer):
        """DESIGN.md's OpenSSL-only commands, as written, in a directory of their own."""
        recipe = [body for info, body in design_blocks() if info == "sh"]
        self.assertEqual(len(recipe), 1, "DESIGN.md's grants section has one sh block")
        work = tempfile.mkdtemp(dir=self.dir.name)
        with open(os.path.join(work, "grant.txt"), "w", encoding="utf-8") as f:
            f.write(grant)
        with open(os.path.join(work, "keys.txt"), "w", encoding="utf-8") as f:
            f.write(keys)
        return subprocess.run(["sh", "-eu", "-c", recipe[0]], cwd=work, capture_output=True,
                              text=True, timeout=60, env=dict(os.environ, SIGNER=signer))

    def test_generated_key_file_is_0600_pkcs8(self):
        line = self.generate("alice")
        key = self.path("alice.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(key, encoding="ascii") as f:
            self.assertEqual(f.readline(), "-----BEGIN PRIVATE KEY-----\n")
        shown = self.assert_ok(self.ctl("key", "show", "--key", key, "--name", "alice"))
        self.assertEqual(shown.stdout.strip(), line)
        # Never overwritten: the key may be the only copy.
        self.assert_fails(self.ctl("key", "generate", "--name", "alice", "--output", key), 1,
                          "File exists", "never overwritten")
        # The default file name is NAME.key in the current directory.
        self.assert_ok(self.ctl("key", "generate", "--name", "dora"))
        self.assertEqual(stat.S_IMODE(os.stat(self.path("dora.key")).st_mode), 0o600)

    def test_passphrase(self):
        passphrase = self.write("pass", "correct horse\n")
        line = self.generate("bob", "--passphrase-file", passphrase)
        key = self.path("bob.key")
        with open(key, encoding="ascii") as f:
            self.assertEqual(f.readline(), "-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        shown = self.assert_ok(self.ctl("key", "show", "--key", key, "--name", "bob",
                                        "--passphrase-file", passphrase, "--json"))
        self.assertEqual(json.loads(shown.stdout)["line"], line)
        wrong = self.write("wrong", "correct horse battery\n")
        self.assert_fails(self.ctl("key", "show", "--key", key, "--passphrase-file", wrong), 1,
                          "cannot decrypt key file", "wrong passphrase")
        self.assert_fails(self.ctl("key", "show", "--key", key), 1,
                          "is encrypted: give its passphrase with --passphrase-file")
        readable = self.write("readable", "correct horse\n", 0o644)
        self.assert_fails(self.ctl("key", "show", "--key", key, "--passphrase-file", readable),
                          1, "may be read by others (mode 0644)")

    def test_refuses_other_keys(self):
        self.generate("carol")
        os.chmod(self.path("carol.key"), 0o640)
        self.assert_fails(self.ctl("key", "show", "--key", self.path("carol.key")), 1,
                          "may be read by others (mode 0640)")
        for algorithm, shown in (("X25519", "X25519"), ("RSA", "RSA")):
            key = self.path(algorithm + ".key")
            subprocess.run(["openssl", "genpkey", "-algorithm", algorithm, "-out", key],
                           check=True, capture_output=True)
            os.chmod(key, 0o600)
            self.assert_fails(self.ctl("key", "show", "--key", key), 1,
                              "holds an %s key: approver keys are Ed25519" % shown)
            statement = self.write("statement", STATEMENT)
            self.assert_fails(self.ctl("grant", "sign", "--key", key, statement), 1,
                              "approver keys are Ed25519")
        # An RSA public key in the pinned keys file is refused there, on its line.
        keys = self.write("keys", "# contoso\nalice ssh-rsa AAAAB3NzaC1yc2E=\n")
        self.assert_fails(self.ctl("grant", "verify", "--keys", keys, statement), 1,
                          "keys:2: key type 'ssh-rsa' is not supported")

    def test_sign_verify_and_the_openssl_recipe(self):
        keys = self.generate("alice") + "\n" + self.generate("bob") + "\n"
        keys_file = self.write("keys", keys)
        grant = self.write("grant", STATEMENT)
        for signer in ("alice", "bob"):
            signed = self.assert_ok(self.ctl("grant", "sign", "--key",
                                             self.path(signer + ".key"), "--name", signer, grant))
            self.assertIn("signed by %s" % signer, signed.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(grant).st_mode), 0o600)
        with open(grant, encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith(STATEMENT + "\n\u2014 alice "), text)
        verified = self.assert_ok(self.ctl("grant", "verify", "--keys", keys_file, "--at",
                                           IN_WINDOW, "--required", "2", "--json", grant))
        result = json.loads(verified.stdout)
        self.assertTrue(result["valid"])
        self.assertEqual([s["signer"] for s in result["signatures"] if s["valid"]],
                         ["alice", "bob"])
        # Outside the window, or asking for more approvers than signed: not valid, exit 1.
        late = self.ctl("grant", "verify", "--keys", keys_file, "--at", "2025-11-26T00:00:00Z",
                        grant)
        self.assertEqual(late.returncode, 1, late)
        self.assertIn("outside the statement's window", late.stdout)
        three = self.ctl("grant", "verify", "--keys", keys_file, "--at", IN_WINDOW,
                         "--required", "3", grant)
        self.assertEqual(three.returncode, 1, three)
        # The documented recipe agrees, for each signer.
        for signer in ("alice", "bob"):
            recipe = self.run_recipe(text, keys, signer)
            self.assertEqual(recipe.returncode, 0, recipe.stderr)
            self.assertIn("Signature Verified Successfully", recipe.stdout)
            key_id = re.search(r"^key id: ([0-9a-f]{8})$", recipe.stdout, re.M).group(1)
            self.assertIn("\u2014 %s %s " % (signer, key_id), text)
        # A signature over a different text fails both ways.
        forged = text.replace("host db01\n", "host db02\n")
        recipe = self.run_recipe(forged, keys, "alice")
        self.assertNotEqual(recipe.returncode, 0)
        self.assertNotIn("Signature Verified Successfully", recipe.stdout)
        forged_file = self.write("forged", forged)
        refused = self.ctl("grant", "verify", "--keys", keys_file, "--at", IN_WINDOW, forged_file)
        self.assertEqual(refused.returncode, 1, refused)
        self.assertIn("signed by alice", refused.stdout)
        self.assertIn("does not verify over this statement", refused.stdout)

    def test_design_example_verifies(self):
        """The grant and keys file DESIGN.md shows are real: lockboxctl and the recipe agree."""
        blocks = [body for info, body in design_blocks() if info == ""]
        grant = next(b for b in blocks if b.startswith("lockbox-grant v1\n"))
        keys = next(b for b in blocks if b.startswith("# contoso's approvers\n"))
        keys = "\n".join(line.strip() for line in keys.splitlines()) + "\n"
        grant_file = self.write("example-grant", grant)
        keys_file = self.write("example-keys", keys)
        verified = self.assert_ok(self.ctl("grant", "verify", "--keys", keys_file, "--at",
                                           IN_WINDOW, "--required", "2", grant_file))
        self.assertIn("signed by alice (key 99b371cc): valid", verified.stdout)
        for signer in ("bob",):
            recipe = self.run_recipe(grant, keys, signer)
            self.assertEqual(recipe.returncode, 0, recipe.stderr)
            self.assertIn("Signature Verified Successfully", recipe.stdout)
        # Alice's key in the example is revoked at 2026-12-01: no new access after it.
        after = self.ctl("grant", "verify", "--keys", keys_file, "--at", "2026-12-02T00:00:00Z",
                         grant_file)
        self.assertEqual(after.returncode, 1)
        self.assertIn("signed by alice (key 99b371cc): the key was revoked by then",
                      after.stdout)

    def test_bad_grants_refused_with_their_line(self):
        keys_file = self.write("keys", self.generate("alice") + "\n")
        cases = (
            (STATEMENT[:-1], "line 9: no newline at the end (truncated?)"),
            (STATEMENT.replace("\n", "\r\n"), "line 1: ends in CR"),
            (STATEMENT.replace("v1", "v2", 1), "line 1: unknown format version 'v2'"),
            (STATEMENT.replace("user eng1", "user  eng1"), "line 5: user: one space"),
            (STATEMENT + "\n", "line 11: no signature after the empty line"),
        )
        for text, needle in cases:
            bad = self.write("bad", text)
            self.assert_fails(self.ctl("grant", "verify", "--keys", keys_file, bad), 1,
                              "bad: " + needle)

    def test_usage(self):
        self.assert_fails(self.ctl("key"), 2, "say 'key generate' or 'key show'")
        self.assert_fails(self.ctl("grant", "verify", "x"), 2, "--keys FILE")
        self.assert_fails(self.ctl("key", "generate", "--name", "bad name"), 2, "the name")
        self.assertIn("grant verify --keys FILE", self.assert_ok(self.ctl("grant", "--help")).stdout)


if __name__ == "__main__":
    unittest.main()
