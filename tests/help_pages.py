"""The pages the help pages describe, in the state each describes, on the
demo township: a finished village report, one handed in, one handed in and
under review, one returned with comments, and last year's reports; a
述职评议 held and published, its 点评 and an 意见 in the 整改台账, and one at
the meeting with a slip not yet used.

A help page marks each step with `data-page` (a key of what `build` returns) and each
button it names with <kbd class="button-name">. tests/test_help.py loads
every step's page as its user and looks for those buttons;
tests/test_browser_help.py takes the steps' pictures there.
"""
import re
from typing import NamedTuple

import lxml.html

from pbforms import demo
from pbforms.auth import office_of, rated_by_default
from pbforms.ledger.models import add_entry
from pbforms.models import Report, Round, User
from pbforms.rating import logic
from pbforms.rating.models import Rating, cast_ballot, close_rating

LAST_YEAR = 2021
WRITTEN_ON = "2023-01-06"


def form_token(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


class Page(NamedTuple):
    username: str | None  # None: nobody logged in
    url: str  # /v#CODE: the ballot of that code, as the slip's QR code opens it


# Who reads each help page, and where.
# The office's page is read by the root office, the one whose page has the backup step.
HELP = {"filler": ("qingnicun", "/help"), "office": ("county", "/help"), "rater": (None, "/v/help")}


def open_page(client, url):
    """The page at `url` as a browser shows it: a ballot's /v#CODE posts its code, as static/ballot.js does."""
    path, _, code = url.partition("#")
    if not code:
        return client.get(path)
    return client.post(path, data={"csrf_token": form_token(client.get(path).text), "code": code})


def ratings(this_year, admin):
    """(the rating held, a code of the one at the meeting): the former voted on,
    closed, its 点评 and an 意见 listed in 青泥村's 整改台账, published."""
    groups = [("党委班子成员", 5, 40), ("党员代表", 8, 40), ("群众代表", 6, 20)]
    office = office_of(admin)
    units = rated_by_default(this_year, office)
    held = Rating.start(this_year, office, "2022年度村党组织书记抓基层党建工作述职评议",
                        groups, units, logic.DEFAULT_RULES)
    rated = held.rated_units()
    for number, (_, code) in enumerate(held.issue_codes()):
        opinion = {rated[0].id: "希望多为群众办实事，村务公开要及时。"} if number == 0 else {}
        assert cast_ballot(code, {r.id: (number + i) % 3 // 2 for i, r in enumerate(rated)}, opinion) == "ok"
    close_rating(held)
    rated[0].remark = "抓党建责任落实到位，组织生活还不够规范。"
    rated[0].save()
    add_entry(rated[0].unit_id, this_year.id, "组织生活还不够规范。", admin, f"{held.title}点评")
    add_entry(rated[0].unit_id, this_year.id, "村务公开要及时。", admin, f"{held.title}与会人员意见")
    held.set_status("published")
    meeting = Rating.start(this_year, office, "2022年度社区党组织书记抓基层党建工作述职评议",
                           groups, units, logic.DEFAULT_RULES)
    return held, meeting.issue_codes()[0][1]


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
    held, code = ratings(this_year, admin)

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
        # A round is closed by the office that opened it: the demo's by the county.
        "board-opener": Page("county", f"/township/rounds/{this_year.id}"),
        "rounds": Page("admin", "/township/rounds"),
        "review": Page("admin", f"/township/reports/{under_review.id}"),
        "township-report": Page("admin", f"/reports/{township.id}"),
        "units": Page("admin", "/township/units"),
        "accounts": Page("admin", "/township/accounts"),
        "types": Page("admin", "/township/types"),
        "backup": Page("county", "/admin/backup"),  # backups: the root office's
        "rating": Page("admin", f"/ratings/{held.id}"),
        "ledger-office": Page("admin", "/ledger/"),
        "ledger": Page("qingnicun", "/ledger/"),
        "rating-mine": Page("qingnicun", "/ratings/mine"),
        "ballot-enter": Page(None, "/v"),
        "ballot": Page(None, f"/v#{code}"),
    }


class HelpPage:
    """A help page read as its tests need it: the parts naming a page
    (`data-page`), the buttons each names and the pictures each shows, as
    (src, the part of the page shown or None)."""

    def __init__(self, html):
        tree = lxml.html.fromstring(html)
        self.steps = [{"page": element.get("data-page"), "numbered": "help-step" in element.classes,
                       "buttons": [" ".join(kbd.text_content().split()) for kbd in self.owned(element, "kbd")
                                   if "button-name" in kbd.classes],
                       "pictures": [(img.get("src"), img.xpath("ancestor::figure[1]/@data-part")[0]
                                     if img.xpath("ancestor::figure[1]/@data-part") else None)
                                    for img in self.owned(element, "img")]}
                      for element in tree.xpath("//*[@data-page]")]
        # Button names no part says the page of.
        self.unplaced = [kbd.text_content() for kbd in tree.xpath("//kbd[not(ancestor::*[@data-page])]")
                         if "button-name" in kbd.classes]

    @staticmethod
    def owned(element, tag):
        """`tag` elements inside `element` and in no part nested in it."""
        return [found for found in element.iter(tag) if found.xpath("ancestor::*[@data-page][1]")[0] is element]

    @property
    def numbered_steps(self):
        """The steps of the year (li.help-step), each with its picture; the
        rest are sentences naming another page's button."""
        return [step for step in self.steps if step["numbered"]]


def button_names(html):
    """What a user can press on a page, by the text it shows: buttons, links,
    menus (<summary>) and submit inputs."""
    tree = lxml.html.fromstring(html)
    return ({" ".join(element.text_content().split()) for element in tree.xpath("//button | //a | //summary")}
            | {element.get("value", "").strip() for element in tree.xpath("//input[@type='submit']")})
