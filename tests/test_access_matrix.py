"""The access matrix: every route of the app's URL map, asked by an
anonymous visitor, the filler of unit A, the filler of unit B and the
admin (the root's office: the county's), about unit A's resources (its report, unit, account, round and an
export job), with the answer each must get.

A route added later has no row here and fails `test_every_route_has_a_row`
(and its own cases), so nobody can add a page without deciding who may
open it. Every request carries its session's CSRF token, so an answer is
the access rule's, not the CSRF check's.
"""
import pytest

from pbforms.models import ExportJob, Report, User

from .test_access import FILLER_A, FILLER_B, ROUTES, build_url, form_token, goes_to_login, header_token, ids_of

OK = "ok"            # the page or action itself (any answer of the view, even a validation message)
LOGIN = "login"      # sent to the login page (401 for htmx)
DENIED = "403"       # the admin's pages: a clear refusal
HIDDEN = "404"       # another unit's report: the same as one that does not exist

ROLES = ("anonymous", "filler A", "filler B", "admin")

# (endpoint, method): answers for (anonymous, filler A, filler B, admin).
MATRIX = {
    ("auth.login", "GET"): (OK, OK, OK, OK),
    ("auth.login", "POST"): (OK, OK, OK, OK),
    # Logging out ends at the login page for everyone.
    ("auth.logout", "POST"): (LOGIN, LOGIN, LOGIN, LOGIN),
    ("auth.change_password", "GET"): (LOGIN, OK, OK, OK),
    ("auth.change_password", "POST"): (LOGIN, OK, OK, OK),
    ("fill.home", "GET"): (LOGIN, OK, OK, OK),
    # Each logged-in role gets its own help page.
    ("help.page", "GET"): (LOGIN, OK, OK, OK),
    ("fill.report_page", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("fill.save", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("fill.download", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("fill.preview", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("fill.page_png", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("fill.download_pdf", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("fill.submit", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("fill.withdraw", "POST"): (LOGIN, OK, HIDDEN, OK),
    # Reads only a notice meant for the user's own unit (none: nothing happens).
    ("fill.read_notice", "POST"): (LOGIN, OK, OK, OK),
    ("township.remind_form", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.remind", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.post_notice", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("history.history", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("history.restore", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("history.import_form", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("history.import_json", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("history.download_json", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("history.last_year", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("history.start_from_last_year", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("text.import_form", "GET"): (LOGIN, OK, HIDDEN, OK),
    ("text.import_word", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("text.fix", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("text.confirm", "POST"): (LOGIN, OK, HIDDEN, OK),
    ("history.audit", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("history.backup_page", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("history.download_backup", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.home", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.accounts", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.add_account", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.set_account_active", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.reset_password", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.clear_throttle", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.review", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.start_review", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.approve", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.return_report", "POST"): (LOGIN, DENIED, DENIED, OK),
    # Sums of the villages' figures exist only for the township's own report.
    ("township.sums", "GET"): (LOGIN, DENIED, DENIED, HIDDEN),
    ("township.sums", "POST"): (LOGIN, DENIED, DENIED, HIDDEN),
    ("township.rounds", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.open_round", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.board", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.set_round_open", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.set_deadline", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.round_types", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.move_round_types", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.types", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.add_type", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.type_page", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.download_sheet", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.upload_sheet", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.copy_type", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.set_type_retired", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.type_draft", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.preview_type", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.save_type", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.upload_type_template", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.remove_type_template", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.download_starter_template", "GET"): (LOGIN, DENIED, DENIED, OK),
    # The demo's types print with the generated format: no uploaded template to download.
    ("township.download_type_template", "GET"): (LOGIN, DENIED, DENIED, HIDDEN),
    ("township.units", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.add_unit", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.unit_row", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("township.save_unit", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.set_unit_active", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("township.edit_unit", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("exports.job", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("exports.job_file", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("exports.summary_file", "GET"): (LOGIN, DENIED, DENIED, OK),
    ("exports.start_zip", "POST"): (LOGIN, DENIED, DENIED, OK),
    ("exports.start_volume", "POST"): (LOGIN, DENIED, DENIED, OK),
}


def all_routes():
    """(endpoint, method) of every route, the login page included; static files are no one's."""
    return sorted({(endpoint, method) for _, endpoint, method in ROUTES} | {("auth.login", "GET"), ("auth.login", "POST")})


CASES = [(endpoint, method, role) for endpoint, method in all_routes() for role in ROLES]


def test_every_route_has_a_row():
    missing = sorted(set(all_routes()) - MATRIX.keys())
    stale = sorted(MATRIX.keys() - set(all_routes()))
    assert missing == [], f"routes without a row in MATRIX (tests/test_access_matrix.py): {missing}"
    assert stale == [], f"rows in MATRIX for routes that no longer exist: {stale}"


def answer(response):
    """The matrix's name for what the request got."""
    if goes_to_login(response) or response.status_code == 401:
        return LOGIN
    if response.status_code in (403, 404):
        return str(response.status_code)
    # 400 would be the CSRF check, which every request here passes; a 500 is a bug.
    assert response.status_code not in (400, 500), (response.status_code, response.text[:500])
    return OK


def sign_in(auth, role):
    if role == "filler A":
        auth.login(FILLER_A)
    elif role == "filler B":
        auth.login(FILLER_B)
    elif role == "admin":
        auth.county()  # the root's office; each township's office: test_tree.py


def resources_of_unit_a(folder):
    """URL values, all unit A's, with a finished export job of A's round for the job routes."""
    ids = ids_of(FILLER_A)
    zip_file = folder / "a.zip"
    zip_file.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    job = ExportJob.create(round=ids["round_id"], user=User.by_username("admin"), state="done", filename="a.zip")
    job.advance(size=job.store_file(zip_file))
    return {**ids, "job_id": job.id}


@pytest.mark.parametrize("endpoint, method, role", CASES)
def test_route_answers_as_the_matrix_says(app, client, auth, tmp_path, endpoint, method, role):
    assert (endpoint, method) in MATRIX, f"{endpoint} {method} has no row in MATRIX"
    expected = MATRIX[(endpoint, method)][ROLES.index(role)]
    ids = resources_of_unit_a(tmp_path)
    sign_in(auth, role)
    start = client.get("/login" if role == "anonymous" else "/", follow_redirects=True).text
    token = form_token(start) if role == "anonymous" else header_token(start)
    rule = next(rule_text for rule_text, e, m in ROUTES + [("/login", "auth.login", method)]
                if e == endpoint and m == method)
    url = build_url(app, rule, endpoint, method, ids)
    report = Report.get_by_id(ids["report_id"])
    form = {"csrf_token": token, "version": str(report.version), "reporter_name": "矩阵", "comment": "矩阵意见",
            "username": "matrixuser", "name": "矩阵村", "key": "account:nobody"}

    response = client.open(url, method=method, data=form if method == "POST" else None)

    assert answer(response) == expected, (role, url, response.status_code, response.headers.get("Location"))
