"""The PostgreSQL store beside SQLite (Step 13): durable decisions, access checks and growth.

Every PostgreSQL figure has its SQLite twin measured in the same run: one lockboxd on each
store, calls alternated between them, so the machine's noise hits both alike. The cluster is
tests/integration/pg_cluster.py's (fsync and synchronous_commit on, Unix socket only); its data
directory and the SQLite daemon's file are both under the same temporary directory, on the same
file system. pgbench then measures PostgreSQL's own commit rate on that cluster at 1 and 16
clients: what one connection (lockboxd's) can reach at best.

Growth fills each size's database with one INSERT ... SELECT generate_series (requests in
bench_growth's shape, two audit rows each) while its lockboxd is stopped, then VACUUM ANALYZE
as autovacuum would, so no vacuum runs during the calls. The audit rows are not hash-chained
(SQL cannot chain 2M hashes cheaply) and the audit file is marked as rotated after them, as a
long-running host's would be: lockboxd checks neither at start.
"""

import os
import re
import statistics
import subprocess
import time

import bench_growth
from bench_util import TARGETS, disk_probe, driver, parse_results, us

# tests/integration/pg_cluster.py, imported by load_fixture(): it imports lockbox_testlib,
# which reads LOCKBOX_BUILD once, and lockbox_bench.py sets that only after parsing its
# arguments.
pg_cluster = None
PG_BIN = "/usr/lib/postgresql/15/bin"  # pg_cluster.PG_BIN, before the import

STORES = ("SQLite", "PostgreSQL")
ROTATED_AT = "audit_file_starts_after_seq"  # lockboxd/journal.c META_ROTATED_AT
FILL_TIMEOUT_S = 900


def available():
    return os.path.exists(os.path.join(PG_BIN, "postgres"))


def load_fixture():
    global pg_cluster
    import pg_cluster as fixture
    pg_cluster = fixture
    return fixture


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def use_postgresql(daemon, dsn):
    """Points a not yet started lockbox_testlib.Daemon at a PostgreSQL database."""
    daemon.write_config("\n[store]\nbackend = postgresql\ndsn = %s\n" % dsn)
    return daemon


def create_database(cluster, name):
    """Another database like the fixture's, owned by lockboxd's role (so it may create its
    schema in public): one per growth size, each with its own lockboxd."""
    cluster.query("CREATE DATABASE %s OWNER %s" % (name, pg_cluster.OWNER), dbname="postgres")
    return cluster.dsn(dbname=name)


def daemon_pair(lt, cluster, admin, **kw):
    daemons = {"SQLite": lt.Daemon(tenants={"contoso": [admin]}, **kw),
               "PostgreSQL": use_postgresql(lt.Daemon(tenants={"contoso": [admin]}, **kw),
                                            cluster.dsn())}
    for d in daemons.values():
        d.start()
    return daemons


def approve(d, user, admin):
    rid = d.file_request(user, reason="pg bench")["id"]
    status, obj = d.call("POST", "/v1/requests/%s/approve" % rid, {}, as_user=admin)
    if status != 200:
        raise RuntimeError("approve failed: %s %s" % (status, obj))


# --- durable decisions and checks, side by side ---

def file_all(daemons, engineers, per_user):
    """Files per_user requests for each engineer in each daemon (8 clients); returns the ids
    and the filing figures (the first engineer's run) per store."""
    ids, filed = {}, {}
    for name, d in daemons.items():
        path = os.path.join(d.dir, "ids")
        runs = [parse_results(driver("lbx_load", "file", d.socket, u, "pgb-", "0", str(per_user),
                                     "8", path))[0] for u in engineers]
        filed[name] = runs[0]
        with open(path) as f:
            ids[name] = [line.strip() for line in f if line.strip()]
    return ids, filed


def decide_rounds(daemons, ids, admin_uid, plan, rounds):
    """Approvals in rounds: each round runs every (clients, count) of plan on each store, the
    stores' order alternating, each on its own fresh ids. {(store, clients): [result...]}."""
    results, offset = {}, 0
    for r in range(rounds):
        order = STORES if r % 2 == 0 else tuple(reversed(STORES))
        for clients, count in plan:
            for name in order:
                d = daemons[name]
                part = os.path.join(d.dir, "decide-%d-%d" % (r, clients))
                with open(part, "w") as f:
                    f.write("\n".join(ids[name][offset:offset + count]) + "\n")
                res = parse_results(driver("lbx_load", "decide", d.socket, part, str(admin_uid),
                                           str(clients)))[0]
                results.setdefault((name, clients), []).append(res)
            offset += count
    return results


def check_latency(daemons, engineer, count):
    """Access checks interleaved over both daemons (lbx_load compare): approved (writes a
    login.allowed record, a durable write) and nothing approved (reads only)."""
    sockets = [daemons[name].socket for name in STORES]
    out = {}
    for key, body in (("allowed", '{"user":"%s"}' % engineer),
                      ("none", '{"user":"%s","host":"otherhost"}' % engineer)):
        res = parse_results(driver("lbx_load", "compare", "check_" + key, str(count), "POST",
                                   "/v1/access/check", body, *sockets))
        out[key] = dict(zip(STORES, res))
    return out


# What lockboxd sends for one approval (seen with log_statement = all): the request read, the
# pending-duplicate check, BEGIN, the request row, the audit row, COMMIT, the request read
# again; each a round trip of its own (PQexecParams, unnamed, one after another).
READS = ("SELECT id, state, line FROM probe_requests WHERE id = :id{n};\n"
         "SELECT 1 FROM probe_requests WHERE id = :id{n} AND state = -1 LIMIT 1;\n")
WRITES = ("UPDATE probe_requests SET state = state + 1 WHERE id = :id{n};\n"
          "INSERT INTO commit_probe (line) VALUES (repeat('x', 340));\n")
REREAD = "SELECT id, state, line FROM probe_requests WHERE id = :id{n};\n"


def decisions_script(n, pipelined):
    """n approvals in lockboxd's statements, in one transaction; with pipelined, the writes
    (and the reads after them) go in one libpq pipeline, as one round trip."""
    ids = "".join("\\set id%d random(1, 10000)\n" % i for i in range(n))
    reads = "".join(READS.format(n=i) for i in range(n))
    writes = "".join(WRITES.format(n=i) for i in range(n))
    rereads = "".join(REREAD.format(n=i) for i in range(n))
    body = "BEGIN;\n" + writes + "COMMIT;\n" + rereads
    if pipelined:
        body = "\\startpipeline\n" + body + "\\endpipeline\n"
    return ids + reads + body


# (label, script, pgbench -M, clients, approvals per transaction)
PGBENCH_RUNS = [
    ("one bare INSERT, autocommit", "INSERT INTO commit_probe (line) VALUES (repeat('x', 340));\n",
     "extended", 1, 1),
    ("one bare INSERT, autocommit", "INSERT INTO commit_probe (line) VALUES (repeat('x', 340));\n",
     "extended", 16, 1),
    ("lockboxd's 7 statements", decisions_script(1, False), "extended", 1, 1),
    ("lockboxd's 7 statements", decisions_script(1, False), "extended", 16, 1),
    ("the same, prepared", decisions_script(1, False), "prepared", 1, 1),
    ("the same, writes pipelined (3 round trips)", decisions_script(1, True), "prepared", 1, 1),
    ("16 approvals per transaction, writes pipelined", decisions_script(16, True), "prepared",
     1, 16),
]


def pgbench(cluster, workdir, seconds, rounds):
    """PostgreSQL's own rate for lockboxd's statements on this cluster, one connection unless
    said, the variants alternating in `rounds` rounds of `seconds` each:
    [(label, mode, clients, median approvals/s, median ms per transaction)]."""
    cluster.query("CREATE TABLE commit_probe (seq bigserial PRIMARY KEY, line text NOT NULL);"
                  "CREATE TABLE probe_requests (id int PRIMARY KEY, state int, line text);"
                  "INSERT INTO probe_requests SELECT i, 0, repeat('r', 200) "
                  "FROM generate_series(1, 10000) AS i")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    runs = {}
    try:
        for n, (_, script, _, _, _) in enumerate(PGBENCH_RUNS):
            with open(os.path.join(workdir, "pgbench-%d.sql" % n), "w") as f:
                f.write(script)
        for _ in range(rounds):
            for n, (label, _, mode, clients, per_txn) in enumerate(PGBENCH_RUNS):
                argv = [os.path.join(pg_cluster.PG_BIN, "pgbench"), "-n", "-M", mode,
                        "-h", cluster.dir, "-p", str(cluster.port), "-U", pg_cluster.SUPERUSER,
                        "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
                        "-f", os.path.join(workdir, "pgbench-%d.sql" % n), pg_cluster.DATABASE]
                text = subprocess.run(argv, capture_output=True, text=True, check=True, env=env,
                                      timeout=seconds + 60).stdout
                tps = float(re.search(r"tps = ([0-9.]+)", text).group(1))
                latency = float(re.search(r"latency average = ([0-9.]+) ms", text).group(1))
                runs.setdefault(n, []).append((tps * per_txn, latency))
    finally:
        cluster.query("DROP TABLE commit_probe, probe_requests")
    return [(label, mode, clients, statistics.median(r for r, _ in runs[n]),
             statistics.median(t for _, t in runs[n]))
            for n, (label, _, mode, clients, _) in enumerate(PGBENCH_RUNS)]


def run_decisions(report, lt, cluster, engineers, engineer, admin, admin_uid, quick):
    load = load_average()
    extra = {"max_calls_per_user": "40000"}
    daemons = daemon_pair(lt, cluster, admin, max_pending=1000, daemon_extra=extra)
    try:
        for d in daemons.values():
            approve(d, engineer, admin)
        ids, filed = file_all(daemons, engineers, 1000)
        rounds = 2 if quick else 3
        plan = [(1, 200), (16, 600)] if quick else [(1, 300), (16, 1000)]
        fsync_us = disk_probe(daemons["SQLite"].dir)
        decided = decide_rounds(daemons, ids, admin_uid, plan, rounds)
        checks = check_latency(daemons, engineer, 500 if quick else 2000)
    finally:
        for d in daemons.values():
            d.close()
    commits = pgbench(cluster, cluster.dir, 2, 1 if quick else 3)
    report_decisions(report, filed, decided, plan, rounds, checks, commits, fsync_us, load,
                     load_average())


def report_decisions(report, filed, decided, plan, rounds, checks, commits, fsync_us, load_start,
                     load_end):
    rows = [["file (request.created)", "8"] + ["%.0f/s" % filed[s]["per_s"] for s in STORES] +
            ["%.2f" % (filed["PostgreSQL"]["per_s"] / filed["SQLite"]["per_s"])]]
    for clients, _ in plan:
        rates = {s: statistics.median(r["per_s"] for r in decided[(s, clients)]) for s in STORES}
        rows.append(["approve (request.approved)", str(clients)] +
                     ["%.0f/s" % rates[s] for s in STORES] +
                     ["%.2f" % (rates["PostgreSQL"] / rates["SQLite"])])
    for clients, _ in plan:
        lat = {s: statistics.median(r["median_us"] for r in decided[(s, clients)]) for s in STORES}
        p99 = {s: statistics.median(r["p99_us"] for r in decided[(s, clients)]) for s in STORES}
        rows.append(["approve latency, median (p99)", str(clients)] +
                     ["%s (%s)" % (us(lat[s]), us(p99[s])) for s in STORES] +
                     ["%.2f" % (lat["PostgreSQL"] / lat["SQLite"])])
    for key, label in (("allowed", "check, approved (writes login.allowed)"),
                       ("none", "check, nothing approved")):
        c = checks[key]
        rows.append([label + ": p50 (p99)", "1"] +
                     ["%s (%s)" % (us(c[s]["median_us"]), us(c[s]["p99_us"])) for s in STORES] +
                     ["%.2f" % (c["PostgreSQL"]["median_us"] / c["SQLite"]["median_us"])])
    per_round = ", ".join("%d clients: %s" % (clients, " / ".join(
        "%s %s" % (s, " ".join("%.0f" % r["per_s"] for r in decided[(s, clients)]))
        for s in STORES)) for clients, _ in plan)
    notes = ["Both stores in one run; approvals in %d rounds, stores alternating, median of the "
             "rounds (per round: %s)." % (rounds, per_round),
             "Load average (1 min) %s at the start, %s at the end, on 2 cores." % (
                 load_start, load_end),
             "Disk right before the approvals: one append + fdatasync took %s (median)." %
             us(fsync_us)]
    for label, mode, clients, rate, latency in commits:
        notes.append("pgbench on the same cluster (-M %s, median of rounds), %s, %d "
                     "connection%s: %.0f approvals/s, %.2f ms per transaction." % (
                         mode, label, clients, "s" if clients > 1 else "", rate, latency))
    report.table("PostgreSQL store beside SQLite: durable decisions and checks",
                 TARGETS["decide"] + " with 16 clients",
                 ["operation", "clients", "SQLite", "PostgreSQL", "PostgreSQL / SQLite"], rows,
                 notes)


# --- growth ---

FILL_REQUESTS = """
INSERT INTO requests (id, state, tenant, host, "user", requested_by, requested_by_uid, reason,
                      service, rhost, decided_by, comment, created_at, decided_at, expires_at,
                      approved_boot_ms, granted_ms, approved_boot_id)
SELECT md5('request ' || i), state,
       CASE WHEN hot OR (hashint4(i + 2)::bigint + 2147483648) %% 10 < 7
            THEN 'contoso' ELSE 'fabrikam' END,
       CASE WHEN hot THEN 'hothost'
            ELSE 'h' || lpad(((hashint4(i + 1)::bigint + 2147483648) %% 500)::text, 4, '0') END,
       CASE WHEN hot THEN %(hot)s
            ELSE 'u' || lpad(((hashint4(i)::bigint + 2147483648) %% 2000)::text, 5, '0') END,
       'root', 0, 'INC-' || lpad(i::text, 6, '0') || ' maintenance', 'sshd',
       '203.0.113.' || (i %% 250), 'admin' || (i %% 5), '', created, created + 300000,
       CASE WHEN state = 2 THEN 0 ELSE created + 43200000 END, 0,
       CASE WHEN state = 2 THEN 0 ELSE 43200000 END, 'populated'
FROM (SELECT i, i %% 1000 = 0 OR i < 25 AS hot,
             CASE WHEN i %% 20 BETWEEN 14 AND 16 THEN 2 WHEN i %% 20 = 19 THEN 4 ELSE 3 END
                 AS state,
             %(now_ms)d - 86400000 - (2000000 - i) * 30000::bigint AS created
      FROM generate_series(0, %(last)d) AS i) AS g
ORDER BY i;
"""

# Two audit rows per request (created, decided) in bench_growth.Chain's line format.
FILL_AUDIT = """
INSERT INTO audit (seq, line, hash)
SELECT seq, line, encode(sha256(convert_to(line, 'UTF8')), 'hex')
FROM (SELECT head + (r.seq - first) * 2 + k + 1 AS seq,
             format('{"seq":%s,"time":"%s","event":"%s","request_id":"%s","tenant":"%s",'
                    '"host":"%s","user":"%s","actor":"%s","reason":"%s","comment":null,'
                    '"expires_at":%s,"prev_hash":"%s"}',
                    head + (r.seq - first) * 2 + k + 1,
                    to_char(to_timestamp((CASE k WHEN 0 THEN created_at ELSE decided_at END)
                                         / 1000.0) AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    CASE WHEN k = 0 THEN 'request.created' WHEN state = 2 THEN 'request.denied'
                         WHEN state = 3 THEN 'access.expired' ELSE 'access.revoked' END,
                    id, tenant, host, "user", CASE k WHEN 0 THEN 'root' ELSE decided_by END,
                    reason,
                    CASE WHEN k = 1 AND state = 2 THEN 'null'  -- a denial grants nothing
                         ELSE '"' || to_char(to_timestamp((created_at + 43200000) / 1000)
                                             AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                              || '"' END,
                    repeat('0', 64)) AS line
      FROM requests AS r CROSS JOIN (VALUES (0), (1)) AS v(k)
           CROSS JOIN (SELECT coalesce(max(seq), 0) AS head FROM audit) AS h
           CROSS JOIN (SELECT min(seq) AS first FROM requests
                       WHERE approved_boot_id = 'populated') AS f
      WHERE r.approved_boot_id = 'populated') AS lines;
"""

# On a shared (PostgreSQL) chain each host keeps where its own file starts, under
# ROTATED_AT@HOST (journal.c rotated_key); the benchmark's lockboxd is lockbox_testlib's
# default host.
MARK_ROTATED = """
INSERT INTO meta (key, value) SELECT '%s@testhost', max(seq) FROM audit
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
""" % ROTATED_AT


def fill(cluster, dbname, size, hot_user):
    sql = ("BEGIN;" + FILL_REQUESTS % {"hot": "'%s'" % hot_user, "now_ms": int(time.time() * 1000),
                                       "last": size - 1} +
           FILL_AUDIT + MARK_ROTATED + "COMMIT;")
    dsn = cluster.dsn(dbname=dbname)
    pg_cluster.query(dsn, sql, timeout=FILL_TIMEOUT_S)
    pg_cluster.query(dsn, "VACUUM ANALYZE", timeout=FILL_TIMEOUT_S)


def prepare_growth(lt, cluster, size, hot_user, admin):
    dbname = "lbx_growth_%d" % size
    d = use_postgresql(lt.Daemon(tenants={"contoso": [admin], "fabrikam": [admin]}),
                       create_database(cluster, dbname))
    d.start()
    d.stop()
    t0 = time.monotonic()
    fill(cluster, dbname, size, hot_user)
    fill_s = time.monotonic() - t0
    open(d.audit_path, "w").close()  # the file as rotated after the loaded history
    t0 = time.monotonic()
    d.start(timeout=120)
    start_s = time.monotonic() - t0
    approve(d, hot_user, admin)
    return d, dbname, fill_s, start_s


def run_growth(report, lt, cluster, sizes, hot_user, admin, reads=400, writes=150):
    daemons, info = [], []
    load = load_average()
    try:
        for size in sizes:
            d, dbname, fill_s, start_s = prepare_growth(lt, cluster, size, hot_user, admin)
            daemons.append(d)
            info.append((dbname, fill_s, start_s))
        results = bench_growth.measure(daemons, hot_user, reads, writes)
        db_bytes = [int(cluster.query("SELECT pg_database_size('%s')" % name, dbname="postgres"))
                    for name, _, _ in info]
    finally:
        for d in daemons:
            d.close()
    label = bench_growth.label
    headers = ["operation"] + ["median @ %s" % label(s) for s in sizes]
    headers += ["p99 @ %s" % label(sizes[-1]), "%s / %s" % (label(sizes[-1]), label(sizes[0]))]
    rows = []
    for key, name, *_ in bench_growth.PROBES:
        medians = [r["median_us"] for r in results[key]]
        rows.append([name] + [us(m) for m in medians] + [us(results[key][-1]["p99_us"]),
                                                          "%.2fx" % (medians[-1] / medians[0])])
    notes = ["One lockboxd and database per size in one cluster, calls interleaved across them "
             "(bench_growth's probes); load average %s at the start, %s at the end." % (
                 load, load_average())]
    for size, (name, fill_s, start_s), size_bytes in zip(sizes, info, db_bytes):
        notes.append("%s stored: database %.0f bytes/request (pg_database_size, with the audit "
                     "rows); filled with INSERT ... SELECT generate_series + VACUUM ANALYZE in "
                     "%.0f s; lockboxd answered %.2f s after start." % (
                         label(size), size_bytes / size, fill_s, start_s))
    report.table("PostgreSQL store: growth of check and list latency", TARGETS["growth"],
                 headers, rows, notes)


def run(report, lt, engineers, engineer, admin, admin_uid, growth_sizes, quick):
    """Both PostgreSQL benchmarks on one private cluster in /tmp (as the SQLite daemons)."""
    with load_fixture().Cluster() as cluster:
        run_decisions(report, lt, cluster, engineers, engineer, admin, admin_uid, quick)
        if growth_sizes:
            run_growth(report, lt, cluster, growth_sizes, engineer, admin)
