"""End to end through the real su and sudo of Debian: the machine's PAM files plus exactly the
lines of packaging/pam.d/su and packaging/pam.d/sudo, in a private /etc/pam.d copy (bound over
/etc/pam.d in a private mount namespace, with /dev/log and, for sudo, /etc/sudoers.d). Gates
`su - USER` from root (account stack), `su - USER` from another user (auth stack: password,
justification, the request id prompt) and `sudo -n` as a user with a NOPASSWD rule.
Run as root: python3 test_su_sudo.py -v."""

import itertools
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e  # noqa: E402
from e2e_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("e2u")
ADMIN = PREFIX + "_adm"
TENANT, HOST = "contoso", "testhost"
SU, SUDO, RUNUSER = "/usr/bin/su", "/usr/bin/sudo", "/usr/sbin/runuser"
WAIT = 300  # packaging/pam.d/su's wait=
SUDO_WAIT = 60  # packaging/pam.d/sudo ships wait=0; the blocking sudo tests use this instead
M = {}


def setUpModule():
    e.require_e2e(SU, SUDO, RUNUSER)
    M["users"] = lt.Users(PREFIX)
    M["tmp"] = e.make_tmp("lbx-e2e-su-")
    try:
        M["users"].add(ADMIN)
        M["daemon"] = lt.Daemon(tenant=TENANT, host=HOST, tenants={TENANT: [ADMIN]},
                                syslog=True).start()
        M["pam"] = e.PamDir(M["tmp"])
        M["sudoers"] = os.path.join(M["tmp"], "sudoers.d")
        os.mkdir(M["sudoers"], 0o755)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    if "daemon" in M:
        M["daemon"].close()
    if "users" in M:
        M["users"].cleanup()
    shutil.rmtree(M.get("tmp", "/nonexistent"), ignore_errors=True)


class CallerCase(unittest.TestCase):
    counter = itertools.count(1)

    def setUp(self):
        self.d, self.pam = M["daemon"], M["pam"]
        self.user = M["users"].add("%s_eng%d" % (PREFIX, next(self.counter)), home=True)
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.stop()

    def gate(self, service, replace=()):
        """The machine's PAM file for `service` plus the shipped lines, where they say."""
        e.install_shipped(self.pam, service, self.d, replace=replace)

    def namespaced(self, argv):
        return lt.in_namespace(argv, binds=[self.pam.bind(), (M["sudoers"], "/etc/sudoers.d")],
                               devlog=self.d.syslog.path)

    def pending(self):
        req = e.wait_for_request(self.d, ADMIN, self.user)
        self.assertIsNotNone(req, "no pending request for %s" % self.user)
        return req

    def decide(self, action, rid, comment):
        out = e.ctl(self.d, ADMIN, action, rid, "--comment", comment)
        self.assertEqual(out.returncode, 0, out.stderr)

    def assert_syslog(self, *needles):
        for needle in needles:
            self.assertTrue(self.d.syslog.wait_for(needle),
                            "no syslog line with %r:\n%s" % (needle,
                                                             "\n".join(self.d.syslog.snapshot())))


class Su(CallerCase):
    """`su - USER` from root: pam_rootok passes auth, the account stack runs the module; su's
    misc_conv shows the module's messages on the terminal at once."""

    def su(self):
        client = e.PtyClient(self.namespaced([SU, "-", self.user, "-c",
                                              "echo LOCKBOX-E2E-RAN; id -un"]))
        self.clients.append(client)
        return client

    def test_su_shows_the_request_at_once_and_runs_once_approved(self):
        self.gate("su")
        client = self.su()
        req = self.pending()
        self.assertEqual(req["requester"], "root")
        self.assertEqual((req["service"], req["reason"], req["rhost"]),
                         ("su-l", "login via su-l", None))
        announced = "Lockbox: request %s asks a %s admin to approve access to %s; waiting up " \
                    "to %d seconds." % (req["id"], TENANT, HOST, WAIT)
        self.assertTrue(client.expect(announced, 10), "su did not show the request id at once")
        time.sleep(0.5)
        client.drain(0.2)
        self.assertTrue(client.running())
        before = client.output()
        self.assertNotIn("LOCKBOX-E2E-RAN", before)
        self.decide("approve", req["id"], "su ok")
        code = client.wait(30)
        e.record("su-approved", [("before the decision", before),
                                 ("after approval", client.output()), ("exit code", str(code))])
        self.assertEqual(code, 0, client.output())
        self.assertIn("Lockbox: request %s approved by %s (su ok)" % (req["id"], ADMIN),
                      client.output())
        self.assertIn("LOCKBOX-E2E-RAN\n%s\n" % self.user, client.output())
        self.assert_syslog(
            "lockboxd[%d]: event=login.allowed id=%s" % (self.d.pid, req["id"]),
            "pam_lockbox(su-l:account): event=login.allowed id=%s tenant=%s host=%s user=%s "
            "service=su-l" % (req["id"], TENANT, HOST, self.user))
        # A second su passes at once, silently.
        again = self.su()
        self.assertEqual(again.wait(30), 0)
        self.assertNotIn("Lockbox", again.output())
        self.assertEqual(len(e.events(self.d, "login.allowed", self.user)), 2)

    def test_su_denied(self):
        self.gate("su")
        client = self.su()
        req = self.pending()
        self.assertTrue(client.expect("Lockbox: request %s asks" % req["id"], 10))
        self.decide("deny", req["id"], "not you")
        code = client.wait(30)
        e.record("su-denied", [("after denial", client.output()), ("exit code", str(code))])
        self.assertEqual(code, 1)
        self.assertIn("Lockbox: request %s was denied by %s: not you" % (req["id"], ADMIN),
                      client.output())
        self.assertIn("su: Permission denied", client.output())
        self.assertNotIn("LOCKBOX-E2E-RAN", client.output())
        self.assert_syslog("pam_lockbox(su-l:account): event=login.denied id=%s tenant=%s "
                           "host=%s user=%s service=su-l rhost=- why=denied"
                           % (req["id"], TENANT, HOST, self.user))
        e.record("syslog-su-denied", [("syslog", e.syslog_about(self.d, req["id"]))])


class SuFromAUser(CallerCase):
    """`su - USER` run by another user: common-auth asks the target's password, then the shipped
    auth line asks for a justification and shows the request id in a prompt before it waits;
    the account line then passes at once. The person who ran su is the requester."""

    def setUp(self):
        super().setUp()
        self.caller = M["users"].add("%s_caller%d" % (PREFIX, next(self.counter)), home=True)
        self.password = "Lbx-%d-pw" % os.getpid()
        subprocess.run(["chpasswd"], input="%s:%s\n" % (self.user, self.password), text=True,
                       check=True, capture_output=True)

    def su(self):
        client = e.PtyClient(self.namespaced([RUNUSER, "-u", self.caller, "--", SU, "-",
                                              self.user, "-c", "echo LOCKBOX-E2E-RAN; id -un"]))
        self.clients.append(client)
        return client

    def test_password_justification_id_prompt_then_approval(self):
        self.gate("su")
        client = self.su()
        self.assertTrue(client.expect("Password: ", 20), client.output())
        client.send(self.password + "\n")
        self.assertTrue(client.expect("Justification: ", 20), client.output())
        at_prompt = client.output()
        client.send("INC-77 rotate logs\n")
        req = self.pending()
        self.assertEqual((req["reason"], req["requester"]), ("INC-77 rotate logs", self.caller))
        self.assertTrue(client.expect("Lockbox: request %s asks a %s admin to approve access to "
                                      "%s. Press Enter to wait up to %d seconds"
                                      % (req["id"], TENANT, HOST, WAIT), 20), client.output())
        at_id_prompt = client.output()
        client.send("\n")
        client.drain(0.3)
        self.assertTrue(client.running())
        # The requester may not decide their own request.
        own = e.ctl(self.d, self.caller, "approve", req["id"], "--comment", "me")
        self.assertNotEqual(own.returncode, 0)
        self.decide("approve", req["id"], "rotate ok")
        code = client.wait(30)
        e.record("su-from-user-approved", [("at the justification prompt", at_prompt),
                                           ("at the id prompt", at_id_prompt),
                                           ("after approval", client.output()),
                                           ("exit code", str(code))])
        self.assertEqual(code, 0, client.output())
        self.assertIn("Lockbox: request %s approved by %s (rotate ok)" % (req["id"], ADMIN),
                      client.output())
        self.assertIn("LOCKBOX-E2E-RAN\n%s\n" % self.user, client.output())
        self.assert_syslog(
            "pam_lockbox(su-l:auth): event=login.allowed id=%s" % req["id"],
            "pam_lockbox(su-l:account): event=login.allowed id=%s" % req["id"])


class Sudo(CallerCase):
    """`runuser -u USER -- sudo -n true` with a NOPASSWD rule: sudo skips auth but runs the
    account stack (pam_acct_mgmt is on by default); it passes PAM_SILENT, so the module shows
    nothing and the request id reaches only syslog and `lockboxctl list --user`."""

    def setUp(self):
        super().setUp()
        rule = os.path.join(M["sudoers"], "lockbox-e2e")
        with open(rule, "w") as f:
            f.write("%s ALL=(root) NOPASSWD: /usr/bin/true\n" % self.user)
        os.chmod(rule, 0o440)

    def sudo(self):
        client = e.Client(self.namespaced([RUNUSER, "-u", self.user, "--",
                                           SUDO, "-n", "/usr/bin/true"]))
        self.clients.append(client)
        return client

    def test_sudo_blocks_silently_until_approved(self):
        self.gate("sudo", replace=[("wait=0", "wait=%d" % SUDO_WAIT)])
        client = self.sudo()
        req = self.pending()
        self.assertEqual((req["service"], req["reason"]), ("sudo", "login via sudo"))
        time.sleep(1)
        self.assertTrue(client.running(), "sudo returned before any decision")
        self.decide("approve", req["id"], "sudo ok")
        code = client.wait(30)
        e.record("sudo-approved", [("stdout", client.stdout()), ("stderr", client.stderr()),
                                   ("exit code", str(code))])
        self.assertEqual(code, 0, client.stderr())
        self.assertNotIn("Lockbox", client.stdout() + client.stderr(), "PAM_SILENT ignored")
        self.assert_syslog(
            "pam_lockbox(sudo:account): event=login.allowed id=%s tenant=%s host=%s user=%s "
            "service=sudo" % (req["id"], TENANT, HOST, self.user),
            "lockboxd[%d]: event=request.approved id=%s" % (self.d.pid, req["id"]))

    def test_sudo_denied(self):
        self.gate("sudo", replace=[("wait=0", "wait=%d" % SUDO_WAIT)])
        client = self.sudo()
        req = self.pending()
        self.decide("deny", req["id"], "no root today")
        code = client.wait(30)
        e.record("sudo-denied", [("stderr", client.stderr()), ("exit code", str(code))])
        self.assertEqual(code, 1)
        self.assertIn("sudo: PAM account management error: Permission denied", client.stderr())
        self.assertNotIn("Lockbox", client.stderr())
        self.assert_syslog("pam_lockbox(sudo:account): event=login.denied id=%s tenant=%s "
                           "host=%s user=%s service=sudo rhost=- why=denied"
                           % (req["id"], TENANT, HOST, self.user))
        e.record("syslog-sudo-denied", [("syslog", e.syslog_about(self.d, req["id"]))])

    def test_sudo_wait_zero_refuses_at_once_then_passes_once_approved(self):
        """packaging/pam.d/sudo's setting: wait=0 files the request and refuses at once."""
        self.gate("sudo")
        first = self.sudo()
        self.assertEqual(first.wait(30), 1, "wait=0 must refuse without an approval")
        reqs = e.requests(self.d, ADMIN, self.user)
        self.assertEqual([r["state"] for r in reqs], ["pending"])
        self.assert_syslog("pam_lockbox(sudo:account): event=login.denied id=%s tenant=%s "
                           "host=%s user=%s service=sudo rhost=- why=pending"
                           % (reqs[0]["id"], TENANT, HOST, self.user))
        self.decide("approve", reqs[0]["id"], "go")
        second = self.sudo()
        self.assertEqual(second.wait(30), 0, second.stderr())
        self.assertEqual(len(e.requests(self.d, ADMIN, self.user)), 1)


if __name__ == "__main__":
    unittest.main()
