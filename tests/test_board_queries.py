"""The progress board asks the database the same number of queries for 10
units as for 200: a county's board must not grow a query per village
(bench/run.py times it with 1,000)."""
from pbforms.db import db
from pbforms.models import Round, Unit


def add_units(round_, up_to):
    """Villages of 青泥镇 with a report in the round until its board has `up_to` units."""
    township = Unit.get(Unit.name == "青泥镇")
    for n in range(Unit.subtree(township).count(), up_to):
        unit = Unit.add(parent=township, name=f"测试村{n}", kind="village", secretary_title="党支部书记")
        round_.include(unit)


def board_queries(client, round_, monkeypatch):
    """How many statements the board's page sends to the database."""
    executed = []
    original = db.obj.execute_sql
    with monkeypatch.context() as patch:
        patch.setattr(db.obj, "execute_sql", lambda sql, *a, **k: executed.append(sql) or original(sql, *a, **k))
        page = client.get(f"/township/rounds/{round_.id}")
    assert page.status_code == 200
    return len(executed), page.text


def test_the_board_asks_as_many_queries_for_200_units_as_for_10(client, auth, monkeypatch):
    auth.admin()
    round_ = Round.get()

    add_units(round_, 10)
    for_10, page = board_queries(client, round_, monkeypatch)
    assert "共10个单位" in page
    add_units(round_, 200)
    for_200, page = board_queries(client, round_, monkeypatch)

    assert "共200个单位" in page
    assert for_200 == for_10
