"""报告类型 in a real browser: the office edits the village type, previews
the fill page, saves a version, opens a round with it, and a village clerk
sees the changed fill page; the clerk inserts a 参考范文 and autosave keeps it.
On the server and helpers of tests/test_browser.py."""
import re

from playwright.sync_api import expect

from .test_browser import (  # noqa: F401 (server, browser, browsing are fixtures)
    PHONE,
    assert_no_horizontal_scroll,
    browser,
    browsing,
    screenshot,
    server,
)
from .test_browser_suite import ADMIN, login_admin

VILLAGE_TYPE = "村（社区）党组织书记抓基层党建工作述职报告"


def test_the_office_edits_a_type_and_the_fill_page_changes(browsing):
    admin = login_admin(browsing, "county")  # the built-in types are the county's
    admin.get_by_role("link", name="报告类型", exact=True).click()
    admin.get_by_role("link", name=VILLAGE_TYPE).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(VILLAGE_TYPE)
    admin.wait_for_load_state("load")
    screenshot(admin, "type-page")

    label = admin.locator("#label-members_total")
    label.fill("党员人数")
    admin.locator("#hint-members_total").fill("截至年底的党员人数")
    # 下移 answers with the editor, the typing kept and the field one place down.
    admin.get_by_role("button", name="下移「党员总数」").click()
    expect(admin.get_by_role("button", name="上移「党员人数」")).to_be_enabled()
    names = admin.locator("#type-editor input[name^='label-']")
    values = [n.input_value() for n in names.all()]
    assert values.index("党员人数") == values.index("发展党员") + 1

    admin.get_by_role("button", name="预览填报页").click()
    preview = admin.locator("#type-preview")
    expect(preview.get_by_role("heading", name="填报页预览")).to_be_visible()
    expect(preview.locator("label[for=f-members_total]")).to_have_text("党员人数")
    expect(preview.locator("#f-members_total")).to_be_disabled()
    screenshot(admin, "type-preview-fill", preview)
    admin.get_by_role("button", name="预览 Word 文档").click()
    expect(preview.locator("article.document")).to_contain_text("示例村")

    admin.get_by_role("button", name="保存为新版本").click()
    expect(admin.locator(".flash.ok")).to_contain_text("第 2 版")

    # A round opened now gives the villages the new version.
    admin.get_by_role("link", name="填报轮次", exact=True).click()
    admin.get_by_label("名称").fill("2023年度村党支部书记述职（浏览器测试）")
    admin.get_by_label("年度").fill("2023")
    admin.get_by_label(re.compile("直属单位和其下所有村、社区")).check()  # the county's default: its townships alone
    admin.get_by_role("button", name="开启填报").click()
    expect(admin.locator(".flash.ok")).to_contain_text("可以开始填报")

    clerk = browsing.login("qingnicun")
    clerk.get_by_role("row", name=re.compile("2023年度村党支部书记述职（浏览器测试）")).get_by_role(
        "link", name="打开").click()
    expect(clerk.locator("#report-form")).to_be_visible()
    expect(clerk.get_by_label("党员人数", exact=True)).to_be_visible()
    expect(clerk.get_by_label("党员总数", exact=True)).to_have_count(0)
    # The round opened before keeps the version it was opened with.
    clerk.goto("/")
    clerk.get_by_role("row", name=re.compile("2022年度")).get_by_role("link", name="打开").click()
    expect(clerk.get_by_label("党员总数", exact=True)).to_be_visible()


def test_the_clerk_inserts_the_model_text_and_it_is_saved(browsing):
    clerk = browsing.login("liuwancun", PHONE)
    clerk.get_by_role("row", name=re.compile("2022年度")).get_by_role("link", name="打开").click()
    expect(clerk.locator("#report-form")).to_be_visible()
    clerk.wait_for_load_state("load")
    intro = clerk.locator("#f-intro")
    expect(intro).to_have_value("")
    model = clerk.locator("#model-intro")
    insert = model.get_by_role("button", name="插入参考范文")
    expect(insert).to_be_hidden()  # folded until asked for
    model.locator("summary").click()
    expect(model).to_contain_text("团结带领柳湾村“两委”班子")
    screenshot(clerk, "model-text", model)
    assert_no_horizontal_scroll(clerk)
    insert.click()
    expect(intro).to_have_value(re.compile(r"^2022年，在镇党委的正确领导下.*柳湾村"))
    expect(clerk.locator("#save-status")).to_contain_text("已保存")
    clerk.reload()
    expect(intro).to_have_value(re.compile("团结带领柳湾村“两委”班子"))


def test_on_a_phone_each_types_actions_are_in_view(browsing):
    admin = browsing.context(PHONE).new_page()
    admin.goto("/login")
    admin.get_by_label("用户名").fill(ADMIN[0])
    admin.get_by_label("密码").fill(ADMIN[1])
    admin.get_by_role("button", name="登录").click()
    admin.goto("/township/types")
    table = admin.locator("table.types")
    # Nothing to find by scrolling the table sideways: each row's actions are within the screen's width.
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
    for row in table.locator("tbody tr").all():
        for name in ("查看和修改", "下载字段表"):
            box = row.get_by_role("link", name=name).bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], (name, box)
    screenshot(admin, "types")
    assert_no_horizontal_scroll(admin)
    admin.get_by_role("row", name=re.compile(VILLAGE_TYPE)).get_by_role("link", name="查看和修改").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(VILLAGE_TYPE)


def test_the_office_adds_a_figure_removes_one_and_changes_a_kind_in_the_browser(browsing):
    admin = login_admin(browsing, "county")
    admin.goto("/township/types")
    admin.get_by_role("link", name=VILLAGE_TYPE).click()
    admin.wait_for_load_state("load")
    admin.get_by_role("button", name="删除「流动党员」").click()
    expect(admin.locator("#label-mobile_members")).to_have_count(0)
    admin.get_by_role("button", name="在「一、履职情况」添加项目").click()
    new = admin.locator("#type-editor .type-field").filter(has=admin.locator("input[name^=label-][value='']"))
    expect(new).to_have_count(1)
    key = new.locator("input[name=order]").get_attribute("value")
    admin.locator(f"#label-{key}").fill("党员志愿服务")
    admin.locator(f"#kind-{key}").select_option("数字")  # the editor comes back with a figure's columns
    expect(admin.locator(f"#unit-{key}")).to_be_visible()
    expect(admin.locator(f"#label-{key}")).to_have_value("党员志愿服务")
    admin.locator(f"#unit-{key}").fill("次")
    admin.locator("#kind-reporter_name").select_option("多段文字")
    expect(admin.get_by_role("button", name="删除「流动党员」")).to_have_count(0)

    admin.get_by_role("button", name="保存为新版本").click()

    expect(admin.locator(".flash.ok")).to_contain_text(re.compile(r"已保存为「.+」第 \d+ 版"))
    expect(admin.locator("#label-mobile_members")).to_have_count(0)
    expect(admin.locator(f"#unit-{key}")).to_have_value("次")
    expect(admin.locator(f"#kind-{key}")).to_have_value("数字")
    expect(admin.locator("#kind-reporter_name")).to_have_value("多段文字")
