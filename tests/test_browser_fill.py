"""The fill page's keyboard and the browser's copy, in a real browser: a Tab
from a field onto a button saves and does nothing else (issue 19.4), and
the copies of unsaved typing on a shared PC do not outlive their user
(issue 19.10). Same server and helpers as tests/test_browser.py, on a
server of this module's own.
"""
from urllib.parse import parse_qsl

from playwright.sync_api import expect

from pbforms.demo import FILLER_PASSWORD

from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    browser,
    browsing,
    open_report,
    server,
    version,
)


def posts(page):
    """Every POST the page sends from now on, as (path, body)."""
    sent = []
    page.on("request", lambda r: r.method == "POST" and sent.append((r.url.split("/", 3)[3], r.post_data or "")))
    return sent


def focused_button(page):
    return page.evaluate("document.activeElement.tagName === 'BUTTON' ? document.activeElement.textContent.trim() : ''")


def test_a_tab_from_the_last_field_onto_submit_saves_and_submits_nothing(browsing):
    page = browsing.login("qingnizhen")
    open_report(page)
    status = page.locator("#save-status")
    # The seed report lacks two figures; with them it could be submitted.
    for label, figure in [("排查十八大以来农村发展党员档案", "35"), ("达标党群服务中心", "7")]:
        page.get_by_label(label, exact=True).fill(figure)
    page.get_by_label("达标党群服务中心", exact=True).press("Tab")
    expect(page.locator("#missing")).to_contain_text("必填项已全部填写")
    saved = page.locator("#report-version").input_value()
    sent = posts(page)

    date = page.locator("#f-written_on")
    date.fill("2023-01-08")
    # Tab through the date's year, month and day, out of the field.
    for _ in range(6):
        if page.evaluate("document.activeElement.id") != "f-written_on":
            break
        page.keyboard.press("Tab")
    assert focused_button(page) == "提交审核"
    expect(page.locator("#report-version")).to_have_value(str(int(saved) + 1))
    expect(status).to_contain_text("已保存")
    page.wait_for_timeout(1000)  # a second request, had one been queued

    assert sent and not [path for path, _ in sent if path.endswith("/submit")]
    assert browsing.dialogs == []  # nothing asked to confirm a submission
    page.reload()
    expect(page.get_by_role("button", name="提交审核")).to_be_visible()  # still a draft
    expect(date).to_have_value("2023-01-08")


def test_a_tab_from_an_items_text_onto_its_delete_button_deletes_nothing(browsing):
    page = browsing.login("hexicun")
    open_report(page)
    plans = page.locator("#field-plans")
    # The village type starts with one empty item: 上移 and 下移 are off,
    # so a Tab from its text lands on 删除.
    text = page.locator("#f-plans-0-text")
    text.click()
    sent = posts(page)
    page.keyboard.type("刚写好的一条打算，按 Tab 离开。")
    page.keyboard.press("Tab")
    assert focused_button(page) == "删除"
    expect(page.locator("#save-status")).to_contain_text("已保存")
    page.wait_for_timeout(2500)  # past the typing pause's save too

    assert sent and not [body for _, body in sent if "op=" in body]
    assert browsing.dialogs == []
    expect(plans.locator(".item")).to_have_count(1)
    page.reload()
    expect(plans.locator(".item")).to_have_count(1)
    expect(text).to_have_value("刚写好的一条打算，按 Tab 离开。")


def copies(page):
    return page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('pbforms:draft:')).sort()")


def test_the_next_user_of_a_pc_finds_no_copy_of_anothers_typing(browsing):
    browsing.expect_errors(r"\b401\b")
    page = browsing.login("dongpocun")
    open_report(page)
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()  # the session ends (idle, or logged out in another tab)
    name = page.get_by_label("述职人姓名")
    name.fill("东坡村没保存的姓名")
    name.press("Tab")
    expect(page.locator("#save-status")).to_contain_text("登录已过期")
    assert len(copies(page)) == 1  # kept for its own user's return

    page.goto("/login")
    assert len(copies(page)) == 1  # the login page does not know who comes
    page.get_by_label("用户名").fill("shiqiaocun")
    page.get_by_label("密码").fill(FILLER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("述职报告")
    assert copies(page) == []


def test_a_copy_older_than_a_day_is_dropped(browsing):
    page = browsing.login("xinhuashequ")
    open_report(page)
    key = page.locator("#report-form").get_attribute("data-draft-key")
    page.evaluate("""key => {
        const fields = {intro: "两天前没保存的开头。"};
        localStorage.setItem(key, JSON.stringify({at: Date.now() - 2 * 86400000, fields}));
        localStorage.setItem(key + "0", JSON.stringify({at: Date.now() - 3600000, fields}));
    }""", key)
    page.reload()
    expect(page.locator("#f-intro")).to_be_visible()
    assert copies(page) == [key + "0"]  # an hour old: kept
    expect(page.locator(".draft-offer")).to_have_count(0)


def test_typing_too_much_to_keep_stays_in_the_browsers_copy(browsing):
    page = browsing.login("qingnicun")
    open_report(page)
    intro = page.locator("#f-intro")
    intro.fill("很长的开头。" * 34_000)  # past the field's limit and what the server keeps (within a request's 2 MB)
    intro.press("Tab")
    expect(page.locator("#error-intro")).to_contain_text("内容太多，服务器没有暂存")
    expect(page.locator("#save-status")).to_contain_text("已保存")
    assert len(copies(page)) == 1  # the server has not got it: the browser keeps it


def sent_fields(body):
    """The names of the fields a save sent, beside its version and bases."""
    return sorted({name.split("-")[0] for name, _ in parse_qsl(body, keep_blank_values=True)
                   if name not in ("version", "csrf_token") and not name.startswith("base-")})


def test_an_autosave_sends_only_the_fields_changed_since_the_last_save(browsing):
    page = browsing.login("shiqiaocun")
    open_report(page)
    bases = page.locator("#bases input").count()
    before = version(page)
    sent = posts(page)
    name = page.get_by_label("述职人姓名")
    name.fill("只改了姓名")
    name.press("Tab")
    expect(page.locator("#save-status")).to_contain_text("已保存")
    lectures = page.get_by_label("党课", exact=True)
    lectures.fill("6")
    lectures.press("Tab")
    expect(page.locator("#report-version")).to_have_value(str(before + 2))
    page.wait_for_timeout(2500)  # past the typing pause's save too

    changed = [sent_fields(body) for _, body in sent]
    assert changed[:2] == [["reporter_name"], ["party_lessons"]], changed
    assert all(fields == [] for fields in changed[2:]), changed  # a later save sends nothing again
    # Every base goes with every save: the server shows anew what others changed meanwhile.
    assert all(len([n for n, _ in parse_qsl(body) if n.startswith("base-")]) == bases for _, body in sent)
    page.reload()
    expect(name).to_have_value("只改了姓名")
    expect(lectures).to_have_value("6")
