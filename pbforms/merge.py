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
until the clerk chooses. A page that sends no base (a form of an older
page, a JSON upload) may change a field only when its version is current.
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


def page_bases(report_type, data, pending):
    """Every field's base for a page showing `data`; fields in conflict stay undecided."""
    return {f.key: UNDECIDED if (pending.get(f.key) or {}).get("conflict") else base_of(f, data.get(f.key))
            for f in report_type.fields}


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


@dataclass
class Merge:
    data: dict
    applied: list = field(default_factory=list)  # keys whose value this page set
    theirs: list = field(default_factory=list)  # keys the page must be shown anew (others' changes)
    conflicts: dict = field(default_factory=dict)  # key -> the page's value, kept as typed


def merge(report_type, current, values, bases, resolve=None):
    """Merge the page's cleaned `values` ({key: value} of the fields it
    sent) into the stored `current` data. `bases`: {key: base} as sent
    (None for a field without one); `resolve`: {key: "mine" | "theirs"},
    the clerk's choice for a field in conflict."""
    result = Merge(dict(current))
    resolve = resolve or {}
    for f in report_type.fields:
        if f.key not in values:
            continue
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
