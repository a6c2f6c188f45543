"""Nothing a clerk does is lost or surprising (issue 12), in a real browser:
two sessions' changes merge, the same field changed twice is shown side by
side, a closed tab's or an offline tab's typing is offered back from the
browser's copy, a refused figure stays with its message, and long text fits
a phone without a scrollbar inside the page. Same server and helpers as
tests/test_browser.py, on a server of this module's own.
"""
import re
from datetime import datetime

from playwright.sync_api import expect

from pbforms.demo import ADMIN

from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    OFFICE,
    PHONE,
    RED,
    SAVE_URL,
    assert_no_horizontal_scroll,
    browser,
    browsing,
    open_report,
    screenshot,
    server,
)


def second_session(browsing, page, username):
    """The same report opened by the same user on another computer."""
    other = browsing.login(username)
    other.goto(page.url)
    other.wait_for_load_state("load")
    return other


def test_two_sessions_saving_different_fields_both_keep_their_change(browsing):
    first = browsing.login("qingnicun")
    open_report(first)
    second = second_session(browsing, first, "qingnicun")

    first.get_by_label("党课", exact=True).fill("21")
    first.get_by_label("党课", exact=True).press("Tab")
    expect(first.locator("#save-status")).to_contain_text("已保存")

    second.get_by_label("述职人姓名").fill("另一台电脑")
    second.get_by_label("述职人姓名").press("Tab")
    expect(second.locator("#save-status")).to_contain_text("已合并另一个页面或其他人同时所做的修改：「党课」")
    expect(second.get_by_label("党课", exact=True)).to_have_value("21")

    for page in (first, second):
        page.reload()
        expect(page.get_by_label("党课", exact=True)).to_have_value("21")
        expect(page.get_by_label("述职人姓名")).to_have_value("另一台电脑")


def test_the_same_field_changed_in_two_sessions_is_shown_side_by_side(browsing):
    first = browsing.login("dongpocun")
    open_report(first)
    second = second_session(browsing, first, "dongpocun")

    first.locator("#f-intro").fill("第一台电脑写的开头。")
    first.locator("#f-intro").press("Tab")
    expect(first.locator("#save-status")).to_contain_text("已保存")

    second.locator("#f-intro").fill("第二台电脑写的开头。")
    second.locator("#f-intro").press("Tab")
    slot = second.locator("#conflict-intro")
    expect(slot.locator(".theirs")).to_contain_text("第一台电脑写的开头。")
    expect(slot.locator(".mine")).to_contain_text("第二台电脑写的开头。")
    expect(second.locator("#save-status")).to_contain_text("「开头」您和另一个页面或其他人都改了")
    expect(second.locator("#f-intro")).to_have_value("第二台电脑写的开头。")
    screenshot(second, "conflict", slot)
    assert_no_horizontal_scroll(second)

    # Still there after a reload: nothing typed is lost while undecided.
    second.reload()
    expect(second.locator("#conflict-intro .mine")).to_contain_text("第二台电脑写的开头。")
    second.locator("#conflict-intro").get_by_role("button", name="用我的").click()
    expect(second.locator("#conflict-intro")).to_be_empty()
    expect(second.locator("#save-status")).to_contain_text("已保存")
    first.reload()
    expect(first.locator("#f-intro")).to_have_value("第二台电脑写的开头。")


def stored_copy(page):
    return page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('pbforms:draft:'))")


def test_a_closed_tabs_unsaved_text_is_offered_back(browsing):
    page = browsing.login("shiqiaocun")
    open_report(page)
    url = page.url
    page.route(SAVE_URL, lambda route: route.abort())  # the save never reaches the server
    browsing.expect_errors(r"ERR_FAILED|htmx:sendError|htmx:afterRequest")
    intro = page.locator("#f-intro")
    intro.fill("关掉窗口之前写的开头。")
    expect(page.locator("#save-status")).to_contain_text("保存失败", timeout=15_000)
    assert len(stored_copy(page)) == 1
    page.close()

    again = page.context.new_page()
    again.goto(url)
    offer = again.locator(".draft-offer")
    expect(offer).to_contain_text("尚未保存到服务器的内容")
    expect(again.locator("#f-intro")).not_to_have_value("关掉窗口之前写的开头。")
    screenshot(again, "draft-offer")
    offer.get_by_role("button", name="恢复并保存").click()
    expect(again.locator("#f-intro")).to_have_value("关掉窗口之前写的开头。")
    expect(again.locator(".draft-offer")).to_have_count(0)
    assert stored_copy(again) == []
    again.reload()
    expect(again.locator("#f-intro")).to_have_value("关掉窗口之前写的开头。")


def test_offline_typing_survives_a_reload_and_leaving_warns_first(browsing):
    browsing.expect_errors(r"ERR_INTERNET_DISCONNECTED|htmx:sendError|htmx:afterRequest")
    page = browsing.login("liuwancun")
    page.clock.install(time=datetime(2023, 1, 5, 9, 0))
    open_report(page)
    page.clock.pause_at(datetime(2023, 1, 5, 10, 0))
    page.context.set_offline(True)
    name = page.get_by_label("述职人姓名")
    name.fill("断网时输入的姓名")
    name.press("Tab")
    page.clock.run_for(600)
    expect(page.locator("#save-status")).to_contain_text("网络不通")
    page.context.set_offline(False)

    page.reload()  # the browser asks first (answered yes here)
    assert ("beforeunload", "") in browsing.dialogs or any(t == "beforeunload" for t, _ in browsing.dialogs)
    page.locator(".draft-offer").get_by_role("button", name="恢复并保存").click()
    expect(page.get_by_label("述职人姓名")).to_have_value("断网时输入的姓名")
    page.clock.resume()
    page.reload()
    expect(page.get_by_label("述职人姓名")).to_have_value("断网时输入的姓名")


def test_logging_out_clears_the_copies(browsing):
    page = browsing.login("xinhuashequ")
    open_report(page)
    page.route(SAVE_URL, lambda route: route.abort())
    browsing.expect_errors(r"ERR_FAILED|htmx:sendError|htmx:afterRequest")
    page.locator("#f-intro").fill("不该留在这台电脑上的字。")
    expect(page.locator("#save-status")).to_contain_text("保存失败", timeout=15_000)
    assert len(stored_copy(page)) == 1
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    assert stored_copy(page) == []


def test_a_refused_figure_stays_with_its_message_after_a_reload(browsing):
    page = browsing.login("qingnizhen")
    open_report(page)
    reading = page.get_by_label("读书班", exact=True)
    reading.fill("4次")
    reading.press("Tab")
    expect(page.locator("#save-status")).to_contain_text("1 处需要修改")
    page.reload()
    expect(reading).to_have_value("4次")
    error = page.locator("#error-reading_classes")
    expect(error).to_have_text("请填写数字，如 12")
    expect(error).to_have_css("color", RED)


def test_submit_asks_first_saying_what_follows(browsing):
    browsing.expect_errors(r"status of 422")  # the page answering that figures are missing
    page = browsing.login("qingnicun")
    open_report(page)
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".banner.failed")).to_contain_text("还不能提交")  # answered yes; figures are missing
    messages = [m for t, m in browsing.dialogs if t == "confirm"]
    assert messages and "退回之前不能再修改" in messages[-1]


def test_a_long_item_on_a_phone_has_no_inner_scrollbar_and_no_sideways_scroll(browsing):
    page = browsing.login("hexicun", PHONE)
    open_report(page)
    text = page.locator("#f-plans-0-text")
    text.fill("\n".join(f"第{n}段：加强村党支部标准化规范化建设，落实“三会一课”制度。" for n in range(1, 31)))
    heading = page.locator("#f-plans-0-heading")
    heading.fill("始终抓牢政治建设，切实履行好管党治党职责，把党的领导贯穿基层治理全过程各方面（一个很长的标题）")
    for box in (text, heading):
        sizes = box.evaluate("el => [el.scrollHeight, el.clientHeight]")
        assert sizes[0] <= sizes[1] + 1, f"scrolls inside: {sizes}"
    assert heading.evaluate("el => el.clientHeight") > 40  # the long heading wraps onto more lines
    assert_no_horizontal_scroll(page)
    screenshot(page, "long-item", text)


def login_admin(browsing, viewport=OFFICE):
    page = browsing.context(viewport).new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill(ADMIN[0])
    page.get_by_label("密码").fill(ADMIN[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("link", name="填报进度", exact=True)).to_be_visible()
    return page


def test_admin_tables_keep_short_columns_on_one_line_and_stack_on_a_phone(browsing):
    admin = login_admin(browsing)
    for path in ("/township/accounts", "/township/units", "/township/rounds"):
        admin.goto(path)
        # The text of a short cell (状态, 角色, 年度 …) takes one line, however tall its row.
        heights = admin.locator("table.stack td.nowrap").evaluate_all(
            "cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);"
            " return r.getBoundingClientRect().height; })")
        assert heights and max(heights) < 1.9 * 16 * 1.6, (path, heights)
        assert_no_horizontal_scroll(admin)
    admin.set_viewport_size(PHONE)
    admin.goto("/township/accounts")
    assert admin.locator("table.stack thead").evaluate("el => getComputedStyle(el).display") == "none"
    assert_no_horizontal_scroll(admin)
    screenshot(admin, "accounts-stacked")
