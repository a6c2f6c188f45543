"""An office's own Word template for a report type: checked before it is
accepted, then used for that type's documents instead of the generated one.

What a clerk types in Word: a placeholder `{{ 项目名称 }}` wherever a
field's value goes, named by the field's label as the fill page shows it
(述职人姓名, 发展党员 …) or by its key; spaces inside the braces are
optional. Two more names: `{{ 标题 }}` (the document's title) and
`{{ 主要数据 }}` (the figures neither a text refers to nor the template
places, with their units). A field of several paragraphs (多段文字, 条目)
placed alone in a paragraph prints as that many paragraphs, each formatted
like the placeholder's paragraph. Nothing else: no `{% %}` statements.

Refused, each with its message in Chinese (check_template): a file that is
not a .docx, or larger than 60 MB unpacked, or its XML larger than 16 MB
or 400,000 elements (a zip bomb; it is read as a stream); what the package
carries besides text and formatting and every report made with it would
carry too (external files or images, an attached template, altChunk, OLE
objects, macros, a DOCTYPE: package_problems); placeholders typed with full-width braces ｛｛ ｝｝;
placeholders Word split across runs by formatting (it then keeps parts of
one placeholder in different <w:t> elements, so it cannot be found or
replaced as typed); placeholders that name no field (in the body, headers, footers, footnotes
and the file's properties, which docxtpl renders too); statements; fields
the template never uses — a refusal, not a warning, because the document
would silently lose what the filler typed (figures count as used when the
template has {{ 主要数据 }}); any Jinja but {{ a known name }} in the source
docxtpl actually renders, found on Jinja's syntax tree (jinja_problems: the
text checks above read what Word shows, while Jinja also reads comments,
attributes and CDATA); and a template whose trial render with sample data
fails or does not open.

Rendering stays sandboxed, autoescaping and strict (engine.ENV): the
template is code from outside; placeholders are translated to the field
keys once per template, and user text only ever fills them.
"""
import html
import io
import posixpath
import re
import weakref
import zipfile
from functools import lru_cache

from docx import Document
from docx.opc.constants import CONTENT_TYPE as CT, RELATIONSHIP_TYPE as RT
from docx.oxml.parser import parse_xml
from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError, nodes
from lxml import etree

from . import engine
from .official import MAIN_FIGURES, TITLE_LINES, say_overflow_punctuation

MAX_BYTES = 10 * 1024 * 1024
MAX_UNPACKED = 60 * 1024 * 1024
MAX_XML = 16 * 1024 * 1024   # the XML parts together: python-docx and docxtpl parse each
MAX_ELEMENTS = 400_000       # in all XML parts: a report's template holds a few thousand
TITLE_NAME, KEY_FIGURES_NAME = "标题", "主要数据"
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
STATEMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}|\{%|\{#", re.S)
# One placeholder's braces, or its text, interrupted by XML tags (</w:t>…<w:t>).
SPLIT_OPEN = re.compile(r"\{(?:\s*<[^>]*>\s*)+\{")
SPLIT_CLOSE = re.compile(r"\}(?:\s*<[^>]*>\s*)+\}")
BRACED = re.compile(r"\{\{(?:(?!\}\}).)*?\}\}", re.S)
FULL_WIDTH = re.compile(r"[｛{]\s*[｛{][^｛｝{}]*?[｝}]\s*[｝}]")
TAG = re.compile(r"<[^>]*>")
PARAGRAPH = re.compile(r"<w:p[ >].*?</w:p>", re.S)
SAMPLE_META = {"year": 2022, "unit_name": "示例村", "secretary_title": "党支部书记"}


class NotDocx(ValueError):
    """The upload refused before its content is looked at; the sentences say why."""

    def __init__(self, *problems):
        super().__init__(*problems)
        self.problems = list(problems)


def names_of(report_type):
    """What a placeholder may say -> the variable it stands for."""
    names = {TITLE_NAME: TITLE_LINES, KEY_FIGURES_NAME: MAIN_FIGURES}
    for f in report_type.fields:
        names[f.key] = f.key
        names[f.label] = f.key
    return names


def _placeholder_name(inner):
    return " ".join(html.unescape(TAG.sub("", inner)).split())


def _text(xml):
    """A part's text as Word shows it, a line per paragraph (tags dropped)."""
    paragraphs = PARAGRAPH.findall(xml) or [xml]
    return "\n".join(html.unescape(TAG.sub("", p)) for p in paragraphs)


def rendered_part_names(document):
    """The parts docxtpl renders as templates (DocxTemplate.render), by name:
    the body, the headers and footers the body refers to (whatever their
    names), every footnotes part, and the core properties (title, subject …)."""
    main = document.part
    names = {main.partname.membername}
    names.update(rel.target_part.partname.membername for rel in main.rels.values()
                 if not rel.is_external and rel.reltype in (RT.HEADER, RT.FOOTER))
    names.update(part.partname.membername for part in main.package.iter_parts()
                 if part.content_type in (CT.WML_FOOTNOTES, CT.OPC_CORE_PROPERTIES))
    return names


def read_parts(docx_bytes):
    """{part name: XML text} of the parts rendered as templates; NotDocx for anything but a .docx."""
    if len(docx_bytes) > MAX_BYTES:
        raise NotDocx(f"文件太大（{len(docx_bytes) // 1024 // 1024} MB），模板应小于 {MAX_BYTES // 1024 // 1024} MB。")
    try:
        with zipfile.ZipFile(io.BytesIO(docx_bytes)) as package:
            infos = package.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED:
                raise NotDocx(f"文件解压后超过 {MAX_UNPACKED // 1024 // 1024} MB，不像是 Word 模板"
                              "（可能是压缩炸弹）。请删去大图片等内容后另存再上传。")
            if sum(i.file_size for i in infos if i.filename.endswith((".xml", ".rels"))) > MAX_XML:
                raise NotDocx(f"文件的文字和格式部分解压后超过 {MAX_XML // 1024 // 1024} MB，不像是 Word 模板"
                              "（可能是压缩炸弹）。")
            names = {i.filename for i in infos}
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise NotDocx(NOT_DOCX)
            problems = package_problems(package)
            if problems:
                raise NotDocx(*problems)
            rendered = rendered_part_names(Document(io.BytesIO(docx_bytes)))
            parts = {name: package.read(name).decode("utf-8") for name in sorted(rendered & names)}
    except NotDocx:
        raise
    except Exception:  # a zip that is no Word document, a .doc, a .dotx, a broken part …
        raise NotDocx(NOT_DOCX) from None
    return parts


# Relationships a template may not have, by the last word of their type:
# each would be copied into every report made with it, and Word or
# LibreOffice would fetch, run or open it there.
REFUSED_RELATIONSHIPS = {
    "attachedTemplate": "附加了一个外部模板（attachedTemplate，Word 打开时会去读取它）",
    "aFChunk": "嵌入了其他格式的内容（altChunk）",
    "oleObject": "嵌入或链接了 OLE 对象（如 Excel 表格、公式编辑器对象）",
    "package": "嵌入了其他文件（如 Excel 表格）",
    "vbaProject": "含有宏（vbaProject.bin）",
}
MACROS = "含有宏（vbaProject.bin）"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"


def package_problems(package):
    """What the package carries besides text and formatting, each a sentence:
    external relationships (hyperlinks aside), an attached template, altChunk,
    OLE objects and embedded files, macros, and a DOCTYPE in any part
    (Word never writes one; LibreOffice cannot convert such a file)."""
    problems = []

    def say(message):
        if message not in problems:
            problems.append(message)

    def carries(what):
        say(f"模板{what}：生成的每份报告都会带上它。请在 Word 中删去后另存，再上传。")

    relationship = f"{{{RELATIONSHIPS_NS}}}Relationship"
    content_types = {f"{{{CONTENT_TYPES_NS}}}Override", f"{{{CONTENT_TYPES_NS}}}Default"}
    elements = 0
    for info in package.infolist():
        name = info.filename
        if posixpath.basename(name).lower() == "vbaproject.bin":
            carries(MACROS)
        if not name.endswith((".xml", ".rels")):
            continue
        with package.open(info) as stream:
            events = etree.iterparse(stream, events=("end",), resolve_entities=False, no_network=True,
                                     load_dtd=False)
            try:
                for _, element in events:
                    elements += 1
                    if elements > MAX_ELEMENTS:
                        return [f"模板的标记超过 {MAX_ELEMENTS:,} 个，不像是 Word 模板（可能是压缩炸弹）。"]
                    if element.tag == relationship:
                        kind = (element.get("Type") or "").rsplit("/", 1)[-1]
                        if kind in REFUSED_RELATIONSHIPS:
                            carries(REFUSED_RELATIONSHIPS[kind])
                        elif element.get("TargetMode") == "External" and kind != "hyperlink":
                            target = " ".join((element.get("Target") or "").split())[:80]
                            say(f"模板引用了外部的文件或图片（{target}）：打开每份报告时都会去读取它。请把图片直接"
                                "插入文档（不要选“链接到文件”），删去其他外部链接后另存，再上传。")
                    elif element.tag in content_types:
                        content_type = element.get("ContentType") or ""
                        if "vbaProject" in content_type or "macroEnabled" in content_type:
                            carries(MACROS)
                    element.clear()
            except etree.XMLSyntaxError:
                say(f"模板中的 {name} 已损坏：请在 Word 中重新保存模板后再上传。")
                continue
            if events.root.getroottree().docinfo.doctype:
                say(f"模板中的 {name} 有 DOCTYPE 声明（Word 保存的文件不会有，也无法转换成 PDF）："
                    "请在 Word 中“另存为”新的 Word 文档（.docx）后再上传。")
    return problems


NOT_DOCX = "文件不是 Word 文档（.docx）。如果是 .doc、.wps 或模板文件（.dotx），请在 Word 或 WPS 中“另存为” Word 文档（*.docx）后再上传。"


def check_template(docx_bytes, report_type):
    """The problems of an uploaded template, each a sentence in Chinese; [] = accepted."""
    try:
        parts = read_parts(docx_bytes)
    except NotDocx as e:
        return e.problems
    names = names_of(report_type)
    problems, used = [], set()

    def say(message):
        if message not in problems:
            problems.append(message)

    for xml in parts.values():
        text = _text(xml)
        for m in FULL_WIDTH.finditer(text):
            if "｛" in m.group(0) or "｝" in m.group(0):
                say(f"占位符「{m.group(0)}」用了全角括号 ｛｛ ｝｝：请改为半角的 {{{{ }}}}（输入法切换到英文标点再输入）。")
        split = [m.group(0) for m in BRACED.finditer(xml) if "<" in m.group(0)]
        split += [m.group(0) for m in SPLIT_OPEN.finditer(xml)] + [m.group(0) for m in SPLIT_CLOSE.finditer(xml)]
        for raw in split:
            shown = " ".join(html.unescape(TAG.sub("", raw)).split())
            say(f"占位符「{shown}」被 Word 的格式拆成了几段（只改过其中几个字的字体、颜色，或有拼写检查标记）："
                "请删掉整个占位符，用同一种格式一次输入。")
        for m in STATEMENT.finditer(text):
            say(f"模板里有「{' '.join(m.group(0).split())[:40]}」：上传的模板只能用 {{{{ 项目名称 }}}} 占位符，不能写语句。")
        for m in PLACEHOLDER.finditer(text):
            name = _placeholder_name(m.group(1))
            if name in names:
                used.add(names[name])
            elif name:
                say(f"占位符「{{{{ {name} }}}}」不是本报告类型的项目名称：请用填报页面上的项目名称，如"
                    f"「{{{{ {report_type.fields[0].label} }}}}」。")
            else:
                say("模板里有空的占位符「{{ }}」：请在括号里写项目名称。")
    if not used and not problems:
        say("模板里没有任何占位符：请在要填入内容的地方输入 {{ 项目名称 }}，如「{{ "
            + report_type.fields[0].label + " }}」。")
    unused = [f.label for f in report_type.fields
              if f.key not in used and not (f in report_type.counts and MAIN_FIGURES in used)]
    if unused and used:
        say("模板没有用到这些项目：" + "、".join(f"「{label}」" for label in unused)
            + "。每一项都要出现在文档里（数字可以用 {{ 主要数据 }} 一并列出）。")
    if problems:
        return problems
    problems = jinja_problems(docx_bytes, report_type)
    if problems:
        return problems

    try:
        document = render_uploaded(docx_bytes, report_type, sample_data(report_type), SAMPLE_META)
    except UndefinedError as e:
        name = re.search(r"'(.+?)' is undefined", str(e))
        return [f"用示例数据试生成时出错：模板用到了不存在的名称「{name.group(1) if name else e}」"
                "（占位符之外，也请检查文件“属性”里的标题、主题、备注）。"]
    except TemplateError as e:
        return [f"用示例数据试生成时出错：模板语法有误（{e.message or e}）。"]
    except Exception as e:  # a template docxtpl cannot process
        return [f"用示例数据试生成时出错（{type(e).__name__}）：请在 Word 中重新保存模板后再上传。"]
    try:
        Document(io.BytesIO(document))
    except Exception:
        return ["用示例数据试生成的文档无法打开：请在 Word 中重新保存模板后再上传。"]
    return []


JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
PLAIN_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def jinja_problems(docx_bytes, report_type):
    """The Jinja that is not a plain {{ name }} of a known name, in the
    source docxtpl renders: each part as its patch_xml leaves it (comments,
    attributes and CDATA included: Jinja reads the XML as text), taken from
    the rendering engine itself so the check and the render cannot differ.
    The names are checked on Jinja's own syntax tree."""
    allowed = set(names_of(report_type).values())
    try:
        sources = engine.prepared(translated(docx_bytes, report_type)[0]).sources
        trees = [(name, source, engine.ENV.parse(source)) for name, source in sources]
    except TemplateSyntaxError as e:
        return [f"模板中有不完整的占位符或语句（{e.message}）：上传的模板只能用 {{{{ 项目名称 }}}} 占位符。"]
    problems = []
    for name, source, tree in trees:
        node = next(_not_placeholders(tree, allowed), None)
        if node is not None:
            where = "文件属性" if "#" in name else "正文" if name == sources[0][0] else posixpath.basename(name)
            problems.append(f"模板（{where}）里有「{_snippet(source, node.lineno, allowed)}」：上传的模板只能用 "
                            "{{ 项目名称 }} 占位符，不能写表达式或语句（页眉、页脚、文件属性里也不能）。")
    return problems


def _not_placeholders(node, allowed):
    """The nodes of a Jinja tree that are anything but text and {{ allowed name }}."""
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name not in allowed:
            yield node
    elif isinstance(node, (nodes.Template, nodes.Output, nodes.TemplateData)):
        for child in node.iter_child_nodes():
            yield from _not_placeholders(child, allowed)
    else:
        yield node


def _snippet(source, lineno, allowed):
    """The first tag on line `lineno` of `source` (or after it) that is not a plain known placeholder."""
    start = sum(len(line) + 1 for line in source.split("\n")[:lineno - 1])
    for m in JINJA_TAG.finditer(source, start):
        plain = PLAIN_PLACEHOLDER.fullmatch(m.group(0))
        if not (plain and plain.group(1) in allowed):
            return " ".join(html.unescape(m.group(0)).split())[:40]
    return " ".join(html.unescape(TAG.sub("", source[start:start + 200])).split())[:40]


# --- rendering with an uploaded template --------------------------------------------

_stored = weakref.WeakKeyDictionary()


def template_of(report_type):
    """The Word template uploaded for the report type's version, or None.

    Read once per ReportType object: a version never changes, and the app
    keeps one ReportType per version (models.type_of_version). An empty
    template is how a later version says "back to the generated format".
    """
    if getattr(report_type, "version_id", None) is None:
        return None
    try:
        return _stored[report_type]
    except KeyError:
        pass
    from ..models import TypeVersion
    blob = TypeVersion.select(TypeVersion.template).where(TypeVersion.id == report_type.version_id).scalar()
    _stored[report_type] = found = bytes(blob) if blob else None
    return found


def translate(xml, names):
    """Placeholders by label -> by the variable's name (entities and spaces as typed)."""
    def one(m):
        name = _placeholder_name(m.group(1))
        return "{{ " + names[name] + " }}" if name in names else m.group(0)
    return PLACEHOLDER.sub(one, xml)


def with_overflow_punctuation(styles_xml):
    """The template's styles, their defaults saying w:overflowPunct: without
    it, LibreOffice's PDF of a justified template loses punctuation at
    lines' ends (official.say_overflow_punctuation); Word shows no change."""
    styles = parse_xml(styles_xml)
    say_overflow_punctuation(styles)
    return etree.tostring(styles, xml_declaration=True, encoding="UTF-8", standalone=True)


@lru_cache(maxsize=16)
def _translated(docx_bytes, names_items):
    """(the template with its placeholders naming variables and its styles
    saying w:overflowPunct, the field keys it places)."""
    names = dict(names_items)
    out, placed = io.BytesIO(), set()
    rendered = rendered_part_names(Document(io.BytesIO(docx_bytes)))
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename in rendered:
                xml = data.decode("utf-8")
                placed.update(names[n] for n in map(_placeholder_name, PLACEHOLDER.findall(xml)) if n in names)
                data = translate(xml, names).encode("utf-8")
            elif info.filename == "word/styles.xml":
                data = with_overflow_punctuation(data)
            dst.writestr(info, data)
    return out.getvalue(), frozenset(placed)


def translated(docx_bytes, report_type):
    return _translated(docx_bytes, tuple(sorted(names_of(report_type).items())))


def uploaded_document(docx_bytes, report_type, data, meta):
    """(template bytes, context) for a report rendered with an uploaded template."""
    template, placed = translated(docx_bytes, report_type)
    base = report_type.docx_context(data, meta)
    context = {f.key: _flat(base[f.key]) for f in report_type.fields}
    context[TITLE_LINES] = _flat(report_type.title_lines(meta))
    context[MAIN_FIGURES] = _flat(report_type.main_figures(data, report_type.figures(data), placed))
    return template, context


def _flat(value):
    """A list of paragraphs as one string: docxtpl makes each \\a a new
    paragraph formatted like the placeholder's."""
    return "\a".join(value) if isinstance(value, list) else value


def render_uploaded(docx_bytes, report_type, data, meta):
    return engine.render(*uploaded_document(docx_bytes, report_type, data, meta))


def sample_data(report_type):
    """A filled report for the trial render: every field holds something."""
    samples = {"count": "1", "amount": "1", "text": "示例", "paragraphs": "示例第一段\n示例第二段",
               "items": [{"heading": "示例标题", "text": "示例内容"}], "date": "2023-01-06"}
    data = report_type.initial_data(SAMPLE_META)
    for f in report_type.fields:
        if f.kind in samples:
            try:
                data[f.key] = f.clean(samples[f.kind])
            except Exception:
                pass
    return data
