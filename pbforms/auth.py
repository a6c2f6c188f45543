"""Logging in and out, and the one place that decides who may see what.

Every page but the login page needs a session (`require_login`). A filler
opens their unit's reports; an office (an admin account, of a unit) manages
that unit's subtree: its units, accounts, rounds, reports, types, exports and
audit log (`manages`, `visible_*`). Views get what they show through the
`*_or_404` functions here, so asking for another township's report gets the
same 404 as for one that does not exist.
"""
import datetime
import math
import secrets
from functools import wraps
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from . import demo
from .db import writing
from .prepared import Prepared
from .rating.models import RatedUnit, Rating
from .ledger.models import LedgerEntry
from .models import AuditEvent, EndedSession, LoginFailure, Report, ReportTypeRecord, Round, Unit, User, now

bp = Blueprint("auth", __name__)

# The ballot of a 述职评议 opens with its one-time code, without an account.
BALLOT_ENDPOINTS = {"ballot.enter", "ballot.open_ballot", "ballot.vote", "ballot.report", "ballot.help_page"}
PUBLIC_ENDPOINTS = {"auth.login", "static"} | BALLOT_ENDPOINTS
# What a user whose password was reset may still open.
PASSWORD_CHANGE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.change_password", "auth.logout"}

# Throttling guessed passwords. Failures are counted per account and
# client address together (PAIR_LIMIT), per address alone (ADDRESS_LIMIT:
# one PC guessing many names) and per account alone (ACCOUNT_LIMIT, far
# higher: guessing from many addresses), so a slow guesser keeps failing
# while the real user at another PC still gets in. Past a limit within
# WINDOW, each further try waits FIRST_WAIT, doubling per failure up to
# MAX_WAIT. Tries made while waiting are not counted, so nobody waits
# longer than MAX_WAIT after their last failure, and a success clears the
# account. The window is longer than the longest wait, so a wait can reach
# its cap before its failures age out.
WINDOW = datetime.timedelta(minutes=30)
FIRST_WAIT = datetime.timedelta(minutes=1)
MAX_WAIT = datetime.timedelta(minutes=15)
PAIR_LIMIT = 5
# Higher: one office PC (or one NAT) serves several villages' clerks.
ADDRESS_LIMIT = 20
ACCOUNT_LIMIT = 50
# The same text for a wrong password, an unknown name and a throttled
# account, so a guesser learns nothing from it.
LOGIN_ERROR = "用户名或密码不正确。连续输错多次后须等待几分钟才能再试。"
# What a throttled user can do about it. A village clerk (or an unknown
# name, throttled the same way) asks the office; only an office account,
# which may have nobody to ask, is told the server command. That
# tells a guesser past the limit which name is the office's: no secret in
# a township, where every clerk knows whom to call.
THROTTLED_HELP = "输错次数过多，请{minutes}分钟后再试。急需登录的，请联系镇党建办，在“账号”页的“登录受限”中为您解除。"
THROTTLED_ADMIN_HELP = ("输错次数过多，请{minutes}分钟后再试。管理员账号受限、又急需登录的，"
                        "请在服务器上运行 flask --app app unlock 用户名 解除。")


def account_key(username):
    return f"account:{username.lower()}"


def address_key(address):
    return f"address:{address}"


def pair_key(username, address):
    """The address first: it has no space, so `partition(" ")` splits the key."""
    return f"pair:{address} {username.lower()}"


def login_limits(username, address):
    return {pair_key(username, address): PAIR_LIMIT, address_key(address): ADDRESS_LIMIT,
            account_key(username): ACCOUNT_LIMIT}


# Ballot codes guessed from one address (a meeting room's raters share one):
# higher than a login's, as a room mistypes more; a code has about 2^49 values.
BALLOT_LIMIT = 30


def ballot_key(address):
    return f"ballot:{address}"


KEY_LIMITS = {"pair": PAIR_LIMIT, "address": ADDRESS_LIMIT, "account": ACCOUNT_LIMIT, "ballot": BALLOT_LIMIT}


def wait_left(key, limit):
    """How long `key` must still wait before its next try (zero: it may try)."""
    return wait_after(*LoginFailure.recent(key, WINDOW), limit)


def wait_after(count, last, limit):
    """The wait still to run after `count` failures, the newest at `last`."""
    if count < limit:
        return datetime.timedelta(0)
    wait = min(FIRST_WAIT * 2 ** min(count - limit, 20), MAX_WAIT)
    return max(last + wait - now(), datetime.timedelta(0))


def count_attempt(limits):
    """Count a login try under each key of `limits` before its password is
    checked, unless one of them must still wait. Returns (wait, ids of the
    rows written): a wait means the try is refused and not counted.

    Check and count are one transaction that holds each key's lock, so of
    sixty tries at the same moment only the allowed number reach the
    password check.
    """
    with writing():
        LoginFailure.lock(sorted(limits))
        wait = max(wait_left(key, limit) for key, limit in limits.items())
        if wait:
            return wait, []
        return wait, LoginFailure.record(list(limits), WINDOW)


def throttled():
    """Every key with a wait still to run, longest first, for the accounts page."""
    rows = []
    for row in LoginFailure.keys_since(WINDOW):
        kind, _, name = row.key.partition(":")
        left = wait_after(row.count, row.last, KEY_LIMITS.get(kind, PAIR_LIMIT))
        if left:
            address, _, account = name.partition(" ") if kind == "pair" else ("", "", name)
            rows.append({"key": row.key, "kind": kind, "name": account if kind == "pair" else name,
                         "address": address, "count": row.count, "left": left})
    return sorted(rows, key=lambda r: r["left"], reverse=True)


def unlock(username):
    """Clear every throttle on `username`: from all addresses and in total.
    Returns how many recorded failures were dropped."""
    name = username.lower()
    return LoginFailure.clear_where((LoginFailure.key == account_key(name))
                                    | (LoginFailure.key.startswith("pair:") & LoginFailure.key.endswith(f" {name}")))


def demo_password_refused(password):
    """The demo passwords are printed in the README: they open accounts only
    on the demo township's database (see demo.is_demo_database)."""
    return password in demo.PASSWORDS and not demo.is_demo_database()


class LoginForm(FlaskForm):
    # No account has a name this long or with control characters; refusing
    # such a name here keeps it out of the throttling table's key column,
    # which PostgreSQL bounds and where it refuses NUL outright.
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=100, message=LOGIN_ERROR),
                                              Regexp(r"[^\x00-\x1f\x7f]*\Z", message=LOGIN_ERROR)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[DataRequired("请输入新密码"),
                                            Length(min=8, max=200, message="新密码应为 8 至 200 位")])
    confirm = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码"),
                                                    EqualTo("new", message="两次输入的新密码不一致")])


def init_app(app):
    app.before_request(load_user)
    app.before_request(require_login)
    app.before_request(require_new_password)

    @app.context_processor
    def current_user():
        return {"current_user": g.get("user")}


def load_user():
    """The session's user. A cookie older than the idle time is already
    refused (PERMANENT_SESSION_LIFETIME, renewed by requests: pbforms/session_cookie.py);
    one its user logged out of is in EndedSession, and one issued before
    a new password has an outdated epoch."""
    user_id = session.get("user_id")
    g.user = User.of_session(user_id, session.get("epoch"), session.get("sid", "")) if user_id else None
    if user_id and g.user is None:
        # A deactivated (or deleted) account is logged out for good, so
        # turning it on again does not revive an old session.
        session.clear()


def end_sessions(user):
    """End every session of `user`, in every browser and app process (a new
    password: whoever knew the old one is out)."""
    with writing():
        User.update(session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()
    user.session_epoch = User.get_by_id(user.id).session_epoch


def send_to(endpoint, htmx_message):
    """Send the browser to `endpoint` first, then back here.

    An htmx autosave must not be answered with that page: the status line
    shows `htmx_message`, and the typing stays on screen. Only a GET is
    worth returning to: a browser would GET a POST-only URL such as /logout
    and meet a 405.
    """
    if request.headers.get("HX-Request"):
        return render_template("errors/_message.html", message=htmx_message), 401
    return redirect(url_for(endpoint, next=request.full_path if request.method == "GET" else None))


def require_login():
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return send_to("auth.login", "登录已过期，内容未保存。请在新标签页重新登录后再回到此页继续。")


def require_new_password():
    """After a reset, the one-time password opens only the page that replaces it."""
    if g.user is None or not g.user.must_change_password or request.endpoint in PASSWORD_CHANGE_ENDPOINTS:
        return None
    return send_to("auth.change_password", "请先设置新密码，内容未保存。请在新标签页设置新密码后再回到此页继续。")


def safe_next(target):
    """Only local paths, so the login page cannot send anyone elsewhere."""
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("fill.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()
        limits = login_limits(username, request.remote_addr)
        # Counted before the password is looked at: a throttled try is
        # refused unchecked (and not counted), so guessing on gains nothing.
        wait, counted = count_attempt(limits)
        if wait:
            minutes = math.ceil(wait.total_seconds() / 60)
            account = User.by_username(username)
            advice = THROTTLED_ADMIN_HELP if account is not None and account.is_admin else THROTTLED_HELP
            return render_template("auth/login.html", form=form, error=LOGIN_ERROR,
                                   help=advice.format(minutes=minutes)), 429
        user = User.authenticate(username, form.password.data)
        if user and not demo_password_refused(form.password.data):
            # This try is not a failure: drop its rows, and the account's.
            LoginFailure.clear_where(LoginFailure.id.in_(counted) | (LoginFailure.key == account_key(username))
                                     | (LoginFailure.key == pair_key(username, request.remote_addr)))
            session.clear()
            session["user_id"] = user.id
            session["sid"] = secrets.token_urlsafe(16)
            session["epoch"] = user.session_epoch
            session.permanent = True
            AuditEvent.record("login", user, unit=user.unit)
            return redirect(safe_next(request.args.get("next")))
        error = LOGIN_ERROR
    elif form.errors:
        # A name of only spaces passes the browser's `required`; say why
        # nothing happened instead of showing the form again silently.
        error = next(iter(form.errors.values()))[0]
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Everyone changes their own password here; after a reset, they must."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not g.user.check_password(form.current.data):
            form.current.errors.append("当前密码不正确")
        elif form.new.data == form.current.data:
            form.new.errors.append("新密码不能与当前密码相同")
        elif form.new.data in demo.PASSWORDS:
            form.new.errors.append("不能使用演示密码，请另设一个")
        else:
            with writing():
                g.user.set_password(form.new.data)
                g.user.must_change_password = False
                g.user.save(only=[User.password_hash, User.must_change_password])
                AuditEvent.record("password_change", g.user, unit=g.user.unit)
                # Whoever knew the old password is logged out everywhere;
                # this browser stays in.
                end_sessions(g.user)
            session["epoch"] = g.user.session_epoch
            flash("密码已修改。", "ok")
            return redirect(safe_next(request.args.get("next")), 303)
    return render_template("auth/password.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends this session only: the clerk's colleague on another PC, logged
    in to the same account, keeps typing."""
    EndedSession.end(session.get("sid", ""), current_app.permanent_session_lifetime)
    session.clear()
    return redirect(url_for("auth.login"))


# --- who may see what -------------------------------------------------------

def office_of(user):
    """The unit whose subtree an admin manages: its own (an admin made
    without one, as before units formed a tree, has the root's)."""
    return user.unit if user.unit_id else Unit.root()


def manages(user, unit):
    """Whether the admin `user` manages `unit`: it is the office's unit or below it."""
    return user.is_admin and unit is not None and office_of(user).contains(unit)


def visible_reports(user):
    """Every report `user` may open: an admin those of its office's subtree,
    a filler their unit's."""
    query = Report.with_round_and_unit()
    if user.is_admin:
        return query.where(Unit.path.startswith(office_of(user).path))
    return query.where(Report.unit == user.unit_id)


# The same rule for one report, its SQL built once: nearly every request
# asks (pbforms/prepared.py). An admin's subtree is checked on the row read.
ONE_REPORT = Prepared(lambda report_id: Report.with_round_and_unit().where(Report.id == report_id).limit(1))
ONE_REPORT_FOR_FILLER = Prepared(lambda report_id, unit_id: Report.with_round_and_unit()
                                 .where((Report.id == report_id) & (Report.unit == unit_id)).limit(1))


def report_or_404(report_id):
    if g.user.is_admin:
        report = ONE_REPORT.first(report_id)
        report = report if report is not None and manages(g.user, report.unit) else None
    else:
        report = ONE_REPORT_FOR_FILLER.first(report_id, g.user.unit_id) if g.user.unit_id else None
    if report is None:
        abort(404)
    return report


def visible_rounds(user):
    """The rounds an admin sees: those of its office and the offices below
    it, and those of the offices above that its own report belongs to."""
    office = office_of(user)
    return Round.newest_first().join(Unit, on=(Round.office == Unit.id)).where(
        Unit.path.startswith(office.path) | Unit.id.in_(office.ancestor_ids))


def round_or_404(round_id):
    return visible_rounds(g.user).where(Round.id == round_id).first() or abort(404)


def may_change_round(user, round_):
    """Whether the admin may change the round (close, reopen, its deadline
    and types): only the office that opened it may."""
    return round_.office_id == office_of(user).id


def own_round_or_404(round_id):
    round_ = round_or_404(round_id)
    return round_ if may_change_round(g.user, round_) else abort(404)


def visible_units(user):
    """The units an admin manages, in their order."""
    return Unit.subtree(office_of(user))


def unit_or_404(unit_id):
    return visible_units(g.user).where(Unit.id == unit_id).first() or abort(404)


def visible_users(user):
    """The accounts of the units an admin manages."""
    return User.accounts().where(User.unit.in_(visible_units(user).select(Unit.id)))


def user_or_404(user_id):
    return visible_users(g.user).where(User.id == user_id).first() or abort(404)


def visible_types(user):
    """The types an admin may use: the built-in ones and the root's, and
    those of its office, the offices above it and the ones below."""
    office = office_of(user)
    return ReportTypeRecord.ordered().where(
        ReportTypeRecord.office.is_null()
        | ReportTypeRecord.office.in_(Unit.select(Unit.id).where(Unit.path.startswith(office.path)
                                                                 | Unit.id.in_(office.ancestor_ids))))


def type_or_404(type_id):
    return visible_types(g.user).where(ReportTypeRecord.id == type_id).first() or abort(404)


def may_change_type(user, record):
    """A type is changed only by the office that made it (the root's: the built-in ones)."""
    office = office_of(user)
    return record.office_id == office.id or (record.office_id is None and office.parent_id is None)


def changeable_type_or_404(type_id):
    """A type the admin may change; one it may only use or copy gets a 403."""
    record = type_or_404(type_id)
    return record if may_change_type(g.user, record) else abort(403)


def may_review(user, report):
    """A report is reviewed (approved, returned) by the offices above its
    unit: a village's by its township's, a township's by the county's. The
    root has no office above it, so its own office reviews it."""
    office = office_of(user)
    return manages(user, report.unit) and (report.unit_id != office.id or office.parent_id is None)


def may_edit(user, report):
    """Fillers edit their unit's report; an office edits its own unit's."""
    if not (report.is_editable_status and report.round.is_open):
        return False
    if user.is_admin:
        return report.unit_id == office_of(user).id
    return report.unit_id == user.unit_id


def may_withdraw(user, report):
    """Who may edit a report may take back its submission while the office has not opened it."""
    owner = report.unit_id == (office_of(user).id if user.is_admin else user.unit_id)
    return owner and report.status == "submitted" and report.opened_at is None and report.round.is_open


def withdraw_refusal(report):
    if report.status != "submitted":
        return f"此报告{report.status_label}，只有已提交、尚未审核的报告才能撤回。"
    if report.opened_at is not None:
        return (f"{report.reviewer}已于 {report.opened_at:%Y-%m-%d %H:%M} 开始审核此报告，不能再撤回。"
                f"如需修改，请联系{report.reviewer}退回。")
    if not report.round.is_open:
        return "本轮填报已结束，不能撤回。"
    return "只能撤回本单位的报告。"


def edit_refusal(report):
    """Why a report `may_edit` refused cannot be changed, in the user's words."""
    if not report.round.is_open:
        return "本轮填报已结束，报告只读，不能再修改。"
    if not report.is_editable_status:
        return f"此报告{report.status_label}，不能再修改。如需修改，请联系{report.reviewer}退回。"
    return "只能修改本单位的报告。"


def root_office_required(view):
    """Backups and restore: the whole database, so only the root's office."""
    @wraps(view)
    def root_only(*args, **kwargs):
        if not g.user.is_admin:
            abort(403)
        if office_of(g.user).parent_id is not None:
            abort(404)
        return view(*args, **kwargs)
    return root_only


def audit_scope(user):
    """The part of the audit log an admin reads: all of it for the root's
    office (the commands run on the server too), its subtree's for others."""
    office = office_of(user)
    return None if office.parent_id is None else office


def admin_required(view):
    """The township office's own pages: a filler gets a clear 403, not the page."""
    @wraps(view)
    def admin_only(*args, **kwargs):
        if not g.user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return admin_only


# --- 述职评议 -----------------------------------------------------------------

def rating_office(round_, user=None):
    """The office that holds a 述职评议会 on `round_` and runs its rating:
    the office of the account opening it (from the command line, the
    round's own office). Everything that asks which office holds a rating,
    or whose it is, asks here or reads the rating's `office`."""
    if user is not None:
        return office_of(user)
    return round_.office if round_.office_id else Unit.root()


def rated_by_default(round_, office):
    """The round's units directly below the office holding the rating: a
    township's meeting rates its villages' secretaries, the county's its
    townships'. Those it rates unless the office says otherwise."""
    return [r.unit for r in Report.in_round(round_, office) if r.unit.parent_id == office.id]


def visible_ratings(user):
    """The ratings an office runs or oversees: those held by it or by an office below it."""
    return (Rating.select(Rating, Round).join(Round).switch(Rating).join(Unit, on=(Rating.office == Unit.id))
            .where(Unit.path.startswith(office_of(user).path)))


def may_run_ratings(user):
    """Who opens ratings and reaches the ratings' pages: an office's accounts."""
    return user.is_admin


def may_run_rating(user, rating):
    """Who sets up, watches, closes and publishes a rating: the accounts of
    its office and of the offices above it."""
    return may_run_ratings(user) and manages(user, rating.office)


def rating_or_404(rating_id):
    rating = Rating.get_or_none(Rating.id == rating_id)
    if rating is None or not may_run_rating(g.user, rating):
        abort(404)
    return rating


def rated_unit_or_404(rated_id):
    """A unit of a rating `g.user` runs, as rated there (its 点评 and the 意见 about it)."""
    rated = RatedUnit.get_or_none(RatedUnit.id == rated_id)
    if rated is None or not may_run_rating(g.user, rated.rating):
        abort(404)
    return rated


def own_results(user):
    """The published ratings that rated `user`'s unit, with its row: what a unit sees of a rating."""
    if user.unit_id is None:
        return []
    return list(RatedUnit.select(RatedUnit, Rating).join(Rating)
                .where((RatedUnit.unit == user.unit_id) & (Rating.status == "published"))
                .order_by(Rating.id.desc()))


# --- the 整改台账 ------------------------------------------------------------

def units_below(user):
    """The ids of the units whose 整改台账 `user` sees (a query): an office
    every unit below it, a filler their own unit. The one answer to "the
    office over a unit" the ledger asks."""
    if user.is_admin:
        return Unit.select(Unit.id).where(Unit.path.startswith(office_of(user).path))
    return Unit.select(Unit.id).where(Unit.id == user.unit_id)


def ledger_entry_or_404(entry_id):
    """An entry `g.user` may see; another unit's is as absent as one that does not exist."""
    entry = LedgerEntry.get_or_none((LedgerEntry.id == entry_id) & LedgerEntry.unit.in_(units_below(g.user)))
    if entry is None:
        abort(404)
    return entry


def may_work_on(user, entry):
    """The unit works on its own entries while they are 整改中."""
    return not user.is_admin and entry.unit_id == user.unit_id and entry.status == "open"


def may_close(user, entry):
    """The office over the unit closes (销号) or sends back (退回) a completed entry."""
    return user.is_admin and entry.status == "done"
