"""Report types: a definition per type, and what the app does with one.

A definition is a JSON-able dict: `name`, `title` (the document's title,
"\n" where it breaks into lines, 【年度】【单位】【职务】 filled from the
round and the unit) and `sections`, each a title and its fields (key, kind,
label, unit, required, hint, default, model_text, bounds). Nothing else in
the app knows a field by name: the fill page, validation, the
missing-figures list and the .docx context are all derived from it here.

Definitions live in the database (models.ReportTypeRecord / TypeVersion,
one immutable row per version); the built-in ones ship as `<stem>.json` in
this folder and are loaded from there. `<stem>.demo.json`, when present,
holds the figures the demo fills in.
"""
import copy
import json
import re
from functools import cache
from pathlib import Path

from .kinds import KINDS, Invalid, clean_text, cn_date, fill_placeholders, find_references

HERE = Path(__file__).parent
BUILTIN = ("annual_report", "village_report")  # the seed's township type first
# Keys name form inputs and JSON paths in SQL: plain identifiers only.
KEY = re.compile(r"[a-z][a-z0-9_]{0,59}")
# Names the document's context gives besides the fields (documents/official.py),
# and Jinja's own words: a key is a variable of the generated Word template.
RESERVED_KEYS = {"title_lines", "main_figures", "doc_headings", "doc_labels", "doc_last_text",
                 "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "loop", "self"}


class ReportType:
    """One version of a type. Immutable: built once per version and cached."""

    def __init__(self, definition, type_id=None, version_id=None, version=None):
        """Raises ValueError for a definition no report can be filled in."""
        try:
            self._build(definition)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a report type definition: {e!r}") from None
        self.type_id, self.version_id, self.version = type_id, version_id, version

    def _build(self, definition):
        self.definition = copy.deepcopy(definition)
        self.name = definition["name"]
        self.title = definition["title"]
        self.sections = []
        for s in definition["sections"]:
            fields = []
            for f in s["fields"]:
                if f.get("kind") not in KINDS:
                    raise ValueError(f"{self.name}: unknown kind {f.get('kind')!r}")
                if not KEY.fullmatch(str(f.get("key", ""))) or f["key"] in RESERVED_KEYS:
                    raise ValueError(f"{self.name}: bad field key {f.get('key')!r}")
                fields.append(KINDS[f["kind"]](f))
            self.sections.append({"title": s["title"], "fields": fields})
        self.fields = [f for s in self.sections for f in s["fields"]]
        self.by_key = {f.key: f for f in self.fields}
        # Every figure, whole or decimal: sums, tables and references use these.
        self.figures_fields = self.counts = [f for f in self.fields if f.is_figure]
        self.count_by_label = {f.label: f for f in self.counts}
        if len(self.by_key) != len(self.fields) or len(self.count_by_label) != len(self.counts):
            raise ValueError(f"{self.name}: field keys and figure labels must be unique")

    def __repr__(self):
        return f"<ReportType {self.name} type={self.type_id} v{self.version}>"

    # --- building and reading data ------------------------------------------

    def initial_data(self, meta):
        """A new report: every field's default, with 【年度】【单位】【职务】 filled in."""
        return {f.key: f.initial(meta) for f in self.fields}

    def model_data(self, meta):
        """A report written from the model texts (参考范文) where a field has
        one, its default elsewhere: what the demo township shows. What a
        report gets from last year's 整改台账 (整改 = 上年) stays empty."""
        data = self.initial_data(meta)
        for f in self.fields:
            model = f.model(meta) if f.ledger != "last_year" else None
            if model:
                data[f.key] = model
        return data

    def carried_into(self, data, meta):
        """`data` of an earlier version of this type, fitted to this one:
        values of keys this version still has are kept (cleaned, or the
        initial value when this version refuses them), new fields get their
        initial value, fields this version dropped are left out."""
        fitted = {}
        for f in self.fields:
            if f.key in data:
                try:
                    fitted[f.key] = f.clean(data[f.key])
                    continue
                except Invalid:
                    pass
            fitted[f.key] = f.initial(meta)
        return fitted

    def values_from(self, other, data):
        """`data` of a report of type `other` (last year's), by this type's
        keys: each field takes the value of `other`'s field of its key, or
        else of its 项目名称 (a type made from another's 字段表 has keys of
        its own), where that field is of the same kind. Fields without one
        are left out."""
        by_label = {f.label: f for f in other.fields}
        found = {}
        for f in self.fields:
            source = other.by_key.get(f.key)
            if source is None or source.kind != f.kind:
                source = by_label.get(f.label)
            if source is not None and source.kind == f.kind and source.key in data:
                found[f.key] = data[source.key]
        return found

    def parse_form(self, form, current):
        """Form data -> (new data, {key: message}).

        A value that cannot be stored keeps the field's current value and
        gets a message; every other field is taken, so one bad figure never
        costs the rest of a save. Fields absent from the form are kept.
        """
        values, refused = self.read_form(form)
        data = {**current, **values}
        errors = {key: message for key, (_, message) in refused.items()}
        for key, message in self.warnings(data).items():
            errors.setdefault(key, message)
        return data, errors

    def read_form(self, form):
        """The fields the form sent: ({key: clean value}, {key: (as typed, message)})."""
        values, refused = {}, {}
        for f in self.fields:
            raw = f.from_form(form)
            if raw is None:
                continue
            try:
                values[f.key] = f.clean(raw)
            except Invalid as e:
                refused[f.key] = (raw, str(e))
        return values, refused

    def parse_json(self, obj, current):
        """Uploaded JSON -> (data, {key: message}), with the form's messages."""
        if not isinstance(obj, dict):
            return current, {"": "这不是本系统导出的数据文件：内容应为一份报告（JSON 对象 { … }）。"}
        data, errors = dict(current), {}
        for key in obj:
            if key not in self.by_key:
                errors[key] = f"未知字段「{key}」"
        for f in self.fields:
            if f.key in obj:
                try:
                    data[f.key] = f.clean(obj[f.key])
                except Invalid as e:
                    errors[f.key] = str(e)
        for key, message in self.warnings(data).items():
            errors.setdefault(key, message)
        return data, errors

    def warnings(self, data):
        """Stored but wrong: references to figures this report does not have."""
        found = {}
        for f in self.fields:
            unknown = [label for label in f.references(data.get(f.key)) if label not in self.count_by_label]
            if unknown:
                found[f.key] = "引用了不存在的数字：" + "、".join(f"「{u}」" for u in unknown)
        return found

    def model_text_warnings(self):
        """{key: message} for 参考范文 that refer to figures this type lacks
        (a figure removed or renamed while its model text still names it):
        for whoever edits the type to show before saving it."""
        meta = {"year": "", "unit_name": "", "secretary_title": ""}
        return {key: message.replace("引用了", "参考范文引用了")
                for key, message in self.warnings({f.key: f.model(meta) for f in self.fields}).items()}

    def missing(self, data):
        """Required fields still empty, in form order."""
        return [f for f in self.fields if f.required and f.is_empty(data.get(f.key))]

    def apply_op(self, data, op):
        """An item operation from the page ("add:plans", "up:duties:2" …).

        Returns the key of the field it changed, or None for an unknown op.
        """
        verb, _, rest = op.partition(":")
        key, _, index = rest.partition(":")
        f = self.by_key.get(key)
        if f is None or f.kind != "items":
            return None
        items = list(data.get(key) or [])
        i = int(index) if index.isdigit() else -1
        if verb == "add" and len(items) < f.max_items:
            items.append({"heading": "", "text": ""})
        elif verb == "remove" and 0 <= i < len(items):
            del items[i]
        elif verb == "up" and 0 < i < len(items):
            items[i - 1], items[i] = items[i], items[i - 1]
        elif verb == "down" and 0 <= i < len(items) - 1:
            items[i + 1], items[i] = items[i], items[i + 1]
        data[key] = items
        return key

    # --- the document -------------------------------------------------------

    def title_lines(self, meta):
        return [line for line in fill_placeholders(self.title, meta).split("\n") if line.strip()]

    def filename(self, meta):
        return "".join(self.title_lines(meta)) + ".docx"

    def figures(self, data):
        """label -> number as printed (`**` while empty), for references."""
        return {f.label: f.as_text(data.get(f.key)) for f in self.counts}

    def unreferenced_figures(self, data, placed=()):
        """The figures no text of `data` refers to (and whose keys are not in
        `placed`: an office's template may print a figure itself), in form order."""
        referenced = {label for f in self.fields for label in f.references(data.get(f.key))}
        return [f for f in self.counts if f.label not in referenced and f.key not in placed]

    def main_figures(self, data, figures, placed=()):
        """Every figure reaches the document: those the text does not state
        are listed in one 主要数据 paragraph after the last section."""
        rest = self.unreferenced_figures(data, placed)
        if not rest:
            return []
        return ["主要数据：" + "，".join(f"{f.label}{figures[f.label]}{f.unit}" for f in rest) + "。"]

    def docx_context(self, data, meta):
        figures = self.figures(data)
        context = {f.key: f.docx_value(data.get(f.key), figures) for f in self.fields}
        context["title_lines"] = [clean_text(line) for line in self.title_lines(meta)]
        context["main_figures"] = self.main_figures(data, figures)
        return context


def read_report_json(raw):
    """Bytes of an uploaded or imported file -> (object, None) or (None, message).

    The web upload and `flask report import` both read through here, so a
    bad file gets the same Chinese message either way.
    """
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, ("这不是本系统的数据文件：数据文件是“导出数据文件”得到的 .json 文件，用于备份或在电脑之间搬运报告。"
                      "Word 文件请用“从 Word 导入”。")
    if not text.strip():
        return None, "文件是空的。"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, (f"数据文件已损坏或被改动过：第 {e.lineno} 行第 {e.colno} 个字符附近有误（不是有效的 JSON）。"
                      "请重新从本系统“导出数据文件”。")
    except ValueError:  # an integer of thousands of digits
        return None, "文件中有过长的数字。"
    except RecursionError:
        return None, "文件不是本系统导出的报告：嵌套层数过多。"


def builtin_definition(stem):
    """The definition file of a built-in type, as a dict."""
    return json.loads((HERE / f"{stem}.json").read_text(encoding="utf-8"))


@cache
def builtin_type(stem):
    """A built-in type as its file says, without database ids: for checks
    that need no database (tests, tools). Pages use `report.report_type`."""
    return ReportType(builtin_definition(stem))


def builtin_demo_figures(stem):
    path = HERE / f"{stem}.demo.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


__all__ = ["ReportType", "BUILTIN", "builtin_definition", "builtin_type", "builtin_demo_figures",
           "read_report_json", "Invalid", "clean_text", "cn_date", "fill_placeholders", "find_references"]
