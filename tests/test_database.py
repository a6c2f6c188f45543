"""The same app on SQLite and PostgreSQL (run the suite with
PBFORMS_TEST_DATABASE_URL for the latter): the migrations build exactly the
columns the models use and run backwards too, app processes starting
together migrate once, and input PostgreSQL refuses never reaches it."""
import threading

import psycopg2
import pytest
from playhouse.migrations import Runner

from pbforms import db as database
from pbforms import models
from pbforms.db import db
from pbforms.ledger.models import LedgerEntry, LedgerEvent
from pbforms.models import MODELS, Report, ReportTypeRecord, Round, TypeVersion
from pbforms.rating.models import MODELS as RATING_MODELS


def test_migrations_build_the_columns_the_models_use(app):
    with db.connection_context():
        for model in MODELS + RATING_MODELS + [LedgerEntry, LedgerEvent]:
            stored = {column.name for column in db.get_columns(model._meta.table_name)}
            assert stored == set(model._meta.columns), model.__name__


def test_migrations_run_down_to_nothing_and_up_again(app):
    runner = Runner(db.obj, str(database.MIGRATIONS_DIR))
    with db.connection_context():
        newest = database.schema_version()
        while runner.down():
            pass
        assert database.schema_version() is None
        assert [t for t in db.get_tables() if t != runner.table_name] == []
    database.migrate()
    with db.connection_context():
        assert database.schema_version() == newest


def test_migration_0006_gives_existing_rounds_and_reports_the_seed_type(app):
    """A database from before report types: its rounds (all of the seed's
    type then) give every kind of unit the seed type's version 1, every
    report follows it, and no report's data changes."""
    runner = Runner(db.obj, str(database.MIGRATIONS_DIR))
    with db.connection_context():
        before = {r.id: r.data for r in Report.select()}
        runner.down("0006_report_types")
        assert "report_type" not in db.get_tables() and "round_type" not in db.get_tables()
        assert "report_type" in {c.name for c in db.get_columns("round")}
    database.migrate()
    models.clear_type_cache()
    with db.connection_context():
        seed = ReportTypeRecord.by_builtin("annual_report")
        assert [(r.name, r.builtin) for r in ReportTypeRecord.ordered()] == [
            ("镇党委书记抓基层党建工作述职报告", "annual_report"),
            ("村（社区）党组织书记抓基层党建工作述职报告", "village_report")]
        kinds = Round.get().kind_types
        assert {kind: (t.type_id, t.version) for kind, t in kinds.items()} == {
            "township": (seed.id, 1), "village": (seed.id, 1), "community": (seed.id, 1)}
        reports = list(Report.with_round_and_unit())
        assert {r.id: r.data for r in reports} == before
        assert {r.report_type.version_id for r in reports} == {kinds["village"].version_id}


def test_migration_0023_gives_the_built_in_types_a_version_with_the_ledger(app):
    """A database from before the 整改台账: each built-in type gets a new
    version whose 存在问题 feeds the ledger and which has 四、上年度问题整改情况;
    its rounds keep the version they have."""
    runner = Runner(db.obj, str(database.MIGRATIONS_DIR))
    with db.connection_context():
        runner.down("0023_ledger")
        assert "ledger_entry" not in db.get_tables()
        for version in TypeVersion.select():  # the definitions as releases before this one shipped them
            definition = version.definition
            definition["sections"] = [s for s in definition["sections"] if not s["title"].endswith("上年度问题整改情况")]
            for f in (f for s in definition["sections"] for f in s["fields"]):
                f.pop("ledger", None)
            TypeVersion.update(definition=definition).where(TypeVersion.id == version.id).execute()
        round_versions = {kind: t.version_id for kind, t in Round.select(Round.id).get().kind_types.items()}
    database.migrate()
    models.clear_type_cache()
    with db.connection_context():
        for stem in ("annual_report", "village_report"):
            newest = ReportTypeRecord.by_builtin(stem).newest()
            assert newest.version == 2
            assert newest.by_key["problems"].ledger == "problems"
            assert newest.by_key["last_year_problems"].ledger == "last_year"
            assert [s["title"] for s in newest.sections][-2:] == ["四、上年度问题整改情况", "落款"]
        assert {kind: t.version_id for kind, t in Round.get_by_id(Round.get().id).kind_types.items()} == round_versions


@pytest.mark.postgresql_only
def test_processes_starting_together_migrate_once(database_url):
    """gunicorn's workers each create the app at the same moment (several
    app processes need PostgreSQL)."""
    database.open_database(database_url)
    start = threading.Barrier(4)
    applied, failures = [], []

    def worker():
        start.wait()
        try:
            applied.append(database.migrate())
        except Exception as e:  # noqa: BLE001 (the test reports any failure)
            failures.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    everything = len(Runner(db.obj, str(database.MIGRATIONS_DIR)).migrations())
    assert sorted(len(names) for names in applied) == [0, 0, 0, everything]


@pytest.mark.parametrize("username", ["ad\x00min", "a" * 300])
def test_an_impossible_user_name_is_an_ordinary_wrong_login(app, client, username):
    """PostgreSQL refuses NUL even inside a query's parameter, and a string
    longer than a column allows; the login form keeps both from it."""
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/login", data={"username": username, "password": "admin2022demo"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.text


def test_a_request_returns_its_connection_to_the_pool(app, client):
    """Connections are kept open between requests (opening one per request
    was most of an autosave's time), and none is kept by a finished request."""
    client.get("/login")
    client.get("/login")
    assert db.obj._in_use == {}
    assert len(db.obj._connections) == 1


def connection_pings(monkeypatch):
    """How many times the pool asks the server whether a connection works."""
    pings = []
    closed = database.PooledPostgresqlDatabase._is_closed

    def counting(self, conn):
        pings.append(conn)
        return closed(self, conn)
    monkeypatch.setattr(database.PooledPostgresqlDatabase, "_is_closed", counting)
    return pings


@pytest.mark.postgresql_only
def test_a_connection_given_back_just_now_is_not_asked_again(app, client, monkeypatch):
    """An autosave's round trips: the SELECT 1 of taking a connection was one of nine."""
    client.get("/login")
    pings = connection_pings(monkeypatch)
    client.get("/login")
    assert pings == []


@pytest.mark.postgresql_only
def test_a_connection_the_server_ended_while_idle_is_replaced(app, client, monkeypatch):
    """A PostgreSQL restart (or an administrator ending idle sessions)
    between two requests costs the next one nothing."""
    client.get("/login")
    [(_, _, conn)] = db.obj._connections
    other = psycopg2.connect(app.config["DATABASE_URL"])
    other.autocommit = True
    other.cursor().execute("SELECT pg_terminate_backend(%s)", (conn.get_backend_pid(),))
    other.close()
    monkeypatch.setattr(database.RecentPooledPostgresqlDatabase, "TRUSTED_SECONDS", 0)
    pings = connection_pings(monkeypatch)

    assert client.get("/login").status_code == 200
    assert pings  # the ended connection was asked, and discarded
    assert db.obj._connections[0][2] is not conn


@pytest.mark.sqlite_only
def test_a_pooled_sqlite_connection_has_the_safe_settings(app):
    """check_same_thread off (the next request may come on another of
    waitress's threads), and WAL, foreign keys and the busy timeout on every
    connection the pool opens."""
    with db.connection_context():
        conn = db.connection()
        settings = [conn.execute(f"PRAGMA {name}").fetchone()[0] for name in database.SQLITE_PRAGMAS]
        seen_from_another_thread = []
        thread = threading.Thread(target=lambda: seen_from_another_thread.append(conn.execute("SELECT 1").fetchone()))
        thread.start()
        thread.join()
    assert settings == ["wal", 1, 15000, 1]
    assert seen_from_another_thread == [(1,)]


@pytest.mark.parametrize("query, expected", [("", database.POOL["max_connections"]), ("?max_connections=3", 3)])
def test_the_url_may_set_the_pool_size(database_url, query, expected):
    database.open_database(database_url + query)
    assert db.obj._max_connections == expected


def test_migration_0011_gives_stored_builtin_types_their_looking_ahead_fields(app):
    """A database whose built-in types were stored before their field of
    plans said `looks_ahead` gets that as each type's next version; one
    made since has it in version 1 already."""
    with db.connection_context():
        assert {r.builtin: r.newest().version for r in ReportTypeRecord.ordered()} == \
            {"annual_report": 1, "village_report": 1}
        runner = Runner(db.obj, str(database.MIGRATIONS_DIR))
        runner.down("0011_confirmed_findings")
        for version in models.TypeVersion.select():
            for section in version.definition["sections"]:
                for field in section["fields"]:
                    field.pop("looks_ahead", None)
            version.save()
    database.migrate()
    models.clear_type_cache()
    with db.connection_context():
        for record in ReportTypeRecord.ordered():
            newest = record.newest()
            assert newest.version == 2
            assert [f.key for f in newest.fields if f.looks_ahead] == ["plans"]
            assert record.newest_version().template is None
