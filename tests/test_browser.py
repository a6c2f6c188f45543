"""The fill page in a real browser: the app runs as its own process (as
`python app.py --demo` does on the intranet machine) and Debian's Chromium,
driven by Playwright, does what a village clerk does.

Only a browser shows whether htmx really sends the form, swaps the answers
in, keeps the status line honest and keeps typing on screen when the
network fails. The tests work on different units' reports (one saves
nothing), so they share one server without depending on each other's data.

Set PBFORMS_SCREENSHOTS to a folder to keep screenshots of every page at
office-screen and phone size, to look at the pages as a person would.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from docx import Document
from playwright.sync_api import expect, sync_playwright

from pbforms.demo import FILLER_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OFFICE = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 812}
SAVE_URL = re.compile(r"/reports/\d+$")
RED = "rgb(176, 0, 32)"
SCREENSHOTS = os.environ.get("PBFORMS_SCREENSHOTS")
# A slow CI machine gets the same time for expect() as for actions
# (context.set_default_timeout covers only the latter).
expect.set_options(timeout=10_000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_database_url):
    """The real app, started the way the README starts it, on the test
    database (SQLite, or PostgreSQL in CI's second run)."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium); CI installs it")
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    # Everything the server writes goes into the test's folders: not the
    # project's instance/, not the user's home.
    env = dict(os.environ, PBFORMS_DATABASE_URL=module_database_url, PBFORMS_SECRET_KEY="browser-test",
               PBFORMS_INSTANCE=str(folder / "instance"), HOME=str(folder / "home"))
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py", "--demo", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    with sync_playwright() as playwright:
        # Chromium keeps its profile and caches under HOME: a folder of the test's.
        home = tmp_path_factory.mktemp("browser-home")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                             env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home),
                                                  "XDG_CACHE_HOME": str(home)})
        yield browser
        browser.close()


class Browsing:
    """Browser contexts for one test, each watched for console errors and for
    requests to any other host (the intranet has no internet)."""

    def __init__(self, browser, base):
        self.browser = browser
        self.base = base
        self.contexts = []
        self.console_errors = []
        self.foreign_requests = []
        self.expected_errors = []
        self.dialogs = []

    def context(self, viewport=OFFICE):
        context = self.browser.new_context(base_url=self.base, viewport=viewport, locale="zh-CN")
        context.set_default_timeout(10_000)
        context.on("console", lambda m: m.type == "error" and self.console_errors.append(
            f"{m.page.url}: {m.text} ({m.location['url']})"))
        context.on("weberror", lambda e: self.console_errors.append(f"uncaught: {e.error}"))
        context.on("request", lambda r: r.url.startswith(self.base + "/") or self.foreign_requests.append(r.url))
        # Confirmations (提交审核, 删除 …) and the warning before leaving with
        # unsaved changes are answered yes, as a clerk who means it would;
        # each is kept in `dialogs` as (type, message) for the tests to read.
        context.on("page", lambda page: page.on("dialog", self.answer))
        self.contexts.append(context)
        return context

    def login(self, username, viewport=OFFICE):
        """A new context logged in as `username`; returns its page, on the home list."""
        page = self.context(viewport).new_page()
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(FILLER_PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("述职报告")
        return page

    def answer(self, dialog):
        self.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    def expect_errors(self, pattern):
        """Console errors the test provokes on purpose (a failed or refused save)."""
        self.expected_errors.append(re.compile(pattern))

    def check(self):
        for context in self.contexts:
            context.close()
        unexpected = [e for e in self.console_errors if not any(p.search(e) for p in self.expected_errors)]
        assert unexpected == []
        assert self.foreign_requests == []


@pytest.fixture
def browsing(browser, server):
    session = Browsing(browser, server)
    yield session
    session.check()


def open_report(page):
    """Open the report from the home list, ready to type into.

    The form shows before the deferred scripts run; a change made in that
    moment reaches no htmx listener, so wait for the load event first."""
    page.get_by_role("link", name="打开").click()
    expect(page.locator("#report-form")).to_be_visible()
    page.wait_for_load_state("load")


def version(page):
    return int(page.locator("#report-version").input_value())


def screenshot(page, name, element=None):
    if SCREENSHOTS:
        if element is not None:
            element.scroll_into_view_if_needed()
        width = page.viewport_size["width"]
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{width}-{name}.png"))


def assert_no_horizontal_scroll(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths}"


def test_figure_and_paragraph_are_saved_and_reach_the_word_file(browsing):
    page = browsing.login("qingnicun")
    page.clock.install(time=datetime(2023, 1, 5, 9, 0))
    open_report(page)
    # The page's clock stands still from here on, unless moved on below.
    page.clock.pause_at(datetime(2023, 1, 5, 10, 0))
    status = page.locator("#save-status")
    start = version(page)
    # The village type: a name, the opening, 12 figures, 3 lists, the date.
    expect(page.locator("#missing")).to_contain_text("还需填写 18 项")

    # Leaving a field saves it at once (change, 500 ms), long before the
    # 2 s typing pause would.
    reading = page.get_by_label("党课", exact=True)
    reading.press_sequentially("7")
    reading.press("Tab")
    page.clock.run_for(600)
    expect(status).to_contain_text("已保存")
    expect(page.locator("#report-version")).to_have_value(str(start + 1))
    expect(page.locator("#missing")).to_contain_text("还需填写 17 项")

    # A pause in typing saves too, without leaving the field.
    sentence = "青泥村今年新修了村史馆（浏览器测试）。"
    intro = page.locator("#f-intro")
    intro.click()
    intro.press("Control+End")
    intro.press_sequentially(sentence)
    page.clock.run_for(2100)
    expect(page.locator("#report-version")).to_have_value(str(start + 2))
    expect(status).to_contain_text("已保存")

    page.clock.resume()
    page.reload()
    expect(reading).to_have_value("7")
    expect(intro).to_have_value(re.compile(re.escape(sentence) + "$"))

    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Word").click()
    assert download.value.suggested_filename == "2022年度青泥村党支部书记抓基层党建工作述职报告.docx"
    text = "\n".join(p.text for p in Document(download.value.path()).paragraphs)
    assert "党课7次" in text  # in the 主要数据 paragraph: no text of this report refers to it
    assert sentence in text


def test_items_are_added_moved_removed_and_kept(browsing):
    page = browsing.login("liuwancun")
    open_report(page)
    plans = page.locator("#field-plans")
    headings = plans.locator(".item-head textarea")
    # The village type starts with one empty item.
    assert headings.evaluate_all("inputs => inputs.map(i => i.value)") == [""]
    first_heading = "抓好学习教育，提升党员素质（浏览器测试）"
    headings.nth(0).fill(first_heading)

    plans.get_by_role("button", name="添加一条打算").click()
    expect(headings).to_have_count(2)
    expect(headings.nth(0)).to_have_value(first_heading)
    new_heading = "持续办好群众身边实事（浏览器测试）"
    headings.nth(1).fill(new_heading)
    # Enter in a heading adds no line (a heading prints on one line) and
    # presses no item button.
    headings.nth(1).press("Enter")
    default_button = page.locator("#report-form [type=submit]").first
    expect(default_button).to_be_disabled()
    expect(default_button).to_be_hidden()
    expect(headings).to_have_count(2)

    # The item buttons send the whole form — so the heading just typed is
    # not lost — and their own op.
    with page.expect_request(lambda r: "op=" in (r.post_data or "")) as moved:
        plans.locator(".item").nth(1).get_by_role("button", name="上移").click()
    sent = parse_qs(moved.value.post_data)
    assert sent["op"] == ["up:plans:1"]
    assert sent["plans-1-heading"] == [new_heading]
    assert "reporter_title" in sent and "version" in sent  # the whole form (parse_qs drops the empty intro)
    assert moved.value.headers["x-csrftoken"]
    expect(headings.nth(0)).to_have_value(new_heading)
    expect(plans.locator(".ordinal").nth(0)).to_have_text("一是")
    expect(plans.locator(".ordinal").nth(1)).to_have_text("二是")

    plans.get_by_role("button", name="添加一条打算").click()
    expect(headings).to_have_count(3)
    plans.locator(".item").nth(0).get_by_role("button", name="删除").click()
    expected = [first_heading, ""]
    expect(headings).to_have_count(2)
    expect(page.locator("#save-status")).to_contain_text("已保存")

    page.reload()
    assert headings.evaluate_all("inputs => inputs.map(i => i.value)") == expected
    expect(plans.locator(".ordinal")).to_have_text(["一是", "二是"])


def test_failed_save_is_shown_and_retried_without_retyping(browsing):
    browsing.expect_errors(r"ERR_FAILED|htmx:sendError|htmx:afterRequest")
    page = browsing.login("shiqiaocun")
    page.clock.install()
    open_report(page)
    status = page.locator("#save-status")
    page.route(SAVE_URL, lambda route: route.abort() if route.request.method == "POST" else route.continue_())

    name = page.get_by_label("述职人姓名")
    name.fill("石桥村测试员")
    name.press("Tab")
    expect(status).to_contain_text("保存失败")
    expect(status).to_have_css("color", RED)
    expect(name).to_have_value("石桥村测试员")
    screenshot(page, "save-failed")

    page.unroute(SAVE_URL)
    page.clock.fast_forward("00:10")  # app.js sends the form again every 10 s
    expect(status).to_contain_text("已保存")
    expect(status).not_to_have_css("color", RED)
    page.reload()
    expect(name).to_have_value("石桥村测试员")


def test_typing_before_the_scripts_start_is_saved(browsing):
    # A slow first load: the form is on screen while htmx is still coming.
    page = browsing.login("shiqiaocun")
    saves = []
    page.on("request", lambda r: r.method == "POST" and SAVE_URL.search(r.url) and saves.append(r))
    held = []
    page.route("**/htmx-*.js", lambda route: held.append(route))
    page.get_by_role("link", name="打开").click()
    expect(page.locator("#report-form")).to_be_visible()
    reading = page.get_by_label("党课", exact=True)
    reading.fill("9")
    reading.press("Tab")
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#save-status")).to_contain_text("已保存")
    page.unroute("**/htmx-*.js")
    page.reload()
    expect(reading).to_have_value("9")

    # A page loaded with nothing typed early sends nothing.
    page.wait_for_timeout(1000)
    assert len(saves) == 1


def test_save_after_logout_says_why_it_failed(browsing):
    browsing.expect_errors(r"\b40[01]\b")
    page = browsing.login("liuwancun")
    open_report(page)
    # A response may renew the session cookie: let the page's last requests
    # (favicon, static files) finish first, or one would bring the cookie back.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()  # logged out meanwhile, e.g. in another tab

    name = page.get_by_label("述职人姓名")
    name.fill("退出后才输入的姓名")
    name.press("Tab")
    status = page.locator("#save-status")
    expect(status).to_contain_text("登录已过期")
    expect(status).to_have_css("color", RED)
    expect(name).to_have_value("退出后才输入的姓名")


def test_insert_figure_puts_reference_at_the_cursor(browsing):
    page = browsing.login("dongpocun")
    open_report(page)
    start = version(page)
    intro = page.locator("#f-intro")
    intro.fill("2022年，全村开展主题党日活动。")  # the village type's opening starts empty
    intro.press("Tab")
    expect(page.locator("#report-version")).to_have_value(str(start + 1))
    intro.click()
    intro.press("Control+Home")
    for _ in "2022年":
        intro.press("ArrowRight")
    picker = page.locator("#field-intro select[data-insert-into]")
    picker.select_option(label="党课（次）")

    expect(intro).to_have_value("2022年⟦党课⟧，全村开展主题党日活动。")
    expect(picker).to_have_value("")
    expect(intro).to_be_focused()
    expect(page.locator("#report-version")).to_have_value(str(start + 2))
    page.reload()
    expect(intro).to_have_value("2022年⟦党课⟧，全村开展主题党日活动。")


def test_second_tab_changing_another_field_merges_and_shows_the_first_tabs_change(browsing):
    first = browsing.login("hexicun")
    open_report(first)
    second = first.context.new_page()
    second.goto(first.url)
    second.wait_for_load_state("load")

    first.get_by_label("述职人姓名").fill("第一个窗口")
    first.get_by_label("述职人姓名").press("Tab")
    expect(first.locator("#save-status")).to_contain_text("已保存")

    reading = second.get_by_label("党课", exact=True)
    reading.fill("9")
    reading.press("Tab")
    status = second.locator("#save-status")
    expect(status).to_contain_text("已合并另一个页面或其他人同时所做的修改：「述职人姓名」")
    expect(second.get_by_label("述职人姓名")).to_have_value("第一个窗口")
    screenshot(second, "merged")

    first.reload()
    expect(first.get_by_label("述职人姓名")).to_have_value("第一个窗口")
    expect(first.get_by_label("党课", exact=True)).to_have_value("9")


@pytest.mark.parametrize("viewport", [OFFICE, PHONE], ids=["office", "phone"])
def test_pages_fit_the_screen(browsing, viewport):
    page = browsing.login("xinhuashequ", viewport)
    assert_no_horizontal_scroll(page)
    screenshot(page, "home")
    open_report(page)
    report_url = page.url
    assert_no_horizontal_scroll(page)
    screenshot(page, "fill-top")
    screenshot(page, "fill-counts", page.locator(".counts"))
    screenshot(page, "fill-items", page.locator("#field-plans .item").nth(0))

    # The status line stays in view, above the form, wherever the page is scrolled.
    page.locator(".submit-bar").scroll_into_view_if_needed()
    box = page.locator("#save-status").bounding_box()
    assert 0 <= box["y"] < 80
    screenshot(page, "fill-submit")
    # A missing figure's link shows its field below the status line, not under it.
    page.locator("#missing").get_by_role("link", name="党课").click()
    bar = page.locator(".status-bar").bounding_box()
    assert page.get_by_label("党课", exact=True).bounding_box()["y"] > bar["y"] + bar["height"]

    page.goto(report_url + "/preview")
    # The printed pages where LibreOffice is installed (the server sees the machine's), else the HTML.
    expect(page.locator(".pages .page, article.document").first).to_be_visible(timeout=60_000)  # after 正在生成
    assert_no_horizontal_scroll(page)
    screenshot(page, "preview")

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "login")


def test_errors_sit_by_their_field_and_submitted_report_reads_well(browsing):
    # The township's report: the seed's full text, two figures still empty.
    page = browsing.login("qingnizhen", PHONE)
    open_report(page)
    status = page.locator("#save-status")

    reading = page.get_by_label("读书班", exact=True)
    reading.fill("七")
    reading.press("Tab")
    error = page.locator("#field-reading_classes .field-error")
    expect(error).to_have_text("请填写数字，如 12")
    expect(error).to_have_css("color", RED)
    expect(status).to_contain_text("1 处需要修改")
    expect(status).to_have_css("color", RED)
    assert 0 < error.bounding_box()["y"] - reading.bounding_box()["y"] < 80
    screenshot(page, "fill-error", reading)

    reading.fill("13")
    for count in page.locator(".count input").all():
        if not count.input_value():
            count.fill("3")
    page.keyboard.press("Tab")
    expect(page.locator("#missing")).to_contain_text("必填项已全部填写")
    expect(error).to_be_hidden()
    expect(status).to_contain_text("已保存")
    expect(status).not_to_contain_text("需要修改")
    expect(status).not_to_have_css("color", RED)

    page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".banner")).to_contain_text("报告已提交")
    expect(page.locator("#report-form")).to_have_count(0)
    for viewport in (PHONE, OFFICE):
        page.set_viewport_size(viewport)
        assert_no_horizontal_scroll(page)
        screenshot(page, "read-only")
