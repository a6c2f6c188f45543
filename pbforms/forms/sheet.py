"""The 字段表: a report type as an .xlsx the office edits in Excel or WPS.

`write_sheet(definition)` gives the workbook's bytes; `read_sheet(raw,
previous)` reads one back into a definition. A field's key is made once
and kept: rows are matched to the previous version's fields by 项目名称,
so renaming a row in Excel makes a new field while moving it keeps its data.
A sheet that cannot be used is refused as a whole (`SheetRefused`), with one
Chinese message per bad cell naming sheet, row and column, so the clerk can
fix them all in one go; nothing half-read is ever returned.
"""
import io
import re
import secrets
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .kinds import REFERENCE, XML_FORBIDDEN

FIELDS_SHEET, REPORT_SHEET, HELP_SHEET = "字段", "报告", "说明"
REQUIRED_HEADERS = ["分组", "项目名称", "类型", "单位", "必填", "说明", "参考范文"]
OPTIONAL_HEADERS = ["最小值", "最大值"]
HEADERS = REQUIRED_HEADERS + OPTIONAL_HEADERS
WIDTHS = {"分组": 14, "项目名称": 26, "类型": 11, "单位": 7, "必填": 7, "说明": 36, "参考范文": 60,
          "最小值": 9, "最大值": 9}

KIND_NAMES = {"count": "数字", "amount": "小数", "text": "单行文字", "paragraphs": "多段文字",
              "items": "条目", "date": "日期"}
KIND_OF_NAME = {name: kind for kind, name in KIND_NAMES.items()}
NUMBER_KINDS = {"count", "amount"}
YES, NO = "是", "否"

# Options a row of the sheet does not show: kept from the previous version
# when the row names the same field of the same kind.
SHOWN = {"key", "kind", "label", "unit", "required", "hint", "model_text", "min", "max"}

LABEL_MAX, GROUP_MAX, UNIT_MAX, HINT_MAX, NAME_MAX, TITLE_MAX = 60, 60, 10, 500, 60, 200
MODEL_MAX = 50000
ROWS_MAX = 500
# An .xlsx is a zip: refuse one that would unpack to more than this
# before openpyxl reads it all into memory.
UNPACKED_MAX = 50 * 1024 * 1024
ORDINAL = re.compile("^[一二三四五六七八九十]+是")


@dataclass(frozen=True)
class Problem:
    """One bad cell (or a bad file, with no sheet) and what is wrong with it."""

    message: str
    sheet: str = ""
    row: int = 0
    column: str = ""  # the header's name, e.g. 类型
    letter: str = ""  # its column letter, e.g. C

    def __str__(self):
        if not self.sheet:
            return self.message
        where = f"工作表「{self.sheet}」"
        if self.row:
            where += f"第 {self.row} 行"
        if self.column:
            where += f"「{self.column}」列" + (f"（{self.letter} 列）" if self.letter else "")
        return f"{where}：{self.message}"


class SheetRefused(ValueError):
    def __init__(self, problems):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)

    @property
    def messages(self):
        return [str(p) for p in self.problems]


# --- writing ------------------------------------------------------------------

def items_as_text(items):
    """Model items as one cell: a block per item, its first line 一是 + heading."""
    from .kinds import chinese_number

    blocks = []
    for n, item in enumerate(items or []):
        lines = [chinese_number(n + 1) + "是" + (item.get("heading") or "")]
        lines += [line for line in (item.get("text") or "").split("\n") if line.strip()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def text_as_items(text):
    """The reverse of items_as_text: blank lines part the items, the first
    line of each is its heading (its 一是 dropped: the position numbers it)."""
    items = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if lines:
            items.append({"heading": ORDINAL.sub("", lines[0], count=1).strip(), "text": "\n".join(lines[1:])})
    return items


def model_from_text(kind, text):
    """参考范文 as typed in a cell or text box -> as the definition keeps it."""
    if not text.strip():
        return None
    if kind == "items":
        return text_as_items(text)
    return " ".join(text.split()) if kind == "text" else text


def label_problem(label):
    """What is wrong with a field's name, or None. The name is what ⟦name⟧
    references in the text say, so it must be one a reference can name."""
    if not label:
        return "项目名称不能为空。"
    if len(label) > LABEL_MAX:
        return f"项目名称最多 {LABEL_MAX} 个字，现在 {len(label)} 个字。"
    if not REFERENCE.fullmatch(f"⟦{label}⟧"):
        return "项目名称不能含有 ⟦ ⟧ 符号。"
    return None


def hint_problem(hint):
    return f"说明最多 {HINT_MAX} 个字。" if len(hint) > HINT_MAX else None


def model_problem(model):
    return f"参考范文最多 {MODEL_MAX} 个字。" if len(model) > MODEL_MAX else None


def model_text_cell(field):
    model = field.get("model_text")
    if isinstance(model, list):
        return items_as_text(model)
    return model or ""


def put_text(cell, value):
    """A text cell stays text: a value starting with = + - @ is written as a
    string with Excel's quote prefix, never as a formula (formula injection)."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value[:1] in ("=", "+", "-", "@"):
            cell.quotePrefix = True


# A long 参考范文 shows its first lines; the whole text is in the cell.
# Without a height of their own, wrapped rows are one line high in WPS.
LINE_HEIGHT, ROW_LINES_MAX = 15, 8


def lines_in(text, width):
    """Lines a wrapped cell of `width` (Excel's units: a Latin character;
    a Chinese one takes two) needs for `text`."""
    return sum(max(1, -(-sum(2 if ord(c) > 0x2e7f else 1 for c in line) // width))
               for line in str(text or "").split("\n"))


def number_cell(value):
    if value is None or value == "":
        return None
    return value if isinstance(value, (int, float)) else str(value)


def write_sheet(definition):
    """The type's 字段表 as .xlsx bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = FIELDS_SHEET
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="F2F2F2")
    wrap = Alignment(wrap_text=True, vertical="top")
    for col, header in enumerate(HEADERS, start=1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font, cell.fill = bold, head_fill
        ws.column_dimensions[get_column_letter(col)].width = WIDTHS[header]
    ws.freeze_panes = "A2"
    row = 1
    for section in definition.get("sections", []):
        for field in section.get("fields", []):
            row += 1
            values = {
                "分组": section.get("title", ""),
                "项目名称": field.get("label", ""),
                "类型": KIND_NAMES.get(field.get("kind"), field.get("kind", "")),
                "单位": field.get("unit", ""),
                "必填": YES if field.get("required") else NO,
                "说明": field.get("hint", ""),
                "参考范文": model_text_cell(field),
            }
            for col, header in enumerate(HEADERS, start=1):
                cell = ws.cell(row=row, column=col)
                if header in OPTIONAL_HEADERS:
                    cell.value = number_cell(field.get("min" if header == "最小值" else "max"))
                else:
                    put_text(cell, values[header])
                cell.alignment = wrap
            lines = max(lines_in(values[h], WIDTHS[h]) for h in REQUIRED_HEADERS)
            if lines > 1:
                ws.row_dimensions[row].height = min(lines, ROW_LINES_MAX) * LINE_HEIGHT
    last = max(row, 200)  # room for rows the office adds, with the same lists
    text_format = "@"
    for col, header in enumerate(HEADERS, start=1):
        if header not in OPTIONAL_HEADERS:
            for r in range(2, last + 1):
                ws.cell(row=r, column=col).number_format = text_format
    kinds = DataValidation(type="list", formula1='"' + ",".join(KIND_NAMES.values()) + '"', allow_blank=True,
                           showErrorMessage=True, errorTitle="类型", error="请从列表中选择类型")
    yes_no = DataValidation(type="list", formula1=f'"{YES},{NO}"', allow_blank=True,
                            showErrorMessage=True, errorTitle="必填", error="请填写 是 或 否")
    for validation, header in ((kinds, "类型"), (yes_no, "必填")):
        letter = get_column_letter(HEADERS.index(header) + 1)
        validation.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(validation)

    report = wb.create_sheet(REPORT_SHEET)
    for r, (label, value) in enumerate((("名称", definition.get("name", "")),
                                        ("标题", definition.get("title", ""))), start=1):
        report.cell(row=r, column=1, value=label).font = bold
        cell = report.cell(row=r, column=2)
        put_text(cell, value)
        cell.alignment = wrap
    report.column_dimensions["A"].width = 8
    report.column_dimensions["B"].width = 70

    help_sheet = wb.create_sheet(HELP_SHEET)
    help_sheet.column_dimensions["A"].width = 12
    help_sheet.column_dimensions["B"].width = 90
    for r, (label, text) in enumerate(HELP_ROWS, start=1):
        help_sheet.cell(row=r, column=1, value=label).font = bold
        help_sheet.cell(row=r, column=2, value=text).alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HELP_ROWS = [
    ("用法", "在「字段」表中每行写报告的一个填报项目，改好后在系统的「报告类型」页上传（或用 type import 命令导入）。"
            "上传时整张表一起检查，有错的单元格会逐一列出，全部改对后才会保存为新版本。"),
    ("分组", "项目所在的部分，如 履职情况、存在问题、下步打算。同一分组的行合成一部分，各部分按分组第一次出现的先后排列；"
            "分组留空表示与上一行相同。"),
    ("项目名称", "填报页和 Word 文件中显示的名称，整张表内不能重复。已有项目改名会被当作新项目（原项目的数据保留在修改记录里）。"),
    ("类型", "数字（整数，如 次数、人数）、小数（如 万元，带小数）、单行文字（姓名、职务）、多段文字（每行一段）、"
            "条目（一是……二是……，可增删）、日期。"),
    ("单位", "数字和小数的单位，如 次、名、个、万元。"),
    ("必填", "是 或 否；必填项目没填完不能提交。留空当作 否。"),
    ("说明", "显示在项目旁的提示，告诉填报人写什么。"),
    ("参考范文", "可以参考的写法，填报页上折叠显示，可一键插入。可用【年度】【单位】【职务】，插入时换成本轮的年度和本单位的名称、职务。"
              "条目类型：每条之间空一行，每条第一行是标题（如 一是加强理论学习），其后是正文。"),
    ("最小值、最大值", "可不填。只用于数字和小数，如 村集体经济收入 最小值 0。"),
    ("「报告」表", "名称：报告类型的名称；标题：Word 文件的标题，可用【年度】【单位】【职务】，在单元格内换行（Alt+Enter）即为标题换行。"),
]


# --- reading ------------------------------------------------------------------

def cell_text(value):
    """A cell as text: numbers without a trailing .0, line ends as LF."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return XML_FORBIDDEN.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n")).strip()


def one_line(value):
    return " ".join(cell_text(value).split())


def open_workbook(raw):
    if not raw:
        raise SheetRefused([Problem("文件是空的。")])
    not_xlsx = Problem("文件不是 Excel 工作簿（.xlsx）。请用 Excel 或 WPS 打开字段表，另存为“Excel 工作簿（*.xlsx）”后再上传。")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            if sum(info.file_size for info in archive.infolist()) > UNPACKED_MAX:
                raise SheetRefused([Problem("文件过大：字段表解压后超过 50 MB。")])
        return load_workbook(io.BytesIO(raw), data_only=True)
    except SheetRefused:
        raise
    except Exception:  # zipfile, openpyxl and XML errors alike: not a workbook we can read
        raise SheetRefused([not_xlsx]) from None


def read_report_sheet(wb, problems):
    if REPORT_SHEET not in wb.sheetnames:
        problems.append(Problem(f"缺少工作表「{REPORT_SHEET}」（其中两行：名称、标题）。"))
        return "", ""
    ws = wb[REPORT_SHEET]
    found = {}
    for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, 50), max_col=2):
        label = one_line(row[0].value)
        if label in ("名称", "标题") and label not in found:
            found[label] = (row[0].row, cell_text(row[1].value if len(row) > 1 else None))
    name, title = "", ""
    for label, limit in (("名称", NAME_MAX), ("标题", TITLE_MAX)):
        if label not in found:
            problems.append(Problem(f"缺少「{label}」行（A 列写“{label}”，B 列写内容）。", REPORT_SHEET))
            continue
        row, value = found[label]
        if label == "名称":
            value = " ".join(value.split())
        else:
            value = "\n".join(" ".join(line.split()) for line in value.split("\n") if line.strip())
        if not value:
            problems.append(Problem(f"{label}不能为空。", REPORT_SHEET, row, label, "B"))
        elif len(value) > limit:
            problems.append(Problem(f"{label}最多 {limit} 个字，现在 {len(value)} 个字。", REPORT_SHEET, row, label, "B"))
        if label == "名称":
            name = value
        else:
            title = value
    return name, title


def read_number(text, kind, problem):
    """最小值 / 最大值: an int for 数字, a number for 小数; None when empty."""
    if text == "":
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        problem("应为数字。")
        return None
    if not number.is_finite() or abs(number) > Decimal("1e12"):
        problem("应为 -1000000000000 至 1000000000000 之间的数字。")
        return None
    if kind == "count":
        if number != number.to_integral_value():
            problem("「数字」类型的界限应为整数。")
            return None
        return int(number)
    return int(number) if number == number.to_integral_value() else float(number)


def read_sheet(raw, previous=None, used_keys=()):
    """.xlsx bytes -> definition dict, or SheetRefused listing every bad cell.

    `previous` is the definition of the version this sheet changes (None for
    a new type): rows keep its fields' keys by 项目名称, and what the sheet
    does not show (default text, options of a kind) is kept with them.
    `used_keys` are keys any version ever had, so a new key is never one of them.
    """
    wb = open_workbook(raw)
    problems = []
    name, title = read_report_sheet(wb, problems)
    if FIELDS_SHEET not in wb.sheetnames:
        problems.append(Problem(f"缺少工作表「{FIELDS_SHEET}」（每行一个填报项目）。"))
        raise SheetRefused(problems)
    ws = wb[FIELDS_SHEET]
    columns = {}
    for cell in next(ws.iter_rows(min_row=1, max_row=1), ()):
        header = one_line(cell.value)
        if header in HEADERS and header not in columns:
            columns[header] = cell.column
    for header in REQUIRED_HEADERS:
        if header not in columns:
            problems.append(Problem(f"第 1 行缺少列「{header}」（列名应为：{' | '.join(REQUIRED_HEADERS)}）。",
                                    FIELDS_SHEET, 1))
    if any(header not in columns for header in REQUIRED_HEADERS):
        raise SheetRefused(problems)

    previous_fields = {f["label"]: f for s in (previous or {}).get("sections", []) for f in s.get("fields", [])}
    taken = set(used_keys) | {f["key"] for f in previous_fields.values()}
    sections, by_title, seen_labels = [], {}, {}
    group, rows = "", 0
    for row in ws.iter_rows(min_row=2):
        cells = {header: row[col - 1].value if col - 1 < len(row) else None for header, col in columns.items()}
        if all(cell_text(v) == "" for v in cells.values()):
            continue
        r = row[0].row
        rows += 1
        if rows > ROWS_MAX:
            problems.append(Problem(f"最多 {ROWS_MAX} 个项目。", FIELDS_SHEET, r))
            break

        def problem(header, message, r=r):
            problems.append(Problem(message, FIELDS_SHEET, r, header, get_column_letter(columns[header])))

        before = len(problems)
        group = one_line(cells["分组"]) or group
        if not group:
            problem("分组", "分组不能为空（第一个项目必须写分组；之后留空表示与上一行相同）。")
        elif len(group) > GROUP_MAX:
            problem("分组", f"分组最多 {GROUP_MAX} 个字。")
        label = one_line(cells["项目名称"])
        if label_problem(label):
            problem("项目名称", label_problem(label))
        elif label in seen_labels:
            problem("项目名称", f"项目名称「{label}」与第 {seen_labels[label]} 行重复。")
        else:
            seen_labels[label] = r
        kind_name = one_line(cells["类型"])
        kind = KIND_OF_NAME.get(kind_name)
        if kind is None:
            problem("类型", (f"类型「{kind_name}」不存在" if kind_name else "类型不能为空")
                    + f"，应为 {'、'.join(KIND_NAMES.values())} 之一。")
        required_text = one_line(cells["必填"])
        if required_text not in (YES, NO, ""):
            problem("必填", f"必填应为 是 或 否，不是「{required_text}」。")
        unit = one_line(cells["单位"])
        if len(unit) > UNIT_MAX:
            problem("单位", f"单位最多 {UNIT_MAX} 个字。")
        hint = one_line(cells["说明"])
        if hint_problem(hint):
            problem("说明", hint_problem(hint))
        model = cell_text(cells["参考范文"])
        if model_problem(model):
            problem("参考范文", model_problem(model))
        bounds = {}
        for header, spec_key in (("最小值", "min"), ("最大值", "max")):
            text = one_line(cells.get(header)) if header in columns else ""
            if text and kind is not None and kind not in NUMBER_KINDS:
                problem(header, f"只有「数字」「小数」类型可以填写{header}。")
                continue
            value = read_number(text, kind, lambda m, h=header: problem(h, m))
            if value is not None:
                bounds[spec_key] = value
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            problem("最小值", f"最小值 {bounds['min']} 大于最大值 {bounds['max']}。")
        if len(problems) > before:
            continue

        old = previous_fields.get(label)
        field = {}
        if old is not None:
            field["key"] = old["key"]
            if old.get("kind") == kind:
                field.update({k: v for k, v in old.items() if k not in SHOWN})
        else:
            field["key"] = new_key(taken)
        taken.add(field["key"])
        field.update(kind=kind, label=label, required=required_text == YES)
        if hint:
            field["hint"] = hint
        if unit or kind in NUMBER_KINDS:
            field["unit"] = unit
        field.update(bounds)
        if model:
            field["model_text"] = model_from_text(kind, model)
        section = by_title.get(section_key(group))
        if section is None:
            section = by_title[section_key(group)] = {"title": group, "fields": []}
            sections.append(section)
        section["fields"].append(field)
    if not problems and not sections:
        problems.append(Problem("没有任何填报项目：请在第 2 行起每行写一个项目。", FIELDS_SHEET))
    if problems:
        raise SheetRefused(problems)
    definition = {k: v for k, v in (previous or {}).items() if k not in ("name", "title", "sections")}
    definition.update(name=name, title=title, sections=sections)
    return definition


def section_key(title):
    """一、履职情况 and 履职情况 are one group: a row written without the
    ordinal joins the section that has it."""
    return re.sub("^[一二三四五六七八九十]+、", "", title).strip()


def new_key(taken):
    while True:
        key = "f_" + secrets.token_hex(4)
        if key not in taken:
            return key
