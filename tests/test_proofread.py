"""The 公文 proof-reader: findings beside each field on every save, one-click
fixes where the fix is certain, the same findings on the review page, a
count per report on the board, and `flask report check`."""
import re
from collections import Counter

import pytest

from pbforms.db import db
from pbforms.forms import builtin_type
from pbforms.models import Report, Round, RoundType, Unit
from pbforms.text import proofread

from .fillpage import FillPage, one, parse, report_of

TOWNSHIP = "青泥镇"


def literal_seed(report_type, data):
    """The seed's text as typed, numbers in the sentences instead of references."""
    figures = report_type.figures(data)
    spell = lambda text: re.sub("⟦([^⟧]+)⟧", lambda m: figures[m.group(1)], text)  # noqa: E731
    out = dict(data)
    for f in report_type.fields:
        if f.kind == "paragraphs":
            out[f.key] = spell(data[f.key])
        elif f.kind == "items":
            out[f.key] = [{"heading": item["heading"], "text": spell(item["text"])} for item in data[f.key]]
    return out


# The seed's two figures its writer left as ** (empty in the demo).
UNFILLED = {"member_files_checked": "排查十八大以来农村发展党员档案", "service_centers_up_to_standard": "达标党群服务中心"}


@pytest.fixture
def seed_township(client, auth):
    """The township's report as the demo has it: the seed, two figures empty."""
    auth.login("qingnizhen")
    return FillPage(client, report_of(TOWNSHIP).id)


@pytest.fixture
def township(seed_township):
    """The township's report with every figure filled in."""
    seed_township.post({"member_files_checked": "30", "service_centers_up_to_standard": "12"})
    return seed_township


def stored(report_id):
    with db.connection_context():
        return Report.get_by_id(report_id)


def findings_on_page(html):
    """(field container id, rule id, text) of each finding the page shows."""
    tree = parse(html)
    return [(li.xpath("ancestor::div[starts-with(@id, 'findings-')]")[0].get("id")[len("findings-"):],
             li.get("data-rule"), " ".join(li.text_content().split()))
            for li in tree.xpath("//li[contains(@class, 'finding')]")]


def test_the_seed_as_typed_has_no_finding_but_its_two_unfilled_figures(app, seed_township):
    report = stored(seed_township.report_id)
    with db.connection_context():
        report.save_data(literal_seed(report.report_type, report.data), None, report.version)
    run = app.test_cli_runner()

    result = run.invoke(args=["report", "check", "--report", str(seed_township.report_id)])

    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    # The ** typed in the text, and the two empty figures, which print as ** under 主要数据.
    assert [line.split("\t") for line in lines[:2]] == [
        [label, "数字未填", f"主要数据：{label}**{unit}", "数字未填，打印为 **"]
        for label, unit in (("排查十八大以来农村发展党员档案", "份"), ("达标党群服务中心", "个"))]
    assert [line.split("\t")[:2] for line in lines[2:]] == [["履职情况（第3条内容）", "未填写的占位符"],
                                                             ["履职情况（第4条内容）", "未填写的占位符"]]
    assert "档案**份" in lines[2] and "现全镇**个党群服务中心" in lines[3]


def test_the_seed_names_each_figure_it_prints_as_stars(app, seed_township):
    result = app.test_cli_runner().invoke(args=["report", "check", "--report", str(seed_township.report_id)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "履职情况（第3条内容）\t数字未填\t…以来农村发展党员档案**份。二是持续推进抓党…"
        "\t“排查十八大以来农村发展党员档案”数字未填，打印为 **",
        "履职情况（第4条内容）\t数字未填\t…务群众主阵地，现全镇**个党群服务中心均已达…"
        "\t“达标党群服务中心”数字未填，打印为 **"]
    shown = findings_on_page(seed_township.html())
    assert [(key, rule) for key, rule, _ in shown] == [("duties", "empty_figure"), ("duties", "empty_figure")]
    assert "档案**份" in shown[0][2] and "“排查十八大以来农村发展党员档案”数字未填，打印为 **" in shown[0][2]


@pytest.mark.parametrize("key", UNFILLED)
def test_an_empty_figure_no_text_refers_to_is_named_where_it_prints(client, township, key):
    """A figure no text states prints in 主要数据: ** while empty."""
    report = stored(township.report_id)
    unreferenced = [{**item, "text": item["text"].replace(f"⟦{UNFILLED[key]}⟧", "若干")}
                    for item in report.data["duties"]]
    township.post({key: "", **{f"duties-{i}-text": item["text"] for i, item in enumerate(unreferenced)}})

    shown = findings_on_page(township.html())

    assert [(k, rule) for k, rule, _ in shown] == [(key, "empty_figure")]
    assert f"主要数据：{UNFILLED[key]}**" in shown[0][2] and "数字未填，打印为 **" in shown[0][2]


def test_the_seed_with_its_figures_referred_to_has_no_finding(app, township):
    result = app.test_cli_runner().invoke(args=["report", "check", "--report", str(township.report_id)])

    assert result.exit_code == 0
    assert result.stdout.strip() == "没有发现问题"
    assert findings_on_page(township.html()) == []


# One error planted for each rule: (form field, original text, planted text,
# the text after the one-click fix, or None where no fix is certain).
PLANTS = {
    "half_width": ("intro", "精心指导下，我", "精心指导下,我", "精心指导下，我"),
    "straight_quotes": ("intro", "深刻领会“两个确立”", '深刻领会"两个确立"', "深刻领会“两个确立”"),
    "year": ("intro", "2022年，在县委", "22年，在县委", "2022年，在县委"),
    "zero_date": ("intro", "现就抓基层党建", "2023年01月06日，现就抓基层党建", "2023年1月6日，现就抓基层党建"),
    "space": ("duties-0-text", "组织生活会、民主", "组织 生活会、民主", "组织生活会、民主"),
    "doubled": ("duties-1-text", "强化主体责任意识。", "强化主体责任意识。。", "强化主体责任意识。"),
    "figure": ("duties-2-text", "先后召开党委会议⟦党委会议⟧次", "先后召开党委会议10次", "先后召开党委会议⟦党委会议⟧次"),
    "unpaired": ("plans-0-text", "切实增强“四个意识”，坚定", "切实增强“四个意识，坚定", None),
    "placeholder": ("plans-1-text", "要培育好社区志愿服务队伍", "要培育好XX志愿服务队伍", None),
    "full_width_digits": ("plans-2-text", "真正做到按制度规范办事", "真正做到按３项制度规范办事", "真正做到按3项制度规范办事"),
    "dots_dashes": ("plans-2-text", "唯旗是夺的浓厚氛围。", "唯旗是夺的浓厚氛围...", "唯旗是夺的浓厚氛围……"),
}


def last_year_with(report_id, data):
    """A 2021 round in which the unit's report holds `data`."""
    report = stored(report_id)
    with db.connection_context():
        earlier = Round.create(title="2021年度抓基层党建工作述职", year=2021, status="closed")
        RoundType.insert_many([{"round": earlier, "kind": kind, "type_version": report.type_version_id}
                               for kind in Unit.KINDS]).execute()
        Report.create(round=earlier, unit=report.unit, type_version=report.type_version_id, data=data, version=1,
                      status="approved")


def planted(form):
    changes = {}
    for rule, (name, original, wrong, _) in PLANTS.items():
        text = changes.get(name, form[name])
        assert text.count(original) == 1, (rule, original)
        changes[name] = text.replace(original, wrong)
    # The repeated paragraph: the 4th item's text twice.
    changes["duties-3-text"] = form["duties-3-text"] + "\n" + form["duties-3-text"]
    return changes


def click_fix(client, page, rule):
    html = page.html()
    tree = parse(html)
    button = one(tree, f"//li[@data-rule='{rule}']//button[@name='fix']")
    data = dict(tree.get_element_by_id("report-form").form_values())
    data.pop("csrf_token")
    data["fix"] = button.get("value")
    return client.post(button.get("formaction"), data=data, headers={"HX-Request": "true", "HX-Trigger-Name": "fix", **page.csrf_header(html)})


def test_each_planted_error_is_flagged_once_and_each_certain_fix_changes_only_its_text(client, township):
    form = township.form()
    report = stored(township.report_id)
    last_year_with(township.report_id, {**report.data, "plans": report.data["plans"]})
    changes = planted(form)

    saved = township.post(changes)

    assert saved.status_code == 200
    assert 'id="findings-intro"' in saved.text  # the autosave's answer brings the findings
    shown = findings_on_page(township.html())
    rules = Counter(rule for _, rule, _ in shown)
    expected_rules = set(PLANTS) | {"repeated", "same_as_last_year"}
    assert rules == Counter({rule: 1 for rule in expected_rules}), shown
    by_rule = {rule: (key, text) for key, rule, text in shown}
    assert by_rule["figure"][0] == "duties"
    assert by_rule["figure"][1].count("改为引用数字") == 1  # the button's label, said once
    assert "“党委会议”填的是 12次，这里写的是 10 原句：" in by_rule["figure"][1]
    assert by_rule["same_as_last_year"][0] == "problems" and "与去年相同" in by_rule["same_as_last_year"][1]
    assert "精心指导下,我" in by_rule["half_width"][1]

    for rule, (name, original, wrong, fixed) in PLANTS.items():
        buttons = parse(township.html()).xpath(f"//li[@data-rule='{rule}']//button[@name='fix']")
        if fixed is None:
            assert buttons == [], rule
            continue
        before = township.form()
        response = click_fix(client, township, rule)
        assert response.status_code == 200, response.text
        after = township.form()
        assert after[name] == before[name].replace(wrong, fixed), rule
        # Nothing else changes (the fixed field's merge base follows its new text).
        own = (name, f"base-{name.split('-')[0]}", "version", "csrf_token")
        assert {k: v for k, v in after.items() if k not in own} == \
            {k: v for k, v in before.items() if k not in own}, rule
        assert rule not in {r for _, r, _ in findings_on_page(township.html())}, rule

    repeated = click_fix(client, township, "repeated")
    assert repeated.status_code == 200
    assert township.form()["duties-3-text"] == form["duties-3-text"]
    left = sorted((key, rule) for key, rule, _ in findings_on_page(township.html()))
    # 履职情况, its errors fixed, is last year's text again: now that is worth a warning.
    assert left == [("duties", "same_as_last_year"), ("plans", "placeholder"), ("plans", "unpaired"),
                    ("problems", "same_as_last_year")]


def test_a_fix_asked_for_twice_changes_the_text_once(client, township):
    township.post({"intro": "在县委,县政府的正确领导下。"})
    html = township.html()
    tree = parse(html)
    data = dict(tree.get_element_by_id("report-form").form_values())
    data.pop("csrf_token")
    data["fix"] = one(tree, "//li[@data-rule='half_width']//button[@name='fix']").get("value")
    headers = {"HX-Request": "true", "HX-Trigger-Name": "fix", **township.csrf_header(html)}

    client.post(f"/reports/{township.report_id}/fix", data=data, headers=headers)
    data["version"] = str(stored(township.report_id).version)
    data["intro"] = stored(township.report_id).data["intro"]
    again = client.post(f"/reports/{township.report_id}/fix", data=data, headers=headers)

    assert stored(township.report_id).data["intro"] == "在县委，县政府的正确领导下。"
    assert again.status_code == 409
    assert "这处已经改过了" in again.text


def test_a_fix_without_scripts_saves_and_comes_back_to_the_field(client, township):
    township.post({"intro": "二〇二二年，在县委的领导下。"})
    tree = parse(township.html())
    form = tree.get_element_by_id("report-form")
    button = one(tree, "//li[@data-rule='year']//button[@name='fix']")
    data = {**dict(form.form_values()), "fix": button.get("value")}

    response = client.post(button.get("formaction"), data=data)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("#field-intro")
    assert stored(township.report_id).data["intro"] == "2022年，在县委的领导下。"


@pytest.mark.parametrize("text", [
    "全年投入资金1.5万元，10:30召开会议。",
    "登录 http://www.gov.cn/a.html 查看，或发邮件至 dangjian@example.com。",
    "使用Word.docx格式，He said \"hello\" and it's fine.",
    "2022年1月6日，连续3年获评先进，第1次召开，共12名。",
    "我村连续20年，近10年，已满30年。",
    "党员“先锋岗”（示范岗）、《条例》【重点】……完善——提升。",
])
def test_ordinary_text_gives_no_finding(township, text):
    township.post({"intro": text})

    assert findings_on_page(township.html()) == []


@pytest.mark.parametrize("placeholder", ["**", "××", "某某", "XX", "⟦不存在的数字⟧", "｛｛姓名｝｝", "{{姓名}}"])
def test_every_leftover_placeholder_is_flagged(township, placeholder):
    township.post({"intro": f"全镇共有{placeholder}个村。"})

    assert [rule for _, rule, _ in findings_on_page(township.html())] == ["placeholder"]


def test_the_review_page_and_the_board_show_the_findings(client, auth, township):
    township.post({"intro": "在县委,县政府的领导下,我镇XX。", "duties-0-heading": "强化政治建设 强思想"})
    auth.logout()
    auth.admin()
    report = stored(township.report_id)

    review = parse(client.get(f"/township/reports/{report.id}").text)
    board = parse(client.get(f"/township/rounds/{report.round_id}").text)

    rows = [li.get("data-rule") for li in review.xpath("//li[contains(@class, 'finding')]")]
    assert sorted(rows) == ["half_width", "half_width", "placeholder", "space"]
    assert review.xpath("//li[contains(@class, 'finding')]//button") == []  # fixed by the filler, not here
    assert " ".join(one(review, "//p[@id='findings']").text_content().split()) == \
        "校对提示共 4 处，见： 开头（3）、履职情况（1）"
    cells = board.xpath(f"//tr[@id='report-{report.id}']/td")
    assert cells[4].text_content().strip() == "4 处"
    village = report_of("河西村")
    assert board.xpath(f"//tr[@id='report-{village.id}']/td")[4].text_content().strip() == "—"  # not started
    assert stored(report.id).findings == 4



# --- a figure is compared only where the text speaks of the year reported on ---------

VILLAGE = "河西村"


def village_with(**texts):
    """河西村's report (the 2022 round), every figure filled (村集体经济收入 12.5万元,
    the others 3), with each of `texts` (field key -> text) as the field's
    text or first item's."""
    report = report_of(VILLAGE)
    report_type = report.report_type
    data = {**report.data, **{f.key: 3 for f in report_type.counts}, "collective_income": 12.5}
    for key, text in texts.items():
        if report_type.by_key[key].kind == "items":
            data[key] = [{"heading": "一是抓发展", "text": text}]
        else:
            data[key] = text
    with db.connection_context():
        report.save_data(data, None, report.version)
    return report.id


def checked(app, report_id):
    result = app.test_cli_runner().invoke(args=["report", "check", "--report", str(report_id)])
    return [line.split("\t") for line in result.stdout.splitlines()]


@pytest.mark.parametrize("key, text", [
    ("plans", "力争2023年村集体经济收入突破15万元。"),
    ("plans", "村集体经济收入达到15万元，发展党员2名。"),  # the plans field looks ahead: no sentence of it is this year's
    ("duties", "力争村集体经济收入突破15万元。"),
    ("duties", "计划发展党员5名。"),
    ("duties", "目标是村集体经济收入20万元。"),
    ("duties", "预计村集体经济收入达到15万元。"),
    ("duties", "拟发展党员5名。"),
    ("duties", "2021年村集体经济收入10万元，今年翻了一番。"),
    ("duties", "去年发展党员1名。"),
    ("duties", "上年村集体经济收入10万元。"),
    ("intro", "到2025年村集体经济收入30万元。"),
])
def test_a_figure_of_a_plan_target_or_another_year_is_not_compared(app, key, text):
    report_id = village_with(**{key: text})

    assert [line[1] for line in checked(app, report_id) if "数字与数字栏不一致" in line] == []


@pytest.mark.parametrize("key, text, wrong", [
    ("duties", "2022年村集体经济收入15万元。", "15"),
    ("duties", "全年发展党员5名，村集体经济收入12.5万元。", "5"),
    ("intro", "力争的事明年再说。今年村集体经济收入15万元。", "15"),
    ("duties", "村集体经济收入15万元，比上年增长两成。", "15"),
    ("duties", "拟定制度后，全年发展党员5名。", "5"),
])
def test_a_figure_of_the_year_reported_on_is_compared(app, key, text, wrong):
    report_id = village_with(**{key: text})

    found = [line for line in checked(app, report_id) if "数字与数字栏不一致" in line]

    assert len(found) == 1 and f"这里写的是 {wrong}" in found[0][3]


def test_a_fix_that_changes_a_number_shows_the_sentence_before_and_after(app, client, auth):
    report_id = village_with(duties="我村发展特色种植。全年村集体经济收入15万元，比上年有增长。下一步继续。")
    auth.login("hexicun")
    page = FillPage(client, report_id)

    line = next(line for line in checked(app, report_id) if "数字与数字栏不一致" in line)
    shown = parse(page.html()).xpath("//li[@data-rule='figure']")[0]

    assert line[4:] == ["原句：全年村集体经济收入15万元，比上年有增长。", "改后：全年村集体经济收入12.5万元，比上年有增长。"]
    assert one(shown, ".//q[@class='finding-before']").text == "全年村集体经济收入15万元，比上年有增长。"
    assert one(shown, ".//q[@class='finding-after']").text == "全年村集体经济收入12.5万元，比上年有增长。"


@pytest.mark.parametrize("text, fixed", [
    ("22年，在县委领导下。", "2022年，在县委领导下。"),
    ("二〇二二年，在县委领导下。", "2022年，在县委领导下。"),
])
def test_a_year_fix_shows_the_sentence_and_a_padding_fix_does_not(township, text, fixed):
    township.post({"intro": text + "2023年01月06日召开。"})

    shown = parse(township.html())
    year = one(shown, "//li[@data-rule='year']")
    date = one(shown, "//li[@data-rule='zero_date']")

    assert one(year, ".//q[@class='finding-before']").text == text
    assert one(year, ".//q[@class='finding-after']").text == fixed
    assert date.xpath(".//q[@class='finding-before']") == []  # 01月06日 -> 1月6日 is the same date


def mark_button(html, rule, name="confirm"):
    return one(parse(html), f"//li[@data-rule='{rule}']//button[@name='{name}']")


def post_button(client, page, button, **typed):
    """Click `button` of the fill page, with `typed` changed in the form since its last save."""
    html = page.html()
    data = dict(parse(html).get_element_by_id("report-form").form_values())
    data.pop("csrf_token")
    data.update(typed)
    data[button.get("name")] = button.get("value")
    headers = {"HX-Request": "true", "HX-Trigger-Name": button.get("name"), **page.csrf_header(html)}
    return client.post(button.get("formaction"), data=data, headers=headers)


def test_a_finding_marked_checked_stops_counting_and_the_reviewer_sees_the_mark(app, client, auth):
    report_id = village_with(duties="全年村集体经济收入15万元。发展党员3名,成效明显。")
    auth.login("hexicun")
    page = FillPage(client, report_id)
    assert stored(report_id).findings == 2

    # Typed meanwhile, not yet saved: saved first, as with a fix.
    answer = post_button(client, page, mark_button(page.html(), "figure"), intro="我村一年来的工作如下。")

    assert answer.status_code == 200
    assert "已核对无误" in one(parse(answer.text), "//li[@data-rule='figure']").text_content()
    assert stored(report_id).data["intro"] == "我村一年来的工作如下。"
    assert stored(report_id).findings == 1
    lines = checked(app, report_id)
    assert [line[1] for line in lines] == ["半角标点"]
    result = app.test_cli_runner().invoke(args=["report", "check", "--report", str(report_id)])
    assert "共 1 处（另有 1 处已核对无误）" in result.stderr
    # A save keeps the mark and its count.
    page.post({"intro": "我村一年来的工作。"})
    assert stored(report_id).findings == 1

    auth.logout()
    auth.admin()
    review = parse(client.get(f"/township/reports/{report_id}").text)
    board = parse(client.get(f"/township/rounds/{stored(report_id).round_id}").text)
    marked = one(review, "//li[@data-rule='figure']")
    assert "confirmed" in marked.get("class")
    assert "已核对无误（河西村填报员 20" in marked.text_content()
    assert " ".join(one(review, "//p[@id='findings']").text_content().split()) == \
        "校对提示共 1 处，见： 履职情况（1）另有 1 处经填报单位核对无误（见各项下“已核对无误”）。"
    assert board.xpath(f"//tr[@id='report-{report_id}']/td")[4].text_content().strip() == "1 处"


def test_a_mark_can_be_taken_back_and_a_finding_changed_since_is_not_marked(app, client, auth):
    report_id = village_with(duties="全年村集体经济收入15万元。")
    auth.login("hexicun")
    page = FillPage(client, report_id)
    button = mark_button(page.html(), "figure")
    post_button(client, page, button)
    assert stored(report_id).findings == 0
    assert checked(app, report_id) == [["没有发现问题（另有 1 处已核对无误）"]]

    post_button(client, page, mark_button(page.html(), "figure", "unconfirm"))
    assert stored(report_id).findings == 1

    page.post({"duties-0-text": "全年村集体经济收入16万元。"})
    stale = post_button(client, page, button)  # the mark of the 15, now gone
    assert stale.status_code == 409 and "这处提示已经不在了" in stale.text
    assert stored(report_id).findings == 1
    assert stored(report_id).confirmed_findings == {}


# --- rules read on their own: dates, addresses -------------------------------------

VILLAGE_TYPE = builtin_type("village_report")


def rules_on(text):
    """(rule id, found, fix) of each finding on `text` as a village report's 开头, figures filled."""
    data = {f.key: 3 for f in VILLAGE_TYPE.counts} | {"intro": text}
    return [(x.rule.id, x.found, x.fix) for x in proofread.check(VILLAGE_TYPE, data, year=2022).get("intro", [])]


@pytest.mark.parametrize("text, found, fixed", [
    ("2022年03月5日召开。", "2022年03月5日", "2022年3月5日"),    # padded in the month only
    ("2022年3月05日召开。", "2022年3月05日", "2022年3月5日"),    # in the day only
    ("2022年03月05日召开。", "2022年03月05日", "2022年3月5日"),
    ("3月05日召开。", "3月05日", "3月5日"),
    ("03月5日召开。", "03月5日", "3月5日"),
    ("2022年03月召开。", "2022年03月", "2022年3月"),
])
def test_a_date_padded_anywhere_is_found(text, found, fixed):
    assert rules_on(text) == [("zero_date", found, fixed)]


@pytest.mark.parametrize("text", ["2022年3月5日召开。", "2022年12月15日召开。", "2022年10月召开。", "3月10日召开。"])
def test_a_date_without_padding_is_right(text):
    assert rules_on(text) == []


@pytest.mark.parametrize("text", [
    "请登录http://www.例子.cn/党建.html查看。",
    "请登录https://例子.cn/党建.html?id=1,2查看。",
    "网址www.党建.cn/通知.html，请查看。",
    "网址dangjian.gov.cn/通知.html，请查看。",
    "网址dj-2022.example.com/党建.通知，请查看。",
    "请发邮件至dang.jian@mail.example.cn，谢谢。",
])
def test_a_mark_inside_a_web_or_mail_address_is_right(text):
    assert rules_on(text) == []


@pytest.mark.parametrize("text, found", [
    ("请查看党建.html文件。", "."),                    # no address: a Chinese sentence's dot
    ("网址 www.gov.cn 打开后,请查看。", ","),          # after the address
    ("请登录网站,网址www.gov.cn。", ","),              # before it
    ("网址dangjian.gov.cn，查看党建.通知。", "."),      # a word ending in .gov is no address by itself
])
def test_a_mark_outside_an_address_is_found(text, found):
    assert [(rule, f) for rule, f, _ in rules_on(text)] == [("half_width", found)]


def test_a_mark_goes_with_its_finding_when_the_text_changes(app, client, auth):
    report_id = village_with(duties="全年村集体经济收入15万元。")
    auth.login("hexicun")
    page = FillPage(client, report_id)
    post_button(client, page, mark_button(page.html(), "figure"))
    page.post({"intro": "我村一年来的工作。"})  # another field: the mark stays
    assert stored(report_id).findings == 0

    page.post({"duties-0-text": "全年村集体经济收入16万元。"})
    assert stored(report_id).confirmed_findings == {}
    page.post({"duties-0-text": "全年村集体经济收入15万元。"})

    assert stored(report_id).findings == 1  # to be checked again
    assert "已核对无误" not in one(parse(page.html()), "//li[@data-rule='figure']").text_content()


def test_an_empty_figure_cannot_be_marked_checked(client, seed_township):
    """It prints ** until it is filled in, whatever anyone checked."""
    html = seed_township.html()
    shown = parse(html).xpath("//li[@data-rule='empty_figure']")
    assert len(shown) == 2 and [li.xpath(".//button") for li in shown] == [[], []]
    report = stored(seed_township.report_id)
    mark = next(x.mark for x in proofread.all_findings(report.findings_in(report.data), report.report_type))

    refused = client.post(f"/reports/{report.id}/confirm", data={"version": str(report.version), "confirm": mark},
                          headers={"HX-Request": "true", "HX-Trigger-Name": "confirm",
                                   **seed_township.csrf_header(html)})

    assert refused.status_code == 409
    assert stored(report.id).confirmed_findings == {}


@pytest.mark.parametrize("rule, name", [("figure", "fix"), ("figure", "confirm"), ("half_width", "fix")])
def test_an_autosave_sent_while_the_focus_rests_on_a_finding_button_fixes_and_marks_nothing(client, auth, rule, name):
    """htmx sends a form's own request with the focused button's formaction
    and value (a Tab from the text onto 改正 or 核对无误): it is a save only."""
    report_id = village_with(duties="全年村集体经济收入15万元,成效明显。")
    auth.login("hexicun")
    page = FillPage(client, report_id)
    button = one(parse(page.html()), f"//li[@data-rule='{rule}']//button[@name='{name}']")

    answer = page.post({"intro": "我村一年来的工作。"}, action=button.get("formaction")[len(page.url):],
                       focused={name: button.get("value")})

    assert answer.status_code == 200 and "已保存" in answer.text
    report = stored(report_id)
    assert report.data["intro"] == "我村一年来的工作。"
    assert report.data["duties"][0]["text"] == "全年村集体经济收入15万元,成效明显。"
    assert report.confirmed_findings == {} and report.findings == 2
