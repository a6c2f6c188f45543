"""The ballot of a 述职评议 on a phone, without an account (pbforms/rating/ballot.py):
a code opens it once, every unit needs a grade, the ballot is confirmed, and
wrong codes are throttled like logins."""
import re
import threading

import pytest

from pbforms import auth as access
from pbforms.db import db
from pbforms.models import AuditEvent, LoginFailure
from pbforms.rating.models import BallotCount, Opinion, close_rating

from .rating_helpers import codes_by_group, demo_rating
from .test_access import form_token


@pytest.fixture
def rating(app):
    return demo_rating()


@pytest.fixture
def codes(rating):
    return codes_by_group(rating)


class Phone:
    """A rater's phone: a client of its own with the entry page's CSRF token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = form_token(self.client.get("/v").text)

    def post(self, url, **form):
        return self.client.post(url, data={"csrf_token": self.token, **form})

    def open(self, code):
        return self.post("/v", code=code)

    def vote(self, code, grades, opinions=None, step="confirm"):
        """`grades` {rated id: grade index}; `step` None: the first post, which asks for confirmation."""
        form = {"code": code, **{f"grade-{r}": str(g) for r, g in grades.items()},
                **{f"opinion-{r}": t for r, t in (opinions or {}).items()}}
        if step:
            form["step"] = step
        return self.post("/v/vote", **form)


def all_grades(rating, grade):
    return {r.id: grade for r in rating.rated_units()}


def cast_counts(rating):
    return {(c.group.name, c.rated.unit.name, rating.grades[c.grade]): c.cast
            for c in BallotCount.select() if c.cast}


def test_the_code_opens_a_ballot_listing_every_rated_unit_with_its_secretary(app, rating, codes):
    page = Phone(app).open(codes["党员代表"][0])

    assert page.status_code == 200
    assert "2022年度村党组织书记抓基层党建工作述职评议" in page.text
    for r in rating.rated_units():
        assert r.unit.name in page.text
        assert f'name="grade-{r.id}"' in page.text
    assert "青泥村 党支部书记" in page.text
    assert page.text.count("阅读述职报告") == len(rating.rated_units())


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{dashed}", " {dashed} "])
def test_a_code_may_be_typed_in_any_case_with_its_dash(app, codes, typed):
    code = codes["群众代表"][0]
    text = typed.format(code=code, lower=code.lower(), dashed=f"{code[:5]}-{code[5:]}")
    assert Phone(app).open(text).status_code == 200


def test_the_ballot_is_confirmed_then_counted_once(app, rating, codes):
    phone, code = Phone(app), codes["党委班子成员"][0]
    grades = all_grades(rating, 1)

    asked = phone.vote(code, grades, step=None)
    assert "请核对您的选票" in asked.text and "确认提交" in asked.text
    assert cast_counts(rating) == {}

    done = phone.vote(code, grades)
    assert "已提交" in done.text
    assert cast_counts(rating) == {("党委班子成员", r.unit.name, "较好"): 1 for r in rating.rated_units()}

    again = Phone(app).vote(code, grades)
    assert again.status_code == 409 and "已经投过票" in again.text
    assert Phone(app).open(code).status_code == 409
    assert sum(cast_counts(rating).values()) == len(rating.rated_units())


def test_back_to_edit_keeps_the_choices(app, rating, codes):
    grades = all_grades(rating, 2)
    page = Phone(app).vote(codes["党员代表"][0], grades, {rating.rated_units()[0].id: "多下村"}, step="edit")
    assert page.text.count("checked") == len(grades)
    assert "多下村" in page.text
    assert cast_counts(rating) == {}


def test_a_unit_left_without_grade_is_named_and_the_typing_kept(app, rating, codes):
    units = rating.rated_units()
    grades = {r.id: 0 for r in units[1:]}

    page = Phone(app).vote(codes["党员代表"][0], grades, {units[0].id: "材料扎实"})

    assert page.status_code == 422
    assert f"请为{units[0].unit.name}选择一个等次" in page.text
    assert "材料扎实" in page.text
    assert page.text.count("checked") == len(grades)
    assert cast_counts(rating) == {}


@pytest.mark.parametrize("code, status, message", [
    ("ABCDE-FGHJK", 404, "没有这个票码"),
    ("ABC", 422, "票码应为 10 位"),
    ("", 422, "票码应为 10 位"),
])
def test_an_unknown_or_malformed_code_gets_a_plain_message(app, codes, code, status, message):
    page = Phone(app).open(code)
    assert page.status_code == status
    assert message in page.text


def test_a_closed_rating_takes_no_ballot(app, rating, codes):
    close_rating(rating)
    page = Phone(app).vote(codes["党员代表"][0], all_grades(rating, 0))
    assert page.status_code == 409 and "评议已经结束" in page.text
    assert cast_counts(rating) == {}


def test_guessing_codes_is_throttled_and_a_real_code_waits_too(app, codes, auth):
    phone = Phone(app)
    for i in range(access.BALLOT_LIMIT):
        assert phone.open("ABCDE-FGHJ" + "23456789ABCDEFGHJKMNPQRSTUVWXYZ"[i]).status_code == 404

    page = phone.open(codes["党员代表"][0])

    assert page.status_code == 429
    assert "输错票码次数过多" in page.text
    auth.admin()
    assert "述职评议票码（在地址 127.0.0.1）" in auth.client.get("/township/accounts").text  # listed, to clear


def test_the_rater_reads_a_rated_units_report_with_the_code(app, rating, codes):
    rated = rating.rated_units()[0]
    page = Phone(app).post(f"/v/report/{rated.id}", code=codes["党员代表"][0])
    assert page.status_code == 200
    assert "述职报告" in page.text and rated.unit.name in page.text
    assert Phone(app).post(f"/v/report/{rated.id}", code="ABCDE-FGHJK").status_code == 404


def test_voting_writes_no_audit_event_and_no_code_anywhere(app, rating, codes):
    before = AuditEvent.select().count()
    code = codes["群众代表"][0]
    Phone(app).vote(code, all_grades(rating, 0), {rating.rated_units()[0].id: "带头作用强"})

    assert AuditEvent.select().count() == before
    assert [o.text for o in Opinion.select()] == ["带头作用强"]
    assert LoginFailure.select().count() == 0


def post_together(app, code, grades, threads=25):
    """`threads` phones post the same code at the same moment; returns their statuses."""
    phones = [Phone(app) for _ in range(threads)]
    barrier = threading.Barrier(threads)
    statuses, errors = [], []

    def run(phone):
        db.connect(reuse_if_open=True)
        try:
            barrier.wait(timeout=30)
            statuses.append(phone.vote(code, grades).status_code)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))
        finally:
            db.close()

    workers = [threading.Thread(target=run, args=(phone,)) for phone in phones]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    return statuses


def test_25_simultaneous_posts_of_one_code_give_one_ballot(app, rating, codes):
    statuses = post_together(app, codes["党员代表"][0], all_grades(rating, 0))

    assert sorted(statuses) == [200] + [409] * 24
    assert cast_counts(rating) == {("党员代表", r.unit.name, "好"): 1 for r in rating.rated_units()}


def test_the_entry_page_takes_the_code_from_the_address_fragment(client):
    page = client.get("/v").text
    assert re.search(r'<script src="/static/ballot.js', page)
    assert 'id="code-form"' in page


@pytest.mark.sqlite_only
def test_opinions_keep_no_insertion_order_in_the_sqlite_file(app, rating, codes):
    """Without a rowid, SQLite keeps the rows in the order of their random keys."""
    for i, code in enumerate(codes["党员代表"][:5]):
        Phone(app).vote(code, all_grades(rating, 0), {rating.rated_units()[0].id: f"意见{i}"})
    with pytest.raises(Exception, match="rowid"):
        db.execute_sql("SELECT rowid FROM opinion")
    stored = [row[0] for row in db.execute_sql("SELECT text FROM opinion")]
    assert stored == [o.text for o in Opinion.select().order_by(Opinion.key)]
