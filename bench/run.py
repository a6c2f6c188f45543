"""The benchmarks of issue 6, each measured beside its baseline in the same run.

    python bench/run.py           # the full run (about ten minutes)
    python bench/run.py --quick   # shorter: autosave 15 s, fewer renders
    python bench/run.py --only 3 --users 500 --interval 5   # autosave: 500 users, a save each every 5 s
    python bench/run.py --only 9   # 述职评议: 100 raters voting within 30 s

Every database is a throwaway one in a temp folder (PostgreSQL: a throwaway
cluster, when the server's programs are installed). The results, with the
machine and the date, are appended to bench/RESULTS.md. Load goes to
127.0.0.1 only.
"""
import argparse
import datetime
import gc
import http.client
import io
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import lxml.html
from docxtpl import DocxTemplate
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pbforms import create_app  # noqa: E402
from pbforms import exports  # noqa: E402
from pbforms.db import db  # noqa: E402
from pbforms.documents import render, report_docx, report_document, type_document  # noqa: E402
from pbforms.forms import builtin_demo_figures, builtin_type  # noqa: E402
from pbforms.models import ExportJob, Report, Round, Unit, User, now  # noqa: E402
from pbforms.models import builtin_type as stored_builtin_type  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")
REPORT_TYPE = builtin_type("annual_report")


def demo_data(meta):
    """The seed's full report, as the demo township has it."""
    return REPORT_TYPE.model_data(meta) | builtin_demo_figures("annual_report")

PASSWORD = "bench-password-2026"  # the demo passwords open nothing outside the demo database
ROUND_TITLE = "2022年度抓基层党建工作述职"


# --- data -------------------------------------------------------------------

def open_app(url):
    """Bind the app (and the `db` proxy) to a new database at `url`, schema created."""
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})


def populate(units, users=False):
    """`units` villages with full demo reports in one open round, an admin,
    and a filler per unit if asked (their reports stay drafts, to be
    edited; otherwise the statuses are mixed, as on a real board). A cheap
    password hash: these accounts are logged in many times."""
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with db.atomic():
        User.create(username="admin", display_name="镇党建办", role="admin", password_hash=password_hash)
        for i in range(units):
            unit = Unit.create(name=f"第{i + 1:04d}村", kind="village", secretary_title="党支部书记", position=i)
            if users:
                User.create(username=f"v{i + 1:04d}", display_name=f"{unit.name}填报员", role="filler",
                            unit=unit, password_hash=password_hash)
        round_ = Round.start(ROUND_TITLE, 2022, stored_builtin_type("annual_report"))
        statuses = ["draft", "submitted", "approved", "returned"]
        for i, report in enumerate(Report.in_round(round_)):
            Report.update(data=demo_data(report.meta), version=1 if i % 5 else 0,
                          status="draft" if users or not i % 5 else statuses[i % 4], updated_at=now()
                          ).where(Report.id == report.id).execute()
    return round_


def fresh_sqlite(folder, name):
    return open_app(f"sqlite:///{folder / name}")


# --- timing helpers -----------------------------------------------------------

def timed(fn):
    """Seconds `fn` took, and its result. The garbage of earlier calls is
    collected first, so no call pays for freeing another's documents."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_ms(samples):
    return statistics.median(samples) * 1000


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bare_render(template, context):
    """What docxtpl alone does for one document (`template`: the template's
    bytes, as the app has them). autoescape as the app renders (typed text
    may hold & or <), so both outputs can be compared."""
    doc = DocxTemplate(io.BytesIO(template))
    doc.render(context, autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def same_parts(a, b):
    """(parts with identical bytes, parts) of two .docx files."""
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    names = sorted(set(za.namelist()) | set(zb.namelist()))
    same = sum(1 for n in names if n in za.namelist() and n in zb.namelist() and za.read(n) == zb.read(n))
    return same, len(names)


# --- 1. one report's .docx ------------------------------------------------------

def bench_one_docx(folder, runs):
    fresh_sqlite(folder, "one.sqlite3")
    with db.connection_context():
        populate(1)
        report_id = Report.select(Report.id).scalar()
        template, context = report_document(Report.with_round_and_unit().where(Report.id == report_id).get())

    def app_pipeline():
        """What the download view does: its own connection, the report with round and unit, the bytes."""
        with db.connection_context():
            return report_docx(Report.with_round_and_unit().where(Report.id == report_id).get())

    app_times, bare_times = [], []
    for i in range(runs + 3):  # alternated, so drift hits both; the first three warm up
        a, app_doc = timed(app_pipeline)
        b, bare_doc = timed(lambda: bare_render(template, context))
        if i >= 3:
            app_times.append(a)
            bare_times.append(b)
    same, parts = same_parts(app_doc, bare_doc)
    app_ms, bare_ms = median_ms(app_times), median_ms(bare_times)
    return [row("1. one report's .docx (median of %d)" % runs, f"{app_ms:.1f} ms", f"{bare_ms:.1f} ms bare docxtpl",
                app_ms / bare_ms, "≤ 0.5×", app_ms / bare_ms <= 0.5,
                f"identical parts: {same}/{parts}")]


# --- 2. a zip of 300 reports ---------------------------------------------------

def bench_zip(folder, units, repeats):
    fresh_sqlite(folder, "zip.sqlite3")
    with db.connection_context():
        round_ = populate(units)
        documents = [report_document(r) for r in Report.in_round(round_)]
    app_times, bare_times = [], []
    for n in range(repeats):
        bare_times.append(timed(lambda: [bare_render(t, c) for t, c in documents])[0])
        with db.connection_context():
            job = ExportJob.create(round=round_, total=units, filename="bench.zip")
        # the job's thread, run here: the zip written and stored in the database
        app_times.append(timed(lambda: exports.run_job(job, exports.write_zip_of(job)))[0])
        with db.connection_context():
            job = ExportJob.get_by_id(job.id)
            stored = io.BytesIO(b"".join(job.file_chunks()))
        entries = len(zipfile.ZipFile(stored).namelist())
        if job.state != "done" or entries != units or job.done != units:
            raise SystemExit(f"zip job: {job.state} {job.error} {entries} entries, done={job.done}")
    app_s, bare_s = statistics.median(app_times), statistics.median(bare_times)
    return [row(f"2. zip of {units} reports (export job, stored in the database; median of {repeats})", f"{app_s:.2f} s",
                f"{bare_s:.2f} s for {units} bare renders in a row", app_s / bare_s, "≤ 0.6×", app_s / bare_s <= 0.6,
                f"{exports.ZIP_WORKERS} worker processes, {os.cpu_count()} cores")]


# --- 3. autosave under load ------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One user's keep-alive connection with its session cookie."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            match = re.match(r"session=([^;]*)", value)
            if match:
                self.cookie = f"session={match.group(1)}"
        return response.status, text

    def login(self, username):
        status, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", urlencode({"csrf_token": token, "username": username,
                                                             "password": PASSWORD}))
        if status != 302:
            raise RuntimeError(f"login {username}: {status}")


def start_server(command, env, port):
    """Start the app server and wait until it answers. Its output goes to a
    file: a pipe nobody reads fills up, and then the server stops where it
    writes (its warnings come from the thread that serves every connection)."""
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=log, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"{command[0]} ended: {log.read()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"{command[0]} did not answer within 60 s")


def stop_server(server):
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# Users logging in and loading their form at a time before the load starts:
# that is not what is measured, and 500 at once would only queue in the server.
SETTING_UP_AT_ONCE = 8
BASE_INPUT = re.compile(r'name="(base-[^"]+)" value="([^"]*)"')


def autosave_load(port, users, seconds, interval):
    """`users` threads, each logged in as its unit's filler over a keep-alive
    connection of its own, saving its form every `interval` seconds
    (staggered) for `seconds`; one more thread GETs a static file meanwhile
    as the baseline. Returns the numbers and what each user last saved.

    This process only sends requests: the server is another process
    (`start_server`). A thread per user: each mostly sleeps or waits for
    its answer, both without holding Python's lock."""
    with db.connection_context():
        reports = {r.unit.name: r.id for r in Report.in_round(Round.get())}
    latencies, baseline, errors = [], [], []
    last_saved = {}
    stop_at = [None]

    def begin():
        """Run once, when every user has logged in: the load starts now."""
        stop_at[0] = time.time() + seconds

    ready = threading.Barrier(users + 2, action=begin)
    setting_up = threading.Semaphore(SETTING_UP_AT_ONCE)

    def user(i):
        browser = Browser(port)
        report_id = reports[f"第{i + 1:04d}村"]
        try:
            with setting_up:
                browser.login(f"v{i + 1:04d}")
                _, page = browser.request("GET", f"/reports/{report_id}")
            token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
            form = dict(lxml.html.fromstring(page).xpath("//form[.//input[@name='version']]")[0].form_values())
        except Exception as e:
            errors.append(f"user {i} setup: {e!r}")
            ready.wait()
            return
        ready.wait()
        headers = {"HX-Request": "true", "X-CSRFToken": token}
        next_at = stop_at[0] - seconds + interval * i / users
        saves = 0
        # A save answered after the end sends no more: on a server that
        # cannot keep up the run still ends, at most one request timeout late.
        while next_at < stop_at[0] and time.time() < stop_at[0]:
            time.sleep(max(0.0, next_at - time.time()))
            next_at += interval
            saves += 1
            form["reporter_name"] = f"填报员{i}-{saves}"
            body = urlencode(form)  # the browser's work, not the server's: before the clock starts
            try:
                start = time.perf_counter()
                status, text = browser.request("POST", f"/reports/{report_id}", body, headers)
                latencies.append(time.perf_counter() - start)
                version = re.search(r'id="report-version" value="(\d+)"', text)
                if status != 200 or not version:
                    errors.append(f"user {i} save {saves}: HTTP {status}")
                    continue
                form["version"] = version.group(1)
                # As the page does: the answer's bases replace the old ones
                # (pbforms/merge.py), or the next save would find this
                # user's own last change made by "someone else".
                form.update(BASE_INPUT.findall(text))
                last_saved[report_id] = (form["reporter_name"], int(version.group(1)))
            except Exception as e:
                errors.append(f"user {i} save {saves}: {e!r}")
                browser.conn.close()

    def static_getter():
        browser = Browser(port)
        ready.wait()
        while time.time() < stop_at[0]:
            start = time.perf_counter()
            status, _ = browser.request("GET", "/static/app.css")
            baseline.append(time.perf_counter() - start)
            if status != 200:
                errors.append(f"static: HTTP {status}")
            time.sleep(0.25)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    threads.append(threading.Thread(target=static_getter))
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    return latencies, baseline, errors, last_saved


def lost_saves(last_saved, users):
    """Users whose last acknowledged save is not what the database holds."""
    lost = users - len(last_saved)
    with db.connection_context():
        for report_id, (name, version) in last_saved.items():
            stored = Report.get_by_id(report_id)
            if stored.data["reporter_name"] != name or stored.version != version:
                lost += 1
    return lost


def autosave_rows(label, latencies, baseline, errors, lost, seconds, users):
    if not latencies or not baseline:
        return [row(label, "failed", "", None, "", False, f"errors {len(errors)}: {errors[:3]}")]
    p50, p99 = median_ms(latencies), percentile(latencies, 99) * 1000
    base50, base99 = median_ms(baseline), percentile(baseline, 99) * 1000
    met = p50 <= 20 and p99 <= 150 and not errors and lost == 0
    note = f"{len(latencies)} saves by {users} users in {seconds} s; errors {len(errors)}; lost saves {lost}"
    if errors:
        note += f" (first: {errors[0]})"
    return [row(label, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", f"GET /static/app.css p50 {base50:.1f} ms, "
                f"p99 {base99:.1f} ms", p50 / base50, "p50 ≤ 20 ms, p99 ≤ 150 ms, 0 errors, 0 lost", met, note)]


def run_autosave(label, command, url, users, seconds, interval):
    """Start the server on `url`, put the load on it, stop it; the result row."""
    port = free_port()
    server = start_server([part.replace("PORT", str(port)) for part in command],
                          {"PBFORMS_DATABASE_URL": url, "PBFORMS_SECRET_KEY": "bench"}, port)
    try:
        latencies, baseline, errors, last_saved = autosave_load(port, users, seconds, interval)
    finally:
        stop_server(server)
    return autosave_rows(label, latencies, baseline, errors, lost_saves(last_saved, users), seconds, users)


def bench_autosave(folder, users, seconds, interval):
    path = folder / "autosave.sqlite3"
    fresh_sqlite(folder, path.name)
    with db.connection_context():
        populate(users, users=True)
    command = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", "PORT"]
    return run_autosave(f"3. autosave, {users} users every {interval:g} s (python app.py: waitress, SQLite)",
                        command, f"sqlite:///{path}", users, seconds, interval)


# --- 6. the same on PostgreSQL, 4 processes ---------------------------------------

def postgres_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def bench_autosave_postgres(folder, users, seconds, interval):
    """Benchmark 3 against `gunicorn -w 4` on a throwaway PostgreSQL cluster
    (default settings: fsync and synchronous commit on)."""
    bin_dir = postgres_bin()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if bin_dir is None or not gunicorn.exists():
        return [row("6. autosave on PostgreSQL, gunicorn -w 4", "not run", "", None, "as 3.", None,
                    "no PostgreSQL server programs" if bin_dir is None else "gunicorn not installed")]
    cluster = Path(tempfile.mkdtemp(prefix="pbforms-bench-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if os.getuid() == 0:
        shutil.chown(cluster, "postgres")
    pg_port = free_port()
    subprocess.run(as_postgres + [bin_dir / "initdb", "-D", cluster / "data", "-U", "postgres", "-A", "trust",
                                  "-E", "UTF8", "--no-locale"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(as_postgres + [bin_dir / "pg_ctl", "-D", cluster / "data", "-l", cluster / "server.log", "-w",
                                  "-o", f"-c listen_addresses=127.0.0.1 -p {pg_port} -k {cluster}", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        import psycopg2
        conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{pg_port}/postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE pbforms_bench")
        conn.close()
        url = f"postgresql://postgres@127.0.0.1:{pg_port}/pbforms_bench"
        open_app(url)
        with db.connection_context():
            populate(users, users=True)
        command = [str(gunicorn), "-w", "4", "-b", "127.0.0.1:PORT", "app:app"]
        return run_autosave(f"6. autosave, {users} users every {interval:g} s "
                            f"(gunicorn -w 4, PostgreSQL {bin_dir.parent.name})", command, url, users, seconds, interval)
    finally:
        if not db.is_closed():
            db.close()
        subprocess.run(as_postgres + [bin_dir / "pg_ctl", "-D", cluster / "data", "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(cluster, ignore_errors=True)


# --- 4. the progress board -----------------------------------------------------------

def bench_board(folder, units, runs):
    app = fresh_sqlite(folder, "board.sqlite3")
    with db.connection_context():
        round_ = populate(units)
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "admin",
                                       "password": PASSWORD}).status_code == 302

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    board_times, login_times = [], []
    for i in range(runs + 2):
        a, _ = timed(lambda: get(f"/township/rounds/{round_.id}"))
        b, _ = timed(lambda: get("/login"))
        if i >= 2:
            board_times.append(a)
            login_times.append(b)
    board_ms, login_ms = median_ms(board_times), median_ms(login_times)
    return [row(f"4. progress board, {units} units (test client, median of {runs})", f"{board_ms:.1f} ms",
                f"{login_ms:.1f} ms the login page", board_ms / login_ms, "≤ 100 ms", board_ms <= 100,
                "queries independent of units: tests/test_board_queries.py")]


# --- 7. a report's page preview (LibreOffice) ------------------------------------------

def bench_preview(folder, runs):
    """The 预览 page of one full report: fresh (the report just saved, so
    converted by the warm LibreOffice) and cached (unchanged, converted
    before). The first conversion starts the office and is left out."""
    from pbforms.documents import pdf as preview
    problem = preview.availability()
    if problem:
        return [row("7. page preview", "—", "—", None, "cached ≤ 50 ms, fresh ≤ 1 s", None,
                    f"not measured: {problem}")]
    app = fresh_sqlite(folder, "preview.sqlite3")
    app.config["PREVIEW_DIR"] = str(folder / "previews")
    with db.connection_context():
        populate(1)
        report_id = Report.select(Report.id).scalar()
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "admin",
                                       "password": PASSWORD}).status_code == 302

    def get():
        """The page, and the first page's image (what a reader sees first)."""
        response = client.get(f"/reports/{report_id}/preview")
        assert response.status_code == 200 and 'class="page"' in response.text, response.text[-2000:]
        first = re.search(r'<img class="page" src="([^"]+)"', response.text).group(1)
        image = client.get(first)
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")

    def touch(n):
        with db.connection_context():
            report = Report.get_by_id(report_id)
            report.save_data({**report.data, "reporter_name": f"王建华{n}"}, None, report.version)

    fresh, cached = [], []
    for i in range(runs + 1):
        touch(i)
        a, _ = timed(get)
        b, _ = timed(get)
        if i >= 1:
            fresh.append(a)
            cached.append(b)
    fresh_ms, cached_ms = median_ms(fresh), median_ms(cached)
    pages = len(list((folder / "previews").glob("*.pdf")))
    return [row(f"7a. page preview, cached: the page + its first page image (test client, median of {runs})",
                f"{cached_ms:.1f} ms", f"{fresh_ms:.0f} ms fresh", cached_ms / fresh_ms, "≤ 50 ms", cached_ms <= 50,
                ""),
            row(f"7b. page preview, fresh: render, LibreOffice to PDF, the page + pdftoppm of page 1 "
                f"(median of {runs})", f"{fresh_ms:.0f} ms", "—", None, "≤ 1 s", fresh_ms <= 1000,
                f"the report saved before each fresh request, so it is a new version; the warm office (its cold "
                f"start left out); the other pages' images are drawn on their own requests as the reader scrolls; "
                f"{pages} cached PDF kept (older versions removed)")]


# --- 8. the 汇编 of 300 reports beside their zip ------------------------------------------

def bench_volume(folder, units, repeats):
    """The .docx 汇编 of `units` reports (without LibreOffice's page numbers:
    the PDF step is not part of the target) against the zip of the same reports."""
    from pbforms.documents import pdf as preview
    fresh_sqlite(folder, "volume.sqlite3")
    with db.connection_context():
        round_ = populate(units)
    volume_times, zip_times = [], []
    saved = os.environ.get("PBFORMS_SOFFICE")
    os.environ["PBFORMS_SOFFICE"] = str(folder / "no-libreoffice")
    try:
        assert preview.availability() is not None
        for n in range(repeats):
            with db.connection_context():
                reports = exports.chosen_reports(round_, [])
                z, _ = timed(lambda: exports.write_zip(exports.one_by_one(reports), folder / f"z{n}.zip"))
                v, (count, _) = timed(lambda: exports.write_volume(round_, exports.one_by_one(reports),
                                                                   folder / f"v{n}.docx"))
            if count != units:
                raise SystemExit(f"汇编: {count} reports, not {units}")
            zip_times.append(z)
            volume_times.append(v)
    finally:
        if saved is None:
            os.environ.pop("PBFORMS_SOFFICE", None)
        else:
            os.environ["PBFORMS_SOFFICE"] = saved
    volume_s, zip_s = statistics.median(volume_times), statistics.median(zip_times)
    size = (folder / "v0.docx").stat().st_size / 1e6
    return [row(f"8. 汇编 of {units} reports, .docx (median of {repeats})", f"{volume_s:.2f} s",
                f"{zip_s:.2f} s the zip of the same {units}", volume_s / zip_s, "≤ 2×", volume_s / zip_s <= 2,
                f"one {size:.1f} MB document; without the PDF step; {exports.ZIP_WORKERS} worker processes")]


# --- 5. memory ---------------------------------------------------------------------

def memory_child(renders):
    """In a process of its own: VmRSS after 20 renders and after `renders`."""
    meta = {"year": 2022, "unit_name": "青泥村", "secretary_title": "党支部书记"}
    document = type_document(REPORT_TYPE, demo_data(meta), meta)
    for n in range(1, renders + 1):
        render(*document)
        if n in (20, renders):
            status = Path("/proc/self/status").read_text()
            print(n, re.search(r"VmRSS:\s+(\d+) kB", status).group(1), flush=True)


def bench_memory(renders):
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(renders)], capture_output=True,
                         text=True, check=True).stdout.split()
    after_20, after_n = int(out[1]), int(out[3])
    return [row(f"5. memory: VmRSS after {renders} renders", f"{after_n / 1024:.1f} MB",
                f"{after_20 / 1024:.1f} MB after 20", after_n / after_20, "≤ 1.5×", after_n / after_20 <= 1.5, "")]


# --- the results file ----------------------------------------------------------------

# --- 9. 述职评议: raters voting at the meeting -----------------------------------

RATED_UNITS = 20


def rating_load(port, codes, rated_ids, seconds):
    """A thread per rater: opens the entry page, then at its moment within
    `seconds` (spread evenly) sends the code, the ballot, and its
    confirmation, each timed; one more thread GETs a static file meanwhile
    as the baseline."""
    latencies, baseline, errors, submitted = [], [], [], []
    ready = threading.Barrier(len(codes) + 2)
    start_at = [0.0]

    def rater(i, code):
        browser = Browser(port)
        try:
            _, page = browser.request("GET", "/v")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        except Exception as e:
            errors.append(f"rater {i} setup: {e!r}")
            ready.wait()
            return
        ready.wait()
        time.sleep(max(0.0, start_at[0] + seconds * i / len(codes) - time.time()))
        ballot = {"csrf_token": token, "code": code, **{f"grade-{r}": str((i + r) % 4) for r in rated_ids}}
        steps = [({"csrf_token": token, "code": code}, "/v", "阅读述职报告"),
                 (ballot, "/v/vote", "确认提交"), ({**ballot, "step": "confirm"}, "/v/vote", "已提交")]
        for form, path, expected in steps:
            body = urlencode(form)
            try:
                started = time.perf_counter()
                status, text = browser.request("POST", path, body)
                latencies.append(time.perf_counter() - started)
            except Exception as e:
                errors.append(f"rater {i} {path}: {e!r}")
                return
            if status != 200 or expected not in text:
                errors.append(f"rater {i} {path}: HTTP {status}")
                return
        submitted.append(i)

    def static_getter():
        browser = Browser(port)
        ready.wait()
        while time.time() < start_at[0] + seconds:
            started = time.perf_counter()
            status, _ = browser.request("GET", "/static/app.css")
            baseline.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"static: HTTP {status}")
            time.sleep(0.25)

    threads = [threading.Thread(target=rater, args=(i, code)) for i, code in enumerate(codes)]
    threads.append(threading.Thread(target=static_getter))
    for t in threads:
        t.start()
    start_at[0] = time.time() + 0.5
    ready.wait()
    for t in threads:
        t.join()
    return latencies, baseline, errors, submitted


def bench_rating(folder, raters, seconds):
    """`raters` phones each casting a ballot on RATED_UNITS units within the
    same `seconds`, to one `python app.py` on SQLite; no ballot may be lost."""
    from pbforms.rating import logic
    from pbforms.rating.models import BallotCount, Rating
    path = folder / "rating.sqlite3"
    fresh_sqlite(folder, path.name)
    with db.connection_context():
        populate(RATED_UNITS)
        round_ = Round.get()
        rating = Rating.start(round_, None, "述职评议", [("党员代表", raters, 100)], list(Unit.select()),
                              logic.DEFAULT_RULES)
        codes = [code for _, code in rating.issue_codes()]
        rated_ids = [r.id for r in rating.rated_units()]
    port = free_port()
    server = start_server([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                          {"PBFORMS_DATABASE_URL": f"sqlite:///{path}", "PBFORMS_SECRET_KEY": "bench"}, port)
    try:
        latencies, baseline, errors, submitted = rating_load(port, codes, rated_ids, seconds)
    finally:
        stop_server(server)
    with db.connection_context():
        counted = sum(c.cast for c in BallotCount.select())
    lost = len(submitted) * len(rated_ids) - counted
    label = f"9. 述职评议: {raters} raters voting within {seconds} s (python app.py: waitress, SQLite)"
    if not latencies or not baseline:
        return [row(label, "failed", "", None, "", False, f"errors {len(errors)}: {errors[:3]}")]
    p50, p99 = median_ms(latencies), percentile(latencies, 99) * 1000
    base50, base99 = median_ms(baseline), percentile(baseline, 99) * 1000
    note = (f"{len(submitted)} ballots of {RATED_UNITS} units each ({len(latencies)} requests: code, ballot, "
            f"confirmation); errors {len(errors)}; ballots lost {lost}")
    if errors:
        note += f" (first: {errors[0]})"
    return [row(label, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                f"GET /static/app.css p50 {base50:.1f} ms, p99 {base99:.1f} ms", p50 / base50,
                "p99 ≤ 300 ms, 0 errors, 0 lost", p99 <= 300 and not errors and lost == 0, note)]


def row(name, measured, baseline, ratio, target, met, note):
    return {"name": name, "measured": measured, "baseline": baseline, "ratio": ratio, "target": target,
            "met": met, "note": note}


def machine():
    model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    return (f"{os.cpu_count()} CPUs, {model.group(1) if model else platform.processor()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def load_average():
    """The 1-minute load: whatever else runs on the machine slows every figure."""
    return Path("/proc/loadavg").read_text().split()[0]


def code_version():
    """The commit measured, marked when the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else commit


def write_results(rows, quick, chosen, started, load_at_start):
    which = "all benchmarks" if chosen == set(ALL) else "benchmarks " + ", ".join(sorted(chosen))
    lines = [f"\n## {started:%Y-%m-%d %H:%M} UTC — {which}{', quick' if quick else ''}\n",
             f"Code: {code_version()}. Machine: {machine()}; load average {load_at_start} at the start, "
             f"{load_average()} at the end\n",
             "| benchmark | measured | baseline (same run) | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        lines.append(f"| {r['name']} | {r['measured']} | {r['baseline']} | {ratio} | {r['target']} | {met} |")
    notes = [f"- {r['name'].split(' ')[0]} {r['note']}" for r in rows if r["note"]]
    lines += ["", *notes, ""]
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results (bench/run.py)\n\nEach run appends a section; ratios are "
                           "measured against the baseline in the same run.\n", encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


ALL = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="autosave 15 s, fewer renders")
    parser.add_argument("--only", default=",".join(ALL), help="which benchmarks, e.g. 1,3")
    parser.add_argument("--users", type=int, default=50, help="autosave (3 and 6): how many users")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="autosave (3 and 6): seconds between one user's saves")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)
    started, load_at_start = datetime.datetime.now(datetime.timezone.utc), load_average()
    seconds = 15 if args.quick else 60
    chosen = set(args.only.split(","))
    steps = [
        ("1", lambda f: bench_one_docx(f, 20 if args.quick else 50)),
        ("2", lambda f: bench_zip(f, 300, 1 if args.quick else 3)),
        ("3", lambda f: bench_autosave(f, args.users, seconds, args.interval)),
        ("4", lambda f: bench_board(f, 1000, 20)),
        ("5", lambda f: bench_memory(400 if args.quick else 2000)),
        ("6", lambda f: bench_autosave_postgres(f, args.users, seconds, args.interval)),
        ("7", lambda f: bench_preview(f, 5 if args.quick else 20)),
        ("8", lambda f: bench_volume(f, 300, 1 if args.quick else 3)),
        ("9", lambda f: bench_rating(f, 100, 30)),
    ]
    rows = []
    for key, step in steps:
        if key in chosen:
            print(f"benchmark {key} …", flush=True)
            with tempfile.TemporaryDirectory(prefix="pbforms-bench-") as folder:
                rows += step(Path(folder))
    write_results(rows, args.quick, chosen, started, load_at_start)


if __name__ == "__main__":
    main()
