"""Login protection, sessions, security headers and error pages (issue 5).

Throttling, session epochs and the demo flag live in the database, so the
tests look there too: what one app process records, every other one obeys.
"""
import datetime
import re
import threading

import pytest
from flask import abort

from pbforms import create_app, demo
from pbforms import models
from pbforms.auth import ACCOUNT_LIMIT, ADDRESS_LIMIT, LOGIN_ERROR, MAX_WAIT, PAIR_LIMIT, WINDOW, pair_key
from pbforms.cli import unlock_command
from pbforms.models import AuditEvent, LoginFailure, Setting, User

from .test_access import FILLER_A, FILLER_B, form_token, goes_to_login, header_token, logged_in_user_id, post_login

ADMIN, ADMIN_PASSWORD = demo.ADMIN


def set_password(username, password):
    user = User.by_username(username)
    user.set_password(password)
    user.save(only=[User.password_hash])


def fail(client, username, times):
    for _ in range(times):
        response = post_login(client, username, "wrong-password")
        assert LOGIN_ERROR in response.text
    return response


def age_failures(minutes):
    """As if every recorded failure had happened `minutes` earlier."""
    for failure in LoginFailure.select():
        failure.at -= datetime.timedelta(minutes=minutes)
        failure.save()


# --- headers ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/", "/static/app.js", "/no-such-page"])
def test_every_answer_carries_the_security_headers(client, auth, path):
    auth.admin()
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_htmx_is_configured_without_eval_or_inline_style(client):
    page = client.get("/login").text
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page
    assert "<script>" not in page and "style=" not in page


# --- throttling ---------------------------------------------------------------

def test_account_is_throttled_after_five_failures_even_with_the_right_password(client):
    fail(client, FILLER_A, PAIR_LIMIT)

    response = post_login(client, FILLER_A, demo.FILLER_PASSWORD)

    assert response.status_code == 429
    assert LOGIN_ERROR in response.text
    assert logged_in_user_id(client) is None


def test_throttled_and_wrong_password_read_the_same(client):
    wrong = fail(client, FILLER_A, 1).text
    fail(client, FILLER_A, PAIR_LIMIT - 1)
    throttled = post_login(client, FILLER_A, "wrong-password").text
    assert LOGIN_ERROR in wrong and LOGIN_ERROR in throttled


def test_tries_while_throttled_are_not_counted(client):
    fail(client, FILLER_A, PAIR_LIMIT)
    for _ in range(10):
        post_login(client, FILLER_A, "wrong-password")
    assert LoginFailure.select().where(LoginFailure.key == f"account:{FILLER_A}").count() == PAIR_LIMIT


def test_wait_grows_with_each_failure(client):
    """After the first wait runs out, one more failure brings a longer one."""
    fail(client, FILLER_A, PAIR_LIMIT)
    age_failures(1)  # the first wait (1 minute) is over
    fail(client, FILLER_A, 1)
    age_failures(1)  # the second wait is 2 minutes: still waiting
    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 429
    age_failures(1.5)  # now it is over

    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 302


def test_wait_reaches_its_cap_and_goes_no_further(client):
    """Ten failures over the limit would double the wait to 1024 minutes;
    it stops at the cap, while the failures are still within the window."""
    for _ in range(PAIR_LIMIT + 10):
        LoginFailure.create(key=pair_key(FILLER_A, "127.0.0.1"), at=datetime.datetime.now())
    age_failures(MAX_WAIT.total_seconds() / 60 - 1)
    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 429  # a minute of the cap left
    age_failures(1.5)
    assert max(f.at for f in LoginFailure.select()) > datetime.datetime.now() - WINDOW  # none aged out

    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 302


def test_success_clears_the_account(client):
    fail(client, FILLER_A, PAIR_LIMIT - 1)
    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": header_token(client.get("/").text)})

    fail(client, FILLER_A, PAIR_LIMIT - 1)

    assert post_login(client, FILLER_A, demo.FILLER_PASSWORD).status_code == 302


def test_other_accounts_are_not_throttled_by_one(client):
    fail(client, FILLER_A, PAIR_LIMIT)
    assert post_login(client, FILLER_B, demo.FILLER_PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_throttled(client):
    names = [f"guess{i}" for i in range(ADDRESS_LIMIT)]
    for name in names:
        fail(client, name, 1)

    assert post_login(client, FILLER_B, demo.FILLER_PASSWORD).status_code == 429


def test_unknown_names_are_throttled_like_real_ones(client):
    fail(client, "nobody", PAIR_LIMIT)
    assert post_login(client, "nobody", "anything").status_code == 429


def client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_slow_guesser_elsewhere_does_not_keep_the_real_user_out(app):
    """One wrong admin password at a time from one PC: that PC stays
    throttled, but the real admin at another PC logs in."""
    guesser = client_at(app, "10.0.0.66")
    fail(guesser, ADMIN, PAIR_LIMIT)
    for minutes in (1, 2, 4):  # each time the wait runs out, one more guess
        age_failures(minutes)
        fail(guesser, ADMIN, 1)
    assert post_login(guesser, ADMIN, "another-guess").status_code == 429

    assert post_login(client_at(app, "10.0.0.7"), ADMIN, ADMIN_PASSWORD).status_code == 302
    assert post_login(guesser, ADMIN, ADMIN_PASSWORD).status_code == 429  # the guessing PC still waits


def test_guessing_one_account_from_many_addresses_is_throttled(app):
    for n in range(ACCOUNT_LIMIT):
        fail(client_at(app, f"10.1.{n // 200}.{n % 200 + 1}"), FILLER_A, 1)

    response = post_login(client_at(app, "10.9.9.9"), FILLER_A, demo.FILLER_PASSWORD)

    assert response.status_code == 429
    assert post_login(client_at(app, "10.9.9.9"), FILLER_B, demo.FILLER_PASSWORD).status_code == 302


def throttled_help(response):
    assert response.status_code == 429
    return re.search(r'<p class="error" id="throttled-help">([^<]+)</p>', response.text).group(1)


@pytest.mark.parametrize("username", [FILLER_A, "nobody"], ids=["filler", "unknown"])
def test_throttled_login_page_tells_a_filler_to_ask_the_office(client, username):
    fail(client, username, PAIR_LIMIT)

    help_text = throttled_help(post_login(client, username, demo.FILLER_PASSWORD))

    assert "请1分钟后再试" in help_text
    assert "请联系镇党建办" in help_text and "登录受限" in help_text
    assert "flask" not in help_text and "服务器" not in help_text  # a village cannot run it
    assert "throttled-help" not in post_login(client, FILLER_B, "wrong-password").text  # a plain failure


def test_throttled_login_page_tells_the_office_the_server_command(client):
    fail(client, ADMIN, PAIR_LIMIT)

    help_text = throttled_help(post_login(client, ADMIN, ADMIN_PASSWORD))

    assert "请1分钟后再试" in help_text
    assert "flask --app app unlock 用户名" in help_text


def test_unlock_command_lets_a_throttled_admin_in_from_everywhere(app):
    guessers = [client_at(app, address) for address in ("10.0.0.1", "10.0.0.2")]
    for guesser in guessers:
        fail(guesser, ADMIN, PAIR_LIMIT)
    fail(client_at(app, "10.0.0.3"), FILLER_A, PAIR_LIMIT)  # someone else's throttle stays
    assert post_login(guessers[0], ADMIN, ADMIN_PASSWORD).status_code == 429

    result = app.test_cli_runner().invoke(unlock_command, ["ADMIN"])

    assert result.exit_code == 0, result.output
    assert f"已解除 ADMIN 的登录限制（清除 {2 * PAIR_LIMIT + 2 * PAIR_LIMIT} 次输错记录）" in result.output
    for guesser in guessers:
        assert post_login(guesser, ADMIN, ADMIN_PASSWORD).status_code == 302
    assert post_login(client_at(app, "10.0.0.3"), FILLER_A, demo.FILLER_PASSWORD).status_code == 429
    assert AuditEvent.get(AuditEvent.action == "throttle_clear").detail == "ADMIN（命令行）"


def test_unlock_command_names_an_unknown_account(app):
    result = app.test_cli_runner().invoke(unlock_command, ["nobody"])
    assert result.exit_code == 0
    assert "没有名为「nobody」的账号" in result.output


@pytest.fixture
def hash_checks(monkeypatch):
    """Every password hash check made, counted (threads included)."""
    checks = []
    real = models.accounts.check_password_hash

    def counted(stored, password):
        checks.append(password)
        return real(stored, password)

    monkeypatch.setattr(models.accounts, "check_password_hash", counted)
    return checks


def test_sixty_simultaneous_wrong_tries_get_at_most_the_limit_of_checks(app, hash_checks):
    clients = [app.test_client() for _ in range(60)]
    tokens = [form_token(c.get("/login").text) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses = []

    def guess(i):
        # More threads than pooled connections: each request takes one
        # (and gives it back) itself.
        barrier.wait(timeout=30)
        statuses.append(clients[i].post("/login", data={"username": FILLER_A, "password": f"guess{i}",
                                                        "csrf_token": tokens[i]}).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == 60
    assert len(hash_checks) <= PAIR_LIMIT
    assert sorted(set(statuses)) == [200, 429] and statuses.count(200) == len(hash_checks)
    assert LoginFailure.select().where(LoginFailure.key == f"account:{FILLER_A}").count() == len(hash_checks)


@pytest.mark.parametrize("username", [FILLER_A, "no-such-user", "deactivated"])
def test_a_wrong_password_costs_one_hash_check_whether_the_name_exists_or_not(client, hash_checks, username):
    if username == "deactivated":
        User.update(active=False).where(User.username == FILLER_B).execute()
        username = FILLER_B

    response = post_login(client, username, "wrong-password")

    assert LOGIN_ERROR in response.text
    assert hash_checks == ["wrong-password"]


def test_admin_sees_and_clears_a_throttled_account(app, client, auth):
    other = app.test_client()
    fail(other, FILLER_A, PAIR_LIMIT)
    auth.admin()

    page = client.get("/township/accounts").text
    row = f"<td>账号 {FILLER_A}（在电脑 127.0.0.1）</td>"
    assert row in page
    client.post("/township/accounts/throttled/clear",
                data={"key": f"pair:127.0.0.1 {FILLER_A}", "csrf_token": form_token(page)})

    assert row not in client.get("/township/accounts").text
    assert AuditEvent.select().where(AuditEvent.action == "throttle_clear").count() == 1
    assert post_login(other, FILLER_A, demo.FILLER_PASSWORD).status_code == 302


def test_throttle_is_shared_through_the_database(app, database_url, tmp_path):
    """A second app process on the same database refuses the same account."""
    fail(app.test_client(), FILLER_A, PAIR_LIMIT)
    second = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                         "EXPORT_DIR": str(tmp_path / "exports")})
    assert post_login(second.test_client(), FILLER_A, demo.FILLER_PASSWORD).status_code == 429


# --- passwords ----------------------------------------------------------------

def test_demo_passwords_open_accounts_only_on_the_demo_database(client):
    Setting.delete().where(Setting.name == "demo").execute()

    response = post_login(client, FILLER_A, demo.FILLER_PASSWORD)

    assert LOGIN_ERROR in response.text
    assert logged_in_user_id(client) is None
    assert post_login(client, ADMIN, ADMIN_PASSWORD).status_code == 200


def test_other_passwords_work_outside_the_demo(client):
    Setting.delete().where(Setting.name == "demo").execute()
    set_password(FILLER_A, "a-real-secret")
    assert post_login(client, FILLER_A, "a-real-secret").status_code == 302


@pytest.mark.parametrize("username, current, new, message", [
    (FILLER_A, demo.FILLER_PASSWORD, "short7x", "新密码应为 8 至 200 位"),
    (FILLER_A, demo.FILLER_PASSWORD, ADMIN_PASSWORD, "不能使用演示密码"),
    (ADMIN, ADMIN_PASSWORD, demo.FILLER_PASSWORD, "不能使用演示密码"),
])
def test_a_new_password_is_long_enough_and_not_a_demo_one(client, username, current, new, message):
    post_login(client, username, current)
    page = client.get("/password").text
    response = client.post("/password", data={"current": current, "new": new, "confirm": new,
                                              "csrf_token": form_token(page)})
    assert message in response.text
    assert User.by_username(username).check_password(current)


@pytest.mark.parametrize("password, refused", [("short7x", "至少 8 位"), (demo.FILLER_PASSWORD, "不能使用演示密码")])
def test_create_user_command_refuses_short_and_demo_passwords(app, password, refused):
    result = app.test_cli_runner().invoke(args=["create-user", "newadmin", "--role", "admin",
                                                "--password", password])
    assert result.exit_code != 0 and refused in result.output
    assert User.by_username("newadmin") is None


# --- sessions -----------------------------------------------------------------

def saved_cookie(client):
    return client.get_cookie("session").value


def test_logout_ends_the_session_on_the_server(app, client, auth):
    auth.login(FILLER_A)
    cookie = saved_cookie(client)
    auth.logout()

    replay = app.test_client()
    replay.set_cookie("session", cookie)

    assert replay.get("/").status_code == 302
    assert "/login" in replay.get("/").headers["Location"]


def test_logout_leaves_the_accounts_other_sessions_alone(app, client, auth):
    """Two clerks of a village may share its account on two PCs."""
    auth.login(FILLER_A)
    other = app.test_client()
    post_login(other, FILLER_A, demo.FILLER_PASSWORD)

    auth.logout()

    assert other.get("/").status_code == 200


def test_changing_the_password_keeps_this_browser_and_ends_the_others(app, client, auth):
    auth.login(FILLER_A)
    other = app.test_client()
    post_login(other, FILLER_A, demo.FILLER_PASSWORD)
    page = client.get("/password").text

    client.post("/password", data={"current": demo.FILLER_PASSWORD, "new": "a-new-secret",
                                   "confirm": "a-new-secret", "csrf_token": form_token(page)})

    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302


def test_password_reset_by_admin_ends_the_users_sessions(app, client, auth):
    other = app.test_client()
    post_login(other, FILLER_A, demo.FILLER_PASSWORD)
    auth.admin()
    page = client.get("/township/accounts").text

    client.post(f"/township/accounts/{User.by_username(FILLER_A).id}/password",
                data={"csrf_token": form_token(page)})

    assert other.get("/").status_code == 302


def clock_at(monkeypatch, moment):
    """The clock the session cookie's signature is checked against, set to `moment`."""
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(moment.timestamp()))


def test_session_expires_after_the_idle_time(app, client, auth, monkeypatch):
    auth.login(FILLER_A)
    cookie = saved_cookie(client)
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    idle = app.permanent_session_lifetime
    clock_at(monkeypatch, datetime.datetime.now() + idle - datetime.timedelta(minutes=1))
    assert replay.get("/").status_code == 200  # a minute before the idle time runs out

    clock_at(monkeypatch, datetime.datetime.now() + idle + datetime.timedelta(minutes=1))
    other = app.test_client()
    other.set_cookie("session", cookie)

    assert goes_to_login(other.get("/"))


def session_set_by(response):
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]


def test_a_request_renews_the_idle_time_once_a_minute(app, client, auth, monkeypatch):
    """Re-signing the cookie on every autosave cost a tenth of the save:
    a minute after it was signed, the next request renews it."""
    auth.login(FILLER_A)
    client.get("/")  # the page after login (it may still change the session)
    assert not session_set_by(client.get("/"))  # signed just now

    clock_at(monkeypatch, datetime.datetime.now() + datetime.timedelta(seconds=61))
    cookie = session_set_by(client.get("/"))

    assert cookie and "Expires=" in cookie[0]
    assert not session_set_by(client.get("/"))


def test_a_session_in_use_outlives_the_idle_time(app, client, auth, monkeypatch):
    auth.login(FILLER_A)
    idle = app.permanent_session_lifetime
    start = datetime.datetime.now()
    for step in range(1, 4):  # a request every half idle time keeps it alive
        clock_at(monkeypatch, start + step * idle / 2)
        assert client.get("/").status_code == 200


def test_idle_hours_and_https_come_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("PBFORMS_SESSION_IDLE_HOURS", "2")
    monkeypatch.setenv("PBFORMS_HTTPS", "1")
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    assert app.permanent_session_lifetime == datetime.timedelta(hours=2)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_default_idle_time_is_eight_hours_and_cookie_not_secure(monkeypatch, database_url):
    monkeypatch.delenv("PBFORMS_SESSION_IDLE_HOURS", raising=False)
    monkeypatch.delenv("PBFORMS_HTTPS", raising=False)
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    assert app.permanent_session_lifetime == datetime.timedelta(hours=8)
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_csrf_token_of_an_open_form_still_works_hours_later(app, client, auth, monkeypatch):
    """The token has no time limit of its own; it lives as long as the session."""
    auth.login(FILLER_A)
    page = client.get("/password").text
    token = form_token(page)
    later = datetime.datetime.now() + datetime.timedelta(hours=7)
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp",
                        lambda self: int(later.timestamp()))

    response = client.post("/password", data={"current": "wrong", "new": "a-new-secret",
                                              "confirm": "a-new-secret", "csrf_token": token})

    assert response.status_code == 200
    assert "当前密码不正确" in response.text


# --- error pages --------------------------------------------------------------

@pytest.fixture
def failing_app(app, database_url, tmp_path):
    """A second app on the demo database (`app` filled it) with a route that
    raises, as a bug would, answered the way production answers it (not
    TESTING, so exceptions are not passed through to the test)."""
    failing = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "EXPORT_DIR": str(tmp_path / "exports")})

    @failing.get("/test-only/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @failing.get("/test-only/forbidden")
    def forbidden():
        abort(403)

    return failing


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("method, path, status, text", [
    ("GET", "/test-only/boom", 500, "系统暂时出错"),
    ("GET", "/test-only/forbidden", 403, "仅供镇党建办"),
    ("GET", "/no-such-page", 404, "页面不存在"),
    ("POST", "/login", 400, "页面已过期"),
    ("POST", "/test-only/boom", 405, "此地址不能这样打开"),
])
def test_errors_have_chinese_pages_and_partials(failing_app, htmx, method, path, status, text):
    client = failing_app.test_client()
    post_login(client, FILLER_A, demo.FILLER_PASSWORD)
    response = client.open(path, method=method, headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code == status
    assert "Traceback" not in response.text and "hunter2" not in response.text
    if htmx:
        assert 'id="save-status"' in response.text and "<html" not in response.text
    else:
        assert "<html" in response.text and "<h1>" in response.text
    assert text in response.text
    if status == 405:
        assert response.headers["Allow"]


def test_too_large_body_gets_a_chinese_message(client, auth):
    auth.login(FILLER_A)
    token = header_token(client.get("/").text)
    response = client.post("/password", data={"csrf_token": token, "current": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "内容过大" in response.text


def test_behind_a_proxy_each_client_address_is_throttled_on_its_own(monkeypatch, app, database_url, tmp_path):
    monkeypatch.setenv("PBFORMS_PROXIES", "1")
    proxied = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                          "EXPORT_DIR": str(tmp_path / "exports")})
    guesser = proxied.test_client()
    guesser.environ_base["HTTP_X_FORWARDED_FOR"] = "10.0.0.66"
    for i in range(ADDRESS_LIMIT):
        fail(guesser, f"guess{i}", 1)
    clerk = proxied.test_client()
    clerk.environ_base["HTTP_X_FORWARDED_FOR"] = "10.0.0.7"

    assert post_login(guesser, FILLER_B, demo.FILLER_PASSWORD).status_code == 429
    assert post_login(clerk, FILLER_B, demo.FILLER_PASSWORD).status_code == 302


def test_secret_key_is_generated_once_and_kept(tmp_path):
    """Without PBFORMS_SECRET_KEY the key is made on first start and the same
    key is read by every later start (and by other processes)."""
    from pbforms import _stored_secret_key

    first = _stored_secret_key(tmp_path / "secret_key")
    again = _stored_secret_key(tmp_path / "secret_key")

    assert len(first) == 64 and first == again
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
