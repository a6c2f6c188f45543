"""The Word download: the seed report comes back word for word, figures flow
into the prose, and every download passes the official-format checker."""
import io
import json
import zipfile
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest
from docx import Document
from docx.shared import Pt
from werkzeug.http import parse_options_header

from pbforms.forms import builtin_type
from tests.fillpage import FillPage, docx_paragraphs, one, parse, report_of
from tests.official_format import format_problems

SEED = [line.strip() for line in (Path(__file__).parent / "data" / "seed_report.txt")
        .read_text(encoding="utf-8").splitlines() if line.strip()]
TOWNSHIP_FILENAME = "2022年度青泥镇党委书记抓基层党建工作述职报告.docx"


@pytest.fixture
def township(client, auth):
    auth.login("qingnizhen")
    return FillPage(client, report_of("青泥镇").id)


@pytest.fixture
def village(client, auth):
    auth.login("qingnicun")
    return FillPage(client, report_of("青泥村").id)


def seed_block(paragraphs):
    """The paragraphs from the seed's first one on, as many as the seed has."""
    start = paragraphs.index(SEED[0])
    return paragraphs[start:start + len(SEED)]


def test_seed_file_has_twelve_paragraphs():
    assert len(SEED) == 12


def test_seed_paragraphs_come_back_word_for_word(township):
    paragraphs = [p.strip() for p in docx_paragraphs(township.docx())]
    assert seed_block(paragraphs) == SEED


def test_seed_figures_left_open_print_as_stars(township):
    text = "\n".join(docx_paragraphs(township.docx()))
    assert "排查十八大以来农村发展党员档案**份" in text
    assert "现全镇**个党群服务中心均已达标" in text


def test_filled_figures_stand_where_the_seed_has_stars(township):
    response = township.post({"member_files_checked": "35", "service_centers_up_to_standard": "7"})
    assert response.status_code == 200
    expected = [p.replace("档案**份", "档案35份").replace("现全镇**个", "现全镇7个") for p in SEED]
    assert expected != SEED
    paragraphs = [p.strip() for p in docx_paragraphs(township.docx())]
    assert seed_block(paragraphs) == expected
    assert "**" not in "".join(paragraphs)


def test_download_is_named_in_rfc_5987(client, township):
    response = client.get(f"{township.url}/docx")
    header = response.headers["Content-Disposition"]
    assert header == f"attachment; filename=\"report.docx\"; filename*=UTF-8''{quote(TOWNSHIP_FILENAME)}"
    assert parse_options_header(header) == ("attachment", {"filename": TOWNSHIP_FILENAME})
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_demo_report_passes_official_format(township):
    assert format_problems(township.docx()) == []


def test_fresh_village_report_passes_official_format(village):
    assert format_problems(village.docx()) == []


def test_fresh_village_report_lists_its_empty_figures_as_stars(village):
    text = "\n".join(docx_paragraphs(village.docx()))
    assert "主要数据：党员总数**名，发展党员**名，支部党员大会**次，支委会**次" in text
    assert "村集体经济收入**万元，为民办实事**件。" in text


def test_a_villages_new_report_holds_nothing_of_the_townships(village):
    """The village type: none of the seed's prose, none of the township-only
    figures, on the page, in the stored data or in the Word file."""
    township_type, village_type = builtin_type("annual_report"), builtin_type("village_report")
    shared = {f.label for f in village_type.counts}
    township_only = [f.label for f in township_type.counts if f.label not in shared]
    document = "\n".join(docx_paragraphs(village.docx()))
    stored = json.dumps(report_of("青泥村").data, ensure_ascii=False)
    # The page without the 参考范文 folded beside the fields (the village type's own model text).
    page = parse(village.html())
    for model in page.xpath('//details[@class="model-text"]'):
        model.drop_tree()
    page = lxml.html.tostring(page, encoding="unicode")

    assert len(township_only) == 12  # all but 发展党员
    for text in (document, stored, page):
        assert not [label for label in township_only if label in text]
        assert not [p for p in SEED if len(p) > 20 and p[:20] in text]
        assert "县直机关工委" not in text and "2022年，" not in text
    assert "村集体经济收入" in page and "党员总数" in page


def test_a_village_report_with_an_amount_prints_it_with_its_place(village):
    response = village.post({"collective_income": "１２.５", "members_total": "36"})
    refused = village.post({"collective_income": "12.55"})
    text = "\n".join(docx_paragraphs(village.docx()))

    assert response.status_code == 200 and report_of("青泥村").data["collective_income"] == 12.5
    assert "最多保留 1 位小数" in one(parse(refused.text), "//*[@id='error-collective_income']").text_content()
    assert "党员总数36名" in text and "村集体经济收入12.5万元" in text


def test_fresh_village_report_has_its_own_title(village):
    paragraphs = docx_paragraphs(village.docx())
    assert paragraphs[:2] == ["2022年度青泥村党支部书记", "抓基层党建工作述职报告"]


def test_changed_figure_flows_into_the_prose(township):
    township.post({"reading_classes": "21"})
    text = "\n".join(docx_paragraphs(township.docx()))
    assert "读书班21次" in text
    assert "读书班13次" not in text


def test_moving_an_item_up_renumbers_it(township):
    township.post(op="up:duties:1")
    paragraphs = docx_paragraphs(township.docx())
    duties = paragraphs[paragraphs.index("一、履职情况") + 1:paragraphs.index("二、存在问题")]
    assert [p[:10] for p in duties] == ["一是坚持以上率下，强", "二是强化政治建设，强", "三是突出抓主抓重，强", "四是践行相融相促，聚"]


def test_removing_an_item_renumbers_the_rest(township):
    township.post(op="remove:plans:0")
    paragraphs = docx_paragraphs(township.docx())
    plans = paragraphs[paragraphs.index("三、下步打算") + 1:]
    assert plans[0].startswith("一是始终抓好组织建设")
    assert plans[1].startswith("二是始终坚持从严治党")


def first_line_indent(paragraph):
    """The indent Word applies: the paragraph's own, else its style chain's."""
    style = paragraph.style
    indent = paragraph.paragraph_format.first_line_indent
    while indent is None and style is not None:
        indent, style = style.paragraph_format.first_line_indent, style.base_style
    return indent


def test_each_line_of_a_narrative_field_is_an_indented_word_paragraph(township):
    lines = ["第一段写在这里，说明情况。", "第二段写在这里，说明做法。", "第三段写在这里，说明成效。"]
    township.post({"intro": "\n".join(lines)})
    doc = Document(io.BytesIO(township.docx()))
    found = [p for p in doc.paragraphs if p.text in lines]
    assert [p.text for p in found] == lines
    assert [first_line_indent(p) for p in found] == [Pt(32)] * 3  # two 16 pt characters


def test_blank_lines_do_not_make_empty_paragraphs(township):
    township.post({"intro": "第一段。\n\n\n第二段。"})
    paragraphs = docx_paragraphs(township.docx())
    assert paragraphs[paragraphs.index("第一段。") + 1] == "第二段。"


def test_typed_markup_and_template_syntax_reach_document_xml_literally(client, village):
    """Through the app's download, so through pbforms.documents' own environment:
    `<b>&` is escaped XML text, `{{ 7*7 }}` is text, not 49."""
    village.post({"reporter_name": "<b>&{{ 7*7 }}", "intro": "前<b>&amp;{{ 7*7 }}后"})

    body = village.docx()
    with zipfile.ZipFile(io.BytesIO(body)) as document:
        xml = document.read("word/document.xml").decode()

    assert "&lt;b&gt;&amp;{{ 7*7 }}" in xml
    assert "前&lt;b&gt;&amp;amp;{{ 7*7 }}后" in xml
    assert "<b>" not in xml
    texts = docx_paragraphs(body)
    assert "前<b>&amp;{{ 7*7 }}后" in texts and not any("<b>&49" in t for t in texts)
