"""Growth benchmark: check and list latency with 1k, 100k and 1M stored requests.

The database is created by lockboxd itself (its schema and migrations), then filled directly with
python's sqlite3 while the daemon is stopped: historic requests (decided or lapsed) in both
tenants, each with two audit records (created, decided) in the database's audit table and in the
audit file, hash-chained like the daemon's own, so the daemon starts on a consistent store.
A "hot" user gets 0.1% of all rows on one host (and the first 25), so per-user history grows
with the store too.

One daemon per size runs at once and every probe's calls are interleaved over them (lbx_load
compare): the machine's noise hits every size alike. Each probe returns the same number of rows
at every size (lists use limit=20), so the ratio is the store's growth alone.
"""

import hashlib
import os
import random
import sqlite3
import time

from bench_util import driver, parse_results, us

TENANTS = ("contoso", "fabrikam")
STATES = [3] * 14 + [2] * 3 + [3] * 2 + [4]   # expired after approval, denied, lapsed, revoked
EVENTS = {2: "request.denied", 3: "access.expired", 4: "access.revoked"}
SHOW_ID = hashlib.md5(b"request 500").hexdigest()  # row 500 exists at every size
COLUMNS = ("id, state, tenant, host, user, requested_by, requested_by_uid, reason, service, "
           "rhost, decided_by, comment, created_at, decided_at, expires_at, approved_boot_ms, "
           "granted_ms, approved_boot_id")


def rfc3339(ms, with_ms=True):
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return base + (".%03dZ" % (ms % 1000) if with_ms else "Z")


class Chain:
    """Builds audit lines the way lib/audit_chain.c does (json-c plain output)."""

    def __init__(self, seq, head_hash, out):
        self.seq, self.hash, self.out = seq, head_hash, out
        self.rows = []

    def add(self, when_ms, event, rid, tenant, host, user, actor, reason, expires_ms):
        self.seq += 1
        expires = '"%s"' % rfc3339(expires_ms, False) if expires_ms else "null"
        line = ('{"seq":%d,"time":"%s","event":"%s","request_id":"%s","tenant":"%s","host":"%s",'
                '"user":"%s","actor":"%s","reason":"%s","comment":null,"expires_at":%s,'
                '"prev_hash":"%s"}' % (self.seq, rfc3339(when_ms), event, rid, tenant, host, user,
                                       actor, reason, expires, self.hash))
        self.hash = hashlib.sha256(line.encode()).hexdigest()
        self.out.write(line + "\n")
        self.rows.append((self.seq, line, self.hash))


def historic_row(i, hot_user, now_ms, chain):
    rng = random.Random(i)
    hot = i % 1000 == 0 or i < 25
    user = hot_user if hot else "u%05d" % rng.randrange(2000)
    host = "hothost" if hot else "h%04d" % rng.randrange(500)
    tenant = TENANTS[0] if hot or rng.random() < 0.7 else TENANTS[1]
    state = STATES[i % len(STATES)]
    rid = hashlib.md5(b"request %d" % i).hexdigest()
    created = now_ms - 86_400_000 - (2_000_000 - i) * 30_000
    decided = created + 300_000
    expires = created + 12 * 3_600_000
    reason = "INC-%06d maintenance" % i
    chain.add(created, "request.created", rid, tenant, host, user, "root", reason, expires)
    chain.add(decided, EVENTS[state], rid, tenant, host, user, "admin%d" % (i % 5), reason,
              expires if state != 2 else 0)
    return (rid, state, tenant, host, user, "root", 0, reason, "sshd", "203.0.113.%d" % (i % 250),
            "admin%d" % (i % 5), "", created, decided, expires if state != 2 else 0, 0,
            0 if state == 2 else 12 * 3_600_000, "populated")


def populate(db_path, audit_path, first, last, hot_user):
    """Appends requests first..last-1 (and their audit records) to a stopped daemon's store."""
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=OFF")
    head = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    now_ms = int(time.time() * 1000)
    with open(audit_path, "a") as out:
        chain = Chain(head[0] if head else 0, head[1] if head else "0" * 64, out)
        batch = 20_000
        for start in range(first, last, batch):
            rows = [historic_row(i, hot_user, now_ms, chain)
                    for i in range(start, min(last, start + batch))]
            con.execute("BEGIN")
            con.executemany("INSERT INTO requests (%s) VALUES (%s)" % (COLUMNS, ",".join("?" * 18)),
                            rows)
            con.executemany("INSERT INTO audit (seq, line, hash) VALUES (?,?,?)", chain.rows)
            con.execute("COMMIT")
            chain.rows = []
    con.close()


PROBES = [  # key, label, method, path, body (%s: the hot user), calls are per size
    ("show", "show one request", "GET", "/v1/requests/%s" % SHOW_ID, None),
    ("check_none", "check, nothing approved", "POST", "/v1/access/check",
     '{"user":"%s","host":"hothost"}'),
    ("check_allowed", "check, approved (writes login.allowed)", "POST", "/v1/access/check",
     '{"user":"%s"}'),
    ("list_pending", "list pending", "GET", "/v1/requests?limit=20", None),
    ("list_all", "list all states", "GET", "/v1/requests?state=all&limit=20", None),
    ("list_tenant", "list a tenant's denied", "GET",
     "/v1/requests?tenant=fabrikam&state=denied&limit=20", None),
    ("list_user_all", "list a user's, all states", "GET",
     "/v1/requests?state=all&user=%s&limit=20", None),
    ("list_user_pending", "list a user's pending", "GET", "/v1/requests?user=u00042&limit=20", None),
]


def measure(daemons, hot_user, reads, writes):
    results = {}
    for key, _, method, path, body in PROBES:
        count = writes if key == "check_allowed" else reads
        path = path.replace("%s", hot_user)
        body = body % hot_user if body else "-"
        out = driver("lbx_load", "compare", key, str(count), method, path, body,
                     *[d.socket for d in daemons])
        results[key] = parse_results(out)
    return results


def prepare(lt, size, hot_user):
    """A stopped-then-filled daemon holding `size` requests, started, with a current approval."""
    d = lt.Daemon(tenants={"contoso": ["lbxbadm"], "fabrikam": ["lbxbadm"]})
    d.start()
    d.stop()
    t0 = time.monotonic()
    populate(d.db_path, d.audit_path, 0, size, hot_user)
    fill_s = time.monotonic() - t0
    t0 = time.monotonic()
    d.start(timeout=120)
    start_s = time.monotonic() - t0
    rid = d.file_request(hot_user, reason="growth")["id"]
    status, obj = d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user="lbxbadm")
    if status != 200:
        raise RuntimeError("approve failed: %s %s" % (status, obj))
    return d, fill_s, start_s


def run(report, lt, sizes, hot_user, reads=400, writes=150):
    daemons, timings = [], []
    try:
        for size in sizes:
            d, fill_s, start_s = prepare(lt, size, hot_user)
            daemons.append(d)
            timings.append((fill_s, start_s))
        results = measure(daemons, hot_user, reads, writes)
        disk = []
        for d in daemons:
            d.stop()
            wal = d.db_path + "-wal"
            disk.append((os.path.getsize(d.db_path) +
                         (os.path.getsize(wal) if os.path.exists(wal) else 0),
                         os.path.getsize(d.audit_path)))
        report_growth(report, sizes, results, disk, timings)
    finally:
        for d in daemons:
            d.close()


def label(n):
    return "%dM" % (n // 1_000_000) if n >= 1_000_000 else "%dk" % (n // 1000) if n >= 1000 else str(n)


def report_growth(report, sizes, results, disk, timings):
    headers = ["operation"] + ["median @ %s" % label(s) for s in sizes]
    headers.append("%s / %s" % (label(sizes[-1]), label(sizes[0])))
    rows = []
    for key, name, *_ in PROBES:
        medians = [r["median_us"] for r in results[key]]
        rows.append([name] + [us(m) for m in medians] + ["%.2fx" % (medians[-1] / medians[0])])
    notes = ["One daemon per size, calls interleaved across them; lists return 20 rows (0 for "
             "the pending ones) at every size."]
    for size, (db, audit), (fill_s, start_s) in zip(sizes, disk, timings):
        notes.append("%s stored: database %.0f bytes/request, audit file %.0f bytes/request "
                     "(2 records each); filled in %.0f s; lockboxd answered %.2f s after start."
                     % (label(size), db / size, audit / size, fill_s, start_s))
    report.growth(rows, headers, notes)
