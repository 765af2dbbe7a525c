"""End to end through a real OpenSSH sshd on 127.0.0.1 (Step 4): public-key logins gated in the
account stack, public-key + keyboard-interactive logins that prompt for a justification in the
auth stack, `ssh -N`, a second login after approval, and the syslog lines of both the module
(inside sshd) and lockboxd. sshd runs in its own mount namespace with a private /etc/pam.d and
/dev/log; the machine's files are never touched. What the client showed is kept under
BUILD/e2e-transcripts/ (see docs/LOGINS.md). Run as root: python3 test_sshd.py -v."""

import itertools
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e  # noqa: E402
from e2e_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("e2s")
ADMIN = PREFIX + "_adm"
TENANT, HOST = "contoso", "testhost"
COMMAND = "echo LOCKBOX-E2E-RAN; id -un"
WAIT = 90  # the shipped wait=: far longer than any test waits for a decision
M = {}  # the module's fixtures: daemon, sshds, key, users, tmp


def install_pam(pamdir, daemon, kbd, wait=None, socket=None):
    """sshd's PAM file as an administrator makes it: Debian's /etc/pam.d/sshd plus the lines of
    packaging/pam.d/sshd, where they say they go. Public key: the account line (setup 1) and
    the session line (setup 3); keyboard-interactive adds the auth line (setup 2)."""
    optional = ("session", "auth") if kbd else ("session",)
    replace = [("wait=90", "wait=%d" % wait)] if wait is not None else []
    if socket is not None:
        replace.append(("socket=%s" % daemon.pam_socket, "socket=%s" % socket))
    return e.install_shipped(pamdir, "sshd", daemon, optional=optional, replace=replace)


def setUpModule():
    e.require_e2e(e.SSHD, e.SSH)
    M["users"] = lt.Users(PREFIX)
    M["tmp"] = e.make_tmp("lbx-e2e-sshd-")
    try:
        M["users"].add(ADMIN)
        d = M["daemon"] = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]},
                                    syslog=True).start()
        M["key"] = e.UserKey(M["tmp"])
        for mode, kbd in (("pubkey", False), ("kbd", True)):
            tmp = os.path.join(M["tmp"], mode)
            os.mkdir(tmp, 0o755)
            pamdir = e.PamDir(tmp)
            install_pam(pamdir, d, kbd)
            M[mode] = e.Sshd(tmp, pamdir, M["key"], devlog=d.syslog.path, kbd=kbd).start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    for mode in ("pubkey", "kbd"):
        if mode in M:
            M[mode].stop()
    if "daemon" in M:
        M["daemon"].close()
    if "users" in M:
        M["users"].cleanup()
    shutil.rmtree(M.get("tmp", "/nonexistent"), ignore_errors=True)


class SshdCase(unittest.TestCase):
    counter = itertools.count(1)
    mode = "pubkey"

    def setUp(self):
        self.d, self.sshd, self.key = M["daemon"], M[self.mode], M["key"]
        self.user = M["users"].add("%s_eng%d" % (PREFIX, next(self.counter)), home=True)
        self.key.authorize(self.user)
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.stop()

    def ssh(self, command=COMMAND, extra=()):
        client = e.Client(self.sshd.ssh_argv(self.key, self.user, command, extra=extra))
        self.clients.append(client)
        return client

    def pty_ssh(self, command=COMMAND, extra=()):
        client = e.PtyClient(self.sshd.ssh_argv(self.key, self.user, command, batch=False,
                                                extra=extra))
        self.clients.append(client)
        return client

    def pending(self):
        req = e.wait_for_request(self.d, ADMIN, self.user)
        self.assertIsNotNone(req, "no pending request for %s; sshd log:\n%s"
                             % (self.user, self.sshd.log()))
        return req

    def decide(self, action, rid, comment):
        out = e.ctl(self.d, ADMIN, action, rid, "--comment", comment)
        self.assertEqual(out.returncode, 0, out.stderr)

    def assert_blocked(self, client, seconds=1.0):
        """Still connected and waiting after `seconds`, and sshd has not let the user in."""
        time.sleep(seconds)
        self.assertTrue(client.running(), "the client ended before any decision")
        self.assertNotIn("Accepted publickey for %s " % self.user, self.sshd.log())
        self.assertEqual(e.events(self.d, "login.allowed", self.user), [])

    def waiting(self):
        status, health = self.d.call("GET", "/v1/health")
        self.assertEqual(status, 200, health)
        return health["waiting"]

    def assert_released_when_the_client_leaves(self, client, stack):
        """The client gives up while its login waits: sshd's monitor still blocks in the
        module, which watches the client's connection, so the wait ends within 2 s."""
        req = self.pending()
        self.assertTrue(e.wait_until(lambda: self.waiting() >= 1, 10), "the login never waited")
        before = self.waiting()
        client.stop()
        left = time.monotonic()
        released = e.wait_until(lambda: self.waiting() < before, 10, step=0.02)
        elapsed = time.monotonic() - left
        self.assertTrue(released, "the wait outlived its client")
        self.assertLess(elapsed, 2.0, "released only after %.1f s" % elapsed)
        self.assert_syslog(
            "lockboxd[%d]: event=login.abandoned id=%s" % (self.d.pid, req["id"]),
            "pam_lockbox(sshd:%s): event=login.denied id=%s" % (stack, req["id"]))
        self.assertTrue(self.d.syslog.wait_for("why=abandoned"), "no why=abandoned")
        self.assertEqual(e.events(self.d, "login.allowed", self.user), [])

    def assert_syslog(self, *needles):
        for needle in needles:
            self.assertTrue(self.d.syslog.wait_for(needle),
                            "no syslog line with %r:\n%s" % (needle,
                                                             "\n".join(self.d.syslog.snapshot())))


class PublicKey(SshdCase):
    """BatchMode public-key logins: the module runs in the account stack and cannot prompt."""

    def test_login_blocks_until_approved_then_runs_the_command(self):
        client = self.ssh()
        req = self.pending()
        self.assertEqual((req["reason"], req["service"], req["rhost"], req["host"]),
                         ("login via sshd from 127.0.0.1", "sshd", "127.0.0.1", HOST))
        self.assert_blocked(client)
        before = client.stderr()
        self.assertNotIn("Lockbox", before, "sshd showed module text while it blocked")
        self.assertEqual(client.stdout(), "")
        self.decide("approve", req["id"], "INC-4711 ok")
        self.assertEqual(client.wait(30), 0, client.stderr())
        e.record("sshd-pubkey-approved", [("before the decision (stderr)", before),
                                          ("after approval (stderr)", client.stderr()),
                                          ("after approval (stdout)", client.stdout())])
        self.assertEqual(client.stdout(), "LOCKBOX-E2E-RAN\n%s\n" % self.user)
        # sshd would show the account stack's text twice on a pty session: an approved login
        # just opens (on a pty the session line says until when, see PtySession).
        self.assertNotIn("Lockbox", client.stderr())
        self.assertIn("Accepted publickey for %s " % self.user, self.sshd.log())
        allowed = e.events(self.d, "login.allowed", self.user)
        self.assertEqual([ev["request_id"] for ev in allowed], [req["id"]])
        self.assert_syslog(
            "lockboxd[%d]: event=request.approved id=%s" % (self.d.pid, req["id"]),
            "lockboxd[%d]: event=login.allowed id=%s" % (self.d.pid, req["id"]),
            "pam_lockbox(sshd:account): event=login.allowed id=%s tenant=%s host=%s user=%s "
            "service=sshd rhost=127.0.0.1" % (req["id"], TENANT, HOST, self.user))
        e.record("syslog-sshd-pubkey-approved", [("syslog", e.syslog_about(self.d, req["id"]))])

    def test_denied_login_is_refused_with_the_comment(self):
        client = self.ssh()
        req = self.pending()
        self.assert_blocked(client)
        before = client.stderr()
        self.decide("deny", req["id"], "not during the freeze")
        code = client.wait(30)
        e.record("sshd-pubkey-denied", [("before the decision (stderr)", before),
                                        ("after denial (stderr)", client.stderr()),
                                        ("exit code", str(code))])
        self.assertEqual(code, 255)
        self.assertEqual(client.stdout(), "", "the command ran after a denial")
        self.assertIn("Lockbox: request %s was denied by %s: not during the freeze"
                      % (req["id"], ADMIN), client.stderr())
        self.assertIn("Connection closed by 127.0.0.1", client.stderr())
        self.assertTrue(e.wait_until(lambda: "Access denied for user %s by PAM account "
                                     "configuration" % self.user in self.sshd.log(), 5))
        self.assertEqual(e.events(self.d, "login.allowed", self.user), [])
        self.assertEqual(len(e.events(self.d, "login.denied", self.user)), 1)
        self.assert_syslog(
            "lockboxd[%d]: event=request.denied id=%s" % (self.d.pid, req["id"]),
            "pam_lockbox(sshd:account): event=login.denied id=%s tenant=%s host=%s user=%s "
            "service=sshd rhost=127.0.0.1 why=denied" % (req["id"], TENANT, HOST, self.user))

    def test_second_login_after_approval_passes_at_once(self):
        first = self.ssh()
        req = self.pending()
        self.decide("approve", req["id"], "ok")
        self.assertEqual(first.wait(30), 0, first.stderr())
        start = time.monotonic()
        second = self.ssh()
        self.assertEqual(second.wait(30), 0, second.stderr())
        elapsed = time.monotonic() - start
        e.record("sshd-pubkey-second-login", [("second login (stderr)", second.stderr()),
                                              ("second login (stdout)", second.stdout())])
        self.assertLess(elapsed, WAIT / 3, "the second login waited")  # loose: no blocking
        self.assertEqual(second.stdout(), "LOCKBOX-E2E-RAN\n%s\n" % self.user)
        self.assertNotIn("Lockbox", second.stderr(), "an approved login is silent")
        self.assertEqual(len(e.requests(self.d, ADMIN, self.user)), 1, "a second request")
        allowed = e.events(self.d, "login.allowed", self.user)
        self.assertEqual([ev["request_id"] for ev in allowed], [req["id"], req["id"]])

    def test_client_that_gives_up_releases_its_wait(self):
        self.assert_released_when_the_client_leaves(self.ssh(), "account")

    def test_quiet_client_shows_nothing_yet_is_held(self):
        """sshd sends the module's text as a banner, which `ssh -q` (LogLevel QUIET) drops."""
        client = self.ssh(extra=["-q"])
        req = self.pending()
        self.assert_blocked(client)
        self.decide("approve", req["id"], "ok")
        self.assertEqual(client.wait(30), 0)
        e.record("sshd-pubkey-quiet", [("stderr with -q", client.stderr())])
        self.assertEqual(client.stderr(), "")
        self.assertEqual(client.stdout(), "LOCKBOX-E2E-RAN\n%s\n" % self.user)

    def test_daemon_down_refuses_with_a_clear_line(self):
        """lockboxd not running (no socket): failmode=secure, the default, refuses at once."""
        install_pam(self.sshd.pamdir, self.d, kbd=False,
                    socket="/run/lockbox-e2e-absent-%d/pam.sock" % os.getpid())
        try:
            client = self.ssh()
            code = client.wait(30)
        finally:
            install_pam(self.sshd.pamdir, self.d, kbd=False)
        e.record("sshd-pubkey-daemon-down", [("stderr", client.stderr()),
                                             ("exit code", str(code))])
        self.assertEqual(code, 255)
        self.assertEqual(client.stdout(), "")
        self.assertIn("Lockbox: cannot reach lockboxd to approve this login; access denied. "
                      "Ask an administrator to check the lockboxd service.", client.stderr())
        self.assertEqual(e.requests(self.d, ADMIN, self.user), [])

    def test_no_command_session_is_gated(self):
        """`ssh -N` runs no command, yet its login runs the account stack too. LocalCommand
        runs on the client only once the login has succeeded: a marker the test can see."""
        marker = os.path.join(M["tmp"], "connected-%s" % self.user)
        client = self.ssh(command=None, extra=["-N", "-o", "PermitLocalCommand=yes",
                                               "-o", "LocalCommand=touch %s" % marker])
        req = self.pending()
        self.assert_blocked(client)
        self.assertFalse(os.path.exists(marker), "the session opened before approval")
        self.decide("approve", req["id"], "tunnel ok")
        self.assertTrue(e.wait_until(lambda: os.path.exists(marker), 20),
                        "no session after approval: %s" % client.stderr())
        self.assertTrue(client.running(), "ssh -N should hold the session open")
        self.assertIn("Accepted publickey for %s " % self.user, self.sshd.log())
        self.assertEqual(len(e.events(self.d, "login.allowed", self.user)), 1)

    def test_no_command_session_denied(self):
        marker = os.path.join(M["tmp"], "connected-%s" % self.user)
        client = self.ssh(command=None, extra=["-N", "-o", "PermitLocalCommand=yes",
                                               "-o", "LocalCommand=touch %s" % marker])
        req = self.pending()
        self.assert_blocked(client)
        self.decide("deny", req["id"], "no tunnels")
        self.assertEqual(client.wait(30), 255)
        self.assertFalse(os.path.exists(marker))
        self.assertIn("was denied by %s: no tunnels" % ADMIN, client.stderr())

    def test_still_pending_at_the_end_of_the_wait(self):
        """wait=2 for this test only (sshd reads its PAM file per connection)."""
        install_pam(self.sshd.pamdir, self.d, kbd=False, wait=2)
        try:
            client = self.ssh()
            code = client.wait(30)
            again = self.ssh()
            code_again = again.wait(30)
        finally:
            install_pam(self.sshd.pamdir, self.d, kbd=False)
        e.record("sshd-pubkey-still-pending", [("stderr (wait=2)", client.stderr()),
                                               ("exit code", str(code))])
        self.assertEqual((code, code_again), (255, 255))
        reqs = e.requests(self.d, ADMIN, self.user)
        self.assertEqual(len(reqs), 1, "the second login should reuse the pending request")
        self.assertEqual(reqs[0]["state"], "pending")
        self.assertIn("Lockbox: request %s is still pending; log in again once it is approved"
                      % reqs[0]["id"], client.stderr())
        self.assertIn("Lockbox: request %s" % reqs[0]["id"], again.stderr())
        self.assert_syslog("pam_lockbox(sshd:account): event=login.denied id=%s tenant=%s "
                           "host=%s user=%s service=sshd rhost=127.0.0.1 why=pending"
                           % (reqs[0]["id"], TENANT, HOST, self.user))


PROMPT = "Lockbox: access to %s needs approval by a %s admin. Justification: " % (HOST, TENANT)
WAIT_PROMPT = ("Lockbox: request %s asks a %s admin to approve access to %s. Press Enter to wait "
               "up to %d seconds for the decision (Ctrl-C gives up; the request stays filed): ")


class ShippedFiles(unittest.TestCase):
    """What keeps setup 2 safe is in the shipped line itself: the e2e logins below always
    present a valid key, so they would pass without it."""

    def test_the_auth_line_requires_the_key_and_keeps_setcred_going(self):
        auth = [line for _, _, line in e.shipped_lines("sshd", optional=("auth",))
                if line.startswith("auth")]
        self.assertEqual(len(auth), 1, auth)
        self.assertIn(" [success=done ignore=ignore default=die] ", auth[0])
        self.assertIn("publickey_first", auth[0].split())
        where = [(w, a) for w, a, line in e.shipped_lines("sshd", optional=("auth",))
                 if line.startswith("auth")]
        self.assertEqual(where, [("Before", "@include common-auth")])


class KeyboardInteractive(SshdCase):
    """Setup 2 of packaging/pam.d/sshd (AuthenticationMethods publickey,keyboard-interactive:pam,
    the auth line before common-auth): the module asks for the justification, then shows the
    request id in a second prompt before it waits. The accounts have no password (key-only),
    and the client runs on a pty as it would for a person."""

    mode = "kbd"

    def prompted(self, client):
        self.assertTrue(client.expect("Justification: "), "no prompt: %r" % client.output())
        self.assertIn("(%s@127.0.0.1) %s" % (self.user, PROMPT), client.output())
        self.assertNotIn("Password", client.output(), "common-auth ran before the module")
        self.assertTrue(client.running())
        self.assertEqual(e.requests(self.d, ADMIN, self.user), [],
                         "a request was filed before the justification was given")

    def justify(self, client, reason):
        """Answers the justification; returns the request once its id prompt is shown."""
        self.prompted(client)
        client.send(reason + "\n")
        req = self.pending()
        shown = WAIT_PROMPT % (req["id"], TENANT, HOST, WAIT)
        self.assertTrue(client.expect(shown, 20), "no id prompt: %r" % client.output())
        self.assertTrue(client.running())
        return req

    def test_client_that_gives_up_releases_its_wait(self):
        client = self.pty_ssh()
        self.justify(client, "INC-9 then gone")
        client.send("\n")
        self.assert_released_when_the_client_leaves(client, "auth")

    def test_the_request_id_is_shown_before_the_wait_and_the_reason_recorded(self):
        client = self.pty_ssh()
        self.prompted(client)
        at_prompt = client.output()
        client.send("INC-4711 disk full on db01\n")
        req = self.pending()
        self.assertEqual(req["reason"], "INC-4711 disk full on db01")
        self.assertTrue(client.expect(WAIT_PROMPT % (req["id"], TENANT, HOST, WAIT), 20))
        at_id_prompt = client.output()
        self.assertEqual(self.waiting(), 0, "the login waited before Enter")
        client.send("\n")
        self.assertTrue(e.wait_until(lambda: self.waiting() >= 1, 10), "the login never waited")
        self.assert_blocked(client)
        client.drain(0.3)
        before = client.output()
        self.decide("approve", req["id"], "go ahead")
        code = client.wait(30)
        e.record("sshd-kbd-approved", [("at the prompt", at_prompt),
                                       ("at the id prompt", at_id_prompt),
                                       ("after Enter, before the decision", before),
                                       ("after approval", client.output()),
                                       ("exit code", str(code))])
        self.assertEqual(code, 0, client.output())
        after = client.output()[len(before):]
        # As with public keys: an approved login just opens; on a pty the session line says
        # until when (PtySession).
        self.assertNotIn("Lockbox", after)
        self.assertIn("LOCKBOX-E2E-RAN\n%s\n" % self.user, after)
        self.assertIn("Accepted keyboard-interactive/pam for %s " % self.user, self.sshd.log())
        self.assert_syslog(
            "lockboxd[%d]: event=request.created id=%s" % (self.d.pid, req["id"]),
            'reason="INC-4711 disk full on db01"',
            "pam_lockbox(sshd:auth): event=login.allowed id=%s" % req["id"],
            "pam_lockbox(sshd:account): event=login.allowed id=%s" % req["id"])
        e.record("syslog-sshd-kbd-approved", [("syslog", e.syslog_about(self.d, req["id"]))])

    def test_ctrl_c_at_the_id_prompt_gives_up_and_keeps_the_request(self):
        client = self.pty_ssh()
        req = self.justify(client, "INC-5 changed my mind")
        at_id_prompt = client.output()
        code = self.ctrl_c(client)
        e.record("sshd-kbd-ctrl-c", [("at the id prompt", at_id_prompt),
                                     ("after Ctrl-C", client.output()),
                                     ("exit status", str(code))])
        self.assertIsNotNone(code, "ssh still runs after Ctrl-C")
        self.assertNotEqual(code, 0)
        self.assertNotIn("LOCKBOX-E2E-RAN", client.output())
        self.assertEqual([r["state"] for r in e.requests(self.d, ADMIN, self.user)], ["pending"])
        self.assertEqual(e.events(self.d, "login.allowed", self.user), [])

    def ctrl_c(self, client):
        # The client may still be setting up its terminal for the prompt when the first one
        # arrives, so press it again if it is not gone yet.
        code = None
        for _ in range(4):
            client.drain(0.3)
            client.send("\x03")
            code = client.wait(5)
            if code is not None:
                break
        return code

    def test_denial_shows_the_comment_then_the_client_asks_again(self):
        """OpenSSH's client retries keyboard-interactive (NumberOfPasswordPrompts, 3): after a
        denial the prompt comes back. Ctrl-C there ends the login and files nothing new."""
        client = self.pty_ssh()
        req = self.justify(client, "INC-1 please")
        client.send("\n")
        self.assert_blocked(client)
        client.drain(0.3)
        before = client.output()
        self.decide("deny", req["id"], "use the staging copy")
        denied = "was denied by %s: use the staging copy" % ADMIN
        self.assertTrue(client.expect(denied))
        denied_at = client.output().index(denied)
        self.assertTrue(client.expect(PROMPT, 20, since=denied_at), "no second prompt")
        after = client.output()
        code = self.ctrl_c(client)
        e.record("sshd-kbd-denied", [("before the decision", before),
                                     ("after denial", after),
                                     ("after Ctrl-C at the second prompt", client.output()),
                                     ("exit status", str(code))])
        self.assertIsNotNone(code, "ssh still runs after Ctrl-C")
        self.assertNotEqual(code, 0)
        self.assertNotIn("LOCKBOX-E2E-RAN", client.output())
        reqs = e.requests(self.d, ADMIN, self.user)
        self.assertEqual([(r["id"], r["state"]) for r in reqs], [(req["id"], "denied")])
        self.assertEqual(e.events(self.d, "login.allowed", self.user), [])
        self.assert_syslog("pam_lockbox(sshd:auth): event=login.denied id=%s tenant=%s host=%s "
                           "user=%s service=sshd rhost=127.0.0.1 why=denied"
                           % (req["id"], TENANT, HOST, self.user))

    def test_denial_with_one_prompt_ends_the_connection(self):
        client = self.pty_ssh(extra=["-o", "NumberOfPasswordPrompts=1"])
        req = self.justify(client, "INC-2")
        client.send("\n")
        self.assert_blocked(client)
        self.decide("deny", req["id"], "no")
        code = client.wait(30)
        e.record("sshd-kbd-denied-one-prompt", [("after denial", client.output()),
                                                ("exit code", str(code))])
        self.assertEqual(code, 255, client.output())
        self.assertIn("was denied by %s: no" % ADMIN, client.output())
        self.assertIn("%s@127.0.0.1: Permission denied (keyboard-interactive)." % self.user,
                      client.output())

    def test_filed_ahead_and_approved_login_is_not_prompted(self):
        """The recommended flow: `lockboxctl request` before ssh; once approved, no prompt."""
        out = e.ctl(self.d, self.user, "request", "--reason", "INC-9 filed ahead")
        self.assertEqual(out.returncode, 0, out.stderr)
        req = self.pending()
        self.assertEqual((req["reason"], req["service"]), ("INC-9 filed ahead", "lockboxctl"))
        self.decide("approve", req["id"], "ok")
        client = self.pty_ssh()
        code = client.wait(30)
        e.record("sshd-kbd-filed-ahead", [("login after approval", client.output()),
                                          ("exit code", str(code))])
        self.assertEqual(code, 0, client.output())
        self.assertNotIn("Justification", client.output())
        self.assertNotIn("Password", client.output())
        self.assertIn("LOCKBOX-E2E-RAN\n%s\n" % self.user, client.output())
        self.assertEqual(len(e.requests(self.d, ADMIN, self.user)), 1)


class PtySession(SshdCase):
    """An interactive login on a pty (`ssh -tt`, a shell): sshd shows the account stack's text
    as a banner and again on the session's terminal, so every Lockbox line must appear once."""

    def shell(self, client):
        self.assertTrue(client.expect("$ ", 30), "no shell prompt: %r" % client.output())
        client.send("echo LOCKBOX-E2E-SHELL; exit\n")
        code = client.wait(30)
        self.assertEqual(code, 0, client.output())
        return client.output()

    @staticmethod
    def lockbox_lines(text):
        """What Lockbox showed, without the machine's motd and shell prompt."""
        return "".join(line + "\n" for line in text.replace("\r", "").splitlines()
                       if "Lockbox" in line)

    def assert_each_line_once(self, text):
        lines = [line.strip() for line in text.splitlines() if "Lockbox:" in line]
        self.assertTrue(lines, "no Lockbox line at all: %r" % text)
        for line in lines:
            self.assertEqual(text.count(line), 1, "shown more than once: %r in %r" % (line, text))

    def test_pubkey_shell_login_shows_each_line_once(self):
        client = self.pty_ssh(command=None, extra=["-tt"])
        req = self.pending()
        self.decide("approve", req["id"], "INC-7 shell")
        out = self.shell(client)
        e.record("sshd-pubkey-pty-approved", [("interactive login after approval",
                                                self.lockbox_lines(out))])
        self.assert_each_line_once(out)
        self.assertIn("Lockbox: access approved by %s (request %s) until " % (ADMIN, req["id"]),
                      out)

    def test_kbd_shell_login_shows_each_line_once(self):
        self.sshd = M["kbd"]
        client = self.pty_ssh(command=None, extra=["-tt"])
        self.assertTrue(client.expect("Justification: "), client.output())
        client.send("INC-8 shell\n")
        req = self.pending()
        self.assertTrue(client.expect("Press Enter to wait", 20), client.output())
        client.send("\n")
        self.assertTrue(e.wait_until(lambda: self.waiting() >= 1, 10), "the login never waited")
        self.decide("approve", req["id"], "INC-8 ok")
        out = self.shell(client)
        e.record("sshd-kbd-pty-approved", [("interactive login after approval",
                                             self.lockbox_lines(out))])
        self.assert_each_line_once(out)
        self.assertIn("Lockbox: access approved by %s (request %s) until " % (ADMIN, req["id"]),
                      out)


if __name__ == "__main__":
    unittest.main()
