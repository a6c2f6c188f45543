"""Units, accounts, reporting rounds, reports and their history.

Each model carries the queries the views need (`Report.for_unit(u)`,
`Round.open_rounds()`), so a view reads as a sentence and the SQL lives here.
"""
import datetime
import json

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db, writing


def now():
    return datetime.datetime.now().replace(microsecond=0)


def report_meta(year, unit):
    """What a definition's title and default text may mention about a report."""
    return {"year": year, "unit_name": unit.name, "secretary_title": unit.secretary_title}


class JSONField(TextField):
    """Stores a JSON document as text, so it works on SQLite and PostgreSQL alike."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Unit(BaseModel):
    KINDS = {"township": "乡镇", "village": "村", "community": "社区"}
    DEFAULT_SECRETARY = {"township": "党委书记", "village": "党支部书记", "community": "党支部书记"}

    name = CharField(unique=True)
    kind = CharField(default="village")
    secretary_title = CharField()
    active = BooleanField(default=True)
    position = IntegerField(default=0)

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.position, cls.id)

    @classmethod
    def active_units(cls):
        return cls.ordered().where(cls.active == True)  # noqa: E712 (peewee expression)

    @property
    def kind_label(self):
        return self.KINDS.get(self.kind, self.kind)


class User(BaseModel):
    ROLES = {"admin": "管理员", "filler": "填报员"}

    username = CharField(unique=True)
    display_name = CharField(default="")
    password_hash = CharField()
    role = CharField(default="filler")
    unit = ForeignKeyField(Unit, null=True, backref="users", on_delete="RESTRICT")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=now)

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def label(self):
        return self.display_name or self.username

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @classmethod
    def by_username(cls, username):
        return cls.get_or_none(cls.username == username)


class Round(BaseModel):
    title = CharField()
    year = IntegerField()
    report_type = CharField()
    deadline = DateField(null=True)
    status = CharField(default="open")  # open | closed
    created_at = DateTimeField(default=now)

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
    def start(cls, title, year, report_type, deadline=None):
        """Open a round: every active unit gets a report with the type's default text."""
        with writing():
            new_round = cls.create(title=title, year=year, report_type=report_type.id, deadline=deadline)
            for unit in Unit.active_units():
                Report.create(round=new_round, unit=unit,
                              data=report_type.initial_data(report_meta(year, unit)))
            return new_round


class Report(BaseModel):
    STATUS_LABELS = {
        "draft": "草稿",
        "submitted": "已提交",
        "returned": "已退回",
        "approved": "已通过",
    }

    round = ForeignKeyField(Round, backref="reports", on_delete="CASCADE")
    unit = ForeignKeyField(Unit, backref="reports", on_delete="RESTRICT")
    data = JSONField()
    version = IntegerField(default=0)
    status = CharField(default="draft")
    updated_at = DateTimeField(null=True)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    submitted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("round", "unit"), True),)

    @classmethod
    def for_unit(cls, unit):
        return (cls.select(cls, Round).join(Round)
                .where(cls.unit == unit).order_by(Round.year.desc(), Round.id.desc()))

    @classmethod
    def with_round_and_unit(cls):
        return cls.select(cls, Round, Unit).join(Round).switch(cls).join(Unit)

    @property
    def meta(self):
        return report_meta(self.round.year, self.unit)

    @property
    def status_label(self):
        if self.status == "draft" and self.version == 0:
            return "未开始"
        return self.STATUS_LABELS[self.status]

    @property
    def is_editable_status(self):
        return self.status in ("draft", "returned")

    def save_data(self, data, user, expected_version):
        """Store `data` as the next version, or raise Conflict.

        The version check and the write happen in one IMMEDIATE transaction,
        so two tabs saving at once can never both win.
        """
        with writing():
            stored = Report.get_by_id(self.id)
            if stored.version != expected_version:
                raise Conflict(stored.version)
            self.data = data
            self.version = stored.version + 1
            self.updated_at = now()
            self.updated_by = user
            (Report.update(data=data, version=self.version, updated_at=self.updated_at,
                           updated_by=user)
             .where(Report.id == self.id).execute())
            Revision.create(report=self, version=self.version, data=data, user=user,
                            created_at=self.updated_at)

    def change_status(self, status, user, action, detail=""):
        with writing():
            self.status = status
            if status == "submitted":
                self.submitted_at = now()
            self.save()
            AuditEvent.record(action, user, report=self, detail=detail)


class Conflict(Exception):
    """A save based on an outdated version; `current` is the stored version."""

    def __init__(self, current):
        super().__init__(current)
        self.current = current


class Revision(BaseModel):
    report = ForeignKeyField(Report, backref="revisions", on_delete="CASCADE")
    version = IntegerField()
    data = JSONField()
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=now)


class AuditEvent(BaseModel):
    at = DateTimeField(default=now)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()
    report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
    unit = ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    detail = TextField(default="")

    @classmethod
    def record(cls, action, user, report=None, unit=None, detail=""):
        with writing():
            return cls.create(action=action, user=user, report=report,
                              unit=unit or (report.unit if report else None), detail=detail)


MODELS = [Unit, User, Round, Report, Revision, AuditEvent]
