"""Test certificates for lockboxd's TLS listener, made with the openssl command (stdlib only).

  ca = TestCA(directory, name="ca")     a CA of its own (`openssl ca` with an index, so it
                                        can revoke and publish a CRL)
    .cert  .key  .crl (after gen_crl())
    .server("server", ips=["127.0.0.1"], dns=["localhost"]) -> (crt, key)
    .client("alice", uris=["lockbox:user/alice"], start=None, end=None, eku="clientAuth")
        -> (crt, key); start/end: "YYYYMMDDHHMMSSZ" for a certificate valid in the past
        (expired) or the future; eku: its extendedKeyUsage (None: none at all)
    .revoke(crt)   .gen_crl() -> path of the PEM CRL
  client_context(ca_cert, crt=None, key=None) -> ssl.SSLContext for http.client

Every key is an EC P-256 key (fast to make); files are mode 0600.
"""

import http.client
import json
import os
import ssl
import subprocess

_CA_CONFIG = """[ca]
default_ca = ca_default
[ca_default]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
"""


def _openssl(*argv):
    proc = subprocess.run(["openssl"] + list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(argv[:2]), proc.stderr))
    return proc.stdout


class TestCA:
    def __init__(self, directory, name="ca"):
        self.dir = os.path.join(directory, name)
        os.makedirs(os.path.join(self.dir, "issued"), mode=0o700)
        self.cert = os.path.join(self.dir, "ca.crt")
        self.key = os.path.join(self.dir, "ca.key")
        self.crl = os.path.join(self.dir, "ca.crl")
        self.config = os.path.join(self.dir, "ca.cnf")
        with open(self.config, "w") as f:
            f.write(_CA_CONFIG.format(dir=self.dir))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(self.dir, "crlnumber"), "w") as f:
            f.write("1000\n")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                 "-subj", "/CN=Lockbox test %s" % name)
        os.chmod(self.key, 0o600)

    def _issue(self, name, extensions, start=None, end=None, ca=False):
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".crt")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("[ext]\nbasicConstraints = CA:%s\n" % ("TRUE" if ca else "FALSE") +
                    "".join(l + "\n" for l in extensions))
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
        os.chmod(key, 0o600)
        argv = ["ca", "-batch", "-notext", "-config", self.config, "-in", csr, "-out", crt,
                "-extfile", ext, "-extensions", "ext"]
        if start:
            argv += ["-startdate", start]
        if end:
            argv += ["-enddate", end]
        _openssl(*argv)
        return crt, key

    def server(self, name, ips=("127.0.0.1",), dns=("localhost",)):
        names = ["IP:%s" % ip for ip in ips] + ["DNS:%s" % d for d in dns]
        return self._issue(name, ["subjectAltName = " + ", ".join(names),
                                  "extendedKeyUsage = serverAuth"])

    def client(self, name, uris=None, start=None, end=None, eku="clientAuth", ca=False):
        uris = ["lockbox:user/%s" % name] if uris is None else uris
        extensions = ["extendedKeyUsage = %s" % eku] if eku else []
        if uris:
            extensions.append("subjectAltName = " + ", ".join("URI:%s" % u for u in uris))
        return self._issue(name, extensions, start, end, ca)

    def revoke(self, crt):
        _openssl("ca", "-config", self.config, "-revoke", crt)

    def gen_crl(self):
        _openssl("ca", "-config", self.config, "-gencrl", "-out", self.crl)
        return self.crl


def client_context(ca_cert, crt=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(ca_cert)
    if crt:
        ctx.load_cert_chain(crt, key)
    return ctx


def https_json(port, ca_cert, crt, key, method, path, body=None, timeout=30):
    """One JSON call to 127.0.0.1:port over TLS with the client certificate crt/key (None:
    none): (status, the decoded reply or None)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                       context=client_context(ca_cert, crt, key))
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()
