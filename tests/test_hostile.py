"""Hostile input in every kind of field: stored (minus what XML cannot
carry), shown escaped, printed literally in a .docx Word opens; bad figures
get a message next to the field and never cost the rest of the save."""

import pytest

from pbforms.db import db
from pbforms.models import Report
from tests.fillpage import FillPage, docx_paragraphs, one, parse, report_of

BOTH_WAYS = pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])


class Kind:
    """Where a kind of text field sits on the form and in the stored data."""

    def __init__(self, name, form_key, error_key, path, one_line):
        self.name, self.form_key, self.error_key = name, form_key, error_key
        self.path, self.one_line = path, one_line

    def stored(self, data):
        for step in self.path:
            data = data[step]
        return data


KINDS = [
    Kind("text", "reporter_title", "reporter_title", ["reporter_title"], one_line=True),
    Kind("paragraphs", "intro", "intro", ["intro"], one_line=False),
    Kind("item-heading", "duties-0-heading", "duties", ["duties", 0, "heading"], one_line=True),
    Kind("item-text", "duties-0-text", "duties", ["duties", 0, "text"], one_line=False),
]
CONTROLS = "".join(chr(c) for c in range(0x20))
MARKUP = "A&B <b>粗</b> \"双\" '单' </textarea><script>alert(1)</script>"

# (id, typed, stored in a multi-line field, stored in a one-line field).
# Each value is framed by 前…后 so it can be found in the document.
CASES = [
    ("markup", f"前{MARKUP}后", f"前{MARKUP}后", f"前{MARKUP}后"),
    ("jinja-expression", "前{{ 7*7 }}后", "前{{ 7*7 }}后", "前{{ 7*7 }}后"),
    ("jinja-statement", "前{% if %}{%p endfor %}{{r x }}后", "前{% if %}{%p endfor %}{{r x }}后",
     "前{% if %}{%p endfor %}{{r x }}后"),
    ("control-characters", f"前{CONTROLS}后", "前\t\n\n后", "前 后"),
    ("noncharacters", "前\ufffe\uffff后", "前后", "前后"),
    ("emoji", "前党建👍🏻🇨🇳后", "前党建👍🏻🇨🇳后", "前党建👍🏻🇨🇳后"),
    ("crlf", "前一行\r\n二行\r三行后", "前一行\n二行\n三行后", "前一行 二行 三行后"),
]
CASE_IDS = [case[0] for case in CASES]
KIND_IDS = [k.name for k in KINDS]


@pytest.fixture
def page(client, auth):
    auth.login("qingnizhen")
    return FillPage(client, report_of("青泥镇").id)


def stored_data(page):
    with db.connection_context():
        return Report.get_by_id(page.report_id).data


def shown_value(html, kind):
    """The field's value as the browser shows it (after HTML unescaping)."""
    control = one(parse(html), f'//*[@id="f-{kind.form_key}"]')
    return control.text_content() if control.tag == "textarea" else control.get("value")


def assert_in_docx(paragraphs, stored, one_line):
    """One-line text sits inside one paragraph; each line of narrative is a
    paragraph of its own, the first maybe after an item's 一是 and heading."""
    lines = [stored] if one_line else [line.strip() for line in stored.split("\n") if line.strip()]
    starts = [i for i, p in enumerate(paragraphs) if p.endswith(lines[0]) or (one_line and lines[0] in p)]
    assert starts, f"{lines[0]!r} not in the document"
    assert paragraphs[starts[0] + 1:starts[0] + len(lines)] == lines[1:]


# --- text of every kind -----------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("case, typed, multi_line, one_line", CASES, ids=CASE_IDS)
def test_hostile_text_is_stored(page, kind, case, typed, multi_line, one_line):
    response = page.post({kind.form_key: typed})
    assert response.status_code == 200
    assert one(parse(response.text), f'//*[@id="error-{kind.error_key}"]').text_content() == ""
    assert kind.stored(stored_data(page)) == (one_line if kind.one_line else multi_line)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("case, typed, multi_line, one_line", CASES, ids=CASE_IDS)
def test_hostile_text_is_shown_as_text_on_the_fill_page(page, kind, case, typed, multi_line, one_line):
    page.post({kind.form_key: typed})
    html = page.html()
    assert shown_value(html, kind) == (one_line if kind.one_line else multi_line)
    assert "<script>alert(1)" not in html


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("case, typed, multi_line, one_line", CASES, ids=CASE_IDS)
def test_hostile_text_is_printed_literally_in_the_docx(page, kind, case, typed, multi_line, one_line):
    page.post({kind.form_key: typed})
    paragraphs = docx_paragraphs(page.docx())
    assert_in_docx(paragraphs, one_line if kind.one_line else multi_line, kind.one_line)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_template_syntax_in_text_is_not_evaluated(page, kind):
    page.post({kind.form_key: "前{{ 7*7 }}后"})
    text = "\n".join(docx_paragraphs(page.docx()))
    assert "前{{ 7*7 }}后" in text
    assert "前49后" not in text


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_markup_is_escaped_on_the_preview(client, page, kind):
    page.post({kind.form_key: f"前{MARKUP}后"})
    html = client.get(f"{page.url}/preview").text
    assert "<script>alert(1)" not in html
    assert f"前{MARKUP}后" in one(parse(html), "//article").text_content()


def test_hostile_text_in_every_narrative_field_at_once_gives_a_docx_word_opens(page):
    form = page.form()
    changes = {key: f"{value}{MARKUP}{{{{ 7*7 }}}}{CONTROLS}👍\r\n" for key, value in form.items()
               if key.endswith(("-heading", "-text")) or key == "intro"}
    response = page.post(changes)
    messages = [el.text_content() for el in parse(response.text).xpath('//*[starts-with(@id, "error-")]')]
    assert set(messages) == {""}
    # intro, 4 duties, the problems' one paragraph, 3 plans, last year's one 整改 item
    assert sum(f"{MARKUP}{{{{ 7*7 }}}}" in p for p in docx_paragraphs(page.docx())) == 10


@pytest.mark.parametrize("kind", [k for k in KINDS if not k.one_line], ids=lambda k: k.name)
def test_a_20000_character_paragraph_is_stored_and_printed(page, kind):
    long = "前" + "党" * 20000 + "后"
    page.post({kind.form_key: long})
    assert kind.stored(stored_data(page)) == long
    assert shown_value(page.html(), kind) == long
    assert any(p.endswith(long) for p in docx_paragraphs(page.docx()))


@pytest.mark.parametrize("kind, message", [
    (KINDS[0], "最多 60 个字，现在 20000 个字"),
    (KINDS[2], "第 1 条的标题最多 200 个字"),
], ids=["text", "item-heading"])
@BOTH_WAYS
def test_overlong_line_gets_a_message_and_the_rest_is_stored(page, kind, message, htmx):
    before = kind.stored(stored_data(page))
    response = page.post({kind.form_key: "党" * 20000, "seminars": "9"}, htmx=htmx)
    assert one(parse(response.text), f'//*[@id="error-{kind.error_key}"]').text_content() == message
    assert kind.stored(stored_data(page)) == before
    assert stored_data(page)["seminars"] == 9


@pytest.mark.parametrize("kind, typed", [
    (KINDS[0], "党" * 61),
    (KINDS[2], "党" * 201),
    (KINDS[3], "党" * 50001),
], ids=["text", "item-heading", "item-text"])
def test_refused_text_is_shown_as_typed_without_javascript(page, kind, typed):
    """A browser without JavaScript gets the page back: what was typed must be on it."""
    response = page.post({kind.form_key: typed, "duties-1-text": "同时改的另一条"}, htmx=False)
    assert response.status_code == 422
    assert shown_value(response.text, kind) == typed
    if kind.error_key == "duties":
        assert one(parse(response.text), '//*[@id="f-duties-1-text"]').text_content() == "同时改的另一条"


def test_reference_label_with_markup_is_escaped_in_the_message(page):
    response = page.post({"intro": "⟦<script>alert(1)</script>⟧"})
    assert "<script>alert(1)" not in response.text
    message = one(parse(response.text), '//*[@id="error-intro"]').text_content()
    assert "「<script>alert(1)</script>」" in message


# --- counts -------------------------------------------------------------------

REFUSED_COUNTS = [  # (id, typed, message)
    ("negative", "-3", "不能为负数"),
    ("full-width-negative", "－3", "不能为负数"),
    ("fractional", "2.5", "请填写整数，不能有小数"),
    ("full-width-fractional", "１２．５", "请填写整数，不能有小数"),
    ("above-maximum", "100000", "不能超过 99999"),
    ("30-digits", "9" * 30, "不能超过 99999"),
    ("5000-digits", "9" * 5000, "不能超过 99999"),
    ("400-digits-and-a-half", "9" * 400 + ".5", "请填写整数，不能有小数"),
    ("chinese-numeral", "十二", "请填写数字，如 12"),
    ("letters", "abc", "请填写数字，如 12"),
    ("with-its-unit", "12次", "请填写数字，如 12"),
    ("exponent", "1e3", "请填写数字，如 12"),
    ("nan", "NaN", "请填写数字，如 12"),
    ("infinity", "inf", "请填写数字，如 12"),
    ("decimal-comma", "1,2", "请填写数字，如 12"),
    ("markup", "<script>", "请填写数字，如 12"),
    ("nul", "\x00", "请填写数字，如 12"),
]
ACCEPTED_COUNTS = [
    ("１２", 12),
    ("12", 12),
    (" 12 ", 12),
    ("+5", 5),
    ("0", 0),
    ("007", 7),
    ("12.0", 12),
    ("１２．０", 12),
    ("99999", 99999),
    ("1,234", 1234),
    ("12,345", 12345),
]


@pytest.mark.parametrize("typed, message", [case[1:] for case in REFUSED_COUNTS],
                         ids=[case[0] for case in REFUSED_COUNTS])
@BOTH_WAYS
def test_refused_count_gets_its_message_next_to_the_field(page, typed, message, htmx):
    response = page.post({"reading_classes": typed}, htmx=htmx)
    assert response.status_code == (200 if htmx else 422)
    assert one(parse(response.text), '//*[@id="error-reading_classes"]').text_content() == message


@pytest.mark.parametrize("typed, message", [case[1:] for case in REFUSED_COUNTS],
                         ids=[case[0] for case in REFUSED_COUNTS])
def test_refused_count_keeps_its_figure_and_the_rest_is_stored(page, typed, message):
    page.post({"reading_classes": typed, "seminars": "9", "reporter_name": "李四",
               "intro": "新的开头。", "plans-0-heading": "新的打算"})
    data = stored_data(page)
    assert data["reading_classes"] == 13
    assert (data["seminars"], data["reporter_name"], data["intro"]) == (9, "李四", "新的开头。")
    assert data["plans"][0]["heading"] == "新的打算"


def test_refused_count_is_shown_as_typed_without_javascript(page):
    response = page.post({"reading_classes": "十二"}, htmx=False)
    assert one(parse(response.text), '//*[@id="f-reading_classes"]').get("value") == "十二"


def test_refused_count_htmx_status_says_something_needs_fixing(page):
    response = page.post({"reading_classes": "-1", "seminars": "abc"})
    status = one(parse(response.text), '//*[@id="save-status"]').text_content()
    assert "有 2 处需要修改" in status


@pytest.mark.parametrize("typed, number", ACCEPTED_COUNTS, ids=[repr(t) for t, _ in ACCEPTED_COUNTS])
def test_accepted_count_is_stored_as_a_whole_number(page, typed, number):
    response = page.post({"reading_classes": typed})
    assert one(parse(response.text), '//*[@id="error-reading_classes"]').text_content() == ""
    stored = stored_data(page)["reading_classes"]
    assert stored == number and type(stored) is int
    assert page.form()["reading_classes"] == str(number)


def test_accepted_full_width_count_flows_into_the_docx(page):
    page.post({"reading_classes": "２１"})
    assert "读书班21次" in "\n".join(docx_paragraphs(page.docx()))


@pytest.mark.parametrize("typed", ["", "   "], ids=["empty", "spaces"])
def test_emptied_count_is_stored_empty_and_printed_as_stars(page, typed):
    response = page.post({"reading_classes": typed})
    assert one(parse(response.text), '//*[@id="error-reading_classes"]').text_content() == ""
    assert stored_data(page)["reading_classes"] is None
    assert "读书班**次" in "\n".join(docx_paragraphs(page.docx()))


@pytest.mark.parametrize("key", ["study_group_meetings", "reading_classes", "party_lectures", "group_studies",
                                 "seminars", "committee_meetings", "party_building_meetings", "inspections",
                                 "members_recruited", "member_files_checked", "service_centers_up_to_standard",
                                 "deeds_done", "temporary_branches"])
def test_every_count_gets_its_own_message(page, key):
    response = page.post({key: "-1"})
    tree = parse(response.text)
    messages = {el.get("id"): el.text_content() for el in tree.xpath('//*[starts-with(@id, "error-")]')}
    assert messages.pop(f"error-{key}") == "不能为负数"
    assert set(messages.values()) == {""}


# --- dates ----------------------------------------------------------------------

@pytest.mark.parametrize("typed, message", [
    ("2023-13-45", "日期格式应为 2023-01-06"),
    ("2023年1月6日", "日期格式应为 2023-01-06"),
    ("<script>", "日期格式应为 2023-01-06"),
    ("1899-01-01", "年份应在 2000 至 2100 之间"),
])
def test_bad_date_gets_a_message_and_keeps_the_stored_date(page, typed, message):
    response = page.post({"written_on": typed, "seminars": "9"})
    assert one(parse(response.text), '//*[@id="error-written_on"]').text_content() == message
    assert stored_data(page)["written_on"] == "2023-01-06"
    assert stored_data(page)["seminars"] == 9


def test_date_prints_without_zero_padding(page):
    page.post({"written_on": "2023-02-03"})
    assert docx_paragraphs(page.docx())[-1] == "2023年2月3日"
