"""A tenant verifies the audit trail itself: `lockboxctl audit export` (GET /v1/audit/export),
`audit verify` of the export file offline, `audit head` and `--head` (Step 14 item 4).

A real lockboxd with two tenants (contoso: admin ALICE; fabrikam: admin BOB) and a TLS
listener ([remote], certificates from lockbox_certs.py); root files an engineer's requests for
both, each tenant's under a requester of its own, the admins approve, deny and revoke, a login
is checked on the login socket.
  Export     ALICE exports contoso over the Unix socket, BOB fabrikam over TLS; each file
             verifies, its counts are the records of that tenant in the real audit file and
             the rest withheld, and nothing of the other tenant (users, requesters, reasons,
             request ids) is in it. The engineer and the other tenant's admin get 403; every
             response carries Lockbox-Audit-Head, equal to /v1/health's head. `audit head`
             works remote.
  Forged     from a good export: an own record replaced by its withheld stub, another
             tenant's record given whole, a record removed, the trailer cut, a wrong --head;
             a head kept by `audit head` passes after more records were added.
  Tampered   a record altered in the database (own, or another tenant's withheld one): a new
             export fails verification.
  Paging     1020 records take two pages; the file verifies, a terminal shows progress.
  Offline    verify runs as a user without root with lockboxd stopped.
Run as root: python3 tests/integration/test_audit_export.py -v   (LOCKBOX_BUILD=build dir)."""
import hashlib
import http.client
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
from lockbox_certs import TestCA, client_context  # noqa: E402

PREFIX = lt.unique_prefix("lbx")
ENG, ALICE, BOB = PREFIX + "_eng", PREFIX + "_alice", PREFIX + "_bob"
TENANTS = {"contoso": [ALICE], "fabrikam": [BOB]}
# What only fabrikam's records hold: none of it may reach a contoso export. Both tenants'
# requests are for the daemon's own host (the only one a lockboxd files for), so what names
# a tenant's request besides its reason is who asked: a requester of that tenant's own.
FAB_REASON, FAB_ASKER = "FABSECRET-%s" % PREFIX, "fabasker-%s" % PREFIX
CON_REASON, CON_ASKER = "CONTICKET-%s" % PREFIX, "conasker-%s" % PREFIX
U = lt.Users(PREFIX)
CERTS = {}
TMP = {}


def setUpModule():
    lt.require_root_and(lt.LOCKBOXD, lt.LOCKBOXCTL)
    for name in (ENG, ALICE, BOB):
        U.add(name)
    tmp = CERTS["dir"] = tempfile.mkdtemp(prefix="lbx-exp-tls-")
    ca = TestCA(tmp)
    CERTS["ca"] = ca.cert
    CERTS["server"] = ca.server("server")
    for name in (ENG, ALICE, BOB):
        CERTS[name] = ca.client(name)
    CERTS["crl"] = ca.gen_crl()
    # Where the admins write their exports: their own, others cannot read them.
    TMP["dir"] = tempfile.mkdtemp(prefix="lbx-exp-")
    os.chmod(TMP["dir"], 0o1777)


def tearDownModule():
    U.cleanup()
    shutil.rmtree(CERTS.get("dir", "/nonexistent"), ignore_errors=True)
    shutil.rmtree(TMP.get("dir", "/nonexistent"), ignore_errors=True)



def remote_daemon():
    port = lt.free_port()
    d = lt.Daemon(tenants=TENANTS)
    crt, key = CERTS["server"]
    d.write_config(lt.remote_section(port, crt, key, CERTS["ca"], CERTS["crl"]))
    d.port = port
    return d


def tls_get(d, who, path):
    """GET over TLS as certificate `who`: (status, headers, json)."""
    crt, key = CERTS[who]
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=30,
                                       context=client_context(CERTS["ca"], crt, key))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheaders(), json.loads(response.read() or b"null")
    finally:
        conn.close()


def login_check(d, user):
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(30)
        s.connect(d.pam_socket)
        s.send(json.dumps({"op": "check", "user": user}).encode())
        return json.loads(s.recv(65536))


def make_activity(d, tag=""):
    """Requests of both tenants in every state an admin can bring about, and a login. Root
    files them for ENG as the PAM module does, since only root may name the requester."""
    ids = {"contoso": [], "fabrikam": []}
    for tenant, reason, asker, admin in (("contoso", CON_REASON, CON_ASKER, ALICE),
                                         ("fabrikam", FAB_REASON, FAB_ASKER, BOB)):
        for action in ("approve", "deny", "revoke"):
            req = d.file_request(ENG, reason="%s %s%s" % (reason, action, tag), tenant=tenant,
                                 requester=asker)
            req = req.get("request", req)
            ids[tenant].append(req["id"])
            first = "approve" if action == "revoke" else action
            status, obj = d.call("POST", "/v1/requests/%s/%s" % (req["id"], first),
                                 {"comment": "ok %s" % tenant}, as_user=admin)
            assert status == 200, (status, obj)
            if action == "revoke":
                status, obj = d.call("POST", "/v1/requests/%s/revoke" % req["id"],
                                     {"comment": "done %s" % tenant}, as_user=admin)
                assert status == 200, (status, obj)
    login_check(d, ENG)
    return ids


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def withheld_stub(line):
    """What lockboxd gives for a format-2 record withheld from a reader."""
    rec = json.loads(line)
    member = ',"prev_hash":"%s"}' % rec["prev_hash"]
    return json.dumps({"withheld": rec["seq"],
                       "tenant_tag": sha("lockbox-audit-tenant\n%d\n%s" % (rec["seq"],
                                                                          rec["tenant"] or "")),
                       "content_hash": sha(line[:-len(member)])}, separators=(",", ":"))


def ctl_local(d, user, *args):
    return lt.run_as(user, [lt.LOCKBOXCTL, "--socket", d.socket] + list(args))


def ctl_remote(d, who, *args):
    crt, key = CERTS[who]
    return subprocess.run([lt.LOCKBOXCTL, "--server", "https://127.0.0.1:%d" % d.port,
                           "--cert", crt, "--key", key, "--ca", CERTS["ca"]] + list(args),
                          capture_output=True, text=True, timeout=60)


def export_path(name):
    path = os.path.join(TMP["dir"], "%s-%s.jsonl" % (name, os.urandom(4).hex()))
    return path


def read_text(path):
    with open(path) as f:
        return f.read()


def read_lines(path):
    return read_text(path).splitlines()


def write_lines(lines, name="forged"):
    path = export_path(name)
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    os.chmod(path, 0o644)
    return path


class ExportCase(unittest.TestCase, lt.CliAssertions):
    def export_as_alice(self, d, *extra):
        path = export_path("contoso")
        result = ctl_local(d, ALICE, "audit", "export", "--tenant", "contoso", "--output", path,
                           *extra)
        self.assert_ok(result)
        return path, result

    def verify(self, path, *extra, user=ALICE):
        return lt.run_as(user, [lt.LOCKBOXCTL, "audit", "verify", path] + list(extra))

    def tenant_counts(self, d, tenant, head_seq):
        lines = [l for l in d.audit_lines() if json.loads(l)["seq"] <= head_seq]
        own = sum(1 for l in lines if json.loads(l).get("tenant") == tenant)
        return own, len(lines) - own


class Export(ExportCase):
    @classmethod
    def setUpClass(cls):
        cls.d = remote_daemon().start()
        cls.ids = make_activity(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def check_export(self, path, tenant, other):
        lines = read_lines(path)
        header, trailer = json.loads(lines[0]), json.loads(lines[-1])
        self.assertEqual((header["lockbox_audit_export"], header["tenant"], header["after_seq"]),
                         (1, tenant, 0), header)
        self.assertEqual(trailer["lockbox_audit_export_end"], 1, trailer)
        own, withheld = self.tenant_counts(self.d, tenant, trailer["head_seq"])
        self.assertGreater(own, 0)
        self.assertGreater(withheld, 0)
        result = self.assert_ok(self.verify(path, "--json"))
        report = json.loads(result.stdout)
        self.assertEqual((report["ok"], report["tenant"], report["from_seq"], report["records"],
                          report["withheld"], report["head_seq"], report["head_hash"]),
                         (True, tenant, 1, own, withheld, trailer["head_seq"],
                          trailer["head_hash"]), report)
        text = self.assert_ok(self.verify(path)).stdout
        self.assertIn("%s: chain intact from seq 1 to %d: %d records of yours, %d withheld"
                      % (tenant, trailer["head_seq"], own, withheld), text)
        # Nothing of the other tenant is in the file: its requests, reasons, requesters, admin.
        data = read_text(path)
        secrets = [FAB_REASON, FAB_ASKER, BOB] if other == "fabrikam" else [CON_REASON, CON_ASKER,
                                                                           ALICE]
        for needle in secrets + self.ids[other]:
            self.assertNotIn(needle, data)
        self.assertNotIn('"%s"' % other, data)

    def test_contoso_admin_exports_over_the_socket_and_verifies(self):
        path, result = self.export_as_alice(self.d)
        self.assertEqual(os.stat(path).st_uid, pwd.getpwnam(ALICE).pw_uid)
        self.assertIn("records of contoso and", result.stderr)
        self.check_export(path, "contoso", "fabrikam")

    def test_fabrikam_admin_exports_over_tls_and_verifies(self):
        path = export_path("fabrikam")
        result = self.assert_ok(ctl_remote(self.d, BOB, "audit", "export", "--tenant",
                                           "fabrikam", "--output", path))
        self.assertIn("records of fabrikam and", result.stderr)
        os.chmod(path, 0o644)  # written by root here; ALICE's verify only needs to read it
        header = json.loads(read_lines(path)[0])
        self.assertEqual(header["server"], "https://127.0.0.1:%d" % self.d.port)
        self.check_export(path, "fabrikam", "contoso")

    def test_export_to_stdout_and_no_overwrite(self):
        result = self.assert_ok(ctl_local(self.d, ALICE, "audit", "export", "--tenant",
                                          "contoso"))
        lines = result.stdout.splitlines()
        self.assertIn("lockbox_audit_export", lines[0])
        self.assertIn("lockbox_audit_export_end", lines[-1])
        path, _ = self.export_as_alice(self.d)
        before = read_text(path)
        self.assert_fails(ctl_local(self.d, ALICE, "audit", "export", "--tenant", "contoso",
                                    "--output", path), 1, "File exists")
        self.assertEqual(read_text(path), before)
        # --json summarises; with the export on stdout it would join the JSON Lines.
        self.assert_fails(ctl_local(self.d, ALICE, "audit", "export", "--tenant", "contoso",
                                    "--json"), 2, "--output")
        result = self.assert_ok(ctl_local(self.d, ALICE, "audit", "export", "--tenant",
                                          "contoso", "--json", "--output", export_path("j")))
        self.assertEqual(json.loads(result.stdout)["tenant"], "contoso")

    def test_export_after_a_seq_starts_there(self):
        head = self.d.health()["audit_seq"]
        path, _ = self.export_as_alice(self.d, "--after", str(head - 3))
        header = json.loads(read_lines(path)[0])
        lines = self.d.audit_lines()
        self.assertEqual((header["after_seq"], header["after_hash"]),
                         (head - 3, lt.record_hash(lines[head - 4])))
        self.assertEqual(len(read_lines(path)), 2 + 3)
        self.assert_ok(self.verify(path))

    def test_engineer_and_other_tenants_admin_are_refused(self):
        for user in (ENG, BOB):
            path = export_path("refused")
            self.assert_fails(ctl_local(self.d, user, "audit", "export", "--tenant", "contoso",
                                        "--output", path), 1)
            self.assertFalse(os.path.exists(path), "a refused export left a file")
            status, obj = self.d.call("GET", "/v1/audit/export?tenant=contoso", as_user=user)
            self.assertEqual((status, obj.get("error")), (403, "forbidden"), obj)
        for who in (ENG, ALICE):
            status, _, obj = tls_get(self.d, who, "/v1/audit/export?tenant=fabrikam")
            self.assertEqual((status, obj.get("error")), (403, "forbidden"), obj)
        # Whether a tenant exists is not told to someone who may not read it.
        status, obj = self.d.call("GET", "/v1/audit/export?tenant=nosuch", as_user=ENG)
        self.assertEqual((status, obj.get("error")), (403, "forbidden"), obj)
        status, obj = self.d.call("GET", "/v1/audit/export?tenant=nosuch")
        self.assertEqual((status, obj.get("error")), (400, "bad_request"), obj)

    def test_every_response_carries_the_audit_head(self):
        health = self.d.health()
        expected = "%d %s" % (health["audit_seq"], health["audit_hash"])
        raw = self.d.raw(b"GET /v1/health HTTP/1.0\r\nHost: x\r\n\r\n")
        self.assertIn("\r\nLockbox-Audit-Head: %s\r\n" % expected, raw)
        raw = self.d.raw(b"GET /v1/no/such/route HTTP/1.0\r\nHost: x\r\n\r\n", as_user=ENG)
        self.assertIn("\r\nLockbox-Audit-Head: %s\r\n" % expected, raw)
        status, headers, _ = tls_get(self.d, ENG, "/v1/audit/export?tenant=contoso")
        self.assertEqual(status, 403)
        self.assertIn(("Lockbox-Audit-Head", expected), headers)

    def test_audit_head_prints_the_daemons_head_local_and_remote(self):
        health = self.d.health()
        expected = "%d %s" % (health["audit_seq"], health["audit_hash"])
        result = self.assert_ok(ctl_local(self.d, ALICE, "audit", "head"))
        self.assertEqual(result.stdout, expected + "\n")
        self.assertIn("--head %d:%s" % (health["audit_seq"], health["audit_hash"]),
                      result.stderr)
        result = self.assert_ok(ctl_remote(self.d, BOB, "audit", "head", "--json"))
        self.assertEqual(json.loads(result.stdout), {"head_seq": health["audit_seq"],
                                                     "head_hash": health["audit_hash"]})


class Forged(ExportCase):
    """Files changed after the export: each change is named."""

    @classmethod
    def setUpClass(cls):
        cls.d = lt.Daemon(tenants=TENANTS).start()
        make_activity(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def setUp(self):
        self.path, _ = self.export_as_alice(self.d)
        self.lines = read_lines(self.path)

    def own_line_index(self):
        """An own record in the middle, with an own record after it."""
        own = [i for i, l in enumerate(self.lines[1:-1], 1)
               if not l.startswith('{"withheld"') and json.loads(l)["tenant"] == "contoso"]
        return own[len(own) // 2]

    def test_an_own_record_withheld_is_named(self):
        i = self.own_line_index()
        seq = json.loads(self.lines[i])["seq"]
        forged = self.lines[:i] + [withheld_stub(self.lines[i])] + self.lines[i + 1:]
        self.assert_fails(self.verify(write_lines(forged)), 1,
                          "record seq %d is contoso's own record but was withheld" % seq)

    def test_another_tenants_record_given_whole_is_named(self):
        audit = {json.loads(l)["seq"]: l for l in self.d.audit_lines()}
        i = next(i for i, l in enumerate(self.lines) if '"tenant_tag"' in l and
                 json.loads(audit[json.loads(l)["withheld"]]).get("tenant") == "fabrikam")
        seq = json.loads(self.lines[i])["withheld"]
        forged = self.lines[:i] + [audit[seq]] + self.lines[i + 1:]
        self.assert_fails(self.verify(write_lines(forged)), 1,
                          "record seq %d belongs to tenant fabrikam: not part of a contoso "
                          "export" % seq)

    def test_a_removed_record_is_named(self):
        i = self.own_line_index()
        seq = json.loads(self.lines[i])["seq"]
        forged = self.lines[:i] + self.lines[i + 1:]
        self.assert_fails(self.verify(write_lines(forged)), 1, "seq %d" % seq, "removed")

    def test_a_cut_trailer_is_incomplete(self):
        self.assert_fails(self.verify(write_lines(self.lines[:-1])), 1,
                          "the export is incomplete (no trailer line)")
        # And cutting records with it: still incomplete, never "intact".
        self.assert_fails(self.verify(write_lines(self.lines[:-3])), 1, "incomplete")

    def test_a_malformed_line_is_named_with_file_and_line(self):
        forged = self.lines[:2] + ['{"withheld":"x"}'] + self.lines[3:]
        path = write_lines(forged)
        self.assert_fails(self.verify(path), 1, "%s:3" % path)

    def as_format_1(self, entry):
        """A record (whole or withheld) passed off as a withheld format-1 hash: its true chain
        hash, so the chain still adds up (from the attacker review)."""
        seq = (json.loads(entry).get("withheld") or json.loads(entry)["seq"])
        audit = {json.loads(l)["seq"]: l for l in self.d.audit_lines()}
        return json.dumps({"withheld": seq, "record_hash": lt.record_hash(audit[seq])},
                          separators=(",", ":"))

    def test_records_passed_off_as_format_1_are_refused(self):
        i = self.own_line_index()
        seq = json.loads(self.lines[i])["seq"]
        forged = ([self.lines[0]] + [self.as_format_1(l) for l in self.lines[1:i + 1]] +
                  self.lines[i + 1:])
        self.assert_fails(self.verify(write_lines(forged)), 1, "passed off as")
        # All of them: no record of contoso's says where format 2 began, so the hashes cannot
        # be taken on trust unless the tenant says its chain began before format 2.
        everything = ([self.lines[0]] + [self.as_format_1(l) for l in self.lines[1:-1]] +
                      [self.lines[-1]])
        path = write_lines(everything)
        self.assert_fails(self.verify(path), 1, "given only as format-1 hashes",
                          "--trust-format-1")
        self.assertIn("taken on trust", self.assert_ok(self.verify(path, "--trust-format-1")).stdout)
        self.assertLess(seq, len(self.lines))

    def test_records_dropped_from_the_start_are_found(self):
        """An export from seq 0 whose first entries are gone: the first must be seq 1."""
        forged = [self.lines[0]] + self.lines[4:]
        self.assert_fails(self.verify(write_lines(forged)), 1, "seq 1 to 3", "removed")

    def test_a_wrong_head_fails_and_a_kept_one_passes_later(self):
        kept = self.assert_ok(ctl_local(self.d, ALICE, "audit", "head")).stdout.split()
        seq, good = int(kept[0]), kept[1]
        make_activity(self.d, " later")
        path, _ = self.export_as_alice(self.d)
        self.assert_ok(self.verify(path, "--head", "%d:%s" % (seq, good)))
        self.assert_ok(self.verify(path, "--head", "%d:%s" % (seq, good.upper())))
        wrong = ("0" if good[0] != "0" else "1") + good[1:]
        self.assert_fails(self.verify(path, "--head", "%d:%s" % (seq, wrong)), 1,
                          "record seq %d does not match the head you kept" % seq)
        last = json.loads(read_lines(path)[-1])["head_seq"]
        self.assert_fails(self.verify(path, "--head", "%d:%s" % (last + 5, good)), 1,
                          "the export ends at seq %d, before the head you kept (%d): records "
                          "were removed" % (last, last + 5))
        late, _ = self.export_as_alice(self.d, "--after", str(seq + 1))
        self.assert_fails(self.verify(late, "--head", "%d:%s" % (seq, good)), 1,
                          "cannot check: the export starts after seq %d" % seq)
        self.assert_fails(self.verify(path, "--head", "nonsense"), 2, "--head")


class Tampered(ExportCase):
    """Records changed in lockboxd's database: the next export no longer verifies."""

    def setUp(self):
        self.d = lt.Daemon(tenants=TENANTS).start()
        make_activity(self.d)

    def tearDown(self):
        self.d.close()

    def alter(self, tenant):
        rows = self.d.db("SELECT seq, line FROM audit ORDER BY seq")
        seq, line = next((s, l) for s, l in rows[:-2] if json.loads(l).get("tenant") == tenant)
        rec = json.loads(line)
        old = '"comment":%s' % json.dumps(rec.get("comment"))
        self.assertIn(old, line)
        self.d.db("UPDATE audit SET line = ? WHERE seq = ?",
                  (line.replace(old, '"comment":"nothing to see"'), seq))
        return seq

    def test_an_altered_own_record_breaks_the_export(self):
        self.assert_ok(self.verify(self.export_as_alice(self.d)[0]))
        seq = self.alter("contoso")
        result = self.verify(self.export_as_alice(self.d)[0])
        self.assert_fails(result, 1, "altered")
        self.assertRegex(result.stderr, r"seq (%d|\d+ to \d+)\b" % seq)

    def test_an_altered_withheld_record_breaks_the_export(self):
        self.alter("fabrikam")
        self.assert_fails(self.verify(self.export_as_alice(self.d)[0]), 1, "altered")


class Paging(ExportCase):
    """More records than one page of the route holds (1000): the export takes two pages."""

    @classmethod
    def setUpClass(cls):
        cls.d = lt.Daemon(tenants=TENANTS).start()
        for i in range(510):  # 1020 records: a filing and a denial each, tenants alternating
            tenant, admin = (("contoso", ALICE), ("fabrikam", BOB))[i % 2]
            req = cls.d.file_request(ENG, reason="page %d" % i, tenant=tenant)
            status, obj = cls.d.call("POST", "/v1/requests/%s/deny" % req.get("request", req)["id"],
                                     {"comment": "no"}, as_user=admin)
            assert status == 200, (status, obj)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_two_pages_verify_and_show_progress_on_a_terminal(self):
        status, page = self.d.call("GET", "/v1/audit/export?tenant=contoso")
        self.assertEqual((status, page["more"], page["next_after"]), (200, True, 1000), status)
        path = export_path("paged")
        master, slave = os.openpty()
        try:
            done = subprocess.run([lt.LOCKBOXCTL, "--socket", self.d.socket, "audit", "export",
                                   "--tenant", "contoso", "--output", path],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                  timeout=60)
            os.close(slave)
            slave = None
            shown = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(done.returncode, 0, shown)
        self.assertIn(b"exported through seq 1000 of 1020", shown)
        self.assertIn(b"wrote 510 records of contoso and 510 withheld", shown)
        os.chmod(path, 0o644)
        result = self.assert_ok(self.verify(path))
        self.assertIn("contoso: chain intact from seq 1 to 1020: 510 records of yours, 510 "
                      "withheld", result.stdout)


class Offline(ExportCase):
    def test_verify_needs_no_daemon_and_no_root(self):
        d = lt.Daemon(tenants=TENANTS)
        try:
            d.start()
            make_activity(d)
            path, _ = self.export_as_alice(d)
            d.stop()
            self.assert_fails(ctl_local(d, ALICE, "audit", "head"), 1, "cannot reach lockboxd")
            result = self.assert_ok(lt.run_as(ALICE, [lt.LOCKBOXCTL, "--socket", d.socket,
                                                      "audit", "verify", "--file", path]))
            self.assertIn("contoso: chain intact from seq 1", result.stdout)
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
