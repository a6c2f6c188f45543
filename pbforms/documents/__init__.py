"""Form data -> official Word document: the one pipeline every download,
zip, preview and CLI export goes through.

A report's document is rendered from its type's template: the office's own
Word template when one was uploaded for the type's version (uploaded.py),
otherwise the official-format template generated from the type's
definition (official.py). The type turns stored data into a context of
sanitised strings and lists of paragraphs; the engine (engine.py) renders
it in a sandboxed, autoescaping environment that refuses undefined names,
with everything that depends only on the template done once.

For other modules:
    report_docx(report)          the .docx as bytes
    report_document(report)      (template bytes, context): all that needs the
                                 database, so another process can `render` it
    render(template, context)    template bytes (or a file name in templates/docx)
    render_parts(report)         {part name: bytes} of the rendered .docx
                                 (word/document.xml holds the body), for
                                 previews and the 汇编 of a round
    render_body(template, context)  the rendered <w:body> (an lxml element):
                                 a report's body to place in a larger document
    report_filename(report), content_disposition(filename)
"""
from functools import cache
from pathlib import Path, PurePath
from urllib.parse import quote

from . import engine
from .official import official_context, official_template
from .uploaded import template_of, uploaded_document

TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "templates" / "docx"


@cache
def template_file(name):
    return (TEMPLATE_DIR / name).read_bytes()


def _template_bytes(template):
    return template_file(template) if isinstance(template, str) else template


def render(template, context):
    """The .docx of `template` (bytes, or the name of a file in templates/docx) rendered with `context`."""
    return engine.render(_template_bytes(template), context)


def type_document(report_type, data, meta):
    """(template bytes, context) of a report of `report_type` holding `data`:
    with the office's template when one was uploaded for the type's version."""
    blob = template_of(report_type)
    if blob is not None:
        return uploaded_document(blob, report_type, data, meta)
    return official_template(report_type), official_context(report_type, data, meta)


def render_body(template, context):
    """The rendered <w:body> element of `template` with `context`: what the
    document's body is, paragraphs and tables and its w:sectPr last, as
    docxtpl puts it into the document (compiled once per template)."""
    return engine.render_body(_template_bytes(template), context)


def template_bytes(template):
    """A template's bytes: bytes as they are, a name read from templates/docx."""
    return _template_bytes(template)


def report_document(report):
    """The template and the context of the report's document: all that
    needs the database, so another process can render it (exports.write_zip)."""
    return type_document(report.report_type, report.data, report.meta)


def report_docx(report):
    """The report's .docx as bytes, whatever its status (empty figures print as **)."""
    return render(*report_document(report))


def render_parts(report):
    """{part name: bytes} of the report's rendered .docx, in package order.
    word/document.xml holds the body (its w:body's paragraphs, then the
    section properties); the other parts are the template's as saved."""
    template, context = report_document(report)
    return engine.render_parts(template, context)


def report_filename(report):
    return report.report_type.filename(report.meta)


def content_disposition(filename):
    """RFC 5987: an ASCII fallback plus the real UTF-8 name every browser uses."""
    return f"attachment; filename=\"report{PurePath(filename).suffix}\"; filename*=UTF-8''{quote(filename)}"
