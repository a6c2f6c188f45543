"""A Word file (.docx) into a report's fields.

Every village has last year's report as a Word file: its own, the official
file this app made, or one typed freely in Word or WPS, with or without
styles. This module reads its paragraphs and places them using only the
report's type (sections, fields, kinds, labels): the title and the name
line at the top, the sections by their headings (一、二、三、, （一）, the type's
section titles, tolerant of spacing and punctuation), the items of an
`items` field (一是……二是……, 1. 2., （一）（二）, Word's own numbering; as
paragraphs of their own or run on in one), the sign-off and the date at the
end. A figure written as label + number + unit ("党委会议12次") fills the
count whose label it names and becomes a ⟦label⟧ reference in the text, so
the figure is typed once.

A file is measured before python-docx reads it (check_budget): what is
more than a report could hold is refused with a message, so a small hostile
file cannot cost minutes or gigabytes. A document whose title names another
year than the round's says so, and its figures are offered, not taken.

Nothing here stores anything: `import_docx` returns what would go where,
what was not placed and which figures were found; the caller shows it
(preview page, CLI) and saves through Report.save_data.
"""
import datetime
import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field as dc_field
from difflib import SequenceMatcher

from docx import Document
from docx.oxml.ns import qn
from lxml import etree

from ..forms import Invalid, clean_text

# What a report can hold, several times over. A .docx is checked against
# these by a streaming look at its XML before python-docx builds a tree of
# it: a 34 KB file can declare a row of two billion cells (gridSpan) or
# 200,000 paragraphs, and python-docx would spend gigabytes or minutes on it.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # every part, images included
MAX_XML_BYTES = 16 * 1024 * 1024        # all XML parts together: python-docx parses each
MAX_ELEMENTS = 400_000                  # in all XML parts
MAX_PARAGRAPHS = 5_000
MAX_TABLE_ROWS = 1_000
MAX_TABLE_CELLS = 20_000
MAX_SPAN = 63                           # Word's own limit of columns in a table
MAX_STYLES = 2_000
MAX_CHARACTERS = 400_000

CN = "一二三四五六七八九十"
CN_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九", start=0)}
SENTENCE_END = "。！？!?"
# Ordinal prefixes of a heading: 一、 二. （一） (1) 1. 第一部分
ORDINAL_PREFIX = re.compile(
    rf"^\s*(?:第[{CN}\d]{{1,3}}(?:部分|章|节|篇)?[、，,：:.．\s]*|[{CN}]{{1,3}}\s*[、.．]|[（(]\s*[{CN}\d]{{1,3}}\s*[)）]"
    rf"|\d{{1,2}}\s*[、.．](?!\d))\s*")
SECTION_ORDINAL = re.compile(rf"^\s*([{CN}]{{1,3}})\s*[、.．]")
PUNCTUATION = re.compile(r"[\s\u3000、，。：:；;,.．！!？?（）()【】\[\]“”\"'‘’·…—\-]")
HEADING_MAX = 24  # a heading is a short line; longer lines are text
TITLE_MAX = 40
ITEM_HEADING_MAX = 40

# Item markers at the start of a paragraph, by family; the family of a
# section's first item decides what counts as the next one.
LINE_MARKERS = {
    "shi": re.compile(rf"^([{CN}]{{1,3}})是"),
    "paren_cn": re.compile(rf"^[（(]([{CN}]{{1,3}})[）)]"),
    "arabic": re.compile(r"^(\d{1,2})\s*[.．、](?!\d)"),
    "paren_ar": re.compile(r"^[（(](\d{1,2})[）)]"),
    "di": re.compile(rf"^第([{CN}]{{1,3}})[，,、：:]"),
}
# The same markers inside a paragraph, after a sentence ends (items run on).
MID_MARKERS = {
    "shi": re.compile(rf"(?<=[。！？；!?;])[ \u3000]*(([{CN}]{{1,3}})是)"),
    "paren_cn": re.compile(rf"(?<=[。！？；!?;])[ \u3000]*([（(]([{CN}]{{1,3}})[）)])"),
}

DATE_PATTERNS = [
    re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$"),
    re.compile(r"^\s*(\d{4})\s*[.．/\-]\s*(\d{1,2})\s*[.．/\-]\s*(\d{1,2})\s*$"),
]
CN_DATE = re.compile(r"^\s*([〇零○一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日\s*$")

NAME_FIELD_WORDS = ("姓名", "述职人", "报告人")
# 石桥村党支部书记：张志强 — a post, a colon, a name (on a sign-off or name line).
POST_AND_NAME = re.compile(r"^(?P<post>[^：:，,。；;\s]{2,24}?(?:书记|主任|委员|组长|负责人))\s*[:：]\s*"
                           r"(?P<name>[\u4e00-\u9fff·]{2,5})$")
TITLE_FIELD_WORDS = ("职务", "单位", "职位")
PERSON_NAME = re.compile(r"^(?!.*(?:报告|特此|此致|敬礼|附件|以上|如下|纪要|通知|情况|工作))[\u4e00-\u9fff·]{2,5}$")


class Unreadable(Exception):
    """The upload is not a .docx this module can read; the message says why, in Chinese."""


# --- reading the file ----------------------------------------------------------

@dataclass
class Line:
    """One paragraph of the document (a soft line break starts a new one)."""
    text: str
    numbered: bool = False  # Word's own list numbering (not typed as text)
    level: int = 0          # its list level
    in_table: bool = False


def refuse_non_docx(raw, filename=""):
    """A clear message for what is not a .docx, from the file's first bytes."""
    name = (filename or "").lower()
    if not raw or not raw.strip():
        raise Unreadable("文件是空的，请选择要导入的 Word 文件（.docx）。")
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        if name.endswith(".wps") or name.endswith(".et"):
            raise Unreadable("这是 WPS 旧格式的文件（.wps），系统读不了。请在 WPS 中打开它，"
                             "“另存为” Word 文件（.docx）后再上传。")
        raise Unreadable("这是旧版 Word 文件（.doc），系统读不了。请在 Word 或 WPS 中打开它，"
                         "“另存为” Word 文件（.docx）后再上传。")
    if raw.lstrip().startswith(b"%PDF"):
        raise Unreadable("这是 PDF 文件，读不出报告的段落。请上传 Word 文件（.docx）；"
                         "只有 PDF 时，可以打开它复制文字，粘贴到各栏。")
    if raw.lstrip().startswith(b"{\\rtf"):
        raise Unreadable("这是 RTF 格式的文件，系统读不了。请在 Word 或 WPS 中“另存为” Word 文件（.docx）后再上传。")
    if not raw.startswith(b"PK"):
        kind = "文本文件" if _looks_like_text(raw) else "其他格式的文件"
        raise Unreadable(f"这不是 Word 文件（.docx），而是{kind}，可能只是改了扩展名。"
                         "请在 Word 或 WPS 中打开报告，“另存为” Word 文件（.docx）后再上传。")


def _looks_like_text(raw):
    head = raw[:2000]
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


DAMAGED = ("文件已损坏，打不开。请在 Word 或 WPS 中打开它，确认内容正常后“另存为”新的 Word 文件（.docx）再上传。")
TOO_BIG = "文件的内容过多，不像一份述职报告（{what}）。请只保留述职报告的正文，另存后再上传。"


def read_lines(raw, filename=""):
    """The document's paragraphs, in order (tables too, marked), as Lines."""
    refuse_non_docx(raw, filename)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names:
                if any(n.startswith("xl/") for n in names):
                    raise Unreadable("这是 Excel 表格，不是 Word 文件。请上传述职报告的 Word 文件（.docx）。")
                if any(n.startswith("ppt/") for n in names):
                    raise Unreadable("这是 PowerPoint 演示文稿，不是 Word 文件。请上传述职报告的 Word 文件（.docx）。")
                raise Unreadable("这个压缩文件不是 Word 文件（.docx）。请上传述职报告的 Word 文件。")
            check_budget(archive)
        document = Document(io.BytesIO(raw))
    except Unreadable:
        raise
    except Exception:  # zipfile, lxml and python-docx each raise their own kinds
        raise Unreadable(DAMAGED) from None
    numbering = StyleNumbering(document)
    lines = []
    for paragraph, in_table in _paragraphs(document):
        numbered, level = numbering.of(paragraph)
        for piece in _paragraph_text(paragraph).split("\n"):
            text = tidy(piece)
            if text:
                lines.append(Line(text, numbered, level, in_table))
                numbered = False  # a soft break continues the numbered paragraph
    if not lines:
        raise Unreadable("文档中没有文字。请确认选对了文件（扫描件或图片中的文字读不出来）。")
    return lines


def check_budget(archive):
    """Unreadable when the package holds more than a report could: its sizes
    from the zip's directory (zipfile reads no more than they say), then its
    XML read as a stream, counting as it goes and stopping at the first
    count past its limit, so a bomb costs no more than the limit itself."""
    infos = archive.infolist()
    xml = [i for i in infos if i.filename.endswith((".xml", ".rels"))]
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise Unreadable(TOO_BIG.format(what=f"解压后超过 {MAX_UNPACKED_BYTES // 1024 // 1024} MB"))
    if sum(i.file_size for i in xml) > MAX_XML_BYTES:
        raise Unreadable(TOO_BIG.format(what=f"文字和格式部分解压后超过 {MAX_XML_BYTES // 1024 // 1024} MB"))
    counts = Counter()
    limits = {"elements": (MAX_ELEMENTS, "标记超过 {:,} 个"), qn("w:p"): (MAX_PARAGRAPHS, "段落超过 {:,} 个"),
              qn("w:tr"): (MAX_TABLE_ROWS, "表格行超过 {:,} 个"), qn("w:tc"): (MAX_TABLE_CELLS, "表格单元格超过 {:,} 个"),
              qn("w:style"): (MAX_STYLES, "样式超过 {:,} 个"), "characters": (MAX_CHARACTERS, "字数超过 {:,}")}
    w_t, span = qn("w:t"), qn("w:gridSpan")
    for info in xml:
        with archive.open(info) as stream:
            events = etree.iterparse(stream, events=("end",), resolve_entities=False, no_network=True,
                                     load_dtd=False)
            for _, element in events:
                counts["elements"] += 1
                counts[element.tag] += 1
                if element.tag == w_t:
                    counts["characters"] += len(element.text or "")
                elif element.tag == span and not _small_int(element.get(qn("w:val")), MAX_SPAN):
                    raise Unreadable(TOO_BIG.format(what=f"表格的一格横跨 {(element.get(qn('w:val')) or '?')[:12]} 列"))
                for key in ("elements", element.tag, "characters"):
                    if key in limits and counts[key] > limits[key][0]:
                        limit, what = limits[key]
                        raise Unreadable(TOO_BIG.format(what=what.format(limit)))
                element.clear()
            if events.root.getroottree().docinfo.doctype:
                raise Unreadable("文件中含有 DOCTYPE 声明，Word 保存的文件不会有。请在 Word 或 WPS 中"
                                 "“另存为”新的 Word 文件（.docx）后再上传。")


def _small_int(text, limit):
    return bool(text) and text.isascii() and text.isdigit() and 0 < int(text[:6]) <= limit


def _paragraphs(document):
    """(paragraph, in_table) in document order, through tables and content controls.

    Tables are walked by their XML (row, cell) rather than python-docx's
    Row.cells, which lays out the grid: a cell spanning columns would come
    once per column, and vertical merges cost time growing with the square
    of the rows (and end in RecursionError). Here each cell comes once, as
    Word stores it; a merged-on cell holds no text of its own.
    """
    from docx.text.paragraph import Paragraph

    containers = {qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")}
    paragraph, table = qn("w:p"), qn("w:tbl")

    def walk(element, in_table):
        for child in element.iterchildren():
            if child.tag == paragraph:
                yield Paragraph(child, document), in_table
            elif child.tag in containers:
                yield from walk(child, in_table or child.tag == table)

    yield from walk(document.element.body, False)


def _paragraph_text(paragraph):
    try:
        return paragraph.text
    except Exception:  # a run python-docx cannot read: take its plain text nodes
        return "".join(node.text or "" for node in paragraph._p.iter(qn("w:t")))


class StyleNumbering:
    """Whether Word numbers a paragraph itself (directly or by its style,
    or the style that style is based on), and at what level. The styles are
    read once into a table: python-docx looks each style up by a search of
    all styles, for every paragraph."""

    def __init__(self, document):
        self.styles, self.default = {}, None
        try:
            root = document.styles.element
        except Exception:  # a document without styles
            return
        for style in root.iterchildren(qn("w:style")):
            if style.get(qn("w:type")) not in (None, "paragraph"):
                continue
            style_id = style.get(qn("w:styleId"))
            based = style.find(qn("w:basedOn"))
            ppr = style.find(qn("w:pPr"))
            self.styles[style_id] = (ppr.find(qn("w:numPr")) if ppr is not None else None,
                                     based.get(qn("w:val")) if based is not None else None)
            if style.get(qn("w:default")) in ("1", "true", "on"):
                self.default = style_id

    def of(self, paragraph):
        ppr = paragraph._p.pPr
        num = ppr.find(qn("w:numPr")) if ppr is not None else None
        style_id = self.default
        if ppr is not None and ppr.find(qn("w:pStyle")) is not None:
            style_id = ppr.find(qn("w:pStyle")).get(qn("w:val"))
        depth = 0
        while num is None and style_id in self.styles and depth < 10:
            num, style_id = self.styles[style_id]
            depth += 1
        if num is None:
            return False, 0
        num_id, ilvl = num.find(qn("w:numId")), num.find(qn("w:ilvl"))
        if num_id is not None and num_id.get(qn("w:val")) == "0":  # numbering switched off
            return False, 0
        level = ilvl.get(qn("w:val")) if ilvl is not None else "0"
        return True, int(level) if _small_int(level, 9) else 0


def tidy(text):
    """One paragraph's text as the report stores it: no indenting spaces,
    no invisible characters, line ends and XML-forbidden characters cleaned."""
    text = clean_text(text).replace("\t", " ")
    text = re.sub("[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", text)
    return text.strip(" \u3000\u00a0\u2002\u2003")


# --- small helpers ---------------------------------------------------------------

def cn_int(text):
    """一 -> 1, 十二 -> 12, 二十 -> 20; digits as digits."""
    text = unicodedata.normalize("NFKC", text)
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_VALUE.get(tens, 1) if tens else 1) * 10 + (CN_VALUE.get(ones, 0) if ones else 0)
    value = 0
    for c in text:
        value = value * 10 + CN_VALUE.get(c, 0)
    return value


def norm_title(text):
    """A heading without its ordinal, spaces and punctuation, for comparing."""
    return PUNCTUATION.sub("", ORDINAL_PREFIX.sub("", unicodedata.normalize("NFKC", text)))


def similar(a, b):
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def bag_overlap(label, window):
    """The share of the label's characters that occur in `window` (as a multiset)."""
    have = Counter(window)
    hits = 0
    for c, n in Counter(label).items():
        hits += min(n, have[c])
    return hits / len(label) if label else 0


def parse_date(text):
    t = unicodedata.normalize("NFKC", text).replace(" ", "")
    for pattern in DATE_PATTERNS:
        m = pattern.match(t)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            break
    else:
        m = CN_DATE.match(t)
        if not m:
            return None
        y = int("".join(str("〇一二三四五六七八九".find(c)) if c not in "零○" else "0" for c in m.group(1)))
        mo, d = cn_int(m.group(2)), cn_int(m.group(3))
    try:
        return datetime.date(y, mo, d)
    except ValueError:
        return None


# --- the plan: what goes where --------------------------------------------------

@dataclass
class Figure:
    """A figure found in the text: the count it fills, as read, where."""
    field: object
    value: object          # the number, or None for ** (a figure not yet filled in)
    excerpt: str
    status: str            # "filled" | "placeholder" | "differs" | "invalid"
    message: str = ""


@dataclass
class Result:
    values: dict = dc_field(default_factory=dict)      # key -> cleaned value
    unplaced: list = dc_field(default_factory=list)    # paragraphs not placed
    generated: list = dc_field(default_factory=list)   # title lines: the app makes them
    figures: list = dc_field(default_factory=list)     # Figure
    problems: dict = dc_field(default_factory=dict)    # key -> message (value refused)
    notes: list = dc_field(default_factory=list)       # what the reader noticed
    figure_keys: list = dc_field(default_factory=list)  # the counts filled from figures in the text
    year: int = None                                   # the year the document reports on, when it says
    other_year: bool = False                           # … and it is not the round's year

    def placed(self, report_type):
        """(field, value) in form order, for the preview and the CLI."""
        return [(f, self.values[f.key]) for f in report_type.fields if f.key in self.values]


def import_docx(report_type, meta, raw, filename=""):
    """Read `raw` (.docx bytes) for a report of `report_type`; raises Unreadable."""
    return place(report_type, meta, read_lines(raw, filename))


class Sections:
    """The type's sections as headings in a document may name them."""

    def __init__(self, report_type):
        self.sections = report_type.sections
        self.norms = [norm_title(s["title"]) for s in self.sections]
        self.ordinals = {}
        for i, s in enumerate(self.sections):
            m = SECTION_ORDINAL.match(s["title"])
            if m:
                self.ordinals[cn_int(m.group(1))] = i

    def body_fields(self, index):
        return [f for f in self.sections[index]["fields"] if f.kind in ("paragraphs", "items")]

    def match(self, line):
        """The index of the section `line` heads, -1 for a heading of no
        known section, or None when the line is not a heading."""
        text = line.text
        if "。" in text.rstrip("。") or len(text) > HEADING_MAX + 6:
            return None
        norm = norm_title(text)
        if not norm or len(norm) > HEADING_MAX:
            return None
        best, best_score = None, 0.0
        for i, title in enumerate(self.norms):
            if not title or not self.body_fields(i):
                continue
            if norm == title:
                return i
            if len(title) >= 3 and len(norm) >= 3:
                score = similar(norm, title)
                if title in norm or norm in title:
                    score = max(score, 0.8)
                if score > best_score:
                    best, best_score = i, score
        if best_score >= 0.7:
            return best
        m = SECTION_ORDINAL.match(text)
        if m and not text.rstrip().endswith("。"):
            return self.ordinals.get(cn_int(m.group(1)), -1)
        return None


RUN_ON_HEADING = re.compile(rf"^\s*[{CN}]{{1,3}}\s*[、.．]\s*([^，。：:；\s]{{2,{HEADING_MAX}}}?)\s*[：:。]")


def split_run_on_headings(sections, lines):
    """一、履职情况：一是…… in one paragraph: the heading becomes a line of its own."""
    out = []
    for line in lines:
        m = RUN_ON_HEADING.match(line.text)
        rest = line.text[m.end():].strip() if m else ""
        if m and rest and norm_title(m.group(1)) in sections.norms:
            out += [Line(line.text[:m.end()].rstrip("：:。 "), False, 0, line.in_table),
                    Line(rest, line.numbered, line.level, line.in_table)]
        else:
            out.append(line)
    return out


def place(report_type, meta, lines):
    result = Result()
    sections = Sections(report_type)
    lines = split_run_on_headings(sections, lines)
    headings = [(i, sections.match(line)) for i, line in enumerate(lines)]
    headings = [(i, s) for i, s in headings if s is not None]

    start = read_header(report_type, meta, lines, result)
    end = read_signoff(report_type, lines, start, headings, result)

    first_heading = headings[0][0] if headings else end
    lead = lines[start:min(first_heading, end)]
    if lead:
        lead_field = lead_body_field(sections, headings)
        if lead_field is None:
            result.unplaced += [line.text for line in lead]
            if not headings:
                result.notes.append("文中没有找到与报告各部分对应的标题（如“一、履职情况”），正文没有放入任何一栏，"
                                    "可从下面“没有放入的段落”复制。")
        else:
            assign(lead_field, lead, result)
    taken = set()
    for n, (i, s) in enumerate(headings):
        if i >= end:
            break
        stop = min(headings[n + 1][0] if n + 1 < len(headings) else end, end)
        content = lines[i + 1:stop]
        if s == -1 or s in taken:
            why = "（此标题与报告的各部分都对不上）" if s == -1 else "（与前面的部分重复）"
            result.unplaced.append(lines[i].text + why)
            result.unplaced += [line.text for line in content]
            continue
        taken.add(s)
        fill_section(sections, s, content, result)

    link_figures(report_type, result)
    clean_values(report_type, result)
    compare_year(meta, lines[:start] or lines[:3], result)
    return result


DOCUMENT_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")


def compare_year(meta, top, result):
    """The year the document's title names (2021年度…), against the round's:
    last year's report is a fine start for the text, but its figures are
    last year's, so they are offered, not taken."""
    for line in top:
        m = DOCUMENT_YEAR.search(unicodedata.normalize("NFKC", line.text))
        if m and ("报告" in line.text or "年度" in line.text):
            result.year = int(m.group(1))
            break
    year = meta.get("year")
    if result.year is None or not year or result.year == year:
        return
    result.other_year = True
    if result.figure_keys:
        result.notes.append(f"这是{result.year}年度的报告，本次填报的是{year}年度：文中{result.year}年度的数字默认不导入"
                            f"数字栏（在“文中的数字”中勾选才导入）；正文中的数字改为引用数字栏，显示本年度填写的数字。")
    else:
        result.notes.append(f"这是{result.year}年度的报告，本次填报的是{year}年度：导入后请把文中的年份、情况改为本年度的。")


def read_header(report_type, meta, lines, result):
    """Title lines and the name line at the top; returns where the text starts."""
    titles = {norm_title(t) for t in report_type.title_lines(meta)}
    header = []
    for line in lines[:5]:
        text = line.text
        if len(text) > TITLE_MAX or any(c in text for c in "。；;") or text.endswith(("：", ":")):
            break
        if SECTION_ORDINAL.match(text) or LINE_MARKERS["shi"].match(text):
            break
        header.append(line)
    if not header:
        return 0
    last_title = -1
    for k, line in enumerate(header):
        t = line.text
        if "报告" in t or norm_title(t) in titles or re.match(r"^\s*\d{4}\s*年度?", t):
            last_title = k
    if last_title < 0:
        return 0  # no title: a short first line may be a heading or the name line of a draft
    result.generated += [line.text for line in header[:last_title + 1]]
    # The title names the post (2022年度青泥镇党委书记): the name line may not.
    post = f"{meta.get('unit_name', '')}{meta.get('secretary_title', '')}"
    title_field = text_field(report_type, TITLE_FIELD_WORDS)
    if post and title_field is not None and any(post in line.text for line in header[:last_title + 1]):
        result.values[title_field.key] = post
    used = last_title + 1
    for line in header[last_title + 1:last_title + 3]:
        if read_name_line(report_type, meta, line.text, result):
            used += 1
        else:
            break
    return used


def text_field(report_type, words):
    for f in report_type.fields:
        if f.kind == "text" and any(w in f.label for w in words):
            return f
    return None


def read_name_line(report_type, meta, text, result, signoff=False):
    """青泥镇党委书记　王建华 / 述职人：王建华 / 王建华: the reporter and their post."""
    name_field = text_field(report_type, NAME_FIELD_WORDS)
    title_field = text_field(report_type, TITLE_FIELD_WORDS)
    t = re.sub(r"^(述职人|报告人|姓名)\s*[:：]?\s*", "", text.strip())
    parts = [p for p in re.split(r"[\s\u3000]+", t) if p]
    post, name = "", ""
    post_and_name = POST_AND_NAME.match(t)
    if post_and_name and PERSON_NAME.match(post_and_name.group("name")):
        post, name = post_and_name.group("post"), post_and_name.group("name")
    elif len(parts) >= 2 and PERSON_NAME.match(parts[-1]):
        post, name = "".join(parts[:-1]), parts[-1]
    elif len(parts) == 1:
        prefix = f"{meta.get('unit_name', '')}{meta.get('secretary_title', '')}"
        if prefix and t.startswith(prefix) and PERSON_NAME.match(t[len(prefix):] or "-"):
            post, name = prefix, t[len(prefix):]
        elif PERSON_NAME.match(t) and (signoff or t != text or len(t) <= 4):
            name = t
    if not name:
        return False
    if name_field is not None and name_field.key not in result.values:
        result.values[name_field.key] = name
    if post and title_field is not None:
        result.values[title_field.key] = post
    return True


def read_signoff(report_type, lines, start, headings, result):
    """The name and date lines at the end; returns where they start."""
    date_field = next((f for f in report_type.fields if f.kind == "date"), None)
    last_heading = headings[-1][0] if headings else start - 1
    end = len(lines)
    k = len(lines) - 1
    found_date = None
    tail = []
    while k > max(last_heading + 1, start) - 1 and len(tail) < 4:
        text = lines[k].text
        if not (parse_date(text) or looks_like_signoff(text)):
            break
        if k == last_heading + 1 and not parse_date(text):
            break  # a section's only line is its text, not a sign-off
        tail.append(text)
        k -= 1
    tail.reverse()
    if not tail:
        return end
    for text in tail:
        day = parse_date(text)
        if day is not None:
            found_date = day
    if found_date is not None and date_field is not None:
        result.values[date_field.key] = found_date.isoformat()
    for text in tail:
        if parse_date(text) is None and not read_name_line(report_type, {}, text, result, signoff=True):
            result.generated.append(text)  # the organisation's seal line: printed by the app's template
    return end - len(tail)


SIGNOFF_ORGANISATION = re.compile(r"(委员会|党委|党支部|党总支|支部委员会|人民政府|办公室|街道|社区|村)$")


def looks_like_signoff(text):
    """A name, 述职人：…, a post and a name, or the organisation: what a report ends with."""
    if len(text) > 30 or any(c in text for c in "。；;，,！？") or any(p.match(text) for p in LINE_MARKERS.values()):
        return False
    t = text.strip()
    if re.match(r"^(述职人|报告人)", t) or PERSON_NAME.match(t) or SIGNOFF_ORGANISATION.search(t):
        return True
    if POST_AND_NAME.match(t):
        return True
    parts = [p for p in re.split(r"[\s\u3000]+", t) if p]
    return len(parts) >= 2 and bool(PERSON_NAME.match(parts[-1]))


def lead_body_field(sections, headings):
    """Where the text between the title and the first heading goes: the
    first section with a body field before the first one the document heads
    that is not itself a numbered part (一、…) the document skipped."""
    headed = {s for _, s in headings if s >= 0}
    if not headed:
        return None
    for i in range(min(headed)):
        fields = sections.body_fields(i)
        if fields and i not in headed and not SECTION_ORDINAL.match(sections.sections[i]["title"]):
            return fields[0]
    return None


def fill_section(sections, index, content, result):
    """A section's lines into its body fields; sub-headings naming a field's
    label switch to that field."""
    fields = sections.body_fields(index)
    if not fields:
        result.unplaced += [line.text for line in content]
        return
    by_label = {norm_title(f.label): f for f in fields}
    current, chunk, parts = fields[0], [], []
    for line in content:
        norm = norm_title(line.text)
        target = None
        if len(fields) > 1 and len(norm) <= HEADING_MAX and "。" not in line.text:
            target = by_label.get(norm) or next(
                (f for key, f in by_label.items() if len(key) >= 3 and similar(key, norm) >= 0.8), None)
        if target is not None:
            parts.append((current, chunk))
            current, chunk = target, []
        else:
            chunk.append(line)
    parts.append((current, chunk))
    for f, lines in parts:
        if lines:
            assign(f, lines, result)


def assign(f, lines, result):
    if f.key in result.values:  # a second part for the same field: appended
        if f.kind == "items":
            items, left = read_items(lines, f)
            result.values[f.key] = result.values[f.key] + items
            result.unplaced += left
        else:
            result.values[f.key] += "\n" + "\n".join(line.text for line in lines)
        return
    if f.kind == "items":
        items, left = read_items(lines, f)
        result.values[f.key] = items
        result.unplaced += left
    else:
        result.values[f.key] = "\n".join(line.text for line in lines)


# --- items: 一是……二是…… ----------------------------------------------------------

@dataclass
class Marker:
    line: int
    pos: int       # where the marker starts in the line
    end: int       # where the item's text starts
    ordinal: int


def find_markers(lines, family):
    found = []
    if family == "auto":
        for i, line in enumerate(lines):
            if line.numbered and line.level == 0:
                found.append(Marker(i, 0, 0, len(found) + 1))
        return found
    start_pattern, mid_pattern = LINE_MARKERS[family], MID_MARKERS.get(family)
    for i, line in enumerate(lines):
        m = start_pattern.match(line.text)
        if m:
            found.append(Marker(i, 0, m.end(), cn_int(m.group(1))))
        if mid_pattern is not None:
            for m in mid_pattern.finditer(line.text):
                found.append(Marker(i, m.start(1), m.end(1), cn_int(m.group(2))))
    return found


def outer_markers(markers):
    """The markers that start the field's items, not the sub-points inside them.

    A report numbers both levels alike (一是强化政治建设。一是持续学习…二是…
    二是坚持以上率下。一是…), so when the numbering restarts, an item starts
    where the next number is followed by a restart at 一, or, while sub-points
    run on inside paragraphs, where a paragraph starts with the next number.
    """
    if not markers:
        return []
    nested = sum(1 for m in markers if m.ordinal == 1) > 1
    outer, expected, inner_at_line_start = [markers[0]], markers[0].ordinal + 1, False
    for k in range(1, len(markers)):
        m = markers[k]
        following = markers[k + 1] if k + 1 < len(markers) else None
        chosen = False
        if m.ordinal == expected:
            if not nested:
                chosen = True
            elif following is not None and following.ordinal == 1:
                chosen = True
            elif m.pos == 0 and not inner_at_line_start and all(o.pos == 0 for o in outer):
                chosen = True
        if chosen:
            outer.append(m)
            expected += 1
        elif m.pos == 0:
            inner_at_line_start = True
    return outer


def read_items(lines, f):
    """Lines of an items field -> ([{heading, text}], [unplaced text])."""
    family = None
    first_marked = None
    for i, line in enumerate(lines):
        if line.numbered and line.level == 0:
            family, first_marked = "auto", i
            break
        for name, pattern in LINE_MARKERS.items():
            if pattern.match(line.text):
                family, first_marked = name, i
                break
        if family:
            break
    if family is None:
        # No numbering at all: each paragraph is an item.
        return [split_heading([line.text]) for line in lines][:f.max_items], [
            line.text for line in lines[f.max_items:]]
    preface = [line.text for line in lines[:first_marked]]
    body = lines[first_marked:]
    outer = outer_markers(find_markers(body, family))
    items = []
    for n, m in enumerate(outer):
        nxt = outer[n + 1] if n + 1 < len(outer) else None
        pieces = []
        last_line = nxt.line if nxt else len(body) - 1
        for i in range(m.line, last_line + 1):
            text = body[i].text
            begin = m.end if i == m.line else 0
            stop = nxt.pos if (nxt and i == nxt.line) else len(text)
            piece = text[begin:stop].strip(" \u3000")
            if piece or i != last_line:
                pieces.append(piece)
        items.append(split_heading([p for p in pieces if p]))
    left = preface + [text for item in items[f.max_items:] for text in [item["heading"], item["text"]] if text]
    return items[:f.max_items], left


def split_heading(pieces):
    """An item's first sentence, when short, is its heading (printed after 一是)."""
    if not pieces:
        return {"heading": "", "text": ""}
    first, rest = pieces[0], pieces[1:]
    m = re.search(f"[{SENTENCE_END}]", first)
    if m and m.start() <= ITEM_HEADING_MAX:
        heading = first[:m.start()] + ("" if m.group() == "。" else m.group())
        remainder = first[m.end():].strip(" \u3000")
        return {"heading": heading, "text": "\n".join(([remainder] if remainder else []) + rest)}
    if not m and len(first) <= ITEM_HEADING_MAX and rest:
        return {"heading": first, "text": "\n".join(rest)}
    return {"heading": "", "text": "\n".join(pieces)}


# --- figures: 党委会议12次 -> the count and ⟦党委会议⟧ ----------------------------------

NUMBER_TEXT = r"(?<![0-9０-９.．第])(?P<num>[0-9０-９]{1,6}(?:[.．][0-9０-９]{1,4})?|\*\*|＊＊|[Xx×]{2})(?P<space>[ \u3000]?)"
MAX_FIGURES_PER_TEXT = 500
WINDOW_BREAK = re.compile(r"[，。；、：:！？,;!?（）()“”\n⟧]")


class FigureFinder:
    def __init__(self, report_type):
        self.counts = [f for f in report_type.counts if getattr(f, "unit", "")]
        units = sorted({f.unit for f in self.counts}, key=len, reverse=True)
        self.pattern = re.compile(NUMBER_TEXT + "(?P<unit>" + "|".join(map(re.escape, units)) + ")") if units else None
        self.values = {}     # key -> number (first seen)
        self.figures = []

    @staticmethod
    def shares_most(label, window):
        """A cheap first look before the fuzzy comparisons: most of the label's characters are there."""
        chars = set(label)
        return sum(1 for c in chars if c in window) * 10 >= len(chars) * 6

    def matches(self, text):
        """The number + unit spans of `text` (a report has dozens; a pasted table
        of thousands is read only so far, so a save stays quick)."""
        if self.pattern is None or not text:
            return []
        found = []
        for m in self.pattern.finditer(text):
            found.append(m)
            if len(found) >= MAX_FIGURES_PER_TEXT:
                break
        return found

    def candidates(self, text, m):
        unit = m.group("unit")
        before = text[max(0, m.start() - 40):m.start()]
        cut = max((b.end() for b in WINDOW_BREAK.finditer(before)), default=0)
        before = before[cut:]
        after = text[m.end():m.end() + 24]
        stop = WINDOW_BREAK.search(after)
        after = after[:stop.start()] if stop else after
        scored = []
        for f in self.counts:
            if f.unit != unit:
                continue
            label = f.label
            score = 0.0
            if before.endswith(label):
                score = 1.0
            elif label in before and len(before) - before.rfind(label) - len(label) <= 2:
                score = 0.95
            elif len(label) >= 3 and before and self.shares_most(label, before[-(len(label) + 2):]):
                tail = before[-(len(label) + 2):]
                score = max(similar(label, tail), bag_overlap(label, tail) * 0.9)
                score = score if score >= 0.8 else 0.0
            if not score and after and len(label) >= 3 and self.shares_most(label, after):
                if label in after:
                    score = 0.9
                elif bag_overlap(label, after) >= 0.85 and longest_common(label, after) >= 4:
                    score = 0.8
            if score:
                scored.append((score, len(label), f))
        return max(scored, key=lambda s: (s[0], s[1]))[2] if scored else None

    def process(self, text):
        if self.pattern is None or not text:
            return text
        out, last = [], 0
        for m in self.matches(text):
            f = self.candidates(text, m)
            if f is None:
                continue
            raw = unicodedata.normalize("NFKC", m.group("num"))
            excerpt = excerpt_of(text, m.start(), m.end())
            placeholder = not raw[0].isdigit()
            if placeholder:
                self.figures.append(Figure(f, None, excerpt, "placeholder"))
            else:
                try:
                    value = f.clean(raw)
                except Invalid as e:
                    self.figures.append(Figure(f, raw, excerpt, "invalid", str(e)))
                    continue
                if f.key in self.values and self.values[f.key] != value:
                    self.figures.append(Figure(f, value, excerpt, "differs",
                                               f"与前面的 {self.values[f.key]}{f.unit} 不同，这里仍按原文写数字"))
                    continue
                self.values.setdefault(f.key, value)
                self.figures.append(Figure(f, value, excerpt, "filled"))
            out.append(text[last:m.start()] + f"⟦{f.label}⟧" + m.group("space"))
            last = m.start("unit")
        out.append(text[last:])
        return "".join(out)


def longest_common(a, b):
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size


def excerpt_of(text, start, end, margin=14):
    left = max(0, start - margin)
    right = min(len(text), end + 4)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


def link_figures(report_type, result):
    finder = FigureFinder(report_type)
    for f in report_type.fields:
        if f.key not in result.values:
            continue
        value = result.values[f.key]
        if f.kind == "paragraphs":
            result.values[f.key] = finder.process(value)
        elif f.kind == "items":
            result.values[f.key] = [{"heading": item["heading"], "text": finder.process(item["text"])}
                                    for item in value]
    for key, number in finder.values.items():
        result.values[key] = number
    result.figures = finder.figures
    result.figure_keys = list(finder.values)


def clean_values(report_type, result):
    """Each value through its field's own check: what the form would refuse is not imported."""
    for f in report_type.fields:
        if f.key not in result.values:
            continue
        try:
            result.values[f.key] = f.clean(result.values[f.key])
        except Invalid as e:
            result.problems[f.key] = str(e)
            del result.values[f.key]


def describe(report_type, result):
    """What went where, one line each, for the command line."""
    lines = []
    for f, value in result.placed(report_type):
        if f.kind == "items":
            shown = f"{len(value)} 条：" + "；".join(item["heading"] or item["text"][:20] for item in value)
        elif f.kind == "paragraphs":
            paragraphs = [p for p in value.split("\n") if p.strip()]
            shown = f"{len(paragraphs)} 段：" + (paragraphs[0][:30] + "…" if paragraphs else "")
        elif f.kind == "count":
            shown = f"{value}{f.unit}"
        else:
            shown = str(value)
        lines.append(f"{f.label} ← {shown}")
    for fig in result.figures:
        if fig.status == "filled":
            lines.append(f"数字：{fig.field.label} = {fig.value}{fig.field.unit}（{fig.excerpt}）")
        elif fig.status == "placeholder":
            lines.append(f"数字：{fig.field.label} 原文未填（{fig.excerpt}），正文改为引用")
        else:
            lines.append(f"数字：{fig.field.label} 未采用：{fig.message}（{fig.excerpt}）")
    for key, message in result.problems.items():
        lines.append(f"未导入 {report_type.by_key[key].label}：{message}")
    for note in result.notes:
        lines.append(note)
    for text in result.unplaced:
        lines.append(f"没有放入：{text}")
    return lines
