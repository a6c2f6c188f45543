"""The ledger as an .xlsx (one sheet per round) and as an official-format
Word document. The document is a report of a type made from the entries
(a section per unit, an item per entry), so it goes through the one
pipeline every report's document does (pbforms/documents)."""
import io
from itertools import groupby

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from ..documents import render, type_document
from ..forms import ReportType
from ..forms.kinds import Items, chinese_number
from ..forms.sheet import put_text

COLUMNS = ["序号", "单位", "问题", "整改措施", "责任人", "完成时限", "完成情况", "状态"]
WIDTHS = [6, 14, 40, 40, 10, 12, 40, 8]
SHEET_NAME_MAX = 31  # Excel's limit
FORBIDDEN_IN_SHEET_NAME = str.maketrans({c: "_" for c in "[]:*?/\\"})


def row_of(n, entry):
    return [n, entry.unit.name, entry.problem, entry.measures, entry.owner,
            entry.due.isoformat() if entry.due else "", entry.result, entry.status_label]


def sheet_title(round_, taken):
    """The round's title as a sheet name Excel accepts, unique in the workbook."""
    base = round_.title.translate(FORBIDDEN_IN_SHEET_NAME)[:SHEET_NAME_MAX] or str(round_.id)
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{base[:SHEET_NAME_MAX - len(str(n)) - 1]}_{n}"
    taken.add(title)
    return title


def ledger_xlsx(entries):
    """`entries` (in round order) as .xlsx bytes: a sheet per round, the issue's columns."""
    wb = Workbook()
    wb.remove(wb.active)
    taken = set()
    wrap = Alignment(wrap_text=True, vertical="top")
    for round_, of_round in groupby(entries, key=lambda e: e.round):
        ws = wb.create_sheet(sheet_title(round_, taken))
        ws.append(COLUMNS)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for letter, width in zip("ABCDEFGH", WIDTHS):
            ws.column_dimensions[letter].width = width
        for n, entry in enumerate(of_round, start=1):
            values = row_of(n, entry)
            for col, value in enumerate(values, start=1):
                cell = ws.cell(row=n + 1, column=col)
                if isinstance(value, str):
                    put_text(cell, value)  # a 问题 typed as =… stays text, never a formula
                else:
                    cell.value = value
                cell.alignment = wrap
        ws.freeze_panes = "A2"
    if not wb.sheetnames:
        wb.create_sheet("整改台账").append(COLUMNS)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def entry_item(entry):
    """An entry as an item of the document: the 问题 its heading, the rest one paragraph after it."""
    facts = [("整改措施", entry.measures), ("责任人", entry.owner),
             ("完成时限", entry.due.isoformat() if entry.due else ""), ("完成情况", entry.result)]
    text = "；".join(f"{label}：{' '.join(value.split()) or '未填写'}" for label, value in facts)
    return {"heading": entry.problem[:Items.HEADING_MAX], "text": f"{text}；状态：{entry.status_label}。"}


def ledger_docx(round_, entries, office_name):
    """The round's entries as an official-format .docx: a heading per unit (一、青泥村 …)."""
    sections, data = [], {}
    for n, (unit, of_unit) in enumerate(groupby(entries, key=lambda e: e.unit)):
        key = f"unit_{unit.id}"
        sections.append({"title": f"{chinese_number(n + 1)}、{unit.name}",
                         "fields": [{"key": key, "kind": "items", "label": unit.name, "max_items": 9999}]})
        data[key] = [entry_item(e) for e in of_unit]
    if not sections:
        sections.append({"title": "一、整改事项", "fields": [{"key": "none", "kind": "paragraphs", "label": "无"}]})
        data["none"] = "本轮没有整改事项。"
    report_type = ReportType({"name": "整改台账", "title": f"{round_.title}\n问题整改台账", "sections": sections})
    meta = {"year": round_.year, "unit_name": office_name, "secretary_title": ""}
    return render(*type_document(report_type, data, meta))
