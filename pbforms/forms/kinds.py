"""The kinds of field a report definition can use.

Each kind knows how to read its raw value (from a form post or from JSON),
clean and check it with a message in Chinese, tell whether it is empty, and
turn a stored value into what the Word template prints. Form posts and JSON
uploads go through the same `clean`, so both give the same messages.
"""
import datetime
import re
import unicodedata
from decimal import Decimal, InvalidOperation

# Characters XML 1.0 forbids (tab, LF and CR are allowed), plus U+FFFE/U+FFFF
# and lone surrogates: Word refuses a file containing any of them.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# A reference to a count field inside narrative text: ⟦label⟧. The brackets
# (U+27E6/U+27E7) never occur in ordinary report text, and the syntax is not
# Jinja, so user text is never evaluated as a template.
REFERENCE = re.compile("⟦([^⟦⟧\n]{1,60})⟧")

# A figure as typed (after NFKC, so １２ is 12): commas only between
# thousands, so "1,2" is refused instead of read as 12.
NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d{1,3}(?:,\d{3})+|\d*)(?:\.(?P<fraction>\d*))?")

CHINESE_DIGITS = "零一二三四五六七八九"
MISSING = "**"


class Invalid(ValueError):
    """A value that cannot be stored; the message is shown next to the field."""


def clean_text(value):
    """Normalise line ends to LF and drop what XML cannot carry."""
    return XML_FORBIDDEN.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))


# What definition text (title, defaults, model text) may say about the
# report it belongs to, filled from the round and the unit.
PLACEHOLDERS = {"【年度】": "year", "【单位】": "unit_name", "【职务】": "secretary_title"}
PLACEHOLDER = re.compile("|".join(map(re.escape, PLACEHOLDERS)))


def fill_placeholders(text, meta):
    """【年度】【单位】【职务】 -> the round's year, the unit's name and its
    secretary's title. The one place definition text meets a report's facts;
    nothing else in the text is interpreted (no format strings, no Jinja)."""
    return PLACEHOLDER.sub(lambda m: str(meta.get(PLACEHOLDERS[m.group(0)], "")), text or "")


def fill_items(items, meta):
    return [{"heading": fill_placeholders(item.get("heading", ""), meta),
             "text": fill_placeholders(item.get("text", ""), meta)} for item in items or []]


def find_references(text):
    return REFERENCE.findall(text or "")


def resolve_references(text, figures):
    """Replace each ⟦label⟧ by its figure; an unknown label stays visible as written."""
    return REFERENCE.sub(lambda m: figures.get(m.group(1), m.group(0)), text)


def split_paragraphs(text):
    return [line.strip() for line in (text or "").split("\n") if line.strip()]


CHINESE_UNITS = ((10000, "万"), (1000, "千"), (100, "百"), (10, "十"))


def chinese_number(n, leading=True):
    """1 -> 一, 10 -> 十, 12 -> 十二, 100 -> 一百, 105 -> 一百零五, 110 -> 一百一十:
    an item's ordinal however many items a list holds. `leading`: a 十 that
    starts the number reads without 一 (十二, but 一百一十)."""
    if n < 10:
        return CHINESE_DIGITS[n]
    for size, name in CHINESE_UNITS:
        if n >= size:
            head, rest = divmod(n, size)
            text = ("" if leading and size == 10 and head == 1 else chinese_number(head, leading)) + name
            if rest:
                text += ("零" if rest < size // 10 else "") + chinese_number(rest, leading=False)
            return text


class Field:
    kind = None
    empty = None
    is_figure = False  # count and amount: summed, referenced from text, shown in tables

    def __init__(self, spec):
        self.key = spec["key"]
        self.label = spec["label"]
        self.required = spec.get("required", False)
        self.hint = spec.get("hint", "")
        self.unit = spec.get("unit", "")
        self.default = spec.get("default", self.empty)
        # 参考范文: shown beside the field and inserted on request, never
        # stored in a report by itself. Same shape as the field's value.
        self.model_text = spec.get("model_text", self.empty)
        self.max_length = spec.get("max_length", 50000)
        # The field writes about what comes next (下步打算): its figures are
        # targets, not the year's, so the proof-reader compares none of them.
        self.looks_ahead = spec.get("looks_ahead", False)
        # 整改 (条目 only): "problems" feeds the 整改台账, "last_year" is filled from it.
        self.ledger = spec.get("ledger")
        self.spec = spec

    def initial(self, meta):
        return self.default

    def model(self, meta):
        """The model text with 【年度】【单位】【职务】 filled in, or None."""
        return None

    def from_form(self, form):
        return form.get(self.key)

    def is_empty(self, value):
        return value in (None, "", [])

    def references(self, value):
        return []

    def _clean_string(self, raw):
        if not isinstance(raw, str):
            raise Invalid("应为文字")
        value = clean_text(raw)
        if len(value) > self.max_length:
            raise Invalid(f"最多 {self.max_length} 个字，现在 {len(value)} 个字")
        return value


class Count(Field):
    """A whole number with its unit (次、名、份、个、件)."""

    kind = "count"
    is_figure = True

    def __init__(self, spec):
        super().__init__(spec)
        self.minimum = spec.get("min", 0)
        self.maximum = spec.get("max", 99999)
        # The township's figure is the sum of its villages' (发展党员, 为民办结实事 …),
        # unlike its own meetings: the "汇总各村数字" button offers these.
        self.sum_of_units = spec.get("sum_of_units", False)

    def clean(self, raw):
        if raw is None:
            return None
        if isinstance(raw, bool):
            raise Invalid("请填写整数，如 12")
        if isinstance(raw, float):
            if not raw.is_integer():
                raise Invalid("请填写整数，不能有小数")
            raw = int(raw)
        if isinstance(raw, str):
            text = unicodedata.normalize("NFKC", raw).strip()
            if text == "":
                return None
            match = NUMBER.fullmatch(text)
            if match is None or not (match["whole"] or match["fraction"]):
                raise Invalid("请填写数字，如 12")
            if (match["fraction"] or "").strip("0"):
                raise Invalid("请填写整数，不能有小数")
            digits = match["whole"].replace(",", "").lstrip("0") or "0"
            # Python refuses to convert a string of thousands of digits; any
            # number this long is out of bounds anyway.
            raw = int(match["sign"] + digits) if len(digits) <= 18 else int(match["sign"] + "1" + "0" * 18)
        if not isinstance(raw, int):
            raise Invalid("请填写整数，如 12")
        if raw < self.minimum:
            raise Invalid("不能为负数" if self.minimum == 0 else f"不能小于 {self.minimum}")
        if raw > self.maximum:
            raise Invalid(f"不能超过 {self.maximum}")
        return raw

    def as_text(self, value):
        return MISSING if value is None else str(value)

    def total(self, values):
        """The sum of stored values, empty ones left out."""
        return sum(v for v in values if v is not None)

    def docx_value(self, value, figures):
        return self.as_text(value)


class Amount(Count):
    """A figure with decimals (村集体经济收入 12.5 万元): `decimals` places at most.

    Stored as a JSON number rounded to its places; printed with exactly
    that many (12.5, 3.0), `**` while empty. Sums go through Decimal, so
    0.1 + 0.2 is 0.3 in every table.
    """

    kind = "amount"

    def __init__(self, spec):
        super().__init__(spec)
        self.decimals = int(spec.get("decimals", 1))
        if not 0 <= self.decimals <= 6:
            raise ValueError(f"{self.key}: decimals must be 0 to 6")
        self.maximum = spec.get("max", 999999999)

    def example(self):
        return "12." + "5" * self.decimals if self.decimals else "12"

    def clean(self, raw):
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise Invalid(f"请填写数字，如 {self.example()}")
        if isinstance(raw, str):
            text = unicodedata.normalize("NFKC", raw).strip()
            if text == "":
                return None
            match = NUMBER.fullmatch(text)
            if match is None or not (match["whole"] or match["fraction"]):
                raise Invalid(f"请填写数字，如 {self.example()}")
            whole = match["whole"].replace(",", "").lstrip("0") or "0"
            if len(whole) > 18:
                raise Invalid(f"不能超过 {self.maximum}")
            value = Decimal(f"{match['sign']}{whole}.{match['fraction'] or '0'}")
        else:
            try:
                value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
            except InvalidOperation:
                raise Invalid(f"请填写数字，如 {self.example()}") from None
            if not value.is_finite():
                raise Invalid(f"请填写数字，如 {self.example()}")
        if value < self.minimum:
            raise Invalid("不能为负数" if self.minimum == 0 else f"不能小于 {self.minimum}")
        if value > self.maximum:
            raise Invalid(f"不能超过 {self.maximum}")
        if value != round(value, self.decimals):
            raise Invalid(f"最多保留 {self.decimals} 位小数" if self.decimals else "请填写整数，不能有小数")
        return float(value) if self.decimals else int(value)

    def as_text(self, value):
        if value is None:
            return MISSING
        return f"{Decimal(repr(value)) if isinstance(value, float) else Decimal(value):.{self.decimals}f}"

    def total(self, values):
        """The sum of stored values, exact to the field's places."""
        found = sum((Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in values if v is not None),
                    Decimal(0))
        return float(found) if self.decimals else int(found)


class Text(Field):
    """One line: a name, a title."""

    kind = "text"
    empty = ""

    def __init__(self, spec):
        super().__init__(spec)
        self.max_length = spec.get("max_length", 100)

    def initial(self, meta):
        return fill_placeholders(self.default, meta)

    def model(self, meta):
        return fill_placeholders(self.model_text, meta) if self.model_text else None

    def clean(self, raw):
        """Pasted line breaks become single spaces: the field prints on one line."""
        return " ".join(split_paragraphs(self._clean_string(raw)))

    def docx_value(self, value, figures):
        return clean_text(value or "")


class Paragraphs(Field):
    """Narrative: each line is its own Word paragraph; may reference counts."""

    kind = "paragraphs"
    empty = ""

    def initial(self, meta):
        return fill_placeholders(self.default, meta)

    def model(self, meta):
        return fill_placeholders(self.model_text, meta) if self.model_text else None

    def clean(self, raw):
        return self._clean_string(raw)

    def is_empty(self, value):
        return not split_paragraphs(value)

    def references(self, value):
        return find_references(value)

    def docx_value(self, value, figures):
        return [resolve_references(p, figures) for p in split_paragraphs(clean_text(value or ""))]


class Items(Field):
    """一是…二是…: a list of items, each a heading and paragraphs.

    The ordinal comes from the position, so moving an item renumbers it. With
    `one_paragraph`, the items run on in a single Word paragraph, as the
    seed's 存在问题 does.
    """

    kind = "items"
    empty = []
    HEADING_MAX = 200
    CLOSING = "。！？；：.!?;:"

    def __init__(self, spec):
        super().__init__(spec)
        self.item_label = spec.get("item_label", "")
        self.one_paragraph = spec.get("one_paragraph", False)
        self.max_items = spec.get("max_items", 20)

    def initial(self, meta):
        return fill_items(self.default, meta)

    def model(self, meta):
        return fill_items(self.model_text, meta) if self.model_text else None

    def ordinal(self, index):
        return chinese_number(index + 1) + "是"

    def from_form(self, form):
        if f"{self.key}-present" not in form:
            return None
        items, i = [], 0
        while f"{self.key}-{i}-heading" in form or f"{self.key}-{i}-text" in form:
            items.append({"heading": form.get(f"{self.key}-{i}-heading", ""),
                          "text": form.get(f"{self.key}-{i}-text", "")})
            i += 1
        return items

    def clean(self, raw):
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise Invalid("应为条目列表")
        if len(raw) > self.max_items:
            raise Invalid(f"最多 {self.max_items} 条")
        items = []
        for n, item in enumerate(raw, start=1):
            heading, text = item.get("heading", ""), item.get("text", "")
            if not isinstance(heading, str) or not isinstance(text, str):
                raise Invalid(f"第 {n} 条应为文字")
            heading = " ".join(split_paragraphs(clean_text(heading)))
            if len(heading) > self.HEADING_MAX:
                raise Invalid(f"第 {n} 条的标题最多 {self.HEADING_MAX} 个字")
            text = clean_text(text)
            if len(text) > self.max_length:
                raise Invalid(f"第 {n} 条的内容最多 {self.max_length} 个字")
            items.append({"heading": heading, "text": text})
        return items

    def is_empty(self, value):
        return not any(split_paragraphs(item["text"]) or item["heading"] for item in value or [])

    def references(self, value):
        return [ref for item in value or [] for ref in find_references(item["heading"] + item["text"])]

    def docx_value(self, value, figures):
        paragraphs = []
        filled = [item for item in value or [] if item["heading"].strip() or split_paragraphs(item["text"])]
        for n, item in enumerate(filled):
            heading = clean_text(item["heading"]).strip()
            if heading and heading[-1] not in self.CLOSING:
                heading += "。"
            body = split_paragraphs(clean_text(item["text"]))
            first = self.ordinal(n) + heading + (body[0] if body else "")
            paragraphs += [resolve_references(p, figures) for p in [first] + body[1:]]
            if self.one_paragraph:
                paragraphs = ["".join(paragraphs)]
        return paragraphs


def cn_date(day):
    """2023年1月6日: how a date is written in Chinese official text, no zero padding."""
    return f"{day.year}年{day.month}月{day.day}日"


class Date(Field):
    """成文日期: stored as ISO, printed 2023年1月6日 (no zero padding)."""

    kind = "date"
    empty = ""

    def clean(self, raw):
        if raw in (None, ""):
            return ""
        if not isinstance(raw, str):
            raise Invalid("日期格式应为 2023-01-06")
        try:
            day = datetime.date.fromisoformat(raw.strip())
        except ValueError:
            raise Invalid("日期格式应为 2023-01-06") from None
        if not 2000 <= day.year <= 2100:
            raise Invalid("年份应在 2000 至 2100 之间")
        return day.isoformat()

    def docx_value(self, value, figures):
        if not value:
            return "　　年　月　日"
        return cn_date(datetime.date.fromisoformat(value))


KINDS = {cls.kind: cls for cls in (Count, Amount, Text, Paragraphs, Items, Date)}
