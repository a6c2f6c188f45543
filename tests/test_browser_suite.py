"""The rest of the browser suite (issue 5), beside tests/test_browser.py and
on its server and helpers: a village's report from a phone, the office's
review (return with a comment, approve, download the zip), and every page
of the app loading under its Content-Security-Policy with no console error
and no request to any other host.
"""
import re
import zipfile

from playwright.sync_api import expect

from pbforms.demo import ADMIN

from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    PHONE,
    assert_no_horizontal_scroll,
    browser,
    browsing,
    open_report,
    server,
)


def login_admin(browsing, username=ADMIN[0]):
    """An office's page logged in: 青泥镇's by default, or `username`'s (the
    county's, `county`, owns the demo round and the built-in types)."""
    page = browsing.context().new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(ADMIN[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("link", name="填报进度", exact=True)).to_be_visible()
    return page


def fill_required_and_submit(page):
    """Fill every required field still empty (the village type's text starts
    empty), then 提交审核."""
    page.get_by_label("述职人姓名").fill("张测试")
    for area in page.locator("#report-form textarea").all():
        if not area.input_value():
            area.fill("按照镇党委的部署，扎实开展各项工作（浏览器测试）。")
    for count in page.locator(".count input").all():
        if not count.input_value():
            count.fill("3")
    page.locator("input[type=date]").fill("2023-01-06")
    page.keyboard.press("Tab")
    expect(page.locator("#missing")).to_contain_text("必填项已全部填写")
    expect(page.locator("#save-status")).to_contain_text("已保存")
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".banner")).to_contain_text("报告已提交")


def test_phone_logs_in_fills_and_submits_without_sideways_scrolling(browsing):
    page = browsing.login("dongpocun", PHONE)
    assert_no_horizontal_scroll(page)
    open_report(page)
    assert_no_horizontal_scroll(page)

    fill_required_and_submit(page)

    assert_no_horizontal_scroll(page)
    expect(page.locator("#report-form")).to_have_count(0)


def test_admin_returns_with_a_comment_approves_and_downloads_the_zip(browsing):
    filler = browsing.login("hexicun")
    open_report(filler)
    report_url = filler.url
    report_id = re.search(r"/reports/(\d+)", report_url).group(1)
    fill_required_and_submit(filler)

    admin = login_admin(browsing)
    admin.goto(f"/township/reports/{report_id}")
    admin.get_by_role("link", name="退回修改…").click()
    admin.get_by_label("总体意见").fill("请补充发展党员的具体情况。")
    admin.get_by_role("button", name="退回修改", exact=True).click()
    expect(admin.locator(".flash.ok")).to_contain_text("已退回河西村的报告")

    filler.goto(report_url)
    expect(filler.locator(".comment-text")).to_have_text("请补充发展党员的具体情况。")
    filler.get_by_role("button", name="提交审核").click()
    expect(filler.locator(".banner")).to_contain_text("报告已提交")

    admin.goto(f"/township/reports/{report_id}")
    admin.get_by_role("button", name="审核通过").first.click()
    expect(admin.locator(".flash.ok")).to_contain_text("河西村的报告已审核通过")

    admin.get_by_role("link", name="填报进度", exact=True).click()
    expect(admin.get_by_role("button", name="下载 zip")).to_be_visible()
    admin.wait_for_load_state("load")  # the button is htmx's: let its script start first
    with admin.expect_download(timeout=60_000) as download:
        admin.get_by_role("button", name="下载 zip").click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert any("河西村" in name and name.endswith(".docx") for name in names), names


def test_every_page_loads_with_no_console_error_and_no_other_host(browsing, server):
    """Console errors include what the Content-Security-Policy refuses, so
    an inline script or style anywhere fails here."""
    browsing.expect_errors(r"/no-such-page: .* 404")
    filler = browsing.login("qingnicun")
    open_report(filler)
    filler_report = filler.url
    for path in ["", "/preview", "/history", "/import", "/last-year"]:
        response = filler.goto(filler_report + path)
        assert response.status == 200, (path, response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"]
    for path in ["/", "/password", "/no-such-page"]:
        filler.goto(path)

    admin = login_admin(browsing)
    links = set()
    for path in ["/township/", "/township/rounds", "/township/types", "/township/units", "/township/accounts",
                 "/admin/audit", "/password"]:
        response = admin.goto(path)
        assert response.status == 200, (path, response.status)
        links |= set(admin.eval_on_selector_all(
            "a[href^='/township/'], a[href^='/reports/'], a[href^='/admin/']",
            "links => links.filter(a => !a.hasAttribute('download')).map(a => a.getAttribute('href').split('#')[0])"))
    # The board, the reviews, the township's own report and the rest that the pages link to.
    assert {"/township/rounds/1", f"/township/reports/{filler_report.rsplit('/', 1)[1]}"} <= links
    for href in sorted(links):
        if re.search(r"(/(docx|json|file|summary\.\w+|download)|\.(docx|xlsx|pdf|zip))$", href):  # downloads
            continue
        response = admin.goto(href)
        assert response.status == 200, (href, response.status)
        # htmx configured from base.html: no indicator <style> of its own, no eval.
        assert admin.evaluate("[document.querySelectorAll('style').length, htmx.config.allowEval]") == [0, False]
    county = login_admin(browsing, "county")  # backups are the root office's
    for path in ["/township/", "/admin/backup"]:
        response = county.goto(path)
        assert response.status == 200, (path, response.status)


def test_the_round_form_chooses_a_type_per_kind_on_a_phone(browsing):
    """Last in the module: it opens a second round."""
    admin = login_admin(browsing)
    admin.set_viewport_size(PHONE)
    admin.goto("/township/rounds")
    assert_no_horizontal_scroll(admin)
    expect(admin.get_by_label("社区", exact=True)).to_have_value(admin.get_by_label("村", exact=True).input_value())

    admin.get_by_label("名称").fill("2023年度抓基层党建工作述职（浏览器测试）")
    admin.get_by_label("年度").fill("2023")
    admin.get_by_label("社区", exact=True).select_option(label="镇党委书记抓基层党建工作述职报告")
    admin.get_by_role("button", name="开启填报").click()

    expect(admin.locator(".flash.ok")).to_contain_text("已开启「2023年度抓基层党建工作述职（浏览器测试）」")
    expect(admin.locator(".report-head .meta")).to_contain_text(
        "乡镇、社区：镇党委书记抓基层党建工作述职报告（第 1 版） · 村：村（社区）党组织书记抓基层党建工作述职报告（第 1 版）")
    assert_no_horizontal_scroll(admin)


def test_re_review_of_a_returned_report_shows_the_change_and_the_earlier_comment(browsing):
    filler = browsing.login("xinhuashequ")
    filler.get_by_role("link", name="打开").first.click()  # an earlier test may have opened a second round
    expect(filler.locator("#report-form")).to_be_visible()
    filler.wait_for_load_state("load")
    report_url = filler.url
    report_id = re.search(r"/reports/(\d+)", report_url).group(1)
    fill_required_and_submit(filler)

    admin = login_admin(browsing)
    admin.goto(f"/township/reports/{report_id}")
    admin.get_by_role("button", name="开始审核").click()
    expect(admin.locator(".flash.ok")).to_contain_text("不能再撤回")
    admin.locator("#review-intro summary").click()
    admin.locator("#review-intro textarea").fill("请写明今年的成效。")
    admin.get_by_label("总体意见").fill("请按意见修改。")
    admin.get_by_role("button", name="退回修改", exact=True).click()
    expect(admin.locator(".flash.ok")).to_contain_text("已退回新华社区的报告")

    filler.goto(report_url)
    filler.wait_for_load_state("load")
    intro = filler.locator("#field-intro textarea").first
    intro.fill("按照镇党委的部署，扎实开展各项工作，成效明显（浏览器测试）。")
    filler.keyboard.press("Tab")
    expect(filler.locator("#save-status")).to_contain_text("已保存")
    filler.get_by_role("button", name="提交审核").click()
    expect(filler.locator(".banner")).to_contain_text("报告已提交")

    admin.goto(f"/township/reports/{report_id}")
    expect(admin.locator("#since-return")).to_contain_text("修改了 1 项（开头）")
    expect(admin.locator("#since-return")).to_contain_text("上次退回的总体意见：请按意见修改。")
    expect(admin.locator("#review-intro .earlier")).to_have_text("上次退回意见：请写明今年的成效。 已修改")
    expect(admin.locator("#review-intro .since-return ins")).to_have_text("，成效明显")
