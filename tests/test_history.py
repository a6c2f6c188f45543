"""Nothing lost: the revision history and restoring from it, last year's
report as a start and beside each figure, JSON download and upload, and
the admin's audit page."""
import datetime
import io
import json
import logging

import pytest

from tests.conftest import demo_types
from pbforms import models
from pbforms.forms import builtin_type
from pbforms.forms.sheet import read_sheet, write_sheet
from pbforms.models import AuditEvent, PendingImport, Report, ReportTypeRecord, Revision, Round, User
from tests.fillpage import FillPage, one, parse, report_of

VILLAGE_TYPE = builtin_type("village_report")  # 青泥村's type in the demo round
FILLER = "qingnicun"
VILLAGE = "青泥村"


class Clock:
    """Stands in for `models.reports.now`, so a test decides in which minute a save falls."""

    def __init__(self):
        self.time = datetime.datetime(2023, 1, 5, 9, 0, 10)

    def __call__(self):
        return self.time

    def advance(self, seconds):
        self.time += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(models.reports, "now", clock)
    return clock


@pytest.fixture
def village(client, auth):
    """青泥村's report, opened by its filler."""
    auth.login(FILLER)
    return FillPage(client, report_of(VILLAGE).id)


def history_rows(client, report_id, page=1):
    """The history table as the user reads it: one dict per revision."""
    html = client.get(f"/reports/{report_id}/history?page={page}").text
    rows = []
    for tr in parse(html).xpath("//table[contains(@class, 'history')]/tbody/tr[td[5]]"):
        cells = tr.xpath("./td")
        rows.append({"version": cells[0].text_content().split()[1], "who": cells[2].text_content().strip(),
                     # The field and, for short values, old → new; a text's marks are read apart.
                     "changes": ["".join(li.xpath(".//text()[not(ancestor::div[@class='diff'])]")).strip()
                                 for li in cells[3].xpath(".//li")],
                     "note": " ".join(p.text_content() for p in cells[3].xpath(".//p[@class='note']"))})
    return rows


def stored(report_id):
    return Report.get_by_id(report_id)


def flash(html):
    return " ".join(p.text_content() for p in parse(html).xpath("//p[contains(@class, 'flash')]"))


# --- the history list ---------------------------------------------------------

def test_many_saves_are_listed_newest_first_with_who_and_figures_old_to_new(village, client, clock):
    for n in range(1, 6):
        assert village.post({"members_recruited": str(n)}).status_code == 200
        clock.advance(60)
    village.post({"reporter_name": "张三"})

    rows = history_rows(client, village.report_id)

    assert [r["version"] for r in rows] == ["6", "5", "4", "3", "2", "1"]
    assert {r["who"] for r in rows} == {"青泥村填报员"}
    assert rows[0]["changes"] == ["述职人姓名：（空） → 张三"]
    assert rows[1]["changes"] == ["发展党员：4名 → 5名"]
    assert rows[-1]["changes"] == ["发展党员：（空） → 1名"]


def test_narrative_change_is_listed_by_its_label(village, client):
    village.post({"intro": "新的开头。"})

    assert history_rows(client, village.report_id)[0]["changes"] == ["开头"]


def test_long_history_is_paginated(village, client, clock):
    report = stored(village.report_id)
    user = User.by_username(FILLER)
    for n in range(35):
        report.save_data({**report.data, "deeds_for_people": n}, user, report.version)
        clock.advance(60)

    first, second = history_rows(client, village.report_id), history_rows(client, village.report_id, page=2)

    assert len(first) == 30 and first[0]["version"] == "35"
    assert [r["version"] for r in second] == ["5", "4", "3", "2", "1"]
    assert second[0]["changes"] == ["为民办实事：3件 → 4件"]
    assert second[-1]["changes"] == ["为民办实事：（空） → 0件"]


# --- folding rapid autosaves ---------------------------------------------------

def save_as(report_id, username, changes):
    report = stored(report_id)
    report.save_data({**report.data, **changes}, User.by_username(username), report.version)


@pytest.mark.parametrize("second_user, seconds_later, revisions", [
    ("qingnizhen", 30, 1),   # same user, same minute: one revision
    ("qingnizhen", 55, 2),   # same user, next clock minute
    ("admin", 5, 2),         # another user, same minute
], ids=["same user same minute", "next minute", "other user"])
def test_saves_fold_into_one_revision_per_user_per_minute(client, auth, clock, second_user, seconds_later, revisions):
    report_id = report_of("青泥镇").id
    before = Revision.select().where(Revision.report == report_id).count()
    save_as(report_id, "qingnizhen", {"member_files_checked": 1})
    clock.advance(seconds_later)
    save_as(report_id, second_user, {"member_files_checked": 2})

    newest = Revision.history_of(report_id).first()
    assert Revision.select().where(Revision.report == report_id).count() == before + revisions
    assert (newest.version, newest.data["member_files_checked"]) == (stored(report_id).version, 2)


def test_a_burst_of_autosaves_keeps_the_newest_content_in_one_revision(village, client, clock):
    for n in range(1, 8):
        village.post({"members_recruited": str(n)})
        clock.advance(5)

    rows = history_rows(client, village.report_id)

    assert len(rows) == 1
    assert rows[0]["version"] == "1"  # numbered as the user sees the versions, not by stored saves
    assert rows[0]["changes"] == ["发展党员：（空） → 7名"]


def test_the_submitted_version_is_not_overwritten_by_edits_after_a_return(village, client, clock):
    report = stored(village.report_id)
    complete = VILLAGE_TYPE.model_data(report.meta) | {f.key: 1 for f in VILLAGE_TYPE.counts}
    complete.update(reporter_name="张三", written_on="2023-01-06")
    report.save_data({**report.data, **complete}, User.by_username(FILLER), report.version)
    assert village.submit().status_code == 303
    stored(village.report_id).change_status("returned", User.by_username("admin"), "return")
    village.post({"reporter_name": "李四"})

    rows = history_rows(client, village.report_id)

    assert len(rows) == 2
    assert rows[0]["changes"] == ["述职人姓名：张三 → 李四"]
    assert "提交时的版本" in rows[1]["note"]


# --- one revision, and restoring it ------------------------------------------------

@pytest.fixture
def three_versions(village, clock):
    for n in (3, 4, 5):
        village.post({"members_recruited": str(n)})
        clock.advance(60)
    return village


def test_an_old_revision_is_shown_as_the_document(three_versions, client):
    html = client.get(f"/reports/{three_versions.report_id}/history?version=2").text
    tree = parse(html)

    assert tree.xpath("//h1")[0].text_content() == "第 2 版"
    figure = tree.xpath("//dt[.='发展党员']/following-sibling::dd")[0].text_content()
    assert figure.split() == ["4", "名"]
    assert [li.text_content().strip() for li in tree.xpath("//ul[@class='changes']/li")] == ["发展党员：3名 → 4名"]
    assert tree.xpath("//form[contains(@class, 'restore')]//button")[0].text_content() == "恢复为这一版"


def test_unknown_revision_leads_back_to_the_list_with_a_message(three_versions, client):
    response = client.get(f"/reports/{three_versions.report_id}/history?version=99", follow_redirects=True)

    assert "找不到第 99 版" in flash(response.text)
    assert len(history_rows(client, three_versions.report_id)) == 3


def restore_form(client, report_id, version):
    """The restore form's fields, read from the revision page."""
    form = parse(client.get(f"/reports/{report_id}/history?version={version}").text).xpath(
        "//form[contains(@class, 'restore')]")[0]
    return dict(form.form_values())


def test_restore_becomes_the_newest_revision_and_keeps_all_others(three_versions, client):
    report_id = three_versions.report_id
    before = history_rows(client, report_id)

    response = client.post(f"/reports/{report_id}/history", data=restore_form(client, report_id, 1),
                           follow_redirects=True)

    assert "已恢复第 1 版的内容，保存为第 4 版" in flash(response.text)
    assert parse(response.text).get_element_by_id("f-members_recruited").value == "3"
    after = history_rows(client, report_id)
    assert after[1:] == before
    assert after[0]["version"] == "4"
    assert "恢复自第 1 版" in after[0]["note"]
    assert after[0]["changes"] == ["发展党员：5名 → 3名"]
    assert stored(report_id).data["members_recruited"] == 3


def test_an_autosave_right_after_a_restore_keeps_the_restored_revision(three_versions, client):
    report_id = three_versions.report_id
    client.post(f"/reports/{report_id}/history", data=restore_form(client, report_id, 1))
    three_versions.post({"reporter_name": "张三"})

    rows = history_rows(client, report_id)

    assert [r["version"] for r in rows] == ["5", "4", "3", "2", "1"]


def test_restore_from_an_outdated_page_is_refused(three_versions, client):
    report_id = three_versions.report_id
    form = restore_form(client, report_id, 1)
    three_versions.post({"members_recruited": "9"})  # another tab saves meanwhile

    response = client.post(f"/reports/{report_id}/history", data=form, follow_redirects=True)

    assert "报告在您打开此页之后又被修改了（现为第 4 版），没有恢复" in flash(response.text)
    assert stored(report_id).data["members_recruited"] == 9


@pytest.mark.parametrize("who", ["submitted", "admin"])
def test_restore_is_refused_to_whom_may_not_edit(three_versions, client, auth, who):
    report_id = three_versions.report_id
    form = restore_form(client, report_id, 1)
    if who == "submitted":
        Report.update(status="submitted").where(Report.id == report_id).execute()
        message = "此报告已提交，不能再修改"
    else:
        auth.logout()
        auth.admin()
        message = "只能修改本单位的报告"
    before = stored(report_id).version

    page = client.get(f"/reports/{report_id}/history?version=1").text
    response = client.post(f"/reports/{report_id}/history", data={**form, "csrf_token": auth.csrf_token()},
                           follow_redirects=True)

    assert "恢复为这一版" not in page
    assert message in flash(response.text)
    assert stored(report_id).version == before


def test_fill_page_links_to_the_history(village):
    links = parse(village.html()).xpath("//div[@class='actions']/a")

    assert f"/reports/{village.report_id}/history" in [a.get("href") for a in links]


# --- last year as a start ----------------------------------------------------------

LAST_YEAR = {"reporter_name": "张三", "intro": "2022年，村党支部……报告如下：", "written_on": "2023-01-06",
             "members_recruited": 12, "deeds_for_people": 10, "group_meetings": 0}


@pytest.fixture
def new_round(app):
    """青泥村 filled in 2022; the township opens the 2023 round."""
    last = report_of(VILLAGE)
    last.save_data({**last.data, **LAST_YEAR}, User.by_username(FILLER), last.version)
    new = Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    return Report.get((Report.round == new) & (Report.unit == last.unit))


@pytest.mark.parametrize("choice, counts", [
    ("keep", {"members_recruited": 12, "deeds_for_people": 10, "group_meetings": 0, "party_lessons": None}),
    ("clear", {"members_recruited": None, "deeds_for_people": None, "group_meetings": None, "party_lessons": None}),
])
def test_new_round_starts_from_last_years_report(client, auth, new_round, choice, counts):
    auth.login(FILLER)
    offer = parse(client.get(f"/reports/{new_round.id}").text).xpath("//form[contains(@class, 'offer')]")[0]
    assert "2022年度抓基层党建工作述职" in offer.text_content()

    response = client.post(offer.action, data={**dict(offer.form_values()), "counts": choice},
                           follow_redirects=True)

    data = stored(new_round.id).data
    assert "已沿用2022年度的内容" in flash(response.text)
    assert (data["reporter_name"], data["intro"]) == ("张三", LAST_YEAR["intro"])
    assert data["written_on"] == ""  # last year's date is never this year's
    assert {key: data[key] for key in counts} == counts
    assert history_rows(client, new_round.id)[0]["note"].startswith("沿用2022年度内容")
    assert "沿用上一年度内容" not in parse(response.text).xpath("//main")[0].text_content()


def test_a_started_report_is_never_overwritten_by_last_year(client, auth, new_round):
    auth.login(FILLER)
    page = FillPage(client, new_round.id)
    offer = dict(parse(page.html()).xpath("//form[contains(@class, 'offer')]")[0].form_values())
    page.post({"reporter_name": "王五"})  # typed in another tab meanwhile

    response = client.post(f"/reports/{new_round.id}/last-year", data={**offer, "counts": "keep"},
                           follow_redirects=True)

    assert "此报告已经开始填写（现为第 1 版），不能再整份沿用上一年度内容" in flash(response.text)
    assert stored(new_round.id).data["reporter_name"] == "王五"


def test_choice_about_the_counts_is_required(client, auth, new_round):
    auth.login(FILLER)

    response = client.post(f"/reports/{new_round.id}/last-year", data={"csrf_token": auth.csrf_token()})

    assert response.status_code == 422
    assert "请选择数字是保留去年的还是清空" in response.text
    assert stored(new_round.id).version == 0


def test_first_round_offers_nothing(village, client):
    assert "沿用上一年度内容" not in village.html()
    assert "没有找到青泥村在 2022 年以前的报告" in client.get(f"/reports/{village.report_id}/last-year").text


def last_year_note(html, key):
    note = parse(html).get_element_by_id(f"last-year-{key}")
    return " ".join(note.text_content().split()), "big-change" in note.get("class")


@pytest.mark.parametrize("key, new, shown, marked", [
    ("members_recruited", "18", "去年 12名", False),     # +50%: not more than half
    ("members_recruited", "19", "去年 12名，变化超过一半，请核对", True),
    ("members_recruited", "6", "去年 12名", False),      # -50%
    ("members_recruited", "5", "去年 12名，变化超过一半，请核对", True),
    ("group_meetings", "0", "去年 0次", False),
    ("group_meetings", "1", "去年 0次，变化超过一半，请核对", True),  # from nothing to something
    ("deeds_for_people", "", "去年 10件", False),             # not filled yet: nothing to compare
    ("party_lessons", "3", "去年 未填", False),
])
def test_fill_page_shows_last_years_figure_and_marks_big_changes(client, auth, new_round, key, new, shown, marked):
    auth.login(FILLER)
    page = FillPage(client, new_round.id)

    autosave = page.post({key: new})

    assert last_year_note(autosave.text, key) == (shown, marked)  # updated as the user types
    assert last_year_note(page.html(), key) == (shown, marked)


@pytest.mark.parametrize("url", ["/township/reports/{}", "/reports/{}"], ids=["review", "read-only"])
def test_admins_pages_show_last_years_figures_with_marks(client, auth, new_round, url):
    new_round.save_data({**new_round.data, "members_recruited": 30, "deeds_for_people": 11},
                        User.by_username(FILLER), 0)
    auth.admin()

    html = client.get(url.format(new_round.id)).text

    assert last_year_note(html, "members_recruited") == ("去年 12名，变化超过一半，请核对", True)
    assert last_year_note(html, "deeds_for_people") == ("去年 10件", False)


def test_last_years_figures_cost_one_query_not_one_per_figure(client, auth, new_round, caplog):
    auth.login(FILLER)
    first_round = report_of(VILLAGE).id

    def queries(url):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            assert client.get(url).status_code == 200
        return len([r for r in caplog.records if r.name == "peewee"])

    assert queries(f"/reports/{new_round.id}") <= queries(f"/reports/{first_round}") + 1


def sheet_type_round(name):
    """The village type exported as its 字段表 and imported as a new type
    `name` (keys of its own); a 2023 round giving it to the villages."""
    definition = read_sheet(write_sheet(VILLAGE_TYPE.definition))
    definition["name"] = name
    record = ReportTypeRecord.add(definition, name=name)
    return Round.start("2023年度抓基层党建工作述职", 2023, {**demo_types(), "village": record.newest()})


@pytest.fixture
def other_type_round(app):
    """青泥村 filled the village type in 2022; in 2023 it fills a type made
    from that type's 字段表 under another name."""
    last = report_of(VILLAGE)
    last.save_data({**last.data, **LAST_YEAR}, User.by_username(FILLER), last.version)
    new = sheet_type_round("村党组织书记述职（新）")
    report = Report.get((Report.round == new) & (Report.unit == last.unit))
    assert not set(report.report_type.by_key) & {"members_recruited", "reporter_name"}  # keys differ
    return report


def test_last_years_report_of_another_type_is_offered_with_fields_matched_by_name(client, auth, other_type_round):
    auth.login(FILLER)
    report_type = other_type_round.report_type
    key = {f.label: f.key for f in report_type.fields}
    page = FillPage(client, other_type_round.id)

    html = page.html()
    assert "沿用上一年度内容" in html and "2022年度抓基层党建工作述职" in html
    assert last_year_note(html, key["发展党员"]) == ("去年 12名", False)
    assert last_year_note(page.post({key["发展党员"]: "30"}).text, key["发展党员"]) == (
        "去年 12名，变化超过一半，请核对", True)


def test_starting_from_last_years_report_of_another_type_carries_its_fields_by_name(client, auth, other_type_round):
    auth.login(FILLER)
    key = {f.label: f.key for f in other_type_round.report_type.fields}

    client.post(f"/reports/{other_type_round.id}/last-year", data={"csrf_token": auth.csrf_token(), "counts": "keep"})

    data = stored(other_type_round.id).data
    assert (data[key["述职人姓名"]], data[key["开头"]], data[key["发展党员"]], data[key["为民办实事"]]) == (
        "张三", LAST_YEAR["intro"], 12, 10)
    assert data[key["成文日期"]] == ""


def test_a_type_made_from_a_sheet_under_a_new_name_fills_as_the_original(client, auth, app):
    report = Report.get((Report.round == sheet_type_round("村党组织书记述职（新）"))
                        & (Report.unit == report_of(VILLAGE).unit))
    auth.login(FILLER)
    key = {f.label: f.key for f in report.report_type.fields}

    html = parse(client.get(f"/reports/{report.id}").text)

    assert html.get_element_by_id(f"f-{key['单位及职务']}").value == "青泥村党支部书记"
    add_buttons = [" ".join(b.text_content().split()) for b in html.xpath("//button[contains(@class, 'add')]")]
    assert add_buttons == ["＋ 添加一条方面", "＋ 添加一条问题", "＋ 添加一条打算", "＋ 添加一条问题"]
    for label in ("履职情况", "存在问题", "下步打算"):  # each list starts with an entry to type in
        assert html.xpath(f"//*[@name='{key[label]}-0-text']"), label


def test_a_list_without_an_item_name_adds_一条_not_一条条(client, auth, app):
    definition = json.loads(json.dumps(VILLAGE_TYPE.definition))
    for section in definition["sections"]:
        for field in section["fields"]:
            field.pop("item_label", None)
    record = ReportTypeRecord.add(definition, name="无条目名称")
    new = Round.start("2023年度抓基层党建工作述职", 2023, {**demo_types(), "village": record.newest()})
    report = Report.get((Report.round == new) & (Report.unit == report_of(VILLAGE).unit))
    auth.login(FILLER)

    html = parse(client.get(f"/reports/{report.id}").text)

    assert {" ".join(b.text_content().split()) for b in html.xpath("//button[contains(@class, 'add')]")} == {
        "＋ 添加一条"}


# --- JSON in the browser -----------------------------------------------------------

def test_report_downloads_as_json(village, client):
    village.post({"members_recruited": "7"})

    response = client.get(f"/reports/{village.report_id}/json")

    assert "filename*=UTF-8''2022" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith(".json")
    assert json.loads(response.text) == stored(village.report_id).data


def upload(client, auth, report_id, content, filename="report.json"):
    return client.post(f"/reports/{report_id}/import", content_type="multipart/form-data",
                       data={"csrf_token": auth.csrf_token(), "file": (io.BytesIO(content), filename)})


def snapshot(report_id):
    report = stored(report_id)
    return report.version, report.data, Revision.select().where(Revision.report == report_id).count()


@pytest.mark.parametrize("content, message", [
    (b'{"members_recruited": 3,', "数据文件已损坏或被改动过：第 1 行第 25 个字符附近有误"),
    (b"", "文件是空的"),
    ('{"reporter_name": "张三"}'.encode("gbk"), "这不是本系统的数据文件"),
    (b"[1, 2]", "这不是本系统导出的数据文件：内容应为一份报告"),
    (b'{"members_recruited": 3, "no_such_field": 1}', "未知字段「no_such_field」"),
    (b'{"members_recruited": -3}', "发展党员：不能为负数"),
    ('{"members_recruited": "十二"}'.encode(), "发展党员：请填写数字，如 12"),
    (b'{"members_recruited": 2.5}', "发展党员：请填写整数，不能有小数"),
    (b'{"members_recruited": ' + b"9" * 5000 + b"}", "文件中有过长的数字"),
], ids=["malformed", "empty", "not utf-8", "not an object", "unknown field", "negative count",
        "count in words", "fraction", "thousands of digits"])
def test_bad_upload_gets_a_clear_message_and_changes_nothing(village, client, auth, content, message):
    before = snapshot(village.report_id)

    response = upload(client, auth, village.report_id, content)

    assert response.status_code == 422
    assert message in " ".join(parse(response.text).xpath("//main")[0].text_content().split())
    assert snapshot(village.report_id) == before


def test_upload_without_a_file_asks_for_one(village, client, auth):
    response = client.post(f"/reports/{village.report_id}/import", data={"csrf_token": auth.csrf_token()})

    assert response.status_code == 422
    assert parse(response.text).get_element_by_id("file-error").text_content() == "请选择要导入的数据文件（本系统“导出数据文件”得到的 .json 文件）。"


def test_upload_previews_the_changes_and_applies_them_only_when_confirmed(village, client, auth):
    before = snapshot(village.report_id)
    content = json.dumps({"members_recruited": 20, "reporter_name": "李四", "intro": "新开头。"}).encode()

    preview = upload(client, auth, village.report_id, content)

    tree = parse(preview.text)
    assert ["".join(li.xpath(".//text()[not(ancestor::div[@class='diff'])]")).strip()
            for li in tree.xpath("//ul[@class='changes']/li")] == ["述职人姓名：（空） → 李四", "开头", "发展党员：（空） → 20名"]
    assert one(tree, "//ul[@class='changes']//ins").text_content() == "新开头。"
    assert snapshot(village.report_id) == before
    confirm = tree.xpath("//form[contains(@class, 'confirm')]")[0]
    response = client.post(confirm.action, data=dict(confirm.form_values()), follow_redirects=True)

    assert "已导入 3 处改动，保存为第 1 版" in flash(response.text)
    data = stored(village.report_id).data
    assert (data["members_recruited"], data["reporter_name"], data["intro"]) == (20, "李四", "新开头。")
    assert history_rows(client, village.report_id)[0]["note"] == "从数据文件导入"


def test_downloaded_json_edited_and_uploaded_again_round_trips(village, client, auth):
    data = json.loads(client.get(f"/reports/{village.report_id}/json").text)
    data["deeds_for_people"] = 98

    preview = upload(client, auth, village.report_id, json.dumps(data, ensure_ascii=False).encode())

    assert [li.text_content().strip() for li in parse(preview.text).xpath("//ul[@class='changes']/li")] == [
        "为民办实事：（空） → 98件"]


def test_confirmation_is_checked_again(village, client, auth):
    before = snapshot(village.report_id)
    user = User.by_username("qingnicun")
    token = PendingImport.keep(village.report_id, user, '{"members_recruited": -1}')

    response = client.post(f"/reports/{village.report_id}/import", data={
        "csrf_token": auth.csrf_token(), "version": "0", "token": token})

    assert response.status_code == 422
    assert "发展党员：不能为负数" in response.text
    assert snapshot(village.report_id) == before


def test_a_900_kb_file_is_previewed_and_imported(village, client, auth):
    """The confirmation sends only a token: the file stays on the server
    (sent back in the form, 900 KB became 2.7 MB URL-encoded: 413)."""
    text = "为民服务、党建引领，" * 4900  # 49,000 characters, 147 KB in UTF-8
    items = [{"heading": f"第{n}项", "text": text[:7000]} for n in range(20)]
    content = json.dumps({"intro": text, "duties": items, "problems": items, "plans": items},
                         ensure_ascii=False).encode()
    assert 900_000 <= len(content) < 2 * 1024 * 1024

    preview = upload(client, auth, village.report_id, content)

    assert preview.status_code == 200, preview.text[-500:]
    confirm = parse(preview.text).xpath("//form[contains(@class, 'confirm')]")[0]
    sent = dict(confirm.form_values())
    assert set(sent) == {"csrf_token", "token", "version"} and len(sent["token"]) < 100
    response = client.post(confirm.action, data=sent, follow_redirects=True)

    assert response.status_code == 200
    assert "已导入 4 处改动，保存为第 1 版" in flash(response.text)
    data = stored(village.report_id).data
    assert data["intro"] == text and data["plans"] == items
    assert PendingImport.select().count() == 0  # used once, then gone


@pytest.mark.parametrize("whose", ["another report", "another user", "unknown"])
def test_a_token_not_of_this_upload_imports_nothing(village, client, auth, whose):
    preview = upload(client, auth, village.report_id, b'{"members_recruited": 20}')
    token = dict(parse(preview.text).xpath("//form[contains(@class, 'confirm')]")[0].form_values())["token"]
    pending = PendingImport.get(PendingImport.token == token)
    if whose == "another report":
        other = Report.get(Report.id != village.report_id)
        PendingImport.update(report=other).where(PendingImport.id == pending.id).execute()
    elif whose == "another user":
        PendingImport.update(user=User.by_username("admin")).where(PendingImport.id == pending.id).execute()
    else:
        token = "no-such-token"
    before = snapshot(village.report_id)

    response = client.post(f"/reports/{village.report_id}/import",
                           data={"csrf_token": auth.csrf_token(), "version": "0", "token": token})

    assert response.status_code == 422
    assert "预览已过期或不属于您，没有导入。请重新上传文件。" in response.text
    assert snapshot(village.report_id) == before


def test_confirmation_after_the_report_changed_is_refused(village, client, auth):
    preview = upload(client, auth, village.report_id, b'{"members_recruited": 20}')
    confirm = parse(preview.text).xpath("//form[contains(@class, 'confirm')]")[0]
    village.post({"members_recruited": "4"})

    response = client.post(confirm.action, data=dict(confirm.form_values()))

    assert response.status_code == 409
    assert "预览之后报告又被修改了（现为第 1 版），没有导入" in response.text
    assert stored(village.report_id).data["members_recruited"] == 4


def test_upload_to_a_submitted_report_is_refused(village, client, auth):
    Report.update(status="submitted").where(Report.id == village.report_id).execute()
    before = snapshot(village.report_id)

    page = client.get(f"/reports/{village.report_id}/import").text
    response = upload(client, auth, village.report_id, b'{"members_recruited": 20}')

    assert 'type="file"' not in page
    assert response.status_code == 409
    assert "此报告已提交，不能再修改" in response.text
    assert snapshot(village.report_id) == before


# --- the audit page ----------------------------------------------------------------

def audit_rows(html):
    return [[td.text_content().strip() for td in tr.xpath("./td")]
            for tr in parse(html).xpath("//div[@id='audit-results']//tbody/tr[td[5]]")]


def test_audit_page_lists_what_happened(client, auth, three_versions):
    report_id = three_versions.report_id
    client.post(f"/reports/{report_id}/history", data=restore_form(client, report_id, 1))
    client.get(f"/reports/{report_id}/docx")
    auth.logout()
    auth.admin()

    rows = audit_rows(client.get("/admin/audit").text)

    assert [row[1:4] for row in rows] == [
        ["admin", "青泥镇", "登录"],
        ["qingnicun", VILLAGE, "导出"],
        ["qingnicun", VILLAGE, "恢复历史版本"],
        ["qingnicun", VILLAGE, "登录"],
    ]


def unit_of(username):
    return User.by_username(username).unit_id


@pytest.mark.parametrize("query, expected", [
    (lambda: {"unit": unit_of("liuwancun")}, [["liuwancun", "柳湾村", "登录"]]),
    (lambda: {"user": User.by_username("qingnicun").id}, [["qingnicun", VILLAGE, "导出"], ["qingnicun", VILLAGE, "登录"]]),
    (lambda: {"action": "export"}, [["qingnicun", VILLAGE, "导出"]]),
    (lambda: {"action": "login", "unit": unit_of("qingnicun")}, [["qingnicun", VILLAGE, "登录"]]),
], ids=["unit", "user", "action", "action and unit"])
def test_audit_page_filters_by_unit_user_and_action(client, auth, query, expected):
    for username in ("liuwancun", "qingnicun"):
        auth.login(username)
    client.get(f"/reports/{report_of(VILLAGE).id}/docx")
    auth.admin()
    AuditEvent.delete().where(AuditEvent.user == User.by_username("admin")).execute()
    params = query()

    full = client.get("/admin/audit", query_string=params)
    partial = client.get("/admin/audit", query_string=params, headers={"HX-Request": "true"})

    assert [row[1:4] for row in audit_rows(full.text)] == expected
    assert [row[1:4] for row in audit_rows(partial.text)] == expected
    assert "<html" not in partial.text and "HX-Request" in partial.headers["Vary"]


@pytest.mark.parametrize("name, value, message", [
    ("unit", "99999", "没有这个单位，已忽略此条件"),
    ("user", "abc", "没有这个用户，已忽略此条件"),
    ("action", "fly", "没有这种操作，已忽略此条件"),
])
def test_unknown_filter_gets_a_message_beside_it(client, auth, name, value, message):
    auth.admin()

    html = client.get("/admin/audit", query_string={name: value}).text

    assert parse(html).get_element_by_id(f"filter-error-{name}").text_content() == message
    assert audit_rows(html)  # the condition is ignored: the events are still listed


def test_audit_page_is_paginated(client, auth):
    admin = User.by_username("admin")
    for n in range(60):
        AuditEvent.record("export", admin, detail=f"第{n}次")
    auth.admin()

    first = client.get("/admin/audit", query_string={"action": "export"}).text
    second = client.get("/admin/audit", query_string={"action": "export", "page": "2"}).text

    assert "共 60 条，第 1 / 2 页" in first
    assert len(audit_rows(first)) == 50 and len(audit_rows(second)) == 10
    assert audit_rows(second)[-1][4] == "第0次"
    next_link = parse(first).xpath("//nav[@class='pager']/a")[0].get("href")
    assert "action=export" in next_link and "page=2" in next_link


@pytest.mark.parametrize("url", ["/admin/audit", "/admin/backup", "/admin/backup/download"])
def test_admin_pages_refuse_fillers(client, auth, url):
    auth.login(FILLER)

    response = client.get(url)

    assert response.status_code == 403
    assert "此页面仅供镇党建办（管理员）使用" in response.text


# --- a history a person can read -------------------------------------------------

def diff_marks(client, report_id, row=0):
    tr = parse(client.get(f"/reports/{report_id}/history").text).xpath(
        "//table[contains(@class, 'history')]/tbody/tr")[row]
    return ([d.text_content() for d in tr.xpath(".//del")], [i.text_content() for i in tr.xpath(".//ins")],
            [p.text_content() for p in tr.xpath(".//div[@class='diff']/p")])


def test_a_text_change_shows_what_was_removed_and_added_within_the_paragraph(village, client, clock):
    intro = "2022年，在县委、县政府的正确领导和镇党委的精心指导下，村党支部持续深入学习贯彻党的二十大精神。"
    village.post({"intro": intro})
    clock.advance(60)
    village.post({"intro": intro.replace("正确领导", "坚强领导", 1) + "\n新增的一段。"})

    removed, added, paragraphs = diff_marks(client, village.report_id)

    assert removed == ["正确"]
    assert added == ["坚强", "新增的一段。"]
    assert len(paragraphs) == 2 and "…" in paragraphs[0]  # long unchanged text is shortened around the change


def test_versions_are_numbered_without_gaps_and_rows_that_changed_nothing_are_not_listed(village, client, clock):
    report = stored(village.report_id)
    user = User.by_username(FILLER)
    report.save_data({**report.data, "members_recruited": 1}, user, report.version)
    clock.advance(60)
    report.save_data(dict(report.data), user, report.version, note="没有改动的一版")
    clock.advance(60)
    report.save_data({**report.data, "members_recruited": 2}, user, report.version)

    rows = history_rows(client, village.report_id)

    assert [r["version"] for r in rows] == ["2", "1"]
    assert "没有改动的一版" not in " ".join(r["note"] for r in rows)
    assert "内容没有变化" not in client.get(f"/reports/{village.report_id}/history").text


def test_removing_an_item_is_a_version_of_its_own_that_can_be_undone(village, client, clock):
    for n in range(2):
        village.post(op="add:plans")
        clock.advance(60)
    village.post({"plans-2-text": "第三条打算，删除之前刚改过。"})
    village.post(op="remove:plans:2")  # the same minute: still a version of its own
    rows = history_rows(client, village.report_id)
    # The removal is a version of its own, right after the one holding the typing.
    assert int(rows[0]["version"]) == int(rows[1]["version"]) + 1
    removed, _, _ = diff_marks(client, village.report_id)
    assert any(text.startswith("（删除）") for text in removed)

    before_removal = Revision.history_of(village.report_id)[1]
    form = restore_form(client, village.report_id, before_removal.version)
    client.post(f"/reports/{village.report_id}/history", data=form)

    plans = stored(village.report_id).data["plans"]
    assert len(plans) == 3 and plans[2]["text"] == "第三条打算，删除之前刚改过。"
