"""从 Word 导入 of files made to hurt: each refused with a message, quickly
and within a bounded memory, before python-docx builds its tree of them;
files that are odd but within a report's size are read, each table cell once.

The bombs are built here: a document.xml written by hand inside a .docx
that python-docx made (so every other part is as Word expects).
"""
import io
import os
import resource
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from docx import Document

from pbforms.text import views, word_import

from .fillpage import parse, report_of
from .test_word_import import TOWNSHIP, stored, township, upload  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
P = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"


def with_parts(body="", **parts):
    """A .docx whose body is `body` (XML) and whose other parts are `parts` (name: bytes)."""
    out = io.BytesIO()
    Document().save(out)
    result = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, \
            zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                xml = data.decode()
                start = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:start] + body + xml[start:]).encode()
            dst.writestr(info.filename, parts.pop(info.filename, data))
        for name, data in parts.items():
            dst.writestr(name, data)
    return result.getvalue()


def paragraphs(texts):
    return "".join(P.format(escape(t)) for t in texts)


def cell(content, properties=""):
    return f"<w:tc><w:tcPr>{properties}</w:tcPr>{content}</w:tc>"


def table(rows):
    return "<w:tbl>" + "".join(f"<w:tr>{''.join(row)}</w:tr>" for row in rows) + "</w:tbl>"


def wide_cell(span):
    return table([[cell(P.format("一"), f'<w:gridSpan w:val="{span}"/>')]])


def merged_down(rows, text="一"):
    first = cell(P.format(text), '<w:vMerge w:val="restart"/>')
    return table([[first]] + [[cell("<w:p/>", "<w:vMerge/>")]] * (rows - 1))


def styles_bomb(count):
    styles = "".join(f'<w:style w:type="paragraph" w:styleId="s{n}"><w:name w:val="s{n}"/></w:style>'
                     for n in range(count))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">{styles}</w:styles>'
            ).encode()


DOCTYPE_FONTS = (b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w:fonts [<!ENTITY a "aaaaaaaaaa">]>'
                 b'<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>')

# (id, the .docx, what the message names)
BOMBS = [
    ("gridSpan of two billion columns", lambda: with_parts(wide_cell(2_000_000_000)), "表格的一格横跨 2000000000 列"),
    ("a cell merged down 1,500 rows", lambda: with_parts(merged_down(1500)), "表格行超过 1,000 个"),
    ("200,000 paragraphs", lambda: with_parts(P.format("一是加强。") * 200_000), "段落超过 5,000 个"),
    ("a table of 30,000 cells", lambda: with_parts(table([[cell("")] * 60] * 500)), "表格单元格超过 20,000 个"),
    ("400,001 characters", lambda: with_parts(paragraphs(["党" * 100_001] * 4)), "字数超过 400,000"),
    ("100,000 styles", lambda: with_parts(P.format("一"), **{"word/styles.xml": styles_bomb(100_000)}), "样式超过 2,000 个"),
    ("500,000 empty elements", lambda: with_parts("<w:p>" + "<w:r/>" * 500_000 + "</w:p>"), "标记超过 400,000 个"),
    ("a zip bomb: 150 MB of zeros", lambda: with_parts(P.format("一"), **{"word/media/image1.png": bytes(150 << 20)}),
     "解压后超过 100 MB"),
    ("20 MB of XML", lambda: with_parts(P.format("一"), **{"customXml/item1.xml": b"<a>" + b" " * (20 << 20) + b"</a>"}),
     "文字和格式部分解压后超过 16 MB"),
    ("a DOCTYPE in fontTable.xml", lambda: with_parts(P.format("一"), **{"word/fontTable.xml": DOCTYPE_FONTS}),
     "文件中含有 DOCTYPE 声明"),
]
BOMB_IDS = [b[0] for b in BOMBS]


@pytest.mark.parametrize("make, message", [b[1:] for b in BOMBS], ids=BOMB_IDS)
def test_a_bomb_is_refused_before_it_is_read(make, message):
    with pytest.raises(word_import.Unreadable) as refused:
        word_import.read_lines(make())
    assert message in str(refused.value)


@pytest.mark.parametrize("make, message", [b[1:] for b in BOMBS[:3]], ids=BOMB_IDS[:3])
def test_the_page_refuses_a_bomb_with_its_message_next_to_the_file(township, client, make, message):  # noqa: F811
    before = stored(township.report_id)

    response = upload(client, township, make())

    assert response.status_code == 422
    assert message in parse(response.text).get_element_by_id("file-error").text_content()
    after = stored(township.report_id)
    assert (after.version, after.data) == (before.version, before.data)


def limited_to_one_gigabyte():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("make, message", [b[1:] for b in BOMBS[:3]], ids=BOMB_IDS[:3])
def test_the_command_refuses_each_bomb_in_under_ten_seconds_within_one_gigabyte(app, database_url, tmp_path,
                                                                                make, message):
    report = report_of(TOWNSHIP)
    path = tmp_path / "bomb.docx"
    path.write_bytes(make())
    env = {**os.environ, "PBFORMS_DATABASE_URL": database_url, "PBFORMS_INSTANCE": str(tmp_path),
           "PBFORMS_SECRET_KEY": "test"}

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "report", "import-docx",
                           "--report", str(report.id), str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, preexec_fn=limited_to_one_gigabyte)
    took = time.monotonic() - started

    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert took < 10, f"{took:.1f} s"
    assert stored(report.id).version == report.version


def test_a_cell_merged_down_a_thousand_rows_is_read_once_and_quickly():
    content = with_parts(paragraphs(["一、履职情况"]) + merged_down(1000, "一是加强政治建设。") + paragraphs(["王建华"]))

    started = time.monotonic()
    lines = word_import.read_lines(content)

    assert time.monotonic() - started < 10  # the bound; main: RecursionError after 80 s
    assert [line.text for line in lines] == ["一、履职情况", "一是加强政治建设。", "王建华"]


@pytest.mark.parametrize("layout", ["spanning two columns", "merged down two rows", "both"])
def test_a_merged_table_cell_gives_its_text_once(layout):
    props = {"spanning two columns": '<w:gridSpan w:val="2"/>', "merged down two rows": '<w:vMerge w:val="restart"/>',
             "both": '<w:gridSpan w:val="2"/><w:vMerge w:val="restart"/>'}[layout]
    below = {"spanning two columns": [cell(P.format("乙")), cell(P.format("丙"))],
             "merged down two rows": [cell("<w:p/>", "<w:vMerge/>"), cell(P.format("丙"))],
             "both": [cell("<w:p/>", '<w:gridSpan w:val="2"/><w:vMerge/>')]}[layout]
    merged = cell(P.format("甲：一是加强政治建设。"), props)
    rows = [[merged] + ([] if "spanning" in layout or layout == "both" else [cell(P.format("乙"))]), below]
    content = with_parts('<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>'
                         + "".join(f"<w:tr>{''.join(r)}</w:tr>" for r in rows) + "</w:tbl>")

    texts = [line.text for line in word_import.read_lines(content)]

    assert texts.count("甲：一是加强政治建设。") == 1
    assert all(line.in_table for line in word_import.read_lines(content))


def test_one_user_reads_one_file_at_a_time(township, client, app, auth, monkeypatch):  # noqa: F811
    """While one upload of a user is being read, another of theirs is refused
    at once with a message; when the first is done, the next is read."""
    reading, release = threading.Event(), threading.Event()
    real = word_import.import_docx

    def slow(*args, **kwargs):
        reading.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(word_import, "import_docx", slow)
    good = with_parts(paragraphs(["一、履职情况", "一是加强政治建设。"]))
    other = app.test_client()
    first = {}
    worker = threading.Thread(target=lambda: first.setdefault("response", upload(client, township, good)))
    worker.start()
    try:
        assert reading.wait(30)
        from .conftest import Auth
        Auth(other).login("qingnizhen")
        second = upload(other, township, good)
        assert second.status_code == 429
        assert "另一个文件还在读取中" in parse(second.text).get_element_by_id("file-error").text_content()
    finally:
        release.set()
        worker.join(30)
    assert first["response"].status_code == 200
    monkeypatch.setattr(word_import, "import_docx", real)
    assert upload(other, township, good).status_code == 200
    assert views._importing == set()
