"""Nothing lost: a report's revision history with restore, last year's
report as a start, the data file (JSON) download and upload, and the admin's backup and
audit pages.

Every report route gets its report through `report_or_404` and changes it
only when `may_edit` allows, through `Report.save_data` and its version
check, as the fill page does. Each form posts to the URL of the page that
shows it, so a form sent after the session ended leads back to that page
after logging in again.
"""
import json
from collections import namedtuple
from difflib import SequenceMatcher
from itertools import zip_longest

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from peewee import JOIN

from . import backup
from .auth import (admin_required, audit_scope, edit_refusal, may_edit, report_or_404, root_office_required,
                   visible_units, visible_users)
from .documents import content_disposition, report_filename
from .forms import Invalid, read_report_json
from .models import AuditEvent, Conflict, PendingImport, Revision, Unit, User, now
from .partials import partial_response, wants_partial

bp = Blueprint("history", __name__)

HISTORY_PAGE_SIZE = 30
AUDIT_PAGE_SIZE = 50
AUDIT_FILTER_ARGS = ("unit", "user", "action")


def small_int(value):
    """A whole number from a URL or form, or None; short enough for any database column."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 9 else None


def page_number(value):
    return small_int(value) or 1


# --- what changed -----------------------------------------------------------

class Change(namedtuple("Change", "field old new")):
    """One field that differs between two versions of a report."""

    @property
    def shows_values(self):
        """Figures, one-line texts and dates are short enough to show old → new."""
        return self.field.kind in ("count", "amount", "text", "date")

    @property
    def diff(self):
        """What was removed and added, paragraph by paragraph, marked
        character by character within a paragraph: [[(kind, text)]] with
        kind equal / del / ins; an item's paragraphs start with its number."""
        if self.field.kind == "paragraphs":
            return text_diff(self.old, self.new)
        if self.field.kind != "items":
            return []
        old, new = self.old or [], self.new or []
        found = []
        for n, (was, now_) in enumerate(zip_longest(old, new), start=1):
            if was == now_:
                continue
            label = ("equal", f"第 {n} 条：")
            if was is None:
                found.append([label, ("ins", "（新增）" + item_text(now_))])
            elif now_ is None:
                found.append([label, ("del", "（删除）" + item_text(was))])
            else:
                if was["heading"] != now_["heading"]:
                    found.append([label, ("equal", "标题 ")] + char_diff(was["heading"], now_["heading"]))
                found += [[label] + p for p in text_diff(was["text"], now_["text"])]
        return found


def item_text(item):
    return " ".join(part for part in (item.get("heading", ""), (item.get("text") or "").replace("\n", " ")) if part)


# Comparing two paragraphs takes time that grows with the product of their
# lengths: past this, a changed paragraph is shown removed and re-added whole.
CHAR_DIFF_LIMIT = 4_000_000
CONTEXT = 20  # characters kept on each side of a change within a long unchanged run


def char_diff(old, new):
    """One paragraph's change, character by character (difflib)."""
    if len(old) * len(new) > CHAR_DIFF_LIMIT:
        return [("del", old), ("ins", new)]
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < 0.4:  # rewritten rather than edited: scattered common characters would only confuse
        return [("del", old), ("ins", new)]
    segments = []
    opcodes = matcher.get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            same, first, last = old[i1:i2], n == 0, n == len(opcodes) - 1
            if first and len(same) > CONTEXT:
                same = "…" + same[-CONTEXT:]
            elif last and len(same) > CONTEXT:
                same = same[:CONTEXT] + "…"
            elif len(same) > 2 * CONTEXT:
                same = same[:CONTEXT] + "…" + same[-CONTEXT:]
            segments.append(("equal", same))
            continue
        if i2 > i1:
            segments.append(("del", old[i1:i2]))
        if j2 > j1:
            segments.append(("ins", new[j1:j2]))
    return segments


def text_diff(old, new):
    """The paragraphs that changed between two narrative texts."""
    before = [p for p in (old or "").split("\n") if p.strip()]
    after = [p for p in (new or "").split("\n") if p.strip()]
    found = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        for was, now_ in zip_longest(before[i1:i2], after[j1:j2]):
            if was is None:
                found.append([("ins", now_)])
            elif now_ is None:
                found.append([("del", was)])
            else:
                found.append(char_diff(was, now_))
    return found


def changes(report_type, old, new):
    """The fields whose value differs from `old` to `new`, in form order."""
    found = []
    for f in report_type.fields:
        before, after = old.get(f.key), new.get(f.key)
        if before != after and not (f.is_empty(before) and f.is_empty(after)):
            found.append(Change(f, before, after))
    return found


@bp.app_template_global()
def is_big_change(old, new):
    """More than half up or down from last year: worth a second look.

    From 0 any figure is marked, as there is no half of nothing to stay
    within; 0 to 0 is not. An empty figure is never marked.
    """
    if old is None or new is None:
        return False
    return abs(new - old) > old / 2 if old else new > 0


# --- the revision history ---------------------------------------------------

def numbered_history(report):
    """Every revision, oldest first, as (revision, number, changes): the
    number counts only revisions that changed something, so the user sees
    第 1、2、3 版 without gaps (the stored versions also count autosaves
    folded into one revision); a revision that changed nothing shares the
    number of the content it repeats and is not listed."""
    report_type = report.report_type
    before = report_type.initial_data(report.meta)
    found, number = [], 0
    for revision in (Revision.select(Revision, User).join(User, JOIN.LEFT_OUTER)
                     .where(Revision.report == report).order_by(Revision.version)):
        found_changes = changes(report_type, before, revision.data)
        if found_changes or number == 0:
            number += 1
        found.append((revision, number, found_changes))
        before = revision.data
    return found


@bp.get("/reports/<int:report_id>/history")
def history(report_id):
    """The list of revisions, or with ?version=N that version as a document."""
    report = report_or_404(report_id)
    if "version" in request.args:
        return revision_page(report, request.args["version"])
    page = page_number(request.args.get("page"))
    listed = [entry for entry in reversed(numbered_history(report)) if entry[2]]
    start = (page - 1) * HISTORY_PAGE_SIZE
    return render_template("history/history.html", report=report, entries=listed[start:start + HISTORY_PAGE_SIZE],
                           page=page, has_more=len(listed) > start + HISTORY_PAGE_SIZE,
                           current_number=listed[0][1] if listed else 0)


def revision_page(report, number):
    wanted = small_int(number)
    history_ = numbered_history(report)
    entry = next((e for e in history_ if e[0].version == wanted), None)
    if entry is None:
        flash(f"找不到第 {number[:12]} 版，请从下面的列表中选择。", "error")
        return redirect(url_for("history.history", report_id=report.id), 303)
    revision, shown_number, found_changes = entry
    report_type = report.report_type
    return render_template(
        "history/revision.html", report=report, report_type=report_type, revision=revision, number=shown_number,
        next_number=history_[-1][1] + 1 if history_ else 1,
        changes=found_changes, data=revision.data,
        preview=report_type.docx_context(revision.data, report.meta), editable=may_edit(g.user, report))


@bp.post("/reports/<int:report_id>/history")
def restore(report_id):
    """Save an old revision's content as the newest version; every revision stays."""
    report = report_or_404(report_id)
    back = url_for("history.history", report_id=report.id)
    if not may_edit(g.user, report):
        flash(edit_refusal(report), "error")
        return redirect(back, 303)
    revision = Revision.of(report, small_int(request.form.get("revision")))
    if revision is None:
        flash("请从列表中选择要恢复的版本。", "error")
        return redirect(back, 303)
    number = next(n for rev, n, _ in numbered_history(report) if rev.id == revision.id)
    data = revision.data
    if set(data) != set(report.report_type.by_key):
        # A revision from before the round moved to a newer version of its
        # type: fitted to the fields the report has now.
        data = report.report_type.carried_into(data, report.meta)
    try:
        report.save_data(data, g.user, small_int(request.form.get("version")),
                         note=f"恢复自第 {number} 版（{revision.created_at:%Y-%m-%d %H:%M}）")
    except Conflict:
        flash(f"报告在您打开此页之后又被修改了（现为第 {numbered_history(report)[-1][1]} 版），没有恢复。"
              "请看过最新的修改记录后再决定。", "error")
        return redirect(back, 303)
    AuditEvent.record("restore_revision", g.user, report=report, detail=f"恢复第 {number} 版")
    now_number = numbered_history(report)[-1][1]
    flash(f"已恢复第 {number} 版的内容，保存为第 {now_number} 版；之前的各版仍在修改记录中。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


# --- last year as a start ---------------------------------------------------

def carried_over(report_type, last, current, keep_counts):
    """Last year's content (`last`: its values by this year's keys) for this year's report.

    Texts and items come over as they were; counts are kept or cleared as
    chosen; dates stay this year's (last year's 成文日期 is wrong by
    definition). A value the definition no longer accepts stays at this
    year's default.
    """
    data = dict(current)
    for f in report_type.fields:
        if f.key not in last or f.kind == "date":
            continue
        if f.is_figure and not keep_counts:
            data[f.key] = None
            continue
        try:
            data[f.key] = f.clean(last[f.key])
        except Invalid:
            pass
    return data


def last_year_page(report, error=None, status=200):
    last = report.last_year
    report_type = report.report_type
    return render_template(
        "history/last_year.html", report=report, report_type=last.report_type if last else report_type,
        last=last, error=error,
        offer=may_edit(g.user, report) and report.version == 0 and last is not None,
        data=last.data if last else None,
        preview=last.report_type.docx_context(last.data, last.meta) if last else None), status


@bp.get("/reports/<int:report_id>/last-year")
def last_year(report_id):
    """Last year's report, read-only, with the offer to start from it."""
    return last_year_page(report_or_404(report_id))


@bp.post("/reports/<int:report_id>/last-year")
def start_from_last_year(report_id):
    report = report_or_404(report_id)
    fill_page = url_for("fill.report_page", report_id=report.id)
    if not may_edit(g.user, report):
        flash(edit_refusal(report), "error")
        return redirect(fill_page, 303)
    last = report.last_year
    if last is None:
        return last_year_page(report, "没有上一年度的报告可以沿用。", 409)
    choice = request.form.get("counts")
    if choice not in ("keep", "clear"):
        return last_year_page(report, "请选择数字是保留去年的还是清空。", 422)
    report_type = report.report_type
    data = carried_over(report_type, report.last_year_data, report.data, keep_counts=choice == "keep")
    kept = "保留去年的数字" if choice == "keep" else "数字已清空"
    try:
        # Version 0 only: a report someone has started is never overwritten wholesale.
        report.save_data(data, g.user, 0, note=f"沿用{last.round.year}年度内容（{kept}）")
    except Conflict as conflict:
        flash(f"此报告已经开始填写（现为第 {conflict.current} 版），不能再整份沿用上一年度内容。"
              "可以打开上一年度的报告，复制需要的段落。", "error")
        return redirect(fill_page, 303)
    AuditEvent.record("prefill", g.user, report=report, detail=f"{last.round.title}，{kept}")
    flash(f"已沿用{last.round.year}年度的内容（{kept}），请逐项核对、修改为本年度的情况。", "ok")
    return redirect(fill_page, 303)


# --- the data file (JSON) in the browser ----------------------------------------------------

@bp.get("/reports/<int:report_id>/json")
def download_json(report_id):
    report = report_or_404(report_id)
    body = json.dumps(report.data, ensure_ascii=False, indent=2)
    AuditEvent.record("export", g.user, report=report, detail="json")
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": content_disposition(report_filename(report)[:-5] + ".json")})


def uploaded_bytes():
    """The bytes of the uploaded file, or (None, message)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None, "请选择要导入的数据文件（本系统“导出数据文件”得到的 .json 文件）。"
    return upload.read(), None


def import_page(report, status=200, **ctx):
    return render_template("history/import.html", report=report, editable=may_edit(g.user, report),
                           refusal=edit_refusal(report), **ctx), status


@bp.get("/reports/<int:report_id>/import")
def import_form(report_id):
    return import_page(report_or_404(report_id))


@bp.post("/reports/<int:report_id>/import")
def import_json(report_id):
    """Two steps: an uploaded file gets a preview of its changes and is kept
    on the server (PendingImport); the confirmation sends only its token,
    so a large file is not sent back through the form. The kept content is
    checked again and then saved, unless the report changed in between."""
    report = report_or_404(report_id)
    if not may_edit(g.user, report):
        return import_page(report, 409)
    confirming = "token" in request.form
    pending = PendingImport.find(request.form["token"], report, g.user) if confirming else None
    if confirming and pending is None:
        return import_page(report, 422, file_error="预览已过期或不属于您，没有导入。请重新上传文件。")
    raw, problem = (pending.content.encode(), None) if confirming else uploaded_bytes()
    obj, problem = read_report_json(raw) if problem is None else (None, problem)
    if problem:
        return import_page(report, 422, file_error=problem)
    report_type = report.report_type
    data, errors = report_type.parse_json(obj, report.data)
    if errors:
        listed = [(report_type.by_key[key].label if key in report_type.by_key else "", message)
                  for key, message in errors.items()]
        return import_page(report, 422, field_errors=listed)
    found = changes(report_type, report.data, data)
    if not found:
        return import_page(report, 422, file_error="文件的内容与报告现在的内容相同，没有需要导入的改动。")
    if not confirming:
        token = PendingImport.keep(report, g.user, raw.decode("utf-8-sig"))
        return import_page(report, changes=found, version=report.version, token=token)
    try:
        report.save_data(data, g.user, small_int(request.form.get("version")), note="从数据文件导入")
    except Conflict as conflict:
        return import_page(report, 409, file_error=(
            f"预览之后报告又被修改了（现为第 {conflict.current} 版），没有导入。请重新上传文件，核对新的改动。"))
    pending.drop()
    AuditEvent.record("import", g.user, report=report, detail=f"{len(found)} 处改动")
    flash(f"已导入 {len(found)} 处改动，保存为第 {report.version} 版。", "ok")
    return redirect(url_for("fill.report_page", report_id=report.id), 303)


# --- the admin's pages ------------------------------------------------------

def audit_filters(args):
    """The filters asked for, and a message for each that names nothing known."""
    filters, problems = {}, {}
    for name, model, message in (("unit", Unit, "没有这个单位"), ("user", User, "没有这个用户")):
        value = args.get(name, "")
        wanted = small_int(value)
        if wanted and model.get_or_none(model.id == wanted):
            filters[f"{name}_id"] = wanted
        elif value:
            problems[name] = message + "，已忽略此条件"
    action = args.get("action", "")
    if action in AuditEvent.ACTION_LABELS or action in AuditEvent.actions():
        filters["action"] = action
    elif action:
        problems["action"] = "没有这种操作，已忽略此条件"
    return filters, problems


@bp.get("/admin/audit")
@admin_required
def audit():
    filters, problems = audit_filters(request.args)
    query = AuditEvent.filtered(**filters, under=audit_scope(g.user))
    page = page_number(request.args.get("page"))
    ctx = {
        "events": list(query.paginate(page, AUDIT_PAGE_SIZE)),
        "total": query.count(),
        "page": page,
        "page_size": AUDIT_PAGE_SIZE,
        "filters": filters,
        "problems": problems,
        # Only the filters go into the paging links: any other argument
        # would reach url_for (`_method` breaks it, `_external` and
        # `_scheme` rewrite the links).
        "args": {k: request.args[k] for k in AUDIT_FILTER_ARGS if request.args.get(k)},
    }
    if wants_partial():
        body = render_template("history/_audit_results.html", oob=True, **ctx)
    else:
        body = render_template("history/audit.html", units=visible_units(g.user),
                               users=visible_users(g.user).order_by(User.username),
                               actions=sorted(set(AuditEvent.actions()) | set(AuditEvent.ACTION_LABELS)),
                               labels=AuditEvent.ACTION_LABELS, **ctx)
    return partial_response(body)


@bp.get("/admin/backup")
@root_office_required
def backup_page():
    sqlite = backup.database_file() is not None
    kept = backup.daily_backups() if sqlite else []
    return render_template("history/backup.html", sqlite=sqlite, not_sqlite=backup.NOT_SQLITE,
                           last=kept[0].written_at if kept else None, kept=kept, keep=backup.KEEP)


@bp.get("/admin/backup/download")
@root_office_required
def download_backup():
    try:
        body = backup.fresh_backup_bytes()
    except backup.BackupError as e:
        flash(str(e), "error")
        return redirect(url_for("history.backup_page"), 303)
    AuditEvent.record("backup", g.user)
    return Response(body, mimetype="application/vnd.sqlite3", headers={
        "Content-Disposition": f'attachment; filename="pbforms-backup-{now():%Y%m%d-%H%M%S}.sqlite3"'})
