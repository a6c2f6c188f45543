"""The office's side of a 述职评议 (pbforms/rating/views.py, documents.py):
opening it, the meeting page's turnout with no results before closing,
paper counts, quorum, the result files, 点评, publishing, each unit's own
result, and that nothing stored ties a code to a ballot."""
import io
import logging
import zipfile

import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image

from pbforms.db import db
from pbforms.ledger.models import LedgerEntry
from pbforms.models import AuditEvent, Unit
from pbforms.rating import logic
from pbforms.rating.models import BallotCode, Rating, code_digest
from tests.official_format import format_problems

from .fillpage import parse
from .rating_helpers import codes_by_group, demo_rating
from .test_access import FILLER_A, FILLER_B, header_token
from .test_rating_ballot import Phone, all_grades


@pytest.fixture
def rating(app):
    return demo_rating()


@pytest.fixture
def office(client, auth):
    auth.admin()
    client.token = header_token(client.get("/ratings").text)
    return client


def post(client, url, **form):
    return client.post(url, data={"csrf_token": client.token, **form})


def test_the_office_opens_a_rating_of_the_rounds_villages(office):
    round_id = str(office.get("/ratings").text.split('name="round"')[1].split('value="')[1].split('"')[0])
    response = post(office, "/ratings", round=round_id, title="2022年度述职评议",
                    groups="党委班子成员=7:40\n党员代表=30:40\n群众代表=20:20")

    assert response.status_code == 303
    rating = Rating.get(Rating.title == "2022年度述职评议")
    assert [g.name for g in rating.groups()] == ["党委班子成员", "党员代表", "群众代表"]
    assert "青泥镇" not in [r.unit.name for r in rating.rated_units()]  # the office is not rated
    assert len(rating.rated_units()) == 6
    assert rating.office.name == "青泥镇"


def test_the_county_rates_its_townships_and_each_office_sees_only_its_own_and_those_below(client, auth, rating):
    auth.county()
    token = header_token(client.get("/ratings").text)
    round_id = str(rating.round_id)
    response = client.post("/ratings", data={"csrf_token": token, "round": round_id, "title": "2022年度乡镇党委书记述职评议",
                                             "groups": "党委班子成员=7:40\n党员代表=30:40\n群众代表=20:20"})
    assert response.status_code == 303
    county_rating = Rating.get(Rating.title == "2022年度乡镇党委书记述职评议")
    assert county_rating.office.name == "青泥县"
    assert [r.unit.name for r in county_rating.rated_units()] == ["青泥镇", "白石镇"]
    assert client.get(f"/ratings/{rating.id}").status_code == 200  # 青泥镇's, below the county

    auth.admin()
    assert client.get(f"/ratings/{county_rating.id}").status_code == 404
    assert client.get(f"/ratings/{rating.id}").status_code == 200
    assert "乡镇党委书记述职评议" not in client.get("/ratings").text
    auth.login("baishizhen", "admin2022demo")
    assert client.get(f"/ratings/{rating.id}").status_code == 404
    assert client.get(f"/ratings/{county_rating.id}").status_code == 404


@pytest.mark.parametrize("groups, message", [
    ("党员代表=30:40\n群众代表=20:20", "各组权重之和应为 100%"),
    ("党员代表=3:100", "每组至少 5 张"),
    ("党员代表", "应写成 组名=票数:权重"),
])
def test_wrong_group_settings_are_refused_next_to_the_field(office, groups, message):
    response = post(office, "/ratings", round="1", title="评议", groups=groups)
    assert response.status_code == 422
    assert message in response.text
    assert groups.splitlines()[0] in response.text  # the typing is kept
    assert Rating.select().count() == 0


def test_the_meeting_page_shows_turnout_and_no_result_while_open(office, rating):
    codes = codes_by_group(rating)
    Phone(office.application).vote(codes["党员代表"][0], all_grades(rating, 0), {rating.rated_units()[0].id: "好"})

    page = office.get(f"/ratings/{rating.id}").text
    turnout = office.get(f"/ratings/{rating.id}/turnout", headers={"HX-Request": "true"})

    assert 'data-group="党员代表">1 / 30' in page
    assert 'hx-trigger="every 5s"' in page
    for shown_only_when_closed in ('id="result"', "测评结果", "<th>综合得分</th>", "<th>好评率</th>", "下载汇总表", "意见（"):
        assert shown_only_when_closed not in page
    assert 'data-group="党员代表">1 / 30' in turnout.text and "HX-Request" in turnout.headers["Vary"]
    assert "好评率" not in turnout.text


@pytest.mark.parametrize("extension", ["xlsx", "docx"])
def test_results_are_refused_before_closing(office, rating, extension):
    response = office.get(f"/ratings/{rating.id}/result.{extension}", follow_redirects=True)
    assert "评议结束后才能导出结果" in response.text
    assert response.mimetype == "text/html"


def vote_everyone(app, rating, plan):
    """`plan` {group: [(how many ballots, grade index for every unit)]}, cast through HTTP."""
    codes = codes_by_group(rating)
    for group, ballots in plan.items():
        spent = 0
        for count, grade in ballots:
            for code in codes[group][spent:spent + count]:
                assert "已提交" in Phone(app).vote(code, all_grades(rating, grade)).text
            spent += count
    return codes


def xlsx_rows(body):
    sheet = load_workbook(io.BytesIO(body)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_ballots_of_three_groups_give_exactly_those_counts_in_the_xlsx(app, office, rating):
    vote_everyone(app, rating, {"党委班子成员": [(5, 0), (1, 1)], "党员代表": [(15, 0), (4, 1), (1, 2)],
                                "群众代表": [(10, 1), (4, 2)]})
    post(office, f"/ratings/{rating.id}/close")

    response = office.get(f"/ratings/{rating.id}/result.xlsx")
    rows = xlsx_rows(response.data)

    heads = rows[1]
    assert heads[:6] == ["单位", "书记", "党委班子成员·好", "党委班子成员·较好", "党委班子成员·一般", "党委班子成员·差"]
    first = rows[2]
    assert first[0] == "青泥村"
    assert first[2:14] == [5, 1, 0, 0, 15, 4, 1, 0, 0, 10, 4, 0]
    assert first[14] == 40  # valid ballots
    assert first[15] == pytest.approx(35 / 40)
    # 0.4 × (5×100+80)/6 + 0.4 × (1500+320+60)/20 + 0.2 × (800+240)/14
    assert first[16] == pytest.approx(round(0.4 * 580 / 6 + 0.4 * 1880 / 20 + 0.2 * 1040 / 14, 2))
    assert first[17] == "好" and first[18] == 1
    assert len([r for r in rows if r[0] in {u.name for u in Unit.select()}]) >= 6
    book = load_workbook(io.BytesIO(response.data))
    assert len(book.active._charts) == 1
    assert book.active._charts[0].grouping == "percentStacked"


def test_a_group_below_quorum_is_marked_invalid(app, office, rating):
    vote_everyone(app, rating, {"党委班子成员": [(7, 0)], "党员代表": [(20, 1)], "群众代表": [(12, 3)]})
    post(office, f"/ratings/{rating.id}/close")

    page = office.get(f"/ratings/{rating.id}").text

    assert "群众代表：发出 20 张，收回 12 张，无效：收回 12 张，不足法定票数 14 张" in page
    result = rating.result()
    assert [ok for _, ok, _ in result.groups] == [True, True, False]
    # 群众代表's 差 count for nothing: 0.5 × 100 + 0.5 × 80
    assert result.units[0].score == 90.0 and result.units[0].level == "好"


def test_paper_counts_give_the_same_result_as_phones(app, office):
    online = demo_rating(groups=[("党员代表", 10, 100)], title="手机")
    paper = demo_rating(groups=[("党员代表", 10, 100)], title="纸质")
    vote_everyone(app, online, {"党员代表": [(6, 0), (2, 1), (1, 3)]})
    for rated in paper.rated_units():
        response = post(office, f"/ratings/{paper.id}/tally", group=str(paper.groups()[0].id), rated=str(rated.id),
                        **{"count-0": "6", "count-1": "2", "count-2": "0", "count-3": "1"})
        assert response.status_code == 303
    for r in (online, paper):
        post(office, f"/ratings/{r.id}/close")

    assert [u[3:] for u in online.result().units] == [u[3:] for u in paper.result().units]
    assert [g.returned for g, _, _ in paper.result().groups] == [9]


def test_paper_counts_beyond_the_ballots_issued_are_refused(office, rating):
    group, rated = rating.groups()[0], rating.rated_units()[0]
    page = post(office, f"/ratings/{rating.id}/tally", group=str(group.id), rated=str(rated.id),
                **{"count-0": "5", "count-1": "3"})
    assert "超过了发出的票数" in office.get(page.headers["Location"]).text
    assert rating.counts()[(group.id, rated.id, 0)] == 0


def test_settings_lock_once_the_first_ballot_is_in(app, office, rating):
    codes = codes_by_group(rating)
    Phone(app).vote(codes["党员代表"][0], all_grades(rating, 0))

    response = post(office, f"/ratings/{rating.id}/settings", title="改名", groups="党员代表=30:100",
                    unit=[str(r.unit_id) for r in rating.rated_units()])

    assert response.status_code == 422 and "设置已锁定" in response.text
    assert Rating.get_by_id(rating.id).title == rating.title
    refused = post(office, f"/ratings/{rating.id}/slips", kind="docx")
    assert "不能重新生成选票" in office.get(refused.headers["Location"]).text


def test_no_table_or_log_holds_a_code_next_to_a_grade_time_or_address(app, rating, caplog):
    caplog.set_level(logging.DEBUG)
    codes = codes_by_group(rating)
    used = [codes["党员代表"][0], codes["群众代表"][1]]
    for code in used:
        Phone(app).vote(code, all_grades(rating, 2), {rating.rated_units()[0].id: "工作扎实"})

    secrets_ = {c for c in used} | {code_digest(c) for c in used}
    holding = {}
    for table in db.get_tables():
        columns = [c.name for c in db.get_columns(table)]
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            if any(any(s in str(value) for s in secrets_) for value in row):
                holding.setdefault(table, set(columns))
    assert holding == {"ballot_code": {"digest", "rating_id", "group_id", "used"}}
    for table in ("ballot_count", "opinion", "ballot_code"):
        columns = {c.name for c in db.get_columns(table)}
        assert not {c for c in columns if c == "at" or c.endswith("_at") or "time" in c or "addr" in c}
    # The counts' ids were all given when the rating opened; an 意见's key is random, and it has no rowid.
    assert "id" not in {c.name for c in db.get_columns("opinion")}
    assert not any(s in caplog.text for s in secrets_)  # not even peewee's SQL log at DEBUG
    assert not any(e.action.startswith("rating") for e in AuditEvent.select())


def slip_codes(body):
    """The text of every QR code in a slips .docx."""
    found = []
    with zipfile.ZipFile(io.BytesIO(body)) as package:
        for name in sorted(package.namelist()):
            if name.startswith("word/media/"):
                found += [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(package.read(name))))]
    return found


def test_every_qr_code_on_the_slips_opens_the_ballot_with_its_code(app, office, rating, monkeypatch):
    monkeypatch.setenv("PBFORMS_PUBLIC_URL", "http://192.168.1.10:8000")
    response = post(office, f"/ratings/{rating.id}/slips", kind="docx")
    assert response.status_code == 200

    addresses = slip_codes(response.data)

    assert len(addresses) == 57 == BallotCode.select().count()
    assert all(a.startswith("http://192.168.1.10:8000/v#") for a in addresses)
    codes = [a.split("#")[1] for a in addresses]
    assert {code_digest(c) for c in codes} == {b.digest for b in BallotCode.select()}
    text = "".join(p for p in zipfile.ZipFile(io.BytesIO(response.data)).read("word/document.xml").decode().split())
    assert f"{codes[0][:5]}-{codes[0][5:]}" in text
    phone = Phone(app)
    assert phone.client.get(addresses[0].split(":8000")[1].split("#")[0]).status_code == 200
    assert "阅读述职报告" in phone.open(codes[0]).text
    assert "阅读述职报告" in Phone(app).open(codes[-1]).text


def test_the_slips_pdf_holds_every_code(app, office, rating, libreoffice, tmp_path):
    response = post(office, f"/ratings/{rating.id}/slips", kind="pdf")
    assert response.mimetype == "application/pdf"
    (tmp_path / "slips.pdf").write_bytes(response.data)
    import subprocess
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(tmp_path / "slips.pdf"), str(tmp_path / "page")], check=True)
    found = [r.text for page in sorted(tmp_path.glob("page*.png")) for r in zxingcpp.read_barcodes(Image.open(page))]
    assert len(found) == 57
    assert {code_digest(a.split("#")[1]) for a in found} == {b.digest for b in BallotCode.select()}


def test_the_word_result_is_official_format_with_the_remarks(app, office, rating):
    vote_everyone(app, rating, {"党委班子成员": [(7, 0)], "党员代表": [(20, 1)], "群众代表": [(14, 2)]})
    post(office, f"/ratings/{rating.id}/close")
    first = rating.rated_units()[0]
    post(office, f"/ratings/{rating.id}/remarks", **{f"remark-{first.id}": "抓党建责任落实到位，示范带动作用明显。"})

    body = office.get(f"/ratings/{rating.id}/result.docx").data

    assert format_problems(body) == []
    text = "\n".join(p for p in zipfile.ZipFile(io.BytesIO(body)).read("word/document.xml").decode().split("<"))
    assert "抓党建责任落实到位" in text and "测评结果汇总表" in text and "计分规则" in text


def test_after_publishing_each_unit_sees_its_own_result_only(app, office, rating, auth):
    units = {r.unit.name: r for r in rating.rated_units()}
    codes = codes_by_group(rating)
    for code in codes["党员代表"][:20]:
        Phone(app).vote(code, all_grades(rating, 0), {units["青泥村"].id: "青泥村意见", units["柳湾村"].id: "柳湾村意见"})
    post(office, f"/ratings/{rating.id}/close")
    post(office, f"/ratings/{rating.id}/remarks", **{f"remark-{units['青泥村'].id}": "青泥村点评",
                                                    f"remark-{units['柳湾村'].id}": "柳湾村点评"})
    auth.logout()
    auth.login(FILLER_A)
    assert "青泥村点评" not in auth.client.get("/ratings/mine").text  # not published yet
    auth.logout()
    auth.admin()
    office.token = header_token(office.get("/ratings").text)
    assert post(office, f"/ratings/{rating.id}/publish").status_code == 303
    auth.logout()

    auth.login(FILLER_A)
    mine = auth.client.get("/ratings/mine").text
    auth.logout()
    auth.login(FILLER_B)
    theirs = auth.client.get("/ratings/mine").text

    assert "青泥村点评" in mine and "青泥村意见" in mine and "柳湾村" not in mine
    assert "柳湾村点评" in theirs and "柳湾村意见" in theirs and "青泥村" not in theirs
    assert "等次" in mine


def settings_form(rating, **changes):
    return {"title": rating.title, "groups": "党员代表=10:100",
            "unit": [str(r.unit_id) for r in rating.rated_units()], **logic.rules_texts(rating.rules), **changes}


def test_the_office_sets_other_grades_and_the_ballot_offers_them(app, office, rating):
    response = post(office, f"/ratings/{rating.id}/settings",
                    **settings_form(rating, grades="优秀=100 合格=70 不合格=0", levels="优秀=85 合格=60"))
    assert response.status_code == 303
    rating = Rating.get_by_id(rating.id)
    codes = codes_by_group(rating)

    page = Phone(app).open(codes["党员代表"][0]).text

    assert rating.grades == ["优秀", "合格", "不合格"]
    assert "优秀" in page and "合格" in page and "较好" not in page
    assert "90 分及以上为好" not in "".join(rating.result().rule_lines)


def test_wrong_rules_are_refused_on_the_page_with_the_typing_kept(office, rating):
    response = post(office, f"/ratings/{rating.id}/settings", **settings_form(rating, levels="好=90 较好=95 一般=60"))
    assert response.status_code == 422
    assert "最低得分应逐个降低" in response.text
    assert 'value="好=90 较好=95 一般=60"' in response.text
    assert Rating.get_by_id(rating.id).rules == rating.rules


def test_settings_may_leave_units_out_before_the_first_ballot(office, rating):
    keep = rating.rated_units()[:2]
    post(office, f"/ratings/{rating.id}/settings", **settings_form(rating, unit=[str(r.unit_id) for r in keep]))
    assert [r.unit_id for r in Rating.get_by_id(rating.id).rated_units()] == [r.unit_id for r in keep]


def ledger_forms(page):
    """(unit, what the button lists, the form's fields) of each 列入整改台账 form on the meeting page."""
    return [(form.xpath("string(preceding-sibling::h3[1])"), form.xpath("string(span)"),
             {i.get("name"): i.get("value") for i in form.xpath(".//input")})
            for form in parse(page).xpath("//section[@id='ledger']//form")]


def test_the_office_lists_a_remark_and_an_opinion_in_the_units_ledger(app, office, rating, auth):
    qingni = next(r for r in rating.rated_units() if r.unit.name == "青泥村")
    code = codes_by_group(rating)["党员代表"][0]
    Phone(app).vote(code, all_grades(rating, 1), {qingni.id: "村务公开不及时。"})
    url = f"/ledger/from-rating/{qingni.id}"
    refused = office.post(url, data={"csrf_token": office.token, "source": "remark", "problem": "过早。"},
                          follow_redirects=True)
    assert "评议结束后才能把点评和意见列入整改台账" in refused.text
    post(office, f"/ratings/{rating.id}/close")
    post(office, f"/ratings/{rating.id}/remarks", **{f"remark-{qingni.id}": "组织生活不规范。"})

    forms = ledger_forms(office.get(f"/ratings/{rating.id}").text)
    assert [(unit, text) for unit, text, _ in forms] == [("青泥村", "点评：组织生活不规范。"), ("青泥村", "意见：村务公开不及时。")]
    for _, _, fields in forms:
        response = office.post(url, data=fields)
        assert response.status_code == 303 and response.headers["Location"].endswith(f"/ratings/{rating.id}#ledger")
    empty = office.post(url, data={"csrf_token": office.token, "source": "opinion", "problem": " "}, follow_redirects=True)
    assert "请填写问题" in empty.text

    entries = list(LedgerEntry.select().where(LedgerEntry.unit == qingni.unit_id).order_by(LedgerEntry.id))
    assert [(e.problem, e.round_id) for e in entries] == [("组织生活不规范。", rating.round_id), ("村务公开不及时。", rating.round_id)]
    history = parse(office.get(f"/ledger/entries/{entries[1].id}").text)
    event = " ".join(history.xpath("string(//tbody/tr)").split())
    assert "列入台账" in event and f"{rating.title}与会人员意见" in event and code not in event
    auth.logout()
    auth.login(FILLER_A)
    ledger = parse(auth.client.get("/ledger/").text)
    assert [h.text for h in ledger.xpath("//section[contains(@class, 'ledger-entry')]/h2")][-2:] == [
        "组织生活不规范。", "村务公开不及时。"]
