"""Conversions through LibreOffice as jobs, and the office kept on a leash.

- A request never waits on the converter: the preview and the PDF are
  jobs (one per report version, failures remembered, a bounded queue, a
  share per user); the page says 正在生成 and asks again by itself.
- The preview cache is keyed by everything that shapes the pages: the
  report's type version and its update time too.
- LibreOffice loads nothing from outside the document.
- The office dies with the app (SIGTERM or SIGKILL), and its profile and
  the files under conversion go with it.
"""
import http.server
import io
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from pbforms import demo
from pbforms.documents import conversions as conversions_module
from pbforms.documents import pdf as preview
from pbforms.documents import report_docx
from pbforms.documents.conversions import Conversions
from pbforms.models import Report, User
from tests.fillpage import one, parse, report_of
from tests.test_server import AppProcess, Office


def long_text(paragraphs, length=2000):
    return "\n".join(f"第{n}段" + "党建工作扎实推进，" * (length // 9) for n in range(paragraphs))


def make_long(report, paragraphs):
    """The report with an opening of many long paragraphs: slow to lay out."""
    user = User.get(User.unit == report.unit)
    report.save_data({**report.data, "intro": long_text(paragraphs)}, user, report.version)
    return Report.get_by_id(report.id)


# --- the office dies with the app --------------------------------------------------------

def office_processes(folder):
    """Processes whose command line names `folder` (soffice, soffice.bin and the bridge, by their profile)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
            except (OSError, StopIteration):
                continue
            if str(folder) in command and "zombie" not in state:
                found.append((int(entry.name), command))
    return found


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {seconds} s")
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_office_and_its_files_go_when_the_app_is_stopped_during_a_conversion(
        app, tmp_path, database_url, libreoffice, monkeypatch, sig):
    report = make_long(report_of("青泥村"), 150)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    server = AppProcess(tmp_path / "server", database_url)
    try:
        server.wait_until_listening()
        filler = Office()
        filler.open(server.url + "/login")  # the session's cookie
        page = filler.open(server.url + "/login")[0].decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        filler.open(server.url + "/login", {"username": "qingnicun", "password": demo.FILLER_PASSWORD,
                                            "csrf_token": token})
        waiting = filler.open(f"{server.url}/reports/{report.id}/preview")[0].decode()
        assert "正在生成页面预览" in waiting
        # The conversion is under way once the office has the document in its folder.
        wait_for(lambda: list(temp.glob("pbforms-office-*/work/*/document.docx")), 60, "no conversion started")
        assert office_processes(temp)
        server.process.send_signal(sig)
        server.process.wait(30)
        wait_for(lambda: not office_processes(temp), 20, f"LibreOffice still runs: {office_processes(temp)}")
        wait_for(lambda: not list(temp.iterdir()), 10, f"left in the temporary folder: {list(temp.iterdir())}")
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert "Traceback" not in server.log.read_text()
