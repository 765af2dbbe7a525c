#!/usr/bin/env python3
"""Lockbox benchmarks (not tests): runs real lockboxd processes and the C drivers built by
bench/run.sh, prints one table per benchmark and writes a Markdown summary.

    python3 bench/lockbox_bench.py BUILD_DIR [--quick]
                                   [--only fast,unblock,capacity,growth,pg,remote,fleet]
                                   [--rows N]
                                   [--pg-rows N] [--before OLD_BUILD_DIR] [--report FILE]

"remote" (the HTTP API over TLS beside the Unix socket, bench_remote.py) starts lockboxd with
a [remote] TLS listener and certificates made with openssl.
"fleet" (Step 15, bench_fleet.py) runs one central, two real agents and fleet_load.py, a
process simulating up to 10,000 hosts each holding its feed long-poll at central.
"pg" (the PostgreSQL store beside SQLite, bench_pg.py) runs when PostgreSQL 15 is installed
and is skipped with a note otherwise; --pg-rows sets its largest growth size (0: no growth).

--before adds the lockboxd and pam_lockbox.so of another build (e.g. a commit from before the
login socket) to the login-path benchmark as extra stacks in the same rounds.

Figures are compared side by side in the same run (as ratios) because the machines are shared
and noisy. Setup reuses tests/integration/lockbox_testlib.py (Daemon, Users).
"""

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import bench_fleet  # noqa: E402
import bench_growth  # noqa: E402
import bench_pg  # noqa: E402
import bench_login_path  # noqa: E402
import bench_remote  # noqa: E402
from bench_util import Report, disk_probe, driver, parse_results, proc_sample  # noqa: E402

ENGINEER, ADMIN = "lbxbeng", "lbxbadm"


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def fd_limit_wrapper():
    """lockboxd holds one descriptor per waiting login: run it with as many as we may give
    (65536, or the hard limit when we lack CAP_SYS_RESOURCE)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    return ["prlimit", "--nofile=%d" % limit]


def file_requests(daemon, ids_path, user, prefix, count, concurrency=8):
    return parse_results(driver("lbx_load", "file", daemon.socket, user, prefix, "0", str(count),
                                str(concurrency), ids_path))[0]


def bench_unblock(report, lt, sizes, admin_uid):
    """1, 100, 1000 logins waiting; approve them one by one; time each approval's answer to the
    waiting login's return."""
    d = lt.Daemon(tenants={"contoso": [ADMIN]}, max_pending=1000,
                  daemon_extra={"max_calls_per_user": "20000"},
                  wrapper=fd_limit_wrapper()).start()
    try:
        rows = []
        for n in sizes:
            ids = os.path.join(d.dir, "ids-%d" % n)
            file_requests(d, ids, ENGINEER, "wait%d-" % n, n)
            res = {r["name"]: r for r in parse_results(
                driver("lbx_load", "unblock", d.socket, ids, str(admin_uid), str(n)))}
            rows.append((n, res["unblock_%d" % n], res["approve_rtt_%d" % n]))
        report.unblock(rows)
    finally:
        d.close()


def hold_waiters(d, argv, idle_seconds):
    """Parks the driver's waiters in lockboxd, samples it while nothing happens, releases them."""
    probe = ["lbx_load", "repeat", "health", d.socket, "-", "2000", "GET", "/v1/health"]
    base = proc_sample(d.pid)
    quiet = parse_results(driver(*probe))[0]
    hold = subprocess.Popen([os.path.join(BENCH_BIN, "lbx_load")] + argv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    ready = hold.stdout.readline().strip()
    if not ready.startswith("ready"):
        hold.kill()
        raise RuntimeError("hold driver failed: %r" % ready)
    time.sleep(1.0)  # let the last replies and MHD's bookkeeping settle
    start = proc_sample(d.pid)
    time.sleep(idle_seconds)
    end = proc_sample(d.pid)
    busy = parse_results(driver(*probe))[0]
    hold.stdin.close()
    hold.wait(60)
    return {"ready": ready, "base": base, "start": start, "end": end, "probes": (quiet, busy)}


def bench_capacity(report, lt, users, per_user, admin_uid, idle_seconds, decide_conc):
    """Many logins waiting at once: RSS and CPU while nothing happens, with the waits on the HTTP
    API (long-polls) and then, after a restart, on the login socket (the module's); then
    durable decisions."""
    d = lt.Daemon(tenants={"contoso": [ADMIN]}, max_pending=per_user,
                  daemon_extra={"max_calls_per_user": "20000"},
                  wrapper=fd_limit_wrapper()).start()
    try:
        ids = os.path.join(d.dir, "ids")
        filed = []
        for u in users:
            filed.append(file_requests(d, ids, u, "cap-", per_user))
        total = len(users) * per_user
        runs = [("HTTP long-polls", hold_waiters(d, ["hold", d.socket, ids, str(total)],
                                                 idle_seconds))]
        d.restart()  # a fresh heap: the login socket's figure is not the long-polls' high-water
        runs.append(("login socket", hold_waiters(
            d, ["login-hold", d.pam_socket, d.socket, ids, str(total)], idle_seconds)))
        report.capacity(total, runs, idle_seconds)
        decided = []
        fsync_us = disk_probe(d.dir)
        with open(ids) as f:
            all_ids = [l.strip() for l in f if l.strip()]
        offset = 0
        for conc, count in decide_conc:
            part = os.path.join(d.dir, "decide-%d" % conc)
            with open(part, "w") as f:
                f.write("\n".join(all_ids[offset:offset + count]) + "\n")
            offset += count
            decided += parse_results(driver("lbx_load", "decide", d.socket, part, str(admin_uid),
                                            str(conc)))
        audit_bytes = os.path.getsize(d.audit_path)
        report.decisions(decided, filed, audit_bytes, len(d.audit_lines()), fsync_us)
    finally:
        d.close()


def main():
    global BUILD, BENCH_BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="fast,unblock,capacity,growth,pg,remote,fleet")
    ap.add_argument("--rows", type=int, default=None, help="largest growth size (default 1M)")
    ap.add_argument("--pg-rows", type=int, default=None,
                    help="largest PostgreSQL growth size (default 1M, --quick 100k; 0: none)")
    ap.add_argument("--before", default=None, metavar="OLD_BUILD_DIR",
                    help="another build's lockboxd and pam_lockbox.so as extra login stacks")
    ap.add_argument("--report", default=None)
    args = ap.parse_args()
    BUILD = os.path.abspath(args.build)
    before = os.path.abspath(args.before) if args.before else None
    for artefact in ("lockboxd/lockboxd", "pam_lockbox/pam_lockbox.so"):
        if before and not os.path.exists(os.path.join(before, artefact)):
            ap.error("--before %s: %s is missing" % (before, artefact))
    BENCH_BIN = os.path.join(BUILD, "bench")
    os.environ["LOCKBOX_BUILD"] = BUILD
    os.environ["LOCKBOX_BENCH_BIN"] = BENCH_BIN
    import lockbox_testlib as lt
    only = set(args.only.split(","))
    q = args.quick
    report = Report(machine_info(), q)
    users = lt.Users("lbxb")
    try:
        users.add(ENGINEER)
        users.add(ADMIN)
        admin_uid = int(subprocess.check_output(["id", "-u", ADMIN]).strip())
        cap_users = [users.add("lbxbe%d" % i) for i in range(2 if q else 10)]
        if "fast" in only:
            bench_login_path.run(report, lt, BUILD, before, ENGINEER, ADMIN,
                                 logins=500 if q else 3000, loads=300 if q else 1000)
        if "unblock" in only:
            bench_unblock(report, lt, [1, 100, 1000], admin_uid)
        if "capacity" in only:
            bench_capacity(report, lt, cap_users, 1000, admin_uid, 5 if q else 15,
                           [(1, 500), (16, 1500)] if q else [(1, 2000), (16, 8000)])
        if "growth" in only:
            rows = args.rows or (100_000 if q else 1_000_000)
            sizes = [s for s in (1_000, 100_000, 1_000_000) if s < rows] + [rows]
            bench_growth.run(report, lt, sizes, ENGINEER)
        if "pg" in only and not bench_pg.available():
            print("\n== PostgreSQL store: skipped, PostgreSQL 15 is not installed")
        elif "pg" in only:
            rows = args.pg_rows if args.pg_rows is not None else (100_000 if q else 1_000_000)
            sizes = [s for s in (1_000, 100_000, 1_000_000) if s < rows] + [rows] if rows else []
            pg_engineers = [users.add("lbxbp%d" % i) for i in range(4)]
            bench_pg.run(report, lt, pg_engineers, ENGINEER, ADMIN, admin_uid, sizes, q)
        if "remote" in only:
            bench_remote.run(report, lt, ENGINEER, ADMIN, fd_limit_wrapper(), q)
        if "fleet" in only:
            bench_fleet.run(report, lt, ENGINEER, ADMIN, q)
    finally:
        users.cleanup()
    report.finish(args.report)


if __name__ == "__main__":
    main()
