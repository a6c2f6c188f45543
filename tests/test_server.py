"""`python app.py` as a server.

Past its connection limit: a connection beyond it gets a quick 503 page in
Chinese, not a wait in the listen queue, and the server takes connections
again once one closes. The limit is set small here (`--connection-limit
3`); the real one is in pbforms/server.py.

Several processes on one PostgreSQL database, each with its own instance
folder (as on several machines behind nginx): an export started through
one is downloaded through another.
"""
import http.client
import http.cookiejar
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import lxml.html
import pytest

from pbforms import demo
from pbforms import server as pbforms_server
from pbforms.documents import report_filename
from pbforms.models import Report, Round, Unit

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 3
# Seconds a client here waits for an answer before it fails the test:
# plenty for a busy machine, while waitress alone keeps a connection past
# the limit waiting until another closes (120 s for an idle one).
PATIENT = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`python app.py` on a free loopback port, with an instance folder of its own."""

    def __init__(self, folder, database_url, *args):
        self.folder = folder
        self.instance = folder / "instance"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        env = dict(os.environ, PBFORMS_DATABASE_URL=database_url, PBFORMS_SECRET_KEY="server-test",
                   PBFORMS_INSTANCE=str(self.instance))
        folder.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port),
                                             *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_listening(self):
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{self.log.read_text()}")
                time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        assert "Traceback" not in self.log.read_text()


@pytest.fixture
def limited_server(tmp_path, database_url):
    """`python app.py --connection-limit 3` on this test's database; yields its port."""
    server = AppProcess(tmp_path, database_url, "--connection-limit", str(LIMIT))
    try:
        server.wait_until_listening()
        yield server.port
    finally:
        server.stop()


def kept_open(port):
    """A browser's keep-alive connection that has loaded the login page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENT)
    conn.request("GET", "/login")
    response = conn.getresponse()
    response.read()
    assert response.status == 200 and not response.will_close
    return conn


def one_request(port, method="GET", path="/login", headers=None, body=None):
    """A new connection's request: (status, response, page); the server
    must also end the connection (read until it closes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        page = response.read().decode()
        return response.status, response, page
    finally:
        conn.close()


def wait_for_a_free_place(port):
    """The server notices a closed connection on its next turn: a moment."""
    for _ in range(50):
        status, _, _ = one_request(port)
        if status == 200:
            return
        time.sleep(0.1)
    pytest.fail("no connection was taken after one had closed")


def test_a_connection_past_the_limit_is_refused_at_once_with_a_chinese_page(limited_server):
    browsers = [kept_open(limited_server) for _ in range(LIMIT)]

    status, response, page = one_request(limited_server)

    assert status == 503
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert response.getheader("Retry-After") == str(pbforms_server.RETRY_AFTER)
    assert response.getheader("Connection") == "close"
    html = lxml.html.fromstring(page)
    assert html.findtext(".//title") == "服务器繁忙 · 党建述职填报"
    assert html.xpath("//meta[@http-equiv='refresh']/@content") == [str(pbforms_server.RETRY_AFTER)]
    # The fill page's script shows this element's text when a save is refused (static/app.js).
    assert html.get_element_by_id("save-status").text_content() == "同时在线的人数已满，请稍后再试。"

    for browser in browsers:  # the connections within the limit are served as before
        browser.request("GET", "/static/app.css")
        response = browser.getresponse()
        assert response.status == 200 and response.read()
        browser.close()


def test_an_autosave_past_the_limit_learns_why_and_the_server_takes_connections_again(limited_server):
    browsers = [kept_open(limited_server) for _ in range(LIMIT)]

    status, _, page = one_request(limited_server, "POST", "/reports/1", body=urlencode({"version": 1, "reporter_name": "字" * 20000}),
                                           headers={"HX-Request": "true",
                                                    "Content-Type": "application/x-www-form-urlencoded"})
    browsers.pop().close()

    assert status == 503
    assert lxml.html.fromstring(page).get_element_by_id("save-status").text_content() == "同时在线的人数已满，请稍后再试。"
    wait_for_a_free_place(limited_server)
    for browser in browsers:
        browser.close()


def test_a_crowd_past_the_limit_is_refused_quickly_every_one(limited_server):
    """More at once than the server answers refusals at a time: the rest
    wait in the listen queue a moment, not until a connection closes."""
    browsers = [kept_open(limited_server) for _ in range(LIMIT)]
    crowd = 3 * pbforms_server.REFUSALS_AT_ONCE
    start = threading.Barrier(crowd)

    def together(_):
        start.wait()
        return one_request(limited_server)

    with ThreadPoolExecutor(crowd) as pool:
        answers = list(pool.map(together, range(crowd)))

    assert [status for status, _, _ in answers] == [503] * crowd
    for browser in browsers:
        browser.close()


# --- several processes ------------------------------------------------------------


def test_a_burst_of_requests_waiting_for_a_thread_is_one_warning_not_a_flood(tmp_path, database_url):
    """With one thread, nearly every request of a burst waits: waitress
    would print a line for each, from the thread that serves every
    connection (pbforms/server.py, OncePerMinute)."""
    server = AppProcess(tmp_path, database_url, "--threads", "1")
    try:
        server.wait_until_listening()
        start = threading.Barrier(40)

        def together(_):
            start.wait()
            return one_request(server.port)[0]

        with ThreadPoolExecutor(40) as pool:
            assert set(pool.map(together, range(40))) == {200}
    finally:
        server.stop()
    assert server.log.read_text().count("Task queue depth") <= 1

class Office:
    """The township's admin in a browser: cookies and the CSRF token, to any of the processes."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = None

    def open(self, url, form=None, headers=None):
        data = urlencode(form).encode() if form is not None else None
        with self.opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=30) as response:
            return response.read(), response.headers

    def login(self, base):
        page = self.open(base + "/login")[0].decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        board = self.open(base + "/login", {"username": demo.ADMIN[0], "password": demo.ADMIN[1],
                                            "csrf_token": token})[0].decode()
        self.token = re.search(r'"X-CSRFToken": "([^"]+)"', board).group(1)


@pytest.mark.postgresql_only
def test_an_export_started_through_one_process_downloads_through_another(app, tmp_path, database_url):
    round_ = Round.get()
    township = Unit.get(Unit.name == "青泥镇")  # the part demo.ADMIN's office sees
    expected = {report_filename(r) for r in Report.in_round(round_, under=township)}
    one, two = AppProcess(tmp_path / "one", database_url), AppProcess(tmp_path / "two", database_url)
    try:
        one.wait_until_listening()
        two.wait_until_listening()
        office = Office()
        office.login(one.url)

        started = office.open(f"{one.url}/township/rounds/{round_.id}/zip", {"scope": ""},
                              {"X-CSRFToken": office.token, "HX-Request": "true"})[0].decode()
        job = re.search(r"/township/exports/(\d+)", started).group(0)
        for _ in range(600):  # the page's polling, answered by the other process
            if "正在生成" not in office.open(two.url + job, headers={"HX-Request": "true"})[0].decode():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the zip was not ready after 60 s")
        zip_bytes, headers = office.open(f"{two.url}{job}/file")
    finally:
        one.stop()
        two.stop()

    assert headers["Content-Type"] == "application/zip"
    assert set(zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()) == expected and len(expected) == 7
    for process in (one, two):  # nothing of the export on either machine's disk
        assert [p.name for p in process.instance.rglob("*")] == []
