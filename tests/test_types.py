"""Report types the office owns: built-in definitions, versions a round
keeps, moving an open round to a type's newest version, retiring a type in
use, the round form's type per kind, and the `type list` / `round open`
commands."""
import json
import re

import pytest

from pbforms.forms import BUILTIN, ReportType, builtin_definition, builtin_type, fill_placeholders
from pbforms.models import (AuditEvent, Report, ReportTypeRecord, Revision, Round, TypeInUse, Unit, User,
                            clear_type_cache)
from tests.fillpage import FillPage, parse, report_of
from tests.test_township import put_in_state, text_of

META = {"year": 2023, "unit_name": "柳湾村", "secretary_title": "党总支书记"}


def village_record():
    return ReportTypeRecord.by_builtin("village_report")


def changed_village_definition():
    """The village type as the county changed it: 主题党日活动 added, 流动党员 gone."""
    definition = builtin_definition("village_report")
    figures = definition["sections"][2]["fields"]
    figures[:] = [f for f in figures if f["key"] != "mobile_members"]
    figures.insert(3, {"key": "theme_day_activities", "kind": "count", "label": "主题党日活动", "unit": "次",
                       "required": True})
    return definition


def admin_token(client, auth):
    """The county's office: the demo round, moved to newer versions here, is its own."""
    auth.county()
    return auth.csrf_token()


# --- definitions --------------------------------------------------------------

@pytest.mark.parametrize("stem", BUILTIN)
def test_no_definition_writes_a_year_or_a_format_string(stem):
    text = json.dumps(builtin_definition(stem), ensure_ascii=False)
    assert not re.findall(r"(?:19|20)\d\d年", text)
    assert "{year}" not in text and "{unit_name}" not in text


@pytest.mark.parametrize("stem", BUILTIN)
def test_text_starts_empty_and_the_finished_prose_is_model_text(stem):
    report_type = builtin_type(stem)
    data = report_type.initial_data(META)
    prose = [f for f in report_type.fields if f.kind in ("paragraphs", "items")]
    assert prose and all(report_type.by_key[f.key].is_empty(data[f.key]) for f in prose)
    assert all(f.model(META) for f in prose)
    assert report_type.warnings(report_type.model_data(META)) == {}


def test_model_text_naming_a_figure_the_type_lacks_is_pointed_out():
    assert builtin_type("village_report").model_text_warnings() == {}
    changed = ReportType(changed_village_definition())
    assert changed.model_text_warnings() == {"duties": "参考范文引用了不存在的数字：「流动党员」"}


def test_placeholders_are_filled_from_round_and_unit():
    assert fill_placeholders("【年度】年度【单位】【职务】述职，【其他】", META) == "2023年度柳湾村党总支书记述职，【其他】"
    village = builtin_type("village_report")
    assert village.title_lines(META) == ["2023年度柳湾村党总支书记", "抓基层党建工作述职报告"]
    assert village.initial_data(META)["reporter_title"] == "柳湾村党总支书记"
    assert village.model_data(META)["intro"].startswith("2023年，在镇党委的正确领导下")


def test_the_seed_types_model_text_is_the_seed_with_its_year_filled_in():
    seed = builtin_type("annual_report")
    assert seed.model_data({"year": 2022, "unit_name": "青泥镇", "secretary_title": "党委书记"})["intro"] \
        .startswith("2022年，在县委、县政府的正确领导和县委组织部、县直机关工委的精心指导下")


def test_the_demo_gives_villages_the_village_type_and_the_township_the_seeds(app):
    kinds = Round.get().kind_types
    assert {kind: t.name for kind, t in kinds.items()} == {
        "township": "镇党委书记抓基层党建工作述职报告",
        "village": "村（社区）党组织书记抓基层党建工作述职报告",
        "community": "村（社区）党组织书记抓基层党建工作述职报告"}
    assert report_of("新华社区").report_type.version_id == kinds["community"].version_id
    assert report_of("青泥镇").data["deeds_done"] == 98  # the seed's report, figures and all


# --- versions -----------------------------------------------------------------

def test_saving_a_definition_makes_a_version_only_when_it_changed(app):
    record = village_record()
    same, created = record.save_version(record.newest().definition)
    changed, created_again = record.save_version(changed_village_definition(), User.by_username("admin"))

    assert (same.number, created) == (1, False)
    assert (changed.number, created_again) == (2, True)
    assert changed.created_by.username == "admin"
    assert record.newest().version == 2 and "主题党日活动" in record.newest().count_by_label


def test_a_definition_no_type_can_be_built_from_is_refused(app):
    broken = changed_village_definition()
    broken["sections"][2]["fields"][0]["kind"] = "percent"
    with pytest.raises(ValueError):
        village_record().save_version(broken)
    assert village_record().newest().version == 1


def test_an_open_round_keeps_its_version_after_the_type_changes(client, auth):
    village_record().save_version(changed_village_definition())
    clear_type_cache()  # as in another app process: nothing remembered
    auth.login("liuwancun")
    page = FillPage(client, report_of("柳湾村").id)

    html = page.html()
    saved = page.post({"mobile_members": "3"})

    assert report_of("柳湾村").report_type.version == 1
    assert 'name="mobile_members"' in html and 'name="theme_day_activities"' not in html
    assert saved.status_code == 200 and report_of("柳湾村").data["mobile_members"] == 3


def test_a_new_round_uses_the_newest_version(app):
    village_record().save_version(changed_village_definition())
    types = {kind: t.type_id for kind, t in Round.get().kind_types.items()}
    new = Round.start("2023年度抓基层党建工作述职", 2023,
                      {kind: ReportTypeRecord.get_by_id(type_id).newest() for kind, type_id in types.items()})

    report = Report.get((Report.round == new) & (Report.unit == Unit.get(Unit.name == "柳湾村")))
    assert report.report_type.version == 2
    assert "theme_day_activities" in report.data and "mobile_members" not in report.data


@pytest.fixture
def changed(client, auth):
    """柳湾村 submitted (every figure filled, 流动党员 among them), 新华社区
    untouched; then the village type changes."""
    put_in_state("柳湾村", "submitted")
    village_record().save_version(changed_village_definition())
    return report_of("柳湾村")


def test_the_move_page_lists_what_changes_for_the_reports(client, auth, changed):
    token = admin_token(client, auth)
    board = client.get(f"/township/rounds/{changed.round_id}").text
    link = parse(board).xpath("//a[text()='报告类型有新版本']/@href")

    page = parse(client.get(link[0]).text)

    assert token and link == [f"/township/rounds/{changed.round_id}/types"]
    section = page.xpath("//section[contains(@class, 'type-move')]")
    assert len(section) == 1  # the township's type did not change
    assert text_of(section[0].xpath("h2")[0]) == "村、社区：村（社区）党组织书记抓基层党建工作述职报告"
    assert text_of(section[0].xpath("p[@class='meta']")[0]) == "第 1 版 → 第 2 版 · 本轮 9 份报告"
    lists = [[text_of(li) for li in ul.xpath("li")] for ul in section[0].xpath("ul")]
    assert lists == [["主题党日活动（次） · 必填"], ["流动党员 · 1 份报告已填写，内容保留在修改记录中"]]
    assert text_of(section[0].xpath("p[@class='banner']")[0]) == (
        "1 份报告的文字引用了删除的数字（⟦流动党员⟧），更新后请这些单位改写相应文字。")


def test_moving_an_open_round_keeps_every_reports_data(client, auth, changed):
    token = admin_token(client, auth)
    untouched = report_of("新华社区")
    before = {r.id: (r.data, r.version) for r in Report.select()}
    form = parse(client.get(f"/township/rounds/{changed.round_id}/types").text).xpath("//form[contains(@action, '/types')]")[0]

    moved = client.post(form.action, data=dict(form.form_values()), follow_redirects=True)

    assert token and "已更新：村（社区）党组织书记抓基层党建工作述职报告 改用第 2 版（9 份报告）" in moved.text
    for report in Report.with_round_and_unit():
        data, version = before[report.id]
        if report.unit.kind == "township":
            assert (report.data, report.version, report.report_type.version) == (data, version, 1)
            continue
        assert report.report_type.version == 2
        assert {k: v for k, v in report.data.items() if k != "theme_day_activities"} == {
            k: v for k, v in data.items() if k != "mobile_members"}
        assert report.data["theme_day_activities"] is None
    stored = report_of("柳湾村")
    previous = Revision.of(stored, stored.version - 1)
    assert stored.version == changed.version + 1 and stored.status == "submitted"
    assert previous.data["mobile_members"] == changed.data["mobile_members"]  # still in the history
    assert Revision.latest_of(stored).note == ("报告类型改用「村（社区）党组织书记抓基层党建工作述职报告」第 2 版，"
                                                "不再填写：流动党员")
    assert report_of("新华社区").version == untouched.version == 0  # still 未开始, no revision
    assert {kind: t.version for kind, t in Round.get().kind_types.items()} == {
        "township": 1, "village": 2, "community": 2}
    assert AuditEvent.select().where(AuditEvent.action == "round_types").count() == 1


def test_a_moved_report_shows_the_new_field_on_its_fill_page(client, auth, changed):
    Round.get().move_to_newest(User.by_username("admin"))
    auth.login("liuwancun")

    figures = text_of(parse(client.get(f"/reports/{changed.id}").text).xpath("//section[@class='figures']")[0])

    assert "主题党日活动** 次" in figures and "流动党员" not in figures


def test_a_move_from_an_outdated_page_does_nothing(client, auth, changed):
    token = admin_token(client, auth)
    record = village_record()
    definition = changed_village_definition()
    definition["sections"][2]["fields"][0]["label"] = "党员人数"
    form = parse(client.get(f"/township/rounds/{changed.round_id}/types").text).xpath("//form[contains(@action, '/types')]")[0]
    record.save_version(definition)  # a third version lands meanwhile

    response = client.post(form.action, data=dict(form.form_values()), follow_redirects=True)

    assert token and "报告类型在您打开此页之后又有变化，没有更新" in response.text
    assert report_of("柳湾村").report_type.version == 1


def test_a_closed_round_is_not_moved(client, auth, changed):
    token = admin_token(client, auth)
    round_ = Round.get()
    round_.set_open(False, None)
    page = client.get(f"/township/rounds/{round_.id}/types").text

    response = client.post(f"/township/rounds/{round_.id}/types", follow_redirects=True,
                           data={"csrf_token": token, "move": [f"{t.version_id}:0" for t in round_.types]})

    assert "本轮填报已结束，不能更新报告类型" in page and "更新本轮的报告类型</button>" not in page
    assert "本轮填报已结束，不能更新报告类型" in response.text
    assert report_of("柳湾村").report_type.version == 1


# --- a type in use ------------------------------------------------------------

def test_a_type_in_use_is_retired_not_deleted(client, auth):
    record = village_record()
    with pytest.raises(TypeInUse, match="已被填报轮次使用，不能删除，只能停用"):
        record.delete_unused()
    record.set_retired(True)
    token = admin_token(client, auth)

    page = parse(client.get("/township/rounds").text)
    refused = client.post("/township/rounds", data={
        "csrf_token": token, "title": "2023年度", "year": "2023",
        **{f"type-{kind}": str(record.id) for kind in Unit.KINDS}})

    assert ReportTypeRecord.get_or_none(ReportTypeRecord.id == record.id) is not None
    assert str(record.id) not in page.xpath("//select[@name='type-village']/option/@value")
    assert refused.status_code == 422
    assert "已停用，不能用于新的填报轮次" in text_of(parse(refused.text).xpath("//p[@id='error-round-type-village']")[0])


def test_an_unused_type_can_be_deleted(app):
    record = ReportTypeRecord.add({**builtin_definition("village_report"), "name": "党员发展情况统计"})
    record.delete_unused()
    assert ReportTypeRecord.get_or_none(ReportTypeRecord.name == "党员发展情况统计") is None


# --- the round form -----------------------------------------------------------

def test_the_round_form_offers_a_type_per_kind_with_the_usual_defaults(client, auth):
    admin_token(client, auth)
    page = parse(client.get("/township/rounds").text)
    chosen = {kind: text_of(page.xpath(f"//select[@name='type-{kind}']/option[@selected]")[0])
              for kind in Unit.KINDS}
    listed = text_of(page.xpath("//table[contains(@class, 'list')]/tbody/tr/td[3]")[0])

    assert chosen == {"township": "镇党委书记抓基层党建工作述职报告",
                      "village": "村（社区）党组织书记抓基层党建工作述职报告",
                      "community": "村（社区）党组织书记抓基层党建工作述职报告"}
    assert listed == ("乡镇：镇党委书记抓基层党建工作述职报告（第 1 版）"
                      "村、社区：村（社区）党组织书记抓基层党建工作述职报告（第 1 版）")


def test_a_round_opened_in_the_browser_gives_each_kind_its_chosen_type(client, auth):
    token = admin_token(client, auth)
    seed = ReportTypeRecord.by_builtin("annual_report")

    response = client.post("/township/rounds", data={
        "csrf_token": token, "title": "2023年度", "year": "2023", "deadline": "",
        "type-township": str(seed.id), "type-village": str(village_record().id), "type-community": str(seed.id)})

    new = Round.get(Round.year == 2023)
    assert response.status_code == 303
    assert {kind: t.type_id for kind, t in new.kind_types.items()} == {
        "township": seed.id, "village": village_record().id, "community": seed.id}
    community = Report.get((Report.round == new) & (Report.unit == Unit.get(Unit.name == "新华社区")))
    assert "deeds_done" in community.data and community.data["reporter_title"] == "新华社区党支部书记"


# --- commands -----------------------------------------------------------------

def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_type_list_names_each_type_its_version_and_its_rounds(app):
    village_record().save_version(changed_village_definition())
    round_ = Round.get()

    result = run(app, "type", "list")

    assert result.exit_code == 0, result.output
    seed, village = ReportTypeRecord.by_builtin("annual_report"), village_record()
    assert result.output.splitlines() == [
        f"{seed.id}\t镇党委书记抓基层党建工作述职报告\t第 1 版\t使用它的轮次：{round_.id} {round_.title}",
        f"{village.id}\t村（社区）党组织书记抓基层党建工作述职报告\t第 2 版\t使用它的轮次：{round_.id} {round_.title}"]


def test_round_open_gives_every_kind_a_type_and_prints_the_round(app):
    seed, village = ReportTypeRecord.by_builtin("annual_report"), village_record()

    result = run(app, "round", "open", "--title", "2023年度抓基层党建工作述职", "--year", "2023",
                 "--deadline", "2024-01-10", "--type", str(village.id), "--type", f"township={seed.id}")

    assert result.exit_code == 0, result.output
    new = Round.get_by_id(int(result.output.strip()))
    assert (new.title, new.year, str(new.deadline)) == ("2023年度抓基层党建工作述职", 2023, "2024-01-10")
    assert {kind: t.type_id for kind, t in new.kind_types.items()} == {
        "township": seed.id, "village": village.id, "community": village.id}
    assert Report.select().where(Report.round == new).count() == Unit.active_units().where(Unit.kind != "county").count()


@pytest.mark.parametrize("args, message", [
    (["--type", "village=2"], "请为这些单位类型指定报告类型：乡镇（--type township=编号）、社区（--type community=编号）"),
    (["--type", "town=1"], "--type town=1：单位类型应为 township、village、community 之一"),
    (["--type", "99"], "--type township：没有编号为 99 的报告类型（乡镇）"),
    (["--type", "1", "--year", "23"], "--year：请填写年度，如 2023"),
    (["--type", "1", "--deadline", "2024-02-30"], "--deadline：截止日期格式应为 2024-01-10"),
])
def test_round_open_refuses_with_a_message(app, args, message):
    base = {"--title": "2023年度", "--year": "2023"}
    for flag in ("--year", "--deadline"):
        if flag in args:
            i = args.index(flag)
            base[flag] = args[i + 1]
            args = args[:i] + args[i + 2:]

    result = run(app, "round", "open", *[x for pair in base.items() for x in pair], *args)

    assert result.exit_code != 0
    assert message in result.output
    assert Round.select().count() == 1


def test_round_open_refuses_a_second_round_of_the_same_types_and_year(app):
    result = run(app, "round", "open", "--title", "又一轮", "--year", "2022", "--type", "1", "--type", "village=2",
                 "--type", "community=2")

    assert result.exit_code != 0
    assert "--title：已有一个进行中的 2022 年度同类填报（2022年度抓基层党建工作述职），不能重复开启" in result.output


def test_restoring_a_revision_from_before_the_move_fits_it_to_the_new_fields(client, auth, changed):
    Round.get().move_to_newest(User.by_username("admin"))
    token = admin_token(client, auth)
    moved = report_of("柳湾村")
    Report.update(status="draft").where(Report.id == moved.id).execute()
    auth.logout()
    auth.login("liuwancun")
    old = Revision.of(moved, moved.version - 1)

    response = client.post(f"/reports/{moved.id}/history", follow_redirects=True, data={
        "csrf_token": auth.csrf_token(), "revision": str(old.version), "version": str(moved.version)})

    restored = report_of("柳湾村")
    assert token and f"已恢复第 {old.version} 版的内容" in response.text
    assert set(restored.data) == set(restored.report_type.by_key)
    assert "mobile_members" not in restored.data and restored.data["theme_day_activities"] is None
    assert restored.data["members_total"] == old.data["members_total"]


def test_last_years_report_of_an_older_version_starts_this_year(client, auth):
    last = report_of("柳湾村")
    last.save_data({**last.data, "intro": "去年的开头。", "members_total": 40, "mobile_members": 3},
                   User.by_username("liuwancun"), last.version)
    village_record().save_version(changed_village_definition())
    seed = ReportTypeRecord.by_builtin("annual_report")
    village = village_record().newest()
    new = Round.start("2023年度抓基层党建工作述职", 2023,
                      {"township": seed.newest(), "village": village, "community": village})
    report = Report.get((Report.round == new) & (Report.unit == last.unit))
    township = Report.get((Report.round == new) & (Report.unit == Unit.get(Unit.kind == "township")))
    auth.login("liuwancun")

    response = client.post(f"/reports/{report.id}/last-year", follow_redirects=True,
                           data={"csrf_token": auth.csrf_token(), "counts": "keep"})

    data = Report.get_by_id(report.id).data
    assert report.last_year.id == last.id and township.last_year.unit_id == township.unit_id
    assert "已沿用2022年度的内容" in response.text
    assert (data["intro"], data["members_total"], data["theme_day_activities"]) == ("去年的开头。", 40, None)
    assert "mobile_members" not in data
