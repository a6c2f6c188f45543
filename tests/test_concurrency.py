"""Twenty clerks autosaving at the same moment: nothing fails with
"database is locked", no save silently overwrites another, and what is
stored is the last save that was accepted.

Every thread opens its own peewee connection (they are thread-local), and
all threads wait at one barrier so their saves really overlap.
"""
import re
import threading
from functools import partial

import pytest

from tests.conftest import demo_types
from pbforms import demo
from pbforms.db import db
from pbforms.models import Conflict, Report, Revision, Round, Unit, User

from .test_access import header_token, post_login

THREADS = 20
ROUNDS = 3
VERSION = re.compile(r'id="report-version" value="(\d+)"')


def run_together(work):
    """Run work(i) for i in range(THREADS), all released at once; returns
    whatever the threads raised, as text."""
    barrier = threading.Barrier(THREADS)
    errors = []

    def run(i):
        db.connect(reuse_if_open=True)
        try:
            barrier.wait(timeout=30)
            work(i)
        except Exception as e:  # noqa: BLE001 (reported to the test below)
            errors.append(f"thread {i}: {e!r}")
        finally:
            db.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a saving thread hangs"
    return errors


def logged_in_client(app, username):
    """A browser of its own: a test client with a session and its CSRF token."""
    client = app.test_client()
    response = post_login(client, username, demo.FILLER_PASSWORD)
    assert response.status_code == 302, response.text
    client.token = header_token(client.get("/").text)
    return client


def autosave(client, report_id, version, name):
    """One htmx autosave of the 述职人姓名 field; returns the response."""
    return client.post(f"/reports/{report_id}", data={"version": str(version), "reporter_name": name},
                       headers={"HX-Request": "true", "X-CSRFToken": client.token})


def version_on_page(client, report_id):
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200, page.status_code
    return int(VERSION.search(page.text).group(1))


# --- one report, twenty tabs -------------------------------------------------

def save_through_model(report_id, user, i, n):
    """Read the report, then save it on the version read; returns
    (accepted version, stored name) or None on a conflict."""
    report = Report.get_by_id(report_id)
    read, name = report.version, f"线程{i}第{n}次"
    try:
        report.save_data({**report.data, "reporter_name": name}, user, read)
    except Conflict:
        return None
    assert report.version == read + 1
    return report.version, name


def save_through_http(client, report_id, i, n):
    version = version_on_page(client, report_id)
    name = f"线程{i}第{n}次"
    response = autosave(client, report_id, version, name)
    if "您和另一个页面或其他人都改了" in response.text:
        # Another thread saved the field since this page read it: kept beside
        # theirs for the clerk to choose, the report unchanged.
        assert response.status_code == 200
        return None
    assert response.status_code == 200, (response.status_code, response.text[:300])
    accepted = int(VERSION.search(response.text).group(1))
    assert accepted == version + 1
    return accepted, name


@pytest.mark.parametrize("path", ["model", "http"])
def test_twenty_threads_saving_one_report_lose_nothing(app, path):
    user = User.by_username("qingnicun")
    report = Report.get(Report.unit == user.unit)
    initial = report.version
    if path == "http":
        clients = [logged_in_client(app, user.username) for _ in range(THREADS)]
        save = lambda i, n: save_through_http(clients[i], report.id, i, n)  # noqa: E731
    else:
        save = partial(save_through_model, report.id, user)
    accepted, conflicts = [], []

    def work(i):
        for n in range(ROUNDS):
            result = save(i, n)
            (conflicts if result is None else accepted).append(result)

    errors = run_together(work)

    assert errors == []
    # Each accepted save got the next version: no two saves both won.
    assert sorted(v for v, _ in accepted) == list(range(initial + 1, initial + 1 + len(accepted)))
    stored = Report.get_by_id(report.id)
    last_version, last_name = max(accepted)
    assert stored.version == initial + len(accepted) == last_version
    assert stored.data["reporter_name"] == last_name
    newest = Revision.select().where(Revision.report == report).order_by(Revision.version.desc()).first()
    assert (newest.version, newest.data) == (stored.version, stored.data)


# --- twenty reports, one clerk each -----------------------------------------

def twenty_reports():
    """A new round with a report for each of twenty units, each with its
    own filler; returns [(report id, username)]."""
    township = Unit.get(Unit.name == "青泥镇")
    # 青泥镇's own round: its villages fill it, its own report goes to the county's.
    fillers = User.select().join(Unit).where((User.role == "filler") & Unit.path.startswith(township.path)
                                             & (Unit.id != township.id))
    for n in range(THREADS - fillers.count()):
        unit = Unit.add(parent=township, name=f"测试{n + 1}村", kind="village", secretary_title="党支部书记")
        user = User(username=f"cun{n + 1}", role="filler", unit=unit)
        user.set_password(demo.FILLER_PASSWORD)
        user.save()
    new_round = Round.start("2023年度抓基层党建工作述职", 2023, demo_types(), office=township)
    reports = (Report.select(Report.id, User.username).join(User, on=(User.unit == Report.unit))
               .where((Report.round == new_round) & (User.role == "filler")).order_by(Report.id).tuples())
    return list(reports)


@pytest.mark.parametrize("path", ["model", "http"])
def test_twenty_threads_saving_own_reports_all_succeed(app, path):
    reports = twenty_reports()
    assert len(reports) == THREADS
    clients = [logged_in_client(app, username) for _, username in reports] if path == "http" else None

    def work(i):
        report_id, username = reports[i]
        if path == "model":
            user = User.by_username(username)
            for n in range(ROUNDS):
                report = Report.get_by_id(report_id)
                report.save_data({**report.data, "reporter_name": f"{username}第{n}次"}, user, report.version)
            return
        version = version_on_page(clients[i], report_id)
        for n in range(ROUNDS):
            response = autosave(clients[i], report_id, version, f"{username}第{n}次")
            assert response.status_code == 200, (response.status_code, response.text[:300])
            version = int(VERSION.search(response.text).group(1))

    errors = run_together(work)

    assert errors == []
    for report_id, username in reports:
        stored = Report.get_by_id(report_id)
        assert (stored.version, stored.data["reporter_name"]) == (ROUNDS, f"{username}第{ROUNDS - 1}次")


# --- the SQLite settings that make the above work ---------------------------

PRAGMAS = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")


def pragmas():
    return {name: db.execute_sql(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("where", ["in a request", "in another thread"])
def test_sqlite_connection_settings(app, where):
    found = {}
    if where == "in a request":
        with app.test_request_context("/"):
            app.preprocess_request()  # opens the request's connection
            found.update(pragmas())
    else:
        def read():
            with db.connection_context():
                found.update(pragmas())
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()

    assert found["journal_mode"] == "wal"
    assert found["foreign_keys"] == 1
    assert found["busy_timeout"] > 0
    assert found["synchronous"] == 1  # NORMAL


# --- a save racing a submit ---------------------------------------------------

RACE_ROUNDS = 30


def test_a_save_racing_a_submit_never_changes_the_submitted_report(app):
    """The clerk's second tab autosaves an emptied 述职人姓名 while the first
    tab submits. Whichever wins, a submitted report is the one that was
    checked: never 已提交 with a required field empty. (Before the status
    was part of the UPDATE's condition, an autosave that passed the edit
    check just before the submit committed was written afterwards.)"""
    user = User.by_username("qingnicun")
    report = Report.get(Report.unit == user.unit)
    complete = report.report_type.model_data(report.meta)
    complete.update({f.key: 1 for f in report.report_type.counts})
    complete.update({f.key: "2023-01-06" for f in report.report_type.fields if f.kind == "date"})
    complete["reporter_name"] = "张三"
    assert report.report_type.missing(complete) == []
    saver, submitter = logged_in_client(app, user.username), logged_in_client(app, user.username)
    outcomes = []
    for n in range(RACE_ROUNDS):
        Report.update(status="draft", data=complete, version=100 + n).where(Report.id == report.id).execute()
        barrier = threading.Barrier(2)
        answers = {}

        def post(name, client, url, data, headers):
            db.connect(reuse_if_open=True)
            try:
                barrier.wait(timeout=30)
                answers[name] = client.post(url, data={"version": str(100 + n), **data},
                                            headers={"X-CSRFToken": client.token, **headers}).status_code
            finally:
                db.close()

        threads = [threading.Thread(target=post, args=("save", saver, f"/reports/{report.id}",
                                                       {"reporter_name": ""}, {"HX-Request": "true"})),
                   threading.Thread(target=post, args=("submit", submitter, f"/reports/{report.id}/submit",
                                                       {}, {}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stored = Report.get_by_id(report.id)
        missing = [f.key for f in stored.report_type.missing(stored.data)]
        outcomes.append((stored.status, answers.get("save"), answers.get("submit")))
        assert not (stored.status == "submitted" and missing), (n, missing, answers)
        if stored.status == "submitted":
            # The version handed in is the complete one, unchanged since.
            assert stored.data == complete and stored.version == 100 + n, (n, answers)
        else:
            # The save won: the submit was refused, not handed in half-checked.
            assert answers["submit"] in (409, 422), (n, answers)
    assert all(save in (200, 409) and submit in (303, 409, 422) for _, save, submit in outcomes), outcomes
