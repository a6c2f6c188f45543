"""The filler's pages: the report list, the fill page with autosave, submit,
preview and the Word download.

Views return a whole page, or only a partial when htmx asks (HX-Request);
such routes send `Vary: HX-Request` so no cache mixes the two.
"""
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for

from .auth import edit_refusal, may_edit, report_or_404, visible_reports
from .documents import content_disposition, report_docx, report_filename
from .models import AuditEvent, Conflict, NotEditable, Report, now
from .partials import is_htmx, partial_response
from .documents.pdf import (NO_PDFTOPPM, ConverterError, availability, document_blocks, page_image, pdftoppm_path,
                            report_preview)

bp = Blueprint("fill", __name__)


@bp.route("/")
def home():
    if g.user.is_admin:
        return redirect(url_for("township.home"))  # the office starts at its progress board
    reports = visible_reports(g.user).order_by(Report.round.desc(), Report.unit)
    return render_template("fill/home.html", reports=reports)


def page_context(report, errors=None, typed=None, problems=None, data=None):
    report_type = report.report_type
    editable = may_edit(g.user, report)
    return {
        "report": report,
        "report_type": report_type,
        "data": report.data if data is None else data,
        "errors": errors or {},
        "typed": typed or {},
        "editable": editable,
        "missing": report_type.missing(report.data),
        "problems": problems,
        "preview": None if editable else report_type.docx_context(report.data, report.meta),
        "filename": report_filename(report),
        "events": AuditEvent.transitions_of(report),
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


def converted(report):
    """The report's cached or freshly converted preview; ConverterError when it cannot be."""
    return report_preview(report, preview_dir(), lambda: report_docx(report))


@bp.get("/reports/<int:report_id>/preview")
def preview(report_id):
    """The pages as they print (images from LibreOffice), or, where that is
    impossible, the document's own paragraphs laid out as HTML, saying why."""
    report = report_or_404(report_id)
    problem = availability()
    pages = None
    if problem is None:
        try:
            pages = converted(report)
        except ConverterError as e:
            problem = str(e)
    pdf_ready = pages is not None
    if pages is not None and pdftoppm_path() is None:  # the PDF, but no page images
        pages, problem = None, NO_PDFTOPPM
    blocks = None if pages else document_blocks(report_docx(report))
    return render_template("fill/preview.html", report=report, pages=pages, blocks=blocks, problem=problem,
                           pdf_ready=pdf_ready, filename=report_filename(report), editable=may_edit(g.user, report))


@bp.get("/reports/<int:report_id>/pages/<int:version>/<int:page>.png")
def page_png(report_id, version, page):
    """One page image; the version in the address lets the browser cache it for good."""
    report = report_or_404(report_id)
    if version != report.version:
        abort(404)
    try:
        pages = converted(report)
        if not 1 <= page <= pages.pages:
            abort(404)
        image = page_image(pages, page)
    except ConverterError as e:
        # Not a server error: this machine cannot draw pages (the message says why).
        return Response(str(e), 409, mimetype="text/plain")
    response = send_file(image, mimetype="image/png", max_age=86400)
    return response


@bp.get("/reports/<int:report_id>/pdf")
def download_pdf(report_id):
    report = report_or_404(report_id)
    problem = availability()
    try:
        if problem:
            raise ConverterError(problem)
        pages = converted(report)
    except ConverterError as e:
        return render_template("errors/page.html", title="无法生成 PDF", message=str(e)), 409
    AuditEvent.record("export", g.user, report=report, detail="pdf")
    name = str(Path(report_filename(report)).with_suffix(".pdf"))
    return Response(pages.pdf.read_bytes(), mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(name)})


def refuse_edit(report):
    message = edit_refusal(report)
    if is_htmx():
        return partial_response(render_template("fill/_save_status.html", state="refused", message=message),
                                409, **{"HX-Retarget": "#save-status", "HX-Reswap": "outerHTML"})
    flash(message, "error")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


def save_from_form(report):
    """Parse the posted form into the report; returns (errors, changed_key).

    Raises Conflict when the page was based on an outdated version and
    would change the report. A form equal to what is stored writes nothing
    and conflicts with nothing: idle autosaves add no revisions, and a
    submit that overtakes its tab's last autosave is not refused.
    """
    report_type = report.report_type
    data, errors = report_type.parse_form(request.form, report.data)
    op = request.form.get("op", "")
    changed_key = apply_op(report, data, op) if op else None
    try:
        expected = int(request.form.get("version", ""))
    except ValueError:
        raise Conflict(report.version) from None
    if data != report.data:
        report.save_data(data, g.user, expected)
    return errors, changed_key


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


def typed_values(report, errors):
    """What the user typed into fields that were refused, to show it again
    (for an items field, its list of items); a field the form did not send
    shows its stored value."""
    fields = report.report_type.by_key
    typed = {key: fields[key].from_form(request.form) for key in errors if key in fields}
    return {key: value for key, value in typed.items() if value is not None}


@bp.post("/reports/<int:report_id>")
def save(report_id):
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return refuse_edit(report)
    try:
        errors, changed_key = save_from_form(report)
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return conflict_response(report, conflict)
    if not is_htmx():
        if errors:
            ctx = page_context(report, errors, typed_values(report, errors))
            return render_template("fill/report.html", **ctx), 422
        flash(f"已保存 {now():%H:%M:%S}", "ok")
        target = f"#field-{changed_key}" if changed_key else ""
        return redirect(url_for("fill.report_page", report_id=report.id) + target, 303)
    ctx = page_context(report, errors)
    body = render_template("fill/_save_result.html", changed_key=changed_key, saved_at=now(), **ctx)
    if changed_key:
        field = ctx["report_type"].by_key[changed_key]
        body = render_template("fill/_items.html", f=field, **ctx) + body
    return partial_response(body)


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
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return refuse_edit(report)
    try:
        errors, _ = save_from_form(report)
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return conflict_response(report, conflict)
    report_type = report.report_type
    missing = report_type.missing(report.data)
    if errors or missing:
        ctx = page_context(report, errors, typed_values(report, errors), problems=True)
        return render_template("fill/report.html", **ctx), 422
    try:
        # Submits the version just checked for missing figures, and only
        # while the report is still editable.
        report.change_status("submitted", g.user, "submit")
    except NotEditable:
        return refuse_edit(report_or_404(report_id))
    except Conflict as conflict:
        return conflict_response(report, conflict)
    flash("已提交，等待镇党建办审核。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


@bp.get("/reports/<int:report_id>/docx")
def download(report_id):
    report = report_or_404(report_id)
    body = report_docx(report)
    AuditEvent.record("export", g.user, report=report, detail="docx")
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": content_disposition(report_filename(report))})
