"""Units (villages, communities, the township): add, rename, turn off and on."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from peewee import IntegrityError

from ..auth import office_of, unit_or_404, visible_units
from ..db import db_int, writing
from ..filenames import FILE_NAME_FORBIDDEN, FILE_NAME_FORBIDDEN_TEXT, unsafe_characters, unsafe_message
from ..models import AuditEvent, Round, Unit
from ..partials import wants_partial
from . import bp, one_line, page_or_partial



def name_taken(name):
    """Said when the form's check finds the name in use, and when the
    unique index refuses a name that check let through: on PostgreSQL two
    offices adding the same unit at the same moment both pass the check."""
    return f"已有名为「{name}」的单位"


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
    elif unsafe_characters(name):
        errors["name"] = unsafe_message("单位名称")
    elif FILE_NAME_FORBIDDEN.search(name):
        errors["name"] = f"单位名称不能含有 {FILE_NAME_FORBIDDEN_TEXT} 这些符号（名称会出现在 Word 文件名中）"
    elif Unit.select().where((Unit.name == name) & (Unit.id != (unit.id if unit else 0))).exists():
        errors["name"] = name_taken(name)
    if kind not in Unit.KINDS:
        errors["kind"] = "请选择单位类型"
    # The title is part of every Word file's name too (青泥村党支部书记…).
    title = values["secretary_title"]
    if len(title) > 20:
        errors["secretary_title"] = "书记职务最多 20 个字"
    elif unsafe_characters(title):
        errors["secretary_title"] = unsafe_message("书记职务")
    elif FILE_NAME_FORBIDDEN.search(title):
        errors["secretary_title"] = f"书记职务不能含有 {FILE_NAME_FORBIDDEN_TEXT} 这些符号（职务会出现在 Word 文件名中）"
    return values, errors


def include_in_open_rounds(unit):
    """A unit added or turned on while rounds run gets its report in them;
    returns the sentence telling the admin so, or "" when none runs."""
    rounds = [r for r in Round.open_rounds() if r.covers(unit)]
    for round_ in rounds:
        round_.include(unit)
    return "它已加入正在进行的填报：" + "、".join(r.title for r in rounds) + "。" if rounds else ""


def units_context(**extra):
    return {"units": visible_units(g.user), "values": {}, "errors": {}, **extra}


@bp.get("/units")
def units():
    return render_template("township/units.html", **units_context(editing=request.args.get("edit", type=db_int)))


@bp.post("/units")
def add_unit():
    try:
        with writing():
            values, errors = read_unit_form()
            if not errors:
                unit = Unit.add(parent=office_of(g.user), **values)
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


@bp.get("/units/<int:unit_id>")
def unit_row(unit_id):
    """The unit's row as shown; the edit row's 取消 swaps back to it."""
    unit = unit_or_404(unit_id)
    if not wants_partial():
        return redirect(url_for(".units"))
    return page_or_partial(None, "township/_unit_row.html", unit=unit)


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
