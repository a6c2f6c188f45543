"""报告类型 → Word 模板: an office's own Word template for a type.

The type's page (types.py) includes templates/township/_type_template.html:
what the newest version prints with (the generated official format, or the
office's template), a starting template to edit in Word, and the upload
form. An upload is checked whole (documents.uploaded.check_template) and
every problem is shown beside the form in Chinese; an accepted template is
stored with the type's definition as its next version, so rounds under way
keep printing as they did until moved to the new version.
"""
from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from ..auth import changeable_type_or_404, type_or_404
from ..documents import content_disposition
from ..documents.official import starter_template
from ..documents.uploaded import MAX_BYTES, check_template, names_of, template_of
from ..models import AuditEvent
from . import bp
from .types import type_page_context

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@bp.app_template_global()
def uploaded_template_of(report_type):
    """The office's template the type's version prints with, or None (the generated format)."""
    return template_of(report_type)


@bp.app_template_global()
def template_names(report_type):
    """What a placeholder may name, as a clerk types it: the built-ins, then the labels."""
    return [name for name, key in names_of(report_type).items() if name not in {f.key for f in report_type.fields}]


def refused(record, errors):
    return render_template("township/type.html", **type_page_context(record, template_errors=errors)), 422


@bp.post("/types/<int:type_id>/template")
def upload_type_template(type_id):
    record = changeable_type_or_404(type_id)
    upload = request.files.get("template")
    if upload is None or not upload.filename:
        return refused(record, ["请选择 Word 模板文件（.docx）。"])
    raw = upload.read(MAX_BYTES + 1)
    errors = check_template(raw, record.newest())
    if errors:
        return refused(record, errors)
    version, new = record.save_version(record.newest_version().definition, g.user, template=raw)
    if new:
        AuditEvent.record("type_version", g.user, detail=f"{record.name} 第 {version.number} 版（上传 Word 模板）")
        flash(f"Word 模板检查通过，已保存为「{record.name}」第 {version.number} 版。正在进行的填报仍用原来的版本。", "ok")
    else:
        flash("与最新版本的模板相同，没有保存新版本。", "ok")
    return redirect(url_for(".type_page", type_id=record.id, _anchor="type-template"), 303)


@bp.post("/types/<int:type_id>/template/remove")
def remove_type_template(type_id):
    """Back to the generated official format, as the type's next version
    (an empty template is the versions' way of saying "none")."""
    record = changeable_type_or_404(type_id)
    if template_of(record.newest()) is None:
        return redirect(url_for(".type_page", type_id=record.id, _anchor="type-template"), 303)
    version, _ = record.save_version(record.newest_version().definition, g.user, template=b"")
    AuditEvent.record("type_version", g.user, detail=f"{record.name} 第 {version.number} 版（改用系统生成的公文格式）")
    flash(f"已保存为「{record.name}」第 {version.number} 版：文档改用系统生成的公文格式。", "ok")
    return redirect(url_for(".type_page", type_id=record.id, _anchor="type-template"), 303)


@bp.get("/types/<int:type_id>/template.docx")
def download_type_template(type_id):
    record = type_or_404(type_id)
    blob = template_of(record.newest()) or abort(404)
    return Response(blob, mimetype=DOCX,
                    headers={"Content-Disposition": content_disposition(f"{record.name}模板.docx")})


@bp.get("/types/<int:type_id>/starter.docx")
def download_starter_template(type_id):
    record = type_or_404(type_id)
    return Response(starter_template(record.newest()), mimetype=DOCX,
                    headers={"Content-Disposition": content_disposition(f"{record.name}起始模板.docx")})
