"""报告类型: the office's report types. List them, download and upload the
字段表 (.xlsx, the same checks as `type import`), copy a type, retire one,
and edit it in the browser (every column of the 字段表: add, remove and
move fields, change kinds and units) with a preview of the fill page and of
the document before saving a new version. A field is checked by the
字段表's own check (sheet.read_field), so the two ways never disagree.

The editor keeps no draft on the server: the page's form is the draft. Each
change (上移/下移, 添加, 删除, a kind chosen) and each preview posts the whole
form and gets the editor or the preview back, so nothing typed is lost and
two admins editing at once cannot overwrite each other unseen: the form
names the version it started from, and saving over a newer one is refused.
"""
import copy
import datetime
from types import SimpleNamespace

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from peewee import IntegrityError

from ..auth import changeable_type_or_404, office_of, type_or_404, visible_types
from ..db import writing
from ..documents import content_disposition
from ..forms import KEY, RESERVED_KEYS, ReportType
from ..forms.kinds import REFERENCE
from ..forms.sheet import (KIND_NAMES, KIND_OF_NAME, KINDS_OF, NO, NUMBER_KINDS, ROWS_MAX, TEXT_KINDS, YES,
                           SheetRefused, cell_text, field_cells, group_problem, new_key, read_field, read_sheet,
                           text_problem, write_sheet)
from ..models import AuditEvent, ReportTypeRecord, TypeVersion
from ..partials import wants_partial
from ..text import proofread
from . import bp, one_line, page_or_partial

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAME_MAX, TITLE_MAX = 60, 200


def name_problem(name, record=None):
    if not name:
        return "请填写报告类型的名称"
    if len(name) > NAME_MAX:
        return f"名称最多 {NAME_MAX} 个字"
    if text_problem(name, "名称"):
        return text_problem(name, "名称")
    if (ReportTypeRecord.select().where((ReportTypeRecord.name == name)
                                        & (ReportTypeRecord.id != (record.id if record else 0))).exists()):
        return f"已有名为「{name}」的报告类型"
    return None


def sheet_name(record):
    return f"{record.name}字段表.xlsx"


# --- the list -------------------------------------------------------------------

def types_page(upload_errors=None, upload_name="", status=200):
    rows = [SimpleNamespace(record=r, newest=r.newest(), rounds=list(r.rounds_using()))
            for r in visible_types(g.user)]
    return render_template("township/types.html", rows=rows, upload_errors=upload_errors or [],
                           upload_name=upload_name), status


@bp.get("/types")
def types():
    return types_page()


def uploaded_bytes():
    upload = request.files.get("sheet")
    return upload.read() if upload and upload.filename else None


@bp.post("/types")
def add_type():
    """A new type from an uploaded 字段表; its name is the form's, else the sheet's 名称."""
    name = one_line(request.form.get("name"))
    raw = uploaded_bytes()
    if raw is None:
        return types_page(["请选择字段表文件（.xlsx）"], name, 422)
    try:
        definition = read_sheet(raw)
    except SheetRefused as refused:
        return types_page(refused.messages, name, 422)
    definition["name"] = name = name or definition["name"]
    problem = name_problem(name)
    if problem:
        return types_page([problem], name, 422)
    try:
        record = ReportTypeRecord.add(definition, g.user, name=name, office=office_of(g.user))
    except IntegrityError:
        return types_page([f"已有名为「{name}」的报告类型"], name, 422)
    AuditEvent.record("type_add", g.user, detail=f"{name}（上传字段表）")
    flash(f"已新建报告类型「{name}」。", "ok")
    return redirect(url_for(".type_page", type_id=record.id), 303)


# --- one type -------------------------------------------------------------------

def type_page_context(record, **extra):
    newest = record.newest()
    return {"record": record, "newest": newest, "rounds": list(record.rounds_using()),
            "versions": list(record.versions.order_by(TypeVersion.number.desc())),
            "editor": extra.pop("editor", None) or editor_context(record, draft_of(newest.definition),
                                                                  newest.version_id),
            "sheet_errors": [], "template_errors": [], "copy_name": f"{record.name}（副本）", "copy_error": "",
            **extra}


@bp.get("/types/<int:type_id>")
def type_page(type_id):
    record = type_or_404(type_id)
    return render_template("township/type.html", **type_page_context(record))


@bp.get("/types/<int:type_id>/sheet.xlsx")
def download_sheet(type_id):
    record = type_or_404(type_id)
    return Response(write_sheet(record.newest().definition), mimetype=XLSX,
                    headers={"Content-Disposition": content_disposition(sheet_name(record))})


@bp.post("/types/<int:type_id>/sheet")
def upload_sheet(type_id):
    """A changed 字段表: the type's next version, checked whole first."""
    record = changeable_type_or_404(type_id)
    raw = uploaded_bytes()
    if raw is None:
        return render_template("township/type.html", **type_page_context(
            record, sheet_errors=["请选择字段表文件（.xlsx）"])), 422
    newest = record.newest()
    try:
        definition = read_sheet(raw, newest.definition, record.keys_ever_used())
    except SheetRefused as refused:
        return render_template("township/type.html", **type_page_context(record, sheet_errors=refused.messages)), 422
    definition["name"] = record.name  # the type's name is changed in the editor, not by a file
    return stored(record, definition, "上传字段表")


def stored(record, definition, how):
    version, new = record.save_version(definition, g.user)
    if new:
        AuditEvent.record("type_version", g.user, detail=f"{record.name} 第 {version.number} 版（{how}）")
        flash(f"已保存为「{record.name}」第 {version.number} 版。正在进行的填报仍用原来的版本。", "ok")
    else:
        flash("与最新版本相同，没有保存新版本。", "ok")
    return redirect(url_for(".type_page", type_id=record.id), 303)


@bp.post("/types/<int:type_id>/copy")
def copy_type(type_id):
    record = type_or_404(type_id)
    name = one_line(request.form.get("name"))
    problem = name_problem(name)
    if not problem:
        definition = copy.deepcopy(record.newest().definition)
        definition["name"] = name
        try:
            new = ReportTypeRecord.add(definition, g.user, name=name, office=office_of(g.user))
        except IntegrityError:
            problem = f"已有名为「{name}」的报告类型"
    if problem:
        return render_template("township/type.html", **type_page_context(
            record, copy_name=name, copy_error=problem)), 422
    AuditEvent.record("type_add", g.user, detail=f"{name}（复制自「{record.name}」）")
    flash(f"已复制为「{name}」。", "ok")
    return redirect(url_for(".type_page", type_id=new.id), 303)


@bp.post("/types/<int:type_id>/retired")
def set_type_retired(type_id):
    """A retired type is not offered for new rounds; rounds using it keep it."""
    record = changeable_type_or_404(type_id)
    retired = request.form.get("retired") == "1"
    record.set_retired(retired)
    AuditEvent.record("type_retire" if retired else "type_unretire", g.user, detail=record.name)
    flash(f"已{'停用' if retired else '启用'}报告类型「{record.name}」。", "ok")
    return redirect(url_for(".type_page", type_id=record.id), 303)


# --- the editor: the page's form is the draft -------------------------------------

# The editor's input for each column of the 字段表: `{name}-{key}` for a field.
INPUT_OF = {"项目名称": "label", "类型": "kind", "单位": "unit", "必填": "required", "说明": "hint",
            "参考范文": "model", "最小值": "min", "最大值": "max", "小数位数": "decimals", "字数上限": "max_length",
            "默认内容": "default", "条目名称": "item_label", "条目上限": "max_items", "连成一段": "one_paragraph",
            "汇总各村": "sum_of_units", "写打算": "looks_ahead", "整改": "ledger"}
CHECKBOXES = {"必填", "连成一段", "汇总各村", "写打算"}
SECTIONS_MAX = 50
NEW_FIELD = {"项目名称": "", "类型": KIND_NAMES["text"], "必填": NO}


def editor_headers(kind):
    """The columns the editor shows for a field of `kind`: those a row of
    that kind may fill (the sheet has them all, and refuses the others)."""
    return [h for h in INPUT_OF if (h not in KINDS_OF or kind in KINDS_OF[h])
            and (h != "单位" or kind in NUMBER_KINDS) and (h != "参考范文" or kind in TEXT_KINDS)]


def shown_cells(field):
    """A stored field as the editor's inputs hold it (text)."""
    cells = field_cells(field)
    return {h: cell_text(cells[h]) for h in editor_headers(field.get("kind"))}


def editor_context(record, draft, base_id, errors=None, message=""):
    """What the editor shows: the draft's sections, each field with its
    inputs (as typed) for the columns its kind has."""
    errors = errors or {}
    sections = []
    for i, s in enumerate(draft["sections"]):
        fields = []
        for row in s["fields"]:
            kind = KIND_OF_NAME.get(row["cells"].get("类型"))
            headers = editor_headers(kind)
            more = [h for h in headers if h not in ("项目名称", "类型", "必填", "说明", "单位", "参考范文")]
            fields.append({"key": row["key"], "cells": row["cells"], "kind": kind, "headers": headers,
                           "more": more, "label": row["cells"].get("项目名称", ""),
                           "more_open": any(f"{INPUT_OF[h]}-{row['key']}" in errors for h in more)})
        sections.append({"index": i, "title": s["title"], "fields": fields})
    flat = [f["key"] for s in sections for f in s["fields"]]
    return {"record": record, "draft": draft, "sections": sections, "base_id": base_id, "errors": errors,
            "message": message, "first": flat[:1], "last": flat[-1:], "kinds": list(KIND_NAMES.values()),
            "input_of": INPUT_OF, "checkboxes": CHECKBOXES}


def draft_of(definition):
    """A stored definition as the editor's draft (its form's contents)."""
    return {"name": definition["name"], "title": definition["title"], "removed": [],
            "sections": [{"title": s["title"], "fields": [{"key": f["key"], "cells": shown_cells(f)}
                                                         for f in s["fields"]]}
                         for s in definition["sections"]]}


def base_version(record):
    """The version the form started from (an unknown one: the newest)."""
    version = TypeVersion.get_or_none((TypeVersion.id == request.form.get("base", type=int))
                                      & (TypeVersion.report_type == record))
    return version or record.newest_version()


def posted_cells(key):
    """One field's inputs as posted: the columns of the kind it now has."""
    form = request.form
    kind_name = one_line(form.get(f"kind-{key}"))
    cells = {"类型": kind_name}
    for header in editor_headers(KIND_OF_NAME.get(kind_name)):
        name = f"{INPUT_OF[header]}-{key}"
        if header in CHECKBOXES:
            cells[header] = YES if form.get(name) else (NO if header == "必填" else "")
        elif header != "类型":
            cells[header] = form.get(name, "").replace("\r\n", "\n")
    return cells


def is_new_key(key, used):
    """A key the editor made for a field added in this draft."""
    return bool(KEY.fullmatch(key)) and key.startswith("f_") and key not in used and key not in RESERVED_KEYS


def read_draft(record, base):
    """The posted editor -> the draft: its sections, each field's inputs as
    typed, and the fields removed. Fields of the base version the form
    lost (neither posted nor removed) are kept as they were, where they were."""
    form = request.form
    old = {f["key"]: f for s in base.definition["sections"] for f in s["fields"]}
    section_of = {f["key"]: i for i, s in enumerate(base.definition["sections"]) for f in s["fields"]}
    used = record.keys_ever_used()
    removed = [k for k in dict.fromkeys(form.getlist("removed")) if k in old]
    count = form.get("sections", type=int) or len(base.definition["sections"])
    titles = [s["title"] for s in base.definition["sections"]]
    sections = [{"title": one_line(form.get(f"section-{i}", titles[i] if i < len(titles) else "")), "fields": []}
                for i in range(max(1, min(count, SECTIONS_MAX)))]
    order = [k for k in dict.fromkeys(form.getlist("order")) if k in old or is_new_key(k, used)][:ROWS_MAX + 1]
    order += [k for k in old if k not in order and k not in removed]
    for key in order:
        posted = f"kind-{key}" in form
        i = form.get(f"in-{key}", type=int) if posted else None
        i = i if i is not None and 0 <= i < len(sections) else min(section_of.get(key, 0), len(sections) - 1)
        cells = posted_cells(key) if posted else shown_cells(old[key])
        sections[i]["fields"].append({"key": key, "cells": cells})
    return {"name": one_line(form.get("type_name", base.definition["name"])),
            "title": form.get("type_title", base.definition["title"]), "removed": removed, "sections": sections}


def checked(record, base, draft):
    """The draft as a definition, checked as a 字段表 is (sheet.read_field):
    (definition, {input name: message}); the definition is None when any is bad."""
    old = {f["key"]: f for s in base.definition["sections"] for f in s["fields"]}
    taken = record.keys_ever_used() | set(old)
    errors, labels, sections = {}, {}, []
    if sum(len(s["fields"]) for s in draft["sections"]) > ROWS_MAX:
        errors["fields"] = f"最多 {ROWS_MAX} 个项目。"
    for i, s in enumerate(draft["sections"]):
        if not s["title"]:
            errors[f"section-{i}"] = "请填写分组名称"
        elif group_problem(s["title"]):
            errors[f"section-{i}"] = group_problem(s["title"])
        fields = []
        for row in s["fields"]:
            key = row["key"]

            def problem(header, message, key=key):
                errors[f"{INPUT_OF[header]}-{key}"] = message

            field = read_field(row["cells"], old.get(key, {"key": key}), taken, problem)
            labels.setdefault(one_line(row["cells"].get("项目名称")), []).append(key)
            if field is not None:
                fields.append(field)
        # What else a section of the base version says (e.g. whether it is a heading) stays with it.
        kept = base.definition["sections"][i] if i < len(base.definition["sections"]) else {}
        sections.append({**kept, "title": s["title"], "fields": fields})
    for label, keys in labels.items():
        if label and len(keys) > 1:  # marked on each, as the office cannot tell which one it meant
            errors.update({f"label-{key}": f"项目名称「{label}」重复。" for key in keys})
    name = draft["name"]
    title = "\n".join(" ".join(line.split()) for line in draft["title"].splitlines() if line.strip())
    errors.update({k: v for k, v in (("type_name", name_problem(name, base.report_type)),
                                     ("type_title", "请填写标题" if not title else
                                      f"标题最多 {TITLE_MAX} 个字" if len(title) > TITLE_MAX else
                                      text_problem(title, "标题"))) if v})
    if errors:
        return None, errors
    definition = {k: v for k, v in base.definition.items() if k not in ("name", "title", "sections")}
    definition.update(name=name, title=title, sections=[s for s in sections if s["fields"]])
    return definition, {}


def change(record, draft, op):
    """上移/下移 a field, add one (to a section, or in a new section), remove one."""
    verb, _, target = op.partition(":")
    sections = draft["sections"]
    if verb in ("up", "down"):
        move(sections, verb, target)
    elif verb == "add":
        keys = record.keys_ever_used() | {f["key"] for s in sections for f in s["fields"]}
        if target == "section" and len(sections) < SECTIONS_MAX:
            sections.append({"title": "", "fields": []})
            target = str(len(sections) - 1)
        if target.isdigit() and int(target) < len(sections):
            sections[int(target)]["fields"].append({"key": new_key(keys), "cells": dict(NEW_FIELD)})
    elif verb == "remove":
        for s in sections:
            s["fields"] = [f for f in s["fields"] if f["key"] != target]
        draft["removed"].append(target)


def move(sections, verb, key):
    """上移/下移 a field: within its section, or at the section's edge
    into the end (or start) of the section before (or after) it."""
    for i, section in enumerate(sections):
        keys = [f["key"] for f in section["fields"]]
        if key not in keys:
            continue
        j = keys.index(key)
        fields = section["fields"]
        if verb == "up":
            if j > 0:
                fields[j - 1], fields[j] = fields[j], fields[j - 1]
            elif i > 0:
                sections[i - 1]["fields"].append(fields.pop(0))
        elif verb == "down":
            if j < len(fields) - 1:
                fields[j + 1], fields[j] = fields[j], fields[j + 1]
            elif i < len(sections) - 1:
                sections[i + 1]["fields"].insert(0, fields.pop())
        return


def follow_renames(draft, base):
    """A figure renamed in the editor: the ⟦references⟧ to it in the type's
    参考范文 and default text follow, so the model text keeps working."""
    old = {f["key"]: f["label"] for s in base.definition["sections"] for f in s["fields"]
           if f["kind"] in ("count", "amount")}
    renamed = {old[f["key"]]: f["label"] for s in draft["sections"] for f in s["fields"]
               if f["key"] in old and old[f["key"]] != f["label"]}
    if not renamed:
        return

    def rewrite(value):
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: f"⟦{renamed.get(m.group(1), m.group(1))}⟧", value)
        if isinstance(value, list):
            return [{k: rewrite(v) for k, v in item.items()} if isinstance(item, dict) else item for item in value]
        return value

    for s in draft["sections"]:
        for f in s["fields"]:
            for key in ("model_text", "default"):
                if key in f:
                    f[key] = rewrite(f[key])


@bp.post("/types/<int:type_id>/draft")
def type_draft(type_id):
    """上移/下移, 添加, 删除, a kind changed: the editor back with the change
    made, all typing kept. Nothing is saved."""
    record = changeable_type_or_404(type_id)
    base = base_version(record)
    draft = read_draft(record, base)  # what is wrong is said on 预览 and 保存, not while editing
    change(record, draft, request.form.get("op", ""))
    ctx = editor_context(record, draft, base.id)
    if wants_partial():
        return page_or_partial(None, "township/_type_editor.html", editor=ctx)
    return render_template("township/type.html", **type_page_context(record, editor=ctx))


def sample_meta():
    return {"year": datetime.date.today().year - 1, "unit_name": "示例村", "secretary_title": "党支部书记"}


@bp.post("/types/<int:type_id>/preview")
def preview_type(type_id):
    """The fill page (read-only) or the document as the draft would make them."""
    record = type_or_404(type_id)
    base = base_version(record)
    definition, errors = checked(record, base, read_draft(record, base))
    what = "document" if request.form.get("what") == "document" else "fill"
    if errors:
        ctx = {"errors": errors, "what": what}
    else:
        follow_renames(definition, base)
        report_type = ReportType(definition)
        meta = sample_meta()
        data = report_type.initial_data(meta) if what == "fill" else report_type.model_data(meta)
        sample = SimpleNamespace(id=0, status="draft", field_comments={}, last_year=None, last_year_data=None,
                                 meta=meta, report_type=report_type, version=0, pending={},
                                 findings_in=lambda data: proofread.check(report_type, data))
        ctx = {"errors": {}, "what": what, "report": sample, "report_type": report_type, "data": data,
               "typed": {}, "editable": False, "hide_last_year": True, "meta": meta,
               "preview": report_type.docx_context(data, meta)}
    return page_or_partial("township/type_preview.html", "township/_type_preview.html", record=record, **ctx)


@bp.post("/types/<int:type_id>/versions")
def save_type(type_id):
    """保存: the draft as the type's next version, unless the type gained a
    version since the editor opened (another admin, or an upload)."""
    record = changeable_type_or_404(type_id)
    base = base_version(record)
    draft = read_draft(record, base)
    definition, errors = checked(record, base, draft)
    newest = record.newest_version()
    message = ""
    if newest.id != base.id:
        message = (f"「{record.name}」在您编辑时已保存了第 {newest.number} 版，为免覆盖，您的修改没有保存。"
                   "请复制需要的内容后重新打开此页。")
    elif errors:
        message = f"有 {len(errors)} 处需要修改（见红字），没有保存。"
    elif not definition["sections"]:
        message = "没有任何填报项目，没有保存：请至少保留一个项目。"
    if message:
        ctx = editor_context(record, draft, base.id, errors, message)
        return render_template("township/type.html", **type_page_context(record, editor=ctx)), 422
    follow_renames(definition, base)
    if definition["name"] != record.name:
        old_name = record.name
        try:
            with writing():
                record.name = definition["name"]
                record.save(only=[ReportTypeRecord.name])
        except IntegrityError:
            record.name = old_name
            ctx = editor_context(record, draft, base.id, {"type_name": f"已有名为「{definition['name']}」的报告类型"},
                                 "有 1 处需要修改（见红字），没有保存。")
            return render_template("township/type.html", **type_page_context(record, editor=ctx)), 422
        AuditEvent.record("type_version", g.user, detail=f"{old_name} 改名为 {record.name}")
    return stored(record, definition, "在网页上修改")
