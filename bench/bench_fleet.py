"""Fleet mode (Step 15): many hosts' feeds against one central, and real agents beside them.

One central lockboxd (role = central, SQLite store, [remote] TLS with client certificates)
whose tenant owns the hosts agent* and sim*; two real agent lockboxd (role = agent, their own
certificates lockbox:host/agent01 and agent02) on this machine; fleet_load.py simulates the
other hosts, each with its own TLS connection holding the feed long-poll as an agent does.

1. Central idle: VmRSS and CPU (utime+stime over a window) with the two agents only, then with
   the simulated hosts' feeds held; the generator's own RSS and CPU in the same window.
2. Approval at central -> a waiting login released on an agent: each round files a request on
   an agent (root on the host files at central through it), parks a login on the agent's
   login socket (the module's `wait`), then the tenant admin approves at central over a
   kept-alive TLS connection; timed from sending the approval to the login's socket becoming
   readable. Rounds without the simulated hosts (half before, half after) and with them.
3. Revoke at central -> the agent notified: the same request revoked at central right after;
   timed from sending the revoke to access.revoked appearing in the agent's audit file.

Simulated hosts share certificates (made with the openssl command, timed): host i presents
sim-identity i mod IDENTITIES, so the per-identity caps are raised to IDENTITY_CAP in the
central's config; each simulated host still holds its own connection and long-poll.
"""

import http.client
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench_remote import (approve_on, call, free_port, login_wait, percentile, ratio,
                          raise_own_fd_limit, summary)
from bench_util import TARGETS, mib, proc_sample, us

TENANT = "contoso"
AGENTS = ("agent01", "agent02")
IDENTITIES = 100  # host certificates the simulated hosts share
IDENTITY_CAP = 1000  # max_connections_per_user and max_calls_per_user at central
FIRST_ADDRESS, ADDRESSES = 2, 39  # simulated hosts bind 127.0.0.2 ... 127.0.0.40
FEED_WAIT = 25  # seconds, as lockboxd's agent asks (agent_link.c FEED_WAIT_SECONDS)
RESERVED = 64  # TLS connections kept for the agents and the admin below central's cap
HERE = os.path.dirname(os.path.abspath(__file__))


CENTRAL_FD_RESERVE = 1024  # lockboxd/config_remote.h REMOTE_CENTRAL_FD_RESERVE


def fleet_size(wanted):
    """A central's TLS listener takes all of RLIMIT_NOFILE but a reserve of 1,024 (http_tls.c),
    and this process may not be able to raise its hard limit (no CAP_SYS_RESOURCE in a
    container): (hosts, cap, hard)."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    cap = 262144 if hard == resource.RLIM_INFINITY else hard - CENTRAL_FD_RESERVE
    return min(wanted, cap - RESERVED), cap, hard


class Fleet:
    """The CA and certificates, the central and the agents; close() removes them all."""

    def __init__(self, lt, admin, wanted_hosts):
        from lockbox_certs import TestCA, client_context
        self.lt = lt
        self.hosts, self.tls_cap, self.fd_hard = fleet_size(wanted_hosts)
        self.wrapper = ["prlimit", "--nofile=%d" % self.fd_hard]
        self.tmp = tempfile.mkdtemp(prefix="lbx-bench-fleet-")
        os.chmod(self.tmp, 0o755)
        self.central, self.agents, self.generator = None, [], None
        started = time.perf_counter()
        ca = TestCA(self.tmp)
        self.ca = ca.cert
        self.server = ca.server("central")
        self.admin = ca.client(admin)
        self.agent_certs = {h: ca.client(h, uris=["lockbox:host/%s" % h]) for h in AGENTS}
        cert_start = time.perf_counter()
        sims = [ca.client("sim%03d" % i, uris=["lockbox:host/sim%03d" % i])
                for i in range(IDENTITIES)]
        self.cert_s = time.perf_counter() - cert_start
        self.setup_s = time.perf_counter() - started
        self.identities = os.path.join(self.tmp, "identities")
        with open(self.identities, "w") as f:
            f.write("".join("%s %s\n" % pair for pair in sims))
        self.context = client_context(self.ca, *self.admin)
        self.port = free_port()
        self.admin_name = admin

    def start(self):
        lt = self.lt
        c = self.central = lt.Daemon(
            tenant=TENANT, host="central", tenants={TENANT: [self.admin_name]}, store="sqlite",
            tenant_options={TENANT: {"hosts": "agent*, sim*"}}, wrapper=self.wrapper,
            daemon_extra={"role": "central", "max_connections_per_user": str(IDENTITY_CAP),
                          "max_calls_per_user": str(IDENTITY_CAP)})
        crt, key = self.server
        c.write_config("\n[remote]\nlisten = 127.0.0.1:%d\ncertificate = %s\nkey = %s\n"
                       "client_ca = %s\nmax_connections = %d\n"
                       % (self.port, crt, key, self.ca, self.hosts + RESERVED))
        c.start()
        for host in AGENTS:
            a = lt.Daemon(tenant=TENANT, host=host, tenants={TENANT: [self.admin_name]},
                          store="sqlite", daemon_extra={"role": "agent"})
            crt, key = self.agent_certs[host]
            a.write_config("\n[central]\nurl = https://127.0.0.1:%d\ncertificate = %s\n"
                           "key = %s\nca = %s\n" % (self.port, crt, key, self.ca))
            self.agents.append(a)
            a.start()
        for a in self.agents:
            lt.wait_until(lambda: a.health()["central"]["link"] == "up", 30,
                          "%s's link to central" % a.host)
        lt.wait_until(lambda: c.health()["waiting"] == len(AGENTS), 30,
                      "the agents' feeds held at central")

    def admin_connection(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                           timeout=30)

    def start_generator(self):
        self.generator = Generator(self)
        return self.generator

    def close(self):
        try:
            if self.generator is not None:
                self.generator.stop()
        finally:
            for d in self.agents + [self.central]:
                if d is not None:
                    d.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


class Generator:
    """fleet_load.py as a process of its own; its last status line is kept by a thread."""

    def __init__(self, fleet):
        argv = fleet.wrapper + [sys.executable, "-B", os.path.join(HERE, "fleet_load.py"),
                                str(fleet.port), fleet.ca, fleet.identities, str(fleet.hosts),
                                str(FIRST_ADDRESS), str(ADDRESSES), str(FEED_WAIT)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.status = {}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.status = json.loads(line)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        from lockbox_testlib import terminate
        terminate(self.proc, 60)
        self.reader.join(10)
        self.proc.stdout.close()
        self.proc = None


def cpu_window(pids, seconds, lt, still_ok):
    """/proc samples of `pids` at the start and end of `seconds` (checked once a second by
    still_ok(), which must not call the measured processes)."""
    start = {pid: proc_sample(pid) for pid in pids}
    if not lt.holds_for(still_ok, seconds, step=1.0):
        raise RuntimeError("the fleet did not stay idle for %ds" % seconds)
    end = {pid: proc_sample(pid) for pid in pids}
    return {pid: {"start": start[pid], "end": end[pid],
                  "cpu_pct": (end[pid]["cpu_s"] - start[pid]["cpu_s"]) / seconds * 100}
            for pid in pids}


def revoke_on(conn, rid, agent):
    """Revokes at central; (sent -> access.revoked in the agent's audit file, sent ->
    answered) in µs. Both watched in one loop: the audit file by size every 0.5 ms."""
    offset = os.path.getsize(agent.audit_path)
    needle = rid.encode()
    sent = time.perf_counter()
    conn.request("POST", "/v1/requests/%s/revoke" % rid, body=b'{"comment":"bench"}',
                 headers={"Content-Type": "application/json"})
    notified = answered = None
    deadline = sent + 10
    while notified is None or answered is None:
        if time.perf_counter() > deadline:
            raise RuntimeError("revoke %s: not seen on %s within 10 s" % (rid, agent.host))
        if answered is None and select.select([conn.sock], [], [], 0)[0]:
            answered = time.perf_counter()
        if notified is None and os.path.getsize(agent.audit_path) > offset:
            with open(agent.audit_path, "rb") as f:
                f.seek(offset)
                for line in f.read().splitlines():
                    if b"access.revoked" in line and needle in line:
                        notified = time.perf_counter()
        time.sleep(0.0005)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError("revoke %s: %s %s" % (rid, resp.status, body[:300]))
    return (notified - sent) * 1e6, (answered - sent) * 1e6


def rounds(fleet, engineer, phase, count):
    """`count` rounds, agents in turn: file on the agent, park a login, approve at central,
    then revoke there. Returns lists of µs: released, approve answered, notified, revoke
    answered. A kept-alive admin connection per phase: central drops one idle for 30 s."""
    out = {"released": [], "approved": [], "notified": [], "revoked": []}
    conn = fleet.admin_connection()
    try:
        call(conn, "GET", "/v1/health")  # connect, handshake, read the session tickets
        for i in range(count):
            agent = fleet.agents[i % len(fleet.agents)]
            rid = agent.file_request(engineer, "fleet bench",
                                     requester="%s%d" % (phase, i))["id"]
            login = login_wait(agent.pam_socket, rid)
            try:
                agent.wait_waiting(1)
                released, approved = approve_on(conn, rid, login)
            finally:
                login.close()
            notified, revoked = revoke_on(conn, rid, agent)
            for key, value in zip(out, (released, approved, notified, revoked)):
                out[key].append(value)
    finally:
        conn.close()
    return out


def merge(a, b):
    return {key: a[key] + b[key] for key in a}


def measure(fleet, engineer, n_rounds, idle_s):
    lt, central = fleet.lt, fleet.central
    result = {"idle_before": cpu_window([central.pid], idle_s, lt, lambda: True)}
    without = rounds(fleet, engineer, "without-a", n_rounds // 2)
    opened = time.perf_counter()
    gen = fleet.start_generator()
    result["generator_pid"] = gen.pid
    lt.wait_until(lambda: gen.status.get("ready") and
                  central.health()["waiting"] >= fleet.hosts, 900,
                  lambda: "%d simulated feeds held at central (now %r)" % (fleet.hosts,
                                                                            gen.status),
                  step=1.0)
    result["open_s"] = time.perf_counter() - opened
    polls = gen.status["polls"]
    result["idle_held"] = cpu_window([central.pid, gen.pid], idle_s, lt,
                                     lambda: gen.proc.poll() is None)
    result["polls_in_window"] = gen.status["polls"] - polls
    result["waiting"] = central.health()["waiting"]
    result["with"] = rounds(fleet, engineer, "with", n_rounds)
    result["generator"] = dict(gen.status)
    gen.stop()
    lt.wait_until(lambda: central.health()["waiting"] == len(AGENTS), 60,
                  "the simulated feeds gone")
    result["after"] = proc_sample(central.pid)
    result["without"] = merge(without, rounds(fleet, engineer, "without-b",
                                              n_rounds - n_rounds // 2))
    return result


def report(rep, fleet, r, idle_s, wanted):
    pid = fleet.central.pid
    before = r["idle_before"][pid]
    held = r["idle_held"][pid]
    gen = r["idle_held"][r["generator_pid"]]
    per_kb = (held["end"]["VmRSS"] - before["end"]["VmRSS"]) / fleet.hosts / 1024.0
    rows = [["central, %d agents' feeds only" % len(AGENTS), mib(before["end"]["VmRSS"]),
             "%.2f%%" % before["cpu_pct"], before["end"]["fds"], "-"],
            ["central, + %d simulated hosts' feeds" % fleet.hosts, mib(held["end"]["VmRSS"]),
             "%.2f%%" % held["cpu_pct"], held["end"]["fds"],
             "%.0f/s" % (r["polls_in_window"] / idle_s)],
            ["central, after the generator stopped", mib(r["after"]["VmRSS"]), "-",
             r["after"]["fds"], "-"],
            ["generator (fleet_load.py, asyncio + ssl)", mib(gen["end"]["VmRSS"]),
             "%.2f%%" % gen["cpu_pct"], gen["end"]["fds"], "-"]]
    g = r["generator"]
    rep.table("Fleet: central idle with %d host feeds" % fleet.hosts,
              "reported (Step 15: RSS and CPU while idle)",
              ["process", "VmRSS", "CPU over %ds" % idle_s, "open fds", "feed answers"], rows,
              ["%.1f KB of central RSS per held feed (TLS connection + suspended long-poll); "
               "central's peak RSS (VmHWM) %s." % (per_kb, mib(r["after"]["VmHWM"])),
               "%d hosts wanted, %d held: a central's TLS listener takes RLIMIT_NOFILE (%d "
               "here) but 1,024, i.e. %d connections, %d kept for the agents and the "
               "admin." % (
                   wanted, fleet.hosts, fleet.fd_hard, fleet.tls_cap, RESERVED),
               "Each simulated host: its own TLS connection from 127.0.0.%d-%d, the feed "
               "without since, then long-polls with wait=%d as the agent does; they share %d "
               "host certificates (per-identity caps raised to %d). Opening them all took "
               "%.0f s; the %d certificates took %.1f s with the openssl command "
               "(%.0f ms each: 10,000 would take about %.0f s)." % (
                   FIRST_ADDRESS, FIRST_ADDRESS + ADDRESSES - 1, FEED_WAIT, IDENTITIES,
                   IDENTITY_CAP, r["open_s"], IDENTITIES, fleet.cert_s,
                   fleet.cert_s / IDENTITIES * 1000, fleet.cert_s / IDENTITIES * 10000),
               "Generator at the end: %d feed answers, %d changed, %d errors%s; central "
               "counted %d waiting calls during the window." % (
                   g["polls"], g["changed"], g["errors"],
                   " (last: %s)" % g["last_error"] if g["errors"] else "", r["waiting"])])
    rows = []
    base = {k: summary(r["without"][k]) for k in ("released", "notified")}
    for label, key in (("without the simulated hosts", "without"),
                       ("with %d simulated hosts" % fleet.hosts, "with")):
        s = summary(r[key]["released"])
        rows.append([label, s["n"], us(s["median"]), us(s["p90"]), us(s["p99"]), us(s["max"]),
                     us(percentile(r[key]["approved"], 50)),
                     "%s / %s" % (ratio(s["median"], base["released"]["median"]),
                                  ratio(s["p99"], base["released"]["p99"]))])
    rep.table("Fleet: approval at central to login released on an agent", TARGETS["fleet"],
              ["central", "n", "median", "p90", "p99", "max", "approve answered (median)",
               "vs without (p50 / p99)"], rows,
              ["From sending the approval (tenant admin, kept-alive TLS to central) to the "
               "waiting login's socket becoming readable on the agent: central commits, wakes "
               "the agent's feed, the agent mirrors the request and answers the login.",
               "Rounds alternate between %d real agent lockboxd; 'without' is half before the "
               "generator started and half after it stopped." % len(AGENTS)])
    rows = []
    for label, key in (("without the simulated hosts", "without"),
                       ("with %d simulated hosts" % fleet.hosts, "with")):
        s = summary(r[key]["notified"])
        rows.append([label, s["n"], us(s["median"]), us(s["p99"]), us(s["max"]),
                     us(percentile(r[key]["revoked"], 50)),
                     "%s / %s" % (ratio(s["median"], base["notified"]["median"]),
                                  ratio(s["p99"], base["notified"]["p99"]))])
    rep.table("Fleet: revoke at central to agent notified", TARGETS["fleet_revoke"],
              ["central", "n", "median", "p99", "max", "revoke answered (median)",
               "vs without (p50 / p99)"], rows,
              ["From sending the revoke at central to access.revoked in the agent's audit "
               "file (watched by size every 0.5 ms), right after the same request's "
               "approval round."])


def run(rep, lt, engineer, admin, quick):
    raise_own_fd_limit()
    wanted = 1000 if quick else 10000
    n_rounds, idle_s = (100, 10) if quick else (200, 30)
    fleet = Fleet(lt, admin, wanted)
    try:
        fleet.start()
        r = measure(fleet, engineer, n_rounds, idle_s)
        report(rep, fleet, r, idle_s, wanted)
    except Exception:
        if fleet.central is not None:
            print(fleet.central.stderr()[-3000:])
        raise
    finally:
        fleet.close()
