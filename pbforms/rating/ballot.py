"""The rater's ballot, on a phone, without an account: the slip's code
opens it, it is filled and confirmed, and the code is spent.

The slip's QR code carries the code after a '#' (/v#CODE): a browser never
sends that part, so no server, proxy or log along the way sees a code in an
address. The page's script moves it into the form that opens the ballot;
from then on the code travels only in POSTed forms. Nothing here logs or
records a ballot: the audit log is for the office's own actions.

Wrong codes are throttled like logins (auth.wait_left, counted per client
address under auth.ballot_key), so slips cannot be guessed.
"""
import math

from flask import Blueprint, render_template, request

from .. import auth
from ..documents import report_docx
from ..documents.pdf import document_blocks
from ..models import LoginFailure
from . import logic
from .models import RatedUnit, cast_ballot, find_code

bp = Blueprint("ballot", __name__, url_prefix="/v")

MAX_OPINION = 500
REFUSALS = {
    "unknown": "没有这个票码。请核对选票上的票码（10 位，不含数字 0、1 和字母 O、I、L）后重新输入。",
    "used": "这个票码已经投过票了，每张选票只能投一次。",
    "closed": "本次评议已经结束，不能再投票。",
}


def entry_page(error=None, status=200, code=""):
    return render_template("rating/ballot_enter.html", error=error, code=code), status


def throttle_wait():
    """The wait before this address may try another code (zero: it may)."""
    return auth.wait_left(auth.ballot_key(request.remote_addr), auth.BALLOT_LIMIT)


def throttled_page(wait):
    minutes = math.ceil(wait.total_seconds() / 60)
    return entry_page(f"输错票码次数过多，请 {minutes} 分钟后再试。", 429)


def checked_code():
    """(code, rating, refusal page): the form's code with its rating, or the page saying why not."""
    wait = throttle_wait()
    if wait:
        return None, None, throttled_page(wait)
    typed = request.form.get("code", "")
    code = logic.typed_code(typed)
    if code is None:
        return None, None, entry_page("票码应为 10 位字母和数字，如 ABCDE-FGH23，请对照选票重新输入。", 422, typed[:40])
    row, rating = find_code(code)
    if row is None:
        LoginFailure.record([auth.ballot_key(request.remote_addr)], auth.WINDOW)
        return None, None, entry_page(REFUSALS["unknown"], 404, typed[:40])
    if row.used:
        return None, None, entry_page(REFUSALS["used"], 409)
    if not rating.is_open:
        return None, None, entry_page(REFUSALS["closed"], 409)
    return code, rating, None


@bp.get("")
def enter():
    """The short page where a code is typed (or, from the QR code, filled in by the page's script)."""
    return entry_page()


def ballot_page(code, rating, choices=None, opinions=None, errors=None, status=200):
    return render_template("rating/ballot.html", code=code, shown=logic.shown_code(code), rating=rating,
                           rated=rating.rated_units(with_reports=True), grades=rating.grades,
                           choices=choices or {}, opinions=opinions or {}, errors=errors or {}), status


@bp.post("")
def open_ballot():
    code, rating, refusal = checked_code()
    return refusal or ballot_page(code, rating)


def read_ballot(rating):
    """({rated id: grade index}, {rated id: 意见}, {rated id: message}) from the form."""
    choices, opinions, errors = {}, {}, {}
    grades = rating.grades
    for rated in rating.rated_units():
        given = request.form.get(f"grade-{rated.id}", "")
        if given.isdigit() and int(given) < len(grades):
            choices[rated.id] = int(given)
        else:
            errors[rated.id] = f"请为{rated.unit.name}选择一个等次"
        text = " ".join((request.form.get(f"opinion-{rated.id}") or "").split())
        if len(text) > MAX_OPINION:
            errors[rated.id] = f"对{rated.unit.name}的意见最多 {MAX_OPINION} 字，现在 {len(text)} 字"
        opinions[rated.id] = text
    return choices, opinions, errors


@bp.post("/vote")
def vote():
    """Check the ballot, show it back for confirmation, and on confirming spend the code on it."""
    code, rating, refusal = checked_code()
    if refusal:
        return refusal
    choices, opinions, errors = read_ballot(rating)
    if errors or request.form.get("step") == "edit":
        return ballot_page(code, rating, choices, opinions, errors, 422 if errors else 200)
    if request.form.get("step") != "confirm":
        return render_template("rating/ballot_confirm.html", code=code, rating=rating, rated=rating.rated_units(),
                               grades=rating.grades, choices=choices, opinions=opinions)
    outcome = cast_ballot(code, choices, opinions)
    if outcome != "ok":
        return entry_page(REFUSALS[outcome], 409)
    return render_template("rating/ballot_done.html", rating=rating)


@bp.post("/report/<int:rated_id>")
def report(rated_id):
    """A rated unit's report as it prints, for the holder of a code of its rating."""
    code, rating, refusal = checked_code()
    if refusal:
        return refusal
    rated = RatedUnit.get_or_none((RatedUnit.id == rated_id) & (RatedUnit.rating == rating))
    if rated is None or rated.report is None:
        return entry_page("找不到这份述职报告。", 404)
    return render_template("rating/ballot_report.html", rated=rated,
                           blocks=document_blocks(report_docx(rated.report)))
