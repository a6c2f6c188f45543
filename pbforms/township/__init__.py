"""The township office's pages, a module per area: units, accounts,
rounds and the progress board, review (with the sum of the villages'
figures for the township's own report), report types.

Every route here is the admin's: the blueprint's guard refuses anyone else
before a view runs, so a route added later cannot forget it. A view answers
htmx with only the part of the page that changed, and sends
`Vary: HX-Request` so no cache mixes the two.
"""
from flask import Blueprint, redirect, render_template, url_for

from ..auth import admin_required
from ..forms import clean_text, cn_date
from ..models import Round, Unit
from ..partials import partial_response, wants_partial

bp = Blueprint("township", __name__, url_prefix="/township")


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


# The areas register their routes on `bp` when imported.
from . import accounts, review, rounds, type_templates, types, units  # noqa: E402,F401
