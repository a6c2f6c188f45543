"""The template generated for the seed type renders, through docxtpl itself,
to a GB/T 9704-conformant document."""
import io
import zipfile

import jinja2
import pytest
from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, Twips
from jinja2.sandbox import SandboxedEnvironment

from pbforms import documents
from pbforms.documents import engine
from pbforms.documents.official import official_template
from pbforms.forms import builtin_type
from tests.official_format import format_problems

TEMPLATE = official_template(builtin_type("annual_report"))


def make_context():
    """A short, seed-like report: every section has a 40+ character paragraph."""
    return {
        "title_lines": ["2022年度青泥镇党委书记", "抓基层党建工作述职报告"],
        # 四、上年度问题整改情况 is left out with its empty list (nothing carried from the 整改台账).
        "doc_headings": ["一、履职情况", "二、存在问题", "三、下步打算", ""],
        "last_year_problems": [],
        "doc_labels": {},
        "reporter_title": "青泥镇党委书记",
        "reporter_name": "张三",
        "written_on": "2023年1月6日",
        "intro": ["2022年，在县委、县政府的正确领导和县委组织部的精心指导下，我持续深入学习贯彻"
                  "党的二十大精神，机关党建水平实现新提升。现就抓基层党建工作情况报告如下："],
        "duties": [
            "一是强化政治建设，强思想、夯基础。全年举办党委理论学习中心组会议10次，读书班13次，"
            "专题党课6次，引导全镇党员干部及时跟进学习。",
            "二是坚持以上率下，强责任、树导向。严格落实全面从严治党，以责任落实为核心，"
            "狠抓党建工作责任落实，强化主体责任意识。",
        ],
        "problems": ["一是抓政治学习不够到位。对支部书记、普通党员的政治理论学习情况亲自过问的少，"
                     "学习成效和深度如何掌握不清。"],
        "plans": [
            "一是始终抓牢政治建设，切实履行好管党治党职责。要以此次述职会为契机，"
            "认真落实好党建工作责任制。",
            "二是始终抓好组织建设，强化基层党组织作用。要始终坚持“实”字当头，"
            "把抓基层、打基础作为长远之计。",
        ],
        "main_figures": [],
        "doc_last_text": "plans",  # its last paragraph keeps with the sign-off
    }


def render(context) -> bytes:
    """Through the app's own pipeline (pbforms.documents), environment and all."""
    return documents.render(TEMPLATE, context)


@pytest.fixture(scope="module")
def rendered():
    return render(make_context())


def test_rendered_report_passes_official_format(rendered):
    assert format_problems(rendered) == []


def test_every_item_is_its_own_paragraph_in_order(rendered):
    ctx = make_context()
    texts = [p.text for p in Document(io.BytesIO(rendered)).paragraphs if p.text.strip()]
    assert texts == [
        *ctx["title_lines"],
        f"{ctx['reporter_title']}\u3000{ctx['reporter_name']}",
        *ctx["intro"],
        "一、履职情况", *ctx["duties"],
        "二、存在问题", *ctx["problems"],
        "三、下步打算", *ctx["plans"],
        ctx["reporter_name"], ctx["written_on"],
    ]


def test_text_is_escaped_not_interpreted():
    ctx = make_context()
    ctx["problems"] = ["<b>&</b> {{ 7 * 7 }}" + ctx["problems"][0]]
    rendered = render(ctx)
    texts = [p.text for p in Document(io.BytesIO(rendered)).paragraphs]
    assert ctx["problems"][0] in texts
    with zipfile.ZipFile(io.BytesIO(rendered)) as document:
        xml = document.read("word/document.xml").decode()
    assert "&lt;b&gt;&amp;&lt;/b&gt; {{ 7 * 7 }}" in xml and "<b>" not in xml


def test_the_apps_environment_is_sandboxed_autoescaping_and_strict():
    """The one environment every document is rendered with (docxtpl turns
    autoescaping on again only when asked to in each render call)."""
    for environment in (engine.ENV,):
        assert isinstance(environment, SandboxedEnvironment)
        assert environment.autoescape is True
        assert environment.undefined is jinja2.StrictUndefined


def test_missing_context_key_fails_loudly():
    ctx = make_context()
    del ctx["plans"]
    with pytest.raises(jinja2.UndefinedError):
        render(ctx)


def _modified(docx_bytes, change) -> bytes:
    doc = Document(io.BytesIO(docx_bytes))
    change(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _body_size_28(doc):
    doc.styles["公文正文"].font.size = Pt(14)


def _wide_margins(doc):
    doc.sections[0].top_margin = Twips(1440)
    doc.sections[0].left_margin = Twips(1800)


def _no_letter_spacing(doc):
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), "0")
    doc.styles["公文正文"].element.get_or_add_rPr().append(spacing)


@pytest.mark.parametrize("change, rule", [
    (_body_size_28, "body text 3号 (16 pt)"),
    (_wide_margins, "top margin 37±1 mm"),
    (_no_letter_spacing, "28 characters per line"),
])
def test_checker_reports_a_broken_document(rendered, change, rule):
    problems = format_problems(_modified(rendered, change))
    assert any(p.startswith(rule) for p in problems), problems
