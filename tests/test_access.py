"""Who may reach what: every route needs a session, a filler reaches only
their own unit's reports, every POST needs its CSRF token, and logging in
is safe.

The route lists come from the app's URL map, so a route added later is
covered without touching this file, and a URL parameter this file cannot
fill in fails the test instead of skipping the route.
"""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.conftest import demo_types
from pbforms import create_app, demo
from pbforms.models import AuditEvent, Report, Round, Unit, User

FILLER_A = "qingnicun"
FILLER_B = "liuwancun"
NO_SUCH_ID = 999999
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _routes():
    """(rule, endpoint, method) for every route but the login page and static files.

    Built from a throwaway app at collection time, so each route is its own
    test case; the tests themselves use the `app` fixture.
    """
    app = create_app({"DATABASE_URL": "sqlite:///:memory:", "SKIP_MIGRATIONS": True, "SECRET_KEY": "collect"})
    return sorted(
        (rule.rule, rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ("static", "auth.login")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ROUTES = _routes()
REPORT_ROUTES = [route for route in ROUTES if "<int:report_id>" in route[0] or "<report_id>" in route[0]]


def ids_of(username):
    """Values for URL parameters, all belonging to `username`'s unit."""
    user = User.by_username(username)
    report = Report.get(Report.unit == user.unit)
    return {"report_id": report.id, "unit_id": user.unit_id, "user_id": user.id, "round_id": report.round_id,
            "type_id": report.report_type.type_id,
            # The demo has no export job yet; no request here gets past the
            # access check to look it up.
            "job_id": 1, "extension": "xlsx", "version": report.version, "page": 1}


def build_url(app, rule_text, endpoint, method, ids):
    """The route's URL with `ids` substituted; fails loudly on an unknown parameter."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint)
    needed = rule.arguments - set(rule.defaults or ())
    unknown = sorted(needed - ids.keys())
    if unknown:
        pytest.fail(f"{rule_text}: no test value for URL parameter(s) {unknown}; "
                    "add them to ids_of() in tests/test_access.py")
    values = {name: ids[name] for name in needed}
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def form_token(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def header_token(page):
    return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


def without_tokens(page):
    return re.sub(r'(value="|"X-CSRFToken": ")[^"]+"', r'\1"', page)


def logged_in_user_id(client):
    with client.session_transaction() as session:
        return session.get("user_id")


def goes_to_login(response):
    return response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/login"


def snapshot(report_id):
    report = Report.get_by_id(report_id)
    return report.version, report.data, report.status, report.revisions.count()


def everything():
    """A fingerprint of all that a request could change."""
    return ([snapshot(r.id) for r in Report.select().order_by(Report.id)],
            [(u.id, u.active, u.password_hash) for u in User.select().order_by(User.id)],
            [(u.id, u.name, u.active) for u in Unit.select().order_by(Unit.id)],
            [(r.id, r.status) for r in Round.select().order_by(Round.id)],
            AuditEvent.select().count())


# --- (a) no session: every route sends to the login page ----------------------

@pytest.mark.parametrize("rule_text, endpoint, method", ROUTES)
def test_anonymous_request_is_sent_to_login(app, client, rule_text, endpoint, method):
    # The point is the session check, not CSRF (tested below): without this
    # an anonymous POST would already stop at the missing token.
    app.config["WTF_CSRF_ENABLED"] = False
    url = build_url(app, rule_text, endpoint, method, ids_of(FILLER_B))
    form = {"version": "0", "reporter_name": "匿名", "username": "intruder", "name": "匿名村"}
    before = everything()

    page = client.open(url, method=method, data=form)
    htmx = client.open(url, method=method, data=form, headers={"HX-Request": "true"})

    assert goes_to_login(page), (page.status_code, page.headers.get("Location"))
    assert htmx.status_code == 401
    assert "登录已过期" in htmx.text
    assert everything() == before


def test_login_returns_to_the_page_asked_for(app, client, auth):
    url = f"/reports/{ids_of(FILLER_A)['report_id']}"
    response = client.get(url)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"][0].rstrip("?") == url

    page = client.get(response.headers["Location"]).text
    response = client.post(response.headers["Location"], data={
        "username": FILLER_A, "password": demo.FILLER_PASSWORD, "csrf_token": form_token(page)})

    assert response.headers["Location"].rstrip("?") == url
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("rule_text, endpoint, method",
                         [route for route in ROUTES if route[2] in BODY_METHODS])
def test_login_after_anonymous_post_does_not_land_on_a_post_only_url(app, client, rule_text, endpoint, method):
    """A form sent after the session ended leads, after logging in again, to a page, not to 405."""
    app.config["WTF_CSRF_ENABLED"] = False
    url = build_url(app, rule_text, endpoint, method, ids_of(FILLER_A))
    login_url = client.open(url, method=method).headers["Location"]

    response = client.post(login_url, data={"username": FILLER_A, "password": demo.FILLER_PASSWORD})

    assert client.get(response.headers["Location"]).status_code == 200


# --- (b) a filler never reaches another unit's report -------------------------

@pytest.mark.parametrize("rule_text, endpoint, method", REPORT_ROUTES)
def test_other_units_report_is_404_like_a_missing_one(app, client, auth, rule_text, endpoint, method):
    auth.login(FILLER_A)
    victim = ids_of(FILLER_B)
    before = snapshot(victim["report_id"])
    form = {"csrf_token": auth.csrf_token(), "version": str(before[0]), "reporter_name": "越权修改",
            "members_recruited": "99", "op": "add:plans"}

    def request(ids, headers):
        url = build_url(app, rule_text, endpoint, method, ids)
        return client.open(url, method=method, headers=headers, data=form if method in BODY_METHODS else None)

    answers = {}
    for kind, headers in [("page", {}), ("htmx", {"HX-Request": "true"})]:
        other_unit = request(victim, headers)
        missing = request({**victim, "report_id": NO_SUCH_ID}, headers)
        answers[kind] = (other_unit.status_code, without_tokens(other_unit.text),
                         missing.status_code, without_tokens(missing.text))
    after = snapshot(victim["report_id"])
    # The township office's pages refuse every filler alike, own report
    # included (said here, not read from the app's answer).
    expected = 403 if endpoint.startswith(ADMIN_BLUEPRINTS) else 404
    assert request(ids_of(FILLER_A), {}).status_code != 404  # the filler's own report is found

    for kind, (status, body, missing_status, missing_body) in answers.items():
        assert status == expected, kind
        assert (status, body) == (missing_status, missing_body), kind
    assert after == before


ADMIN_BLUEPRINTS = ("township.", "exports.")

# What the admin gets, for a village's report and for the township's, from
# a request with only a CSRF token: pages open; a save is refused with a
# message where the admin may not edit (303), and where it may, a save that
# sends no field changes nothing (303) and a submit lists what is missing
# (422); a withdraw of a report not submitted is refused with a message; the
# sums page exists only for the township's report; the township's own report
# is reviewed by the county's office, not its own (403).
ADMIN_ANSWERS = {
    ("fill.report_page", "GET"): [200, 200], ("fill.save", "POST"): [303, 303],
    ("fill.download", "GET"): [200, 200], ("fill.preview", "GET"): [200, 200],
    # Tests run without LibreOffice: the PDF and the page images say so (409).
    ("fill.download_pdf", "GET"): [409, 409], ("fill.page_png", "GET"): [409, 409],
    ("fill.submit", "POST"): [303, 422], ("fill.withdraw", "POST"): [303, 303],
    ("history.history", "GET"): [200, 200], ("history.restore", "POST"): [303, 303],
    ("history.import_form", "GET"): [200, 200], ("history.import_json", "POST"): [409, 422],
    ("history.download_json", "GET"): [200, 200], ("history.last_year", "GET"): [200, 200],
    ("history.start_from_last_year", "POST"): [303, 409],
    ("township.review", "GET"): [200, 200], ("township.start_review", "POST"): [303, 403],
    ("township.approve", "POST"): [303, 403],
    ("township.return_report", "POST"): [303, 403],
    ("township.sums", "GET"): [404, 200], ("township.sums", "POST"): [404, 303],
    ("text.import_form", "GET"): [200, 200], ("text.import_word", "POST"): [409, 422],
    ("text.fix", "POST"): [303, 303],  # no field sent: nothing to merge, no fix found
    ("text.confirm", "POST"): [303, 303],  # no field sent: nothing to merge, no finding named
}


def test_every_report_route_has_its_expected_admin_answer():
    assert sorted(ADMIN_ANSWERS) == sorted((endpoint, method) for _, endpoint, method in REPORT_ROUTES)


@pytest.mark.parametrize("rule_text, endpoint, method", REPORT_ROUTES)
def test_admin_reaches_every_report_route(app, client, auth, rule_text, endpoint, method):
    """The 404s above are about who asks: the admin finds the same URLs
    (for a village's report, or the township's where the page is only for that)."""
    auth.admin()
    data = {"csrf_token": auth.csrf_token()} if method in BODY_METHODS else None
    statuses = [client.open(build_url(app, rule_text, endpoint, method, ids_of(username)),
                            method=method, data=data).status_code
                for username in (FILLER_B, "qingnizhen")]

    assert statuses == ADMIN_ANSWERS[endpoint, method]


# --- (c) CSRF on every POST, htmx included ------------------------------------

def report_id_of(username):
    return ids_of(username)["report_id"]


class CsrfCase:
    """A POST a real page sends: who is logged in, where, what, and how to tell it took effect."""

    def __init__(self, login, page, url, form, took_effect):
        self.login, self.page, self.url, self.form, self.took_effect = login, page, url, form, took_effect


def csrf_case(name):
    if name == "login":
        return CsrfCase(None, lambda: "/login", lambda: "/login",
                        lambda: {"username": FILLER_A, "password": demo.FILLER_PASSWORD},
                        lambda client: logged_in_user_id(client) is not None)
    if name == "logout":
        return CsrfCase(FILLER_A, lambda: "/", lambda: "/logout", dict,
                        lambda client: logged_in_user_id(client) is None)
    if name == "save":
        return CsrfCase(FILLER_A, lambda: f"/reports/{report_id_of(FILLER_A)}",
                        lambda: f"/reports/{report_id_of(FILLER_A)}",
                        lambda: {"version": str(Report.get_by_id(report_id_of(FILLER_A)).version),
                                 "reporter_name": "张三"},
                        lambda client: Report.get_by_id(report_id_of(FILLER_A)).data["reporter_name"] == "张三")
    # The township's demo report lacks only the two figures the seed left as **.
    return CsrfCase("qingnizhen", lambda: f"/reports/{report_id_of('qingnizhen')}",
                    lambda: f"/reports/{report_id_of('qingnizhen')}/submit",
                    lambda: {"version": str(Report.get_by_id(report_id_of("qingnizhen")).version),
                             "member_files_checked": "35", "service_centers_up_to_standard": "6"},
                    lambda client: Report.get_by_id(report_id_of("qingnizhen")).status == "submitted")


CSRF_CASES = ["login", "logout", "save", "submit"]


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("name", CSRF_CASES)
def test_post_without_csrf_token_is_refused(client, auth, name, htmx):
    case = csrf_case(name)
    if case.login:
        auth.login(case.login)
    effect_before = case.took_effect(client)

    response = client.post(case.url(), data=case.form(), headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code == 400
    assert "页面已过期或来源不明，请刷新页面后重试" in response.text
    assert case.took_effect(client) == effect_before


POST_ROUTES = [route for route in ROUTES if route[2] in BODY_METHODS]
# A form for every POST route that would change something if its token
# were not checked: every field any of them reads, with values they accept.
EVERY_FIELD = {"version": "0", "reporter_name": "无令牌", "members_recruited": "99", "op": "add:plans",
               "name": "无令牌村", "kind": "village", "secretary_title": "党支部书记", "username": "no_token",
               "display_name": "无令牌", "role": "admin", "title": "2031年度无令牌", "year": "2031",
               "report_type": "annual_report", "open": "0", "active": "0", "key": "account:qingnicun",
               "comment": "无令牌退回", "revision": "1", "counts": "keep", "scope": "", "use": "members_recruited",
               "value-members_recruited": "5", "chosen": "1", "current": "admin2022demo", "new": "no-token-pass",
               "confirm": "no-token-pass"}


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("rule_text, endpoint, method", POST_ROUTES)
def test_every_post_route_refuses_a_request_without_its_token(app, client, auth, rule_text, endpoint, method, htmx):
    """Generated from the URL map: a POST route added later, or a blueprint
    exempted from CSRF, fails here. The township's filler posts to the
    report routes, the admin to the office's."""
    user = "qingnizhen" if endpoint.startswith(("fill.", "history.")) else demo.ADMIN[0]
    auth.login(user, demo.ADMIN[1] if user == demo.ADMIN[0] else demo.FILLER_PASSWORD)
    before = everything()
    url = build_url(app, rule_text, endpoint, method, {**ids_of("qingnizhen"), "user_id": ids_of(FILLER_B)["user_id"],
                                                        "unit_id": ids_of(FILLER_B)["unit_id"]})

    response = client.open(url, method=method, data=EVERY_FIELD, headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code == 400
    assert "页面已过期或来源不明，请刷新页面后重试" in response.text
    assert everything() == before
    assert logged_in_user_id(client) is not None  # logging out needs the token too


@pytest.mark.parametrize("name", ["logout", "save", "submit"])
def test_token_of_another_session_is_refused(app, client, auth, name):
    case = csrf_case(name)
    auth.login(case.login)
    stranger = app.test_client()
    foreign_token = header_token(stranger.get("/login").text)

    response = client.post(case.url(), data={**case.form(), "csrf_token": foreign_token})

    assert response.status_code == 400
    assert not case.took_effect(client)


# 提交审核 is a plain form post: an htmx post to it only saves (tests/test_fill.py).
@pytest.mark.parametrize("name, via", [(name, via) for name in CSRF_CASES for via in ["form field", "htmx header"]
                                       if (name, via) != ("submit", "htmx header")])
def test_post_with_token_from_the_page_succeeds(client, auth, name, via):
    case = csrf_case(name)
    if case.login:
        auth.login(case.login)
    page = client.get(case.page()).text
    if via == "form field":
        data, headers = {**case.form(), "csrf_token": form_token(page)}, {}
    else:
        data, headers = case.form(), {"HX-Request": "true", "X-CSRFToken": header_token(page)}

    response = client.post(case.url(), data=data, headers=headers)

    assert response.status_code in (200, 302, 303), response.text
    assert case.took_effect(client)


# --- (d) logging in ----------------------------------------------------------

def post_login(client, username, password, next_url=None):
    token = form_token(client.get("/login").text)
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"username": username, "password": password, "csrf_token": token})


def deactivate(username, active=False):
    User.update(active=active).where(User.username == username).execute()


@pytest.mark.parametrize("username, password, message, setup", [
    (FILLER_A, "wrong-password", "用户名或密码不正确", None),
    (FILLER_A, demo.FILLER_PASSWORD.upper(), "用户名或密码不正确", None),
    ("nobody", demo.FILLER_PASSWORD, "用户名或密码不正确", None),
    (FILLER_A, demo.FILLER_PASSWORD, "用户名或密码不正确", "deactivate"),
    (FILLER_A, "", "请输入密码", None),
    ("   ", demo.FILLER_PASSWORD, "请输入用户名", None),
], ids=["wrong password", "wrong case", "unknown user", "inactive user", "no password", "no username"])
def test_refused_login_shows_message_and_starts_no_session(client, username, password, message, setup):
    if setup == "deactivate":
        deactivate(username)

    response = post_login(client, username, password)

    assert response.status_code == 200
    assert message in response.text
    assert logged_in_user_id(client) is None
    assert goes_to_login(client.get("/"))


@pytest.mark.parametrize("htmx", [True, False], ids=["autosave", "no-js"])
def test_a_save_after_logging_out_says_the_login_expired_not_the_page(client, auth, htmx):
    # Logging out drops the session's CSRF secret too: were the token checked
    # before the session, the clerk would be told to reload the page (页面已过期)
    # and lose the typing, instead of to log in again in another tab.
    auth.login(FILLER_A)
    report_id = report_id_of(FILLER_A)
    token = auth.csrf_token()
    auth.logout()
    data = {"version": "0", "reporter_name": "退出后保存"}
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    if not htmx:
        data["csrf_token"] = token
    save = client.post(f"/reports/{report_id}", headers=headers, data=data)
    if htmx:
        assert save.status_code == 401
        assert "登录已过期" in save.text
    else:
        assert goes_to_login(save)
    assert Report.get_by_id(report_id).version == 0


def test_deactivated_filler_is_logged_out_on_next_request(client, auth):
    auth.login(FILLER_A)
    report_id = report_id_of(FILLER_A)
    assert client.get("/").status_code == 200
    token = auth.csrf_token()

    deactivate(FILLER_A)
    save = client.post(f"/reports/{report_id}", headers={"HX-Request": "true", "X-CSRFToken": token},
                       data={"version": "0", "reporter_name": "停用后保存"})
    page = client.get(f"/reports/{report_id}")

    assert save.status_code == 401
    assert goes_to_login(page)
    assert Report.get_by_id(report_id).version == 0
    # Logged out for good: turning the account back on does not revive the old session.
    deactivate(FILLER_A, active=True)
    assert goes_to_login(client.get("/"))


@pytest.mark.parametrize("next_url", [
    "//evil.example",
    "//evil.example/reports/1",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "javascript:alert(1)",
])
def test_login_never_redirects_off_site(client, next_url):
    response = post_login(client, FILLER_A, demo.FILLER_PASSWORD, next_url)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc) in (("", ""), ("http", "localhost"))
    assert location.path.startswith("/") and not location.path.startswith("//")
    assert "evil.example" not in location.netloc


def test_passwords_are_stored_hashed_and_salted(app, real_password_hashing):
    hashes = {user.username: user.password_hash for user in User.select()}

    assert hashes[FILLER_A] != hashes[FILLER_B]  # same password, own salt
    for username, password, _ in demo.accounts():
        assert password not in hashes[username]
        assert re.match(r"(scrypt|pbkdf2):", hashes[username])
        assert User.by_username(username).check_password(password)


# --- (e) the session cookie --------------------------------------------------

@pytest.mark.parametrize("step", ["login page", "logged in"])
def test_session_cookie_is_httponly_and_samesite_lax(client, step):
    response = client.get("/login") if step == "login page" else post_login(client, FILLER_A, demo.FILLER_PASSWORD)

    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies
    attributes = {part.strip().lower() for part in cookies[-1].split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


# --- (f) who sees which reports ----------------------------------------------

def start_second_round():
    """A second round, so every unit has two reports."""
    Round.start("2023年度抓基层党建工作述职", 2023, demo_types())


def listed_report_ids(page):
    return {int(i) for i in re.findall(r'href="/reports/(\d+)"', page)}


def test_admin_sees_every_report_of_its_townships_units(client, auth):
    start_second_round()
    auth.admin()

    home = client.get("/", follow_redirects=True).text

    for name, _, _ in demo.UNITS:
        assert name in home
    for report in list(Report.select().join(Unit).where(Unit.name.in_([name for name, _, _ in demo.UNITS]))):
        assert client.get(f"/reports/{report.id}").status_code == 200


@pytest.mark.parametrize("username", [name for _, _, name in demo.UNITS])
def test_filler_home_lists_only_own_units_reports(client, auth, username):
    start_second_round()
    auth.login(username)
    user = User.by_username(username)
    own = {r.id for r in Report.select().where(Report.unit == user.unit)}

    home = client.get("/").text

    assert len(own) == 2
    assert listed_report_ids(home) == own
    for name, _, login in demo.UNITS:
        if login != username:
            assert f"<td>{name}</td>" not in home


# --- (e) numbers no row can have ------------------------------------------------

HUGE = [2**31, 2**63]
ID_ROUTES = [route for route in ROUTES if "<int:" in route[0]]


@pytest.mark.parametrize("huge", HUGE)
@pytest.mark.parametrize("rule_text, endpoint, method", ID_ROUTES)
def test_an_id_beyond_the_database_integers_is_404(app, client, auth, rule_text, endpoint, method, huge):
    auth.admin()
    ids = {name: huge for name in ("report_id", "unit_id", "user_id", "round_id", "job_id", "type_id")}
    url = build_url(app, rule_text, endpoint, method, {**ids_of(FILLER_A), **ids})
    assert str(huge) in url

    response = client.open(url, method=method, data={"csrf_token": auth.csrf_token()} if method in BODY_METHODS
                           else None)

    assert response.status_code == 404
    assert "您要找的页面不存在" in response.text


HUGE_FORM = {name: str(2**63) for name in ("unit", "user", "report", "version", "revision", "edit", "page", "open",
                                           "active")}


@pytest.mark.parametrize("rule_text, endpoint, method", ROUTES)
def test_huge_numbers_in_form_fields_and_queries_are_ignored_not_an_error(app, client, auth, rule_text, endpoint,
                                                                         method):
    """Every field or argument a page reads as a number, at 2^63 at once."""
    auth.admin()
    url = build_url(app, rule_text, endpoint, method, {**ids_of("qingnizhen"), "job_id": 1})
    if method in BODY_METHODS:
        response = client.open(url, method=method, data={**HUGE_FORM, "role": "filler", "username": "huge_test",
                                                          "csrf_token": auth.csrf_token()})
    else:
        response = client.open(url, method=method, query_string={**HUGE_FORM, "chosen": "1"})

    assert response.status_code < 500, response.text[:500]
    if endpoint == "township.add_account":
        assert "填报员须属于一个单位，请选择" in response.text


@pytest.mark.parametrize("query", [
    {"page": "2", "_method": "POST"},
    {"page": "2", "_external": "1", "_scheme": "javascript"},
    {"page": "2", "_anchor": "x", "endpoint": "fill.home", "values": "1"},
])
def test_audit_paging_links_carry_only_the_filters(client, auth, query):
    for n in range(120):
        AuditEvent.create(action="login", detail=str(n))
    auth.admin()

    response = client.get("/admin/audit", query_string={**query, "action": "login"})

    assert response.status_code == 200
    links = re.findall(r'<a href="([^"]+)">(?:← 上一页|下一页 →)</a>', response.text)
    assert len(links) == 2
    for link in links:
        parts = urlsplit(link.replace("&amp;", "&"))
        assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/admin/audit")
        assert set(parse_qs(parts.query)) == {"page", "action"}
