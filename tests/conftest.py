"""Fixtures: an app on its own empty database per test, a client, a
logged-in helper, and the demo township with its seed report.

The database is a temp SQLite file, or, when PBFORMS_TEST_DATABASE_URL names
a PostgreSQL server (postgresql://user@host:port/postgres, the server's
maintenance database), a new database on that server, dropped afterwards.
Tests that check SQLite itself carry `@pytest.mark.sqlite_only` and are
skipped on PostgreSQL; those that need PostgreSQL carry
`@pytest.mark.postgresql_only` and are skipped on SQLite (CI runs both).
"""
import os
import re
import secrets
from contextlib import contextmanager
from functools import partial
from urllib.parse import urlsplit

import psycopg2
import pytest

from werkzeug.security import generate_password_hash

from pbforms import create_app, demo, models
from pbforms.documents import pdf as preview
from pbforms.db import close_pooled_connections, db

TEST_SERVER_URL = os.environ.get("PBFORMS_TEST_DATABASE_URL")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: checks SQLite itself; skipped on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only: needs PostgreSQL; skipped on SQLite")


def pytest_collection_modifyitems(items):
    if TEST_SERVER_URL:
        marker_to_skip, skip = "sqlite_only", pytest.mark.skip(
            reason="SQLite-specific; this run uses PostgreSQL (PBFORMS_TEST_DATABASE_URL)")
    else:
        marker_to_skip, skip = "postgresql_only", pytest.mark.skip(
            reason="needs PostgreSQL; this run uses SQLite (CI's second run sets PBFORMS_TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker(marker_to_skip):
            item.add_marker(skip)


def on_test_server(statement):
    """Run one statement on the server's maintenance database, outside a
    transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    conn = psycopg2.connect(TEST_SERVER_URL)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


INSTALLED_SOFFICE = preview.soffice_path()


@pytest.fixture(autouse=True)
def libreoffice_hidden(request, monkeypatch, tmp_path):
    """Tests run as on a machine without LibreOffice (PBFORMS_SOFFICE names
    a program that does not exist), unless they ask for `libreoffice`."""
    if "libreoffice" not in request.fixturenames:
        monkeypatch.setenv("PBFORMS_SOFFICE", str(tmp_path / "no-libreoffice" / "soffice"))


@pytest.fixture
def libreoffice(monkeypatch):
    """The machine's LibreOffice, shared by the tests that ask for it (one
    warm converter). CI installs it (.ci/run); elsewhere these tests skip."""
    if INSTALLED_SOFFICE is None or preview.uno_python(INSTALLED_SOFFICE) is None:
        pytest.skip("LibreOffice (libreoffice-writer-nogui, python3-uno) is not installed; CI installs it")
    monkeypatch.setenv("PBFORMS_SOFFICE", INSTALLED_SOFFICE)
    return preview.converter()


@pytest.fixture
def real_password_hashing():
    """Asked for by a test of the hash itself, to keep quick_password_hashing off."""


@pytest.fixture(autouse=True)
def quick_password_hashing(request, monkeypatch):
    """The real hash takes a good part of a second on a busy machine, and
    every test starts the demo township (eight accounts) and logs in."""
    if "real_password_hashing" not in request.fixturenames:
        monkeypatch.setattr(models.accounts, "generate_password_hash",
                            partial(generate_password_hash, method="pbkdf2:sha256:1000"))


@contextmanager
def new_database(folder):
    """The URL of a new empty database: a SQLite file in `folder`, or a
    database of its own on the test server, dropped afterwards."""
    if not TEST_SERVER_URL:
        yield f"sqlite:///{folder / 'pbforms.sqlite3'}"
        return
    name = f"pbforms_test_{secrets.token_hex(6)}"
    on_test_server(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(TEST_SERVER_URL)._replace(path=f"/{name}").geturl()
    finally:
        # FORCE: a thread or server a test started may still hold a connection.
        on_test_server(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def database_url(tmp_path):
    """The URL of this test's own empty database."""
    with new_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory):
    """One empty database for all tests of a module (the browser tests' app server)."""
    with new_database(tmp_path_factory.mktemp("database")) as url:
        yield url


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test",
        "PREVIEW_DIR": str(tmp_path / "previews"),
    })
    with db.connection_context():
        demo.fill_demo()
    yield app
    if not db.is_closed():
        db.close()
    close_pooled_connections()
    # A later test that forgets to ask for `app` fails instead of using this
    # test's database (on PostgreSQL that one is dropped by now anyway).
    db.initialize(None)


@pytest.fixture
def client(app):
    return app.test_client()


class Auth:
    """Logs a test client in through the real login form (with its CSRF token)."""

    def __init__(self, client):
        self.client = client

    def login(self, username, password=demo.FILLER_PASSWORD):
        page = self.client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = self.client.post("/login", data={"username": username, "password": password,
                                                    "csrf_token": token})
        assert response.status_code == 302, response.text
        return response

    def admin(self):
        return self.login(*demo.ADMIN)

    def county(self):
        """The county's office: the demo round and the built-in types are its own."""
        return self.login(demo.OFFICES[0][0], demo.ADMIN[1])

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token()})

    def csrf_token(self):
        page = self.client.get("/", follow_redirects=True).text  # an admin's "/" is the board
        return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


@pytest.fixture
def auth(client):
    return Auth(client)


def demo_types():
    """{unit kind: type version} of the demo round: a later round of the same types."""
    return models.Round.select().order_by(models.Round.id).first().kind_types
