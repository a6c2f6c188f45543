"""`type export` / `type import`, and a type made in Excel carried all the
way: a new round, a report filled through `report import`, its Word file."""
import json
import re

import pytest
from openpyxl import load_workbook

from pbforms.models import Report, ReportTypeRecord, TypeVersion, Unit
from tests.fillpage import docx_paragraphs
from tests.official_format import format_problems

NEW_NAME = "村党支部书记述职报告（含主题党日活动）"


def run_in(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=[str(a) for a in args])


def add_row(path, *values):
    wb = load_workbook(path)
    ws = wb["字段"]
    row = next(r for r in range(2, ws.max_row + 2) if all(c.value is None for c in ws[r]))
    for col, value in enumerate(values, start=1):
        ws.cell(row=row, column=col, value=value)
    wb.save(path)


def filled(report_type):
    """A value for every field, as a clerk would write them."""
    sample = {
        "count": 6, "amount": 12.5, "text": "李明", "date": "2024-01-06",
        "paragraphs": "一年来，在镇党委的坚强领导下，我认真履行抓基层党建第一责任人职责，支部各项工作稳步推进，现报告如下：",
        "items": [{"heading": "抓学习教育", "text": "坚持“三会一课”制度，组织党员集中学习，引导党员干部及时跟进学习党的创新理论，党员政治素养稳步提升。"}],
    }
    return {f.key: sample[f.kind] for f in report_type.fields}


def test_a_type_exported_changed_in_excel_and_imported_serves_a_new_round(app, client, auth, tmp_path):
    run = run_in(app)
    village = ReportTypeRecord.by_builtin("village_report")
    township = ReportTypeRecord.by_builtin("annual_report")
    sheet = tmp_path / "village.xlsx"
    exported = run("type", "export", "--type", village.id, "-o", sheet)
    assert exported.exit_code == 0, exported.output
    add_row(sheet, "履职情况", "主题党日活动", "数字", "次")

    imported = run("type", "import", sheet, "--name", NEW_NAME)
    assert imported.exit_code == 0, imported.output
    type_id = int(imported.stdout.strip())
    record = ReportTypeRecord.get_by_id(type_id)
    assert record.name == NEW_NAME and record.newest().version == 1

    opened = run("round", "open", "--title", "2023年度村党支部书记述职", "--year", "2023",
                 "--type", f"township={township.id}", "--type", f"village={type_id}", "--type", f"community={type_id}")
    assert opened.exit_code == 0, opened.output
    report = (Report.select().join(Unit)
              .where((Report.round == int(opened.stdout.strip())) & (Unit.name == "青泥村")).get())
    report_type = report.report_type
    assert report_type.type_id == type_id
    theme_days = next(f for f in report_type.fields if f.label == "主题党日活动")
    data = filled(report_type) | {theme_days.key: 9}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run("report", "import", "--report", report.id, path)
    assert result.exit_code == 0, result.output

    auth.admin()
    response = client.get(f"/reports/{report.id}/docx")
    assert response.status_code == 200
    text = "\n".join(docx_paragraphs(response.data))
    assert re.search(r"主题党日活动\D{0,3}9\s*次", text), text
    assert format_problems(response.data) == []


def test_a_new_version_keeps_keys_and_is_the_type_named(app, tmp_path):
    run = run_in(app)
    village = ReportTypeRecord.by_builtin("village_report")
    sheet = tmp_path / "village.xlsx"
    run("type", "export", "--type", village.id, "-o", sheet)
    add_row(sheet, "履职情况", "主题党日活动", "数字", "次")
    result = run("type", "import", sheet, "--name", village.name)
    assert result.exit_code == 0, result.output
    assert int(result.stdout.strip()) == village.id
    assert "第 2 版" in result.stderr
    newest = village.newest()
    assert newest.version == 2
    first = TypeVersion.get(TypeVersion.report_type == village, TypeVersion.number == 1).as_report_type()
    assert set(first.by_key) < set(newest.by_key)


def test_a_bad_sheet_is_refused_with_its_messages_and_stores_nothing(app, tmp_path):
    run = run_in(app)
    village = ReportTypeRecord.by_builtin("village_report")
    sheet = tmp_path / "village.xlsx"
    run("type", "export", "--type", village.id, "-o", sheet)
    add_row(sheet, "履职情况", "党员总数", "数目", "次", "可能")
    before = ReportTypeRecord.select().count()
    result = run("type", "import", sheet, "--name", "新类型")
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"工作表「字段」第 \d+ 行「项目名称」列（B 列）：项目名称「党员总数」与第 \d+ 行重复。", line)
               for line in lines), lines
    assert any("「类型」列（C 列）：类型「数目」不存在" in line for line in lines)
    assert any("「必填」列（E 列）：必填应为 是 或 否，不是「可能」。" in line for line in lines)
    assert "字段表有 3 处问题，未保存任何内容" in result.stderr
    assert ReportTypeRecord.select().count() == before


def test_export_of_an_unknown_type_fails_in_chinese(app, tmp_path):
    result = run_in(app)("type", "export", "--type", 999999, "-o", tmp_path / "x.xlsx")
    assert result.exit_code != 0
    assert "找不到编号为 999999 的报告类型" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
def test_a_type_exported_and_imported_under_a_new_name_is_the_same_type(app, tmp_path, stem):
    run = run_in(app)
    original = ReportTypeRecord.by_builtin(stem).newest()
    sheet = tmp_path / "type.xlsx"
    assert run("type", "export", "--type", original.type_id, "-o", sheet).exit_code == 0

    imported = run("type", "import", sheet, "--name", "另一个名称")

    copy = ReportTypeRecord.get_by_id(int(imported.stdout.strip())).newest()
    assert [(f.label, {k: v for k, v in f.spec.items() if k != "key"}) for f in copy.fields] == [
        (f.label, {k: v for k, v in f.spec.items() if k != "key"}) for f in original.fields]
    assert [s["title"] for s in copy.sections] == [s["title"] for s in original.sections]
    assert (copy.title, copy.name) == (original.title, "另一个名称")
