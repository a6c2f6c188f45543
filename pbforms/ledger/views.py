"""The ledger's pages: the unit's entries (autosaved like the report, 标记完成),
the office's (filters, 销号, 退回), each entry's history, the downloads, and
adding an entry from a review comment or a rating's 点评 and 意见. Who sees what is auth.py's."""
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from ..auth import (admin_required, ledger_entry_or_404, may_close, may_work_on, rated_unit_or_404, report_or_404,
                    office_of, safe_next, units_below)
from ..db import db_int
from ..documents import content_disposition
from ..exports import DOCX, XLSX
from ..models import Round, Unit
from ..partials import partial_response, wants_partial
from .logic import comment_text, done_refusal, read_entry_form
from .models import LedgerEntry, add_entry
from .outputs import ledger_docx, ledger_xlsx

bp = Blueprint("ledger", __name__, url_prefix="/ledger")


def filters():
    """The office's filters as asked (unit, status, overdue), unknown values dropped."""
    status = request.args.get("status", "")
    return {"unit_id": request.args.get("unit", type=db_int), "round_id": request.args.get("round", type=db_int),
            "status": status if status in LedgerEntry.STATUS_LABELS else "",
            "overdue": request.args.get("overdue") == "1"}


def ledger_page(errors=None, typed=None, status=200):
    chosen = filters() if g.user.is_admin else {}
    entries = list(LedgerEntry.listed(units_below(g.user), **chosen))
    body = render_template(
        "ledger/ledger.html", entries=entries, chosen=chosen, errors=errors or {}, typed=typed or {},
        statuses=LedgerEntry.STATUS_LABELS, may_work_on=may_work_on, may_close=may_close,
        units=Unit.ordered().where(Unit.id.in_(units_below(g.user))) if g.user.is_admin else [],
        rounds=Round.newest_first().where(Round.id.in_(LedgerEntry.select(LedgerEntry.round)))
        if g.user.is_admin else [])
    return partial_response(body, status)


@bp.get("/")
def ledger():
    """The unit's own entries, to work on; for the office, every entry below it, filtered."""
    return ledger_page()


LABELS = {"measures": "整改措施", "owner": "责任人", "due": "完成时限", "result": "完成情况"}


def writable_entry(entry_id):
    entry = ledger_entry_or_404(entry_id)
    if not may_work_on(g.user, entry):
        abort(403)
    return entry


@bp.post("/entries/<int:entry_id>")
def save_entry(entry_id):
    """The autosave of one entry's inputs: each refused input keeps what is
    stored and says why beside it; the others are saved."""
    entry = writable_entry(entry_id)
    values, errors = read_entry_form(request.form)
    changed = {k: v for k, v in values.items() if getattr(entry, k) != v}
    if changed:
        entry.change(g.user, "edit", "、".join(LABELS[k] for k in changed), **changed)
    if wants_partial():
        return partial_response(render_template("ledger/_entry_status.html", entry=entry, errors=errors,
                                                saved=bool(changed), oob=True), 422 if errors else 200)
    if errors:
        return ledger_page({entry.id: errors}, {entry.id: request.form}, 422)
    return redirect(url_for(".ledger") + f"#entry-{entry.id}", 303)


@bp.post("/entries/<int:entry_id>/done")
def mark_done(entry_id):
    """标记完成: what the form holds is saved with it; 完成情况 may not be empty."""
    entry = writable_entry(entry_id)
    values, errors = read_entry_form(request.form)
    refusal = done_refusal(values.get("result", entry.result))
    if refusal and "result" not in errors:
        errors["result"] = refusal
    if errors:
        return ledger_page({entry.id: errors}, {entry.id: request.form}, 422)
    entry.change(g.user, "done", values.get("result", entry.result), status="done", return_comment="", **values)
    flash(f"已标记完成：{entry.problem[:40]}。等待党建办销号。", "ok")
    return redirect(url_for(".ledger") + f"#entry-{entry.id}", 303)


@bp.post("/entries/<int:entry_id>/close")
@admin_required
def close_entry(entry_id):
    """销号: the office accepts a completed entry."""
    entry = ledger_entry_or_404(entry_id)
    if not may_close(g.user, entry):
        flash(f"此事项{entry.status_label}，只有已完成的事项才能销号或退回。", "error")
    else:
        entry.change(g.user, "close", status="closed")
        flash(f"已销号：{entry.unit.name} · {entry.problem[:40]}。", "ok")
    back = request.form.get("back")
    return redirect(safe_next(back) if back else url_for(".ledger"), 303)


@bp.post("/entries/<int:entry_id>/return")
@admin_required
def return_entry(entry_id):
    """退回: a completed entry goes back to 整改中 with the office's comment."""
    entry = ledger_entry_or_404(entry_id)
    if not may_close(g.user, entry):
        flash(f"此事项{entry.status_label}，只有已完成的事项才能销号或退回。", "error")
        return redirect(url_for(".ledger"), 303)
    comment, problem = comment_text(request.form.get("comment"), "退回意见")
    if problem:
        return ledger_page({entry.id: {"comment": problem}}, {entry.id: request.form}, 422)
    entry.change(g.user, "return", comment, status="open", return_comment=comment)
    flash(f"已退回：{entry.unit.name} · {entry.problem[:40]}。", "ok")
    return redirect(url_for(".ledger"), 303)


@bp.get("/entries/<int:entry_id>")
def entry_history(entry_id):
    """One entry with every change made to it, by whom and when."""
    entry = ledger_entry_or_404(entry_id)
    return render_template("ledger/entry.html", entry=entry, events=list(entry.history()))


@bp.post("/from-report/<int:report_id>")
@admin_required
def add_from_report(report_id):
    """The office adds an entry to the report's unit from one of its review comments."""
    report = report_or_404(report_id)
    problem, message = comment_text(request.form.get("problem"), "问题")
    if message:
        flash(message, "error")
    else:
        add_entry(report.unit_id, report.round_id, problem, g.user, f"{report.round.title}审核意见")
        flash(f"已列入{report.unit.name}的整改台账：{problem[:40]}。", "ok")
    return redirect(url_for("township.review", report_id=report.id) + "#ledger", 303)


RATING_SOURCES = {"remark": "点评", "opinion": "与会人员意见"}


@bp.post("/from-rating/<int:rated_id>")
@admin_required
def add_from_rating(rated_id):
    """The office adds an entry to a rated unit from the closed rating's 点评
    or an 意见 about the unit. An 意见 arrives as its text alone, so the
    entry and its history say nothing about who wrote it."""
    rated = rated_unit_or_404(rated_id)
    rating = rated.rating
    problem, message = comment_text(request.form.get("problem"), "问题")
    if rating.is_open:
        message = "评议结束后才能把点评和意见列入整改台账。"
    if message:
        flash(message, "error")
    else:
        source = RATING_SOURCES.get(request.form.get("source"), RATING_SOURCES["opinion"])
        add_entry(rated.unit_id, rating.round_id, problem, g.user, f"{rating.title}{source}")
        flash(f"已列入{rated.unit.name}的整改台账：{problem[:40]}。", "ok")
    return redirect(url_for("rating.meeting", rating_id=rating.id) + "#ledger", 303)


@bp.get("/export.<any(xlsx, docx):extension>")
@admin_required
def export(extension):
    """The ledger as .xlsx (a sheet per round) or one round's as a Word document."""
    chosen = filters()
    entries = list(LedgerEntry.listed(units_below(g.user), **chosen))
    if extension == "xlsx":
        return download(ledger_xlsx(entries), XLSX, "整改台账.xlsx")
    round_ = Round.get_or_none(Round.id == chosen["round_id"])
    if round_ is None:
        flash("下载 Word 版整改台账请先选择填报轮次。", "error")
        return redirect(url_for(".ledger"), 303)
    return download(ledger_docx(round_, entries, office_of(g.user).name), DOCX, f"{round_.title}问题整改台账.docx")


def download(body, mimetype, filename):
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": content_disposition(filename)})
