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
import datetime
import io
import os
import re
import signal
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from pbforms import demo
from pbforms.documents import conversions as conversions_module
from pbforms.documents import pdf as preview
from pbforms.documents import report_docx, report_document
from pbforms.documents.conversions import Conversions
from pbforms.models import Report, Round, User
from tests.fillpage import docx_paragraphs, one, parse, report_of
from tests.test_server import AppProcess, Office
from tests.test_types import changed_village_definition, village_record


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


def children_of(pid):
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"\nPPid:\t{pid}\n" in (entry / "status").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def alive(pid):
    try:
        return "zombie" not in next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                                    if line.startswith("State:"))
    except OSError:
        return False


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
        children = children_of(server.process.pid)  # the bridge, the renderer
        assert children
        server.process.send_signal(sig)
        server.process.wait(30)
        wait_for(lambda: not office_processes(temp), 20, f"LibreOffice still runs: {office_processes(temp)}")
        wait_for(lambda: not [p for p in children if alive(p)], 20, "a child of the app still runs")
        wait_for(lambda: not list(temp.iterdir()), 10, f"left in the temporary folder: {list(temp.iterdir())}")
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert "Traceback" not in server.log.read_text()


# --- nothing from outside the document ---------------------------------------------------

class Listener:
    """A TCP port on 127.0.0.1 that records every connection made to it (any protocol)."""

    def __init__(self):
        import socket
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            connection.settimeout(2)
            try:
                self.connections.append(connection.recv(200))
            except OSError:
                self.connections.append(b"")
            connection.close()

    def close(self):
        self.socket.close()


def with_linked_image(docx_bytes, url):
    """The document with a picture linked by URL (r:link to an external relationship), as Word writes one."""
    import struct
    import zlib

    from docx import Document

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
    document = Document(io.BytesIO(docx_bytes))
    document.add_picture(io.BytesIO(png))
    saved = io.BytesIO()
    document.save(saved)
    source, out = zipfile.ZipFile(io.BytesIO(saved.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = re.sub(rb'r:embed="', b'r:link="', data)
            if info.filename == "word/_rels/document.xml.rels":
                data = re.sub(rb'(Type="[^"]*/image") Target="[^"]*"',
                              rb'\1 Target="' + url.encode() + rb'" TargetMode="External"', data)
            target.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("scheme", ["http", "https", "ftp"])
def test_libreoffice_fetches_nothing_a_document_links_to(app, libreoffice, scheme):
    import socket
    listener = Listener()
    try:
        url = f"{scheme}://127.0.0.1:{listener.port}/ext-image.png"
        docx = with_linked_image(report_docx(report_of("青泥村")), url)
        assert url in zipfile.ZipFile(io.BytesIO(docx)).read("word/_rels/document.xml.rels").decode()

        pdf = preview.docx_to_pdf(docx)
        time.sleep(0.5)  # a fetch still on its way

        assert pdf.startswith(b"%PDF")
        assert listener.connections == []
        with socket.create_connection(("127.0.0.1", listener.port)) as heard:  # the listener does hear
            heard.sendall(b"GET / HTTP/1.0\r\n\r\n")
        wait_for(lambda: listener.connections, 5, "the listener heard nothing")
    finally:
        listener.close()


# --- conversions as jobs (a stand-in office) ---------------------------------------------

class StandInOffice:
    """docx_to_pdf without LibreOffice: a PDF of `pages` pages for each
    document, the document's paragraphs recorded; `hold` keeps a conversion
    waiting until released, `fail_with` makes each one fail."""

    def __init__(self, pages=2):
        self.pages, self.converted, self.fail_with = pages, [], None
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Semaphore(0)

    def __call__(self, docx_bytes, seconds=preview.CONVERT_SECONDS):
        self.started.release()
        self.hold.wait(30)
        self.converted.append(docx_paragraphs(docx_bytes))
        if self.fail_with:
            raise self.fail_with
        return b"%PDF-1.4\n" + b"<< /Type /Page >>\n" * self.pages


@pytest.fixture
def office(monkeypatch):
    """A stand-in office (StandInOffice), and a queue of this test's own."""
    from pbforms import fill
    stand_in = StandInOffice()
    monkeypatch.setattr(preview, "docx_to_pdf", stand_in)
    monkeypatch.setattr(fill, "availability", lambda: None)
    queue = Conversions()
    monkeypatch.setattr(conversions_module, "_conversions", queue)
    yield stand_in
    if queue.renderer is not None:
        queue.renderer.shutdown()


def preview_when_converted(client, report_id, seconds=30):
    """The preview page once its job has ended, asking again as its 正在生成 box does."""
    url = f"/reports/{report_id}/preview"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        polled = client.get(url, headers={"HX-Request": "true"})
        assert polled.status_code == 200 and "HX-Request" in polled.headers["Vary"]
        if polled.headers.get("HX-Refresh") == "true":
            return parse(client.get(url).text)
        assert "正在生成页面预览" in one(parse(polled.text), "//p[@id='converting']").text_content()
        time.sleep(0.02)
    pytest.fail(f"the preview of {report_id} was not converted in {seconds} s")


def page_count(tree):
    return len(tree.xpath("//div[@class='pages']/img[@class='page']"))


def test_a_preview_is_a_job_the_page_waits_for_and_polls_without_holding_the_request(client, auth, office):
    auth.login("qingnicun")
    report = report_of("青泥村")
    office.hold.clear()  # the office is slow

    started = time.monotonic()
    waiting = client.get(f"/reports/{report.id}/preview")
    answered_in = time.monotonic() - started

    assert answered_in < 5 and office.started.acquire(timeout=10)  # the conversion runs meanwhile
    tree = parse(waiting.text)
    box = one(tree, "//p[@id='converting']")
    assert "正在生成页面预览" in box.text_content() and "自动更新" in box.text_content()
    assert box.get("hx-get") == f"/reports/{report.id}/preview" and "load delay" in box.get("hx-trigger")
    assert not tree.xpath("//article") and not tree.xpath("//img[@class='page']") and "下载 PDF" not in waiting.text
    polled = client.get(f"/reports/{report.id}/preview", headers={"HX-Request": "true"})
    assert "正在生成页面预览" in polled.text and "HX-Refresh" not in polled.headers
    office.hold.set()
    tree = preview_when_converted(client, report.id)
    assert page_count(tree) == 2 and one(tree, "//a[text()='下载 PDF']") is not None
    assert len(office.converted) == 1


def test_many_requests_for_one_version_make_one_job(client, auth, office):
    auth.login("qingnicun")
    report = report_of("青泥村")
    office.hold.clear()
    for _ in range(20):
        assert "正在生成页面预览" in client.get(f"/reports/{report.id}/preview").text
    office.hold.set()
    assert page_count(preview_when_converted(client, report.id)) == 2
    assert len(office.converted) == 1


def test_a_report_that_fails_to_convert_says_why_and_is_not_tried_again_until_it_changes(client, auth, office):
    auth.login("qingnicun")
    report = report_of("青泥村")
    office.fail_with = preview.ConverterError("LibreOffice 转换超过 60 秒未完成，已停止（文字过长或格式特殊）。",
                                              of_document=True)

    tree = preview_when_converted(client, report.id)
    again = parse(client.get(f"/reports/{report.id}/preview").text)
    pdf = client.get(f"/reports/{report.id}/pdf")

    for page in (tree, again):
        assert "超过 60 秒未完成" in one(page, "//p[@class='notice']").text_content()
        assert [p.text_content() for p in page.xpath("//article/p") if p.text_content().strip()] == \
            docx_paragraphs(report_docx(report))  # the document's paragraphs instead
        assert not page_count(page)
    assert pdf.status_code == 409 and "超过 60 秒未完成" in pdf.text
    assert len(office.converted) == 1  # remembered: not converted again
    office.fail_with = None
    user = User.get(User.unit == report.unit)
    report.save_data({**report.data, "reporter_name": "李四"}, user, report.version)
    assert page_count(preview_when_converted(client, report.id)) == 2  # a new version is tried again
    assert len(office.converted) == 2


def test_the_pdf_download_waits_on_a_page_then_downloads(client, auth, office):
    auth.login("qingnicun")
    report = report_of("青泥村")
    office.hold.clear()

    waiting = client.get(f"/reports/{report.id}/pdf")
    assert waiting.status_code == 202 and "正在生成PDF" in one(parse(waiting.text), "//p[@id='converting']").text_content()
    office.hold.set()
    deadline = time.monotonic() + 30
    while "HX-Redirect" not in (polled := client.get(f"/reports/{report.id}/pdf", headers={"HX-Request": "true"})).headers:
        assert time.monotonic() < deadline and "正在生成PDF" in polled.text
        time.sleep(0.02)
    download = client.get(polled.headers["HX-Redirect"])
    assert download.mimetype == "application/pdf" and preview.pdf_page_count(download.data) == 2


def test_the_queue_is_bounded_and_shared_fairly_between_users(app, monkeypatch, tmp_path, office):
    monkeypatch.setattr(conversions_module, "QUEUE_LIMIT", 4)
    queue = conversions_module.conversions()
    order = []
    real = preview.store_preview
    monkeypatch.setattr(conversions_module, "store_preview", lambda p, pdf: order.append(p.key) or real(p, pdf))
    office.hold.clear()

    def ask(owner, n):
        return queue.ask(preview.Preview(tmp_path, f"report{owner}{n}-v1-x"), owner,
                         lambda: report_document(report_of("青泥村"))).state

    assert [ask("greedy", n) for n in range(4)] == ["waiting", "waiting", "busy", "busy"]  # a share of 2
    assert [ask("other", 0), ask("third", 0)] == ["waiting", "waiting"]
    assert ask("fourth", 0) == "busy"  # the queue is full
    assert office.started.acquire(timeout=10)  # greedy's first is under way
    office.hold.set()
    wait_for(lambda: not queue.jobs, 30, "the queue did not run")
    assert order == ["reportgreedy0-v1-x", "reportother0-v1-x", "reportthird0-v1-x", "reportgreedy1-v1-x"]
    assert ask("fourth", 0) == "waiting"  # room again


# --- the cache knows what shapes the pages -------------------------------------------------

def test_a_report_never_saved_is_converted_again_when_its_round_moves_to_a_new_type_version(client, auth, office):
    auth.login("qingnicun")
    report = report_of("青泥村")
    assert report.version == 0
    assert page_count(preview_when_converted(client, report.id)) == 2
    assert not any("主题党日活动" in p for p in office.converted[0])

    village_record().save_version(changed_village_definition())
    Report.in_round(report.round).first().round.move_to_newest(User.by_username(demo.ADMIN[0]))
    assert Report.get_by_id(report.id).version == 0

    assert page_count(preview_when_converted(client, report.id)) == 2
    assert len(office.converted) == 2 and any("主题党日活动" in p for p in office.converted[1])


def test_a_report_restored_under_the_same_version_is_converted_again(client, auth, office):
    """After a backup restore, the same id and version can hold other data, saved at another time."""
    auth.login("qingnicun")
    report = report_of("青泥村")
    user = User.get(User.unit == report.unit)
    report.save_data({**report.data, "reporter_name": "张三"}, user, report.version)
    assert page_count(preview_when_converted(client, report.id)) == 2
    # The restored database: the same version, saved later with another name (and the same meta).
    later = Report.get_by_id(report.id).updated_at + datetime.timedelta(minutes=5)
    Report.update(data={**report.data, "reporter_name": "李四"}, updated_at=later).where(
        Report.id == report.id).execute()

    assert page_count(preview_when_converted(client, report.id)) == 2
    assert len(office.converted) == 2
    assert any("李四" in p for p in office.converted[1])


# --- the 汇编 carries each template's parts --------------------------------------------------

def png(colour=b"\x00\xff\x00"):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" + colour)) + chunk(b"IEND", b""))


def volume_with_pictures():
    """A volume of the official template's report and two reports of offices'
    own templates, each with a picture of its own under the same rId."""
    from pbforms.documents import type_document
    from pbforms.documents.uploaded import uploaded_document
    from pbforms.documents.volume import Part, Volume, report_part
    from tests.test_uploaded_template import GOOD, META, SEED, demo_data, word_file

    def with_picture(colour):
        return lambda doc: doc.add_picture(io.BytesIO(png(colour)))

    data = {**demo_data(), "reporter_name": "张三"}
    official, official_context = type_document(SEED, data, META)
    parts = [Part("甲", "甲", official, report_part(official, official_context, "甲", 1), 1)]
    for number, colour in ((2, b"\xff\x00\x00"), (3, b"\x00\x00\xff")):
        template, context = uploaded_document(word_file(GOOD, with_picture(colour)), SEED, data, META)
        parts.append(Part(f"乙{number}", f"乙{number}", template,
                          report_part(template, context, f"乙{number}", number), number))
    return Volume("轮次", "青泥镇", "2023年1月6日", parts, official)


def test_the_volume_carries_the_pictures_of_offices_own_templates():
    from lxml import etree
    from docx import Document
    docx = volume_with_pictures().docx(dirty=True)
    package = zipfile.ZipFile(io.BytesIO(docx))
    document = package.read("word/document.xml").decode()
    relationships = {r.get("Id"): r for r in etree.fromstring(package.read("word/_rels/document.xml.rels"))}
    types = package.read("[Content_Types].xml").decode()

    used = re.findall(r'\sr:(?:embed|id|link)="([^"]+)"', document)
    assert len([u for u in used if u.startswith("rIdPbforms")]) == 2
    images = []
    for rid in used:
        assert rid in relationships, f"dangling {rid}"
        target = "word/" + relationships[rid].get("Target")
        assert target in package.namelist()
        if relationships[rid].get("Type").endswith("/image"):
            images.append(package.read(target))
    assert images == [png(b"\xff\x00\x00"), png(b"\x00\x00\xff")]  # each report its own picture
    assert 'Extension="png"' in types
    assert len(Document(io.BytesIO(docx)).inline_shapes) == 2


def test_the_volume_with_pictures_is_laid_out_by_libreoffice(app, libreoffice):
    docx = volume_with_pictures().docx(pages=["999"] * 3)
    pdf = preview.docx_to_pdf(docx)
    assert pdf.startswith(b"%PDF") and re.search(rb"/Subtype\s*/Image", pdf)


# --- the 汇编 goes on without a report LibreOffice cannot convert ----------------------------------

def failing_for(marker, real):
    """docx_to_pdf refusing, as for a report too slow to lay out, any document whose text holds `marker`."""
    def convert(docx_bytes, seconds=preview.CONVERT_SECONDS):
        if marker in zipfile.ZipFile(io.BytesIO(docx_bytes)).read("word/document.xml").decode():
            raise preview.ConverterError("LibreOffice 转换超过 60 秒未完成，已停止（文字过长或格式特殊）。",
                                         of_document=True)
        return real(docx_bytes, seconds)
    return convert


def test_a_volume_pdf_goes_on_without_the_report_libreoffice_cannot_convert_and_names_it(
        client, auth, libreoffice, monkeypatch, tmp_path):
    from pbforms import exports
    from tests.test_exports import finished_job, job_id_in
    from tests.test_print import every_report_filled
    round_ = Round.get()
    reports = every_report_filled(round_)
    slow = report_of("青泥村")
    slow.save_data({**slow.data, "reporter_name": "慢报告"}, User.get(User.unit == slow.unit), slow.version)
    monkeypatch.setattr(exports, "docx_to_pdf", failing_for("慢报告", preview.docx_to_pdf))
    auth.admin()

    started = client.post(f"/township/rounds/{round_.id}/volume", data={"scope": "", "format": "pdf"},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    done = finished_job(client, job_id_in(started.text))
    tree = parse(done.text)
    download = client.get(tree.xpath("//a[@download]")[0].get("href"))

    assert download.mimetype == "application/pdf"
    note = one(tree, "//p[@class='notice']").text_content()
    assert "以下 1 份报告 LibreOffice 无法转换，未收入本 PDF" in note and slow.unit.name in note
    assert "超过 60 秒未完成" in note
    assert f"（{len(reports) - 1} 份报告）" in done.text
    (tmp_path / "v.pdf").write_bytes(download.data)
    text = re.sub(r"\s", "", "".join(preview.pdf_text_pages(tmp_path / "v.pdf")))
    assert "慢报告" not in text and "柳湾村" in text


def test_a_volume_docx_libreoffice_fails_on_says_so_not_that_libreoffice_is_missing(
        client, auth, libreoffice, monkeypatch):
    from pbforms import exports
    from tests.test_exports import finished_job, job_id_in
    from tests.test_print import every_report_filled
    round_ = Round.get()
    reports = every_report_filled(round_)
    slow = report_of("青泥村")
    slow.save_data({**slow.data, "reporter_name": "慢报告"}, User.get(User.unit == slow.unit), slow.version)
    monkeypatch.setattr(exports, "docx_to_pdf", failing_for("慢报告", preview.docx_to_pdf))
    auth.admin()

    started = client.post(f"/township/rounds/{round_.id}/volume", data={"scope": ""},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    done = finished_job(client, job_id_in(started.text))
    tree = parse(done.text)
    download = client.get(tree.xpath("//a[@download]")[0].get("href"))

    note = one(tree, "//p[@class='notice']").text_content()
    assert "目录的页码尚未填好（LibreOffice 未能排出这本汇编：LibreOffice 转换超过 60 秒未完成" in note
    assert "本机没有 LibreOffice" not in note and "更新域" in note
    assert f"（{len(reports)} 份报告）" in done.text  # the Word file holds every report
    assert "慢报告" in zipfile.ZipFile(io.BytesIO(download.data)).read("word/document.xml").decode()
