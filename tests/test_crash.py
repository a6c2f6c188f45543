"""Crash safety: the real server (`python app.py`, a separate process) is
killed with SIGKILL in the middle of a burst of autosaves from three
villages; started again, its database passes integrity_check and holds
every save it had answered with success."""
import http.client
import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from pbforms import demo

ROOT = Path(__file__).resolve().parent.parent
FILLERS = ["qingnicun", "liuwancun", "shiqiaocun"]
KILL_AFTER = 30  # acknowledged saves, all villages together

pytestmark = [pytest.mark.sqlite_only,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]


def free_port():
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python app.py` on a temp database and a free port, its output in a log file."""

    def __init__(self, tmp_path):
        self.database = tmp_path / "crash.sqlite3"
        self.log = tmp_path / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PBFORMS_DATABASE_URL": f"sqlite:///{self.database}",
                    "PBFORMS_SECRET_KEY": "crash-test", "PBFORMS_INSTANCE": str(tmp_path / "instance"),
                    "HOME": str(tmp_path / "home")}
        self.process = None

    def start(self, *args):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port), *args],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail("the server did not start:\n" + self.log.read_text())

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Browser:
    """A logged-in filler: urllib with a cookie jar, the CSRF token read from the page."""

    def __init__(self, base, username):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = self.request("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        home = self.request("/login", {"username": username, "password": demo.FILLER_PASSWORD, "csrf_token": token})
        self.token = re.search(r'"X-CSRFToken": "([^"]+)"', home).group(1)
        self.report_id = int(re.search(r'href="/reports/(\d+)"', home).group(1))

    def request(self, path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        with self.opener.open(request, timeout=20) as response:
            return response.read().decode()

    def autosave(self, n, version):
        """What the fill page's htmx sends; returns the version the server confirmed."""
        body = self.request(f"/reports/{self.report_id}",
                            {"version": str(version), "members_recruited": str(n), "reporter_name": f"第{n}次保存"},
                            {"HX-Request": "true", "X-CSRFToken": self.token})
        return int(re.search(r'id="report-version" value="(\d+)"', body).group(1))


def burst(browser, acknowledged, refused):
    """Autosave until the server stops answering; note each save it confirmed.

    An HTTP error answer (a 409, a 500) is an answer, not the kill: it is
    noted in `refused` for the test to fail on. (HTTPError is an OSError,
    so it is caught first.)"""
    version, n = 0, 0
    while True:
        n += 1
        try:
            version = browser.autosave(n, version)
        except urllib.error.HTTPError as e:
            refused.append(f"save {n}: HTTP {e.code} {e.read()[:200]!r}")
            return
        except (OSError, http.client.HTTPException):
            return
        acknowledged.append((n, version))


def stored(database, report_id):
    with closing(sqlite3.connect(database)) as conn:
        version, data = conn.execute("SELECT version, data FROM report WHERE id = ?", (report_id,)).fetchone()
        newest = conn.execute("SELECT version, data FROM revision WHERE report_id = ? ORDER BY version DESC LIMIT 1",
                              (report_id,)).fetchone()
    return version, json.loads(data), (newest[0], json.loads(newest[1]))


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path)
    yield server
    server.stop()


def test_saves_confirmed_before_a_sigkill_survive_it(server):
    server.start("--demo")
    browsers = [Browser(server.url, username) for username in FILLERS]
    acknowledged = {b.report_id: [] for b in browsers}
    refused = []
    threads = [threading.Thread(target=burst, args=(b, acknowledged[b.report_id], refused)) for b in browsers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(map(len, acknowledged.values())) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.005)

    server.kill()
    for thread in threads:
        thread.join(30)
    assert refused == []  # every save before the kill was answered with success
    server.start()

    with closing(sqlite3.connect(server.database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert sum(map(len, acknowledged.values())) >= KILL_AFTER
    for report_id, saves in acknowledged.items():
        n, version = saves[-1]
        stored_version, data, (revision_version, revision_data) = stored(server.database, report_id)
        # A save may have committed whose answer the kill swallowed: later, never earlier.
        assert stored_version >= version
        assert data["members_recruited"] >= n
        assert data["reporter_name"] == f"第{data['members_recruited']}次保存"
        assert (revision_version, revision_data) == (stored_version, data)
    # The restarted server goes on saving from where it stopped.
    again = Browser(server.url, FILLERS[0])
    version = stored(server.database, again.report_id)[0]
    assert again.autosave(1000, version) == version + 1


def test_running_server_writes_todays_backup(server):
    server.start("--demo")
    backups = server.database.parent / "backups"
    deadline = time.monotonic() + 30
    while not list(backups.glob("pbforms-*.sqlite3")) and time.monotonic() < deadline:
        time.sleep(0.1)

    [written] = backups.glob("pbforms-*.sqlite3")
    assert written.name == time.strftime("pbforms-%Y-%m-%d.sqlite3")
    with closing(sqlite3.connect(written)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
