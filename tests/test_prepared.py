"""Prepared selects (pbforms/prepared.py) give the rows their query gives,
and prepared UPDATEs change what theirs would, on SQLite and PostgreSQL."""
import pytest

from pbforms.db import db
from pbforms.models import EndedSession, Report, Unit, User
from pbforms.prepared import Prepared

REPORT_IN_UNIT = Prepared(lambda report_id, unit_id: Report.with_round_and_unit()
                          .where((Report.id == report_id) & (Report.unit == unit_id)))
USER_NAMED = Prepared(lambda name: User.select().where(User.username == name))
RENAMED = Prepared(lambda display_name, name: User.update(display_name=display_name).where(User.username == name))


@pytest.fixture
def conn(app):
    with db.connection_context():
        yield


def plain(report_id, unit_id):
    return list(Report.with_round_and_unit().where((Report.id == report_id) & (Report.unit == unit_id)))


def test_the_same_rows_as_the_query_with_joined_models(conn):
    for report in Report.select():
        for unit in Unit.select():
            got, expected = REPORT_IN_UNIT(report.id, unit.id), plain(report.id, unit.id)
            assert [r.id for r in got] == [r.id for r in expected]
            for a, b in zip(got, expected):
                assert (a.data, a.round.title, a.unit.name) == (b.data, b.round.title, b.unit.name)


@pytest.mark.parametrize("name", ["admin", "qingnicun", "no such user", "' OR 1=1 --", "name", ""])
def test_strings_are_values_never_sql(conn, name):
    assert [u.id for u in USER_NAMED(name)] == [u.id for u in User.select().where(User.username == name)]


def test_first_is_none_without_rows(conn):
    assert REPORT_IN_UNIT.first(2**31 - 1, 1) is None


@pytest.mark.parametrize("value", [None, 1.5, True, b"1"])
def test_only_numbers_and_strings(conn, value):
    with pytest.raises(TypeError):
        USER_NAMED(value)


def test_a_value_the_query_does_not_use_is_an_error(conn):
    unused = Prepared(lambda report_id, unit_id: Report.select().where(Report.id == report_id))
    with pytest.raises(ValueError):
        unused(1, 2)


def test_a_logged_out_session_finds_no_user(conn):
    user = User.get(User.username == "qingnicun")
    assert User.of_session(user.id, user.session_epoch, "sid-1") == user
    EndedSession.create(sid="sid-1")
    assert User.of_session(user.id, user.session_epoch, "sid-1") is None
    assert User.of_session(user.id, user.session_epoch + 1, "sid-2") is None
    assert User.of_session(user.id, None, "sid-2") is None


@pytest.mark.parametrize("name, changed", [("qingnicun", 1), ("no such user", 0), ("' OR 1=1 --", 0)])
def test_an_update_changes_only_the_rows_it_names(conn, name, changed):
    before = {u.username: u.display_name for u in User.select()}
    assert RENAMED.changed("新名字", name) == changed
    assert {u.username: u.display_name for u in User.select()} == {
        username: "新名字" if username == name else shown for username, shown in before.items()}


def test_an_update_may_set_null(conn):
    report = Report.select().where(Report.updated_by.is_null(False)).first() or Report.get()
    unset = Prepared(lambda editor, report_id: Report.update(updated_by=editor).where(Report.id == report_id))
    assert unset.changed(None, report.id) == 1
    assert Report.get_by_id(report.id).updated_by is None
