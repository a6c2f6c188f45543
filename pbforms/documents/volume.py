"""The 汇编 of a round: one Word document holding the chosen reports, bound
for the 述职评议 meeting: a cover, a 目录, then every report, each starting
on an odd page, with one run of page numbers through the whole volume.

It is ONE generated document, not files merged afterwards (merging tools
drop section settings and footers). Each report's body is rendered by its
own type's template exactly as its single download is — the same Jinja
source, the same context — and placed, in the board's unit order, into the
volume's body as a section of its own: the section starts on an odd page
(`w:type oddPage`; Word, WPS and LibreOffice then insert a blank page where
needed) and carries the official page settings and footers. The volume
keeps the first report's template for everything else (styles, footers,
settings), so all reports share one official style set.

The 目录 is a real TOC field (`TOC \\f \\h`, entries from a TC field in each
report's title), whose shown result lists every title with its page.
Those page numbers are computed with LibreOffice where installed: the
volume is converted to PDF, each title looked up page by page (pdftotext),
and the numbers written into the field's shown result, so Word and WPS show
them right without updating fields. Without LibreOffice the field is marked
dirty and the settings ask Word to update fields when the file opens.
"""
import io
import re
import zipfile
from collections import deque, namedtuple
from concurrent.futures import ProcessPoolExecutor
from xml.sax.saxutils import escape

from lxml import etree

from ..forms import clean_text
from . import render_body, report_document, template_bytes

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = "{%s}" % W_NS

# A rendered report, as the volume needs it: its title (for the 目录), the
# first line of the title (to find its page), the template it came from
# (bytes), and its body's XML (paragraphs and tables; its last paragraph
# marks where its section's properties go).
Part = namedtuple("Part", "title first_line template body")

PLACEHOLDER = "999"  # page numbers while LibreOffice lays the volume out: the widest there will be


# --- one report's body --------------------------------------------------------------

def report_part(template, context, title, number):
    """A report as a section of the volume: its body, rendered as its single
    download is (documents.render_body), with a bookmark and a TC entry on
    its first paragraph and a mark for its section's properties on its
    last. Runs in a worker process; returns the body's XML."""
    body = render_body(template, context)
    sect = body.find(W + "sectPr")
    if sect is not None:
        body.remove(sect)
    children = list(body)
    first = next((p for p in children if p.tag == W + "p" and "".join(p.itertext()).strip()), None)
    if first is None:
        first = etree.SubElement(body, W + "p")
        children = list(body)
    mark_title(first, title, number)
    last = children[-1]
    if last.tag != W + "p":
        last = etree.SubElement(body, W + "p")
    put_section_mark(last)
    xml = "".join(etree.tostring(child, encoding="unicode") for child in body)
    return strip_namespace_declarations(xml)


def strip_namespace_declarations(xml):
    """lxml repeats the namespace declarations on every top element it
    serialises alone; the volume's root declares them once."""
    return re.sub(r' xmlns:\w+="[^"]*"', "", xml)


def mark_title(paragraph, title, number):
    """A bookmark the 目录 links to, and the TC field it is built from."""
    name = bookmark(number)
    ppr = paragraph.find(W + "pPr")
    at = 1 if ppr is not None else 0
    tc = etree.fromstring(
        f'<w:wrap xmlns:w="{W_NS}"><w:bookmarkStart w:id="{number}" w:name="{name}"/>'
        f'<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> TC "{escape(field_text(title))}" \\l 1 </w:instrText></w:r>'
        f'<w:r><w:fldChar w:fldCharType="end"/></w:r><w:bookmarkEnd w:id="{number}"/></w:wrap>')
    for i, element in enumerate(list(tc)):
        paragraph.insert(at + i, element)


def field_text(text):
    """Text inside a field's quotes cannot hold a quote."""
    return text.replace('"', "”").replace("\\", "＼")


def bookmark(number):
    return f"_Toc_pbforms_{number}"


def section_xml(template_sect, start):
    """The template's section properties (page, margins, grid, footers),
    starting as `start` says (nextPage, oddPage)."""
    if template_sect is None:
        raise ValueError("template has no section properties")
    sect = etree.fromstring(etree.tostring(template_sect))
    for old in sect.findall(W + "type"):
        sect.remove(old)
    kind = etree.Element(W + "type")
    kind.set(W + "val", start)
    # w:type follows the header/footer references and footnote/endnote settings.
    after = [c for c in sect if c.tag in (W + "headerReference", W + "footerReference", W + "footnotePr",
                                          W + "endnotePr")]
    (after[-1].addnext if after else (lambda e: sect.insert(0, e)))(kind)
    return sect


SECTION_MARK = "<!--pbforms:section-->"


def put_section_mark(paragraph):
    """Where the section's properties go in its last paragraph (w:pPr/w:sectPr,
    after any w:rPr): known only when the volume is put together, since the
    volume's last section keeps its properties at the body's end instead."""
    ppr = paragraph.find(W + "pPr")
    if ppr is None:
        ppr = etree.Element(W + "pPr")
        paragraph.insert(0, ppr)
    for old in ppr.findall(W + "sectPr"):
        ppr.remove(old)
    mark = etree.Comment("pbforms:section")
    change = ppr.find(W + "pPrChange")
    if change is not None:
        change.addprevious(mark)
    else:
        ppr.append(mark)


# --- the volume -------------------------------------------------------------------

VOLUME_STYLES = """
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeCoverTitle"><w:name w:val="汇编封面标题"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:snapToGrid w:val="0"/><w:spacing w:line="800" w:lineRule="exact"/><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="方正小标宋简体"/><w:sz w:val="52"/><w:szCs w:val="52"/></w:rPr></w:style>
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeCoverLine"><w:name w:val="汇编封面文字"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="楷体_GB2312"/></w:rPr></w:style>
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeTocHeading"><w:name w:val="汇编目录标题"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:snapToGrid w:val="0"/><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="黑体"/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC1"><w:name w:val="toc 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:uiPriority w:val="39"/><w:pPr><w:tabs><w:tab w:val="right" w:leader="dot" w:pos="8845"/></w:tabs><w:ind w:left="0" w:right="560" w:hanging="0"/><w:jc w:val="left"/></w:pPr></w:style>
"""


def cover_xml(title, township, date_text):
    """The cover: the volume's title high on the page, the township and the date lower down."""
    def p(style, text=""):
        run = f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>' if text else ""
        return f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>{run}</w:p>'

    blank = "<w:p/>"
    # "2022年度抓基层党建工作述职" + "报告汇编", not "述职述职报告汇编"
    second = "报告汇编" if title.endswith("述职") else "述职报告汇编"
    return (blank * 4 + p("VolumeCoverTitle", title) + p("VolumeCoverTitle", second) + blank * 9
            + p("VolumeCoverLine", township) + p("VolumeCoverLine", date_text))


def toc_xml(parts, pages, dirty):
    """目录: the heading and one TOC field whose shown result lists each title
    and its page (`pages[i]`, or nothing while unknown)."""
    begin = '<w:fldChar w:fldCharType="begin" w:dirty="true"/>' if dirty else '<w:fldChar w:fldCharType="begin"/>'
    out = ['<w:p><w:pPr><w:pStyle w:val="VolumeTocHeading"/></w:pPr><w:r><w:t>目　　录</w:t></w:r></w:p><w:p/>']
    for i, part in enumerate(parts):
        number = i + 1
        head = (f'<w:r>{begin}</w:r><w:r><w:instrText xml:space="preserve"> TOC \\f \\h \\z </w:instrText></w:r>'
                '<w:r><w:fldChar w:fldCharType="separate"/></w:r>') if i == 0 else ""
        tail = '<w:r><w:fldChar w:fldCharType="end"/></w:r>' if i == len(parts) - 1 else ""
        page = pages[i] if pages else ""
        out.append(
            f'<w:p><w:pPr><w:pStyle w:val="TOC1"/></w:pPr>{head}'
            f'<w:hyperlink w:anchor="{bookmark(number)}" w:history="1">'
            f'<w:r><w:t xml:space="preserve">{escape(part.title)}</w:t></w:r><w:r><w:tab/></w:r>'
            f'<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> PAGEREF {bookmark(number)} \\h </w:instrText></w:r>'
            f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{page}</w:t></w:r>'
            f'<w:r><w:fldChar w:fldCharType="end"/></w:r></w:hyperlink>{tail}</w:p>')
    if not parts:
        out.append('<w:p><w:r><w:t>（没有符合条件的报告）</w:t></w:r></w:p>')
    return "".join(out)


class Volume:
    """The parts of a volume, put together as a .docx as often as its page numbers need."""

    def __init__(self, title, township, date_text, parts, base):
        self.title, self.township, self.date_text, self.parts = title, township, date_text, list(parts)
        self.base = base
        # Styles a report's own template defines beyond the official set (an
        # office's uploaded template), so none of its formatting is lost.
        self.extra_styles = []
        seen = {template_styles_key(base)}
        for part in self.parts:
            key = template_styles_key(part.template)
            if key not in seen:
                seen.add(key)
                self.extra_styles.append(styles_of(part.template))

    def docx(self, pages=None, dirty=False):
        source = zipfile.ZipFile(io.BytesIO(template_bytes(self.base)))
        document = source.read("word/document.xml").decode("utf-8")
        root_open = document[:document.index("<w:body>")]
        template_sect = etree.fromstring(document.encode("utf-8")).find(f"{W}body/{W}sectPr")
        cover_sect = section_xml(template_sect, "nextPage")
        for ref in cover_sect.findall(W + "footerReference") + cover_sect.findall(W + "headerReference"):
            cover_sect.remove(ref)  # the cover and its blank back carry no page number
        toc_sect = section_xml(template_sect, "oddPage")
        report_sect = section_xml(template_sect, "oddPage")
        # (content, its section's properties): each section's properties go into
        # its last paragraph, the last section's at the end of the body.
        chunks = [(cover_xml(self.title, self.township, self.date_text) + f"<w:p><w:pPr>{SECTION_MARK}</w:pPr></w:p>",
                   cover_sect),
                  (toc_xml(self.parts, pages, dirty) + f"<w:p><w:pPr>{SECTION_MARK}</w:pPr></w:p>", toc_sect)]
        chunks.extend((part.body, report_sect) for part in self.parts)
        texts = {id(sect): sect_text(sect) for sect in (cover_sect, toc_sect, report_sect)}
        body = []
        for i, (content, sect) in enumerate(chunks):
            last = i == len(chunks) - 1
            body.append(content.replace(SECTION_MARK, "" if last else texts[id(sect)]))
        body.append(texts[id(chunks[-1][1])])
        xml = root_open + "<w:body>" + "".join(body) + "</w:body></w:document>"
        return repackage(source, {"word/document.xml": xml.encode("utf-8")}, dirty, self.extra_styles)


def template_styles_key(template):
    return hash(template) if isinstance(template, bytes) else template


def styles_of(template):
    """The w:style elements of a template, by style id."""
    with zipfile.ZipFile(io.BytesIO(template_bytes(template))) as package:
        root = etree.fromstring(package.read("word/styles.xml"))
    return {style.get(W + "styleId"): style for style in root.iter(W + "style")}


def sect_text(sect):
    return strip_namespace_declarations(etree.tostring(sect, encoding="unicode"))


def repackage(source, replaced, dirty, extra_styles=()):
    """The template's package with some parts replaced: the others are copied
    as they are; styles get the volume's styles, settings ask for a field
    update when the numbers are not known."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in source.infolist():
            if info.filename in replaced:
                data = replaced[info.filename]
            elif info.filename == "word/styles.xml":
                data = add_styles(source.read(info.filename), extra_styles)
            elif info.filename == "word/settings.xml":
                data = settings(source.read(info.filename), dirty)
            elif info.filename == "docProps/core.xml":
                data = source.read(info.filename)
            else:
                dst.writestr(info, source.read(info.filename), compress_type=info.compress_type)
                continue
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, data)
    return out.getvalue()


def add_styles(styles_xml, extra_styles=()):
    """The base's styles, plus the volume's own and those only other reports' templates define."""
    text = styles_xml.decode("utf-8")
    known = set(re.findall(r'w:styleId="([^"]+)"', text))
    missing = []
    for line in VOLUME_STYLES.strip().splitlines():
        style_id = re.search(r'w:styleId="([^"]+)"', line).group(1)
        if style_id not in known:
            known.add(style_id)
            missing.append(line)
    for styles in extra_styles:
        for style_id, style in styles.items():
            xml = strip_namespace_declarations(etree.tostring(style, encoding="unicode"))
            if style_id in known or re.search(r"</?(?!w:)\w+:|\s(?!w:)\w+:\w+=", xml):
                continue  # already defined, or in a namespace the base may not declare
            known.add(style_id)
            missing.append(xml)
    return text.replace("</w:styles>", "".join(missing) + "</w:styles>").encode("utf-8")


def settings(settings_xml, dirty):
    text = settings_xml.decode("utf-8")
    text = re.sub(r"<w:updateFields[^>]*/>", "", text)
    if dirty:
        update = '<w:updateFields w:val="true"/>'
        text = text.replace("<w:compat>", update + "<w:compat>", 1) if "<w:compat>" in text else \
            text.replace("</w:settings>", update + "</w:settings>")
    return text.encode("utf-8")


# --- page numbers through LibreOffice --------------------------------------------------

def squeeze(text):
    return re.sub(r"\s+", "", text)


def title_pages(page_texts, parts):
    """The page (1-based) where each part's title stands, looking after the
    目录 and in order, so a title that also appears in the 目录 or in an
    earlier report is not taken for the report's start."""
    pages, start = [], 0
    squeezed = [squeeze(t) for t in page_texts]
    toc_end = next((i for i, t in enumerate(squeezed) if "目录" in t), 0)
    start = toc_end + 1
    for part in parts:
        needle = squeeze(part.first_line)
        found = next((i for i in range(start, len(squeezed)) if needle in squeezed[i]), None)
        if found is None:
            return None
        pages.append(found + 1)
        start = found + 1
    return pages


def parts_of(reports, progress=None, workers=None):
    """Each report rendered as a Part, in order; `workers` (a process pool)
    renders them in parallel, a few under way at a time."""
    under_way, parts = deque(), []

    def finish_oldest():
        title, first_line, template, body = under_way.popleft()
        parts.append(Part(title, first_line, template, body.result() if workers else body))
        if progress:
            progress(len(parts))

    for number, report in enumerate(reports, start=1):
        template, context = report_document(report)
        title_lines = [clean_text(line) for line in report.report_type.title_lines(report.meta)] or [""]
        title = "".join(title_lines)
        args = (template, context, title, number)
        under_way.append((title, title_lines[0], template,
                          workers.submit(report_part, *args) if workers else report_part(*args)))
        if len(under_way) >= 4:
            finish_oldest()
    while under_way:
        finish_oldest()
    return parts


def build_volume(title, township, date_text, reports, base_template, progress=None, pdf=False, converter=None,
                 workers=2, mp_context=None):
    """The volume's .docx (and PDF bytes when `pdf`): returns (docx, pdf or None, numbered).

    `base_template` gives the package when there is no report. `converter(docx_bytes,
    seconds)` gives a PDF (preview.docx_to_pdf), or is None without
    LibreOffice: then the 目录 is left for Word to update and `numbered` is False.
    """
    if workers:
        with ProcessPoolExecutor(workers, mp_context=mp_context) as pool:
            parts = parts_of(reports, progress, pool)
    else:
        parts = parts_of(reports, progress)
    volume = Volume(title, township, date_text, parts, base_template)
    if converter is None:
        return volume.docx(dirty=True), None, False
    seconds = 60 + 2 * len(parts)
    laid_out = converter(volume.docx(pages=[PLACEHOLDER] * len(parts)), seconds)
    pages = title_pages(pdf_texts(laid_out), parts)
    if pages is None:  # a title LibreOffice did not print as expected: let Word number it
        return volume.docx(dirty=True), None, False
    docx = volume.docx(pages=[str(p) for p in pages])
    return docx, (converter(docx, seconds) if pdf else None), True


def pdf_texts(pdf_bytes):
    import tempfile
    from pathlib import Path
    from .pdf import pdf_text_pages
    with tempfile.TemporaryDirectory(prefix="pbforms-volume-") as folder:
        path = Path(folder) / "volume.pdf"
        path.write_bytes(pdf_bytes)
        return pdf_text_pages(path) or []
