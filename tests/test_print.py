"""The document as it prints: the 预览 page (page images from LibreOffice, or
the document's paragraphs as HTML without it), the PDF download, the 汇编 of
a round (cover, 目录, every report on an odd page, one run of page numbers)
and the commands `report pdf` and `round compile`.

Every test runs without LibreOffice (conftest hides it) unless it asks for
the `libreoffice` fixture; CI installs LibreOffice, so those run there.
"""
import datetime
import io
import os
import re
import signal
import threading
import time
import zipfile

import lxml.html
import pytest
from lxml import etree

from pbforms import exports
from pbforms.documents import pdf as preview
from pbforms.documents import report_docx
from pbforms.models import Report, Round, Unit, User
from tests.fillpage import docx_paragraphs, one, parse, report_of
from tests.test_exports import finished_job, job_id_in
from tests.test_township import complete

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
LABELS = ("单位及职务：", "述职人姓名：", "成文日期：")


def township_report():
    return report_of("青泥镇")


def every_report_filled(round_):
    """Every unit's report of the demo round complete, each with its own
    figures; returns 青泥镇's part, the reports its office's 汇编 holds."""
    for report in Report.in_round(round_):
        if report.unit.kind != "township":
            complete(report, User.get(User.unit == report.unit))
    return list(Report.in_round(round_, Unit.get(Unit.name == "青泥镇")))


# --- the preview without LibreOffice --------------------------------------------------

@pytest.mark.parametrize("who", ["filler", "admin"])
def test_preview_without_libreoffice_is_the_documents_own_paragraphs_and_says_why(client, auth, who):
    auth.login("qingnizhen") if who == "filler" else auth.admin()
    report = township_report()

    page = client.get(f"/reports/{report.id}/preview")
    tree = parse(page.text)

    assert page.status_code == 200
    notice = one(tree, "//p[@class='notice']").text_content()
    assert "精确的页面预览" in notice and "需要 LibreOffice" in notice
    shown = [p.text_content() for p in tree.xpath("//article[contains(@class, 'document')]/p")]
    # Exactly the Word file's paragraphs, in order: title lines, name line, headings, body, signature.
    assert [p for p in shown if p.strip()] == docx_paragraphs(report_docx(report))
    assert not any(label in text for text in shown for label in LABELS)
    title = tree.xpath("//article/p")[0]
    assert "doc-align-center" in title.get("class") and "doc-font-title" in title.get("class")
    name_line, signature = tree.xpath("//article/p[contains(@class, 'doc-font-kai')]"), \
        tree.xpath("//article/p[contains(@class, 'doc-align-right')]")
    assert [p.text_content() for p in name_line] == ["青泥镇党委书记　王建华"]
    assert [p.text_content() for p in signature] == ["王建华", "2023年1月6日"]
    headings = [p.text_content() for p in tree.xpath("//article/p[contains(@class, 'doc-font-hei')]")]
    assert headings == ["一、履职情况", "二、存在问题", "三、下步打算"]
    assert not tree.xpath("//img[@class='page']") and "下载 PDF" not in page.text
    assert one(tree, "//a[@download]").text == "下载 Word"


def test_pdf_and_page_images_without_libreoffice_say_what_is_missing(client, auth):
    auth.login("qingnizhen")
    report = township_report()

    pdf = client.get(f"/reports/{report.id}/pdf")
    image = client.get(f"/reports/{report.id}/pages/{report.version}/1.png")

    assert pdf.status_code == 409 and "需要 LibreOffice" in pdf.text and "PBFORMS_SOFFICE" in pdf.text
    assert image.status_code == 409 and "需要 LibreOffice" in image.text


def test_without_a_chinese_font_libreoffice_is_not_used(monkeypatch, libreoffice):
    monkeypatch.setattr(preview, "cjk_font_present", lambda: False)
    assert "方框" in preview.availability()
    with pytest.raises(preview.ConverterError, match="没有中文字体"):
        preview.converter()


# --- the preview with LibreOffice ----------------------------------------------------

def page_images(html):
    return [img.get("src") for img in parse(html).xpath("//div[@class='pages']/img[@class='page']")]


def when_converted(client, url, seconds=120):
    """The page at `url` once its conversion has ended, asking again as its 正在生成 box does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        polled = client.get(url, headers={"HX-Request": "true"})
        if "HX-Refresh" in polled.headers or "HX-Redirect" in polled.headers:
            return client.get(url)
        assert "正在生成" in polled.text or "排队" in polled.text
        time.sleep(0.05)
    pytest.fail(f"{url} was not converted in {seconds} s")


@pytest.mark.parametrize("who", ["filler", "admin"])
def test_preview_shows_the_printed_pages_once_converted(client, auth, libreoffice, who, monkeypatch):
    auth.login("qingnizhen") if who == "filler" else auth.admin()
    report = township_report()
    conversions = []
    real = preview.docx_to_pdf
    monkeypatch.setattr(preview, "docx_to_pdf", lambda *a, **k: conversions.append(1) or real(*a, **k))

    waiting = parse(client.get(f"/reports/{report.id}/preview").text)
    first = when_converted(client, f"/reports/{report.id}/preview")
    again = client.get(f"/reports/{report.id}/preview")

    assert "正在生成页面预览" in one(waiting, "//p[@id='converting']").text_content()
    assert not waiting.xpath("//article") and not page_images(lxml.html.tostring(waiting).decode())
    images = page_images(first.text)
    assert len(images) == 6 and page_images(again.text) == images
    assert len(conversions) == 1  # an unchanged report is converted once
    png = client.get(images[0])
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert client.get(images[-1]).data.startswith(b"\x89PNG")
    assert client.get(images[0].replace("/6.png", "/7.png").replace("/1.png", "/7.png")).status_code == 404
    pdf = client.get(one(parse(first.text), "//a[text()='下载 PDF']").get("href"))
    assert pdf.mimetype == "application/pdf" and preview.pdf_page_count(pdf.data) == 6
    assert "filename*=UTF-8''" in pdf.headers["Content-Disposition"] and ".pdf" in pdf.headers["Content-Disposition"]
    # A change makes a new version: converted again, under new addresses.
    changed = Report.get_by_id(report.id)
    changed.save_data({**changed.data, "reporter_name": "李四"}, None, changed.version)
    newer = page_images(when_converted(client, f"/reports/{report.id}/preview").text)
    assert len(conversions) == 2 and newer[0] != images[0]
    assert client.get(images[0]).status_code == 404  # the old version's page is gone


def test_killing_the_converter_during_a_preview_is_a_clear_message_and_the_next_preview_works(
        app, client, auth, libreoffice):
    auth.login("qingnizhen")
    report = township_report()
    answers = {}

    def ask():
        answers["page"] = when_converted(client, f"/reports/{report.id}/preview")

    asking = threading.Thread(target=ask)
    asking.start()
    deadline = time.monotonic() + 60
    while not libreoffice.busy and time.monotonic() < deadline:
        time.sleep(0.002)
    assert libreoffice.busy, "the conversion never started"
    os.killpg(libreoffice.office.pid, signal.SIGKILL)  # the launcher and soffice.bin
    asking.join(60)

    tree = parse(answers["page"].text)
    assert answers["page"].status_code == 200
    assert "LibreOffice 在转换时意外退出，已重新启动，请重试" in one(tree, "//p[@class='notice']").text_content()
    assert tree.xpath("//article/p")  # the document is still shown, as HTML
    again = when_converted(client, f"/reports/{report.id}/preview")
    assert len(page_images(again.text)) == 6


def test_report_pdf_command_writes_the_pdf(app, tmp_path, libreoffice):
    out = tmp_path / "报告.pdf"
    result = app.test_cli_runner().invoke(args=["report", "pdf", "--report", str(township_report().id),
                                                "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and preview.pdf_page_count(out.read_bytes()) == 6


# --- the 汇编's structure (everywhere) -------------------------------------------------

def volume_docx(app, tmp_path, *args):
    """The 汇编 of 青泥镇's part of the demo round (the county's volume: tests/test_rollup.py)."""
    out = tmp_path / "汇编.docx"
    result = app.test_cli_runner().invoke(args=["round", "compile", "--round", str(Round.get().id),
                                                "-o", str(out), "--under", "青泥镇", *args])
    assert result.exit_code == 0, result.output
    return out.read_bytes(), result


def parts_of(docx):
    package = zipfile.ZipFile(io.BytesIO(docx))
    return {name: package.read(name) for name in package.namelist()}


def sections(body):
    """Each section's paragraphs and its w:sectPr, in order."""
    found, current = [], []
    for element in body:
        if element.tag == W + "sectPr":
            found.append((current, element))
            break
        current.append(element)
        sect = element.find(f"{W}pPr/{W}sectPr")
        if sect is not None:
            found.append((current, sect))
            current = []
    return found


def text_of(element):
    return "".join(t.text or "" for t in element.iter(W + "t"))


def test_the_volume_is_one_document_cover_toc_then_each_report_in_its_own_odd_page_section(app, tmp_path):
    reports = every_report_filled(Round.get())
    docx, result = volume_docx(app, tmp_path)
    parts = parts_of(docx)
    body = etree.fromstring(parts["word/document.xml"]).find(W + "body")
    found = sections(body)

    assert "目录的页码尚未填好" in result.output  # no LibreOffice here
    # cover | 目录 | 7 reports, each its own section (the last one's settings at the body's end).
    assert len(found) == 2 + len(reports) and found[-1][1].getparent() is body
    kinds = [s.find(W + "type").get(W + "val") for _, s in found]
    assert kinds == ["nextPage"] + ["oddPage"] * (len(reports) + 1)
    cover, cover_sect = found[0]
    assert not cover_sect.findall(W + "footerReference")  # no page number on the cover
    assert [text_of(p) for p in cover if text_of(p)] == ["2022年度抓基层党建工作述职", "报告汇编", "青泥镇",
                                                          exports.cn_date(datetime.date.today())]
    for _, sect in found[1:]:
        assert {r.get(W + "type") for r in sect.findall(W + "footerReference")} == {"default", "even"}
        assert sect.find(W + "pgMar").get(W + "top") == "2098"
        assert sect.find(W + "docGrid").get(W + "linePitch") == "579"
    # Each report section is that report's own document, in the board's unit order.
    titles = ["".join(r.report_type.title_lines(r.meta)) for r in reports]
    for (paragraphs, _), report in zip(found[2:], reports):
        own = docx_paragraphs(report_docx(report))
        assert [text_of(p) for p in paragraphs if text_of(p).strip()] == own
    # The 目录: one TOC field listing every title, linked to a bookmark on its report's first line.
    instructions = [t.text for t in body.iter(W + "instrText")]
    assert instructions[0].strip() == "TOC \\f \\h \\z"
    assert [i.strip() for i in instructions if i.strip().startswith("TC")] == [f'TC "{t}" \\l 1' for t in titles]
    entries = [p for p in found[1][0] if p.find(f"{W}pPr/{W}pStyle") is not None
               and p.find(f"{W}pPr/{W}pStyle").get(W + "val") == "TOC1"]
    assert [text_of(p.find(W + "hyperlink")) for p in entries] == titles  # no numbers yet: Word computes them
    anchors = [p.find(W + "hyperlink").get(W + "anchor") for p in entries]
    marks = [b.get(W + "name") for b in body.iter(W + "bookmarkStart")]
    assert marks == anchors
    first_lines = [next(p for p in paragraphs if text_of(p).strip()) for paragraphs, _ in found[2:]]
    assert [p.find(W + "bookmarkStart").get(W + "name") for p in first_lines] == anchors
    # Without the page numbers the field is marked for update, and Word is asked to update on opening.
    begin = body.iter(W + "fldChar").__next__()
    assert begin.get(W + "dirty") == "true"
    assert b'<w:updateFields w:val="true"/>' in parts["word/settings.xml"]
    assert b"<w:evenAndOddHeaders/>" in parts["word/settings.xml"]
    # One shared official style set, the volume's own styles added.
    styles = parts["word/styles.xml"].decode()
    for style in ("ReportTitle", "ReportBody", "VolumeCoverTitle", "TOC1"):
        assert f'w:styleId="{style}"' in styles


def test_the_volume_takes_the_chosen_statuses_in_board_order(app, tmp_path):
    every_report_filled(Round.get())
    for name in ("柳湾村", "青泥村"):
        report = report_of(name)
        report.change_status("submitted", User.get(User.unit == report.unit), "submit")

    docx, _ = volume_docx(app, tmp_path, "--status", "submitted,approved")
    body = etree.fromstring(parts_of(docx)["word/document.xml"]).find(W + "body")

    tcs = [t.text.strip() for t in body.iter(W + "instrText") if t.text.strip().startswith("TC")]
    assert [re.search(r"年度(.+?)党", tc).group(1) for tc in tcs] == ["青泥村", "柳湾村"]


def test_compile_commands_say_what_is_missing_without_libreoffice(app, tmp_path):
    runner = app.test_cli_runner()
    pdf = runner.invoke(args=["round", "compile", "--round", str(Round.get().id), "-o", str(tmp_path / "a.pdf")])
    report_pdf = runner.invoke(args=["report", "pdf", "--report", str(township_report().id),
                                     "-o", str(tmp_path / "b.pdf")])
    wrong = runner.invoke(args=["round", "compile", "--round", str(Round.get().id), "-o", str(tmp_path / "c.txt")])

    for result in (pdf, report_pdf):
        assert result.exit_code != 0
        assert "无法生成 PDF：需要 LibreOffice，本机未找到" in result.output
    assert wrong.exit_code != 0 and "应以 .docx 或 .pdf 结尾" in wrong.output
    assert not any(tmp_path.glob("*.pdf"))


def test_board_offers_the_volume_and_its_job_says_the_toc_awaits_word(client, auth):
    reports = every_report_filled(Round.get())
    auth.admin()
    round_ = Round.get()

    board = parse(client.get(f"/township/rounds/{round_.id}").text)
    form = one(board, "//form[contains(@action, '/volume')]")
    assert [b.text for b in form.xpath(".//button")] == ["汇编 Word"]  # no PDF without LibreOffice
    assert "本机没有可用的 LibreOffice" in form.text_content()
    started = client.post(f"/township/rounds/{round_.id}/volume", data={"scope": "", "format": "docx"},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    done = finished_job(client, job_id_in(started.text))
    link = lxml.html.fromstring(done.text).xpath("//a[@download]")[0]
    download = client.get(link.get("href"))

    assert link.text == "2022年度抓基层党建工作述职汇编（全部）.docx"
    assert "目录的页码尚未填好" in done.text and "更新域" in done.text
    assert download.mimetype == exports.DOCX
    titles = ["".join(r.report_type.title_lines(r.meta)) for r in reports]
    own = [p for r in reports for p in docx_paragraphs(report_docx(r))]
    assert docx_paragraphs(download.data) == [
        "2022年度抓基层党建工作述职", "报告汇编", "青泥镇", exports.cn_date(datetime.date.today()), "目\u3000\u3000录",
        *[f"{t}\t" for t in titles], *own]


# --- the 汇编 laid out by LibreOffice ----------------------------------------------------

def pdf_pages(pdf_bytes, tmp_path):
    path = tmp_path / "volume.pdf"
    path.write_bytes(pdf_bytes)
    return preview.pdf_text_pages(path)


FOOTER = re.compile(r"^\s*—\s*(\d+)\s*—\s*$")


def test_the_volume_laid_out_by_libreoffice_has_its_toc_numbers_right_and_every_report_on_an_odd_page(
        app, tmp_path, libreoffice):
    reports = every_report_filled(Round.get())
    docx, result = volume_docx(app, tmp_path)
    assert "目录的页码尚未填好" not in result.output
    pages = pdf_pages(preview.docx_to_pdf(docx), tmp_path)
    body = etree.fromstring(parts_of(docx)["word/document.xml"]).find(W + "body")

    # The 目录's shown numbers, as Word and WPS show them without updating the field.
    entries = [p.find(W + "hyperlink") for p in body.iter(W + "p") if p.find(W + "hyperlink") is not None]
    assert [text_of(h.find(W + "r")) for h in entries] == ["".join(r.report_type.title_lines(r.meta)) for r in reports]
    shown = [int(h.findall(f".//{W}t")[-1].text) for h in entries]
    assert body.iter(W + "fldChar").__next__().get(W + "dirty") is None
    # Where the titles really are.
    squeezed = [re.sub(r"\s+", "", page) for page in pages]
    starts = []
    for report in reports:
        first_line = report.report_type.title_lines(report.meta)[0]
        starts.append(next(i + 1 for i, page in enumerate(squeezed)
                           if i + 1 > 3 and page.startswith(first_line) and (not starts or i + 1 > starts[-1])))
    assert shown == starts
    assert all(n % 2 == 1 for n in starts), starts
    # Footers: — N — on every page but the cover and the blank pages, N running through.
    for number, page in enumerate(pages, start=1):
        lines = [line for line in page.splitlines() if line.strip()]
        if number == 1 or not lines:
            assert number == 1 or not page.strip()  # a blank page: not even a page number
            continue
        footer = FOOTER.match(lines[-1])
        assert footer and int(footer.group(1)) == number, (number, lines[-1])
    blanks = [n for n, page in enumerate(pages, start=1) if not page.strip()]
    assert all(n % 2 == 0 for n in blanks) and 2 in blanks
    # A full body page keeps the official grid: 22 lines of 28 characters
    # (a half-width digit is half a character), most lines full.
    body_page = [line.strip() for line in pages[starts[0]].splitlines() if line.strip()][:-1]
    assert len(body_page) == 22
    widths = [sum(0.5 if ord(c) < 128 else 1 for c in re.sub(r"\s", "", line)) for line in body_page]
    assert max(widths) <= 28 and sum(w >= 27.5 for w in widths) >= 12, widths


def test_the_volume_as_pdf_from_the_board(client, auth, libreoffice):
    every_report_filled(Round.get())
    auth.admin()
    round_ = Round.get()

    board = parse(client.get(f"/township/rounds/{round_.id}").text)
    assert [b.text for b in board.xpath("//form[contains(@action, '/volume')]//button")] == ["汇编 Word", "汇编 PDF"]
    started = client.post(f"/township/rounds/{round_.id}/volume", data={"scope": "approved", "format": "pdf"},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    done = finished_job(client, job_id_in(started.text))
    download = client.get(lxml.html.fromstring(done.text).xpath("//a[@download]")[0].get("href"))

    assert download.mimetype == "application/pdf" and download.data.startswith(b"%PDF")
    # No report approved: the cover and an empty 目录 (cover, its blank back, 目录).
    assert preview.pdf_page_count(download.data) == 3
    assert "目录的页码尚未填好" not in done.text


def gone(process_group, seconds=10):
    """Whether every process of the group has ended (killed ones may linger a moment as zombies)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(process_group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_conversion_that_hangs_is_stopped_and_the_office_restarted(app, libreoffice):
    docx = report_docx(township_report())
    preview.docx_to_pdf(docx)  # warm
    office = libreoffice.office.pid

    with pytest.raises(preview.ConverterError, match="超过 0 秒未完成，已停止"):
        preview.docx_to_pdf(docx, seconds=0.001)

    assert preview.pdf_page_count(preview.docx_to_pdf(docx)) == 6
    assert libreoffice.office.pid != office
    assert gone(office)  # the old office, soffice.bin included


def test_the_office_is_restarted_after_so_many_conversions(app, libreoffice, monkeypatch):
    monkeypatch.setattr(preview, "RESTART_AFTER", 2)
    docx = report_docx(township_report())
    libreoffice.stop()  # counting from a fresh office
    offices = []
    for _ in range(3):
        preview.docx_to_pdf(docx)
        offices.append(libreoffice.office.pid)
    assert offices[0] == offices[1] != offices[2]


def test_a_report_in_an_offices_own_template_keeps_its_styles_in_the_volume():
    from docx.enum.style import WD_STYLE_TYPE

    from pbforms.documents import type_document
    from pbforms.documents.uploaded import uploaded_document
    from pbforms.documents.volume import Part, Volume, report_part
    from tests.test_uploaded_template import GOOD, META, SEED, demo_data, word_file

    def quote_style(doc):
        style = doc.styles.add_style("Office Quote", WD_STYLE_TYPE.PARAGRAPH)
        style.font.bold = True
        doc.paragraphs[2].style = style  # the opening paragraphs

    data = {**demo_data(), "reporter_name": "张三"}
    official, official_context = type_document(SEED, data, META)
    uploaded, uploaded_context = uploaded_document(word_file(GOOD, quote_style), SEED, data, META)
    parts = [Part("甲", "甲", official, report_part(official, official_context, "甲", 1), 1),
             Part("乙", "乙", uploaded, report_part(uploaded, uploaded_context, "乙", 2), 2)]

    package = parts_of(Volume("轮次", "青泥镇", "2023年1月6日", parts, official).docx(dirty=True))
    body = etree.fromstring(package["word/document.xml"]).find(W + "body")
    styles = etree.fromstring(package["word/styles.xml"])

    used = {s.get(W + "val") for s in body.iter(W + "pStyle")}
    defined = [s.get(W + "styleId") for s in styles.iter(W + "style")]
    assert "OfficeQuote" in used and defined.count("OfficeQuote") == 1
    assert used <= set(defined)
    assert len(defined) == len(set(defined))


def test_without_pdftoppm_the_preview_offers_the_pdf_beside_the_documents_paragraphs(client, auth, libreoffice,
                                                                                   monkeypatch):
    from pbforms import fill
    monkeypatch.setattr(fill, "pdftoppm_path", lambda: None)
    auth.login("qingnizhen")
    report = township_report()

    tree = parse(when_converted(client, f"/reports/{report.id}/preview").text)

    assert "pdftoppm" in one(tree, "//p[@class='notice']").text_content()
    assert not tree.xpath("//img[@class='page']")
    assert [p.text_content() for p in tree.xpath("//article/p") if p.text_content().strip()] == \
        docx_paragraphs(report_docx(report))
    pdf = client.get(one(tree, "//a[text()='下载 PDF']").get("href"))
    assert pdf.data.startswith(b"%PDF")
