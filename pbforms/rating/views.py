"""The office's pages of a 述职评议: open it, watch the turnout at the
meeting, enter paper counts, close it, write the 点评, publish; and each
unit's own view of its published result.

Every route but `mine` is the rating office's: the blueprint's guard asks
auth (rating_or_404 for a rating's pages), so a route added later cannot
forget it.
"""
import os

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from .. import auth
from ..auth import rated_by_default, rating_office, rating_or_404, visible_ratings, visible_rounds
from ..db import writing
from ..documents import content_disposition
from ..documents.pdf import ConverterError, availability
from ..models import AuditEvent, Round
from ..partials import partial_response
from . import documents, logic
from .models import RatedUnit, Rating, close_rating, enter_paper

bp = Blueprint("rating", __name__, url_prefix="/ratings")

MIMETYPES = {"docx": documents.DOCX, "pdf": "application/pdf", "xlsx": documents.XLSX}
MAX_REMARK = 300
RULE_FIELDS = ("grades", "levels", "poor_share", "quorum_share")


@bp.before_request
def office_only():
    """Everything but a unit's own results is the office's."""
    if request.endpoint != "rating.mine" and not auth.may_run_ratings(g.user):
        abort(403)


def one_line(value):
    return " ".join((value or "").split())


DEFAULT_GROUPS = "党委班子成员=7:40\n党员代表=30:40\n群众代表=20:20"


def list_page(values=None, errors=None, status=200):
    rounds = list(visible_rounds(g.user))
    values = values or {"title": f"{rounds[0].year}年度村党组织书记抓基层党建工作述职评议" if rounds else "",
                        "groups": DEFAULT_GROUPS, "round": str(rounds[0].id) if rounds else ""}
    ratings = list(visible_ratings(g.user).order_by(Rating.id.desc()))
    return render_template("rating/ratings.html", ratings=ratings, rounds=rounds, values=values,
                           errors=errors or {}), status


@bp.get("")
def ratings():
    return list_page()


@bp.post("")
def open_rating():
    values = {"title": one_line(request.form.get("title")), "groups": request.form.get("groups", ""),
              "round": request.form.get("round", "")}
    groups, errors = logic.check_settings(values["title"], values["groups"].splitlines())
    round_ = visible_rounds(g.user).where(Round.id == int(values["round"])).first() \
        if values["round"].isdigit() and len(values["round"]) < 10 else None
    office = rating_office(round_, g.user)
    if round_ is None:
        errors["round"] = "请选择述职的填报轮次"
    elif not rated_by_default(round_, office):
        errors["round"] = "这一轮没有要评议的单位"
    if errors:
        return list_page(values, errors, 422)
    rating = Rating.start(round_, office, values["title"], groups, rated_by_default(round_, office),
                          logic.DEFAULT_RULES)
    AuditEvent.record("rating_open", g.user, detail=rating.title)
    flash(f"已开启「{rating.title}」。请核对设置，然后生成选票。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


def meeting_page(rating, values=None, errors=None, status=200):
    groups = rating.groups()
    rated = rating.rated_units()
    values = values or {"title": rating.title,
                        "groups": "\n".join(logic.group_spec(g.name, g.ballots, g.weight) for g in groups),
                        "units": {r.unit_id for r in rated}, **logic.rules_texts(rating.rules)}
    result = None if rating.is_open else rating.result()
    opinions = {r.id: rating.opinions_about(r) for r in rated} if result else {}
    return render_template("rating/meeting.html", rating=rating, groups=groups, rated=rated,
                           candidates=rated_by_default(rating.round, rating.office), locked=rating.has_ballots(),
                           turnout=rating.turnout(), result=result, opinions=opinions, values=values,
                           errors=errors or {}, public_url=public_url(), pdf_problem=availability()), status


@bp.get("/<int:rating_id>")
def meeting(rating_id):
    return meeting_page(rating_or_404(rating_id))


@bp.post("/<int:rating_id>/settings")
def change_settings(rating_id):
    rating = rating_or_404(rating_id)
    values = {"title": one_line(request.form.get("title")), "groups": request.form.get("groups", ""),
              "units": {int(v) for v in request.form.getlist("unit") if v.isdigit() and len(v) < 10},
              **{key: one_line(request.form.get(key)) for key in RULE_FIELDS}}
    groups, errors = logic.check_settings(values["title"], values["groups"].splitlines())
    rules, rule_errors = logic.parse_rules(values)
    errors.update(rule_errors)
    units = [u for u in rated_by_default(rating.round, rating.office) if u.id in values["units"]]
    if not units:
        errors["units"] = "请至少选择一个评议的单位"
    if not errors and not rating.is_open:
        errors["title"] = "评议已结束，设置不能再改。"
    if not errors and not rating.change(values["title"], groups, units, rules):
        errors["title"] = "已有选票投入，设置已锁定，不能再改。"
    if errors:
        return meeting_page(rating, values, errors, 422)
    AuditEvent.record("rating_change", g.user, detail=rating.title)
    flash("设置已保存。之前生成的选票作废，请重新生成选票。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


@bp.get("/<int:rating_id>/turnout")
def turnout(rating_id):
    """The turnout alone, polled by the meeting page while the rating is open."""
    rating = rating_or_404(rating_id)
    body = render_template("rating/_turnout.html", rating=rating, groups=rating.groups(), turnout=rating.turnout())
    return partial_response(body)


def public_url():
    """Where the villages' phones reach this app: PBFORMS_PUBLIC_URL, else the address the office is using."""
    base = os.environ.get("PBFORMS_PUBLIC_URL") or request.host_url
    return base.rstrip("/") + "/"


@bp.post("/<int:rating_id>/slips")
def slips(rating_id):
    """New codes for every ballot, printed on slips (Word or PDF): those issued before stop working.
    A POST, as it changes what is stored: no link preview or prefetch may spend a set of slips."""
    rating = rating_or_404(rating_id)
    kind = "pdf" if request.form.get("kind") == "pdf" else "docx"
    if not rating.is_open:
        flash("评议已结束，不能再生成选票。", "error")
        return redirect(url_for(".meeting", rating_id=rating.id), 303)
    if kind == "pdf" and availability():
        flash(f"无法生成 PDF：{availability()} 请下载 Word 版选票打印。", "error")
        return redirect(url_for(".meeting", rating_id=rating.id), 303)
    issued = rating.issue_codes()
    if issued is None:
        flash("已有选票投入，不能重新生成选票（已发出的选票继续有效）。", "error")
        return redirect(url_for(".meeting", rating_id=rating.id), 303)
    body = documents.slips_docx(rating, issued, public_url())
    if kind == "pdf":
        try:
            body = documents.to_pdf(body)
        except ConverterError as e:
            flash(f"无法生成 PDF：{e} 请下载 Word 版选票打印。", "error")
            return redirect(url_for(".meeting", rating_id=rating.id), 303)
    AuditEvent.record("rating_slips", g.user, detail=f"{rating.title}（{len(issued)} 张）")
    return Response(body, mimetype=MIMETYPES[kind], headers={
        "Content-Disposition": content_disposition(f"{rating.title}选票.{kind}")})


@bp.post("/<int:rating_id>/tally")
def tally(rating_id):
    """Paper ballots of one group for one unit (计票录入), replacing what was entered before."""
    rating = rating_or_404(rating_id)
    group = next((gr for gr in rating.groups() if str(gr.id) == request.form.get("group")), None)
    rated = next((r for r in rating.rated_units() if str(r.id) == request.form.get("rated")), None)
    counts, error = {}, None
    for i, grade in enumerate(rating.grades):
        text = (request.form.get(f"count-{i}") or "0").strip() or "0"
        if not text.isdigit() or len(text) > 4:
            error = f"“{grade}”的票数应为整数"
        else:
            counts[i] = int(text)
    if group is None or rated is None:
        error = "请选择评议组和单位"
    error = error or enter_paper(rating, group, rated, counts)
    if error:
        flash(f"计票未录入：{error}", "error")
    else:
        AuditEvent.record("rating_tally", g.user, unit=rated.unit,
                          detail=f"{rating.title}：{group.name}，" + "，".join(
                              f"{grade} {counts[i]}" for i, grade in enumerate(rating.grades)))
        flash(f"已录入{group.name}对{rated.unit.name}的计票。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


@bp.post("/<int:rating_id>/close")
def close(rating_id):
    rating = rating_or_404(rating_id)
    if rating.is_open:
        close_rating(rating)
        AuditEvent.record("rating_close", g.user, detail=rating.title)
        flash("评议已结束，结果如下。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


@bp.post("/<int:rating_id>/remarks")
def remarks(rating_id):
    """The office's 点评 of each unit: printed in the Word result, shown to the unit once published."""
    rating = rating_or_404(rating_id)
    if rating.is_open:
        flash("评议结束后才能填写点评。", "error")
        return redirect(url_for(".meeting", rating_id=rating.id), 303)
    too_long = []
    with writing():
        for rated in rating.rated_units():
            text = (request.form.get(f"remark-{rated.id}") or "").strip()
            if len(text) > MAX_REMARK:
                too_long.append(rated.unit.name)
                continue
            RatedUnit.update(remark=text).where(RatedUnit.id == rated.id).execute()
    AuditEvent.record("rating_remarks", g.user, detail=rating.title)
    if too_long:
        flash(f"点评最多 {MAX_REMARK} 字，以下单位的点评太长未保存：{'、'.join(too_long)}。", "error")
    else:
        flash("点评已保存。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


@bp.post("/<int:rating_id>/publish")
def publish(rating_id):
    rating = rating_or_404(rating_id)
    if rating.status != "closed":
        flash("评议结束后才能公布结果。" if rating.is_open else "结果已经公布。", "error")
    else:
        rating.set_status("published")
        AuditEvent.record("rating_publish", g.user, detail=rating.title)
        flash("结果已公布：各单位登录后可以看到本单位的结果、点评和意见。", "ok")
    return redirect(url_for(".meeting", rating_id=rating.id), 303)


@bp.get("/<int:rating_id>/result.<any(xlsx, docx):extension>")
def result_file(rating_id, extension):
    rating = rating_or_404(rating_id)
    if rating.is_open:
        flash("评议结束后才能导出结果。", "error")
        return redirect(url_for(".meeting", rating_id=rating.id), 303)
    body = documents.result_xlsx(rating) if extension == "xlsx" else documents.result_docx(rating)
    return Response(body, mimetype=MIMETYPES[extension], headers={
        "Content-Disposition": content_disposition(f"{rating.title}测评结果汇总表.{extension}")})


@bp.get("/mine")
def mine():
    """A unit's own published results: its counts, 等次, 点评 and the 意见 about it, nobody else's."""
    shown = []
    for rated in auth.own_results(g.user):
        rating = rated.rating
        result = rating.result()
        row = next(u for u in result.units if u.rated_id == rated.id)
        shown.append({"rating": rating, "rated": rated, "row": row, "result": result,
                      "opinions": rating.opinions_about(rated)})
    return render_template("rating/mine.html", shown=shown)
