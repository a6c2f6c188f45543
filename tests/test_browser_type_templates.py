"""An office's own Word template in a real browser, on a phone: the clerk
downloads the starter template, uploads a file Word spoiled and reads what
is wrong beside the form, then uploads a good one and the type prints with
it. On the server and helpers of tests/test_browser.py."""
import io
from pathlib import Path

from docx import Document
from playwright.sync_api import expect

from pbforms.demo import ADMIN

from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    PHONE,
    assert_no_horizontal_scroll,
    browser,
    browsing,
    screenshot,
    server,
)

VILLAGE_TYPE = "村（社区）党组织书记抓基层党建工作述职报告"


def login_admin_on_a_phone(browsing):
    page = browsing.context(PHONE).new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill("county")  # the built-in types are the county's
    page.get_by_label("密码").fill(ADMIN[1])
    page.get_by_role("button", name="登录").click()
    page.goto("/township/types")
    page.get_by_role("link", name=VILLAGE_TYPE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(VILLAGE_TYPE)
    return page


def test_the_office_uploads_its_own_word_template(browsing, tmp_path):
    page = login_admin_on_a_phone(browsing)
    section = page.locator("#type-template")
    expect(section).to_contain_text("由系统按本类型的项目生成")
    with page.expect_download() as download:
        section.get_by_role("link", name="下载起始模板").click()
    starter = Path(download.value.path()).read_bytes()

    # Word split a placeholder: 述职人 in one run, 姓名 bold in the next.
    doc = Document(io.BytesIO(starter))
    split = doc.add_paragraph()
    split.add_run("{{ 述职人")
    split.add_run("姓名 }}").bold = True
    spoiled = tmp_path / "spoiled.docx"
    doc.save(spoiled)
    browsing.expect_errors(r"/template: .*status of 422")  # the refusal's answer, on purpose
    page.get_by_label("Word 模板（.docx）").set_input_files(str(spoiled))
    page.get_by_role("button", name="上传并检查").click()
    errors = page.locator("#template-errors")
    expect(errors).to_contain_text("占位符「{{ 述职人姓名 }}」被 Word 的格式拆成了几段")
    assert_no_horizontal_scroll(page)
    screenshot(page, "type-template-refused", errors)

    doc = Document(io.BytesIO(starter))
    doc.paragraphs[0].insert_paragraph_before("青泥镇党建办制")
    good = tmp_path / "good.docx"
    doc.save(good)
    page.locator("#type-template").get_by_label("Word 模板（.docx）").set_input_files(str(good))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".flash.ok")).to_contain_text("Word 模板检查通过")
    expect(page.locator("#type-template")).to_contain_text("本单位上传的 Word 模板")
    assert_no_horizontal_scroll(page)
    screenshot(page, "type-template-accepted", page.locator("#type-template"))
