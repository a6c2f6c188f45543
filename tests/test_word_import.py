"""从 Word 导入: last year's report as a Word file into the form.

The files are built here with python-docx in the layouts clerks make: typed
freely without styles (headings as ordinary lines), with Word's styles and
list numbering, items as paragraphs of their own or run on in one, numbering
typed as text in several ways; and the official file this app downloads.
Each goes into an emptied report of the seed's type through the page (upload,
preview, confirm), and the official .docx downloaded afterwards must hold
every paragraph of the seed in order, with the figures in the count fields
and referred to from the text.
"""
import io
import re
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Pt
from werkzeug.datastructures import MultiDict

from pbforms.db import db
from pbforms.models import Report, Revision

from .fillpage import FillPage, docx_paragraphs, one, parse, report_of

SEED = [line.strip() for line in (Path(__file__).parent / "data" / "seed_report.txt")
        .read_text(encoding="utf-8").splitlines() if line.strip()]
TOWNSHIP = "青泥镇"
TOWNSHIP_FILLER = "qingnizhen"
TITLE = ["2022年度青泥镇党委书记", "抓基层党建工作述职报告"]
SIGN_OFF = ["王建华", "2023年1月6日"]
# The seed's eleven figures written as numbers (its two ** are not numbers).
SEED_FIGURES = {"党委理论学习中心组会议": 10, "读书班": 13, "专题党课": 6, "集中学习": 12, "交流研讨": 2,
                "党委会议": 12, "党建专题会议": 6, "党建专项督查": 2, "发展党员": 16, "为民办结实事": 98,
                "临时党支部": 1}
HEADINGS = {"一、履职情况", "二、存在问题", "三、下步打算"}


def sections_of_seed():
    """The seed as (intro, [(heading, [paragraphs])])."""
    intro, parts = [], []
    for line in SEED:
        if line in HEADINGS:
            parts.append((line, []))
        elif parts:
            parts[-1][1].append(line)
        else:
            intro.append(line)
    return intro, parts


def build(paragraphs):
    """A .docx of plain paragraphs: (text, style) or text; no styles unless given."""
    document = Document()
    for p in paragraphs:
        text, style = p if isinstance(p, tuple) else (p, None)
        document.add_paragraph(text, style=style)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()



def items_of(heading, body):
    """The seed's items of a section: a paragraph each, but 存在问题's run on in one."""
    return split_items(body[0]) if heading == "二、存在问题" else body


def split_items(paragraph):
    """The items of a paragraph they run on in (存在问题, which has no
    sub-points): split where a sentence ends and the next ordinal follows."""
    items, expected = [], 1
    for m in re.finditer("[一二三四五六七八九十]是", paragraph):
        if m.group() == "一二三四五六七八九十"[expected - 1] + "是" and (m.start() == 0 or paragraph[m.start() - 1] == "。"):
            items.append(m.start())
            expected += 1
    return [paragraph[a:b] for a, b in zip(items, items[1:] + [len(paragraph)])]


def heading_and_body(item):
    """一是强化政治建设，强思想、夯基础。一是持续… -> (一是强化政治建设，强思想、夯基础。, 一是持续…)"""
    end = item.index("。") + 1
    return item[:end], item[end:]


def layout_plain():
    """Typed freely: title, name line, the seed's paragraphs, sign-off; no styles at all."""
    return build(TITLE + ["青泥镇党委书记　王建华"] + SEED + SIGN_OFF)


def layout_indented_and_spaced():
    """Indented with full-width spaces, headings with other punctuation, name line with a colon."""
    intro, parts = sections_of_seed()
    paragraphs = ["　" + TITLE[0] + TITLE[1], "述职人：王建华"] + ["　　" + p for p in intro]
    for heading, body in parts:
        paragraphs.append(heading.replace("、", ". ") + "：")
        paragraphs += ["　　" + p for p in body]
    return build(paragraphs + ["", "王建华", "2023年01月06日"])


def layout_styled():
    """Word's styles: Title, headings in Heading 1 (no ordinal typed), body
    paragraphs with a first-line indent, 下步打算 as a Word numbered list."""
    document = Document()
    for line in TITLE:
        document.add_paragraph(line, style="Title")
    document.add_paragraph("青泥镇党委书记 王建华")
    intro, parts = sections_of_seed()
    for p in intro:
        document.add_paragraph(p).paragraph_format.first_line_indent = Pt(32)
    for heading, body in parts:
        document.add_heading(heading.split("、", 1)[1], level=1)
        for p in body:
            if heading == "三、下步打算":
                document.add_paragraph(p[2:], style="List Number")  # the numbering is Word's, not typed
            else:
                document.add_paragraph(p).paragraph_format.first_line_indent = Pt(32)
    for line in SIGN_OFF:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def layout_items_on_their_own():
    """Each item's heading a paragraph of its own, its text the next one;
    存在问题 one paragraph per item (the seed runs them on)."""
    intro, parts = sections_of_seed()
    paragraphs = TITLE + ["青泥镇党委书记　王建华"] + intro
    for heading, body in parts:
        paragraphs.append(heading)
        for item in items_of(heading, body):
            if heading == "二、存在问题":
                paragraphs.append(item)
            else:
                paragraphs += list(heading_and_body(item))
    return build(paragraphs + SIGN_OFF)


def layout_run_on():
    """Every section's items run on in a single paragraph."""
    intro, parts = sections_of_seed()
    paragraphs = TITLE + ["青泥镇党委书记　王建华"] + intro
    for heading, body in parts:
        paragraphs += [heading, "".join(body)]
    return build(paragraphs + SIGN_OFF)


def layout_numbered_as_text():
    """Items numbered （一）（二） and 1. 2. typed as text instead of 一是二是."""
    intro, parts = sections_of_seed()
    paragraphs = TITLE + ["青泥镇党委书记　王建华"] + intro
    for n, (heading, body) in enumerate(parts):
        paragraphs.append(heading)
        for k, item in enumerate(items_of(heading, body)):
            text = item[2:]
            paragraphs.append(f"（{'一二三四五'[k]}）{text}" if n % 2 == 0 else f"{k + 1}.{text}")
    return build(paragraphs + SIGN_OFF)


LAYOUTS = {
    "plain": layout_plain,
    "indented and spaced": layout_indented_and_spaced,
    "styled": layout_styled,
    "items on their own": layout_items_on_their_own,
    "run on": layout_run_on,
    "numbered as text": layout_numbered_as_text,
}


@pytest.fixture
def township(client, auth):
    """The township's report (the seed's type), emptied, opened by its filler."""
    auth.login(TOWNSHIP_FILLER)
    report = report_of(TOWNSHIP)
    empty = {f.key: f.empty for f in report.report_type.fields}
    with db.connection_context():
        report.save_data(empty, None, report.version)
    return FillPage(client, report.id)


def stored(report_id):
    with db.connection_context():
        return Report.get_by_id(report_id)


def upload(client, page, content, filename="述职报告.docx"):
    form = parse(client.get(page.url + "/word").text).xpath("//form[contains(@class, 'upload')]")[0]
    return client.post(form.action, content_type="multipart/form-data",
                       data={**dict(form.form_values()), "file": (io.BytesIO(content), filename)})


def confirm(client, preview, untick=()):
    """Send the preview's form as a browser would (every ticked figure; `untick` some first)."""
    assert preview.status_code == 200, preview.text
    form = parse(preview.text).xpath("//form[contains(@class, 'confirm')]")[0]
    for key in untick:
        one(form, f".//input[@name='figure'][@value='{key}']").checked = False
    return client.post(form.action, data=MultiDict(form.form_values()), follow_redirects=True)


def in_order(expected, paragraphs):
    """The paragraphs of `expected` missing from `paragraphs` in that order (none: all there)."""
    rest = iter(paragraphs)
    return [p for p in expected if not any(p == q for q in rest)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_word_file_of_the_seed_gives_back_every_paragraph_with_its_figures(township, client, layout):
    before = stored(township.report_id)

    done = confirm(client, upload(client, township, LAYOUTS[layout]()))

    assert done.status_code == 200
    report = stored(township.report_id)
    assert report.version == before.version + 1
    paragraphs = docx_paragraphs(township.docx())
    assert in_order(SEED, paragraphs) == []
    assert paragraphs[:3] == TITLE + ["青泥镇党委书记\u3000王建华"]
    assert paragraphs[-2:] == SIGN_OFF
    counts = {f.label: report.data[f.key] for f in report.report_type.counts}
    text = str([report.data[f.key] for f in report.report_type.fields if f.kind in ("paragraphs", "items")])
    typed_once = [label for label, n in SEED_FIGURES.items() if counts[label] == n and f"⟦{label}⟧" in text]
    assert len(typed_once) >= 10, typed_once
    assert not re.search(r"\d+[次名件个份]", text.replace("2022年", "")), "a figure left as a literal number"


def test_the_downloaded_official_file_round_trips(township, client):
    confirm(client, upload(client, township, layout_plain()))
    first = township.docx()
    data = stored(township.report_id).data

    with db.connection_context():
        report = stored(township.report_id)
        report.save_data({f.key: f.empty for f in report.report_type.fields}, None, report.version)
    confirm(client, upload(client, township, first, "2022年度青泥镇党委书记抓基层党建工作述职报告.docx"))

    assert stored(township.report_id).data == data
    assert docx_paragraphs(township.docx()) == docx_paragraphs(first)


def test_the_preview_shows_what_goes_where_and_stores_nothing(township, client):
    before = stored(township.report_id)
    extra = "附：本报告经党委会议研究通过。"  # a line after the items that belongs nowhere…
    content = build(TITLE + ["青泥镇党委书记　王建华"] + SEED[:1] + ["（此处为说明文字）", "一、履职情况"]
                    + SEED[2:6] + ["二、存在问题", SEED[7], "五、其他事项", extra] + SIGN_OFF)

    preview = upload(client, township, content)

    assert preview.status_code == 200
    tree = parse(preview.text)
    rows = {row.get("id")[len("import-"):]: " ".join(row.text_content().split())
            for row in tree.xpath("//div[contains(@class, 'import-row')]")}
    assert rows["reporter_name"] == "述职人姓名 王建华"
    assert rows["committee_meetings"] == "党委会议 12次"
    assert "plans" not in rows
    absent = one(tree, "//p[@id='import-absent']").text_content()
    # The ** figures are referred to from the text but stay empty; the seed has no 上年度问题整改情况.
    assert absent.split("：", 1)[1].split() == ["排查十八大以来农村发展党员档案、达标党群服务中心、下步打算、上年度问题整改情况"]
    assert "（4 条）" in rows["duties"] and "一是强化政治建设，强思想、夯基础。一是持续深入开展理论学习。" in rows["duties"]
    figures = [[td.text_content().strip() for td in tr.xpath("td")[1:]]
               for tr in tree.xpath("//table[contains(@class, 'figures')]/tbody/tr")]
    assert ["党委会议", "12次"] == figures[5][:2]
    assert "党委会议12次" in figures[5][2]
    assert ["排查十八大以来农村发展党员档案", "原文未填（**），数字栏留空"] == figures[9][:2]
    unplaced = one(tree, "//textarea[@id='unplaced']").text_content().split("\n")
    assert unplaced == ["五、其他事项（此标题与报告的各部分都对不上）", extra]
    assert "（此处为说明文字）" in rows["intro"]
    after = stored(township.report_id)
    assert (after.version, after.data) == (before.version, before.data)


def test_applying_makes_one_revision_that_history_can_undo(township, client):
    before = stored(township.report_id)
    revisions = Revision.select().where(Revision.report == township.report_id).count()

    done = confirm(client, upload(client, township, layout_plain()))

    assert "已从 Word 导入，保存为第" in done.text
    assert Revision.select().where(Revision.report == township.report_id).count() == revisions + 1
    history = client.get(f"/reports/{township.report_id}/history").text
    assert "从 Word 导入" in history
    revision_page = client.get(f"/reports/{township.report_id}/history?version={before.version}").text
    form = parse(revision_page).xpath("//form[contains(@class, 'restore')]")[0]
    client.post(form.action, data=dict(form.form_values()))
    assert stored(township.report_id).data == before.data


def test_a_report_changed_after_the_preview_is_not_overwritten(township, client):
    preview = upload(client, township, layout_plain())
    township.post({"reporter_name": "另一个人"})

    done = confirm(client, preview)

    assert "预览之后报告又被修改了" in done.text
    assert stored(township.report_id).data["reporter_name"] == "另一个人"


def damaged_zip():
    good = layout_plain()
    return good[:len(good) // 2]


def not_a_document_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


@pytest.mark.parametrize("content, filename, message", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "去年的报告.doc", "这是旧版 Word 文件（.doc），系统读不了"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "去年的报告.wps", "这是 WPS 旧格式的文件（.wps），系统读不了"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "报告.pdf", "这是 PDF 文件，读不出报告的段落"),
    ("一、履职情况\n一是强化政治建设。".encode("gbk"), "报告.docx", "这不是 Word 文件（.docx），而是文本文件，可能只是改了扩展名"),
    (damaged_zip(), "报告.docx", "文件已损坏，打不开"),
    (not_a_document_zip(), "报告.docx", "这个压缩文件不是 Word 文件"),
    (build([]), "空白.docx", "文档中没有文字"),
    (b"", "报告.docx", "文件是空的"),
], ids=["doc", "wps", "pdf", "renamed txt", "damaged zip", "zip of something else", "empty document", "empty file"])
def test_a_file_that_cannot_be_read_gets_a_clear_message_and_nothing_is_stored(township, client, content,
                                                                               filename, message):
    before = stored(township.report_id)

    response = upload(client, township, content, filename)

    assert response.status_code == 422
    assert message in parse(response.text).get_element_by_id("file-error").text_content()
    after = stored(township.report_id)
    assert (after.version, after.data) == (before.version, before.data)


def test_the_fill_page_offers_the_import_and_a_report_not_editable_refuses_it(township, client, auth):
    page = parse(township.html())
    link = one(page, "//a[normalize-space()='从 Word 导入']")
    assert link.get("href") == f"/reports/{township.report_id}/word"
    auth.logout()
    auth.admin()
    village = report_of("青泥村")
    page = client.get(f"/reports/{village.id}/word").text
    assert parse(page).xpath("//form[contains(@class, 'upload')]") == []
    response = client.post(f"/reports/{village.id}/word", content_type="multipart/form-data",
                           data={"csrf_token": auth.csrf_token(), "file": (io.BytesIO(layout_plain()), "a.docx")})
    assert response.status_code == 409
    assert "只能修改本单位的报告" in response.text


def test_cli_imports_a_word_file_and_says_what_went_where(app, tmp_path):
    report = report_of(TOWNSHIP)
    with db.connection_context():
        report.save_data({f.key: f.empty for f in report.report_type.fields}, None, report.version)
    path = tmp_path / "报告.docx"
    path.write_bytes(layout_plain())

    result = app.test_cli_runner().invoke(args=["report", "import-docx", "--report", str(report.id), str(path)])

    assert result.exit_code == 0, result.output
    assert "述职人姓名 ← 王建华" in result.output
    assert "数字：党委会议 = 12次（" in result.output
    assert "履职情况 ← 4 条：强化政治建设，强思想、夯基础" in result.output
    assert stored(report.id).data["committee_meetings"] == 12
    assert Revision.select().where(Revision.report == report.id).order_by(Revision.version.desc()).first().note \
        == "从 Word 导入（命令行）"


def test_cli_refuses_a_file_that_is_not_a_docx(app, tmp_path):
    report = report_of(TOWNSHIP)
    path = tmp_path / "报告.pdf"
    path.write_bytes(b"%PDF-1.4 ...")
    version = report.version

    result = app.test_cli_runner().invoke(args=["report", "import-docx", "--report", str(report.id), str(path)])

    assert result.exit_code == 1
    assert "这是 PDF 文件" in result.output
    assert stored(report.id).version == version


def test_a_short_last_item_is_not_taken_for_the_sign_off(township, client):
    content = build(TITLE + SEED[:1] + ["三、下步打算", "一是始终抓牢政治建设。要以此次述职会议为新起点。",
                                        "二是始终抓好组织建设", "三是加强班子队伍建设", "中共青泥镇委员会", "王建华",
                                        "2023年1月6日"])

    confirm(client, upload(client, township, content))

    data = stored(township.report_id).data
    assert [item["heading"] + item["text"] for item in data["plans"]] == [
        "始终抓牢政治建设要以此次述职会议为新起点。", "始终抓好组织建设", "加强班子队伍建设"]
    assert (data["reporter_name"], data["written_on"]) == ("王建华", "2023-01-06")


@pytest.mark.parametrize("written, label, number", [
    ("召开党委会议共12次", "党委会议", 12),
    ("全年召开党委中心组理论学习会议10次", "党委理论学习中心组会议", 10),
    ("新发展党员16名", "发展党员", 16),
    ("为民办实事98件", "为民办结实事", 98),
    ("排查农村发展党员档案120份", "排查十八大以来农村发展党员档案", 120),
    ("现全镇5个党群服务中心均已达标", "达标党群服务中心", 5),
    ("举办读书班活动13次", "读书班", 13),
])
def test_a_figure_written_a_little_differently_is_still_recognised(township, written, label, number):
    from pbforms.text.word_import import FigureFinder

    finder = FigureFinder(stored(township.report_id).report_type)
    text = finder.process(written)

    assert text == written.replace(str(number), f"⟦{label}⟧")
    assert [(fig.field.label, fig.value) for fig in finder.figures] == [(label, number)]


@pytest.mark.parametrize("written", ["召开会议12次", "连续3年获评先进", "2022年举办活动", "第2次集中学习"])
def test_a_number_that_names_no_figure_is_left_as_written(township, written):
    from pbforms.text.word_import import FigureFinder

    finder = FigureFinder(stored(township.report_id).report_type)
    assert finder.process(written) == written


def test_a_heading_run_on_with_its_text_is_still_a_heading(township, client):
    intro, parts = sections_of_seed()
    paragraphs = TITLE + intro + [f"{heading}：{body[0]}" for heading, body in parts[1:2]] + SIGN_OFF

    confirm(client, upload(client, township, build(paragraphs)))

    assert in_order(SEED[:1] + SEED[6:8], docx_paragraphs(township.docx())) == []


def test_a_file_with_nothing_for_the_report_lists_its_paragraphs_to_copy(township, client):
    before = stored(township.report_id)

    response = upload(client, township, build(["会议纪要", "今天开会讨论了下一阶段的工作安排。"]))

    assert response.status_code == 422
    tree = parse(response.text)
    assert "文件中没有找到可以放入报告的内容" in tree.get_element_by_id("file-error").text_content()
    assert one(tree, "//textarea[@id='unplaced']").text_content().split("\n") == ["会议纪要", "今天开会讨论了下一阶段的工作安排。"]
    assert stored(township.report_id).version == before.version


def test_an_upload_without_a_file_asks_for_one(township, client, auth):
    response = client.post(f"/reports/{township.report_id}/word", data={"csrf_token": auth.csrf_token()})

    assert response.status_code == 422
    assert parse(response.text).get_element_by_id("file-error").text_content() == "请选择要导入的 Word 文件（.docx）。"


def test_a_closing_phrase_is_not_taken_for_the_name(township, client):
    confirm(client, upload(client, township, build(TITLE + SEED + ["特此报告", "2023年1月6日"])))

    data = stored(township.report_id).data
    assert data["reporter_name"] == "" and data["written_on"] == "2023-01-06"


# --- a village's report: its own type, its sign-off, another year's file ------------

VILLAGE = "石桥村"
VILLAGE_TITLE = "抓基层党建工作述职报告"


@pytest.fixture
def village(client, auth):
    """石桥村's report, never saved (as a new round gives it), opened by its filler."""
    auth.login("shiqiaocun")
    return FillPage(client, report_of(VILLAGE).id)


def village_file(year=2022, signoff=("石桥村党支部书记：张志强", "2023年1月5日")):
    return build([f"{year}年度石桥村党支部书记", VILLAGE_TITLE,
                  f"{year}年，石桥村党支部召开支部党员大会4次，发展党员2名，村集体经济收入8.6万元。",
                  "一、履职情况", "一是抓班子。坚持每月召开支委会12次。", "二是抓队伍。",
                  "二、存在问题", "一是学习不够深入。", "三、下步打算", "一是加强学习。", "二是壮大集体经济。",
                  *signoff])


def test_a_village_page_names_its_own_figures_and_no_version_before_the_first_save(village, client):
    page = parse(client.get(village.url + "/word").text)

    meta = one(page, "//p[@class='meta']").text_content()
    assert "第 0 版" not in meta and "尚未填写" in meta
    assert "把“支部党员大会12次”这样的数字填进数字栏" in page.text_content()
    assert "党委会议" not in page.text_content()


def test_the_sign_off_after_the_last_item_is_not_glued_to_it(village, client):
    done = confirm(client, upload(client, village, village_file()))

    assert done.status_code == 200
    data = stored(village.report_id).data
    assert [item["heading"] + item["text"] for item in data["plans"]] == ["加强学习", "壮大集体经济"]
    assert (data["reporter_name"], data["reporter_title"], data["written_on"]) == (
        "张志强", "石桥村党支部书记", "2023-01-05")


def test_the_preview_shows_an_amount_with_its_unit(village, client):
    tree = parse(upload(client, village, village_file()).text)

    assert " ".join(one(tree, "//div[@id='import-collective_income']").text_content().split()) == "村集体经济收入 8.6万元"
    figures = {tr.xpath("td")[1].text_content().strip(): tr.xpath("td")[2].text_content().strip()
               for tr in tree.xpath("//table[contains(@class, 'figures')]/tbody/tr")}
    assert figures["村集体经济收入"] == "8.6万元"


def figure_boxes(preview):
    return {box.get("value"): box.checked
            for box in parse(preview.text).xpath("//form[contains(@class, 'confirm')]//input[@name='figure']")}


def test_figures_of_the_round_s_year_are_ticked_and_imported(village, client):
    preview = upload(client, village, village_file(2022))

    assert figure_boxes(preview) == {"branch_general_meetings": True, "members_recruited": True,
                                     "collective_income": True, "branch_committee_meetings": True}
    confirm(client, preview)
    data = stored(village.report_id).data
    assert (data["branch_general_meetings"], data["members_recruited"], data["collective_income"]) == (4, 2, 8.6)


def test_another_year_s_figures_are_offered_unticked_and_the_preview_says_so(village, client):
    preview = upload(client, village, village_file(2021))

    notes = " ".join(li.text_content() for li in parse(preview.text).xpath("//ul[@class='import-notes']/li"))
    assert "这是2021年度的报告，本次填报的是2022年度" in notes
    assert figure_boxes(preview) and not any(figure_boxes(preview).values())
    assert "另一年度的数字" in one(parse(preview.text), "//div[@id='import-members_recruited']").text_content()
    confirm(client, preview)
    data = stored(village.report_id).data
    assert (data["branch_general_meetings"], data["members_recruited"], data["collective_income"]) == (None, None, None)
    assert "⟦支部党员大会⟧" in data["intro"]  # the text refers to this year's figure, to be typed


def test_an_unticked_figure_of_the_round_s_year_stays_out(village, client):
    confirm(client, upload(client, village, village_file(2022)), untick=["members_recruited"])

    data = stored(village.report_id).data
    assert (data["branch_general_meetings"], data["members_recruited"]) == (4, None)


def test_the_command_leaves_another_year_s_figures_out(app, tmp_path):
    report = report_of(VILLAGE)
    path = tmp_path / "2021.docx"
    path.write_bytes(village_file(2021))

    result = app.test_cli_runner().invoke(args=["report", "import-docx", "--report", str(report.id), str(path)])

    assert result.exit_code == 0, result.output
    assert "这是2021年度的报告" in result.output
    data = stored(report.id).data
    assert data["members_recruited"] is None and data["reporter_name"] == "张志强"


def test_nested_brackets_in_the_confirmed_content_get_a_message(township, client):
    form = dict(parse(upload(client, township, layout_plain()).text)
                .xpath("//form[contains(@class, 'confirm')]")[0].form_values())
    before = stored(township.report_id)

    response = client.post(f"/reports/{township.report_id}/word", data={**form, "content": "[" * 200_000})

    assert response.status_code == 422
    assert "导入的内容有误，没有导入" in parse(response.text).get_element_by_id("file-error").text_content()
    assert stored(township.report_id).version == before.version


# --- what a mutation of the reader must not get past ---------------------------------

def test_a_second_different_figure_is_not_linked_to_the_first(township, client):
    content = build(TITLE + ["一、履职情况", "一是抓班子。上半年召开党委会议12次，下半年召开党委会议15次。"] + SIGN_OFF)

    preview = upload(client, township, content)
    confirm(client, preview)

    data = stored(township.report_id).data
    assert data["committee_meetings"] == 12
    assert data["duties"][0]["text"] == "上半年召开党委会议⟦党委会议⟧次，下半年召开党委会议15次。"
    rows = [[td.text_content().strip() for td in tr.xpath("td")[1:]]
            for tr in parse(preview.text).xpath("//table[contains(@class, 'figures')]/tbody/tr")]
    assert rows[1][:2] == ["党委会议", "未采用：与前面的 12次 不同，这里仍按原文写数字"]


def numbered_with_soft_breaks():
    """下步打算 as Word's numbered list, an item's lines split by Shift+Enter (a soft break)."""
    document = Document()
    document.add_paragraph("三、下步打算")
    for first, second in [("加强学习。", "每月集中学习一次。"), ("壮大集体经济。", "发展特色种植。")]:
        run = document.add_paragraph(style="List Number").add_run(first)
        run.add_break()
        run.add_text(second)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_soft_line_breaks_in_a_numbered_list_stay_in_their_item(township, client):
    confirm(client, upload(client, township, numbered_with_soft_breaks()))

    assert stored(township.report_id).data["plans"] == [
        {"heading": "加强学习", "text": "每月集中学习一次。"}, {"heading": "壮大集体经济", "text": "发展特色种植。"}]


@pytest.mark.parametrize("only_line", ["抓好党建", "王建华"])
def test_a_section_s_only_line_is_not_taken_for_the_sign_off(township, client, only_line):
    confirm(client, upload(client, township, build(TITLE + ["三、下步打算", only_line, "2023年1月6日"])))

    data = stored(township.report_id).data
    assert [item["heading"] + item["text"] for item in data["plans"]] == [only_line]
    assert data["reporter_name"] == "" and data["written_on"] == "2023-01-06"
