"""Report types the office owns: a type (report_type) with immutable
versions (type_version: the definition as JSON, an optional Word template),
the version a round gives each kind of unit (round_type), and the version
each report follows (report.type_version_id).

Existing data: the built-in types are loaded from their definition files
(pbforms/forms/<stem>.json as this release ships them); every existing round
(report_type 'annual_report', the only type there was) gives every kind the
seed type's version 1, and every report follows it. The round's old
report_type column goes: the round_type rows say it now.
"""
import datetime
import json
from pathlib import Path

from peewee import *

FORMS = Path(__file__).resolve().parent.parent / "forms"
BUILTIN = ("annual_report", "village_report")  # the seed's township type first
KINDS = ("township", "village", "community")


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Round(Model):
        report_type = CharField()
        class Meta:
            database = db
            table_name = 'round'

    class ReportType(Model):
        name = CharField(unique=True)
        builtin = CharField(null=True, unique=True)
        retired = BooleanField(default=False)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'report_type'

    class TypeVersion(Model):
        report_type = ForeignKeyField(ReportType, on_delete='RESTRICT')
        number = IntegerField()
        definition = TextField()
        template = BlobField(null=True)
        created_at = DateTimeField()
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        class Meta:
            database = db
            table_name = 'type_version'
            indexes = ((('report_type', 'number'), True),)

    class RoundType(Model):
        round = ForeignKeyField(Round, on_delete='CASCADE')
        kind = CharField()
        type_version = ForeignKeyField(TypeVersion, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'round_type'
            indexes = ((('round', 'kind'), True),)

    class Report(Model):
        round = ForeignKeyField(Round, on_delete='CASCADE')
        type_version = IntegerField(null=True, column_name='type_version_id')
        class Meta:
            database = db
            table_name = 'report'

    db.create_tables([ReportType, TypeVersion, RoundType])
    migrator.migrate(migrator.add_column(
        'report', 'type_version_id',
        ForeignKeyField(TypeVersion, field=TypeVersion.id, null=True, on_delete='RESTRICT')))

    now = datetime.datetime.now().replace(microsecond=0)
    versions = {}
    with db.atomic():
        for stem in BUILTIN:
            definition = json.loads((FORMS / f"{stem}.json").read_text(encoding="utf-8"))
            record = ReportType.create(name=definition["name"], builtin=stem, created_at=now)
            versions[stem] = TypeVersion.create(report_type=record, number=1, created_at=now,
                                                definition=json.dumps(definition, ensure_ascii=False))
        for round_ in Round.select(Round.id, Round.report_type):
            version = versions.get(round_.report_type, versions[BUILTIN[0]])
            RoundType.insert_many([{"round": round_.id, "kind": kind, "type_version": version.id}
                                   for kind in KINDS]).execute()
            Report.update(type_version=version.id).where(Report.round == round_.id).execute()
    migrator.migrate(migrator.drop_column('round', 'report_type'))


def down(migrator, db):
    migrator.migrate(
        migrator.add_column('round', 'report_type', CharField(default='annual_report')),
        migrator.drop_index('report', 'report_type_version_id'),
        migrator.drop_column('report', 'type_version_id'),
        migrator.drop_table('round_type'),
        migrator.drop_table('type_version'),
        migrator.drop_table('report_type'),
    )
