"""A county on one instance: each office manages its own part of the tree.

The routes come from the app's URL map, as in test_access: every route
that names a report, round, unit, account, type or export job is asked by
each township's office about the other township's, and must answer 404, as
for one that does not exist; the county's office finds both.
"""
import re

import pytest
from playhouse.migrations import Runner

from pbforms import db as database
from pbforms import demo
from pbforms.db import db
from pbforms.models import ExportJob, Report, ReportTypeRecord, Round, Unit, User

from .conftest import demo_types
from .test_access import BODY_METHODS, ROUTES, build_url

# The office account of each township, and a filler of one of its villages.
PARTS = {"青泥镇": (demo.ADMIN[0], "qingnicun"), "白石镇": ("baishizhen", "baishicun")}
COUNTY = "county"
SCOPED = {"report_id", "round_id", "unit_id", "user_id", "type_id", "job_id"}
# Where the county, too, gets a 404, and why (not the tree's rule of who sees what).
COUNTY_404 = {
    ("exports.job_file", "GET"): "the job has no file yet",
    ("township.sums", "GET"): "sums are only for a township's own report",
    ("township.sums", "POST"): "sums are only for a township's own report",
    ("township.download_type_template", "GET"): "the type has no Word template",
    ("township.set_deadline", "POST"): "a round is changed only by the office that opened it",
    ("township.set_round_open", "POST"): "a round is changed only by the office that opened it",
    ("township.round_types", "GET"): "a round is changed only by the office that opened it",
    ("township.move_round_types", "POST"): "a round is changed only by the office that opened it",
}
SCOPED_ROUTES = [route for route in ROUTES if SCOPED & set(re.findall(r"<(?:\w+:)?(\w+)>", route[0]))]


def things_of(township):
    """Ids of what belongs to `township`'s office: a round it opened, a type it
    made, an export job its office started, one of its villages with its
    filler and that village's report in the round."""
    office_login, filler_login = PARTS[township]
    office, filler = User.by_username(office_login), User.by_username(filler_login)
    round_ = Round.start(f"{township}2023年度村党组织书记述职", 2023, demo_types(), office=office.unit)
    record = ReportTypeRecord.add(ReportTypeRecord.get_by_id(demo_types()["village"].type_id).newest().definition,
                                  office, name=f"{township}的村述职", office=office.unit)
    job = ExportJob.create(round=round_, user=office, filename="x.zip")
    report = Report.get((Report.round == round_) & (Report.unit == filler.unit))
    return {"report_id": report.id, "round_id": round_.id, "unit_id": filler.unit_id, "user_id": filler.id,
            "type_id": record.id, "job_id": job.id, "extension": "xlsx", "version": report.version, "page": 1}


def ask(app, client, auth, login, route, ids):
    auth.login(login, demo.ADMIN[1])
    rule_text, endpoint, method = route
    response = client.open(build_url(app, rule_text, endpoint, method, ids), method=method,
                           data={"csrf_token": auth.csrf_token()} if method in BODY_METHODS else None)
    auth.logout()
    return response.status_code


def test_the_routes_are_found():
    assert len(SCOPED_ROUTES) > 40


@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=lambda r: f"{r[2]} {r[0]}")
def test_a_townships_office_gets_404_for_the_other_townships_and_the_county_finds_both(app, client, auth, route):
    things = {township: things_of(township) for township in PARTS}

    answers = {(login, township): ask(app, client, auth, login, route, things[township])
               for login, township in [(PARTS["青泥镇"][0], "白石镇"), (PARTS["白石镇"][0], "青泥镇")]}
    county = [ask(app, client, auth, COUNTY, route, things[township]) for township in PARTS]

    assert set(answers.values()) == {404}, answers
    assert (404 in county) == ((route[1], route[2]) in COUNTY_404), county


def submitted_report_of(unit_name):
    report = Report.get(Report.unit == Unit.get(Unit.name == unit_name))
    Report.update(status="submitted").where(Report.id == report.id).execute()
    return report


def test_a_township_office_cannot_approve_its_own_report_and_the_county_can(client, auth):
    report = submitted_report_of("青泥镇")
    auth.admin()

    page = client.get(f"/township/reports/{report.id}").text
    refused = client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})

    assert "本单位的报告由上级党组织审核" in page and "/approve" not in page
    assert refused.status_code == 403
    assert Report.get_by_id(report.id).status == "submitted"

    auth.logout()
    auth.login(COUNTY, demo.ADMIN[1])
    approved = client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})

    assert approved.status_code == 303
    assert Report.get_by_id(report.id).status == "approved"


def test_a_township_office_approves_its_villages_report(client, auth):
    report = submitted_report_of("白石村")
    auth.login(PARTS["白石镇"][0], demo.ADMIN[1])

    client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})

    assert Report.get_by_id(report.id).status == "approved"


@pytest.mark.parametrize("login, shown, hidden", [
    (demo.ADMIN[0], ["柳湾村", "新华社区"], ["松林村", "杏花社区"]),
    ("baishizhen", ["松林村", "杏花社区"], ["柳湾村", "新华社区"]),
    (COUNTY, ["柳湾村", "松林村", "杏花社区"], []),
])
@pytest.mark.parametrize("page", ["/township/units", "/township/accounts", "board"])
def test_each_office_lists_only_its_own_part(client, auth, login, shown, hidden, page):
    auth.login(login, demo.ADMIN[1])
    if login == COUNTY and page == "board":  # a row per township, the way down into it: tests/test_rollup.py
        shown = ["青泥镇", "白石镇"]

    text = client.get(f"/township/rounds/{Round.get().id}" if page == "board" else page).text

    for name in shown:
        assert name in text
    for name in hidden:
        assert name not in text


def test_the_countys_round_is_changed_only_by_the_county(client, auth):
    round_ = Round.get()
    auth.admin()

    refused = client.post(f"/township/rounds/{round_.id}/status", data={"csrf_token": auth.csrf_token(), "open": "0"})

    assert refused.status_code == 404 and Round.get_by_id(round_.id).is_open


def test_a_database_of_one_township_upgrades_to_a_tree_with_the_township_at_its_root(app, client, auth):
    """Back to before the tree, with only 青泥镇's units and accounts (today's
    shape), then up again: 青泥镇 is the root, its units below it, its
    office and round its own, and the office approves its own report."""
    runner = Runner(db.obj, str(database.MIGRATIONS_DIR))
    other = [name for name, _, _ in demo.OTHER_UNITS] + [demo.OTHER_TOWNSHIP[0], demo.COUNTY[0]]
    marks = ", ".join([db.param] * len(other))
    with db.connection_context():
        runner.down("0021_unit_tree")
        assert "parent_id" not in {c.name for c in db.get_columns("unit")}
        for sql in ['DELETE FROM report WHERE unit_id IN (SELECT id FROM unit WHERE name IN ({}))',
                    'DELETE FROM "user" WHERE unit_id IN (SELECT id FROM unit WHERE name IN ({}))']:
            db.execute_sql(sql.format(marks), other)
        db.execute_sql(f'DELETE FROM "user" WHERE username IN ({db.param}, {db.param})', [COUNTY, "baishizhen"])
        db.execute_sql(f"DELETE FROM unit WHERE name IN ({marks})", other)
    database.migrate()

    with db.connection_context():
        root = Unit.root()
        assert root.name == "青泥镇"
        assert {u.name: u.parent_id for u in Unit.select()} == {
            name: (None if name == root.name else root.id) for name, _, _ in demo.UNITS}
        assert User.by_username(demo.ADMIN[0]).unit_id == root.id
        assert Round.get().office_id == root.id
        report = submitted_report_of("青泥镇")
    auth.admin()
    client.post(f"/township/reports/{report.id}/approve", data={"csrf_token": auth.csrf_token()})
    assert Report.get_by_id(report.id).status == "approved"
