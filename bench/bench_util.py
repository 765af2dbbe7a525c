"""Helpers for bench/lockbox_bench.py: running the C drivers, reading /proc, and the report
(an aligned table per benchmark on stdout, all of them as Markdown at the end)."""

import os
import subprocess
import time

TARGETS = {
    "fast": "added median <= 300 us over the pam_permit floor, and faster than pam_exec",
    "unblock": "p99 <= 20 ms at 1,000 waiters",
    "capacity": "<= 100 MiB RSS and ~0% CPU with 10,000 logins waiting",
    "decide": ">= 2,000 durable decisions/s",
    "growth": "check and list within 2x from 1k to 1M stored requests",
}


def driver(name, *args, timeout=1200):
    """Runs a C driver from the bench build directory; returns its stdout."""
    path = os.path.join(os.environ["LOCKBOX_BENCH_BIN"], name)
    out = subprocess.run([path] + list(args), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("%s %s failed (%s): %s" % (name, " ".join(args[:2]), out.returncode,
                                                     out.stderr.strip()[-2000:]))
    return out.stdout


def parse_results(text):
    """'result name=x n=3 median_us=1.0' lines -> [{'name': 'x', 'n': 3.0, ...}]."""
    results = []
    for line in text.splitlines():
        if not line.startswith("result "):
            continue
        fields = dict(item.split("=", 1) for item in line.split()[1:])
        for key, value in fields.items():
            if key != "name":
                try:
                    fields[key] = float(value)
                except ValueError:
                    pass
        results.append(fields)
    return results


def proc_sample(pid):
    """RSS, peak RSS, CPU ticks and context switches of a process, now."""
    sample = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                sample[key] = int(value.split()[0]) * 1024
            elif key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                sample[key] = int(value)
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    sample["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    sample["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return sample


def disk_probe(directory, count=200):
    """Median µs of one append + fdatasync in `directory`: the disk's price for a durable write
    right now (these machines' disks vary by 10x from minute to minute)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            os.write(fd, b"x" * 340 + b"\n")
            os.fdatasync(fd)
            times.append((time.perf_counter() - start) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return times[len(times) // 2]


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def us(value):
    return "%.0f us" % value if value < 10000 else "%.1f ms" % (value / 1000.0)


class Report:
    def __init__(self, machine, quick):
        self.machine = machine
        self.quick = quick
        self.sections = []
        print("Lockbox benchmarks on %(nproc)s x %(cpu)s, kernel %(kernel)s, %(date)s" % machine)
        if quick:
            print("(quick mode: smaller sizes; not the published figures)")

    def table(self, title, target, headers, rows, notes=()):
        rows = [[str(c) for c in r] for r in rows]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        print("\n== %s (target: %s)" % (title, target))
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        for n in notes:
            print("   " + n)
        md = ["### %s" % title, "", "Target: %s." % target, "",
              "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        md += ["| " + " | ".join(r) + " |" for r in rows]
        md += [""] + ["- %s" % n for n in notes] + [""]
        self.sections.append("\n".join(md))

    def fast_path(self, cold, warm, events, logins, daemon_side, fsync_us):
        def rows_of(results):
            floor = results["floor"]["median_us"]
            return [[name, us(r["median_us"]), us(r["p90_us"]), us(r["p99_us"]),
                     us(r["median_us"] - floor), "%.2f" % (r["median_us"] / floor)]
                    for name, r in results.items()]
        headers = ["stack", "median", "p90", "p99", "added median", "x floor"]
        n = int(cold["floor"]["n"])
        lb, pe, floor = cold["lockbox"], cold["pam_exec"], cold["floor"]["median_us"]
        notes = ["Each login: pam_start_confdir + pam_acct_mgmt + pam_end, stacks interleaved "
                 "round-robin. libpam loads the stack's modules at pam_start and unloads them at "
                 "pam_end, as each new sshd connection process does.",
                 "lockbox added median over the floor: %s; pam_exec / lockbox median: %.2fx."
                 % (us(lb["median_us"] - floor), pe["median_us"] / lb["median_us"])]
        if "lockbox_tmpfs" in cold:
            notes.append("lockbox_tmpfs: the same module against a daemon whose database and audit "
                         "file are on tmpfs (fsync is free there): the gap to `lockbox` is what the "
                         "durable writes cost.")
        self.table("Fast path: %d logins, access already approved (module loaded per login)" % n,
                   TARGETS["fast"], headers, rows_of(cold), notes)
        wl, wf = warm["lockbox"], warm["floor"]["median_us"]
        notes = ["The driver pins pam_lockbox.so (and libcurl with its ~35 libraries) in memory "
                 "first, so this is the module's own work: socket checks, libcurl handle, one "
                 "HTTP call, the daemon's check and its durable login.allowed record.",
                 "lockbox added median over the floor: %s." % us(wl["median_us"] - wf),
                 "Daemon side alone (POST /v1/access/check from a keep-alive C client): median %s, "
                 "p99 %s." % (us(daemon_side["median_us"]), us(daemon_side["p99_us"])),
                 "login.allowed audit records written by the PAM runs: %d (expected %d)."
                 % (events, logins + 40),
                 "Disk right after: one append + fdatasync took %s (median); a login.allowed "
                 "costs one (the audit file's; a round of login records only skips the SQLite "
                 "WAL fsync)." % us(fsync_us)]
        self.table("Fast path with the module kept loaded", TARGETS["fast"], headers,
                   rows_of(warm), notes)

    def unblock(self, rows):
        table = [[n, us(u["median_us"]), us(u["p90_us"]), us(u["p99_us"]), us(u["max_us"]),
                  us(a["median_us"])] for n, u, a in rows]
        self.table("Approval to unblock", TARGETS["unblock"],
                   ["waiters", "median", "p90", "p99", "max", "approve call (median)"], table,
                   ["Time from the approval's HTTP answer to the waiting long-poll's answer; "
                    "approvals one at a time."])

    def capacity(self, total, ready, base, start, end, idle, probes):
        cpu = (end["cpu_s"] - start["cpu_s"]) / idle * 100
        wakeups = (end["voluntary_ctxt_switches"] + end["nonvoluntary_ctxt_switches"]
                   - start["voluntary_ctxt_switches"] - start["nonvoluntary_ctxt_switches"])
        rows = [["before waiters", mib(base["VmRSS"]), "-", "-", base["fds"]],
                ["%d waiting" % total, mib(end["VmRSS"]), "%.2f%%" % cpu,
                 "%d in %ds" % (wakeups, idle), end["fds"]]]
        self.table("Capacity: %d logins waiting" % total, TARGETS["capacity"],
                   ["state", "lockboxd RSS", "CPU while idle", "context switches", "open fds"],
                   rows, ["Peak RSS (VmHWM): %s. Driver: %s." % (mib(end["VmHWM"]), ready),
                          "GET /v1/health round trip (keep-alive, 2000 calls): median %s with no "
                          "waiter, %s with %d waiting (p99 %s, %s)." % (
                              us(probes[0]["median_us"]), us(probes[1]["median_us"]), total,
                              us(probes[0]["p99_us"]), us(probes[1]["p99_us"]))])

    def decisions(self, decided, filed, audit_bytes, audit_lines, fsync_us):
        rows = [["file (request.created)", "8", "%.0f" % f["per_s"], us(f["median_us"]),
                 us(f["p99_us"])] for f in filed[:1]]
        rows += [["approve (request.approved)", "%d" % d["concurrency"], "%.0f" % d["per_s"],
                  us(d["median_us"]), us(d["p99_us"])] for d in decided]
        self.table("Durable decisions per second", TARGETS["decide"],
                   ["operation", "clients", "per second", "median", "p99"], rows,
                   ["Each is one SQLite transaction; group commit makes every change of one loop "
                    "round durable with one database fsync and one audit write + fdatasync, "
                    "and only then are their callers answered.",
                    "Disk right before: one append + fdatasync took %s (median), so two per "
                    "decision cap one writer at about %.0f/s." % (us(fsync_us), 1e6 / (2 * fsync_us)),
                    "Audit file: %d records, %.0f bytes per record." % (
                        audit_lines, audit_bytes / max(audit_lines, 1))])

    def growth(self, rows, headers, notes):
        self.table("Growth: check and list latency by stored requests", TARGETS["growth"],
                   headers, rows, notes)

    def finish(self, path):
        m = self.machine
        text = ["## Latest run", "",
                "Machine: %s x %s, kernel %s, %s%s." % (m["nproc"], m["cpu"], m["kernel"],
                                                        m["date"],
                                                        " (quick mode)" if self.quick else ""),
                ""] + self.sections
        if path:
            with open(path, "w") as f:
                f.write("\n".join(text) + "\n")
            print("\nMarkdown summary: %s" % path)
