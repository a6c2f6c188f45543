"""The same app on SQLite and PostgreSQL (run the suite with
PBFORMS_TEST_DATABASE_URL for the latter): the migrations build exactly the
columns the models use and run backwards too, app processes starting
together migrate once, and input PostgreSQL refuses never reaches it."""
import threading

import pytest
from playhouse.migrations import Runner

from pbforms import db as database
from pbforms.db import db
from pbforms.models import MODELS


def test_migrations_build_the_columns_the_models_use(app):
    with db.connection_context():
        for model in MODELS:
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


def test_processes_starting_together_migrate_once(database_url):
    """gunicorn's workers each create the app at the same moment."""
    if not database_url.startswith("postgres"):
        pytest.skip("several app processes need PostgreSQL")
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
