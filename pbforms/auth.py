"""Logging in and out, and the one place that decides who may see what.

Every page but the login page needs a session (`require_login`). Which
reports a user may open is decided only by `visible_reports`; views get a
report through `report_or_404`, so a filler asking for another unit's report
gets the same 404 as for one that does not exist.
"""
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from .db import writing
from .models import AuditEvent, Report, User

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "static"}
# What a user whose password was reset may still open.
PASSWORD_CHANGE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.change_password", "auth.logout"}


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名")])
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
    user_id = session.get("user_id")
    g.user = User.get_or_none((User.id == user_id) & (User.active == True)) if user_id else None  # noqa: E712
    if user_id and g.user is None:
        # A deactivated (or deleted) account is logged out for good, so
        # turning it on again does not revive an old session.
        session.clear()


def require_login():
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.headers.get("HX-Request"):
        # An htmx autosave must not be answered with the login page: the
        # status line says the session ended, and the typing stays on screen.
        return render_template("errors/_message.html", message="登录已过期，内容未保存。请在新标签页重新登录后再回到此页继续。"), 401
    # Only a GET is worth returning to: after logging in, a browser would
    # GET a POST-only URL such as /logout and meet a 405.
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def require_new_password():
    """After a reset, the one-time password opens only the page that replaces it."""
    if g.user is None or not g.user.must_change_password or request.endpoint in PASSWORD_CHANGE_ENDPOINTS:
        return None
    if request.headers.get("HX-Request"):
        return render_template("errors/_message.html", message="请先设置新密码，内容未保存。请在新标签页设置新密码后再回到此页继续。"), 401
    return redirect(url_for("auth.change_password", next=request.full_path if request.method == "GET" else None))


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
        user = User.by_username(form.username.data.strip())
        if user and user.active and user.check_password(form.password.data):
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            AuditEvent.record("login", user, unit=user.unit)
            return redirect(safe_next(request.args.get("next")))
        error = "用户名或密码不正确"
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
        else:
            with writing():
                g.user.set_password(form.new.data)
                g.user.must_change_password = False
                g.user.save(only=[User.password_hash, User.must_change_password])
                AuditEvent.record("password_change", g.user, unit=g.user.unit)
            flash("密码已修改。", "ok")
            return redirect(safe_next(request.args.get("next")), 303)
    return render_template("auth/password.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


# --- who may see what -------------------------------------------------------

def visible_reports(user):
    """Every report `user` may open: all for an admin, their unit's for a filler."""
    query = Report.with_round_and_unit()
    if user.is_admin:
        return query
    return query.where(Report.unit == user.unit_id)


def report_or_404(report_id):
    report = visible_reports(g.user).where(Report.id == report_id).first()
    if report is None:
        abort(404)
    return report


def may_edit(user, report):
    """Fillers edit their unit's report; the admin edits the township's own."""
    if not (report.is_editable_status and report.round.is_open):
        return False
    if user.is_admin:
        return report.unit.kind == "township"
    return report.unit_id == user.unit_id


def admin_required(view):
    """The township office's own pages: a filler gets a clear 403, not the page."""
    @wraps(view)
    def admin_only(*args, **kwargs):
        if not g.user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return admin_only
