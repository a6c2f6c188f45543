"""The pages the help pages describe, in the state each describes, on the
demo township: a finished village report, one handed in, one handed in and
under review, one returned with comments, and last year's reports.

A help page marks each step with `data-page` (a key of PAGES) and each
button it names with <kbd class="button-name">. tests/test_help.py loads
every step's page as its user and looks for those buttons;
tests/test_browser_help.py takes the steps' pictures there.
"""
import re
from html.parser import HTMLParser
from typing import NamedTuple

from pbforms import demo
from pbforms.models import Report, Round, User

LAST_YEAR = 2021
WRITTEN_ON = "2023-01-06"


def form_token(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


class Page(NamedTuple):
    username: str | None  # None: nobody logged in
    url: str


def filled(report):
    """`report`'s data written from its type's 参考范文, every required
    figure and line filled in: a report ready to hand in."""
    report_type = report.report_type
    values = {}
    for number, f in enumerate(report_type.missing(report_type.model_data(report.meta))):
        values[f.key] = {"count": 10 + number, "amount": "36.5", "date": WRITTEN_ON}.get(f.kind, "李明")
    data, errors = report_type.parse_json(values, report_type.model_data(report.meta))
    assert errors == {} and report_type.missing(data) == [], errors
    return data


def report_of(username, year=None):
    user = User.by_username(username)
    query = Report.select().join(Round).where(Report.unit == user.unit)
    return query.where(Round.year == year).get() if year else query.order_by(Round.year.desc()).get()


def write(report, user):
    report.save_data(filled(report), user, report.version)


def build():
    """Put the demo township into the states the help pages show; returns
    {page key: Page}. Runs once, on a database the demo just created."""
    admin = User.by_username(demo.ADMIN[0])
    this_year = Round.get(Round.title == demo.ROUND_TITLE)
    # Last year: every unit handed in its report and the office approved it.
    last_year = Round.start(f"{LAST_YEAR}年度抓基层党建工作述职", LAST_YEAR, this_year.kind_types)
    for report in Report.select().where(Report.round == last_year):
        write(report, admin)
        report.change_status("submitted", admin, "submit")
        report.approve(admin)
    last_year.set_open(False, admin)

    done = report_of("qingnicun")
    write(done, User.by_username("qingnicun"))
    handed_in = report_of("shiqiaocun")
    write(handed_in, User.by_username("shiqiaocun"))
    handed_in.change_status("submitted", User.by_username("shiqiaocun"), "submit")
    under_review = report_of("hexicun")
    write(under_review, User.by_username("hexicun"))
    under_review.change_status("submitted", User.by_username("hexicun"), "submit")
    returned = report_of("dongpocun")
    write(returned, User.by_username("dongpocun"))
    returned.change_status("submitted", User.by_username("dongpocun"), "submit")
    first_field = returned.report_type.fields[0]
    returned.send_back(admin, "请补充今年为民办实事的具体事例。", {first_field.key: "请写全称。"})
    township = report_of("qingnizhen")
    start = report_of("liuwancun")

    return {
        "login": Page(None, "/login"),
        "password": Page("qingnicun", "/password"),
        "home": Page("qingnicun", "/"),
        "report": Page("qingnicun", f"/reports/{done.id}"),
        "preview": Page("qingnicun", f"/reports/{done.id}/preview"),
        "word-import": Page("qingnicun", f"/reports/{done.id}/word"),
        "report-last-year": Page("liuwancun", f"/reports/{start.id}"),
        "report-submitted": Page("shiqiaocun", f"/reports/{handed_in.id}"),
        "report-returned": Page("dongpocun", f"/reports/{returned.id}"),
        "board": Page("admin", f"/township/rounds/{this_year.id}"),
        "rounds": Page("admin", "/township/rounds"),
        "review": Page("admin", f"/township/reports/{under_review.id}"),
        "township-report": Page("admin", f"/reports/{township.id}"),
        "units": Page("admin", "/township/units"),
        "accounts": Page("admin", "/township/accounts"),
        "types": Page("admin", "/township/types"),
        "backup": Page("admin", "/admin/backup"),
    }


class HelpPage(HTMLParser):
    """A help page read as its tests need it: the steps (data-page), the
    buttons each names, and the pictures each shows."""

    def __init__(self, html):
        super().__init__()
        self.steps = []  # [{"page", "buttons", "pictures": [(src, part)]}]
        self.unplaced = []  # button names outside any step
        self._open = []  # (tag, step or None) of the open elements
        self._kbd = None
        self.feed(html)

    @property
    def numbered_steps(self):
        """The steps of the year (li.help-step), each with its picture; the
        rest are sentences naming another page's button."""
        return [step for step in self.steps if step["numbered"]]

    def step(self):
        return next((s for _, s in reversed(self._open) if s is not None), None)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        step = None
        if "data-page" in attrs:
            step = {"page": attrs["data-page"], "buttons": [], "pictures": [],
                    "numbered": "help-step" in attrs.get("class", "").split()}
            self.steps.append(step)
        if tag not in ("img", "br", "source"):
            self._open.append((tag, step))
        if tag == "kbd" and "button-name" in attrs.get("class", "").split():
            self._kbd = ""
        if tag == "img" and self.step() is not None:
            self.step()["pictures"].append((attrs["src"], self._part))
        if tag == "figure":
            self._part = attrs.get("data-part")

    _part = None

    def handle_endtag(self, tag):
        if tag == "kbd" and self._kbd is not None:
            (self.step()["buttons"] if self.step() is not None else self.unplaced).append(self._kbd.strip())
            self._kbd = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._kbd is not None:
            self._kbd += data


class Buttons(HTMLParser):
    """The names of what a user can press on a page: buttons, links and
    menus (<summary>), as their text reads."""

    PRESSABLE = {"button", "a", "summary"}

    def __init__(self, html):
        super().__init__()
        self.names = set()
        self._texts = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.PRESSABLE:
            self._texts.append([tag, ""])
        if tag == "input" and attrs.get("type") == "submit":
            self.names.add((attrs.get("value") or "").strip())

    def handle_endtag(self, tag):
        if tag in self.PRESSABLE and self._texts and self._texts[-1][0] == tag:
            self.names.add(" ".join(self._texts.pop()[1].split()))

    def handle_data(self, data):
        for entry in self._texts:
            entry[1] += data

