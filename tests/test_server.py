"""`python app.py` past its connection limit: a connection beyond it gets a
quick 503 page in Chinese, not a wait in the listen queue, and the server
takes connections again once one closes. The limit is set small here
(`--connection-limit 3`); the real one is in pbforms/server.py."""
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import lxml.html
import pytest

from pbforms import server as pbforms_server

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 3
QUICK = 5  # seconds: a refusal must come within this; waitress alone would keep the client waiting minutes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def limited_server(tmp_path, database_url):
    """`python app.py --connection-limit 3` on this test's database; yields its port."""
    port = free_port()
    env = dict(os.environ, PBFORMS_DATABASE_URL=database_url, PBFORMS_SECRET_KEY="server-test",
               PBFORMS_INSTANCE=str(tmp_path / "instance"))
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
                                    "--connection-limit", str(LIMIT)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "Traceback" not in log_path.read_text()


def kept_open(port):
    """A browser's keep-alive connection that has loaded the login page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=QUICK)
    conn.request("GET", "/login")
    response = conn.getresponse()
    response.read()
    assert response.status == 200 and not response.will_close
    return conn


def one_request(port, method="GET", path="/login", headers=None, body=None):
    """A new connection's request: (status, headers, page, seconds); the
    server must also end the connection (read until it closes)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=QUICK)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        page = response.read().decode()
        return response.status, response, page, time.monotonic() - started
    finally:
        conn.close()


def wait_for_a_free_place(port):
    """The server notices a closed connection on its next turn: a moment."""
    for _ in range(50):
        status, _, _, _ = one_request(port)
        if status == 200:
            return
        time.sleep(0.1)
    pytest.fail("no connection was taken after one had closed")


def test_a_connection_past_the_limit_is_refused_at_once_with_a_chinese_page(limited_server):
    browsers = [kept_open(limited_server) for _ in range(LIMIT)]

    status, response, page, seconds = one_request(limited_server)

    assert status == 503 and seconds < QUICK
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

    status, _, page, seconds = one_request(limited_server, "POST", "/reports/1", body=urlencode({"version": 1, "reporter_name": "字" * 20000}),
                                           headers={"HX-Request": "true",
                                                    "Content-Type": "application/x-www-form-urlencoded"})
    browsers.pop().close()

    assert status == 503 and seconds < QUICK
    assert lxml.html.fromstring(page).get_element_by_id("save-status").text_content() == "同时在线的人数已满，请稍后再试。"
    wait_for_a_free_place(limited_server)
    for browser in browsers:
        browser.close()


def test_a_crowd_past_the_limit_is_refused_quickly_every_one(limited_server):
    """More at once than the server answers refusals at a time: the rest
    wait in the listen queue a moment, not minutes."""
    browsers = [kept_open(limited_server) for _ in range(LIMIT)]
    crowd = 3 * pbforms_server.REFUSALS_AT_ONCE
    start = threading.Barrier(crowd)

    def together(_):
        start.wait()
        return one_request(limited_server)

    with ThreadPoolExecutor(crowd) as pool:
        answers = list(pool.map(together, range(crowd)))

    assert [status for status, _, _, _ in answers] == [503] * crowd
    assert max(seconds for _, _, _, seconds in answers) < QUICK
    for browser in browsers:
        browser.close()
