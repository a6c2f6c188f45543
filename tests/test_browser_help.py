"""The help pages' pictures (issue 23), taken in a real browser from the
demo's pages in the states the steps describe (tests/help_pages.py), at
office-screen size and, where a step shows one, phone size.

Running this test writes them into static/help/, so a page that changes
gets a new picture in the next commit. Times of day on the pages are shown
as one fixed time, so a picture changes only when its page does.
"""
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from pbforms import demo
from pbforms.db import close_pooled_connections, db, open_database
from pbforms.rating.logic import shown_code

from . import help_pages
from .test_browser import OFFICE, PHONE, assert_no_horizontal_scroll, browser, browsing, server  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "static" / "help"
# A page is flat colours and text: 64 of them keep it sharp at a third of the size.
COLOURS = 64

# Every date and time of day in a page's text becomes the same one.
FIXED_TIMES = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    node.nodeValue = node.nodeValue
      .replace(/\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}(:\\d{2})?/g, (_, s) => "2023-01-05 09:30" + (s ? ":00" : ""))
      .replace(/\\b\\d{2}:\\d{2}:\\d{2}\\b/g, "09:30:00");
  }
}"""


@pytest.fixture(scope="module")
def pages(server, module_database_url):
    """The states the help pages show, written into the server's database."""
    open_database(module_database_url)
    try:
        with db.connection_context():
            yield help_pages.build()
    finally:
        close_pooled_connections()
        db.initialize(None)


class Logins:
    """One browser context per (user, screen size), logged in once."""

    def __init__(self, browsing):
        self.browsing = browsing
        self.contexts = {}

    def page(self, username, viewport):
        key = (username, viewport["width"])
        if key not in self.contexts:
            page = self.browsing.context(viewport).new_page()
            if username:
                page.goto("/login")
                page.get_by_label("用户名").fill(username)
                offices = {login for login, _, _ in demo.OFFICES}
                page.get_by_label("密码").fill(demo.ADMIN[1] if username in offices else demo.FILLER_PASSWORD)
                page.get_by_role("button", name="登录").click()
                expect(page.get_by_role("link", name="帮助")).to_be_visible()
            self.contexts[key] = page
        return self.contexts[key]


# A ballot's code (random each run) becomes the same one.
FIXED_CODE = """shown => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    node.nodeValue = node.nodeValue.replaceAll(shown, "ABCDE-FGH23");
  }
}"""


def take(page, url, part, path):
    code = url.partition("#")[2]
    if code:  # from /v, going to /v#CODE would only move within the page
        page.goto("about:blank")
    page.goto(url)
    if code:  # static/ballot.js posts the code: wait for the ballot it opens
        expect(page.locator("#code-form")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    # The preview's page images come from LibreOffice, where installed.
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    if part:
        page.locator(part).first.scroll_into_view_if_needed()
    page.evaluate(FIXED_TIMES)
    if code:
        page.evaluate(FIXED_CODE, shown_code(code))
    shot = Image.open(BytesIO(page.screenshot(animations="disabled", caret="hide"))).convert("RGB")
    shot.quantize(colors=COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, "PNG", optimize=True)


# The pictures show the demo as `python app.py --demo` runs it, on SQLite
# (on PostgreSQL the backup page has nothing to download).
@pytest.mark.sqlite_only
@pytest.mark.parametrize("role", help_pages.HELP)
def test_help_pictures_are_taken_from_the_pages_they_show(browsing, pages, role):
    logins = Logins(browsing)
    username, help_url = help_pages.HELP[role]
    # Read, not shown: its pictures may not be there yet.
    help_page = logins.page(username, OFFICE)
    steps = help_pages.HelpPage(help_page.request.get(help_url).text()).numbered_steps
    assert steps

    for step in steps:
        username, url = pages[step["page"]]
        for src, part in step["pictures"]:
            name = Path(src).name
            viewport = PHONE if name.endswith("-phone.png") else OFFICE
            take(logins.page(username, viewport), url, part, PICTURES / name)
            # The picture the help page shows is the one just taken.
            assert help_page.request.get(src).body() == (PICTURES / name).read_bytes()


@pytest.mark.parametrize("role", help_pages.HELP)
def test_help_reads_on_a_phone(browsing, role):
    username, help_url = help_pages.HELP[role]
    page = Logins(browsing).page(username, PHONE)
    page.goto(help_url)
    assert_no_horizontal_scroll(page)
    for figure in page.locator("figure.help-shot").all():
        # A step with a phone's picture shows that one alone on a phone.
        expect(figure.locator("img:visible")).to_have_count(1)
