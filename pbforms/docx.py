"""Form data -> official Word document: the one pipeline every download,
zip and CLI export goes through.

The report type turns stored data into a context of sanitised strings and
lists of paragraphs (each list item becomes its own Word paragraph through
a `{%p for %}` loop in the template). docxtpl renders it with a sandboxed,
autoescaping environment that refuses undefined names, so text typed by a
user is always data, never template code. A DocxTemplate is not thread-safe
and is consumed by rendering, so each render gets a new one; what depends
only on the template is kept: its bytes, and the Jinja templates compiled
from its parts (a third of a render's time).
"""
import gc
import io
from functools import cache, lru_cache
from pathlib import Path, PurePath
from urllib.parse import quote

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "docx"


@cache
def template_bytes(name):
    return (TEMPLATE_DIR / name).read_bytes()


class CompilingOnce(SandboxedEnvironment):
    """docxtpl hands `from_string` the same source for a template's part on
    every render (the part's XML, made Jinja-ready): compile it once. The
    compiled template renders exactly as a fresh one, and Jinja templates
    may be rendered by several threads at once."""

    def __init__(self):
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self.compiled = lru_cache(maxsize=64)(super().from_string)

    def from_string(self, source, globals=None, template_class=None):
        if globals is None and template_class is None:
            return self.compiled(source)
        return super().from_string(source, globals, template_class)


JINJA_ENV = CompilingOnce()


def render(template_name, context):
    doc = DocxTemplate(io.BytesIO(template_bytes(template_name)))
    doc.render(context, jinja_env=JINJA_ENV, autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    # A document's parts refer to each other, so only the cycle collector
    # frees them, and their XML trees (memory outside Python's count) do
    # not prompt it: the process would grow by documents awaiting a full
    # collection. Collecting the young generations here costs ~2 ms.
    del doc
    gc.collect(1)
    return out.getvalue()


def report_docx(report):
    """The report's .docx as bytes, whatever its status (empty figures print as **)."""
    return render(*report_document(report))


def report_document(report):
    """The template's name and the context of the report's document: all
    that needs the database, so another process can render it (exports.write_zip)."""
    report_type = report.report_type
    return report_type.template, report_type.docx_context(report.data, report.meta)


def report_filename(report):
    return report.report_type.filename(report.meta)


def content_disposition(filename):
    """RFC 5987: an ASCII fallback plus the real UTF-8 name every browser uses."""
    return f"attachment; filename=\"report{PurePath(filename).suffix}\"; filename*=UTF-8''{quote(filename)}"
