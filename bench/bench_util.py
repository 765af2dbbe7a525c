"""Helpers for bench/lockbox_bench.py: running the C drivers, reading /proc, and the report
(an aligned table per benchmark on stdout, all of them as Markdown at the end)."""

import os
import subprocess
import time

TARGETS = {
    "unblock": "p99 <= 20 ms at 1,000 waiters",
    "capacity": "<= 100 MiB RSS and ~0% CPU with 10,000 logins waiting",
    "decide": ">= 2,000 durable decisions/s",
    "growth": "check and list within 2x from 1k to 1M stored requests",
    "remote": "p99 <= 20 ms on loopback",
    "fleet": "p99 <= 100 ms on loopback with 10,000 hosts' feeds held",
    "fleet_revoke": "reported (Step 15 sets no figure)",
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

    def unblock(self, rows):
        table = [[n, us(u["median_us"]), us(u["p90_us"]), us(u["p99_us"]), us(u["max_us"]),
                  us(a["median_us"])] for n, u, a in rows]
        self.table("Approval to unblock", TARGETS["unblock"],
                   ["waiters", "median", "p90", "p99", "max", "approve call (median)"], table,
                   ["Time from the approval's HTTP answer to the waiting long-poll's answer; "
                    "approvals one at a time."])

    def capacity(self, total, runs, idle):
        """runs: [(label, hold_waiters() result)], one row before and one with the waiters each."""
        rows, notes = [], []
        for label, r in runs:
            start, end, base = r["start"], r["end"], r["base"]
            cpu = (end["cpu_s"] - start["cpu_s"]) / idle * 100
            wakeups = (end["voluntary_ctxt_switches"] + end["nonvoluntary_ctxt_switches"]
                       - start["voluntary_ctxt_switches"] - start["nonvoluntary_ctxt_switches"])
            rows += [["%s: before waiters" % label, mib(base["VmRSS"]), "-", "-", base["fds"]],
                     ["%s: %d waiting" % (label, total), mib(end["VmRSS"]), "%.2f%%" % cpu,
                      "%d in %ds" % (wakeups, idle), end["fds"]]]
            quiet, busy = r["probes"]
            notes.append("%s: peak RSS (VmHWM) %s; driver: %s; GET /v1/health round trip "
                         "(keep-alive, 2000 calls): median %s with no waiter, %s with %d waiting "
                         "(p99 %s, %s)." % (label, mib(end["VmHWM"]), r["ready"],
                                            us(quiet["median_us"]), us(busy["median_us"]), total,
                                            us(quiet["p99_us"]), us(busy["p99_us"])))
        notes.append("Logins wait on the login socket now (one {\"op\":\"wait\"} message per "
                     "connection); the HTTP long-polls are what lockboxctl and scripts use. "
                     "lockboxd is restarted between the two, so each starts from a fresh heap.")
        self.table("Capacity: %d logins waiting" % total, TARGETS["capacity"],
                   ["state", "lockboxd RSS", "CPU while idle", "context switches", "open fds"],
                   rows, notes)

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
