"""The unit's 整改台账 page in a real browser: an entry's inputs save as the
report's do (on change, after 500 ms), and 标记完成 without 完成情况 says
why beside it."""
import pytest
from playwright.sync_api import expect

from pbforms.db import close_pooled_connections, db, open_database
from pbforms.ledger.models import LedgerEntry
from pbforms.models import Report, Unit

from .test_browser import browser, browsing, server  # noqa: F401 (fixtures)


@pytest.fixture
def entry(server, module_database_url):
    """An entry of 青泥村's in the server's database; read back through `stored`."""
    open_database(module_database_url)
    try:
        with db.connection_context():
            report = Report.select().join(Unit).where(Unit.name == "青泥村").get()
            made = LedgerEntry.create(unit=report.unit_id, round=report.round_id, problem="浏览器测试的问题")
        yield made
        with db.connection_context():
            LedgerEntry.delete().where(LedgerEntry.id == made.id).execute()
    finally:
        close_pooled_connections()
        db.initialize(None)


def stored(entry):
    with db.connection_context():
        return LedgerEntry.get_by_id(entry.id)


def test_an_entry_saves_as_typed_and_marking_done_asks_for_what_was_done(browsing, entry):
    page = browsing.login("qingnicun")
    page.get_by_role("link", name="整改台账").click()
    page.wait_for_load_state("load")
    section = page.locator(f"#entry-{entry.id}")
    expect(section.get_by_role("heading")).to_have_text("浏览器测试的问题")

    section.get_by_label("整改措施").fill("每月集中学习一次")
    section.get_by_label("责任人").fill("李四")
    section.get_by_label("责任人").press("Tab")

    expect(section.locator(f"#entry-status-{entry.id}")).to_contain_text("已保存")
    assert (stored(entry).measures, stored(entry).owner) == ("每月集中学习一次", "李四")

    browsing.expect_errors(r"/done: .*422")  # the refusal the page shows
    section.get_by_role("button", name="标记完成").click()
    expect(page.locator(f"#error-result-{entry.id}")).to_contain_text("标记完成前请填写完成情况")
    page.locator(f"#result-{entry.id}").fill("已建立每月学习制度。")
    page.locator(f"#entry-{entry.id}").get_by_role("button", name="标记完成").click()
    expect(page.locator(f"#entry-{entry.id}")).to_contain_text("已完成")
    assert stored(entry).status == "done"
