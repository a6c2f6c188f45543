"""The 整改台账 (issue 22): entries made when a report is approved, worked on
by the unit, closed by the office, exported, and carried into next year's report."""
import datetime
import io
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from pbforms import demo
from pbforms.documents import report_docx
from pbforms.forms import builtin_definition
from pbforms.forms.sheet import SheetRefused, read_sheet, write_sheet
from pbforms.ledger.models import LedgerEntry
from pbforms.models import Report, ReportTypeRecord, Round, Unit, User
from tests.conftest import demo_types
from tests.official_format import format_problems

from .fillpage import parse
from .test_township import htmx, report_of
from .test_types_page import editor_form, save, village_type

CHECKER = Path("/work/shared/tools/check_official_format.py")
PROBLEMS = [{"heading": "理论学习不够深入", "text": "学习形式单一。"},
            {"heading": "带动发展能力不强", "text": ""},
            {"heading": "", "text": "阵地建设有短板，活动室设施老旧。"}]


def submitted_with_problems(unit_name="青泥村", problems=PROBLEMS):
    """The unit's demo report filled in (the type's model text, figures 1, 2, 3 …) with `problems`, submitted."""
    report = report_of(unit_name)
    filler = User.get(User.unit == report.unit)
    report_type = report.report_type
    data = {**report.data, **report_type.model_data(report.meta)}
    data.update({f.key: n for n, f in enumerate(report_type.counts, start=1)})
    data.update({f.key: "2023-01-06" for f in report_type.fields if f.kind == "date"})
    data.update(reporter_name="张三", problems=problems)
    report.save_data(data, filler, report.version)
    report.change_status("submitted", filler, "submit")
    return report


def approve(client, auth, report):
    auth.admin()
    response = client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})
    assert response.status_code == 303
    auth.logout()


def entries_of(unit_name):
    return list(LedgerEntry.select().join(Unit).where(Unit.name == unit_name).order_by(LedgerEntry.id))


def test_approving_a_report_makes_one_entry_per_problem(client, auth):
    report = submitted_with_problems()

    approve(client, auth, report)

    entries = entries_of("青泥村")
    assert [e.problem for e in entries] == ["理论学习不够深入", "带动发展能力不强", "阵地建设有短板，活动室设施老旧。"]
    assert {e.status for e in entries} == {"open"} and {e.round_id for e in entries} == {report.round_id}


def test_approving_again_after_a_reopen_makes_no_second_entry(client, auth):
    report = submitted_with_problems()
    approve(client, auth, report)
    admin = User.by_username(demo.ADMIN[0])
    report = Report.get_by_id(report.id)
    report.send_back(admin, "", {}, "reopen")
    report.change_status("submitted", admin, "submit")

    approve(client, auth, report)

    assert len(entries_of("青泥村")) == 3


def test_a_report_of_a_type_without_a_problems_field_makes_no_entry(client, auth):
    report = submitted_with_problems()
    data = report.report_type.definition
    for s in data["sections"]:
        for f in s["fields"]:
            f.pop("ledger", None)
    version, _ = ReportTypeRecord.get_by_id(report.report_type.type_id).save_version(data)
    Report.update(type_version=version.id).where(Report.id == report.id).execute()

    approve(client, auth, Report.get_by_id(report.id))

    assert entries_of("青泥村") == []


def ledger_export(app, round_id, path):
    result = app.test_cli_runner().invoke(args=["ledger", "export", "--round", str(round_id), "-o", str(path)])
    assert result.exit_code == 0, result.output
    return result


def test_done_when_three_problems_two_completed_one_closed(app, client, auth, tmp_path):
    """Issue 22's first Done-when."""
    report = submitted_with_problems()
    approve(client, auth, report)
    first, second, third = entries_of("青泥村")

    auth.login("qingnicun")
    token = auth.csrf_token()
    saved = client.post(f"/ledger/entries/{first.id}", headers=htmx(token),
                        data={"measures": "每月集中学习一次", "owner": "李四", "due": "2023-06-30"})
    assert saved.status_code == 200 and "已保存" in saved.text and "HX-Request" in saved.headers["Vary"]
    for entry, result in ((first, "已建立每月学习制度。"), (second, "引进合作社一家。")):
        done = client.post(f"/ledger/entries/{entry.id}/done", data={"csrf_token": token, "result": result})
        assert done.status_code == 303
    auth.logout()
    auth.admin()
    closed = client.post(f"/ledger/entries/{first.id}/close", data={"csrf_token": auth.csrf_token()})
    assert closed.status_code == 303

    ledger_export(app, report.round_id, tmp_path / "台账.xlsx")

    sheet = load_workbook(tmp_path / "台账.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("序号", "单位", "问题", "整改措施", "责任人", "完成时限", "完成情况", "状态")
    assert [(r[0], r[1], r[2], r[7]) for r in rows[1:]] == [
        (1, "青泥村", "理论学习不够深入", "已销号"), (2, "青泥村", "带动发展能力不强", "已完成"),
        (3, "青泥村", "阵地建设有短板，活动室设施老旧。", "整改中")]
    assert rows[1][3:7] == ("每月集中学习一次", "李四", "2023-06-30", "已建立每月学习制度。")
    assert sheet.title == report.round.title


def test_done_when_next_years_report_starts_from_the_ledger(app, client, auth, tmp_path):
    """Issue 22's second Done-when: the 3 problems with their 完成情况, and a document that passes every check."""
    report = submitted_with_problems()
    approve(client, auth, report)
    first, second, _ = entries_of("青泥村")
    first.change(None, "done", status="done", result="已建立每月学习制度。")
    second.change(None, "done", status="done", result="引进合作社一家。")

    next_round = Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    following = report_of("青泥村", next_round)

    assert following.data["last_year_problems"] == [
        {"heading": "理论学习不够深入", "text": "已建立每月学习制度。"},
        {"heading": "带动发展能力不强", "text": "引进合作社一家。"},
        {"heading": "阵地建设有短板，活动室设施老旧。", "text": ""}]
    path = tmp_path / "报告.docx"
    path.write_bytes(report_docx(following))
    assert format_problems(path.read_bytes()) == []
    if CHECKER.exists():
        checked = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
    text = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert "上年度问题整改情况" in text and "一是理论学习不够深入。已建立每月学习制度。" in text


def test_a_report_with_nothing_to_carry_prints_no_empty_section(app):
    report = report_of("青泥镇")
    text = "\n".join(p.text for p in Document(io.BytesIO(report_docx(report))).paragraphs)
    assert "上年度问题整改情况" not in text and "三、下步打算" in text


# --- the 整改 column of the 字段表 and the editor --------------------------------

def sheet_with(label, kind, ledger):
    """The village type's 字段表 with one more row (分组 存在问题) whose 整改 is `ledger`."""
    wb = load_workbook(io.BytesIO(write_sheet(builtin_definition("village_report"))))
    ws = wb["字段"]
    headers = [c.value for c in ws[1]]
    row = ws.max_row + 1
    for header, value in {"分组": "存在问题", "项目名称": label, "类型": kind, "必填": "否", "整改": ledger}.items():
        ws.cell(row=row, column=headers.index(header) + 1, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
def test_the_sheet_says_which_field_feeds_the_ledger_and_which_is_fed(stem):
    wb = load_workbook(io.BytesIO(write_sheet(builtin_definition(stem))))
    ws = wb["字段"]
    column = [c.value for c in ws[1]].index("整改")
    marked = {row[1].value: row[column].value for row in ws.iter_rows(min_row=2) if row[column].value}
    assert marked["存在问题"] == "是" and marked["上年度问题整改情况"] == "上年" and marked["下步打算"] == "否"
    assert "党员总数" not in marked  # a figure has no 整改


@pytest.mark.parametrize("kind, ledger, role", [("条目", "是", "problems"), ("条目", "上年", "last_year"),
                                                ("条目", "否", None), ("条目", "", None)])
def test_a_sheets_整改_cell_is_read_into_the_field(kind, ledger, role):
    definition = read_sheet(sheet_with("其他问题", kind, ledger), builtin_definition("village_report"))
    field = next(f for s in definition["sections"] for f in s["fields"] if f["label"] == "其他问题")
    assert field.get("ledger") == role


@pytest.mark.parametrize("kind, ledger, message", [
    ("多段文字", "是", "只有「条目」类型可以填写整改"),
    ("条目", "对", "整改应为 是、否 或 上年，不是「对」"),
])
def test_a_bad_整改_cell_is_refused_naming_its_cell(kind, ledger, message):
    with pytest.raises(SheetRefused) as refused:
        read_sheet(sheet_with("其他问题", kind, ledger), builtin_definition("village_report"))
    assert any("「整改」列" in m and message in m for m in refused.value.messages), refused.value.messages


def test_the_editor_sets_整改_and_the_sheet_shows_it(client, auth):
    auth.county()
    record = village_type()
    page = client.get(f"/township/types/{record.id}").text
    assert parse(page).xpath("//select[@name='ledger-problems']/option[@selected]/@value") == ["是"]
    form = editor_form(page)
    form.update({"ledger-problems": ["否"], "ledger-plans": ["是"]})

    assert save(client, record, form).status_code == 303

    newest = record.newest()
    assert (newest.by_key["problems"].ledger, newest.by_key["plans"].ledger) == (None, "problems")
    sheet = load_workbook(io.BytesIO(client.get(f"/township/types/{record.id}/sheet.xlsx").data))["字段"]
    column = [c.value for c in sheet[1]].index("整改")
    assert {row[1].value: row[column].value for row in sheet.iter_rows(min_row=2)}["下步打算"] == "是"


def test_the_editor_refuses_a_bad_整改_beside_the_field(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["ledger-problems"] = ["对"]
    response = save(client, record, form)
    assert response.status_code == 422
    assert "整改应为 是、否 或 上年" in parse(response.text).get_element_by_id("error-ledger-problems").text_content()


# --- the pages -----------------------------------------------------------------

@pytest.fixture
def approved(client, auth):
    """青泥村's and 柳湾村's reports approved with the three problems each."""
    for unit in ("青泥村", "柳湾村"):
        approve(client, auth, submitted_with_problems(unit))
    return entries_of("青泥村")


def problems_listed(page):
    return [" ".join(h.text_content().split()) for h in parse(page).xpath("//section[@class='ledger-entry' or "
                                                                           "@class='ledger-entry overdue']/h2")]


def test_a_unit_sees_only_its_own_entries(client, auth, approved):
    auth.login("qingnicun")
    page = client.get("/ledger/").text
    assert problems_listed(page) == [e.problem for e in approved]
    assert "柳湾村" not in page
    other = entries_of("柳湾村")[0]
    assert client.get(f"/ledger/entries/{other.id}").status_code == 404
    assert client.post(f"/ledger/entries/{other.id}", data={"csrf_token": auth.csrf_token(),
                                                            "measures": "越权"}).status_code == 404
    assert LedgerEntry.get_by_id(other.id).measures == ""


@pytest.mark.parametrize("query, units, count", [
    ("", {"青泥村", "柳湾村"}, 6), ("?unit={qingnicun}", {"青泥村"}, 3), ("?status=done", {"青泥村"}, 1),
    ("?status=open&unit={liuwancun}", {"柳湾村"}, 3), ("?overdue=1", {"柳湾村"}, 1), ("?status=closed", set(), 0),
])
def test_the_office_sees_every_entry_below_it_filtered(client, auth, approved, query, units, count):
    approved[0].change(None, "done", status="done", result="已整改。")
    late = entries_of("柳湾村")[1]
    late.change(None, "edit", due=datetime.date.today() - datetime.timedelta(days=1))
    ids = {u.name: u.id for u in Unit.select()}
    auth.admin()
    page = client.get("/ledger/" + query.format(qingnicun=ids["青泥村"], liuwancun=ids["柳湾村"])).text
    sections = parse(page).xpath("//section[starts-with(@class, 'ledger-entry')]")
    assert len(sections) == count
    assert {s.xpath("string(p[1])").split("·")[0].strip() for s in sections} == units


def test_autosave_keeps_good_inputs_and_says_why_a_bad_one_is_refused(client, auth, approved):
    auth.login("qingnicun")
    entry = approved[0]
    response = client.post(f"/ledger/entries/{entry.id}", headers=htmx(auth.csrf_token()),
                           data={"measures": "每月学习", "owner": "李四", "due": "明年六月"})
    assert response.status_code == 422
    assert "完成时限应为日期" in parse(response.text).get_element_by_id(f"error-due-{entry.id}").text_content()
    stored = LedgerEntry.get_by_id(entry.id)
    assert (stored.measures, stored.owner, stored.due) == ("每月学习", "李四", None)


def test_marking_done_needs_what_was_done(client, auth, approved):
    auth.login("qingnicun")
    entry = approved[0]
    response = client.post(f"/ledger/entries/{entry.id}/done", data={"csrf_token": auth.csrf_token(),
                                                                     "measures": "每月学习", "result": "  "})
    assert response.status_code == 422
    error = parse(response.text).get_element_by_id(f"error-result-{entry.id}").text_content()
    assert "标记完成前请填写完成情况" in error
    assert parse(response.text).get_element_by_id(f"measures-{entry.id}").text_content() == "每月学习"
    assert LedgerEntry.get_by_id(entry.id).status == "open"


def test_the_office_returns_a_completed_entry_with_its_comment_and_the_unit_sees_it(client, auth, approved):
    entry = approved[0]
    entry.change(None, "done", status="done", result="已整改。")
    auth.admin()
    token = auth.csrf_token()
    refused = client.post(f"/ledger/entries/{entry.id}/return", data={"csrf_token": token, "comment": ""})
    assert refused.status_code == 422
    assert "请填写退回意见" in parse(refused.text).get_element_by_id(f"error-comment-{entry.id}").text_content()
    assert client.post(f"/ledger/entries/{entry.id}/return",
                       data={"csrf_token": token, "comment": "整改不到位，请补充佐证。"}).status_code == 303
    assert LedgerEntry.get_by_id(entry.id).status == "open"
    auth.logout()
    auth.login("qingnicun")
    assert "党建办退回意见：整改不到位，请补充佐证。" in client.get("/ledger/").text
    history = parse(client.get(f"/ledger/entries/{entry.id}").text)
    assert [" ".join(td.text_content().split()) for td in history.xpath("//tbody/tr/td[3]")] == [
        "列入台账", "标记完成", "退回"]


def test_only_a_completed_entry_is_closed(client, auth, approved):
    auth.admin()
    response = client.post(f"/ledger/entries/{approved[0].id}/close", data={"csrf_token": auth.csrf_token()},
                           follow_redirects=True)
    assert "只有已完成的事项才能销号或退回" in response.text
    assert LedgerEntry.get_by_id(approved[0].id).status == "open"


def test_the_office_adds_an_entry_from_a_review_comment(client, auth):
    report = submitted_with_problems()
    auth.admin()
    token = auth.csrf_token()
    client.post(f"/township/reports/{report.id}/return", data={"csrf_token": token, "comment": "党员发展工作滞后。"})
    page = parse(client.get(f"/township/reports/{report.id}").text)
    assert page.xpath("//section[@id='ledger']//input[@name='problem']/@value") == ["党员发展工作滞后。"]
    response = client.post(f"/ledger/from-report/{report.id}", data={"csrf_token": token, "problem": "党员发展工作滞后。"})
    assert response.status_code == 303
    assert [e.problem for e in entries_of("青泥村")] == ["党员发展工作滞后。"]
    empty = client.post(f"/ledger/from-report/{report.id}", data={"csrf_token": token, "problem": " "},
                        follow_redirects=True)
    assert "请填写问题" in empty.text and len(entries_of("青泥村")) == 1


def test_the_board_shows_open_and_overdue_entries_per_unit(client, auth, approved):
    approved[0].change(None, "edit", due=datetime.date.today() - datetime.timedelta(days=3))
    approved[1].change(None, "done", status="done", result="已整改。")
    auth.admin()
    page = client.get(f"/township/rounds/{approved[0].round_id}").text
    rows = {r.xpath("string(td[1])").strip(): " ".join(r.xpath("string(td[@class='ledger-count'])").split())
            for r in parse(page).xpath("//table[contains(@class, 'board')]/tbody/tr[@id]")}
    assert rows["青泥村"] == "2 项整改中，1 项逾期" and rows["柳湾村"] == "3 项整改中" and rows["石桥村"] == "—"


def test_submitting_with_an_unfinished_entry_and_no_text_asks_first(client, auth, approved):
    next_round = Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    report = report_of("青泥村", next_round)
    filler = User.by_username("qingnicun")
    report_type = report.report_type
    data = {**report.data, **{k: v for k, v in report_type.model_data(report.meta).items()
                              if k != "last_year_problems"}}
    data.update({f.key: n for n, f in enumerate(report_type.counts, start=1)})
    data.update(written_on="2024-01-06", reporter_name="张三")
    report.save_data(data, filler, report.version)
    auth.login("qingnicun")
    token = auth.csrf_token()
    report = Report.get_by_id(report.id)

    asked = client.post(f"/reports/{report.id}/submit", data={"csrf_token": token, "version": report.version})

    assert asked.status_code == 200 and "还有整改事项没有写整改情况" in asked.text
    assert [li.text_content() for li in parse(asked.text).xpath("//ul[@class='ledger-unexplained']/li")] == [
        e.problem for e in approved]
    assert Report.get_by_id(report.id).status == "draft"
    confirmed = client.post(f"/reports/{report.id}/submit", data={"csrf_token": token, "version": report.version,
                                                                   "ledger_confirmed": "1"})
    assert confirmed.status_code == 303 and Report.get_by_id(report.id).status == "submitted"


# --- outputs and commands ---------------------------------------------------------

def test_the_xlsx_has_a_sheet_per_round_and_the_word_document_passes_the_checks(client, auth, approved, tmp_path):
    later = Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    LedgerEntry.create(unit=approved[0].unit_id, round=later, problem="=HYPERLINK(\"x\")")
    auth.admin()
    response = client.get("/ledger/export.xlsx")
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == ["2022年度抓基层党建工作述职", "2023年度抓基层党建工作述职"]
    assert wb["2023年度抓基层党建工作述职"]["C2"].data_type == "s"  # text, never a formula

    docx = client.get(f"/ledger/export.docx?round={approved[0].round_id}")
    assert docx.status_code == 200 and format_problems(docx.data) == []
    text = [p.text for p in Document(io.BytesIO(docx.data)).paragraphs if p.text.strip()]
    assert "一、青泥村" in text and "二、柳湾村" in text
    assert any(p.startswith("一是理论学习不够深入。整改措施：未填写") for p in text)


@pytest.mark.parametrize("args, lines", [
    ([], 6), (["--unit", "青泥村"], 3), (["--status", "done"], 1), (["--unit", "柳湾村", "--status", "done"], 0),
])
def test_ledger_list(app, approved, args, lines):
    approved[0].change(None, "done", status="done", result="已整改。")
    result = app.test_cli_runner().invoke(args=["ledger", "list", *args])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == lines


@pytest.mark.parametrize("args, message", [
    (["ledger", "list", "--unit", "无此村"], "找不到单位「无此村」"),
    (["ledger", "export", "--round", "999", "-o", "x.xlsx"], "找不到编号为 999 的填报轮次"),
    (["ledger", "export", "--round", "1", "-o", "x.pdf"], "输出文件应以 .xlsx 或 .docx 结尾"),
])
def test_ledger_commands_refuse_in_chinese(app, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0 and message in result.output


def test_ledger_export_docx_passes_the_shared_checker(app, client, auth, approved, tmp_path):
    path = tmp_path / "台账.docx"
    ledger_export(app, approved[0].round_id, path)
    assert format_problems(path.read_bytes()) == []
    if CHECKER.exists():
        checked = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_starting_from_last_years_report_keeps_what_the_ledger_carried(client, auth, approved):
    last = Report.get_by_id(report_of("青泥村").id)
    data = {**last.data, "last_year_problems": [{"heading": "前年的问题", "text": "前年的整改"}]}
    Report.update(data=data).where(Report.id == last.id).execute()  # as it had it from the year before
    next_round = Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    report = report_of("青泥村", next_round)
    auth.login("qingnicun")

    response = client.post(f"/reports/{report.id}/last-year", data={"csrf_token": auth.csrf_token(), "counts": "keep"})

    assert response.status_code == 303
    assert [i["heading"] for i in Report.get_by_id(report.id).data["last_year_problems"]] == [
        e.problem for e in approved]
