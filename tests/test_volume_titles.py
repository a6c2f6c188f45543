"""A unit's name is text, wherever the 汇编 puts it: in the TC field each
report's title carries (the 目录 is built from it), in the 目录's entries
and in the page LibreOffice looks the title up on."""
import io

import pytest
from docx import Document
from lxml import etree

from pbforms.models import Round
from tests.fillpage import report_of
from tests.test_print import W, every_report_filled, parts_of, volume_docx

NAMES = ["A&B社区", "<东>村", "“西”&'北'村", 'A"B"村', "甲\\乙村"]


def rename(old, new):
    report = report_of(old)
    unit = report.unit
    unit.name = new
    unit.save()
    return report_of(new)


def tc_titles(docx):
    body = etree.fromstring(parts_of(docx)["word/document.xml"]).find(W + "body")
    return [t.text.strip() for t in body.iter(W + "instrText") if t.text.strip().startswith("TC")]


def toc_entries(docx):
    return [p.text for p in Document(io.BytesIO(docx)).paragraphs if p.style.style_id == "TOC1"]


@pytest.mark.parametrize("name", NAMES)
def test_a_units_name_with_markup_characters_stays_text_in_the_volume(app, tmp_path, name):
    every_report_filled(Round.get())
    report = rename("青泥村", name)
    title = "".join(report.report_type.title_lines(report.meta))
    assert name in title

    docx, _ = volume_docx(app, tmp_path)

    assert f"{title}\t" in toc_entries(docx)
    shown = title.replace('"', "”").replace("\\", "＼")  # a field's quoted text holds neither
    assert f'TC "{shown}" \\l 1' in tc_titles(docx)


def test_the_volume_laid_out_by_libreoffice_numbers_a_title_with_an_ampersand(app, tmp_path, libreoffice):
    every_report_filled(Round.get())
    report = rename("青泥村", "A&B社区")
    title = "".join(report.report_type.title_lines(report.meta))

    docx, result = volume_docx(app, tmp_path)

    assert "目录的页码尚未填好" not in result.output
    entry = next(e for e in toc_entries(docx) if e.startswith(title))
    assert entry[len(title):].strip("\t").isdigit()
