"""Accounts: fillers and admins, one-time passwords, login throttling."""
import re

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from peewee import IntegrityError

from ..auth import end_sessions, throttled, user_or_404, visible_units, visible_users
from ..db import db_int, writing
from ..models import AuditEvent, LoginFailure, Unit, User
from ..partials import wants_partial
from . import bp, one_line, page_or_partial

USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,30}")


def username_taken(username):
    """Said by the form's check and by the unique index alike: on PostgreSQL
    two offices creating the same account at the same moment both pass the check."""
    return f"用户名「{username}」已被使用"


def read_account_form():
    values = {
        "username": (request.form.get("username") or "").strip(),
        "display_name": one_line(request.form.get("display_name")),
        "role": request.form.get("role", "filler"),
        "unit": request.form.get("unit", type=db_int),
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
        if not visible_units(g.user).where((Unit.active == True) & (Unit.id == values["unit"])).exists():  # noqa: E712
            errors["unit"] = "填报员须属于一个单位，请选择"
    else:
        values["unit"] = None
    return values, errors


def accounts_context(**extra):
    return {"users": visible_users(g.user), "units": visible_units(g.user).where(Unit.active == True),  # noqa: E712
            "values": {}, "errors": {},
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
    context = accounts_context(otp_user=user, otp_action="新建", one_time_password=password, password_row=user.id)
    response = page_or_partial("township/accounts.html", "township/_accounts.html", **context)
    response.headers["Cache-Control"] = "no-store"  # the one-time password is on it
    return response


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
                                   password_row=user.id, is_partial=True)
    else:
        context = accounts_context(otp_user=user, otp_action="重置", one_time_password=password,
                                   password_row=user.id)
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
