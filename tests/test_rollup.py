"""The roll-up of a county's round: summaries per township (its villages
and its subtotal) and for the county (each township's total and the
county's), from the board and from `round summary --under`."""
import datetime
import io
import re
import zipfile

import pytest
import lxml.html
from docx import Document
from openpyxl import load_workbook

from pbforms import demo
from pbforms.models import Report, ReportTypeRecord, Round, Unit, User
from tests.test_township import put_in_state

TOWNSHIPS = {"青泥镇": ["青泥村", "柳湾村", "石桥村", "东坡村", "河西村", "新华社区"],
             "白石镇": ["白石村", "松林村", "杏花社区"]}


@pytest.fixture
def round_(app):
    """The demo round, every village's figures filled, each unit's different (so sums tell units apart)."""
    for number, report in enumerate(r for r in Report.in_round(Round.get()) if r.unit.kind != "township"):
        counts = report.report_type.counts
        filler = User.get(User.unit == report.unit)
        report.save_data({**report.data, **{f.key: 10 * number + i + 1 for i, f in enumerate(counts)}},
                         filler, report.version)
    return Round.get()


def village_figures(round_, names):
    """{figure label: sum over the named units' reports}."""
    sums = {}
    for report in Report.in_round(round_):
        if report.unit.name in names:
            for f in report.report_type.counts:
                sums[f.label] = sums.get(f.label, 0) + (report.data.get(f.key) or 0)
    return sums


def value(sheet, cell):
    """A cell as a spreadsheet computes it: a number, =SUM(C2:C7), or =C8+C12."""
    text = cell.value
    if not isinstance(text, str) or not text.startswith("="):
        return text
    if match := re.fullmatch(r"=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", text):
        assert match[1] == match[3] == cell.column_letter, text
        return sum(value(sheet, sheet[f"{match[1]}{row}"]) or 0 for row in range(int(match[2]), int(match[4]) + 1))
    assert re.fullmatch(r"=[A-Z]+\d+(\+[A-Z]+\d+)*", text), text
    return sum(value(sheet, sheet[ref]) or 0 for ref in text[1:].split("+"))


def sheet_rows(response):
    """{first column: {figure label: value}} of a summary .xlsx, and the names in order."""
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.data)).active
    labels = [c.value.rsplit("（", 1)[0] for c in sheet[1][2:]]
    rows = {}
    for row in sheet.iter_rows(min_row=2):
        rows[row[0].value] = {label: value(sheet, cell) for label, cell in zip(labels, row[2:])}
    return rows, [row[0].value for row in sheet.iter_rows(min_row=2)], labels


def summary_url(round_, extension="xlsx", **args):
    village = ReportTypeRecord.by_builtin("village_report").id
    query = "&".join(f"{k}={v}" for k, v in {"scope": "", "type": village, **args}.items())
    return f"/township/rounds/{round_.id}/summary.{extension}?{query}"


def test_the_county_summary_lists_each_township_with_its_subtotal_and_the_county_total(client, auth, round_):
    auth.login("county", demo.ADMIN[1])
    rows, names, labels = sheet_rows(client.get(summary_url(round_)))
    assert names == ["青泥镇", "白石镇", "合计（9个单位）"]
    every_village = village_figures(round_, [v for villages in TOWNSHIPS.values() for v in villages])
    for township, villages in TOWNSHIPS.items():
        assert rows[township] == village_figures(round_, villages)
    assert rows["合计（9个单位）"] == every_village
    assert set(labels) == set(every_village) and all(every_village.values())


def test_the_county_summary_by_village_lists_each_township_s_villages_above_its_subtotal(client, auth, round_):
    auth.login("county", demo.ADMIN[1])
    rows, names, _ = sheet_rows(client.get(summary_url(round_, by="unit")))
    assert names == [*TOWNSHIPS["青泥镇"], "青泥镇", *TOWNSHIPS["白石镇"], "白石镇", "合计（9个单位）"]
    for township, villages in TOWNSHIPS.items():
        assert rows[township] == village_figures(round_, villages)
        for village in villages:
            assert rows[village] == village_figures(round_, [village])
    assert rows["合计（9个单位）"] == village_figures(round_, sum(TOWNSHIPS.values(), []))


def test_a_township_s_summary_stays_its_villages_and_their_total(client, auth, round_):
    auth.admin()
    rows, names, _ = sheet_rows(client.get(summary_url(round_)))
    assert names == [*TOWNSHIPS["青泥镇"], "合计（6个单位）"]
    assert rows["合计（6个单位）"] == village_figures(round_, TOWNSHIPS["青泥镇"])


def test_the_county_may_summarise_one_township_and_the_other_township_may_not(client, auth, round_):
    baishi = Unit.get(Unit.name == "白石镇")
    auth.login("county", demo.ADMIN[1])
    rows, names, _ = sheet_rows(client.get(summary_url(round_, under=baishi.id)))
    assert names == [*TOWNSHIPS["白石镇"], "合计（3个单位）"]
    auth.logout()
    auth.admin()
    assert client.get(summary_url(round_, under=baishi.id)).status_code == 404


def test_the_county_s_word_summary_has_a_row_per_township_and_the_total(client, auth, round_):
    auth.login("county", demo.ADMIN[1])
    response = client.get(summary_url(round_, "docx"))
    table = Document(io.BytesIO(response.data)).tables[0]
    names = [row.cells[0].text for row in table.rows]
    assert names[-3:] == ["青泥镇", "白石镇", "合计（9个单位）"]
    total = village_figures(round_, sum(TOWNSHIPS.values(), []))
    assert table.rows[-1].cells[2].text == str(total[next(iter(total))])


@pytest.mark.parametrize("under, expected", [
    ([], ["青泥镇", "白石镇", "合计（9个单位）"]),
    (["--under", "白石镇"], [*TOWNSHIPS["白石镇"], "合计（3个单位）"]),
    (["--under", "青泥镇", "--by-unit"], [*TOWNSHIPS["青泥镇"], "合计（6个单位）"]),
    (["--by-unit"], [*TOWNSHIPS["青泥镇"], "青泥镇", *TOWNSHIPS["白石镇"], "白石镇", "合计（9个单位）"]),
])
def test_round_summary_covers_the_unit_asked_for(app, round_, tmp_path, under, expected):
    out = tmp_path / "汇总.xlsx"
    village = ReportTypeRecord.by_builtin("village_report").id
    result = app.test_cli_runner().invoke(args=["round", "summary", "--round", str(round_.id), "-o", str(out),
                                                "--type", str(village), *under])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == expected


@pytest.mark.parametrize("command", ["summary", "export-zip", "compile"])
@pytest.mark.parametrize("name, message", [("不存在镇", "找不到名为“不存在镇”的单位")])
def test_round_commands_explain_an_unknown_unit(app, round_, tmp_path, command, name, message):
    out = tmp_path / ("汇总.xlsx" if command == "summary" else "报告.zip" if command == "export-zip" else "汇编.docx")
    chosen_type = ["--type", str(ReportTypeRecord.by_builtin("village_report").id)] if command == "summary" else []
    result = app.test_cli_runner().invoke(args=["round", command, "--round", str(round_.id), "-o", str(out),
                                                "--under", name, *chosen_type])
    assert result.exit_code != 0 and message in result.output
    assert not out.exists()


def zip_of_the_cli(app, round_, tmp_path, *under):
    out = tmp_path / "报告.zip"
    result = app.test_cli_runner().invoke(args=["round", "export-zip", "--round", str(round_.id), "-o", str(out), *under])
    assert result.exit_code == 0, result.output
    return zipfile.ZipFile(out).namelist()


@pytest.mark.parametrize("under, expected", [
    ([], {"青泥镇": 7, "白石镇": 4}),  # each township's own report and its villages'
    (["--under", "白石镇"], {"": 4}),
])
def test_the_county_s_zip_has_a_folder_per_township(app, round_, tmp_path, under, expected):
    names = zip_of_the_cli(app, round_, tmp_path, *under)
    assert {folder: sum(1 for n in names if (n.rsplit("/", 1)[0] if "/" in n else "") == folder)
            for folder in expected} == expected
    assert len(names) == sum(expected.values())
    assert any("白石村" in n for n in names)
    if under:
        assert not any("青泥村" in n for n in names)


# --- the county's board -------------------------------------------------------

def board_of(client, round_, **args):
    response = client.get(f"/township/rounds/{round_.id}", query_string=args)
    assert response.status_code == 200, response.text
    return lxml.html.fromstring(response.text)


def part_rows(page):
    return {row.xpath("string(td[1])"): [" ".join(row.xpath("string(td[%d])" % i).split()) for i in (2, 3, 4)]
            for row in page.xpath("//table[contains(@class, 'board-parts')]/tbody/tr")}


def test_the_county_s_board_shows_each_township_s_report_and_its_villages_progress(client, auth, round_):
    put_in_state("青泥镇", "submitted")
    put_in_state("白石村", "submitted")
    auth.login("county", demo.ADMIN[1])
    page = board_of(client, round_)
    rows = part_rows(page)
    assert list(rows) == ["青泥镇", "白石镇"]
    assert rows["青泥镇"][0].startswith("已提交") and "审核" in rows["青泥镇"][0]
    assert rows["青泥镇"][1] == "共6个：草稿6"
    assert rows["白石镇"][0].startswith("未开始")
    assert rows["白石镇"][1] == "共3个：已提交1，草稿2"
    assert not page.xpath("//table[contains(@class, 'list board')]//td[text()='青泥村']")  # no village rows


def test_the_county_s_board_counts_each_township_s_overdue_units(client, auth, round_):
    auth.login("county", demo.ADMIN[1])
    Round.update(deadline=datetime.date.today() - datetime.timedelta(days=1)).execute()
    rows = part_rows(board_of(client, round_))
    assert [rows["青泥镇"][2], rows["白石镇"][2]] == ["6", "3"]


def test_the_county_goes_down_into_a_township_and_its_office_into_no_other(client, auth, round_):
    baishi = Unit.get(Unit.name == "白石镇")
    auth.login("county", demo.ADMIN[1])
    page = board_of(client, round_)
    link = page.xpath("//tr[@id='part-%d']//a[text()='查看所辖单位']/@href" % baishi.id)[0]
    down = lxml.html.fromstring(client.get(link).text)
    assert [" ".join(td.text_content().split()) for td in down.xpath("//table[@class='list board']/tbody/tr/td[1]")] \
        == ["白石镇", *TOWNSHIPS["白石镇"]]
    assert not down.xpath("//table[contains(@class, 'board-parts')]")
    assert down.xpath("//input[@name='under']/@value") == [str(baishi.id)] * 3  # zip, 汇编, summary
    auth.logout()
    auth.admin()
    assert client.get(link).status_code == 404
    assert not board_of(client, round_).xpath("//table[contains(@class, 'board-parts')]")


def test_a_status_filter_on_the_county_s_board_lists_the_matching_units_of_every_township(client, auth, round_):
    put_in_state("白石村", "submitted")
    put_in_state("青泥村", "submitted")
    auth.login("county", demo.ADMIN[1])
    page = board_of(client, round_, status="submitted")
    assert [td.text_content().strip() for td in page.xpath("//table[@class='list board']/tbody/tr/td[1]")] \
        == ["青泥村", "白石村"]


def listed_units(page):
    return [td.text_content().split()[0] for td in page.xpath("//table[@class='list board']/tbody/tr[@id]/td[1]")]


@pytest.mark.parametrize("office", ["county", demo.ADMIN[0]])
@pytest.mark.parametrize("past_deadline", [False, True])
@pytest.mark.parametrize("status", ["approved", "submitted", "returned", "draft", "not_started", "overdue"])
def test_each_status_filter_lists_the_units_whose_report_shows_that_progress(client, auth, round_, office,
                                                                             past_deadline, status):
    """The database filters; what it lists is what each report's own status says."""
    handed_in = {"submitted": "白石村", "returned": "青泥村", "approved": "柳湾村"}
    for progress, unit in handed_in.items():
        put_in_state(unit, progress)
    if past_deadline:
        Round.update(deadline=datetime.date.today() - datetime.timedelta(days=1)).execute()
    auth.login(office, demo.ADMIN[1])
    shown = listed_units(board_of(client, round_, status=status))
    round_ = Round.get()
    part = Unit.get(Unit.id == User.by_username(office).unit_id)
    expected = [r.unit.name for r in Report.in_round(round_, part)
                if r.progress == status or status == "overdue" and r.is_overdue]
    assert shown == expected
    if office == "county" and status in handed_in:
        assert shown == [handed_in[status]]
    if office == "county" and status == "not_started":
        assert "白石镇" in shown  # its office has not touched its own report
    if status == "overdue":
        assert bool(shown) == past_deadline


def test_the_county_s_board_asks_as_many_queries_for_many_villages_as_for_a_few(client, auth, round_, monkeypatch):
    from tests.test_board_queries import board_queries
    auth.login("county", demo.ADMIN[1])
    few, page = board_queries(client, round_, monkeypatch)
    assert "共11个单位" in page
    for township in Unit.select().where(Unit.kind == "township"):
        for n in range(30):
            round_.include(Unit.add(parent=township, name=f"{township.name}新村{n}", kind="village",
                                    secretary_title="党支部书记"))
    many, page = board_queries(client, round_, monkeypatch)
    assert "共71个单位" in page
    assert many == few


# --- the 汇编 ---------------------------------------------------------------------

def toc_entries(path):
    """(style, text) of each line of the 目录, and the TC fields' (text, level) in the body."""
    document = Document(path)
    entries = []
    for paragraph in document.paragraphs:
        if paragraph.style.style_id in ("TOC1", "TOC2"):
            entries.append((paragraph.style.style_id, paragraph.text.strip()))
    xml = document.element.xml
    fields = re.findall(r' TC "([^"]*)" \\l (\d) ', xml)
    return entries, fields


def compile_cli(app, round_, tmp_path, *under):
    out = tmp_path / "汇编.docx"
    result = app.test_cli_runner().invoke(args=["round", "compile", "--round", str(round_.id), "-o", str(out), *under])
    assert result.exit_code == 0, result.output
    return out


def test_the_county_s_volume_lists_each_township_with_its_reports_in_the_toc(app, round_, tmp_path):
    # A village added to 青泥镇 after 白石镇's came: still listed under 青泥镇.
    qingni = Unit.get(Unit.name == "青泥镇")
    round_.include(Unit.add(parent=qingni, name="后来村", kind="village", secretary_title="党支部书记"))
    entries, fields = toc_entries(compile_cli(app, round_, tmp_path))
    assert [text for style, text in entries if style == "TOC1"] == ["青泥镇", "白石镇"]
    styles = [style for style, _ in entries]
    assert styles == ["TOC1"] + ["TOC2"] * 8 + ["TOC1"] + ["TOC2"] * 4
    under_qingni = [text for _, text in entries[1:9]]
    assert any("后来村" in t for t in under_qingni) and any("青泥镇党委书记" in t for t in under_qingni)
    assert all("白石" not in t and "松林" not in t and "杏花" not in t for t in under_qingni)
    assert [f for f in fields if f[1] == "1"] == [("青泥镇", "1"), ("白石镇", "1")]
    assert sum(1 for f in fields if f[1] == "2") == 12
    assert "青泥县" in [p.text for p in Document(tmp_path / "汇编.docx").paragraphs]  # on the cover


def test_a_township_s_volume_keeps_one_level_in_its_toc(app, round_, tmp_path):
    entries, fields = toc_entries(compile_cli(app, round_, tmp_path, "--under", "白石镇"))
    assert [style for style, _ in entries] == ["TOC1"] * 4
    assert {level for _, level in fields} == {"1"}
    assert "白石村" in " ".join(text for _, text in entries)


def test_the_county_s_zip_from_the_board_has_a_folder_per_township(client, auth, round_):
    from tests.test_exports import finished_job, job_id_in
    auth.login("county", demo.ADMIN[1])
    started = client.post(f"/township/rounds/{round_.id}/zip", data={"scope": ""},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    link = lxml.html.fromstring(finished_job(client, job_id_in(started.text)).text).xpath("//a[@download]")[0]
    names = zipfile.ZipFile(io.BytesIO(client.get(link.get("href")).data)).namelist()
    assert sorted({n.split("/")[0] for n in names}) == sorted(TOWNSHIPS)
    assert len([n for n in names if n.startswith("白石镇/")]) == 4  # 白石镇's own report and its villages'


# --- exports from a township's board the county went down into ----------------------

def submitted_form(client, auth, form, button=None):
    """What the browser posts for `form` of a board page: its fields as the page set them."""
    data = {field.name: field.value for field in form.xpath(".//input[@type='hidden'] | .//select")}
    data.update({"scope": "", **({button.get("name"): button.get("value")} if button is not None else {})})
    return client.post(form.get("action"), data=data, headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})


def downloaded(client, started):
    from tests.test_exports import finished_job, job_id_in
    link = lxml.html.fromstring(finished_job(client, job_id_in(started.text)).text).xpath("//a[@download]")[0]
    return client.get(link.get("href")).data


def test_the_zip_from_a_township_s_board_holds_only_that_township_s_reports(client, auth, round_):
    baishi = Unit.get(Unit.name == "白石镇")
    auth.login("county", demo.ADMIN[1])
    down = board_of(client, round_, under=baishi.id)
    form = down.xpath("//form[contains(@action, '/zip')]")[0]

    names = zipfile.ZipFile(io.BytesIO(downloaded(client, submitted_form(client, auth, form)))).namelist()

    assert "白石镇" in form.text_content()
    assert len(names) == 4 and all("/" not in n for n in names)  # 白石镇's own report and its 3 villages'
    assert any("白石村" in n for n in names) and not any("青泥" in n for n in names)


def test_the_volume_from_a_township_s_board_holds_only_that_township_s_reports(client, auth, round_, tmp_path):
    baishi = Unit.get(Unit.name == "白石镇")
    auth.login("county", demo.ADMIN[1])
    form = board_of(client, round_, under=baishi.id).xpath("//form[contains(@action, '/volume')]")[0]

    volume = tmp_path / "汇编.docx"
    word = form.xpath(".//button[@value='docx']")[0]
    volume.write_bytes(downloaded(client, submitted_form(client, auth, form, word)))
    entries, _ = toc_entries(volume)
    listed = " ".join(text for _, text in entries)

    assert len(entries) == 4 and {style for style, _ in entries} == {"TOC1"}
    assert "白石村" in listed and "青泥" not in listed
    assert "白石镇" in [p.text for p in Document(volume).paragraphs]  # on the cover


@pytest.mark.parametrize("export", ["zip", "volume"])
def test_a_township_office_may_not_export_the_other_township_s_part(client, auth, round_, export):
    baishi = Unit.get(Unit.name == "白石镇")
    auth.admin()
    refused = client.post(f"/township/rounds/{round_.id}/{export}", data={"scope": "", "under": baishi.id},
                          headers={"X-CSRFToken": auth.csrf_token(), "HX-Request": "true"})
    assert refused.status_code == 404
    assert not client.get(f"/township/rounds/{round_.id}").text.count('name="under"')  # its own board: no `under`


# --- a round opened by the office above -----------------------------------------------

CHANGES = ["/deadline", "/status", "/types"]  # the routes only the round's own office is answered by


def round_controls(page):
    """The addresses the page's forms and links send the office to about rounds."""
    return page.xpath("//form/@action | //a/@href")


@pytest.mark.parametrize("office, changes, opener", [
    ("county", True, None),
    (demo.ADMIN[0], False, "本轮由青泥县（县委组织部）开启"),
])
def test_the_board_offers_only_what_the_server_allows_the_office(client, auth, round_, office, changes, opener):
    Round.update(deadline=datetime.date.today() + datetime.timedelta(days=9)).execute()
    auth.login(office, demo.ADMIN[1])
    page = board_of(client, round_)
    controls = round_controls(page)
    text = " ".join(page.text_content().split())

    for change in CHANGES[:2]:
        assert any(c.endswith(f"/rounds/{round_.id}{change}") for c in controls) == changes
    assert ("结束填报" in [b.text for b in page.xpath("//button")]) == changes
    assert bool(page.xpath("//input[@name='deadline']")) == changes
    assert (opener in text) if opener else "开启，截止日期" not in text
    for control in controls:  # every control left is answered
        if f"/rounds/{round_.id}/" in control and not control.endswith(("/zip", "/volume")):
            method = client.post if page.xpath(f"//form[@action='{control}'][@method='post']") else client.get
            answer = method(control, data={"text": "请按时提交。"}, headers={"X-CSRFToken": auth.csrf_token()})
            assert answer.status_code != 404, control
    if not changes:
        for change in CHANGES:
            assert client.post(f"/township/rounds/{round_.id}{change}", data={"deadline": "2099-01-01", "open": "0"},
                               headers={"X-CSRFToken": auth.csrf_token()}).status_code == 404


@pytest.mark.parametrize("office, changes", [("county", True), (demo.ADMIN[0], False)])
def test_the_rounds_list_offers_to_close_only_the_office_s_own_rounds(client, auth, round_, office, changes):
    auth.login(office, demo.ADMIN[1])
    page = lxml.html.fromstring(client.get("/township/rounds").text)
    row = page.xpath("//table[contains(@class, 'list')]/tbody/tr")[0]
    assert bool(row.xpath(".//button[text()='结束填报']")) == changes
    assert ("由青泥县（县委组织部）开启" in row.text_content()) != changes
