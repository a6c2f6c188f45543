"""Reporting rounds and the type each kind of unit fills in them."""

import datetime
from functools import cached_property

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField

from ..db import writing
from ..forms import ReportType
from .base import BaseModel, new_report_data, now
from .accounts import Unit
from .types import ReportTypeRecord, TypeMove, TypeVersion, type_of_version


class Round(BaseModel):
    title = CharField()
    year = IntegerField()
    deadline = DateField(null=True)
    status = CharField(default="open")  # open | closed
    created_at = DateTimeField(default=now)
    # The office that opened it: its units below fill it (see `start`).
    office = ForeignKeyField(Unit, null=True, backref="rounds", on_delete="RESTRICT")
    # Which of those: every unit below the office, or only those directly
    # below it (a county's township secretaries, without their villages).
    reach = CharField(default="all")

    REACHES = {"all": "其下所有单位", "children": "只有直属单位"}

    @classmethod
    def newest_first(cls):
        return cls.select().order_by(cls.year.desc(), cls.id.desc())

    @classmethod
    def open_rounds(cls):
        return cls.newest_first().where(cls.status == "open")

    @property
    def is_open(self):
        return self.status == "open"

    @classmethod
    def start(cls, title, year, types, deadline=None, office=None, reach="all"):
        """Open a round of `office` (None: the root's): every active unit
        it reaches (see `units_of`) gets a report of its kind's type, and
        so does the root itself, having no office above it to report to.

        `types` is {unit kind: ReportType} for at least every kind among
        those units (`kinds_reached`), or one ReportType for them all. The
        round keeps these versions: a type changed later changes no report
        of it (see `move_to_newest`).
        """
        if isinstance(types, ReportType):
            types = dict.fromkeys(Unit.KINDS, types)
        with writing():
            office = office or Unit.root()
            needed = cls.kinds_reached(office, reach)
            if not needed <= set(types) or any(t.version_id is None for t in types.values()):
                raise ValueError("a round needs a stored type version for every kind of unit it reaches")
            new_round = cls.create(title=title, year=year, deadline=deadline, office=office, reach=reach)
            RoundType.insert_many([{"round": new_round, "kind": kind, "type_version": t.version_id}
                                   for kind, t in types.items()]).execute()
            rows = [{"round": new_round, "unit": unit, "type_version": types[unit.kind].version_id,
                     "data": new_report_data(types[unit.kind], year, unit)}
                    for unit in cls.units_of(office, reach)]
            for start in range(0, len(rows), 100):
                Report.insert_many(rows[start:start + 100]).execute()
            return new_round

    @staticmethod
    def units_of(office, reach="all"):
        """The units that fill a round of `office` reaching `reach`."""
        units = Unit.active_units().where(Unit.path.startswith(office.path) & Unit.kind.in_(list(Unit.KINDS)))
        if reach == "children":
            units = units.where((Unit.parent == office) | (Unit.id == office.id))
        return units if office.parent_id is None else units.where(Unit.id != office.id)

    @classmethod
    def kinds_reached(cls, office, reach="all"):
        """The kinds of unit a round of `office` reaching `reach` needs a type for."""
        return {kind for (kind,) in cls.units_of(office, reach).select(Unit.kind).distinct().order_by().tuples()}

    def covers(self, unit):
        """Whether `unit` fills this round: one the round reaches, of a kind it has a type for."""
        return unit.kind in self.kind_types and \
            self.units_of(self.office, self.reach).where(Unit.id == unit.id).exists()

    @cached_property
    def kind_types(self):
        """{unit kind: ReportType} as the round keeps them: one query, then the cache."""
        rows = RoundType.select(RoundType.kind, RoundType.type_version).where(RoundType.round == self)
        return {row.kind: type_of_version(row.type_version_id) for row in rows}

    def type_for(self, kind):
        return self.kind_types[kind]

    @property
    def type_ids(self):
        """{unit kind: type id}: which types the round gives, whatever their versions."""
        return {kind: t.type_id for kind, t in self.kind_types.items()}

    @classmethod
    def open_alike(cls, year, type_ids, units, besides=None):
        """An open round of `year` that already gives one of `units` (a
        query of units) a report of the type its kind gets in `type_ids`,
        or None: opening or reopening one more would give that unit two
        reports of one type. A county's round for its townships and a
        township's round for its villages reach different units: both may run."""
        for other in cls.open_rounds().where(cls.year == year):
            if besides is not None and other.id == besides.id:
                continue
            shared = (Unit.select(Unit.kind).distinct().join(Report, on=(Report.unit == Unit.id))
                      .where((Report.round == other) & Unit.id.in_(units.select(Unit.id).order_by())).tuples())
            if any(type_ids.get(kind) is not None and other.type_ids.get(kind) == type_ids[kind]
                   for (kind,) in shared):
                return other
        return None

    @property
    def types(self):
        """The round's types, each once, in the order of unit kinds."""
        found = {}
        for kind in Unit.KINDS:
            t = self.kind_types.get(kind)
            if t is not None:
                found.setdefault(t.version_id, t)
        return list(found.values())

    def kinds_label(self, report_type):
        """The kinds of unit that fill `report_type` in this round: 村、社区."""
        return "、".join(label for kind, label in Unit.KINDS.items()
                        if kind in self.kind_types and self.kind_types[kind].version_id == report_type.version_id)

    def include(self, unit):
        """Give `unit` a report in this round unless it has one: a village
        added or re-activated while the round runs belongs on its board."""
        report_type = self.type_for(unit.kind)
        with writing():
            # One statement, not a check and an insert: on PostgreSQL two
            # requests including the unit at once would both pass a check.
            (Report.insert(round=self, unit=unit, type_version=report_type.version_id,
                           data=new_report_data(report_type, self.year, unit))
             .on_conflict_ignore().execute())

    def pending_moves(self):
        """What moving this round to its types' newest versions would do:
        one TypeMove per version the round uses that has a newer one."""
        moves = []
        for old in self.types:
            newest = ReportTypeRecord.get_by_id(old.type_id).newest()
            if newest.version_id == old.version_id:
                continue
            kinds = [kind for kind, t in self.kind_types.items() if t.version_id == old.version_id]
            reports = Report.select().where((Report.round == self) & (Report.type_version == old.version_id)).count()
            moves.append(TypeMove(old, newest, kinds, reports,
                                  [f for f in newest.fields if f.key not in old.by_key],
                                  [f for f in old.fields if f.key not in newest.by_key],
                                  [(old.by_key[f.key], f) for f in newest.fields
                                   if f.key in old.by_key and (old.by_key[f.key].label, old.by_key[f.key].kind)
                                   != (f.label, f.kind)]))
        return moves

    def move_to_newest(self, user):
        """Move every kind of this round to its type's newest version.

        Each report keeps its data under the keys the new version still has;
        new fields get their initial value. A report someone has saved gets
        a revision with a note, so what a dropped field held stays in the
        one before it. Returns the moves made."""
        moves = self.pending_moves()
        with writing():
            for move in moves:
                RoundType.update(type_version=move.new.version_id).where(
                    (RoundType.round == self) & (RoundType.kind.in_(move.kinds))).execute()
                note = f"报告类型改用「{move.new.name}」第 {move.new.version} 版"
                if move.removed:
                    note += "，不再填写：" + "、".join(f.label for f in move.removed)
                for report in (Report.select(Report, Unit).join(Unit)
                               .where((Report.round == self) & (Report.type_version == move.old.version_id))):
                    report.round = self
                    report.move_to(move.new, user, note[:250])
            AuditEvent.record("round_types", user, detail=f"{self.title}：" + "；".join(
                f"{m.old.name} 第 {m.old.version} 版 → 第 {m.new.version} 版" for m in moves))
        self.__dict__.pop("kind_types", None)
        return moves

    def set_open(self, is_open, user):
        """Close (read-only for fillers) or reopen the round, with an audit event."""
        with writing():
            self.status = "open" if is_open else "closed"
            self.save(only=[Round.status])
            AuditEvent.record("round_reopen" if is_open else "round_close", user, detail=self.title)

    def set_deadline(self, deadline, user):
        """Set or move the deadline, with an audit event."""
        with writing():
            self.deadline = deadline
            self.save(only=[Round.deadline])
            AuditEvent.record("round_deadline", user, detail=f"{self.title}：{deadline.isoformat()}")

    @property
    def is_past_deadline(self):
        return self.deadline is not None and datetime.date.today() > self.deadline

    @property
    def days_left(self):
        """Days to the deadline (0 on the day, negative once past), or None without one."""
        return None if self.deadline is None else (self.deadline - datetime.date.today()).days


class RoundType(BaseModel):
    """The type version a round gives one kind of unit (township, village, community)."""
    round = ForeignKeyField(Round, backref="round_types", on_delete="CASCADE")
    kind = CharField()
    type_version = ForeignKeyField(TypeVersion, on_delete="RESTRICT")

    class Meta:
        table_name = "round_type"
        indexes = ((("round", "kind"), True),)


# Used only inside methods, and these modules need this one first.
from .reports import Report  # noqa: E402
from .audit import AuditEvent  # noqa: E402
