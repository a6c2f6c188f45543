"""帮助 (issue 23): /help answers each role with its own page (the rater's,
/v/help, needs no account), every step
shows a picture of the real page, and every button a step names is on the
page it describes, as that page's user sees it."""
from pathlib import Path

import lxml.html
import pytest

from pbforms import demo

from . import help_pages
from .rating_helpers import demo_rating
from .test_access import goes_to_login

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = {"filler": "怎样填写述职报告", "office": "镇党建办怎样组织述职报告的填报", "rater": "怎样用手机投票"}
ROLES = list(HEADINGS)
QUESTIONS = {"filler": ("忘记密码", "两个窗口", "保存失败", "打印出来不对", "截止日期过了"),
             "rater": ("不记名", "没有这个票码", "已经投过票了", "本次评议已经结束")}
QUESTIONS["office"] = QUESTIONS["filler"]
# The year's steps of a clerk's page; a rater does two things.
FEWEST_STEPS = {"filler": 8, "office": 8, "rater": 2}
# A picture of a text page at office-screen size, made small (tests/test_browser_help.py).
MOST_BYTES = 100_000


def log_in(app, username):
    """A client of its own, logged in as `username` (None: nobody)."""
    client = app.test_client()
    if username:
        password = demo.ADMIN[1] if username in {login for login, _, _ in demo.OFFICES} else demo.FILLER_PASSWORD
        page = client.get("/login").text
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": help_pages.form_token(page)})
        assert response.status_code == 302, response.text
    return client


def help_text(app, role):
    username, url = help_pages.HELP[role]
    return log_in(app, username).get(url).text


def help_page(app, role):
    return help_pages.HelpPage(help_text(app, role))


def steps_by_page():
    """(role, page key) of every part of the help pages that names a page,
    read from the templates, one test case each."""
    cases = []
    for role in ROLES:
        source = (ROOT / "templates" / "help" / f"{role}.html").read_text(encoding="utf-8")
        cases += sorted({(role, step["page"]) for step in help_pages.HelpPage(source).steps})
    return cases


@pytest.mark.parametrize("role", ROLES)
def test_help_answers_each_role_with_its_own_page(app, role):
    username, url = help_pages.HELP[role]

    response = log_in(app, username).get(url)

    assert response.status_code == 200
    assert [h for h in HEADINGS.values() if h in response.text] == [HEADINGS[role]]
    assert "常见问题" in response.text
    for question in QUESTIONS[role]:
        assert question in response.text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("term", ["LibreOffice", "PostgreSQL", "SQLite", "JSON", "HTTP", "URL", "数据库", "浏览器缓存"])
def test_help_speaks_plainly(app, role, term):
    main = help_text(app, role).partition("<main>")[2]
    assert term not in main


def test_help_needs_a_login(client):
    assert goes_to_login(client.get("/help"))


def test_the_ballot_pages_link_to_the_raters_help_without_an_account(app, client):
    code = demo_rating().issue_codes()[0][1]
    ballot = help_pages.open_page(client, f"/v#{code}").text
    assert "下一步：核对" in ballot
    for page in (client.get("/v").text, ballot):
        links = lxml.html.fromstring(page).xpath("//main//a[normalize-space()='帮助']/@href")
        assert links == ["/v/help"]
    assert HEADINGS["rater"] in client.get(links[0]).text


@pytest.mark.parametrize("username", ["qingnicun", "qingnizhen", demo.ADMIN[0]])
@pytest.mark.parametrize("path", ["/", "/password"])
def test_every_page_header_links_to_help(app, username, path):
    page = log_in(app, username).get(path, follow_redirects=True).text
    assert 'href="/help">帮助</a>' in page


@pytest.mark.parametrize("role", ROLES)
def test_every_step_shows_its_pictures_and_they_are_served(app, role):
    username, url = help_pages.HELP[role]
    client = log_in(app, username)
    steps = help_pages.HelpPage(client.get(url).text).numbered_steps
    assert len(steps) >= FEWEST_STEPS[role]
    for step in steps:
        for src, _ in step["pictures"]:
            picture = client.get(src)
            assert picture.status_code == 200, src
            assert picture.mimetype == "image/png" and picture.data.startswith(b"\x89PNG\r\n\x1a\n"), src
            assert len(picture.data) <= MOST_BYTES, (src, len(picture.data))
            picture.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_step_has_a_picture_and_names_buttons_only_where_it_says_which_page(app, role):
    page = help_page(app, role)
    numbered = page.numbered_steps
    assert numbered and all(step["pictures"] for step in numbered), [s["page"] for s in numbered]
    assert page.unplaced == []
    assert {step["page"] for step in page.steps} <= help_pages.build().keys()


@pytest.mark.parametrize("role, page_key", steps_by_page())
def test_every_button_a_step_names_is_on_its_page(app, role, page_key):
    named = sorted({name for step in help_page(app, role).steps if step["page"] == page_key
                    for name in step["buttons"]})
    pages = help_pages.build()
    username, url = pages[page_key]

    response = help_pages.open_page(log_in(app, username), url)

    assert response.status_code == 200, (url, response.status_code)
    missing = [name for name in named if name not in help_pages.button_names(response.text)]
    assert missing == [], f"templates/help/{role}.html names buttons that {url} ({page_key}) does not have"


@pytest.mark.sqlite_only  # the demo as the pictures show it; on PostgreSQL the office has no backup step
def test_every_picture_in_the_help_folder_is_shown_by_a_help_page(app):
    shown = {Path(src).name for role in ROLES for step in help_page(app, role).numbered_steps
             for src, _ in step["pictures"]}
    kept = {path.name for path in (ROOT / "static" / "help").glob("*.png")}
    assert kept - shown == set(), "pictures no help page shows: delete them"
    assert shown - kept == set(), "pictures missing: run tests/test_browser_help.py"


@pytest.mark.sqlite_only  # on PostgreSQL no office downloads backups
def test_only_the_root_office_is_told_to_download_backups(client, auth):
    auth.county()
    assert "下载此刻的完整备份" in client.get("/help").text
    auth.admin()  # 青泥镇, below the county: its backups are the county's
    page = client.get("/help").text
    assert "下载此刻的完整备份" not in page and "数据备份" not in page.split('id="questions"')[0]
