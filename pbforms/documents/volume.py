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

A report whose template is not the volume's (an office's uploaded
template) may hold pictures and other parts its body refers to by
relationship id (r:embed="rId4"), and namespaces only its own root
declares. Those come along (`Carried`, `root_declarations`): the parts
copied under names of their own, the ids in the body renamed to match,
their content types declared; else the volume would hold dangling ids
that LibreOffice cannot lay out.

The 目录 is a real TOC field (`TOC \\f \\h`, entries from a TC field in each
report's title), whose shown result lists every title with its page.
Those page numbers are computed with LibreOffice where installed: the
volume is converted to PDF, each title looked up page by page (pdftotext),
and the numbers written into the field's shown result, so Word and WPS show
them right without updating fields. Without LibreOffice the field is marked
dirty and the settings ask Word to update fields when the file opens.
"""
import io
import posixpath
import re
import zipfile
from collections import deque, namedtuple
from concurrent.futures import ProcessPoolExecutor
from xml.sax.saxutils import escape

from lxml import etree

from ..forms import clean_text
from . import render_body, report_document, template_bytes
from .pdf import ConverterError, pdf_text_pages

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = "{%s}" % W_NS

# A rendered report, as the volume needs it: its title (for the 目录), the
# first line of the title (to find its page), the template it came from
# (bytes), its body's XML (paragraphs and tables; its last paragraph
# marks where its section's properties go), its number (its bookmark's),
# and its group in the 目录 (a county's township; "" in a volume of one level).
Part = namedtuple("Part", "title first_line template body number group", defaults=("",))

# What build_volume made: the .docx, the PDF (when asked for), whether the
# 目录 has its page numbers, why not (LibreOffice's message), and the
# reports left out of the PDF as (title, why).
Built = namedtuple("Built", "docx pdf numbered problem left_out")

PLACEHOLDER = "999"  # page numbers while LibreOffice lays the volume out: the widest there will be


# --- one report's body --------------------------------------------------------------

def report_part(template, context, title, number, group=None):
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
    mark_title(first, title, number, group)
    last = children[-1]
    if last.tag != W + "p":
        last = etree.SubElement(body, W + "p")
    put_section_mark(last)
    return "".join(strip_namespace_declarations(etree.tostring(child, encoding="unicode")) for child in body)


def strip_namespace_declarations(xml):
    """lxml repeats the namespace declarations in scope on the element it
    serialises alone; the volume's root declares them once (`root_declarations`).
    Declarations further in (a picture's a: and pic:) are the source's own and stay."""
    end = xml.index(">")
    return re.sub(r' xmlns:\w+="[^"]*"', "", xml[:end]) + xml[end:]


def root_declarations(template):
    """{prefix: namespace} the template's document root declares."""
    with zipfile.ZipFile(io.BytesIO(template_bytes(template))) as package:
        document = package.read("word/document.xml").decode("utf-8")
    return dict(re.findall(r'\sxmlns:(\w+)="([^"]*)"', document[:document.index("<w:body")]))


def mark_title(paragraph, title, number, group=None):
    """A bookmark the 目录 links to, and the TC field it is built from. In
    a volume grouped by township (`group` not None) the report's entry is of
    level 2, below its township's (`group`, given on the township's first report)."""
    name = bookmark(number)
    ppr = paragraph.find(W + "pPr")
    at = 1 if ppr is not None else 0

    def tc(text, level):
        return (f'<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
                f'<w:r><w:instrText xml:space="preserve"> TC "{escape(field_text(text))}" \\l {level} </w:instrText></w:r>'
                f'<w:r><w:fldChar w:fldCharType="end"/></w:r>')
    entries = (tc(group, 1) if group else "") + tc(title, 1 if group is None else 2)
    tc = etree.fromstring(
        f'<w:wrap xmlns:w="{W_NS}"><w:bookmarkStart w:id="{number}" w:name="{name}"/>'
        f'{entries}<w:bookmarkEnd w:id="{number}"/></w:wrap>')
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


# --- the parts a report's template brings ---------------------------------------------

PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# A relationship id in the body: r:embed, r:id, r:link … (the body keeps Word's "r" prefix).
RELATIONSHIP_ID = re.compile(r'(\sr:\w+=")([^"]*)(")')


def rels_name(part):
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def relationship(root, rid, kind, target, external):
    etree.SubElement(root, PACKAGE_RELS + "Relationship", Id=rid, Type=kind, Target=target,
                     **({"TargetMode": "External"} if external else {}))


def xml_bytes(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


class Carried:
    """The parts, relationships and content types that reports' bodies
    bring from their own templates into the volume's package."""

    def __init__(self):
        self.relationships = []  # (id, type, target, external) of word/document.xml
        self.parts = {}  # part name -> bytes (a copied part's own .rels among them)
        self.defaults = {}  # extension -> content type
        self.overrides = {}  # part name -> content type

    def body(self, template, body, number):
        """The body with its relationship ids renamed to ones of its own, the
        parts they name carried along."""
        with zipfile.ZipFile(io.BytesIO(template_bytes(template))) as package:
            relationships = read_relationships(package, "word/document.xml")
            types = etree.fromstring(package.read("[Content_Types].xml"))
            renamed = {}
            for rid in dict.fromkeys(m.group(2) for m in RELATIONSHIP_ID.finditer(body)):
                if rid not in relationships:
                    continue
                kind, target, external = relationships[rid]
                renamed[rid] = f"rIdPbforms{number}x{len(renamed) + 1}"
                if not external:
                    source = posixpath.normpath(posixpath.join("word", target))
                    target = posixpath.relpath(self.copy(package, types, source, f"r{number}_"), "word")
                self.relationships.append((renamed[rid], kind, target, external))
        return RELATIONSHIP_ID.sub(lambda m: m.group(1) + renamed.get(m.group(2), m.group(2)) + m.group(3), body)

    def copy(self, package, types, source, prefix):
        """Copy part `source` (and the parts its own relationships name) under
        a new name beside it; returns the new name."""
        folder, name = posixpath.split(source)
        copied = posixpath.join(folder, prefix + name)
        if copied in self.parts or source not in package.namelist():
            return copied
        self.parts[copied] = package.read(source)
        extension = posixpath.splitext(name)[1][1:].lower()
        for default in types.iter(CONTENT_TYPES + "Default"):
            if default.get("Extension", "").lower() == extension:
                self.defaults[extension] = default.get("ContentType")
        for override in types.iter(CONTENT_TYPES + "Override"):
            if override.get("PartName") == "/" + source:
                self.overrides[copied] = override.get("ContentType")
        own = read_relationships(package, source)
        if own:
            root = etree.Element(PACKAGE_RELS + "Relationships", nsmap={None: PACKAGE_RELS[1:-1]})
            for rid, (kind, target, external) in own.items():
                if not external:
                    inner = self.copy(package, types, posixpath.normpath(posixpath.join(folder, target)), prefix)
                    target = posixpath.relpath(inner, folder)
                relationship(root, rid, kind, target, external)
            self.parts[rels_name(copied)] = xml_bytes(root)
        return copied

    def into_relationships(self, rels_xml):
        root = etree.fromstring(rels_xml)
        for rid, kind, target, external in self.relationships:
            relationship(root, rid, kind, target, external)
        return xml_bytes(root)

    def into_content_types(self, types_xml):
        root = etree.fromstring(types_xml)
        known = {d.get("Extension", "").lower() for d in root.iter(CONTENT_TYPES + "Default")}
        for extension, content_type in self.defaults.items():
            if extension not in known:
                root.insert(0, etree.Element(CONTENT_TYPES + "Default", Extension=extension, ContentType=content_type))
        for part, content_type in self.overrides.items():
            etree.SubElement(root, CONTENT_TYPES + "Override", PartName="/" + part, ContentType=content_type)
        return xml_bytes(root)


def read_relationships(package, part):
    """{id: (type, target, external)} of a part's relationships; {} when it has none."""
    try:
        root = etree.fromstring(package.read(rels_name(part)))
    except KeyError:
        return {}
    return {r.get("Id"): (r.get("Type"), r.get("Target"), r.get("TargetMode") == "External")
            for r in root.iter(PACKAGE_RELS + "Relationship")}


# --- the volume -------------------------------------------------------------------

VOLUME_STYLES = """
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeCoverTitle"><w:name w:val="汇编封面标题"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:snapToGrid w:val="0"/><w:spacing w:line="800" w:lineRule="exact"/><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="方正小标宋简体"/><w:sz w:val="52"/><w:szCs w:val="52"/></w:rPr></w:style>
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeCoverLine"><w:name w:val="汇编封面文字"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="楷体_GB2312"/></w:rPr></w:style>
<w:style w:type="paragraph" w:customStyle="1" w:styleId="VolumeTocHeading"><w:name w:val="汇编目录标题"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:snapToGrid w:val="0"/><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="黑体"/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC1"><w:name w:val="toc 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:uiPriority w:val="39"/><w:pPr><w:tabs><w:tab w:val="right" w:leader="dot" w:pos="8845"/></w:tabs><w:ind w:left="0" w:right="560" w:hanging="0"/><w:jc w:val="left"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC2"><w:name w:val="toc 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:uiPriority w:val="39"/><w:pPr><w:tabs><w:tab w:val="right" w:leader="dot" w:pos="8845"/></w:tabs><w:ind w:left="640" w:right="560" w:hanging="0"/><w:jc w:val="left"/></w:pPr></w:style>
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
    entries, group = [], None  # (style, text, part, its page)
    for i, part in enumerate(parts):
        page = pages[i] if pages else ""
        if part.group and part.group != group:  # a township's entry, on its first report's page
            entries.append(("TOC1", part.group, part, page))
        group = part.group
        entries.append(("TOC2" if part.group else "TOC1", part.title, part, page))
    for i, (style, text, part, page) in enumerate(entries):
        head = (f'<w:r>{begin}</w:r><w:r><w:instrText xml:space="preserve"> TOC \\f \\h \\z </w:instrText></w:r>'
                '<w:r><w:fldChar w:fldCharType="separate"/></w:r>') if i == 0 else ""
        tail = '<w:r><w:fldChar w:fldCharType="end"/></w:r>' if i == len(entries) - 1 else ""
        out.append(
            f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>{head}'
            f'<w:hyperlink w:anchor="{bookmark(part.number)}" w:history="1">'
            f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r><w:r><w:tab/></w:r>'
            f'<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> PAGEREF {bookmark(part.number)} \\h </w:instrText></w:r>'
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
        # The namespaces and the parts a body uses from a template other than the base's.
        self.namespaces, self.carried = {}, Carried()
        for i, part in enumerate(self.parts):
            if template_styles_key(part.template) != template_styles_key(base):
                self.namespaces.update(root_declarations(part.template))
                self.parts[i] = part._replace(body=self.carried.body(part.template, part.body, part.number))

    def docx(self, pages=None, dirty=False):
        source = zipfile.ZipFile(io.BytesIO(template_bytes(self.base)))
        document = source.read("word/document.xml").decode("utf-8")
        root_open = document[:document.index("<w:body>")]
        declared = set(re.findall(r'\sxmlns:(\w+)=', root_open))
        missing = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in self.namespaces.items() if prefix not in declared)
        root_open = root_open[:root_open.rindex(">")] + missing + ">"
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
        replaced = {"word/document.xml": xml.encode("utf-8"),
                    "word/_rels/document.xml.rels": self.carried.into_relationships(
                        source.read("word/_rels/document.xml.rels")),
                    "[Content_Types].xml": self.carried.into_content_types(source.read("[Content_Types].xml"))}
        return repackage(source, replaced, dirty, self.extra_styles, self.carried.parts)


def template_styles_key(template):
    return hash(template) if isinstance(template, bytes) else template


def styles_of(template):
    """The w:style elements of a template, by style id."""
    with zipfile.ZipFile(io.BytesIO(template_bytes(template))) as package:
        root = etree.fromstring(package.read("word/styles.xml"))
    return {style.get(W + "styleId"): style for style in root.iter(W + "style")}


def sect_text(sect):
    return strip_namespace_declarations(etree.tostring(sect, encoding="unicode"))


def repackage(source, replaced, dirty, extra_styles=(), added=None):
    """The template's package with some parts replaced and some `added`: the
    others are copied as they are; styles get the volume's styles, settings
    ask for a field update when the numbers are not known."""
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
        for name, data in (added or {}).items():
            dst.writestr(name, data)
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


def parts_of(reports, progress=None, workers=None, group=None):
    """Each report rendered as a Part, in order; `workers` (a process pool)
    renders them in parallel, a few under way at a time. `group(report)`
    names the report's group in the 目录 (its township), if the volume has groups."""
    under_way, parts, previous = deque(), [], None

    def finish_oldest():
        title, first_line, template, body, number, name = under_way.popleft()
        parts.append(Part(title, first_line, template, body.result() if workers else body, number, name or ""))
        if progress:
            progress(len(parts))

    for number, report in enumerate(reports, start=1):
        template, context = report_document(report)
        title_lines = [clean_text(line) for line in report.report_type.title_lines(report.meta)] or [""]
        title = "".join(title_lines)
        name = group(report) if group else None
        # The township's own TC entry goes on its first report only.
        args = (template, context, title, number, None if name is None else "" if name == previous else name)
        previous = name
        under_way.append((title, title_lines[0], template,
                          workers.submit(report_part, *args) if workers else report_part(*args), number, name))
        if len(under_way) >= 4:
            finish_oldest()
    while under_way:
        finish_oldest()
    return parts


def build_volume(title, township, date_text, reports, base_template, progress=None, pdf=False, converter=None,
                 workers=2, mp_context=None, group=None):
    """The volume's .docx, and its PDF when `pdf`: a Built.

    `base_template` gives the package when there is no report. `converter(docx_bytes,
    seconds)` gives a PDF (pdf.docx_to_pdf), or is None without
    LibreOffice: then the 目录 is left for Word to update and `numbered` is False.
    When LibreOffice cannot lay out the volume, the .docx is still made (its
    目录 left to Word, `problem` saying why); a PDF goes on without the
    reports LibreOffice cannot convert alone, naming them in `left_out`.
    `group(report)` names a report's township: the 目录 then lists each
    township with its reports below it (the reports come in their order).
    """
    if workers:
        with ProcessPoolExecutor(workers, mp_context=mp_context) as pool:
            parts = parts_of(reports, progress, pool, group)
    else:
        parts = parts_of(reports, progress, group=group)

    def volume_of(chosen):
        return Volume(title, township, date_text, chosen, base_template)

    volume, left_out = volume_of(parts), []
    if converter is None:
        return Built(volume.docx(dirty=True), None, False, "", [])
    seconds = 60 + 2 * len(parts)
    try:
        laid_out = converter(volume.docx(pages=[PLACEHOLDER] * len(parts)), seconds)
    except ConverterError as e:
        if not pdf:
            return Built(volume.docx(dirty=True), None, False, str(e), [])
        left_out = unconvertible(parts, volume_of, converter)
        if not left_out:  # the volume fails, yet each report alone converts: nothing to leave out
            raise
        kept = [p for p in parts if p.number not in {p.number for p, _ in left_out}]
        volume = volume_of(kept)
        laid_out = converter(volume.docx(pages=[PLACEHOLDER] * len(kept)), seconds)
        left_out = [(p.title, why) for p, why in left_out]
    pages = title_pages(pdf_texts(laid_out), volume.parts)
    if pages is None:  # a title LibreOffice did not print as expected: let Word number it
        docx = volume.docx(dirty=True)
        return Built(docx, converter(docx, seconds) if pdf else None, False,
                     "LibreOffice 排出的页面中找不到各报告的标题", left_out)
    docx = volume.docx(pages=[str(p) for p in pages])
    return Built(docx, converter(docx, seconds) if pdf else None, True, "", left_out)


def unconvertible(parts, volume_of, converter):
    """[(part, why)] of the reports LibreOffice cannot convert, each tried as
    a volume of its own (its body exactly as in the whole)."""
    failed = []
    for part in parts:
        try:
            converter(volume_of([part]).docx(pages=[PLACEHOLDER]), 60)
        except ConverterError as e:
            failed.append((part, str(e)))
    return failed


def pdf_texts(pdf_bytes):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory(prefix="pbforms-volume-") as folder:
        path = Path(folder) / "volume.pdf"
        path.write_bytes(pdf_bytes)
        return pdf_text_pages(path) or []
