"""lockboxctl's remote use (Step 14): --server, LOCKBOX_SERVER and ~/.config/lockbox/client.conf,
against a real TLS peer. lockboxd's own TLS listener is not needed: Debian's `openssl s_server`
on 127.0.0.1 plays it, with certificates this test makes (a CA, a server certificate for
IP:127.0.0.1, a client certificate, a second CA and what it signed). s_server requires and
verifies a client certificate (-Verify 1 -verify_return_error) and answers GET requests with
files holding whole HTTP responses (-HTTP), so lockboxctl gets a real HTTPS answer. A small
HTTPS server on Python's ssl module records what arrives (method, path, body, the client
certificate's identity) for a request filed ahead.

Proved here: the client certificate is sent, the CA is pinned (a server signed by another CA
is refused even when OpenSSL's default store, through SSL_CERT_FILE, trusts that CA), a host
name mismatch is refused, http:// is refused, an unreadable or unprotected key is reported,
an expired server certificate and an old TLS version are explained, precedence is
flag > environment > client.conf, and --socket with --server is a usage error.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_ctl_remote.py -v (as root).
"""

import http.server
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lockbox_testlib import (LOCKBOXCTL, Users, in_namespace, read_until,  # noqa: E402
                             run_as, terminate, unique_prefix)
from test_completion import COMPLETE, SCRIPT  # noqa: E402

PREFIX = unique_prefix("rc", 5)
ENG = PREFIX + "eng"  # a person without root: for a key lockboxctl cannot read
REQUEST_ID = "0123456789abcdef0123456789abcdef"
REFUSED_ID = "ffffffffffffffffffffffffffffffff"
REFUSAL = ("the client certificate has expired (not after 2026-01-01T00:00:00Z); "
           "ask your tenant's Lockbox operator for a new one")
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
# Where Debian's libcurl and OpenSSL look for the system's trusted CAs.
SYSTEM_CA_DIR = "/etc/ssl/certs"


def openssl(*argv, cwd):
    subprocess.run([OPENSSL] + list(argv), cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "30", "-subj", "/CN=" + name,
            cwd=d)


def make_cert(d, name, ca, san, usage):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=%s\n" % (san, usage))
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "30", "-extfile", name + ".ext",
            cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


CA_CONFIG = """[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = any_name
serial = ca.serial
copy_extensions = copy
[any_name]
commonName = supplied
"""


def make_expired_cert(d, name, like):
    """`like`'s key and names, valid for one day in 2020 (`openssl ca` takes explicit dates)."""
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CONFIG)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "ca.serial"), "w") as f:
        f.write("1000\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-in", like + ".csr", "-out", name + ".crt",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            "-extfile", like + ".ext", "-notext", cwd=d)
    shutil.copy(os.path.join(d, like + ".key"), os.path.join(d, name + ".key"))


def http_file(path, status, body):
    with open(path, "w") as f:
        f.write("HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (status, len(body), body))


def closed_port():
    """A port nobody listens on (bound, then closed): connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TlsPeer:
    """openssl s_server on 127.0.0.1 with a kernel-chosen port, stopped by PID."""

    def __init__(self, certs, www, cert, client_ca="ca", extra=()):
        argv = [OPENSSL, "s_server", "-accept", "127.0.0.1:0",
                "-cert", os.path.join(certs, cert + ".crt"),
                "-key", os.path.join(certs, cert + ".key"),
                "-CAfile", os.path.join(certs, client_ca + ".crt"),
                "-Verify", "1", "-verify_return_error", "-HTTP"] + list(extra)
        self.proc = subprocess.Popen(argv, cwd=www, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            seen = read_until(self.proc.stdout.fileno(), b"\n", timeout=10)
            while b"ACCEPT" not in seen and self.proc.poll() is None:
                seen += read_until(self.proc.stdout.fileno(), b"ACCEPT", timeout=10)
            line = seen[seen.index(b"ACCEPT"):].split(b"\n")[0]
            self.port = int(line.rsplit(b":", 1)[1])
        except Exception:
            self.close()
            raise
        self.url = "https://127.0.0.1:%d" % self.port

    def close(self):
        terminate(self.proc)
        self.proc.stdout.close()


class RecordingServer:
    """A second real TLS peer, Python's ssl module (OpenSSL) in a thread of this test: it
    requires a client certificate from the CA, records each call with the URI SANs of the
    certificate that came with it, and files requests (POST /v1/requests), which s_server's
    GET-only -HTTP mode cannot."""

    def __init__(self, certs):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(os.path.join(certs, "server.crt"),
                                os.path.join(certs, "server.key"))
        context.load_verify_locations(os.path.join(certs, "ca.crt"))
        context.verify_mode = ssl.CERT_REQUIRED
        self.calls = []
        calls = self.calls

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                sans = [v for k, v in self.connection.getpeercert().get("subjectAltName", ())
                        if k == "URI"]
                calls.append({"method": "POST", "path": self.path, "body": body, "uris": sans})
                reply = json.dumps({"id": REQUEST_ID, "state": "pending",
                                    "tenant": body.get("tenant"), "host": body.get("host"),
                                    "user": "eng1", "reason": body.get("reason")}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self):
                sans = [v for k, v in self.connection.getpeercert().get("subjectAltName", ())
                        if k == "URI"]
                calls.append({"method": "GET", "path": self.path, "uris": sans})
                reply = json.dumps({"requests": [{
                    "id": REQUEST_ID, "state": "pending", "tenant": "contoso", "host": "db01",
                    "user": "eng1", "reason": "INC-1"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class CtlRemoteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates a user)")
        if not os.access(LOCKBOXCTL, os.X_OK):
            raise unittest.SkipTest("lockboxctl is not built at %s" % LOCKBOXCTL)
        if OPENSSL is None:
            raise unittest.SkipTest("openssl is not installed (apt-get install openssl)")
        cls.dir = tempfile.mkdtemp(prefix="lockbox-remote-")
        os.chmod(cls.dir, 0o755)
        cls.certs = os.path.join(cls.dir, "certs")
        cls.www = os.path.join(cls.dir, "www")
        os.makedirs(cls.certs)
        os.makedirs(os.path.join(cls.www, "v1", "requests"))
        make_ca(cls.certs, "ca")
        make_ca(cls.certs, "otherca")
        make_cert(cls.certs, "server", "ca", "IP:127.0.0.1", "serverAuth")
        make_cert(cls.certs, "alice", "ca", "URI:lockbox:user/alice", "clientAuth")
        make_cert(cls.certs, "impostor", "otherca", "IP:127.0.0.1", "serverAuth")
        make_cert(cls.certs, "othername", "ca", "DNS:lockbox.other.example", "serverAuth")
        make_cert(cls.certs, "stranger", "otherca", "URI:lockbox:user/alice", "clientAuth")
        make_expired_cert(cls.certs, "expired", "server")
        http_file(os.path.join(cls.www, "v1", "requests", REQUEST_ID), "200 OK",
                  '{"id": "%s", "state": "pending", "tenant": "contoso", "host": "db01", '
                  '"user": "eng1", "reason": "INC-4711 over TLS"}' % REQUEST_ID)
        http_file(os.path.join(cls.www, "v1", "requests", REFUSED_ID), "403 Forbidden",
                  '{"error": "certificate_refused", "message": "%s"}' % REFUSAL)
        http_file(os.path.join(cls.www, "v1", "health"), "200 OK",
                  '{"status": "ok", "audit_file": "/var/log/lockbox/audit.jsonl", '
                  '"audit_seq": 0, "audit_hash": "%s"}' % ("0" * 64))
        cls.peers = []
        cls.users = Users(PREFIX)
        try:
            cls.server = cls.peer("server")
            cls.users.add(ENG)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def peer(cls, cert, extra=()):
        p = TlsPeer(cls.certs, cls.www, cert, extra=extra)
        cls.peers.append(p)
        return p

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.close()
        cls.users.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        # A home of our own for every test: client.conf is read from $HOME/.config/lockbox.
        self.home = tempfile.mkdtemp(prefix="home-", dir=self.dir)
        os.makedirs(os.path.join(self.home, ".config", "lockbox"))

    def cert(self, name):
        return os.path.join(self.certs, name)

    def tls_flags(self, client="alice", ca="ca"):
        return ["--cert", self.cert(client + ".crt"), "--key", self.cert(client + ".key"),
                "--ca", self.cert(ca + ".crt")]

    def ctl(self, *argv, env=None):
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
                    "NO_COLOR": "1"}
        full_env.update(env or {})
        return subprocess.run([LOCKBOXCTL] + list(argv), env=full_env, capture_output=True,
                              text=True, timeout=60)

    def write_conf(self, text, mode=0o600):
        path = os.path.join(self.home, ".config", "lockbox", "client.conf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def assert_fails(self, done, code, *needles):
        self.assertEqual(done.returncode, code, done.stdout + done.stderr)
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, "one line on stderr: %r" % done.stderr)
        for needle in needles:
            self.assertIn(needle, done.stderr)

    # --- the TLS peer ---

    def test_sends_client_certificate_and_reads_answer(self):
        # s_server aborts any handshake without a client certificate its CA signed: an answer
        # proves lockboxctl sent alice's.
        done = self.ctl("--server", self.server.url, *self.tls_flags(), "show", REQUEST_ID)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("INC-4711 over TLS", done.stdout)
        done = self.ctl("--json", "show", REQUEST_ID, "--server", self.server.url,
                        *self.tls_flags())
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('"reason": "INC-4711 over TLS"', done.stdout)

    def test_engineer_files_ahead(self):
        recorder = RecordingServer(self.certs)
        self.addCleanup(recorder.close)
        # A proxy in the environment is not used: the call goes to lockboxd directly.
        done = self.ctl("--server", recorder.url, *self.tls_flags(), "request", "--host", "db01",
                        "--tenant", "contoso", "--reason", "INC-1",
                        env={"https_proxy": "http://127.0.0.1:%d" % closed_port(),
                             "HTTPS_PROXY": "http://127.0.0.1:%d" % closed_port()})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("Request %s filed for eng1 on db01 (tenant contoso)" % REQUEST_ID,
                      done.stdout)
        self.assertEqual(recorder.calls, [{
            "method": "POST", "path": "/v1/requests",
            "body": {"reason": "INC-1", "tenant": "contoso", "host": "db01"},
            "uris": ["lockbox:user/alice"]}])

    def test_completion_asks_the_named_server(self):
        recorder = RecordingServer(self.certs)
        self.addCleanup(recorder.close)
        env = {"PATH": os.path.dirname(LOCKBOXCTL) + ":/usr/bin:/bin", "HOME": self.home,
               "LBX_SCRIPT": SCRIPT, "LBX_BASH_COMPLETION": ""}
        words = ["lockboxctl", "--server", recorder.url, *self.tls_flags(), "approve", ""]
        done = subprocess.run(["bash", "--norc", "--noprofile", "-c", COMPLETE, "bash"] + words,
                              env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), [REQUEST_ID])
        self.assertEqual([(c["method"], c["path"].split("?")[0], c["uris"])
                          for c in recorder.calls],
                         [("GET", "/v1/requests", ["lockbox:user/alice"])])

    def test_client_certificate_of_another_ca_is_refused_in_handshake(self):
        done = self.ctl("--server", self.server.url, *self.tls_flags(client="stranger"),
                        "show", REQUEST_ID)
        self.assert_fails(done, 1, "refused the TLS handshake", "client certificate",
                          self.server.url)

    def test_server_certificate_refused_message_passes_through(self):
        done = self.ctl("--server", self.server.url, *self.tls_flags(), "show", REFUSED_ID)
        self.assert_fails(done, 1, "refused your client certificate", self.cert("alice.crt"),
                          REFUSAL)

    def test_ca_is_pinned(self):
        impostor = self.peer("impostor")
        done = self.ctl("--server", impostor.url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "is not signed by the CA in " + self.cert("ca.crt"),
                          "set by --ca")
        # OpenSSL's default store from the environment is not consulted either ...
        trusting = {"SSL_CERT_FILE": self.cert("otherca.crt"), "SSL_CERT_DIR": self.certs}
        done = self.ctl("--server", impostor.url, *self.tls_flags(), "show", REQUEST_ID,
                        env=trusting)
        self.assert_fails(done, 1, "is not signed by the CA in")
        # ... and the genuine server is trusted through --ca alone.
        done = self.ctl("--server", self.server.url, *self.tls_flags(), "show", REQUEST_ID,
                        env={"SSL_CERT_FILE": "/nonexistent", "SSL_CERT_DIR": "/nonexistent"})
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_system_store_is_not_used(self):
        """The impostor's CA made a system CA (bundle and hashed directory, bound over
        /etc/ssl/certs in a private mount namespace): Debian's curl then trusts the impostor,
        lockboxctl still refuses it."""
        if CURL is None:
            self.skipTest("curl is not installed")
        store = os.path.join(self.dir, "system-store")
        if not os.path.isdir(store):
            os.makedirs(store)
            shutil.copy(self.cert("otherca.crt"), os.path.join(store, "ca-certificates.crt"))
            shutil.copy(self.cert("otherca.crt"), os.path.join(store, "otherca.pem"))
            openssl("rehash", store, cwd=store)
        impostor = self.peer("impostor")
        binds = [(store, SYSTEM_CA_DIR)]
        control = subprocess.run(in_namespace(
            [CURL, "-sS", "--cert", self.cert("alice.crt"), "--key", self.cert("alice.key"),
             impostor.url + "/v1/requests/" + REQUEST_ID], binds=binds),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(control.returncode, 0, "the system store must trust the impostor for "
                         "this test to mean anything: " + control.stderr)
        self.assertIn("INC-4711", control.stdout)
        done = subprocess.run(in_namespace(
            [LOCKBOXCTL, "--server", impostor.url, *self.tls_flags(), "show", REQUEST_ID],
            binds=binds), capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home})
        self.assert_fails(done, 1, "is not signed by the CA in " + self.cert("ca.crt"))

    def test_expired_server_certificate_is_refused(self):
        expired = self.peer("expired")
        done = self.ctl("--server", expired.url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "has expired or is not valid yet", "renew")

    def test_old_tls_version_is_refused(self):
        old = self.peer("server", extra=["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        done = self.ctl("--server", old.url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "refused the TLS handshake", "TLS 1.2 or later")

    def test_host_name_mismatch_is_refused(self):
        other = self.peer("othername")
        done = self.ctl("--server", other.url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "not issued for that host name", "set by --server")
        # A name the certificate does carry, but the connection goes to another address.
        done = self.ctl("--server", "https://localhost:%d" % self.server.port,
                        *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "not issued for that host name")

    def test_http_and_other_urls_are_refused(self):
        http_url = "http://127.0.0.1:%d" % self.server.port
        done = self.ctl("--server", http_url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 2, "must start with https://")
        done = self.ctl(*self.tls_flags(), "show", REQUEST_ID, env={"LOCKBOX_SERVER": http_url})
        self.assert_fails(done, 2, "LOCKBOX_SERVER", "must start with https://")
        conf = self.write_conf("server = %s\n" % http_url)
        done = self.ctl(*self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, conf, "must start with https://")
        for url, why in (("https://127.0.0.1:%d/api" % self.server.port, "path"),
                         ("https://u:p@127.0.0.1:%d" % self.server.port, "user name"),
                         ("https://127.0.0.1:%d/?x=1" % self.server.port, "query")):
            done = self.ctl("--server", url, *self.tls_flags(), "list")
            self.assert_fails(done, 2, why)

    def test_connection_refused_and_timeout(self):
        url = "https://127.0.0.1:%d" % closed_port()
        done = self.ctl("--server", url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot connect to lockboxd at " + url, "connection refused")
        # A listener that takes the connection and never answers the handshake.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            url = "https://127.0.0.1:%d" % silent.getsockname()[1]
            done = self.ctl("--server", url, *self.tls_flags(), "show", REQUEST_ID)
        self.assert_fails(done, 1, "no answer from lockboxd at " + url, "in time")

    # --- our own files ---

    def test_key_problems_are_reported(self):
        missing = self.cert("missing.key")
        done = self.ctl("--server", self.server.url, "--cert", self.cert("alice.crt"),
                        "--key", missing, "--ca", self.cert("ca.crt"), "show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot read the client key " + missing,
                          "No such file or directory", "set by --key")
        open_key = os.path.join(self.home, "open.key")
        shutil.copy(self.cert("alice.key"), open_key)
        os.chmod(open_key, 0o640)
        done = self.ctl("--server", self.server.url, "--cert", self.cert("alice.crt"),
                        "--key", open_key, "--ca", self.cert("ca.crt"), "show", REQUEST_ID)
        self.assert_fails(done, 1, "accessible by group or others", "0640", "chmod 600")
        done = self.ctl("--server", self.server.url, "--cert", self.cert("alice.crt"),
                        "--key", self.cert("stranger.key"), "--ca", self.cert("ca.crt"),
                        "show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot use the client certificate", "must belong to")
        done = self.ctl("--server", self.server.url, *self.tls_flags(),
                        "--ca", self.cert("alice.key"), "show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot use the CA file", "PEM")

    def test_a_ca_file_others_may_write_is_refused(self):
        # Whoever can write the pinned CA chooses the server: as with client.conf.
        shared_ca = os.path.join(self.home, "shared-ca.crt")
        shutil.copy(self.cert("ca.crt"), shared_ca)
        os.chmod(shared_ca, 0o664)
        done = self.ctl("--server", self.server.url, "--cert", self.cert("alice.crt"),
                        "--key", self.cert("alice.key"), "--ca", shared_ca, "show", REQUEST_ID)
        self.assert_fails(done, 1, "the CA file " + shared_ca, "writable by group or others",
                          "chmod go-w")

    def test_key_unreadable_for_the_caller(self):
        # root's key, mode 0600: the engineer may not read it, and is told so.
        home = tempfile.mkdtemp(prefix="eng-", dir=self.dir)
        os.chmod(home, 0o755)
        done = run_as(ENG, ["env", "HOME=" + home, LOCKBOXCTL, "--server", self.server.url,
                            *self.tls_flags(), "show", REQUEST_ID])
        self.assert_fails(done, 1, "cannot read the client key " + self.cert("alice.key"),
                          "Permission denied")

    def test_missing_settings_are_named(self):
        done = self.ctl("--server", self.server.url, "show", REQUEST_ID)
        self.assert_fails(done, 1, "--cert FILE", "client.conf")
        done = self.ctl("--server", self.server.url, "--cert", self.cert("alice.crt"),
                        "--key", self.cert("alice.key"), "show", REQUEST_ID)
        self.assert_fails(done, 1, "--ca FILE", "ca = FILE")
        done = self.ctl("--socket", "/nonexistent/lockboxd.sock", *self.tls_flags(), "list")
        self.assert_fails(done, 1, "--cert, --key and --ca are for remote use")

    # --- where the settings come from ---

    def conf_for(self, server, ca="ca"):
        """A client.conf with ~ paths: the files are copied into the test's home."""
        for name in ("alice.crt", "alice.key", ca + ".crt"):
            shutil.copy(self.cert(name), os.path.join(self.home, name))
        os.chmod(os.path.join(self.home, "alice.key"), 0o600)
        return self.write_conf("# lockboxctl's remote settings\nserver = %s\n"
                               "certificate = ~/alice.crt\nkey = ~/alice.key\nca = ~/%s.crt\n"
                               % (server, ca))

    def test_client_conf_alone(self):
        self.conf_for(self.server.url)
        done = self.ctl("show", REQUEST_ID)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("INC-4711 over TLS", done.stdout)

    def test_precedence_flag_over_env_over_conf(self):
        dead = "https://127.0.0.1:%d" % closed_port()
        conf = self.conf_for(dead)
        # client.conf's server alone: the dead one, named with the file.
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot connect to lockboxd at " + dead, "set by " + conf)
        # LOCKBOX_SERVER beats the file; the file's certificate, key and CA still apply.
        done = self.ctl("show", REQUEST_ID, env={"LOCKBOX_SERVER": self.server.url})
        self.assertEqual(done.returncode, 0, done.stderr)
        # --server beats LOCKBOX_SERVER, both ways round.
        done = self.ctl("--server", dead, "show", REQUEST_ID,
                        env={"LOCKBOX_SERVER": self.server.url})
        self.assert_fails(done, 1, "cannot connect to lockboxd at " + dead, "set by --server")
        done = self.ctl("--server", self.server.url, "show", REQUEST_ID,
                        env={"LOCKBOX_SERVER": dead})
        self.assertEqual(done.returncode, 0, done.stderr)
        # --ca beats the file's ca, in both directions.
        self.conf_for(self.server.url, ca="otherca")
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, "is not signed by the CA in " + self.home + "/otherca.crt")
        done = self.ctl("--ca", self.cert("ca.crt"), "show", REQUEST_ID)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.conf_for(self.server.url)
        done = self.ctl("--ca", self.cert("otherca.crt"), "show", REQUEST_ID)
        self.assert_fails(done, 1, "is not signed by the CA in", "set by --ca")

    def test_socket_beats_remote_settings_of_lower_rank(self):
        sock = os.path.join(self.dir, "no-lockboxd.sock")
        self.conf_for(self.server.url)
        # --socket beats LOCKBOX_SERVER and client.conf; LOCKBOX_SOCKET beats client.conf.
        for argv, env in ((["--socket", sock], {"LOCKBOX_SERVER": self.server.url}),
                          (["--socket", sock], {}),
                          ([], {"LOCKBOX_SOCKET": sock})):
            done = self.ctl(*argv, "show", REQUEST_ID, env=env)
            self.assert_fails(done, 1, "cannot reach lockboxd at " + sock)
        done = self.ctl("show", REQUEST_ID,
                        env={"LOCKBOX_SOCKET": sock, "LOCKBOX_SERVER": self.server.url})
        self.assert_fails(done, 1, "LOCKBOX_SERVER and LOCKBOX_SOCKET are both set")
        # A broken client.conf is not read when --socket settles the door.
        self.write_conf("nonsense\n")
        done = self.ctl("--socket", sock, "show", REQUEST_ID)
        self.assert_fails(done, 1, "cannot reach lockboxd at " + sock)

    def test_socket_and_server_together_is_a_usage_error(self):
        sock = os.path.join(self.dir, "no-lockboxd.sock")
        for argv in (["--socket", sock, "--server", self.server.url, "list"],
                     ["--server", self.server.url, "--socket", sock, "list"],
                     ["--server", self.server.url, "list", "--socket", sock],
                     ["--socket", sock, "show", REQUEST_ID, "--server", self.server.url]):
            done = self.ctl(*argv, *self.tls_flags())
            self.assert_fails(done, 2, "--socket and --server cannot be used together")

    def test_client_conf_is_checked(self):
        conf = self.conf_for(self.server.url)
        os.chmod(conf, 0o620)
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf, "writable by group or others", "chmod go-w")
        os.chmod(conf, 0o644)  # readable by others is fine: it holds no secret
        self.assertEqual(self.ctl("show", REQUEST_ID).returncode, 0)
        with open(conf, "a") as f:
            f.write("cert = ~/alice.crt\n")
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf + ":6:", "unknown key 'cert'")
        self.write_conf("server = %s\nca = relative/ca.crt\n" % self.server.url)
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf + ":2:", "absolute path or start with ~/")
        self.write_conf("[remote]\nserver = %s\n" % self.server.url)
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf + ":2:", "no sections")
        self.write_conf("server = %s\nserver = %s\n" % (self.server.url, self.server.url))
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf + ":2:", "set twice")

    def test_client_conf_of_another_user_is_refused(self):
        conf = self.conf_for(self.server.url)
        os.chown(conf, pwd.getpwnam(ENG).pw_uid, -1)
        done = self.ctl("show", REQUEST_ID)
        self.assert_fails(done, 1, conf, "not to you")

    def test_unreadable_client_conf(self):
        uid = pwd.getpwnam(ENG).pw_uid
        # In a home of someone else's (HOME kept across su): as good as no client.conf.
        self.conf_for(self.server.url)
        os.chmod(self.home, 0o700)
        done = run_as(ENG, ["env", "HOME=" + self.home, LOCKBOXCTL, "show", REQUEST_ID])
        # (it went to the default local socket, whatever answers there on this machine)
        self.assertNotIn("client.conf", done.stderr)
        self.assertNotIn("Permission denied", done.stderr)
        # In one's own home, it is reported.
        home = tempfile.mkdtemp(prefix="eng-", dir=self.dir)
        os.makedirs(os.path.join(home, ".config", "lockbox"))
        conf = os.path.join(home, ".config", "lockbox", "client.conf")
        shutil.copy(os.path.join(self.home, ".config", "lockbox", "client.conf"), conf)
        os.chmod(conf, 0)
        for path in (home, os.path.join(home, ".config"), os.path.dirname(conf), conf):
            os.chown(path, uid, -1)
        done = run_as(ENG, ["env", "HOME=" + home, LOCKBOXCTL, "show", REQUEST_ID])
        self.assert_fails(done, 1, conf, "cannot open: Permission denied")

    def test_audit_verify_of_the_live_file_stays_on_the_host(self):
        done = self.ctl("--server", self.server.url, *self.tls_flags(), "audit", "verify")
        self.assert_fails(done, 1, "which is on its host", "--file")

    def test_help_names_remote_options(self):
        done = self.ctl("--help")
        self.assertEqual(done.returncode, 0)
        for option in ("--server URL", "--cert FILE", "--key FILE", "--ca FILE",
                       "LOCKBOX_SERVER", "client.conf"):
            self.assertIn(option, done.stdout)


if __name__ == "__main__":
    unittest.main()
