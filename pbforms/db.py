"""The database handle, its settings, and the migration runner.

One `Proxy` is bound at app start from PBFORMS_DATABASE_URL, so the same
models serve SQLite (the default, one machine) and PostgreSQL (several app
processes). SQLite gets the settings that make concurrent autosaves safe: WAL
so readers never block the writer, a busy timeout so a second writer waits
instead of failing, and IMMEDIATE write transactions so a transaction that
reads and then writes takes the write lock up front rather than failing with
"database is locked" halfway.
"""
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter
from playhouse.db_url import connect, register_database
from playhouse.migrations import Runner
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase

db = DatabaseProxy()

# The largest id or number a query may compare with a column: PostgreSQL's
# `integer` is 32 bits, and SQLite refuses anything past 2^63 outright
# (OverflowError), so a URL or form field beyond it would be a 500.
MAX_INT = 2**31 - 1


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` in every route: a number no row can have is 404. Raised as
    NotFound, not as the converter's ValidationError, after which werkzeug
    answers a POST with 405 (another rule of the path matched its method)."""

    def to_python(self, value):
        number = super().to_python(value)
        if number > MAX_INT:
            raise NotFound()
        return number


def db_int(value):
    """A form or query value as a whole number a column can hold; for
    `request.form.get(name, type=db_int)`, which turns the ValueError into
    "not given"."""
    number = int(value)
    if not 0 <= number <= MAX_INT:
        raise ValueError(value)
    return number

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number: the PostgreSQL advisory lock that app processes starting
# together take, so that only one of them migrates at a time.
MIGRATION_LOCK = 7_206_202_201

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 15000,
    "synchronous": 1,  # NORMAL: durable across app crashes; WAL keeps it consistent
}


# Connections are kept open between requests (a request takes one from the
# pool and gives it back). Opening one per request cost most of an autosave:
# on SQLite, closing the last connection checkpoints the WAL (an fsync) and
# every new one runs the pragmas again; on PostgreSQL each is a new server
# process. `timeout` is how long a request waits for a free connection when
# all are in use, `stale_timeout` when an idle one is closed.
POOL = {"max_connections": 32, "stale_timeout": 600, "timeout": 30}
POOLED_SCHEMES = {"sqlite": "sqlite+pool", "postgres": "postgres+recentpool", "postgresql": "postgres+recentpool"}


class RecentPooledPostgresqlDatabase(PooledPostgresqlDatabase):
    """The pool asks the server whether a connection still works (SELECT 1)
    each time a request takes one: under a county's autosaves that was one
    round trip in nine. A connection given back within the last few seconds
    is taken as it is, when its own state says it is idle; one idle longer
    (the server may have restarted meanwhile) is asked as before."""

    TRUSTED_SECONDS = 5

    def __init__(self, *args, **kwargs):
        self._given_back_at = {}
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        if not close_conn:
            self._given_back_at[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._given_back_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn):
        given_back_at = self._given_back_at.pop(self.conn_key(conn), None)
        if not conn.closed and given_back_at is not None \
                and time.monotonic() - given_back_at < self.TRUSTED_SECONDS \
                and self._adapter.txn_status(conn) == self._adapter.txn_idle:
            return False
        return super()._is_closed(conn)


register_database(RecentPooledPostgresqlDatabase, "postgres+recentpool")


def open_database(url):
    """Bind the proxy to the database named by `url` and return it.

    A plain sqlite:// or postgresql:// URL gets a connection pool, with
    the settings of POOL unless the URL sets them
    (`postgresql://…/pbforms?max_connections=8`). Pooled SQLite connections
    pass from one of waitress's threads to another, one thread at a time:
    check_same_thread is off.
    """
    close_pooled_connections()
    scheme, _, rest = url.partition("://")
    scheme = POOLED_SCHEMES.get(scheme, scheme)
    options = dict(POOL)
    if scheme.startswith("sqlite"):
        options.update(pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    for name in parse_qs(urlsplit(url).query):
        options.pop(name, None)
    database = connect(f"{scheme}://{rest}", **options)
    db.initialize(database)
    return database


def close_pooled_connections():
    """Close the idle pooled connections: before a process binds another
    database, and after the app's start-up work, so that no worker forked
    from this process shares a connection with it."""
    if isinstance(db.obj, PooledDatabase):
        db.obj.close_idle()


def writing():
    """A write transaction: IMMEDIATE on SQLite, the default elsewhere.

    PostgreSQL's default (READ COMMITTED) locks nothing on read, so there a
    write that depends on what the transaction read must check it again in
    its own WHERE, as `Report.save_data` does with the version.
    """
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def migrate():
    """Apply pending migrations; returns the names applied.

    On PostgreSQL several app processes may start at once (gunicorn's
    workers): each waits for the lock, and those after the first find
    nothing left to do.
    """
    runner = Runner(db.obj, str(MIGRATIONS_DIR))
    try:
        with db.connection_context():
            if not isinstance(db.obj, PostgresqlDatabase):
                return runner.up()
            db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                return runner.up()
            finally:
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    finally:
        close_pooled_connections()


def schema_version():
    """Name of the newest applied migration, or None for an empty database."""
    runner = Runner(db.obj, str(MIGRATIONS_DIR))
    applied = runner.applied()
    return max(applied) if applied else None
