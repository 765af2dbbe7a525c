"""Hidden characters (Trojan Source) against a real lockboxd, lockboxctl and pam_lockbox.so:
bidi controls, zero width and other invisible characters never reach the audit file, syslog,
lockboxctl's output (text and JSON) or the engineer's PAM messages raw; they are shown as
\\uXXXX. Names refuse them all; free text refuses those that reorder text or break lines
(lib/text.h says why) and keeps the rest.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_hidden_chars.py -v (root).
"""

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402

PREFIX = lt.unique_prefix("lbxhid")  # every account this file adds starts so
ENG = PREFIX + "eng"
ADMIN = PREFIX + "adm"
TENANT = "contoso"

# Those that reorder text or break lines: refused in reasons and comments.
REORDERING = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # LRE RLE PDF LRO RLO
              "\u2066", "\u2067", "\u2068", "\u2069",            # LRI RLI FSI PDI
              "\u2028", "\u2029"]                                # line, paragraph separator
# Those that only hide themselves: accepted in free text, always shown escaped.
INVISIBLE = ["\u00ad", "\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff"]
HIDDEN = REORDERING + INVISIBLE


def escaped(ch):
    return "\\u%04x" % ord(ch)


def text_with(chars):
    """Words with each character between them: 'w0 <c0> w1 <c1> ...'."""
    return "".join("w%d %s " % (i, ch) for i, ch in enumerate(chars)) + "end"


class HiddenCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates users, runs lockboxd)")
        for path in (lt.LOCKBOXD, lt.LOCKBOXCTL):
            if not os.path.exists(path):
                raise unittest.SkipTest("not built: %s" % path)
        cls.users = lt.Users(PREFIX)
        try:
            cls.users.add(ENG)
            cls.users.add(ADMIN)
        except Exception:
            cls.users.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.users.cleanup()

    def setUp(self):
        self.daemon = lt.Daemon(tenant=TENANT, tenants={TENANT: [ADMIN]}, syslog=True)
        self.addCleanup(self.daemon.close)
        self.daemon.start()

    def ctl(self, user, *args):
        argv = [lt.LOCKBOXCTL, "--socket", self.daemon.socket] + list(args)
        env = dict(os.environ)
        env.pop("LOCKBOX_SOCKET", None)
        if user == "root":
            return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        return lt.run_as(user, argv, env=env)

    def ctl_ok(self, user, *args):
        result = self.ctl(user, *args)
        self.assertEqual(result.returncode, 0, "%s: stdout=%r stderr=%r" % (
            args, result.stdout, result.stderr))
        return result.stdout

    def assert_none_raw(self, text, where, chars=HIDDEN):
        raw = sorted({escaped(ch) for ch in chars if ch in text})
        self.assertEqual(raw, [], "%s holds hidden characters raw: %r" % (where, text))

    def assert_shown_escaped(self, user, args, chars):
        out = self.ctl_ok(user, *args)
        self.assert_none_raw(out, " ".join(args))
        self.assert_all_escaped(out, " ".join(args), chars)

    def assert_all_escaped(self, text, where, chars):
        missing = [escaped(ch) for ch in chars if escaped(ch) not in text]
        self.assertEqual(missing, [], "%s does not show them escaped: %r" % (where, text))


class FreeText(HiddenCase):
    def test_invisible_characters_are_kept_and_shown_escaped_everywhere(self):
        reason, comment = text_with(INVISIBLE), "no " + text_with(INVISIBLE)
        filed = json.loads(self.ctl_ok(ENG, "--json", "request", "--reason", reason))
        self.assertEqual(filed["reason"], reason, "the request keeps what was typed")
        rid = filed["id"]
        self.ctl_ok(ADMIN, "deny", rid, "--comment", comment)

        # The audit file: its bytes, as `cat` or `tail -f` show them, and its chain.
        with open(self.daemon.audit_path, "rb") as f:
            audit = f.read().decode("utf-8")
        self.assert_none_raw(audit, "the audit file")
        self.assert_all_escaped(audit, "the audit file", INVISIBLE)
        records = [json.loads(line) for line in audit.splitlines()]
        self.assertIn(reason, [r["reason"] for r in records])
        self.assertIn(comment, [r["comment"] for r in records])
        self.ctl_ok("root", "audit", "verify", "--file", self.daemon.audit_path)
        self.ctl_ok("root", "audit", "verify")

        # Syslog.
        self.assertTrue(self.daemon.syslog.wait_for("event=request.denied"))
        lines = "\n".join(self.daemon.syslog.snapshot())
        self.assert_none_raw(lines, "syslog")
        self.assert_all_escaped(lines, "syslog", INVISIBLE)

        # lockboxctl: text and JSON, list, show and audit (the list's table cuts the reason).
        self.assert_shown_escaped(ADMIN, ["list", "--state", "all"], INVISIBLE[:1])
        self.assert_shown_escaped(ADMIN, ["show", rid], INVISIBLE)
        self.assert_shown_escaped(ADMIN, ["audit"], INVISIBLE)
        for args in (["list", "--state", "all"], ["show", rid]):
            out = self.ctl_ok(ADMIN, "--json", *args)
            self.assert_none_raw(out, "--json " + " ".join(args))
            parsed = json.loads(out)
            req = parsed[0] if isinstance(parsed, list) else parsed
            self.assertEqual((req["reason"], req["comment"]), (reason, comment),
                             "JSON parses back to the original text")
        # The API's reply itself, as curl would show it.
        reply = self.daemon.raw(("GET /v1/requests/%s HTTP/1.0\r\n\r\n" % rid).encode())
        reply = reply.encode("latin-1").decode("utf-8")
        self.assert_none_raw(reply, "the API's reply")
        self.assert_all_escaped(reply, "the API's reply", INVISIBLE)
        out = self.ctl_ok("root", "--json", "audit")
        self.assert_none_raw(out, "--json audit")
        self.assertIn(reason, [json.loads(line)["reason"] for line in out.splitlines()])

    def test_reordering_characters_are_refused_in_reasons_and_comments(self):
        pending = self.daemon.file_request(ENG, "INC-4711 restore db01")
        for ch in REORDERING:
            text = "INC-4711 %s restore db01" % ch
            status, obj = self.daemon.call("POST", "/v1/requests", {"reason": text},
                                           as_user=ENG)
            self.assertEqual(status, 400, (escaped(ch), obj))
            self.assertIn("bidi controls", obj["message"])
            status, obj = self.daemon.call("POST", "/v1/requests/%s/deny" % pending["id"],
                                           {"comment": text}, as_user=ADMIN)
            self.assertEqual(status, 400, (escaped(ch), obj))
            result = self.ctl(ENG, "request", "--reason", text, "--host", "db02")
            self.assertEqual(result.returncode, 2, (escaped(ch), result.stderr))
            self.assert_none_raw(result.stderr, "lockboxctl's refusal")
        status, obj = self.daemon.call("GET", "/v1/requests?state=all")
        self.assertEqual([(r["id"], r["state"]) for r in obj["requests"]],
                         [(pending["id"], "pending")], "nothing filed, nothing decided")

    def test_text_stored_before_the_refusal_is_shown_escaped(self):
        """A database from before this check may hold any of them."""
        req = self.daemon.file_request(ENG, "INC-4711")
        reason, comment = text_with(HIDDEN), text_with(reversed(HIDDEN))
        con = sqlite3.connect(self.daemon.db_path, timeout=10)
        with con:
            con.execute("UPDATE requests SET reason = ?, comment = ? WHERE id = ?",
                        (reason, comment, req["id"]))
        con.close()
        self.assert_shown_escaped(ADMIN, ["list"], HIDDEN[:1])
        self.assert_shown_escaped(ADMIN, ["show", req["id"]], HIDDEN)
        for args in (["list"], ["show", req["id"]]):
            out = self.ctl_ok(ADMIN, "--json", *args)
            self.assert_none_raw(out, "--json " + " ".join(args))
            parsed = json.loads(out)
            got = parsed[0] if isinstance(parsed, list) else parsed
            self.assertEqual((got["reason"], got["comment"]), (reason, comment))
        self.ctl_ok(ADMIN, "approve", req["id"])
        with open(self.daemon.audit_path, "rb") as f:
            audit = f.read().decode("utf-8")
        self.assert_none_raw(audit, "the audit file")
        self.assertIn(reason, [json.loads(line)["reason"] for line in audit.splitlines()])
        self.ctl_ok("root", "audit", "verify")
        self.assertTrue(self.daemon.syslog.wait_for("event=request.approved"))
        self.assert_none_raw("\n".join(self.daemon.syslog.snapshot()), "syslog")

    def test_audit_lines_from_before_step11_are_shown_escaped(self):
        """`lockboxctl audit --file` of a file written when hidden characters went in raw."""
        self.daemon.file_request(ENG, text_with(INVISIBLE))
        with open(self.daemon.audit_path, "rb") as f:
            line = f.read().decode("utf-8").splitlines()[0]
        old = line
        for ch in HIDDEN:
            old = old.replace(escaped(ch), ch)
        self.assertNotEqual(old, line)
        path = os.path.join(self.daemon.dir, "old-audit.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(old + "\n")
        self.ctl_ok("root", "audit", "verify", "--file", path)
        for args in (["audit", "--file", path], ["--json", "audit", "--file", path]):
            out = self.ctl_ok("root", *args)
            self.assert_none_raw(out, " ".join(args))
            self.assert_all_escaped(out, " ".join(args), INVISIBLE)
        self.assertEqual(json.loads(out), json.loads(old))


class Names(HiddenCase):
    def test_names_and_hosts_refuse_every_hidden_character(self):
        for ch in HIDDEN:
            for field, value in (("user", "%s%sx" % (ENG, ch)), ("tenant", "con%stoso" % ch),
                                 ("host", "db%s01" % ch)):
                body = {"reason": "INC-4711", "user": ENG, field: value}
                status, obj = self.daemon.call("POST", "/v1/requests", body)
                self.assertEqual(status, 400, (field, escaped(ch), obj))
                self.assertNotIn(ch, obj.get("message", ""))
            quoted = urllib.parse.quote(ch)
            for query in ("user=%s%s" % (ENG, quoted), "tenant=con%stoso" % quoted):
                status, obj = self.daemon.call("GET", "/v1/requests?state=all&" + query)
                self.assertEqual(status, 400, (query, obj))
        self.assertEqual(self.daemon.db("SELECT count(*) FROM requests")[0][0], 0)
        lines = "\n".join(self.daemon.syslog.snapshot())
        self.assert_none_raw(lines, "syslog")


class PamMessages(HiddenCase):
    """The engineer's messages and the module's syslog lines, through the real libpam."""

    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not (os.path.exists(lt.PAM_MODULE) and os.path.exists(lt.PAM_HARNESS)):
            cls.users.cleanup()
            raise unittest.SkipTest("pam_lockbox.so or pam_harness is not built")
        cls.tmp = tempfile.mkdtemp(prefix="lbx-hid-")
        os.chmod(cls.tmp, 0o755)
        cls.confdir = os.path.join(cls.tmp, "pam.d")
        os.mkdir(cls.confdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.module_log = lt.SyslogListener(os.path.join(self.tmp, "devlog%d" % next(self.counter)))
        self.addCleanup(self.module_log.close)

    def service(self, options):
        name = "lbxhid%d" % next(self.counter)
        with open(os.path.join(self.confdir, name), "w") as f:
            for stack in ("auth", "account"):
                f.write("%s required %s socket=%s %s\n" % (stack, lt.PAM_MODULE,
                                                           self.daemon.pam_socket, options))
        return name

    def harness(self, service, user, stack="account", answers=()):
        argv = [lt.PAM_HARNESS, "--confdir", self.confdir, "--service", service, "--user", user,
                "--stack", stack]
        for answer in answers:
            argv += ["--answer", answer]
        return lt.in_namespace(argv, devlog=self.module_log.path)

    def finish(self, proc, timeout=60):
        out, err = proc.communicate(timeout=timeout)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out.strip().splitlines()[-1])

    def login(self, service, user, **kw):
        proc = subprocess.Popen(self.harness(service, user, **kw), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        return self.finish(proc)

    def test_denial_comment_is_shown_escaped(self):
        comment = "no change window " + text_with(INVISIBLE)
        proc = subprocess.Popen(self.harness(self.service("wait=120"), ENG),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        req = self.daemon.wait_pending(ENG)
        status, obj = self.daemon.call("POST", "/v1/requests/%s/deny" % req["id"],
                                       {"comment": comment}, as_user=ADMIN)
        self.assertEqual(status, 200, obj)
        result = self.finish(proc)
        self.assertEqual(result["account"], "PAM_PERM_DENIED", result)
        shown = [m["text"] for m in result["messages"] if req["id"] in m["text"] and
                 "denied by" in m["text"]]
        self.assertEqual(len(shown), 1, result["messages"])
        self.assert_none_raw(shown[0], "the PAM message")
        self.assert_all_escaped(shown[0], "the PAM message", INVISIBLE)
        for message in result["messages"]:
            self.assert_none_raw(message["text"], "a PAM message")

    def test_module_syslog_escapes_a_hidden_user_name(self):
        svc = self.service("wait=0")
        for ch in HIDDEN:
            user = ENG + ch
            result = self.login(svc, user)
            self.assertEqual(result["result"], "PAM_USER_UNKNOWN", result)
            lines = self.module_log.wait_for("user=\"%s%s\"" % (ENG, escaped(ch)))
            self.assertTrue(lines, (escaped(ch), self.module_log.snapshot()))
        self.assert_none_raw("\n".join(self.module_log.snapshot()), "the module's syslog")

    def test_justification_that_reorders_text_is_refused(self):
        svc = self.service("wait=0")
        result = self.login(svc, ENG, stack="auth", answers=["INC-4711 \u202erestore"])
        self.assertEqual(result["auth"], "PAM_AUTH_ERR", result)
        status, obj = self.daemon.call("GET", "/v1/requests?state=all&user=%s" % ENG)
        self.assertEqual(obj["requests"], [])
        result = self.login(svc, ENG, stack="auth", answers=["INC-4711 re\u00adstore"])
        self.assertEqual(self.daemon.wait_pending(ENG)["reason"], "INC-4711 re\u00adstore")


if __name__ == "__main__":
    unittest.main()
