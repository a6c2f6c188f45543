"""使用说明: one help page per role, in plain words, with pictures of the real pages.

The pictures in static/help/ are taken by tests/test_browser_help.py from
the demo's pages, so a page that changes gets a new picture; tests/test_help.py
checks that every button a help page names is on the page it describes.
"""
from flask import Blueprint, g, render_template

from . import backup
from .auth import office_of

bp = Blueprint("help", __name__)


@bp.get("/help")
def page():
    """The logged-in user's own role decides the page: an office clerk and a
    village clerk do different things in the year."""
    # Backups are downloaded by the root's office, and on SQLite only (on
    # PostgreSQL whoever installed it backs it up).
    backs_up = g.user.is_admin and office_of(g.user).parent_id is None and backup.database_file() is not None
    return render_template("help/office.html" if g.user.is_admin else "help/filler.html", backs_up=backs_up)
