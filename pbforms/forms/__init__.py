"""Report types: a definition file per type, and what the app does with one.

A definition (`<id>.json` in this folder) names every field of a report with
its kind, Chinese label, unit, bounds and default text. Nothing else in the
app knows a field by name: the fill page, validation, the missing-figures
list and the .docx context are all derived from the definition here.
`<id>.demo.json`, when present, holds the figures the demo fills in.
"""
import json
from functools import cache
from pathlib import Path

from .kinds import KINDS, Invalid, clean_text, cn_date, find_references

HERE = Path(__file__).parent


class ReportType:
    def __init__(self, definition):
        self.id = definition["id"]
        self.name = definition["name"]
        self.template = definition["template"]
        self.title_lines_format = definition["title_lines"]
        self.sections = [
            {"title": s["title"], "fields": [KINDS[f["kind"]](f) for f in s["fields"]]}
            for s in definition["sections"]
        ]
        self.fields = [f for s in self.sections for f in s["fields"]]
        self.by_key = {f.key: f for f in self.fields}
        self.counts = [f for f in self.fields if f.kind == "count"]
        self.count_by_label = {f.label: f for f in self.counts}
        if len(self.by_key) != len(self.fields) or len(self.count_by_label) != len(self.counts):
            raise ValueError(f"{self.id}: field keys and count labels must be unique")

    # --- building and reading data ------------------------------------------

    def initial_data(self, meta):
        """A new report: every field's default, with the unit's name filled in."""
        return {f.key: f.initial(meta) for f in self.fields}

    def demo_data(self, meta):
        path = HERE / f"{self.id}.demo.json"
        data = self.initial_data(meta)
        if path.exists():
            data.update(json.loads(path.read_text(encoding="utf-8")))
        return data

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
            return current, {"": "文件内容应为 JSON 对象（{ … }）"}
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
        return [line.format_map(meta) for line in self.title_lines_format]

    def filename(self, meta):
        return "".join(self.title_lines(meta)) + ".docx"

    def figures(self, data):
        """label -> number as printed (`**` while empty), for references."""
        return {f.label: f.as_text(data.get(f.key)) for f in self.counts}

    def docx_context(self, data, meta):
        figures = self.figures(data)
        context = {f.key: f.docx_value(data.get(f.key), figures) for f in self.fields}
        context["title_lines"] = [clean_text(line) for line in self.title_lines(meta)]
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
        return None, "文件不是 UTF-8 编码的文本，请选用本系统“导出 JSON”得到的文件（记事本可“另存为”UTF-8）。"
    if not text.strip():
        return None, "文件是空的。"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, f"文件不是有效的 JSON：第 {e.lineno} 行第 {e.colno} 个字符附近有误，请检查后重新上传。"
    except ValueError:  # an integer of thousands of digits
        return None, "文件中有过长的数字。"
    except RecursionError:
        return None, "文件不是本系统导出的报告：嵌套层数过多。"


@cache
def report_types():
    found = {}
    for path in sorted(HERE.glob("*.json")):
        if path.name.endswith(".demo.json"):
            continue
        rt = ReportType(json.loads(path.read_text(encoding="utf-8")))
        found[rt.id] = rt
    return found


def get_report_type(type_id):
    return report_types()[type_id]


__all__ = ["ReportType", "report_types", "get_report_type", "read_report_json", "Invalid", "clean_text",
           "cn_date", "find_references"]
