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
from openpyxl.cell.read_only import EmptyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .kinds import KINDS, REFERENCE, XML_FORBIDDEN, Invalid

FIELDS_SHEET, REPORT_SHEET, HELP_SHEET = "字段", "报告", "说明"
REQUIRED_HEADERS = ["分组", "项目名称", "类型", "单位", "必填", "说明", "参考范文"]
# Columns a sheet may leave out (sheets exported before they existed):
# a field keeps those options from the version the sheet changes.
OPTIONAL_HEADERS = ["最小值", "最大值", "小数位数", "字数上限", "默认内容", "条目名称", "条目上限", "连成一段", "汇总各村",
                    "写打算", "整改"]
HEADERS = REQUIRED_HEADERS + OPTIONAL_HEADERS
WIDTHS = {"分组": 14, "项目名称": 26, "类型": 11, "单位": 7, "必填": 7, "说明": 36, "参考范文": 60,
          "最小值": 9, "最大值": 9, "小数位数": 9, "字数上限": 9, "默认内容": 30, "条目名称": 9, "条目上限": 9,
          "连成一段": 9, "汇总各村": 9, "写打算": 9, "整改": 7}

KIND_NAMES = {"count": "数字", "amount": "小数", "text": "单行文字", "paragraphs": "多段文字",
              "items": "条目", "date": "日期"}
KIND_OF_NAME = {name: kind for kind, name in KIND_NAMES.items()}
NUMBER_KINDS = {"count", "amount"}
TEXT_KINDS = {"text", "paragraphs", "items"}
YES, NO = "是", "否"
# 整改: 是 marks the 条目 field whose items become the 整改台账's entries when
# a report is approved; 上年 the one a next year's report fills from them.
LEDGER_OF_CELL = {YES: "problems", "上年": "last_year"}
CELL_OF_LEDGER = {role: cell for cell, role in LEDGER_OF_CELL.items()}

# The option of a field each column holds: every option a type has, so a
# sheet exported and imported again under another name is the same type.
OPTION_OF = {"项目名称": "label", "类型": "kind", "单位": "unit", "必填": "required", "说明": "hint",
             "参考范文": "model_text", "最小值": "min", "最大值": "max", "小数位数": "decimals",
             "字数上限": "max_length", "默认内容": "default", "条目名称": "item_label", "条目上限": "max_items",
             "连成一段": "one_paragraph", "汇总各村": "sum_of_units", "写打算": "looks_ahead", "整改": "ledger"}
# The kinds a column may be filled for.
KINDS_OF = {"最小值": NUMBER_KINDS, "最大值": NUMBER_KINDS, "小数位数": {"amount"}, "字数上限": TEXT_KINDS,
            "默认内容": TEXT_KINDS, "条目名称": {"items"}, "条目上限": {"items"}, "连成一段": {"items"},
            "汇总各村": NUMBER_KINDS, "写打算": TEXT_KINDS, "整改": {"items"}}
WHOLE_RANGES = {"小数位数": (0, 6), "字数上限": (1, 50000), "条目上限": (1, 99)}
NUMBER_HEADERS = {"最小值", "最大值", *WHOLE_RANGES}

LABEL_MAX, GROUP_MAX, UNIT_MAX, HINT_MAX, NAME_MAX, TITLE_MAX = 60, 60, 10, 500, 60, 200
ITEM_LABEL_MAX = 10
MODEL_MAX = 50000
ROWS_MAX = 500
# Rows read at most (items, and the blank rows between them), columns and
# the 报告 sheet's rows: a sheet stating more is refused unread.
ROWS_READ, COLUMNS_MAX, REPORT_ROWS_MAX = 2000, 50, 50
# An .xlsx is a zip: refuse one that would unpack to more than this
# before openpyxl reads it all into memory.
UNPACKED_MAX = 50 * 1024 * 1024
ORDINAL = re.compile("^[一二三四五六七八九十]+是")
# Characters that reorder text as displayed (Trojan Source): a name that
# shows as one thing and is another.
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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


def text_problem(text, what):
    """What makes a name or a hint unusable however long it is, or None."""
    if BIDI.search(text):
        return f"{what}含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"
    return None


def label_problem(label):
    """What is wrong with a field's name, or None. The name is what ⟦name⟧
    references in the text and {{ name }} placeholders in an office's Word
    template say, so it must be one both can name."""
    if not label:
        return "项目名称不能为空。"
    if len(label) > LABEL_MAX:
        return f"项目名称最多 {LABEL_MAX} 个字，现在 {len(label)} 个字。"
    if not REFERENCE.fullmatch(f"⟦{label}⟧"):
        return "项目名称不能含有 ⟦ ⟧ 符号。"
    if "{" in label or "}" in label:
        return "项目名称不能含有 { } 符号（Word 模板用 {{ 项目名称 }} 标出填写位置）。"
    return text_problem(label, "项目名称")


def group_problem(group):
    if not group:
        return "分组不能为空（第一个项目必须写分组；之后留空表示与上一行相同）。"
    if len(group) > GROUP_MAX:
        return f"分组最多 {GROUP_MAX} 个字。"
    return text_problem(group, "分组")


def model_text_cell(field, option="model_text"):
    """参考范文 (or 默认内容) as a cell or text box holds it."""
    model = field.get(option)
    if isinstance(model, list):
        return items_as_text(model)
    return model or ""


def yes_no_cell(value):
    return "" if value is None else YES if value else NO


def field_cells(field):
    """A field as its row of the 字段表 says it ({header: value}, numbers as
    numbers): what the sheet is written from and the editor shows."""
    cells = {"项目名称": field.get("label", ""), "类型": KIND_NAMES.get(field.get("kind"), field.get("kind", "")),
             "必填": YES if field.get("required") else NO, "参考范文": model_text_cell(field),
             "默认内容": model_text_cell(field, "default"),
             "连成一段": yes_no_cell(field.get("one_paragraph")), "汇总各村": yes_no_cell(field.get("sum_of_units")),
             "写打算": yes_no_cell(field.get("looks_ahead")),
             "整改": CELL_OF_LEDGER.get(field.get("ledger"), NO if field.get("kind") == "items" else "")}
    for header in ("单位", "说明", "条目名称"):
        cells[header] = field.get(OPTION_OF[header], "")
    for header in ("最小值", "最大值", *WHOLE_RANGES):
        cells[header] = number_cell(field.get(OPTION_OF[header]))
    return cells


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
            values = {"分组": section.get("title", ""), **field_cells(field)}
            for col, header in enumerate(HEADERS, start=1):
                cell = ws.cell(row=row, column=col)
                if header in NUMBER_HEADERS:
                    cell.value = values[header]
                else:
                    put_text(cell, values[header])
                cell.alignment = wrap
            lines = max(lines_in(values[h], WIDTHS[h]) for h in HEADERS if h not in NUMBER_HEADERS)
            if lines > 1:
                ws.row_dimensions[row].height = min(lines, ROW_LINES_MAX) * LINE_HEIGHT
    last = max(row, 200)  # room for rows the office adds, with the same lists
    text_format = "@"
    for col, header in enumerate(HEADERS, start=1):
        if header not in NUMBER_HEADERS:
            for r in range(2, last + 1):
                ws.cell(row=r, column=col).number_format = text_format
    kinds = DataValidation(type="list", formula1='"' + ",".join(KIND_NAMES.values()) + '"', allow_blank=True,
                           showErrorMessage=True, errorTitle="类型", error="请从列表中选择类型")
    yes_no = DataValidation(type="list", formula1=f'"{YES},{NO}"', allow_blank=True,
                            showErrorMessage=True, errorTitle="必填", error="请填写 是 或 否")
    ledger = DataValidation(type="list", formula1=f'"{YES},{NO},上年"', allow_blank=True,
                            showErrorMessage=True, errorTitle="整改", error="请填写 是、否 或 上年")
    for validation, headers in ((kinds, ["类型"]), (yes_no, ["必填", "连成一段", "汇总各村", "写打算"]), (ledger, ["整改"])):
        for header in headers:
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
    ("最小值、最大值", "可不填。只用于数字和小数，如 村集体经济收入 最小值 0；小数的界限可带小数，如 12.5。"),
    ("小数位数", "可不填（即 1 位）。只用于小数：最多保留几位小数，0 至 6。"),
    ("字数上限", "可不填（单行文字 100 字，其余 50000 字）。只用于单行文字、多段文字、条目。"),
    ("默认内容", "可不填。新报告中预先填好的内容，可用【年度】【单位】【职务】，如 单位及职务 写【单位】【职务】。"
              "条目类型写法同参考范文，留空表示从一条空白条目开始。"),
    ("条目名称", "可不填。只用于条目：每一条叫什么，如 方面、问题、打算，填报页的按钮显示为“添加一条方面”。"),
    ("条目上限", "可不填（即 20 条）。只用于条目：最多几条，1 至 99。"),
    ("连成一段", "是 或 否，可不填。只用于条目：是 表示各条在 Word 中连成一段（如 存在问题）。"),
    ("汇总各村", "是 或 否，可不填。只用于数字和小数：是 表示乡镇的这个数字可由各村的同名数字相加得出。"),
    ("写打算", "是 或 否，可不填。只用于单行文字、多段文字、条目：是 表示这一项写下一步的打算、目标（如 下步打算），"
            "其中的数字是目标，校对时不与本年度填写的数字比对。"),
    ("整改", "是、否 或 上年，可不填。只用于条目：是 表示报告审核通过后，各条成为本单位整改台账的整改事项（如 存在问题）；"
            "上年 表示下一年度的报告在此列出上年度各整改事项及其完成情况（如 上年度问题整改情况）。"),
    ("「报告」表", "名称：报告类型的名称；标题：Word 文件的标题，可用【年度】【单位】【职务】，在单元格内换行（Alt+Enter）即为标题换行。"),
]



def cell_text(value):
    """A cell as text: numbers without a trailing .0, line ends as LF."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return XML_FORBIDDEN.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n")).strip()


def one_line(value):
    return " ".join(cell_text(value).split())


NOT_XLSX = Problem("文件不是 Excel 工作簿（.xlsx）。请用 Excel 或 WPS 打开字段表，另存为“Excel 工作簿（*.xlsx）”后再上传。")


def open_workbook(raw):
    """The workbook, read-only: its sheets are streamed, never built whole
    in memory (a sheet claiming a cell at XFD1048576 is a few bytes)."""
    if not raw:
        raise SheetRefused([Problem("文件是空的。")])
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            if sum(info.file_size for info in archive.infolist()) > UNPACKED_MAX:
                raise SheetRefused([Problem("文件过大：字段表解压后超过 50 MB。")])
        return load_workbook(io.BytesIO(raw), read_only=True)
    except SheetRefused:
        raise
    except Exception:  # zipfile, openpyxl and XML errors alike: not a workbook we can read
        raise SheetRefused([NOT_XLSX]) from None


def size_problem(ws, rows, columns):
    """A sheet whose stated size is far beyond a 字段表's (Excel and WPS
    state it; a cell typed by mistake at row 1048576 makes it so)."""
    if (ws.max_row or 0) <= rows and (ws.max_column or 0) <= columns:
        return None
    last = f"{get_column_letter(ws.max_column or 1)}{ws.max_row or 1}"
    return Problem(f"表格范围一直到 {last} 单元格，远超字段表所需（最多 {rows} 行、{columns} 列）。"
                   f"请删除表格下方和右侧多余的行和列（或把内容复制到新的工作簿）后再上传。", ws.title)


def cell_value(cell, sheet, header, problem):
    """A cell's value as text; a formula is refused, not read: the sheet is
    the type itself, so what it says must be what the office typed."""
    if getattr(cell, "data_type", None) == "f":
        problem(Problem("请直接填写内容，不要用公式（可复制后“选择性粘贴 → 数值”）。", sheet, cell.row, header,
                        get_column_letter(cell.column)))
        return ""
    return cell_text(cell.value)


def read_report_sheet(wb, problems):
    if REPORT_SHEET not in wb.sheetnames:
        problems.append(Problem(f"缺少工作表「{REPORT_SHEET}」（其中两行：名称、标题）。"))
        return "", ""
    ws = wb[REPORT_SHEET]
    too_big = size_problem(ws, REPORT_ROWS_MAX, COLUMNS_MAX)
    if too_big:
        problems.append(too_big)
        return "", ""
    found = {}
    for row in ws.iter_rows(min_row=1, max_row=REPORT_ROWS_MAX, max_col=2):
        if not row or isinstance(row[0], EmptyCell):
            continue
        label = one_line(cell_value(row[0], REPORT_SHEET, "", problems.append))
        if label in ("名称", "标题") and label not in found:
            found[label] = (row[0].row, cell_value(row[1], REPORT_SHEET, label, problems.append)
                            if len(row) > 1 and not isinstance(row[1], EmptyCell) else "")
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
        message = (f"{label}不能为空。" if not value else
                   f"{label}最多 {limit} 个字，现在 {len(value)} 个字。" if len(value) > limit else
                   text_problem(value, label))
        if message:
            problems.append(Problem(message, REPORT_SHEET, row, label, "B"))
        if label == "名称":
            name = value
        else:
            title = value
    return name, title


def read_number(text, kind, problem):
    """最小值 / 最大值: an int for 数字, a number for 小数 (12.5 stays 12.5); None when empty."""
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
    if number == number.to_integral_value():
        return int(number)
    if kind == "count":
        problem("「数字」类型的界限应为整数。")
        return None
    return float(number)


def read_whole(text, low, high, problem):
    """小数位数, 字数上限, 条目上限: a whole number from low to high; None when empty."""
    if text == "":
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value() or not low <= number <= high:
        problem(f"应为 {low} 至 {high} 之间的整数。")
        return None
    return int(number)


def read_yes_no(text, header, problem):
    if text not in (YES, NO, ""):
        problem(f"{header}应为 是 或 否，不是「{text}」。")
    return {YES: True, NO: False}.get(text)


def read_field(cells, old, taken, problem):
    """One field from its cells ({header: text as typed}): the one check of
    a field, for a row of the 字段表 and for the browser editor alike.

    Headers absent from `cells` are options the caller does not show: they
    are kept from `old` (the field of the same 项目名称 in the version being
    changed) when its kind is unchanged. Each bad cell is told to
    `problem(header, message)`; returns the field, or None when any was bad.
    Names across fields (duplicates) are the caller's to check.
    """
    said = []

    def bad(header, message):
        said.append(header)
        problem(header, message)

    label = one_line(cells.get("项目名称"))
    if label_problem(label):
        bad("项目名称", label_problem(label))
    kind_name = one_line(cells.get("类型"))
    kind = KIND_OF_NAME.get(kind_name)
    if kind is None:
        bad("类型", (f"类型「{kind_name}」不存在" if kind_name else "类型不能为空")
            + f"，应为 {'、'.join(KIND_NAMES.values())} 之一。")
    required = read_yes_no(one_line(cells.get("必填")), "必填", lambda m: bad("必填", m))
    field = {"kind": kind, "label": label, "required": bool(required)}
    for header, limit in (("单位", UNIT_MAX), ("说明", HINT_MAX), ("条目名称", ITEM_LABEL_MAX)):
        text = one_line(cells.get(header))
        message = (f"{header}最多 {limit} 个字。" if len(text) > limit else text_problem(text, header))
        if message:
            bad(header, message)
        elif text:
            field[OPTION_OF[header]] = text
    if kind in NUMBER_KINDS:
        field.setdefault("unit", "")
    for header in ("参考范文", "默认内容"):
        text = cell_text(cells.get(header))
        if len(text) > MODEL_MAX:
            bad(header, f"{header}最多 {MODEL_MAX} 个字。")
        elif text:
            field[OPTION_OF[header]] = model_from_text(kind, text)
    for header in ("最小值", "最大值"):
        value = read_number(one_line(cells.get(header)), kind, lambda m, h=header: bad(h, m))
        if value is not None:
            field[OPTION_OF[header]] = value
    for header, (low, high) in WHOLE_RANGES.items():
        value = read_whole(one_line(cells.get(header)), low, high, lambda m, h=header: bad(h, m))
        if value is not None:
            field[OPTION_OF[header]] = value
    for header in ("连成一段", "汇总各村", "写打算"):
        value = read_yes_no(one_line(cells.get(header)), header, lambda m, h=header: bad(h, m))
        if value is not None:
            field[OPTION_OF[header]] = value
    ledger_cell = one_line(cells.get("整改"))
    if ledger_cell in LEDGER_OF_CELL:
        field["ledger"] = LEDGER_OF_CELL[ledger_cell]
    elif ledger_cell not in (NO, ""):
        bad("整改", f"整改应为 是、否 或 上年，不是「{ledger_cell}」。")
    if kind is not None:
        for header, kinds in KINDS_OF.items():
            if OPTION_OF[header] in field and kind not in kinds and header not in said:
                bad(header, f"只有{''.join(f'「{KIND_NAMES[k]}」' for k in KINDS if k in kinds)}类型可以填写{header}。")
    if "min" in field and "max" in field and field["min"] > field["max"]:
        bad("最小值", f"最小值 {field['min']} 大于最大值 {field['max']}。")
    if kind in TEXT_KINDS and "default" in field and not said:
        try:  # what a new report starts with must be a value the field accepts
            KINDS[kind]({**field, "key": "default"}).clean(field["default"])
        except Invalid as e:
            bad("默认内容", f"默认内容{e}。")
    if said:
        return None
    shown = {OPTION_OF[header] for header in cells if header in OPTION_OF}
    if old is not None:
        kept = {k: v for k, v in old.items() if k not in shown} if old.get("kind") == kind else {}
        field = {**kept, **field, "key": old["key"]}
    else:
        field["key"] = new_key(taken)
    if kind == "items" and "default" not in field:
        field["default"] = [{"heading": "", "text": ""}]  # a list starts with one entry to type in
    taken.add(field["key"])
    return field


def read_sheet(raw, previous=None, used_keys=()):
    """.xlsx bytes -> definition dict, or SheetRefused listing every bad cell.

    `previous` is the definition of the version this sheet changes (None for
    a new type): rows keep its fields' keys by 项目名称, and what an older
    sheet without some columns does not show is kept with them.
    `used_keys` are keys any version ever had, so a new key is never one of them.
    Only the first rows a 字段表 can need are read (ROWS_READ): a sheet
    stating a far larger size is refused before any row is.
    """
    wb = open_workbook(raw)
    try:
        return read_workbook(wb, previous, used_keys)
    except SheetRefused:
        raise
    except Exception:  # a sheet's XML is read only now, row by row: broken, it is no workbook either
        raise SheetRefused([NOT_XLSX]) from None
    finally:
        wb.close()


def read_workbook(wb, previous, used_keys):
    problems = []
    name, title = read_report_sheet(wb, problems)
    if FIELDS_SHEET not in wb.sheetnames:
        problems.append(Problem(f"缺少工作表「{FIELDS_SHEET}」（每行一个填报项目）。"))
        raise SheetRefused(problems)
    ws = wb[FIELDS_SHEET]
    too_big = size_problem(ws, ROWS_READ, COLUMNS_MAX)
    if too_big:
        raise SheetRefused(problems + [too_big])
    columns = {}
    for cell in next(ws.iter_rows(min_row=1, max_row=1, max_col=COLUMNS_MAX), ()):
        if isinstance(cell, EmptyCell):
            continue
        header = one_line(cell_value(cell, FIELDS_SHEET, "", problems.append))
        if header in HEADERS and header not in columns:
            columns[header] = cell.column
    for header in REQUIRED_HEADERS:
        if header not in columns:
            problems.append(Problem(f"第 1 行缺少列「{header}」（列名应为：{' | '.join(REQUIRED_HEADERS)}）。",
                                    FIELDS_SHEET, 1))
    if any(header not in columns for header in REQUIRED_HEADERS):
        raise SheetRefused(problems)

    previous_fields = {f["label"]: f for s in (previous or {}).get("sections", []) for f in s.get("fields", [])}
    previous_sections = {section_key(s["title"]): {k: v for k, v in s.items() if k not in ("title", "fields")}
                         for s in (previous or {}).get("sections", [])}
    taken = set(used_keys) | {f["key"] for f in previous_fields.values()}
    sections, by_title, seen_labels = [], {}, {}
    group, rows, width = "", 0, max(columns.values())
    for row in ws.iter_rows(min_row=2, max_row=ROWS_READ, max_col=width):
        present = {header: row[col - 1] for header, col in columns.items()
                   if col - 1 < len(row) and not isinstance(row[col - 1], EmptyCell)}
        if not present:
            continue
        r = next(iter(present.values())).row

        def problem(header, message, r=r):
            problems.append(Problem(message, FIELDS_SHEET, r, header, get_column_letter(columns[header])))

        cells = {header: "" for header in columns}
        cells.update({header: cell_value(cell, FIELDS_SHEET, header, problems.append)
                      for header, cell in present.items()})
        if all(text == "" for text in cells.values()):
            continue
        rows += 1
        if rows > ROWS_MAX:
            problems.append(Problem(f"最多 {ROWS_MAX} 个项目。", FIELDS_SHEET, r))
            break
        group = one_line(cells.pop("分组")) or group
        if group_problem(group):
            problem("分组", group_problem(group))
        label = one_line(cells["项目名称"])
        duplicate = label in seen_labels
        if duplicate:
            problem("项目名称", f"项目名称「{label}」与第 {seen_labels[label]} 行重复。")
        field = read_field(cells, None if duplicate else previous_fields.get(label), taken, problem)
        if not duplicate and not label_problem(label):
            seen_labels[label] = r
        if field is None or duplicate or group_problem(group):
            continue
        section = by_title.get(section_key(group))
        if section is None:
            # What else the previous version's section of that title says (e.g. whether it is a heading) stays.
            kept = previous_sections.get(section_key(group), {})
            section = by_title[section_key(group)] = {**kept, "title": group, "fields": []}
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
