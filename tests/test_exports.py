"""Many reports at once: the zip of a round's Word documents (from the board,
with progress, and from the command line) and the summary of figures as
.xlsx and as a Word table."""
import datetime
import html
import io
import re
import time
import zipfile

import lxml.html
import pytest
from docx import Document
from openpyxl import load_workbook

from tests.conftest import demo_types
from pbforms import demo, exports
from pbforms.documents import report_filename
from pbforms.documents.pdf import docx_to_pdf, pdf_text_pages
from pbforms.forms import builtin_type
from pbforms.models import ExportChunk, ExportJob, Report, ReportTypeRecord, Round, Unit, User
from tests.fillpage import docx_paragraphs
from tests.test_township import REPORT_TYPE, put_in_state

VILLAGE_TYPE = builtin_type("village_report")

STATES = [("青泥村", "submitted"), ("柳湾村", "returned"), ("石桥村", "approved"), ("东坡村", "draft"),
          ("河西村", "approved")]


@pytest.fixture
def round_(app):
    """The demo round with every status: one figure differs per unit, so sums tell units apart."""
    for name, progress in STATES:
        put_in_state(name, progress)
    return Round.get()


def office():
    """青泥镇, whose office (`auth.admin()`) exports its own part of the county's round."""
    return User.by_username(demo.ADMIN[0]).unit


def names_of(round_, statuses):
    return {report_filename(r) for r in Report.in_round(round_, office()) if not statuses or r.status in statuses}


def job_id_in(html):
    return int(re.search(r"/township/exports/(\d+)", html).group(1))


def finished_job(client, job_id):
    """Polls the job as the page does until it has finished."""
    for _ in range(300):
        partial = client.get(f"/township/exports/{job_id}", headers={"HX-Request": "true"})
        if "正在生成" not in partial.text:
            return partial
        time.sleep(0.1)
    pytest.fail("the zip was not ready after 30 s")


# --- the zip ----------------------------------------------------------------

@pytest.mark.parametrize("scope, statuses", [("", []), ("submitted,approved", ["submitted", "approved"])])
def test_the_zip_holds_one_word_document_per_unit_with_its_chinese_name(client, auth, round_, scope, statuses):
    auth.admin()

    started = client.post(f"/township/rounds/{round_.id}/zip", data={"scope": scope},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    done = finished_job(client, job_id_in(started.text))
    link = lxml.html.fromstring(done.text).xpath("//a[@download]")[0]
    download = client.get(link.get("href"))
    archive = zipfile.ZipFile(io.BytesIO(download.data))

    assert download.mimetype == "application/zip"
    assert "UTF-8''" in download.headers["Content-Disposition"]
    assert set(archive.namelist()) == names_of(round_, statuses)
    assert len(archive.namelist()) == (7 if not statuses else 3)
    for entry in archive.infolist():
        assert entry.flag_bits & 0x800, f"{entry.filename}: no UTF-8 name flag, Explorer would garble it"
        paragraphs = docx_paragraphs(archive.read(entry))
        assert "".join(paragraphs[:2]) + ".docx" == entry.filename
    assert link.text == f"{round_.title}（{'全部' if not statuses else '已提交、已通过'}）.zip"


def test_a_finished_zip_tells_the_page_to_download_it(client, auth, round_):
    auth.admin()

    started = client.post(f"/township/rounds/{round_.id}/zip", headers={"X-CSRFToken": auth.csrf_token(),
                                                                         "HX-Request": "true"})
    job_id = job_id_in(started.text)
    done = finished_job(client, job_id)

    assert done.headers["HX-Trigger"] == f'{{"pbforms:download": "/township/exports/{job_id}/file"}}'
    assert "hx-trigger" not in done.text  # it stops polling


def make_job(round_, **columns):
    return ExportJob.create(**{"round": round_, "user": User.by_username(demo.ADMIN[0]), "total": 300, "filename": "x.zip",
                               **columns})


def test_a_running_zip_shows_its_progress_and_polls_it(client, auth, round_):
    job = make_job(round_, done=3)
    auth.admin()

    partial = client.get(f"/township/exports/{job.id}", headers={"HX-Request": "true"})
    page = client.get(f"/township/exports/{job.id}")

    box = lxml.html.fromstring(partial.text)
    assert box.get("hx-trigger") == "every 1s" and box.get("hx-get") == f"/township/exports/{job.id}"
    assert "正在生成 x.zip：3 / 300 份" in " ".join(box.text_content().split())
    assert box.xpath("//progress/@value") == ["3"] and "HX-Trigger" not in partial.headers
    assert '<meta http-equiv="refresh" content="2">' in page.text  # without scripts, the page reloads


@pytest.mark.parametrize("columns, message", [
    ({"updated_at": datetime.datetime.now() - datetime.timedelta(minutes=5)}, "生成已中断"),
    ({"state": "failed", "error": "磁盘已满"}, "生成失败：磁盘已满"),
])
def test_a_zip_that_stopped_says_so_and_stops_polling(client, auth, round_, columns, message):
    job = make_job(round_, **columns)
    auth.admin()

    partial = client.get(f"/township/exports/{job.id}", headers={"HX-Request": "true"})

    assert message in partial.text
    assert "hx-trigger" not in partial.text
    assert client.get(f"/township/exports/{job.id}/file").status_code == 404


def run_to_the_end(job, write):
    """What `exports.start_job`'s thread does, in this thread."""
    exports.run_job(job, write)
    return ExportJob.get_by_id(job.id)


def test_the_file_is_kept_in_the_database_in_chunks_and_downloads_whole(client, auth, round_, monkeypatch):
    """Nothing on this machine's disk: another app process (on another
    machine) can hand it out. A file of many chunks comes back byte for byte."""
    monkeypatch.setattr(ExportChunk, "SIZE", 10_000)
    job = make_job(round_, filename="全部.zip")

    job = run_to_the_end(job, exports.write_zip_of(job))
    chunks = [bytes(c.data) for c in ExportChunk.select().where(ExportChunk.job == job.id).order_by(ExportChunk.number)]
    auth.admin()
    download = client.get(f"/township/exports/{job.id}/file")

    assert job.state == "done" and job.done == 7 and job.size == sum(map(len, chunks))
    assert len(chunks) == -(-job.size // 10_000) > 10 and max(map(len, chunks)) == 10_000
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Length"] == str(job.size)
    assert download.headers["Content-Disposition"] == "attachment; filename=\"report.zip\"; filename*=UTF-8''%E5%85%A8%E9%83%A8.zip"
    assert download.data == b"".join(chunks)
    assert set(zipfile.ZipFile(io.BytesIO(download.data)).namelist()) == names_of(round_, [])


def test_an_export_of_another_kind_is_stored_and_downloaded_the_same_way(client, auth, round_):
    """The 汇编 (or any later kind) needs only a function that writes its file."""
    def write(path, progress):
        path.write_bytes("汇编".encode() * 1000)
        progress(1)
        return 1

    job = run_to_the_end(make_job(round_, filename="2022年度汇编.docx"), write)
    auth.admin()
    download = client.get(f"/township/exports/{job.id}/file")

    assert job.state == "done" and job.size == 6000
    assert download.mimetype == exports.DOCX
    assert download.data == "汇编".encode() * 1000


def test_an_export_that_fails_says_why_and_keeps_no_file(client, auth, round_):
    def write(path, progress):
        path.write_bytes(b"half")
        raise OSError("磁盘已满")

    job = run_to_the_end(make_job(round_), write)
    auth.admin()

    assert job.state == "failed" and job.error == "磁盘已满"
    assert ExportChunk.select().count() == 0
    assert client.get(f"/township/exports/{job.id}/file").status_code == 404


def test_jobs_older_than_a_day_go_with_their_files_when_an_export_starts(client, auth, round_):
    a_day_ago = datetime.datetime.now() - exports.KEEP_JOBS - datetime.timedelta(minutes=1)
    old = make_job(round_)
    run_to_the_end(old, exports.write_zip_of(old))
    ExportJob.update(created_at=a_day_ago).where(ExportJob.id == old.id).execute()

    def write(path, progress):
        path.write_bytes(b"recent")
        return 1

    recent = run_to_the_end(make_job(round_), write)
    auth.admin()

    started = client.post(f"/township/rounds/{round_.id}/zip", headers={"X-CSRFToken": auth.csrf_token(),
                                                                         "HX-Request": "true"})
    finished_job(client, job_id_in(started.text))

    assert client.get(f"/township/exports/{old.id}").status_code == 404
    assert client.get(f"/township/exports/{old.id}/file").status_code == 404
    assert ExportChunk.select().where(ExportChunk.job == old.id).count() == 0
    assert client.get(f"/township/exports/{recent.id}/file").data == b"recent"


def test_each_document_reaches_the_file_before_the_next_is_made(round_, tmp_path):
    """Streaming: once the first few are under way, the zip on disk grows by a
    document for each report read, so a round of 300 units never has its 300
    documents in memory together."""
    target = tmp_path / "round.zip"
    sizes = []

    def reports():
        for report in exports.one_by_one(exports.chosen_reports(round_, [], office())):
            sizes.append((target.parent / "round.zip.part").stat().st_size if sizes else 0)
            yield report

    count = exports.write_zip(reports(), target)

    assert count == 7 and len(zipfile.ZipFile(target).namelist()) == 7
    streaming = sizes[exports.UNDER_WAY:]
    assert len(streaming) == 7 - exports.UNDER_WAY
    assert all(later > earlier + 10_000 for earlier, later in zip(streaming, streaming[1:]))
    assert not (tmp_path / "round.zip.part").exists()


# --- the summary ------------------------------------------------------------

SCOPES = [("", None), ("submitted,approved", {"submitted", "approved"}), ("approved", {"approved"})]


def chosen(round_, statuses, kinds=("village", "community"), under=None):
    return [r for r in Report.in_round(round_, under or office())
            if (statuses is None or r.status in statuses) and r.unit.kind in kinds]


def type_id(stem):
    return ReportTypeRecord.by_builtin(stem).id


def with_figures(reports):
    """The reports 合计 counts: those with at least one figure filled."""
    return [r for r in reports if any(r.data.get(f.key) is not None for f in r.report_type.counts)]


def column_sum(sheet, cell):
    """The value of a totals cell, `=SUM(C2:C7)`, as a spreadsheet computes it;
    fails unless the range is exactly the cell's own column above it, from the first unit's row."""
    match = re.fullmatch(r"=SUM\(([A-Z]+)2:([A-Z]+)(\d+)\)", cell.value)
    assert match and match[1] == match[2] == cell.column_letter and int(match[3]) == cell.row - 1, cell.value
    return sum(c.value for (c,) in sheet.iter_rows(min_row=2, max_row=cell.row - 1, min_col=cell.column,
                                                    max_col=cell.column) if isinstance(c.value, (int, float)))


def village_summary(client, round_, extension, scope=""):
    return client.get(f"/township/rounds/{round_.id}/summary.{extension}?scope={scope}"
                      f"&type={type_id('village_report')}")


@pytest.mark.parametrize("scope, statuses", SCOPES)
def test_the_xlsx_totals_are_the_sums_of_the_chosen_reports(client, auth, round_, scope, statuses):
    auth.admin()

    response = village_summary(client, round_, "xlsx", scope)
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    reports = chosen(round_, statuses)

    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert rows[0] == ("单位", "状态", *[f"{f.label}（{f.unit}）" for f in VILLAGE_TYPE.counts])
    assert [row[0] for row in rows[1:-1]] == [r.unit.name for r in reports]
    assert rows[-1][0] == f"合计（{len(with_figures(reports))}个单位）"
    for i, f in enumerate(VILLAGE_TYPE.counts, start=2):
        figures = [r.data.get(f.key) for r in reports]
        assert [row[i] for row in rows[1:-1]] == figures
        total = sheet.cell(sheet.max_row, i + 1)
        assert total.data_type == "f"
        assert column_sum(sheet, total) == pytest.approx(sum(v for v in figures if v is not None))
        number = (int, float) if f.kind == "amount" else int
        assert all(isinstance(v, number) for v in filter(None, figures))
    assert sheet.freeze_panes == "B2"


def test_the_xlsx_writes_every_text_as_text_and_escapes_the_print_header(client, auth, round_):
    """A unit named like a formula stays a text cell; a round title with
    header codes (&P page number, &B bold) prints as typed."""
    hostile = ["=1+1", '=HYPERLINK("http://example.com","点我")', "+1", "-2+3", "@SUM(A1)"]
    for unit, name in zip(Unit.select().where(Unit.kind == "village").order_by(Unit.id), hostile):
        Unit.update(name=name).where(Unit.id == unit.id).execute()
    Round.update(title="2022&P&B年度").where(Round.id == round_.id).execute()
    auth.admin()

    response = village_summary(client, round_, "xlsx")

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = {cell.value: cell.data_type for cell in sheet["A"]}
    for name in hostile:
        assert cells[name] == "s", name
    assert all(cell.data_type != "f" for row in sheet.iter_rows(max_row=sheet.max_row - 1) for cell in row)
    totals = sheet[sheet.max_row]
    assert totals[0].data_type == "s" and totals[1].value is None
    assert all(cell.data_type == "f" for cell in totals[2:])  # the only formulas: the sums
    with zipfile.ZipFile(io.BytesIO(response.data)) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode()
    header = html.unescape(re.search(r"<oddHeader>([^<]*)</oddHeader>", xml).group(1))
    assert header.startswith("&C2022&&P&&B年度数字汇总")


def test_a_summary_covers_one_type_so_the_townships_figures_stay_out(client, auth, round_):
    auth.admin()
    recruited = 2 + [f.key for f in VILLAGE_TYPE.counts].index("members_recruited")

    villages = list(load_workbook(io.BytesIO(village_summary(client, round_, "xlsx").data)).active
                    .iter_rows(values_only=True))
    township = list(load_workbook(io.BytesIO(client.get(
        f"/township/rounds/{round_.id}/summary.xlsx?scope=&type={type_id('annual_report')}").data)).active
        .iter_rows(values_only=True))

    assert "青泥镇" not in [row[0] for row in villages]
    assert villages[-1][0] == "合计（5个单位）"  # 新华社区 has no figure yet
    # 发展党员 is a figure of both types: the villages' total leaves out the township's 16.
    assert villages[-1][recruited] == f"=SUM({chr(ord('A') + recruited)}2:{chr(ord('A') + recruited)}7)"
    assert [row[0] for row in township] == ["单位", "青泥镇", "合计（1个单位）"]
    assert township[0][2:] == tuple(f"{f.label}（{f.unit}）" for f in REPORT_TYPE.counts)


def test_an_amount_is_summed_exactly_to_its_places(client, auth, round_):
    incomes = {"青泥村": 0.1, "柳湾村": 0.2, "石桥村": 12.5, "东坡村": None, "河西村": None, "新华社区": None}
    for report in chosen(round_, None):
        # Straight into the row: the fixture's reports are handed in, which no save may change.
        Report.update(data={**report.data, "collective_income": incomes[report.unit.name]}).where(
            Report.id == report.id).execute()
    auth.admin()

    table = Document(io.BytesIO(village_summary(client, round_, "docx").data)).tables[0]
    column = 2 + [f.key for f in VILLAGE_TYPE.counts].index("collective_income")

    assert [row.cells[column].text for row in table.rows][1:4] == ["0.1", "0.2", "12.5"]
    assert table.rows[-1].cells[column].text == "12.8"


def test_an_empty_figure_stays_an_empty_cell(client, auth, round_):
    auth.admin()

    sheet = load_workbook(io.BytesIO(village_summary(client, round_, "xlsx").data)).active
    row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "东坡村")

    assert row[1] == "草稿"
    assert row[2 + [f.key for f in VILLAGE_TYPE.counts].index("deeds_for_people")] is None


@pytest.mark.parametrize("scope, statuses", SCOPES[:2])
def test_the_word_summary_is_a_landscape_table_with_the_totals(client, auth, round_, scope, statuses):
    auth.admin()

    response = village_summary(client, round_, "docx", scope)
    doc = Document(io.BytesIO(response.data))
    table = doc.tables[0]
    reports = chosen(round_, statuses)
    cells = [[c.text for c in row.cells] for row in table.rows]

    assert doc.sections[0].page_width > doc.sections[0].page_height
    assert doc.paragraphs[0].text == f"{round_.title}数字汇总表"
    assert doc.paragraphs[1].text.startswith(f"统计范围：{VILLAGE_TYPE.name}\n")
    assert cells[0] == ["单位", "状态", *[f"{f.label}\n（{f.unit}）" for f in VILLAGE_TYPE.counts]]
    assert [row[:2] for row in cells[1:-1]] == [[r.unit.name, r.status_label] for r in reports]
    assert cells[-1][0] == f"合计（{len(with_figures(reports))}个单位）"
    assert cells[-1][2:] == [f.as_text(f.total(r.data.get(f.key) for r in reports)) for f in VILLAGE_TYPE.counts]
    assert all(sum(c.width for c in row.cells) <= doc.sections[0].page_width for row in table.rows)
    assert "UTF-8''" in response.headers["Content-Disposition"]


def test_an_unfilled_figure_shows_as_a_dash_in_the_word_table(client, auth, round_):
    auth.admin()

    table = Document(io.BytesIO(village_summary(client, round_, "docx").data)).tables[0]
    row = next(r for r in table.rows if r.cells[0].text == "河西村")
    unfilled = next(r for r in table.rows if r.cells[0].text == "新华社区")

    assert row.cells[1].text == "已通过" and "—" not in [c.text for c in row.cells]
    assert [c.text for c in unfilled.cells[2:]] == ["—"] * len(VILLAGE_TYPE.counts)


# --- the command line ---------------------------------------------------------

def test_round_list_shows_each_round_with_its_progress(app, round_):
    Round.start("2023年度抓基层党建工作述职", 2023, demo_types(), datetime.date(2024, 1, 10))

    result = app.test_cli_runner().invoke(args=["round", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split("\t")[:5] == [str(round_.id + 1), "2023年度抓基层党建工作述职", "2023", "进行中",
                                        "截止 2024-01-10"]
    assert lines[1].split("\t")[5] == "共11个单位：已通过2，已提交1，已退回1，草稿2，未开始5"  # the whole county


def test_round_export_zip_writes_the_chosen_reports(app, round_, tmp_path):
    out = tmp_path / "交付.zip"

    result = app.test_cli_runner().invoke(args=["round", "export-zip", "--round", str(round_.id), "-o", str(out),
                                                "--status", "submitted,approved"])

    assert result.exit_code == 0, result.output
    assert f"已写入 {out}（3 份报告）" in result.output
    # The county's zip: a folder per township (tests/test_rollup.py).
    assert {n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(out).namelist()} == names_of(round_, ["submitted", "approved"])


WINDOWS_RESERVED = set('\\/:*?"<>|')
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}


def safe_on_windows_and_linux(name):
    stem = name.rsplit(".", 1)[0]
    return (not WINDOWS_RESERVED & set(name) and ".." not in name and name == name.rstrip(". ")
            and all(ord(c) >= 32 and c not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" for c in name)
            and stem.split(".")[0].upper() not in WINDOWS_DEVICES)


def test_every_zip_entry_name_is_safe_and_unique(app, round_, tmp_path):
    """Names that slipped in before the forms checked them (or through the
    database): separators, reserved characters, a device name, a direction
    override, and two units whose name and title make the same file name."""
    units = list(Unit.select().where(Unit.kind == "village").order_by(Unit.id))
    hostile = [("甲", "乙党支部书记"), ("甲乙", "党支部书记"), ("青泥", "/../../../pwn"), ("柳湾", "\\..\\Windows"),
               ("石桥", '"<>|?*:'), ("\u202e东坡", "CON")]
    for unit, (name, title) in zip(units + [None] * 6, hostile):
        if unit is None:
            unit = Unit.create(name=name, kind="village", secretary_title=title, position=50)
            round_.include(unit)
        else:
            Unit.update(name=name, secretary_title=title).where(Unit.id == unit.id).execute()
    reports = Report.in_round(round_).count()
    out = tmp_path / "hostile.zip"

    result = app.test_cli_runner().invoke(args=["round", "export-zip", "--round", str(round_.id), "-o", str(out)])

    assert result.exit_code == 0, result.output
    names = zipfile.ZipFile(out).namelist()  # the county's: a folder per township
    assert len(names) == reports == len({n.casefold() for n in names})
    assert [n for n in names if not all(safe_on_windows_and_linux(part) for part in n.split("/"))] == []
    files = [n.rsplit("/", 1)[-1] for n in names]
    assert "2022年度甲乙党支部书记抓基层党建工作述职报告.docx" in files
    assert "2022年度甲乙党支部书记抓基层党建工作述职报告（2）.docx" in files
    extracted = tmp_path / "extracted"
    zipfile.ZipFile(out).extractall(extracted)
    assert len([f for f in extracted.rglob("*") if f.is_file()]) == reports  # nothing overwritten, nothing outside
    assert all(extracted in f.resolve().parents for f in extracted.rglob("*"))


@pytest.mark.parametrize("extension", ["xlsx", "docx"])
def test_round_summary_writes_the_format_of_the_file_name(app, round_, tmp_path, extension):
    out = tmp_path / f"汇总.{extension}"

    result = app.test_cli_runner().invoke(args=["round", "summary", "--round", str(round_.id), "-o", str(out),
                                                "--type", str(type_id("village_report"))])

    assert result.exit_code == 0, result.output
    if extension == "xlsx":
        # The county's: a row per township (白石镇's three villages: no figures), then the total.
        assert [r[0].value for r in load_workbook(out).active.iter_rows(min_row=2)] == ["青泥镇", "白石镇", "合计（5个单位）"]
    else:
        assert Document(str(out)).tables[0].rows[-1].cells[0].text == "合计（5个单位）"


@pytest.mark.parametrize("given, message", [
    ([], "本轮有多种报告类型，汇总表一次只汇总一种，请用 --type 选择"),
    (["--type", "99"], "本轮没有编号为 99 的报告类型"),
])
def test_round_summary_of_a_round_of_several_types_needs_one(app, round_, tmp_path, given, message):
    out = tmp_path / "汇总.xlsx"

    result = app.test_cli_runner().invoke(args=["round", "summary", "--round", str(round_.id), "-o", str(out),
                                                *given])

    assert result.exit_code != 0
    assert message in result.output
    assert "村（社区）党组织书记抓基层党建工作述职报告（村、社区）" in result.output
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["round", "summary", "--round", "1", "-o", "汇总.pdf"], "输出文件应以 .xlsx 或 .docx 结尾"),
    (["round", "summary", "--round", "99", "-o", "汇总.xlsx"], "找不到编号为 99 的填报轮次"),
    (["round", "export-zip", "--round", "1", "-o", "x.zip", "--status", "done"], "未知的状态：done"),
])
def test_round_commands_explain_bad_arguments(app, tmp_path, monkeypatch, args, message):
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.chdir(folder)

    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code == 1
    assert message in result.output
    assert list(folder.iterdir()) == []


def test_a_done_job_without_its_file_answers_404_not_500(client, auth, round_):
    job = make_job(round_, state="done", size=1000)
    auth.admin()

    response = client.get(f"/township/exports/{job.id}/file")

    assert response.status_code == 404
    assert "找不到页面" in response.text


def test_the_exports_default_to_the_reports_handed_in_and_say_how_many_each_choice_holds(client, auth, round_):
    auth.admin()
    board = lxml.html.fromstring(client.get(f"/township/rounds/{round_.id}").text)
    for select_id in ("zip-scope", "volume-scope", "summary-scope"):
        options = board.xpath(f"//select[@id='{select_id}']/option")
        every_kind = ("township", "village", "community")  # the counts are the round's, every type
        handed_in = len(chosen(round_, {"submitted", "approved"}, every_kind))
        assert [(o.get("value"), o.text_content()) for o in options] == [
            ("submitted,approved", f"已提交和已通过的报告（{handed_in} 份）"),
            ("approved", f"已通过的报告（{len(chosen(round_, {'approved'}, every_kind))} 份）"),
            ("", f"全部报告（含草稿和未开始的）（{len(chosen(round_, None, every_kind))} 份）")]
    # Without a choice (an old bookmark), the summary holds only what was handed in.
    sheet = load_workbook(io.BytesIO(client.get(
        f"/township/rounds/{round_.id}/summary.xlsx?type={type_id('village_report')}").data)).active
    names = {r[0] for r in sheet.iter_rows(values_only=True)}
    assert "东坡村" not in names  # a draft
    assert {r.unit.name for r in chosen(round_, {"submitted", "approved"})} <= names
def test_the_board_asks_which_type_a_summary_covers(client, auth, round_):
    auth.admin()

    form = lxml.html.fromstring(client.get(f"/township/rounds/{round_.id}").text).xpath(
        "//form[select[@name='type']]")[0]
    options = {o.text_content(): o.get("value") for o in form.xpath(".//select[@name='type']/option")}

    assert options == {"乡镇的报告": str(type_id("annual_report")), "村、社区的报告": str(type_id("village_report"))}
    assert form.action.endswith("/summary.xlsx")


def test_the_board_proposes_the_summary_of_the_type_most_reports_follow(client, auth, round_):
    """The township's own type holds one report: its summary would be one row, the villages' six."""
    auth.admin()
    select = lxml.html.fromstring(client.get(f"/township/rounds/{round_.id}").text).get_element_by_id("summary-type")
    assert select.value == str(type_id("village_report"))


def test_a_summary_of_units_without_figures_counts_none_of_them(client, auth, app):
    auth.admin()
    round_ = Round.get()  # the demo's: no village has typed a figure yet
    sheet = load_workbook(io.BytesIO(village_summary(client, round_, "xlsx").data)).active
    assert sheet.cell(sheet.max_row, 1).value == "合计（0个单位）"
    assert [row[0] for row in sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1, values_only=True)] == [
        "青泥村", "柳湾村", "石桥村", "东坡村", "河西村", "新华社区"]


def test_a_corrected_figure_in_the_xlsx_corrects_its_total(client, auth, round_):
    auth.admin()
    sheet = load_workbook(io.BytesIO(village_summary(client, round_, "xlsx").data)).active
    column = 3 + [f.key for f in VILLAGE_TYPE.counts].index("members_recruited")
    before = column_sum(sheet, sheet.cell(sheet.max_row, column))
    sheet.cell(2, column).value += 10
    assert column_sum(sheet, sheet.cell(sheet.max_row, column)) == before + 10


def line_width(text):
    """A line's width in the note's font size: a Chinese character or full-width sign is 1, a digit ½."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1 for ch in text)


def test_the_word_summarys_subtitle_lines_each_fit_the_page(client, auth, round_):
    """The subtitle (16 pt) names the type, the scope and the date; it breaks
    where the text says, never leaving a character or two alone on a line."""
    auth.admin()
    doc = Document(io.BytesIO(village_summary(client, round_, "docx", exports.DEFAULT_SCOPE).data))
    section, note = doc.sections[0], doc.paragraphs[1]
    characters_per_line = (section.page_width - section.left_margin - section.right_margin) / note.style.font.size
    lines = note.text.split("\n")
    assert lines[-1].endswith(f"截至{datetime.date.today().year}年{datetime.date.today().month}月"
                              f"{datetime.date.today().day}日")
    assert all(line_width(line) <= characters_per_line for line in lines), (lines, characters_per_line)


def test_the_word_summarys_subtitle_keeps_its_date_on_one_line_in_print(client, auth, round_, libreoffice, tmp_path):
    auth.admin()
    path = tmp_path / "summary.pdf"
    path.write_bytes(docx_to_pdf(village_summary(client, round_, "docx", exports.DEFAULT_SCOPE).data))
    first_page = pdf_text_pages(path)[0]
    today = datetime.date.today()
    assert re.search(rf"截至 ?{today.year} ?年 ?{today.month} ?月 ?{today.day} ?日", first_page), first_page[:400]
