"""The 报告类型 pages: the list, the 字段表 in and out through the browser,
copy, retire, the editor with its previews, and 参考范文 on the fill page."""
import io
import re

import pytest
from openpyxl import load_workbook

from pbforms.models import ReportTypeRecord, Report, TypeVersion, Unit

from .fillpage import one, parse
from .test_access import header_token

HTMX = {"HX-Request": "true"}


def village_type():
    return ReportTypeRecord.by_builtin("village_report")


def token_of(client):
    return header_token(client.get("/township/types").text)


def xlsx(wb):
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def exported(client, record):
    response = client.get(f"/township/types/{record.id}/sheet.xlsx")
    assert response.status_code == 200
    return load_workbook(io.BytesIO(response.data))


def upload(client, url, raw, **form):
    return client.post(url, data={"csrf_token": token_of(client), "sheet": (io.BytesIO(raw), "字段表.xlsx"), **form},
                       content_type="multipart/form-data")


def add_row(wb, *values):
    ws = wb["字段"]
    row = next(r for r in range(2, ws.max_row + 2) if all(c.value is None for c in ws[r]))
    for col, value in enumerate(values, start=1):
        ws.cell(row=row, column=col, value=value)


def editor_form(page):
    """The editor's fields as the browser would post them."""
    form = {}
    for element in parse(page).xpath('//form[@id="type-editor"]//*[self::input or self::textarea or self::select]'):
        name = element.get("name")
        if not name or element.get("type") in ("file", "submit"):
            continue
        if element.get("type") == "checkbox" and element.get("checked") is None:
            continue
        if element.tag == "select":
            value = element.value
        else:
            value = element.text or "" if element.tag == "textarea" else element.get("value", "")
        form.setdefault(name, []).append(value)
    return form


def labels_in(page):
    return [e.get("value") for e in parse(page).xpath('//form[@id="type-editor"]//input[starts-with(@name, "label-")]')]


# --- the list and the 字段表 -------------------------------------------------------

def test_the_list_shows_every_type_with_its_version_and_rounds(client, auth):
    auth.county()
    page = client.get("/township/types").text
    assert '<a href="/township/types">报告类型</a>' in page  # in the admin's menu
    row = one(parse(page), f'//tr[@id="type-{village_type().id}"]')
    cells = [" ".join(td.text_content().split()) for td in row.xpath("td")]
    assert cells[:4] == ["村（社区）党组织书记抓基层党建工作述职报告", "第 1 版", "2022年度抓基层党建工作述职", "使用中"]


def test_the_sheet_downloads_with_the_types_fields(client, auth):
    auth.county()
    response = client.get(f"/township/types/{village_type().id}/sheet.xlsx")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.data))["字段"]
    labels = [row[1].value for row in ws.iter_rows(min_row=2) if row[1].value]
    assert "村集体经济收入" in labels and "党委会议" not in labels


def test_an_uploaded_sheet_is_the_types_next_version(client, auth):
    auth.county()
    record = village_type()
    wb = exported(client, record)
    add_row(wb, "履职情况", "主题党日活动", "数字", "次")
    response = upload(client, f"/township/types/{record.id}/sheet", xlsx(wb))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "已保存为「村（社区）党组织书记抓基层党建工作述职报告」第 2 版" in page
    newest = record.newest()
    assert newest.version == 2
    added = next(f for f in newest.fields if f.label == "主题党日活动")
    assert added.kind == "count" and added.unit == "次"
    assert [s["title"] for s in newest.definition["sections"]].count("一、履职情况") == 1
    # Every old field kept its key.
    first = TypeVersion.get(TypeVersion.report_type == record, TypeVersion.number == 1).as_report_type()
    assert set(first.by_key) < set(newest.by_key)


def test_a_bad_sheet_is_refused_with_a_message_per_cell_beside_the_upload(client, auth):
    auth.county()
    record = village_type()
    wb = exported(client, record)
    wb["字段"]["C3"] = "数目"
    wb["字段"]["E4"] = "要"
    response = upload(client, f"/township/types/{record.id}/sheet", xlsx(wb))
    assert response.status_code == 422
    errors = one(parse(response.text), '//div[@id="sheet-errors"]')
    assert [li.text_content() for li in errors.xpath(".//li")] == [
        "工作表「字段」第 3 行「类型」列（C 列）：类型「数目」不存在，应为 数字、小数、单行文字、多段文字、条目、日期 之一。",
        "工作表「字段」第 4 行「必填」列（E 列）：必填应为 是 或 否，不是「要」。"]
    assert record.newest().version == 1


def test_a_file_that_is_not_a_sheet_is_refused(client, auth):
    auth.county()
    response = upload(client, "/township/types", b"%PDF-1.4", name="新类型")
    assert response.status_code == 422
    assert "文件不是 Excel 工作簿（.xlsx）" in one(parse(response.text), '//div[@id="new-type-errors"]').text_content()
    assert not ReportTypeRecord.select().where(ReportTypeRecord.name == "新类型").exists()


def test_a_new_type_from_a_sheet(client, auth):
    auth.county()
    wb = exported(client, village_type())
    add_row(wb, "履职情况", "主题党日活动", "数字", "次")
    response = upload(client, "/township/types", xlsx(wb), name="村党支部述职（2024）")
    assert response.status_code == 303
    record = ReportTypeRecord.get(ReportTypeRecord.name == "村党支部述职（2024）")
    assert response.headers["Location"].endswith(f"/township/types/{record.id}")
    assert "主题党日活动" in [f.label for f in record.newest().fields]
    # The same name again is refused beside the upload.
    again = upload(client, "/township/types", xlsx(wb), name="村党支部述职（2024）")
    assert again.status_code == 422
    assert "已有名为「村党支部述职（2024）」的报告类型" in again.text


def test_copy_and_retire(client, auth):
    auth.county()
    record = village_type()
    token = token_of(client)
    taken = client.post(f"/township/types/{record.id}/copy", data={"csrf_token": token, "name": record.name})
    assert taken.status_code == 422
    assert one(parse(taken.text), '//p[@id="error-copy-name"]').text == f"已有名为「{record.name}」的报告类型"
    response = client.post(f"/township/types/{record.id}/copy", data={"csrf_token": token, "name": "社区述职"})
    copy = ReportTypeRecord.get(ReportTypeRecord.name == "社区述职")
    assert [f.key for f in copy.newest().fields] == [f.key for f in record.newest().fields]
    assert response.headers["Location"].endswith(f"/township/types/{copy.id}")
    client.post(f"/township/types/{copy.id}/retired", data={"csrf_token": token, "retired": "1"})
    row = one(parse(client.get("/township/types").text), f'//tr[@id="type-{copy.id}"]')
    assert row.get("class") == "inactive" and "已停用" in row.text_content()
    assert ReportTypeRecord.get_by_id(copy.id).retired


# --- the editor -----------------------------------------------------------------

def test_moving_a_field_keeps_what_was_typed(client, auth):
    auth.county()
    record = village_type()
    page = client.get(f"/township/types/{record.id}").text
    form = editor_form(page)
    form["label-members_recruited"] = ["新发展党员"]  # typed, not saved
    response = client.post(f"/township/types/{record.id}/draft", headers=HTMX,
                           data={**form, "csrf_token": token_of(client), "op": "up:members_recruited"})
    assert response.status_code == 200
    labels = labels_in(response.text)
    assert labels[labels.index("新发展党员") + 1] == "党员总数"
    assert response.text.lstrip().startswith('<form id="type-editor"')
    # At the top of a section, 上移 moves it to the end of the section before.
    form = editor_form(response.text)
    response = client.post(f"/township/types/{record.id}/draft", headers=HTMX,
                           data={**form, "csrf_token": token_of(client), "op": "up:members_recruited"})
    section = one(parse(response.text), '//input[@name="in-members_recruited"]').get("value")
    assert section == one(parse(response.text), '//input[@name="in-intro"]').get("value")
    assert record.newest().version == 1  # nothing saved


def test_previews_show_the_draft_before_saving(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["label-members_total"] = ["党员人数"]
    form["hint-intro"] = ["写到“报告如下：”为止，不超过三段"]
    fill = client.post(f"/township/types/{record.id}/preview", headers=HTMX,
                       data={**form, "csrf_token": token_of(client), "what": "fill"})
    tree = parse(fill.text)
    assert one(tree, '//fieldset[@class="fill-preview"]').get("disabled") is not None
    assert one(tree, '//label[@for="f-members_total"]').text == "党员人数"
    assert one(tree, '//p[@id="hint-intro"]').text == "写到“报告如下：”为止，不超过三段"
    document = client.post(f"/township/types/{record.id}/preview", headers=HTMX,
                           data={**form, "csrf_token": token_of(client), "what": "document"})
    text = parse(document.text).xpath('string(//article[@class="document"])')
    assert "示例村党支部书记" in text and "团结带领示例村“两委”班子" in text
    assert record.newest().version == 1


def test_saving_the_editor_makes_a_new_version_with_the_same_keys(client, auth):
    auth.county()
    record = village_type()
    old = record.newest()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["label-members_total"] = ["党员人数"]
    form["model-intro"] = ["【单位】党支部【年度】年工作报告如下："]
    form["order"].remove("members_total")
    form["order"].insert(form["order"].index("members_recruited") + 1, "members_total")
    response = client.post(f"/township/types/{record.id}/versions", data={**form, "csrf_token": token_of(client)})
    assert response.status_code == 303
    new = record.newest()
    assert new.version == 2
    assert [f.key for f in new.fields if f.key in ("members_recruited", "members_total")] == [
        "members_recruited", "members_total"]
    assert new.by_key["members_total"].label == "党员人数"
    assert new.by_key["intro"].model_text == "【单位】党支部【年度】年工作报告如下："
    assert set(new.by_key) == set(old.by_key)
    # A figure renamed: the model text's references to it follow.
    assert all("⟦党员总数⟧" not in str(f.model_text) for f in new.fields)


def test_the_editor_refuses_a_bad_name_beside_the_field_and_keeps_the_draft(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["label-members_total"] = ["发展党员"]
    form["hint-intro"] = ["新的说明"]
    response = client.post(f"/township/types/{record.id}/versions", data={**form, "csrf_token": token_of(client)})
    assert response.status_code == 422
    tree = parse(response.text)
    for key in ("members_total", "members_recruited"):
        assert one(tree, f'//p[@id="error-label-{key}"]').text == "项目名称「发展党员」重复。"
    assert one(tree, '//p[@class="banner failed"]').text == "有 2 处需要修改（见红字），没有保存。"
    assert one(tree, '//input[@id="hint-intro"]').get("value") == "新的说明"
    assert record.newest().version == 1


def test_saving_over_a_newer_version_is_refused(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    record.save_version({**record.newest().definition, "title": "【年度】年度述职报告"})
    form["hint-intro"] = ["我的说明"]
    response = client.post(f"/township/types/{record.id}/versions", data={**form, "csrf_token": token_of(client)})
    assert response.status_code == 422
    assert "在您编辑时已保存了第 2 版" in response.text
    assert record.newest().version == 2


def draft(client, record, form, op=""):
    """The editor after a change (上移, 添加, 删除, a kind chosen): nothing saved."""
    response = client.post(f"/township/types/{record.id}/draft", headers=HTMX,
                           data={**form, "csrf_token": token_of(client), "op": op})
    assert response.status_code == 200
    return response.text


def save(client, record, form):
    return client.post(f"/township/types/{record.id}/versions", data={**form, "csrf_token": token_of(client)})


def new_keys(page, record):
    return [k for k in (e.get("value") for e in parse(page).xpath('//input[@name="order"]'))
            if k not in record.newest().by_key]


def test_the_editor_adds_a_field_of_a_kind_and_unit_and_saves_it(client, auth):
    auth.county()
    record = village_type()
    page = client.get(f"/township/types/{record.id}").text
    duties = one(parse(page), '//input[@name="in-members_total"]').get("value")
    page = draft(client, record, editor_form(page), f"add:{duties}")
    [key] = new_keys(page, record)
    assert one(parse(page), f'//input[@name="in-{key}"]').get("value") == duties
    form = editor_form(page)
    form[f"kind-{key}"] = ["小数"]
    page = draft(client, record, form)  # choosing a kind shows its columns
    assert {e.get("name") for e in parse(page).xpath(f'//div[@id="type-field-{key}"]//input')} >= {
        f"unit-{key}", f"min-{key}", f"max-{key}", f"decimals-{key}", f"sum_of_units-{key}"}
    assert not parse(page).xpath(f'//*[@name="item_label-{key}" or @name="default-{key}"]')
    form = editor_form(page)
    form.update({f"label-{key}": ["村集体经营性收入"], f"unit-{key}": ["万元"], f"decimals-{key}": ["2"],
                 f"max-{key}": ["12.5"], f"required-{key}": ["是"]})

    assert save(client, record, form).status_code == 303

    new = record.newest()
    field = new.by_key[key]
    assert new.version == 2 and field.kind == "amount" and field.label == "村集体经营性收入"
    assert (field.unit, field.decimals, field.maximum, field.required) == ("万元", 2, 12.5, True)
    assert [f.key for f in new.fields].index(key) > [f.key for f in new.fields].index("members_total")


def test_the_editor_adds_a_group_with_a_field(client, auth):
    auth.county()
    record = village_type()
    page = draft(client, record, editor_form(client.get(f"/township/types/{record.id}").text), "add:section")
    [key] = new_keys(page, record)
    form = editor_form(page)
    last = len(record.newest().sections)
    assert form[f"in-{key}"] == [str(last)] and form["sections"] == [str(last + 1)]
    form.update({f"section-{last}": ["附件"], f"label-{key}": ["附件说明"], f"kind-{key}": ["多段文字"]})
    assert save(client, record, form).status_code == 303
    new = record.newest()
    assert new.sections[-1]["title"] == "附件" and [f.label for f in new.sections[-1]["fields"]] == ["附件说明"]


def test_the_editor_keeps_what_a_section_says_besides_its_title(client, auth):
    auth.county()
    record = village_type()
    definition = record.newest().definition
    definition["sections"][1]["heading"] = True  # 开头 printed as a heading
    record.save_version(definition)
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form["hint-intro"] = ["新的说明"]
    assert save(client, record, form).status_code == 303
    assert record.newest().definition["sections"][1]["heading"] is True


def test_the_editor_refuses_more_fields_than_a_sheet_may_have(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    extra = [f"f_{n:08x}" for n in range(500)]
    form["order"] += extra
    form.update({f"kind-{key}": ["数字"] for key in extra})
    form.update({f"label-{key}": [f"数字{n}"] for n, key in enumerate(extra)})
    response = save(client, record, form)
    assert response.status_code == 422
    assert one(parse(response.text), '//p[@id="error-fields"]').text == "最多 500 个项目。"
    assert record.newest().version == 1


def test_the_editor_removes_a_field_and_it_stays_removed(client, auth):
    auth.county()
    record = village_type()
    page = draft(client, record, editor_form(client.get(f"/township/types/{record.id}").text),
                 "remove:mobile_members")
    assert "label-mobile_members" not in editor_form(page)
    page = draft(client, record, editor_form(page), "up:members_total")  # a later change keeps it removed
    assert "label-mobile_members" not in editor_form(page)
    assert save(client, record, editor_form(page)).status_code == 303
    assert "mobile_members" not in record.newest().by_key
    assert len(record.newest().fields) == len(village_type().versions[0].as_report_type().fields) - 1


def test_the_editor_changes_a_kind_and_a_unit(client, auth):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form.update({"kind-members_total": ["小数"], "unit-members_total": ["百名"]})
    assert save(client, record, form).status_code == 303
    field = record.newest().by_key["members_total"]
    assert (field.kind, field.unit, field.decimals) == ("amount", "百名", 1)


@pytest.mark.parametrize("stem", ["annual_report", "village_report"])
def test_an_unchanged_editor_saves_no_version(client, auth, stem):
    auth.county()
    record = ReportTypeRecord.by_builtin(stem)
    response = save(client, record, editor_form(client.get(f"/township/types/{record.id}").text))
    assert "与最新版本相同" in client.get(response.headers["Location"]).text
    assert record.newest().version == 1


@pytest.mark.parametrize("inputs, name, message", [
    ({"label-members_total": ["党员\u202e数总"]}, "label-members_total",
     "项目名称含有改变文字显示方向的控制字符（如 U+202E），请删除后重新输入。"),
    ({"label-members_total": ["党员{{ 总数 }}"]}, "label-members_total",
     "项目名称不能含有 { } 符号（Word 模板用 {{ 项目名称 }} 标出填写位置）。"),
    ({"max-members_total": ["12.5"]}, "max-members_total", "「数字」类型的界限应为整数。"),
    ({"min-collective_income": ["5"], "max-collective_income": ["1"]}, "min-collective_income",
     "最小值 5 大于最大值 1。"),
    ({"decimals-collective_income": ["7"]}, "decimals-collective_income", "应为 0 至 6 之间的整数。"),
    ({"max_length-reporter_name": ["0"]}, "max_length-reporter_name", "应为 1 至 50000 之间的整数。"),
    ({"item_label-duties": ["很长很长的条目名称超过十个字"]}, "item_label-duties", "条目名称最多 10 个字。"),
    ({"max_items-duties": ["100"]}, "max_items-duties", "应为 1 至 99 之间的整数。"),
    ({"unit-members_total": ["很长很长的单位超过十个字了"]}, "unit-members_total", "单位最多 10 个字。"),
    ({"kind-members_total": ["数目"]}, "kind-members_total",
     "类型「数目」不存在，应为 数字、小数、单行文字、多段文字、条目、日期 之一。"),
])
def test_the_editor_refuses_what_the_sheet_refuses_with_the_same_message(client, auth, inputs, name, message):
    auth.county()
    record = village_type()
    form = editor_form(client.get(f"/township/types/{record.id}").text)
    form.update(inputs)
    response = save(client, record, form)
    assert response.status_code == 422
    assert one(parse(response.text), f'//p[@id="error-{name}"]').text == message
    assert record.newest().version == 1


# --- 参考范文 on the fill page -----------------------------------------------------

def village_report(name="青泥村"):
    return Report.select().join(Unit).where(Unit.name == name).get()


def test_the_fill_page_shows_model_text_filled_for_the_report(client, auth):
    auth.login("qingnicun")
    report = village_report()
    tree = parse(client.get(f"/reports/{report.id}").text)
    details = one(tree, '//details[@id="model-intro"]')
    assert one(details, "summary").text == "参考范文"
    assert "团结带领青泥村“两委”班子" in details.text_content() and "【单位】" not in details.text_content()
    button = one(details, ".//button")
    assert button.text == "插入参考范文" and button.get("data-model-into") == "f-intro"
    assert button.get("data-model-text").startswith("2022年，在镇党委的正确领导下")
    # Model items read as the document prints them: ordinal, heading closed by 。, text.
    items = next(f for f in report.report_type.fields if f.kind == "items" and f.model_text)
    first = items.model(report.meta)[0]
    shown = tree.xpath(f'//details[@id="model-{items.key}"]//p')[0].text_content()
    assert shown == "一是" + first["heading"].rstrip("。") + "。" + first["text"].split("\n")[0]


def test_inserting_model_items_keeps_what_is_there(client, auth):
    auth.login("qingnicun")
    report = village_report()
    items_field = next(f for f in report.report_type.fields if f.kind == "items" and f.model_text)
    page = client.get(f"/reports/{report.id}").text
    token = header_token(page)
    client.post(f"/reports/{report.id}", headers=HTMX, data={
        "csrf_token": token, "version": report.version, f"{items_field.key}-present": "1",
        f"{items_field.key}-0-heading": "我写的标题", f"{items_field.key}-0-text": "我写的内容"})
    report = village_report()
    # The 插入参考范文 button's own request: htmx names the button that sent it.
    response = client.post(f"/reports/{report.id}", headers={**HTMX, "HX-Trigger-Name": "op"}, data={
        "csrf_token": token, "version": report.version, "op": f"model:{items_field.key}",
        f"{items_field.key}-present": "1",
        f"{items_field.key}-0-heading": "我写的标题", f"{items_field.key}-0-text": "我写的内容"})
    assert response.status_code == 200
    stored = village_report().data[items_field.key]
    model = items_field.model(report.meta)
    assert stored == [{"heading": "我写的标题", "text": "我写的内容"}] + model
    assert re.search(r'id="f-%s-%d-heading"' % (items_field.key, len(model)), response.text)


def test_without_scripts_the_button_inserts_the_model_text_after_what_is_typed(client, auth):
    auth.login("qingnicun")
    report = village_report()
    token = header_token(client.get(f"/reports/{report.id}").text)
    response = client.post(f"/reports/{report.id}", data={
        "csrf_token": token, "version": report.version, "op": "model:intro", "intro": "我先写的一段。"})
    assert response.status_code == 303
    model = report.report_type.by_key["intro"].model(report.meta)
    assert village_report().data["intro"] == "我先写的一段。\n" + model
