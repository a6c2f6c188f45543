"""The files of a 述职评议: the slips (Word, and PDF through the app's
LibreOffice converter), and the result as an .xlsx with a native Excel
chart and as an official-format Word document (documents/official.py's
page, styles and footers, so it reads as every other document the office
sends).
"""
import datetime
import io

import segno
from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font

from ..documents.official import FANGSONG, HEITI, official_document, package_bytes, set_rpr
from ..documents.pdf import docx_to_pdf
from ..forms import cn_date
from . import logic

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- slips ---------------------------------------------------------------------

SLIP_COLUMNS, SLIP_ROWS = 2, 5  # ten slips an A4 page
PAGE_MARGIN = Mm(10)
SLIP_HEIGHT = Mm(54)


def ballot_address(base_url, code):
    """The address in a slip's QR code: the code after '#', which no browser sends to a server (ballot.py)."""
    return f"{base_url}v#{code}"


def qr_png(text):
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=5, border=2)
    out.seek(0)
    return out


def dashed_borders(table):
    """Dashed lines round and between the slips: where to cut."""
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{edge}")
        line.set(qn("w:val"), "dashed")
        line.set(qn("w:sz"), "6")
        line.set(qn("w:space"), "0")
        line.set(qn("w:color"), "808080")
        borders.append(line)
    table._tbl.tblPr.append(borders)


def fill_slip(cell, rating, group, code, base_url):
    def line(text, size, bold=False, space_after=0):
        p = cell.add_paragraph() if cell.paragraphs[0].text or len(cell.paragraphs) > 1 else cell.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_after = Pt(space_after)
        run = p.add_run(text)
        run.font.size, run.bold = Pt(size), bold
        set_rpr(run._r.get_or_add_rPr(), east_asia=HEITI if bold else FANGSONG)
        return p

    line(rating.title, 10.5, bold=True)
    line(f"{group.name}　选票", 10.5, space_after=2)
    picture = cell.add_paragraph()
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.add_run().add_picture(qr_png(ballot_address(base_url, code)), width=Mm(28))
    code_line = line(logic.shown_code(code), 14, bold=True)
    code_line.runs[0].font.name = "Courier New"
    line(f"扫码投票，或打开 {base_url}v 输入票码。票码只能用一次，投票不记名。", 8)


def slips_docx(rating, issued, base_url):
    """Every issued (group, code) on a slip, ten to an A4 page, cut along the dashed lines."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, PAGE_MARGIN)
    per_page = SLIP_COLUMNS * SLIP_ROWS
    for start in range(0, len(issued), per_page):
        if start:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        table = doc.add_table(rows=SLIP_ROWS, cols=SLIP_COLUMNS)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        dashed_borders(table)
        for row in table.rows:
            row.height, row.height_rule = SLIP_HEIGHT, WD_ROW_HEIGHT_RULE.EXACTLY
        for i, (group, code) in enumerate(issued[start:start + per_page]):
            fill_slip(table.cell(i // SLIP_COLUMNS, i % SLIP_COLUMNS), rating, group, code, base_url)
    # The first paragraph python-docx starts with would be an empty first page line: drop it.
    first = doc.paragraphs[0]._p if doc.paragraphs and not doc.paragraphs[0].text else None
    if first is not None and first.getprevious() is None and first.getnext() is not None \
            and first.getnext().tag == qn("w:tbl"):
        first.getparent().remove(first)
    return package_bytes(doc, title="评议选票", comments="Ballot slips of a rating (pbforms).")


def to_pdf(docx_bytes):
    return docx_to_pdf(docx_bytes)


# --- the result ------------------------------------------------------------------

def percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def score_text(value):
    return "—" if value is None else f"{value:.2f}"


def result_xlsx(rating):
    """测评结果汇总表: each group's counts per grade, 好评率, weighted score,
    等次, rank; below it the grade shares with a native bar chart, and the rules."""
    result, grades = rating.result(), rating.grades
    book = Workbook()
    sheet = book.active
    sheet.title = "测评结果汇总表"
    sheet.append([rating.title + "测评结果汇总表"])
    heads = ["单位", "书记"] + [f"{g.name}·{grade}" for g, _, _ in result.groups for grade in grades] \
        + ["有效票数", "好评率", "综合得分", "等次", "排名"]
    sheet.append(heads)
    secretaries = {r.id: r.secretary for r in rating.rated_units(with_reports=True)}
    for row in result.units:
        sheet.append([row.name, secretaries.get(row.rated_id, "")]
                     + [n for g, _, _ in result.groups for n in row.counts[g.id]]
                     + [row.ballots, row.good_rate, row.score, row.level, row.rank])
        sheet.cell(sheet.max_row, len(heads) - 3).number_format = "0.0%"
        sheet.cell(sheet.max_row, len(heads) - 2).number_format = "0.00"
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    sheet["A1"].font = Font(bold=True, size=14)

    sheet.append([])
    share_top = sheet.max_row + 1
    sheet.append(["单位"] + [f"{grade}占比" for grade in grades])
    for row in result.units:
        totals = row.grade_counts
        whole = sum(totals)
        sheet.append([row.name] + [n / whole if whole else 0 for n in totals])
        for column in range(2, len(grades) + 2):
            sheet.cell(sheet.max_row, column).number_format = "0.0%"
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "bar", "percentStacked", 100
    chart.title = "各单位评议等次占比"
    data = Reference(sheet, min_col=2, max_col=len(grades) + 1, min_row=share_top, max_row=sheet.max_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=share_top + 1, max_row=sheet.max_row))
    chart.height, chart.width = max(7.5, 1.2 * len(result.units)), 18
    sheet.add_chart(chart, f"H{share_top}")

    sheet.append([])
    for group, ok, reason in result.groups:
        sheet.append([f"{group.name}：发出 {group.ballots} 张，收回 {group.returned} 张，"
                      + ("有效" if ok else f"无效（{reason}）")])
    for text in result.rule_lines:
        sheet.append([text])
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a unit named "=…" stays text
    sheet.freeze_panes = "C3"
    sheet.column_dimensions["A"].width = 14
    sheet.page_setup.orientation = "landscape"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TABLE_SIZE = 10.5  # 五号: eleven columns on the 156 mm text block


def result_docx(rating):
    """The result as an official-format document: the title, the table
    (counts over the valid groups), the groups' turnout, the rules applied,
    and the office's 点评 of each unit."""
    result, grades = rating.result(), rating.grades
    doc, styles = official_document()

    def para(text, style):
        p = doc.add_paragraph(style=styles[style])
        p.add_run(text)
        return p

    para(rating.title, "title")
    para("测评结果汇总表", "title")
    doc.add_paragraph()
    heads = ["单位", "有效票", *grades, "好评率", "得分", "等次", "排名"]
    table = doc.add_table(rows=1, cols=len(heads))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    rows = [[row.name, str(row.ballots), *map(str, row.grade_counts), percent(row.good_rate),
             score_text(row.score), row.level or "—", str(row.rank or "—")] for row in result.units]
    for values in [heads] + rows:
        cells = table.rows[0].cells if values is heads else table.add_row().cells
        for cell, value in zip(cells, values):
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.first_line_indent = Pt(0)
            run = p.add_run(value)
            run.font.size = Pt(TABLE_SIZE)
            if values is heads:
                set_rpr(run._r.get_or_add_rPr(), east_asia=HEITI)
    doc.add_paragraph()
    para("一、评议情况", "heading1")
    for group, ok, reason in result.groups:
        para(f"{group.name}发出选票 {group.ballots} 张，收回 {group.returned} 张，"
             + ("有效。" if ok else f"无效：{reason}。"), "body")
    para("二、计分规则", "heading1")
    for text in result.rule_lines:
        para(text, "body")
    remarks = [(r.unit.name, r.remark) for r in rating.rated_units() if r.remark]
    if remarks:
        para("三、点评", "heading1")
        for name, remark in remarks:
            para(f"{name}：{remark}", "body")
    doc.add_paragraph()
    para(cn_date(datetime.date.today()), "signoff")
    return package_bytes(doc, title="测评结果汇总表", comments="The result of a rating (pbforms).")
