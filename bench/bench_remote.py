"""The remote API over TLS (Step 14) beside the Unix socket, on one lockboxd with [remote]:

1. Remote approve -> waiting login released. Each round files two requests and parks a login
   on each (the module's `wait` on the login socket, as bench_pg_wake.py and the end-to-end
   test do); one is approved by the remote admin over a kept-alive TLS connection (client
   certificate lockbox:user/ADMIN), the other by root over a kept-alive Unix-socket
   connection, in alternating order. Timed: from sending the approval to the login's socket
   becoming readable. Then the CLI path the same way: `lockboxctl --server` (a process, a
   handshake, a call) beside `lockboxctl --socket`.
2. New connections per second: several client processes each connect, (TLS: handshake with
   the client certificate,) GET /v1/health with `Connection: close`, read to EOF, close;
   TLS and Unix phases alternate. lockboxd's CPU time per connection is read from /proc.
3. lockboxd's VmRSS before, with ADMIN's 1,000 TLS long-polls (`GET /v1/requests/ID/wait`)
   held idle, and after they close.

The remote admin holds all the long-polls itself, so the daemon's per-identity caps
(max_connections_per_user, max_calls_per_user) are raised to 2,000 in its config; lockboxd
runs under prlimit --nofile (below) because its TLS listener takes at most a quarter of
RLIMIT_NOFILE (4,096 at most), and this process raises its own soft limit to its hard one.
lockbox_bench.py passes fd_limit_wrapper(): prlimit --nofile=min(65536, the hard limit).
"""

import json
import multiprocessing
import os
import resource
import select
import socket
import subprocess
import tempfile
import time

from bench_util import TARGETS, disk_probe, proc_sample, us

IDENTITY_CAP = 2000  # max_connections_per_user and max_calls_per_user for the bench daemon
CONTENT_JSON = {"Content-Type": "application/json"}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def summary(values_us):
    return {"n": len(values_us), "median": percentile(values_us, 50),
            "p90": percentile(values_us, 90), "p99": percentile(values_us, 99),
            "max": max(values_us)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteSetup:
    """A lockboxd with [remote] on a loopback port, its CA and the remote admin's certificate."""

    def __init__(self, lt, admin, wrapper):
        from lockbox_certs import TestCA, client_context
        self.lt = lt
        self.tmp = tempfile.mkdtemp(prefix="lbx-bench-tls-")
        ca = TestCA(self.tmp)
        self.ca = ca.cert
        server_crt, server_key = ca.server("server")
        self.crt, self.key = ca.client(admin)
        self.context = client_context(self.ca, self.crt, self.key)
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        # root approves over the Unix socket from this process (no fork per call); the remote
        # admin is named by the certificate's URI SAN lockbox:user/ADMIN.
        self.d = lt.Daemon(tenants={"contoso": ["root", admin]},
                           daemon_extra={"max_connections_per_user": str(IDENTITY_CAP),
                                         "max_calls_per_user": str(IDENTITY_CAP)},
                           wrapper=wrapper)
        self.d.write_config("\n[remote]\nlisten = 127.0.0.1:%d\ncertificate = %s\nkey = %s\n"
                            "client_ca = %s\n" % (self.port, server_crt, server_key, self.ca))

    def tls_connection(self):
        import http.client
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                           timeout=30)

    def unix_connection(self):
        return self.lt.UnixHTTPConnection(self.d.socket)

    def lockboxctl(self, remote):
        where = (["--server", self.url, "--cert", self.crt, "--key", self.key, "--ca", self.ca]
                 if remote else ["--socket", self.d.socket])
        return [self.lt.LOCKBOXCTL] + where

    def close(self):
        try:
            self.d.close()
        finally:
            subprocess.run(["rm", "-rf", self.tmp])


def call(conn, method, path, body=None):
    """One call on a kept-alive connection; the reply's JSON, or RuntimeError."""
    conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                 headers=CONTENT_JSON if body is not None else {})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError("%s %s: %s %s" % (method, path, resp.status, data[:300]))
    return json.loads(data)


def login_wait(pam_socket, request_id):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(pam_socket)
    s.send(json.dumps({"op": "wait", "id": request_id, "timeout": 120}).encode())
    return s


def readable_times(socks, deadline_s=10):
    """perf_counter() at which each of `socks` first became readable."""
    left, seen = list(socks), {}
    end = time.perf_counter() + deadline_s
    while left:
        ready, _, _ = select.select(left, [], [], max(0, end - time.perf_counter()))
        now = time.perf_counter()
        if not ready:
            raise RuntimeError("no answer within %ds" % deadline_s)
        for s in ready:
            seen[s] = now
            left.remove(s)
    return [seen[s] for s in socks]


def check_released(login):
    reply = json.loads(login.recv(65536))
    if reply.get("request", {}).get("state") != "approved":
        raise RuntimeError("the waiting login got %r" % reply)


def approve_on(conn, rid, login):
    """Approves over a kept-alive connection; (sent -> released, sent -> answered) in µs. The
    raw socket's readiness times both, whichever comes first (the connection carries nothing
    unsolicited: its TLS session tickets were read by the warm-up call)."""
    sent = time.perf_counter()
    conn.request("POST", "/v1/requests/%s/approve" % rid, body=b'{"comment":"bench"}',
                 headers=CONTENT_JSON)
    released, answered = readable_times([login, conn.sock])
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError("approve %s: %s %s" % (rid, resp.status, body[:300]))
    check_released(login)
    return (released - sent) * 1e6, (answered - sent) * 1e6


def approve_with_cli(argv, rid, login):
    """Runs lockboxctl approve; (start -> released, start -> exit) in µs."""
    sent = time.perf_counter()
    proc = subprocess.Popen(argv + ["approve", rid, "--comment", "bench"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        released = readable_times([login])[0]
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    exited = time.perf_counter()
    if proc.returncode != 0:
        raise RuntimeError("lockboxctl approve %s: %s" % (rid, err.decode()[-500:]))
    check_released(login)
    return (released - sent) * 1e6, (exited - sent) * 1e6


def park_two_logins(setup, engineer, askers):
    """Files two requests (distinct requesters: two requests, and lockboxd files for its own
    host only) and parks a waiting login on each; returns [(id, login socket)] once lockboxd
    holds both waits."""
    d = setup.d
    pairs = []
    for asker in askers:
        rid = d.file_request(engineer, "remote bench", requester=asker)["id"]
        pairs.append((rid, login_wait(d.pam_socket, rid)))
    d.wait_waiting(2)
    return pairs


def release_rounds(setup, engineer, phase, rounds, approvers):
    """approvers: {label: fn(rid, login) -> (released_us, other_us)}, two of them, run in
    alternating order in each round; each request asked by a requester of its own (named
    after `phase` and the round). Returns {label: ([released], [other])}."""
    labels = list(approvers)
    out = {label: ([], []) for label in labels}
    for i in range(rounds):
        order = labels if i % 2 == 0 else labels[::-1]
        pairs = park_two_logins(setup, engineer,
                                ["%s%d-%d" % (phase, i, k) for k in range(2)])
        try:
            for label, (rid, login) in zip(order, pairs):
                released, other = approvers[label](rid, login)
                out[label][0].append(released)
                out[label][1].append(other)
        finally:
            for _, login in pairs:
                login.close()
    return out


def bench_release(setup, engineer, rounds, cli_rounds):
    tls, unix = setup.tls_connection(), setup.unix_connection()
    try:
        for conn in (tls, unix):
            call(conn, "GET", "/v1/health")  # connect, handshake, read any session tickets
        kept = release_rounds(setup, engineer, "kept", rounds, {
            "TLS, kept-alive (remote admin)": lambda rid, s: approve_on(tls, rid, s),
            "Unix socket, kept-alive (root)": lambda rid, s: approve_on(unix, rid, s)})
    finally:
        tls.close()
        unix.close()
    remote_cli, local_cli = setup.lockboxctl(True), setup.lockboxctl(False)
    cli = release_rounds(setup, engineer, "cli", cli_rounds, {
        "lockboxctl --server (TLS)": lambda rid, s: approve_with_cli(remote_cli, rid, s),
        "lockboxctl --socket (root)": lambda rid, s: approve_with_cli(local_cli, rid, s)})
    return kept, cli


def tls_connect(port, context, nodelay=True):
    """A new TLS connection. TCP_NODELAY as libcurl (lockboxctl) sets it: without it the
    request written right after the handshake waits for the ACK of the client's last
    handshake flight, which the server delays (Nagle meets delayed ACK, about 40 ms)."""
    raw = socket.create_connection(("127.0.0.1", port))
    if nodelay:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def health_once(kind, target, context):
    """One new connection, one GET /v1/health, `Connection: close`, read to EOF."""
    if kind.startswith("tls"):
        s = tls_connect(target, context, nodelay=kind != "tls-nagle")
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target)
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: lockboxd\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("GET /v1/health over %s: %r" % (kind, data[:200]))


def connect_loop(kind, target, cert, seconds, results):
    """A client process: new connections back to back for `seconds`; sends its latencies."""
    context = None
    if kind.startswith("tls"):
        from lockbox_certs import client_context
        context = client_context(*cert)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        health_once(kind, target, context)
        times.append((time.perf_counter() - start) * 1e6)
    results.put(times)


def connection_phase(setup, kind, clients, seconds):
    """clients processes for `seconds`: (connections/s, latencies µs, lockboxd CPU s)."""
    target = setup.port if kind.startswith("tls") else setup.d.socket
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=connect_loop,
                         args=(kind, target, (setup.ca, setup.crt, setup.key), seconds, results))
             for _ in range(clients)]
    before = proc_sample(setup.d.pid)["cpu_s"]
    started = time.perf_counter()
    for p in procs:
        p.start()
    times = []
    for _ in procs:
        times += results.get(timeout=seconds + 60)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join(30)
        if p.exitcode != 0:
            raise RuntimeError("a %s client process failed (exit %s)" % (kind, p.exitcode))
    return len(times) / elapsed, times, proc_sample(setup.d.pid)["cpu_s"] - before


CONNECTION_KINDS = (("tls", "TLS + client certificate"),
                    ("tls-nagle", "the same without TCP_NODELAY"),
                    ("unix", "Unix socket"))


def bench_connections(setup, clients, seconds, rounds):
    """The kinds' phases alternate `rounds` times (reversed every other round); totals."""
    kinds = [kind for kind, _ in CONNECTION_KINDS]
    totals = {kind: [0.0, [], 0.0] for kind in kinds}
    for i in range(rounds):
        for kind in (kinds if i % 2 == 0 else kinds[::-1]):
            rate, times, cpu = connection_phase(setup, kind, clients, seconds)
            totals[kind][0] += rate / rounds
            totals[kind][1] += times
            totals[kind][2] += cpu
    return totals


def open_long_poll(setup, rid):
    s = tls_connect(setup.port, setup.context)
    s.sendall(b"GET /v1/requests/%s/wait?timeout=600 HTTP/1.1\r\nHost: lockboxd\r\n\r\n"
              % rid.encode())
    return s


def hold_polls(setup, ids, count, idle_seconds, baseline_fds):
    """Opens `count` TLS long-polls on `ids`, holds them idle, closes them; /proc samples."""
    d, lt = setup.d, setup.lt
    opened = time.perf_counter()
    polls = [open_long_poll(setup, ids[i % len(ids)]) for i in range(count)]
    try:
        lt.wait_until(lambda: d.health()["waiting"] == count, 60,
                      lambda: "%d TLS long-polls held" % count)
        open_s = time.perf_counter() - opened
        start = proc_sample(d.pid)
        # Checked once a second only: the probe's own calls would be the idle CPU figure.
        if not lt.holds_for(lambda: d.health()["waiting"] == count, idle_seconds, step=1.0):
            raise RuntimeError("the long-polls did not stay waiting for %ds" % idle_seconds)
        held = proc_sample(d.pid)
        if select.select(polls, [], [], 0)[0]:
            raise RuntimeError("a long-poll was answered while it should wait")
    finally:
        for s in polls:
            s.close()
    lt.wait_until(lambda: d.health()["waiting"] == 0, 30, "the long-polls gone")
    lt.wait_until(lambda: proc_sample(d.pid)["fds"] <= baseline_fds, 30,
                  "lockboxd closed the connections")
    return {"start": start, "held": held, "after": proc_sample(d.pid), "open_s": open_s}


def bench_idle_polls(setup, engineer, count, idle_seconds):
    """VmRSS before, with `count` TLS long-polls held idle, after they close; twice, so that
    the second wave shows whether the first one's memory is reused or lost."""
    d = setup.d
    ids = [d.file_request(engineer, "rss bench", requester="rss%d" % i)["id"]
           for i in range(10)]
    warm = setup.tls_connection()  # the TLS machinery is set up before "before"
    try:
        call(warm, "GET", "/v1/health")
    finally:
        warm.close()
    before = proc_sample(d.pid)
    waves = [hold_polls(setup, ids, count, idle_seconds, before["fds"]) for _ in range(2)]
    for rid in ids:  # leave nothing pending for the rounds that follow
        d.call("POST", "/v1/requests/%s/deny" % rid, {"comment": "bench done"})
    return {"count": count, "before": before, "waves": waves, "idle_s": idle_seconds}


def ratio(a, b):
    if not b:
        return "-"
    return "%.2fx" % (a / b) if a >= b / 10 else "%.4fx" % (a / b)


def report_release(report, kept, cli, fsync_us):
    rows = []
    for group, other_name in ((kept, "approve answered (median)"), (cli, "process exit (median)")):
        labels = list(group)
        base = summary(group[labels[1]][0])
        for label in labels:
            s = summary(group[label][0])
            rows.append([label, s["n"], us(s["median"]), us(s["p90"]), us(s["p99"]),
                         us(s["max"]), "%s: %s" % (other_name, us(percentile(group[label][1],
                                                                                   50))),
                         "%s / %s" % (ratio(s["median"], base["median"]),
                                      ratio(s["p99"], base["p99"]))])
    report.table("Remote approve to waiting login released", TARGETS["remote"],
                 ["approval", "n", "median", "p90", "p99", "max", "also", "vs Unix (p50 / p99)"],
                 rows,
                 ["From sending the approval to the waiting login's socket becoming readable; "
                  "the login waits on the login socket (the module's `wait`). Each round parks "
                  "two logins and approves one over each path, in alternating order.",
                  "The ratio compares each path with the Unix-socket path of the same rounds; "
                  "lockboxctl rows: a new process, connection (and TLS handshake) per "
                  "approval.",
                  "Disk right after: one append + fdatasync took %s (median); an approval is "
                  "answered after its SQLite commit and audit write are durable." % us(fsync_us)])


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def report_connections(report, totals, clients, seconds, rounds, loads):
    rows = []
    for kind, label in CONNECTION_KINDS:
        rate, times, cpu = totals[kind]
        rows.append([label, "%.0f" % rate, us(percentile(times, 50)), us(percentile(times, 99)),
                     "%.2f ms" % (cpu / len(times) * 1000), len(times),
                     ratio(rate, totals["unix"][0])])
    report.table("New connections per second", "reported (Step 14 sets no figure)",
                 ["connection", "per second", "median", "p99", "lockboxd CPU each",
                  "connections", "vs Unix"], rows,
                 ["%d Python client processes (ssl module, OpenSSL) on the same %d cores as "
                  "lockboxd; each connection: connect, full TLS handshake with the client "
                  "certificate (no resumption), GET /v1/health, Connection: close, read to EOF. "
                  "%d alternating phases of %ds per kind." % (clients, os.cpu_count(), rounds,
                                                             seconds),
                  "Load average (1 min) %s when the remote benchmark started, %s when it "
                  "ended." % loads])


def report_idle(report, r, wrapper):
    mib = 1048576.0
    before = r["before"]
    rows = [["before", "%.1f MiB" % (before["VmRSS"] / mib), before["fds"], "-"]]
    for n, wave in enumerate(r["waves"], 1):
        cpu = (wave["held"]["cpu_s"] - wave["start"]["cpu_s"]) / r["idle_s"] * 100
        rows.append(["wave %d: %d TLS long-polls held" % (n, r["count"]),
                     "%.1f MiB" % (wave["held"]["VmRSS"] / mib), wave["held"]["fds"],
                     "%.2f%% CPU over %ds; opened in %.1f s" % (cpu, r["idle_s"],
                                                                wave["open_s"])])
        rows.append(["wave %d: after they closed" % n,
                     "%.1f MiB" % (wave["after"]["VmRSS"] / mib), wave["after"]["fds"], "-"])
    first = r["waves"][0]
    per_kb = (first["held"]["VmRSS"] - before["VmRSS"]) / r["count"] / 1024.0
    report.table("RSS with %d idle TLS long-polls" % r["count"],
                 "reported (Step 14 sets no figure)",
                 ["state", "lockboxd VmRSS", "open fds", "while held"], rows,
                 ["%.1f KB of RSS per held TLS long-poll (wave 1 over before); peak (VmHWM) "
                  "%.1f MiB. Each wave opens its long-polls one after another from one "
                  "process, holds them, closes them all." % (
                      per_kb, r["waves"][-1]["after"]["VmHWM"] / mib),
                  "One remote admin holds them all (max_connections_per_user and "
                  "max_calls_per_user raised to %d); lockboxd runs under `%s`: its TLS "
                  "listener may hold a quarter of that, at most 4,096." % (
                      IDENTITY_CAP, " ".join(wrapper))])


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(report, lt, engineer, admin, wrapper, quick):
    raise_own_fd_limit()
    load_start = load_average()
    setup = RemoteSetup(lt, admin, wrapper)
    setup.d.start()
    try:
        idle = bench_idle_polls(setup, engineer, 1000, 3 if quick else 10)
        kept, cli = bench_release(setup, engineer, 300 if quick else 1000, 100 if quick else 300)
        clients, seconds, rounds = 4, (2 if quick else 5), (2 if quick else 4)
        totals = bench_connections(setup, clients, seconds, rounds)
        fsync_us = disk_probe(setup.d.dir)
    except Exception:
        print(setup.d.stderr()[-3000:])
        raise
    finally:
        setup.close()
    report_release(report, kept, cli, fsync_us)
    report_connections(report, totals, clients, seconds, rounds, (load_start, load_average()))
    report_idle(report, idle, wrapper)
