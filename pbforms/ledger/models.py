"""The 整改台账: each problem a report names, followed until the office closes it.

An entry (整改事项) belongs to a unit and to the round whose report named it.
Approving a report makes one entry per item of its 整改 field
(`entries_from_report`); the office may add one from a review comment.
Every change leaves a LedgerEvent, which is the entry's history.
"""
import datetime

from peewee import JOIN, Case, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from ..db import writing
from ..models import BaseModel, Report, Round, Unit, User, now
from .logic import carry_into, problems_of


class LedgerEntry(BaseModel):
    STATUS_LABELS = {"open": "整改中", "done": "已完成", "closed": "已销号"}

    unit = ForeignKeyField(Unit, backref="ledger_entries", on_delete="RESTRICT")
    round = ForeignKeyField(Round, on_delete="RESTRICT")
    # The approved report the entry came from, and the item's place in its
    # 整改 field: approving the report again updates the entry, never doubles it.
    report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
    position = IntegerField(null=True)
    problem = TextField()
    measures = TextField(default="")
    owner = CharField(default="")
    due = DateField(null=True)
    status = CharField(default="open")
    result = TextField(default="")
    # The office's comment when it sends a completed entry back.
    return_comment = TextField(default="")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)

    class Meta:
        table_name = "ledger_entry"
        indexes = ((("report", "position"), True),)

    @property
    def status_label(self):
        return self.STATUS_LABELS[self.status]

    @property
    def is_overdue(self):
        return self.status == "open" and self.due is not None and self.due < datetime.date.today()

    @classmethod
    def listed(cls, units, unit_id=None, status=None, overdue=False, round_id=None):
        """The entries of `units` (a query of unit ids), filtered, oldest round first."""
        query = (cls.select(cls, Unit, Round).join(Unit).switch(cls).join(Round)
                 .where(cls.unit.in_(units)).order_by(Round.year, Round.id, Unit.position, cls.id))
        if unit_id:
            query = query.where(cls.unit == unit_id)
        if status in cls.STATUS_LABELS:
            query = query.where(cls.status == status)
        if overdue:
            query = query.where((cls.status == "open") & (cls.due < datetime.date.today()))
        if round_id:
            query = query.where(cls.round == round_id)
        return query

    @classmethod
    def counts_by_unit(cls):
        """{unit id: (open, overdue)} over every entry not yet done."""
        overdue = fn.SUM(Case(None, [(cls.due < datetime.date.today(), 1)], 0))
        rows = (cls.select(cls.unit, fn.COUNT(cls.id).alias("open"), overdue.alias("overdue"))
                .where(cls.status == "open").group_by(cls.unit).tuples())
        return {unit_id: (count, late or 0) for unit_id, count, late in rows}

    def history(self):
        return (LedgerEvent.select(LedgerEvent, User).join(User, JOIN.LEFT_OUTER)
                .where(LedgerEvent.entry == self).order_by(LedgerEvent.at, LedgerEvent.id))

    def record(self, action, user, detail=""):
        LedgerEvent.create(entry=self, action=action, user=user, detail=detail)

    def change(self, user, action, detail="", **columns):
        """Write `columns` and leave the event that says so, in one transaction."""
        with writing():
            for name, value in columns.items():
                setattr(self, name, value)
            self.updated_at = now()
            self.save()
            self.record(action, user, detail)


class LedgerEvent(BaseModel):
    ACTION_LABELS = {"create": "列入台账", "edit": "修改", "done": "标记完成", "close": "销号", "return": "退回",
                     "reapprove": "报告再次通过，问题已更新"}

    entry = ForeignKeyField(LedgerEntry, backref="events", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()
    detail = TextField(default="")
    at = DateTimeField(default=now)

    class Meta:
        table_name = "ledger_event"

    @property
    def action_label(self):
        return self.ACTION_LABELS.get(self.action, self.action)


def entries_from_report(report, user):
    """One entry per item of the approved report's 整改 field. Call inside
    the approval's transaction. Approving it again (after a reopen) updates
    the 问题 of the entries it made, never makes them twice."""
    have = {e.position: e for e in LedgerEntry.select().where(LedgerEntry.report == report)}
    for position, problem in problems_of(report.report_type, report.data):
        entry = have.get(position)
        if entry is None:
            entry = LedgerEntry.create(unit=report.unit_id, round=report.round_id, report=report,
                                       position=position, problem=problem)
            entry.record("create", user, f"{report.round.title}报告审核通过")
        elif entry.problem != problem:
            entry.change(user, "reapprove", f"原问题：{entry.problem}", problem=problem)


def add_entry(report, problem, user, source):
    """An entry the office adds to the report's unit from `source` (a review comment)."""
    with writing():
        entry = LedgerEntry.create(unit=report.unit_id, round=report.round_id, problem=problem)
        entry.record("create", user, source)
        return entry


def new_report_data(report_type, year, unit, data):
    """A new report's `data` with last year's entries carried into its 整改 = 上年 field."""
    if not any(f.ledger == "last_year" for f in report_type.fields):
        return data
    return carry_into(report_type, data, entries_to_carry(unit.id, year))


def entries_to_carry(unit_id, year):
    """The unit's entries from rounds of the year before `year`: what its report of `year` looks back on."""
    return list(LedgerEntry.select().join(Round)
                .where((LedgerEntry.unit == unit_id) & (Round.year == year - 1))
                .order_by(Round.id, LedgerEntry.id))
