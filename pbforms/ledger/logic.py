"""The ledger's rules that need no database: which items of a report become
entries, what a next year's report starts with, and what an entry's inputs
may hold (with the message in Chinese shown beside the input)."""
import datetime

from ..forms import clean_text
from ..forms.kinds import Items

MEASURES_MAX, OWNER_MAX, RESULT_MAX, PROBLEM_MAX, COMMENT_MAX = 2000, 60, 5000, 2000, 2000


def problem_text(item):
    """An item of a 整改 field as the entry's 问题: its heading, or its text when it has none."""
    return " ".join((item.get("heading") or "").split()) or " ".join((item.get("text") or "").split())


def problems_of(report_type, data):
    """[(position, 问题)] of the items of the type's 整改 = 是 fields, empty items left out.
    Positions run on across fields, so each item of a report has its own."""
    found, position = [], 0
    for f in report_type.fields:
        if f.ledger != "problems":
            continue
        for item in data.get(f.key) or []:
            text = problem_text(item)[:PROBLEM_MAX]
            if text:
                found.append((position, text))
            position += 1
    return found


def carried_items(entries, field):
    """A next year's report's items for a 整改 = 上年 field: one per entry,
    the 问题 as its heading and the 完成情况 as its text (as many as the field holds)."""
    return [{"heading": e.problem[:Items.HEADING_MAX], "text": e.result} for e in entries][:field.max_items]


def carry_into(report_type, data, entries):
    """`data` of a new report with its 整改 = 上年 fields filled from `entries`
    (left as they are when there are none)."""
    if not entries:
        return data
    return {**data, **{f.key: carried_items(entries, f) for f in report_type.fields if f.ledger == "last_year"}}


def unfinished_unexplained(report_type, data, entries):
    """The 问题 of entries still 整改中 whose item in the report's 整改 = 上年
    field has no text: submitting asks first."""
    open_problems = {e.problem[:Items.HEADING_MAX] for e in entries if e.status == "open"}
    return [item["heading"] for f in report_type.fields if f.ledger == "last_year"
            for item in data.get(f.key) or [] if item["heading"] in open_problems and not item["text"].strip()]


def read_entry_form(form):
    """The inputs of an entry (整改措施, 责任人, 完成时限, 完成情况) as posted:
    ({column: value}, {column: message}). Inputs not posted are left out."""
    values, errors = {}, {}
    for name, limit in (("measures", MEASURES_MAX), ("owner", OWNER_MAX), ("result", RESULT_MAX)):
        if name in form:
            text = clean_text(form[name]).strip()
            if name == "owner":
                text = " ".join(text.split())
            if len(text) > limit:
                errors[name] = f"最多 {limit} 个字，现在 {len(text)} 个字"
            else:
                values[name] = text
    if "due" in form:
        raw = form["due"].strip()
        try:
            values["due"] = datetime.date.fromisoformat(raw) if raw else None
        except ValueError:
            errors["due"] = "完成时限应为日期，如 2024-06-30"
    return values, errors


def done_refusal(result):
    """Why an entry cannot be marked 已完成 with this 完成情况, or None."""
    return None if result.strip() else "标记完成前请填写完成情况：整改做了什么、结果如何。"


def comment_text(raw, what="意见"):
    """A comment or a 问题 typed by the office: (text, message or None)."""
    text = clean_text(raw or "").strip()
    if not text:
        return text, f"请填写{what}。"
    if len(text) > COMMENT_MAX:
        return text, f"{what}最多 {COMMENT_MAX} 个字，现在 {len(text)} 个字。"
    return text, None
