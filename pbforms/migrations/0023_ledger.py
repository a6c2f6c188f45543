"""The 整改台账: ledger_entry (a problem a report named, followed by its
unit and closed by the office) and ledger_event (each entry's history).

The built-in types get a new version: their 存在问题 marked 整改 = 是 (its
items become entries when a report is approved) and a section
上年度问题整改情况 (整改 = 上年: a next year's report starts from the
entries) after their last numbered section, printed only when filled. A
type whose newest version already marks a field is left alone. Rounds keep the versions
they have.
"""
import datetime
import json
import re

from peewee import *

ORDINALS = "一二三四五六七八九十"
NEW_SECTION = {"title": "上年度问题整改情况", "fields": [{
    "key": "last_year_problems", "kind": "items", "label": "上年度问题整改情况", "item_label": "问题",
    "required": False, "ledger": "last_year", "max_length": 50000, "max_items": 99,
    "default": [{"heading": "", "text": ""}],
    "hint": "上年度述职报告所列问题及整改情况：标题是问题，内容写整改完成情况（自动带入整改台账中的完成情况）。",
    "model_text": [{"heading": "理论学习不够深入",
                    "text": "建立每月集中学习制度，全年开展集中学习12次，通过“学习强国”等平台开展线上学习，党员参学率明显提高。"}]}]}


def with_ledger(definition):
    """`definition` with its `problems` 条目 marked and the new section
    after its last numbered one (一、 二、 …, numbered next), or None when
    it has no such field or marks one already. The section prints only
    when filled, so a report with nothing carried over reads as before."""
    fields = [f for s in definition["sections"] for f in s["fields"]]
    if any(f.get("ledger") for f in fields) or not any(f["key"] == "problems" and f["kind"] == "items" for f in fields):
        return None
    sections = json.loads(json.dumps(definition["sections"]))
    for s in sections:
        for f in s["fields"]:
            if f["key"] == "problems":
                f["ledger"] = "problems"
    numbered = [i for i, s in enumerate(sections) if re.match(f"^[{ORDINALS}]、", s["title"])]
    at = numbered[-1] + 1 if numbered else len(sections)
    new = json.loads(json.dumps(NEW_SECTION))
    new["title"] = f"{ORDINALS[min(len(numbered), len(ORDINALS) - 1)]}、{new['title']}"
    sections.insert(at, new)
    return {**definition, "sections": sections}


def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class Round(Model):
        class Meta:
            database = db
            table_name = 'round'

    class Report(Model):
        class Meta:
            database = db
            table_name = 'report'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class LedgerEntry(Model):
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        round = ForeignKeyField(Round, on_delete='RESTRICT')
        report = ForeignKeyField(Report, null=True, on_delete='SET NULL')
        position = IntegerField(null=True)
        problem = TextField()
        measures = TextField(default='')
        owner = CharField(default='')
        due = DateField(null=True)
        status = CharField(default='open')
        result = TextField(default='')
        return_comment = TextField(default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ledger_entry'
            indexes = ((('report', 'position'), True),)

    class LedgerEvent(Model):
        entry = ForeignKeyField(LedgerEntry, on_delete='CASCADE')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        action = CharField()
        detail = TextField(default='')
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ledger_event'

    db.create_tables([LedgerEntry, LedgerEvent])

    cursor = db.execute_sql("SELECT id FROM report_type WHERE builtin IS NOT NULL ORDER BY id")
    for (type_id,) in cursor.fetchall():
        number, definition, template = db.execute_sql(
            "SELECT number, definition, template FROM type_version WHERE report_type_id = %s"
            " ORDER BY number DESC LIMIT 1".replace("%s", db.param), (type_id,)).fetchone()
        changed = with_ledger(json.loads(definition))
        if changed is not None:
            db.execute_sql(
                "INSERT INTO type_version (report_type_id, number, definition, template, created_at)"
                " VALUES (%s, %s, %s, %s, %s)".replace("%s", db.param),
                (type_id, number + 1, json.dumps(changed, ensure_ascii=False), template,
                 datetime.datetime.now().replace(microsecond=0)))


def down(migrator, db):
    migrator.migrate(migrator.drop_table('ledger_event'), migrator.drop_table('ledger_entry'))
