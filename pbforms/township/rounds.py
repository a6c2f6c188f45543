"""Reporting rounds and the progress board of each."""
import datetime
from collections import Counter

from flask import flash, g, redirect, render_template, request, url_for

from ..auth import round_or_404
from ..db import writing
from ..exports import SCOPES, scope_counts
from ..filenames import unsafe_characters, unsafe_message
from ..forms import cn_date, get_report_type, report_types
from ..models import AuditEvent, Notice, Report, Round
from . import bp, one_line, page_or_partial


def read_round_form():
    values = {key: (request.form.get(key) or "").strip() for key in ("title", "year", "report_type", "deadline")}
    values["title"] = one_line(values["title"])
    errors = {}
    if not values["title"]:
        errors["title"] = "请填写轮次名称，如 2023年度抓基层党建工作述职"
    elif len(values["title"]) > 60:
        errors["title"] = "轮次名称最多 60 个字"
    elif unsafe_characters(values["title"]):
        errors["title"] = unsafe_message("轮次名称")
    year = int(values["year"]) if values["year"].isdigit() and len(values["year"]) == 4 else None
    if year is None or not 2000 <= year <= 2100:
        errors["year"] = "请填写年度，如 2023"
    if values["report_type"] not in report_types():
        errors["report_type"] = "请选择报告类型"
    deadline = None
    values["past_ok"] = request.form.get("past_ok") == "1"
    if values["deadline"]:
        try:
            deadline = datetime.date.fromisoformat(values["deadline"])
        except ValueError:
            errors["deadline"] = "截止日期格式应为 2024-01-10"
        else:
            if deadline < datetime.date.today() and not values["past_ok"]:
                errors["deadline"] = (f"截止日期 {cn_date(deadline)} 已经过去，开启后每个单位都会立即显示逾期。"
                                      "请改为今后的日期；确要使用这个日期，请勾选下面的“截止日期已过，仍然使用”。")
                values["ask_past"] = True
    if not errors and (Round.open_rounds().where((Round.year == year) & (Round.report_type == values["report_type"]))
                       .exists()):
        errors["title"] = f"已有一个进行中的 {year} 年度同类填报，不能重复开启"
    return values, year, deadline, errors


def proposed_year(today):
    """The year a new round reports on: in the first half of a year the
    reports are about the year just ended; from July, about this one."""
    return today.year - 1 if today.month <= 6 else today.year


def rounds_page(values=None, errors=None, status=200):
    default_year = proposed_year(datetime.date.today())
    types = list(report_types().values())
    values = values or {"year": str(default_year), "title": f"{default_year}年度{types[0].name.removesuffix('报告')}",
                        "report_type": types[0].id, "deadline": ""}
    return render_template("township/rounds.html", rounds=Round.newest_first(), types=types,
                           types_by_id=report_types(), values=values, errors=errors or {}), status


@bp.get("/rounds")
def rounds():
    return rounds_page()


@bp.post("/rounds")
def open_round():
    """A new round: every active unit gets a report in it. Checked and opened
    in one transaction, so a double click cannot open the same round twice."""
    with writing():
        values, year, deadline, errors = read_round_form()
        if not errors:
            new_round = Round.start(values["title"], year, get_report_type(values["report_type"]), deadline)
            AuditEvent.record("round_open", g.user, detail=new_round.title)
    if errors:
        return rounds_page(values, errors, 422)
    count = Report.select().where(Report.round == new_round).count()
    flash(f"已开启「{new_round.title}」，{count} 个单位可以开始填报。", "ok")
    return redirect(url_for(".board", round_id=new_round.id), 303)


@bp.post("/rounds/<int:round_id>/status")
def set_round_open(round_id):
    """Close (read-only for fillers) or reopen a round."""
    round_ = round_or_404(round_id)
    is_open = request.form.get("open") == "1"
    # Reopening follows the rule of opening: one open round per year and
    # type. Checked and changed in one transaction, like opening.
    with writing():
        rival = is_open and (Round.open_rounds().where((Round.year == round_.year) & (Round.id != round_.id)
                                                       & (Round.report_type == round_.report_type)).first())
        if not rival:
            round_.set_open(is_open, g.user)
    if rival:
        flash(f"已有一个进行中的 {round_.year} 年度同类填报「{rival.title}」，不能重新开启「{round_.title}」。"
              "请先结束那一轮。", "error")
    else:
        flash(f"已{'重新开启' if is_open else '结束'}「{round_.title}」{'' if is_open else '，各单位的报告现为只读'}。",
              "ok")
    if request.form.get("back") == "board":
        return redirect(url_for(".board", round_id=round_.id), 303)
    return redirect(url_for(".rounds"), 303)


# --- the progress board -----------------------------------------------------

FILTERS = {**Report.PROGRESS_LABELS, "overdue": "逾期"}
ANY_ID = 918_273_645  # stands for the report's id in `report_link`


def report_link(endpoint):
    """`url_for(endpoint, report_id=…)` as a function of the id, built once:
    the board links every one of up to a thousand rows, and url_for a row
    at a time took a fifth of the page's time."""
    head, tail = url_for(endpoint, report_id=ANY_ID).split(str(ANY_ID))
    return lambda report_id: f"{head}{report_id}{tail}"


@bp.get("/rounds/<int:round_id>")
def board(round_id):
    """Every unit's report of the round; two queries, whatever the number of units."""
    round_ = round_or_404(round_id)
    report_type = get_report_type(round_.report_type)
    status = request.args.get("status", "")
    if status not in FILTERS:
        status = ""
    reports = list(Report.on_board(round_, report_type))
    totals = Counter(r.progress for r in reports)
    totals["overdue"] = sum(1 for r in reports if r.is_overdue)
    shown = [r for r in reports if not status or r.progress == status or (status == "overdue" and r.is_overdue)]
    return page_or_partial("township/board.html", "township/_board.html", round=round_, reports=shown,
                           total=len(reports), totals=totals, status=status, filters=FILTERS, scopes=SCOPES,
                           scope_counts=scope_counts(totals),
                           refreshed_at=datetime.datetime.now(), report_type=report_type,
                           review_url=report_link("township.review"), download_url=report_link("fill.download"),
                           fill_url=report_link("fill.report_page"))


# --- reminders and notices --------------------------------------------------

def read_notice_text(default=""):
    text = " ".join((request.form.get("text") or "").split()) or default
    if not text:
        return None, "请写通知的内容。"
    if len(text) > Notice.TEXT_MAX:
        return None, f"最多 {Notice.TEXT_MAX} 个字，现在 {len(text)} 个字。"
    return text, None


@bp.post("/rounds/<int:round_id>/remind")
def remind(round_id):
    """催报: a reminder on the home page of every unit that has not handed its report in."""
    round_ = round_or_404(round_id)
    back = url_for(".board", round_id=round_.id)
    units = [r.unit for r in Report.in_round(round_) if r.status in ("draft", "returned")]
    if not round_.is_open or not units:
        flash("本轮已结束，不能催报。" if not round_.is_open else "所有单位都已提交，没有需要催报的单位。", "error")
        return redirect(back, 303)
    deadline = f"，截止日期{cn_date(round_.deadline)}" if round_.deadline else ""
    text, problem = read_notice_text(f"请抓紧填写并提交「{round_.title}」的报告{deadline}。")
    if problem:
        flash(f"未催报：{problem}", "error")
        return redirect(back, 303)
    Notice.remind(round_, units, text, g.user)
    flash(f"已向 {len(units)} 个未提交的单位催报：{'、'.join(u.name for u in units)}。对方打开首页即可看到。", "ok")
    return redirect(back, 303)


@bp.post("/rounds/<int:round_id>/notice")
def post_notice(round_id):
    """通知: a notice to every unit of the round, on their home page until read."""
    round_ = round_or_404(round_id)
    text, problem = read_notice_text()
    if problem:
        flash(f"未发布通知：{problem}", "error")
    else:
        Notice.announce(round_, text, g.user)
        flash("已发布通知，各单位打开首页即可看到。", "ok")
    return redirect(url_for(".board", round_id=round_.id), 303)
