"""The database handle, its settings, and the migration runner.

One `Proxy` is bound at app start from PBFORMS_DATABASE_URL, so the same
models serve SQLite (the default, one machine) and PostgreSQL (several app
processes). SQLite gets the settings that make concurrent autosaves safe: WAL
so readers never block the writer, a busy timeout so a second writer waits
instead of failing, and IMMEDIATE write transactions so a transaction that
reads and then writes takes the write lock up front rather than failing with
"database is locked" halfway.
"""
from pathlib import Path

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import Runner

db = DatabaseProxy()

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


def open_database(url):
    """Bind the proxy to the database named by `url` and return it."""
    if url.startswith("sqlite"):
        database = connect(url, pragmas=SQLITE_PRAGMAS, timeout=15)
    else:
        database = connect(url)
    db.initialize(database)
    return database


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
    with db.connection_context():
        if not isinstance(db.obj, PostgresqlDatabase):
            return runner.up()
        db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            return runner.up()
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def schema_version():
    """Name of the newest applied migration, or None for an empty database."""
    runner = Runner(db.obj, str(MIGRATIONS_DIR))
    applied = runner.applied()
    return max(applied) if applied else None
