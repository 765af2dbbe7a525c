"""A private PostgreSQL 15 cluster for Lockbox's tests (stdlib only; Debian's postgresql-15).

What it gives a test:
  Cluster(port=5432, settings=None)   a cluster in a fresh temporary directory, not started
    .start() .stop(mode="fast") .kill9() .close()   (.start() runs initdb the first time)
    .dir (also its Unix socket directory) .port .pid .log()
    .dsn(user=OWNER, dbname=DATABASE) -> a libpq connection string to this cluster
    .query(sql, user=SUPERUSER, dbname=DATABASE) -> psql's unaligned output, or PsqlError
    .add_standby(port=None) -> a started streaming standby of this cluster (pg_basebackup)
    .promote() .wait_replayed(primary) .is_ready()
  create_lockbox_database(cluster)  the database and roles below (Cluster.start does it once)
  multi_host_dsn(*clusters, ...)    host=dirA,dirB port=pA,pB ... target_session_attrs=read-write
  psql(dsn, sql) -> CompletedProcess   psql -X -At -v ON_ERROR_STOP=1, for expected failures
  psql_argv(dsn, sql)                  the same command line, for a psql run in the background

The server runs as the `postgres` OS user and listens only on a Unix socket in its own
directory (listen_addresses = ''), with fsync and synchronous_commit on as in production.
Local connections are trusted: the directory is 0700 and owned by postgres, so only root (the
tests, lockboxd) can reach the socket. Each Cluster stops its server by PID; an atexit hook
stops and removes any a failed test left behind.
"""

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from lockbox_testlib import WaitTimeout, wait_until  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
OS_USER = "postgres"
SUPERUSER = "postgres"           # initdb names the bootstrap superuser after the OS user
DATABASE = "lockbox"
OWNER = "lockboxd"               # lockboxd's role: creates and migrates its schema
READER = "lockbox_reader"        # reads everything, writes nothing (audits, bad-input tests)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

# What every cluster runs with; the standby inherits it through pg_basebackup.
BASE_SETTINGS = {
    "fsync": "on",                # an acknowledged decision is on disk (Step 13)
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_level": "replica",       # for the streaming standby
    "max_wal_senders": "4",
    "hot_standby": "on",
    "logging_collector": "off",   # the log goes to the stderr file the fixture opened
}

# How a stop mode is asked for, as pg_ctl does it: a signal to the postmaster's PID.
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

_live = set()


class PsqlError(AssertionError):
    """psql failed where the test expected it to succeed."""


def _clean_env():
    """The environment for psql and the server: PG* variables (PGHOST, PGSERVICE, ...) of
    whoever runs the tests must not redirect a connection to another server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def conninfo_value(value):
    """A libpq connection-string value: quoted when it holds a space, quote or backslash."""
    value = str(value)
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def make_dsn(**params):
    return " ".join("%s=%s" % (k, conninfo_value(v)) for k, v in params.items())


def psql_argv(dsn, sql):
    """psql with no psqlrc, unaligned tuples-only output, stopping at the first error (for a
    test that runs it in the background)."""
    return [os.path.join(PG_BIN, "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
            "-d", dsn, "-c", sql]


def psql(dsn, sql, timeout=30):
    return subprocess.run(psql_argv(dsn, sql), capture_output=True, text=True, timeout=timeout,
                          env=_clean_env())


def query(dsn, sql, timeout=30):
    """psql's output for `sql` (stripped), or PsqlError with its stderr."""
    done = psql(dsn, sql, timeout)
    if done.returncode != 0:
        raise PsqlError("psql %r: %s (exit %d)" % (sql, done.stderr.strip(), done.returncode))
    return done.stdout.strip()


def multi_host_dsn(*clusters, user=OWNER, dbname=DATABASE, target_session_attrs="read-write",
                   **extra):
    """One connection string naming every cluster, tried in order: libpq keeps the first
    whose session matches target_session_attrs (read-write: the primary)."""
    return make_dsn(host=",".join(c.dir for c in clusters),
                    port=",".join(str(c.port) for c in clusters),
                    dbname=dbname, user=user, target_session_attrs=target_session_attrs,
                    **extra)


def _run_as_postgres(argv, cwd, timeout=120):
    """A PostgreSQL tool as the postgres user: initdb refuses root, and what pg_basebackup
    writes must belong to the server."""
    done = subprocess.run(argv, user=OS_USER, group=_postgres_gid(), extra_groups=[], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=_clean_env())
    if done.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (os.path.basename(argv[0]),
                                                        done.returncode, done.stderr.strip()))
    return done


def _postgres_gid():
    return pwd.getpwnam(OS_USER).pw_gid


def create_lockbox_database(cluster):
    """The database, lockboxd's role (may create its schema's tables in public) and a reader
    (may read every table, create none). PUBLIC loses CONNECT, so a role must be granted it."""
    superuser = cluster.dsn(user=SUPERUSER, dbname="postgres")
    query(superuser, "CREATE ROLE %s LOGIN; CREATE ROLE %s LOGIN;" % (OWNER, READER))
    query(superuser, "CREATE DATABASE %s" % DATABASE)
    query(superuser, ";".join([
        "REVOKE ALL ON DATABASE %s FROM PUBLIC" % DATABASE,
        "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %s TO %s" % (DATABASE, OWNER),
        "GRANT CONNECT ON DATABASE %s TO %s" % (DATABASE, READER),
        "GRANT pg_read_all_data TO %s" % READER]))
    # PostgreSQL 15 no longer lets every role create in schema public: lockboxd needs it.
    query(cluster.dsn(user=SUPERUSER), "GRANT USAGE, CREATE ON SCHEMA public TO %s" % OWNER)


class Cluster:
    """One PostgreSQL server in its own temporary directory: data/, its socket, server.log."""

    def __init__(self, port=5432, settings=None, _standby_of=None):
        if not os.path.exists(os.path.join(PG_BIN, "postgres")):
            raise RuntimeError("PostgreSQL 15 is not installed (%s): run packaging/install-deps.sh"
                               % PG_BIN)
        self.dir = tempfile.mkdtemp(prefix="lbpg-")
        os.chown(self.dir, pwd.getpwnam(OS_USER).pw_uid, _postgres_gid())
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = port
        self.settings = dict(BASE_SETTINGS, **(settings or {}))
        self.proc = None
        self._log = None
        self._standby_of = _standby_of
        _live.add(self)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def dsn(self, user=OWNER, dbname=DATABASE):
        return make_dsn(host=self.dir, port=self.port, dbname=dbname, user=user)

    def query(self, sql, user=SUPERUSER, dbname=DATABASE):
        return query(self.dsn(user=user, dbname=dbname), sql)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    # --- life cycle ---
    def start(self, timeout=START_TIMEOUT):
        """Starts the server (initdb and the lockbox database first, on a new cluster) and
        returns once it accepts connections."""
        created = not os.path.exists(self.data)
        if created:
            self._initdb()
        self._launch(timeout)
        if created and self._standby_of is None:
            create_lockbox_database(self)
        return self

    def _initdb(self):
        # --no-sync: a throwaway cluster's first files need no fsync (it saves ~2 s); the
        # running server syncs everything it commits (fsync = on).
        _run_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust",
                          "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync",
                          "--no-instructions"], cwd=self.dir)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# Lockbox test cluster (tests/integration/pg_cluster.py)\n")
            f.writelines("%s = '%s'\n" % kv for kv in self.settings.items())

    def _launch(self, timeout):
        """The postmaster itself is our child (setpriv execs it; no pg_ctl in between), so
        its PID is known and its children are the server's other processes. If the test dies
        without cleaning up (a ctest timeout's SIGKILL), the parent-death signal SIGQUIT makes
        the server shut down at once instead of running on. What names this node (its socket
        and port) is on the command line, so a standby copied from it differs only there."""
        argv = ["setpriv", "--reuid=" + OS_USER, "--regid=%d" % _postgres_gid(),
                "--clear-groups", "--pdeathsig=QUIT", "--",
                os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                "-c", "listen_addresses=", "-c", "unix_socket_directories=%s" % self.dir]
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log, env=_clean_env(),
                                     start_new_session=True)
        wait_until(self._accepts, timeout, lambda: "PostgreSQL on %s:%s (log: %s)" % (
            self.dir, self.port, self.log()[-2000:]), step=0.02)

    def _accepts(self):
        if self.proc.poll() is not None:
            raise RuntimeError("postgres exited with %s: %s" % (self.proc.returncode,
                                                               self.log()[-4000:]))
        return self.is_ready()

    def is_ready(self):
        """pg_isready: whether the server accepts connections now (a standby does too)."""
        argv = [os.path.join(PG_BIN, "pg_isready"), "-q", "-h", self.dir, "-p", str(self.port),
                "-U", SUPERUSER, "-d", "postgres", "-t", "2"]
        return subprocess.run(argv, env=_clean_env(), timeout=10).returncode == 0

    def stop(self, mode="fast", timeout=STOP_TIMEOUT):
        """Stops the server as `pg_ctl stop -m MODE` does (a signal to the postmaster's PID:
        fast rolls back open transactions and disconnects; the postmaster exits after its
        children), then kills every process of it if it has not exited within `timeout` s.
        Returns the postmaster's exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, STOP_SIGNALS[mode])
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return self.kill9()
        return self._reaped([])

    def kill9(self):
        """Every process of the server SIGKILLed, as a crashed machine would leave it (but
        with the page cache kept): the next start() runs crash recovery. PostgreSQL puts each
        child in a session of its own, so they are found as the postmaster's children; it is
        stopped first so that it starts no new one meanwhile."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:  # gone already: its PID may be another's by now
            return self._reaped([])
        postmaster = self.proc.pid
        _signal_quietly(postmaster, signal.SIGSTOP)
        children = _children_of(postmaster)
        for pid in [postmaster] + children:
            _signal_quietly(pid, signal.SIGKILL)
        self.proc.wait()
        return self._reaped(children)

    def _reaped(self, children):
        """After the postmaster: waits until none of `children` lives on (a backend still
        attached to the old shared memory would make the next start refuse)."""
        code = self.proc.returncode
        self.proc = None
        self._log.close()
        wait_until(lambda: not _still_running(children), STOP_TIMEOUT,
                   "PostgreSQL's processes %s to end" % children, step=0.02)
        return code

    def close(self):
        """Stops the server and removes its directory."""
        try:
            self.stop()
        finally:
            _live.discard(self)
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- replication ---
    def add_standby(self, port=None, timeout=START_TIMEOUT):
        """A streaming standby of this (running) cluster in a directory of its own, started,
        returned once the primary sees it streaming."""
        standby = Cluster(port=port or self.port + 1, settings=self.settings, _standby_of=self)
        try:
            # -R writes standby.signal and primary_conninfo (this cluster's socket and port);
            # -X stream copies the WAL written meanwhile; -c fast checkpoints at once.
            _run_as_postgres([os.path.join(PG_BIN, "pg_basebackup"), "-h", self.dir, "-p",
                              str(self.port), "-U", SUPERUSER, "-D", standby.data, "-R",
                              "-X", "stream", "-c", "fast", "--no-sync"], cwd=standby.dir)
            standby.start(timeout)
            wait_until(lambda: self._streams_to(standby), timeout,
                       lambda: "the standby on port %s streaming (log: %s)" % (
                           standby.port, standby.log()[-2000:]), step=0.02)
        except BaseException:
            standby.close()
            raise
        return standby

    def _streams_to(self, standby):
        rows = self.query("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                          dbname="postgres")
        return int(rows) > 0 and standby.query("SELECT pg_is_in_recovery()",
                                               dbname="postgres") == "t"

    def wait_replayed(self, primary, timeout=10.0):
        """Until this standby has replayed everything the primary has written so far."""
        lsn = primary.query("SELECT pg_current_wal_lsn()", dbname="postgres")
        sql = "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn
        return wait_until(lambda: self.query(sql, dbname="postgres") == "t", timeout,
                          "the standby on port %s to replay up to %s" % (self.port, lsn))

    def promote(self, timeout=START_TIMEOUT):
        """Makes this standby a primary (pg_promote waits for it) and checks that it is."""
        seconds = max(int(timeout), 1)
        done = self.query("SELECT pg_promote(true, %d)" % seconds, dbname="postgres")
        if done != "t":
            raise WaitTimeout("pg_promote did not finish in %ss: %s" % (seconds, self.log()))
        wait_until(lambda: self.query("SELECT NOT pg_is_in_recovery()", dbname="postgres")
                   == "t", timeout, "port %s out of recovery" % self.port)
        self._standby_of = None
        return self


def _signal_quietly(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _process_states():
    """{pid: (state, parent pid)} of every process now."""
    states = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        states[int(entry)] = (fields[0], int(fields[1]))
    return states


def _children_of(parent):
    return [pid for pid, (state, ppid) in _process_states().items()
            if ppid == parent and state != "Z"]


def _still_running(pids):
    """Those of `pids` that are neither gone nor zombies (which init reaps, whenever)."""
    states = _process_states()
    return [pid for pid in pids if pid in states and states[pid][0] != "Z"]


@atexit.register
def _close_leftovers():
    for cluster in list(_live):
        cluster.close()
