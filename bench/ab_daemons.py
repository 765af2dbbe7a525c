#!/usr/bin/env python3
"""A/B of two lockboxd binaries in one run (never part of the tests): the same module, both
daemons on the same disk, logins and calls interleaved, so a noisy machine moves both alike.

    bench/ab_daemons.py BUILD_DIR OLD_LOCKBOXD      (as root; after bench/run.sh built the drivers)

Prints medians for: logins with the module kept loaded and loaded per login (pam_login_bench,
stacks floor / pam_exec / old / new), the daemon side of an access check (lbx_load repeat), and
approvals with 1 and 16 clients (lbx_load decide). Build the old binary from a commit with
`git worktree add DIR COMMIT` and cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo. Both daemons must
have the login socket (`[daemon] pam_socket`, from commit f001b6a on): for an older lockboxd with
its own module, use `bench/run.sh BUILD_DIR --only fast --before OLD_BUILD_DIR`."""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)

ENGINEER, ADMIN, PREFIX = "lbxabeng", "lbxabadm", "lbxab"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("old_lockboxd")
    ap.add_argument("--logins", type=int, default=3000)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ["LOCKBOX_BUILD"] = build
    os.environ["LOCKBOX_BENCH_BIN"] = os.path.join(build, "bench")
    import lockbox_testlib as lt
    import lockbox_bench as lb
    from bench_login_path import write_services
    from bench_util import driver, parse_results
    new_binary = lt.LOCKBOXD

    def start(binary, **kw):
        lt.LOCKBOXD = binary  # read when the daemon starts
        try:
            return lt.Daemon(tenants={"contoso": [ADMIN]}, **kw).start()
        finally:
            lt.LOCKBOXD = new_binary

    def medians(out):
        return "  ".join("%s %.0f us" % (r["name"], r["median_us"]) for r in parse_results(out))

    users = lt.Users(PREFIX)
    daemons = {}
    try:
        users.add(ENGINEER)
        users.add(ADMIN)
        engineers = [users.add("%se%d" % (PREFIX, i)) for i in range(6)]
        admin_uid = int(subprocess.check_output(["id", "-u", ADMIN]).strip())
        daemons = {"old": start(args.old_lockboxd), "new": start(new_binary)}
        for d in daemons.values():
            request_id = d.file_request(ENGINEER, reason="a/b")["id"]
            status, obj = d.call("POST", "/v1/requests/%s/approve" % request_id, {}, as_user=ADMIN)
            if status != 200:
                raise RuntimeError("approve failed: %s %s" % (status, obj))
        confdir = os.path.join(daemons["new"].dir, "pam.d")
        allowed = os.path.join(daemons["new"].dir, "approved-users")
        with open(allowed, "w") as f:
            f.write(ENGINEER + "\n")
        module = os.path.join(build, "pam_lockbox", "pam_lockbox.so")
        write_services(confdir, {n: (module, d.pam_socket) for n, d in daemons.items()}, allowed)
        n = str(args.logins)
        print("kept loaded:    ", medians(driver("pam_login_bench", "--keep-loaded", module, confdir,
                                                 ENGINEER, n, "floor", "old", "new")))
        print("loaded per login:", medians(driver("pam_login_bench", confdir, ENGINEER, n,
                                                  "floor", "pam_exec", "old", "new")))
        for name, d in daemons.items():
            r = parse_results(driver("lbx_load", "repeat", "check", d.socket, "-", n, "POST",
                                     "/v1/access/check", '{"user":"%s"}' % ENGINEER))[0]
            print("check, daemon side, %s: median %.0f us, p99 %.0f us" % (name, r["median_us"], r["p99_us"]))
        for d in daemons.values():
            d.close()
        extra = {"max_calls_per_user": "20000"}
        daemons = {"old": start(args.old_lockboxd, max_pending=1000, daemon_extra=extra),
                   "new": start(new_binary, max_pending=1000, daemon_extra=extra)}
        ids = {}
        for name, d in daemons.items():
            ids[name] = os.path.join(d.dir, "ids")
            for user in engineers:
                lb.file_requests(d, ids[name], user, "ab-", 1000)
        offset = 0
        for clients, count in ((1, 1500), (16, 4000)):
            for name, d in daemons.items():
                with open(ids[name]) as f:
                    chosen = [l.strip() for l in f if l.strip()][offset:offset + count]
                part = os.path.join(d.dir, "decide-%d" % clients)
                with open(part, "w") as f:
                    f.write("\n".join(chosen) + "\n")
                r = parse_results(driver("lbx_load", "decide", d.socket, part, str(admin_uid),
                                         str(clients)))[0]
                print("approve, %2d clients, %s: %.0f/s, median %.0f us" % (
                    clients, name, r["per_s"], r["median_us"]))
            offset += count
    finally:
        for d in daemons.values():
            d.close()
        users.cleanup()


if __name__ == "__main__":
    main()
