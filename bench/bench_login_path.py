"""The login path (`--only fast`): what pam_lockbox costs a login whose access is already
approved, against pam_permit and pam_exec measured in the same run, read as ratios.

1. Loading the module: dlopen(RTLD_NOW) + dlclose of pam_lockbox.so, pam_exec.so, pam_permit.so
   and libjson-c alone, interleaved (bench/module_load_bench.c), each load in a new process that
   holds the host's libraries: libpam and libc (su, sudo), then every library sshd links.
2. Approved logins through the real libpam (bench/pam_login_bench.c), the module loaded at
   pam_start and unloaded at pam_end as in each new sshd, su or sudo process, stacks interleaved
   round-robin: pam_permit (the floor), pam_exec running a shell script, pam_lockbox against
   lockboxd with its store on disk and on tmpfs; an fdatasync probe on the same disk before and
   after. Then the same with the modules kept loaded, and the daemon side alone.

With --before OLD_BUILD, the previous lockboxd and pam_lockbox.so (from before the login socket:
HTTP over libcurl) run as extra stacks in the same rounds, on disk and on tmpfs.
"""

import contextlib
import os
import subprocess
import tempfile

from bench_util import disk_probe, driver, parse_results, us

SECURITY_DIRS = ("/usr/lib/x86_64-linux-gnu/security", "/lib/x86_64-linux-gnu/security",
                 "/usr/lib64/security", "/lib/security", "/usr/lib/security")
TARGETS = {
    "load": "pam_lockbox.so dlopen+dlclose <= 2x pam_exec.so's",
    "fast": "added median over pam_permit <= 300 us with the store on tmpfs, <= 300 us + one "
            "fdatasync on disk; >= 10x faster than pam_exec + a shell script",
}


def system_module(name):
    for d in SECURITY_DIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    raise RuntimeError("%s not found in %s" % (name, ", ".join(SECURITY_DIRS)))


def sshd_libraries(sshd="/usr/sbin/sshd"):
    """The libraries sshd is linked with (ldd), which a module loaded in sshd finds in place."""
    if not os.path.exists(sshd):
        return []
    out = subprocess.run(["ldd", sshd], capture_output=True, text=True).stdout
    return [line.split("=>")[1].split()[0] for line in out.splitlines()
            if "=>" in line and line.split("=>")[1].strip().startswith("/")]


def before_daemon_class(lt, lockboxd):
    """lockboxd from before the login socket: the same fixture, its own binary, no pam_socket
    key in its configuration (it would refuse the unknown key)."""

    class BeforeDaemon(lt.Daemon):
        def write_config(self, extra=""):
            super().write_config(extra)
            with open(self.conf_path) as f:
                lines = [l for l in f.read().split("\n") if not l.startswith("pam_socket =")]
            with open(self.conf_path, "w") as f:
                f.write("\n".join(lines))

        def argv(self):
            return self.wrapper + [lockboxd, "-c", self.conf_path, "-f"]

    return BeforeDaemon


@contextlib.contextmanager
def temporary_files_in(directory):
    """Daemon() makes its directory with tempfile: point that at `directory` for a while."""
    old = tempfile.tempdir
    tempfile.tempdir = directory
    try:
        yield
    finally:
        tempfile.tempdir = old


def write_services(confdir, stacks, allowed_file):
    """The PAM services compared: pam_permit alone (the floor), pam_exec running a script that
    checks a file (what an admin would build by hand), and each {name: (module, socket)}."""
    os.makedirs(confdir, exist_ok=True)
    script = os.path.join(confdir, "check-approved.sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\n# allowed if the user is listed in the approvals file\n'
                'exec grep -qxF -- "$PAM_USER" %s\n' % allowed_file)
    os.chmod(script, 0o755)
    services = {"floor": "account required pam_permit.so\n",
                "pam_exec": "account required pam_exec.so quiet %s\n" % script}
    for name, (module, sock) in stacks.items():
        services[name] = "account required %s socket=%s wait=0\n" % (module, sock)
    for name, text in services.items():
        with open(os.path.join(confdir, name), "w") as f:
            f.write(text)
    return list(services)


class Stacks:
    """The daemons behind the lockbox stacks: name -> (daemon, module, socket the module uses)."""

    def __init__(self, lt, build, before, engineer, admin):
        self.lt, self.entries, self.engineer, self.admin = lt, {}, engineer, admin
        tmpfs = "/dev/shm" if os.path.isdir("/dev/shm") else None
        kinds = [("lockbox", lt.Daemon, os.path.join(build, "pam_lockbox", "pam_lockbox.so"),
                  "pam_socket")]
        if before:
            kinds.append(("before", before_daemon_class(lt, os.path.join(before, "lockboxd",
                                                                         "lockboxd")),
                          os.path.join(before, "pam_lockbox", "pam_lockbox.so"), "socket"))
        try:
            for name, cls, module, attr in kinds:
                for suffix, where in (("", None), ("_tmpfs", tmpfs)):
                    if suffix and where is None:
                        continue
                    with temporary_files_in(where):
                        d = cls(tenants={"contoso": [admin]}).start()
                    self.entries[name + suffix] = (d, module, getattr(d, attr))
                    self.approve(d)
        except BaseException:
            self.close()
            raise

    def approve(self, d):
        request_id = d.file_request(self.engineer, reason="login path")["id"]
        status, obj = d.call("POST", "/v1/requests/%s/approve" % request_id, {"comment": "bench"},
                             as_user=self.admin)
        if status != 200:
            raise RuntimeError("approve failed: %s %s" % (status, obj))

    def daemon(self, name):
        return self.entries[name][0]

    def modules(self):
        return {name: (module, sock) for name, (_, module, sock) in self.entries.items()}

    def close(self):
        for d, _, _ in self.entries.values():
            d.close()
        self.entries = {}


def bench_load(count, libraries, host_libraries, same_process=False):
    argv = ["module_load_bench"] + (["--same-process"] if same_process else [])
    for lib in host_libraries:
        argv += ["--preload", lib]
    argv += [str(count)] + ["%s=%s" % kv for kv in libraries.items()]
    return {r["name"]: r for r in parse_results(driver(*argv))}


def run(report, lt, build, before, engineer, admin, logins, loads):
    libraries = {"pam_lockbox": os.path.join(build, "pam_lockbox", "pam_lockbox.so"),
                 "pam_exec": system_module("pam_exec.so"),
                 "pam_permit": system_module("pam_permit.so"),
                 "libjson-c": "libjson-c.so.5"}
    if before:
        libraries["pam_lockbox_before"] = os.path.join(before, "pam_lockbox", "pam_lockbox.so")
    host = ["libpam.so.0"]
    sshd = sshd_libraries()
    load = {"host": bench_load(loads, libraries, host),
            "loop": bench_load(loads, libraries, host, same_process=True)}
    if sshd:
        load["sshd"] = bench_load(loads, libraries, sshd)
    report_load(report, libraries, load, len(sshd))

    stacks = Stacks(lt, build, before, engineer, admin)
    try:
        disk = stacks.daemon("lockbox")
        fsync = {"probe before": disk_probe(disk.dir)}
        allowed = os.path.join(disk.dir, "approved-users")
        with open(allowed, "w") as f:
            f.write("someone\n%s\n" % engineer)
        confdir = os.path.join(disk.dir, "pam.d")
        names = write_services(confdir, stacks.modules(), allowed)
        before_audit = len(disk.audit_lines())
        probe = ["--fsync-probe", os.path.join(disk.dir, "log", "fsync-probe")]
        out = driver("pam_login_bench", *probe, confdir, engineer, str(logins), *names)
        cold = {r["name"][4:]: r for r in parse_results(out)}
        fsync["probe after"] = disk_probe(disk.dir)
        pinned = []
        for module in sorted({m for m, _ in stacks.modules().values()}):
            pinned += ["--keep-loaded", module]
        out = driver("pam_login_bench", *pinned, *probe, confdir, engineer, str(logins),
                     *[n for n in names if n != "pam_exec"])
        warm = {r["name"][4:]: r for r in parse_results(out)}
        fsync["p90"] = cold["fdatasync"]["p90_us"]
        fsync["with the logins"] = cold.pop("fdatasync")["median_us"]
        fsync["with the kept-loaded logins"] = warm.pop("fdatasync")["median_us"]
        events = len(disk.audit_lines()) - before_audit
        sides = daemon_side(stacks, engineer, logins)
        report_logins(report, cold, warm, fsync, events, 2 * logins, sides)
        report_targets(report, load, cold, fsync, before is not None)
    finally:
        stacks.close()


def daemon_side(stacks, engineer, count):
    """The daemon's share of a login: a check from a C client, over the login socket with a
    connection per call (as the module makes) and over the HTTP API (keep-alive)."""
    check = '{"op":"check","user":"%s"}' % engineer
    sides = {"login socket": parse_results(driver(
        "lbx_load", "login-repeat", "check", stacks.daemon("lockbox").pam_socket, str(count),
        check))[0]}
    sockets = [stacks.daemon(n).socket for n in ("lockbox", "before") if n in stacks.entries]
    http = parse_results(driver("lbx_load", "compare", "check", str(count), "POST",
                                "/v1/access/check", '{"user":"%s"}' % engineer, *sockets))
    sides["HTTP API"] = http[0]
    if len(http) > 1:
        sides["HTTP API, before"] = http[1]
    return sides


def report_load(report, libraries, load, n_sshd):
    exec_host = load["host"]["load_pam_exec"]["median_us"]
    exec_sshd = load["sshd"]["load_pam_exec"]["median_us"] if "sshd" in load else None
    rows = []
    for name in libraries:
        host = load["host"]["load_" + name]
        row = [name, us(host["median_us"]), us(host["p90_us"]),
               "%.2f" % (host["median_us"] / exec_host)]
        if "sshd" in load:
            s = load["sshd"]["load_" + name]
            row += [us(s["median_us"]), "%.2f" % (s["median_us"] / exec_sshd)]
        loop = load["loop"]["load_" + name]
        row += [us(loop["median_us"]), "%d" % host["objects"], "%d" % host["left_mapped"]]
        rows.append(row)
    headers = ["library", "median", "p90", "x pam_exec"]
    if "sshd" in load:
        headers += ["in sshd: median", "x pam_exec"]
    headers += ["same process: median", "objects mapped", "left mapped"]
    n = int(load["host"]["load_pam_exec"]["n"])
    notes = ["dlopen(RTLD_NOW) + dlclose, libraries interleaved round-robin, %d each; every load "
             "in a new process (fork) that holds libpam and libc, as su and sudo do." % n]
    if "sshd" in load:
        notes.append("in sshd: the new process also holds the %d libraries /usr/sbin/sshd links "
                     "(libcrypto, krb5, libsystemd, ...), so those are not loaded again." % n_sshd)
    notes.append("same process: the classic loop in one process; libraries that stay mapped "
                 "after dlclose ('left mapped': libcrypto, libssl, p11-kit, libffi for the old "
                 "module) are then paid once, not per login as in a new sshd process.")
    report.table("Loading the module: dlopen + dlclose", TARGETS["load"], headers, rows, notes)


def report_logins(report, cold, warm, fsync, events, expected, sides):
    def rows_of(results):
        floor = results["floor"]["median_us"]
        return [[name, us(r["median_us"]), us(r["p90_us"]), us(r["p99_us"]),
                 us(r["median_us"] - floor), "%.2f" % (r["median_us"] / floor)]
                for name, r in results.items()]
    headers = ["stack", "median", "p90", "p99", "added median", "x floor"]
    n = int(cold["floor"]["n"])
    notes = ["Each login: pam_start_confdir + pam_acct_mgmt + pam_end through the real libpam, "
             "stacks interleaved round-robin; libpam loads the stack's modules at pam_start and "
             "unloads them at pam_end, as each new sshd, su or sudo process does.",
             "lockbox: lockboxd's database and audit file on disk (ext4 here), each "
             "login.allowed made durable with one fdatasync before the answer; *_tmpfs: the "
             "same on tmpfs (/dev/shm), where fdatasync costs nothing.",
             "One 341-byte append + fdatasync on the same disk (the disk daemon's log directory), "
             "as one more entry of every round: median %s (p90 %s); 200 in a row just before the "
             "logins: %s, just after: %s." % (us(fsync["with the logins"]), us(fsync["p90"]),
                                              us(fsync["probe before"]), us(fsync["probe after"]))]
    if "before" in cold:
        notes.append("before / before_tmpfs: the previous lockboxd and pam_lockbox.so (HTTP over "
                     "libcurl on the API socket), in the same rounds.")
    report.table("Approved login, module loaded per login: %d logins per stack" % n,
                 TARGETS["fast"], headers, rows_of(cold), notes)
    notes = ["The driver pins the modules (and their libraries) first: this is the module's "
             "own work (socket checks, connect, one message each way, the daemon's check and "
             "its durable login.allowed record) without the dynamic loader's.",
             "login.allowed records written by the PAM runs on the disk daemon: %d (expected %d)."
             % (events, expected + 40),
             "The append + fdatasync in these rounds: median %s." % us(
                 fsync["with the kept-loaded logins"])]
    for name, r in sides.items():
        notes.append("Daemon side, check from a C client over the %s: median %s, p99 %s."
                     % (name, us(r["median_us"]), us(r["p99_us"])))
    report.table("Approved login with the modules kept loaded", TARGETS["fast"], headers,
                 rows_of(warm), notes)


def report_targets(report, load, cold, fsync, with_before):
    floor = cold["floor"]["median_us"]
    sync = fsync["with the logins"]

    def verdict(ok):
        return "yes" if ok else "**no**"

    def load_row(label, results):
        ratio = results["load_pam_lockbox"]["median_us"] / results["load_pam_exec"]["median_us"]
        row = ["dlopen+dlclose <= 2x pam_exec.so, %s" % label]
        if with_before:
            b = results["load_pam_lockbox_before"]["median_us"]
            row.append("%s (%.1fx)" % (us(b), b / results["load_pam_exec"]["median_us"]))
        return row + ["%s vs %s: %.2fx" % (us(results["load_pam_lockbox"]["median_us"]),
                                           us(results["load_pam_exec"]["median_us"]), ratio),
                      verdict(ratio <= 2.0)]

    def added_row(label, name, limit):
        row = ["added median <= %s, %s" % (label, name)]
        if with_before:
            row.append(us(cold["before" + name[7:]]["median_us"] - floor))
        added = cold[name]["median_us"] - floor
        return row + [us(added), verdict(added <= limit)]

    def speed_row(name):
        row = [">= 10x faster than pam_exec + script, %s" % name]
        if with_before:
            row.append("%.2fx" % (cold["pam_exec"]["median_us"] /
                                  cold["before" + name[7:]]["median_us"]))
        speedup = cold["pam_exec"]["median_us"] / cold[name]["median_us"]
        return row + ["%.1fx" % speedup, verdict(speedup >= 10)]

    rows = [load_row("new process holding libpam + libc", load["host"])]
    if "sshd" in load:
        rows.append(load_row("new process holding sshd's libraries", load["sshd"]))
    rows.append(load_row("loop in one process", load["loop"]))
    rows += [added_row("300 us", "lockbox_tmpfs", 300),
             added_row("300 us + one fdatasync (%s)" % us(sync), "lockbox", 300 + sync),
             speed_row("lockbox"), speed_row("lockbox_tmpfs")]
    headers = ["target", "before (same run)", "after", "met?"] if with_before else \
        ["target", "this run", "met?"]
    notes = ["All from this run. Added medians are over pam_permit's (the floor), module "
             "loaded per login; the fdatasync is the one measured in the same rounds. "
             "lockbox = store on disk, lockbox_tmpfs = store on tmpfs."]
    if with_before:
        notes.append("before: the previous lockboxd + module in the same rounds (for the "
                     "lockbox rows its before and before_tmpfs stacks).")
    report.table("Step 9 targets", "each row's own", headers, rows, notes)
