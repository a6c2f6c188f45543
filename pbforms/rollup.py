"""The roll-up of a county's round: which township each unit's report
belongs to, and each township's progress for the county's board. Pure logic
over rows already read; the summary tables (pbforms/exports.py) and the
board (pbforms/township/rounds.py) use it."""
from collections import Counter, namedtuple

# A unit directly below the office (a township below the county) on the
# office's board: its own report (None when it fills none in this round),
# and its part's reports counted by progress, the overdue ones, and all.
PartProgress = namedtuple("PartProgress", "unit_id name report counts overdue total")


def part_of(path, under):
    """The id of the unit directly below `under` whose part holds the unit
    of `path` (that unit itself when directly below), None for `under` itself."""
    ids = path.strip("/").split("/")
    depth = len(under.ancestor_ids) + 1
    return int(ids[depth]) if len(ids) > depth else None


def parts_progress(under, children, reports, paths):
    """A PartProgress per unit of `children` (id, name), in their order,
    from the board's `reports` of `under`'s part; `paths` maps each unit id to its path."""
    counts = {unit_id: Counter() for unit_id, _ in children}
    overdue, own = Counter(), {}
    for report in reports:
        key = part_of(paths[report.unit_id], under)
        if key not in counts:
            continue
        if report.unit_id == key:
            own[key] = report
        else:
            counts[key][report.progress] += 1
            overdue[key] += report.is_overdue
    return [PartProgress(unit_id, name, own.get(unit_id), counts[unit_id], overdue[unit_id],
                         sum(counts[unit_id].values()))
            for unit_id, name in children]


def is_deep(under, paths):
    """Whether `under`'s part reaches below its own children (a county's villages)."""
    depth = len(under.ancestor_ids) + 1
    return any(path.count("/") - 1 > depth + 1 for path in paths.values())
