"""The import path of the document pipeline before it became a package
(pbforms/documents/): modules written against `from .docx import …` keep
working. New code imports from pbforms.documents."""
from .documents import content_disposition, render, render_parts, report_docx, report_document, report_filename

__all__ = ["content_disposition", "render", "render_parts", "report_docx", "report_document", "report_filename"]
