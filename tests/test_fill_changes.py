"""An autosave that sends only the fields changed since the page's last save
(issue 20.8), as static/app.js sends it: those fields with every field's
base. What is stored and shown is what the whole form gave: merged field by
field, others' changes shown anew, conflicts and refused values kept. The
answer renews the bases of the fields it concerns only, so a field the page
still shows as it was keeps the base it was shown with.
"""
import re

import pytest

from pbforms.db import db
from pbforms.forms import builtin_type
from pbforms.models import Report
from tests.fillpage import FillPage, parse, report_of

REPORT_TYPE = builtin_type("annual_report")
SAVED = re.compile(r"已保存 \d\d:\d\d:\d\d")
BASE = re.compile(r'name="base-([^"]+)" value="([^"]*)"')


@pytest.fixture
def page(client, auth):
    """The demo township's report, opened by its filler."""
    auth.login("qingnizhen")
    return FillPage(client, report_of("青泥镇").id)


def stored(page):
    with db.connection_context():
        return Report.get_by_id(page.report_id)


def field_of(name):
    """The key of the field a control of the form belongs to (items: KEY-N-text …)."""
    return max((f.key for f in REPORT_TYPE.fields if name == f.key or name.startswith(f.key + "-")),
               key=len, default=None)


def send_changes(page, tab, changes):
    """Post what the page sends after `changes`: the fields they touch, the
    version and every base. Afterwards `tab` holds the page as the answer
    leaves it: the new version and the bases it renewed."""
    keys = {field_of(name) for name in changes}
    form = {**tab["form"], **changes}
    sent = {name: value for name, value in form.items()
            if name == "version" or name.startswith("base-") or field_of(name) in keys}
    response = page.client.post(page.url, data=sent, headers={**tab["headers"], "HX-Trigger": "report-form"})
    version = re.search(r'id="report-version" value="(\d+)"', response.text)
    if response.status_code == 200 and version:
        tab["form"].update(changes, version=version.group(1))
        tab["form"].update({f"base-{key}": base for key, base in BASE.findall(response.text)})
    return response


def status(html):
    return parse(html).get_element_by_id("save-status").text_content().strip()


def renewed_bases(html):
    return sorted(key for key, _ in BASE.findall(html))


CHANGES = {
    "reporter_name": {"reporter_name": "李四"},
    "intro": {"intro": "只改了开头。"},
    "party_lectures": {"party_lectures": "12"},
    "duties": {"duties-0-text": "只改了第一条。"},
    "written_on": {"written_on": "2023-01-08"},
}


@pytest.mark.parametrize("key", CHANGES)
def test_a_save_of_one_field_stores_it_and_keeps_every_other(page, key):
    tab = page.tab()
    before = stored(page).data
    response = send_changes(page, tab, CHANGES[key])
    assert response.status_code == 200 and SAVED.search(status(response.text))
    after = stored(page).data
    assert after[key] != before[key]
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}


@pytest.mark.parametrize("key", CHANGES)
def test_the_answer_renews_the_base_of_the_field_sent_and_no_other(page, key):
    response = send_changes(page, page.tab(), CHANGES[key])
    assert renewed_bases(response.text) == [key]


def test_two_pages_saving_changes_only_each_keep_theirs_and_see_the_others(page):
    first, second = page.tab(), page.tab()
    send_changes(page, first, {"intro": "第一个窗口写的开头。"})
    response = send_changes(page, second, {"reporter_name": "第二个窗口"})
    assert "已合并另一个页面或其他人同时所做的修改：「开头」" in status(response.text)
    shown = parse(response.text).get_element_by_id("f-intro")  # swapped in, out of band
    assert shown.text_content() == "第一个窗口写的开头。"
    assert renewed_bases(response.text) == ["intro", "reporter_name"]
    data = stored(page).data
    assert (data["intro"], data["reporter_name"]) == ("第一个窗口写的开头。", "第二个窗口")

    # The first page, behind in its turn, is shown the second's change.
    response = send_changes(page, first, {"party_lectures": "9"})
    assert "「述职人姓名」" in status(response.text)
    assert parse(response.text).get_element_by_id("f-reporter_name").get("value") == "第二个窗口"


def test_a_page_not_behind_is_shown_nothing_anew(page):
    tab = page.tab()
    send_changes(page, tab, {"intro": "改了开头。"})
    response = send_changes(page, tab, {"reporter_name": "李四"})
    assert "已合并" not in status(response.text)
    assert renewed_bases(response.text) == ["reporter_name"]


def test_the_same_field_changed_in_two_pages_is_a_conflict_kept_through_later_saves(page):
    first, second = page.tab(), page.tab()
    send_changes(page, first, {"intro": "第一个窗口写的开头。"})
    response = send_changes(page, second, {"intro": "第二个窗口写的开头。"})
    assert "都改了" in status(response.text)
    assert parse(response.text).get_element_by_id("conflict-intro").xpath(".//button[@value='mine:intro']")
    # The second page goes on typing elsewhere; its side of the conflict stays kept.
    send_changes(page, second, {"reporter_name": "李四"})
    report = stored(page)
    assert report.data["intro"] == "第一个窗口写的开头。"
    assert report.pending["intro"]["value"] == "第二个窗口写的开头。"
    assert report.data["reporter_name"] == "李四"
    assert "第二个窗口写的开头。" in parse(page.html()).get_element_by_id("conflict-intro").text_content()


def test_a_refused_figure_sent_alone_is_kept_with_its_message_through_later_saves(page):
    tab = page.tab()
    response = send_changes(page, tab, {"party_lectures": "三十"})
    message = parse(response.text).get_element_by_id("error-party_lectures").text_content()
    assert message
    send_changes(page, tab, {"reporter_name": "李四"})
    assert stored(page).pending["party_lectures"]["value"] == "三十"
    shown = parse(page.html())
    assert shown.get_element_by_id("f-party_lectures").get("value") == "三十"
    assert shown.get_element_by_id("error-party_lectures").text_content() == message


def test_a_paragraph_repeated_in_a_field_not_sent_gets_its_finding(page):
    """The proof-reader marks the later of two equal paragraphs: pasting one
    of 履职情况 into 开头 marks 履职情况, which this save did not send."""
    tab = page.tab()
    repeated = stored(page).data["duties"][0]["text"].split("\n")[0]
    response = send_changes(page, tab, {"intro": tab["form"]["intro"] + "\n" + repeated})
    findings = parse(response.text).get_element_by_id("findings-duties")
    assert findings.xpath(".//li[@data-rule='repeated']")


def test_a_figure_sent_alone_renews_the_printed_text_of_the_fields_naming_it(page):
    response = send_changes(page, page.tab(), {"party_lectures": "77"})
    printed = parse(response.text).get_element_by_id("printed-duties-0").text_content()
    assert "专题党课77次" in printed
