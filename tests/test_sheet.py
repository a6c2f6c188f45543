"""The 字段表 (.xlsx) in and out: what the office sees in Excel, what comes
back, and every refusal with the message that names the bad cell."""
import io
import re
import time
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from pbforms.forms import ReportType, builtin_definition
from pbforms.forms.kinds import Invalid
from pbforms.forms.sheet import SheetRefused, read_sheet, write_sheet

DEFINITION = {
    "name": "测试述职报告",
    "title": "【年度】【单位】【职务】\n抓基层党建工作述职报告",
    "sections": [
        {"title": "述职人", "fields": [
            {"key": "reporter_name", "kind": "text", "label": "述职人姓名", "required": True, "max_length": 30,
             "hint": "印在标题下方"},
        ]},
        {"title": "履职情况", "fields": [
            {"key": "members", "kind": "count", "label": "党员总数", "unit": "名", "required": True},
            {"key": "income", "kind": "amount", "label": "村集体经济收入", "unit": "万元", "required": False,
             "decimals": 1, "min": 0},
            {"key": "duties", "kind": "items", "label": "履职情况", "required": True, "item_label": "方面",
             "default": [{"heading": "", "text": ""}],
             "model_text": [{"heading": "抓理论学习", "text": "全年召开支部党员大会⟦党员总数⟧次。\n第二段"},
                            {"heading": "抓阵地建设", "text": ""}]},
        ]},
        {"title": "存在问题", "fields": [
            {"key": "problems", "kind": "paragraphs", "label": "存在问题", "required": True,
             "hint": "每行一段", "model_text": "【单位】在【年度】还存在以下问题：一是……"},
        ]},
        {"title": "落款", "fields": [
            {"key": "signed_on", "kind": "date", "label": "成文日期", "required": True},
        ]},
    ],
}


def workbook(raw):
    return load_workbook(io.BytesIO(raw))


def saved(wb):
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def edited(change, definition=DEFINITION):
    """The exported sheet with `change(workbook)` done to it, as Excel would save it."""
    wb = workbook(write_sheet(definition))
    change(wb)
    return saved(wb)


def refusal(raw, previous=DEFINITION):
    with pytest.raises(SheetRefused) as caught:
        read_sheet(raw, previous)
    return caught.value.messages


def fields_of(definition):
    return [f for s in definition["sections"] for f in s["fields"]]


def append_row(wb, *values):
    """Type into the first empty row, as a person in Excel does."""
    ws = wb["字段"]
    row = next(r for r in range(2, ws.max_row + 2) if all(c.value is None for c in ws[r]))
    for col, value in enumerate(values, start=1):
        ws.cell(row=row, column=col, value=value)


# --- out and back ---------------------------------------------------------------

def test_round_trip_keeps_every_field_and_key():
    back = read_sheet(write_sheet(DEFINITION), DEFINITION)
    assert back["name"] == "测试述职报告"
    assert back["title"] == "【年度】【单位】【职务】\n抓基层党建工作述职报告"
    assert [s["title"] for s in back["sections"]] == ["述职人", "履职情况", "存在问题", "落款"]
    assert fields_of(back) == [dict(f) for f in fields_of(DEFINITION)]


def test_exported_sheet_reads_well_in_excel():
    wb = workbook(write_sheet(DEFINITION))
    assert wb.sheetnames == ["字段", "报告", "说明"]
    ws = wb["字段"]
    assert [c.value for c in ws[1]] == ["分组", "项目名称", "类型", "单位", "必填", "说明", "参考范文", "最小值", "最大值",
                                        "小数位数", "字数上限", "默认内容", "条目名称", "条目上限", "连成一段", "汇总各村",
                                        "写打算", "整改"]
    assert all(c.font.bold for c in ws[1])
    assert ws.column_dimensions["G"].width >= 40
    assert [c.value for c in ws[3]][:5] == ["履职情况", "党员总数", "数字", "名", "是"]
    assert ws["H4"].value == 0  # 村集体经济收入's 最小值
    assert ws["G5"].value == "一是抓理论学习\n全年召开支部党员大会⟦党员总数⟧次。\n第二段\n\n二是抓阵地建设"
    # Rows with several lines of 参考范文 are as tall as a few of them, the rest one line.
    assert ws.row_dimensions[5].height == 5 * 15 and ws.row_dimensions[3].height is None
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in ws.data_validations.dataValidation}
    assert lists == {"C2": '"数字,小数,单行文字,多段文字,条目,日期"', "E2": '"是,否"', "R2": '"是,否,上年"'}
    assert [ws[f"{c}5"].value for c in "JKLMNOP"] == [None, None, "一是", "方面", None, None, None]  # 履职情况's options
    report = wb["报告"]
    assert (report["A1"].value, report["B1"].value) == ("名称", "测试述职报告")
    assert report["A2"].value == "标题"
    assert "参考范文" in [row[0].value for row in wb["说明"].iter_rows()]


def test_text_that_looks_like_a_formula_is_exported_as_text():
    definition = {**DEFINITION, "sections": [{"title": "=HYPERLINK(\"http://x\")", "fields": [
        {"key": "a", "kind": "paragraphs", "label": "+1", "required": False, "hint": "-2+3", "model_text": "=1+2"},
        {"key": "b", "kind": "text", "label": "@SUM(A1)", "required": False},
    ]}]}
    raw = write_sheet(definition)
    ws = workbook(raw)["字段"]
    for ref in ("A2", "B2", "F2", "G2", "B3"):
        assert ws[ref].data_type == "s", ref
        assert ws[ref].quotePrefix, ref
    assert fields_of(read_sheet(raw, definition)) == fields_of(definition)


def test_a_new_row_joins_its_group_with_a_new_key_never_used_before():
    def add(wb):
        append_row(wb, "履职情况", "主题党日活动", "数字", "次")
    back = read_sheet(edited(add), DEFINITION, used_keys={"f_old"})
    duties = back["sections"][1]
    assert [f["label"] for f in duties["fields"]] == ["党员总数", "村集体经济收入", "履职情况", "主题党日活动"]
    new = duties["fields"][-1]
    assert new["kind"] == "count" and new["unit"] == "次" and new["required"] is False
    assert new["key"].startswith("f_") and new["key"] not in {f["key"] for f in fields_of(DEFINITION)} | {"f_old"}
    # The same sheet imported again as the next version keeps that key.
    again = {f["label"]: f["key"] for f in fields_of(read_sheet(edited(add), back))}
    assert again["主题党日活动"] == new["key"]


def test_a_group_written_without_its_ordinal_joins_the_numbered_section():
    numbered = {**DEFINITION, "sections": [{**s, "title": "一、" + s["title"]} if s["title"] == "履职情况" else s
                                           for s in DEFINITION["sections"]]}
    back = read_sheet(edited(lambda wb: append_row(wb, "履职情况", "主题党日活动", "数字", "次"), numbered), numbered)
    assert [s["title"] for s in back["sections"]] == ["述职人", "一、履职情况", "存在问题", "落款"]
    assert back["sections"][1]["fields"][-1]["label"] == "主题党日活动"


def test_moved_rows_keep_keys_and_an_empty_group_continues_the_one_above():
    def reorder(wb):  # in a sheet exported before the columns from 最小值 on existed
        ws = wb["字段"]
        ws.delete_cols(8, 20)
        ws.delete_rows(2, ws.max_row)
        for row in (["落款", "成文日期", "日期", "", "是"], ["", "党员总数", "数字", "名", "否"],
                    ["述职人", "述职人姓名", "单行文字", "", "是"]):
            ws.append(row)
    back = read_sheet(edited(reorder), DEFINITION)
    assert [(s["title"], [f["key"] for f in s["fields"]]) for s in back["sections"]] == [
        ("落款", ["signed_on", "members"]), ("述职人", ["reporter_name"])]
    assert back["sections"][0]["fields"][1]["required"] is False
    # Options the sheet does not show are kept with the field.
    assert back["sections"][1]["fields"][0]["max_length"] == 30


def test_a_changed_kind_keeps_the_key_but_not_the_old_kinds_options():
    def change(wb):
        wb["字段"]["C4"] = "数字"  # 村集体经济收入: 小数 -> 数字, its 小数位数 cleared
        wb["字段"]["J4"] = None
    income = fields_of(read_sheet(edited(change), DEFINITION))[2]
    assert income["key"] == "income" and income["kind"] == "count" and "decimals" not in income


def test_a_changed_kind_with_the_old_kinds_option_still_filled_is_refused():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("C4", "数字"))) == [
        "工作表「字段」第 4 行「小数位数」列（J 列）：只有「小数」类型可以填写小数位数。"]


# --- refusals: one message per bad cell, naming sheet, row and column ------------

def test_not_an_xlsx_file():
    message = "文件不是 Excel 工作簿（.xlsx）。请用 Excel 或 WPS 打开字段表，另存为“Excel 工作簿（*.xlsx）”后再上传。"
    assert refusal(b"PK\x03\x04 not really a zip") == [message]
    assert refusal("分组,项目名称\n".encode()) == [message]
    assert refusal(b"") == ["文件是空的。"]


def test_a_kind_that_does_not_exist():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("C3", "数目"))) == [
        "工作表「字段」第 3 行「类型」列（C 列）：类型「数目」不存在，应为 数字、小数、单行文字、多段文字、条目、日期 之一。"]


def test_a_duplicate_name():
    assert refusal(edited(lambda wb: append_row(wb, "落款", "党员总数", "数字", "名"))) == [
        "工作表「字段」第 8 行「项目名称」列（B 列）：项目名称「党员总数」与第 3 行重复。"]


def test_an_empty_name():
    assert refusal(edited(lambda wb: append_row(wb, "落款", None, "数字", "名"))) == [
        "工作表「字段」第 8 行「项目名称」列（B 列）：项目名称不能为空。"]


def test_required_that_is_not_yes_or_no():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("E2", "必须"))) == [
        "工作表「字段」第 2 行「必填」列（E 列）：必填应为 是 或 否，不是「必须」。"]


def test_a_minimum_above_the_maximum():
    def bounds(wb):
        wb["字段"]["H3"], wb["字段"]["I3"] = 10, 5
    assert refusal(edited(bounds)) == ["工作表「字段」第 3 行「最小值」列（H 列）：最小值 10 大于最大值 5。"]


def test_bounds_that_are_not_numbers_or_on_a_text_field():
    def bounds(wb):
        wb["字段"]["H3"], wb["字段"]["I2"] = "十", 5
    assert refusal(edited(bounds)) == [
        "工作表「字段」第 2 行「最大值」列（I 列）：只有「数字」「小数」类型可以填写最大值。",
        "工作表「字段」第 3 行「最小值」列（H 列）：应为数字。"]


def test_a_missing_header():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("C1", "种类"))) == [
        "工作表「字段」第 1 行：第 1 行缺少列「类型」（列名应为：分组 | 项目名称 | 类型 | 单位 | 必填 | 说明 | 参考范文）。"]


def test_a_missing_title_or_name():
    def blank(wb):
        wb["报告"]["B1"] = None
        wb["报告"].delete_rows(2)
    assert refusal(edited(blank)) == ["工作表「报告」第 1 行「名称」列（B 列）：名称不能为空。",
                                      "工作表「报告」：缺少「标题」行（A 列写“标题”，B 列写内容）。"]


def test_missing_sheets():
    wb = Workbook()
    wb.active.title = "Sheet1"
    assert refusal(saved(wb)) == ["缺少工作表「报告」（其中两行：名称、标题）。", "缺少工作表「字段」（每行一个填报项目）。"]


def test_a_label_a_reference_cannot_name():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("B3", "党员⟦总数⟧"))) == [
        "工作表「字段」第 3 行「项目名称」列（B 列）：项目名称不能含有 ⟦ ⟧ 符号。"]


def test_a_sheet_without_fields():
    assert refusal(edited(lambda wb: wb["字段"].delete_rows(2, 20))) == [
        "工作表「字段」：没有任何填报项目：请在第 2 行起每行写一个项目。"]


def test_every_bad_cell_is_named_at_once_and_nothing_is_returned():
    def spoil(wb):
        ws = wb["字段"]
        ws["C2"], ws["E3"], ws["B4"] = "文本", "Y", ""
    messages = refusal(edited(spoil))
    assert [m.split("：")[0] for m in messages] == [
        "工作表「字段」第 2 行「类型」列（C 列）", "工作表「字段」第 3 行「必填」列（E 列）",
        "工作表「字段」第 4 行「项目名称」列（B 列）"]


# --- everything a type has travels with the sheet -------------------------------

def keys_by_label(definition):
    """The definition with each key replaced by its field's label: a type
    made from a sheet under a new name gets keys of its own."""
    return {**definition, "sections": [{**s, "fields": [{**f, "key": f["label"]} for f in s["fields"]]}
                                       for s in definition["sections"]]}


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
def test_a_built_in_type_exported_and_imported_as_a_new_type_is_the_same_type(stem):
    definition = builtin_definition(stem)
    assert keys_by_label(read_sheet(write_sheet(definition))) == keys_by_label(definition)


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
def test_a_built_in_type_imported_as_its_next_version_is_equal_with_its_keys(stem):
    definition = builtin_definition(stem)
    assert read_sheet(write_sheet(definition), definition) == definition


@pytest.mark.parametrize("label, option, value", [
    ("单位及职务", "default", "【单位】【职务】"),
    ("单位及职务", "max_length", 60),
    ("履职情况", "item_label", "方面"),
    ("履职情况", "default", [{"heading": "", "text": ""}]),
    ("存在问题", "one_paragraph", True),
    ("发展党员", "sum_of_units", True),
])
def test_what_the_sheet_did_not_hold_is_in_a_new_type_made_from_it(label, option, value):
    back = read_sheet(write_sheet(builtin_definition("annual_report")))
    assert next(f for f in fields_of(back) if f["label"] == label)[option] == value


@pytest.mark.parametrize("cells, option, value", [
    ({"C": "小数", "J": 2}, "decimals", 2),
    ({"C": "条目", "M": "问题", "N": 30}, "item_label", "问题"),
    ({"C": "条目", "N": 30}, "max_items", 30),
    ({"C": "条目", "L": "一是抓学习\n第一段\n\n二是抓阵地"}, "default",
     [{"heading": "抓学习", "text": "第一段"}, {"heading": "抓阵地", "text": ""}]),
    ({"C": "条目"}, "default", [{"heading": "", "text": ""}]),
    ({"C": "多段文字", "K": 800, "L": "【单位】全年："}, "max_length", 800),
    ({"C": "多段文字", "L": "【单位】全年："}, "default", "【单位】全年："),
    ({"C": "条目", "O": "是"}, "one_paragraph", True),
    ({"C": "数字", "P": "否"}, "sum_of_units", False),
    ({"C": "条目", "Q": "是"}, "looks_ahead", True),
])
def test_a_new_rows_options(cells, option, value):
    def add(wb):
        append_row(wb, "履职情况", "新项目")
        for column, cell_value in cells.items():
            wb["字段"][f"{column}8"] = cell_value
    new = next(f for f in fields_of(read_sheet(edited(add), DEFINITION)) if f["label"] == "新项目")
    assert new[option] == value


@pytest.mark.parametrize("kind, column, value, message", [
    ("数字", "J", 2, "「小数位数」列（J 列）：只有「小数」类型可以填写小数位数。"),
    ("小数", "J", 7, "「小数位数」列（J 列）：应为 0 至 6 之间的整数。"),
    ("单行文字", "K", 0, "「字数上限」列（K 列）：应为 1 至 50000 之间的整数。"),
    ("数字", "K", 10, "「字数上限」列（K 列）：只有「单行文字」「多段文字」「条目」类型可以填写字数上限。"),
    ("日期", "L", "2023-01-06", "「默认内容」列（L 列）：只有「单行文字」「多段文字」「条目」类型可以填写默认内容。"),
    ("多段文字", "M", "方面", "「条目名称」列（M 列）：只有「条目」类型可以填写条目名称。"),
    ("条目", "M", "很长很长的条目名称超过十个字", "「条目名称」列（M 列）：条目名称最多 10 个字。"),
    ("条目", "N", 100, "「条目上限」列（N 列）：应为 1 至 99 之间的整数。"),
    ("条目", "O", "对", "「连成一段」列（O 列）：连成一段应为 是 或 否，不是「对」。"),
    ("单行文字", "P", "是", "「汇总各村」列（P 列）：只有「数字」「小数」类型可以填写汇总各村。"),
    ("数字", "Q", "是", "「写打算」列（Q 列）：只有「单行文字」「多段文字」「条目」类型可以填写写打算。"),
    ("单行文字", "L", "很" * 101, "「默认内容」列（L 列）：默认内容最多 100 个字，现在 101 个字。"),
    ("条目", "L", "\n\n".join(f"一是第{n}条" for n in range(21)), "「默认内容」列（L 列）：默认内容最多 20 条。"),
])
def test_an_option_that_does_not_fit_is_refused(kind, column, value, message):
    def add(wb):
        append_row(wb, "落款", "新项目", kind)
        wb["字段"][f"{column}8"] = value
    assert refusal(edited(add)) == [f"工作表「字段」第 8 行{message}"]


# --- bounds keep their value ----------------------------------------------------

def test_a_fractional_bound_of_a_decimal_figure_stays_as_written():
    def bounds(wb):
        wb["字段"]["H4"], wb["字段"]["I4"] = 0.5, "12.5"
    income = fields_of(read_sheet(edited(bounds), DEFINITION))[2]
    assert (income["min"], income["max"]) == (0.5, 12.5)
    field = ReportType(read_sheet(edited(bounds), DEFINITION)).by_key["income"]
    assert field.clean("12.5") == 12.5
    with pytest.raises(Invalid, match="不能超过 12.5"):
        field.clean("12.6")


def test_a_fractional_bound_of_a_whole_figure_is_refused_not_cut():
    assert refusal(edited(lambda wb: wb["字段"].__setitem__("I3", 12.5))) == [
        "工作表「字段」第 3 行「最大值」列（I 列）：「数字」类型的界限应为整数。"]


# --- formulas, names that would mislead or break a template -----------------------

@pytest.mark.parametrize("sheet, ref, formula, where", [
    ("报告", "B1", '="测试"&"述职报告"', "工作表「报告」第 1 行「名称」列（B 列）"),
    ("报告", "B2", "=B1", "工作表「报告」第 2 行「标题」列（B 列）"),
    ("字段", "B3", '=CONCAT("党员","总数")', "工作表「字段」第 3 行「项目名称」列（B 列）"),
    ("字段", "I3", "=10*2", "工作表「字段」第 3 行「最大值」列（I 列）"),
])
def test_a_formula_is_refused_naming_its_cell(sheet, ref, formula, where):
    def put(wb):
        wb[sheet][ref] = formula
    assert f"{where}：请直接填写内容，不要用公式（可复制后“选择性粘贴 → 数值”）。" in refusal(edited(put))


@pytest.mark.parametrize("cell, text, message", [
    ("B3", "党员\u202e数总", "项目名称含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"),
    ("B3", "\u2067党员总数\u2069", "项目名称含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"),
    ("A3", "履职\u200f情况", "分组含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"),
    ("F3", "填\u202d写", "说明含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"),
    ("B3", "党员{{ 总数 }}", "项目名称不能含有 { } 符号（Word 模板用 {{ 项目名称 }} 标出填写位置）。"),
    ("B3", "党员{% if x %}", "项目名称不能含有 { } 符号（Word 模板用 {{ 项目名称 }} 标出填写位置）。"),
    ("B3", "党员}}", "项目名称不能含有 { } 符号（Word 模板用 {{ 项目名称 }} 标出填写位置）。"),
])
def test_names_with_direction_controls_or_template_braces_are_refused(cell, text, message):
    column = {"A": "分组", "B": "项目名称", "F": "说明"}[cell[0]]
    assert refusal(edited(lambda wb: wb["字段"].__setitem__(cell, text))) == [
        f"工作表「字段」第 3 行「{column}」列（{cell[0]} 列）：{message}"]


def test_a_title_with_a_direction_control_is_refused():
    assert refusal(edited(lambda wb: wb["报告"].__setitem__("B1", "测试\u202e报告"))) == [
        "工作表「报告」第 1 行「名称」列（B 列）：名称含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"]


# --- a sheet that claims to be huge ----------------------------------------------

def bomb(cell, dimension=True):
    """The exported sheet plus one blank, styled cell at `cell` (a few bytes
    more), stating (or, without `dimension`, not stating) its size."""
    out = io.BytesIO()
    row = re.sub(r"\D", "", cell)
    with zipfile.ZipFile(io.BytesIO(write_sheet(DEFINITION))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = data.decode().replace("</sheetData>", f'<row r="{row}"><c r="{cell}" s="1"/></row></sheetData>')
                xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{cell}"/>' if dimension else "", xml)
                data = xml.encode()
            dst.writestr(info, data)
    return out.getvalue()


def peak_of(call):
    """(seconds, peak MB of Python allocations) of call()."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        call()
    finally:
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return took, peak / 2**20


@pytest.mark.parametrize("cell", ["A1048576", "XFD1048576", "XFD2", "A5000"])
def test_a_sheet_stating_an_absurd_size_is_refused_at_once(cell):
    raw = bomb(cell)
    assert len(raw) < 20_000
    messages = []
    took, peak = peak_of(lambda: messages.extend(refusal(raw)))
    assert messages == [f"工作表「字段」：表格范围一直到 {cell} 单元格，远超字段表所需（最多 2000 行、50 列）。"
                        "请删除表格下方和右侧多余的行和列（或把内容复制到新的工作簿）后再上传。"]
    assert took < 10 and peak < 50  # main took 30 s and 2 GB; generous for a loaded machine


@pytest.mark.parametrize("cell", ["A1048576", "XFD1048576"])
def test_a_far_cell_in_a_sheet_not_stating_its_size_is_not_read(cell):
    raw = bomb(cell, dimension=False)
    back = {}
    took, peak = peak_of(lambda: back.update(read_sheet(raw, DEFINITION)))
    assert fields_of(back) == fields_of(DEFINITION)
    assert took < 10 and peak < 50  # main took 30 s and 2 GB; generous for a loaded machine


def test_a_new_version_keeps_what_a_section_says_besides_its_title():
    numbered = {**DEFINITION, "sections": [{**s, "heading": True} if s["title"] == "存在问题" else s
                                           for s in DEFINITION["sections"]]}
    back = read_sheet(write_sheet(numbered), numbered)
    assert back["sections"][2] == numbered["sections"][2]


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"])
def test_a_sheet_whose_xml_is_broken_is_no_workbook(part):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(write_sheet(DEFINITION))) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:len(data) // 2] if info.filename == part else data)
    assert refusal(out.getvalue()) == [
        "文件不是 Excel 工作簿（.xlsx）。请用 Excel 或 WPS 打开字段表，另存为“Excel 工作簿（*.xlsx）”后再上传。"]
