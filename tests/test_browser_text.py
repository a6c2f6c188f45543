"""The text tools in a real browser: a proof-reader's finding appears beside
the field after the autosave and its one-click fix corrects the text on
screen; a Word file goes through upload, preview and confirm; the data file
sits under 更多. Same server and helpers as tests/test_browser.py."""
import re

from docx import Document
from playwright.sync_api import expect

from .test_browser import (PHONE, assert_no_horizontal_scroll, browser, browsing, open_report,  # noqa: F401
                           screenshot, server, version)


def test_a_finding_appears_beside_the_field_and_its_fix_corrects_the_text(browsing):
    page = browsing.login("hexicun")
    open_report(page)
    intro = page.locator("#f-intro")
    intro.fill("在县委,县政府的正确领导下，我镇持续深入学习。")
    intro.blur()

    finding = page.locator("#findings-intro li[data-rule='half_width']")
    expect(finding).to_contain_text("半角标点")
    expect(finding).to_contain_text("在县委,县政府")
    saved = version(page)
    finding.get_by_role("button", name="改正").click()

    expect(intro).to_have_value("在县委，县政府的正确领导下，我镇持续深入学习。")
    expect(page.locator("#findings-intro li")).to_have_count(0)
    expect(page.locator("#report-version")).to_have_value(str(saved + 1))
    page.reload()
    expect(page.locator("#f-intro")).to_have_value("在县委，县政府的正确领导下，我镇持续深入学习。")
    page.locator("#f-intro").fill("在县委,县政府的正确领导下。。")
    page.locator("#f-intro").blur()
    expect(page.locator("#findings-intro li")).to_have_count(2)
    screenshot(page, "finding", page.locator("#findings-intro"))


def word_file(tmp_path):
    document = Document()
    for text in ["2022年度石桥村党支部书记", "抓基层党建工作述职报告", "石桥村党支部书记　李明",
                 "2022年，我村在镇党委的领导下开展工作。", "一、履职情况",
                 "一是加强学习。全年召开支部党员大会5次，发展党员2名。", "二是服务群众。为民办实事9件。",
                 "二、存在问题", "一是学习不够深入。", "三、下步打算", "一是继续加强学习。", "李明", "2023年1月8日"]:
        document.add_paragraph(text)
    path = tmp_path / "石桥村述职报告.docx"
    document.save(path)
    return path


def test_a_word_file_is_previewed_then_imported(browsing, tmp_path):
    page = browsing.login("shiqiaocun")
    open_report(page)
    page.get_by_role("link", name="从 Word 导入").click()
    page.get_by_label("Word 文件（.docx）").set_input_files(str(word_file(tmp_path)))
    page.get_by_role("button", name="上传并预览").click()

    expect(page.locator("#import-reporter_name")).to_contain_text("李明")
    expect(page.locator("table.figures")).to_contain_text("支部党员大会")
    assert_no_horizontal_scroll(page)
    screenshot(page, "word-preview")
    page.get_by_role("button", name="确认导入").click()

    expect(page.locator(".flash.ok")).to_contain_text("已从 Word 导入")
    expect(page.get_by_label("支部党员大会", exact=True)).to_have_value("5")
    expect(page.locator("#f-duties-0-text")).to_have_value(re.compile("全年召开支部党员大会⟦支部党员大会⟧次"))


def test_the_data_file_is_under_more_and_pages_fit_a_phone(browsing):
    page = browsing.login("liuwancun", PHONE)
    open_report(page)
    export = page.get_by_role("link", name="导出数据文件")
    expect(export).to_be_hidden()
    page.locator("details.more-menu summary").click()
    expect(export).to_be_visible()
    expect(page.get_by_role("link", name="导入数据文件")).to_be_visible()
    assert_no_horizontal_scroll(page)
    page.get_by_role("link", name="导入数据文件").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("导入数据文件")
    page.go_back()
    page.get_by_role("link", name="从 Word 导入").click()
    assert_no_horizontal_scroll(page)
    screenshot(page, "word-upload")


def test_the_insert_figure_list_shows_every_name_whole(browsing):
    """The picker is as wide as its longest entry (排查十八大以来农村发展党员档案（份）
    on the township's page): a cut name cannot be told from another."""
    page = browsing.login("qingnizhen")
    open_report(page)
    picker = page.locator("#field-intro select[data-insert-into]")

    widths = picker.evaluate("""select => {
        const style = getComputedStyle(select);
        const context = document.createElement('canvas').getContext('2d');
        context.font = `${style.fontSize} ${style.fontFamily}`;
        const longest = Math.max(...[...select.options].map(option => context.measureText(option.text).width));
        return [select.clientWidth, longest];
    }""")

    assert widths[0] >= widths[1], widths


def test_a_finding_marked_checked_shows_so_and_stops_counting(browsing):
    page = browsing.login("liuwancun")
    open_report(page)
    page.locator("#f-members_recruited").fill("3")
    intro = page.locator("#f-intro")
    intro.fill("全年发展党员5名，党员队伍不断壮大。")
    intro.blur()
    finding = page.locator("#findings-intro li[data-rule='figure']")
    expect(finding).to_contain_text("原句：全年发展党员5名，党员队伍不断壮大。")
    expect(finding).to_contain_text("改后：全年发展党员3名，党员队伍不断壮大。")

    finding.get_by_role("button", name="核对无误").click()

    expect(finding).to_contain_text("已核对无误（柳湾村填报员")
    expect(page.locator("#findings-intro .findings-head")).to_have_text("校对提示 1 处，均已核对无误：")
    expect(intro).to_have_value("全年发展党员5名，党员队伍不断壮大。")  # the text stays as typed
    page.reload()
    expect(page.locator("#findings-intro li[data-rule='figure']")).to_contain_text("已核对无误")
    page.locator("#findings-intro li[data-rule='figure']").get_by_role("button", name="撤销核对").click()
    expect(page.locator("#findings-intro .findings-head")).to_have_text("校对提示 1 处（请核对，系统不会自动修改）：")
