"""Conversions of reports into pages, as jobs: no request waits on LibreOffice.

One office converts one file at a time, and a report can be made slow to
convert on purpose (a minute or more). Were requests to wait, a handful of
previews would hold every server thread and stall every other user. So a
request only asks (`ask`) and is answered at once: the pages are ready, the
conversion failed (and why), or it is waiting; the page then says 正在生成
and asks again by itself.

- One job per report version (the preview's key): asking again for a
  version under way joins its job.
- Failures are remembered: a document's own (too slow, refused) beside the
  cache (`<key>.failed`, the message), so a report that LibreOffice cannot
  convert costs one attempt per version, not one per request; any other
  (the office died under it) is told to the next request only, and the
  one after tries again.
- The queue is bounded (`QUEUE_LIMIT`), and fair: each user has at most
  `PER_USER` jobs waiting, and the worker takes the users' jobs in turn
  (whoever was served longest ago first).

The request only gathers the job's template and context (that needs the
database). The document is rendered by a process of its own (a huge
report takes a second of CPU, which in this process would hold up every
other request), then kept beside the cache, so a page showing the
document's paragraphs after a failure does not render it again.
"""
import ctypes
import itertools
import logging
import multiprocessing
import signal
import sys
import threading
from collections import deque, namedtuple
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import pdf, render
from .pdf import ConverterError, store_preview

log = logging.getLogger(__name__)

QUEUE_LIMIT = 32  # jobs waiting or under way, all users together
PER_USER = 2  # jobs one user may have waiting or under way

# What `ask` answers: state is ready (preview holds the pages), failed
# (message says why), waiting (ahead: jobs before it), or busy (the queue
# or the user's share is full: ask again later).
State = namedtuple("State", "state preview message ahead")

BUSY = "现在排队生成页面的报告较多，稍后会自动再试。"


# fork on Linux: the renderer starts at once, with the app already imported.
RENDERER_START = multiprocessing.get_context("fork") if sys.platform == "linux" else None


def die_with_parent():
    """Linux: the kernel ends this process when the app's process ends, even
    by SIGKILL (prctl PR_SET_PDEATHSIG), so no renderer outlives the app."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Job:
    def __init__(self, preview, owner, document):
        self.preview, self.owner, self.document = preview, owner, document  # document: (template, context)


class Conversions:
    """The queue and its one worker thread (started when first needed)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.more = threading.Condition(self.lock)
        self.jobs = {}  # preview (its pdf path) -> Job, waiting or under way
        self.to_tell = {}  # preview (its pdf path) -> the message of a failure that was not the document's
        self.waiting = {}  # owner -> deque of their Jobs, owners in the order they came
        self.served = {}  # owner -> the turn their last job was taken in
        self.turns = itertools.count()
        self.worker = None
        self.renderer = None  # a process pool of one, started with the first job

    def ask(self, preview, owner, document, polling=False):
        """The state of `preview`, a new job when there is none. `document`
        (a callable giving the template and the context, as
        documents.report_document does) is called only when a job is made.
        A failure that was not the document's is told once, to a request
        that is not `polling` (a page's box asking whether to reload)."""
        if preview.ready:
            return State("ready", preview, "", 0)
        failure = preview.failure
        if failure is not None:
            return State("failed", preview, failure, 0)
        with self.lock:
            if preview.pdf in self.to_tell:
                message = self.to_tell[preview.pdf] if polling else self.to_tell.pop(preview.pdf)
                return State("failed", preview, message, 0)
            if preview.pdf in self.jobs:
                return State("waiting", preview, "", self._ahead())
            if len(self.jobs) >= QUEUE_LIMIT or sum(j.owner == owner for j in self.jobs.values()) >= PER_USER:
                return State("busy", preview, BUSY, len(self.jobs))
        template_and_context = document()  # outside the lock: it reads the database
        with self.lock:
            if preview.pdf not in self.jobs:
                job = Job(preview, owner, template_and_context)
                self.jobs[preview.pdf] = job
                self.waiting.setdefault(owner, deque()).append(job)
                self._start_worker()
                self.more.notify()
            return State("waiting", preview, "", self._ahead())

    def _ahead(self):
        """Jobs before a waiting one, roughly: all the others waiting or under way."""
        return len(self.jobs) - 1

    def _start_worker(self):
        if self.worker is None or not self.worker.is_alive():
            self.worker = threading.Thread(target=self._work, name="pbforms-conversions", daemon=True)
            self.worker.start()

    def _next(self):
        with self.lock:
            while not self.waiting:
                self.more.wait()
            # The owner served longest ago (or never) goes first.
            owner = min(self.waiting, key=lambda o: self.served.get(o, -1))
            job = self.waiting[owner].popleft()
            if not self.waiting[owner]:
                del self.waiting[owner]
            self.served[owner] = next(self.turns)
            return job

    def _work(self):
        while True:
            job = self._next()
            try:
                docx = self._render(*job.document)
                job.preview.keep_docx(docx)
                store_preview(job.preview, pdf.docx_to_pdf(docx))
            except ConverterError as e:
                if e.of_document:
                    job.preview.remember_failure(str(e))
                else:
                    self._tell(job, str(e))
            except Exception as e:  # the job must end, and say so, whatever went wrong
                log.exception("conversion of %s failed", job.preview.key)
                self._tell(job, f"生成页面时出错（{e.__class__.__name__}），请重试。")
            finally:
                with self.lock:
                    self.jobs.pop(job.preview.pdf, None)

    def _render(self, template, context):
        if self.renderer is None:
            self.renderer = ProcessPoolExecutor(1, mp_context=RENDERER_START, initializer=die_with_parent)
        try:
            return self.renderer.submit(render, template, context).result()
        except BrokenProcessPool:  # the process died (memory): the next job starts another
            self.renderer = None
            raise

    def _tell(self, job, message):
        with self.lock:
            self.to_tell[job.preview.pdf] = message


_conversions = Conversions()


def conversions():
    """This process's queue."""
    return _conversions
