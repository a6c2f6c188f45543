"""What every model shares: the base class, the JSON column, the clock."""

import datetime
import json

from peewee import Model, PostgresqlDatabase, TextField, fn

from ..db import db


def now():
    return datetime.datetime.now().replace(microsecond=0)


def new_report_data(report_type, year, unit):
    """What a unit's new report of `year` starts with: its type's defaults,
    and last year's 整改台账 entries where the type has a place for them."""
    from ..ledger.models import new_report_data as with_ledger

    return with_ledger(report_type, year, unit, report_type.initial_data(report_meta(year, unit)))


def report_meta(year, unit):
    """What a definition's 【年度】【单位】【职务】 stand for in a report."""
    return {"year": year, "unit_name": unit.name, "secretary_title": unit.secretary_title}


class JSONField(TextField):
    """Stores a JSON document as text, so it works on SQLite and PostgreSQL alike."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)

    def value_at(self, key):
        """SQL for the value at the document's top-level `key`, NULL when it
        is absent or null: lets a query look at one figure of many reports
        without reading their whole text into Python."""
        if isinstance(db.obj, PostgresqlDatabase):
            return fn.json_extract_path_text(self.cast("json"), key).coerce(False)
        return fn.json_extract(self, f"$.{key}").coerce(False)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False
