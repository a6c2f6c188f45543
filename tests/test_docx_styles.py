"""The Word styles of every document the app makes are named as a clerk
knows them: opening the style list in Word or WPS shows 公文正文, 落款 …,
never an English name of ours (Report Body) or a leftover of python-docx's
blank document (Title Char)."""
import io
import re
import zipfile

import pytest
from lxml import etree

from pbforms.documents import report_docx, template_file
from pbforms.documents.official import official_template, starter_template
from pbforms.forms import builtin_type
from tests.test_print import township_report, volume_docx

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
REPORT_STYLES = {"公文标题", "述职人", "公文正文", "公文正文末段", "公文一级标题", "落款"}


def own_style_names(docx):
    """The names of the styles the document defines itself (w:customStyle), by kind."""
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        root = etree.fromstring(package.read("word/styles.xml"))
    return [style.find(W + "name").get(W + "val") for style in root.iter(W + "style")
            if style.get(W + "customStyle") == "1"]


def used_style_ids(docx):
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        body = etree.fromstring(package.read("word/document.xml"))
    return {s.get(W + "val") for s in body.iter(W + "pStyle")}


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
@pytest.mark.parametrize("make", [official_template, starter_template])
def test_a_types_templates_name_their_styles_in_chinese(stem, make):
    names = own_style_names(make(builtin_type(stem)))
    assert set(names) == REPORT_STYLES
    assert not [n for n in names if re.search("[A-Za-z]", n)]


def test_a_reports_document_and_the_volume_name_their_styles_in_chinese(app, tmp_path):
    report, (volume, _) = report_docx(township_report()), volume_docx(app, tmp_path)

    assert set(own_style_names(report)) == REPORT_STYLES
    assert set(own_style_names(volume)) == REPORT_STYLES | {"汇编封面标题", "汇编封面文字", "汇编目录标题"}
    assert {"ReportBody", "ReportBodyLast", "ReportSign-off", "VolumeCoverTitle"} <= used_style_ids(volume)


def test_the_summary_table_names_its_styles_in_chinese():
    assert set(own_style_names(template_file("round_summary.docx"))) == {"公文标题", "汇总说明", "表头", "表格文字"}
