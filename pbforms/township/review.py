"""Review of a report (return with comments, approve, reopen), and the sum
of the villages' figures offered to the township's own report."""
from collections import namedtuple

from flask import abort, flash, g, redirect, render_template, request, url_for

from ..auth import may_edit, may_review, report_or_404
from ..db import db_int, writing
from ..ledger.models import entries_from_report
from ..forms import Invalid, clean_text
from ..history import changes
from ..models import AuditEvent, Conflict, Report, Revision
from . import bp, page_or_partial

COMMENT_MAX = 2000


def read_comments(report_type):
    """The overall comment and the per-field ones; returns (comment, {key: text}, errors)."""
    comment = clean_text(request.form.get("comment", "")).strip()
    field_comments, errors = {}, {}
    if len(comment) > COMMENT_MAX:
        errors["comment"] = f"意见最多 {COMMENT_MAX} 个字，现在 {len(comment)} 个字"
    for f in report_type.fields:
        text = clean_text(request.form.get(f"comment-{f.key}", "")).strip()
        if len(text) > COMMENT_MAX:
            errors[f.key] = f"意见最多 {COMMENT_MAX} 个字，现在 {len(text)} 个字"
        elif text:
            field_comments[f.key] = text
    return comment, field_comments, errors


def comments_text(report_type, comment, field_comments):
    """The comments of a return as one text for the audit event."""
    lines = [comment] if comment else []
    lines += [f"{report_type.by_key[key].label}：{text}" for key, text in field_comments.items()]
    return "\n".join(lines)


SinceReturn = namedtuple("SinceReturn", "event changed comment field_comments")


def since_return(report, events):
    """A report handed in again after a return: what changed since the
    version returned ({key: history.Change}), and the return's comments,
    which stay on the report until the office decides again. None for a
    report not submitted, or never returned."""
    if report.status != "submitted" or report.returned_version is None:
        return None
    returned = Revision.of(report, report.returned_version)
    if returned is None:
        return None
    event = next((e for e in reversed(events) if e.action in ("return", "reopen")), None)
    changed = {c.field.key: c for c in changes(report.report_type, returned.data, report.data)}
    return SinceReturn(event, changed, report.review_comment, report.field_comments or {})


def review_page(report, errors=None, status=200):
    report_type = report.report_type
    events = list(AuditEvent.transitions_of(report))
    return render_template(
        "township/review.html", report=report, report_type=report_type, data=report.data,
        preview=report_type.docx_context(report.data, report.meta),
        missing=report_type.missing(report.data), events=events, since=since_return(report, events),
        errors=errors or {}, typed=request.form if errors else {}, editable=may_edit(g.user, report),
        reviewable=may_review(g.user, report),
    ), status


def reviewed_or_403(report_id):
    """A report the admin may approve or return: 404 outside its part, 403
    for its office's own report, which the office above reviews."""
    report = report_or_404(report_id)
    return report if may_review(g.user, report) else abort(403)


@bp.get("/reports/<int:report_id>")
def review(report_id):
    """Any report, read-only, with its missing figures and the review buttons.
    Looking changes nothing: a link followed from anywhere must not end the
    filler's chance to withdraw (that is `start_review`, a POST)."""
    return review_page(report_or_404(report_id))


@bp.post("/reports/<int:report_id>/open")
def start_review(report_id):
    """开始审核: from now on the filler can no longer withdraw the submitted report."""
    report = reviewed_or_403(report_id)
    if report.status != "submitted":
        flash(f"此报告{report.status_label}，只有已提交的报告才能开始审核。", "error")
    else:
        report.mark_opened()
        flash(f"已开始审核，{report.unit.name}不能再撤回此报告。", "ok")
    return redirect(url_for(".review", report_id=report.id), 303)


@bp.post("/reports/<int:report_id>/return")
def return_report(report_id):
    """Send a submitted report back with comments, or reopen an approved one."""
    report = reviewed_or_403(report_id)
    report_type = report.report_type
    if report.status not in ("submitted", "approved"):
        flash(f"此报告{report.status_label}，只有已提交或已通过的报告才能退回。", "error")
        return redirect(url_for(".review", report_id=report.id), 303)
    if not report.round.is_open:
        flash("本轮填报已结束，退回后填报单位也无法修改。请先在“填报轮次”中重新开启本轮。", "error")
        return redirect(url_for(".review", report_id=report.id), 303)
    comment, field_comments, errors = read_comments(report_type)
    reopening = report.status == "approved"
    if not (comment or field_comments or reopening or errors):
        errors["comment"] = "退回时请写明意见：在这里写总体意见，或在需要修改的项目下写意见。"
    if errors:
        return review_page(report, errors, 422)
    try:
        report.send_back(g.user, comment, field_comments, "reopen" if reopening else "return",
                         comments_text(report_type, comment, field_comments))
    except Conflict:
        flash("此报告在此期间已被他人处理，未退回。请查看其现在的状态。", "error")
        return redirect(url_for(".review", report_id=report.id), 303)
    flash(f"已{'重新打开' if reopening else '退回'}{report.unit.name}的报告，对方可以修改后重新提交。", "ok")
    return redirect(url_for(".review", report_id=report.id), 303)


@bp.post("/reports/<int:report_id>/approve")
def approve(report_id):
    """Approve. Comments typed on the page are never dropped: the office is
    asked whether to return the report with them instead, or to approve and
    keep them as a note the filler sees."""
    report = reviewed_or_403(report_id)
    report_type = report.report_type
    if report.status != "submitted":
        flash(f"此报告{report.status_label}，只有已提交的报告才能审核通过。", "error")
        return redirect(url_for(".review", report_id=report.id), 303)
    comment, field_comments, errors = read_comments(report_type)
    if errors:
        return review_page(report, errors, 422)
    if (comment or field_comments) and request.form.get("with_comments") != "keep":
        return render_template("township/approve_comments.html", report=report, report_type=report_type,
                               comment=comment, field_comments=field_comments)
    try:
        with writing():  # the report's 整改 items enter the ledger with the approval, or neither happens
            report.approve(g.user, comment, field_comments, comments_text(report_type, comment, field_comments))
            entries_from_report(report, g.user)
    except Conflict:
        flash("此报告在此期间已被他人处理，未审核通过。请查看其现在的状态。", "error")
    else:
        kept = "，意见已作为备注留给填报单位" if comment or field_comments else ""
        flash(f"{report.unit.name}的报告已审核通过{kept}。", "ok")
    return redirect(url_for(".review", report_id=report.id), 303)


# --- the township's report: the sum of the villages ------------------------

def chosen_sources(sources):
    """The reports ticked on the page; on first opening, those handed in."""
    if "chosen" not in request.values:
        return [r for r in sources if r.status in ("submitted", "approved")]
    ids = set(request.values.getlist("report", type=db_int))
    return [r for r in sources if r.id in ids]


def figure_of(source, field):
    """`source`'s figure that `field` (the township's) sums: the figure of the
    source's own type with the same label and kind, or None when its type
    has none. Types differ (a village does not hold a 党委会议), so labels,
    not keys, say which figures are the same."""
    theirs = source.report_type.count_by_label.get(field.label)
    return theirs if theirs is not None and theirs.kind == field.kind else None


def suggestions(fields, report, sources, chosen):
    """Per summable figure some source's type also has: the township's value
    now, the sum over the chosen reports, who left it empty."""
    rows = []
    for f in fields:
        if not any(figure_of(r, f) for r in sources):
            continue
        values = [(r.unit.name, r.data.get(figure_of(r, f).key)) for r in chosen if figure_of(r, f)]
        rows.append({
            "field": f,
            "current": report.data.get(f.key),
            "sum": f.total(v for _, v in values),
            "empty": [name for name, v in values if v is None],
        })
    return rows


@bp.route("/reports/<int:report_id>/sums", methods=["GET", "POST"])
def sums(report_id):
    """Offer the sum of the chosen villages' figures; the admin reviews, then applies."""
    report = report_or_404(report_id)
    if report.unit.kind != "township":
        abort(404)
    report_type = report.report_type
    sources = [r for r in Report.in_round(report.round) if r.unit.parent_id == report.unit_id]
    fields = [f for f in report_type.counts if f.sum_of_units and any(figure_of(r, f) for r in sources)]
    chosen = chosen_sources(sources)
    editable = may_edit(g.user, report)
    if request.method == "POST":
        if not editable:
            flash("此报告现在不能修改，未采用汇总数字。", "error")
            return redirect(url_for("fill.report_page", report_id=report.id), 303)
        return apply_sums(report, fields, chosen)
    return page_or_partial("township/sums.html", "township/_sums.html", report=report, sources=sources,
                           chosen=chosen, rows=suggestions(fields, report, sources, chosen), editable=editable)


def apply_sums(report, fields, chosen):
    data, taken = dict(report.data), []
    back = url_for(".sums", report_id=report.id, chosen=1, report=[r.id for r in chosen])
    used = set(request.form.getlist("use"))
    for f in fields:
        if f.key in used:
            try:
                data[f.key] = f.clean(request.form.get(f"value-{f.key}", ""))
            except Invalid as e:
                flash(f"{f.label}：{e}", "error")
                return redirect(back, 303)
            taken.append(f"{f.label} {f.as_text(data[f.key])}{f.unit}")
    if not taken:
        flash("没有勾选要采用的数字，报告未修改。", "error")
        return redirect(back, 303)
    try:
        report.save_data(data, g.user, request.form.get("version", type=db_int),
                         note=f"采用{len(chosen)}个村（社区）的汇总数字")
    except Conflict as conflict:
        flash(f"报告在此期间已被修改（现为第 {conflict.current} 版），未采用。请核对后重新采用。", "error")
        return redirect(back, 303)
    flash("已采用汇总数字：" + "，".join(taken) + "。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)
