"""Deadlines and notices: the filler's home says how long is left, what came
back and what the office asks; reminders (催报) and notices (通知) stay as a
banner until read, and each is in the audit log. A round refuses a deadline
already past unless the office confirms it."""
import datetime

import pytest
from werkzeug.datastructures import MultiDict

from pbforms import demo
from pbforms.models import AuditEvent, Notice, Round, Unit, User
from pbforms.township.rounds import proposed_year

from .fillpage import one, parse
from .test_township import put_in_state, text_of

TODAY = datetime.date.today()


def the_round():
    return Round.select().get()


def set_deadline(days_from_today):
    round_ = the_round()
    round_.deadline = TODAY + datetime.timedelta(days=days_from_today)
    round_.save()
    return round_


def home_row(client, unit_name="青泥村"):
    tree = parse(client.get("/").text)
    return next(tr for tr in tree.xpath("//tbody/tr") if unit_name in text_of(tr))


@pytest.mark.parametrize("days, shown", [(5, "还剩 5 天"), (0, "今天截止"), (-2, "已逾期 2 天")])
def test_home_shows_the_deadline_and_days_left(client, auth, days, shown):
    round_ = set_deadline(days)
    auth.login("qingnicun")
    cell = one(home_row(client), ".//td[@class='deadline']")
    assert text_of(cell) == f"{round_.deadline.year}年{round_.deadline.month}月{round_.deadline.day}日 {shown}"


def test_home_marks_a_returned_report_with_its_number_of_comments(client, auth):
    report = put_in_state("青泥村", "submitted")
    report.send_back(User.by_username("admin"), "请修改。", {"members_recruited": "人数不对", "intro": "太长"})
    auth.login("qingnicun")
    assert "已退回 （3 条意见）" in text_of(home_row(client))


def test_a_reminder_reaches_the_units_not_handed_in_and_goes_once_read(client, auth):
    set_deadline(3)
    put_in_state("青泥村", "submitted")
    auth.admin()
    round_ = the_round()
    board = parse(client.get(f"/township/rounds/{round_.id}").text)
    link = one(board, "//a[text()='催报…']")
    assert "6 个单位尚未提交" in text_of(link.getparent())
    form = one(parse(client.get(link.get("href")).text), "//form[contains(@action, '/remind')]")
    response = client.post(form.get("action"), data=MultiDict(form.form_values()))
    assert response.status_code == 303
    event = AuditEvent.get(AuditEvent.action == "remind")
    assert "东坡村" in event.detail and "青泥村" not in event.detail.split("：")[1]
    auth.logout()

    auth.login("dongpocun")
    banner = one(parse(client.get("/").text), "//div[contains(@class, 'notice-remind')]")
    assert "镇党建办催报" in text_of(banner) and "请抓紧填写并提交" in text_of(banner)
    token = one(banner, ".//input[@name='csrf_token']").get("value")
    notice_id = one(banner, ".//input[@name='notice']").get("value")
    client.post("/notices/read", data={"csrf_token": token, "notice": notice_id})
    assert not parse(client.get("/").text).xpath("//div[contains(@class, 'notice-remind')]")
    auth.logout()

    auth.login("qingnicun")  # handed in: not reminded
    assert not parse(client.get("/").text).xpath("//div[contains(@class, 'notice')]")


def remind_form(client, round_):
    return one(parse(client.get(f"/township/rounds/{round_.id}/remind").text), "//form[contains(@action, '/remind')]")


def ticked(form):
    """The units the reminder form ticks, by name."""
    return sorted(text_of(box.getparent()).split("（")[0] for box in form.xpath(".//input[@name='unit']")
                  if box.get("checked") is not None)


@pytest.mark.parametrize("days", [3, -1], ids=["before the deadline", "late"])
def test_the_reminder_form_ticks_the_units_not_handed_in_but_not_the_offices_own(client, auth, days):
    set_deadline(days)
    put_in_state("青泥村", "submitted")
    auth.admin()
    form = remind_form(client, the_round())
    offered = [text_of(box.getparent()) for box in form.xpath(".//input[@name='unit']")]
    assert any(name.startswith("青泥镇") and "本办自己的报告" in name for name in offered)
    assert not any(name.startswith("青泥村") for name in offered)
    assert ticked(form) == sorted(["柳湾村", "石桥村", "东坡村", "河西村", "新华社区"])
    assert ("已勾选逾期的村（社区）" if days < 0 else "已勾选尚未提交的村（社区）") in text_of(one(form, ".//legend"))


def test_the_office_reminds_one_village_only(client, auth):
    auth.admin()
    round_ = the_round()
    dongpo = Unit.get(Unit.name == "东坡村")
    response = client.post(f"/township/rounds/{round_.id}/remind", follow_redirects=True,
                           data={"csrf_token": auth.csrf_token(), "unit": str(dongpo.id), "text": "请今天提交。"})
    assert "已向 1 个单位催报：东坡村" in response.text
    assert [(n.unit.name, n.text) for n in Notice.select()] == [("东坡村", "请今天提交。")]


@pytest.mark.parametrize("chosen", [[], ["青泥村"]], ids=["none ticked", "only one handed in"])
def test_a_reminder_to_no_unit_not_handed_in_is_refused_with_a_message(client, auth, chosen):
    put_in_state("青泥村", "submitted")
    auth.admin()
    round_ = the_round()
    units = [str(Unit.get(Unit.name == name).id) for name in chosen]
    response = client.post(f"/township/rounds/{round_.id}/remind",
                           data={"csrf_token": auth.csrf_token(), "unit": units, "text": "请今天提交。"})
    assert response.status_code == 422
    page = parse(response.text)
    assert text_of(one(page, "//p[@id='error-unit']")) == "请勾选要催报的单位（只能催报尚未提交的单位）。"
    assert text_of(one(page, "//textarea[@name='text']")) == "请今天提交。"  # what was typed stays
    assert Notice.select().count() == 0


def test_a_reminder_without_text_is_refused_keeping_the_ticks(client, auth):
    auth.admin()
    round_ = the_round()
    dongpo = Unit.get(Unit.name == "东坡村")
    response = client.post(f"/township/rounds/{round_.id}/remind",
                           data={"csrf_token": auth.csrf_token(), "unit": str(dongpo.id), "text": "  "})
    assert response.status_code == 422
    page = parse(response.text)
    assert text_of(one(page, "//p[@id='error-text']")) == "请写催报的内容。"
    assert ticked(one(page, "//form[contains(@action, '/remind')]")) == ["东坡村"]
    assert Notice.select().count() == 0


@pytest.mark.parametrize("kind", ["remind", "notice"])
def test_reminders_and_notices_show_on_the_fill_page_until_read_there(client, auth, kind):
    round_ = the_round()
    admin = User.by_username("admin")
    if kind == "remind":
        Notice.remind(round_, [Unit.get(Unit.name == "东坡村")], "请今天提交。", admin)
    else:
        Notice.announce(round_, "请今天提交。", admin, admin.unit)
    auth.login("dongpocun")
    report_url = one(parse(client.get("/").text), "//a[text()='打开']").get("href")
    banner = one(parse(client.get(report_url).text), f"//div[contains(@class, 'notice-{kind}')]")
    assert "请今天提交。" in text_of(banner)
    answer = client.post("/notices/read", data=dict(one(banner, ".//form").form_values()))
    assert answer.status_code == 303 and answer.headers["Location"] == report_url
    assert not parse(client.get(report_url).text).xpath("//div[contains(@class, 'notice')]")


def test_a_notice_reaches_every_unit_until_each_reads_it(client, auth):
    auth.admin()
    round_ = the_round()
    client.post(f"/township/rounds/{round_.id}/notice",
                data={"csrf_token": auth.csrf_token(), "text": "数字请与组织部备案一致。"})
    assert AuditEvent.get(AuditEvent.action == "notice").detail.endswith("数字请与组织部备案一致。")
    auth.logout()
    for username in ("qingnicun", "dongpocun"):
        auth.login(username)
        banner = one(parse(client.get("/").text), "//div[contains(@class, 'notice-notice')]")
        assert "数字请与组织部备案一致。" in text_of(banner)
        if username == "qingnicun":
            client.post("/notices/read", data={"csrf_token": auth.csrf_token(),
                                               "notice": one(banner, ".//input[@name='notice']").get("value")})
            assert not parse(client.get("/").text).xpath("//div[contains(@class, 'notice-notice')]")
        auth.logout()


def test_a_filler_cannot_mark_another_units_reminder_read(client, auth):
    round_ = the_round()
    other = Unit.get(Unit.name == "东坡村")
    Notice.remind(round_, [other], "请提交。", User.by_username("admin"))
    auth.login("qingnicun")
    client.post("/notices/read", data={"csrf_token": auth.csrf_token(), "notice": Notice.select().get().id})
    auth.logout()
    auth.login("dongpocun")
    assert parse(client.get("/").text).xpath("//div[contains(@class, 'notice-remind')]")


def test_an_empty_notice_is_refused_with_a_message(client, auth):
    auth.admin()
    round_ = the_round()
    response = client.post(f"/township/rounds/{round_.id}/notice", data={"csrf_token": auth.csrf_token(), "text": " "},
                           follow_redirects=True)
    assert "未发布通知：请写通知的内容。" in response.text
    assert Notice.select().count() == 0


def new_round_form(client, auth, **values):
    """The new-round form as the page proposes it (its report type per unit kind), with `values`."""
    form = one(parse(client.get("/township/rounds").text), "//form[contains(@action, '/township/rounds')]"
               "[.//input[@name='year']]")
    proposed = {name: value for name, value in form.form_values() if name.startswith("type-")}
    return {"csrf_token": auth.csrf_token(), "title": "2030年度测试述职", "year": "2030", **proposed, **values}


def test_a_deadline_in_the_past_is_refused_unless_confirmed(client, auth):
    auth.admin()
    past = (TODAY - datetime.timedelta(days=1)).isoformat()
    refused = client.post("/township/rounds", data=new_round_form(client, auth, deadline=past))
    assert refused.status_code == 422
    tree = parse(refused.text)
    assert "已经过去，开启后每个单位都会立即显示逾期" in text_of(one(tree, "//p[@id='error-round-deadline']"))
    assert one(tree, "//input[@name='past_ok']").get("type") == "checkbox"
    assert Round.select().count() == 1
    confirmed = client.post("/township/rounds", data=new_round_form(client, auth, deadline=past, past_ok="1"))
    assert confirmed.status_code == 303
    assert Round.select().count() == 2


@pytest.mark.parametrize("today, year", [(datetime.date(2024, 1, 8), 2023), (datetime.date(2024, 6, 30), 2023),
                                         (datetime.date(2024, 7, 1), 2024), (datetime.date(2024, 12, 20), 2024)])
def test_the_new_round_form_proposes_last_year_in_the_first_half(today, year):
    assert proposed_year(today) == year


def test_the_new_round_form_shows_the_proposed_year(client, auth):
    auth.admin()
    page = parse(client.get("/township/rounds").text)
    assert one(page, "//input[@name='year']").get("value") == str(proposed_year(TODAY))


# --- setting and moving the deadline of a running round ------------------------

def deadline_form(client, round_):
    return one(parse(client.get(f"/township/rounds/{round_.id}").text), "//form[contains(@action, '/deadline')]")


@pytest.mark.parametrize("before", [None, 2], ids=["none yet", "extended"])
def test_the_board_sets_or_extends_the_deadline_and_the_fillers_home_follows(client, auth, before):
    round_ = set_deadline(before) if before is not None else the_round()
    auth.county()
    form = deadline_form(client, round_)
    assert text_of(one(form, ".//label")) == ("延长或修改截止日期" if before else "设置截止日期")
    new = TODAY + datetime.timedelta(days=10)
    response = client.post(form.get("action"), data={**dict(form.form_values()), "deadline": new.isoformat()},
                           follow_redirects=True)
    assert f"截止日期已设为 {new.year}年{new.month}月{new.day}日" in response.text
    assert the_round().deadline == new
    assert AuditEvent.get(AuditEvent.action == "round_deadline").detail.endswith(new.isoformat())
    auth.logout()
    auth.login("qingnicun")
    assert text_of(one(home_row(client), ".//td[@class='deadline']")) == \
        f"{new.year}年{new.month}月{new.day}日 还剩 10 天"


@pytest.mark.parametrize("value, message", [
    ("", "请填写截止日期"), ("2024-02-30", "截止日期格式应为 2024-01-10"), ("明天", "截止日期格式应为 2024-01-10"),
    ((TODAY - datetime.timedelta(days=1)).isoformat(), "已经过去，请改为今天或以后的日期"),
])
def test_a_bad_deadline_on_the_board_is_refused_with_a_message(client, auth, value, message):
    round_ = set_deadline(2)
    auth.county()
    response = client.post(f"/township/rounds/{round_.id}/deadline",
                           data={"csrf_token": auth.csrf_token(), "deadline": value}, follow_redirects=True)
    assert message in text_of(one(parse(response.text), "//p[contains(@class, 'flash error')]"))
    assert the_round().deadline == TODAY + datetime.timedelta(days=2)


def test_round_deadline_command_sets_the_deadline(app):
    round_ = the_round()
    new = TODAY + datetime.timedelta(days=30)
    result = app.test_cli_runner().invoke(args=["round", "deadline", "--round", str(round_.id),
                                                "--deadline", new.isoformat()])
    assert result.exit_code == 0, result.output
    assert f"截止日期已设为 {new.year}年{new.month}月{new.day}日" in result.output
    assert the_round().deadline == new


@pytest.mark.parametrize("args, message", [
    (["--round", "99", "--deadline", "2099-01-10"], "找不到编号为 99 的填报轮次"),
    (["--deadline", "2024-02-30"], "--deadline：截止日期格式应为 2024-01-10"),
    (["--deadline", "2001-01-10"], "--deadline：截止日期 2001年1月10日 已经过去"),
])
def test_round_deadline_command_refuses_with_a_message(app, args, message):
    if "--round" not in args:
        args = ["--round", str(the_round().id), *args]
    result = app.test_cli_runner().invoke(args=["round", "deadline", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert the_round().deadline is None


def test_a_closed_round_cannot_be_reminded(client, auth):
    round_ = the_round()
    round_.set_open(False, User.by_username("admin"))
    auth.admin()
    page = parse(client.get(f"/township/rounds/{round_.id}/remind").text)
    assert "本轮填报已结束，不能催报。" in text_of(one(page, "//main"))
    assert not page.xpath("//form[contains(@action, '/remind')]")
    dongpo = Unit.get(Unit.name == "东坡村")
    response = client.post(f"/township/rounds/{round_.id}/remind",
                           data={"csrf_token": auth.csrf_token(), "unit": str(dongpo.id), "text": "请提交。"})
    assert response.status_code == 422
    assert Notice.select().count() == 0


@pytest.mark.parametrize("office, sender", [("county", "县委组织部"), ("admin", "镇党建办")])
def test_a_notice_names_the_office_that_sent_it(client, auth, office, sender):
    auth.login(office, demo.ADMIN[1])
    round_ = the_round()
    assert client.post(f"/township/rounds/{round_.id}/notice", data={"text": "请按时提交。"},
                       headers={"X-CSRFToken": auth.csrf_token()}).status_code == 303
    auth.logout()
    auth.login("qingnicun")
    banner = one(parse(client.get("/").text), "//div[contains(@class, 'notice-notice')]")
    assert text_of(banner).startswith(f"{sender}通知（")
