"""The import path of the document pipeline before it became a package
(pbforms/documents/): modules written against `from .docx import …` keep
working. New code imports from pbforms.documents."""
from .documents import (content_disposition, render, render_body, render_parts, report_docx, report_document,
                        report_filename, template_bytes)
from .documents.engine import ENV as JINJA_ENV

__all__ = ["JINJA_ENV", "content_disposition", "render", "render_body", "render_parts", "report_docx",
           "report_document", "report_filename", "template_bytes"]
