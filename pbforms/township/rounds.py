"""Reporting rounds and the progress board of each."""
import datetime
from collections import Counter

import click
from flask import flash, g, redirect, render_template, request, url_for

from ..auth import (may_change_round, office_of, own_round_or_404, round_or_404, unit_or_404, visible_rounds,
                    visible_types)
from ..db import db_int, writing
from ..exports import SCOPES, most_followed, scope_counts
from ..filenames import unsafe_characters, unsafe_message
from ..documents.pdf import availability
from ..forms import cn_date
from ..ledger.models import LedgerEntry
from ..models import AuditEvent, Notice, Report, ReportTypeRecord, Round, Unit
from ..rollup import is_deep, parts_progress, progress_totals, reaches_below
from . import bp, one_line, page_or_partial

# The type each kind of unit gets unless the office chooses another.
DEFAULT_TYPES = {"township": "annual_report", "village": "village_report", "community": "village_report"}


def offered_types():
    """The types the admin may give a new round: those it sees, not retired."""
    return visible_types(g.user).where(ReportTypeRecord.retired == False)  # noqa: E712


def default_type_ids():
    offered = {r.builtin: r.id for r in ReportTypeRecord.offered() if r.builtin}
    fallback = next(iter(r.id for r in ReportTypeRecord.offered() if r.office_id is None), None)
    return {kind: offered.get(stem, fallback) for kind, stem in DEFAULT_TYPES.items()}


DEADLINE_FORMAT = "截止日期格式应为 2024-01-10"


def parse_deadline(text):
    """The date `text` names (2024-01-10), or None."""
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


def check_deadline_change(text):
    """A deadline set or moved on a running round: (date, None) or (None, message).
    Unlike a new round's, it may not lie in the past: a unit's days left
    would turn into days overdue with nothing it could do."""
    deadline = parse_deadline(text or "")
    if deadline is None:
        return None, "请填写截止日期，如 2024-01-10" if not (text or "").strip() else DEADLINE_FORMAT
    if deadline < datetime.date.today():
        return None, f"截止日期 {cn_date(deadline)} 已经过去，请改为今天或以后的日期"
    return deadline, None


def check_new_round(title, year_text, deadline_text, type_ids, office, reach):
    """The one check of a new round of `office` reaching `reach`, for the
    page and `round open` alike.

    `type_ids` is {unit kind: type id as given (text or int)}; a type is
    needed for each kind among the units the round reaches, and one given
    for another kind is kept (checked all the same). Returns (year,
    deadline, {kind: ReportType, the type's newest version}, errors);
    errors are keyed by the form's names (title, year, deadline, reach,
    type-<kind>).
    """
    errors = {}
    if reach not in Round.REACHES:
        errors["reach"] = "请选择本轮由哪些单位填报"
        reach = "all"
    needed = Round.kinds_reached(office, reach)
    if not needed:
        errors["reach"] = f"{office.name}之下还没有可以填报的单位，请先在“单位”页添加"
    if not title:
        errors["title"] = "请填写轮次名称，如 2023年度抓基层党建工作述职"
    elif len(title) > 60:
        errors["title"] = "轮次名称最多 60 个字"
    elif unsafe_characters(title):
        errors["title"] = unsafe_message("轮次名称")
    year_text = str(year_text or "").strip()
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    if year is None or not 2000 <= year <= 2100:
        errors["year"] = "请填写年度，如 2023"
    types = {}
    for kind, label in Unit.KINDS.items():
        given = str(type_ids.get(kind) or "").strip()
        record = ReportTypeRecord.get_or_none(ReportTypeRecord.id == int(given)) if given.isdigit() and \
            len(given) < 10 else None
        if not given and kind not in needed:
            continue
        if not given:
            errors[f"type-{kind}"] = f"请选择{label}的报告类型"
        elif record is None:
            errors[f"type-{kind}"] = f"没有编号为 {given} 的报告类型（{label}）"
        elif record.retired:
            errors[f"type-{kind}"] = f"报告类型「{record.name}」已停用，不能用于新的填报轮次（{label}）"
        else:
            types[kind] = record.newest()
    deadline = None
    if deadline_text:
        deadline = parse_deadline(deadline_text)
        if deadline is None:
            errors["deadline"] = DEADLINE_FORMAT
    if not errors:
        other = Round.open_alike(year, {kind: t.type_id for kind, t in types.items()},
                                 Round.units_of(office, reach))
        if other:
            errors["title"] = f"已有一个进行中的 {year} 年度同类填报（{other.title}），不能重复开启"
    return year, deadline, types, errors


def read_round_form():
    values = {key: (request.form.get(key) or "").strip() for key in ("title", "year", "deadline")}
    values["title"] = one_line(values["title"])
    values["types"] = {kind: (request.form.get(f"type-{kind}") or "").strip() for kind in Unit.KINDS}
    values["reach"] = request.form.get("reach") or "all"
    year, deadline, types, errors = check_new_round(values["title"], values["year"], values["deadline"],
                                                    values["types"], office_of(g.user), values["reach"])
    # On the page, a deadline already past needs confirming: every unit would be overdue at once.
    values["past_ok"] = request.form.get("past_ok") == "1"
    if deadline and deadline < datetime.date.today() and not values["past_ok"] and "deadline" not in errors:
        errors["deadline"] = (f"截止日期 {cn_date(deadline)} 已经过去，开启后每个单位都会立即显示逾期。"
                              "请改为今后的日期；确要使用这个日期，请勾选下面的“截止日期已过，仍然使用”。")
        values["ask_past"] = True
    return values, year, deadline, types, errors


def proposed_year(today):
    """The year a new round reports on: in the first half of a year the
    reports are about the year just ended; from July, about this one."""
    return today.year - 1 if today.month <= 6 else today.year


def reach_choice(office):
    """{reach: its label} for the new round's form, when the office has a
    choice: a county may open a round for its townships alone or for every
    unit below it; for a township's villages both are the same."""
    if not is_deep(office):
        return {}
    below = "、".join(Unit.KINDS[k] for k in Unit.KINDS if k in Round.kinds_reached(office, "children"))
    return {"children": f"只有直属的{below}（如各乡镇党委书记述职）", "all": "直属单位和其下所有村、社区"}


def rounds_page(values=None, errors=None, status=200):
    office = office_of(g.user)
    labels = reach_choice(office)
    default_year = proposed_year(datetime.date.today())
    values = values or {"year": str(default_year), "title": f"{default_year}年度抓基层党建工作述职",
                        "deadline": "", "types": {k: str(v) for k, v in default_type_ids().items()},
                        "reach": "children" if labels else "all"}
    rounds = list(visible_rounds(g.user))
    return render_template("township/rounds.html", rounds=rounds, offered=list(offered_types()),
                           changeable={r.id for r in rounds if may_change_round(g.user, r)},
                           kinds=Unit.KINDS, values=values, errors=errors or {}, reach_labels=labels,
                           reach_counts={r: Round.units_of(office, r).count() for r in labels},
                           children_kinds=Round.kinds_reached(office, "children") if labels else set()), status


@bp.get("/rounds")
def rounds():
    return rounds_page()


@bp.post("/rounds")
def open_round():
    """A new round of the admin's office: every active unit below it gets a report of its kind's type.
    Checked and opened in one transaction, so a double click cannot open
    the same round twice."""
    with writing():
        values, year, deadline, types, errors = read_round_form()
        if not errors:
            new_round = Round.start(values["title"], year, types, deadline, office_of(g.user), values["reach"])
            AuditEvent.record("round_open", g.user, detail=new_round.title)
    if errors:
        return rounds_page(values, errors, 422)
    count = Report.select().where(Report.round == new_round).count()
    flash(f"已开启「{new_round.title}」，{count} 个单位可以开始填报。", "ok")
    return redirect(url_for(".board", round_id=new_round.id), 303)


@click.command("open")
@click.option("--title", required=True, help="轮次名称，如 2023年度抓基层党建工作述职")
@click.option("--year", required=True, help="年度，如 2023")
@click.option("--deadline", default="", help="截止日期，如 2024-01-10")
@click.option("--type", "type_options", multiple=True, required=True,
              help="报告类型编号（各类单位都用它），或 KIND=编号（KIND 为 township、village、community），可重复")
@click.option("--office", "office_name", default="", help="开启本轮的单位（其下各单位填报），默认为最上级单位")
@click.option("--reach", type=click.Choice(list(Round.REACHES)), default="all", show_default=True,
              help="all：其下所有单位填报；children：只有直属单位填报（如县里只收各乡镇党委书记的述职）")
def round_open(title, year, deadline, type_options, office_name, reach):
    """Open a round; prints its id. Every active unit the round reaches gets a report of its kind's type."""
    office = Unit.get_or_none(Unit.name == office_name.strip()) if office_name.strip() else Unit.root()
    if office is None:
        raise click.ClickException(f"--office：找不到单位「{office_name}」（用 unit list 查看）")
    type_ids, problems = {}, []
    for option in type_options:
        kind, sep, given = option.partition("=")
        if not sep:
            type_ids.update(dict.fromkeys(Unit.KINDS, option))
        elif kind.strip() in Unit.KINDS:
            type_ids[kind.strip()] = given
        else:
            problems.append(f"--type {option}：单位类型应为 {'、'.join(Unit.KINDS)} 之一")
    missing = [kind for kind in Unit.KINDS if kind not in type_ids and kind in Round.kinds_reached(office, reach)]
    if missing and not problems:
        problems.append("请为这些单位类型指定报告类型：" + "、".join(f"{Unit.KINDS[k]}（--type {k}=编号）"
                                                               for k in missing) + "；用 type list 查看编号")
    if problems:
        raise click.ClickException("\n".join(problems))
    labels = {"title": "--title", "year": "--year", "deadline": "--deadline", "reach": "--reach",
              **{f"type-{k}": f"--type {k}" for k in Unit.KINDS}}
    with writing():
        year_value, deadline_value, types, errors = check_new_round(one_line(title), year, deadline.strip(), type_ids,
                                                                    office, reach)
        if not errors:
            new_round = Round.start(one_line(title), year_value, types, deadline_value, office, reach)
            AuditEvent.record("round_open", None, detail=new_round.title)
    if errors:
        raise click.ClickException("\n".join(f"{labels[key]}：{message}" for key, message in errors.items()))
    click.echo(new_round.id)


@bp.post("/rounds/<int:round_id>/deadline")
def set_deadline(round_id):
    """Set or move the round's deadline; the fillers' home pages follow at once."""
    round_ = own_round_or_404(round_id)
    deadline, problem = check_deadline_change(request.form.get("deadline"))
    if problem:
        flash(f"截止日期未修改：{problem}。", "error")
    else:
        round_.set_deadline(deadline, g.user)
        flash(f"「{round_.title}」的截止日期已设为 {cn_date(deadline)}，各单位的首页随即显示。", "ok")
    return redirect(url_for(".board", round_id=round_.id), 303)


@click.command("deadline")
@click.option("--round", "round_id", type=int, required=True, help="轮次编号（用 round list 查看）")
@click.option("--deadline", required=True, help="截止日期，如 2024-01-10")
def round_deadline(round_id, deadline):
    """Set or move a round's deadline."""
    round_ = Round.get_or_none(Round.id == round_id)
    if round_ is None:
        raise click.ClickException(f"找不到编号为 {round_id} 的填报轮次（用 round list 查看）")
    value, problem = check_deadline_change(deadline)
    if problem:
        raise click.ClickException(f"--deadline：{problem}")
    round_.set_deadline(value, None)
    click.echo(f"「{round_.title}」的截止日期已设为 {cn_date(value)}")


@bp.post("/rounds/<int:round_id>/status")
def set_round_open(round_id):
    """Close (read-only for fillers) or reopen a round."""
    round_ = own_round_or_404(round_id)
    is_open = request.form.get("open") == "1"
    # Reopening follows the rule of opening: one open round per year and
    # type. Checked and changed in one transaction, like opening.
    with writing():
        rival = is_open and Round.open_alike(round_.year, round_.type_ids, Round.units_of(round_.office, round_.reach),
                                             besides=round_)
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


# --- moving a round to its types' newest versions ----------------------------

def move_summary(round_, move):
    """What a move means for the round's reports: per removed field, how many
    reports hold something in it (kept in their history, no longer printed)."""
    reports = list(Report.select(Report.data).where((Report.round == round_)
                                                    & (Report.type_version == move.old.version_id)))
    held = Counter(f.key for r in reports for f in move.removed if not f.is_empty(r.data.get(f.key)))
    # Text referring to a removed figure keeps the reference, which then
    # names nothing: the filler is told beside the field, the admin here.
    gone = {f.label for f in move.removed if f.is_figure}
    referring = [r for r in reports if move.new.warnings(r.data)
                 and any(label in gone for f in move.old.fields for label in f.references(r.data.get(f.key)))]
    return {"move": move, "kinds": "、".join(Unit.KINDS[k] for k in Unit.KINDS if k in move.kinds),
            "held": held, "referring": len(referring), "gone": sorted(gone)}


@bp.get("/rounds/<int:round_id>/types")
def round_types(round_id):
    """Before moving: what changes for the round's reports, type by type."""
    round_ = own_round_or_404(round_id)
    moves = [move_summary(round_, m) for m in round_.pending_moves()]
    return render_template("township/round_types.html", round=round_, moves=moves)


@bp.post("/rounds/<int:round_id>/types")
def move_round_types(round_id):
    round_ = own_round_or_404(round_id)
    back = url_for(".round_types", round_id=round_.id)
    if not round_.is_open:
        flash("本轮填报已结束，不能更新报告类型。需要时请先重新开启本轮。", "error")
        return redirect(back, 303)
    expected = request.form.getlist("move")
    moves = round_.pending_moves()
    if sorted(expected) != sorted(f"{m.old.version_id}:{m.new.version_id}" for m in moves) or not moves:
        flash("报告类型在您打开此页之后又有变化，没有更新。请看过最新的变化后再决定。", "error")
        return redirect(back, 303)
    moved = round_.move_to_newest(g.user)
    flash("已更新：" + "；".join(f"{m.new.name} 改用第 {m.new.version} 版（{m.reports} 份报告）" for m in moved)
          + "。各报告已填的内容都已保留。", "ok")
    return redirect(url_for(".board", round_id=round_.id), 303)


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
    """Every unit's report of the round; a few queries, whatever the number of units.

    A county's board (of a round reaching below its townships) lists each
    township's own report and its villages' progress, with a link down to
    the township's board (`under`); a status filter lists the matching
    units of the whole part."""
    round_ = round_or_404(round_id)
    status = request.args.get("status", "")
    if status not in FILTERS:
        status = ""
    under_id = request.args.get("under", type=int)
    office = office_of(g.user)
    under = office if under_id is None else unit_or_404(under_id)
    parts = []
    if reaches_below(round_, under):
        parts, totals, followed = parts_progress(round_, under)
    else:
        totals, followed = progress_totals(round_, under)
    # The filter is the database's: a county's part holds thousands of reports.
    reports = list(Report.on_board(round_, under, status or None)) if status or not parts else []
    changeable = may_change_round(g.user, round_)
    return page_or_partial("township/board.html", "township/_board.html", round=round_, reports=reports,
                           today=datetime.date.today(), under=under if under.id != office.id else None,
                           parts=parts,
                           summary_type=most_followed(round_, followed.elements()),
                           total=sum(n for key, n in totals.items() if key != "overdue"), totals=totals,
                           status=status, filters=FILTERS, scopes=SCOPES,
                           scope_counts=scope_counts(totals),
                           refreshed_at=datetime.datetime.now(), types=round_.types,
                           changeable=changeable,
                           newer_types=round_.is_open and changeable and bool(round_.pending_moves()),
                           review_url=report_link("township.review"), download_url=report_link("fill.download"),
                           fill_url=report_link("fill.report_page"), office_problem=availability(),
                           ledger_counts=LedgerEntry.counts_by_unit())


# --- reminders and notices --------------------------------------------------

def read_notice_text(what="通知"):
    text = " ".join((request.form.get("text") or "").split())
    if not text:
        return None, f"请写{what}的内容。"
    if len(text) > Notice.TEXT_MAX:
        return None, f"最多 {Notice.TEXT_MAX} 个字，现在 {len(text)} 个字。"
    return text, None


def remind_page(round_, errors=None, status=200):
    """The units a reminder may go to (not handed in: once the deadline has
    passed, the late ones), each with `proposed` telling whether the form
    ticks it: all but the township's own, which the office fills itself.
    Its own page, not the board's: a thousand units' boxes would double
    the time of the board, which reloads itself every 30 s."""
    units = [r for r in Report.on_board(round_, office_of(g.user)) if r.status in Report.EDITABLE]
    chosen = set(request.form.getlist("unit", type=db_int)) if errors else None
    for r in units:
        r.proposed = r.unit_id in chosen if errors else r.unit_kind != "township"
    deadline = f"，截止日期{cn_date(round_.deadline)}" if round_.deadline else ""
    text = request.form.get("text") if errors else f"请抓紧填写并提交「{round_.title}」的报告{deadline}。"
    return render_template("township/remind.html", round=round_, units=units, text=text,
                           errors=errors or {}), status


@bp.get("/rounds/<int:round_id>/remind")
def remind_form(round_id):
    return remind_page(round_or_404(round_id))


@bp.post("/rounds/<int:round_id>/remind")
def remind(round_id):
    """催报: a reminder on the home page and the fill page of each unit the
    office ticked, among those that have not handed their report in."""
    round_ = round_or_404(round_id)
    chosen = set(request.form.getlist("unit", type=db_int))
    units = [r.unit for r in Report.in_round(round_, office_of(g.user)) if r.status in Report.EDITABLE and r.unit_id in chosen]
    text, problem = read_notice_text("催报")
    errors = {}
    if not round_.is_open:
        errors["unit"] = "本轮已结束，不能催报。"
    elif not units:
        errors["unit"] = "请勾选要催报的单位（只能催报尚未提交的单位）。"
    if problem:
        errors["text"] = problem
    if errors:
        return remind_page(round_, errors, 422)
    Notice.remind(round_, units, text, g.user)
    flash(f"已向 {len(units)} 个单位催报：{'、'.join(u.name for u in units)}。对方打开首页或填报页即可看到。", "ok")
    return redirect(url_for(".board", round_id=round_.id), 303)


@bp.post("/rounds/<int:round_id>/notice")
def post_notice(round_id):
    """通知: a notice to every unit of the round, on their home page until read."""
    round_ = round_or_404(round_id)
    text, problem = read_notice_text()
    if problem:
        flash(f"未发布通知：{problem}", "error")
    else:
        Notice.announce(round_, text, g.user, office_of(g.user))
        flash("已发布通知，各单位打开首页即可看到。", "ok")
    return redirect(url_for(".board", round_id=round_.id), 303)
