"""The township office's pages: units, accounts, reporting rounds, the
progress board, review (return with comments, approve, reopen), and the sum
of the villages' figures for the township's own report.

Every route here is the admin's: the blueprint's guard refuses anyone else
before a view runs, so a route added later cannot forget it. A view answers
htmx with only the part of the page that changed, and sends
`Vary: HX-Request` so no cache mixes the two.
"""
import datetime
import re
from collections import Counter

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from peewee import IntegrityError

from .auth import admin_required, end_sessions, may_edit, report_or_404, round_or_404, throttled
from .db import writing
from .exports import SCOPES
from .forms import Invalid, clean_text, cn_date, get_report_type, report_types
from .models import AuditEvent, Conflict, LoginFailure, Report, Round, Unit, User
from .partials import partial_response, wants_partial

bp = Blueprint("township", __name__, url_prefix="/township")

# The unit's name is part of every Word file's name, so none of the
# characters Windows refuses in a file name.
FILE_NAME_FORBIDDEN = re.compile(r'[\\/:*?"<>|]')
USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,30}")
COMMENT_MAX = 2000


@bp.before_request
@admin_required
def admin_only():
    """Runs before every view of this blueprint; `admin_required` does the refusing."""


@bp.context_processor
def vocabulary():
    return {"unit_kinds": Unit.KINDS}


bp.add_app_template_filter(cn_date, "cn_date")


def page_or_partial(page, partial, http_status=200, **context):
    return partial_response(render_template(partial if wants_partial() else page, **context), http_status)


def one_line(value):
    """A name typed into a form: one line, single spaces, nothing XML forbids."""
    return " ".join(clean_text(value or "").split())


@bp.get("/")
def home():
    """The office's start page: the board of the newest open round."""
    newest = Round.open_rounds().first()
    if newest is None:
        return redirect(url_for(".rounds"))
    return redirect(url_for(".board", round_id=newest.id))


# --- units ------------------------------------------------------------------

def name_taken(name):
    """Said when the form's check finds the name in use, and when the
    unique index refuses a name that check let through: on PostgreSQL two
    offices adding the same unit at the same moment both pass the check."""
    return f"已有名为「{name}」的单位"


def username_taken(username):
    """As name_taken, for an account's user name."""
    return f"用户名「{username}」已被使用"


def read_unit_form(unit=None):
    """The posted unit fields, checked; returns (values, {field: message})."""
    kind = request.form.get("kind", "")
    values = {
        "name": one_line(request.form.get("name")),
        "kind": kind,
        "secretary_title": one_line(request.form.get("secretary_title")) or Unit.DEFAULT_SECRETARY.get(kind, ""),
    }
    errors = {}
    name = values["name"]
    if not name:
        errors["name"] = "请填写单位名称"
    elif len(name) > 30:
        errors["name"] = "单位名称最多 30 个字"
    elif FILE_NAME_FORBIDDEN.search(name):
        errors["name"] = '单位名称不能含有 \\ / : * ? " < > | 这些符号（名称会出现在 Word 文件名中）'
    elif Unit.select().where((Unit.name == name) & (Unit.id != (unit.id if unit else 0))).exists():
        errors["name"] = name_taken(name)
    if kind not in Unit.KINDS:
        errors["kind"] = "请选择单位类型"
    if len(values["secretary_title"]) > 20:
        errors["secretary_title"] = "书记职务最多 20 个字"
    return values, errors


def include_in_open_rounds(unit):
    """A unit added or turned on while rounds run gets its report in them;
    returns the sentence telling the admin so, or "" when none runs."""
    rounds = list(Round.open_rounds())
    for round_ in rounds:
        round_.include(unit, get_report_type(round_.report_type))
    return "它已加入正在进行的填报：" + "、".join(r.title for r in rounds) + "。" if rounds else ""


def units_context(**extra):
    return {"units": Unit.ordered(), "values": {}, "errors": {}, **extra}


@bp.get("/units")
def units():
    return render_template("township/units.html", **units_context(editing=request.args.get("edit", type=int)))


@bp.post("/units")
def add_unit():
    try:
        with writing():
            values, errors = read_unit_form()
            if not errors:
                unit = Unit.create(position=Unit.next_position(), **values)
                joined = include_in_open_rounds(unit)
                AuditEvent.record("unit_add", g.user, unit=unit, detail=unit.name)
    except IntegrityError:
        errors = {"name": name_taken(values["name"])}
    if errors:
        return page_or_partial("township/units.html", "township/_units.html", 200 if wants_partial() else 422,
                               **units_context(values=values, errors=errors))
    message = f"已新增单位「{unit.name}」。{joined}"
    if wants_partial():
        return page_or_partial("township/units.html", "township/_units.html", **units_context(message=message))
    flash(message, "ok")
    return redirect(url_for(".units"), 303)


def unit_or_404(unit_id):
    return Unit.get_or_none(Unit.id == unit_id) or abort(404)


@bp.get("/units/<int:unit_id>")
def unit_row(unit_id):
    """The unit's row as shown; the edit row's 取消 swaps back to it."""
    if not wants_partial():
        return redirect(url_for(".units"))
    return page_or_partial(None, "township/_unit_row.html", unit=unit_or_404(unit_id))


@bp.get("/units/<int:unit_id>/edit")
def edit_unit(unit_id):
    unit = unit_or_404(unit_id)
    if not wants_partial():
        return redirect(url_for(".units", edit=unit.id))
    return page_or_partial(None, "township/_unit_edit.html", unit=unit)


@bp.post("/units/<int:unit_id>")
def save_unit(unit_id):
    unit = unit_or_404(unit_id)
    try:
        with writing():
            values, errors = read_unit_form(unit)
            if not errors and any(getattr(unit, k) != v for k, v in values.items()):
                before = f"{unit.name}（{unit.kind_label}，{unit.secretary_title}）"
                for key, value in values.items():
                    setattr(unit, key, value)
                unit.save()
                AuditEvent.record("unit_change", g.user, unit=unit,
                                  detail=f"{before} → {unit.name}（{unit.kind_label}，{unit.secretary_title}）")
    except IntegrityError:
        unit, errors = unit_or_404(unit_id), {"name": name_taken(values["name"])}
    if errors:
        if wants_partial():
            return page_or_partial(None, "township/_unit_edit.html", unit=unit, edit_values=values,
                                   edit_errors=errors)
        return render_template("township/units.html", **units_context(
            editing=unit.id, edit_values=values, edit_errors=errors)), 422
    if wants_partial():
        return page_or_partial(None, "township/_unit_row.html", unit=unit)
    flash(f"已保存单位「{unit.name}」。", "ok")
    return redirect(url_for(".units"), 303)


@bp.post("/units/<int:unit_id>/active")
def set_unit_active(unit_id):
    """Deactivate (keeps reports and history; no report in new rounds) or turn back on."""
    unit = unit_or_404(unit_id)
    active = request.form.get("active") == "1"
    with writing():
        unit.active = active
        unit.save(only=[Unit.active])
        joined = include_in_open_rounds(unit) if active else ""
        AuditEvent.record("unit_activate" if active else "unit_deactivate", g.user, unit=unit, detail=unit.name)
    if wants_partial():
        return page_or_partial(None, "township/_unit_row.html", unit=unit)
    flash(f"已{'启用' if active else '停用'}「{unit.name}」。{joined}", "ok")
    return redirect(url_for(".units"), 303)


# --- accounts ---------------------------------------------------------------

def read_account_form():
    values = {
        "username": (request.form.get("username") or "").strip(),
        "display_name": one_line(request.form.get("display_name")),
        "role": request.form.get("role", "filler"),
        "unit": request.form.get("unit", type=int),
    }
    errors = {}
    if not USERNAME.fullmatch(values["username"]):
        errors["username"] = "用户名为 3 至 30 位英文字母、数字或 _ . -，如 liuwancun"
    elif User.select().where(User.username == values["username"]).exists():
        errors["username"] = username_taken(values["username"])
    if len(values["display_name"]) > 30:
        errors["display_name"] = "姓名最多 30 个字"
    if values["role"] not in User.ROLES:
        errors["role"] = "请选择角色"
    elif values["role"] == "filler":
        if not Unit.active_units().where(Unit.id == values["unit"]).exists():
            errors["unit"] = "填报员须属于一个单位，请选择"
    else:
        values["unit"] = None
    return values, errors


def accounts_context(**extra):
    return {"users": User.accounts(), "units": Unit.active_units(), "values": {}, "errors": {},
            "throttled": throttled(), **extra}


@bp.get("/accounts")
def accounts():
    return render_template("township/accounts.html", **accounts_context())


@bp.post("/accounts")
def add_account():
    """A new account gets a one-time password, shown once, to be replaced at first login."""
    try:
        with writing():
            values, errors = read_account_form()
            if not errors:
                user = User(username=values["username"], display_name=values["display_name"],
                            role=values["role"], unit=values["unit"])
                password = user.set_one_time_password()
                user.save()
                AuditEvent.record("user_create", g.user, unit=user.unit, detail=user.username)
    except IntegrityError:  # the same name created at the same moment elsewhere (see name_taken)
        errors = {"username": username_taken(values["username"])}
    if errors:
        context = accounts_context(values=values, errors=errors)
        return page_or_partial("township/accounts.html", "township/_accounts.html",
                               200 if wants_partial() else 422, **context)
    context = accounts_context(otp_user=user, otp_action="新建", one_time_password=password)
    response = page_or_partial("township/accounts.html", "township/_accounts.html", **context)
    response.headers["Cache-Control"] = "no-store"  # the one-time password is on it
    return response


def user_or_404(user_id):
    return User.get_or_none(User.id == user_id) or abort(404)


@bp.post("/accounts/<int:user_id>/password")
def reset_password(user_id):
    user = user_or_404(user_id)
    if user.id == g.user.id:
        flash("您自己的密码请在“修改密码”中修改。", "error")
        return redirect(url_for(".accounts"), 303)
    with writing():
        password = user.set_one_time_password()
        user.save(only=[User.password_hash, User.must_change_password])
        AuditEvent.record("password_reset", g.user, unit=user.unit, detail=user.username)
        end_sessions(user)  # whoever used the old password is logged out
    if wants_partial():
        response = page_or_partial(None, "township/_account_row.html", user=user, one_time_password=password,
                                   password_row=user.id)
    else:
        context = accounts_context(otp_user=user, otp_action="重置", one_time_password=password)
        response = make_response(render_template("township/accounts.html", **context))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/accounts/throttled/clear")
def clear_throttle():
    """Let an account or address that was guessing try again at once, e.g.
    a clerk who forgot the password and has just been given a new one."""
    key = request.form.get("key", "")
    LoginFailure.clear(key)
    AuditEvent.record("throttle_clear", g.user, detail=key.partition(":")[2])
    flash(f"已解除 {key.partition(':')[2]} 的登录限制。", "ok")
    return redirect(url_for(".accounts"), 303)


@bp.post("/accounts/<int:user_id>/active")
def set_account_active(user_id):
    user = user_or_404(user_id)
    active = request.form.get("active") == "1"
    if user.id == g.user.id:
        flash("不能停用您自己正在使用的账号。", "error")
        return redirect(url_for(".accounts"), 303)
    with writing():
        user.active = active
        user.save(only=[User.active])
        AuditEvent.record("user_activate" if active else "user_deactivate", g.user, unit=user.unit,
                          detail=user.username)
    if wants_partial():
        return page_or_partial(None, "township/_account_row.html", user=user)
    flash(f"已{'启用' if active else '停用'}账号 {user.username}。", "ok")
    return redirect(url_for(".accounts"), 303)


# --- rounds -----------------------------------------------------------------

def read_round_form():
    values = {key: (request.form.get(key) or "").strip() for key in ("title", "year", "report_type", "deadline")}
    values["title"] = one_line(values["title"])
    errors = {}
    if not values["title"]:
        errors["title"] = "请填写轮次名称，如 2023年度抓基层党建工作述职"
    elif len(values["title"]) > 60:
        errors["title"] = "轮次名称最多 60 个字"
    year = int(values["year"]) if values["year"].isdigit() and len(values["year"]) == 4 else None
    if year is None or not 2000 <= year <= 2100:
        errors["year"] = "请填写年度，如 2023"
    if values["report_type"] not in report_types():
        errors["report_type"] = "请选择报告类型"
    deadline = None
    if values["deadline"]:
        try:
            deadline = datetime.date.fromisoformat(values["deadline"])
        except ValueError:
            errors["deadline"] = "截止日期格式应为 2024-01-10"
    if not errors and (Round.open_rounds().where((Round.year == year) & (Round.report_type == values["report_type"]))
                       .exists()):
        errors["title"] = f"已有一个进行中的 {year} 年度同类填报，不能重复开启"
    return values, year, deadline, errors


def rounds_page(values=None, errors=None, status=200):
    default_year = datetime.date.today().year - 1
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
    round_.set_open(is_open, g.user)
    flash(f"已{'重新开启' if is_open else '结束'}「{round_.title}」{'' if is_open else '，各单位的报告现为只读'}。", "ok")
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
                           refreshed_at=datetime.datetime.now(), report_type=report_type,
                           review_url=report_link("township.review"), download_url=report_link("fill.download"),
                           fill_url=report_link("fill.report_page"))


# --- review -----------------------------------------------------------------

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


def review_page(report, errors=None, status=200):
    report_type = get_report_type(report.round.report_type)
    return render_template(
        "township/review.html", report=report, report_type=report_type, data=report.data,
        preview=report_type.docx_context(report.data, report.meta),
        missing=report_type.missing(report.data), events=AuditEvent.transitions_of(report),
        errors=errors or {}, typed=request.form if errors else {}, editable=may_edit(g.user, report),
    ), status


@bp.get("/reports/<int:report_id>")
def review(report_id):
    """Any report, read-only, with its missing figures and the review buttons."""
    return review_page(report_or_404(report_id))


@bp.post("/reports/<int:report_id>/return")
def return_report(report_id):
    """Send a submitted report back with comments, or reopen an approved one."""
    report = report_or_404(report_id)
    report_type = get_report_type(report.round.report_type)
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
    report.send_back(g.user, comment, field_comments, "reopen" if reopening else "return",
                     comments_text(report_type, comment, field_comments))
    flash(f"已{'重新打开' if reopening else '退回'}{report.unit.name}的报告，对方可以修改后重新提交。", "ok")
    return redirect(url_for(".review", report_id=report.id), 303)


@bp.post("/reports/<int:report_id>/approve")
def approve(report_id):
    report = report_or_404(report_id)
    if report.status != "submitted":
        flash(f"此报告{report.status_label}，只有已提交的报告才能审核通过。", "error")
    else:
        report.change_status("approved", g.user, "approve")
        flash(f"{report.unit.name}的报告已审核通过。", "ok")
    return redirect(url_for(".review", report_id=report.id), 303)


# --- the township's report: the sum of the villages ------------------------

def chosen_sources(sources):
    """The reports ticked on the page; on first opening, those handed in."""
    if "chosen" not in request.values:
        return [r for r in sources if r.status in ("submitted", "approved")]
    ids = set(request.values.getlist("report", type=int))
    return [r for r in sources if r.id in ids]


def suggestions(fields, report, chosen):
    """Per summable figure: the township's value now, the sum, who left it empty."""
    rows = []
    for f in fields:
        values = [(r.unit.name, r.data.get(f.key)) for r in chosen]
        rows.append({
            "field": f,
            "current": report.data.get(f.key),
            "sum": sum(v for _, v in values if v is not None),
            "empty": [name for name, v in values if v is None],
        })
    return rows


@bp.route("/reports/<int:report_id>/sums", methods=["GET", "POST"])
def sums(report_id):
    """Offer the sum of the chosen villages' figures; the admin reviews, then applies."""
    report = report_or_404(report_id)
    if report.unit.kind != "township":
        abort(404)
    report_type = get_report_type(report.round.report_type)
    fields = [f for f in report_type.counts if f.sum_of_units]
    sources = [r for r in Report.in_round(report.round) if r.unit.kind != "township"]
    chosen = chosen_sources(sources)
    editable = may_edit(g.user, report)
    if request.method == "POST":
        if not editable:
            flash("此报告现在不能修改，未采用汇总数字。", "error")
            return redirect(url_for("fill.report_page", report_id=report.id), 303)
        return apply_sums(report, fields, chosen)
    return page_or_partial("township/sums.html", "township/_sums.html", report=report, sources=sources,
                           chosen=chosen, rows=suggestions(fields, report, chosen), editable=editable)


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
        report.save_data(data, g.user, request.form.get("version", type=int),
                         note=f"采用{len(chosen)}个村（社区）的汇总数字")
    except Conflict as conflict:
        flash(f"报告在此期间已被修改（现为第 {conflict.current} 版），未采用。请核对后重新采用。", "error")
        return redirect(back, 303)
    flash("已采用汇总数字：" + "，".join(taken) + "。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)
