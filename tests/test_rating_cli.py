"""The five `flask --app app rating …` commands, exactly as the issue spells them."""
import zipfile

import pytest
from openpyxl import load_workbook

from pbforms.models import Report, Unit
from pbforms.rating.models import BallotCode, Rating
from tests.official_format import format_problems


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=[str(a) for a in args])
    return invoke


def open_rating(cli):
    result = cli("rating", "open", "--round", 1, "--title", "2022年度述职评议", "--group", "党委班子成员=7:40",
                 "--group", "党员代表=30:40", "--group", "群众代表=20:20", "--office", "青泥镇")
    assert result.exit_code == 0, result.output
    return int(result.output.strip())


def test_open_prints_the_ratings_id(cli):
    rating = Rating.get_by_id(open_rating(cli))
    assert [(g.name, g.ballots, g.weight) for g in rating.groups()] == [
        ("党委班子成员", 7, 40), ("党员代表", 30, 40), ("群众代表", 20, 20)]


@pytest.mark.parametrize("args, message", [
    (["--round", 1, "--title", "评议", "--group", "党员代表=30:50"], "各组权重之和应为 100%"),
    (["--round", 99, "--title", "评议", "--group", "党员代表=30:100"], "找不到编号为 99 的填报轮次"),
    (["--round", 1, "--title", "评议", "--group", "党员代表"], "应写成 组名=票数:权重"),
])
def test_open_refuses_wrong_settings_in_chinese(cli, args, message):
    result = cli("rating", "open", *args)
    assert result.exit_code != 0 and message in result.output
    assert Rating.select().count() == 0


def test_paper_tally_close_and_result_files(cli, tmp_path):
    report = Report.select().join(Unit).where(Unit.name == "青泥村").get()
    Report.update(data={**report.data, "reporter_name": "李明"}).where(Report.id == report.id).execute()
    rating_id = open_rating(cli)
    for group, counts in {"党委班子成员": ["好=6", "较好=1"], "党员代表": ["好=20", "较好=5", "一般=1", "差=0"],
                          "群众代表": ["好=10", "较好=5"]}.items():
        for unit in ("青泥村", "柳湾村", "石桥村", "东坡村", "河西村", "新华社区"):
            result = cli("rating", "tally", "--rating", rating_id, "--group", group, "--unit", unit, *counts)
            assert result.exit_code == 0, result.output
    refused = cli("rating", "result", "--rating", rating_id, "-o", tmp_path / "early.xlsx")
    assert refused.exit_code != 0 and "评议结束后才能导出结果" in refused.output

    closed = cli("rating", "close", "--rating", rating_id)
    assert "党员代表：收回 26/30，有效" in closed.output
    assert cli("rating", "result", "--rating", rating_id, "-o", tmp_path / "r.xlsx").exit_code == 0
    assert cli("rating", "result", "--rating", rating_id, "-o", tmp_path / "r.docx").exit_code == 0

    rows = [[c.value for c in row] for row in load_workbook(tmp_path / "r.xlsx").active.iter_rows()]
    assert rows[2][:14] == ["青泥村", "李明", 6, 1, 0, 0, 20, 5, 1, 0, 10, 5, 0, 0]
    assert format_problems((tmp_path / "r.docx").read_bytes()) == []


@pytest.mark.parametrize("counts, message", [
    (["好=7", "较好=1"], "超过了发出的票数"),
    (["优=3"], "应写成 等次=票数"),
])
def test_tally_refuses_what_cannot_be(cli, counts, message):
    rating_id = open_rating(cli)
    result = cli("rating", "tally", "--rating", rating_id, "--group", "党委班子成员", "--unit", "青泥村", *counts)
    assert result.exit_code != 0 and message in result.output


def test_slips_need_the_public_address_and_carry_every_code(cli, tmp_path, monkeypatch):
    rating_id = open_rating(cli)
    monkeypatch.delenv("PBFORMS_PUBLIC_URL", raising=False)
    refused = cli("rating", "slips", "--rating", rating_id, "-o", tmp_path / "s.docx")
    assert refused.exit_code != 0 and "PBFORMS_PUBLIC_URL" in refused.output

    monkeypatch.setenv("PBFORMS_PUBLIC_URL", "http://10.0.0.5:8000/")
    result = cli("rating", "slips", "--rating", rating_id, "-o", tmp_path / "s.docx")

    assert result.exit_code == 0, result.output
    assert BallotCode.select().count() == 57
    with zipfile.ZipFile(tmp_path / "s.docx") as package:
        assert len([n for n in package.namelist() if n.startswith("word/media/")]) == 57
        assert "http://10.0.0.5:8000/v" in package.read("word/document.xml").decode()
