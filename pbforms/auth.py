"""Logging in and out, and the one place that decides who may see what.

Every page but the login page needs a session (`require_login`). Which
reports a user may open is decided only by `visible_reports`; views get a
report through `report_or_404`, so a filler asking for another unit's report
gets the same 404 as for one that does not exist.
"""
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .models import AuditEvent, Report, User

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "static"}


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


def init_app(app):
    app.before_request(load_user)
    app.before_request(require_login)

    @app.context_processor
    def current_user():
        return {"current_user": g.get("user")}


def load_user():
    user_id = session.get("user_id")
    g.user = User.get_or_none((User.id == user_id) & (User.active == True)) if user_id else None  # noqa: E712


def require_login():
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.headers.get("HX-Request"):
        # An htmx autosave must not be answered with the login page: the
        # status line says the session ended, and the typing stays on screen.
        return render_template("errors/_message.html", message="登录已过期，内容未保存。请在新标签页重新登录后再回到此页继续。"), 401
    return redirect(url_for("auth.login", next=request.full_path))


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
    return render_template("auth/login.html", form=form, error=error)


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



