"""Backups: a consistent copy while saves are running, a checked restore
that keeps the replaced database aside, the daily copy keeping the last 14,
and the admin's backup page."""
import datetime
import os
import sqlite3
import threading
import time
from contextlib import closing

import pytest

from pbforms import backup
from pbforms.db import db, schema_version
from pbforms.models import AuditEvent, Report, User
from tests.fillpage import parse, report_of

sqlite_only = pytest.mark.sqlite_only


def query(path, sql, *params):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def integrity(path):
    return query(path, "PRAGMA integrity_check")[0][0]


@pytest.fixture
def live(app):
    return backup.database_file()


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=[str(a) for a in args], **kwargs)


def save(report_id, **changes):
    report = Report.get_by_id(report_id)
    report.save_data({**report.data, **changes}, User.by_username("admin"), report.version)


class Saver(threading.Thread):
    """Saves one report over and over, as two users in turn so that every
    save keeps a revision of its own; `done` lists each version once its
    transaction has committed."""

    def __init__(self, report_id):
        super().__init__(daemon=True)
        self.report_id = report_id
        self.done = []
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            with db.connection_context():
                users = [User.by_username("qingnizhen"), User.by_username("admin")]
                while not self.stop.is_set():
                    report = Report.get_by_id(self.report_id)
                    n = len(self.done)
                    report.save_data({**report.data, "deeds_done": n}, users[n % 2], report.version)
                    self.done.append(report.version)
        except Exception as e:  # reported by the test, not lost in the thread
            self.error = e

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.done) < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.error is None and len(self.done) >= count, self.error


@sqlite_only
def test_backup_while_saves_run_holds_every_save_made_before_it(cli, live, tmp_path):
    report_id = report_of("青泥镇").id
    copy = tmp_path / "copy.sqlite3"
    saver = Saver(report_id)
    saver.start()
    saver.wait_for(20)

    before = list(saver.done)
    result = cli("backup", copy)
    saver.wait_for(len(saver.done) + 5)  # the saves go on, unhindered
    saver.stop.set()
    saver.join()

    assert result.exit_code == 0, result.output
    assert f"已备份到 {copy}" in result.output
    assert integrity(copy) == "ok"
    revisions = {v for (v,) in query(copy, "SELECT version FROM revision WHERE report_id = ?", report_id)}
    assert set(before) <= revisions
    # One snapshot: the report row and its newest revision agree.
    [(version, data)] = query(copy, "SELECT version, data FROM report WHERE id = ?", report_id)
    assert version == max(revisions)
    assert query(copy, "SELECT data FROM revision WHERE report_id = ? AND version = ?", report_id, version) == [(data,)]


@sqlite_only
def test_backup_into_a_folder_gets_a_dated_name_and_never_overwrites(cli, tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()

    first = cli("backup", folder)
    [written] = folder.iterdir()
    again = cli("backup", written)

    assert first.exit_code == 0 and written.name.startswith("pbforms-")
    assert integrity(written) == "ok"
    assert again.exit_code != 0
    assert "已存在，请换一个文件名" in again.output


@sqlite_only
def test_restore_replaces_the_database_and_keeps_the_replaced_one_aside(cli, live, tmp_path, client, auth):
    report_id = report_of("青泥村").id
    save(report_id, reporter_name="备份前")
    copy = tmp_path / "copy.sqlite3"
    cli("backup", copy)
    save(report_id, reporter_name="备份后")

    result = cli("restore", copy, input="y\n")

    assert result.exit_code == 0, result.output
    assert "已从" in result.output and "原数据库另存为" in result.output
    assert Report.get_by_id(report_id).data["reporter_name"] == "备份前"
    [aside] = live.parent.glob(live.name + ".replaced-*")
    assert integrity(aside) == "ok"
    assert '"reporter_name": "备份后"' in query(aside, "SELECT data FROM report WHERE id = ?", report_id)[0][0]
    assert AuditEvent.select().where(AuditEvent.action == "restore_database").count() == 1
    auth.login("qingnicun")
    assert 'value="备份前"' in client.get(f"/reports/{report_id}").text


@sqlite_only
def test_restore_asks_first_and_a_no_changes_nothing(cli, live, tmp_path):
    report_id = report_of("青泥村").id
    copy = tmp_path / "copy.sqlite3"
    cli("backup", copy)
    save(report_id, reporter_name="备份后")

    result = cli("restore", copy, input="n\n")

    assert result.exit_code != 0
    assert "替换当前数据库" in result.output
    assert Report.get_by_id(report_id).data["reporter_name"] == "备份后"
    assert not list(live.parent.glob(live.name + ".replaced-*"))


def not_a_database(path, live):
    path.write_text("这不是数据库，是一封信。" * 200, encoding="utf-8")


def damaged(path, live):
    backup.snapshot(live, path)
    raw = bytearray(path.read_bytes())
    raw[4096 * 2:4096 * 6] = b"\x5a" * (4096 * 4)  # pages 3 to 6 overwritten
    path.write_bytes(bytes(raw))


def index_out_of_step(path, live):
    """Readable, but a unit's name in its table no longer matches the unique index on names."""
    backup.snapshot(live, path)
    with closing(sqlite3.connect(path)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'unit'").fetchone()
    raw = bytearray(path.read_bytes())
    page_size = int.from_bytes(raw[16:18], "big")
    start = (root - 1) * page_size
    assert raw[start] == 13  # the unit table fits on its root page, a table's leaf page
    old, new = "柳湾村".encode(), "柳湾乡".encode()
    at = raw.find(old, start, start + page_size)
    raw[at:at + len(old)] = new
    path.write_bytes(bytes(raw))


def other_program(path, live):
    query(path, "CREATE TABLE note (text TEXT)")


def newer_program(path, live):
    backup.snapshot(live, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migration (name, applied) VALUES ('9999_future', '2030-01-01')")


@sqlite_only
@pytest.mark.parametrize("make, message", [
    (not_a_database, "这个文件不是 SQLite 数据库，或已损坏，未恢复"),
    (damaged, "这个文件不是 SQLite 数据库，或已损坏，未恢复"),
    (index_out_of_step, "备份文件已损坏（完整性检查未通过：row "),
    (other_program, "这个文件不是本系统的数据库（没有数据库版本记录），未恢复"),
    (newer_program, "备份来自更新版本的程序（数据库版本 9999_future），本程序无法使用"),
], ids=["not a database", "damaged", "index out of step", "other program", "newer program"])
def test_restore_refuses_a_file_it_cannot_use_and_changes_nothing(cli, live, tmp_path, make, message):
    report_id = report_of("青泥村").id
    save(report_id, reporter_name="现在的")
    bad = tmp_path / "bad.sqlite3"
    make(bad, live)

    result = cli("restore", bad, "--yes")

    assert result.exit_code != 0
    assert message in result.output
    assert Report.get_by_id(report_id).data["reporter_name"] == "现在的"
    assert not list(live.parent.glob(live.name + ".replaced-*"))
    assert integrity(live) == "ok"


@sqlite_only
def test_backup_from_an_older_version_is_upgraded_when_restored(cli, live, tmp_path):
    newest = schema_version()
    old = tmp_path / "old.sqlite3"
    backup.snapshot(live, old)
    with closing(sqlite3.connect(old)) as conn, conn:
        # As made before 0003 (later migrations are left in place: they
        # touch other tables).
        conn.execute("DELETE FROM schema_migration WHERE name = ?", ("0003_revision_note",))
        conn.execute("ALTER TABLE revision DROP COLUMN note")

    result = cli("restore", old, "--yes")

    assert result.exit_code == 0, result.output
    assert schema_version() == newest
    assert "note" in {row[1] for row in query(live, "PRAGMA table_info(revision)")}


# --- the daily backup ---------------------------------------------------------

@sqlite_only
def test_daily_backup_is_written_once_a_day_and_the_last_14_are_kept(live):
    folder = live.parent / "backups"
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(16)]
    for day in days:
        assert backup.backup_if_due(day) == folder / f"pbforms-{day:%Y-%m-%d}.sqlite3"
    stale, fresh = folder / ".partial-1-1-x.sqlite3", folder / ".partial-2-2-y.sqlite3"
    stale.write_bytes(b"left by a killed process")
    fresh.write_bytes(b"being written now")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    assert backup.backup_if_due(days[-1]) is None  # today's is there already

    assert sorted(p.name for p in folder.glob("pbforms-*")) == [f"pbforms-{d:%Y-%m-%d}.sqlite3" for d in days[2:]]
    assert not stale.exists() and fresh.exists()
    assert integrity(folder / f"pbforms-{days[-1]:%Y-%m-%d}.sqlite3") == "ok"


# --- the admin's page ---------------------------------------------------------

@sqlite_only
def test_admin_sees_the_last_backup_and_downloads_a_fresh_one(client, auth, live, tmp_path):
    auth.county()  # backups are the root office's
    assert "上次自动备份：还没有自动备份" in " ".join(parse(client.get("/admin/backup").text).text_content().split())
    written = backup.backup_if_due()
    save(report_of("青泥村").id, reporter_name="刚刚保存的")

    page = " ".join(parse(client.get("/admin/backup").text).text_content().split())
    response = client.get("/admin/backup/download")

    stamp = datetime.datetime.fromtimestamp(written.stat().st_mtime)
    assert f"上次自动备份：{stamp:%Y-%m-%d %H:%M}" in page
    assert written.name in page
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="pbforms-backup-')
    downloaded = tmp_path / "downloaded.sqlite3"
    downloaded.write_bytes(response.data)
    assert integrity(downloaded) == "ok"
    assert any("刚刚保存的" in data for (data,) in query(downloaded, "SELECT data FROM report"))
    assert AuditEvent.select().where(AuditEvent.action == "backup").count() == 1


def test_other_databases_are_sent_to_their_own_tools(client, auth, cli, monkeypatch, tmp_path):
    monkeypatch.setattr(backup, "database_file", lambda: None)
    auth.county()  # backups are the root office's

    page = client.get("/admin/backup").text
    download = client.get("/admin/backup/download", follow_redirects=True).text
    command = cli("backup", tmp_path / "copy.sqlite3")

    for output in (page, download, command.output):
        assert "本系统的备份与恢复只适用于 SQLite" in output
    assert command.exit_code != 0


# --- restore() itself: the schema must be the migrations' ----------------------

def only_the_migration_table(path, live):
    """A file with every migration recorded and nothing else."""
    names = query(live, "SELECT name, applied FROM schema_migration")
    query(path, "CREATE TABLE schema_migration (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, "
                "applied DATETIME NOT NULL)")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany("INSERT INTO schema_migration (name, applied) VALUES (?, ?)", names)


def changed_copy(*statements):
    def make(path, live):
        backup.snapshot(live, path)
        with closing(sqlite3.connect(path)) as conn, conn:
            for statement in statements:
                conn.execute(statement)
    return make


ESCALATING_TRIGGER = ("CREATE TRIGGER promote AFTER UPDATE ON report BEGIN "
                      "UPDATE user SET role = 'admin'; END")


@sqlite_only
@pytest.mark.parametrize("make, message", [
    (only_the_migration_table, "缺少表 audit_event"),
    (changed_copy(ESCALATING_TRIGGER), "多出触发器 promote"),
    (changed_copy("CREATE VIEW everyone AS SELECT username, password_hash FROM user"), "多出视图 everyone"),
    (changed_copy("CREATE TABLE note (text TEXT)"), "多出表 note"),
    (changed_copy("DROP TABLE ended_session"), "缺少表 ended_session"),
    (changed_copy("ALTER TABLE user ADD COLUMN note TEXT"), "表 user 的列不同"),
    (changed_copy("DROP INDEX loginfailure_key"), "表 login_failure 的索引不同"),
    (changed_copy("CREATE INDEX unit_kind ON unit (kind)"), "表 unit 的索引不同"),
], ids=["only the migration table", "trigger", "view", "extra table", "missing table", "extra column",
        "missing index", "extra index"])
def test_restore_refuses_a_schema_the_migrations_do_not_build(live, tmp_path, make, message):
    report_id = report_of("青泥村").id
    save(report_id, reporter_name="现在的")
    bad = tmp_path / "bad.sqlite3"
    make(bad, live)

    with pytest.raises(backup.BackupError) as refused:
        backup.restore(bad)

    assert "这个文件的数据库结构与本系统（数据库版本" in str(refused.value)
    assert message in str(refused.value)
    assert "未恢复" in str(refused.value)
    assert Report.get_by_id(report_id).data["reporter_name"] == "现在的"
    assert not list(live.parent.glob(live.name + ".replaced-*"))
    assert query(live, "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view')") == [(0,)]


@sqlite_only
def test_a_restore_that_fails_after_the_copy_puts_the_database_back(live, tmp_path, monkeypatch):
    """Should bringing the restored file up to date fail, the app keeps the
    database it had, not half of another."""
    report_id = report_of("青泥村").id
    good = tmp_path / "good.sqlite3"
    backup.snapshot(live, good)
    save(report_id, reporter_name="现在的")

    def broken_migrate():
        raise RuntimeError("磁盘已满")
    monkeypatch.setattr(backup, "migrate", broken_migrate)

    with pytest.raises(backup.BackupError, match="已换回原来的数据库，未恢复"):
        backup.restore(good)

    assert Report.get_by_id(report_id).data["reporter_name"] == "现在的"
    assert integrity(live) == "ok"


@sqlite_only
def test_restore_of_a_sound_backup_through_the_function(live, tmp_path):
    report_id = report_of("青泥村").id
    save(report_id, reporter_name="备份时的")
    good = tmp_path / "good.sqlite3"
    backup.snapshot(live, good)
    save(report_id, reporter_name="后来的")

    aside = backup.restore(good)

    assert Report.get_by_id(report_id).data["reporter_name"] == "备份时的"
    assert query(aside, "SELECT count(*) FROM report")[0][0] == Report.select().count()
