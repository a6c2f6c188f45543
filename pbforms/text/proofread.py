"""The 公文 proof-reader: a table of rules, each a regular expression or a
small scan, run over every text of a report on every save.

A rule finds spans of a text and says what is wrong in Chinese; where the
right text is certain (a half-width comma between Chinese characters is a
full-width one) it also gives the replacement, which the page offers as a
one-click fix. Nothing here changes a report: `apply_fix` returns new data
for the caller to save, and only when the clerk asked for that fix.

No language model and no network: the rules know punctuation, placeholders,
dates and the report's own figures (a number in the text whose label names
a count of the report but differs from it).
"""
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import islice

from ..forms.kinds import REFERENCE, resolve_references
from .word_import import FigureFinder

HAN = "\u3400-\u4dbf\u4e00-\u9fff"
CJK = f"[{HAN}]"
CJK_CHAR = re.compile(CJK)
# Chinese text around a mark: characters, and the full-width marks that sit beside them.
CJK_NEAR = f"[{HAN}，。、；：！？“”‘’（）《》【】]"
# Every rule must take time in proportion to its text (a field holds 50,000
# characters, and one slow save holds up every user): a pattern that can fail
# after a long run starts only where a run starts (the look-behinds below), so
# the engine never scans the same run again from each of its characters.
URL = re.compile(r"(?:https?://|www\.)[^\s，。；、）)”]+|(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|"
                 r"(?<![A-Za-z0-9.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|cn|net|org|gov|edu)(?:/[^\s，。；、）)”]*)?")
FULL_WIDTH = {",": "，", ".": "。", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
PAIRS = [("“", "”"), ("‘", "’"), ("（", "）"), ("《", "》"), ("【", "】")]
CN_YEAR_DIGITS = {"〇": "0", "零": "0", "○": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
                  "六": "6", "七": "7", "八": "8", "九": "9"}
EXCERPT_MARGIN = 10
# A text pasted with the same slip thousands of times shows the first ones:
# enough to see what to change, and the page stays readable.
MAX_PER_RULE = 20


@dataclass(frozen=True)
class Hit:
    """A span of one text that a rule finds wrong, and its certain fix (or None)."""
    start: int
    end: int
    fix: object = None
    note: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    name: str          # what the clerk reads
    advice: str        # what to do, when the fix is not certain
    find: object       # (text, context) -> iterable of Hit
    fix_label: str = "改正"
    # Whether the clerk may mark a finding 核对无误: not an empty figure,
    # which prints ** until it is filled in, whatever anyone checked.
    confirmable: bool = True


@dataclass
class Finding:
    key: str           # the field's key
    part: str          # where in the field: "" (the text), "3.heading" / "3.text" (an item)
    rule: Rule
    start: int
    end: int
    found: str         # the span as it stands
    excerpt: str
    fix: object        # the replacement for the span, or None
    note: str = ""
    # Where a fix changes a number: the sentence as it prints now and after the fix.
    before: str = ""
    after: str = ""
    mark: str = ""     # names the finding across saves (its text, not its place): see `confirmed`
    confirmed: dict = None  # {"by", "at"}: the clerk checked it and found it right

    @property
    def token(self):
        """Names this finding in a fix request; checked again against the stored text."""
        return f"{self.key}|{self.part}|{self.rule.id}|{self.start}|{self.end}"

    @property
    def place(self):
        """第2条标题 / 第2条内容 for an item, nothing for a plain text."""
        if not self.part:
            return ""
        index, _, which = self.part.partition(".")
        return f"第{int(index) + 1}条{'标题' if which == 'heading' else '内容'}"

    @property
    def suggestion(self):
        if self.note:
            return self.note
        if self.fix is not None:
            return f"改为：{self.fix}" if self.fix else "删去"
        return self.rule.advice


class Context:
    """What rules may know beyond the text: the report's figures and labels,
    the year reported on, and whether the text speaks of that year at all
    (a field of plans, `looks_ahead` in the definition, names targets)."""

    def __init__(self, report_type, data, year=None, looks_ahead=False):
        self.report_type = report_type
        self.data = data
        self.year = year
        self.looks_ahead = looks_ahead
        self.counts = {f.label: f for f in report_type.counts}
        self.labels = set(self.counts)
        self.finder = FigureFinder(report_type)


# --- the rules ---------------------------------------------------------------------

def _outside_urls(text, hits):
    """The hits not inside a web or mail address (a dot or quote there is right)."""
    if "." not in text and "@" not in text:
        yield from hits
        return
    spans = [m.span() for m in URL.finditer(text)]
    starts = [a for a, _ in spans]
    for hit in hits:
        i = bisect_right(starts, hit.start) - 1
        if i < 0 or hit.start >= spans[i][1]:
            yield hit


# A pair of half-width parentheses in Chinese text: a Chinese character
# before, after or inside (where one is within 80 characters of the opening).
HALF_PAREN_PAIR = re.compile(rf"(?<={CJK})\(([^()\n]{{0,80}})\)|\(([^()\n]{{0,80}})\)(?={CJK})"
                             rf"|\((?=[^()\n]{{0,80}}?{CJK})([^()\n]{{0,80}})\)")
# A mark beside Chinese text; the mark comes first, as in the patterns below:
# a pattern that starts with its characters lets the engine skip to them.
HALF_MARK = re.compile(rf"[,;:?!.()](?:(?<={CJK_NEAR}[,;:?!()])|(?<={CJK_NEAR}\.)(?![.\d])|(?<=[,;:?!()])(?={CJK}))")


def find_half_width(text, ctx):
    pairs = (Hit(m.start(), m.end(), "（" + m.group(m.lastindex) + "）") for m in HALF_PAREN_PAIR.finditer(text))
    marks = (Hit(m.start(), m.end(), FULL_WIDTH[m.group()]) for m in HALF_MARK.finditer(text))
    return _outside_urls(text, _pairs_first(pairs, marks))


QUOTES = [(quote, left, right, re.compile(f"{quote}([^{quote}\n]{{0,200}}){quote}"),
           re.compile(f"(?<={CJK}){quote}|{quote}(?={CJK})"))
          for quote, left, right in (('"', "“", "”"), ("'", "‘", "’"))]


def find_straight_quotes(text, ctx):
    for quote, left, right, pair, alone in QUOTES:
        if quote not in text:
            continue
        pairs = (Hit(m.start(), m.end(), left + m.group(1) + right) for m in pair.finditer(text)
                 if CJK_CHAR.search(m.group(1)))
        marks = (Hit(m.start(), m.end(), None, "改为中文引号（“ ” 或 ‘ ’）") for m in alone.finditer(text))
        yield from _outside_urls(text, _pairs_first(pairs, marks))


def _pairs_first(pairs, marks):
    """The hits of both in the order of the text, lazily (only the first few
    are shown), a mark that is an end of a pair's hit left to the pair's."""
    pair = next(pairs, None)
    for hit in marks:
        while pair is not None and pair.end <= hit.start:
            yield pair
            pair = next(pairs, None)
        if pair is None or hit.start not in (pair.start, pair.end - 1):
            yield hit
    if pair is not None:
        yield pair
        yield from pairs


PAIR_MARK = re.compile("[" + "".join(left + right for left, right in PAIRS) + "]")
OPENING = {left: right for left, right in PAIRS}
CLOSING = {right: left for left, right in PAIRS}


def find_unpaired(text, ctx):
    """The marks of the text in one pass, a stack of open ones per kind of
    pair, emptied where a paragraph ends (a pair never spans two)."""
    open_at = {left: [] for left in OPENING}
    paragraph_end = -1
    for m in PAIR_MARK.finditer(text):
        c, i = m.group(), m.start()
        if i > paragraph_end:
            yield from _left_open(open_at)
            paragraph_end = text.find("\n", i)
            paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
        if c in OPENING:
            open_at[c].append(i)
        elif open_at[CLOSING[c]]:
            open_at[CLOSING[c]].pop()
        else:
            yield Hit(i, i + 1, None, f"“{c}”前面缺少“{CLOSING[c]}”")
    yield from _left_open(open_at)


def _left_open(open_at):
    for left, stack in open_at.items():
        for i in stack:
            yield Hit(i, i + 1, None, f"“{left}”后面缺少“{OPENING[left]}”")
        stack.clear()


def find_doubled(text, ctx):
    for m in re.finditer(r"([，、；：！？])\1+|。(?<!。。)。(?!。)", text):
        yield Hit(m.start(), m.end(), m.group()[0])


DOTS_AND_DASHES = re.compile(rf"\.\.\.+|。。。+|…(?<!……)(?!…)|………+|-(?<={CJK}-)-+|-(?<!--)-+(?={CJK})|—(?<={CJK}—)(?!—)")


def find_dots_and_dashes(text, ctx):
    for m in DOTS_AND_DASHES.finditer(text):
        yield Hit(m.start(), m.end(), "——" if "-" in m.group() or "—" in m.group() else "……")


PLACEHOLDER = re.compile(r"\{\{[^{}\n]{0,40}\}\}|｛｛[^｛｝\n]{0,40}｝｝|\*\*+|＊＊+|X(?<![A-Za-z]X)[Xx]+(?![A-Za-z])"
                         r"|x(?<![A-Za-z]x)[Xx]+(?![A-Za-z])|Ｘ(?<![A-Za-z]Ｘ)Ｘ+(?![A-Za-z])|××+|某某|\{\{|\}\}|｛｛|｝｝")


def find_placeholders(text, ctx):
    for m in PLACEHOLDER.finditer(text):
        yield Hit(m.start(), m.end(), None, "这里还没有填写，请填上实际内容")
    for m in re.finditer("⟦([^⟦⟧\n]{1,60})⟧", text):
        if m.group(1) not in ctx.labels:
            yield Hit(m.start(), m.end(), None, "引用的数字不存在，请从“插入数字”中重新选择")


def _cn_year(digits):
    return "".join(CN_YEAR_DIGITS[c] for c in digits)


def find_year_forms(text, ctx):
    # Not a duration: 连续20年，近10年来, 第3年 …
    for m in re.finditer(r"(?<![\d０-９.．续近已达共满约第余历])([0-3]\d|9\d)年(?=度|\d{1,2}月|[一二三四五六七八九十]{1,2}月|[，,、初底末])", text):
        two = m.group(1)
        full = ("20" if two < "50" else "19") + two
        yield Hit(m.start(), m.end(), f"{full}年")
    for m in re.finditer(r"([〇零○一二三四五六七八九]{4})年", text):
        yield Hit(m.start(), m.end(), f"{_cn_year(m.group(1))}年")


def find_zero_padded(text, ctx):
    for m in re.finditer(r"(?:(\d{4})年)?(?<!\d)(\d{1,2})月(\d{1,2})日", text):
        year, month, day = m.group(1), m.group(2), m.group(3)
        if month.startswith("0") or day.startswith("0"):
            yield Hit(m.start(), m.end(), f"{year + '年' if year else ''}{int(month)}月{int(day)}日")
    for m in re.finditer(r"(\d{4})年(0\d)月(?!\d{1,2}日)", text):
        yield Hit(m.start(), m.end(), f"{m.group(1)}年{int(m.group(2))}月")


def find_full_width_digits(text, ctx):
    for m in re.finditer(r"[０-９]+(?:[．.][０-９]+)?", text):
        yield Hit(m.start(), m.end(), unicodedata.normalize("NFKC", m.group()))


def find_spaces(text, ctx):
    for m in re.finditer(rf"[ \u3000\u00a0](?<={CJK_NEAR}[ \u3000\u00a0])[ \u3000\u00a0]*(?={CJK_NEAR})", text):
        yield Hit(m.start(), m.end(), "")


# A sentence with these words states a plan, a target or another time than
# the year reported on: its figures are not this year's (比上年增长 compares
# this year's with last year's: still this year's).
NOT_THIS_YEAR = re.compile("力争|争取|力求|计划|目标|预计|预期|(?<![模虚])拟(?![定订])|(?<![比较])(?:去年|上年)|前年|明年|来年"
                           "|今后|下一步|下步|下一年|下年")
YEAR_NAMED = re.compile(r"(?<![\d０-９])((?:19|20)\d{2})年")
SENTENCE_END = re.compile("[。！？!?\n]")


class Sentences:
    """The sentences of one text, found once: where each starts and ends."""

    def __init__(self, text):
        self.text = text
        self.about_other_time = {}

    @cached_property
    def ends(self):
        return [m.end() for m in SENTENCE_END.finditer(self.text)]

    def around(self, start, end=None):
        """(start, end) of the sentence holding text[start:end]."""
        i = bisect_right(self.ends, start)
        left = self.ends[i - 1] if i else 0
        j = bisect_right(self.ends, max(start, (end or start) - 1))
        right = self.ends[j] if j < len(self.ends) else len(self.text)
        return left, right

    def of_other_time(self, start, year):
        """Whether the sentence at `start` plans, targets or names a year not `year`."""
        span = self.around(start)
        if span not in self.about_other_time:
            sentence = self.text[span[0]:span[1]]
            self.about_other_time[span] = bool(NOT_THIS_YEAR.search(sentence)) or any(
                year is None or int(m.group(1)) != year for m in YEAR_NAMED.finditer(sentence))
        return self.about_other_time[span]


def find_figures(text, ctx):
    if ctx.looks_ahead:
        return
    finder = ctx.finder
    sentences = Sentences(text)
    for m in finder.matches(text):
        raw = unicodedata.normalize("NFKC", m.group("num"))
        if not raw[0].isdigit():
            continue
        f = finder.candidates(text, m)
        if f is None:
            continue
        count = ctx.data.get(f.key)
        if count is None:
            continue
        try:
            typed = f.clean(raw)
        except Exception:
            continue
        if typed != count and not sentences.of_other_time(m.start(), ctx.year):
            yield Hit(m.start("num"), m.end("num"), f"⟦{f.label}⟧",
                      f"“{f.label}”填的是 {f.as_text(count)}{f.unit}，这里写的是 {raw}")


def find_empty_figures(text, ctx):
    for m in REFERENCE.finditer(text):
        f = ctx.counts.get(m.group(1))
        if f is not None and ctx.data.get(f.key) is None:
            yield Hit(m.start(), m.end(), None, f"“{f.label}”{EMPTY_NOTE}")


RULES = [
    Rule("half_width", "半角标点", "改为全角标点", find_half_width),
    Rule("straight_quotes", "英文引号", "改为中文引号", find_straight_quotes),
    Rule("unpaired", "引号、括号不成对", "补上另一半或删去多余的一个", find_unpaired),
    Rule("doubled", "标点重复", "删去多余的标点", find_doubled),
    Rule("dots_dashes", "省略号、破折号写法", "省略号写“……”，破折号写“——”", find_dots_and_dashes),
    Rule("placeholder", "未填写的占位符", "填上实际内容", find_placeholders),
    Rule("year", "年份写法", "年份写全，用阿拉伯数字，如 2022年", find_year_forms),
    Rule("zero_date", "日期前面多了 0", "日期不补 0，如 2023年1月6日", find_zero_padded),
    Rule("full_width_digits", "全角数字", "改为半角数字", find_full_width_digits),
    Rule("space", "汉字之间有空格", "删去空格", find_spaces),
    Rule("figure", "数字与数字栏不一致", "改为引用数字", find_figures, fix_label="改为引用数字"),
    Rule("empty_figure", "数字未填", "在数字栏填上数字", find_empty_figures, confirmable=False),
]
EMPTY_NOTE = "数字未填，打印为 **"
# A figure no text refers to prints in the 主要数据 paragraph, `**` as well while empty.
EMPTY_FIGURE = RULES[-1]
# Rules on the whole report rather than on one text.
REPEATED = Rule("repeated", "段落重复", "删去重复的段落", None, fix_label="删去重复段落")
SAME_AS_LAST_YEAR = Rule("same_as_last_year", "与去年相同", "这一项与去年的报告一字不差，请按今年的情况修改", None)
RULES_BY_ID = {rule.id: rule for rule in RULES + [REPEATED, SAME_AS_LAST_YEAR]}


# --- running them ------------------------------------------------------------------

# A line that may be a paragraph worth comparing with the others (10 characters or more).
LONG_LINE = re.compile("[^\n]{10,}")


def texts_of(report_type, data):
    """(field, part, text) for every text of the report, in form order."""
    for f in report_type.fields:
        value = data.get(f.key)
        if f.kind in ("text", "paragraphs") and isinstance(value, str) and value:
            yield f, "", value
        elif f.kind == "items" and isinstance(value, list):
            for i, item in enumerate(value):
                for which in ("heading", "text"):
                    text = item.get(which) if isinstance(item, dict) else None
                    if isinstance(text, str) and text:
                        yield f, f"{i}.{which}", text


def _whole_references(text, left, right):
    """`left` and `right` moved out of any ⟦reference⟧ they would cut."""
    opening = text.rfind("⟦", max(0, left - 61), left)
    if opening >= 0 and text.find("⟧", opening) >= left:
        left = opening
    opening = text.rfind("⟦", max(0, right - 61), right)
    if opening >= 0:
        closing = text.find("⟧", opening)
        if closing >= right:
            right = closing + 1
    return left, right


def excerpt(text, start, end):
    """The span with a little of its paragraph around it, as typed."""
    left = max(0, start - EXCERPT_MARGIN)
    right = min(len(text), end + EXCERPT_MARGIN)
    # Within its own paragraph: a line break in an excerpt reads as two places.
    para_start = text.rfind("\n", 0, start) + 1
    para_end = text.find("\n", end)
    para_end = para_end if para_end >= 0 else len(text)
    left, right = _whole_references(text, max(left, para_start), min(right, para_end))
    return ("…" if left > para_start else "") + text[left:right] + ("…" if right < para_end else "")


SENTENCE_MARGIN = 40


def _numbers(text):
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", unicodedata.normalize("NFKC", text))]


def sentence_change(text, sentences, hit, figures):
    """(before, after): the sentence of a fix that changes a number, as it
    prints now and as it will print, or ("", "") for a fix that changes none."""
    if hit.fix is None or _numbers(text[hit.start:hit.end]) == _numbers(resolve_references(hit.fix, figures)):
        return "", ""
    first, last = sentences.around(hit.start, hit.end)
    left, right = _whole_references(text, max(first, hit.start - SENTENCE_MARGIN),
                                    min(last, hit.end + SENTENCE_MARGIN))
    head = "…" if left > first else ""
    tail = "…" if right < last else ""

    def shown(middle):
        return head + resolve_references(text[left:hit.start] + middle + text[hit.end:right], figures).strip() + tail
    return shown(text[hit.start:hit.end]), shown(hit.fix)


def check(report_type, data, last_data=None, year=None, confirmed=None):
    """Every finding of the report, by field key (form order within each).
    `year` is the year reported on; `confirmed` the marks of findings the
    clerk checked and found right (their `confirmed` is set, see `unconfirmed`)."""
    figures = tuple((f.key, data.get(f.key)) for f in report_type.counts)
    printed = report_type.figures(data)
    found = {}
    seen_paragraphs = {}
    referenced = set()
    for f, part, text in texts_of(report_type, data):
        out = found.setdefault(f.key, [])
        referenced.update(REFERENCE.findall(text))
        sentences = Sentences(text)
        for rule, hit in rule_hits(report_type, figures, text, year, f.looks_ahead):
            raw = excerpt(text, hit.start, hit.end)
            before, after = sentence_change(text, sentences, hit, printed)
            out.append(Finding(f.key, part, rule, hit.start, hit.end, text[hit.start:hit.end],
                               resolve_references(raw, printed), hit.fix, hit.note, before, after,
                               f"{f.key}|{rule.id}|{raw}"))
        if f.kind != "text":
            for line in LONG_LINE.finditer(text):
                start, paragraph = line.start(), line.group()
                words = paragraph.strip()
                if len(words) < 10:
                    continue
                if words in seen_paragraphs:
                    end = start + len(paragraph)
                    # Delete the line with its line break (the one before it, for the last line).
                    span = (start, end + 1) if end < len(text) else (max(0, start - 1), end)
                    out.append(Finding(f.key, part, REPEATED, span[0], span[1], text[span[0]:span[1]],
                                       words[:20] + ("…" if len(words) > 20 else ""), "",
                                       f"与{seen_paragraphs[words]}中的一段相同：删去重复的段落",
                                       mark=f"{f.key}|{REPEATED.id}|{words}"))
                else:
                    seen_paragraphs[words] = f"“{f.label}”"
    for f in report_type.counts:
        if data.get(f.key) is None and f.label not in referenced:
            found.setdefault(f.key, []).append(Finding(
                f.key, "", EMPTY_FIGURE, 0, 0, "", f"主要数据：{f.label}**{f.unit}", None, EMPTY_NOTE,
                mark=f"{f.key}|{EMPTY_FIGURE.id}|"))
    if last_data:
        for f in report_type.fields:
            if f.kind not in ("paragraphs", "items"):  # a name or a post stays the same, rightly
                continue
            value = data.get(f.key)
            if not f.is_empty(value) and value == last_data.get(f.key):
                shown = value if isinstance(value, str) else (value[0].get("heading") or value[0].get("text", ""))
                found.setdefault(f.key, []).append(Finding(
                    f.key, "", SAME_AS_LAST_YEAR, 0, 0, "", shown[:20] + ("…" if len(shown) > 20 else ""), None,
                    mark=f"{f.key}|{SAME_AS_LAST_YEAR.id}|"))
    for key in list(found):
        found[key].sort(key=lambda x: (x.part, x.start))
        for x in found[key]:
            x.confirmed = (confirmed or {}).get(x.mark)
        if not found[key]:
            del found[key]
    return found


@lru_cache(maxsize=512)
def rule_hits(report_type, figures, text, year=None, looks_ahead=False):
    """(rule, hit) of every rule on one text. A text's findings depend only
    on it, its type, the report's figures and year, and whether its field
    looks ahead; an autosave changes one field: kept, the others are not
    read again on every save (a third of a save's time for a full report).
    Report types are built once per version, so they key the cache as they are."""
    ctx = Context(report_type, dict(figures), year, looks_ahead)
    return tuple((rule, hit) for rule in RULES for hit in islice(rule.find(text, ctx), MAX_PER_RULE))


def unconfirmed(found):
    """The findings of `check` nobody has marked 核对无误, as one list: what counts."""
    return [x for items in found.values() for x in items if not x.confirmed]


def all_findings(found, report_type):
    """The findings of `check` as one list in form order."""
    return [x for f in report_type.fields for x in found.get(f.key, [])]


def apply_fix(data, found, token):
    """New data with the one fix `token` names (among `found`, the findings
    of `check` on `data`), or None when that finding is no longer there (the
    text changed since) or has no certain fix."""
    key, _, rest = token.partition("|")
    wanted = next((x for x in found.get(key, []) if x.token == token), None)
    if wanted is None or wanted.fix is None:
        return None
    new = dict(data)
    if not wanted.part:
        text = data[key]
        new[key] = text[:wanted.start] + wanted.fix + text[wanted.end:]
    else:
        index, _, which = wanted.part.partition(".")
        items = [dict(item) for item in data[key]]
        text = items[int(index)][which]
        items[int(index)][which] = text[:wanted.start] + wanted.fix + text[wanted.end:]
        new[key] = items
    return new
