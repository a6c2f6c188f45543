"""Findings of the proof-reader that the clerk has checked and found right
(核对无误): kept by report, outside the document data, so they stop counting
on the board and in `report check`, and the office sees who marked them.

The built-in definition files now mark their field of plans (下步打算)
`looks_ahead`: the proof-reader compares none of its figures with the
year's. A built-in type stored before gets that as its next version, as
the office's own changes do (a version never changes once stored); an open
round offers the move on its board.
"""
import datetime
import json
from pathlib import Path

from peewee import *

FORMS = Path(__file__).resolve().parent.parent / "forms"
SHIPPED = "looks_ahead"


def up(migrator, db):
    migrator.migrate(migrator.add_column('report', 'confirmed_findings', TextField(default='{}')))

    class ReportType(Model):
        builtin = CharField(null=True)
        class Meta:
            database = db
            table_name = 'report_type'

    class TypeVersion(Model):
        report_type = ForeignKeyField(ReportType)
        number = IntegerField()
        definition = TextField()
        template = BlobField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'type_version'

    now = datetime.datetime.now().replace(microsecond=0)
    with db.atomic():
        for record in ReportType.select().where(ReportType.builtin.is_null(False)):
            path = FORMS / f"{record.builtin}.json"
            if not path.exists():
                continue
            shipped = {f["key"]: f[SHIPPED] for s in json.loads(path.read_text(encoding="utf-8"))["sections"]
                       for f in s["fields"] if SHIPPED in f}
            newest = (TypeVersion.select().where(TypeVersion.report_type == record)
                      .order_by(TypeVersion.number.desc()).first())
            definition = json.loads(newest.definition)
            fields = [f for s in definition["sections"] for f in s["fields"]
                      if f["key"] in shipped and SHIPPED not in f]
            if not fields:
                continue
            for f in fields:
                f[SHIPPED] = shipped[f["key"]]
            TypeVersion.create(report_type=record, number=newest.number + 1, created_at=now,
                               definition=json.dumps(definition, ensure_ascii=False), template=newest.template)


def down(migrator, db):
    migrator.migrate(migrator.drop_column('report', 'confirmed_findings'))
