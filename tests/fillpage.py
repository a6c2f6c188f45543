"""Using the fill page as a user would, for the tests: read the form the page
shows, change some fields, send it back — by htmx (autosave, item buttons)
or as a plain form post (a browser without JavaScript).

Reading the fields from the rendered page, rather than building the post by
hand, means a field the page forgets to render, or renders under the wrong
name, fails the tests.
"""
import io
import re

import lxml.html
from docx import Document

from pbforms.db import db
from pbforms.models import Report, Revision, Unit


def parse(html):
    return lxml.html.fromstring(html)


def one(element, xpath):
    """The single element `xpath` finds; fails the test when there are none or several."""
    found = element.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} found"
    return found[0]


def report_of(unit_name):
    """The unit's report in the demo round, fresh from the database."""
    with db.connection_context():
        return Report.with_round_and_unit().where(Unit.name == unit_name).order_by(Report.id).get()


def revision_count(report_id):
    with db.connection_context():
        return Revision.select().where(Revision.report == report_id).count()


def docx_paragraphs(docx_bytes):
    """The non-empty paragraphs of a .docx, as python-docx reads them."""
    return [p.text for p in Document(io.BytesIO(docx_bytes)).paragraphs if p.text.strip()]


class FillPage:
    """One report's fill page, opened by a logged-in test client."""

    def __init__(self, client, report_id):
        self.client = client
        self.report_id = report_id
        self.url = f"/reports/{report_id}"

    def html(self):
        response = self.client.get(self.url)
        assert response.status_code == 200, response.text
        return response.text

    def form(self):
        """What the browser would send: every named control of the form, no buttons."""
        return dict(parse(self.html()).get_element_by_id("report-form").form_values())

    def csrf_header(self, html):
        return {"X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)}

    @staticmethod
    def sent_by(data):
        """The headers by which htmx names what sent a request: the button
        whose value the form carries (an item button, 用我的 …), else the
        form itself (an autosave)."""
        button = next((name for name in ("op", "resolve") if name in data), None)
        return {"HX-Trigger-Name": button} if button else {"HX-Trigger": "report-form"}

    def post(self, changes=None, htmx=True, op=None, action="", drop=(), focused=None):
        """Send the page's form with `changes` applied, as htmx or as a plain form.

        htmx sends the token in the X-CSRFToken header (from `hx-headers`);
        the plain form sends its hidden csrf_token field. `focused`: the
        {name: value} of a button the focus rests on, which htmx adds to
        the form's own request (an autosave), not a press of that button.
        """
        html = self.html()
        data = dict(parse(html).get_element_by_id("report-form").form_values())
        data.update(changes or {})
        if op:
            data["op"] = op
        for key in drop:
            data.pop(key, None)
        headers = {}
        if htmx:
            data.pop("csrf_token")
            headers = {"HX-Request": "true", **self.csrf_header(html), **self.sent_by(data)}
            data.update(focused or {})
        return self.client.post(self.url + action, data=data, headers=headers)

    def tab(self):
        """The page as a tab opened now holds it: post its form later with
        `send`, after others have saved, as a tab left open would."""
        html = self.html()
        return {"form": dict(parse(html).get_element_by_id("report-form").form_values()),
                "headers": {"HX-Request": "true", **self.csrf_header(html)}}

    def send(self, tab, changes=None, htmx=True, action=""):
        """Send a form read earlier by `tab` with `changes` applied."""
        data = {**tab["form"], **(changes or {})}
        headers = {}
        if htmx:
            data.pop("csrf_token")
            headers = {**tab["headers"], **self.sent_by(data)}
        return self.client.post(self.url + action, data=data, headers=headers)

    def submit(self, changes=None):
        """The 提交审核 button: a plain form post to the submit route, also with scripts on."""
        return self.post(changes, htmx=False, action="/submit")

    def docx(self):
        response = self.client.get(self.url + "/docx")
        assert response.status_code == 200, response.text
        return response.data
