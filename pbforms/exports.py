"""Many reports at once: a zip of a round's Word documents, the 汇编 (one
bound volume of them, pbforms/documents/volume.py), and the summary of their figures
as .xlsx and as an official-format .docx table.

A zip is written entry by entry into a file, so only a couple of documents
are in memory at a time whatever the number of units. From the browser a zip
or a 汇编 runs as an `ExportJob` in a background thread (`start_job`, for a
job of any kind): the job's row holds its progress and, once done, the file,
so the page that polls it and the download may be answered by any app process.
"""
import datetime
import io
import json
import logging
import mimetypes
import multiprocessing
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter, deque, namedtuple
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
from docx import Document
from docx.shared import Mm
from flask import Blueprint, Response, abort, g, make_response, redirect, render_template, request, url_for
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from .auth import admin_required, office_of, round_or_404, unit_or_404, visible_users
from .db import db, writing
from .documents import content_disposition, render, report_document, report_filename
from .filenames import UniqueNames, safe_filename
from .forms import cn_date
from .models import AuditEvent, ExportJob, Report, Round, Unit, User
from .partials import partial_response, wants_partial
from .rollup import part_of, reaches_below
from .documents.official import official_template
from .documents.pdf import ConverterError, availability, docx_to_pdf
from .documents.volume import build_volume

log = logging.getLogger(__name__)
bp = Blueprint("exports", __name__, url_prefix="/township")

# What the office may choose to export: report statuses, comma-separated.
# The first is the default: a report nobody has handed in is rarely wanted
# (an unstarted one prints a blank name and a page of **).
SCOPES = {"submitted,approved": "已提交和已通过的报告", "approved": "已通过的报告",
          "": "全部报告（含草稿和未开始的）"}
DEFAULT_SCOPE = next(iter(SCOPES))


def chosen_scope(value):
    """The statuses of the scope asked for; the default when none or an unknown one is."""
    return parse_statuses(value if value in SCOPES else DEFAULT_SCOPE)


def scope_counts(totals):
    """How many reports each scope holds, from the board's totals by progress."""
    return {key: sum(totals[s] for s in key.split(",")) if key else sum(totals[s] for s in Report.PROGRESS_LABELS)
            for key in SCOPES}
WAIT_BEFORE_PROGRESS = 2.0  # seconds: a zip ready by then downloads at once
KEEP_JOBS = datetime.timedelta(days=1)  # then a job and its file are removed
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@bp.before_request
@admin_required
def admin_only():
    """Runs before every view of this blueprint; `admin_required` does the refusing."""


def parse_statuses(text):
    """"submitted,approved" -> ["submitted", "approved"]; "" -> [] (every report)."""
    statuses = [s.strip() for s in (text or "").split(",") if s.strip()]
    unknown = [s for s in statuses if s not in Report.STATUS_LABELS]
    if unknown:
        raise ValueError(f"未知的状态：{'、'.join(unknown)}（可用：{', '.join(Report.STATUS_LABELS)}）")
    return statuses


def scope_label(statuses):
    return "、".join(Report.STATUS_LABELS[s] for s in statuses) if statuses else "全部"


def chosen_reports(round_, statuses, under):
    """The round's reports of `under`'s subtree, of `statuses` (all when empty)."""
    query = Report.in_round(round_, under)
    return query.where(Report.status.in_(statuses)) if statuses else query


def one_by_one(query):
    """The query's reports, each read by a statement of its own: only one
    report is in memory at a time, and no read stays open on SQLite while
    the job writes its progress (an open read cannot become a write)."""
    for report_id in [r.id for r in query.select(Report.id)]:
        report = query.where(Report.id == report_id).first()
        if report is not None:
            yield report


# --- the zip ----------------------------------------------------------------

# Rendering a document is pure Python, so threads would share one core: the
# zip's documents are rendered by this many worker processes.
ZIP_WORKERS = 2
# Documents under way at once: two per worker, so a worker that finishes
# finds its next document queued while the oldest is written to the zip
# (with one each, the workers waited on the writer: 0.58× of serial renders
# against 0.43×). Still only a handful in memory whatever the round's size.
UNDER_WAY = 2 * ZIP_WORKERS
# fork on Linux: a worker starts at once, with the app already imported.
# Elsewhere the platform's own way (spawn on Windows).
ZIP_WORKER_START = multiprocessing.get_context("fork") if sys.platform == "linux" else None


def write_zip(reports, path, progress=None, folder=lambda report: ""):
    """One .docx per report into a zip at `path`; returns how many.
    `folder(report)` names the folder (ending in "/") a report goes into.

    Written to a side file and renamed at the end, so `path` never holds half
    a zip. Each entry's name is safe on Windows and Linux and unique in the
    zip (two units can make the same name: 甲 + 乙党支部书记 and 甲乙 +
    党支部书记), so extracting never overwrites a report. Python marks each non-ASCII entry name as UTF-8 (flag bit 11),
    which Windows Explorer needs to show Chinese names. A .docx is a zip
    already, so entries are stored, not compressed again. The database is
    read here; a worker gets only the template's bytes and the context.
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    count = 0
    with (zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as archive,
          ProcessPoolExecutor(ZIP_WORKERS, mp_context=ZIP_WORKER_START) as workers):
        under_way = deque()

        def write_oldest():
            nonlocal count
            name, document = under_way.popleft()
            archive.writestr(name, document.result())
            count += 1
            if progress:
                progress(count)

        entry_name = UniqueNames()
        for report in reports:
            name = entry_name(folder(report) + safe_filename(report_filename(report)))
            under_way.append((name, workers.submit(render, *report_document(report))))
            if len(under_way) == UNDER_WAY:
                write_oldest()
        while under_way:
            write_oldest()
    part.replace(path)
    return count


def townships(round_, under):
    """report -> its township's name in an export of `round_` over `under`'s
    part, when its reports there lie more than one level deep (a county's
    round its villages fill too): the unit directly below `under` holding
    the report's unit. None when not so deep."""
    if not reaches_below(round_, under):
        return None
    names = {u.id: u.name for u in Unit.select(Unit.id, Unit.name).where(Unit.parent == under)}
    return lambda report: names.get(part_of(report.unit.path, under), "")


def township_folders(round_, under):
    """The `folder` of write_zip for `round_` over `under`'s part: a folder per township in a county's."""
    township = townships(round_, under)
    if township is None:
        return lambda report: ""
    return lambda report: safe_filename(township(report)) + "/" if township(report) else ""


def zip_filename(round_, statuses):
    return f"{round_.title}（{scope_label(statuses)}）.zip"


# --- export jobs of any kind ----------------------------------------------------

def start_job(job, write):
    """Run an export in a background thread: `write(path, progress)` writes
    the file at `path` (calling progress(n) as it goes) and returns how many
    reports it holds; the file is then stored in the database as the job's
    (`ExportJob.store_file`), to be downloaded from `job_file`. `job` is a
    new ExportJob row; jobs older than KEEP_JOBS go now, files and all."""
    ExportJob.remove_older_than(KEEP_JOBS)
    threading.Thread(target=run_job, args=(job, write), daemon=True).start()


def run_job(job, write):
    """The job's thread, with its own database connection. The file is
    made in a temporary folder of this machine and removed once stored."""
    with db.connection_context():
        try:
            with tempfile.TemporaryDirectory(prefix="pbforms-export-") as folder:
                path = Path(folder) / "file"
                count = write(path, lambda n: job.advance(done=n))
                size = job.store_file(path)
            job.advance(state="done", done=count, total=count, size=size)
        except Exception as e:  # the page must learn that the job ended
            log.exception("export %s failed", job.id)
            job.advance(state="failed", error=str(e) or e.__class__.__name__)


def write_zip_of(job, under=None):
    """The zip job's writer: its round's chosen reports of `under`'s part
    (by default the part of the office that started it), one by one."""
    def write(path, progress):
        part, round_ = under or job_office(job), Round.get_by_id(job.round_id)
        return write_zip(one_by_one(chosen_reports(round_, job.status_list, part)),
                         path, progress, township_folders(round_, part))
    return write


def job_office(job):
    """Whose part of the round a job exports unless told: the office of the account that started it."""
    return office_of(job.user) if job.user_id else Unit.root()


def chosen_part():
    """The part of the round an export from the board covers: the township
    the county's board went down into (`under`), else the office's own.
    A unit outside the office's part is a 404."""
    under_id = request.values.get("under", type=int)
    return office_of(g.user) if under_id is None else unit_or_404(under_id)


def start_zip_job(round_, statuses, user, under):
    with writing():
        job = ExportJob.create(round=round_, statuses=",".join(statuses), user=user,
                               total=chosen_reports(round_, statuses, under).count(),
                               filename=zip_filename(round_, statuses))
    start_job(job, write_zip_of(job, under))
    return job


def wait_for(job, seconds):
    """The job as stored once it has finished, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        job = ExportJob.get_by_id(job.id)
        if job.state != "running" or time.monotonic() >= deadline:
            return job
        time.sleep(0.1)


def job_or_404(job_id):
    """A job started by an account of the admin's part, or 404."""
    return (ExportJob.get_or_none((ExportJob.id == job_id)
                                  & ExportJob.user.in_(visible_users(g.user).select(User.id))) or abort(404))


def job_partial(job):
    """The progress box; once done, it also tells the page to start the download."""
    response = partial_response(render_template("township/_export_job.html", job=job, office=availability() is None))
    if job.state == "done":
        response.headers["HX-Trigger"] = json.dumps({"pbforms:download": url_for(".job_file", job_id=job.id)})
    return response


@bp.post("/rounds/<int:round_id>/zip")
def start_zip(round_id):
    round_ = round_or_404(round_id)
    job = start_zip_job(round_, chosen_scope(request.form.get("scope")), g.user, chosen_part())
    AuditEvent.record("export", g.user, detail=f"zip：{job.filename}")
    job = wait_for(job, WAIT_BEFORE_PROGRESS)
    if wants_partial():
        return job_partial(job)
    return redirect(url_for(".job", job_id=job.id), 303)


@bp.get("/exports/<int:job_id>")
def job(job_id):
    job = job_or_404(job_id)
    if wants_partial():
        return job_partial(job)
    return render_template("township/export_job.html", job=job, office=availability() is None)


@bp.get("/exports/<int:job_id>/file")
def job_file(job_id):
    """The job's file, streamed from the database a chunk at a time."""
    job = job_or_404(job_id)
    if not job.has_file():
        abort(404)
    mimetype = mimetypes.guess_type(job.filename)[0] or "application/octet-stream"
    return Response(job.file_chunks(), mimetype=mimetype, direct_passthrough=True,
                    headers={"Content-Length": str(job.size),
                             "Content-Disposition": content_disposition(job.filename)})


# --- the 汇编 ------------------------------------------------------------------

def not_numbered(why):
    """The note of a 汇编 whose 目录 Word is to number, saying why."""
    return (f"目录的页码尚未填好（{why}）：用 Word 打开时会询问是否更新域，请选“是”；"
            "WPS 中请右键点目录，选“更新域”。")


NO_OFFICE = "本机没有 LibreOffice 可用来排版计算"


def left_out_note(left_out):
    """The note of a 汇编 PDF without the reports LibreOffice could not convert."""
    named = "；".join(f"{title}（{why.rstrip('。')}）" for title, why in left_out)
    return (f"以下 {len(left_out)} 份报告 LibreOffice 无法转换，未收入本 PDF：{named}。"
            "可下载 Word 版汇编，或请这些单位修改报告后再生成。")


def volume_filename(round_, statuses, extension="docx"):
    return f"{round_.title}汇编（{scope_label(statuses)}）.{extension}"


def write_volume(round_, reports, path, progress=None, pdf=False, under=None):
    """The 汇编 of `under`'s part (the round's office's when None) into
    `path` (.docx, or .pdf when `pdf`); returns (count, note). Its cover
    names `under`; a county's 目录 lists each township with its reports.

    With LibreOffice the 目录's page numbers are computed; without it (or
    when it fails) a .docx still comes out, its 目录 left for Word to
    update, and the note says so and why. A PDF needs LibreOffice; a report
    it cannot convert is left out of the PDF, and the note names it.
    """
    problem = availability()
    if pdf and problem:
        raise ConverterError(problem)
    reports = list(reports)
    under = under or round_.office
    township = townships(round_, under)
    if township:  # each township's reports together, the townships in their order
        rank = {name: i for i, (name,) in enumerate(Unit.ordered().select(Unit.name).where(Unit.parent == under).tuples())}
        reports.sort(key=lambda report: rank.get(township(report), -1))
    built = build_volume(round_.title, under.name, cn_date(datetime.date.today()), reports,
                         official_template(round_.types[0]), progress=progress, pdf=pdf,
                         converter=None if problem else docx_to_pdf, workers=ZIP_WORKERS, mp_context=ZIP_WORKER_START,
                         group=township)
    Path(path).write_bytes(built.pdf if pdf else built.docx)
    if built.problem:
        log.warning("汇编 of round %s: LibreOffice failed (%s); the 目录 is left for Word to update",
                    round_.id, built.problem)
    notes = [left_out_note(built.left_out)] if built.left_out else []
    if not built.numbered and not pdf:
        notes.append(not_numbered(NO_OFFICE if problem else f"LibreOffice 未能排出这本汇编：{built.problem.rstrip('。')}"))
    return len(reports) - len(built.left_out), "\n".join(notes)


def write_volume_of(job, pdf, under):
    """The 汇编 job's writer for `under`'s part; what the office must know about the file goes into the job's note."""
    def write(path, progress):
        round_ = Round.get_by_id(job.round_id)
        reports = one_by_one(chosen_reports(round_, job.status_list, under))
        count, note = write_volume(round_, reports, path, progress, pdf=pdf, under=under)
        if note:
            job.advance(note=note)
        return count
    return write


@bp.post("/rounds/<int:round_id>/volume")
def start_volume(round_id):
    round_ = round_or_404(round_id)
    scope = request.form.get("scope", "")
    statuses = parse_statuses(scope if scope in SCOPES else "")
    pdf = request.form.get("format") == "pdf"
    under = chosen_part()
    with writing():
        job = ExportJob.create(round=round_, statuses=",".join(statuses), user=g.user,
                               total=chosen_reports(round_, statuses, under).count(),
                               filename=volume_filename(round_, statuses, "pdf" if pdf else "docx"))
    start_job(job, write_volume_of(job, pdf, under))
    AuditEvent.record("export", g.user, detail=f"汇编：{job.filename}")
    job = wait_for(job, WAIT_BEFORE_PROGRESS)
    if wants_partial():
        return job_partial(job)
    return redirect(url_for(".job", job_id=job.id), 303)


# --- the summary of figures --------------------------------------------------

Summary = namedtuple("Summary", "round scope report_type counts rows totals groups by_unit")
SummaryRow = namedtuple("SummaryRow", "name status values")
# A unit directly below the summary's unit (a township below the county)
# with the rows of its part and their totals.
SummaryGroup = namedtuple("SummaryGroup", "name rows totals")


def round_type(round_, type_id):
    """The round's version of the type `type_id` (text or int), or None.
    Without an id, a round of one type means that type."""
    types = round_.types
    if type_id in (None, "") and len(types) == 1:
        return types[0]
    return next((t for t in types if str(t.type_id) == str(type_id).strip()), None)


def most_followed(round_, version_ids):
    """The round's type that most of its reports follow (`version_ids`, one a
    report): what a summary covers unless the office chooses, as the
    township's own type holds a single report."""
    followed = Counter(version_ids)
    return max(round_.types, key=lambda t: followed[t.version_id])


def types_help(round_):
    return "；".join(f"{t.type_id} {t.name}（{round_.kinds_label(t)}）" for t in round_.types)


def summary(round_, statuses, report_type, under, by_unit=False):
    """A row per unit following `report_type` and a column per figure of
    that type, plus the totals: one summary covers one type, so the
    township's own figures are never added to its villages'.

    When the rows lie deeper than `under`'s own children (a county's
    villages), they are rolled up by the child whose part holds them (the
    township): a group each, with its subtotal, in the children's order;
    `by_unit` says whether a group lists its units or only its subtotal."""
    counts = report_type.counts

    def totals(rows):
        return [f.total(row.values[i] for row in rows) for i, f in enumerate(counts)]

    reports = chosen_reports(round_, statuses, under).where(Report.type_version == report_type.version_id)
    parts, deeper = {}, False
    for r in reports:
        deeper = deeper or r.unit.parent_id not in (None, under.id) and r.unit.id != under.id
        parts.setdefault(part_of(r.unit.path, under), []).append(
            SummaryRow(r.unit.name, r.status_label, [r.data.get(f.key) for f in counts]))
    rows = [row for part in parts.values() for row in part]
    groups = []
    if deeper:
        names = {u.id: u.name for u in Unit.ordered().where(Unit.parent == under)}
        groups = [SummaryGroup(names.get(key, under.name), parts[key], totals(parts[key]))
                  for key in [None, *names] if key in parts]
    return Summary(round_, scope_label(statuses), report_type, counts, rows, totals(rows), groups, by_unit)


def summary_label(s):
    """What the summary covers: the type when the round has several, and the scope."""
    several = len(s.round.types) > 1
    return f"（{s.report_type.name}，{s.scope}）" if several else f"（{s.scope}）"


def summary_filename(s, extension):
    return f"{s.round.title}数字汇总{summary_label(s)}.{extension}"


def column_titles(s):
    return ["单位", "状态"] + [f"{f.label}（{f.unit}）" for f in s.counts]


def with_data(rows):
    """How many of `rows` hold a figure: a unit with none filled adds nothing."""
    return sum(1 for row in rows if any(v is not None for v in row.values))


def totals_name(s):
    """合计 names how many units' figures it adds up."""
    return f"合计（{with_data(s.rows)}个单位）"


def group_status(s, group):
    """The status column of a group's subtotal: how many units it adds up."""
    count = with_data(group.rows)
    return f"小计（{count}个单位）" if s.by_unit else f"{count}个单位"


def summary_xlsx(s):
    """Numbers stored as numbers (an empty figure stays an empty cell), the
    units in the header, the header row and unit column frozen. Each total
    is a SUM over its column's rows, so a figure corrected in the sheet
    corrects its total; a rolled-up summary's county total adds up the
    townships' subtotals (which, listed by unit, are SUMs of their units)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "数字汇总"

    def append_text(values, bold=False):
        # Text is text: a unit named "=HYPERLINK(…)" must not become a
        # formula (openpyxl makes one of any string starting with "="); the
        # totals' formulas are written into their cells afterwards.
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
            cell.font = Font(bold=bold)
        return sheet.max_row

    def sums(at, first, last):
        for column in range(3, len(s.counts) + 3):
            letter = sheet.cell(1, column).column_letter
            sheet.cell(at, column, f"=SUM({letter}{first}:{letter}{last})" if last >= first else 0).font = Font(bold=True)

    sheet.append(column_titles(s))
    if not s.groups:
        for row in s.rows:
            append_text([row.name, row.status, *row.values])
        last = sheet.max_row
        sums(append_text([totals_name(s), None], bold=True), 2, last)
    elif not s.by_unit:
        for group in s.groups:
            append_text([group.name, group_status(s, group), *group.totals])
        last = sheet.max_row
        sums(append_text([totals_name(s), None], bold=True), 2, last)
    else:
        subtotals = []
        for group in s.groups:
            first = sheet.max_row + 1
            for row in group.rows:
                append_text([row.name, row.status, *row.values])
            subtotals.append(append_text([group.name, group_status(s, group)], bold=True))
            sums(subtotals[-1], first, subtotals[-1] - 1)
        at = append_text([totals_name(s), None], bold=True)
        for column in range(3, len(s.counts) + 3):
            letter = sheet.cell(1, column).column_letter
            sheet.cell(at, column, "=" + "+".join(f"{letter}{r}" for r in subtotals))
    for column, f in enumerate(s.counts, start=3):
        if f.kind == "amount":  # printed with its places, as in the report: 12.5, 3.0
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = f"0.{'0' * f.decimals}" if f.decimals else "0"
    sheet.freeze_panes = "B2"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)  # the totals' formulas too
    sheet.column_dimensions["A"].width = 16
    for column in sheet.iter_cols(min_col=3, max_col=sheet.max_column, max_row=1):
        sheet.column_dimensions[column[0].column_letter].width = 12
    sheet.row_dimensions[1].height = 48
    sheet.page_setup.orientation = "landscape"
    sheet.print_title_rows = "1:1"
    # "&" starts a code in a print header (&P page number, &B bold …): doubled, it prints as itself.
    sheet.oddHeader.center.text = f"{s.round.title}数字汇总{summary_label(s)}".replace("&", "&&")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary_docx(s):
    """The summary as a landscape, official-format Word table."""
    def shown(f, value):
        return "—" if value is None else f.as_text(value)

    several = len(s.round.types) > 1
    scope = f"{s.scope}　　截至{cn_date(datetime.date.today())}"
    context = {
        "title": f"{s.round.title}数字汇总表",
        # A type's name is long: on a line of its own (docxtpl makes "\n" a
        # line break), so the date never wraps a character or two onto a line alone.
        "note": f"统计范围：{s.report_type.name}\n{scope}" if several else f"统计范围：{scope}",
        "headers": [{"label": f.label, "unit": f.unit} for f in s.counts],
        "rows": [{"name": r.name, "status": r.status, "figures": [shown(f, v) for f, v in zip(s.counts, r.values)]}
                 for r in listed_rows(s)],
        "totals": {"name": totals_name(s), "figures": [f.as_text(v) for f, v in zip(s.counts, s.totals)]},
    }
    return fit_columns(render("round_summary.docx", context))


def listed_rows(s):
    """The rows a table lists: the units, or for a rolled-up summary each
    township's units (when by unit) and its subtotal."""
    if not s.groups:
        return s.rows
    return [row for group in s.groups
            for row in (group.rows if s.by_unit else []) + [SummaryRow(group.name, group_status(s, group), group.totals)]]


def fit_columns(docx_bytes):
    """Widths for the columns the template's loop made: unit and status get
    what their names need, the figures share the rest of the text block."""
    doc = Document(io.BytesIO(docx_bytes))
    section, table = doc.sections[0], doc.tables[0]
    fixed = [Mm(34), Mm(16)]
    usable = section.page_width - section.left_margin - section.right_margin
    rest = (usable - sum(fixed)) // max(len(table.columns) - len(fixed), 1)
    widths = fixed + [rest] * (len(table.columns) - len(fixed))
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@bp.get("/rounds/<int:round_id>/summary.<any(xlsx, docx):extension>")
def summary_file(round_id, extension):
    round_ = round_or_404(round_id)
    report_type = round_type(round_, request.args.get("type"))
    if report_type is None:  # a round of several types, and none chosen
        report_type = most_followed(round_, [r.type_version_id for r in
                                             Report.select(Report.type_version).where(Report.round == round_)])
    s = summary(round_, chosen_scope(request.args.get("scope")), report_type, chosen_part(),
                request.args.get("by") == "unit")
    body, mimetype = (summary_xlsx(s), XLSX) if extension == "xlsx" else (summary_docx(s), DOCX)
    name = summary_filename(s, extension)
    AuditEvent.record("export", g.user, detail=f"汇总表：{name}")
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = content_disposition(name)
    return response


# --- the same from the command line -------------------------------------------

@click.group("round")
def round_group():
    """List rounds; export a round's reports as a zip or its summary of figures."""


def get_round(round_id):
    round_ = Round.get_or_none(Round.id == round_id)
    if round_ is None:
        raise click.ClickException(f"找不到编号为 {round_id} 的填报轮次（用 round list 查看）")
    return round_


def statuses_option(text):
    try:
        return parse_statuses(text)
    except ValueError as e:
        raise click.ClickException(str(e)) from None


STATUS_HELP = "只要这些状态的报告，逗号分隔，如 submitted,approved（默认全部）"
UNDER_HELP = "只要这个单位（如一个乡镇）及其下属单位的报告（默认：开启本轮的单位以下全部）"


def under_option(round_, name):
    """The unit whose part of the round a command covers: `name`'s, or the round's office's."""
    if not name:
        return round_.office
    unit = Unit.get_or_none(Unit.name == name.strip())
    if unit is None:
        raise click.ClickException(f"找不到名为“{name}”的单位（用 unit list 查看）")
    if not (round_.office.contains(unit) or unit.contains(round_.office)):
        raise click.ClickException(f"“{unit.name}”不在本轮（{round_.office.name}开启）的范围内")
    return unit


@round_group.command("list")
def round_list():
    """One line per round: id, title, year, open or closed, deadline, progress."""
    for round_ in Round.newest_first():
        progress = Counter(r.progress for r in Report.in_round(round_))
        line = "，".join(f"{label}{progress[key]}" for key, label in Report.PROGRESS_LABELS.items() if progress[key])
        deadline = f"截止 {round_.deadline}" if round_.deadline else "无截止日期"
        click.echo(f"{round_.id}\t{round_.title}\t{round_.year}\t{'进行中' if round_.is_open else '已结束'}\t"
                   f"{deadline}\t共{sum(progress.values())}个单位：{line}")


@round_group.command("export-zip")
@click.option("--round", "round_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--status", "statuses", default="", help=STATUS_HELP)
@click.option("--under", default="", help=UNDER_HELP)
def round_export_zip(round_id, output, statuses, under):
    """Write every chosen report of the round as .docx files into one zip."""
    round_ = get_round(round_id)
    unit = under_option(round_, under)
    reports = chosen_reports(round_, statuses_option(statuses), unit)
    with click.progressbar(length=reports.count(), label="正在生成") as bar:
        count = write_zip(one_by_one(reports), output, progress=lambda n: bar.update(1), folder=township_folders(round_, unit))
    click.echo(f"已写入 {output}（{count} 份报告）")


@round_group.command("compile")
@click.option("--round", "round_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--status", "statuses", default="", help=STATUS_HELP)
@click.option("--under", default="", help=UNDER_HELP)
def round_compile(round_id, output, statuses, under):
    """Write the round's 汇编: one .docx (or .pdf, by the file's extension) with a cover, a 目录 and every report."""
    suffix = output.suffix.lower()
    if suffix not in (".docx", ".pdf"):
        raise click.ClickException("输出文件应以 .docx 或 .pdf 结尾")
    round_ = get_round(round_id)
    unit = under_option(round_, under)
    reports = chosen_reports(round_, statuses_option(statuses), unit)
    if suffix == ".pdf" and availability():
        raise click.ClickException(f"无法生成 PDF：{availability()}")
    with click.progressbar(length=reports.count(), label="正在生成") as bar:
        try:
            count, note = write_volume(round_, one_by_one(reports), output, lambda n: bar.update(1),
                                       pdf=suffix == ".pdf", under=unit)
        except ConverterError as e:
            raise click.ClickException(str(e)) from None
    click.echo(f"已写入 {output}（{count} 份报告）")
    if note:
        click.echo(note, err=True)


@round_group.command("summary")
@click.option("--round", "round_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--status", "statuses", default="", help=STATUS_HELP)
@click.option("--type", "type_id", default="", help="报告类型编号：本轮有多种报告类型时必须给出（用 type list 查看）")
@click.option("--under", default="", help=UNDER_HELP)
@click.option("--by-unit", is_flag=True, help="分乡镇汇总时也逐个列出各村（社区），不只列各乡镇的小计")
def round_summary(round_id, output, statuses, type_id, under, by_unit):
    """Write the summary of figures of one report type: .xlsx or .docx, by the file's extension."""
    writers = {".xlsx": summary_xlsx, ".docx": summary_docx}
    if output.suffix.lower() not in writers:
        raise click.ClickException("输出文件应以 .xlsx 或 .docx 结尾")
    round_ = get_round(round_id)
    report_type = round_type(round_, type_id)
    if report_type is None:
        if type_id:
            raise click.ClickException(f"本轮没有编号为 {type_id} 的报告类型。本轮的报告类型：{types_help(round_)}")
        raise click.ClickException(f"本轮有多种报告类型，汇总表一次只汇总一种，请用 --type 选择：{types_help(round_)}")
    s = summary(round_, statuses_option(statuses), report_type, under_option(round_, under), by_unit)
    output.write_bytes(writers[output.suffix.lower()](s))
    click.echo(f"已写入 {output}（{len(s.rows)} 个单位）")
