"""The township office's side: only the admin reaches it; units, accounts and
rounds; the progress board; review (return with comments, fix, resubmit,
approve, reopen); and the sum of the villages' figures."""
import datetime

import pytest

from tests.conftest import demo_types
from pbforms import demo
from pbforms.township import accounts, rounds, units
from pbforms.forms import builtin_type
from pbforms.models import AuditEvent, Report, Revision, Round, Unit, User

from .fillpage import one, parse
from .test_access import ROUTES, a_rating, build_url, ids_of, post_login  # noqa: F401 (a_rating: a fixture)

REPORT_TYPE = builtin_type("annual_report")
ADMIN_ROUTES = [route for route in ROUTES if route[1].split(".")[0] in ("township", "exports")]


def text_of(element):
    return " ".join(element.text_content().split())


def htmx(token):
    return {"X-CSRFToken": token, "HX-Request": "true"}


def type_fields():
    """The round form's type choices as the page offers them: the seed's type
    for the township, the village type for villages and communities."""
    return {f"type-{kind}": str(type_id) for kind, type_id in rounds.default_type_ids().items()}


def report_of(unit_name, round_=None):
    query = Report.with_round_and_unit().where(Unit.name == unit_name)
    if round_ is not None:
        query = query.where(Report.round == round_)
    return query.order_by(Report.id.desc()).get()


def complete(report, user):
    """Every required field filled, as a filler leaves it before submitting:
    the type's model text, figures 1, 2, 3 …, a name and a date."""
    report_type = report.report_type
    data = report_type.model_data(report.meta)
    data.update({f.key: n for n, f in enumerate(report_type.counts, start=1)})
    data.update({f.key: "2023-01-06" for f in report_type.fields if f.kind == "date"})
    data["reporter_name"] = "张三"
    report.save_data(data, user, report.version)


def put_in_state(unit_name, progress):
    """The unit's demo report as the board's `progress` shows it."""
    report = report_of(unit_name)
    filler = User.get(User.unit == report.unit)
    admin = User.by_username(demo.ADMIN[0])
    if progress == "not_started":
        return report
    complete(report, filler)
    if progress == "draft":
        report.save_data({**report.data, report.report_type.counts[-1].key: None}, filler, report.version)
    if progress in ("submitted", "returned", "approved"):
        report.change_status("submitted", filler, "submit")
    if progress == "returned":
        report.send_back(admin, "请补充。", {}, detail="请补充。")
    if progress == "approved":
        report.change_status("approved", admin, "approve")
    return report


# --- only the admin ---------------------------------------------------------

@pytest.mark.parametrize("rule, endpoint, method", ADMIN_ROUTES)
def test_every_township_route_refuses_a_filler(app, client, auth, rule, endpoint, method):
    auth.login("qingnicun")
    token = auth.csrf_token()
    url = build_url(app, rule, endpoint, method, ids_of("qingnicun"))
    units_before = Unit.select().count()

    response = client.open(url, method=method, headers={"X-CSRFToken": token},
                           data={"name": "偷建村", "kind": "village", "open": "0", "active": "0"})

    assert response.status_code == 403, rule
    assert "此页面仅供镇党建办（管理员）使用" in response.text
    assert Unit.select().count() == units_before
    assert Round.get().is_open and User.by_username("liuwancun").active


def test_admin_home_is_the_board_of_the_newest_open_round(client, auth):
    Round.start("2023年度抓基层党建工作述职", 2023, demo_types())
    auth.admin()

    page = client.get("/", follow_redirects=True)

    assert one_text(page.text, "//h1") == "2023年度抓基层党建工作述职"
    assert parse(page.text).xpath("//div[@id='board']")


def test_admin_home_without_an_open_round_is_the_rounds_list(client, auth):
    Round.update(status="closed").execute()
    auth.admin()

    page = client.get("/", follow_redirects=True)

    assert one_text(page.text, "//h1") == "填报轮次"
    assert "开启新的填报轮次" in page.text


def one_text(html, xpath):
    return text_of(one(parse(html), xpath))


# --- units ------------------------------------------------------------------

def test_adding_a_unit_lists_it_and_gives_it_a_report_in_the_open_round(client, auth):
    auth.admin()
    token = auth.csrf_token()

    response = client.post("/township/units", headers=htmx(token),
                           data={"name": "新村", "kind": "village", "secretary_title": ""})

    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.text
    row = parse(response.text).xpath("//tr[td[1]='新村']")[0]
    assert [text_of(td) for td in row.xpath("td")][:4] == ["新村", "村", "党支部书记", "使用中"]
    assert "已加入正在进行的填报：2022年度抓基层党建工作述职" in response.text
    assert report_of("新村").round.title == demo.ROUND_TITLE


@pytest.mark.parametrize("name, message", [
    ("", "请填写单位名称"),
    ("青泥村", "已有名为「青泥村」的单位"),
    ("村/一组", "单位名称不能含有"),
    ("长" * 31, "单位名称最多 30 个字"),
    ("\u202egpj.exe村", "单位名称不能含有控制字符或文字方向控制符"),
    ("新\u200f村", "单位名称不能含有控制字符或文字方向控制符"),
])
def test_a_bad_unit_name_gets_a_message_next_to_the_field(client, auth, name, message):
    auth.admin()
    token = auth.csrf_token()
    before = Unit.select().count()

    response = client.post("/township/units", headers=htmx(token), data={"name": name, "kind": "village"})

    assert response.status_code == 200
    assert message in one_text(response.text, "//p[@id='error-new-name']")
    assert parse(response.text).xpath("//input[@id='new-name']/@value") == [name]
    assert Unit.select().count() == before


@pytest.mark.parametrize("title, message", [
    ("/../../../pwn", "书记职务不能含有 \\ / : * ? \" < > | 这些符号"),
    ("\\..\\Windows", "书记职务不能含有"),
    ('"<>|?*', "书记职务不能含有"),
    ("书记\u202e", "书记职务不能含有控制字符或文字方向控制符"),
])
def test_a_bad_secretary_title_gets_a_message_next_to_the_field(client, auth, title, message):
    auth.admin()
    token = auth.csrf_token()
    before = Unit.select().count()

    response = client.post("/township/units", headers=htmx(token),
                           data={"name": "新村", "kind": "village", "secretary_title": title})

    assert response.status_code == 200
    assert message in one_text(response.text, "//p[@id='error-new-secretary']")
    assert Unit.select().count() == before


def test_renaming_a_secretary_title_is_checked_too(client, auth):
    auth.admin()
    unit = Unit.get(Unit.name == "柳湾村")

    response = client.post(f"/township/units/{unit.id}", headers=htmx(auth.csrf_token()),
                           data={"name": "柳湾村", "kind": "village", "secretary_title": "../书记"})

    assert "书记职务不能含有" in response.text
    assert Unit.get_by_id(unit.id).secretary_title == "党支部书记"


def without_check_of(field, read_form):
    """The form reader with its uniqueness check passed, as it is passed by
    two requests at the same moment on PostgreSQL: only the database's
    unique index is left to refuse the second name."""
    def read(*args):
        values, errors = read_form(*args)
        errors.pop(field, None)
        return values, errors
    return read


@pytest.mark.parametrize("url_of, error_id", [
    (lambda unit: "/township/units", lambda unit: "error-new-name"),
    (lambda unit: f"/township/units/{unit.id}", lambda unit: f"error-unit-{unit.id}-name"),
], ids=["new unit", "renamed unit"])
def test_a_unit_name_taken_at_the_same_moment_gets_the_message_not_an_error_page(client, auth, monkeypatch,
                                                                                  url_of, error_id):
    monkeypatch.setattr(units, "read_unit_form", without_check_of("name", units.read_unit_form))
    auth.admin()
    unit = Unit.get(Unit.name == "柳湾村")
    names_before = sorted(u.name for u in Unit.select())

    response = client.post(url_of(unit), headers=htmx(auth.csrf_token()), data={"name": "青泥村", "kind": "village"})

    assert response.status_code == 200
    assert one_text(response.text, f"//p[@id='{error_id(unit)}']") == "已有名为「青泥村」的单位"
    assert sorted(u.name for u in Unit.select()) == names_before


def test_a_user_name_taken_at_the_same_moment_gets_the_message_not_an_error_page(client, auth, monkeypatch):
    monkeypatch.setattr(accounts, "read_account_form", without_check_of("username", accounts.read_account_form))
    auth.admin()
    before = User.select().count()

    response = client.post("/township/accounts", headers=htmx(auth.csrf_token()),
                           data={"username": "qingnicun", "role": "admin"})

    assert response.status_code == 200
    assert one_text(response.text, "//p[@id='error-new-username']") == "用户名「qingnicun」已被使用"
    assert User.select().count() == before


def test_including_a_unit_twice_keeps_one_report(app):
    round_ = Round.get()
    unit = Unit.get(Unit.name == "柳湾村")
    before = Report.get((Report.round == round_) & (Report.unit == unit))

    round_.include(unit)

    assert [r.id for r in Report.select().where((Report.round == round_) & (Report.unit == unit))] == [before.id]


def test_a_unit_is_renamed_inline(client, auth):
    auth.admin()
    token = auth.csrf_token()
    unit = Unit.get(Unit.name == "柳湾村")

    edit = client.get(f"/township/units/{unit.id}/edit", headers={"HX-Request": "true"})
    form_id = f"unit-{unit.id}-form"
    assert parse(edit.text).xpath(f"//tr/td/input[@name='name'][@form='{form_id}']/@value") == ["柳湾村"]
    saved = client.post(f"/township/units/{unit.id}", headers=htmx(token),
                        data={"name": "柳湾新村", "kind": "village", "secretary_title": "党总支书记"})

    assert [text_of(td) for td in parse(saved.text).xpath("//tr/td")][:3] == ["柳湾新村", "村", "党总支书记"]
    assert report_of("柳湾新村").meta["secretary_title"] == "党总支书记"


def test_a_deactivated_unit_keeps_its_report_but_gets_none_in_a_new_round(client, auth):
    auth.admin()
    token = auth.csrf_token()
    unit = Unit.get(Unit.name == "河西村")
    old_report = report_of("河西村")

    row = client.post(f"/township/units/{unit.id}/active", headers=htmx(token), data={"active": "0"})
    opened = client.post("/township/rounds", data={"csrf_token": token, "title": "2023年度抓基层党建工作述职",
                                                   "year": "2023", "deadline": "", **type_fields()})

    assert "已停用" in text_of(parse(row.text).xpath("//tr")[0])
    assert opened.status_code == 303
    new_round = Round.get(Round.year == 2023)
    # 青泥镇's round is its villages': its own report is in the county's rounds.
    assert Report.select().where(Report.round == new_round).count() == len(demo.UNITS) - 2
    assert not Report.select().where((Report.round == new_round) & (Report.unit == unit)).exists()
    assert Report.get_by_id(old_report.id).unit_id == unit.id
    board = client.get(f"/township/rounds/{old_report.round_id}").text
    assert "河西村 已停用" in one_text(board, f"//tr[@id='report-{old_report.id}']/td[1]")


def test_reactivating_a_unit_gives_it_a_report_in_open_rounds(client, auth):
    auth.admin()
    token = auth.csrf_token()
    unit = Unit.get(Unit.name == "河西村")
    client.post(f"/township/units/{unit.id}/active", headers=htmx(token), data={"active": "0"})
    client.post("/township/rounds", data={"csrf_token": token, "title": "2023年度", "year": "2023",
                                          **type_fields()})

    client.post(f"/township/units/{unit.id}/active", headers=htmx(token), data={"active": "1"})

    assert Report.select().where(Report.unit == unit).count() == 2


# --- accounts and passwords -------------------------------------------------

def one_time_password(html):
    return one_text(html, "//code[@class='password']")


def test_a_new_filler_logs_in_with_the_one_time_password_and_must_replace_it(client, auth):
    auth.admin()
    token = auth.csrf_token()
    unit = Unit.get(Unit.name == "东坡村")

    created = client.post("/township/accounts", headers=htmx(token),
                          data={"username": "dongpo2", "display_name": "李四", "role": "filler", "unit": unit.id})
    password = one_time_password(created.text)
    auth.logout()
    auth.login("dongpo2", password)

    assert "只显示这一次" in created.text and created.headers["Cache-Control"] == "no-store"
    assert "dongpo2" in one_text(created.text, "//tr[@id='user-%d']" % User.by_username("dongpo2").id)
    # Shown once: in the new account's row only, not in a banner as well.
    assert len(parse(created.text).xpath("//code[@class='password']")) == 1
    assert one(parse(created.text), "//code[@class='password']/ancestor::tr").get("class") == "otp-row"
    assert client.get("/").location.startswith("/password")
    own = report_of("东坡村")
    assert client.get(f"/reports/{own.id}").location.startswith("/password")
    autosave = client.post(f"/reports/{own.id}", headers=htmx(auth.csrf_token()),
                           data={"version": "0", "reporter_name": "x"})
    assert autosave.status_code == 401 and "请先设置新密码" in autosave.text
    assert Report.get_by_id(own.id).version == 0
    changed = client.post("/password?next=/", data={"csrf_token": auth.csrf_token(), "current": password,
                                                    "new": "my-own-pass", "confirm": "my-own-pass"})
    assert changed.status_code == 303
    assert client.get("/").status_code == 200
    assert User.by_username("dongpo2").check_password("my-own-pass")


def test_a_reset_password_replaces_the_old_one_and_is_shown_once(client, auth):
    auth.admin()
    token = auth.csrf_token()
    user = User.by_username("liuwancun")

    row = client.post(f"/township/accounts/{user.id}/password", headers=htmx(token))
    password = one_time_password(row.text)
    page = client.get("/township/accounts").text

    rows = parse(row.text).xpath("//tr")
    # The old one-time passwords go; the new one shows in its own row, under the account's.
    assert rows[0].get("hx-swap-oob") == "delete:.otp-row"
    assert rows[1].get("id") == f"user-{user.id}"
    assert rows[2].get("class") == "otp-row" and "只显示这一次" in text_of(rows[2])
    assert "liuwancun 的一次性密码" in text_of(rows[2])
    assert password not in page and "待设置新密码" in one_text(page, f"//tr[@id='user-{user.id}']/td[5]")
    user = User.by_username("liuwancun")
    assert not user.check_password(demo.FILLER_PASSWORD) and user.check_password(password)
    assert user.must_change_password
    assert AuditEvent.get(AuditEvent.action == "password_reset").detail == "liuwancun"


def test_a_deactivated_account_cannot_log_in(client, auth):
    auth.admin()
    token = auth.csrf_token()
    user = User.by_username("hexicun")

    row = client.post(f"/township/accounts/{user.id}/active", headers=htmx(token), data={"active": "0"})
    auth.logout()
    page = post_login(client, "hexicun", demo.FILLER_PASSWORD)

    assert "已停用" in one_text(row.text, "//tr/td[5]")
    assert page.status_code == 200 and "用户名或密码不正确" in page.text


@pytest.mark.parametrize("form, field, message", [
    ({"username": "李四", "role": "filler"}, "username", "用户名为 3 至 30 位英文字母"),
    ({"username": "qingnicun", "role": "filler"}, "username", "用户名「qingnicun」已被使用"),
    ({"username": "nounit", "role": "filler"}, "unit", "填报员须属于一个单位"),
])
def test_a_bad_account_gets_a_message_next_to_the_field(client, auth, form, field, message):
    auth.admin()
    token = auth.csrf_token()
    before = User.select().count()

    response = client.post("/township/accounts", headers=htmx(token), data=form)

    assert message in one_text(response.text, f"//p[@id='error-new-{field}']")
    assert User.select().count() == before


@pytest.mark.parametrize("current, new, confirm, field, message", [
    ("wrong-password", "newpass123", "newpass123", "current", "当前密码不正确"),
    (demo.FILLER_PASSWORD, "short", "short", "new", "新密码应为 8 至 200 位"),
    (demo.FILLER_PASSWORD, "newpass123", "newpass124", "confirm", "两次输入的新密码不一致"),
    (demo.FILLER_PASSWORD, demo.FILLER_PASSWORD, demo.FILLER_PASSWORD, "new", "新密码不能与当前密码相同"),
])
def test_changing_ones_own_password_checks_it(client, auth, current, new, confirm, field, message):
    auth.login("qingnicun")

    response = client.post("/password", data={"csrf_token": auth.csrf_token(), "current": current,
                                              "new": new, "confirm": confirm})

    assert response.status_code == 200
    assert message in one_text(response.text, f"//span[@id='error-{field}']")
    assert User.by_username("qingnicun").check_password(demo.FILLER_PASSWORD)


def test_a_filler_changes_their_own_password(client, auth):
    auth.login("qingnicun")

    response = client.post("/password", data={"csrf_token": auth.csrf_token(), "current": demo.FILLER_PASSWORD,
                                              "new": "newpass123", "confirm": "newpass123"}, follow_redirects=True)

    assert "密码已修改。" in response.text
    assert User.by_username("qingnicun").check_password("newpass123")


# --- rounds -----------------------------------------------------------------

@pytest.mark.parametrize("form, field, message", [
    ({"title": "", "year": "2023"}, "title", "请填写轮次名称"),
    ({"title": "2023年度", "year": "23年"}, "year", "请填写年度"),
    ({"title": "2023年度", "year": "2023", "deadline": "2024-02-30"}, "deadline", "截止日期格式应为"),
    ({"title": "又一轮", "year": "2022"}, "title", "已有一个进行中的 2022 年度同类填报"),
    ({"title": "2023\u202e年度", "year": "2023"}, "title", "轮次名称不能含有控制字符或文字方向控制符"),
])
def test_a_bad_round_gets_a_message_and_opens_nothing(client, auth, form, field, message):
    auth.admin()

    response = client.post("/township/rounds", data={"csrf_token": auth.csrf_token(),
                                                     **type_fields(), **form})

    assert response.status_code == 422
    assert message in one_text(response.text, f"//p[@id='error-round-{field}']")
    assert Round.select().count() == 1


def test_a_closed_round_refuses_fillers_saves_until_reopened(client, auth):
    report = report_of("青泥村")
    auth.county()
    closed = client.post(f"/township/rounds/{report.round_id}/status",
                         data={"csrf_token": auth.csrf_token(), "open": "0", "back": "board"}, follow_redirects=True)
    assert "已结束，各单位的报告只读" in closed.text
    auth.logout()
    auth.login("qingnicun")
    token = auth.csrf_token()

    refused = client.post(f"/reports/{report.id}", headers=htmx(token), data={"version": "0", "reporter_name": "甲"})
    page = client.get(f"/reports/{report.id}").text

    assert refused.status_code == 409 and "本轮填报已结束" in refused.text
    assert "本轮填报已结束，报告只读。" in page and 'id="report-form"' not in page
    assert Report.get_by_id(report.id).version == 0

    auth.logout()
    auth.county()
    client.post(f"/township/rounds/{report.round_id}/status", data={"csrf_token": auth.csrf_token(), "open": "1"})
    auth.logout()
    auth.login("qingnicun")
    saved = client.post(f"/reports/{report.id}", headers=htmx(auth.csrf_token()),
                        data={"version": "0", "reporter_name": "甲"})
    assert saved.status_code == 200 and Report.get_by_id(report.id).data["reporter_name"] == "甲"
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("round_"))]
    assert actions == ["round_close", "round_reopen"]


def test_reopening_a_round_is_refused_while_another_of_its_year_and_type_is_open(client, auth):
    """Close the 2022 round, open another 2022 round, reopen the first:
    two open rounds of one year and type would give each unit two reports."""
    first = Round.get()
    auth.county()
    token = auth.csrf_token()
    client.post(f"/township/rounds/{first.id}/status", data={"csrf_token": token, "open": "0"})
    opened = client.post("/township/rounds", data={"csrf_token": token, "title": "2022年度重新填报", "year": "2022",
                                                   **type_fields()})
    assert opened.status_code == 303

    response = client.post(f"/township/rounds/{first.id}/status", data={"csrf_token": token, "open": "1"},
                           follow_redirects=True)

    assert "已有一个进行中的 2022 年度同类填报「2022年度重新填报」，不能重新开启" in response.text
    assert Round.get_by_id(first.id).status == "closed"
    assert Round.open_rounds().where(Round.year == 2022).count() == 1
    assert not AuditEvent.select().where(AuditEvent.action == "round_reopen").exists()


# --- the progress board ------------------------------------------------------

@pytest.fixture
def every_status():
    """The demo round with every status, and a deadline that has passed."""
    Round.update(deadline=datetime.date.today() - datetime.timedelta(days=1)).execute()
    for name, progress in [("青泥村", "submitted"), ("柳湾村", "returned"), ("石桥村", "approved"),
                           ("东坡村", "draft")]:
        put_in_state(name, progress)
    return Round.get()


def board_rows(html):
    """unit name -> the texts of its row's cells."""
    rows = parse(html).xpath("//table[contains(@class, 'board')]/tbody/tr[@id]")
    return {text_of(row.xpath("td")[0]): [text_of(td) for td in row.xpath("td")] for row in rows}


def test_the_board_shows_every_unit_with_status_last_save_and_missing_figures(client, auth, every_status):
    auth.admin()

    page = client.get(f"/township/rounds/{every_status.id}").text
    rows = board_rows(page)

    assert one_text(page, "//p[@class='totals']") == "共7个单位：已通过1，已提交1，已退回1，草稿2，未开始2；逾期5"
    assert {name: cells[1] for name, cells in rows.items()} == {
        "青泥镇": "草稿 逾期", "青泥村": "已提交", "柳湾村": "已退回 逾期", "石桥村": "已通过",
        "东坡村": "草稿 逾期", "河西村": "未开始 逾期", "新华社区": "未开始 逾期"}
    assert rows["东坡村"][2].endswith("· 东坡村填报员") and rows["河西村"][2] == "—"
    assert rows["青泥镇"][2].endswith("· 镇党建办")
    # Each counted by its own type: the township's 13 figures, a village's 12.
    assert {name: cells[3] for name, cells in rows.items()} == {
        "青泥镇": "2 项", "青泥村": "齐全", "柳湾村": "齐全", "石桥村": "齐全", "东坡村": "1 项",
        "河西村": "12 项", "新华社区": "12 项"}
    assert {cells[5] for cells in rows.values()} == {"—"}  # no 整改台账 entries yet
    assert "审核" in rows["青泥村"][6] and "填写" in rows["青泥镇"][6] and "填写" not in rows["东坡村"][6]


def test_no_unit_is_overdue_before_the_deadline(client, auth, every_status):
    Round.update(deadline=datetime.date.today()).execute()
    auth.admin()

    page = client.get(f"/township/rounds/{every_status.id}").text

    assert "逾期" not in one_text(page, "//p[@class='totals']")
    assert not parse(page).xpath("//tr[contains(@class, 'overdue')]")


@pytest.mark.parametrize("status, units", [
    ("submitted", {"青泥村"}),
    ("draft", {"青泥镇", "东坡村"}),
    ("not_started", {"河西村", "新华社区"}),
    ("overdue", {"青泥镇", "柳湾村", "东坡村", "河西村", "新华社区"}),
])
def test_the_board_filters_by_status_and_its_refresh_keeps_the_filter(client, auth, every_status, status, units):
    auth.admin()

    partial = client.get(f"/township/rounds/{every_status.id}?status={status}", headers={"HX-Request": "true"})

    assert "<html" not in partial.text and "HX-Request" in partial.headers["Vary"]
    assert set(board_rows(partial.text)) == units
    board = parse(partial.text).xpath("//div[@id='board']")[0]
    assert board.get("hx-trigger") == "every 30s" and board.get("hx-swap") == "outerHTML"
    assert board.get("hx-get") == f"/township/rounds/{every_status.id}?status={status}"


# --- review -----------------------------------------------------------------

def test_return_fix_resubmit_approve_leaves_audit_events(client, auth):
    report = report_of("青泥村")
    complete(report, User.by_username("qingnicun"))
    auth.login("qingnicun")
    submitted = client.post(f"/reports/{report.id}/submit",
                            data={"csrf_token": auth.csrf_token(), "version": str(report.version)})
    assert submitted.status_code == 303
    auth.logout()

    auth.admin()
    review = client.get(f"/township/reports/{report.id}").text
    assert {"审核通过", "退回修改"} <= {text_of(b) for b in parse(review).xpath("//button")}
    returned = client.post(f"/township/reports/{report.id}/return",
                           data={"csrf_token": auth.csrf_token(), "comment": "请核对发展党员人数。",
                                 "comment-members_recruited": "与组织部备案不符"})
    assert returned.status_code == 303
    auth.logout()

    auth.login("qingnicun")
    token = auth.csrf_token()
    page = client.get(f"/reports/{report.id}").text
    assert "请核对发展党员人数。" in one_text(page, "//div[contains(@class, 'banner returned')]")
    assert one_text(page, "//div[@id='field-members_recruited']/p[@class='review-comment']") == \
        "镇党建办意见：与组织部备案不符"
    version = Report.get_by_id(report.id).version
    fixed = client.post(f"/reports/{report.id}", headers=htmx(token),
                        data={"version": str(version), "members_recruited": "16"})
    assert fixed.status_code == 200
    resubmitted = client.post(f"/reports/{report.id}/submit", data={"csrf_token": token, "version": str(version + 1)})
    assert resubmitted.status_code == 303
    auth.logout()

    auth.admin()
    approved = client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})
    assert approved.status_code == 303
    stored = Report.get_by_id(report.id)
    assert stored.status == "approved" and stored.data["members_recruited"] == 16
    events = [(e.action, e.user.username) for e in AuditEvent.transitions_of(report)]
    assert events == [("submit", "qingnicun"), ("return", "admin"), ("submit", "qingnicun"), ("approve", "admin")]
    history = [text_of(li) for li in parse(client.get(f"/township/reports/{report.id}").text)
               .xpath("//section[@class='events']//li")]
    assert [item.split(" ", 2)[2] for item in history] == [
        "青泥村填报员 提交", "镇党建办 退回 请核对发展党员人数。 发展党员：与组织部备案不符",
        "青泥村填报员 提交", "镇党建办 审核通过"]


def test_approve_with_comments_typed_asks_return_or_keep_them(client, auth):
    report = put_in_state("青泥村", "submitted")
    auth.admin()
    form = {"csrf_token": auth.csrf_token(), "comment": "文字再精炼一些。", "comment-members_recruited": "请附名单"}

    asked = client.post(f"/township/reports/{report.id}/approve", data=form)

    assert asked.status_code == 200
    assert Report.get_by_id(report.id).status == "submitted"
    tree = parse(asked.text)
    assert "您写了意见，要退回修改吗？" in text_of(one(tree, "//h1"))
    buttons = {text_of(b): b.getparent().get("action") for b in tree.xpath("//main//form//button")}
    assert buttons == {"退回修改": f"/township/reports/{report.id}/return",
                       "审核通过，意见作为备注": f"/township/reports/{report.id}/approve"}
    kept = client.post(f"/township/reports/{report.id}/approve", data={**form, "with_comments": "keep"})
    assert kept.status_code == 303
    stored = Report.get_by_id(report.id)
    assert (stored.status, stored.review_comment, stored.field_comments) == (
        "approved", "文字再精炼一些。", {"members_recruited": "请附名单"})
    auth.logout()
    auth.login("qingnicun")
    note = one_text(client.get(f"/reports/{report.id}").text, "//div[@id='approval-note']")
    assert "文字再精炼一些。" in note and "发展党员：请附名单" in note


def test_approve_with_comments_may_return_instead(client, auth):
    report = put_in_state("青泥村", "submitted")
    auth.admin()
    returned = client.post(f"/township/reports/{report.id}/return",
                           data={"csrf_token": auth.csrf_token(), "comment": "文字再精炼一些。"})
    assert returned.status_code == 303
    assert Report.get_by_id(report.id).status == "returned"


def test_approve_buttons_and_closing_a_round_ask_first_saying_what_follows(client, auth):
    report = put_in_state("青泥村", "submitted")
    auth.admin()
    review = parse(client.get(f"/township/reports/{report.id}").text)
    questions = [b.get("data-confirm") for b in review.xpath("//button") if text_of(b) == "审核通过"]
    assert len(questions) == 2 and all("报告定稿，青泥村不能再修改" in q for q in questions)
    auth.logout()
    auth.county()  # the round's own office: only it may close the round
    rounds = parse(client.get("/township/rounds").text)
    closing = [b.getparent().get("data-confirm") for b in rounds.xpath("//form//button") if text_of(b) == "结束填报"]
    assert closing and all("所有单位的报告都变为只读" in q for q in closing)
    units_page = client.get("/township/units").text
    assert "它的报告和记录都会保留" in units_page


def test_returning_needs_a_comment(client, auth):
    report = put_in_state("青泥村", "submitted")
    auth.admin()

    response = client.post(f"/township/reports/{report.id}/return", data={"csrf_token": auth.csrf_token(),
                                                                          "comment": "  "})

    assert response.status_code == 422
    assert "退回时请写明意见" in one_text(response.text, "//p[@id='error-comment']")
    assert Report.get_by_id(report.id).status == "submitted"


@pytest.mark.parametrize("progress, action", [("draft", "approve"), ("not_started", "return"),
                                              ("returned", "approve")])
def test_review_refuses_a_report_not_handed_in(client, auth, progress, action):
    report = put_in_state("东坡村", progress)
    auth.admin()

    page = client.post(f"/township/reports/{report.id}/{action}", data={"csrf_token": auth.csrf_token(),
                                                                       "comment": "x"}, follow_redirects=True)

    assert "只有已提交" in one_text(page.text, "//p[contains(@class, 'flash error')]")
    assert Report.get_by_id(report.id).status == report.status


def test_the_admin_reopens_an_approved_report(client, auth):
    report = put_in_state("石桥村", "approved")
    auth.admin()

    review = client.get(f"/township/reports/{report.id}").text
    reopened = client.post(f"/township/reports/{report.id}/return", data={"csrf_token": auth.csrf_token()})
    auth.logout()
    auth.login("shiqiaocun")

    assert "重新打开（退回修改）" in [text_of(b) for b in parse(review).xpath("//form[@class='review']//button")]
    assert reopened.status_code == 303
    assert Report.get_by_id(report.id).status == "returned"
    assert AuditEvent.transitions_of(report)[-1].action == "reopen"
    assert 'id="report-form"' in client.get(f"/reports/{report.id}").text


def test_the_review_page_lists_the_missing_figures(client, auth):
    report = put_in_state("东坡村", "draft")
    auth.admin()

    page = client.get(f"/township/reports/{report.id}").text

    assert one_text(page, "//div[contains(@class, 'banner failed')]") == "还缺 1 项必填内容： 为民办实事"
    assert one_text(page, "//div[@id='review-deeds_for_people']//span[@class='missing-mark']") == "未填"
    assert "报告尚未提交（草稿），提交后可以审核。" in page


# --- the township's report: the sum of the villages ------------------------

def test_the_sum_of_the_villages_is_offered_and_applied_only_when_chosen(client, auth):
    qingni = put_in_state("青泥村", "submitted")
    shiqiao = put_in_state("石桥村", "approved")
    put_in_state("东坡村", "draft")
    township = report_of("青泥镇")
    auth.admin()

    page = client.get(f"/township/reports/{township.id}/sums").text
    rows = {text_of(tr.xpath("td")[1]): [text_of(td) for td in tr.xpath("td")]
            for tr in parse(page).xpath("//table[contains(@class, 'sums')]/tbody/tr")}
    key = "members_recruited"
    expected = qingni.data[key] + shiqiao.data[key]

    assert parse(page).xpath("//input[@name='report'][@checked]/@value") == [str(qingni.id), str(shiqiao.id)]
    # Matched by label: of the township's summable figures, only 发展党员 is
    # one the villages' type has too (no village holds a 临时党支部 figure).
    assert {f.label for f in REPORT_TYPE.counts if f.sum_of_units} > {"发展党员", "临时党支部"}
    assert set(rows) == {"发展党员"}
    assert rows["发展党员"][2:4] == ["16 名", f"{expected} 名"]
    assert Report.get_by_id(township.id).data[key] == 16  # nothing saved by looking

    applied = client.post(f"/township/reports/{township.id}/sums", data={
        "csrf_token": auth.csrf_token(), "version": str(township.version), "chosen": "1",
        "report": [qingni.id, shiqiao.id], "use": [key], f"value-{key}": str(expected),
        "value-deeds_done": "999"}, follow_redirects=True)

    stored = Report.get_by_id(township.id)
    assert stored.data[key] == expected and stored.data["deeds_done"] == township.data["deeds_done"]
    assert f"已采用汇总数字：发展党员 {expected}名。" in applied.text
    assert Revision.latest_of(stored).note == "采用2个村（社区）的汇总数字"


def test_the_sum_follows_the_ticked_reports(client, auth):
    qingni = put_in_state("青泥村", "submitted")
    put_in_state("石桥村", "approved")
    township = report_of("青泥镇")
    auth.admin()

    partial = client.get(f"/township/reports/{township.id}/sums?chosen=1&report={qingni.id}",
                         headers={"HX-Request": "true"})

    assert "<html" not in partial.text
    assert "已选 1 份报告的合计" in partial.text
    sum_cell = one_text(partial.text, "//tr[td/label='发展党员']/td[4]")
    assert sum_cell == f"{qingni.data['members_recruited']} 名"


@pytest.mark.parametrize("sent_version", [lambda v: str(v - 1), lambda v: None, lambda v: "abc",
                                          lambda v: "9" * 30], ids=["outdated", "missing", "not-a-number", "huge"])
def test_applying_sums_to_an_outdated_page_saves_nothing(client, auth, sent_version):
    qingni = put_in_state("青泥村", "submitted")
    township = report_of("青泥镇")
    auth.admin()
    form = {"csrf_token": auth.csrf_token(), "version": sent_version(township.version), "chosen": "1",
            "report": [qingni.id], "use": ["members_recruited"], "value-members_recruited": "5"}

    response = client.post(f"/township/reports/{township.id}/sums",
                           data={k: v for k, v in form.items() if v is not None}, follow_redirects=True)

    assert "报告在此期间已被修改" in response.text
    assert Report.get_by_id(township.id).data["members_recruited"] == township.data["members_recruited"]


def test_only_the_township_report_has_sums(client, auth):
    auth.admin()

    assert client.get(f"/township/reports/{report_of('青泥村').id}/sums").status_code == 404
