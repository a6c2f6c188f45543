"""The document is generated from the report type, and rendered faster than
docxtpl with the same parts: a type the office makes gets an official
document without a hand-made template, every figure shows, and text from a
definition or a filler is never evaluated."""
import copy
import io
import zipfile

from docx import Document
from docxtpl import DocxTemplate

from pbforms.documents import engine, render, report_document, type_document
from pbforms.documents.official import plan_of
from pbforms.forms import ReportType, builtin_definition, builtin_type
from tests.fillpage import docx_paragraphs, report_of
from tests.official_format import format_problems

SEED = builtin_type("annual_report")
META = {"year": 2022, "unit_name": "河西村", "secretary_title": "党支部书记"}


def parts(docx_bytes):
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        return {name: z.read(name) for name in z.namelist()}


def docxtpl_render(template, context):
    """What docxtpl alone writes for the same template and context."""
    doc = DocxTemplate(io.BytesIO(template))
    doc.render(context, jinja_env=engine.ENV, autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def village_type(**changes):
    """A type as the office might make one: the seed's outline, its own
    figures (one an amount), no 开头, 存在问题 without an ordinal."""
    definition = builtin_definition("annual_report")
    sections = definition["sections"]
    sections[2]["fields"] = [
        {"key": "members", "kind": "count", "label": "党员总数", "unit": "名", "required": True},
        {"key": "recruited", "kind": "count", "label": "发展党员", "unit": "名"},
        {"key": "duties", "kind": "items", "label": "履职情况", "default": [
            {"heading": "抓班子带队伍", "text": "全村现有党员⟦党员总数⟧名。"}]},
    ]
    definition.update(changes)
    return ReportType(definition)


def with_definition(rt, change):
    definition = copy.deepcopy(rt.definition)
    change(definition)
    return ReportType(definition)


# --- the generated template --------------------------------------------------------

def test_seed_report_equals_docxtpl_part_for_part(app):
    report = report_of("青泥镇")
    template, context = report_document(report)
    ours, theirs = parts(render(template, context)), parts(docxtpl_render(template, context))
    assert list(ours) == list(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert "word/document.xml" in ours and "word/footer1.xml" in ours


def test_rendering_again_gives_the_same_bytes(app):
    template, context = report_document(report_of("青泥镇"))
    assert render(template, context) == render(template, context)


def test_seed_plan_reads_the_definition():
    plan = plan_of(SEED)
    assert plan.name_line == ("reporter_title", "reporter_name")
    assert plan.signoff == ("reporter_name", "written_on")
    # The fourth, 上年度问题整改情况, prints only when last year's 整改台账 filled it.
    assert [b for b in plan.blocks if b[0] == "heading"] == [("heading", n) for n in range(4)]


def test_a_new_type_gets_an_official_document_with_every_figure():
    rt = village_type()
    data = rt.initial_data(META)
    data.update(reporter_title="河西村党支部书记", reporter_name="李四", written_on="2023-01-06",
                intro="一年来，在镇党委的坚强领导下，村党支部认真落实全面从严治党主体责任，现将抓基层党建工作情况报告如下：")
    document = render(*type_document(rt, data, META))
    assert format_problems(document) == []
    paragraphs = docx_paragraphs(document)
    # 党员总数 is referred to by the text: it prints there, not in 主要数据.
    assert "一是抓班子带队伍。全村现有党员**名。" in paragraphs
    assert paragraphs[-3:] == ["主要数据：发展党员**名。", "李四", "2023年1月6日"]
    data.update(members=52, recruited=2)
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert "一是抓班子带队伍。全村现有党员52名。" in paragraphs
    assert "主要数据：发展党员2名。" in paragraphs


def test_a_figure_whose_reference_was_deleted_moves_to_key_figures():
    rt = village_type()
    data = rt.initial_data(META)
    data.update(members=52, duties=[{"heading": "抓班子带队伍", "text": "全村党员都参加了学习。"}])
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert "主要数据：党员总数52名，发展党员**名。" in paragraphs


def test_headings_follow_the_definition():
    rt = with_definition(village_type(), lambda d: d["sections"][3].update(heading=False))
    data = rt.initial_data(META)
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert "一、履职情况" in paragraphs and "三、下步打算" in paragraphs
    assert "二、存在问题" not in paragraphs


def test_definition_text_is_never_evaluated():
    rt = with_definition(village_type(), lambda d: d["sections"][2].update(
        title="一、{{ 7 * 7 }}{% if true %}<b>&{% endif %}"))
    data = rt.initial_data(META)
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert "一、{{ 7 * 7 }}{% if true %}<b>&{% endif %}" in paragraphs
    assert not any("49" in p for p in paragraphs)


def test_typed_text_is_never_evaluated(app):
    rt = SEED
    data = rt.initial_data(META)
    data["intro"] = "{{ 7 * 7 }} {%p if true %}<w:p>&amp;"
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert "{{ 7 * 7 }} {%p if true %}<w:p>&amp;" in paragraphs


# --- the engine --------------------------------------------------------------------

def test_engine_writes_a_zip_every_reader_accepts(app):
    document = render(*report_document(report_of("青泥村")))
    with zipfile.ZipFile(io.BytesIO(document)) as z:
        assert z.testzip() is None
    Document(io.BytesIO(document))


def test_template_tags_in_footers_and_properties_render_as_docxtpl_does():
    doc = Document(io.BytesIO(engine_template_with_tags()))
    out = io.BytesIO()
    doc.save(out)
    template = out.getvalue()
    context = {"name": "A&B <c>", "rows": ["一", "二\t三"], "unit": "河西村"}
    ours, theirs = parts(render(template, context)), parts(docxtpl_render(template, context))
    assert [name for name in theirs if ours.get(name) != theirs[name]] == []
    assert any("河西村" in data.decode() for name, data in ours.items() if name.startswith("word/footer"))
    assert b"{{ name }}" not in ours["docProps/core.xml"] and b"A&amp;" in ours["docProps/core.xml"]


def engine_template_with_tags():
    doc = Document()
    doc.core_properties.title = "{{ name }}"
    doc.add_paragraph("{%p for r in rows %}")
    doc.add_paragraph("{{ r }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{{ name }}")
    doc.sections[0].footer.paragraphs[0].text = "{{ unit }}"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_render_body_is_the_body_of_the_document(app):
    from lxml import etree
    from pbforms.documents import render_body, render_parts
    report = report_of("青泥镇")
    template, context = report_document(report)
    body = render_body(template, context)
    document = etree.fromstring(render_parts(report)["word/document.xml"])
    assert etree.tostring(document[0]) == etree.tostring(body)
    assert body[-1].tag.endswith("sectPr")


def test_the_definition_may_name_the_name_line_and_sign_off():
    rt = with_definition(village_type(), lambda d: d.update(
        document={"name_line": ["reporter_name", "no_such_field"], "signoff": ["written_on"]}))
    data = rt.initial_data(META)
    data.update(reporter_title="河西村党支部书记", reporter_name="李四", written_on="2023-01-06")
    paragraphs = docx_paragraphs(render(*type_document(rt, data, META)))
    assert paragraphs[2] == "李四"
    assert paragraphs[-1] == "2023年1月6日" and paragraphs[-2] != "李四"
    # A one-line field neither line takes prints in the body with its label.
    assert "单位及职务：河西村党支部书记" in paragraphs
