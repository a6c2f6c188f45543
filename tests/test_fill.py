"""The fill page: every field labelled, autosave with a visible status,
version checks, item buttons, submitting, and messages next to fields."""
import json
import re

import pytest

from pbforms.db import db
from pbforms.forms import builtin_type
from pbforms.merge import KEEP_CHARS, KEEP_ITEMS
from pbforms.models import Report, Revision, User, now
from tests.fillpage import FillPage, docx_paragraphs, one, parse, report_of, revision_count
from tests.test_township import complete

REPORT_TYPE = builtin_type("annual_report")
SAVED = re.compile(r"已保存 \d\d:\d\d:\d\d")
CONFLICT = "此报告已在别的窗口或由他人修改"
BOTH_WAYS = pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])


@pytest.fixture
def page(client, auth):
    """The demo township's report, opened by its filler."""
    auth.login("qingnizhen")
    return FillPage(client, report_of("青泥镇").id)


def stored(page):
    with db.connection_context():
        return Report.get_by_id(page.report_id)


def text_of(html, element_id):
    return parse(html).get_element_by_id(element_id).text_content().strip()


# The two figures the seed left open; with them the demo report is complete.
COMPLETE = {"member_files_checked": "35", "service_centers_up_to_standard": "7"}


# --- what the page shows ------------------------------------------------------

@pytest.mark.parametrize("f", [f for f in REPORT_TYPE.fields if f.kind != "items"], ids=lambda f: f.key)
def test_field_has_a_label_naming_it(page, f):
    box = parse(page.html()).get_element_by_id(f"field-{f.key}")
    control = one(box, f'.//*[@id="f-{f.key}"]')
    label = one(box, f'.//label[@for="f-{f.key}"]')
    assert control.get("name") == f.key
    assert label.text_content().strip().rstrip("*") == f.label


@pytest.mark.parametrize("f", [f for f in REPORT_TYPE.fields if f.kind == "items"], ids=lambda f: f.key)
def test_every_item_has_labelled_heading_and_text(page, f):
    box = parse(page.html()).get_element_by_id(f"field-{f.key}")
    count = len(stored(page).data[f.key])
    assert count > 0
    for i in range(count):
        for part in ("heading", "text"):
            control = one(box, f'.//*[@id="f-{f.key}-{i}-{part}"]')
            assert control.get("name") == f"{f.key}-{i}-{part}"
            assert one(box, f'.//label[@for="f-{f.key}-{i}-{part}"]').text_content().strip()


def test_every_control_on_the_page_has_a_label(page):
    tree = parse(page.html())
    labelled_ids = {label.get("for") for label in tree.xpath("//label[@for]")}
    unlabelled = [el.get("name") or el.get("id") or el.tag
                  for el in tree.xpath("//input | //textarea | //select")
                  if el.get("type") != "hidden"
                  and el.get("id") not in labelled_ids
                  and not any(a.tag == "label" for a in el.iterancestors())]
    assert unlabelled == []


def test_ids_on_the_page_are_unique(page):
    ids = [el.get("id") for el in parse(page.html()).iter() if el.get("id")]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("f", REPORT_TYPE.counts, ids=lambda f: f.key)
def test_count_shows_its_unit(page, f):
    box = parse(page.html()).get_element_by_id(f"field-{f.key}")
    unit = one(box, ".//*[@class='unit']").text_content()
    assert unit == f.unit
    assert unit in ("次", "名", "份", "个", "件")


def test_count_shows_stored_figure(page):
    assert page.form()["reading_classes"] == "13"
    assert page.form()["member_files_checked"] == ""


def test_page_lists_missing_figures(page):
    links = parse(page.html()).xpath('//*[@id="missing"]//a')
    assert [a.get("href") for a in links] == ["#field-member_files_checked",
                                              "#field-service_centers_up_to_standard"]


# --- autosave -----------------------------------------------------------------

def test_autosave_answers_saved_with_the_time(page):
    response = page.post({"reporter_name": "李四"})
    assert response.status_code == 200
    assert SAVED.fullmatch(text_of(response.text, "save-status"))


def test_autosave_bumps_the_version(page):
    before = stored(page).version
    response = page.post({"reporter_name": "李四"})
    assert stored(page).version == before + 1
    version_input = parse(response.text).get_element_by_id("report-version")
    assert version_input.get("value") == str(before + 1)
    assert version_input.get("hx-swap-oob") == "true"


def test_autosave_stores_a_revision(page):
    before = revision_count(page.report_id)
    page.post({"reporter_name": "李四"})
    assert revision_count(page.report_id) == before + 1
    with db.connection_context():
        newest = Revision.select().where(Revision.report == page.report_id).order_by(Revision.id.desc()).get()
        assert newest.data["reporter_name"] == "李四"
        assert newest.version == stored(page).version
        assert newest.user.username == "qingnizhen"


def test_autosave_of_an_unchanged_form_stores_nothing(page):
    before = (stored(page).version, revision_count(page.report_id))
    response = page.post()
    assert response.status_code == 200
    assert (stored(page).version, revision_count(page.report_id)) == before


def test_autosave_updates_the_missing_list(page):
    response = page.post({"member_files_checked": "35"})
    missing = parse(response.text).get_element_by_id("missing")
    assert missing.get("hx-swap-oob") == "true"
    assert [a.get("href") for a in missing.xpath(".//a")] == ["#field-service_centers_up_to_standard"]


def test_saved_text_is_on_the_page_after_reload(page):
    page.post({"intro": "新的开头第一段。\n新的开头第二段。"})
    assert page.form()["intro"] == "新的开头第一段。\n新的开头第二段。"


def test_plain_post_without_javascript_saves_and_redirects(client, page):
    response = page.post({"reporter_name": "李四"}, htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"] == page.url
    assert stored(page).data["reporter_name"] == "李四"
    assert SAVED.search(client.get(page.url).text)


def test_plain_post_without_token_is_refused(page):
    response = page.post({"reporter_name": "李四"}, htmx=False, drop=["csrf_token"])
    assert response.status_code == 400
    assert stored(page).data["reporter_name"] == "王建华"


@BOTH_WAYS
def test_two_tabs_changing_different_fields_both_keep_their_change(page, htmx):
    first, second = page.tab(), page.tab()
    assert page.send(first, {"reporter_name": "第一个窗口"}).status_code == 200
    response = page.send(second, {"seminars": "21"}, htmx=htmx)
    assert response.status_code == (200 if htmx else 303)
    data = stored(page).data
    assert (data["reporter_name"], data["seminars"]) == ("第一个窗口", 21)
    if htmx:
        # The second tab is told, and shown the first tab's name in its field.
        assert "已合并另一个页面或其他人同时所做的修改：「述职人姓名」" in text_of(response.text, "save-status")
        swapped = parse(response.text).get_element_by_id("field-reporter_name")
        assert swapped.get("hx-swap-oob") == "true"
        assert one(swapped, './/input[@name="reporter_name"]').get("value") == "第一个窗口"


def test_a_tab_that_changed_nothing_does_not_undo_anothers_change(page):
    idle = page.tab()
    page.post({"reporter_name": "第一个窗口"})
    page.send(idle, {})
    assert stored(page).data["reporter_name"] == "第一个窗口"


@BOTH_WAYS
def test_same_field_changed_in_two_tabs_is_shown_side_by_side_and_nothing_lost(page, htmx):
    first, second = page.tab(), page.tab()
    page.send(first, {"intro": "第一个窗口写的开头。"})
    page.send(second, {"intro": "第二个窗口写的开头。", "seminars": "21"}, htmx=htmx)
    report = stored(page)
    assert report.data["intro"] == "第一个窗口写的开头。"  # nothing overwritten unasked
    assert report.data["seminars"] == 21  # the rest of the save is merged
    assert report.pending["intro"]["value"] == "第二个窗口写的开头。"
    # The choice stays on the page after a reload, theirs beside yours.
    tree = parse(page.html())
    slot = tree.get_element_by_id("conflict-intro")
    theirs = one(slot, './/*[@class="theirs"]').text_content()
    mine = one(slot, './/*[@class="mine"]').text_content()
    assert "第一个窗口写的开头。" in theirs and "第二个窗口写的开头。" in mine
    assert one(tree, '//textarea[@name="intro"]').text == "第二个窗口写的开头。"
    assert {b.get("value") for b in slot.xpath(".//button")} == {"mine:intro", "theirs:intro"}
    # Saving again without choosing keeps both.
    page.post({})
    assert stored(page).data["intro"] == "第一个窗口写的开头。"
    assert stored(page).pending["intro"]["value"] == "第二个窗口写的开头。"


def test_a_conflict_says_which_side_prints_and_does_not_blame_someone_else(page):
    # The other side is as often the clerk's own other tab as a colleague.
    first, second = page.tab(), page.tab()
    page.send(first, {"intro": "第一个窗口写的开头。"})
    response = page.send(second, {"intro": "第二个窗口写的开头。"})
    assert "「开头」您和另一个页面或其他人都改了" in text_of(response.text, "save-status")
    html = page.html()
    slot = parse(html).get_element_by_id("conflict-intro")
    assert "另一个页面或其他人也改了" in one(slot, './/*[@class="conflict-title"]').text_content()
    theirs, mine = (one(slot, f'.//*[@class="{side}"]/h4').text_content() for side in ("theirs", "mine"))
    assert "现在打印的是这一份" in theirs and "不会打印" in mine
    assert "第一个窗口写的开头。" in docx_paragraphs(page.docx())
    assert "别人" not in parse(html).get_element_by_id("report-form").text_content()


@pytest.mark.parametrize("side, kept", [("mine", "第二个窗口写的开头。"), ("theirs", "第一个窗口写的开头。")])
def test_choosing_a_side_of_a_conflict_stores_it_and_clears_the_choice(page, side, kept):
    first, second = page.tab(), page.tab()
    page.send(first, {"intro": "第一个窗口写的开头。"})
    page.send(second, {"intro": "第二个窗口写的开头。"})
    response = page.post({"resolve": f"{side}:intro"})
    assert response.status_code == 200
    report = stored(page)
    assert report.data["intro"] == kept
    assert "intro" not in report.pending
    assert not parse(page.html()).get_element_by_id("conflict-intro").text_content().strip()
    if side == "theirs":
        swapped = parse(response.text).get_element_by_id("field-intro")
        assert one(swapped, ".//textarea").text == kept


def test_items_changed_one_by_one_in_two_tabs_merge_item_by_item(page):
    first, second = page.tab(), page.tab()
    page.send(first, {"duties-0-text": "第一个窗口改了第一条。"})
    page.send(second, {"duties-1-text": "第二个窗口改了第二条。"})
    items = stored(page).data["duties"]
    assert items[0]["text"] == "第一个窗口改了第一条。"
    assert items[1]["text"] == "第二个窗口改了第二条。"


def test_an_item_button_on_items_someone_else_changed_does_nothing_and_says_so(page):
    first, second = page.tab(), page.tab()
    page.send(first, {"op": "remove:plans:0"})
    response = page.send(second, {"op": "remove:plans:1"})
    plans = stored(page).data["plans"]
    assert len(plans) == 2  # only the first tab's removal
    swapped = parse(response.text).get_element_by_id("field-plans")  # the button's own target
    assert swapped.get("hx-swap-oob") is None
    assert len(swapped.xpath('.//div[@class="item"]')) == 2
    assert "刚在另一个页面或由其他人改动过" in one(swapped, './/*[@id="error-plans"]').text_content()


def test_one_item_changed_in_both_tabs_is_a_conflict(page):
    first, second = page.tab(), page.tab()
    page.send(first, {"duties-0-text": "第一个窗口改了第一条。"})
    page.send(second, {"duties-0-text": "第二个窗口也改了第一条。"})
    report = stored(page)
    assert report.data["duties"][0]["text"] == "第一个窗口改了第一条。"
    assert report.pending["duties"]["value"][0]["text"] == "第二个窗口也改了第一条。"


@pytest.mark.parametrize("version", [None, "abc", "-1", "9" * 30], ids=["missing", "not-a-number", "negative", "huge"])
def test_a_page_without_bases_and_a_version_no_page_can_have_changes_nothing(page, version):
    before = stored(page).version
    form = {k: v for k, v in page.form().items() if not k.startswith("base-")}
    form.pop("version")
    if version is not None:
        form["version"] = version
    form["reporter_name"] = "李四"
    form.pop("csrf_token")
    page.client.post(page.url, data=form, headers=page.tab()["headers"])
    assert stored(page).version == before
    assert stored(page).data["reporter_name"] == "王建华"


def test_report_no_longer_editable_between_tries_is_refused(page):
    """The filler's other tab submitted: a save from this tab is refused with why."""
    tab = page.tab()
    page.submit(COMPLETE)
    response = page.send(tab, {"reporter_name": "李四"})
    assert response.status_code == 409
    assert text_of(response.text, "save-status").startswith("此报告已提交，不能再修改")
    assert stored(page).data["reporter_name"] == "王建华"


def test_removing_an_item_asks_first_saying_what_follows(page):
    button = one(parse(page.html()), '//button[@value="remove:plans:1"]')
    assert "后面的条目依次前移" in button.get("hx-confirm")
    assert "恢复删除之前的一版" in button.get("hx-confirm")


# --- item buttons ---------------------------------------------------------------

DUTIES = ["强化政治建设，强思想、夯基础", "坚持以上率下，强责任、树导向",
          "突出抓主抓重，强基础、提质量", "践行相融相促，聚全力、求实效"]
PLANS = ["始终抓牢政治建设，切实履行好管党治党职责", "始终抓好组织建设，强化基层党组织作用",
         "始终坚持从严治党，加强班子队伍建设"]
ITEM_OPS = [
    ("add:plans", "plans", PLANS + [""]),
    ("remove:plans:0", "plans", PLANS[1:]),
    ("remove:plans:2", "plans", PLANS[:2]),
    ("up:duties:1", "duties", [DUTIES[1], DUTIES[0], DUTIES[2], DUTIES[3]]),
    ("down:duties:0", "duties", [DUTIES[1], DUTIES[0], DUTIES[2], DUTIES[3]]),
    ("down:duties:2", "duties", [DUTIES[0], DUTIES[1], DUTIES[3], DUTIES[2]]),
    ("up:duties:0", "duties", DUTIES),  # first cannot move up
    ("down:duties:3", "duties", DUTIES),  # last cannot move down
    ("remove:plans:9", "plans", PLANS),  # no such item
]


@pytest.mark.parametrize("op, key, headings", ITEM_OPS, ids=[op for op, _, _ in ITEM_OPS])
def test_item_button_via_htmx_returns_the_items_partial(page, op, key, headings):
    response = page.post(op=op)
    assert response.status_code == 200
    box = parse(response.text).get_element_by_id(f"field-{key}")
    heading_boxes = box.xpath(f'.//textarea[starts-with(@name, "{key}-")][contains(@name, "-heading")]')
    shown = [el.text_content() for el in heading_boxes]
    assert shown == headings
    assert [item["heading"] for item in stored(page).data[key]] == headings
    ordinals = [el.text_content() for el in box.xpath(".//*[@class='ordinal']")]
    assert ordinals == ["一是", "二是", "三是", "四是", "五是"][:len(headings)]


@pytest.mark.parametrize("op, key, headings", ITEM_OPS, ids=[op for op, _, _ in ITEM_OPS])
def test_item_button_without_javascript_redirects_to_the_field(page, op, key, headings):
    response = page.post(op=op, htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{page.url}#field-{key}"
    assert [item["heading"] for item in stored(page).data[key]] == headings


def test_moving_an_item_keeps_its_text_together(page):
    text_1 = stored(page).data["duties"][1]["text"]
    page.post(op="up:duties:1")
    assert stored(page).data["duties"][0] == {"heading": DUTIES[1], "text": text_1}


def test_item_button_keeps_what_was_typed(page):
    response = page.post({"plans-0-heading": "刚刚改过的标题"}, op="add:plans")
    assert parse(response.text).get_element_by_id("f-plans-0-heading").text_content() == "刚刚改过的标题"
    assert stored(page).data["plans"][0]["heading"] == "刚刚改过的标题"


def test_item_button_also_answers_the_status_line(page):
    response = page.post(op="add:plans")
    status = parse(response.text).get_element_by_id("save-status")
    assert status.get("hx-swap-oob") == "true"
    assert SAVED.fullmatch(status.text_content().strip())


def test_added_item_appears_on_the_page(page):
    page.post(op="add:plans", htmx=False)
    assert page.form()["plans-3-heading"] == ""
    assert "plans-3-text" in page.form()


# An autosave sent while the focus rests on a button (Tab from the last text
# onto 删除, 上移, 用我的 …): htmx adds that button's value to the form's own
# request, which must act as a save only.
FOCUSED_BUTTONS = [{"op": op} for op in ["add:plans", "remove:plans:0", "remove:plans:2", "up:plans:1",
                                          "down:plans:0", "up:duties:1", "model:plans"]]


@pytest.mark.parametrize("focused", FOCUSED_BUTTONS, ids=lambda b: b["op"])
def test_an_autosave_with_the_focus_on_an_item_button_only_saves(page, focused):
    before = stored(page).data
    response = page.post({"plans-0-text": "刚输入的这一条。"}, focused=focused)
    assert response.status_code == 200
    assert SAVED.fullmatch(text_of(response.text, "save-status"))
    data = stored(page).data
    assert data["plans"][0]["text"] == "刚输入的这一条。"
    assert [item["heading"] for item in data["plans"]] == PLANS
    assert data["duties"] == before["duties"]


def test_an_autosave_with_the_focus_on_a_conflict_choice_keeps_the_conflict(page):
    first, second = page.tab(), page.tab()
    page.send(first, {"intro": "第一个窗口写的开头。"})
    page.send(second, {"intro": "第二个窗口写的开头。"})
    page.post({"reporter_name": "李四"}, focused={"resolve": "mine:intro"})
    report = stored(page)
    assert (report.data["intro"], report.data["reporter_name"]) == ("第一个窗口写的开头。", "李四")
    assert report.pending["intro"]["value"] == "第二个窗口写的开头。"


def test_an_autosave_with_the_focus_on_submit_saves_and_does_not_submit(page):
    # htmx takes the focused 提交审核's formaction for the form's own request.
    response = page.post({**COMPLETE, "reporter_name": "李四"}, action="/submit")
    assert response.status_code == 200
    assert SAVED.fullmatch(text_of(response.text, "save-status"))
    report = stored(page)
    assert (report.status, report.data["reporter_name"]) == ("draft", "李四")


# --- submitting -------------------------------------------------------------------

def test_submit_with_missing_figures_links_them(page):
    response = page.submit()
    assert response.status_code == 422
    banner = one(parse(response.text), "//*[@class='banner failed']")
    assert "还不能提交" in banner.text_content()
    assert [(a.get("href"), a.text_content()) for a in banner.xpath(".//a")] == [
        ("#field-member_files_checked", "排查十八大以来农村发展党员档案"),
        ("#field-service_centers_up_to_standard", "达标党群服务中心"),
    ]
    assert stored(page).status == "draft"


def test_submit_with_missing_figures_keeps_the_rest_of_the_form(page):
    page.submit({"reporter_name": "李四"})
    assert stored(page).data["reporter_name"] == "李四"
    assert stored(page).status == "draft"


def test_submit_when_complete_marks_it_submitted(client, page):
    response = page.submit(COMPLETE)
    assert response.status_code == 303
    assert stored(page).status == "submitted"
    flash = one(parse(client.get(page.url).text), "//*[@class='flash ok']")
    assert flash.text_content() == "已提交，等待县委组织部审核。"  # a township's report: the county reviews it


def test_submitted_report_is_read_only(client, page):
    page.submit(COMPLETE)
    tree = parse(client.get(page.url).text)
    assert tree.xpath('//*[@id="report-form"]') == []
    assert tree.xpath("//textarea") == []
    # Only the 撤回 button's form (its token) remains.
    assert [el.get("name") for el in tree.xpath("//main//input")] == ["csrf_token"]
    assert one(tree, "//main//form").get("action").endswith("/withdraw")
    text = one(tree, "//article[@class='document']").text_content()
    assert "排查十八大以来农村发展党员档案35份" in text
    assert "现全镇7个党群服务中心均已达标" in text
    assert "报告已提交，等待县委组织部审核" in one(tree, "//main").text_content()


def test_submitted_report_shows_its_status(client, page):
    page.submit(COMPLETE)
    status = one(parse(client.get(page.url).text), "//*[@class='meta']/span[starts-with(@class, 'status ')]")
    assert status.text_content() == "已提交"


@BOTH_WAYS
def test_saving_a_submitted_report_is_refused(client, auth, page, htmx):
    page.submit(COMPLETE)
    report = stored(page)
    data = {"reporter_name": "李四", "version": str(report.version)}
    headers = {"X-CSRFToken": auth.csrf_token()}
    if htmx:
        headers["HX-Request"] = "true"
    else:
        data["csrf_token"] = headers.pop("X-CSRFToken")
    response = client.post(page.url, data=data, headers=headers)
    if htmx:
        assert response.status_code == 409
        shown = text_of(response.text, "save-status")
    else:
        assert response.status_code == 303
        shown = one(parse(client.get(page.url).text), "//*[@class='flash error']").text_content()
    assert shown.startswith("此报告已提交，不能再修改")
    assert stored(page).data["reporter_name"] == "王建华"
    assert stored(page).version == report.version


def test_submitting_twice_is_refused(client, auth, page):
    page.submit(COMPLETE)
    response = client.post(f"{page.url}/submit", follow_redirects=True,
                           data={"csrf_token": auth.csrf_token(), "version": str(stored(page).version)})
    assert "此报告已提交，不能再修改" in response.text


# --- messages next to fields ------------------------------------------------------

@BOTH_WAYS
def test_unknown_reference_gets_a_message_but_is_stored(page, htmx):
    intro = "全年开展活动⟦不存在⟧次。"
    response = page.post({"intro": intro}, htmx=htmx)
    assert response.status_code == (200 if htmx else 422)
    message = text_of(response.text, "error-intro")
    assert message.startswith("引用了不存在的数字")
    assert "「不存在」" in message
    assert stored(page).data["intro"] == intro


def test_unknown_reference_message_stays_after_reload(page):
    page.post({"intro": "全年开展活动⟦不存在⟧次。"})
    assert text_of(page.html(), "error-intro").startswith("引用了不存在的数字")


def test_unknown_reference_in_an_item_is_flagged_on_the_items(page):
    response = page.post({"plans-1-text": "新增⟦不存在的数⟧个。"})
    assert "「不存在的数」" in text_of(response.text, "error-plans")
    assert text_of(response.text, "error-intro") == ""


def test_unknown_reference_blocks_submit(page):
    response = page.submit({**COMPLETE, "intro": "⟦不存在⟧"})
    assert response.status_code == 422
    assert stored(page).status == "draft"


def test_known_reference_gets_no_message(page):
    response = page.post({"intro": "读书班⟦读书班⟧次。"})
    assert text_of(response.text, "error-intro") == ""


def test_other_fields_messages_are_cleared_after_a_good_save(page):
    page.post({"reading_classes": "-1"})
    response = page.post({"reading_classes": "5"})
    assert text_of(response.text, "error-reading_classes") == ""
    assert SAVED.fullmatch(text_of(response.text, "save-status"))


# --- refused input kept ---------------------------------------------------------

def test_refused_figure_stays_as_typed_with_its_message_after_a_reload(page):
    response = page.post({"seminars": "4次"})
    assert "但有 1 处需要修改" in text_of(response.text, "save-status")
    tree = parse(page.html())
    assert one(tree, '//input[@name="seminars"]').get("value") == "4次"
    assert text_of(page.html(), "error-seminars") == "请填写数字，如 12"
    report = stored(page)
    assert report.data["seminars"] == 2  # the document keeps the last good figure
    assert report.pending["seminars"] == {"value": "4次", "message": "请填写数字，如 12"}


def test_a_refused_value_is_listed_by_submit_and_blocks_it(page):
    page.post({**COMPLETE, "seminars": "4次"})
    response = page.submit({})
    assert response.status_code == 422
    banner = one(parse(response.text), "//*[@class='banner failed']").text_content()
    assert "交流研讨（“4次”：请填写数字，如 12）" in " ".join(banner.split())
    assert stored(page).status == "draft"


def test_a_valid_value_clears_what_was_kept(page):
    page.post({"seminars": "4次"})
    page.post({"seminars": "4"})
    report = stored(page)
    assert (report.data["seminars"], report.pending) == (4, {})
    assert one(parse(page.html()), '//input[@name="seminars"]').get("value") == "4"
    assert text_of(page.html(), "error-seminars") == ""


def test_refused_typing_past_the_bound_is_not_kept_and_says_so(page):
    response = page.post({"seminars": "x" * (KEEP_CHARS + 1)})
    assert response.status_code == 200
    assert response.headers["PBForms-Not-Kept"] == "seminars"  # the browser keeps its copy
    message = text_of(response.text, "error-seminars")
    assert message.startswith("请填写数字，如 12") and "内容太多，服务器没有暂存" in message
    assert "seminars" not in stored(page).pending
    assert len(page.html()) < 500_000


def test_the_bound_holds_for_all_kept_values_together(page):
    half = "x" * (KEEP_CHARS // 2)
    first = page.post({"seminars": half})
    assert "PBForms-Not-Kept" not in first.headers
    second = page.post({"reading_classes": half + "y"})
    assert second.headers["PBForms-Not-Kept"] == "reading_classes"
    pending = stored(page).pending
    assert (pending["seminars"]["value"], list(pending)) == (half, ["seminars"])
    # Both still sent by the page, both still refused: the first stays kept.
    again = page.post({"seminars": half, "reading_classes": half + "y"})
    assert again.headers["PBForms-Not-Kept"] == "reading_classes"
    assert list(stored(page).pending) == ["seminars"]
    assert len(json.dumps(stored(page).pending, ensure_ascii=False)) <= KEEP_CHARS


def test_a_report_keeping_more_than_the_bound_from_before_shows_a_page_of_bounded_size(page):
    # Kept before there was a bound (37 MB in one report made a 5.7 MB page).
    huge = {key: {"value": "x" * KEEP_CHARS, "message": "请填写数字，如 12"} for key in ("seminars", "reading_classes")}
    with db.connection_context():
        Report.update(pending=huge).where(Report.id == page.report_id).execute()
    html = page.html()
    assert len(html) < 2 * KEEP_CHARS
    assert "内容太多，服务器没有暂存" in text_of(html, "error-seminars")
    page.post({})  # the next save stores no more than the page shows
    assert len(json.dumps(stored(page).pending, ensure_ascii=False)) <= KEEP_CHARS


def items_form(n):
    return {**{f"plans-{i}-heading": f"第{i + 1}条" for i in range(n)},
            **{f"plans-{i}-text": "" for i in range(n)}}


def test_a_hundred_items_are_kept_with_their_message_and_numbered(page):
    response = page.post(items_form(KEEP_ITEMS))
    assert "PBForms-Not-Kept" not in response.headers
    html = page.html()
    assert text_of(html, "error-plans") == "最多 20 条"
    ordinals = [el.text_content() for el in parse(html).get_element_by_id("field-plans").xpath(".//*[@class='ordinal']")]
    assert ordinals[98:] == ["九十九是", "一百是"]


def test_more_items_than_a_page_can_show_are_not_kept(page):
    response = page.post(items_form(KEEP_ITEMS + 1))
    assert response.headers["PBForms-Not-Kept"] == "plans"
    assert "内容太多" in text_of(response.text, "error-plans")
    assert "plans" not in stored(page).pending
    assert [item["heading"] for item in stored(page).data["plans"]] == PLANS


@pytest.mark.parametrize("n, written", [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (99, "九十九"),
                                        (100, "一百"), (101, "一百零一"), (110, "一百一十"), (115, "一百一十五"),
                                        (200, "二百"), (1005, "一千零五"), (1010, "一千零一十")])
def test_items_are_numbered_past_ninety_nine(n, written):
    assert REPORT_TYPE.by_key["plans"].ordinal(n - 1) == written + "是"


def test_kept_values_stay_out_of_the_document(page):
    page.post({"seminars": "4次"})
    assert "4次" not in "".join(docx_paragraphs(page.docx()))


def test_a_conflict_never_chosen_blocks_submit_naming_the_field(page):
    first, second = page.tab(), page.tab()
    page.send(first, {"intro": "第一个窗口写的开头。"})
    page.send(second, {"intro": "第二个窗口写的开头。"})
    response = page.submit(COMPLETE)
    assert response.status_code == 422
    banner = one(parse(response.text), "//*[@class='banner failed']")
    assert [a.text_content() for a in banner.xpath(".//a")] == [REPORT_TYPE.by_key["intro"].label]
    assert "请先选用一份" in banner.text_content()
    assert stored(page).status == "draft"


# --- confirmations and withdraw -------------------------------------------------

def test_submit_button_asks_first_saying_what_follows(page):
    button = one(parse(page.html()), '//button[@formaction][contains(., "提交审核")]')
    assert "退回之前不能再修改" in button.get("data-confirm")
    assert "撤回" in button.get("data-confirm")


def test_withdraw_before_the_office_opened_it_returns_to_draft(client, page):
    page.submit(COMPLETE)
    form = one(parse(page.html()), '//form[contains(@action, "/withdraw")]')
    assert "回到草稿" in form.get("data-confirm")
    response = client.post(page.url + "/withdraw", data={"csrf_token": form.xpath(".//input")[0].get("value")})
    assert response.status_code == 303
    assert stored(page).status == "draft"
    assert "已撤回" in client.get(page.url).text


def test_withdraw_after_the_office_opened_it_is_refused(app, client, auth, page):
    page.submit(COMPLETE)
    admin = app.test_client()
    from tests.conftest import Auth
    Auth(admin).county()  # the township's own report: reviewed by the county
    review = admin.get(f"/township/reports/{page.report_id}")
    assert "还可以撤回" in review.text and "县委组织部还没有打开" in page.html()  # looking is not opening
    token = one(parse(review.text), "//form[@id='start-review']//input[@name='csrf_token']").get("value")
    assert admin.post(f"/township/reports/{page.report_id}/open", data={"csrf_token": token}).status_code == 303
    assert "县委组织部已开始审核" in page.html()
    response = client.post(page.url + "/withdraw", data={"csrf_token": auth.csrf_token()}, follow_redirects=True)
    assert "开始审核此报告，不能再撤回" in response.text
    assert stored(page).status == "submitted"


def test_a_withdraw_racing_the_office_opening_the_report_is_refused(client, page):
    # The withdraw read the report unopened; the office opened it before the
    # withdraw wrote: the opening wins, the report stays with the office.
    page.submit(COMPLETE)
    with db.connection_context():
        read_before = Report.get_by_id(page.report_id)
        Report.update(opened_at=now()).where(Report.id == page.report_id).execute()
        assert read_before.withdraw(User.get(User.username == "qingnizhen")) is False
    assert stored(page).status == "submitted"


# --- figures in the text, as printed ---------------------------------------------

def printed(html, slot):
    box = parse(html).get_element_by_id(f"printed-{slot}")
    return [(m.get("class"), m.text_content()) for m in box.xpath(".//mark")], box.text_content()


def test_a_text_mentioning_a_figure_shows_beneath_it_as_printed(page):
    page.post({"intro": "全年举办读书班⟦读书班⟧次，排查档案⟦排查十八大以来农村发展党员档案⟧份。"})
    marks, text = printed(page.html(), "intro")
    assert marks == [("figure", "13"), ("figure missing", "**")]
    assert "全年举办读书班13次，排查档案**份。" in text
    assert "⟦" not in text


def test_the_printed_text_follows_each_save_of_a_figure(page):
    page.post({"intro": "全年举办读书班⟦读书班⟧次。"})
    response = page.post({"reading_classes": "15"})
    slot = parse(response.text).get_element_by_id("printed-intro")
    assert slot.get("hx-swap-oob") == "true"
    assert "全年举办读书班15次。" in slot.text_content()


def test_an_item_mentioning_a_figure_shows_beneath_it_as_printed(page):
    page.post({"plans-1-text": "新发展党员⟦发展党员⟧名。"})
    marks, text = printed(page.html(), "plans-1")
    assert marks == [("figure", "16")] and "新发展党员16名。" in text


def test_a_text_without_figures_shows_no_printed_copy(page):
    page.post({"intro": "没有数字的开头。"})
    assert parse(page.html()).get_element_by_id("printed-intro").text_content().strip() == ""


def test_the_picker_says_what_inserting_does(page):
    select = one(parse(page.html()), '//select[@data-insert-into="f-intro"]')
    assert "打印时换成" in select.get("aria-label")
    assert "打印时换成它的值" in select.xpath("./option")[0].text_content()


@pytest.mark.parametrize("unit_name, username, reviewer", [
    ("青泥镇", "qingnizhen", "县委组织部"),  # a township's own report: the county's office reviews it
    ("青泥村", "qingnicun", "镇党建办"),  # a village's: its township's
    ("白石村", "baishicun", "白石镇党建办"),
], ids=["township", "village", "other-township-s-village"])
def test_the_fill_page_names_the_office_that_reviews_the_report(client, auth, unit_name, username, reviewer):
    auth.login(username)
    report = report_of(unit_name)
    with db.connection_context():
        complete(report, User.by_username(username))
    page = FillPage(client, report.id)
    before = parse(page.html())
    assert f"报告交{reviewer}审核" in one(before, "//button[text()='提交审核']").get("data-confirm")

    page.submit()
    after = parse(client.get(page.url).text)

    assert one(after, "//*[@class='flash ok']").text_content() == f"已提交，等待{reviewer}审核。"
    assert f"等待{reviewer}审核；{reviewer}还没有打开" in one(after, "//main").text_content()
    withdraw = one(after, "//form[contains(@action, '/withdraw')]")
    assert f"报告回到草稿，{reviewer}暂时看不到" in withdraw.get("data-confirm")
    unnamed = one(after, "//main").text_content().replace(reviewer, "")
    assert "党建办" not in unnamed and "组织部" not in unnamed  # no other office named


@pytest.mark.parametrize("unit_name, username, office, reviewer", [
    ("青泥镇", "qingnizhen", "county", "县委组织部"),
    ("青泥村", "qingnicun", "admin", "镇党建办"),
], ids=["township", "village"])
def test_a_returned_report_names_the_office_that_returned_it(client, auth, unit_name, username, office, reviewer):
    auth.login(username)
    report = report_of(unit_name)
    with db.connection_context():
        complete(report, User.by_username(username))
        report = report_of(unit_name)
        report.change_status("submitted", User.by_username(username), "submit")
        key = report.report_type.counts[0].key
        report.send_back(User.by_username(office), "请核对。", {key: "与备案不符"}, detail="请核对。")
    main = one(parse(client.get(FillPage(client, report.id).url).text), "//main").text_content()
    assert f"{reviewer}退回了此报告" in main
    assert f"{reviewer}意见：与备案不符" in main
