"""A rater's phone at 375 px, in Chromium: from the address in a slip's QR
code to 已提交, on the real app process (tests/test_browser.py's server)."""
import io
import os
import subprocess
import sys
import zipfile

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from pbforms.demo import ADMIN

from .test_browser import PHONE, ROOT, Browsing, browser, server  # noqa: F401 (fixtures)


def flask(database_url, server_url, *args):
    env = dict(os.environ, PBFORMS_DATABASE_URL=database_url, PBFORMS_PUBLIC_URL=server_url,
               PBFORMS_SECRET_KEY="browser-test")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def slip_addresses(path):
    with zipfile.ZipFile(path) as package:
        return [r.text for name in sorted(package.namelist()) if name.startswith("word/media/")
                for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(package.read(name))))]


def test_a_phone_goes_from_the_slips_address_to_submitted(browser, server, module_database_url, tmp_path):  # noqa: F811
    rating_id = flask(module_database_url, server, "rating", "open", "--round", 1, "--title", "2022年度述职评议",
                      "--group", "党员代表=5:100", "--office", "青泥镇").strip()
    flask(module_database_url, server, "rating", "slips", "--rating", rating_id, "-o", tmp_path / "slips.docx")
    address = slip_addresses(tmp_path / "slips.docx")[0]
    assert address.startswith(f"{server}/v#")
    browsing = Browsing(browser, server)
    # A ballot sent with a unit ungraded (422) and a spent code (409) are answered on purpose.
    browsing.expect_errors(r"/v/vote: Failed to load resource: .* 422")
    browsing.expect_errors(r"/v: Failed to load resource: .* 409")
    page = browsing.context(PHONE).new_page()

    page.goto(address)

    expect(page.get_by_role("heading", name="2022年度述职评议")).to_be_visible()
    assert "#" not in page.url  # the code left the address bar
    groups = page.get_by_role("radiogroup")
    expect(groups).to_have_count(6)
    page.get_by_role("button", name="下一步：核对").click()
    expect(page.get_by_text("还有 6 处需要填写")).to_be_visible()
    for i in range(6):
        groups.nth(i).get_by_label("较好").check()
    page.get_by_label("意见（可不填）").first.fill("为民办事实")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="下一步：核对").click()
    expect(page.get_by_text("请核对您的选票")).to_be_visible()
    expect(page.get_by_text("为民办事实")).to_be_visible()
    page.get_by_role("button", name="确认提交").click()

    expect(page.get_by_role("heading", name="已提交")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(address)
    expect(page.get_by_text("这个票码已经投过票了")).to_be_visible()
    browsing.check()


def vote(page, address, grade):
    page.goto(address)
    for group in page.get_by_role("radiogroup").all():
        group.get_by_label(grade, exact=True).check()
    page.get_by_role("button", name="下一步：核对").click()
    page.get_by_role("button", name="确认提交").click()
    expect(page.get_by_role("heading", name="已提交")).to_be_visible()


def test_the_meeting_page_follows_the_turnout_and_shows_the_result_once_closed(browser, server,  # noqa: F811
                                                                             module_database_url, tmp_path):
    rating_id = flask(module_database_url, server, "rating", "open", "--round", 1, "--title", "会上评议",
                      "--group", "党员代表=6:100", "--office", "青泥镇").strip()
    flask(module_database_url, server, "rating", "slips", "--rating", rating_id, "-o", tmp_path / "slips.docx")
    addresses = slip_addresses(tmp_path / "slips.docx")
    browsing = Browsing(browser, server)
    office = browsing.context().new_page()
    office.goto("/login")
    office.get_by_label("用户名").fill(ADMIN[0])
    office.get_by_label("密码").fill(ADMIN[1])
    office.get_by_role("button", name="登录").click()
    office.goto(f"/ratings/{rating_id}")
    turnout = office.locator('[data-group="党员代表"]')
    expect(turnout).to_have_text("0 / 6")

    phone = browsing.context(PHONE).new_page()
    for address in addresses[:4]:
        vote(phone, address, "好")

    expect(turnout).to_have_text("4 / 6", timeout=15_000)  # polled, not reloaded
    expect(office.locator("#result")).to_have_count(0)
    office.get_by_role("button", name="结束评议，查看结果").click()
    expect(office.get_by_role("heading", name="测评结果")).to_be_visible()
    expect(office.get_by_text("党员代表：发出 6 张，收回 4 张，无效：收回 4 张，不足法定票数 5 张")).to_be_visible()
    browsing.check()
