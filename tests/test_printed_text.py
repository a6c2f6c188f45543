"""What prints is exactly what was typed: every character of a report's
.docx is in the PDF LibreOffice lays out from it (the preview, the PDF
download, the 汇编), in order, and the sign-off never stands alone on a page.

The texts are built so punctuation falls at every place around a line's
end (a body line holds 28 characters, the first line of a paragraph 26
after its indent), where a layout that hangs punctuation into the margin
may lose it. Each document holds many such paragraphs, so a few
conversions cover them all.
"""
import re

import pytest

from pbforms.documents import pdf as preview
from pbforms.documents import report_docx
from pbforms.models import Round, User
from tests.fillpage import docx_paragraphs, report_of
from tests.test_print import every_report_filled, township_report, volume_docx

FOOTER = re.compile(r"^\s*—\s*\d+\s*—\s*$")
FILLER = "全面加强基层组织建设推进乡村振兴抓治理抓服务强化党员教育管理夯实战斗堡垒作用巩固拓展脱贫攻坚成果"
PUNCTUATION = "。，、；："
# Where the punctuation falls: around the end of the first line (26
# characters after the indent) and of the second (28 more), half-width
# digits shifting it by half a character in the variants with a year.
POSITIONS = [*range(24, 30), *range(51, 57)]


def paragraph(length, mark, year=False):
    """A paragraph whose `length`-th character is `mark`."""
    start = "2022年" if year else ""
    text = (start + FILLER * 3)[:length - 1] + mark
    return text + "后续文字在此继续，直到段落结束。"


def varied_paragraphs():
    return [paragraph(n, mark, year) for mark in PUNCTUATION for n in POSITIONS for year in (False, True)]


def page_texts(pdf_bytes, tmp_path):
    path = tmp_path / "printed.pdf"
    path.write_bytes(pdf_bytes)
    return preview.pdf_text_pages(path)


def squeezed(text):
    return re.sub(r"\s+", "", text)


def body_text(page):
    """A page's text without its page number."""
    return squeezed("".join(line for line in page.splitlines() if not FOOTER.match(line)))


def printed(pdf_bytes, tmp_path):
    return "".join(body_text(page) for page in page_texts(pdf_bytes, tmp_path))


def typed(docx_bytes):
    return squeezed("".join(docx_paragraphs(docx_bytes)))


def first_difference(a, b):
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at {at}: document …{a[max(0, at - 15):at + 15]}… printed …{b[max(0, at - 15):at + 15]}…"


def assert_prints_every_character(docx, pdf, tmp_path):
    document, on_paper = typed(docx), printed(pdf, tmp_path)
    assert on_paper == document, first_difference(document, on_paper)


def village_with_texts(name, paragraphs):
    """The unit's report complete, its opening holding `paragraphs`."""
    from tests.test_township import complete
    report = report_of(name)
    complete(report, User.get(User.unit == report.unit))
    report = report_of(name)
    report.save_data({**report.data, "intro": "\n".join(paragraphs)}, None, report.version)
    return report_of(name)


# --- every character prints -----------------------------------------------------

def test_the_seed_report_prints_every_character(app, tmp_path, libreoffice):
    docx = report_docx(township_report())
    assert_prints_every_character(docx, preview.docx_to_pdf(docx), tmp_path)


def test_punctuation_at_every_place_around_a_lines_end_prints(app, tmp_path, libreoffice):
    docx = report_docx(village_with_texts("青泥村", varied_paragraphs()))
    assert_prints_every_character(docx, preview.docx_to_pdf(docx), tmp_path)


def test_the_volume_pdf_prints_every_character_of_every_report(app, tmp_path, libreoffice):
    reports = every_report_filled(Round.get())
    village_with_texts("柳湾村", varied_paragraphs()[::2])
    reports = [report_of(r.unit.name) for r in reports]
    volume, _ = volume_docx(app, tmp_path)
    pages = page_texts(preview.docx_to_pdf(volume), tmp_path)

    first_report = next(i for i, page in enumerate(pages)
                        if i > 2 and body_text(page).startswith(squeezed(reports[0].report_type.title_lines(
                            reports[0].meta)[0])))
    on_paper = "".join(body_text(page) for page in pages[first_report:])
    document = "".join(typed(report_docx(report)) for report in reports)
    assert on_paper == document, first_difference(document, on_paper)
