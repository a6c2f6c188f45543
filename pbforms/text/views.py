"""The fill page's text tools: 从 Word 导入 (upload, preview, apply) and the
proof-reader's one-click fix.

Every route gets its report through `report_or_404` and changes it only when
`may_edit` allows, through `Report.save_data` and its version check, like the
fill page. Nothing is stored before the clerk has seen the preview.
"""
import json
import threading
from contextlib import contextmanager

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..auth import edit_refusal, may_edit, report_or_404
from ..fill import conflict_response, page_context, pressed, refuse_edit, save, save_from_form
from ..models import AuditEvent, Conflict, now
from ..partials import is_htmx, partial_response
from . import proofread, word_import

bp = Blueprint("text", __name__)

WORD_TYPES = ".docx,application/vnd.openxmlformats-officedocument.wordprocessingml.document"


_importing, _importing_lock = set(), threading.Lock()


@contextmanager
def one_import_at_a_time(user_id):
    """True while this user has no other upload being read (False: one is):
    a file is read within its budget, but one user starting many at once
    would still hold a thread and a core each. Counted per process (with
    several processes behind a proxy, one per user in each)."""
    with _importing_lock:
        busy = user_id in _importing
        _importing.add(user_id)
    try:
        yield not busy
    finally:
        if not busy:
            with _importing_lock:
                _importing.discard(user_id)


def small_int(value):
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 9 else None


def import_page(report, status=200, **ctx):
    return render_template("text/word_import.html", report=report, report_type=report.report_type,
                           editable=may_edit(g.user, report), refusal=edit_refusal(report),
                           accept=WORD_TYPES, example=figure_example(report.report_type), **ctx), status


def figure_example(report_type):
    """“支部党员大会12次”: how a figure is written, in the report's own type."""
    counts = [f for f in report_type.counts if f.kind == "count" and f.unit]
    f = next((f for f in counts if f.unit == "次"), counts[0] if counts else None)
    return f"{f.label}12{f.unit}" if f else ""


@bp.get("/reports/<int:report_id>/word")
def import_form(report_id):
    return import_page(report_or_404(report_id))


@bp.post("/reports/<int:report_id>/word")
def import_word(report_id):
    """Upload: a preview of what goes where. Confirm: the previewed values,
    carried back in the form, checked again by the type and saved as one
    revision, unless the report changed in between."""
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return import_page(report, 409)
    if "content" in request.form:
        return apply_import(report)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return import_page(report, 422, file_error="请选择要导入的 Word 文件（.docx）。")
    with one_import_at_a_time(g.user.id) as free:
        if not free:
            return import_page(report, 429, file_error="您上传的另一个文件还在读取中。请等它读完，再上传这一个。")
        try:
            result = word_import.import_docx(report.report_type, report.meta, upload.read(), upload.filename)
        except word_import.Unreadable as e:
            return import_page(report, 422, file_error=str(e))
    if not result.values:
        return import_page(report, 422, result=result, file_error=(
            "文件中没有找到可以放入报告的内容。没有放入的段落列在下面，可以复制后粘贴到各栏。"))
    offered = [key for key in result.figure_keys if key in result.values]
    return import_page(report, result=result, rows=preview_rows(report, result), version=report.version,
                       content=json.dumps(result.values, ensure_ascii=False), filename=upload.filename,
                       offered=offered, ticked=set() if result.other_year else set(offered))


def preview_rows(report, result):
    """Per field of the form: what the import puts there, as the document
    will print it (figures resolved), and whether it replaces something."""
    report_type = report.report_type
    merged = {**report.data, **result.values}
    figures = report_type.figures(merged)
    rows = []
    for f in report_type.fields:
        if f.key not in result.values:
            rows.append({"field": f, "placed": False})
            continue
        value = result.values[f.key]
        shown = f.docx_value(value, figures)
        rows.append({"field": f, "placed": True, "paragraphs": shown if isinstance(shown, list) else [shown],
                     "replaces": not f.is_empty(report.data.get(f.key)) and report.data.get(f.key) != value,
                     "item_count": len(value) if f.kind == "items" else None,
                     "unticked": result.other_year and f.key in result.figure_keys})
    return rows


def apply_import(report):
    report_type = report.report_type
    try:
        obj = json.loads(request.form["content"])
    except (ValueError, RecursionError):  # RecursionError: '[' nested past Python's limit
        obj = None
    if isinstance(obj, dict):
        # The figures read from the text go in only where their box is ticked.
        ticked = set(request.form.getlist("figure"))
        for key in request.form.get("offered", "").split(","):
            if key not in ticked:
                obj.pop(key, None)
    data, errors = report_type.parse_json(obj, report.data)
    if errors:
        return import_page(report, 422, file_error="导入的内容有误，没有导入。请重新上传 Word 文件。")
    if data == report.data:
        return import_page(report, 422, file_error="文件的内容与报告现在的内容相同，没有需要导入的改动。")
    try:
        report.save_data(data, g.user, small_int(request.form.get("version")), note="从 Word 导入")
    except Conflict as conflict:
        return import_page(report, 409, file_error=(
            f"预览之后报告又被修改了（现为第 {conflict.current} 版），没有导入。请重新上传文件，核对后再导入。"))
    filename = (request.form.get("filename") or "")[:100]
    AuditEvent.record("import_docx", g.user, report=report, detail=filename)
    flash(f"已从 Word 导入，保存为第 {report.version} 版。请逐项核对；如需撤销，可在“修改记录”中恢复导入前的版本。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


# --- the proof-reader beside each field ------------------------------------------

@bp.app_template_global()
def findings_of(report, data):
    """The proof-reader's findings for `data` of `report`, by field key; worked
    out once per request for each version shown (every field's partial asks)."""
    checked = getattr(report, "checked", None)  # by the save this request made (Report.count_findings)
    if checked is not None and checked[0] is data:
        return checked[1]
    cache = g.setdefault("findings_cache", {})
    key = (report.id, report.version, id(data))
    if key not in cache:
        cache[key] = (data, report.findings_in(data or {}))
    return cache[key][1]


def saved_first(report_id):
    """A button's request carries the whole form: what it holds is saved
    first, as an autosave would save it, so nothing typed is lost to the
    button's own act. (report, errors, None), or (report, None, the answer)
    when the user may not edit or the save met a conflict."""
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return report, None, refuse_edit(report)
    try:
        report, errors, _, _ = save_from_form(report)
    except Conflict as conflict:
        return report, None, conflict_response(report, conflict)
    return report, errors, None


@bp.post("/reports/<int:report_id>/fix")
def fix(report_id):
    """One finding's certain fix, asked for by its button: the form is saved
    as an autosave would save it, then just that fix is applied to the stored
    text and the field is shown again. Never more than the one fix. An
    autosave htmx sent here (the focus on the button) is saved, nothing fixed."""
    token = pressed("fix")
    if is_htmx() and not token:
        return save(report_id)
    report, errors, refused = saved_first(report_id)
    if refused:
        return refused
    report_type = report.report_type
    f = report_type.by_key.get(token.partition("|")[0])
    new = proofread.apply_fix(report.data, report.findings_in(report.data), token) if f else None
    if new is not None:
        try:
            report.save_data(new, g.user, report.version)
        except Conflict as conflict:
            return conflict_response(report, conflict)
    message = "已改正。" if new is not None else "这处已经改过了，或没有确定的改法，未作修改。"
    return field_answer(report, f, errors, new is not None, message)


@bp.post("/reports/<int:report_id>/confirm")
def confirm(report_id):
    """核对无误 on one finding (or, with `unconfirm`, taking that back): the
    form is saved as an autosave would save it, then the finding, if the
    stored text still has it, is marked and stops counting. An autosave
    htmx sent here (the focus on the button) is saved, nothing marked."""
    undo = bool(pressed("unconfirm"))
    mark = pressed("unconfirm") or pressed("confirm")
    if is_htmx() and not mark:
        return save(report_id)
    report, errors, refused = saved_first(report_id)
    if refused:
        return refused
    f = report.report_type.by_key.get(mark.partition("|")[0])
    done = f is not None and report.confirm_finding(mark, g.user, confirmed=not undo) != undo
    message = ("已撤销“核对无误”。" if undo else "已标为核对无误，不再计入校对提示。") if done else \
        "这处提示已经不在了（内容已修改），未作标记。"
    return field_answer(report, f, errors, done, message)


def field_answer(report, f, errors, done, message):
    """The field `f` again after a fix or a mark, with the autosave's
    answer; without scripts, the fill page at that field."""
    if not is_htmx():
        flash(message, "ok" if done else "error")
        anchor = f"#field-{f.key}" if f else ""
        return redirect(url_for("fill.report_page", report_id=report.id) + anchor, 303)
    if not done:
        return partial_response(render_template("fill/_save_status.html", state="refused", message=message),
                                409, **{"HX-Retarget": "#save-status", "HX-Reswap": "outerHTML"})
    ctx = page_context(report, errors)
    return partial_response(render_template("text/_fixed_field.html", f=f, changed_key=f.key, saved_at=now(),
                                            renew=[], summary="", shown=ctx["report_type"].fields,
                                            figures_changed=True, new_bases=ctx["bases"], **ctx))
