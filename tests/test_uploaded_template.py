"""An office's own Word template: each problem refused with its message in
Chinese, a good one renders the report with the office's layout."""
import io
import zipfile

import pytest
from docx import Document

from pbforms.documents.uploaded import check_template, render_uploaded, uploaded_document
from pbforms.forms import builtin_demo_figures, builtin_type
from tests.fillpage import docx_paragraphs
from tests.test_documents import docxtpl_render, parts

SEED = builtin_type("annual_report")
META = {"year": 2022, "unit_name": "青泥镇", "secretary_title": "党委书记"}


def demo_data():
    """The seed's full report, as the demo township has it."""
    return SEED.model_data(META) | builtin_demo_figures("annual_report")
GOOD = ["{{ 标题 }}", "{{ 单位及职务 }}　{{述职人姓名}}", "{{ 开头 }}", "一、履职情况", "{{ 履职情况 }}",
        "二、存在问题", "{{ 存在问题 }}", "三、下步打算", "{{ plans }}",
        "四、上年度问题整改情况", "{{ 上年度问题整改情况 }}", "{{ 主要数据 }}",
        "{{ 述职人姓名 }}", "{{ 成文日期 }}"]


def word_file(paragraphs, change=None):
    """A .docx as Word would save it: a paragraph per entry, a list entry
    being the runs of one paragraph (bold every other run, as a clerk
    formatting part of it would)."""
    doc = Document()
    for entry in paragraphs:
        p = doc.add_paragraph()
        for n, text in enumerate([entry] if isinstance(entry, str) else entry):
            p.add_run(text).bold = bool(n % 2)
    if change:
        change(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_a_good_template_is_accepted_and_renders_the_report():
    template = word_file(GOOD)
    assert check_template(template, SEED) == []
    data = demo_data()
    data.update(reporter_name="张三", written_on="2023-01-06", reading_classes=21)
    paragraphs = docx_paragraphs(render_uploaded(template, SEED, data, META))
    assert paragraphs[:3] == ["2022年度青泥镇党委书记", "抓基层党建工作述职报告", "青泥镇党委书记　张三"]
    assert paragraphs[-2:] == ["张三", "2023年1月6日"]
    # Each item is its own paragraph, numbered; figures flow into the prose.
    duties = paragraphs[paragraphs.index("一、履职情况") + 1:paragraphs.index("二、存在问题")]
    assert [p[:2] for p in duties] == ["一是", "二是", "三是", "四是"]
    assert "读书班21次" in duties[0]
    # Every figure is referred to by the seed's text: no 主要数据 paragraph.
    assert not any(p.startswith("主要数据") for p in paragraphs)


def test_an_uploaded_template_renders_as_docxtpl_would():
    template, context = uploaded_document(word_file(GOOD), SEED, demo_data(), META)
    from pbforms.documents import render
    ours, theirs = parts(render(template, context)), parts(docxtpl_render(template, context))
    assert [name for name in theirs if ours.get(name) != theirs[name]] == []


def test_figures_the_template_does_not_place_go_to_key_figures():
    template = word_file(GOOD)
    data = demo_data()
    data["intro"] = "开头。"
    data["duties"] = [{"heading": "抓学习", "text": "全年学习。"}]
    data["reading_classes"] = 21
    paragraphs = docx_paragraphs(render_uploaded(template, SEED, data, META))
    key = [p for p in paragraphs if p.startswith("主要数据：")]
    assert len(key) == 1 and "读书班21次" in key[0] and "排查十八大以来农村发展党员档案**份" in key[0]


def test_typed_text_in_an_uploaded_template_is_never_evaluated():
    data = demo_data()
    data["reporter_name"] = "{{ 7 * 7 }}<b>&"
    paragraphs = docx_paragraphs(render_uploaded(word_file(GOOD), SEED, data, META))
    assert "{{ 7 * 7 }}<b>&" in paragraphs


def without(name):
    return [p for p in GOOD if p != name]


def not_a_zip():
    return b"\xd0\xcf\x11\xe0 an old .doc file"


def zip_without_document():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    return out.getvalue()


def title_property_with_a_tag(doc):
    doc.core_properties.title = "{{ 9 ** 9 ** 99 }}"


def table_without_grid(doc):
    """A table Word would not write (no w:tblGrid), holding a placeholder:
    python-docx opens the file, docxtpl cannot render it."""
    table = doc.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "{{ 述职人姓名 }}"
    grid = table._tbl.tblGrid
    grid.getparent().remove(grid)


@pytest.mark.parametrize("template, message", [
    (not_a_zip(), "文件不是 Word 文档（.docx）"),
    (zip_without_document(), "文件不是 Word 文档（.docx）"),
    (word_file(without("{{ plans }}") + ["{{ 下步打算 }}".replace("{{", "｛｛").replace("}}", "｝｝")]),
     "占位符「｛｛ 下步打算 ｝｝」用了全角括号 ｛｛ ｝｝"),
    (word_file(without("{{ plans }}") + [["{{ 下步", "打算 }}"]]), "占位符「{{ 下步打算 }}」被 Word 的格式拆成了几段"),
    (word_file(without("{{ plans }}") + [["{", "{ 下步打算 }}"]]), "被 Word 的格式拆成了几段"),
    (word_file(GOOD + ["{{ 姓名 }}"]), "占位符「{{ 姓名 }}」不是本报告类型的项目名称"),
    (word_file(without("{{ plans }}")), "模板没有用到这些项目：「下步打算」"),
    (word_file(without("{{ 主要数据 }}")[:4]), "「党委理论学习中心组会议」"),
    (word_file(GOOD + ["{% for x in range(9) %}"]), "上传的模板只能用 {{ 项目名称 }} 占位符"),
    (word_file(["没有占位符的文件"]), "模板里没有任何占位符"),
    (word_file(GOOD, title_property_with_a_tag), "占位符「{{ 9 ** 9 ** 99 }}」不是本报告类型的项目名称"),
    (word_file(GOOD, table_without_grid), "用示例数据试生成时出错"),
])
def test_each_problem_is_refused_with_its_message(template, message):
    problems = check_template(template, SEED)
    assert any(message in p for p in problems), problems


def test_the_starter_template_is_accepted_and_prints_what_the_generated_one_does():
    from pbforms.documents import render, type_document
    from pbforms.documents.official import starter_template
    from tests.official_format import format_problems
    starter = starter_template(SEED)
    assert check_template(starter, SEED) == []
    data = demo_data()
    # Something carried from the 整改台账: the generated document prints that section's heading too.
    data.update(reporter_name="张三", written_on="2023-01-06",
                last_year_problems=[{"heading": "理论学习不够深入", "text": "已建立学习制度。"}])
    ours = render_uploaded(starter, SEED, data, META)
    assert docx_paragraphs(ours) == docx_paragraphs(render(*type_document(SEED, data, META)))
    assert format_problems(ours) == []
