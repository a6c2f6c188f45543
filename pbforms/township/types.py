"""报告类型: the office's report types. List them, download and upload the
字段表 (.xlsx, the same checks as `type import`), copy a type, retire one,
and edit its fields in the browser (names, hints, 参考范文, order) with a
preview of the fill page and of the document before saving a new version.

The editor keeps no draft on the server: the page's form is the draft. Each
move (上移/下移) and each preview posts the whole form and gets the editor
or the preview back, so nothing typed is lost and two admins editing at once
cannot overwrite each other unseen: the form names the version it started
from, and saving over a newer one is refused.
"""
import copy
import datetime
from types import SimpleNamespace

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from peewee import IntegrityError

from ..db import writing
from ..documents import content_disposition
from ..forms import ReportType
from ..forms.kinds import REFERENCE
from ..forms.sheet import (KIND_NAMES, SheetRefused, hint_problem, label_problem, model_from_text, model_problem,
                           model_text_cell, read_sheet, write_sheet)
from ..models import AuditEvent, ReportTypeRecord, TypeVersion
from ..partials import wants_partial
from ..text import proofread
from . import bp, one_line, page_or_partial

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAME_MAX, TITLE_MAX, SECTION_MAX = 60, 200, 60


def type_or_404(type_id):
    return ReportTypeRecord.get_or_none(ReportTypeRecord.id == type_id) or abort(404)


def name_problem(name, record=None):
    if not name:
        return "请填写报告类型的名称"
    if len(name) > NAME_MAX:
        return f"名称最多 {NAME_MAX} 个字"
    if (ReportTypeRecord.select().where((ReportTypeRecord.name == name)
                                        & (ReportTypeRecord.id != (record.id if record else 0))).exists()):
        return f"已有名为「{name}」的报告类型"
    return None


def sheet_name(record):
    return f"{record.name}字段表.xlsx"


# --- the list -------------------------------------------------------------------

def types_page(upload_errors=None, upload_name="", status=200):
    rows = [SimpleNamespace(record=r, newest=r.newest(), rounds=list(r.rounds_using()))
            for r in ReportTypeRecord.ordered()]
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
        record = ReportTypeRecord.add(definition, g.user, name=name)
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
            "editor": extra.pop("editor", None) or editor_context(record, newest.definition, newest.version_id),
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
    record = type_or_404(type_id)
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
            new = ReportTypeRecord.add(definition, g.user, name=name)
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
    record = type_or_404(type_id)
    retired = request.form.get("retired") == "1"
    record.set_retired(retired)
    AuditEvent.record("type_retire" if retired else "type_unretire", g.user, detail=record.name)
    flash(f"已{'停用' if retired else '启用'}报告类型「{record.name}」。", "ok")
    return redirect(url_for(".type_page", type_id=record.id), 303)


# --- the editor: the page's form is the draft -------------------------------------

def editor_context(record, draft, base_id, errors=None, message=""):
    """What the editor shows: the draft's sections, each field with its
    kind's name and 参考范文 as a text box holds it."""
    sections = [{"index": i, "title": s["title"],
                 "fields": [dict(f, kind_name=KIND_NAMES.get(f["kind"], f["kind"]), model_box=model_text_cell(f),
                                 has_model=f["kind"] in ("text", "paragraphs", "items"))
                            for f in s["fields"]]}
                for i, s in enumerate(draft["sections"])]
    flat = [f["key"] for s in sections for f in s["fields"]]
    return {"record": record, "draft": draft, "sections": sections, "base_id": base_id, "errors": errors or {},
            "message": message, "first": flat[:1], "last": flat[-1:]}


def base_version(record):
    """The version the form started from (an unknown one: the newest)."""
    version = TypeVersion.get_or_none((TypeVersion.id == request.form.get("base", type=int))
                                      & (TypeVersion.report_type == record))
    return version or record.newest_version()


def read_draft(base):
    """The posted editor -> (draft definition, {input name: message}).

    Starts from the base version's definition, so what the editor does not
    show (kinds, units, bounds, defaults) is kept as it was; fields the form
    lost are kept where they were."""
    form = request.form
    draft = copy.deepcopy(base.definition)
    errors = {}
    fields = {f["key"]: f for s in draft["sections"] for f in s["fields"]}
    section_of = {f["key"]: i for i, s in enumerate(draft["sections"]) for f in s["fields"]}
    order = list(dict.fromkeys(k for k in form.getlist("order") if k in fields))
    order += [k for k in fields if k not in order]
    for i, section in enumerate(draft["sections"]):
        title = one_line(form.get(f"section-{i}", section["title"]))
        if not title:
            errors[f"section-{i}"] = "请填写分组名称"
        elif len(title) > SECTION_MAX:
            errors[f"section-{i}"] = f"分组名称最多 {SECTION_MAX} 个字"
        section["title"] = title
        section["fields"] = []
    seen = {}
    for key in order:
        f = fields[key]
        label = one_line(form.get(f"label-{key}", f["label"]))
        if label_problem(label):
            errors[f"label-{key}"] = label_problem(label)
        seen.setdefault(label, []).append(key)
        f["label"] = label
        hint = one_line(form.get(f"hint-{key}", f.get("hint", "")))
        if hint_problem(hint):
            errors[f"hint-{key}"] = hint_problem(hint)
        f["hint"] = hint
        if f"model-{key}" in form:
            text = form[f"model-{key}"].replace("\r\n", "\n")
            if model_problem(text):
                errors[f"model-{key}"] = model_problem(text)
            model = model_from_text(f["kind"], text)
            if model:
                f["model_text"] = model
            else:
                f.pop("model_text", None)
        i = form.get(f"in-{key}", type=int)
        i = i if i is not None and 0 <= i < len(draft["sections"]) else section_of[key]
        draft["sections"][i]["fields"].append(f)
    for label, keys in seen.items():
        if len(keys) > 1:  # marked on each, as the office cannot tell which one it meant
            errors.update({f"label-{key}": f"项目名称「{label}」重复。" for key in keys})
    name = one_line(form.get("type_name", draft["name"]))
    title = "\n".join(" ".join(line.split()) for line in form.get("type_title", draft["title"]).splitlines()
                      if line.strip())
    errors.update({k: v for k, v in (("type_name", name_problem(name, base.report_type)),
                                     ("type_title", "请填写标题" if not title else
                                      f"标题最多 {TITLE_MAX} 个字" if len(title) > TITLE_MAX else None)) if v})
    draft["name"], draft["title"] = name, title
    return draft, errors


def move(draft, op):
    """上移/下移 a field: within its section, or at the section's edge
    into the end (or start) of the section before (or after) it."""
    verb, _, key = op.partition(":")
    sections = draft["sections"]
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


def for_saving(draft):
    """Sections left without fields by moves are not kept."""
    saved = copy.deepcopy(draft)
    saved["sections"] = [s for s in saved["sections"] if s["fields"]]
    return saved


@bp.post("/types/<int:type_id>/draft")
def type_draft(type_id):
    """上移/下移: the editor back with the field moved, all typing kept."""
    record = type_or_404(type_id)
    base = base_version(record)
    draft, _ = read_draft(base)  # what is wrong is said on 预览 and 保存, not while moving
    move(draft, request.form.get("op", ""))
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
    draft, errors = read_draft(base)
    follow_renames(draft, base)
    what = "document" if request.form.get("what") == "document" else "fill"
    if errors:
        ctx = {"errors": errors, "what": what}
    else:
        report_type = ReportType(for_saving(draft))
        meta = sample_meta()
        data = report_type.initial_data(meta) if what == "fill" else report_type.model_data(meta)
        sample = SimpleNamespace(id=0, status="draft", field_comments={}, last_year=None, meta=meta,
                                 report_type=report_type,
                                 version=0, pending={}, findings_in=lambda data: proofread.check(report_type, data))
        ctx = {"errors": {}, "what": what, "report": sample, "report_type": report_type, "data": data,
               "typed": {}, "editable": False, "hide_last_year": True, "meta": meta,
               "preview": report_type.docx_context(data, meta)}
    return page_or_partial("township/type_preview.html", "township/_type_preview.html", record=record, **ctx)


@bp.post("/types/<int:type_id>/versions")
def save_type(type_id):
    """保存: the draft as the type's next version, unless the type gained a
    version since the editor opened (another admin, or an upload)."""
    record = type_or_404(type_id)
    base = base_version(record)
    draft, errors = read_draft(base)
    newest = record.newest_version()
    message = ""
    if newest.id != base.id:
        message = (f"「{record.name}」在您编辑时已保存了第 {newest.number} 版，为免覆盖，您的修改没有保存。"
                   "请复制需要的内容后重新打开此页。")
    elif errors:
        message = f"有 {len(errors)} 处需要修改（见红字），没有保存。"
    if message:
        ctx = editor_context(record, draft, base.id, errors, message)
        return render_template("township/type.html", **type_page_context(record, editor=ctx)), 422
    follow_renames(draft, base)
    if draft["name"] != record.name:
        old_name = record.name
        try:
            with writing():
                record.name = draft["name"]
                record.save(only=[ReportTypeRecord.name])
        except IntegrityError:
            record.name = old_name
            ctx = editor_context(record, draft, base.id, {"type_name": f"已有名为「{draft['name']}」的报告类型"},
                                 "有 1 处需要修改（见红字），没有保存。")
            return render_template("township/type.html", **type_page_context(record, editor=ctx)), 422
        AuditEvent.record("type_version", g.user, detail=f"{old_name} 改名为 {record.name}")
    return stored(record, for_saving(draft), "在网页上修改")
