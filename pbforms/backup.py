"""Backups of the SQLite database: a consistent copy while the app runs, a
checked restore that keeps the replaced database aside, and a daily copy
into `backups/` beside the database, keeping the last 14.

Copies always go through SQLite's online backup API, in both directions,
never by copying files: the app may be writing at that moment, and a
database in WAL mode is the main file plus its -wal file, so a file copy can
catch half a transaction, and a file put back under a running app can meet
a stale -wal. Through the API a backup is one read transaction (a snapshot;
writers carry on) and a restore is one write transaction the running app
simply sees on its next read.

The daily backup runs in a thread of the serving process (`start_daily`,
called by app.py), not on requests: no user's save waits for a copy of the
whole database, and tests and `flask` commands never make one. Whether
today's backup is due is decided from the files on disk, each named by its
date, so restarts or several app processes make no more than one a day; two
processes racing just write the same consistent file twice.

Other databases (PostgreSQL) have their own tools; every entry point here
says so instead.
"""
import datetime
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections import namedtuple
from functools import lru_cache
from contextlib import closing
from pathlib import Path

import click
from peewee import SqliteDatabase
from playhouse.migrations import Migration, Runner

from .db import MIGRATIONS_DIR, db, migrate
from .models import AuditEvent, clear_type_cache

KEEP = 14
CHECK_EVERY = 600  # seconds between two looks at the backups folder
DAILY_NAME = "pbforms-{:%Y-%m-%d}.sqlite3"
DAILY_GLOB = "pbforms-????-??-??.sqlite3"
PARTIAL_PREFIX = ".partial-"
NOT_SQLITE = ("当前数据库不是 SQLite（见 PBFORMS_DATABASE_URL），本系统的备份与恢复只适用于 SQLite。"
              "请用数据库自带的工具备份和恢复，如 PostgreSQL 的 pg_dump 与 pg_restore。")

log = logging.getLogger(__name__)


class BackupError(Exception):
    """Why a backup or restore cannot be done; the message is for the user."""


def database_file():
    """The SQLite database file, or None when the database is something else."""
    if isinstance(db.obj, SqliteDatabase) and db.obj.database not in ("", ":memory:"):
        return Path(db.obj.database)
    return None


def live_database():
    path = database_file()
    if path is None:
        raise BackupError(NOT_SQLITE)
    return path


def backups_folder():
    return live_database().parent / "backups"


# --- copying ----------------------------------------------------------------

def copy_database(source, target):
    """Copy database `source` into `target` in one step of the backup API."""
    try:
        with closing(sqlite3.connect(source, timeout=15)) as src, \
                closing(sqlite3.connect(target, timeout=15)) as dst:
            src.backup(dst)
    except sqlite3.Error as e:
        raise BackupError(f"复制数据库失败：{e}") from None


def snapshot(source, target):
    """A consistent copy of `source` as one self-contained file at `target`.

    Written beside the target first and renamed, so `target` never exists
    half-written (the daily check trusts any file it finds).
    """
    target = Path(target)
    partial = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{threading.get_ident()}-{target.name}")
    try:
        copy_database(source, partial)
        with closing(sqlite3.connect(partial)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")  # no -wal file beside the copy
        os.replace(partial, target)
    except OSError as e:
        raise BackupError(f"无法写入 {target}：{e.strerror or e}") from None
    finally:
        partial.unlink(missing_ok=True)


def write_backup(target):
    """A consistent copy of the live database at `target`, while the app keeps running."""
    snapshot(live_database(), target)


def fresh_backup_bytes():
    """A backup made now, as bytes for a download."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "backup.sqlite3"
        write_backup(path)
        return path.read_bytes()


# --- restoring --------------------------------------------------------------

def known_migrations():
    return {m.name for m in Migration.load_directory(str(MIGRATIONS_DIR))}


def check_backup(path):
    """Refuse a file that is not a sound pbforms database this program can
    run; returns its schema version (the newest migration applied to it).

    An older schema is accepted, as the migrations bring it up to date
    after the restore; a newer or unknown one is not. Its structure must be
    exactly what the migrations it records build (`reference_schema`): a
    file with a table missing would take the app down, and one with a
    trigger of its own would run that trigger on every save.
    """
    try:
        with closing(sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise BackupError("备份文件已损坏（完整性检查未通过：" + "；".join(result[:3]) + "），未恢复。")
            try:
                applied = {row[0] for row in conn.execute("SELECT name FROM schema_migration")}
            except sqlite3.OperationalError:
                applied = set()
            if applied and not applied - known_migrations():
                differences = schema_differences(schema_of(conn), reference_schema(frozenset(applied)))
    except sqlite3.DatabaseError:
        raise BackupError("这个文件不是 SQLite 数据库，或已损坏，未恢复。") from None
    if not applied:
        raise BackupError("这个文件不是本系统的数据库（没有数据库版本记录），未恢复。")
    unknown = applied - known_migrations()
    if unknown:
        raise BackupError(f"备份来自更新版本的程序（数据库版本 {max(unknown)}），本程序无法使用。请先升级程序再恢复。")
    if differences:
        raise BackupError(f"这个文件的数据库结构与本系统（数据库版本 {max(applied)}）的不符："
                          + "；".join(differences[:5]) + (" 等" if len(differences) > 5 else "")
                          + "。它可能被别的程序改动过，未恢复。")
    return max(applied)


def schema_of(conn):
    """{(kind, name): description} of everything in a SQLite database's
    schema: each table's columns, foreign keys and indexes (unique
    constraints included), and every trigger and view by its SQL."""
    schema = {}
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    for kind, name, sql in objects:
        if kind == "table":
            quoted = '"' + name.replace('"', '""') + '"'
            columns = [tuple(row[1:]) for row in conn.execute(f"PRAGMA table_info({quoted})")]
            foreign_keys = sorted(tuple(row[2:]) for row in conn.execute(f"PRAGMA foreign_key_list({quoted})"))
            indexes = []
            for row in conn.execute(f"PRAGMA index_list({quoted})").fetchall():
                index_quoted = '"' + row[1].replace('"', '""') + '"'
                indexed = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index_quoted})"))
                indexes.append((row[2], row[3], row[4], indexed))  # unique, origin, partial, columns
            schema[("table", name)] = (columns, foreign_keys, sorted(indexes))
        elif kind in ("trigger", "view"):
            schema[(kind, name)] = sql
    return schema


@lru_cache(maxsize=8)
def reference_schema(applied):
    """The schema the migrations named in `applied` build, each in its turn
    on an empty database (the others are skipped, as an older program
    would not have had them)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reference.sqlite3"
        database = SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
        try:
            runner = Runner(database, str(MIGRATIONS_DIR))
            with database.connection_context():
                for migration in Migration.load_directory(str(MIGRATIONS_DIR)):
                    runner.up(target=migration.name, fake=migration.name not in applied)
        finally:
            database.close()
        with closing(sqlite3.connect(path)) as conn:
            return schema_of(conn)


KIND_NAMES = {"table": "表", "trigger": "触发器", "view": "视图"}


def schema_differences(found, expected):
    """What differs, in words for the admin: extra or missing tables,
    triggers and views, and tables whose columns or indexes differ."""
    differences = [f"多出{KIND_NAMES[kind]} {name}" for kind, name in sorted(found.keys() - expected.keys())]
    differences += [f"缺少{KIND_NAMES[kind]} {name}" for kind, name in sorted(expected.keys() - found.keys())]
    for key in sorted(found.keys() & expected.keys()):
        if found[key] != expected[key]:
            kind, name = key
            what = ["列" if found[key][0] != expected[key][0] else "", "外键" if found[key][1] != expected[key][1] else "",
                    "索引" if found[key][2] != expected[key][2] else ""] if kind == "table" else ["定义"]
            differences.append(f"{KIND_NAMES[kind]} {name} 的{'、'.join(w for w in what if w)}不同")
    return differences


def restore(path):
    """Replace the live database's content with the backup at `path`, and
    bring it up to date.

    The replaced content is first kept as `<database>.replaced-<time>` beside
    it. Should anything fail after the copy began (the copy, the
    migrations, a last check of the result), that content is put back, so
    the app is never left without a working database. Returns the path of
    the file kept aside.
    """
    live = live_database()
    check_backup(path)
    aside = live.with_name(f"{live.name}.replaced-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    snapshot(live, aside)
    try:
        copy_database(path, live)
        migrate()
        check_backup(live)
    except Exception as e:
        copy_database(aside, live)
        if isinstance(e, BackupError):
            raise
        raise BackupError(f"恢复后的数据库无法使用（{e}），已换回原来的数据库，未恢复。") from None
    return aside


# --- the daily backup -------------------------------------------------------

Kept = namedtuple("Kept", "path written_at size")


def daily_backups():
    """The kept daily backups, newest first."""
    found = []
    for path in sorted(backups_folder().glob(DAILY_GLOB), reverse=True):
        try:
            stat = path.stat()
        except FileNotFoundError:  # pruned by another process just now
            continue
        found.append(Kept(path, datetime.datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0), stat.st_size))
    return found


def backup_if_due(today=None):
    """Write today's backup unless its file is already there; keep the newest KEEP.

    Returns the file written, or None when today's existed.
    """
    folder = backups_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DAILY_NAME.format(today or datetime.date.today())
    written = None
    if not target.exists():
        write_backup(target)
        written = target
    for old in daily_backups()[KEEP:]:
        old.path.unlink(missing_ok=True)
    # Left by a process killed while copying; an hour is far longer than any copy takes.
    for partial in folder.glob(PARTIAL_PREFIX + "*"):
        if time.time() - partial.stat().st_mtime > 3600:
            partial.unlink(missing_ok=True)
    return written


def start_daily(interval=CHECK_EVERY):
    """Check every `interval` seconds, in a daemon thread, whether today's backup is due."""
    if database_file() is None:
        return None

    def keep_backing_up():
        while True:
            try:
                backup_if_due()
            except (BackupError, OSError):
                log.exception("每日自动备份失败")
            time.sleep(interval)

    thread = threading.Thread(target=keep_backing_up, name="daily-backup", daemon=True)
    thread.start()
    return thread


# --- commands ---------------------------------------------------------------

@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
def backup_command(path):
    """Write a consistent copy of the database to PATH (a file, or a folder
    to put a dated file in); the app may keep running."""
    if path.is_dir():
        path = path / f"pbforms-{datetime.datetime.now():%Y%m%d-%H%M%S}.sqlite3"
    if path.exists():
        raise click.ClickException(f"{path} 已存在，请换一个文件名，以免覆盖别的备份")
    try:
        write_backup(path)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已备份到 {path}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接恢复")
def restore_command(path, yes):
    """Replace the database with the backup at PATH, after checking it; the
    replaced database is kept beside it as <name>.replaced-<time>."""
    try:
        live = live_database()
        version = check_backup(path)
        if not yes:
            click.confirm(f"用 {path}（数据库版本 {version}）替换当前数据库 {live}？"
                          "当前数据库会另存一份，不会丢失", abort=True)
        aside = restore(path)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    clear_type_cache()  # version ids of the restored database may mean other definitions
    AuditEvent.record("restore_database", None, detail=f"从 {path.name} 恢复；原数据库另存为 {aside.name}")
    click.echo(f"已从 {path} 恢复。原数据库另存为 {aside}")
