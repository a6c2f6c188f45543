"""Report types: each a record with numbered versions of its definition."""

import json
from collections import namedtuple

from peewee import BlobField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

from ..db import writing
from ..forms import BUILTIN, ReportType, builtin_definition
from .base import BaseModel, JSONField, now
from .accounts import Unit, User


class ReportTypeRecord(BaseModel):
    """A report type the office owns: its versions are TypeVersion rows.

    `builtin` names the definition file (pbforms/forms/<builtin>.json) of a
    type that ships with the app. A type some round uses is never deleted,
    only retired: a retired type is not offered for new rounds.
    """
    name = CharField(unique=True)
    builtin = CharField(null=True, unique=True)
    retired = BooleanField(default=False)
    created_at = DateTimeField(default=now)
    # The office that made it, which alone may change it (NULL: built in, or the root's).
    office = ForeignKeyField(Unit, null=True, backref="types", on_delete="RESTRICT")

    class Meta:
        table_name = "report_type"

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.id)

    @classmethod
    def offered(cls):
        """The types a new round may use."""
        return cls.ordered().where(cls.retired == False)  # noqa: E712

    @classmethod
    def by_builtin(cls, stem):
        return cls.get(cls.builtin == stem)

    @classmethod
    def by_name(cls, name):
        return cls.get_or_none(cls.name == name)

    @classmethod
    def add(cls, definition, user=None, builtin=None, name=None, office=None):
        """A new type of `office` with `definition` as its version 1; returns the record.
        Raises ValueError for a definition no ReportType can be built from."""
        ReportType(definition)
        with writing():
            record = cls.create(name=name or definition["name"], builtin=builtin, office=office)
            TypeVersion.create(report_type=record, number=1, definition=definition, created_by=user)
            return record

    def newest_version(self):
        return (TypeVersion.select().where(TypeVersion.report_type == self)
                .order_by(TypeVersion.number.desc()).first())

    def newest(self):
        """The newest version as a ReportType."""
        return type_of_version(self.newest_version().id)

    def save_version(self, definition, user=None, template=None):
        """Store `definition` (and an uploaded Word template) as this type's
        next version, unless it equals the newest: returns (TypeVersion,
        whether it is new). Versions never change once stored, so a round
        keeps the shape its reports were opened with."""
        ReportType(definition)
        with writing():
            newest = self.newest_version()
            if newest.definition == json.loads(json.dumps(definition)) and (template is None
                                                                           or template == newest.template):
                return newest, False
            template = newest.template if template is None else template
            version = TypeVersion.create(report_type=self, number=newest.number + 1, definition=definition,
                                         template=template, created_by=user)
            return version, True

    def keys_ever_used(self):
        """Every field key any version of this type had: a field added later
        never takes one, so old reports' data never lands in a new field."""
        return {f["key"] for v in TypeVersion.select(TypeVersion.definition).where(TypeVersion.report_type == self)
                for s in v.definition.get("sections", []) for f in s.get("fields", [])}

    def rounds_using(self):
        """The rounds one of whose kinds follows a version of this type."""
        used = (RoundType.select(RoundType.round).join(TypeVersion)
                .where(TypeVersion.report_type == self))
        return Round.newest_first().where(Round.id.in_(used))

    def is_used(self):
        versions = TypeVersion.select(TypeVersion.id).where(TypeVersion.report_type == self)
        return (RoundType.select().where(RoundType.type_version.in_(versions)).exists()
                or Report.select().where(Report.type_version.in_(versions)).exists())

    def set_retired(self, retired):
        with writing():
            self.retired = retired
            self.save(only=[ReportTypeRecord.retired])

    def delete_unused(self):
        """Delete a type no round uses; raises TypeInUse otherwise (retire it instead)."""
        with writing():
            if self.is_used():
                raise TypeInUse(self)
            TypeVersion.delete().where(TypeVersion.report_type == self).execute()
            self.delete_instance()


class TypeInUse(Exception):
    """A type some round uses: it may be retired, not deleted."""

    def __init__(self, record):
        super().__init__(f"「{record.name}」已被填报轮次使用，不能删除，只能停用。")


# A round's move from one version of a type to its newest: the unit kinds
# and number of reports it concerns, and the fields added, removed and
# renamed (old field, new field) on the way.
TypeMove = namedtuple("TypeMove", "old new kinds reports added removed changed")


class TypeVersion(BaseModel):
    """One immutable version of a type: its definition, and an optional Word template."""
    report_type = ForeignKeyField(ReportTypeRecord, backref="versions", on_delete="RESTRICT")
    number = IntegerField()
    definition = JSONField()
    template = BlobField(null=True)
    created_at = DateTimeField(default=now)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        table_name = "type_version"
        indexes = ((("report_type", "number"), True),)

    def as_report_type(self):
        return ReportType(self.definition, type_id=self.report_type_id, version_id=self.id, version=self.number)


# Version id -> ReportType. Versions never change, so each is built once per
# process; cleared when the process binds another database (or restores one).
_TYPES = {}


def type_of_version(version_id):
    found = _TYPES.get(version_id)
    if found is None:
        found = _TYPES[version_id] = TypeVersion.get_by_id(version_id).as_report_type()
    return found


def clear_type_cache():
    _TYPES.clear()


def load_builtin_types():
    """Store each built-in definition file whose type the database lacks
    (migration 0006 stores those of its day; a later release may add more).
    A built-in type the database has is left alone: its versions are the
    office's now, so a release that changes a built-in file stores it with
    `save_version` in a migration of its own."""
    have = {r.builtin for r in ReportTypeRecord.select(ReportTypeRecord.builtin)}
    for stem in BUILTIN:
        if stem not in have:
            ReportTypeRecord.add(builtin_definition(stem), builtin=stem)


def builtin_type(stem):
    """The newest stored version of a built-in type (the demo's and tests' way to name one)."""
    return ReportTypeRecord.by_builtin(stem).newest()


# Used only inside methods, and these modules need this one first.
from .rounds import Round, RoundType  # noqa: E402
from .reports import Report  # noqa: E402
