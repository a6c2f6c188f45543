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
not a .docx; placeholders typed with full-width braces ｛｛ ｝｝;
placeholders Word split across runs by formatting (it then keeps parts of
one placeholder in different <w:t> elements, so it cannot be found or
replaced as typed); placeholders that name no field (in the body, headers, footers, footnotes
and the file's properties, which docxtpl renders too); statements; fields
the template never uses — a refusal, not a warning, because the document
would silently lose what the filler typed (figures count as used when the
template has {{ 主要数据 }}); and a template whose trial render with
sample data fails or does not open.

Rendering stays sandboxed, autoescaping and strict (engine.ENV): the
template is code from outside; placeholders are translated to the field
keys once per template, and user text only ever fills them.
"""
import html
import io
import re
import weakref
import zipfile
from functools import lru_cache

from docx import Document
from docx.oxml.parser import parse_xml
from jinja2 import TemplateError, UndefinedError
from lxml import etree

from . import engine
from .official import MAIN_FIGURES, TITLE_LINES, say_overflow_punctuation

MAX_BYTES = 10 * 1024 * 1024
MAX_UNPACKED = 60 * 1024 * 1024
TITLE_NAME, KEY_FIGURES_NAME = "标题", "主要数据"
# The parts docxtpl renders as templates (the file's properties too: title, subject …).
RENDERED_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes)\.xml|docProps/core\.xml")
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
    pass


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


def read_parts(docx_bytes):
    """{part name: XML text} of the parts rendered as templates; NotDocx for anything but a .docx."""
    if len(docx_bytes) > MAX_BYTES:
        raise NotDocx(f"文件太大（{len(docx_bytes) // 1024 // 1024} MB），模板应小于 {MAX_BYTES // 1024 // 1024} MB。")
    try:
        with zipfile.ZipFile(io.BytesIO(docx_bytes)) as package:
            infos = package.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED:
                raise NotDocx("文件解压后太大，不像是 Word 模板。")
            names = {i.filename for i in infos}
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise NotDocx("")
            parts = {i.filename: package.read(i.filename).decode("utf-8") for i in infos
                     if RENDERED_PART.fullmatch(i.filename)}
        Document(io.BytesIO(docx_bytes))
    except NotDocx as e:
        if str(e):
            raise
        raise NotDocx(NOT_DOCX) from None
    except Exception:  # a zip that is no Word document, a .doc, a .dotx, a broken part …
        raise NotDocx(NOT_DOCX) from None
    return parts


NOT_DOCX = "文件不是 Word 文档（.docx）。如果是 .doc、.wps 或模板文件（.dotx），请在 Word 或 WPS 中“另存为” Word 文档（*.docx）后再上传。"


def check_template(docx_bytes, report_type):
    """The problems of an uploaded template, each a sentence in Chinese; [] = accepted."""
    try:
        parts = read_parts(docx_bytes)
    except NotDocx as e:
        return [str(e)]
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
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if RENDERED_PART.fullmatch(info.filename):
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
