"""Fixtures: an app on a temp-file SQLite database per test, a client, a
logged-in helper, and the demo township with its seed report."""
import re

import pytest

from pbforms import create_app
from pbforms.db import db
from pbforms import demo


@pytest.fixture
def app(tmp_path):
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "SECRET_KEY": "test",
    })
    with db.connection_context():
        demo.fill_demo()
    yield app
    if not db.is_closed():
        db.close()


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

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token()})

    def csrf_token(self):
        page = self.client.get("/").text
        return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


@pytest.fixture
def auth(client):
    return Auth(client)
