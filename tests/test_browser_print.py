"""The 预览 page in a real browser, beside tests/test_browser.py and on its
server: the township's full report (the seed) opened by its filler and by
the admin, on an office screen and on a phone. The server sees the
machine's LibreOffice (CI installs it): then the page shows the printed
pages as images, each loaded and as wide as the screen allows; without it,
the document's paragraphs and the sentence saying what is missing.
"""
import pytest
from playwright.sync_api import expect

from .conftest import INSTALLED_SOFFICE
from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    OFFICE,
    PHONE,
    assert_no_horizontal_scroll,
    browser,
    browsing,
    open_report,
    screenshot,
    server,
)
from .test_browser_suite import login_admin

SEED_PAGES = 6


def check_preview(page, width):
    if INSTALLED_SOFFICE:
        # A new version's page says 正在生成 and reloads itself once its pages are made.
        images = page.locator(".pages img.page")
        expect(images).to_have_count(SEED_PAGES, timeout=60_000)
        expect(page.get_by_role("link", name="下载 PDF")).to_be_visible()
        for i in range(SEED_PAGES):
            image = images.nth(i)
            image.scroll_into_view_if_needed()
            expect(image).to_have_js_property("complete", True)
            loaded = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
            assert loaded[0] > 700, f"page {i + 1} did not load: {loaded}"
            assert loaded[1] <= width
    else:
        expect(page.locator("p.notice")).to_contain_text("需要 LibreOffice")
        expect(page.locator("article.document p").first).to_have_text("2022年度青泥镇党委书记")
        expect(page.locator("article.document")).not_to_contain_text("述职人姓名：")
    expect(page.get_by_role("link", name="下载 Word")).to_be_visible()
    assert_no_horizontal_scroll(page)


@pytest.mark.parametrize("viewport", [OFFICE, PHONE], ids=["office", "phone"])
def test_filler_sees_the_printed_pages(browsing, viewport):
    page = browsing.login("qingnizhen", viewport)
    open_report(page)
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="预览").click()
    preview = opened.value
    check_preview(preview, viewport["width"])
    screenshot(preview, "preview-pages")


@pytest.mark.parametrize("viewport", [OFFICE, PHONE], ids=["office", "phone"])
def test_admin_sees_the_printed_pages_from_the_review(browsing, viewport):
    page = login_admin(browsing)
    page.set_viewport_size(viewport)
    page.get_by_role("link", name="填报进度", exact=True).click()
    page.locator("tr", has_text="青泥镇").get_by_role("link", name="查看").click()
    page.get_by_role("link", name="预览全文").click()
    check_preview(page, viewport["width"])
    expect(page.get_by_role("link", name="← 返回审核")).to_have_count(0)  # the township's own report is filled, not reviewed
