"""The PostgreSQL side of lockbox_testlib's Daemon (Step 13), stdlib only.

What it gives the test library:
  shared_cluster()               this test process's private cluster (pg_cluster.Cluster),
                                 started on first use, stopped by pg_cluster's atexit hook
  Database()                     a fresh database owned by the lockboxd role, not yet created
    .create() .drop() .dsn(user=OWNER) .name
    .rows(sql, args=()) -> [tuple]   SQL with sqlite3-style `?` placeholders, as lockboxd's role
  Existing(dsn)                  a database made elsewhere (a test's own cluster, through a
                                 multi-host DSN): the same .dsn() .rows(); create/drop do nothing
  translate_placeholders(sql, args) -> (sql, {name: value})   the `?` -> :'pN' rewrite

Values reach the server as psql variables interpolated with :'name', which psql quotes as SQL
literals itself: no value is ever pasted into the statement text by this code.
"""

import json
import os
import random
import subprocess

import pg_cluster

_cluster = None


def shared_cluster():
    """One cluster per test process: a suite's many Daemons share it (a start costs ~1 s),
    each in a database of its own."""
    global _cluster
    if _cluster is None:
        _cluster = pg_cluster.Cluster()
        try:
            _cluster.start()
        except BaseException:
            _cluster.close()
            _cluster = None
            raise
    return _cluster


def random_database_name():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "lbx_" + "".join(random.SystemRandom().choice(alphabet) for _ in range(12))


class Database:
    """A database of the shared cluster for one Daemon. Its name is chosen at once (the
    config names it); the database itself exists only between create() and drop()."""

    def __init__(self):
        self.cluster = shared_cluster()
        self.name = random_database_name()
        self.created = False

    def dsn(self, user=pg_cluster.OWNER):
        return self.cluster.dsn(user=user, dbname=self.name)

    def create(self):
        if not self.created:
            # The database's owner owns its schema public (PostgreSQL 15: pg_database_owner),
            # so lockboxd may create its tables there and nobody else may.
            self.cluster.query("CREATE DATABASE %s OWNER %s" % (self.name, pg_cluster.OWNER),
                               dbname="postgres")
            self.created = True
        return self

    def drop(self):
        if self.created:
            # FORCE: a lockboxd killed by a test may leave a backend that has not noticed yet.
            self.cluster.query("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name,
                               dbname="postgres")
            self.created = False

    def rows(self, sql, args=(), user=pg_cluster.OWNER):
        return run_rows(self.dsn(user=user), sql, args)


class Existing:
    """A database that exists already and is not this code's to drop: the `lockbox` database
    of a test's own cluster (a primary and its standby behind one multi-host DSN)."""

    def __init__(self, dsn):
        self._dsn = dsn

    def dsn(self, user=pg_cluster.OWNER):
        if user != pg_cluster.OWNER:
            raise ValueError("an existing database is reached as its DSN's user only")
        return self._dsn

    def create(self):
        return self

    def drop(self):
        pass

    def rows(self, sql, args=(), user=pg_cluster.OWNER):
        return run_rows(self.dsn(user=user), sql, args)


def translate_placeholders(sql, args):
    """`sql` with its `?` placeholders (outside quoted literals and identifiers) replaced by
    psql's quoted-variable references :'p1', :'p2', ... (NULL for a None argument), and
    {name: argument} for the others; ValueError unless there is one `?` per argument."""
    out, variables, quote, seen = [], {}, None, 0
    for char in sql:
        if quote:
            quote = None if char == quote else quote  # '' and "" re-enter at once: still fine
        elif char in "'\"":
            quote = char
        elif char == "?":
            seen += 1
            if seen <= len(args) and args[seen - 1] is not None:
                variables["p%d" % seen] = args[seen - 1]
                char = ":'p%d'" % seen
            else:
                char = "NULL"
        out.append(char)
    if quote:
        raise ValueError("unterminated quote in %r" % sql)
    if seen != len(args):
        raise ValueError("%d placeholders in %r for %d arguments" % (seen, sql, len(args)))
    return "".join(out), variables


def _variable_value(value):
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        raise TypeError("bytes arguments are not supported on PostgreSQL")
    text = str(value)
    if "\0" in text:
        raise ValueError("a NUL cannot reach PostgreSQL in a text value")
    return text


def _returns_rows(sql):
    """Whether the statement yields rows: a query, or a change with RETURNING."""
    words = sql.split()
    first = words[0].lower() if words else ""
    if first in ("insert", "update", "delete"):
        return "returning" in (w.lower() for w in words)
    return first in ("select", "with", "values", "table")


def run_rows(dsn, sql, args=()):
    """Runs one statement; its rows as tuples of JSON-typed Python values (ints for integer
    columns, as sqlite3 gives them), in column order."""
    sql = sql.strip().rstrip(";").strip()
    text, variables = translate_placeholders(sql, tuple(args))
    settings = []
    for name, value in variables.items():
        settings += ["-v", "%s=%s" % (name, _variable_value(value))]
    if _returns_rows(sql):
        # json (not jsonb) keeps the columns' order and duplicate names.
        text = "WITH q AS (%s) SELECT coalesce(json_agg(q), '[]') FROM q" % text
    argv = [os.path.join(pg_cluster.PG_BIN, "psql"), "-X", "-A", "-t", "-q",
            "-v", "ON_ERROR_STOP=1"] + settings + ["-d", dsn, "-f", "-"]
    # Through stdin, not -c: psql interpolates variables only in what its own lexer reads.
    done = subprocess.run(argv, input=text + ";\n", capture_output=True, text=True,
                          timeout=30, env=pg_cluster._clean_env())
    if done.returncode != 0:
        raise pg_cluster.PsqlError("psql %r: %s (exit %d)" % (sql, done.stderr.strip(),
                                                               done.returncode))
    if not _returns_rows(sql):
        return []
    rows = json.loads(done.stdout, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))
    return list(rows)
