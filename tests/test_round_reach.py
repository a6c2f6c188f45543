"""Rounds at a level: the county opens a round for its townships alone (the
township secretaries' 述职) or for every unit below it; each township
opens its own round for its villages, beside the county's."""
import zipfile

import pytest

from pbforms.models import Report, Round, Unit, User
from pbforms.township import rounds

from .test_township import htmx, one_text, parse, type_fields

TOWNSHIPS = {"青泥镇", "白石镇"}


def open_round(client, auth, title="2023年度乡镇党委书记述职", **fields):
    return client.post("/township/rounds", data={"csrf_token": auth.csrf_token(), "title": title, "year": "2023",
                                                 **fields})


def names_in(round_):
    return {r.unit.name for r in Report.in_round(round_)}


def township_type():
    return {"type-township": type_fields()["type-township"]}


def test_the_countys_form_offers_its_townships_alone_or_every_unit(client, auth):
    auth.county()

    page = parse(client.get("/township/rounds").text)

    choices = {box.get("value"): " ".join(box.getparent().text_content().split())
               for box in page.xpath("//input[@name='reach']")}
    assert choices == {"children": "只有直属的乡镇（如各乡镇党委书记述职）（2 个单位）",
                       "all": "直属单位和其下所有村、社区（11 个单位）"}
    assert page.xpath("//input[@name='reach'][@checked]/@value") == ["children"]


def test_a_townships_form_has_no_such_choice(client, auth):
    auth.admin()
    assert not parse(client.get("/township/rounds").text).xpath("//input[@name='reach']")


def test_the_county_opens_a_round_for_its_townships_with_only_their_type(client, auth):
    auth.county()

    response = open_round(client, auth, reach="children", **township_type())

    assert response.status_code == 303
    new_round = Round.get(Round.year == 2023)
    assert names_in(new_round) == TOWNSHIPS
    assert new_round.reach == "children"
    board = parse(client.get(response.headers["Location"]).text)
    assert "2 个单位可以开始填报" in board.text_content()


def test_a_round_for_every_unit_still_needs_the_villages_type(client, auth):
    auth.county()

    response = open_round(client, auth, reach="all", **township_type())

    assert response.status_code == 422
    assert one_text(response.text, "//p[@id='error-round-type-village']") == "请选择村的报告类型"
    assert not Round.select().where(Round.year == 2023).exists()


def test_the_county_opens_a_round_for_every_unit_below_it(client, auth):
    auth.county()

    open_round(client, auth, reach="all", **type_fields())

    assert len(names_in(Round.get(Round.year == 2023))) == 11


def test_beside_the_countys_round_each_township_opens_its_villages_round(client, auth):
    auth.county()
    open_round(client, auth, reach="children", **type_fields())
    auth.logout()
    auth.admin()

    response = open_round(client, auth, title="2023年度村党组织书记述职", **type_fields())

    assert response.status_code == 303
    township_round = Round.get(Round.title == "2023年度村党组织书记述职")
    assert names_in(township_round) == {"青泥村", "柳湾村", "石桥村", "东坡村", "河西村", "新华社区"}
    listed = parse(client.get("/township/rounds").text)
    rows = {" ".join(cell.text_content().split()) for cell in listed.xpath("//td[@data-label='名称']")}
    assert {"2023年度乡镇党委书记述职 只有青泥县直属单位填报", "2023年度村党组织书记述职"} <= rows


def test_a_round_that_would_give_a_village_a_second_report_of_one_type_is_refused(client, auth):
    auth.admin()
    open_round(client, auth, title="2023年度村党组织书记述职", **type_fields())
    auth.logout()
    auth.county()

    response = open_round(client, auth, reach="all", **type_fields())

    assert response.status_code == 422
    assert "已有一个进行中的 2023 年度同类填报（2023年度村党组织书记述职）" in one_text(
        response.text, "//p[@id='error-round-title']")
    assert Round.select().where(Round.year == 2023).count() == 1


def test_an_office_with_nothing_below_it_is_told_so(client, auth):
    empty = Unit.add(parent=Unit.get(Unit.name == "青泥县"), name="新设镇", kind="township",
                     secretary_title="党委书记")
    office = User(username="xinshezhen", display_name="新设镇党建办", role="admin", unit=empty)
    office.set_password("admin2022demo")
    office.save()
    auth.login("xinshezhen", "admin2022demo")

    response = open_round(client, auth, title="2023年度村党组织书记述职", **type_fields())

    assert response.status_code == 422
    assert one_text(response.text, "//p[@id='error-round-reach']") == \
        "新设镇之下还没有可以填报的单位，请先在“单位”页添加"


@pytest.mark.parametrize("parent, kind, joins", [("青泥县", "township", True), ("青泥镇", "village", False)])
def test_a_unit_added_later_joins_the_countys_round_only_if_the_round_reaches_it(client, auth, parent, kind, joins):
    auth.county()
    open_round(client, auth, reach="children", **township_type())
    new_round = Round.get(Round.year == 2023)
    auth.logout()
    auth.login("county" if parent == "青泥县" else "admin", "admin2022demo")
    token = auth.csrf_token()
    client.post("/township/units", headers=htmx(token), data={"csrf_token": token, "name": "后来的单位",
                                                             "kind": kind, "secretary_title": "书记"})

    unit = Unit.get(Unit.name == "后来的单位")
    assert unit.parent.name == parent
    assert Report.select().where((Report.round == new_round) & (Report.unit == unit)).exists() == joins


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=[str(a) for a in args])


def test_round_open_for_the_townships_alone_needs_only_their_type(run):
    township_type_id = rounds.default_type_ids()["township"]

    result = run("round", "open", "--title", "2023年度乡镇党委书记述职", "--year", "2023", "--reach", "children",
                 "--type", f"township={township_type_id}")

    assert result.exit_code == 0, result.output
    assert names_in(Round.get_by_id(int(result.output))) == TOWNSHIPS


def test_round_open_for_every_unit_asks_for_the_villages_type(run):
    township_type_id = rounds.default_type_ids()["township"]

    result = run("round", "open", "--title", "2023年度述职", "--year", "2023", "--type", f"township={township_type_id}")

    assert result.exit_code != 0
    assert "请为这些单位类型指定报告类型：村（--type village=编号）、社区（--type community=编号）" in result.output


# --- the county's round for its townships alone, on its board and in its files ----

@pytest.fixture
def townships_round(client, auth):
    auth.county()
    open_round(client, auth, reach="children", **township_type())
    return Round.get(Round.year == 2023)


def test_its_board_lists_the_townships_as_a_townships_board_lists_villages(client, auth, townships_round):
    page = parse(client.get(f"/township/rounds/{townships_round.id}").text)

    headers = [" ".join(th.text_content().split()) for th in page.xpath("//table//th")]
    assert headers[:2] == ["单位", "状态"]
    assert "所辖单位进度" not in headers
    assert [" ".join(row.xpath("td")[0].text_content().split()) for row in page.xpath("//table/tbody/tr")] == \
        ["青泥镇", "白石镇"]


def test_its_zip_holds_each_townships_report_without_folders(app, townships_round, tmp_path):
    out = tmp_path / "报告.zip"

    result = app.test_cli_runner().invoke(args=["round", "export-zip", "--round", str(townships_round.id),
                                                "-o", str(out)])

    assert result.exit_code == 0, result.output
    assert sorted(zipfile.ZipFile(out).namelist()) == sorted(
        f"2023年度{name}党委书记抓基层党建工作述职报告.docx" for name in TOWNSHIPS)
