"""The printed page: a document converted by LibreOffice, where installed.

LibreOffice is optional. Where it is (Debian's libreoffice-writer-nogui, or
its install folder on Windows, named by PBFORMS_SOFFICE), the app keeps ONE
warm office per app process: soffice listening on a named pipe, driven by a
small bridge script (uno_bridge.py) that runs under the Python holding
LibreOffice's `uno` module (the app's own venv cannot import it). A cold
soffice takes 1–3 s per file; the warm one converts a report in a fraction
of that.

The converter is supervised here: started on first use, one conversion at a
time (a lock), a timeout per conversion after which both processes are
killed, a restart when either has died, and a restart after
`RESTART_AFTER` conversions so the office's memory stays bounded.

Page images come from poppler's `pdftoppm`, one page per call, from the PDF
LibreOffice wrote: LibreOffice's own PNG export writes only the first page
of a text document, and pdftoppm renders a page in tens of milliseconds.
PDFs and images are cached by (report id, version) in the preview folder,
so an unchanged report is converted once.
"""
import atexit
import hashlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BRIDGE = HERE / "uno_bridge.py"
FONTS_CONF = HERE / "fonts" / "fonts.conf"

START_SECONDS = 60  # a cold office on a busy machine
CONVERT_SECONDS = 60  # one conversion; a 300-report 汇编 takes tens of seconds
# Print the blank pages Word inserts before an odd-page section too: the PDF
# is printed double-sided, and its page N is then the page numbered N.
PDF_OPTIONS = {"IsSkipEmptyPages": False}
RESTART_AFTER = 200  # conversions per office process, so its memory stays bounded

MISSING = ("需要 LibreOffice，本机未找到（Debian：apt-get install libreoffice-writer-nogui；"
           "Windows：安装 LibreOffice 后，用环境变量 PBFORMS_SOFFICE 指明其安装文件夹）。")
NO_CJK_FONT = ("本机没有中文字体，LibreOffice 排出的页面会是一个个方框，因此不用它"
               "（Debian：apt-get install fonts-noto-cjk fonts-arphic-uming fonts-arphic-ukai）。")
NO_PDFTOPPM = "显示页面图像还需要 poppler 的 pdftoppm（Debian：apt-get install poppler-utils）；可先下载 PDF 查看。"


class ConverterError(Exception):
    """A conversion that did not happen; the message is for the user (Chinese).
    `of_document`: the document itself is the cause (too slow, refused), so
    converting it again would fail again."""

    def __init__(self, message, of_document=False):
        super().__init__(message)
        self.of_document = of_document


# --- finding what is installed ----------------------------------------------------

def soffice_path():
    """PBFORMS_SOFFICE (the program, or LibreOffice's install folder) when
    set — then only that — otherwise soffice/libreoffice on PATH."""
    named = os.environ.get("PBFORMS_SOFFICE", "").strip()
    if named:
        path = Path(named)
        candidates = [path] if path.is_file() else [path / "program" / "soffice.exe", path / "program" / "soffice",
                                                     path / "soffice.exe", path / "soffice"]
        return next((str(p) for p in candidates if p.is_file()), None)
    return shutil.which("soffice") or shutil.which("libreoffice")


@lru_cache(maxsize=8)
def uno_python(soffice):
    """A Python that can `import uno`: LibreOffice's own (Windows, macOS),
    PBFORMS_UNO_PYTHON, this interpreter, or the system python3 (Debian's
    python3-uno). None when there is none."""
    program = Path(os.path.realpath(soffice)).parent
    candidates = [os.environ.get("PBFORMS_UNO_PYTHON"), program / "python.exe", program / "python",
                  sys.executable, shutil.which("python3", path="/usr/bin:/bin"), shutil.which("python3")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            try:
                subprocess.run([str(candidate), "-c", "import uno"], check=True, capture_output=True, timeout=30)
                return str(candidate)
            except (OSError, subprocess.SubprocessError):
                continue
    return None


def pdftoppm_path():
    return shutil.which("pdftoppm")


@lru_cache(maxsize=1)
def cjk_font_present():
    """Whether fontconfig knows any Chinese font (Linux). Windows always has
    some; without fontconfig there is nothing to ask, so assume yes."""
    fc_list = shutil.which("fc-list")
    if sys.platform == "win32" or not fc_list:
        return True
    try:
        found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(found.strip())


def availability():
    """None when page images can be shown, else the Chinese sentence why not."""
    soffice = soffice_path()
    if soffice is None:
        return MISSING
    if uno_python(soffice) is None:
        return "需要 LibreOffice 的 Python 接口，本机的 LibreOffice 缺少它（Debian：apt-get install python3-uno）。"
    if not cjk_font_present():
        return NO_CJK_FONT
    return None


# Nothing outside the document is ever loaded: a template may link an image
# by URL (http://…/ext-image.png), and LibreOffice would fetch it on every
# conversion. The office's own settings send every internet request to a
# proxy at a closed port (127.0.0.1:1), and so do the environment's, which
# the office's download library also reads.
NO_NETWORK = "127.0.0.1:1"
OFFICE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
""" + "".join(
    f'<item oor:path="/org.openoffice.Inet/Settings"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value>'
    "</prop></item>\n"
    for name, value in [("ooInetProxyType", 1), ("ooInetNoProxy", "")] + [
        (f"ooInet{scheme}Proxy{what}", value) for scheme in ("HTTP", "HTTPS", "FTP")
        for what, value in zip(("Name", "Port"), NO_NETWORK.split(":"))]) + "</oor:items>\n"


def office_env(temp):
    """The office's environment: the font aliases on Linux, no display, its
    temporary files in `temp`, and every internet request to a closed port."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env["TMPDIR"] = env["TMP"] = env["TEMP"] = str(temp)
    if sys.platform.startswith("linux"):
        env["FONTCONFIG_FILE"] = str(FONTS_CONF)
    env.pop("DISPLAY", None)
    env["SAL_USE_VCLPLUGIN"] = "svp"
    for name in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy"):
        env[name] = env[name.upper()] = f"http://{NO_NETWORK}"
    return env


# --- the warm converter ---------------------------------------------------------

class Converter:
    """One soffice plus its bridge, restarted as needed. Thread-safe: one conversion at a time."""

    def __init__(self, soffice):
        self.soffice = soffice
        self.lock = threading.RLock()
        self.office = self.bridge = None
        self.answers = None
        self.folder = None  # the office's profile and the files under conversion
        self.conversions = 0
        self.busy = False  # a conversion has been handed to the office (tests kill it then)

    # life cycle

    def running(self):
        """Both alive. The launcher's own exit is not the office's: on
        Linux the launcher waits on soffice.bin, which the bridge talks to."""
        return (self.office is not None and self.office.poll() is None
                and self.bridge is not None and self.bridge.poll() is None)

    def start(self):
        self.stop()
        # One folder holds the office's profile and the files it converts:
        # stop() removes it, and so does the bridge should this process die.
        self.folder = Path(tempfile.mkdtemp(prefix="pbforms-office-"))
        profile = self.folder / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(OFFICE_SETTINGS, encoding="utf-8")
        (self.folder / "work").mkdir()
        (self.folder / "temp").mkdir()
        env = office_env(self.folder / "temp")
        pipe = f"pbforms_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        python = uno_python(self.soffice)
        if python is None:
            raise ConverterError(availability() or MISSING)
        popen = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                 "env": env}
        if sys.platform == "win32":
            popen["creationflags"] = subprocess.CREATE_NO_WINDOW
        else:
            # soffice is a launcher that starts soffice.bin as its child: a
            # session of their own lets stop() (or the bridge) end both at once.
            popen["start_new_session"] = True
        self.office = subprocess.Popen(
            [self.soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible",
             "--nologo", "--norestore", "--nodefault", "--nolockcheck",
             f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"], **popen)
        self.bridge = subprocess.Popen(
            [python, str(BRIDGE), pipe, str(START_SECONDS), str(self.office.pid), str(self.folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
            env=env, **({"creationflags": subprocess.CREATE_NO_WINDOW} if sys.platform == "win32" else {}))
        self.answers = queue.Queue()
        threading.Thread(target=self._read_answers, args=(self.bridge, self.answers), daemon=True).start()
        self.conversions = 0
        ready = self._answer(START_SECONDS + 5)
        if not ready or not ready.get("ready"):
            self.stop()
            raise ConverterError("LibreOffice 未能启动，请稍后重试。")

    @staticmethod
    def _read_answers(bridge, answers):
        for line in bridge.stdout:
            try:
                answers.put(json.loads(line))
            except ValueError:
                continue
        answers.put(None)  # the bridge ended

    def _answer(self, seconds):
        try:
            return self.answers.get(timeout=seconds)
        except queue.Empty:
            return None

    def stop(self):
        if self.office is not None:
            kill_tree(self.office)
        for process in (self.bridge, self.office):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        self.office = self.bridge = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # work

    def convert_bytes(self, docx_bytes, seconds=CONVERT_SECONDS):
        """PDF bytes of a .docx. Its files are in the office's folder, so
        they go with the office whatever happens to this process."""
        with self.lock:
            if not self.running() or self.conversions >= RESTART_AFTER:
                self.start()
            work = self.folder / "work" / uuid.uuid4().hex
            work.mkdir()
            try:
                (work / "document.docx").write_bytes(docx_bytes)
                self.convert(work / "document.docx", work / "document.pdf", seconds=seconds)
                return (work / "document.pdf").read_bytes()
            finally:
                shutil.rmtree(work, ignore_errors=True)

    def convert(self, source, target, filter_name="writer_pdf_Export", seconds=CONVERT_SECONDS, filter_data=PDF_OPTIONS):
        """Convert the file `source` into `target`; raises ConverterError."""
        with self.lock:  # reentrant: convert_bytes holds it already
            if not self.running() or self.conversions >= RESTART_AFTER:
                self.start()
            self.conversions += 1
            try:
                self.bridge.stdin.write(json.dumps({"source": str(source), "target": str(target),
                                                    "filter": filter_name, "filter_data": filter_data}) + "\n")
                self.bridge.stdin.flush()
            except OSError:
                self.stop()
                raise ConverterError("LibreOffice 意外退出，已重新启动，请重试。") from None
            self.busy = True
            try:
                answer = self._answer(seconds)
            finally:
                self.busy = False
            if answer is None:  # timed out, or the bridge died with the office
                timed_out = self.running()
                self.stop()
                if timed_out:
                    raise ConverterError(f"LibreOffice 转换超过 {seconds:.0f} 秒未完成，已停止（文字过长或格式特殊）。",
                                         of_document=True)
                raise ConverterError("LibreOffice 在转换时意外退出，已重新启动，请重试。")
            if not answer.get("ok"):
                log.warning("conversion of %s failed: %s", source, answer.get("error"))
                if not self.running():
                    self.stop()
                    raise ConverterError("LibreOffice 在转换时意外退出，已重新启动，请重试。")
                raise ConverterError("LibreOffice 无法转换此文件。", of_document=True)
            if not Path(target).is_file():
                raise ConverterError("LibreOffice 没有写出文件，请重试。")


def kill_tree(process):
    """End the office launcher and the office it started (soffice.bin), even
    when the launcher itself has already gone."""
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True)
        return
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


_converters = {}
_converters_lock = threading.Lock()


def converter():
    """The warm converter of this process; ConverterError when LibreOffice is missing."""
    problem = availability()
    if problem:
        raise ConverterError(problem)
    soffice = soffice_path()
    with _converters_lock:
        if soffice not in _converters:
            _converters[soffice] = Converter(soffice)
        return _converters[soffice]


@atexit.register
def _stop_converters():
    for c in list(_converters.values()):
        c.stop()


def exit_on_sigterm():
    """SIGTERM (systemd stopping the service, `kill`) ends the process as
    Ctrl+C does, through SystemExit and atexit, so the converters stop and
    their folders go; by default it would end the process on the spot and
    leave LibreOffice running. (Its death by SIGKILL the bridge notices.)"""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def warm_up():
    """Start the office in the background, where LibreOffice is installed,
    so the first preview does not wait the seconds a cold start takes."""
    if availability() is not None:
        return

    def start():
        office = converter()
        with office.lock:
            if not office.running():
                try:
                    office.start()
                except ConverterError:
                    log.warning("LibreOffice did not start; the next conversion tries again")

    threading.Thread(target=start, name="pbforms-office-warm-up", daemon=True).start()


def docx_to_pdf(docx_bytes, seconds=CONVERT_SECONDS):
    """PDF bytes of a .docx, through the warm converter."""
    return converter().convert_bytes(docx_bytes, seconds)


PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def pdf_page_count(pdf_bytes):
    """Pages of a PDF LibreOffice wrote: its page objects are plain dictionaries."""
    return len(PAGE_OBJECT.findall(pdf_bytes))


def pdf_text_pages(pdf_path):
    """The text of each page (pdftotext -layout), or None without poppler."""
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        return None
    out = subprocess.run([pdftotext, "-layout", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True,
                         timeout=120, check=True).stdout.decode("utf-8")
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


# --- a report's preview, cached ---------------------------------------------------

class Preview:
    """A report's converted pages in the cache: `pdf` path and page count,
    or the reason it could not be converted."""

    def __init__(self, folder, key):
        self.folder, self.key = Path(folder), key
        self.pdf = self.folder / f"{key}.pdf"
        self.count_file = self.folder / f"{key}.pages"
        self.failure_file = self.folder / f"{key}.failed"
        self.docx = self.folder / f"{key}.docx"  # the document converted: the HTML fallback reads it

    @property
    def ready(self):
        return self.pdf.is_file() and self.count_file.is_file()

    @property
    def pages(self):
        return int(self.count_file.read_text())

    def keep_docx(self, docx_bytes):
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.docx.with_name(self.docx.name + f".{uuid.uuid4().hex[:8]}.part")
        part.write_bytes(docx_bytes)
        part.replace(self.docx)

    @property
    def failure(self):
        """Why this version could not be converted, or None."""
        try:
            return self.failure_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def remember_failure(self, message):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.failure_file.write_text(message, encoding="utf-8")
        self.remove_other_versions()

    def image(self, page):
        return self.folder / f"{self.key}-{page}.png"

    def remove_other_versions(self):
        """The files of this report's other versions: only the newest is asked for."""
        report = self.key.split("-", 1)[0] + "-"
        for old in self.folder.glob(report + "*"):
            if not old.name.startswith((self.key + ".", self.key + "-")):
                old.unlink(missing_ok=True)


def report_key(report):
    """Report id and version, plus a digest of what else shapes the pages:
    the type version it follows (a report never saved since its round moved
    to a new version keeps its own version number), when it was saved, the
    unit's name and title, the round's year. A database restored or
    replaced under the same instance folder never meets another report's
    pages under the same id and version."""
    shaped_by = repr((report.round_id, report.unit_id, report.type_version_id, str(report.updated_at),
                      sorted(report.meta.items())))
    return f"report{report.id}-v{report.version}-{hashlib.sha1(shaped_by.encode()).hexdigest()[:10]}"


def report_preview(report, folder):
    """The report's preview in the cache, converted or not (see conversions.py)."""
    return Preview(folder, report_key(report))


def store_preview(preview, pdf):
    """Keep a conversion's PDF as the preview's, each file whole or not at all."""
    preview.folder.mkdir(parents=True, exist_ok=True)
    part = preview.pdf.with_name(preview.pdf.name + f".{uuid.uuid4().hex[:8]}.part")
    part.write_bytes(pdf)
    part.replace(preview.pdf)
    count = preview.count_file.with_name(preview.count_file.name + f".{uuid.uuid4().hex[:8]}.part")
    count.write_text(str(pdf_page_count(pdf)))
    count.replace(preview.count_file)
    preview.remove_other_versions()


def page_image(preview, page, dpi=96):
    """The PNG of one page (1-based), rendered by pdftoppm once."""
    image = preview.image(page)
    if image.is_file():
        return image
    pdftoppm = pdftoppm_path()
    if pdftoppm is None:
        raise ConverterError(NO_PDFTOPPM)
    stem = image.with_name(image.stem + f".{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run([pdftoppm, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                        str(preview.pdf), str(stem)], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        raise ConverterError("页面图像生成失败，请下载 PDF 查看。") from None
    stem.with_name(stem.name + ".png").replace(image)
    return image


# --- without LibreOffice: the document's own paragraphs as HTML ------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
FONT_CLASSES = {"方正小标宋简体": "title", "黑体": "hei", "楷体_GB2312": "kai", "楷体": "kai", "宋体": "song"}


def _style_looks(styles_xml):
    """styleId -> (alignment, font class, big, first-line indent, right indent),
    following basedOn, from the document's own styles."""
    from lxml import etree
    root = etree.fromstring(styles_xml)
    raw = {}
    for style in root.iter(W + "style"):
        ppr, rpr = style.find(W + "pPr"), style.find(W + "rPr")
        based = style.find(W + "basedOn")
        jc = ppr.find(W + "jc") if ppr is not None else None
        ind = ppr.find(W + "ind") if ppr is not None else None
        fonts = rpr.find(W + "rFonts") if rpr is not None else None
        size = rpr.find(W + "sz") if rpr is not None else None
        raw[style.get(W + "styleId")] = {
            "based": based.get(W + "val") if based is not None else None,
            "jc": jc.get(W + "val") if jc is not None else None,
            "font": fonts.get(W + "eastAsia") if fonts is not None else None,
            "size": int(size.get(W + "val")) if size is not None else None,
            "first": ind is not None and bool(ind.get(W + "firstLineChars") or ind.get(W + "firstLine")),
            "right": ind is not None and bool(ind.get(W + "rightChars") or ind.get(W + "right")),
        }

    def look(style_id, key, depth=0):
        style = raw.get(style_id)
        if style is None or depth > 20:
            return None
        value = style[key]
        return value if value not in (None, False) else look(style["based"], key, depth + 1)

    return {sid: {key: look(sid, key) for key in ("jc", "font", "size", "first", "right")} for sid in raw}


@lru_cache(maxsize=8)
def kept_document_blocks(path):
    """document_blocks of a document kept in the preview cache, read once:
    the file under a version's key never changes."""
    return document_blocks(Path(path).read_bytes())


def document_blocks(docx_bytes):
    """The rendered document's paragraphs, in order, as (css classes, text):
    what the HTML preview shows where LibreOffice is missing. Read from the
    .docx itself, so the preview has exactly the document's paragraphs (title
    lines, name line, headings, body, signature) whatever the type's template,
    and no field labels."""
    import io
    import zipfile
    from lxml import etree
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as package:
        body = etree.fromstring(package.read("word/document.xml")).find(W + "body")
        looks = _style_looks(package.read("word/styles.xml"))
    blocks = []
    for p in body.iter(W + "p"):
        style = p.find(f"{W}pPr/{W}pStyle")
        look = looks.get(style.get(W + "val") if style is not None else "Normal", {})
        jc = p.find(f"{W}pPr/{W}jc")
        align = jc.get(W + "val") if jc is not None else look.get("jc")
        text = "".join((el.text or "") if el.tag == W + "t" else "　" for el in p.iter(W + "t", W + "tab"))
        classes = ["doc-p", f"doc-align-{align or 'both'}"]
        if look.get("font") in FONT_CLASSES:
            classes.append(f"doc-font-{FONT_CLASSES[look['font']]}")
        if (look.get("size") or 32) > 32:
            classes.append("doc-big")
        if look.get("first"):
            classes.append("doc-indent")
        if look.get("right"):
            classes.append("doc-indent-right")
        if not text.strip():
            classes.append("doc-blank")
        blocks.append((" ".join(classes), text))
    return blocks
