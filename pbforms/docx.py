"""Form data -> official Word document: the one pipeline every download,
zip and CLI export goes through.

The report type turns stored data into a context of sanitised strings and
lists of paragraphs (each list item becomes its own Word paragraph through
a `{%p for %}` loop in the template). docxtpl renders it with a sandboxed,
autoescaping environment that refuses undefined names, so text typed by a
user is always data, never template code. A DocxTemplate is not thread-safe
and is consumed by rendering, so each render gets a new one; only the
template's bytes are cached.
"""
import io
from functools import cache
from pathlib import Path, PurePath
from urllib.parse import quote

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .forms import get_report_type

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "docx"


@cache
def template_bytes(name):
    return (TEMPLATE_DIR / name).read_bytes()


def jinja_env():
    return SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def render(template_name, context):
    doc = DocxTemplate(io.BytesIO(template_bytes(template_name)))
    doc.render(context, jinja_env=jinja_env(), autoescape=True)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def report_docx(report):
    """The report's .docx as bytes, whatever its status (empty figures print as **)."""
    report_type = get_report_type(report.round.report_type)
    context = report_type.docx_context(report.data, report.meta)
    return render(report_type.template, context)


def report_filename(report):
    return get_report_type(report.round.report_type).filename(report.meta)


def content_disposition(filename):
    """RFC 5987: an ASCII fallback plus the real UTF-8 name every browser uses."""
    return f"attachment; filename=\"report{PurePath(filename).suffix}\"; filename*=UTF-8''{quote(filename)}"
