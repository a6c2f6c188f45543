"""The 整改台账 (issue 22): entries made when a report is approved, worked on
by the unit, closed by the office, exported, and carried into next year's report."""
import io
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pbforms import demo
from pbforms.documents import report_docx
from pbforms.ledger.models import LedgerEntry
from pbforms.models import Report, Round, Unit, User
from tests.conftest import demo_types
from tests.official_format import format_problems

from .fillpage import parse
from .test_township import htmx, report_of

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
    record = report.report_type
    from pbforms.models import ReportTypeRecord
    version, _ = ReportTypeRecord.get_by_id(record.type_id).save_version(data)
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
    text = "\n".join(p.text for p in __import__("docx").Document(str(path)).paragraphs)
    assert "上年度问题整改情况" in text and "一是理论学习不够深入。已建立每月学习制度。" in text


def test_a_report_with_nothing_to_carry_prints_no_empty_section(app):
    report = report_of("青泥镇")
    text = "\n".join(p.text for p in __import__("docx").Document(io.BytesIO(report_docx(report))).paragraphs)
    assert "上年度问题整改情况" not in text and "三、下步打算" in text


# --- the 整改 column of the 字段表 and the editor --------------------------------

from pbforms.forms import builtin_definition  # noqa: E402
from pbforms.forms.sheet import SheetRefused, read_sheet, write_sheet  # noqa: E402

from .test_types_page import editor_form, save, village_type  # noqa: E402


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
    auth.admin()
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
    auth.admin()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["ledger-problems"] = ["对"]
    response = save(client, record, form)
    assert response.status_code == 422
    assert "整改应为 是、否 或 上年" in parse(response.text).get_element_by_id("error-ledger-problems").text_content()
