"""Field-level merge: a save from a page that is behind the report.

Every field of the fill page carries the digest of the value it was shown
with (its base, a hidden `base-<key>` input, renewed by each save). A save
then needs no stored copy of the version it started from: per field,

- the page's value equals the stored one: nothing to do;
- the stored value is still the base: only this page changed it, take it;
- the page's value is still the base: only someone else changed it, keep
  theirs (and show it on the page);
- both differ from the base: a conflict, unless the field is a list of
  items of the same length on all three sides with no item changed on both
  sides, which merges item by item.

A conflict keeps the stored value; the page's value is kept as typed with
the report (`Report.pending`) and shown side by side with the stored one
until the clerk chooses. A value the server refuses is kept there too, with
its message, within a bound (`keep_as_typed`). A page that sends no base
(a form of an older page, a JSON upload) may change a field only when its
version is current. An autosave sends only the fields changed since the
page's last save, with every field's base.
"""
import hashlib
import json
from dataclasses import dataclass, field

# The base a field in conflict is shown with: matches no value, so the
# field stays in conflict until the clerk chooses.
UNDECIDED = "undecided"
ITEMS = "items:"


def digest(value):
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def base_of(f, value):
    """The base the page keeps for field `f` showing `value`; for items, one digest an item."""
    if f.kind == "items":
        return ITEMS + ".".join(digest(item) for item in value or [])
    return digest(value)


def page_bases(report_type, data, pending, keys=None):
    """The base of every field (of those of `keys`) for a page showing
    `data`; fields in conflict stay undecided."""
    return {f.key: UNDECIDED if (pending.get(f.key) or {}).get("conflict") else base_of(f, data.get(f.key))
            for f in report_type.fields if keys is None or f.key in keys}


def merge_items(f, base, mine, theirs):
    """Items merged one by one, or None when that is not clear (lengths differ,
    or one item changed on both sides)."""
    if not base.startswith(ITEMS):
        return None
    digests = base[len(ITEMS):].split(".") if base != ITEMS else []
    if not len(digests) == len(mine) == len(theirs):
        return None
    merged = []
    for was, m, t in zip(digests, mine, theirs):
        if m == t or digest(t) == was:
            merged.append(m)
        elif digest(m) == was:
            merged.append(t)
        else:
            return None
    return merged


# What a report keeps as typed: at most KEEP_CHARS characters (of their
# JSON) all together, and a list at most KEEP_ITEMS items. Refused input is
# kept so that a reload loses none of it, and the fill page shows all of
# it: unbounded, one clerk's paste (or anyone's script) would make that
# page megabytes long. Past the bound the typing stays on the page and in
# the browser's copy, and the message says so.
KEEP_CHARS = 200_000
KEEP_ITEMS = 100
CONFLICT_MESSAGE = "您和另一个页面或其他人都改了这一项"
NOT_KEPT = "。内容太多，服务器没有暂存：请删减后再保存，删减之前请不要刷新或关闭本页"


def size(value):
    return len(json.dumps(value, ensure_ascii=False))


def keep_as_typed(pending, refused, conflicts, sent):
    """The values kept with a report after a save, and the messages of
    refused values past the bound, not kept. Kept values of fields the page
    did not send stay; a field sent is cleared, or kept anew when refused
    (`refused`: {key: (as typed, message)}) or in conflict (`conflicts`:
    {key: the page's value}, always kept: it is a valid value)."""
    kept = {key: p for key, p in pending.items() if key not in sent and key not in refused}
    for key, mine in conflicts.items():
        kept[key] = {"value": mine, "message": CONFLICT_MESSAGE, "conflict": True}
    total, too_much = size(kept), {}
    # Those kept before first: a new one does not push out what a reload shows now.
    for key, (typed, message) in sorted(refused.items(), key=lambda r: r[0] not in pending):
        entry = {"value": typed, "message": message}
        if (isinstance(typed, list) and len(typed) > KEEP_ITEMS) or total + size(entry) > KEEP_CHARS:
            too_much[key] = message + NOT_KEPT
        else:
            kept[key] = entry
            total += size(entry)
    return kept, too_much


def within_bound(pending):
    """A report's kept values as the page may show them, and the messages of
    those past the bound (kept before there was one): the page stays small,
    and the next save stores no more than it shows."""
    refused = {key: (p["value"], p["message"]) for key, p in pending.items() if not p.get("conflict")}
    conflicts = {key: p["value"] for key, p in pending.items() if p.get("conflict")}
    return keep_as_typed({}, refused, conflicts, ())


@dataclass
class Merge:
    data: dict
    sent: list = field(default_factory=list)  # keys of the fields the page sent
    applied: list = field(default_factory=list)  # keys whose value this page set
    theirs: list = field(default_factory=list)  # keys the page must be shown anew (others' changes)
    conflicts: dict = field(default_factory=dict)  # key -> the page's value, kept as typed
    not_kept: dict = field(default_factory=dict)  # key -> message: refused, and too much to keep as typed


def merge(report_type, current, values, bases, resolve=None):
    """Merge the page's cleaned `values` ({key: value} of the fields it
    sent) into the stored `current` data. `bases`: {key: base} as sent
    (None for a field without one; for a field not sent, its base says
    what the page shows: when that is no longer stored, the field is
    shown anew); `resolve`: {key: "mine" | "theirs"}, the clerk's choice
    for a field in conflict."""
    result = Merge(dict(current))
    resolve = resolve or {}
    for f in report_type.fields:
        if f.key not in values:
            # Not sent, as the page shows it: changed by someone else since, shown anew.
            base = bases.get(f.key)
            if base not in (None, UNDECIDED) and base != base_of(f, current.get(f.key)):
                result.theirs.append(f.key)
            continue
        result.sent.append(f.key)
        mine, theirs = values[f.key], current.get(f.key)
        base = bases.get(f.key)
        choice = resolve.get(f.key)
        if choice == "theirs":
            result.theirs.append(f.key)
            continue
        if choice == "mine":
            base = base_of(f, theirs)
        if mine == theirs:
            continue
        if base == base_of(f, theirs):
            result.data[f.key] = mine
            result.applied.append(f.key)
        elif base == base_of(f, mine):
            result.theirs.append(f.key)
        elif f.kind == "items" and base and (items := merge_items(f, base, mine, theirs)) is not None:
            result.data[f.key] = items
            result.applied.append(f.key)
            result.theirs.append(f.key)
        else:
            result.conflicts[f.key] = mine
    return result
