"""The filler's pages: the report list, the fill page with autosave, submit,
preview and the Word download.

Views return a whole page, or only a partial when htmx asks (HX-Request);
such routes send `Vary: HX-Request` so no cache mixes the two.
"""
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for

from .auth import edit_refusal, may_edit, may_withdraw, report_or_404, visible_reports, withdraw_refusal
from .documents import content_disposition, report_docx, report_document, report_filename
from .forms.kinds import MISSING, clean_text, resolve_references, split_paragraphs
from .merge import base_of, keep_as_typed, merge, page_bases, within_bound
from .db import db_int
from .models import AuditEvent, Conflict, NotEditable, Notice, Report, now
from .partials import is_htmx, partial_response, wants_partial
from .text import proofread
from .documents.conversions import conversions
from .documents.pdf import (NO_PDFTOPPM, ConverterError, availability, document_blocks, kept_document_blocks,
                            page_image, pdftoppm_path, report_preview)
from .ledger.logic import unfinished_unexplained
from .ledger.models import entries_to_carry

bp = Blueprint("fill", __name__)


@bp.route("/")
def home():
    if g.user.is_admin:
        return redirect(url_for("township.home"))  # the office starts at its progress board
    reports = visible_reports(g.user).order_by(Report.round.desc(), Report.unit)
    return render_template("fill/home.html", reports=reports, notices=list(Notice.unread_for(g.user)))


@bp.post("/notices/read")
def read_notice():
    """知道了: the banner of a reminder or notice goes, for this user."""
    notice = Notice.for_user(g.user).where(Notice.id == request.form.get("notice", type=int)).first()
    if notice is not None:
        notice.mark_read(g.user)
    report_id = request.form.get("report", type=db_int)  # read on a fill page: back to it
    if report_id is not None and visible_reports(g.user).where(Report.id == report_id).exists():
        return redirect(url_for("fill.report_page", report_id=report_id), 303)
    return redirect(url_for("fill.home"), 303)


# Around a figure in text shown "as printed", so the page can mark it.
FIGURE_START, FIGURE_END = "\ue000", "\ue001"


def marked_figures(report_type, data):
    """label -> the figure as printed, between marks (`**` while empty)."""
    return {label: FIGURE_START + text + FIGURE_END for label, text in report_type.figures(data).items()}


@bp.app_template_global()
def as_printed(f, value, figures):
    """The paragraphs of a text (or of one item, a dict) that mention a
    figure, as they will print: [[(kind, text)]], kind text / figure /
    missing. Paragraphs without a figure print as typed and are left out."""
    if isinstance(value, dict):
        text = "\n".join(part for part in (value.get("heading", ""), value.get("text", "")) if part)
    else:
        text = value or ""
    found = []
    for paragraph in split_paragraphs(clean_text(text)):
        printed = resolve_references(paragraph, figures)
        if FIGURE_START not in printed:
            continue
        segments = []
        for n, part in enumerate(printed.split(FIGURE_START)):
            figure, _, rest = part.partition(FIGURE_END) if n else ("", "", part)
            if n:
                segments.append(("missing" if figure == MISSING else "figure", figure))
            if rest:
                segments.append(("text", rest))
        found.append(segments)
    return found


def fields_context(report, errors=None, typed=None, data=None):
    """What the fields of the fill page show, also in an autosave's answer.
    Values kept as typed with the report (refused, or in conflict with
    another's change) show in their fields with their message, after a
    reload as well."""
    report_type = report.report_type
    pending, not_kept = within_bound(report.pending or {})
    shown_data = report.data if data is None else data
    return {
        "report": report,
        "report_type": report_type,
        "data": shown_data,
        "errors": {**{k: p["message"] for k, p in pending.items() if not p.get("conflict")}, **not_kept,
                   **(errors or {})},
        "typed": {**{k: p["value"] for k, p in pending.items()}, **(typed or {})},
        "pending": pending,
        "figures": marked_figures(report_type, report.data),
        "editable": may_edit(g.user, report),
        "missing": report_type.missing(report.data),
    }


def page_context(report, errors=None, typed=None, problems=None, data=None):
    """Everything the fill page shows."""
    ctx = fields_context(report, errors, typed, data)
    return {
        **ctx,
        "bases": page_bases(report.report_type, ctx["data"], ctx["pending"]),
        "problems": problems,
        "preview": None if ctx["editable"] else report.report_type.docx_context(report.data, report.meta),
        "filename": report_filename(report),
        "events": AuditEvent.transitions_of(report),
        "may_withdraw": may_withdraw(g.user, report),
        "notices": list(Notice.unread_for(g.user).where(Notice.round == report.round_id)),
    }


@bp.get("/reports/<int:report_id>")
def report_page(report_id):
    """Stored text referring to an unknown figure keeps its message after a reload."""
    report = report_or_404(report_id)
    warnings = report.report_type.warnings(report.data)
    return render_template("fill/report.html", **page_context(report, warnings))


def preview_dir():
    """Converted previews, cached by report id and version (instance/previews)."""
    return Path(current_app.config.get("PREVIEW_DIR") or Path(current_app.instance_path) / "previews")


WAITING = ("waiting", "busy")


def conversion(report):
    """The state of the report's pages (conversions.State): asked for, never waited on."""
    return conversions().ask(report_preview(report, preview_dir()), g.user.id, lambda: report_document(report),
                             polling=wants_partial())


@bp.get("/reports/<int:report_id>/preview")
def preview(report_id):
    """The pages as they print (images from LibreOffice) once converted;
    meanwhile, or where that is impossible, the document's own paragraphs
    laid out as HTML, saying why (or that the pages are on their way)."""
    report = report_or_404(report_id)
    problem = availability()
    state = None if problem else conversion(report)
    if wants_partial():  # the box saying 正在生成 asks again: the box again, or reload once done
        if state and state.state in WAITING:
            return partial_response(render_template("fill/_converting.html", state=state, what="页面预览",
                                                    url=url_for("fill.preview", report_id=report.id)))
        return partial_response("", **{"HX-Refresh": "true"})
    pages = state.preview if state and state.state == "ready" else None
    if state and state.state == "failed":
        problem = state.message
    pdf_ready = pages is not None
    if pages is not None and pdftoppm_path() is None:  # the PDF, but no page images
        pages, problem = None, NO_PDFTOPPM
    blocks = None if pages else shown_blocks(report, state)
    return render_template("fill/preview.html", report=report, pages=pages, blocks=blocks, problem=problem,
                           state=state, pdf_ready=pdf_ready, filename=report_filename(report),
                           editable=may_edit(g.user, report))


def shown_blocks(report, state):
    """The document's paragraphs, for the page without page images: none
    while the pages are on their way (the page reloads once they are), so
    asking again and again for a huge report costs little; after a failed
    conversion, those of the document the job kept (read once)."""
    if state and state.state in WAITING:
        return None
    if state and state.preview.docx.is_file():
        return kept_document_blocks(state.preview.docx)
    return document_blocks(report_docx(report))


@bp.get("/reports/<int:report_id>/pages/<int:version>/<int:page>.png")
def page_png(report_id, version, page):
    """One page image; the version in the address lets the browser cache it for good."""
    report = report_or_404(report_id)
    if version != report.version:
        abort(404)
    problem = availability()
    try:
        if problem:
            raise ConverterError(problem)
        pages = report_preview(report, preview_dir())
        if not pages.ready or not 1 <= page <= pages.pages:  # the preview page lists only converted pages
            abort(404)
        image = page_image(pages, page)
    except ConverterError as e:
        # Not a server error: this machine cannot draw pages (the message says why).
        return Response(str(e), 409, mimetype="text/plain")
    response = send_file(image, mimetype="image/png", max_age=86400)
    return response


@bp.get("/reports/<int:report_id>/pdf")
def download_pdf(report_id):
    """The PDF once converted; meanwhile a page that waits for it and then downloads it."""
    report = report_or_404(report_id)
    problem = availability()
    state = None if problem else conversion(report)
    url = url_for("fill.download_pdf", report_id=report.id)
    if state and state.state in WAITING:
        context = {"state": state, "what": "PDF", "url": url}
        if wants_partial():
            return partial_response(render_template("fill/_converting.html", **context))
        return render_template("fill/pdf_waiting.html", report=report, **context), 202
    if wants_partial():  # the waiting page's box: ready or failed, the browser fetches the file or the reason
        return partial_response("", **{"HX-Redirect": url})
    if state and state.state == "failed":
        problem = state.message
    if problem:
        return render_template("errors/page.html", title="无法生成 PDF", message=problem), 409
    AuditEvent.record("export", g.user, report=report, detail="pdf")
    name = str(Path(report_filename(report)).with_suffix(".pdf"))
    return Response(state.preview.pdf.read_bytes(), mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(name)})


def refuse_edit(report):
    message = edit_refusal(report)
    if is_htmx():
        return partial_response(render_template("fill/_save_status.html", state="refused", message=message),
                                409, **{"HX-Retarget": "#save-status", "HX-Reswap": "outerHTML"})
    flash(message, "error")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


def pressed(name):
    """The value of the button called `name` when this request is that
    button's press. htmx sends a form's own request (an autosave on change)
    with the value of whichever button has the focus — a Tab from the last
    field onto 删除 or 用我的 — so under htmx a button counts only when it
    sent the request itself (HX-Trigger-Name). A plain form post (no
    scripts) carries only the button that was pressed."""
    if is_htmx() and request.headers.get("HX-Trigger-Name") != name:
        return ""
    return request.form.get(name, "")


def chosen_side():
    """The clerk's choice for a field in conflict ("mine:key" / "theirs:key")."""
    side, _, key = pressed("resolve").partition(":")
    return {key: side} if side in ("mine", "theirs") else {}


def form_version(form):
    try:
        return int(form.get("version", ""))
    except ValueError:
        return None


def save_from_form(report):
    """Merge the posted form into the report and store it; returns
    (report as stored, {key: message}, changed_key, Merge).

    The page's fields are merged field by field (pbforms/merge.py), so a
    tab behind the report changes only what it changed. A value the server
    refuses, or one in conflict, is kept as typed (`Report.pending`). A form
    equal to what is stored writes nothing: idle autosaves add no
    revisions. Raises Conflict only when the report stopped being editable
    between reading and writing (submitted meanwhile, round closed).
    """
    report_type = report.report_type
    values, refused = report_type.read_form(request.form)
    expected = form_version(request.form)
    op = pressed("op")
    for _ in range(5):
        # Of the fields not sent, the bases count only when someone else
        # saved since this page's last save: those they changed are shown anew.
        bases = {}
        for f in report_type.fields:
            sent = request.form.get(f"base-{f.key}")
            if f.key not in values and f.key not in refused:
                if sent is not None and expected != report.version:
                    bases[f.key] = sent
            elif sent is not None:
                bases[f.key] = sent
            elif expected == report.version:
                bases[f.key] = base_of(f, report.data.get(f.key))
        result = merge(report_type, report.data, values, bases, chosen_side())
        # An item button acts on the items as this page shows them: when
        # someone else changed them meanwhile, the page is shown theirs first.
        op_key = op.partition(":")[2].partition(":")[0]
        stale_op = op_key in result.theirs or op_key in result.conflicts
        changed_key = apply_op(report, result.data, op) if op and not stale_op else None
        if op.startswith("model:") and op_key in report_type.by_key and changed_key is None \
                and result.data.get(op_key) != report.data.get(op_key):
            result.model_key = op_key  # model text put into a field: the page shows it anew
        try:
            if result.data != report.data:
                # Adding, moving or removing an item is a step of its own in the history.
                report.save_data(result.data, g.user, report.version, own_revision=changed_key is not None)
            break
        except Conflict:
            # Saved by someone else between reading and writing: merge again with theirs.
            report = report_or_404(report.id)
            if not may_edit(g.user, report):
                raise
    else:
        raise Conflict(report.version)
    result.sent += [key for key in refused if key not in result.sent]
    pending, result.not_kept = keep_as_typed(report.pending or {}, refused, result.conflicts, values)
    report.keep_pending(pending)
    errors = {**{key: message for key, (_, message) in refused.items()}, **result.not_kept}
    if op and stale_op:
        errors[op_key] = "这些条目刚在另一个页面或由其他人改动过（现在显示的是最新的），请看过后再添加、移动或删除。"
        changed_key = op_key  # the page swaps these items in, as after any item button
    for key, message in report_type.warnings(report.data).items():
        errors.setdefault(key, message)
    return report, errors, changed_key, result


def merge_summary(report_type, result):
    """What the status line says beyond 已保存: whose changes were merged, what clashed."""
    def labels(keys):
        return "、".join(f"「{report_type.by_key[k].label}」" for k in keys)
    parts = []
    if result.theirs:
        parts.append(f"已合并另一个页面或其他人同时所做的修改：{labels(result.theirs)}")
    if result.conflicts:
        parts.append(f"{labels(result.conflicts)}您和另一个页面或其他人都改了，两份都保留着，请在该项下选择用哪一份")
    return "；".join(parts)


def apply_op(report, data, op):
    """An item operation, or "model:KEY": the field's 参考范文 (filled for this
    report) put into it, as 插入参考范文 asks. Nothing typed is dropped: model
    items follow the items that have content, model text follows the text
    there is, and a one-line field takes it only while empty. Returns the
    key of an items field changed (its list is sent back), else None."""
    report_type = report.report_type
    verb, _, key = op.partition(":")
    if verb != "model":
        return report_type.apply_op(data, op)
    f = report_type.by_key.get(key)
    model = f.model(report.meta) if f is not None and f.model_text else None
    if not model:
        return None
    current = data.get(key)
    if f.kind == "items":
        kept = [item for item in current or [] if item["heading"].strip() or item["text"].strip()]
        data[key] = (kept + model)[:f.max_items]
        return key
    if f.kind == "paragraphs":
        data[key] = current.rstrip() + "\n" + model if (current or "").strip() else model
    elif not (current or "").strip():
        data[key] = model
    return None


# Names the fields whose refused typing was too much to keep (merge.keep_as_typed).
NOT_KEPT_HEADER = "PBForms-Not-Kept"


@bp.post("/reports/<int:report_id>")
def save(report_id):
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return refuse_edit(report)
    old_data = report.data
    try:
        report, errors, changed_key, result = save_from_form(report)
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return refused_meanwhile(report_id, conflict)
    summary = merge_summary(report.report_type, result)
    if not is_htmx():
        if errors or result.conflicts:
            ctx = page_context(report, errors)
            ctx["summary"] = summary
            return render_template("fill/report.html", **ctx), 422 if errors else 409
        flash(f"已保存 {now():%H:%M:%S}" + (f"；{summary}" if summary else ""), "ok")
        target = f"#field-{changed_key}" if changed_key else ""
        return redirect(url_for("fill.report_page", report_id=report.id) + target, 303)
    ctx = fields_context(report, errors)
    report_type = ctx["report_type"]
    # Fields the page must show anew: others' changes merged in, a choice made.
    shown_anew = result.theirs + [k for k in [getattr(result, "model_key", None)] if k and k not in result.theirs]
    renew = [report_type.by_key[key] for key in shown_anew if key != changed_key]
    body = render_template("fill/_save_result.html", changed_key=changed_key, saved_at=now(), renew=renew,
                           summary=summary, **answered(report, old_data, result, changed_key, ctx), **ctx)
    if changed_key:
        field = report_type.by_key[changed_key]
        body = render_template("fill/_items.html", f=field, **ctx) + body
    # The browser keeps its copy of typing the server did not keep (static/app.js).
    return partial_response(body, **({NOT_KEPT_HEADER: " ".join(result.not_kept)} if result.not_kept else {}))


def answered(report, old_data, result, changed_key, ctx):
    """What an autosave's answer renews, when the page sent only the fields
    it changed: the bases of the fields sent or shown anew, and no others
    (a field the page still shows as it was keeps the base it was shown
    with, so another's change to it is merged, not overwritten, when the
    clerk edits it later); the messages, proof-reader's findings and text
    as printed of those fields and of those whose findings the save
    changed (a paragraph repeated elsewhere). A figure changed, every text
    prints differently: then every field's are renewed, as for a whole form."""
    fields = ctx["report_type"].fields
    renewed = {*result.sent, *result.theirs, *(k for k in (changed_key, getattr(result, "model_key", None)) if k)}
    figures_changed = any(f.is_figure for f in fields if f.key in renewed)
    shown = set(renewed)
    checked = getattr(report, "checked", None)  # this save's findings (Report.count_findings)
    # Only paragraphs repeated across fields make a field's findings depend on another's text.
    repeats = any(f.kind in ("paragraphs", "items") for f in fields if f.key in renewed)
    if repeats and not figures_changed and checked is not None and checked[0] is report.data:
        before = proofread.check(ctx["report_type"], old_data, report.last_year_data)
        shown |= {key for key in before.keys() | checked[1].keys() if before.get(key) != checked[1].get(key)}
    return {"shown": fields if figures_changed else [f for f in fields if f.key in shown],
            "figures_changed": figures_changed,
            "new_bases": page_bases(ctx["report_type"], ctx["data"], ctx["pending"], renewed)}


def refused_meanwhile(report_id, conflict):
    """The report stopped being editable while this save was merged (the
    other tab submitted it, the round closed): say why, as for any refusal."""
    report = report_or_404(report_id)
    return conflict_response(report, conflict) if may_edit(g.user, report) else refuse_edit(report)


def conflict_response(report, conflict):
    message = (f"此报告已在别的窗口或由他人修改（现为第 {conflict.current} 版），"
               "为免覆盖，刚才的修改没有保存。")
    if is_htmx():
        return partial_response(
            render_template("fill/_save_status.html", state="conflict", message=message, report=report),
            409, **{"HX-Retarget": "#save-status", "HX-Reswap": "outerHTML"})
    # Show what this tab sent, unsaved, so it can be copied before reloading;
    # the page keeps the old version, so saving it again conflicts again.
    report_type = report.report_type
    sent, _ = report_type.parse_form(request.form, report.data)
    sent_version = request.form.get("version", "")
    if sent_version.isdigit():
        report.version = int(sent_version)
    ctx = page_context(report, data=sent)
    ctx["conflict"] = message
    return render_template("fill/report.html", **ctx), 409


@bp.post("/reports/<int:report_id>/submit")
def submit(report_id):
    """提交审核 is a plain form post, after its confirmation. htmx sends
    here only an autosave made while the focus rested on that button
    (htmx takes the focused button's formaction): it is saved, not submitted."""
    if is_htmx():
        return save(report_id)
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return refuse_edit(report)
    try:
        report, errors, _, _ = save_from_form(report)
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return refused_meanwhile(report_id, conflict)
    report_type = report.report_type
    missing = report_type.missing(report.data)
    kept = [key for key in report.pending or {} if key in report_type.by_key]  # refused or in conflict
    if errors or missing or kept:
        ctx = page_context(report, errors, problems=True)
        return render_template("fill/report.html", **ctx), 422
    unexplained = unfinished_unexplained(report_type, report.data, entries_to_carry(report.unit_id, report.round.year))
    if unexplained and request.form.get("ledger_confirmed") != "1":
        return render_template("ledger/submit_confirm.html", report=report, problems=unexplained)
    try:
        # Submits the version just checked for missing figures, and only
        # while the report is still editable.
        report.change_status("submitted", g.user, "submit")
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return conflict_response(report, conflict)
    flash(f"已提交，等待{report.reviewer}审核。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


@bp.post("/reports/<int:report_id>/withdraw")
def withdraw(report_id):
    """Take back a submission the office has not opened yet; refused after, with why."""
    report = report_or_404(report_id)
    if not (may_withdraw(g.user, report) and report.withdraw(g.user)):
        flash(withdraw_refusal(report_or_404(report_id)), "error")
    else:
        flash("已撤回，报告回到草稿，可以继续修改；改好后请重新提交审核。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


@bp.get("/reports/<int:report_id>/docx")
def download(report_id):
    report = report_or_404(report_id)
    body = report_docx(report)
    AuditEvent.record("export", g.user, report=report, detail="docx")
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": content_disposition(report_filename(report))})
