"""Tenant-signed grants in lockboxd (Step 16): with signed_approvals = required an approval is
a grant whose signatures verify against the tenant's pinned keys, and only such a grant lets a
login in. Real lockboxd, real accounts, keys made with `lockboxctl key generate`, approvals
signed by `lockboxctl approve --key` run as each admin; logins checked on the login socket as
the module asks. Forgeries are made where an attacker who owns the database would make them:
in the database.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_grants.py -v
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("lbg")
U = lt.Users(PREFIX)
ENG, ENG2 = PREFIX + "_eng", PREFIX + "_eng2"
ALICE, BOB, CAROL = PREFIX + "_alice", PREFIX + "_bob", PREFIX + "_carol"
ADMINS = [ALICE, BOB, CAROL]
KEYS = {}  # name -> (private key path, public key line)
KEY_DIR = None


def setUpModule():
    global KEY_DIR
    lt.require_root_and(lt.LOCKBOXD, lt.LOCKBOXCTL)
    for name in (ENG, ENG2, ALICE, BOB, CAROL):
        U.add(name)
    KEY_DIR = tempfile.mkdtemp(prefix="lbx-grant-keys-")
    os.chmod(KEY_DIR, 0o755)
    for name in ADMINS:
        KEYS[name] = make_key(name, name)


def tearDownModule():
    U.cleanup()
    if KEY_DIR:
        shutil.rmtree(KEY_DIR, ignore_errors=True)


def make_key(name, owner):
    """A private key for `name`, owned by `owner` (0600), and its pinned public line."""
    path = os.path.join(KEY_DIR, "%s-%d.key" % (name, len(os.listdir(KEY_DIR))))
    done = subprocess.run([lt.LOCKBOXCTL, "key", "generate", "--name", name, "--output", path],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError("key generate: %s" % done.stderr)
    shutil.chown(path, owner, owner)
    return path, done.stdout.strip()


def login_check(d, user):
    """The module's access check on the login socket: (allowed, request or None)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(10)
        s.connect(d.pam_socket)
        s.send(json.dumps({"op": "check", "user": user}).encode())
        reply = json.loads(s.recv(65536).decode())
    return reply["allowed"], reply.get("request")


class GrantCase(lt.CliAssertions, unittest.TestCase):
    required = 1

    def setUp(self):
        self.keys_path = os.path.join(KEY_DIR, "pinned-%s.txt" % self.id().rsplit(".", 1)[-1])
        self.write_keys([KEYS[n][1] for n in ADMINS])
        options = {"approver_keys": self.keys_path, "signed_approvals": "required",
                   "approvals_required": str(self.required)}
        self.d = lt.Daemon(tenants={"contoso": ADMINS}, tenant_options={"contoso": options},
                           syslog=True).start()

    def tearDown(self):
        self.d.close()

    def write_keys(self, lines):
        with open(self.keys_path, "w") as f:
            f.write("# contoso's approvers\n" + "\n".join(lines) + "\n")
        os.chmod(self.keys_path, 0o644)

    def file(self, user=ENG, reason="INC-4711"):
        return self.d.file_request(user, reason=reason)["id"]

    def approve(self, rid, admin, key_of=None, *extra):
        """`lockboxctl approve ID --key` as `admin`, signing with key_of's key (default the
        admin's own) under that key's name."""
        signer = key_of or admin
        key = KEYS[signer][0]
        if signer != admin:  # the admin holds someone else's key file for this test
            key = os.path.join(KEY_DIR, "%s-held-by-%s.key" % (signer, admin))
            shutil.copy(KEYS[signer][0], key)
            shutil.chown(key, admin, admin)
            os.chmod(key, 0o600)
        argv = [lt.LOCKBOXCTL, "--socket", self.d.socket, "approve", rid, "--key", key,
                "--name", signer] + list(extra)
        return lt.run_as(admin, argv)

    def show(self, rid):
        status, obj = self.d.call("GET", "/v1/requests/" + rid)
        self.assertEqual(status, 200, obj)
        return obj

    def verify_audit(self, keys_path=None):
        return subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file", self.d.audit_path,
                               "--keys", keys_path or self.keys_path],
                              capture_output=True, text=True, timeout=60)

    def verify_audit_required(self, n):
        return subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file", self.d.audit_path,
                               "--keys", self.keys_path, "--required", str(n)],
                              capture_output=True, text=True, timeout=60)

    def forge_approved(self, rid, like, grant=None):
        """Sets request rid to approved in the database, its approval's columns copied from the
        genuinely approved request `like` (and its grant text, or `grant`)."""
        cols = "expires_at, decided_at, approved_boot_ms, granted_ms, approved_boot_id, grant_text"
        row = self.d.db("SELECT %s FROM requests WHERE id = ?" % cols, (like,))[0]
        grant_text = row[5] if grant is None else grant
        self.d.db("UPDATE requests SET state = 1, decided_by = ?, expires_at = ?, decided_at = ?,"
                  " approved_boot_ms = ?, granted_ms = ?, approved_boot_id = ?, grant_text = ? "
                  "WHERE id = ?", (ALICE,) + tuple(row[:5]) + (grant_text, rid))

    def assert_alerted(self, rid, *needles):
        lines = self.d.syslog.wait_for("event=grant.invalid id=%s" % rid)
        self.assertTrue(lines, "no grant.invalid alert for %s" % rid)
        # LOG_AUTHPRIV (10 << 3) | LOG_ALERT (1): priority <81>
        self.assertTrue(lines[0].startswith("<81>"), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])


class SignedApprovals(GrantCase):
    def test_an_approval_without_a_grant_is_refused(self):
        rid = self.file()
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=ALICE)
        self.assertEqual(status, 400, obj)
        self.assertIn("this tenant requires a signed grant (lockboxctl approve --key FILE)",
                      obj["message"])
        self.assertEqual(self.show(rid)["state"], "pending")

    def test_a_signed_approval_lets_the_login_in_and_verifies_offline(self):
        rid = self.file()
        self.assertFalse(login_check(self.d, ENG)[0])
        done = self.assert_ok(self.approve(rid, ALICE, None, "--for", "2h"))
        self.assertIn("Approved request %s" % rid, done.stdout)
        req = self.show(rid)
        self.assertEqual(req["state"], "approved")
        self.assertEqual(req["signers"], [ALICE])
        self.assertEqual(req["approvals_required"], 1)
        self.assertIn("\n\u2014 %s " % ALICE, req["grant"])
        self.assertTrue(login_check(self.d, ENG)[0])
        events = [e for e in self.d.audit_events() if e.get("request_id") == rid]
        by_event = {e["event"]: e for e in events}
        self.assertEqual(by_event["request.approved"]["grant"], req["grant"])
        self.assertIn("grant", by_event["grant.signed"])
        self.assertIsNone(by_event["request.created"]["grant"])
        self.assertTrue(self.d.syslog.wait_for("event=grant.signed id=%s" % rid))
        self.assertIn("signers=%s" % ALICE,
                      self.d.syslog.wait_for("event=request.approved id=%s" % rid)[0])
        done = self.assert_ok(self.verify_audit())
        self.assertIn("grants OK: 2 records with a grant", done.stdout)
        # The tenant's export verifies offline with the keys, as any user.
        export = os.path.join(self.d.dir, "contoso-export.jsonl")
        self.assert_ok(subprocess.run([lt.LOCKBOXCTL, "--socket", self.d.socket, "audit",
                                       "export", "--tenant", "contoso", "--output", export],
                                      capture_output=True, text=True, timeout=60))
        os.chmod(export, 0o644)
        self.assert_ok(lt.run_as(ENG, [lt.LOCKBOXCTL, "audit", "verify", export, "--keys",
                                       self.keys_path]))
        # A quorum of 2 was never met here: --required 2 names the approval.
        approved = by_event["request.approved"]["seq"]
        self.assert_fails(self.verify_audit_required(2), 1, "record seq %d" % approved,
                          "fewer than 2 signatures that count")

    def test_a_row_set_to_approved_in_the_database_grants_nothing(self):
        genuine = self.file(ENG2)
        self.assert_ok(self.approve(genuine, ALICE))
        forged = self.file()
        self.forge_approved(forged, genuine, grant="")
        allowed, _ = login_check(self.d, ENG)
        self.assertFalse(allowed)
        self.assert_alerted(forged, "reason=\"no grant\"", "user=%s" % ENG)
        # Once per request: the next login attempts do not flood the log.
        self.assertFalse(login_check(self.d, ENG)[0])
        self.assertFalse(login_check(self.d, ENG)[0])
        alerts = [l for l in self.d.syslog.snapshot() if "event=grant.invalid id=%s" % forged in l]
        self.assertEqual(len(alerts), 1, alerts)

    def test_a_valid_grant_replayed_for_another_request_or_user(self):
        genuine = self.file(ENG2)
        self.assert_ok(self.approve(genuine, ALICE))
        grant = self.show(genuine)["grant"]
        other = self.file()
        # At approve: refused with the reason.
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % other, {"grant": grant},
                                  as_user=BOB)
        self.assertEqual(status, 400, obj)
        self.assertIn("the grant is not for request %s" % other, obj["message"])
        # Forged into the database: denied at the login, and alerted.
        self.forge_approved(other, genuine)
        self.assertFalse(login_check(self.d, ENG)[0])
        self.assert_alerted(other, "another request, user or host")

    def test_a_grant_for_this_host_does_not_open_another(self):
        rid = self.file()
        self.assert_ok(self.approve(rid, ALICE))
        self.d.db("UPDATE requests SET host = 'otherhost' WHERE id = ?", (rid,))
        status, obj = self.d.call("POST", "/v1/access/check",
                                  {"user": ENG, "host": "otherhost"})
        self.assertEqual(status, 200, obj)
        self.assertFalse(obj["allowed"])
        self.assert_alerted(rid, "host=otherhost")

    def test_after_its_not_after_a_grant_opens_nothing(self):
        rid = self.file()
        self.assert_ok(self.approve(rid, ALICE, None, "--for", "2s"))
        self.assertTrue(login_check(self.d, ENG)[0])
        lt.wait_until(lambda: self.show(rid)["state"] == "expired", 10, "the access to expire")
        # Whoever owns the database sets it back to approved for a day: still denied.
        far = int(time.time() * 1000) + 86400 * 1000
        self.d.db("UPDATE requests SET state = 1, expires_at = ?, approved_boot_ms = 0, "
                  "granted_ms = ? WHERE id = ?", (far, 86400 * 1000, rid))
        self.assertFalse(login_check(self.d, ENG)[0])
        self.assert_alerted(rid, "outside the grant's window")

    def test_the_requesters_signature_does_not_count(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(10)
            s.connect(self.d.pam_socket)
            s.send(json.dumps({"op": "file", "user": ENG, "reason": "via su",
                               "service": "su", "requester": CAROL}).encode())
            rid = json.loads(s.recv(65536).decode())["request"]["id"]
        done = self.approve(rid, ALICE, CAROL)  # ALICE sends a grant CAROL signed
        self.assert_fails(done, 1, "no new valid signature", "does not count")
        self.assertEqual(self.show(rid)["state"], "pending")

    def test_a_key_revoked_in_the_keys_file_grants_no_new_access(self):
        rid = self.file()
        self.assert_ok(self.approve(rid, ALICE))
        self.assertTrue(login_check(self.d, ENG)[0])
        revoked_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        lines = [KEYS[n][1] for n in (BOB, CAROL)]
        self.write_keys(lines + [KEYS[ALICE][1] + " revoked-at " + revoked_at])
        self.d.hup()
        lt.wait_until(lambda: not login_check(self.d, ENG)[0], 10,
                      "the login to be refused once alice's key is revoked")
        self.assert_alerted(rid, "not enough valid signatures")
        # The audit still verifies with the key history: signed before revoked-at.
        self.assert_ok(self.verify_audit())

    def test_audit_verify_names_the_record_whose_grant_fails(self):
        rid = self.file()
        self.assert_ok(self.approve(rid, ALICE))
        approved = [e for e in self.d.audit_events()
                    if e["event"] == "request.approved" and e["request_id"] == rid][0]
        # Keys in which alice's name holds another key: her signature fails.
        other_path, other_line = make_key(ALICE, "root")
        wrong = os.path.join(KEY_DIR, "wrong-%s.txt" % PREFIX)
        with open(wrong, "w") as f:
            f.write(other_line + "\n" + KEYS[BOB][1] + "\n")
        done = self.verify_audit(wrong)
        signed = [e for e in self.d.audit_events()
                  if e["event"] == "grant.signed" and e["request_id"] == rid][0]
        self.assert_fails(done, 1, "record seq %d" % signed["seq"], ALICE)
        # An altered grant breaks the record it is in.
        lines = self.d.audit_lines()
        altered = os.path.join(KEY_DIR, "altered-%s.jsonl" % PREFIX)
        with open(altered, "w") as f:
            for line in lines:
                if json.loads(line)["seq"] == approved["seq"]:
                    line = line.replace("not-after 20", "not-after 21", 1)
                f.write(line + "\n")
        done = subprocess.run([lt.LOCKBOXCTL, "audit", "verify", "--file", altered, "--keys",
                               self.keys_path], capture_output=True, text=True, timeout=60)
        self.assert_fails(done, 1, "seq %d" % approved["seq"])


class Quorum(GrantCase):
    required = 2

    def test_one_signature_waits_the_second_releases(self):
        rid = self.file()
        done = self.assert_ok(self.approve(rid, ALICE))
        self.assertIn("Signed by %s (1 of 2)" % ALICE, done.stdout)
        req = self.show(rid)
        self.assertEqual((req["state"], req["signers"], req["approvals_required"]),
                         ("pending", [ALICE], 2))
        self.assertFalse(login_check(self.d, ENG)[0])
        ctl = [lt.LOCKBOXCTL, "--socket", self.d.socket]
        shown = self.assert_ok(subprocess.run(ctl + ["show", rid], capture_output=True,
                                              text=True, timeout=60)).stdout
        self.assertIn("Signed by %s (1 of 2); request %s waits for 1 more signature"
                      % (ALICE, rid), shown)
        listed = self.assert_ok(subprocess.run(ctl + ["list"], capture_output=True, text=True,
                                               timeout=60, env=dict(os.environ, COLUMNS="300"))).stdout
        self.assertIn("[signed: %s] INC-4711" % ALICE, listed)
        # The same admin twice counts once: lockboxctl sees her signature on the statement,
        # and lockboxd refuses the same signer again (the grant she sent, sent once more).
        self.assert_fails(self.approve(rid, ALICE), 1, "already signed")
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % rid,
                                  {"grant": req["grant"]}, as_user=CAROL)
        self.assertEqual(status, 400, obj)
        self.assertIn("has signed already", obj["message"])
        self.assertEqual(self.show(rid)["state"], "pending")
        # A waiting login (lockboxctl wait) is released by the second signature.
        waiter = subprocess.Popen([lt.LOCKBOXCTL, "--socket", self.d.socket, "wait", rid,
                                   "--timeout", "30"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            self.d.wait_waiting(1)
            done = self.assert_ok(self.approve(rid, BOB))
            self.assertIn("Signing the statement already started", done.stdout)
            self.assertEqual(waiter.wait(30), 0)
        finally:
            lt.terminate(waiter)
        req = self.show(rid)
        self.assertEqual((req["state"], req["signers"]), ("approved", [ALICE, BOB]))
        self.assertTrue(login_check(self.d, ENG)[0])
        self.assert_ok(self.verify_audit())

    def test_another_statement_while_one_is_started_is_a_conflict(self):
        rid = self.file()
        self.assert_ok(self.approve(rid, ALICE))
        started = self.show(rid)["grant"]
        # BOB signs a statement of his own (a shorter window) instead of the started one.
        statement = started.split("\n\n")[0] + "\n"
        lines = statement.split("\n")
        not_before = lines[7].split(" ", 1)[1]
        lines[8] = "not-after " + time.strftime(
            "%Y-%m-%dT%H:%M:%SZ",
            time.gmtime(time.mktime(time.strptime(not_before, "%Y-%m-%dT%H:%M:%SZ")) -
                        time.timezone + 600))
        bobs_dir = tempfile.mkdtemp(dir=KEY_DIR)
        shutil.chown(bobs_dir, BOB, BOB)
        path = os.path.join(bobs_dir, "statement.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        shutil.chown(path, BOB, BOB)
        self.assert_ok(lt.run_as(BOB, [lt.LOCKBOXCTL, "grant", "sign", "--key", KEYS[BOB][0],
                                       "--name", BOB, path]))
        with open(path) as f:
            bobs = f.read()
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % rid, {"grant": bobs},
                                  as_user=BOB)
        self.assertEqual(status, 409, obj)
        self.assertIn("sign the statement already started", obj["message"])
        # Alice's own grant again brings nothing new.
        status, obj = self.d.call("POST", "/v1/requests/%s/approve" % rid, {"grant": started},
                                  as_user=BOB)
        self.assertEqual(status, 400, obj)
        self.assertIn("has signed already", obj["message"])
        self.assertEqual(self.show(rid)["state"], "pending")


if __name__ == "__main__":
    unittest.main()
