#!/usr/bin/env python3
"""Cross-instance wake-up (Step 13): two lockboxd on one PostgreSQL database; WAITERS logins
wait on instance A's login socket; an admin approves on instance B, one request at a time;
the time from B's answer (the decision committed) to A's answer to the waiting login is the
wake-up: NOTIFY at B's COMMIT, A's listener, A's re-read, A's reply. Also reported: from
sending the approval to A's answer. Target: p99 <= 50 ms with 1,000 waiters.

    bench/bench_pg_wake.py BUILD_DIR [--waiters N] [--samples N]   (as root)"""

import argparse
import json
import os
import select
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load(build):
    os.environ["LOCKBOX_BUILD"] = os.path.abspath(build)
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
    import lockbox_testlib as lt
    return lt


def login_wait(pam_socket, request_id, timeout_s):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(pam_socket)
    s.send(json.dumps({"op": "wait", "id": request_id, "timeout": timeout_s}).encode())
    return s


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def run(lt, waiters, samples):
    users = lt.Users(lt.unique_prefix("bwk"))
    engineers = [users.add("%s_e%d" % (users.prefix, i)) for i in range((waiters + 19) // 20)]
    # root is listed as the admin so that the approvals go out from this process, untimed
    # by a fork per call.
    tenants = {"contoso": ["root"]}
    a = lt.Daemon(tenants=tenants, store="postgresql", max_pending=20).start()
    b = lt.Daemon(tenants=tenants, store="postgresql", database=a.pg).start()
    conns, wakes, round_trips = {}, [], []
    try:
        ids = []
        for i in range(waiters):
            req = b.file_request(engineers[i // 20], "wake %d" % i, requester="r%d" % i)
            ids.append(req["id"])
        for rid in ids:
            conns[rid] = login_wait(a.pam_socket, rid, 120)
        lt.wait_until(lambda: a.health()["waiting"] >= waiters, 60,
                      lambda: "A holds every wait (%s waiting; %d answered early: %r)" % (
                          a.health()["waiting"],
                          len(select.select(list(conns.values()), [], [], 0)[0]),
                          [c.recv(4096) for c in select.select(list(conns.values()), [], [],
                                                               0)[0][:1]]))
        for rid in ids[:samples]:
            sent = time.monotonic()
            status, obj = lt.http_call(b.socket, "POST", "/v1/requests/%s/approve" % rid,
                                       {"comment": "bench"})
            committed = time.monotonic()
            if status != 200:
                raise RuntimeError("approve on B: %s %s" % (status, obj))
            ready, _, _ = select.select([conns[rid]], [], [], 10)
            released = time.monotonic()
            if not ready:
                raise RuntimeError("A never released the wait on %s" % rid)
            reply = json.loads(conns[rid].recv(65536))
            if reply.get("request", {}).get("state") != "approved":
                raise RuntimeError("A answered %r" % reply)
            wakes.append((released - committed) * 1000)
            round_trips.append((released - sent) * 1000)
    except Exception:
        print(a.stderr()[-3000:], file=sys.stderr)
        raise
    finally:
        for s in conns.values():
            s.close()
        b.close()
        a.close()
        users.cleanup()
    return wakes, round_trips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build")
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    lt = load(args.build)
    with open("/proc/loadavg") as f:
        load_start = f.read().split()[0]
    wakes, trips = run(lt, args.waiters, min(args.samples, args.waiters))
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[0]
    print("== PostgreSQL store: cross-instance wake-up with %d waiting logins on A "
          "(target: p99 <= 50 ms)" % args.waiters)
    for name, values in (("B's answer -> A releases the login", wakes),
                         ("approval sent to B -> A releases the login", trips)):
        print("%-45s median %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (n=%d)"
              % (name, statistics.median(values), percentile(values, 90),
                 percentile(values, 99), max(values), len(values)))
    print("   load average (1 min) %s at the start, %s at the end, on %d cores"
          % (load_start, load_end, os.cpu_count()))


if __name__ == "__main__":
    main()
