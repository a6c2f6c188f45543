"""The roll-up of a county's round: which township each unit's report
belongs to, and each township's progress for the county's board. The
summary tables (pbforms/exports.py) and the board (pbforms/township/rounds.py)
use it."""
from collections import Counter, namedtuple

from peewee import fn

from .models import Report, Unit

# A unit directly below the office (a township below the county) on the
# office's board: its own report (None when it fills none in this round),
# and its part's reports counted by progress, the overdue ones, and all.
PartProgress = namedtuple("PartProgress", "unit_id name report counts overdue total")
OVERDUE = ("not_started", "draft", "returned")  # the progress of a report not handed in


def part_of(path, under):
    """The id of the unit directly below `under` whose part holds the unit
    of `path` (that unit itself when directly below), None for `under` itself."""
    ids = path.strip("/").split("/")
    depth = len(under.ancestor_ids) + 1
    return int(ids[depth]) if len(ids) > depth else None


def is_deep(under):
    """Whether `under`'s part reaches below its own children (a county's villages)."""
    return Unit.select().where(Unit.path.startswith(under.path) & (Unit.id != under.id)
                               & (Unit.parent != under.id)).exists()


def reaches_below(round_, under):
    """Whether `round_` has reports in `under`'s part below `under`'s own
    children (a county's round its villages fill too). Only then are its
    board, zip and 汇编 grouped by township: a county's round for its
    townships alone lists them as a township's board lists its villages."""
    return (Report.select(Report.id).join(Unit)
            .where((Report.round == round_) & Unit.path.startswith(under.path) & (Unit.id != under.id)
                   & (Unit.parent != under.id)).exists())


def progress_groups(round_, under, *by):
    """(*by, progress, type version, count) of the round's reports of
    `under`'s part: counted by the database, a handful of rows however many units."""
    progress = Report.progress_column()
    return (Report.select(*by, progress, Report.type_version, fn.COUNT(Report.id))
            .join(Unit).where((Report.round == round_) & Unit.path.startswith(under.path))
            .group_by(*by, progress, Report.type_version).tuples())


def overdue_count(round_, counts):
    """How many of the reports counted by progress in `counts` are overdue."""
    return sum(counts[s] for s in OVERDUE) if round_.is_past_deadline else 0


def progress_totals(round_, under):
    """(the totals of `under`'s part by progress with "overdue", a Counter
    of the type versions its reports follow): a township's board."""
    totals, followed = Counter(), Counter()
    for state, version_id, n in progress_groups(round_, under):
        totals[state] += n
        followed[version_id] += n
    totals["overdue"] = overdue_count(round_, totals)
    return totals, followed


def parts_progress(round_, under):
    """(a PartProgress per child of `under` in their order, the totals of
    `under`'s part by progress with "overdue", a Counter of the type
    versions its reports follow). Counted by the database, grouped by each
    report's parent unit: a handful of rows however many villages a county has."""
    groups = progress_groups(round_, under, Unit.parent)
    children = list(Unit.ordered().select(Unit.id, Unit.name).where(Unit.parent == under).tuples())
    counts = {unit_id: Counter() for unit_id, _ in children}
    totals, followed, parent_paths = Counter(), Counter(), {}
    for parent_id, state, version_id, n in groups:
        totals[state] += n
        followed[version_id] += n
        if parent_id != under.id and parent_id is not None:
            if parent_id not in counts and parent_id not in parent_paths:
                parent_paths[parent_id] = Unit.get_by_id(parent_id).path
            key = parent_id if parent_id in counts else part_of(parent_paths[parent_id], under)
            counts[key][state] += n
    own = {r.unit_id: r for r in Report.select(Report.id, Report.unit, Report.status, Report.version)
           .where((Report.round == round_) & Report.unit.in_([unit_id for unit_id, _ in children]))}
    totals["overdue"] = overdue_count(round_, totals)
    parts = []
    for unit_id, name in children:
        if unit_id in own:
            own[unit_id].round = round_
        parts.append(PartProgress(unit_id, name, own.get(unit_id), counts[unit_id],
                                  overdue_count(round_, counts[unit_id]), sum(counts[unit_id].values())))
    return parts, totals, followed
